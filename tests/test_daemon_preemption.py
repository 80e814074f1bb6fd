"""Preemption (#15 fairness): another client's new utterance stops a say-all's model call in flight,
is served first, and the say-all goes on after its last word handed out: every word exactly once.

The engine here renders one sentence per "model call" and the call waits until it is stopped
(through `Cancellation.hooked`, as onnxruntime's terminate) or released by the test, so the
assertions are on the order of events and on sample counts, never on elapsed time."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from engine.api import AudioChunk, Cancellation, Finished, SpeechRequest
from engine.client import DaemonClient
from engine.daemon.preemption import MAX_PREEMPTIONS, PREEMPTED, Attempt, preemptible, resume_offset
from engine.daemon.slicing import sliced_stream
from engine.plan import Plan, PlannedWord, Segment
from tests.conftest_daemon import SAMPLE_RATE, WORD_SAMPLES, FakeEngine, running_daemon

SENTENCE = "The long book goes on and on."  # 7 words
SAY_ALL = " ".join(f"{SENTENCE} Line {k} ends here." for k in range(12))


class SentenceEngine(FakeEngine):
    """One segment per sentence; each segment's model call blocks until `release` lets one call
    finish or the stream's cancel stops it. `log` records (request number, event) in order."""

    def __init__(self, free: set[str] = frozenset()):
        super().__init__(delay=0)
        self.log: list[tuple[int, str]] = []
        self.calls = threading.Semaphore(0)
        self.in_call = threading.Event()
        self.free = free
        """Texts whose calls do not wait (the other client's short speech)."""

    def _run(self, request, tag, voice, cancel):
        number = len(self.requests) - 1
        plan = Plan(locale=tag, voice=voice, rate=1.0, sample_rate=SAMPLE_RATE)
        sentences = [s for s in request.text.replace(". ", ".\n").split("\n") if s.strip()]
        for sentence in sentences:
            words = sentence.split()
            stop = threading.Event()
            self.log.append((number, f"call {words[0]}"))
            hooked = cancel.hooked(stop.set) if isinstance(cancel, Cancellation) else None
            if hooked is not None:
                hooked.__enter__()
            try:
                self.in_call.set()
                if request.text not in self.free:
                    while not stop.is_set() and not self.calls.acquire(timeout=0.01):
                        pass
            finally:
                self.in_call.clear()
                if hooked is not None:
                    hooked.__exit__(None, None, None)
            if cancel.is_set():
                self.log.append((number, "stopped"))
                plan.samples = sum(s.samples for s in plan.segments)
                yield Finished(plan, 0.0, 0.0, cancelled=True)
                return
            start = sum(s.samples for s in plan.segments)
            planned = [PlannedWord(w, w, "", 0, 0, start + i * WORD_SAMPLES, start + (i + 1) * WORD_SAMPLES)
                       for i, w in enumerate(words)]
            plan.segments.append(Segment(tag, voice, 1.0, 1.0, 1.0, "", [], [], 600.0, start,
                                         start + len(words) * WORD_SAMPLES, planned))
            self.log.append((number, f"audio {words[0]}"))
            pcm = np.full(len(words) * WORD_SAMPLES, number + 1, dtype="<i2").tobytes()
            yield AudioChunk(pcm, start)
        plan.samples = sum(s.samples for s in plan.segments)
        yield Finished(plan, 0.001, 0.1)


# --- the parts ----------------------------------------------------------------------------------

def test_resume_offset_is_after_the_last_word_and_never_past_it():
    text = "One two. Three, four five."
    assert resume_offset(text, ["One", "two."]) == len("One two.")
    assert text[resume_offset(text, ["One", "two.", "Three,"]):] == " four five."
    assert resume_offset(text, []) == 0
    assert resume_offset(text, ["One", "zebra"]) is None


def test_only_requests_long_enough_to_matter_are_preemptible():
    assert preemptible(SpeechRequest(SAY_ALL))
    assert preemptible(SpeechRequest("a" * 1000))
    assert not preemptible(SpeechRequest("Short."))


def test_an_attempt_stops_only_a_model_call_and_follows_the_utterance_cancel():
    cancel = Cancellation()
    attempt = Attempt(cancel)
    assert not attempt.preempt() and not attempt.is_set()  # no call in flight: nothing to stop
    stopped = threading.Event()
    with attempt.hooked(stopped.set):
        assert attempt.preempt() and stopped.is_set() and attempt.preempted
    other = Attempt(cancel)
    cancel.set()  # the utterance's cancel reaches the engine stream running now
    assert other.is_set() and not other.preempted
    attempt.close()
    other.close()


def next_while_preempted(engine, stream, attempts: list[Attempt]):
    """The stream's next event, while another thread preempts the model call it is in."""
    stopper = threading.Thread(target=lambda: (engine.in_call.wait(5), attempts[-1].preempt()))
    stopper.start()
    event = next(stream)
    stopper.join()
    return event


def test_a_preempted_stream_goes_on_after_its_last_word_with_every_word_once():
    engine = SentenceEngine()
    attempts: list[Attempt] = []
    request = SpeechRequest(SAY_ALL, locale="en-US")
    stream = sliced_stream(engine, request, Cancellation(), on_attempt=attempts.append)
    events = []
    for k in range(3):  # three sentences rendered, then a preemption in the fourth call
        engine.calls.release()
        events.append(next(stream))
    events.append(next_while_preempted(engine, stream, attempts))
    assert events[-1] is PREEMPTED and engine.log[-1] == (0, "stopped")
    for _ in range(200):
        engine.calls.release()
    events += list(stream)
    audio = [e for e in events if isinstance(e, AudioChunk)]
    words = len(SAY_ALL.split())
    assert sum(a.samples for a in audio) == words * WORD_SAMPLES  # nothing lost, nothing twice
    assert all(b.sample_offset == a.sample_offset + a.samples for a, b in zip(audio, audio[1:]))
    assert engine.requests[1].text.lstrip().startswith("Line 1 ends here.")  # after the third sentence
    finished = events[-1]
    assert isinstance(finished, Finished) and not finished.cancelled
    assert finished.plan.samples == words * WORD_SAMPLES
    assert [w.text for w in finished.plan.words] == SAY_ALL.split()


def test_words_not_found_again_render_the_slice_again_and_drop_what_was_sent(monkeypatch):
    import engine.daemon.slicing as slicing

    monkeypatch.setattr(slicing, "resume_offset", lambda text, words: None)
    engine = SentenceEngine()
    attempts: list[Attempt] = []
    stream = sliced_stream(engine, SpeechRequest(SAY_ALL, locale="en-US"), Cancellation(), on_attempt=attempts.append)
    engine.calls.release()
    events = [next(stream)]
    events.append(next_while_preempted(engine, stream, attempts))
    for _ in range(200):
        engine.calls.release()
    events += list(stream)
    audio = [e for e in events if isinstance(e, AudioChunk)]
    assert sum(a.samples for a in audio) == len(SAY_ALL.split()) * WORD_SAMPLES
    assert engine.requests[1].text == SAY_ALL  # again from the start; its first sentence is dropped
    assert events[-1].plan.samples == len(SAY_ALL.split()) * WORD_SAMPLES


# --- through the daemon -------------------------------------------------------------------------

def _say_all_and_speak(tmp_path, priority: str = "text", same_client: bool = False):
    """A speaks SAY_ALL; while A's second call is in flight B (or A again) speaks a short text.
    Returns (engine log, B's result, A's result, status preemptions)."""
    short = "short one"
    engine = SentenceEngine(free={short})
    with running_daemon(engine, tmp_path / "rt") as server:
        with DaemonClient.connect(server.runtime_dir, name="a") as a, \
                DaemonClient.connect(server.runtime_dir, name="b") as b:
            ua = a.start_speaking(SAY_ALL)
            engine.calls.release()  # A's first sentence
            while sum(1 for n, e in engine.log if e.startswith("call")) < 2:
                engine.in_call.wait(0.01)
            engine.in_call.wait(5)
            other = a if same_client else b
            ub = other.start_speaking(short, priority=priority)
            released = threading.Event()

            def release():
                if not same_client and priority == "text":  # A's call is stopped: B is served without it
                    while (1, "audio short") not in engine.log and not released.wait(0.005):
                        pass
                while not released.is_set():
                    engine.calls.release()
                    released.wait(0.005)

            threading.Thread(target=release, daemon=True).start()
            results = other.collect([ua, ub]) if same_client else {**a.collect([ua]), **{"b": b.collect([ub])[ub]}}
            released.set()
            preemptions = b.status()["preemptions"]
    return engine.log, results["b" if not same_client else ub], results[ua], preemptions


def test_another_clients_speak_stops_the_say_all_call_and_goes_first(tmp_path):
    log, rb, ra, preemptions = _say_all_and_speak(tmp_path)
    # A's second call was stopped, B's call came next, then A went on (request 2: the rest).
    assert log[:6] == [(0, "call The"), (0, "audio The"), (0, "call Line"), (0, "stopped"),
                       (1, "call short"), (1, "audio short")], log
    assert preemptions == 1
    assert rb.samples == 2 * WORD_SAMPLES
    assert ra.samples == len(SAY_ALL.split()) * WORD_SAMPLES  # every word of A exactly once
    assert ra.error is None


@pytest.mark.parametrize("priority, same_client", [("notification", False), ("important", True)])
def test_a_lower_priority_or_the_same_client_does_not_preempt(tmp_path, priority, same_client):
    log, rb, ra, preemptions = _say_all_and_speak(tmp_path, priority, same_client)
    assert preemptions == 0
    assert (0, "stopped") not in log
    assert ra.samples == len(SAY_ALL.split()) * WORD_SAMPLES


def test_preemptions_in_a_row_are_bounded():
    """A flood of newcomers cannot starve the say-all: after MAX_PREEMPTIONS without audio handed
    out in between, its call runs to the end."""
    from types import SimpleNamespace

    from engine.daemon.synthesis import Synthesis

    synthesis = Synthesis(FakeEngine(), threading.Condition(), [], render_ahead=72000, deliver=lambda u, e: None)
    say_all = SimpleNamespace(client=object(), cancel=Cancellation(), priority="text", preemptions=0)
    say_all.attempt = Attempt(say_all.cancel)
    synthesis.current = say_all
    stopped = []
    for k in range(MAX_PREEMPTIONS + 2):
        client = SimpleNamespace(buffered=0, queue=[])
        newcomer = SimpleNamespace(client=client, priority="text", over=False, synth_done=False)
        client.queue.append(newcomer)
        say_all.attempt = Attempt(say_all.cancel)  # the next call of the resumed say-all
        with say_all.attempt.hooked(lambda: None):
            stopped.append(synthesis.preempt_for(newcomer))
    assert stopped == [True] * MAX_PREEMPTIONS + [False, False]
    assert synthesis.preemptions == MAX_PREEMPTIONS


def test_a_long_last_word_renders_the_slice_again_instead_of_resuming_after_it():
    """A word longer than MAX_WORD_CHARS may span segments: no resume point after it."""
    text = "It reads Pneumonoultramicroscopicsilicovolcanoconiosis. " + SAY_ALL
    engine = SentenceEngine()
    attempts: list[Attempt] = []
    stream = sliced_stream(engine, SpeechRequest(text, locale="en-US"), Cancellation(), on_attempt=attempts.append)
    engine.calls.release()
    events = [next(stream)]
    events.append(next_while_preempted(engine, stream, attempts))
    assert events[-1] is PREEMPTED
    for _ in range(200):
        engine.calls.release()
    events += list(stream)
    assert engine.requests[1].text == text
    assert sum(e.samples for e in events if isinstance(e, AudioChunk)) == len(text.split()) * WORD_SAMPLES
    assert [w.text for w in events[-1].plan.words] == text.split()
