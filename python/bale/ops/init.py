"""``bale init``: what ``dvc init`` creates, plus bale's settings file."""

from __future__ import annotations

from pathlib import Path

from bale import scm
from bale.exceptions import BaleError, ConfigError

DVCIGNORE = (
    "# Add patterns of files dvc should ignore, which could improve\n"
    "# the performance. Learn more at\n"
    "# https://dvc.org/doc/user-guide/dvcignore\n"
)
# DVC's three lines, and bale's local settings file, which is never committed.
DVC_GITIGNORE = "/config.local\n/tmp\n/cache\n/bale.conf.local\n"


def init(
    path: Path, *, no_scm: bool = False, hash_name: str = "blake3", force: bool = False
) -> Path:
    """Creates ``.dvc/`` (config, .gitignore, tmp), ``.dvcignore`` and
    ``.dvc/bale.conf`` with ``core.hash``; stages them in git. Returns the
    repository's root (:meth:`bale.Repo.init` opens it)."""
    from bale.config import Config
    from bale.metafiles._fs import atomic_write

    if hash_name not in ("md5", "blake3"):
        raise ConfigError(f"--hash: unknown algorithm '{hash_name}' (choose md5 or blake3)")
    root = path.absolute()
    root.mkdir(parents=True, exist_ok=True)
    dvc_dir = root / ".dvc"
    if dvc_dir.exists() and not force:
        raise BaleError(f"{dvc_dir}: already exists; use -f to re-initialize")
    use_git = not no_scm
    if use_git and not scm.is_git_repo(root):
        raise BaleError(
            f"{root}: not inside a git repository; run 'git init' first, "
            "or use --no-scm to version data without git"
        )
    dvc_dir.mkdir(exist_ok=True)
    (dvc_dir / "tmp").mkdir(exist_ok=True)
    config = dvc_dir / "config"
    if not config.exists() or force:
        atomic_write(config, b"[core]\n    no_scm = True\n" if no_scm else b"")
    ignore = root / ".dvcignore"
    if not ignore.exists():
        atomic_write(ignore, DVCIGNORE.encode())
    created = [config, ignore]
    if use_git:
        atomic_write(dvc_dir / ".gitignore", DVC_GITIGNORE.encode())
        created.append(dvc_dir / ".gitignore")
    Config.load(dvc_dir).set("core.hash", hash_name)
    created.append(dvc_dir / "bale.conf")
    if use_git:
        scm.git_add(root, created)
    return root


def made(root: Path, *, hash_name: str, no_scm: bool) -> str:
    """What ``bale init`` tells the user it made: where, the hash mode and
    what it means for dvc (blake3 data is bale's own: dvc reads the
    ``.dvc`` files but not the data), then dvc's closing line."""
    lines = [f"Initialized bale repository in {root}."]
    if hash_name == "md5":
        lines.append("Hash: md5, dvc's format: dvc and bale read each other's data.")
    else:
        lines += [
            "Hash: blake3, bale's own format (faster): dvc cannot read the data stored here.",
            "For a repository dvc can share, use --hash md5: "
            "bale init -f --hash md5 (before adding data).",
        ]
    if not no_scm:
        # dvc's words after its "Initialized DVC repository."
        lines += ["", "You can now commit the changes to git."]
    return "\n".join(lines)
