"""DVC's configuration files plus bale's own settings.

DVC reads ``system``, ``global``, ``repo`` (``.dvc/config``) and ``local``
(``.dvc/config.local``) configobj INI files, merged in that order, and refuses to
run when any of them holds a key it does not know (``dvc/config.py``,
``dvc/config_schema.py``). bale therefore validates against a copy of DVC's key
tables and keeps its own settings (:data:`BALE_KEYS`) in ``.dvc/bale.conf`` and
``.dvc/bale.conf.local``, which DVC never reads. Writes are byte-identical to what
``dvc config`` would write for the same change.

The modules: :mod:`~bale.config.keys` (keys and nested dicts),
:mod:`~bale.config.schema` (dvc's keys and bale's, with their checks),
:mod:`~bale.config.files` (locations, INI reading and writing) and
:mod:`~bale.config.levels` (:class:`Config`, the merged levels).
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
