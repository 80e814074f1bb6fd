"""Finding and trusting the daemon: the runtime folder, the runtime file, the lock record.

The rules, once, for the daemon and every client (docs/protocol.md, "Finding the daemon"):

- The folder is a pure function of the environment (`runtime_dir`): `$ECHOIC_RUNTIME_DIR`; else
  on Windows `%LOCALAPPDATA%\\echoic`; else `$XDG_RUNTIME_DIR/echoic` when XDG_RUNTIME_DIR is an
  absolute path, whether or not it exists yet (the daemon creates what is missing, 0700, so the
  daemon and its clients never look in different places); else `<temp>/runtime-<uid>/echoic`.
- The folder must be ours: owned by this user, not a symlink, nobody else may write to it
  (`folder_problem`), in a parent nobody else can swap it out of (`parent_problem`). A folder another user pre-created is refused with one sentence, never used.
- `daemon.json` (0600) holds pid, port, token, protocol, version and the process's start time.
  `daemon.lock` is held by the daemon for its whole life and holds the same record, so deleting
  or corrupting `daemon.json` does not orphan a running daemon: clients fall back to the record.
- A record is live when its pid is alive; the token handshake then proves it is our daemon. Only
  `is_daemon_process` (the start time, else the command line) may justify signalling a pid.

Standard library only: the NVDA add-on carries a byte-identical copy of this package.
"""

import json
import os
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field

from .errors import DaemonUnavailable, RuntimeDirError
from .wire import PROTOCOL_VERSION

RUNTIME_FILE = "daemon.json"
LOCK_FILE = "daemon.lock"
ENV_RUNTIME_DIR = "ECHOIC_RUNTIME_DIR"
FOLDER_MODE = 0o700


@dataclass(frozen=True)
class RuntimeInfo:
    pid: int
    port: int
    token: str
    protocol: int = PROTOCOL_VERSION
    version: str = ""
    started: "int | None" = field(default=None, compare=False)
    """The process's start time in clock ticks since boot (Linux) or 100 ns units since 1601
    (Windows), when known: with the pid, it names one process, never a later one with its pid."""


# ---- the folder ---------------------------------------------------------------------------------


def runtime_dir(environ=None, platform=None, uid=None, temp=None):
    """The runtime folder (a str), from the environment alone."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    override = environ.get(ENV_RUNTIME_DIR)
    if override:
        return override
    if platform == "win32":
        base = environ.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local")
        return os.path.join(base, "echoic")
    xdg = environ.get("XDG_RUNTIME_DIR", "")
    if xdg.startswith("/"):
        return os.path.join(xdg, "echoic")
    uid = os.geteuid() if uid is None else uid
    return os.path.join(temp or tempfile.gettempdir(), f"runtime-{uid}", "echoic")


def folder_problem(path, info, euid):
    """Why a folder (its lstat result `info`) is not safely ours, or None."""
    if stat.S_ISLNK(info.st_mode):
        return f"{path} is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return f"{path} is not a folder"
    if info.st_uid != euid:
        return f"{path} belongs to uid {info.st_uid}, not to you (uid {euid})"
    if info.st_mode & 0o022:
        return f"{path} can be written by others (mode {info.st_mode & 0o777:04o})"
    return None


def parent_problem(path, info, euid):
    """Why the folder holding the runtime folder (its stat result `info`) lets others swap the
    runtime folder out, or None: it must be ours or root's, and writable by others only when
    sticky (as /tmp is: there nobody may rename another user's entries)."""
    if info.st_uid not in (euid, 0):
        return f"{path} belongs to uid {info.st_uid}, not to you (uid {euid}) or root"
    if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
        return f"{path} can be written by others (mode {info.st_mode & 0o777:04o})"
    return None


def _refuse(path, problem, remedy="remove it, or"):
    return RuntimeDirError(f"the runtime folder {problem}; {remedy} set {ENV_RUNTIME_DIR} to a folder of yours")


def check_folder(path):
    """Raise RuntimeDirError unless `path` is safely ours; False when it does not exist."""
    if sys.platform == "win32":
        return os.path.isdir(path)  # %LOCALAPPDATA% is per user; NTFS ownership is not st_uid
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise _refuse(path, f"{path} cannot be read ({e.strerror})") from None
    problem = folder_problem(path, info, os.geteuid())
    if problem is None:
        parent = os.path.dirname(os.path.abspath(path))
        try:
            problem = parent_problem(parent, os.stat(parent), os.geteuid())
        except OSError as e:
            problem = f"{parent} cannot be read ({e.strerror})"
    if problem:
        raise _refuse(path, problem)
    return True


def ensure_folder(path):
    """Create the runtime folder (and any missing parent, each 0700), check it, narrow it to 0700.

    What the daemon calls before taking its lock; RuntimeDirError names the folder and the cause."""
    missing = []
    parent = os.path.abspath(path)
    while not os.path.lexists(parent) and os.path.dirname(parent) != parent:
        missing.append(parent)
        parent = os.path.dirname(parent)
    for folder in reversed(missing):
        try:
            os.mkdir(folder, FOLDER_MODE)
        except FileExistsError:
            pass  # another process made it meanwhile; checked below
        except OSError as e:
            raise _refuse(path, f"{folder} cannot be created ({e.strerror})", "free some space, or") from None
    if sys.platform == "win32":
        return
    check_folder(path)
    if os.lstat(path).st_mode & 0o777 != FOLDER_MODE:
        os.chmod(path, FOLDER_MODE)  # ours; an older daemon made it 0755


# ---- the runtime file -----------------------------------------------------------------------------


def parse_runtime_file(text):
    """The runtime file's JSON -> RuntimeInfo; ValueError naming the bad field."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("runtime file is not a JSON object")
    try:
        started = data.get("started")
        return RuntimeInfo(int(data["pid"]), int(data["port"]), str(data["token"]),
                           int(data.get("protocol", PROTOCOL_VERSION)), str(data.get("version", "")),
                           None if started is None else int(started))
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"runtime file lacks a valid field: {e}") from None


def format_runtime_file(info):
    return json.dumps(asdict(info)).encode("utf-8")


def _read_record(path):
    try:
        with open(path, encoding="utf-8") as f:
            return parse_runtime_file(f.read())
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def read_runtime_file(directory=None, include_stale=False):
    """The running daemon's record, or None (no daemon, or only a stale record).

    `daemon.json` first; when it is missing, corrupt or stale, the record the daemon keeps in its
    lock file. RuntimeDirError when the folder is not safely ours (its record could be a trap)."""
    directory = str(directory or runtime_dir())
    if not check_folder(directory):
        return None
    first = _read_record(os.path.join(directory, RUNTIME_FILE))
    if first is not None and (include_stale or pid_alive(first.pid)):
        return first
    held = _read_record(os.path.join(directory, LOCK_FILE))
    if held is not None and pid_alive(held.pid):
        return held
    return first if include_stale else None


# ---- processes ------------------------------------------------------------------------------------


def pid_alive(pid):
    """Is `pid` a running process (not a zombie)? Another user's process counts as alive."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        try:
            code = ctypes.c_ulong()
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
    except OSError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) is not a running daemon
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def process_start_time(pid):
    """When `pid` started (see RuntimeInfo.started), or None where this platform cannot say."""
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)
        if not handle:
            return None
        try:
            times = [ctypes.c_ulonglong() for _ in range(4)]
            if not kernel32.GetProcessTimes(handle, *(ctypes.byref(t) for t in times)):
                return None
            return times[0].value
        finally:
            kernel32.CloseHandle(handle)
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[19])  # field 22, starttime
    except (OSError, IndexError, ValueError):
        return None


def process_argv(pid):
    """The command line of `pid` as a list, or None where this platform cannot say."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    return [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]


def looks_like_daemon(argv):
    """Does a command line run an Echoic daemon (`echoic serve`, `echoic-daemon serve`,
    `python -m engine serve`)?"""
    if "serve" not in argv:
        return False
    before = argv[:argv.index("serve")]
    for i, arg in enumerate(before):
        name = arg.replace("\\", "/").rsplit("/", 1)[-1].lower()  # a Windows path read on any system
        if name.startswith("echoic") or (arg == "engine" and i > 0 and before[i - 1] == "-m"):
            return True
    return False


def is_daemon_process(info):
    """(yes, why): may `info.pid` be signalled as the daemon `info` describes? The pid must be
    alive and be that very process: the same start time when the record has one, else a command
    line that runs a daemon."""
    if not pid_alive(info.pid):
        return False, f"pid {info.pid} is not running"
    if info.started is not None:
        now = process_start_time(info.pid)
        if now is not None:
            if now == info.started:
                return True, f"pid {info.pid} started when the daemon did"
            return False, f"pid {info.pid} is a later process than the daemon that wrote the record"
    argv = process_argv(info.pid)
    if argv is None:
        return False, f"cannot tell what pid {info.pid} runs"
    if looks_like_daemon(argv):
        return True, f"pid {info.pid} runs {' '.join(argv)}"
    return False, f"pid {info.pid} runs {' '.join(argv)[:80]!r}, not an Echoic daemon"


# ---- starting one -----------------------------------------------------------------------------------


def start_daemon(argv, directory=None, timeout=30.0, log_path=None):
    """Run `argv` detached and wait until a live daemon's record appears; returns it.

    A daemon that exits before it is ready may have lost the race for the lock to another one:
    that one is used. DaemonUnavailable says why nothing could be started."""
    directory = str(directory or runtime_dir())
    kwargs = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "close_fds": True}
    if sys.platform == "win32":
        kwargs["creationflags"] = subprocess.CREATE_NO_WINDOW | subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        kwargs["start_new_session"] = True
    stderr = subprocess.DEVNULL
    if log_path is not None:
        try:
            os.makedirs(os.path.dirname(str(log_path)), mode=FOLDER_MODE, exist_ok=True)
            stderr = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        except OSError:
            stderr = subprocess.DEVNULL
    try:
        process = subprocess.Popen(argv, stderr=stderr, **kwargs)
    except OSError as e:
        raise DaemonUnavailable(f"cannot start the daemon ({' '.join(argv)}): {e}") from e
    finally:
        if stderr is not subprocess.DEVNULL:
            stderr.close()
    where = f"; see {log_path}" if log_path else ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = read_runtime_file(directory)
        if info is not None:
            return info
        code = process.poll()
        if code is not None:
            info = read_runtime_file(directory)
            if info is not None:
                return info
            raise DaemonUnavailable(f"the daemon exited with status {code} before it was ready{where}")
        time.sleep(0.05)
    raise DaemonUnavailable(f"the daemon did not write {os.path.join(directory, RUNTIME_FILE)} "
                            f"within {timeout:.0f} s{where}")
