"""The synthesis thread: the only thread that calls the engine.

It takes one step at a time (one event from one utterance's stream): whose turn it is comes from
`scheduling.next_turn` over the clients with room ahead (at most `render_ahead` samples not yet
sent per client, so a paused or slow client simply stops its own synthesis). A step of a long
utterance can be preempted for another client's new one (`preempt_for`, preemption.py): its
model call stops, the newcomer goes next, and the long one goes on later. When no client is
waiting it gives memory back (`memory.trim`) or does idle work (`idle.py`), which real speech
interrupts. Events go to the event loop through `deliver`.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from ..api import AudioChunk, Cancellation, Finished, MarkReached
from ..errors import EchoicError
from ..locales import frequent_words, key_echo_characters
from . import idle, limits, memory
from .interface import SpeechEngine
from .preemption import MAX_PREEMPTIONS, PREEMPTED
from .scheduling import RANK, next_turn
from .session import Client, Utterance
from .slicing import sliced_stream

log = logging.getLogger("echoic.daemon")


class Synthesis:
    def __init__(self, engine: SpeechEngine, cv, clients: list[Client], render_ahead: int,
                 deliver: Callable[[Utterance, object], None], calibrate_ahead: bool = True):
        self.engine, self.cv, self.clients = engine, cv, clients
        self.render_ahead, self.deliver, self.calibrate_ahead = render_ahead, deliver, calibrate_ahead
        self.stopping = False
        """Set under `cv` to end the thread."""
        self.idle: list[idle.IdleWork] = [idle.Preload()]
        self.warming: idle.IdleWork | None = None
        self._dropped: idle.IdleWork | None = None
        self.warm_cancel = Cancellation()
        self._warmed: set[tuple] = set()
        self._rr = 0
        self._since_trim = 0
        self._trimmed_at = time.monotonic()
        self.trims = 0
        self.current: Utterance | None = None
        """The utterance whose step is running (under cv)."""
        self.preemptions = 0
        """Model calls stopped so that another client's utterance could start (`preempt_for`)."""
        self.preempt = True
        """Off: every step runs to its end, as before preemption (for `echoic bench fairness`)."""

    # --- called by the event loop, under cv -----------------------------------------------------

    def interrupt_idle(self) -> None:
        """Real speech first: an idle render in flight stops now (and is done again later)."""
        self.warm_cancel.set()

    def drop_idle(self) -> None:
        """Forget every idle item, the one in flight too: it stops now and is not queued again
        (benchmarks, so that nothing idle runs while they time other engines)."""
        self.idle.clear()
        if self.warming is not None:
            self._dropped = self.warming
            self.warm_cancel.set()

    def preempt_for(self, newcomer: Utterance) -> bool:
        """A new utterance was queued: if it is its client's next and the step running belongs to
        another client's utterance long enough to be preempted (`preemption.preemptible`), of no
        higher priority, stop that step's model call (preemption.py); the newcomer's first step
        comes next. True if a call was stopped."""
        current = self.current
        if not self.preempt or current is None or current.client is newcomer.client or current.cancel.is_set():
            return False
        attempt = getattr(current, "attempt", None)
        if attempt is None or current.preemptions >= MAX_PREEMPTIONS:
            return False
        if RANK.get(newcomer.priority, 2) > RANK.get(current.priority, 2):
            return False
        client = newcomer.client
        first = next((u for u in client.queue if not (u.over or u.synth_done)), None)
        if first is not newcomer or client.buffered >= self.render_ahead:
            return False
        if not attempt.preempt():
            return False
        current.preemptions += 1
        self.preemptions += 1
        return True

    def pending(self) -> list[idle.IdleWork]:
        return [*self.idle, *([self.warming] if self.warming is not None else [])]

    # --- the thread -----------------------------------------------------------------------------

    def run(self) -> None:
        memory.limit_arenas()
        open_streams: set[Utterance] = set()
        while True:
            utt = work = None
            trim_now = False
            with self.cv:
                while True:
                    if self.stopping:
                        for utt in open_streams:
                            utt.stream.close()
                        return
                    for utt in [u for u in open_streams if u.cancel.is_set()]:
                        utt.stream.close()  # the engine's generator frees its state now, not at gc
                        open_streams.discard(utt)
                    utt = self._pick()
                    if utt is not None:
                        utt.started = True
                        self.current = utt
                        break
                    if self._trim_due():
                        trim_now = True
                        break
                    if self.idle:
                        work = self.warming = self.idle.pop(0)
                        self.warm_cancel.clear()
                        break
                    self.cv.wait()
            if trim_now:
                memory.trim()
                self.trims += 1
            elif utt is None:
                self._idle_work(work)
            else:
                event = self._step(utt, open_streams)
                with self.cv:
                    self.current = None
                    if isinstance(event, AudioChunk):
                        utt.client.buffered += event.samples
                        utt.preemptions = 0
                if event is not PREEMPTED:  # preempted: nothing to send, the utterance goes on later
                    self.deliver(utt, event)

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

    def _trim_due(self) -> bool:
        """Idle now: give freed memory back after much text, or after any work a while ago."""
        if not self._since_trim:
            return False
        if self._since_trim < limits.TRIM_AFTER_CHARS and time.monotonic() - self._trimmed_at < limits.TRIM_EVERY_S:
            return False
        self._since_trim = 0
        self._trimmed_at = time.monotonic()
        return True

    def _step(self, utt: Utterance, open_streams: set):
        try:
            if utt.stream is None:
                utt.stream = iter(sliced_stream(self.engine, utt.request, utt.cancel,
                                                on_attempt=lambda attempt: setattr(utt, "attempt", attempt)))
                open_streams.add(utt)
            event = next(utt.stream)
        except StopIteration:
            event = RuntimeError("the engine's stream ended without Finished")
        except EchoicError as exc:
            event = exc
        except Exception as exc:  # a bug in the engine must not take the daemon down with it
            log.exception("synthesis failed for %r", utt.id)
            event = exc
        if event is PREEMPTED:
            return event
        if isinstance(event, Finished):
            self._plan_calibrations()
            if not event.cancelled and idle.is_key_echo(event.plan.words):
                self._plan_key_echo(utt, event.plan.locale)
            elif len(event.plan.words) > 1:  # also when cancelled: moving by word cancels the line
                self._plan_words_ahead(utt, event.plan)
        if not isinstance(event, (AudioChunk, MarkReached)):
            utt.synth_done = True
            self._since_trim += len(utt.request.text) + 1
            if utt in open_streams:
                utt.stream.close()
                open_streams.discard(utt)
        return event

    # --- idle work ------------------------------------------------------------------------------

    def _plan_key_echo(self, utt: Utterance, locale: str) -> None:
        key = idle.key_echo_key(utt.request, utt.voice, locale)
        with self.cv:  # status reads the queue from another thread
            if key in self._warmed:
                return
            if len(self._warmed) >= limits.KEY_ECHO_VOICES:  # bounded: the user's recent voices and rates
                self._warmed.clear()
            self._warmed.add(key)
            self.idle = idle.plan_key_echo(self.idle, utt.request, utt.voice, locale,
                                           list(key_echo_characters(locale)), frequent_words(locale))

    def _plan_words_ahead(self, utt: Utterance, plan) -> None:
        if limits.WORDS_AHEAD <= 0:
            return
        text = None if utt.request.ssml else utt.request.text
        words = idle.words_ahead([w.text for w in plan.words], text, limits.WORDS_AHEAD)
        with self.cv:
            self.idle = idle.plan_words_ahead(self.idle, utt.request, utt.voice, plan.locale, words)

    def _plan_calibrations(self) -> None:
        wanted = self.engine.wanted_calibrations()
        if not wanted:
            return
        ahead = {voice: self.engine.calibration_rows(voice) for voice, _ in wanted} if self.calibrate_ahead else {}
        with self.cv:
            self.idle = idle.plan_calibrations(self.idle, wanted, ahead)
            self.cv.notify_all()

    def _idle_work(self, item: idle.IdleWork) -> None:
        try:
            if isinstance(item, idle.Preload):
                self.engine.preload_streaming(self.warm_cancel)
            elif isinstance(item, idle.Calibration):
                if self.engine.calibrate(item.voice, (item.row,), self.warm_cancel):
                    log.info("calibrated row %d of voice %s for chunked rendering", item.row, item.voice)
            else:
                request = item.request if isinstance(item, idle.WordAhead) else item
                for _ in self.engine.stream(request, self.warm_cancel):
                    pass
        except EchoicError as exc:
            log.info("warm-up of %r skipped: %s", item, exc)
        except Exception:  # idle work must never take the synthesis thread down
            log.exception("warm-up of %r failed", item)
        with self.cv:
            self.warming = None
            dropped, self._dropped = self._dropped is item, None
            # Interrupted by real speech: later (a preload goes on loading on its own thread).
            if self.warm_cancel.is_set() and not isinstance(item, idle.Preload) and not dropped:
                self.idle.insert(0, item)
