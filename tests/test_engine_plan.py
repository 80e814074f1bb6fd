"""The plan and the audio agree: word spans tile the audio, marks are in order and in place,
durations x frame == samples, every input word is planned and voiced, in every locale."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from engine.api import AudioChunk, Finished, MarkReached, SpeechRequest
from engine.errors import ConfigError, LocaleError, VoiceError
from engine.locales import LOCALES
from engine.model_store import FRAME_SAMPLES, MAX_TOKEN_IDS
from engine.plan import Plan

SENTENCES = {
    "en": "Open the settings menu, then press enter twice.",
    "de": "Öffnen Sie das Menü, dann drücken Sie zweimal die Eingabetaste.",
    "es": "Abre el menú de ajustes y pulsa dos veces la tecla intro.",
    "fr": "Ouvrez le menu des réglages, puis appuyez deux fois sur entrée.",
    "it": "Apri il menu delle impostazioni e premi due volte invio.",
}


def assert_invariants(audio, plan):
    assert len(audio) == plan.samples
    position = 0
    for seg in plan.segments:
        # Segments follow each other (breaks and marks may sit between them).
        assert seg.start >= position
        position = seg.end
        assert seg.words[0].start == seg.start and seg.words[-1].end == seg.end
        for a, b in zip(seg.words, seg.words[1:]):
            assert a.end == b.start  # word spans tile the segment
        if seg.renderer == "kokoro" and seg.pitch == 1.0:
            assert sum(seg.durations) * FRAME_SAMPLES == seg.samples
            assert len(seg.token_ids) <= MAX_TOKEN_IDS + 2
    offsets = [m.sample for m in plan.marks]
    assert offsets == sorted(offsets)


def median_f0(audio, rate=24000):
    """Median fundamental frequency of the voiced 85 ms windows, by autocorrelation."""
    x = audio.astype(np.float64) / 32768
    found = []
    for i in range(0, len(x) - 2048, 1200):
        w = x[i : i + 2048] - x[i : i + 2048].mean()
        if np.sqrt(np.mean(w**2)) < 0.05:
            continue
        c = np.correlate(w, w, "full")[2047:]
        lo, hi = rate // 400, rate // 60
        lag = lo + int(np.argmax(c[lo:hi]))
        if c[lag] > 0.3 * c[0]:
            found.append(rate / lag)
    assert len(found) >= 5
    return float(np.median(found))


def voiced(audio, word):
    pcm = audio[word.start : word.end].astype(np.float32) / 32768
    return float(np.abs(pcm).max()) if len(pcm) else 0.0


@pytest.mark.parametrize("locale", LOCALES, ids=lambda loc: loc.tag)
def test_every_locale_speaks_every_word(engine, locale):
    text = SENTENCES[locale.language]
    audio, plan = engine.synthesize(SpeechRequest(text, locale=locale.tag))
    assert_invariants(audio, plan)
    expected = re.findall(r"\w+", text)
    assert [w.text for w in plan.words] == expected
    assert all(w.phonemes for w in plan.words)
    assert all(voiced(audio, w) > 0.02 for w in plan.words), [(w.text, voiced(audio, w)) for w in plan.words]
    assert plan.report.events == [] and plan.locale == locale.tag


def test_marks_land_on_word_boundaries_in_order(engine):
    ssml = ('<speak>One <mark name="a"/>two three. <mark name="b"/>Four, five '
            '<mark name="c"/>six.<mark name="end"/></speak>')
    events = list(engine.stream(SpeechRequest(ssml, ssml=True)))
    plan = events[-1].plan
    marks = [e for e in events if isinstance(e, MarkReached)]
    assert [m.name for m in marks] == ["a", "b", "c", "end"]
    words = {w.text: w for w in plan.words}
    assert marks[0].sample_offset == words["two"].start
    assert marks[1].sample_offset == words["Four"].start
    assert marks[2].sample_offset == words["six"].start
    assert marks[3].sample_offset == plan.samples
    # Each mark comes after all audio before its offset and before any audio after it.
    sent = 0
    for e in events:
        if isinstance(e, AudioChunk):
            assert e.sample_offset == sent
            sent += e.samples
        elif isinstance(e, MarkReached):
            assert sent == e.sample_offset


def test_rate_scales_the_plan(engine):
    _, slow = engine.synthesize(SpeechRequest("Rate changes scale the plan.", rate=1.0))
    _, fast = engine.synthesize(SpeechRequest("Rate changes scale the plan.", rate=2.0))
    assert 0.35 < fast.samples / slow.samples < 0.65


def test_pitch_keeps_the_length_and_moves_the_spectrum(engine):
    text = "Capital letters sound higher."
    low_audio, low = engine.synthesize(SpeechRequest(text))
    high_audio, high = engine.synthesize(SpeechRequest(text, pitch=1.5))
    assert abs(high.samples / low.samples - 1) < 0.12
    assert_invariants(high_audio, high)

    ratio = median_f0(high_audio) / median_f0(low_audio)
    assert 1.35 < ratio < 1.65, ratio


def test_volume_scales_the_audio(engine):
    loud, _ = engine.synthesize(SpeechRequest("Volume test."))
    quiet, _ = engine.synthesize(SpeechRequest("Volume test.", volume=0.5))
    ratio = np.abs(quiet.astype(float)).max() / np.abs(loud.astype(float)).max()
    assert 0.45 < ratio < 0.55


def test_a_long_text_is_split_never_truncated(engine):
    sentence = ("When the stock model gets more than five hundred and ten phonemes it silently drops the rest "
                "of the text, which is exactly the failure this engine exists to prevent, so long input is "
                "split at clause boundaries instead; ")
    text = sentence * 12 + "and this is the very last word."
    assert len(text) > 2500
    audio, plan = engine.synthesize(SpeechRequest(text))
    assert_invariants(audio, plan)
    assert [w.text for w in plan.words] == re.findall(r"[\w']+", text)
    assert len(plan.segments) >= 6
    assert plan.words[-1].text == "word" and voiced(audio, plan.words[-1]) > 0.02
    assert all(voiced(audio, w) > 0.005 for w in plan.words)


def test_breaks_are_silence_of_the_planned_length(engine):
    audio, plan = engine.synthesize(SpeechRequest('<speak>Before.<break time="700ms"/>After.</speak>', ssml=True))
    (brk,) = plan.breaks
    assert brk.end - brk.start == int(0.7 * 24000)
    assert np.abs(audio[brk.start : brk.end]).max() == 0


def test_spelling_mode_reads_each_character(engine):
    audio, plan = engine.synthesize(SpeechRequest("Ab1", spell=True))
    assert [w.text for w in plan.words] == ["A", "b", "1"]
    assert all(voiced(audio, w) > 0.02 for w in plan.words)


def test_malformed_ssml_is_read_as_text_with_a_note(engine):
    audio, plan = engine.synthesize(SpeechRequest("<speak>Hello <mark name='x'> world", ssml=True))
    assert [w.text for w in plan.words] == ["Hello", "world"]
    assert any("malformed SSML" in note for note in plan.report.notes)


def test_cancel_ends_the_stream_early(engine):
    import threading

    cancel = threading.Event()
    events = []
    for event in engine.stream(SpeechRequest("One sentence here. " * 6), cancel):
        events.append(event)
        if isinstance(event, AudioChunk):
            cancel.set()
    assert isinstance(events[-1], Finished) and events[-1].cancelled
    assert sum(isinstance(e, AudioChunk) for e in events) == 1


def test_plan_json_round_trip(engine):
    _, plan = engine.synthesize(SpeechRequest('<speak>Hi <mark name="m"/>there.</speak>', ssml=True))
    again = Plan.from_json(plan.to_json())
    assert again == plan and json.loads(plan.to_json())["marks"][0]["name"] == "m"


@pytest.mark.parametrize("request_kwargs, error", [
    ({"locale": "xx"}, LocaleError), ({"voice": "nobody"}, VoiceError),
])
def test_bad_requests_fail_before_any_audio(engine, request_kwargs, error):
    with pytest.raises(error):
        engine.stream(SpeechRequest("hello", **request_kwargs))


@pytest.mark.parametrize("field, value", [("rate", 0), ("rate", 99), ("pitch", float("nan")), ("volume", 2), ("rate", "fast"),
                                          ("rate", 10**400)])
def test_out_of_range_values_are_refused_with_the_value(field, value):
    with pytest.raises(ConfigError, match=field):
        SpeechRequest("hello", **{field: value})


def test_cli_writes_wav_and_plan(tmp_path):
    out, plan_path = tmp_path / "out.wav", tmp_path / "plan.json"
    result = subprocess.run([sys.executable, "-m", "engine", "synth", "--text", "Hello from the command line.",
                             "--locale", "en-GB", "--out", str(out), "--plan-json", str(plan_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    from engine.audio import read_wav

    audio, rate = read_wav(out)
    plan = Plan.from_json(plan_path.read_text())
    assert rate == 24000 and len(audio) == plan.samples and plan.locale == "en-GB"
    assert [w.text for w in plan.words] == ["Hello", "from", "the", "command", "line"]


@pytest.mark.parametrize("args, message", [
    (["synth", "--text", "hi", "--locale", "xx", "--out", "x.wav"], "unknown locale 'xx'"),
    (["synth", "--text", "hi", "--rate", "50", "--out", "x.wav"], "rate must be between"),
    (["synth", "--text-file", "/nonexistent.txt", "--out", "x.wav"], "cannot read /nonexistent.txt"),
])
def test_cli_bad_input_is_one_line_and_nonzero(tmp_path, args, message):
    result = subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True, text=True,
                            timeout=300, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_cli_lists_locales_and_voices():
    locales = subprocess.run([sys.executable, "-m", "engine", "locales"], capture_output=True, text=True, timeout=60)
    assert [line.split("\t")[0] for line in locales.stdout.splitlines()] == [loc.tag for loc in LOCALES]
    voices = subprocess.run([sys.executable, "-m", "engine", "voices", "--locale", "de"], capture_output=True,
                            text=True, timeout=60)
    assert "jm_kumo\tKumo\tmale\tja-JP" in voices.stdout and len(voices.stdout.splitlines()) == 39


def test_short_renders_are_cached_and_identical(engine):
    from engine.synth import RenderCache

    request = SpeechRequest("q", spell=True, rate=1.37)  # a rate no other test uses: a cold entry
    hits = engine.cache.hits
    first, plan1 = engine.synthesize(request)
    second, plan2 = engine.synthesize(request)
    assert engine.cache.hits == hits + 1
    assert np.array_equal(first, second) and plan1 == plan2
    # The cache is bounded: the oldest entries go first.
    from engine.runtime import Render

    cache = RenderCache(max_bytes=3 * 4000 + 3 * 8)
    for i in range(5):
        cache.put((i,), Render(np.zeros(1000, np.float32), np.zeros(1, np.int64)))
    assert cache.get((0,)) is None and cache.get((4,)) is not None


def test_say_without_an_audio_device_explains_and_suggests_a_file(tmp_path, monkeypatch, capsys):
    from engine import playback
    from engine.cli import main
    from engine.errors import AudioDeviceError

    def no_device(rate):
        raise AudioDeviceError("no audio output device (none found)")

    monkeypatch.setattr(playback, "open_output", no_device)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # no daemon runs here
    assert main(["say", "hello"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no audio output device" in err[0] and "echoic synth" in err[0]


def test_cancel_interrupts_a_render_in_flight(engine):
    """A Cancellation set while the model is rendering stops that call, not only the next chunk."""
    import threading
    import time

    from engine.api import Cancellation

    long_clause = "and " + ", and ".join(["the quick brown fox jumps over the lazy dog"] * 6) + "."
    _, plan = engine.synthesize(SpeechRequest("Warm. " + long_clause))
    assert plan.segments[-1].samples > 24000 * 8  # one long segment: several seconds of render
    render_seconds, sent = [], []
    for cancel_after in (None, 0.3):
        cancel = Cancellation()
        if cancel_after:
            threading.Timer(cancel_after, cancel.set).start()
        started = time.perf_counter()
        events = list(engine.stream(SpeechRequest(long_clause + " " + str(cancel_after)), cancel))
        render_seconds.append(time.perf_counter() - started)
        sent.append(sum(e.samples for e in events if isinstance(e, AudioChunk)))
    assert events[-1].cancelled and sent[1] < sent[0] / 3  # only the short first segment went out
    assert engine.counters.failures.get("render_error", 0) == 0  # an interrupt is not a failure
    # Interrupted, the call ended long before a whole render would have.
    assert render_seconds[1] < 0.5 * render_seconds[0], render_seconds


def test_one_word_longer_than_a_segment_is_cut_not_truncated(engine):
    from engine.segmenting import Piece

    digits = "7" * 80  # about 530 phoneme ids: more than one segment
    _, plan = engine.synthesize(SpeechRequest(f'<speak><mark name="a"/>{digits}<mark name="b"/></speak>', ssml=True))
    pieces = [w for w in plan.words if w.text == digits]
    assert len(pieces) >= 2 and len(plan.segments) >= 2
    assert all(len(seg.token_ids) - 2 <= engine.config.max_segment_tokens for seg in plan.segments)
    assert [m.name for m in plan.marks] == ["a", "b"] and plan.marks[1].sample == plan.samples
    # Every "seven" read aloud: the phonemes of all pieces together hold 80 of them.
    seven = engine.segmenter.g2p["en-US"].words(["seven"])[0]
    assert sum(w.phonemes.count(seven) for w in pieces) == 80
    # A run with no spaces at all is cut anywhere, losing nothing.
    from engine.locales import get_locale
    from engine.text.items import Word

    piece = Piece(get_locale("en-US"), engine.voice_library.get("jm_kumo"), 1.0, 1.0, 1.0,
                  words=[Word("x", "x")], phonemes=["a" * 700])
    cut = engine.segmenter.split_long_word(piece)
    assert "".join(s.phonemes[0] for s in cut) == "a" * 700 and all(len(s.phonemes[0]) <= 300 for s in cut)


def test_one_huge_sentence_is_cut_before_g2p(engine):
    """G2P runs per piece on the daemon's synthesis thread: a 5000-word sentence must not be one piece."""
    from engine.segmenting import pieces_of
    from engine.text import read_text
    from engine.text.items import FrontEndReport

    text = " ".join(["word"] * 5000) + ", and " + " ".join(["more"] * 100) + "."
    runs = read_text(text, "en-US", FrontEndReport())
    pieces = pieces_of(runs, engine.locales()[0], engine.voice_library.get("jm_kumo"), SpeechRequest(text),
                       engine.config.max_piece_words)
    sizes = [len(p.words) for p in pieces]
    assert sum(sizes) == 5101 and max(sizes) <= engine.config.max_piece_words
