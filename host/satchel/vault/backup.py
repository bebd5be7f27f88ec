"""Backups, recovery and compaction of the vault file.

* `rotate(db, home)` takes a consistent copy of the open vault into `$SATCHEL_HOME/backups/` when the newest
  one is older than `interval` (daily by default) and keeps the `keep` newest.
* `recover(home)` moves a damaged vault aside (never deletes it) and puts the newest backup that verifies
  in its place.
* `compact(db, home)` rewrites the vault into a fresh file and swaps it in atomically: DuckDB leaves deleted
  rows in free blocks of the file, so after `forget` the raw bytes still hold what was forgotten until the
  file is rewritten.
* `scrub(home, apply)` replays a deletion on every backup and rewrites each one, so a forgotten conversation
  does not survive in a restore point; a backup that cannot be scrubbed is deleted.

Copies are made with `ATTACH` + `COPY FROM DATABASE` on the owner's own connection: DuckDB lets no other
process read the file while the owner holds it, and the copy sees one committed state. Callers hold the
vault lock so nothing writes meanwhile. Every file written here is private to the user (0600, dir 0700).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from satchel.errors import DiskFull, VaultCorrupt

log = logging.getLogger("satchel.backup")

VAULT_FILE = "vault.duckdb"
BACKUP_DIR = "backups"
DAMAGED_DIR = "damaged"
KEEP = int(os.environ.get("SATCHEL_BACKUP_KEEP", "7"))
INTERVAL = float(os.environ.get("SATCHEL_BACKUP_INTERVAL", str(24 * 3600)))
CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
_PREFIX = "vault-"
_SUFFIX = ".duckdb"
_ALIAS = "satchel_copy"


# ----------------------------------------------------------------- helpers
def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _fsync(path: Path) -> None:
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if path.is_dir() else os.O_RDONLY
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _is_disk_full(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "no space left" in text or "disk full" in text or "enospc" in text or "file too large" in text


def _database_name(db: duckdb.DuckDBPyConnection) -> str:
    (name,) = db.execute("SELECT current_database()").fetchone()
    return str(name)


def _copy_to(db: duckdb.DuckDBPyConnection, target: Path) -> None:
    """Write a consistent copy of `db` to `target` (a new file), durable before returning."""
    _remove(target, _wal(target))
    source = _database_name(db)
    quoted = str(target).replace("'", "''")
    try:
        db.execute(f"ATTACH '{quoted}' AS {_ALIAS}")
        try:
            db.execute(f'COPY FROM DATABASE "{source}" TO {_ALIAS}')
        finally:
            db.execute(f"DETACH {_ALIAS}")
        os.chmod(target, 0o600)
        _fsync(target)
    except (duckdb.Error, OSError) as exc:
        _remove(target, _wal(target))
        if _is_disk_full(exc):
            raise DiskFull(f"the disk is full: could not write {target.name}; the vault is unchanged") \
                from None
        raise


# ----------------------------------------------------------------- backups
def backups_dir(home: Path) -> Path:
    return _private_dir(home / BACKUP_DIR)


def list_backups(home: Path) -> list[Path]:
    """Backup files, newest first."""
    directory = home / BACKUP_DIR
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir()
             if p.name.startswith(_PREFIX) and p.name.endswith(_SUFFIX) and p.is_file()]
    return sorted(found, key=lambda p: p.name, reverse=True)


def _stamp(path: Path) -> datetime | None:
    try:
        stamp = datetime.strptime(path.name[len(_PREFIX):-len(_SUFFIX)], "%Y%m%dT%H%M%S%fZ")
        return stamp.replace(tzinfo=UTC)
    except ValueError:
        return None


def create(db: duckdb.DuckDBPyConnection, home: Path, *, keep: int = KEEP) -> Path:
    """A consistent copy of the open vault in backups/, then prune to the `keep` newest.

    The caller holds the vault lock."""
    directory = backups_dir(home)
    name = f"{_PREFIX}{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}{_SUFFIX}"
    partial = directory / (name + ".partial")
    _copy_to(db, partial)
    final = directory / name
    os.replace(partial, final)
    _fsync(directory)
    for old in list_backups(home)[max(keep, 1):]:
        _remove(old, _wal(old))
    return final


def due(home: Path, interval: float = INTERVAL) -> bool:
    backups = list_backups(home)
    if not backups:
        return True
    stamp = _stamp(backups[0])
    return stamp is None or (datetime.now(UTC) - stamp).total_seconds() >= interval


def rotate(db: duckdb.DuckDBPyConnection, home: Path, *, interval: float = INTERVAL,
           keep: int = KEEP) -> Path | None:
    """Take a backup if the newest is older than `interval`. Never raises: a failed backup is logged,
    the vault keeps working."""
    try:
        if not due(home, interval):
            return None
        return create(db, home, keep=keep)
    except Exception:  # a backup must never take the vault down
        log.exception("backup failed")
        return None


def verify(path: Path) -> bool:
    """True when `path` opens as a Satchel vault and every row of every table can be read."""
    try:
        con = duckdb.connect(str(path), read_only=True, config=CONFIG)
    except duckdb.Error:
        return False
    try:
        names = {r[0] for r in con.execute("SELECT name FROM schema_migrations").fetchall()}
        if "m001_initial" not in names:
            return False
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()]
        for table in tables:
            con.execute(f'SELECT count(*), bit_xor(hash(t)) FROM "{table}" AS t').fetchone()
        return True
    except duckdb.Error:
        return False
    finally:
        con.close()


def latest_good(home: Path) -> Path | None:
    for path in list_backups(home):
        if verify(path):
            return path
        log.warning("backup %s does not verify; trying an older one", path.name)
    return None


def recovery_hint(home: Path) -> str:
    """One sentence for a `vault_corrupt` message: what the user can do next."""
    backups = list_backups(home)
    if not backups:
        return "No backup exists yet; export what you can with an older copy of the file, or move it aside."
    stamp = _stamp(backups[0])
    when = stamp.strftime("%Y-%m-%d %H:%M UTC") if stamp else backups[0].name
    return (f"Run `satchel recover` to restore the last backup ({when}); "
            f"the damaged file is kept in {home / DAMAGED_DIR}.")


def recover(home: Path) -> Path:
    """Replace a damaged vault by the newest backup that verifies; returns the backup used.

    The damaged files are moved to `damaged/`, never deleted. Call it only while no DuckDB connection holds
    the vault file (the owner, after `Vault.open` failed, or with no owner running and the lock held).
    """
    backup = latest_good(home)
    if backup is None:
        raise VaultCorrupt(f"no usable backup in {home / BACKUP_DIR}; export what you can, then start afresh")
    vault = home / VAULT_FILE
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    damaged = _private_dir(home / DAMAGED_DIR)
    for path in (vault, _wal(vault)):
        if path.exists():
            os.replace(path, damaged / f"{path.name}.{stamp}")
    partial = home / (VAULT_FILE + ".restoring")
    with open(backup, "rb") as src, open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                                         "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(partial, vault)
    _fsync(home)
    from satchel.retrieve import snapshot

    snapshot.discard(home)  # indexes a state newer than the backup: rebuilt on the next start
    log.warning("restored %s from %s; the damaged file is in %s", vault, backup.name, damaged)
    return backup


# ----------------------------------------------------------------- compaction
def compact(db: duckdb.DuckDBPyConnection, home: Path,
            config: dict[str, object] | None = None) -> duckdb.DuckDBPyConnection:
    """Rewrite the vault into a fresh file, swap it in atomically, return the connection to use from now on.

    The caller holds the vault lock throughout and replaces its connection by the one returned: `db` is
    closed on success. If the copy fails (disk full, ...) the error is raised and `db` is still open and
    untouched.
    """
    vault = home / VAULT_FILE
    fresh = home / (VAULT_FILE + ".compact")
    db.execute("CHECKPOINT")
    _copy_to(db, fresh)  # raises with `db` still open and untouched
    db.close()
    if _wal(vault).exists():
        # Never pair the new file with the old file's log: keep the old file (its WAL replays on open).
        log.error("%s survived close; compaction skipped", _wal(vault))
        _remove(fresh, _wal(fresh))
    else:
        os.replace(fresh, vault)
        _fsync(home)
    return duckdb.connect(str(vault), config=config or CONFIG)


def scrub(home: Path, apply: Callable[[duckdb.DuckDBPyConnection], object]) -> int:
    """Run `apply(connection)` (the same deletion as `forget`) on every backup and rewrite each one so the
    deleted rows leave its bytes too. A backup that fails is deleted rather than kept with forgotten data.
    Returns how many backups were scrubbed."""
    scrubbed = 0
    for path in list_backups(home):
        fresh = path.with_name(path.name + ".scrub")
        try:
            con = duckdb.connect(str(path), config=CONFIG)
            try:
                apply(con)
                con.execute("CHECKPOINT")
                _copy_to(con, fresh)
            finally:
                con.close()
            os.replace(fresh, path)
            _remove(_wal(path))
            scrubbed += 1
        except Exception:  # forgetting wins over keeping a restore point
            log.exception("cannot scrub %s; deleting it", path.name)
            _remove(path, _wal(path), fresh, _wal(fresh))
    with contextlib.suppress(OSError):
        _fsync(home / BACKUP_DIR)
    return scrubbed


def drop_all(home: Path) -> int:
    """Delete every backup (e.g. after `forget all`)."""
    backups = list_backups(home)
    for path in backups:
        _remove(path, _wal(path))
    return len(backups)


def age(path: Path) -> float:
    """Seconds since a backup was taken (by its name, else its mtime)."""
    stamp = _stamp(path)
    if stamp is not None:
        return (datetime.now(UTC) - stamp).total_seconds()
    return time.time() - path.stat().st_mtime
