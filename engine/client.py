"""A small synchronous client of the Echoic daemon (docs/protocol.md), for the CLI and the tests.

    with DaemonClient.connect() as daemon:          # reads the runtime file, says hello
        result = daemon.speak("Hello <mark name='a'/> world", ssml=True)
        result.pcm, result.marks, result.done

`speak_via_daemon(text, ...)` is what `echoic say` calls: it returns False when no daemon runs.
Transport errors are wrapped once, here, into DaemonError; `error` replies become ProtocolError.
"""

from __future__ import annotations

import itertools
import json
import socket
from dataclasses import dataclass, field
from pathlib import Path

from websockets.exceptions import ConnectionClosed, InvalidHandshake, WebSocketException
from websockets.sync.client import connect as ws_connect

from .daemon import DaemonError
from .daemon import protocol as p
from .daemon.runtime_file import RuntimeInfo, read_runtime_file
from .errors import AudioDeviceError, ProtocolError


def find_daemon(runtime_dir: Path | None = None) -> RuntimeInfo | None:
    """The running daemon's runtime file, or None (no file, or a stale one)."""
    return read_runtime_file(runtime_dir)


@dataclass
class SpeechResult:
    """Everything one utterance sent back, in arrival order."""

    id: str
    accepted: dict | None = None
    frames: list[p.AudioFrame] = field(default_factory=list)
    marks: list[dict] = field(default_factory=list)
    events: list = field(default_factory=list)
    """Every message and audio frame of this utterance, as received (dicts and AudioFrames)."""
    done: dict | None = None
    error: dict | None = None
    first_audio_order: int | None = None
    """How many messages this client had received when this utterance's first audio frame came."""

    @property
    def pcm(self) -> bytes:
        return b"".join(f.pcm for f in self.frames)

    @property
    def samples(self) -> int:
        return len(self.pcm) // 2


class DaemonClient:
    """One authenticated connection. Messages not asked for (another utterance's events) are kept
    in `backlog` until something asks for them."""

    def __init__(self, ws, hello: dict):
        self.ws = ws
        self.hello = hello
        self.backlog: list = []
        self._ids = itertools.count(1)
        self.received = 0

    @classmethod
    def connect(cls, runtime_dir: Path | None = None, *, info: RuntimeInfo | None = None, name: str = "echoic-client",
                host: str = "127.0.0.1", timeout: float = 10.0, token: str | None = None) -> "DaemonClient":
        info = info or find_daemon(runtime_dir)
        if info is None:
            raise DaemonError("no Echoic daemon is running ('echoic serve' starts one)")
        address = f"[{host}]" if ":" in host else host
        try:
            ws = ws_connect(f"ws://{address}:{info.port}/", open_timeout=timeout, close_timeout=2,
                            max_size=p.MAX_MESSAGE_BYTES).__enter__()  # websockets 17 warns unless entered
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise DaemonError(f"cannot reach the Echoic daemon on port {info.port}: {exc}") from None
        try:  # small control messages must not wait for Nagle's algorithm (40 ms with delayed ACKs)
            ws.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        client = cls(ws, {})
        client.send({"type": "hello", "token": info.token if token is None else token,
                     "protocol": p.PROTOCOL_VERSION, "client": name})
        reply = client.receive(timeout)
        if not isinstance(reply, dict) or reply.get("type") != "hello":
            raise DaemonError(f"the daemon did not answer hello: {reply!r}")
        client.hello = reply
        return client

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self.ws.close()

    # --- transport ------------------------------------------------------------------------------

    def send(self, message: dict) -> None:
        try:
            self.ws.send(json.dumps(message))
        except (ConnectionClosed, OSError) as exc:
            raise DaemonError(f"the daemon closed the connection: {exc}") from None

    def receive(self, timeout: float | None = 30.0):
        """The next message: a dict for JSON, an AudioFrame for audio."""
        try:
            frame = self.ws.recv(timeout)
        except TimeoutError:
            raise DaemonError(f"the daemon sent nothing for {timeout} s") from None
        except (ConnectionClosed, WebSocketException, OSError) as exc:
            raise DaemonError(f"the daemon closed the connection: {exc}") from None
        self.received += 1
        if isinstance(frame, bytes):
            return p.parse_audio_frame(frame)
        return json.loads(frame)

    def request(self, message: dict, answer: str, timeout: float = 30.0) -> dict:
        """Send a message and wait for the reply of type `answer` (an `error` raises ProtocolError)."""
        self.send(message)
        while True:
            reply = self.receive(timeout)
            if isinstance(reply, dict) and reply.get("type") == answer:
                return reply
            if isinstance(reply, dict) and reply.get("type") == "error" and reply.get("id") is None:
                raise ProtocolError(reply["code"], reply["message"])
            self.backlog.append(reply)

    # --- the protocol -----------------------------------------------------------------------------

    def ping(self) -> dict:
        uid = f"ping-{next(self._ids)}"
        return self.request({"type": "ping", "id": uid}, "pong")

    def status(self) -> dict:
        return self.request({"type": "status"}, "status")

    def voices(self, locale: str | None = None) -> list[dict]:
        return self.request({"type": "voices", "locale": locale}, "voices")["voices"]

    def locales(self) -> list[dict]:
        return self.request({"type": "locales"}, "locales")["locales"]

    def settings(self) -> dict:
        return self.request({"type": "settings", "action": "get"}, "settings")["settings"]

    def set_settings(self, locale: str, values: dict) -> dict:
        return self.request({"type": "settings", "action": "set", "locale": locale, "values": values}, "settings")["settings"]

    def set_defaults(self, **values) -> dict:
        return self.request({"type": "set", **values}, "set")["defaults"]

    def shutdown(self) -> None:
        self.send({"type": "shutdown"})

    def start_speaking(self, text: str, *, id: str | None = None, ssml: bool = False, **fields) -> str:
        """Send a `speak` (fields: locale, voice, rate, pitch, volume, spell, priority, playback); returns its id."""
        uid = id or f"u{next(self._ids)}"
        message = {"type": "speak", "id": uid, ("ssml" if ssml else "text"): text}
        message.update({k: v for k, v in fields.items() if v is not None})
        self.send(message)
        return uid

    def cancel(self, id: str | None = None) -> None:
        self.send({"type": "cancel", **({"id": id} if id is not None else {})})

    def collect(self, ids: list[str], timeout: float = 60.0) -> dict[str, SpeechResult]:
        """Receive until every utterance in `ids` has its `done` or `error`."""
        results = {uid: SpeechResult(uid) for uid in ids}
        by_number: dict[int, SpeechResult] = {}
        pending = set(ids)
        kept, self.backlog = self.backlog, []
        while pending:
            message = kept.pop(0) if kept else self.receive(timeout)
            if isinstance(message, p.AudioFrame):
                result = by_number.get(message.utterance)
                if result is None:
                    self.backlog.append(message)
                    continue
                if result.first_audio_order is None:
                    result.first_audio_order = self.received
                result.frames.append(message)
                result.events.append(message)
                continue
            result = results.get(message.get("id")) if isinstance(message.get("id"), str) else None
            if result is None or message.get("type") not in ("accepted", "index", "done", "error"):
                self.backlog.append(message)
                continue
            result.events.append(message)
            kind = message["type"]
            if kind == "accepted":
                result.accepted = message
                by_number[message["utterance"]] = result
            elif kind == "index":
                result.marks.append(message)
            elif kind == "done":
                result.done = message
                pending.discard(result.id)
            else:
                result.error = message
                pending.discard(result.id)
        self.backlog.extend(kept)
        return results

    def speak(self, text: str, *, timeout: float = 60.0, **fields) -> SpeechResult:
        uid = self.start_speaking(text, **fields)
        return self.collect([uid], timeout)[uid]


def speak_via_daemon(text: str, *, ssml: bool = False, locale: str | None = None, voice: str | None = None,
                     rate: float | None = None, pitch: float | None = None, volume: float | None = None,
                     spell: bool = False, runtime_dir: Path | None = None) -> bool:
    """Speak through the running daemon's own audio output and wait until it is done.

    Returns False when no daemon runs (the caller then speaks in-process). Raises
    AudioDeviceError when the daemon has no audio output, ProtocolError for any other refusal.
    """
    info = find_daemon(runtime_dir)
    if info is None:
        return False
    try:
        client = DaemonClient.connect(info=info, name="echoic say")
    except DaemonError:
        return False  # a daemon that died between the file check and the connection
    with client:
        result = client.speak(text, ssml=ssml, locale=locale, voice=voice, rate=rate, pitch=pitch, volume=volume,
                              spell=spell or None, playback="daemon", timeout=600.0)
    if result.error is not None:
        if result.error["code"] == "no_audio_device":
            raise AudioDeviceError(result.error["message"])
        raise ProtocolError(result.error["code"], result.error["message"])
    return True
