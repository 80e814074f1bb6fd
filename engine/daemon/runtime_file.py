"""Where clients find the daemon, and how two daemons of one user avoid each other.

The runtime file `<runtime dir>/daemon.json` (0600) holds pid, port, token, protocol and version;
it is written atomically (a temporary file renamed over it) and removed on a clean exit. The
lock is a separate file, `daemon.lock`, held with an OS lock for the daemon's whole life: the OS
drops it when the process dies, so a killed daemon never blocks the next one.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from ..atomic_write import write_atomically
from . import DaemonError

RUNTIME_FILE = "daemon.json"
LOCK_FILE = "daemon.lock"


def default_runtime_dir() -> Path:
    """Linux: $XDG_RUNTIME_DIR/echoic (else /tmp/runtime-<uid>/echoic); Windows: %LOCALAPPDATA%\\echoic."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "echoic"
    import platformdirs

    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset; the fallback is fine
        warnings.simplefilter("ignore")
        return Path(platformdirs.user_runtime_dir("echoic"))


@dataclass(frozen=True)
class RuntimeInfo:
    pid: int
    port: int
    token: str
    protocol: int
    version: str


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        try:
            kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is not a running daemon
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def read_runtime_file(runtime_dir: Path | None = None, *, include_stale: bool = False) -> RuntimeInfo | None:
    """The running daemon's file, or None when there is none, it is unreadable, or its pid is dead."""
    path = (runtime_dir or default_runtime_dir()) / RUNTIME_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        info = RuntimeInfo(int(raw["pid"]), int(raw["port"]), str(raw["token"]), int(raw["protocol"]),
                           str(raw.get("version", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not include_stale and not pid_alive(info.pid):
        return None
    return info


def write_runtime_file(runtime_dir: Path, info: RuntimeInfo) -> Path:
    """Write the runtime file atomically with mode 0600 (mkstemp creates it so; no moment is it wider)."""
    runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = runtime_dir / RUNTIME_FILE
    write_atomically(path, json.dumps(asdict(info)).encode("utf-8"))
    return path


def remove_runtime_file(runtime_dir: Path, pid: int) -> None:
    """Remove the runtime file if it is still ours."""
    info = read_runtime_file(runtime_dir, include_stale=True)
    if info is not None and info.pid == pid:
        (runtime_dir / RUNTIME_FILE).unlink(missing_ok=True)


class DaemonLock:
    """The per-user lock; `acquire` raises DaemonError naming the daemon that holds it."""

    def __init__(self, runtime_dir: Path):
        self.runtime_dir = runtime_dir
        self._file = None

    def acquire(self) -> None:
        self.runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        f = open(self.runtime_dir / LOCK_FILE, "a+b")
        try:
            if sys.platform == "win32":
                import msvcrt

                f.seek(0)
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
