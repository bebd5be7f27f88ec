"""Where Satchel keeps things. Stdlib only: the relay imports this before anything heavy."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path


def satchel_home() -> Path:
    """SATCHEL_HOME, else the platform's user data directory."""
    override = os.environ.get("SATCHEL_HOME")
    if override:
        return Path(override).expanduser().resolve()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "satchel"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "satchel"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "satchel"


def socket_path(home: Path) -> Path:
    """A per-user, per-vault socket in a 0700 directory (unix socket paths are short, so hash the home)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    uid = os.getuid() if hasattr(os, "getuid") else 0
    directory = Path(base) / f"satchel-{uid}"
    directory.mkdir(mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    digest = hashlib.sha1(str(home).encode()).hexdigest()[:12]
    return directory / f"{digest}.sock"


def log_dir(home: Path) -> Path:
    path = home / "logs"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    os.chmod(path, 0o700)
    return path


def private_opener(path: str, flags: int) -> int:
    """`open(..., opener=private_opener)`: a file only this user can read (logs name conversations)."""
    return os.open(path, flags, 0o600)
