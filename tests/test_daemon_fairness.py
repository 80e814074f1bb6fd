"""Fair scheduling (#15 item 3): the cost limits, the text slicing, the turn policy, and one
client's long say-all not delaying another's first audio (fake engine: counts steps, not time)."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.client import DaemonClient
from engine.daemon import cost
from engine.daemon.scheduling import next_turn
from engine.daemon.slicing import SLICE_CHARS, merged_plan, sliced_stream, text_slices
from engine.api import AudioChunk, Finished, SpeechRequest
from engine.errors import ProtocolError
from tests.conftest_daemon import WORD_SAMPLES, FakeEngine, running_daemon


# --- cost ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, ssml, spell, code", [
    ("a" * 100_000, False, False, "too_large"),
    ('<speak><sub alias="%s">x</sub></speak>' % ("word " * 50_000), True, False, "too_large"),
    ('<speak><sub alias="%s">x</sub></speak>' % ("w" * 300), True, False, "too_large"),
    ("<speak>" + '<mark name="m"/>' * (cost.MAX_MARKS + 1) + "</speak>", True, False, "too_large"),
    ('<speak><mark name="%s"/>hi</speak>' % ("n" * 300), True, False, "bad_value"),
    ("<speak>" + "<s>" * 40 + "deep" + "</s>" * 40 + "</speak>", True, False, "bad_value"),
    ("ab " * 400, False, True, "too_large"),
    ('<speak><say-as interpret-as="characters">%s</say-as></speak>' % ("ab " * 400), True, False, "too_large"),
    ("<speak>" + "".join('<sub alias="%s">x</sub>' % ("word " * 38) for _ in range(1200)) + "</speak>",
     True, False, "too_large"),
])
def test_requests_past_a_limit_are_refused_before_work(text, ssml, spell, code):
    with pytest.raises(ProtocolError) as info:
        cost.estimate(text, ssml, spell)
    assert info.value.code == code


@pytest.mark.parametrize("text, ssml, spell", [
    ("This is a sentence. " * 9000, False, False),
    ("a" * 1000, False, False),
    ('<speak>Hello <mark name="1"/> world <sub alias="World Health Organisation">WHO</sub>.</speak>', True, False),
    ("<speak>" + "<p><s>" * 10 + "deep" + "</s></p>" * 10 + "</speak>", True, False),
    ("Hello <mark name='a'/> fragment <br/> with a self-closing tag", True, False),
    ("abc", False, True),
])
def test_ordinary_requests_pass_with_a_cost(text, ssml, spell):
    c = cost.estimate(text, ssml, spell)
    assert 0 < c.chars <= len(text) + 200 and c.planned_samples(1.0, 24000) > 0


def test_the_daemon_refuses_an_over_limit_speak_before_accepted(tmp_path):
    engine = FakeEngine()
    with running_daemon(engine, tmp_path / "rt") as server, DaemonClient.connect(server.runtime_dir) as c:
        c.send({"type": "speak", "id": "big", "text": "a" * 100_000})
        reply = c.receive(5)
        assert reply["type"] == "error" and reply["code"] == "too_large" and reply["id"] == "big"
        assert engine.requests == [] and c.speak("still fine").samples == 2 * WORD_SAMPLES


# --- slicing ------------------------------------------------------------------------------------

@given(st.text(alphabet=st.sampled_from("ab .!\n"), max_size=9000))
@settings(max_examples=200, deadline=None)
def test_slices_concatenate_to_the_text_and_respect_the_limit(text):
    slices = text_slices(text, 500)
    if text.strip():
        assert "".join(slices).strip() == text.strip() or "".join(slices) in text
        assert all(len(s) <= 500 for s in slices)


def test_slices_cut_at_sentence_ends():
    text = "One sentence here. " * 300
    slices = text_slices(text)
    assert len(slices) > 1 and all(s.endswith(". ") for s in slices[:-1])
    assert "".join(slices) == text


def test_a_sliced_stream_is_one_utterance():
    engine = FakeEngine(delay=0)
    text = "word " * 2000  # 10,000 characters: five slices
    events = list(sliced_stream(engine, SpeechRequest(text, locale="en-US"), threading.Event()))
    assert len(engine.requests) == len(text_slices(text)) > 1
    audio = [e for e in events if isinstance(e, AudioChunk)]
    offsets = [a.sample_offset for a in audio]
    assert offsets == sorted(offsets) and offsets[0] == 0
    assert sum(a.samples for a in audio) == 2000 * WORD_SAMPLES
    assert all(b.sample_offset == a.sample_offset + a.samples for a, b in zip(audio, audio[1:]))
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.plan.samples == 2000 * WORD_SAMPLES
    assert all(len(r.text) <= SLICE_CHARS for r in engine.requests)


def test_merged_plan_shifts_later_slices():
    from engine.plan import Plan, PlannedMark

    a = Plan("en-US", "v", 1.0, 24000, samples=100, marks=[PlannedMark("x", 50)])
    b = Plan("en-US", "v", 1.0, 24000, samples=40, marks=[PlannedMark("y", 10)])
    whole = merged_plan([a, b])
    assert whole.samples == 140 and [(m.name, m.sample) for m in whole.marks] == [("x", 50), ("y", 110)]


# --- turns --------------------------------------------------------------------------------------

def test_next_turn_prefers_waiting_then_priority_then_round_robin():
    assert next_turn([]) is None
    assert next_turn([(True, "text"), (False, "text")]) == 1  # no audio yet goes first
    assert next_turn([(False, "text"), (False, "important")]) == 1
    assert next_turn([(True, "text"), (True, "text")]) == 0  # round-robin order kept
    assert next_turn([(True, "important"), (False, "progress")]) == 1


def test_a_long_say_all_does_not_delay_another_clients_first_audio(tmp_path):
    """Client A's say-all of 200,000 characters is read slice by slice, and B's short speak is
    served at the next step: B's first audio comes after at most a couple of A's steps."""

    class CountingEngine(FakeEngine):
        def __init__(self):
            super().__init__(delay=0.02)
            self.longest_text = 0

        def stream(self, request, cancel=None):
            self.longest_text = max(self.longest_text, len(request.text))
            return super().stream(request, cancel)

    engine = CountingEngine()
    with running_daemon(engine, tmp_path / "rt") as server:
        with DaemonClient.connect(server.runtime_dir) as a, DaemonClient.connect(server.runtime_dir) as b:
            ua = a.start_speaking("This is a sentence of ordinary prose. " * 5200)
            time.sleep(0.2)
            start = time.perf_counter()
            rb = b.speak("short one")
            waited = time.perf_counter() - start
            a.cancel(ua)
            a.collect([ua])
    assert rb.samples == 2 * WORD_SAMPLES
    assert engine.longest_text <= SLICE_CHARS
    assert waited < 20 * engine.delay  # a few steps, not A's 200,000 characters


def test_fairness_bench_reports_rows_with_and_without_preemption():
    from engine.daemon.fairness import run_fairness

    lines = list(run_fairness(repeats=1, engine=FakeEngine(delay=0.001), wait=0.05,
                              cases={"say-all": {"text": "This is prose. " * 200}}))
    assert "without preemption" in lines[0] and lines[1].startswith("idle (B alone)")
    row = lines[2].split()
    assert row[0] == "say-all" and row[1] == "audio" and len(row) == 7  # name, A got, B ms, delay, stopped, B ms, delay
