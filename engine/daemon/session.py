"""One client's state on the event loop: its utterances, its two outgoing lanes, its defaults.

`control` holds answers to the client's messages (accepted, pong, errors...) in message order and
is sent first, never held by a pause; `outbox` holds the utterances' stream (audio, index, done,
error) in order, audio and marks held while paused. No I/O here: server.py's sender drains them.
"""

from __future__ import annotations

import asyncio
import collections
import time

from ..api import Cancellation, SpeechRequest
from . import protocol as p


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
        self.attempt = None
        """The cancel flag of the engine stream running now, when it may be preempted (preemption.py)."""
        self.preemptions = 0
        """Preemptions since this utterance last handed out audio."""
        # event loop
        self.over = False
        """done/error is queued for the client: nothing more of this utterance is sent."""
        self.seq = 0
        self.samples_sent = 0
        self.first_audio: float | None = None

    def time_to_first_audio_ms(self) -> float | None:
        return None if self.first_audio is None else round((self.first_audio - self.received) * 1000, 2)


class Client:
    def __init__(self, ws, name: str):
        self.ws, self.name = ws, name
        self.queue: list[Utterance] = []
        """Live utterances in speaking order (guarded by the server's condition)."""
        self.buffered = 0
        """Samples synthesised but not yet sent (guarded by the server's condition)."""
        self.outbox: collections.deque = collections.deque()
        """The utterances' stream, in order: (kind, utterance, payload); held back while paused."""
        self.control: collections.deque[str] = collections.deque()
        """Answers to messages, in the order the messages came; sent before the stream."""
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

    def drop_stream_of(self, utt: Utterance) -> int:
        """Remove everything of `utt` still queued; returns the audio samples dropped."""
        dropped = 0
        kept = collections.deque()
        for item in self.outbox:
            if item[1] is utt:
                if item[0] == "audio":
                    dropped += item[2].samples
            else:
                kept.append(item)
        self.outbox = kept
        return dropped

    def number_utterance(self) -> int:
        number = self.next_number
        self.next_number = self.next_number % 0xFFFFFFFF + 1
        return number
