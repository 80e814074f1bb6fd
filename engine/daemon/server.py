"""The daemon: a WebSocket server on loopback around one shared Engine.

Threads: the asyncio event loop owns every socket and every client's queue of outgoing
messages; one synthesis thread owns the Engine and pulls one event at a time from the streams
of all clients in turn, so a long utterance of one client never starves another and inference
never runs on the event loop. Per client at most `render_ahead` seconds of audio exist that the
client has not yet received; a paused or slow client simply stops its own synthesis.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hmac
import http
import logging
import os
import secrets
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from .. import __version__
from ..api import AudioChunk, Cancellation, Finished, MarkReached, SpeechRequest
from ..errors import (AudioDeviceError, ConfigError, EchoicError, LocaleError, ProtocolError, TextError,
                      VoiceError)
from ..locales import get_locale, key_echo_characters
from . import DaemonError
from . import protocol as p
from .playback import Player
from .runtime_file import DaemonLock, RuntimeInfo, default_runtime_dir, remove_runtime_file, write_runtime_file
from . import memory
from .cost import estimate
from .memory import resident_memory_bytes  # noqa: F401  (engine/bench.py imports it from here)
from .scheduling import admit, next_turn
from .slicing import sliced_stream
from .settings import SettingsStore

log = logging.getLogger("echoic.daemon")

HELLO_TIMEOUT_S = 3.0
"""From the end of the HTTP handshake to a valid hello; the HTTP handshake has as long again."""
HELLO_MAX_BYTES = 4096
"""The largest frame accepted before authentication (a hello is ~150 bytes); p.MAX_MESSAGE_BYTES after."""
MAX_CONNECTIONS = 64
"""Open connections at once (the screen reader, speech-dispatcher and a few CLI calls need a handful)."""
MAX_UNAUTHENTICATED = 8
MAX_QUEUED_CHARS_PER_CLIENT = 1_000_000
"""Text of one client's live utterances (64 of 200,000 characters would be 12.8 MB per client)."""
MAX_QUEUED_CHARS = 8_000_000
"""Text of every client's live utterances together."""
INCOMING_FRAMES = 4
"""Frames websockets buffers per connection before it stops reading the socket (x 1 MiB)."""
TRIM_AFTER_CHARS = 10_000
"""Text synthesised since the last malloc_trim that makes the next idle moment trim."""
TRIM_EVERY_S = 30.0
"""Connections still without a valid hello; more are answered HTTP 503 before any WebSocket exists."""
MAX_CONTROL_BACKLOG = 64
"""Answers queued for a client that does not read them; past this its next message waits."""


def error_code(exc: BaseException) -> str:
    """The protocol's error code for an exception raised while preparing or synthesising speech."""
    if isinstance(exc, ProtocolError):
        return exc.code
    for kind, code in ((LocaleError, "unknown_locale"), (VoiceError, "unknown_voice"), (ConfigError, "bad_value"),
                       (TextError, "bad_value"), (AudioDeviceError, "no_audio_device"), (EchoicError, "synthesis_failed")):
        if isinstance(exc, kind):
            return code
    return "internal"


class Utterance:
    def __init__(self, client: "Client", msg: p.Speak, number: int, request: SpeechRequest, voice: str):
        self.client, self.id, self.number = client, msg.id, number
        self.priority, self.playback = msg.priority, msg.playback
        self.request, self.voice = request, voice
        self.cancel = Cancellation()  # set() also stops a model call in flight
        self.received = time.perf_counter()
        # synthesis thread (under the server's condition for `started`)
        self.started = False
        self.synth_done = False
        self.stream = None
        # event loop
        self.over = False
        """done/error is queued for the client: nothing more of this utterance is sent."""
        self.seq = 0
        self.samples_sent = 0
        self.first_audio: float | None = None


class Client:
    def __init__(self, server: "Server", ws, name: str):
        self.server, self.ws, self.name = server, ws, name
        self.queue: list[Utterance] = []
        """Live utterances in speaking order (guarded by server.cv)."""
        self.buffered = 0
        """Samples synthesised but not yet sent (guarded by server.cv)."""
        self.outbox: collections.deque = collections.deque()
        """The utterances' stream, in order: (kind, utterance, payload); held back while paused."""
        self.control: collections.deque[str] = collections.deque()
        """Answers to messages (accepted, pong, errors...), in the order the messages came; sent
        before the stream and never held by a pause."""
        self.drained = asyncio.Event()
        self.wakeup = asyncio.Event()
        self.paused = False
        self.closed = False
        self.defaults: dict = {}
        self.next_number = 1

    def push(self, kind: str, utt: Utterance | None, payload=None) -> None:
        self.outbox.append((kind, utt, payload))
        self.wakeup.set()

    def reply(self, message: dict) -> None:
        self.control.append(p.dumps(message))
        self.wakeup.set()

    def next_item(self):
        """The next stream item to send, or None. While paused, audio and marks wait, and so does
        everything of an utterance after its waiting audio; other utterances' `done`s go on."""
        if not self.outbox:
            return None
        if not self.paused:
            return self.outbox.popleft()
        held = set()
        for i, item in enumerate(self.outbox):
            kind, utt, _ = item
            if kind in ("audio", "index"):
                held.add(id(utt))
            elif id(utt) not in held:
                del self.outbox[i]
                return item
        return None


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Idle work: calibrate one grid row of a voice (`Engine.calibrate`); `ahead`: a row no
    segment has asked for yet, queued after every row one has."""

    voice: str
    row: int
    ahead: bool = False


@dataclasses.dataclass(frozen=True)
class Preload:
    """Idle work, first after start: load the engine's chunked-rendering sessions."""


class Server:
    """`await Server(engine, ...).run(stop)`: serve until `stop` is set (or SIGTERM / SIGINT)."""

    def __init__(self, engine, *, port: int = p.DEFAULT_PORT, runtime_dir: Path | None = None,
                 settings: SettingsStore | None = None, allow_origins: tuple[str, ...] = (),
                 render_ahead_s: float = 3.0, hello_timeout_s: float = HELLO_TIMEOUT_S,
                 calibrate_ahead: bool = True):
        self.engine = engine
        self.requested_port = port
        self.port: int | None = None
        self.runtime_dir = runtime_dir or default_runtime_dir()
        self.settings = settings or SettingsStore()
        self.allow_origins = tuple(allow_origins)
        self.sample_rate = int(getattr(engine, "sample_rate", p.SAMPLE_RATE))
        self.render_ahead = int(render_ahead_s * self.sample_rate)
        self.hello_timeout_s = hello_timeout_s
        self.calibrate_ahead = calibrate_ahead
        self.token = secrets.token_hex(32)
        self.cv = threading.Condition()
        self.clients: list[Client] = []
        self.started_at = time.monotonic()
        self._voices = list(engine.voices())
        self._voice_ids = {v.id for v in self._voices}
        self._locales = list(engine.locales())
        self._player: Player | None = None
        self._player_lock = asyncio.Lock()
        self._stopping = False
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._rr = 0
        self._connections: set = set()
        self._since_trim = 0
        self._trimmed_at = time.monotonic()
        self.trims = 0
        self._unauthenticated = 0
        # Key-echo warm-up: after a spelled request, the rest of its alphabet is rendered in idle
        # moments (same locale, voice, rate, pitch) so later keys come from the engine's cache.
        # Calibration for chunked rendering (engine/streaming.py) takes idle moments too, after
        # the keys: each (voice, row) a long segment rendered whole for want of one.
        # The first idle moment loads the chunked-rendering sessions when the engine will use them.
        self._warm_queue: collections.deque[SpeechRequest | Calibration | Preload] = collections.deque(
            [Preload()] if hasattr(engine, "preload_streaming") else [])
        self._warmed: set[tuple] = set()
        self._warming: SpeechRequest | Calibration | Preload | None = None
        self._warm_cancel = Cancellation()

    # --- lifetime -----------------------------------------------------------------------------

    def _bind(self) -> list[socket.socket]:
        """Listening sockets on 127.0.0.1 and ::1 sharing one port (port 0: a free one for both).

        proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say so, and
        without it a small frame after another waits ~40 ms for the client's delayed ACK."""
        for _ in range(20):
            s4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            if sys.platform != "win32":
                s4.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s4.bind(("127.0.0.1", self.requested_port))
            except OSError as exc:
                s4.close()
                raise DaemonError(f"cannot listen on 127.0.0.1 port {self.requested_port}: {exc.strerror}; "
                                  "'--port 0' picks a free port") from None
            port = s4.getsockname()[1]
            try:
                s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            except OSError:
                return [s4]  # no IPv6 on this machine
            s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if sys.platform != "win32":
                s6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s6.bind(("::1", port))
                return [s4, s6]
            except OSError as exc:
                s6.close()
                if self.requested_port == 0 and exc.errno in (98, 48, 10048):  # EADDRINUSE: try another port
                    s4.close()
                    continue
                if exc.errno in (98, 48, 10048):
                    s4.close()
                    raise DaemonError(f"cannot listen on ::1 port {port}: {exc.strerror}") from None
                log.warning("no IPv6 loopback (%s); listening on 127.0.0.1 only", exc.strerror)
                return [s4]
        raise DaemonError("could not find a port free on both 127.0.0.1 and ::1")

    def _check_request(self, connection, request):
        """Before the WebSocket exists: refuse web pages, and more connections than we serve."""
        refused = self._check_origin(connection, request)
        if refused is not None:
            return refused
        if len(self._connections) >= MAX_CONNECTIONS or self._unauthenticated >= MAX_UNAUTHENTICATED:
            log.warning("refused a connection: %d open, %d without hello", len(self._connections),
                        self._unauthenticated)
            return connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "Echoic has too many connections\n")
        return None

    def _check_origin(self, connection, request):
        origins = request.headers.get_all("Origin")  # .get raises on a repeated header: HTTP 500
        if not origins:
            return None
        if len(origins) > 1 or origins[0] not in self.allow_origins:
            log.warning("refused a connection with Origin %r", origins[:2])
            return connection.respond(http.HTTPStatus.FORBIDDEN, "Echoic refuses connections from web pages\n")
        return None

    async def run(self, stop: asyncio.Event | None = None, ready=None) -> None:
        """Serve until `stop` is set or SIGTERM/SIGINT arrives. `ready(server)` is called once listening."""
        self._loop = asyncio.get_running_loop()
        self._stop = stop or asyncio.Event()
        lock = DaemonLock(self.runtime_dir)
        lock.acquire()
        try:
            sockets = self._bind()
            self.port = sockets[0].getsockname()[1]
            servers = [await serve(self._handle, sock=s, max_size=HELLO_MAX_BYTES, max_queue=INCOMING_FRAMES,
                                   process_request=self._check_request, server_header=None,
                                   open_timeout=self.hello_timeout_s)
                       for s in sockets]
            thread = threading.Thread(target=self._synthesis_loop, name="echoic-synthesis", daemon=True)
            thread.start()
            installed = self._install_signals()
            write_runtime_file(self.runtime_dir, RuntimeInfo(os.getpid(), self.port, self.token,
                                                              p.PROTOCOL_VERSION, __version__))
            log.info("listening on 127.0.0.1 and ::1 port %d (pid %d)", self.port, os.getpid())
            try:
                if ready is not None:
                    ready(self)
                await self._stop.wait()
            finally:
                log.info("stopping")
                remove_runtime_file(self.runtime_dir, os.getpid())
                for s in servers:
                    s.close(close_connections=True)
                for s in servers:
                    await s.wait_closed()
                with self.cv:
                    self._stopping = True
                    self.cv.notify_all()
                await asyncio.to_thread(thread.join, 5.0)
                if self._player is not None:
                    self._player.abort()
                self._remove_signals(installed)
        finally:
            lock.release()

    def request_stop(self) -> None:
        """Thread-safe."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    def _install_signals(self) -> list:
        installed = []
        if threading.current_thread() is not threading.main_thread():
            return installed
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._loop.add_signal_handler(sig, self._stop.set)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # Windows event loops
                signal.signal(sig, lambda *_: self.request_stop())
        return installed

    def _remove_signals(self, installed) -> None:
        for sig in installed:
            self._loop.remove_signal_handler(sig)

    # --- one connection -----------------------------------------------------------------------

    async def _handle(self, ws) -> None:
        self._connections.add(ws)
        self._unauthenticated += 1
        authenticated = False
        try:
            authenticated = await self._authenticate(ws)
        finally:
            self._unauthenticated -= 1
            if not authenticated:
                self._connections.discard(ws)
        if not authenticated:
            return
        try:
            await self._serve_client(ws, authenticated)
        finally:
            self._connections.discard(ws)

    @staticmethod
    def _allow_large_frames(ws) -> None:
        """After hello: frames up to p.MAX_MESSAGE_BYTES (websockets >= 14 names the limit
        max_message_size; 13 max_size)."""
        protocol = ws.protocol
        if hasattr(protocol, "max_message_size"):
            protocol.max_message_size = p.MAX_MESSAGE_BYTES
        else:
            protocol.max_size = p.MAX_MESSAGE_BYTES

    async def _authenticate(self, ws):
        """The hello, within the deadline: the Hello, or None once the connection is closed."""
        try:
            frame = await asyncio.wait_for(ws.recv(), self.hello_timeout_s)
        except (TimeoutError, asyncio.TimeoutError):
            await ws.close(p.CLOSE_UNAUTHORIZED, "no hello within the time limit")
            return None
        except ConnectionClosed:
            return None
        try:
            hello = p.parse_client_message(frame)
        except ProtocolError:
            hello = None
        if not isinstance(hello, p.Hello):
            await ws.close(p.CLOSE_UNAUTHORIZED, "the first message must be hello with the token")
            return None
        if not hmac.compare_digest(hello.token.encode("utf-8", "replace"), self.token.encode()):
            await ws.close(p.CLOSE_UNAUTHORIZED, "wrong token (read it from the runtime file)")
            return None
        if hello.protocol != p.PROTOCOL_VERSION:
            await ws.close(p.CLOSE_BAD_VERSION, p.close_reason(
                f"protocol {str(hello.protocol)[:20]} is not supported; this daemon speaks {p.PROTOCOL_VERSION}"))
            return None
        self._allow_large_frames(ws)
        return hello

    async def _serve_client(self, ws, hello: p.Hello) -> None:
        client = Client(self, ws, hello.client[:64])
        await ws.send(p.dumps(p.hello_message(__version__)))
        with self.cv:
            self.clients.append(client)
        sender = asyncio.create_task(self._sender(client))
        log.info("client %r connected", client.name)
        try:
            async for frame in ws:
                await self._dispatch(client, frame)
                if sender.done():
                    break
        except ConnectionClosed:
            pass
        finally:
            client.closed = True
            with self.cv:
                self.clients.remove(client)
                for utt in client.queue:
                    utt.cancel.set()
                    utt.over = True
                client.queue.clear()
                self.cv.notify_all()
            sender.cancel()
            try:
                await sender
            except (asyncio.CancelledError, ConnectionClosed):
                pass
            log.info("client %r left", client.name)

    async def _reply(self, client: Client, message: dict) -> None:
        """Queue an answer; a client that sends faster than it reads waits here (backpressure)."""
        client.reply(message)
        while len(client.control) > MAX_CONTROL_BACKLOG and not client.closed:
            client.drained.clear()
            await client.drained.wait()

    async def _dispatch(self, client: Client, frame) -> None:
        try:
            msg = p.parse_client_message(frame)
        except ProtocolError as exc:
            uid = p.message_id(frame) if isinstance(frame, str) else None
            await self._reply(client, p.error_message(uid, exc.code, str(exc)))
            return
        try:
            if isinstance(msg, p.Speak):
                self._speak(client, msg)
            elif isinstance(msg, p.Cancel):
                for utt in [u for u in list(client.queue) if msg.id is None or u.id == msg.id]:
                    self._cancel(utt)
                if msg.id is None:  # cancelling everything also ends a pause (as in speech-dispatcher)
                    client.paused = False
                    client.wakeup.set()
            elif isinstance(msg, p.Pause):
                client.paused = True
            elif isinstance(msg, p.Resume):
                client.paused = False
                client.wakeup.set()
            elif isinstance(msg, p.SetDefaults):
                await self._reply(client, {"type": "set", "defaults": self._set_defaults(client, msg.values)})
            elif isinstance(msg, p.ListVoices):
                tag = get_locale(msg.locale).tag if msg.locale is not None else None
                voices = [{"id": v.id, "name": v.name, "gender": v.gender, "locales": list(v.locales)}
                          for v in self._voices if tag is None or tag in v.locales]
                await self._reply(client, {"type": "voices", "voices": voices})
            elif isinstance(msg, p.ListLocales):
                await self._reply(client, {"type": "locales", "locales": [
                    {"tag": loc.tag, "name": loc.display_name, "status": loc.status,
                     "default_voice": loc.default_voice} for loc in self._locales]})
            elif isinstance(msg, p.Settings):
                if msg.action == "set":
                    if msg.values.get("voice") is not None and msg.values["voice"] not in self._voice_ids:
                        raise VoiceError(f"unknown voice {msg.values['voice']!r}")
                    table = await asyncio.to_thread(self.settings.set, msg.locale, msg.values)
                else:
                    table = self.settings.table()
                await self._reply(client, {"type": "settings", "settings": table, "problem": self.settings.problem})
            elif isinstance(msg, p.Ping):
                await self._reply(client, {"type": "pong", "id": msg.id})
            elif isinstance(msg, p.Status):
                await self._reply(client, self._status())
            elif isinstance(msg, p.Shutdown):
                log.info("client %r asked the daemon to stop", client.name)
                self._stop.set()
            elif isinstance(msg, p.Hello):
                raise ProtocolError("bad_value", "hello was already received")
        except EchoicError as exc:
            uid = getattr(msg, "id", None) if isinstance(msg, (p.Speak, p.Cancel)) else None
            await self._reply(client, p.error_message(uid, error_code(exc), str(exc)))
        except Exception as exc:  # a bug must cost one reply, not the client's connection
            log.exception("message %r failed", type(msg).__name__)
            uid = getattr(msg, "id", None) if isinstance(msg, (p.Speak, p.Cancel)) else None
            await self._reply(client, p.error_message(uid, "internal", f"{type(exc).__name__}: {exc}"))

    def _status(self) -> dict:
        with self.cv:
            queued = sum(len(c.queue) for c in self.clients)
            clients = len(self.clients)
            pending = [*self._warm_queue, *([self._warming] if self._warming is not None else [])]
            pools = {
                "connections": {"used": len(self._connections), "limit": MAX_CONNECTIONS},
                "unauthenticated": {"used": self._unauthenticated, "limit": MAX_UNAUTHENTICATED},
                "queued_text_chars": {"used": sum(len(u.request.text) for c in self.clients for u in c.queue),
                                      "limit": MAX_QUEUED_CHARS},
                "rendered_ahead_bytes": {"used": 2 * sum(max(c.buffered, 0) for c in self.clients),
                                         "limit": 2 * self.render_ahead * MAX_CONNECTIONS},
                "answers_queued": {"used": sum(len(c.control) for c in self.clients),
                                   "limit": (MAX_CONTROL_BACKLOG + 1) * MAX_CONNECTIONS},
                "idle_work_items": {"used": len(pending), "limit": None},
            }
        return {"type": "status", "pid": os.getpid(), "version": __version__, "protocol": p.PROTOCOL_VERSION,
                "port": self.port, "uptime_s": round(time.monotonic() - self.started_at, 3), "clients": clients,
                "queued": queued, "rss_bytes": resident_memory_bytes(), "settings_file": str(self.settings.path),
                "settings_problem": self.settings.problem, "engine": self.engine.statistics(),
                "pools": pools, "trims": self.trims,
                "warm_up_pending": sum(1 for item in pending if isinstance(item, SpeechRequest)),
                "calibrations_pending": sum(1 for item in pending if isinstance(item, Calibration))}

    def _set_defaults(self, client: Client, values: dict) -> dict:
        values = dict(values)
        if values.get("locale") is not None:
            values["locale"] = get_locale(values["locale"]).tag
        if values.get("voice") is not None and values["voice"] not in self._voice_ids:
            raise VoiceError(f"unknown voice {values['voice']!r}; available: {', '.join(sorted(self._voice_ids))}")
        for name, value in values.items():
            if value is None:
                client.defaults.pop(name, None)
            else:
                client.defaults[name] = value
        return dict(client.defaults)

    def _request(self, client: Client, msg: p.Speak) -> tuple[SpeechRequest, str]:
        """The engine request for a speak: message, then connection defaults, then settings file, then voice."""
        locale = get_locale(msg.locale if msg.locale is not None else client.defaults.get("locale"))
        saved = self.settings.for_locale(locale.tag)

        def pick(name):
            for source in (getattr(msg, name), client.defaults.get(name), saved.get(name)):
                if source is not None:
                    return source
            return None

        voice = pick("voice") or locale.default_voice
        if voice not in self._voice_ids:
            raise VoiceError(f"unknown voice {voice!r}; available: {', '.join(sorted(self._voice_ids))}")
        request = SpeechRequest(text=msg.text, ssml=msg.ssml, locale=locale.tag, voice=voice, rate=pick("rate"),
                                pitch=pick("pitch"), volume=pick("volume"), spell=msg.spell,
                                accent_strength=saved.get("accent_strength"))
        return request, voice

    def _speak(self, client: Client, msg: p.Speak) -> None:
        if any(u.id == msg.id for u in client.queue):
            raise ProtocolError("duplicate_id", f"an utterance with id {msg.id!r} is still live")
        if len(client.queue) >= p.MAX_QUEUED_UTTERANCES:
            raise ProtocolError("queue_full", f"{p.MAX_QUEUED_UTTERANCES} utterances are already queued")
        estimate(msg.text, msg.ssml, msg.spell)  # past a limit: too_large / bad_value, before any work
        self._check_room(client, len(msg.text))
        request, voice = self._request(client, msg)
        if msg.playback == "daemon":
            self._player_or_raise().check()
        utt = Utterance(client, msg, client.next_number, request, voice)
        client.next_number = client.next_number % 0xFFFFFFFF + 1
        with self.cv:
            admission = admit([(u.priority, u.started) for u in client.queue], msg.priority)
            cancelled = [client.queue[i] for i in admission.cancel]
        for old in cancelled:
            self._cancel(old)
        client.reply(p.accepted_message(utt.id, utt.number, request.locale, voice))
        if admission.position is None:
            utt.over = True
            client.push("cancelled", utt)
            return
        if not msg.text.strip():  # the engine would answer an empty plan: `done` with 0 samples
            client.push("error", utt, TextError(f"nothing to say: the {'ssml' if msg.ssml else 'text'} is empty"))
            return
        with self.cv:
            # Nothing can have started since `admit`: only this thread removes, and the synthesis
            # thread starts only the first unstarted entry, which a cancel may have just removed.
            position = min(admission.position, len(client.queue))
            while position < len(client.queue) and client.queue[position].started:
                position += 1
            client.queue.insert(position, utt)
            self._warm_cancel.set()  # real speech first: a warm-up render in flight stops now
            self.cv.notify_all()

    def _check_room(self, client: Client, chars: int) -> None:
        with self.cv:
            mine = sum(len(u.request.text) for u in client.queue)
            everyone = sum(len(u.request.text) for c in self.clients for u in c.queue)
        if mine + chars > MAX_QUEUED_CHARS_PER_CLIENT:
            raise ProtocolError("queue_full", f"{mine} characters of this connection's text are still queued; "
                                              f"the limit is {MAX_QUEUED_CHARS_PER_CLIENT}")
        if everyone + chars > MAX_QUEUED_CHARS:
            raise ProtocolError("queue_full", f"{everyone} characters are queued by all clients; "
                                              f"the limit is {MAX_QUEUED_CHARS}")

    def _player_or_raise(self) -> Player:
        if self._player is None:
            self._player = Player(self.sample_rate)
        return self._player

    def _cancel(self, utt: Utterance) -> None:
        """Stop an utterance now: its queued audio is dropped and `done` (cancelled) goes out next."""
        if utt.over:
            return
        utt.over = True
        utt.cancel.set()
        client = utt.client
        dropped = 0
        kept = collections.deque()
        for item in client.outbox:
            if item[1] is utt and item[0] != "json":
                if item[0] == "audio":
                    dropped += item[2].samples
            else:
                kept.append(item)
        client.outbox = kept
        with self.cv:
            if utt in client.queue:
                client.queue.remove(utt)
            client.buffered -= dropped
            self.cv.notify_all()
        if utt.playback == "daemon" and self._player is not None and utt.samples_sent:
            self._player.abort()
        client.push("cancelled", utt)

    def _release(self, client: Client, samples: int) -> None:
        with self.cv:
            client.buffered -= samples
            self.cv.notify_all()

    def _finish(self, utt: Utterance) -> None:
        with self.cv:
            if utt in utt.client.queue:
                utt.client.queue.remove(utt)
            self.cv.notify_all()

    # --- sending (event loop) -------------------------------------------------------------------

    async def _sender(self, client: Client) -> None:
        try:
            await self._send_loop(client)
        finally:
            client.drained.set()  # a reply waiting for room must not wait for a closed connection

    async def _send_loop(self, client: Client) -> None:
        ws = client.ws
        while True:
            await client.wakeup.wait()
            client.wakeup.clear()
            while True:
                if client.control:
                    await ws.send(client.control.popleft())
                    client.drained.set()
                    continue
                item = client.next_item()
                if item is None:
                    break
                kind, utt, payload = item
                if kind == "json":
                    await ws.send(p.dumps(payload))
                elif kind == "audio":
                    await self._send_audio(client, utt, payload)
                elif kind == "index":
                    await ws.send(p.dumps(p.index_message(utt.id, payload.name, payload.sample_offset)))
                elif kind == "cancelled":
                    await ws.send(p.dumps(p.done_message(utt.id, utt.samples_sent, True, self._ttfa(utt))))
                elif kind == "done":
                    utt.over = True
                    self._finish(utt)
                    report = payload.plan.report
                    await ws.send(p.dumps(p.done_message(
                        utt.id, utt.samples_sent, bool(payload.cancelled), self._ttfa(utt),
                        round(payload.real_time_factor, 4),
                        [dataclasses.asdict(e) for e in report.events], list(report.notes))))
                elif kind == "error":
                    utt.over = True
                    self._finish(utt)
                    await ws.send(p.dumps(p.error_message(utt.id, error_code(payload), str(payload))))

    @staticmethod
    def _ttfa(utt: Utterance) -> float | None:
        return None if utt.first_audio is None else round((utt.first_audio - utt.received) * 1000, 2)

    async def _send_audio(self, client: Client, utt: Utterance, chunk: AudioChunk) -> None:
        try:
            if utt.over:
                return
            if utt.first_audio is None:
                utt.first_audio = time.perf_counter()
            if utt.playback == "daemon":
                async with self._player_lock:
                    try:
                        await asyncio.to_thread(self._player_or_raise().write, chunk.pcm)
                    except AudioDeviceError as exc:
                        if not utt.over:
                            self._cancel_with_error(utt, exc)
                        return
            else:
                await client.ws.send(p.audio_frame(utt.number, utt.seq, chunk.sample_offset, chunk.pcm, self.sample_rate))
            utt.seq += 1
            utt.samples_sent += chunk.samples
        finally:
            self._release(client, chunk.samples)

    def _cancel_with_error(self, utt: Utterance, exc: Exception) -> None:
        self._cancel(utt)
        client = utt.client
        client.outbox = collections.deque(i for i in client.outbox if not (i[0] == "cancelled" and i[1] is utt))
        client.push("error", utt, exc)

    def _deliver(self, utt: Utterance, event) -> None:
        """On the loop: an event from the synthesis thread."""
        client = utt.client
        if utt.over or client.closed:
            if isinstance(event, AudioChunk):
                self._release(client, event.samples)
            return
        if isinstance(event, AudioChunk):
            client.push("audio", utt, event)
        elif isinstance(event, MarkReached):
            client.push("index", utt, event)
        elif isinstance(event, Finished):
            client.push("done", utt, event)
        else:
            client.push("error", utt, event)

    # --- synthesis thread -----------------------------------------------------------------------

    def _pick(self) -> Utterance | None:
        """The next step's utterance: per client with room ahead its first unfinished one; among
        those, `scheduling.next_turn` (new before streaming, then priority, then round-robin)."""
        n = len(self.clients)
        candidates: list[tuple[int, Utterance]] = []
        for k in range(n):
            client = self.clients[(self._rr + k) % n]
            if client.closed or client.buffered >= self.render_ahead:
                continue
            utt = next((u for u in client.queue if not (u.over or u.synth_done)), None)
            if utt is not None:
                candidates.append((k, utt))
        turn = next_turn([(utt.stream is not None, utt.priority) for _, utt in candidates])
        if turn is None:
            return None
        k, utt = candidates[turn]
        self._rr = (self._rr + k + 1) % n
        return utt

    def _synthesis_loop(self) -> None:
        memory.limit_arenas()
        open_streams: set[Utterance] = set()
        while True:
            utt = warm = None
            trim_now = False
            with self.cv:
                while True:
                    if self._stopping:
                        for utt in open_streams:
                            utt.stream.close()
                        return
                    for utt in [u for u in open_streams if u.cancel.is_set()]:
                        utt.stream.close()  # the engine's generator frees its state now, not at gc
                        open_streams.discard(utt)
                    utt = self._pick()
                    if utt is not None:
                        utt.started = True
                        break
                    if self._trim_due():
                        trim_now = True
                        break
                    if self._warm_queue:
                        warm = self._warming = self._warm_queue.popleft()
                        self._warm_cancel.clear()
                        break
                    self.cv.wait()
            if trim_now:
                memory.trim()
                self.trims += 1
                continue
            if utt is None:
                self._warm_up(warm)
                continue
            event = self._step(utt, open_streams)
            if isinstance(event, AudioChunk):
                with self.cv:
                    utt.client.buffered += event.samples
            self._loop.call_soon_threadsafe(self._deliver, utt, event)

    def _trim_due(self) -> bool:
        """Idle now: give freed memory back after much text, or after any work a while ago."""
        if not self._since_trim:
            return False
        if self._since_trim < TRIM_AFTER_CHARS and time.monotonic() - self._trimmed_at < TRIM_EVERY_S:
            return False
        self._since_trim = 0
        self._trimmed_at = time.monotonic()
        return True

    def _plan_warm_up(self, request: SpeechRequest, voice: str, locale: str) -> None:
        """After a key echo, queue the rest of its locale's keys with the same voice and prosody."""
        with self.cv:  # status reads the queue from another thread
            key = (locale, voice, request.rate, request.pitch)
            if key in self._warmed:
                return
            if len(self._warmed) >= 16:  # bounded: the user's recent voices and rates
                self._warmed.clear()
            self._warmed.add(key)
            # Only the newest voice, locale and rate are worth the idle time; keys come before other idle work.
            other = [item for item in self._warm_queue if not isinstance(item, SpeechRequest)]
            self._warm_queue.clear()
            for char in key_echo_characters(locale):
                self._warm_queue.append(dataclasses.replace(request, text=char, ssml=False, spell=True, voice=voice,
                                                            locale=locale))
            self._warm_queue.extend(other)

    def _plan_calibrations(self) -> None:
        """Queue the (voice, row) calibrations the engine's long segments lacked, before any
        calibrated ahead; with `calibrate_ahead`, then the rest of those voices' rows."""
        wanted = getattr(self.engine, "wanted_calibrations", lambda: [])()
        if not wanted:
            return
        ahead = {voice: self.engine.calibration_rows(voice) for voice, _ in wanted} if self.calibrate_ahead else {}
        with self.cv:
            items = list(self._warm_queue)
            keyed = {(item.voice, item.row) for item in items if isinstance(item, Calibration) and not item.ahead}
            for voice, row in wanted:
                if (voice, row) in keyed:
                    continue
                keyed.add((voice, row))
                items = [i for i in items if not (isinstance(i, Calibration) and (i.voice, i.row) == (voice, row))]
                at = next((k for k, i in enumerate(items) if isinstance(i, Calibration) and i.ahead), len(items))
                items.insert(at, Calibration(voice, row))
            queued = {(i.voice, i.row) for i in items if isinstance(i, Calibration)}
            for voice, rows in ahead.items():
                items.extend(Calibration(voice, row, ahead=True) for row in rows if (voice, row) not in queued)
            self._warm_queue = collections.deque(items)
            self.cv.notify_all()

    def _warm_up(self, item: SpeechRequest | Calibration | Preload) -> None:
        try:
            if isinstance(item, Preload):
                self.engine.preload_streaming(self._warm_cancel)
            elif isinstance(item, Calibration):
                if self.engine.calibrate(item.voice, (item.row,), self._warm_cancel):
                    log.info("calibrated row %d of voice %s for chunked rendering", item.row, item.voice)
            else:
                for _ in self.engine.stream(item, self._warm_cancel):
                    pass
        except EchoicError as exc:
            log.info("warm-up of %r skipped: %s", item, exc)
        except Exception:  # idle work must never take the synthesis thread down
            log.exception("warm-up of %r failed", item)
        with self.cv:
            self._warming = None
            # Interrupted by real speech: later (a preload goes on loading on its own thread).
            if self._warm_cancel.is_set() and not isinstance(item, Preload):
                self._warm_queue.appendleft(item)

    def _step(self, utt: Utterance, open_streams: set):
        try:
            if utt.stream is None:
                utt.stream = iter(sliced_stream(self.engine, utt.request, utt.cancel))
                open_streams.add(utt)
            event = next(utt.stream)
        except StopIteration:
            event = RuntimeError("the engine's stream ended without Finished")
        except EchoicError as exc:
            event = exc
        except Exception as exc:  # a bug in the engine must not take the daemon down with it
            log.exception("synthesis failed for %r", utt.id)
            event = exc
        if isinstance(event, Finished):
            self._plan_calibrations()
        if isinstance(event, Finished) and not event.cancelled:
            words = event.plan.words
            if len(words) == 1 and len(words[0].text) == 1:  # key echo, however the client asked
                self._plan_warm_up(utt.request, utt.voice, event.plan.locale)
        if not isinstance(event, (AudioChunk, MarkReached)):
            utt.synth_done = True
            self._since_trim += len(utt.request.text) + 1
            if utt in open_streams:
                utt.stream.close()
                open_streams.discard(utt)
        return event
