"""The daemon connection of `sd_echoic`, on the client core (engine/client/, docs/protocol.md).

Finds the daemon through its runtime file, starts `echoic serve` when none runs, says hello with
the token, and hands each utterance's audio frames, index marks and `done` to whoever spoke it
through a queue. One reader thread per connection; sends may come from any thread.

Errors are the core's (engine/client/errors.py), raised where the code meets the socket and the
subprocess:

    DaemonError             the daemon cannot be used (the core's ClientError)
    ├── DaemonUnavailable   no daemon runs and none could be started (the message says why)
    ├── DaemonRefused       the daemon closed the hello (bad token 4401, protocol 4400)
    └── DaemonLost          the connection dropped; the next call reconnects
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import sys
import threading
from pathlib import Path

from engine.client import discovery
from engine.client.connection import Connection
from engine.client.discovery import RuntimeInfo, parse_runtime_file, read_runtime_file  # noqa: F401
from engine.client.errors import ClientError as DaemonError
from engine.client.errors import DaemonLost, DaemonRefused, DaemonUnavailable  # noqa: F401
from engine.client.wire import AUDIO_HEADER, PROTOCOL_VERSION, AudioFrame, FrameError, parse_audio_frame  # noqa: F401

log = logging.getLogger(__name__)


def default_runtime_dir() -> Path:
    """The one lookup of the client core (discovery.runtime_dir)."""
    return Path(discovery.runtime_dir())


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
    return discovery.start_daemon(command, runtime_dir, timeout, log_path)


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
        self._ws: Connection | None = None
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
                    raise DaemonUnavailable(f"no daemon runs (no live {self.runtime_dir / discovery.RUNTIME_FILE})")
                timeout = self.start_timeout if start_timeout is None else start_timeout
                info = start_daemon(self.runtime_dir, timeout, self.runtime_dir / "sd_echoic-daemon.log")
            self._open(info)
            return self.hello

    def _open(self, info: RuntimeInfo) -> None:
        ws = Connection.open(info.port, info.token, self.client_name, timeout=self.connect_timeout)
        reply = ws.hello
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
            ws.send(message)
        except DaemonLost as exc:
            self._drop(ws, f"send failed: {exc}")
            raise

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

    def _read_loop(self, ws: Connection) -> None:
        reason = "the daemon closed the connection"
        try:
            while True:
                try:
                    message = ws.receive()
                except FrameError as exc:
                    log.warning("ignoring a bad frame from the daemon: %s", exc)
                    continue
                if isinstance(message, AudioFrame):
                    self._on_audio(message)
                else:
                    self._on_message(message)
        except DaemonLost as exc:
            reason = str(exc)
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

    def _on_audio(self, frame: AudioFrame) -> None:
        with self._state_lock:
            utterance = self._by_number.get(frame.utterance)
        if utterance is not None:
            utterance.events.put(("audio", frame.sample_offset, frame.pcm))

    def _on_message(self, message: dict) -> None:
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
