"""The daemon's side of the runtime-file rules, whose single definition is the client core's
`engine/client/discovery.py` (the folder, the record, what makes a record live or a pid ours).

The runtime file `<runtime dir>/daemon.json` (0600) holds pid, port, token, protocol, version and
the process's start time; it is written atomically (a temporary file renamed over it) and removed
on a clean exit. The lock is a separate file, `daemon.lock`, held with an OS lock for the daemon's
whole life: the OS drops it when the process dies, so a killed daemon never blocks the next one.
The lock file holds the same record, so a deleted or corrupted `daemon.json` orphans nothing:
clients, `echoic status`, `echoic stop` and a second `echoic serve` still find the daemon.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

from ..atomic_write import write_atomically
from ..client import discovery
from ..client.discovery import LOCK_FILE, RUNTIME_FILE, RuntimeInfo, format_runtime_file, pid_alive  # noqa: F401
from ..client.errors import RuntimeDirError
from . import DaemonError

_WINDOWS_LOCK_OFFSET = 1 << 30
"""Windows locks are mandatory: lock one byte far past the record so that clients can read it."""


def default_runtime_dir() -> Path:
    """The one lookup (discovery.runtime_dir): $ECHOIC_RUNTIME_DIR, else %LOCALAPPDATA%\\echoic,
    else $XDG_RUNTIME_DIR/echoic, else <temp>/runtime-<uid>/echoic."""
    return Path(discovery.runtime_dir())


def ensure_runtime_dir(runtime_dir: Path) -> None:
    """Create the folder 0700 (parents too) and check it is ours; DaemonError says why not."""
    try:
        discovery.ensure_folder(str(runtime_dir))
    except RuntimeDirError as exc:
        raise DaemonError(str(exc)) from None


def read_runtime_file(runtime_dir: Path | None = None, *, include_stale: bool = False) -> RuntimeInfo | None:
    """The running daemon's record (daemon.json, else the lock's record), or None."""
    try:
        return discovery.read_runtime_file(runtime_dir, include_stale=include_stale)
    except RuntimeDirError as exc:
        raise DaemonError(str(exc)) from None


def write_runtime_file(runtime_dir: Path, info: RuntimeInfo) -> Path:
    """Write the runtime file atomically with mode 0600 (mkstemp creates it so; no moment is it
    wider), and the same record into the lock file."""
    ensure_runtime_dir(runtime_dir)
    if info.started is None:
        info = replace(info, started=discovery.process_start_time(info.pid))
    path = runtime_dir / RUNTIME_FILE
    data = format_runtime_file(info)
    write_atomically(path, data)
    _write_lock_record(runtime_dir, data)
    return path


def _write_lock_record(runtime_dir: Path, data: bytes) -> None:
    """The record in the lock file, written in place: the lock must stay on the same file."""
    try:
        fd = os.open(runtime_dir / LOCK_FILE, os.O_WRONLY)
    except OSError:
        return  # no lock file (a record written without a daemon): daemon.json alone
    try:
        os.ftruncate(fd, 0)
        os.write(fd, data)
    finally:
        os.close(fd)


def remove_runtime_file(runtime_dir: Path, pid: int) -> None:
    """Remove the runtime file and the lock's record if they are still ours."""
    info = discovery.read_runtime_file(runtime_dir, include_stale=True)
    if info is not None and info.pid == pid:
        (runtime_dir / RUNTIME_FILE).unlink(missing_ok=True)
        _write_lock_record(runtime_dir, b"")


class DaemonLock:
    """The per-user lock; `acquire` raises DaemonError naming the daemon that holds it."""

    def __init__(self, runtime_dir: Path):
        self.runtime_dir = runtime_dir
        self._file = None

    def acquire(self) -> None:
        ensure_runtime_dir(self.runtime_dir)
        try:
            f = open(self.runtime_dir / LOCK_FILE, "a+b")
        except OSError as exc:
            raise DaemonError(f"cannot open the lock {self.runtime_dir / LOCK_FILE}: {exc.strerror}") from None
        try:
            if sys.platform == "win32":
                import msvcrt

                f.seek(_WINDOWS_LOCK_OFFSET)
                msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            other = read_runtime_file(self.runtime_dir)
            where = f" (pid {other.pid}, port {other.port})" if other else ""
            raise DaemonError(f"another Echoic daemon is already running for this user{where}; "
                              "'echoic stop' stops it") from None
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops flock / msvcrt locks
            self._file = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


def lock_record(runtime_dir: Path) -> RuntimeInfo | None:
    """The record the lock's holder wrote (alive or not), or None."""
    return discovery._read_record(str(runtime_dir / LOCK_FILE))


def lock_is_held(runtime_dir: Path) -> bool:
    """Does a process hold the daemon lock? (Takes it for a moment when nobody does: for `stop`,
    never for a client polling while a daemon starts.)"""
    if not (runtime_dir / LOCK_FILE).exists():
        return False
    try:
        with DaemonLock(runtime_dir):
            return False
    except DaemonError:
        return True

