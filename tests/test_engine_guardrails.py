"""Guardrails: break things on purpose and watch regeneration and fallback happen."""

from dataclasses import replace

import numpy as np
import pytest

from engine.api import SpeechRequest
from engine.guardrails import GuardrailConfig, check_audio, check_plan
from engine.runtime import Render
from engine.synth import Engine

SR = 24_000


# --- the checks alone, on synthetic audio -----------------------------------------------------
def tone(seconds, level=0.3):
    t = np.arange(int(seconds * SR)) / SR
    return (level * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_clean_audio_passes():
    audio = np.concatenate([tone(0.3), tone(0.3), np.zeros(SR // 10, np.float32)])
    assert check_audio(audio, len(audio), [(0, 7200), (7200, 14400)], SR, GuardrailConfig()) == []


@pytest.mark.parametrize("corrupt, check", [
    (lambda a: a[:-600], "length_mismatch"),
    (lambda a: np.where(np.arange(len(a)) == 100, np.nan, a).astype(np.float32), "nan"),
    (lambda a: np.concatenate([a[:7200], np.zeros(7200, np.float32), a[14400:]]), "silent_word"),
    (lambda a: np.concatenate([a[:1000], np.ones(200, np.float32), a[1200:]]), "clipping"),
    (lambda a: np.concatenate([a, tone(1.0)]), "length_mismatch"),
])
def test_each_corruption_is_named(corrupt, check):
    clean = np.concatenate([tone(0.3), tone(0.3), np.zeros(SR // 10, np.float32)])
    failures = check_audio(corrupt(clean), len(clean), [(0, 7200), (7200, 14400)], SR, GuardrailConfig())
    assert check in [f.check for f in failures]


def test_speech_long_after_the_last_word_is_caught():
    audio = np.concatenate([tone(0.3), tone(0.3), np.zeros(SR // 2, np.float32), tone(0.5)])
    failures = check_audio(audio, len(audio), [(0, 7200), (7200, 14400)], SR, GuardrailConfig())
    assert [f.check for f in failures] == ["speech_after_end"]


def test_a_short_word_is_judged_with_its_planned_context():
    # "à" planned two frames (50 ms) whose vowel the model voiced 15 ms early, in the end of the
    # word before: it is spoken, and one frame of planned context on each side finds it.
    spans = [(0, 7200), (7200, 8400), (8400, 15600)]
    audio = np.concatenate([tone(0.3), np.zeros(1200, np.float32), tone(0.3), np.zeros(SR // 10, np.float32)])
    audio[6840:7200] = tone(0.015, 0.2)
    assert check_audio(audio, len(audio), spans, SR, GuardrailConfig()) == []
    # Without the context (a span judged alone), the same audio is a false alarm.
    alone = GuardrailConfig(short_word_seconds=1e-6)
    assert [f.check for f in check_audio(audio, len(audio), spans, SR, alone)] == ["silent_word"]


def test_a_window_followed_by_more_words_is_not_judged_for_speech_after_its_end():
    # af_nicole, a window of words 13-17 of 39: a pause after its last word, then the next word's
    # onset (a breath) in the window's last 70 ms, before that word's first phoneme.
    audio = np.concatenate([tone(0.3), tone(0.3), np.zeros(SR // 2, np.float32), tone(0.07)])
    spans = [(0, 7200), (7200, 14400)]
    assert [f.check for f in check_audio(audio, len(audio), spans, SR, GuardrailConfig())] == ["speech_after_end"]
    assert check_audio(audio, len(audio), spans, SR, GuardrailConfig(), ends_segment=False) == []
    # Every other check still holds inside such a window.
    silent = np.concatenate([tone(0.3), np.zeros(7200, np.float32), np.zeros(SR // 2, np.float32)])
    assert [f.check for f in check_audio(silent, len(silent), spans, SR, GuardrailConfig(), ends_segment=False)] \
        == ["silent_word"]


def test_a_one_frame_word_voiced_late_is_judged_up_to_the_next_word():
    # af_bella's "I put the rubbish out": "I" planned one frame (600-1200) after the leading pad,
    # two boundary frames, then "put" at 2400; the model voiced the "I" at 1700-2400, in the
    # boundary frames, which the plan gives the word (its part of the audio when a segment is cut).
    spans, reaches = [(600, 1200), (2400, 9600)], [2400, 9600]
    audio = np.concatenate([np.zeros(1700, np.float32), tone(0.03, 0.2)[:700], tone(0.3), np.zeros(SR // 10, np.float32)])
    assert check_audio(audio, len(audio), spans, SR, GuardrailConfig(), reaches) == []
    # Judged by its phonemes and one frame of context only, the same audio is a false alarm.
    assert [f.check for f in check_audio(audio, len(audio), spans, SR, GuardrailConfig())] == ["silent_word"]
    # A one-frame word truly lost (its frames and the boundary silent) is still caught.
    lost = audio.copy()
    lost[:2400] = 0.0
    assert [f.check for f in check_audio(lost, len(lost), spans, SR, GuardrailConfig(), reaches)] == ["silent_word"]


def test_a_four_frame_word_is_short_too():
    # af_nicole's "Is it true ...": "it" planned four frames (4200-6600) after two boundary frames,
    # voiced in the frame before its own (3600-4200), its closure silent.
    spans = [(600, 3000), (4200, 6600), (9000, 16200)]
    audio = np.concatenate([np.zeros(600, np.float32), tone(0.1), np.zeros(600, np.float32), tone(0.025, 0.05),
                            np.zeros(4800, np.float32), tone(0.3), np.zeros(SR // 10, np.float32)])
    assert check_audio(audio, len(audio), spans, SR, GuardrailConfig()) == []
    shorter = GuardrailConfig(short_word_seconds=0.099)  # "it" judged alone
    assert [f.check for f in check_audio(audio, len(audio), spans, SR, shorter)] == ["silent_word"]


def test_a_short_word_lost_at_the_end_of_a_segment_is_still_caught():
    # Kokoro fading out a final clitic ("... piano et" with no punctuation): the short word's
    # span and the frames around it are silent, so the widened span is silent too.
    spans = [(0, 7200), (9600, 10800)]
    audio = np.concatenate([tone(0.3), np.zeros(SR // 4, np.float32)])
    assert [f.check for f in check_audio(audio, len(audio), spans, SR, GuardrailConfig())] == ["silent_word"]


def test_plan_checks():
    durations = np.array([1, 3, 4, 0, 0, 5, 2])
    failures = check_plan(durations, [(1, 3), (3, 5), (5, 6)], 1.0, 0.025, GuardrailConfig())
    assert [f.check for f in failures] == ["word_without_time"]
    runaway = np.array([1, 3, 200, 2, 1])
    assert [f.check for f in check_plan(runaway, [(1, 4)], 1.0, 0.025, GuardrailConfig())] == ["implausible_duration"]


# --- the engine's ladder, with a runtime that breaks on purpose --------------------------------
class FaultyRuntime:
    """Wraps the real runtime; the audio of the first `times` renders is corrupted by `fault`."""

    def __init__(self, real, fault, times):
        self.real, self.fault, self.times, self.calls = real, fault, times, 0
        self.frame_samples = real.frame_samples
        self.providers = real.providers
        self.run_options = real.run_options

    def plan(self, ids, style, speed, run_options=None):
        return self.real.plan(ids, style, speed, run_options)

    def render_planned(self, planned, style, run_options=None):
        self.calls += 1
        audio = self.real.render_planned(planned, style, run_options)
        if self.calls <= self.times:
            return self.fault(Render(audio, planned.durations)).audio
        return audio


def truncate(render):
    return Render(render.audio[: len(render.audio) // 2], render.durations)


def nans(render):
    audio = render.audio.copy()
    audio[len(audio) // 3] = np.nan
    return Render(audio, render.durations)


def silence_middle(render):
    audio = render.audio.copy()
    n = len(audio)
    audio[n // 5 : 4 * n // 5] = 0.0
    return Render(audio, render.durations)


def engine_with(base, fault, times, **guard):
    config = replace(base.config, guardrails=GuardrailConfig(**guard))
    return Engine(config, runtime=FaultyRuntime(base.runtime, fault, times))


TEXT = "The parcel arrived this morning, and the neighbours signed the delivery note."


@pytest.mark.parametrize("fault, check", [(truncate, "length_mismatch"), (nans, "nan"), (silence_middle, "silent_word")])
def test_a_bad_render_is_split_and_regenerated(engine, fault, check):
    assert engine.plan(SpeechRequest(TEXT)).report.events == []  # the fault is the only cause
    faulty = engine_with(engine, fault, times=1)
    audio, plan = faulty.synthesize(SpeechRequest(TEXT))
    events = plan.report.events
    assert events and events[0].check == check and events[0].action == "split"
    assert all(seg.renderer == "kokoro" for seg in plan.segments)
    assert [w.text for w in plan.words] == [w.text for w in engine.plan(SpeechRequest(TEXT)).words]
    assert len(audio) == plan.samples and np.isfinite(audio).all()
    assert faulty.counters.failures[check] >= 1 and faulty.counters.actions == {"split": 1}


def test_a_segment_that_keeps_failing_is_slowed_then_spoken_by_the_system_voice(engine):
    faulty = engine_with(engine, truncate, times=100)
    audio, plan = faulty.synthesize(SpeechRequest("Fine."))
    actions = [e.action for e in plan.report.events]
    assert actions == ["regenerated_slower", "fallback"]
    assert [seg.renderer for seg in plan.segments] == ["fallback"]
    assert [w.text for w in plan.words] == ["Fine"]
    # The system voice really spoke: a quarter second or more of audio with speech energy.
    pcm = audio.astype(np.float32) / 32768
    assert len(pcm) > SR // 4 and float(np.sqrt(np.mean(pcm**2))) > 0.01


def test_only_the_word_that_keeps_failing_goes_to_the_system_voice(engine):
    """A renderer that loses one word ("delivery") wherever it appears: the ladder narrows the
    failure down, the system voice speaks that word alone, the chosen voice every other word."""
    ids = [engine.vocab[c] for c in engine.segmenter.g2p["en-US"].words(["delivery"])[0]]

    class LosesOneWord(FaultyRuntime):
        def render_planned(self, planned, style, run_options=None):
            audio = self.real.render_planned(planned, style, run_options)
            at = next((i for i in range(len(self.ids)) if self.ids[i:i + len(ids)] == ids), None)
            if at is not None:
                frames = np.concatenate(([0], np.cumsum(planned.durations)))
                audio = audio.copy()
                audio[frames[at + 1] * 600:frames[at + 1 + len(ids)] * 600] = 0.0
            return audio

        def plan(self, ids_, style, speed, run_options=None):
            self.ids = list(ids_)
            return self.real.plan(ids_, style, speed, run_options)

    faulty = Engine(replace(engine.config, guardrails=GuardrailConfig()), runtime=LosesOneWord(engine.runtime, None, 0))
    audio, plan = faulty.synthesize(SpeechRequest(TEXT))
    assert plan.report.system_voice_words == ["delivery"]
    spoken = {w.text: seg.renderer for seg in plan.segments for w in seg.words}
    assert [w for w, r in spoken.items() if r != "kokoro"] == ["delivery"]
    assert [w.text for w in plan.words] == [w.text for w in engine.plan(SpeechRequest(TEXT)).words]
    assert [e.action for e in plan.report.events].count("fallback") == 1
    assert len(audio) == plan.samples


def test_a_word_that_fails_alone_is_rendered_between_its_neighbours(engine):
    """A renderer that loses "delivery" at either end of a call (as Kokoro fades a clitic that
    ends a call), in a long call and in a slowed one: split, slower and halving never save it,
    rendering it between its neighbours does, so the chosen voice speaks every word."""
    ids = [engine.vocab[c] for c in engine.segmenter.g2p["en-US"].words(["delivery"])[0]]

    class LosesItAtTheEdges(FaultyRuntime):
        def plan(self, ids_, style, speed, run_options=None):
            self.ids, self.speed = list(ids_), speed
            return self.real.plan(ids_, style, speed, run_options)

        def render_planned(self, planned, style, run_options=None):
            audio = self.real.render_planned(planned, style, run_options)
            at = next((i for i in range(len(self.ids)) if self.ids[i:i + len(ids)] == ids), None)
            edge = at == 0 or at is not None and at + len(ids) == len(self.ids)
            if at is not None and (edge or len(self.ids) > len(ids) + 12 or self.speed < 1.0):
                frames = np.concatenate(([0], np.cumsum(planned.durations)))
                audio = audio.copy()
                audio[frames[at + 1] * 600:frames[at + 1 + len(ids)] * 600] = 0.0
            return audio

    ssml = ("<speak>The parcel arrived this morning, and the neighbours signed the "
            "<mark name='d'/>delivery<mark name='n'/> note.</speak>")
    faulty = Engine(replace(engine.config, guardrails=GuardrailConfig()), runtime=LosesItAtTheEdges(engine.runtime, None, 0))
    audio, plan = faulty.synthesize(SpeechRequest(ssml, ssml=True))
    assert plan.report.system_voice_words == []
    actions = [e.action for e in plan.report.events]
    assert actions.count("regenerated_with_neighbours") == 1 and "fallback" not in actions
    [segment] = [seg for seg in plan.segments if [w.text for w in seg.words] == ["delivery"]]
    assert segment.renderer == "kokoro-window" and segment.voice == plan.voice
    assert [w.text for w in plan.words] == [w.text for w in engine.plan(SpeechRequest(TEXT)).words]
    assert len(audio) == plan.samples
    word = next(w for w in plan.words if w.text == "delivery")
    pcm = audio[word.start:word.end].astype(np.float32) / 32768
    assert float(np.sqrt(np.mean(pcm**2))) > 0.01  # spoken, not silence
    marks = {m.name: m.sample for m in plan.marks}
    assert marks["d"] == word.start and marks["n"] == word.end


def test_without_fallback_a_failing_segment_is_an_error_not_a_silence(engine):
    from engine.errors import RenderError

    config = replace(engine.config, fallback=False)
    faulty = Engine(config, runtime=FaultyRuntime(engine.runtime, truncate, 100))
    with pytest.raises(RenderError, match="length_mismatch"):
        faulty.synthesize(SpeechRequest("Fine."))


def test_a_word_without_model_phonemes_goes_to_the_system_voice(engine, monkeypatch):
    from engine import g2p

    real = g2p.G2P.words

    def words(self, spoken):
        return ["" if w == "Zorblax" else p for w, p in zip(spoken, real(self, spoken))]

    monkeypatch.setattr(g2p.G2P, "words", words)
    audio, plan = engine.synthesize(SpeechRequest("Say hello to Zorblax today."))
    assert [w.text for w in plan.words] == ["Say", "hello", "to", "Zorblax", "today"]
    renderers = [seg.renderer for seg in plan.segments]
    assert renderers == ["kokoro", "fallback", "kokoro"]
    assert [e.check for e in plan.report.events] == ["no_phonemes"]
    zorblax = plan.words[3]
    pcm = audio[zorblax.start : zorblax.end].astype(np.float32) / 32768
    assert float(np.sqrt(np.mean(pcm**2))) > 0.01


# --- no false alarms on ordinary speech (issue #16) ------------------------------------------
EVERYDAY = [
    ("fr-FR", "Ma sœur apprend à jouer du piano et elle s'entraîne tous les soirs.", "piano"),
    ("it-IT", "Dopo cena guardiamo il telegiornale e poi andiamo a letto.", None),
    ("es-ES", "Ella y yo vamos a la playa y a la montaña.", "playa"),
]


@pytest.mark.parametrize("locale, text, first_end", EVERYDAY, ids=[e[0] for e in EVERYDAY])
def test_one_vowel_words_are_spoken_by_the_chosen_voice(engine, locale, text, first_end):
    before = engine.counters.snapshot()["actions"]
    audio, plan = engine.synthesize(SpeechRequest(text, locale=locale, voice="jm_kumo"))
    assert plan.report.events == []
    assert engine.counters.snapshot()["actions"] == before  # no regeneration, no fallback
    assert {seg.renderer for seg in plan.segments} == {"kokoro"}
    assert {seg.voice for seg in plan.segments} == {"jm_kumo"}
    if first_end:  # the short first segment ends after a stressed word, not on "et" or "y"
        assert plan.segments[0].words[-1].text == first_end
    assert len(audio) == plan.samples


def test_a_short_word_lost_by_the_renderer_is_still_caught(engine):
    """A render that silences a one-vowel word ("et", two frames or so) and the frames around it
    is a real failure, context or not: the segment is split and the word spoken by the voice."""
    locale, text, _ = EVERYDAY[0]
    clean = engine.plan(SpeechRequest(text, locale=locale, voice="jm_kumo"))
    seg = next(s for s in clean.segments if any(w.text == "et" for w in s.words))
    word = next(w for w in seg.words if w.text == "et")
    assert sum(seg.durations[word.token_start:word.token_end]) <= 4  # short: judged with context

    def silence_et(render):
        if len(render.durations) != len(seg.token_ids):
            return render  # another segment, or a piece of this one after a split
        frames = np.concatenate(([0], np.cumsum(render.durations)))
        audio = render.audio.copy()
        audio[max(frames[word.token_start] - 2, 0) * 600:(frames[word.token_end] + 2) * 600] = 0.0
        return Render(audio, render.durations)

    faulty = engine_with(engine, silence_et, times=100)
    _, plan = faulty.synthesize(SpeechRequest(text, locale=locale, voice="jm_kumo"))
    assert [(e.check, e.action) for e in plan.report.events][:1] == [("silent_word", "split")]
    assert {s.renderer for s in plan.segments} == {"kokoro"}
    assert [w.text for w in plan.words] == [w.text for w in clean.words]
