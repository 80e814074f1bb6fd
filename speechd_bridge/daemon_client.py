"""A minimal synchronous client of the Echoic daemon (docs/protocol.md), for `sd_echoic`.

Finds the daemon through its runtime file, starts `echoic serve` when none runs, says hello with
the token, and hands each utterance's audio frames, index marks and `done` to whoever spoke it
through a queue. One reader thread per connection; sends may come from any thread (websockets'
sync connection allows one sender at a time, so they go under a lock).

Errors, all raised from here, where the code meets the socket and the subprocess:

    DaemonError             the daemon cannot be used
    ├── DaemonUnavailable   no daemon runs and none could be started (the message says why)
    ├── DaemonRefused       the daemon closed the hello (bad token 4401, protocol 4400)
    └── DaemonLost          the connection dropped; the next call reconnects
"""

from __future__ import annotations

import inspect
import itertools
import json
import logging
import os
import queue
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import connect

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
# websockets 17 wants `connect()` as a context manager unless `legacy=True`; older ones lack the flag.
_CONNECT_OPTIONS = {"legacy": True} if "legacy" in inspect.signature(connect).parameters else {}
RUNTIME_FILE_NAME = "daemon.json"
AUDIO_MAGIC = b"EAU1"
AUDIO_HEADER = struct.Struct("<4sIIQIHH")  # magic, utterance, seq, sample_offset, rate, channels, format


class DaemonError(Exception):
    """The Echoic daemon cannot be used."""


class DaemonUnavailable(DaemonError):
    """No daemon runs and none could be started."""


class DaemonRefused(DaemonError):
    """The daemon refused our hello."""


class DaemonLost(DaemonError):
    """The connection to the daemon dropped."""


# ---- finding the daemon -------------------------------------------------------------------------


@dataclass(frozen=True)
class RuntimeInfo:
    pid: int
    port: int
    token: str
    protocol: int
    version: str


def default_runtime_dir() -> Path:
    """`$ECHOIC_RUNTIME_DIR`, else `<user runtime dir>/echoic` as docs/protocol.md says."""
    override = os.environ.get("ECHOIC_RUNTIME_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "echoic"
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base:
        return Path(base) / "echoic"
    import platformdirs

    return Path(platformdirs.user_runtime_dir("echoic"))


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's: the daemon file said it, the token check decides
    except OSError:
        return False
    return True


def parse_runtime_file(text: str) -> RuntimeInfo:
    """The runtime file's JSON -> RuntimeInfo; ValueError naming the bad field."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("runtime file is not a JSON object")
    try:
        return RuntimeInfo(int(data["pid"]), int(data["port"]), str(data["token"]),
                           int(data.get("protocol", PROTOCOL_VERSION)), str(data.get("version", "")))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"runtime file lacks a valid field: {exc}") from None


def read_runtime_file(runtime_dir: Path) -> RuntimeInfo | None:
    """The live daemon's runtime info, or None (missing, unreadable or stale: pid not alive)."""
    path = Path(runtime_dir) / RUNTIME_FILE_NAME
    try:
        info = parse_runtime_file(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        if path.exists():
            log.warning("ignoring runtime file %s: %s", path, exc)
        return None
    if not pid_alive(info.pid):
        log.info("runtime file %s is stale (pid %d is gone)", path, info.pid)
        return None
    return info


def serve_command(runtime_dir: Path) -> list[str]:
    """How to start the daemon: `$ECHOIC_SERVE_COMMAND` (split on spaces), else this Python's
    `-m engine serve` (works from a checkout and from an install alike)."""
    custom = os.environ.get("ECHOIC_SERVE_COMMAND")
    if custom:
        return custom.split()
    return [sys.executable, "-m", "engine", "serve"]


def start_daemon(runtime_dir: Path, timeout: float, log_path: Path | None = None) -> RuntimeInfo:
    """Start `echoic serve` detached and wait for its runtime file; DaemonUnavailable says why not."""
    command = serve_command(runtime_dir)
    log.info("starting the daemon: %s", " ".join(command))
    stderr = subprocess.DEVNULL
    if log_path is not None:
        try:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            stderr = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        except OSError:
            stderr = subprocess.DEVNULL
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=stderr, start_new_session=True, close_fds=True)
    except OSError as exc:
        raise DaemonUnavailable(f"cannot start the daemon ({' '.join(command)}): {exc}") from exc
    finally:
        if stderr is not subprocess.DEVNULL:
            stderr.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = read_runtime_file(runtime_dir)
        if info is not None:
            return info
        code = process.poll()
        if code is not None:
            # Another daemon may have won the race and written its file meanwhile.
            info = read_runtime_file(runtime_dir)
            if info is not None:
                return info
            where = f"; see {log_path}" if log_path else ""
            raise DaemonUnavailable(f"the daemon exited with status {code} before it was ready{where}")
        time.sleep(0.05)
    raise DaemonUnavailable(f"the daemon did not write {runtime_dir / RUNTIME_FILE_NAME} within {timeout:.0f} s")


# ---- wire format --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AudioFrame:
    utterance: int
    seq: int
    sample_offset: int
    sample_rate: int
    channels: int
    pcm: bytes


def parse_audio_frame(frame: bytes) -> AudioFrame:
    """A binary audio frame: the 28-byte header of docs/protocol.md, then s16le PCM."""
    if len(frame) < AUDIO_HEADER.size:
        raise ValueError(f"audio frame of {len(frame)} bytes is shorter than its header")
    magic, utterance, seq, offset, rate, channels, fmt = AUDIO_HEADER.unpack_from(frame)
    if magic != AUDIO_MAGIC:
        raise ValueError(f"audio frame magic {magic!r} is not {AUDIO_MAGIC!r}")
    if fmt != 1:
        raise ValueError(f"audio frame format {fmt} is not 1 (s16le)")
    return AudioFrame(utterance, seq, offset, rate, channels, bytes(frame[AUDIO_HEADER.size:]))


# ---- the connection -----------------------------------------------------------------------------


class Utterance:
    """One `speak` in flight. `events` yields tuples, in the daemon's order:

    `("accepted", msg)`, `("audio", sample_offset, pcm)`, `("index", mark, sample_offset)`,
    `("done", msg)`, `("error", msg)`, `("lost", reason)`; `("wake",)` when `wake()` was called.
    """

    def __init__(self, uid: str):
        self.id = uid
        self.events: queue.Queue = queue.Queue()
        self.finished = False

    def wake(self) -> None:
        self.events.put(("wake",))


class DaemonClient:
    """A connection to the daemon, made on first use and remade after the daemon restarts."""

    def __init__(self, runtime_dir: Path | None = None, client_name: str = "sd_echoic",
                 autostart: bool = True, start_timeout: float = 60.0, connect_timeout: float = 5.0):
        self.runtime_dir = Path(runtime_dir) if runtime_dir else default_runtime_dir()
        self.client_name = client_name
        self.autostart = autostart
        self.start_timeout = start_timeout
        self.connect_timeout = connect_timeout
        self.hello: dict | None = None
        self._ws = None
        self._send_lock = threading.Lock()
        self._connect_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._by_id: dict[str, Utterance] = {}
        self._by_number: dict[int, Utterance] = {}
        self._replies: dict[str, queue.Queue] = {}
        self._ids = itertools.count(1)

    # -- connecting --

    @property
    def connected(self) -> bool:
        return self._ws is not None

    @property
    def sample_rate(self) -> int:
        return int((self.hello or {}).get("sample_rate", 24000))

    def ensure_connected(self, start_timeout: float | None = None) -> dict:
        """Connect (starting the daemon if allowed) unless connected; returns the daemon's hello."""
        with self._connect_lock:
            if self._ws is not None and self.hello is not None:
                return self.hello
            info = read_runtime_file(self.runtime_dir)
            if info is None:
                if not self.autostart:
                    raise DaemonUnavailable(f"no daemon runs (no live {self.runtime_dir / RUNTIME_FILE_NAME})")
                timeout = self.start_timeout if start_timeout is None else start_timeout
                info = start_daemon(self.runtime_dir, timeout, self.runtime_dir / "sd_echoic-daemon.log")
            self._open(info)
            return self.hello

    def _open(self, info: RuntimeInfo) -> None:
        uri = f"ws://127.0.0.1:{info.port}/"
        try:
            ws = connect(uri, proxy=None, origin=None, open_timeout=self.connect_timeout,
                         compression=None, max_size=2**20, close_timeout=1, **_CONNECT_OPTIONS)
        except (OSError, InvalidHandshake, InvalidStatus, TimeoutError) as exc:
            raise DaemonUnavailable(f"cannot connect to the daemon at {uri}: {exc}") from exc
        try:
            ws.send(json.dumps({"type": "hello", "token": info.token, "protocol": PROTOCOL_VERSION,
                                "client": self.client_name}))
            reply = json.loads(ws.recv(timeout=self.connect_timeout))
        except ConnectionClosed as exc:
            ws.close()
            raise DaemonRefused(f"the daemon closed the hello: {exc}") from exc
        except (TimeoutError, ValueError, OSError) as exc:
            ws.close()
            raise DaemonUnavailable(f"no hello from the daemon at {uri}: {exc}") from exc
        if not isinstance(reply, dict) or reply.get("type") != "hello":
            ws.close()
            raise DaemonRefused(f"the daemon answered the hello with {reply!r}")
        self.hello = reply
        self._ws = ws
        thread = threading.Thread(target=self._read_loop, args=(ws,), name="echoic-daemon-reader", daemon=True)
        thread.start()
        log.info("connected to the daemon %s on port %d", reply.get("version"), info.port)

    def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.close()

    # -- sending --

    def _send(self, message: dict) -> None:
        ws = self._ws
        if ws is None:
            raise DaemonLost("not connected to the daemon")
        try:
            with self._send_lock:
                ws.send(json.dumps(message))
        except (ConnectionClosed, OSError) as exc:
            self._drop(ws, f"send failed: {exc}")
            raise DaemonLost(f"the daemon connection dropped: {exc}") from exc

    def new_id(self) -> str:
        return f"sd{next(self._ids)}"

    def speak(self, message: dict) -> Utterance:
        """Send a `speak` (its `id` is the message's); events arrive on the returned Utterance."""
        utterance = Utterance(message["id"])
        with self._state_lock:
            self._by_id[utterance.id] = utterance
        try:
            self._send(message)
        except DaemonError:
            with self._state_lock:
                self._by_id.pop(utterance.id, None)
            raise
        return utterance

    def cancel(self, uid: str | None = None) -> None:
        """Ask the daemon to stop an utterance (all of ours when None); no wait."""
        message = {"type": "cancel"}
        if uid is not None:
            message["id"] = uid
        self._send(message)

    def forget(self, utterance: Utterance) -> None:
        """Stop routing events to an utterance we no longer listen to."""
        with self._state_lock:
            self._by_id.pop(utterance.id, None)
            for number, u in list(self._by_number.items()):
                if u is utterance:
                    del self._by_number[number]

    def request(self, message: dict, reply_type: str, timeout: float = 5.0) -> dict:
        """Send a request answered by one message of `reply_type` (`voices`, `locales`, `pong`)."""
        waiter: queue.Queue = queue.Queue()
        with self._state_lock:
            self._replies[reply_type] = waiter
        try:
            self._send(message)
            reply = waiter.get(timeout=timeout)
        except queue.Empty:
            raise DaemonLost(f"no {reply_type!r} answer from the daemon within {timeout} s") from None
        finally:
            with self._state_lock:
                self._replies.pop(reply_type, None)
        if reply.get("type") == "lost":
            raise DaemonLost(reply.get("reason", "the daemon connection dropped"))
        if reply.get("type") == "error":
            raise DaemonError(f"the daemon refused {message.get('type')!r}: {reply.get('message')}")
        return reply

    # -- receiving --

    def _read_loop(self, ws) -> None:
        reason = "the daemon closed the connection"
        try:
            for frame in ws:
                if isinstance(frame, bytes):
                    self._on_audio(frame)
                else:
                    self._on_message(frame)
        except ConnectionClosed as exc:
            reason = f"the daemon connection closed: {exc}"
        except Exception as exc:  # noqa: BLE001 - the reader must always report the loss below
            reason = f"the daemon connection failed: {exc!r}"
            log.exception("daemon reader failed")
        self._drop(ws, reason)

    def _drop(self, ws, reason: str) -> None:
        with self._state_lock:
            if self._ws is ws:
                self._ws = None
                self.hello = None
            live = list(self._by_id.values())
            self._by_id.clear()
            self._by_number.clear()
            waiters = list(self._replies.values())
        try:
            ws.close()
        except Exception:  # noqa: BLE001 - closing an already broken socket
            pass
        for utterance in live:
            utterance.events.put(("lost", reason))
        for waiter in waiters:
            waiter.put({"type": "lost", "reason": reason})
        if live or waiters:
            log.warning("%s", reason)

    def _on_audio(self, data: bytes) -> None:
        try:
            frame = parse_audio_frame(data)
        except ValueError as exc:
            log.warning("ignoring a bad audio frame: %s", exc)
            return
        with self._state_lock:
            utterance = self._by_number.get(frame.utterance)
        if utterance is not None:
            utterance.events.put(("audio", frame.sample_offset, frame.pcm))

    def _on_message(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            log.warning("ignoring a non-JSON message from the daemon")
            return
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        uid = message.get("id")
        with self._state_lock:
            utterance = self._by_id.get(uid) if isinstance(uid, str) else None
            if kind == "accepted" and utterance is not None:
                self._by_number[int(message.get("utterance", -1))] = utterance
            if kind in ("done", "error") and utterance is not None:
                self._by_id.pop(uid, None)
                for number, u in list(self._by_number.items()):
                    if u is utterance:
                        del self._by_number[number]
            waiter = self._replies.get(kind) if utterance is None else None
            if kind == "error" and utterance is None and waiter is None and self._replies:
                waiter = next(iter(self._replies.values()))
        if utterance is not None:
            if kind == "accepted":
                utterance.events.put(("accepted", message))
            elif kind == "index":
                utterance.events.put(("index", str(message.get("mark", "")), int(message.get("sample_offset", 0))))
            elif kind in ("done", "error"):
                utterance.events.put((kind, message))
        elif waiter is not None:
            waiter.put(message)
        elif kind == "error":
            log.warning("daemon error: %s", message)
