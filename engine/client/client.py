"""A small synchronous client of the Echoic daemon, for the CLI, the benches and the tests.

    with DaemonClient.connect() as daemon:          # reads the runtime file, says hello
        result = daemon.speak("Hello <mark name='a'/> world", ssml=True)
        result.pcm, result.marks, result.done

Everything is read on the caller's thread; messages not asked for yet (another utterance's
events) wait in `backlog`. Errors are the core's (`errors.py`): an `error` reply to a request
raises RequestRefused with the protocol's code.
"""

import itertools
from dataclasses import dataclass, field

from .connection import Connection
from .discovery import read_runtime_file
from .errors import DaemonUnavailable, RequestRefused
from .wire import AudioFrame, answer_type, cancel, speak


def find_daemon(runtime_dir=None):
    """The running daemon's record, or None (no file, or a stale one)."""
    return read_runtime_file(runtime_dir)


@dataclass
class SpeechResult:
    """Everything one utterance sent back, in arrival order."""

    id: str
    accepted: "dict | None" = None
    frames: list = field(default_factory=list)
    marks: list = field(default_factory=list)
    events: list = field(default_factory=list)
    """Every message and audio frame of this utterance, as received (dicts and AudioFrames)."""
    done: "dict | None" = None
    error: "dict | None" = None
    first_audio_order: "int | None" = None
    """How many messages this client had received when this utterance's first audio frame came."""

    @property
    def pcm(self):
        return b"".join(f.pcm for f in self.frames)

    @property
    def samples(self):
        return len(self.pcm) // 2

    def add(self, message):
        """Record one of this utterance's messages; True when it ends the utterance."""
        self.events.append(message)
        if isinstance(message, AudioFrame):
            self.frames.append(message)
            return False
        kind = message["type"]
        if kind == "accepted":
            self.accepted = message
        elif kind == "index":
            self.marks.append(message)
        elif kind == "done":
            self.done = message
        elif kind == "error":
            self.error = message
        return kind in ("done", "error")


class DaemonClient:
    """One authenticated connection, read on the caller's thread."""

    def __init__(self, connection):
        self.connection = connection
        self.hello = connection.hello
        self.backlog = []
        self.received = 0
        self._ids = itertools.count(1)

    @classmethod
    def connect(cls, runtime_dir=None, *, info=None, name="echoic-client", host="127.0.0.1", timeout=10.0,
                token=None):
        info = info or find_daemon(runtime_dir)
        if info is None:
            raise DaemonUnavailable("no Echoic daemon is running ('echoic serve' starts one)")
        connection = Connection.open(info.port, info.token if token is None else token, name, host, timeout)
        return cls(connection)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.connection.close()

    # --- transport ------------------------------------------------------------------------------

    def send(self, message):
        self.connection.send(message)

    def receive(self, timeout=30.0):
        """The next message: a dict for JSON, an AudioFrame for audio."""
        message = self.connection.receive(timeout)
        self.received += 1
        return message

    def request(self, message, answer=None, timeout=30.0):
        """Send a message and wait for its answer (an `error` without an id raises RequestRefused)."""
        answer = answer or answer_type(message["type"])
        self.send(message)
        while True:
            reply = self.receive(timeout)
            if isinstance(reply, dict) and reply.get("type") == answer:
                return reply
            if isinstance(reply, dict) and reply.get("type") == "error" and reply.get("id") is None:
                raise RequestRefused(reply.get("code"), reply.get("message"))
            self.backlog.append(reply)

    # --- the protocol -----------------------------------------------------------------------------

    def ping(self):
        return self.request({"type": "ping", "id": f"ping-{next(self._ids)}"})

    def status(self):
        return self.request({"type": "status"})

    def voices(self, locale=None):
        return self.request({"type": "voices", "locale": locale})["voices"]

    def locales(self):
        return self.request({"type": "locales"})["locales"]

    def settings(self):
        return self.request({"type": "settings", "action": "get"})["settings"]

    def set_settings(self, locale, values):
        return self.request({"type": "settings", "action": "set", "locale": locale, "values": values})["settings"]

    def set_defaults(self, **values):
        return self.request({"type": "set", **values})["defaults"]

    def shutdown(self):
        self.send({"type": "shutdown"})

    def start_speaking(self, text, *, id=None, ssml=False, **fields):
        """Send a `speak` (fields: locale, voice, rate, pitch, volume, spell, priority, playback); returns its id."""
        uid = id or f"u{next(self._ids)}"
        self.send(speak(uid, text, ssml, **fields))
        return uid

    def cancel(self, id=None):
        self.send(cancel(id))

    def collect(self, ids, timeout=60.0):
        """Receive until every utterance in `ids` has its `done` or `error`."""
        results = {uid: SpeechResult(uid) for uid in ids}
        by_number = {}
        pending = set(ids)
        kept, self.backlog = self.backlog, []
        while pending:
            message = kept.pop(0) if kept else self.receive(timeout)
            if isinstance(message, AudioFrame):
                result = by_number.get(message.utterance)
                if result is not None and result.first_audio_order is None:
                    result.first_audio_order = self.received
            else:
                uid = message.get("id")
                result = results.get(uid) if isinstance(uid, str) and message.get("type") in (
                    "accepted", "index", "done", "error") else None
                if result is not None and message["type"] == "accepted":
                    by_number[message["utterance"]] = result
            if result is None:
                self.backlog.append(message)
            elif result.add(message):
                pending.discard(result.id)
        self.backlog.extend(kept)
        return results

    def speak(self, text, *, timeout=60.0, **fields):
        uid = self.start_speaking(text, **fields)
        return self.collect([uid], timeout)[uid]
