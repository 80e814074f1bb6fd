"""The daemon: a WebSocket server on loopback around one shared engine.

Threads: the asyncio event loop owns every socket and every client's outgoing lanes (session.py);
one synthesis thread (synthesis.py) owns the engine and takes one step at a time from the streams
of all clients, so a long utterance of one client never starves another and inference never runs
on the event loop. This module is the I/O and the dispatch: who may connect, what each message
does to a client's queue (the policies are scheduling.py, cost.py and limits.py), and sending.

Size: about 410 lines, the I/O and dispatch of 13 message types; the policies are in their own
modules (scheduling.py, cost.py, limits.py, idle.py, precedence.py).
"""

from __future__ import annotations

import asyncio
import hmac
import http
import logging
import os
import secrets
import threading
import time
from pathlib import Path

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from .. import __version__
from ..api import AudioChunk, Finished, MarkReached
from ..errors import EchoicError, ProtocolError, TextError, VoiceError
from ..locales import get_locale
from . import idle, limits, sending
from . import protocol as p
from .cost import estimate
from .interface import SpeechEngine
from .limits import HELLO_TIMEOUT_S
from .listening import bind_loopback, install_stop_signals, remove_stop_signals
from .memory import resident_memory_bytes
from .playback import Player
from .precedence import speech_request, with_defaults
from .runtime_file import DaemonLock, RuntimeInfo, default_runtime_dir, remove_runtime_file, write_runtime_file
from .scheduling import admit
from .session import Client, Utterance
from .settings import SettingsStore
from .synthesis import Synthesis

__all__ = ["Server", "resident_memory_bytes", "error_code"]  # engine/bench.py imports resident_memory_bytes

log = logging.getLogger("echoic.daemon")
error_code = p.error_code


class Server:
    """`await Server(engine, ...).run(stop)`: serve until `stop` is set (or SIGTERM / SIGINT)."""

    def __init__(self, engine: SpeechEngine, *, port: int = p.DEFAULT_PORT, runtime_dir: Path | None = None,
                 settings: SettingsStore | None = None, allow_origins: tuple[str, ...] = (),
                 render_ahead_s: float = 3.0, hello_timeout_s: float = HELLO_TIMEOUT_S,
                 calibrate_ahead: bool = True):
        if not isinstance(engine, SpeechEngine):
            raise TypeError(f"{type(engine).__name__} does not provide the daemon's engine interface "
                            "(engine/daemon/interface.py)")
        self.engine = engine
        self.requested_port = port
        self.port: int | None = None
        self.runtime_dir = runtime_dir or default_runtime_dir()
        self.settings = settings or SettingsStore()
        self.allow_origins = tuple(allow_origins)
        self.sample_rate = int(engine.sample_rate)
        self.render_ahead = int(render_ahead_s * self.sample_rate)
        self.hello_timeout_s = hello_timeout_s
        self.token = secrets.token_hex(32)
        self.cv = threading.Condition()
        self.clients: list[Client] = []
        self.started_at = time.monotonic()
        self._locales = list(engine.locales())
        self._player: Player | None = None
        self.player_lock = asyncio.Lock()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connections: set = set()
        self._unauthenticated = 0
        self.synthesis = Synthesis(engine, self.cv, self.clients, self.render_ahead, self._from_synthesis,
                                   calibrate_ahead)

    @property
    def _voice_ids(self) -> set[str]:
        """The voices as they are now: the engine notices user voices added or removed since start."""
        return {v.id for v in self.engine.voices()}

    @property
    def trims(self) -> int:
        return self.synthesis.trims

    # --- lifetime -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None, ready=None) -> None:
        """Serve until `stop` is set or SIGTERM/SIGINT arrives. `ready(server)` is called once listening."""
        self._loop = asyncio.get_running_loop()
        self._stop = stop or asyncio.Event()
        lock = DaemonLock(self.runtime_dir)
        lock.acquire()
        try:
            sockets = bind_loopback(self.requested_port)
            self.port = sockets[0].getsockname()[1]
            servers = [await serve(self._handle, sock=s, max_size=limits.HELLO_MAX_BYTES,
                                   max_queue=limits.INCOMING_FRAMES, process_request=self._check_request,
                                   server_header=None, open_timeout=self.hello_timeout_s)
                       for s in sockets]
            thread = threading.Thread(target=self.synthesis.run, name="echoic-synthesis", daemon=True)
            thread.start()
            installed = install_stop_signals(self._loop, self._stop, self.request_stop)
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
                    self.synthesis.stopping = True
                    self.synthesis.interrupt_idle()  # a model call in flight stops too (clients' are cancelled)
                    self.cv.notify_all()
                await asyncio.to_thread(thread.join, 5.0)
                if self._player is not None:
                    self._player.abort()
                remove_stop_signals(self._loop, installed)
        finally:
            lock.release()

    def request_stop(self) -> None:
        """Thread-safe."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    # --- who may connect ----------------------------------------------------------------------

    def _check_request(self, connection, request):
        """Before the WebSocket exists: refuse web pages, and more connections than we serve."""
        origins = request.headers.get_all("Origin")  # .get raises on a repeated header: HTTP 500
        if origins and (len(origins) > 1 or origins[0] not in self.allow_origins):
            log.warning("refused a connection with Origin %r", origins[:2])
            return connection.respond(http.HTTPStatus.FORBIDDEN, "Echoic refuses connections from web pages\n")
        if len(self._connections) >= limits.MAX_CONNECTIONS or self._unauthenticated >= limits.MAX_UNAUTHENTICATED:
            log.warning("refused a connection: %d open, %d without hello", len(self._connections),
                        self._unauthenticated)
            return connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "Echoic has too many connections\n")
        return None

    async def _handle(self, ws) -> None:
        self._connections.add(ws)
        self._unauthenticated += 1
        hello = None
        try:
            hello = await self._authenticate(ws)
        finally:
            self._unauthenticated -= 1
        try:
            if hello is not None:
                await self._serve_client(ws, hello)
        finally:
            self._connections.discard(ws)

    async def _authenticate(self, ws) -> p.Hello | None:
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
        # Frames up to MAX_MESSAGE_BYTES from now on (websockets >= 14 names it max_message_size, 13 max_size).
        limit = "max_message_size" if hasattr(ws.protocol, "max_message_size") else "max_size"
        setattr(ws.protocol, limit, p.MAX_MESSAGE_BYTES)
        return hello

    # --- one client ---------------------------------------------------------------------------

    async def _serve_client(self, ws, hello: p.Hello) -> None:
        client = Client(ws, hello.client[:64])
        await ws.send(p.dumps(p.hello_message(__version__)))
        with self.cv:
            self.clients.append(client)
        sender = asyncio.create_task(sending.sender(self, client))
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
        while len(client.control) > limits.MAX_CONTROL_BACKLOG and not client.closed:
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
            answer = await self._answer(client, msg)
            if answer is not None:
                await self._reply(client, answer)
        except EchoicError as exc:
            uid = getattr(msg, "id", None) if isinstance(msg, (p.Speak, p.Cancel)) else None
            await self._reply(client, p.error_message(uid, p.error_code(exc), str(exc)))
        except Exception as exc:  # a bug must cost one reply, not the client's connection
            log.exception("message %r failed", type(msg).__name__)
            uid = getattr(msg, "id", None) if isinstance(msg, (p.Speak, p.Cancel)) else None
            await self._reply(client, p.error_message(uid, "internal", f"{type(exc).__name__}: {exc}"))

    async def _answer(self, client: Client, msg) -> dict | None:
        """Do what one message asks; its answer (None: answered in the stream, or not at all)."""
        if isinstance(msg, p.Speak):
            self._speak(client, msg)
        elif isinstance(msg, p.Cancel):
            for utt in [u for u in list(client.queue) if msg.id is None or u.id == msg.id]:
                self.cancel(utt)
            if msg.id is None:  # cancelling everything also ends a pause (as in speech-dispatcher)
                client.paused = False
                client.wakeup.set()
        elif isinstance(msg, (p.Pause, p.Resume)):
            client.paused = isinstance(msg, p.Pause)
            client.wakeup.set()
        elif isinstance(msg, p.SetDefaults):
            client.defaults = with_defaults(client.defaults, msg.values, self._voice_ids)
            return p.defaults_message(client.defaults)
        elif isinstance(msg, p.ListVoices):
            return p.voices_message(self.engine.voices(), get_locale(msg.locale).tag if msg.locale is not None else None)
        elif isinstance(msg, p.ListLocales):
            return p.locales_message(self._locales)
        elif isinstance(msg, p.Settings):
            if msg.action == "set":
                if msg.values.get("voice") is not None and msg.values["voice"] not in self._voice_ids:
                    raise VoiceError(f"unknown voice {msg.values['voice']!r}")
                table = await asyncio.to_thread(self.settings.set, msg.locale, msg.values)
            else:
                table = self.settings.table()
            return p.settings_message(table, self.settings.problem)
        elif isinstance(msg, p.Ping):
            return p.pong_message(msg.id)
        elif isinstance(msg, p.Status):
            return self._status()
        elif isinstance(msg, p.Shutdown):
            log.info("client %r asked the daemon to stop", client.name)
            self._stop.set()
        elif isinstance(msg, p.Hello):
            raise ProtocolError("bad_value", "hello was already received")
        return None

    def _status(self) -> dict:
        with self.cv:
            queued = sum(len(c.queue) for c in self.clients)
            clients = len(self.clients)
            pending = idle.pending(self.synthesis.pending())
            pools = {
                "connections": {"used": len(self._connections), "limit": limits.MAX_CONNECTIONS},
                "unauthenticated": {"used": self._unauthenticated, "limit": limits.MAX_UNAUTHENTICATED},
                "queued_text_chars": {"used": sum(len(u.request.text) for c in self.clients for u in c.queue),
                                      "limit": limits.MAX_QUEUED_CHARS},
                "rendered_ahead_bytes": {"used": 2 * sum(max(c.buffered, 0) for c in self.clients),
                                         "limit": 2 * self.render_ahead * limits.MAX_CONNECTIONS},
                "answers_queued": {"used": sum(len(c.control) for c in self.clients),
                                   "limit": (limits.MAX_CONTROL_BACKLOG + 1) * limits.MAX_CONNECTIONS},
                "idle_work_items": {"used": len(self.synthesis.pending()), "limit": None},
            }
        return {"type": "status", "pid": os.getpid(), "version": __version__, "protocol": p.PROTOCOL_VERSION,
                "port": self.port, "uptime_s": round(time.monotonic() - self.started_at, 3), "clients": clients,
                "queued": queued, "rss_bytes": resident_memory_bytes(), "settings_file": str(self.settings.path),
                "settings_problem": self.settings.problem, "engine": self.engine.statistics(),
                "pools": pools, "trims": self.synthesis.trims,
                "preemptions": self.synthesis.preemptions, **pending}

    # --- the queue of one client (event loop) ---------------------------------------------------

    def _speak(self, client: Client, msg: p.Speak) -> None:
        if any(u.id == msg.id for u in client.queue):
            raise ProtocolError("duplicate_id", f"an utterance with id {msg.id!r} is still live")
        if len(client.queue) >= p.MAX_QUEUED_UTTERANCES:
            raise ProtocolError("queue_full", f"{p.MAX_QUEUED_UTTERANCES} utterances are already queued")
        estimate(msg.text, msg.ssml, msg.spell)  # past a limit: too_large / bad_value, before any work
        self._check_room(client, len(msg.text))
        request, voice = speech_request(msg, client.defaults, self.settings.for_locale, self._voice_ids)
        if msg.playback == "daemon":
            self.player().check()
        utt = Utterance(client, msg, client.number_utterance(), request, voice)
        with self.cv:
            admission = admit([(u.priority, u.started) for u in client.queue], msg.priority)
            cancelled = [client.queue[i] for i in admission.cancel]
        for old in cancelled:
            self.cancel(old)
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
            self.synthesis.interrupt_idle()
            self.synthesis.preempt_for(utt)
            self.cv.notify_all()

    def _check_room(self, client: Client, chars: int) -> None:
        with self.cv:
            mine = sum(len(u.request.text) for u in client.queue)
            everyone = sum(len(u.request.text) for c in self.clients for u in c.queue)
        if mine + chars > limits.MAX_QUEUED_CHARS_PER_CLIENT:
            raise ProtocolError("queue_full", f"{mine} characters of this connection's text are still queued; "
                                              f"the limit is {limits.MAX_QUEUED_CHARS_PER_CLIENT}")
        if everyone + chars > limits.MAX_QUEUED_CHARS:
            raise ProtocolError("queue_full", f"{everyone} characters are queued by all clients; "
                                              f"the limit is {limits.MAX_QUEUED_CHARS}")

    def player(self) -> Player:
        if self._player is None:
            self._player = Player(self.sample_rate)
        return self._player

    def cancel(self, utt: Utterance) -> None:
        """Stop an utterance now: its queued audio is dropped and `done` (cancelled) goes out next."""
        if utt.over:
            return
        utt.over = True
        utt.cancel.set()
        client = utt.client
        dropped = client.drop_stream_of(utt)
        with self.cv:
            if utt in client.queue:
                client.queue.remove(utt)
            client.buffered -= dropped
            self.cv.notify_all()
        if utt.playback == "daemon" and self._player is not None and utt.samples_sent:
            self._player.abort()
        client.push("cancelled", utt)

    def release(self, client: Client, samples: int) -> None:
        with self.cv:
            client.buffered -= samples
            self.cv.notify_all()

    def finish(self, utt: Utterance) -> None:
        utt.over = True
        with self.cv:
            if utt in utt.client.queue:
                utt.client.queue.remove(utt)
            self.cv.notify_all()

    # --- sending (event loop) -------------------------------------------------------------------

    def _from_synthesis(self, utt: Utterance, event) -> None:
        """On the synthesis thread: hand an event to the event loop."""
        self._loop.call_soon_threadsafe(self._deliver, utt, event)

    def _deliver(self, utt: Utterance, event) -> None:
        """On the loop: an event from the synthesis thread."""
        client = utt.client
        if utt.over or client.closed:
            if isinstance(event, AudioChunk):
                self.release(client, event.samples)
            return
        if isinstance(event, AudioChunk):
            client.push("audio", utt, event)
        elif isinstance(event, MarkReached):
            client.push("index", utt, event)
        else:
            client.push("done" if isinstance(event, Finished) else "error", utt, event)
