"""The SQLite database file and its folder are private to the account that runs the app.

The file holds every resident's (encrypted) numbers, tokens and password hashes, so it is created
0600 in a folder created 0700, before SQLAlchemy first opens it (an empty file is an empty SQLite
database). SQLite gives its -wal and -shm files the database file's permissions. A file left
readable by others by an older version is tightened at start.
"""
from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

FILE_MODE = 0o600
FOLDER_MODE = 0o700
COMPANION_SUFFIXES = ("-wal", "-shm", "-journal")


def sqlite_path(uri: str, instance_path: str) -> Path | None:
    """The file a ``sqlite://`` URI names (relative paths are in the instance folder, as
    Flask-SQLAlchemy reads them), or None for any other database or an in-memory one."""
    url = make_url(uri)
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:") or url.query.get("mode") == "memory":
        return None
    path = Path(database)
    return path if path.is_absolute() else Path(instance_path) / path


def prepare(uri: str, instance_path: str) -> Path | None:
    """Create the database's folder and file privately when missing; tighten an existing file."""
    path = sqlite_path(uri, instance_path)
    if path is None:
        return None
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=FOLDER_MODE, exist_ok=True)
        os.chmod(path.parent, FOLDER_MODE)  # mkdir's mode is narrowed by the umask, never widened
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        pass
    else:
        os.close(fd)
    for file in (path, *(path.with_name(path.name + suffix) for suffix in COMPANION_SUFFIXES)):
        _tighten(file)
    return path


def _tighten(file: Path) -> None:
    try:
        mode = stat.S_IMODE(file.stat().st_mode)
    except FileNotFoundError:
        return
    if not mode & 0o077:
        return
    try:
        os.chmod(file, mode & 0o700)
    except PermissionError:
        log.warning("%s is readable by other users (mode %o) and is not ours to change", file, mode)
