"""DVC's configuration files plus bale's own settings: :mod:`~bale.config.keys`
(keys and nested dicts), :mod:`~bale.config.schema` (dvc's keys and bale's,
with their checks), :mod:`~bale.config.files` (locations, INI reading and
writing) and :mod:`~bale.config.levels` (:class:`Config`, the merged levels).
"""

from __future__ import annotations

from bale.config.files import LEVELS, display_path, global_config_dir, system_config_dir
from bale.config.levels import Config
from bale.config.schema import BALE_KEYS, BALE_REMOTE_KEYS, CACHE_TYPES, REMOTE_SCHEMAS

__all__ = [
    "BALE_KEYS",
    "BALE_REMOTE_KEYS",
    "CACHE_TYPES",
    "LEVELS",
    "REMOTE_SCHEMAS",
    "Config",
    "display_path",
    "global_config_dir",
    "system_config_dir",
]
