"""Chunked rendering (engine/streaming.py): windows with whole-segment frame-rate statistics,
calibrated generator statistics and the source phase join without audible seams, and the engine
streams a long segment window by window, checked by the guardrails as it goes.

Distances are log-mel (engine/train/spectral.py, numpy only); the int8 graph's own floor, windows
fed the segment's exact statistics, is about 0.2-0.3 (docs/model.md). Requests pin accent_strength=1.0
and the engines here load no locale adapter: these tests are about rendering a given pack through
the base model, not about the accent knob (tests/test_accent.py) or the adapters, whose windows and
pad cuts are tested in tests/test_adapters_runtime.py.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest

from engine import graphs, model_store
from engine.adapters import AdapterSet
from engine.api import AudioChunk, Cancellation, Finished, MarkReached, SpeechRequest
from engine.errors import ConfigError
from engine.locales import get_locale
from engine.streaming import (FRAME_MS, GRID_ROWS, CalibrationStore, LearnedStatistics, Pace, RenderPace, StreamingConfig,
                              Statistics, grid_row, pool, word_windows)
from engine.synth import Engine, EngineConfig
from engine.train.spectral import log_mel_distance

LONG = ("Reading a long paragraph aloud, the screen reader should start speaking almost at once, "
        "without waiting for the whole sentence to be rendered by the model.")


@pytest.fixture(scope="module")
def engine(engine):
    """The session's engine configuration on a runtime with no adapters (the plain graphs): jf_alpha
    and jm_kumo speak English here through the base model, as every engine built on its runtime does."""
    return Engine(engine.config, adapters=AdapterSet())


# --- pure parts -----------------------------------------------------------------------------

def test_word_windows_cover_every_word_and_grow():
    bounds = list(range(0, 410, 10))  # 40 words of 10 frames
    windows = word_windows(bounds, [True] * 40, first=24, largest=96)
    assert windows[0] == (0, 3)  # the first boundary at least 24 frames on
    assert [b for a, b in windows[:-1]] == [a for a, b in windows[1:]]  # contiguous
    assert windows[-1][1] == 40
    sizes = [bounds[b] - bounds[a] for a, b in windows]
    assert sizes[:4] == [30, 50, 100, 100], sizes  # doubling targets 24, 48, 96, then capped at 96


def test_word_windows_cut_only_before_voiced_words_and_fold_a_short_tail():
    bounds = list(range(0, 110, 10))
    voiced = [True, True, True, False, True, True, True, True, True, True]
    # 24 frames reach word 3, which has no phonemes: the cut moves on to word 4.
    assert word_windows(bounds, voiced, first=24, largest=96)[0] == (0, 4)
    # After the first window only 20 frames are left, under the next target: one window.
    assert word_windows([0, 30, 50], [True, True], first=24, largest=96) == [(0, 2)]


def _lateness(bounds, windows, pace):
    """ms each later window is ready after it is due (minus the margin), at the pace's own cost."""
    ready, ahead, late = 0.0, (bounds[windows[0][1]] - bounds[0]) * FRAME_MS, []
    for a, b in windows[1:]:
        ready += pace.cost_ms(bounds[b] - bounds[a])
        late.append(ready - (ahead - pace.margin_ms))
        ahead += (bounds[b] - bounds[a]) * FRAME_MS
    return late


def test_paced_windows_are_each_ready_before_the_audio_ahead_has_played():
    bounds = list(range(0, 410, 10))  # 40 words of 10 frames
    voiced = [True] * 40
    slow, fast = Pace(ms_per_frame=9.0, context=8), Pace(ms_per_frame=3.0, context=8)
    for pace in (slow, fast):
        windows = word_windows(bounds, voiced, first=12, largest=96, pace=pace)
        assert [b for a, b in windows[:-1]] == [a for a, b in windows[1:]] and windows[-1][1] == 40
        assert max(_lateness(bounds, windows, pace)) <= 0
        sizes = [bounds[b] - bounds[a] for a, b in windows]
        assert sizes[:4] == sorted(sizes[:4]) and max(sizes[:-1]) <= 96
        assert min(sizes[1:]) >= pace.growing_frames()  # none shorter than builds up audio
    slow_sizes = [bounds[b] - bounds[a] for a, b in word_windows(bounds, voiced, 12, 96, slow)]
    fast_sizes = [bounds[b] - bounds[a] for a, b in word_windows(bounds, voiced, 12, 96, fast)]
    # Slow: the first window grows to last until a second that builds up audio is ready (23.5
    # frames at 9 ms a frame: 11.7 ms a frame with the safety factor, 29 frames to grow, 16 of
    # context, 60 ms margin); fast: the configured first window, then long windows at once.
    assert slow.first_frames() * FRAME_MS == pytest.approx(1.3 * 9.0 * (29 + 16) + 60)
    assert slow_sizes[:3] == [30, 40, 70], slow_sizes
    assert fast_sizes[:3] == [20, 90, 90], fast_sizes
    # Doubling from the same 20-frame first window at the slow pace: its second comes late.
    doubled = word_windows(bounds, voiced, first=12, largest=96)
    assert doubled[0] == (0, 2) and _lateness(bounds, doubled, slow)[0] > 0


def test_paced_windows_take_a_long_word_whole_and_do_not_pace_a_machine_slower_than_the_audio():
    bounds, voiced = [0, 20, 200, 220], [True, True, True]
    assert word_windows(bounds, voiced, first=12, largest=96, pace=Pace(8.0, 8)) == [(0, 1), (1, 2), (2, 3)]
    # A sentence of short words: no one-word window that would lose time (5-8 frames), and on time.
    bounds = [0, 5, 12, 18, 33, 41, 52, 81]
    pace = Pace(7.0, 8)
    windows = word_windows(bounds, [True] * 7, first=12, largest=96, pace=pace)
    assert [bounds[b] - bounds[a] for a, b in windows] == [18, 23, 40] and max(_lateness(bounds, windows, pace)) <= 0
    # 20 ms a frame, times 1.3: about as slow as the audio; the doubling schedule, unchanged.
    assert Pace(20.0, 8).growing_frames() is None
    long = list(range(0, 410, 10))
    assert word_windows(long, [True] * 40, 12, 96, Pace(20.0, 8)) == word_windows(long, [True] * 40, 12, 96)


def test_render_pace_is_the_median_of_the_last_window_renders():
    pace = RenderPace(initial=10.0, keep=4)
    pace.observe(40, 0.2)
    pace.observe(40, 0.4)
    assert pace.ms_per_frame() == 10.0  # two renders: not yet a measure
    pace.observe(20, 0.1)
    assert pace.ms_per_frame() == 5.0  # median of 5, 10, 5
    for _ in range(4):
        pace.observe(10, 0.03)
    assert pace.ms_per_frame() == pytest.approx(3.0)  # only the last four count
    pace.observe(0, 1.0)  # nothing rendered: ignored
    assert pace.ms_per_frame() == pytest.approx(3.0)


def test_grid_row_is_the_nearest_calibrated_row():
    assert grid_row(1) == 15 and grid_row(16) == 15
    assert grid_row(150) == 159 and grid_row(140) == 127
    assert grid_row(510) == 509
    assert all(grid_row(r + 1) == r for r in GRID_ROWS)


def test_streaming_config_refuses_nonsense():
    with pytest.raises(ValueError, match="context_frames"):
        StreamingConfig(context_frames=-1)
    with pytest.raises(ValueError, match="max_window_frames"):
        StreamingConfig(first_window_frames=64, max_window_frames=32)
    with pytest.raises(ValueError, match="pace_ms_per_frame"):
        StreamingConfig(pace_ms_per_frame=0)


def test_calibration_store_round_trip_is_keyed_by_the_row_timbre(tmp_path):
    pack = np.random.default_rng(0).standard_normal((510, 1, 256)).astype(np.float32)
    stats = Statistics({"/decoder/decoder/generator/x/ReduceMean_output_0": np.ones((1, 4, 1), np.float32)})
    store = CalibrationStore(tmp_path)
    store.put(pack, 39, stats)
    again = CalibrationStore(tmp_path).get(pack, 39)
    assert again is not None and np.array_equal(again["/decoder/decoder/generator/x/ReduceMean_output_0"], np.ones((1, 4, 1)))
    assert CalibrationStore(tmp_path).get(pack, 47) is None
    changed = pack.copy()
    changed[39, 0, 0] += 1.0
    assert CalibrationStore(tmp_path).get(changed, 39) is None  # an edited voice is not stale-calibrated
    path = store.path(store.key(pack, 39))
    for junk in (b"not a zip", path.read_bytes()[:200]):  # foreign, and truncated mid-write by a crash
        path.write_bytes(junk)
        assert CalibrationStore(tmp_path).get(pack, 39) is None  # uncalibrated again, not a failing render
        assert not path.exists()
        store.put(pack, 39, stats)


# --- the real model -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def calibrated(engine, tmp_path_factory):
    """An engine sharing the session's model, with its own calibration directory, and the rows
    LONG uses calibrated for jf_alpha (the first segment cut off at 8 words, and one long one);
    it learns no statistics from speech (that is tested on its own, at the end)."""
    directory = tmp_path_factory.mktemp("calibration")
    streaming = StreamingConfig(calibration_dir=directory, learn=False)  # calibrations only: nothing learnt
    eng = Engine(replace(engine.config, streaming=streaming, cache_megabytes=0), runtime=engine.runtime)
    whole_config = replace(eng.config, streaming=replace(streaming, enabled=False))
    # Find the rows this text needs by speaking it whole once.
    for first_words in (8, 1000):
        probe = Engine(replace(eng.config, first_segment_words=first_words), runtime=engine.runtime)
        for _ in probe.stream(SpeechRequest(LONG, voice="jf_alpha", accent_strength=1.0)):
            pass
        for voice, row in probe.wanted_calibrations():
            eng.calibrate(voice, (row,))
    return eng, whole_config


@pytest.mark.slow
def test_windows_join_as_closely_as_the_int8_floor(calibrated):
    eng, whole_config = calibrated
    runtime, renderer = eng.runtime, eng.runtime.window_renderer()
    pack = eng.voice_library.get("jf_alpha").pack
    probe = Engine(replace(whole_config, first_segment_words=1000), runtime=runtime)
    plan = probe.plan(SpeechRequest(LONG, voice="jf_alpha", accent_strength=1.0))
    ids = plan.segments[0].token_ids[1:-1]
    row = grid_row(len(ids))
    assert eng.calibration.get(pack, row) is not None
    planned = runtime.plan(ids, pack[len(ids) - 1], 1.0)
    style = pack[row]
    whole = runtime.render_planned(planned, style)
    frames = planned.frames
    chunk, context = 40, 8

    def joined(render):
        return np.concatenate([render(a, min(frames, a + chunk)) for a in range(0, frames, chunk)])

    def distances(audio):
        joins = [log_mel_distance(audio[(a - 8) * 600:(a + 8) * 600], whole[(a - 8) * 600:(a + 8) * 600])
                 for a in range(chunk, frames, chunk)]
        return log_mel_distance(audio, whole), float(np.mean(joins)), max(joins)

    prepared = renderer.prepare(planned, style, eng.calibration.get(pack, row))
    streamed = distances(joined(lambda a, b: renderer.render(prepared, a, b, context)))

    def plain(a, b):  # today's renderer on the same windows: each window's own statistics and phase
        lo, hi = max(0, a - context), min(frames, b + context)
        sub = type(planned)(planned.durations, planned.features[..., lo:hi], planned.f0[..., 2 * lo:2 * hi],
                            planned.energy[..., 2 * lo:2 * hi])
        return runtime.render_planned(sub, style)[(a - lo) * 600:(b - lo) * 600]

    baseline = distances(joined(plain))
    print(f"frames {frames}: calibrated windows (whole, mean join, worst join) {streamed}, plain windows {baseline}")
    assert frames > 300
    assert streamed[0] < 0.35 and streamed[2] < 0.45, streamed
    assert streamed[1] < streamed[0] + 0.1, streamed  # the joins are no worse than the rest
    assert baseline[0] > 1.5 * streamed[0] and baseline[2] > 1.5 * streamed[2], (baseline, streamed)


class RecordingWindows:
    """Wraps the window renderer: logs each window call, and can corrupt one window's audio."""

    def __init__(self, real, log, corrupt=None):
        self.real, self.log, self.corrupt = real, log, corrupt

    def prepare(self, *args, **kwargs):
        return self.real.prepare(*args, **kwargs)

    def render(self, prepared, start, stop, context, run_options=None):
        audio = self.real.render(prepared, start, stop, context, run_options)
        self.log.append(("window", start, stop))
        if self.corrupt is not None and sum(1 for e in self.log if e[0] == "window") == self.corrupt:
            audio = np.zeros_like(audio)
        return audio


def _recording(eng, log, corrupt=None, **config):
    other = Engine(replace(eng.config, **config), runtime=eng.runtime)
    windows = RecordingWindows(eng.runtime.window_renderer(), log, corrupt)
    other.runtime = type("R", (), {})()
    for name in ("plan", "render_planned", "run_options", "providers", "frame_samples"):
        setattr(other.runtime, name, getattr(eng.runtime, name))
    other.runtime.window_renderer = lambda: windows
    return other


def _collect(eng, request, log=None, cancel=None):
    pcm, plan, events = [], None, []
    for event in eng.stream(request, cancel):
        if isinstance(event, AudioChunk):
            pcm.append(np.frombuffer(event.pcm, "<i2"))
            if log is not None:
                log.append(("audio", event.sample_offset))
        elif isinstance(event, MarkReached):
            events.append(event)
        elif isinstance(event, Finished):
            plan = event.plan
    audio = np.concatenate(pcm).astype(np.float32) / 32768 if pcm else np.zeros(0, np.float32)
    return audio, plan, events


@pytest.mark.slow
def test_engine_streams_a_long_segment_window_by_window(calibrated):
    eng, whole_config = calibrated
    log: list = []
    streaming = _recording(eng, log, first_segment_words=1000)
    audio, plan, _ = _collect(streaming, SpeechRequest(LONG, voice="jf_alpha", accent_strength=1.0), log)
    windows = [e for e in log if e[0] == "window"]
    assert len(windows) >= 3
    assert log.index(("audio", 0)) == 1  # the first audio went out after one window, before the rest
    assert [s.renderer for s in plan.segments] == ["kokoro-window"] * len(windows)
    seen = len(streaming.renderer.pace._seen)
    assert seen == min(len(windows), 16)  # every window render measured for the next schedule
    measured = streaming.statistics()["streaming"]["window_ms_per_frame"]
    assert measured == round(streaming.renderer.pace.ms_per_frame(), 2) and 0 < measured < 1000
    # The plan tiles the audio: segments and words follow each other, durations give the lengths.
    assert plan.samples == len(audio)
    position = 0
    for segment in plan.segments:
        assert segment.start == position
        assert sum(segment.durations) * segment.frame_samples == segment.samples
        assert segment.words[0].start == segment.start and segment.words[-1].end == segment.end
        position = segment.end
    assert [w.text for w in plan.words] == [w.text for w in Engine(replace(whole_config, first_segment_words=1000),
                                                                     runtime=eng.runtime).plan(SpeechRequest(LONG, voice="jf_alpha", accent_strength=1.0)).words]
    whole_engine = Engine(replace(whole_config, first_segment_words=1000), runtime=eng.runtime)
    whole, whole_plan, _ = _collect(whole_engine, SpeechRequest(LONG, voice="jf_alpha", accent_strength=1.0))
    assert [s.renderer for s in whole_plan.segments] == ["kokoro"]
    assert len(whole) == len(audio)
    distance = log_mel_distance(audio, whole)
    print(f"streamed vs whole: {distance:.3f} over {len(audio) / 24000:.1f} s in {len(windows)} windows")
    assert distance < 0.4


@pytest.mark.slow
def test_marks_in_a_streamed_segment_land_on_their_words(calibrated):
    eng, _ = calibrated
    ssml = ("<speak>Reading a long paragraph aloud, the screen reader should <mark name='m1'/>start speaking "
            "almost at once, without waiting for the whole <mark name='m2'/>sentence to be rendered by the model.</speak>")
    log: list = []
    audio, plan, marks = _collect(_recording(eng, log, first_segment_words=1000), SpeechRequest(ssml, ssml=True, voice="jf_alpha", accent_strength=1.0))
    assert {s.renderer for s in plan.segments} == {"kokoro-window"}
    words = {w.text: w for w in plan.words}
    assert [(m.name, m.sample_offset) for m in marks] == [("m1", words["start"].start), ("m2", words["sentence"].start)]


@pytest.mark.slow
def test_a_window_that_fails_its_check_is_regenerated_from_that_word_on(calibrated):
    eng, _ = calibrated
    log: list = []
    faulty = _recording(eng, log, corrupt=2, first_segment_words=1000)
    audio, plan, _ = _collect(faulty, SpeechRequest(LONG, voice="jf_alpha", accent_strength=1.0))
    checks = [(e.check, e.action) for e in plan.report.events]
    assert ("silent_word", "split") in checks, checks
    renderers = [s.renderer for s in plan.segments]
    assert renderers[0] == "kokoro-window"  # the first window stood
    assert "kokoro" in renderers[1:] or renderers.count("kokoro-window") > 1
    # Nothing was dropped: every word is in the plan once, in order, with audio under it.
    assert [w.text for w in plan.words] == [w.text for w in _collect(eng, SpeechRequest(LONG, voice="jf_alpha", accent_strength=1.0))[1].words]
    for word in plan.words:
        level = np.sqrt(np.mean(audio[word.start:word.end] ** 2))
        assert level > 0.005, (word.text, level)


@pytest.mark.slow
def test_a_cancel_stops_streaming_between_windows(calibrated):
    eng, _ = calibrated
    log: list = []
    streaming = _recording(eng, log, first_segment_words=1000)
    cancel = Cancellation()
    finished = []
    for event in streaming.stream(SpeechRequest(LONG, voice="jf_alpha", accent_strength=1.0), cancel):
        if isinstance(event, AudioChunk):
            cancel.set()
        if isinstance(event, Finished):
            finished.append(event)
    assert len(finished) == 1 and finished[0].cancelled
    assert sum(1 for e in log if e[0] == "window") == 1


@pytest.mark.slow
def test_an_uncalibrated_voice_renders_whole_and_is_wanted(calibrated):
    eng, _ = calibrated
    assert eng.config.streaming.learn is False  # the fixture's config: nothing learnt from speech
    _, plan, _ = _collect(eng, SpeechRequest(LONG, voice="jm_kumo", accent_strength=1.0))
    assert {s.renderer for s in plan.segments} == {"kokoro"}
    wanted = eng.wanted_calibrations()
    assert wanted and {v for v, _ in wanted} == {"jm_kumo"}
    assert eng.wanted_calibrations() == []  # handed out once
    assert eng.statistics()["streaming"]["uncalibrated"]


def test_calibrate_refuses_rows_off_the_grid_before_calibrating_any(engine):
    with pytest.raises(ConfigError, match=r"\[100\] are not calibration grid rows"):
        engine.calibrate("jf_alpha", (15, 100))
    assert engine.calibration.get(engine.voice_library.get("jf_alpha").pack, 15) is None


class CancellingRuntime:
    """The real runtime, but plan call number `at` (calibration plans before each sentence's
    render) sets `cancel`."""

    def __init__(self, real, cancel, at=1):
        self.real, self.cancel, self.at, self.plans = real, cancel, at, 0
        self.providers, self.frame_samples, self.run_options = real.providers, real.frame_samples, real.run_options
        self.render_planned, self.window_renderer = real.render_planned, real.window_renderer

    def plan(self, *args, **kwargs):
        self.plans += 1
        if self.plans == self.at:
            self.cancel.set()
        return self.real.plan(*args, **kwargs)


@pytest.mark.slow
def test_a_cancel_stops_a_calibration_within_its_first_render(engine, tmp_path):
    cancel = Cancellation()
    runtime = CancellingRuntime(engine.runtime, cancel)
    eng = Engine(replace(engine.config, streaming=StreamingConfig(calibration_dir=tmp_path)), runtime=runtime)
    assert eng.calibrate("jf_alpha", (63, 79), cancel) == 0
    assert runtime.plans == 1  # the render after the first plan was terminated; no further row began
    assert eng.calibration.get(eng.voice_library.get("jf_alpha").pack, 63) is None
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_a_row_cut_short_resumes_at_its_next_sentence_and_equals_an_uncut_one(engine, tmp_path):
    from engine.streaming import CALIBRATION_PHONEMES

    cancel = Cancellation()
    runtime = CancellingRuntime(engine.runtime, cancel, at=3)
    cut = Engine(replace(engine.config, streaming=StreamingConfig(calibration_dir=tmp_path / "cut")), runtime=runtime)
    assert cut.calibrate("jf_alpha", (15,), cancel) == 0  # sentences 1 and 2 done, the 3rd terminated
    cancel.clear()
    assert cut.calibrate("jf_alpha", (15,), cancel) == 1
    assert runtime.plans == len(CALIBRATION_PHONEMES) + 1  # only the terminated sentence ran twice
    whole = Engine(replace(engine.config, streaming=StreamingConfig(calibration_dir=tmp_path / "whole")),
                   runtime=engine.runtime)
    assert whole.calibrate("jf_alpha", (15,)) == 1
    pack = engine.voice_library.get("jf_alpha").pack
    resumed, uncut = cut.calibration.get(pack, 15), whole.calibration.get(pack, 15)
    assert sorted(resumed) == sorted(uncut) and len(uncut) == 88
    for name in uncut:
        np.testing.assert_allclose(resumed[name], uncut[name], rtol=1e-5, atol=1e-6)


def test_a_cancel_set_during_a_load_returns_at_once():
    from engine.cancelling import unless_cancelled

    cancel, release = threading.Event(), threading.Event()
    threading.Timer(0.05, cancel.set).start()
    assert unless_cancelled(lambda: release.wait(30) and "loaded", cancel) is None
    release.set()
    assert unless_cancelled(lambda: "loaded", threading.Event()) == "loaded"
    with pytest.raises(KeyError):
        unless_cancelled(lambda: {}["x"], threading.Event())


def test_graph_names_split_frame_rate_from_generator_statistics():
    renderer = graphs.ensure_split_models()[1].read_bytes()
    _, names = graphs.frame_statistics_graph(renderer)
    assert len(names) == 20 and not any(graphs.is_generator_statistic(n) for n in names)


@pytest.mark.slow
def test_bench_stream_compares_windows_with_whole_renders(calibrated, capsys):
    from engine.bench import LONG_SAMPLES, bench_stream

    eng, _ = calibrated
    assert LONG_SAMPLES["en-US"] == LONG  # so the calibrated rows above serve the bench too
    rows = bench_stream(repeats=1, locales=["en-US"], engine=Engine(replace(eng.config), runtime=eng.runtime), memory=False)
    assert [r["case"] for r in rows] == ["en-US, engine default (short first segment)", "en-US, one segment"]
    for row in rows:
        assert row["windows"] >= 2 and 0 < row["distance"] < 0.4 and row["audio_s"] > 8
    assert "TTFA ms on" in capsys.readouterr().out


@pytest.mark.slow
def test_a_streamed_segment_at_another_pitch_and_rate_still_tiles_its_plan(calibrated):
    eng, _ = calibrated
    log: list = []
    request = SpeechRequest(LONG, voice="jf_alpha", accent_strength=1.0, pitch=1.3, rate=1.0)
    audio, plan, _ = _collect(_recording(eng, log, first_segment_words=1000), request)
    segments = plan.segments  # the style row follows the ids, not the speed: the calibration serves
    assert len(segments) >= 3 and {s.renderer for s in segments} == {"kokoro-window"}
    assert plan.samples == len(audio) and not plan.report.events
    position = 0
    for segment in segments:
        assert segment.start == position and segment.frame_samples == pytest.approx(600 / 1.3)
        assert abs(sum(segment.durations) * segment.frame_samples - segment.samples) <= 1
        position = segment.end


@pytest.mark.slow
def test_a_short_user_voice_pack_renders_long_segments_whole(calibrated, tmp_path):
    """A user pack of 100 rows has no grid row 159: its long segments render whole, with no
    failure, and its calibration skips the rows it lacks."""
    from engine.voices import VoiceLibrary

    eng, _ = calibrated
    np.save(tmp_path / "short.npy", eng.voice_library.get("jf_alpha").pack[:100])
    short = Engine(replace(eng.config, first_segment_words=1000), runtime=eng.runtime)
    short.voice_library = VoiceLibrary(tmp_path)
    audio, plan, _ = _collect(short, SpeechRequest(LONG, voice="short"))
    assert [s.renderer for s in plan.segments] == ["kokoro"] and not plan.report.events
    assert short.wanted_calibrations() == []  # nothing to calibrate for it at that length
    assert short.calibrate("short", (159, 191)) == 0


# --- the window bookkeeping, with a stand-in model (fast) ------------------------------------

class StandInRuntime:
    """Plans 3 frames a token (4 for the leading pad, 5 for the end pad) and 'renders' fixed noise,
    so a window's audio is exactly the slice of the whole render it stands for."""

    frame_samples = 600
    providers = ["stand-in"]

    def __init__(self):
        self.windows = StandInWindows(self)

    @staticmethod
    def run_options():
        return type("Options", (), {"terminate": False})()

    def plan(self, ids, style, speed, run_options=None):
        from engine.runtime import PlannerOutput

        durations = np.array([4] + [3] * len(ids) + [5], dtype=np.int64)
        frames = int(durations.sum())
        return PlannerOutput(durations, np.zeros((1, 512, frames), np.float32), np.zeros((1, 2 * frames), np.float32),
                             np.zeros((1, 2 * frames), np.float32))

    def render_planned(self, plan, style, run_options=None):
        return (0.2 * np.random.default_rng(plan.frames).standard_normal(600 * plan.frames)).astype(np.float32)

    def window_renderer(self):
        return self.windows


class StandInWindows:
    def __init__(self, runtime):
        self.runtime = runtime

    def prepare(self, plan, style, generator, run_options=None, adapter=None):
        assert generator == {"calibrated": True} and style.shape == (1, 256) and adapter is None
        return plan

    def render(self, prepared, start, stop, context, run_options=None):
        return self.runtime.render_planned(prepared, None)[600 * start:600 * stop]


class StandInCalibration:
    def get(self, pack, row):
        return {"calibrated": True}


def test_windows_split_tokens_words_and_marks_exactly_as_the_whole_segment(monkeypatch):
    words = ("Reading a long paragraph aloud, the screen reader should start speaking almost at once, "
             "without waiting for the whole sentence to be rendered by the model").split()
    ssml = "<speak>" + " ".join(f"<mark name='m{i}'/>{w}" for i, w in enumerate(words)) + ".<mark name='end'/></speak>"
    request = SpeechRequest(ssml, ssml=True, voice="jf_alpha", accent_strength=1.0)
    config = EngineConfig(first_segment_words=1000, cache_megabytes=0)
    streamed_engine = Engine(config, runtime=StandInRuntime())
    streamed_engine.calibration = StandInCalibration()
    whole_engine = Engine(replace(config, streaming=StreamingConfig(enabled=False)), runtime=StandInRuntime())
    streamed, s_plan, s_marks = _collect(streamed_engine, request)
    whole, w_plan, w_marks = _collect(whole_engine, request)

    (segment,) = w_plan.segments
    windows = s_plan.segments
    assert len(windows) >= 4 and {w.renderer for w in windows} == {"kokoro-window"}
    np.testing.assert_array_equal(streamed, whole)  # the lead cut and every window edge in place
    assert sum((w.token_ids for w in windows), []) == segment.token_ids
    assert "".join(w.phonemes for w in windows) == segment.phonemes
    assert sum((w.durations for w in windows), []) == segment.durations
    assert [(m.name, m.sample_offset) for m in s_marks] == [(m.name, m.sample_offset) for m in w_marks]
    assert len(s_marks) == len(words) + 1 and s_marks[-1].sample_offset == len(whole)
    pairs = [(window, word) for window in windows for word in window.words]
    assert len(pairs) == len(segment.words)
    for (window, word), reference in zip(pairs, segment.words):
        assert (word.text, word.start, word.end) == (reference.text, reference.start, reference.end)
        assert window.token_ids[word.token_start:word.token_end] == \
            segment.token_ids[reference.token_start:reference.token_end] != []
    # A mark at a window edge belongs to the window that starts there.
    for window in windows[1:]:
        first = window.words[0].text
        assert any(m.sample_offset == window.start for m in s_marks), first


def test_preload_loads_the_window_sessions_only_when_they_will_be_used(engine, tmp_path):
    empty = Engine(replace(engine.config, streaming=StreamingConfig(calibration_dir=tmp_path / "none", learn=False)),
                   runtime=engine.runtime)
    assert empty.calibration.any() is False and empty.preload_streaming(threading.Event()) is False
    learning = Engine(replace(engine.config, streaming=StreamingConfig(calibration_dir=tmp_path / "none")),
                      runtime=engine.runtime)
    assert learning.preload_streaming(threading.Event()) is True  # its first long segment will teach it
    (tmp_path / "some").mkdir()
    (tmp_path / "some" / "x.npz").write_bytes(b"")
    some = Engine(replace(engine.config, streaming=StreamingConfig(calibration_dir=tmp_path / "some")),
                  runtime=engine.runtime)
    off = Engine(replace(engine.config, streaming=StreamingConfig(calibration_dir=tmp_path / "some", enabled=False)),
                 runtime=engine.runtime)
    assert off.preload_streaming(threading.Event()) is False
    assert some.preload_streaming(threading.Event()) is True
    assert some.runtime.window_renderer() is engine.runtime.window_renderer()


# --- statistics learnt from a voice's own speech (no calibration) ----------------------------

def _stats(rng, n, channels=(4, 3)):
    """A fake segment's statistics over n frames, with the frames themselves (to check pooling)."""
    frames = {f"/decoder/decoder/generator/n{k}/ReduceMean_output_0": rng.standard_normal((1, c, n)) * (k + 1) + k
              for k, c in enumerate(channels)}
    stats = Statistics()
    for mean, x in frames.items():
        stats[mean] = x.mean(-1, keepdims=True).astype(np.float32)
        stats[mean.replace("ReduceMean_output_0", "ReduceMean_2_output_0")] = x.var(-1, keepdims=True).astype(np.float32)
    return frames, stats


def _same(a, b):
    return a is not None and b is not None and sorted(a) == sorted(b) and all(np.allclose(a[k], b[k]) for k in a)


def _pad_moments(frames):
    """The moments `render_with_statistics` gives for pad frames: the mean under the mean's name,
    the mean of squares under the variance's."""
    out = Statistics()
    for mean, x in frames.items():
        out[mean] = x.mean(-1, keepdims=True).astype(np.float32)
        out[mean.replace("ReduceMean_output_0", "ReduceMean_2_output_0")] = (x ** 2).mean(-1, keepdims=True).astype(np.float32)
    return out


def test_learnt_statistics_pool_exactly_and_borrow_only_a_near_row():
    rng = np.random.default_rng(1)
    (a_frames, a), (b_frames, b) = _stats(rng, 50), _stats(rng, 170)
    learned = LearnedStatistics(reach=1, voices=2)
    learned.add("v", 127, 50, a)
    learned.add("v", 127, 170, b)
    pooled = learned.get("v", 127)
    for mean, x in a_frames.items():  # the pool of two renders is the statistics of both together
        together = np.concatenate([x, b_frames[mean]], axis=-1)
        np.testing.assert_allclose(pooled[mean], together.mean(-1, keepdims=True), rtol=1e-5, atol=1e-6)
        var = mean.replace("ReduceMean_output_0", "ReduceMean_2_output_0")
        np.testing.assert_allclose(pooled[var], together.var(-1, keepdims=True), rtol=1e-4, atol=1e-5)
    assert _same(pool([(50, a), (170, b)]), pooled)
    assert learned.rows("v") == {127: 220} and 0 < learned.nbytes() <= 2 * sum(v.nbytes for v in pooled.values())
    at = GRID_ROWS.index(127)
    assert _same(learned.get("v", GRID_ROWS[at + 1]), pooled) and _same(learned.get("v", GRID_ROWS[at - 1]), pooled)
    assert learned.get("v", GRID_ROWS[at + 2]) is None  # farther rows have another timbre: render whole
    assert learned.get("w", 127) is None  # statistics belong to a voice
    assert learned.get("v", 127, frames=221) is None and _same(learned.get("v", 127, frames=220), pooled)
    learned.add("v", GRID_ROWS[at + 2], 100, a)
    assert _same(learned.get("v", GRID_ROWS[at + 1]), learned.get("v", GRID_ROWS[at + 2]))  # a tie: the higher row
    assert not _same(learned.get("v", GRID_ROWS[at + 1]), pooled)
    learned.add("w", 127, 100, a, Statistics(), 0.2)  # no pad moments given: all speech
    assert _same(learned.get("w", 127, 0.3), a)
    learned.add("x", 127, 100, a)  # a third voice: the least recently used ("v") goes
    assert learned.get("v", 127) is None and learned.get("w", 127) is not None


def test_learnt_statistics_keep_the_pad_apart_and_mix_it_at_the_segments_share():
    """Two renders with pad shares of 40% and 10% teach a row; a segment whose pad is 25% of its
    frames gets the statistics of 25% pad frames and 75% speech frames (all the renders' pad
    frames and all their speech frames, each pooled), not the pool's 20%."""
    rng = np.random.default_rng(2)
    (pad_a, _), (speech_a, _), (pad_b, _), (speech_b, _) = (_stats(rng, n) for n in (40, 60, 20, 180))
    for frames in (pad_a, pad_b):  # the pad is quieter and elsewhere than the speech
        for mean in frames:
            frames[mean] = frames[mean] * 0.1 - 3.0
    learned = LearnedStatistics()
    for pad, speech in ((pad_a, speech_a), (pad_b, speech_b)):
        whole = {m: np.concatenate([pad[m], speech[m]], axis=-1) for m in pad}
        n = whole[next(iter(whole))].shape[-1]
        stats = Statistics()
        for mean, x in whole.items():
            stats[mean] = x.mean(-1, keepdims=True).astype(np.float32)
            stats[mean.replace("ReduceMean_output_0", "ReduceMean_2_output_0")] = x.var(-1, keepdims=True).astype(np.float32)
        share = pad[next(iter(pad))].shape[-1] / n
        learned.add("v", 63, n, stats, _pad_moments(pad), share)
    assert learned.rows("v") == {63: 300}
    mixed = learned.get("v", 63, 0.25)
    for mean in pad_a:
        pads = np.concatenate([pad_a[mean], pad_b[mean]], axis=-1)
        speech = np.concatenate([speech_a[mean], speech_b[mean]], axis=-1)
        mu = 0.25 * pads.mean(-1, keepdims=True) + 0.75 * speech.mean(-1, keepdims=True)
        second = 0.25 * (pads ** 2).mean(-1, keepdims=True) + 0.75 * (speech ** 2).mean(-1, keepdims=True)
        var = mean.replace("ReduceMean_output_0", "ReduceMean_2_output_0")
        np.testing.assert_allclose(mixed[mean], mu, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(mixed[var], second - mu ** 2, rtol=1e-3, atol=1e-4)
        every = np.concatenate([pads, speech], axis=-1)  # no share given: all frames together, the pool's 20%
        np.testing.assert_allclose(learned.get("v", 63)[mean], every.mean(-1, keepdims=True), rtol=1e-4, atol=1e-5)
        assert not np.allclose(mixed[mean], every.mean(-1, keepdims=True), rtol=1e-3)


def test_streaming_config_refuses_a_bad_reach():
    with pytest.raises(ValueError, match="learn_reach"):
        StreamingConfig(learn_reach=-1)
    with pytest.raises(ValueError, match="learn_min_frames"):
        StreamingConfig(learn_min_frames=0)
    with pytest.raises(ValueError, match="learn_pooled_frames"):
        StreamingConfig(learn_pooled_frames=0)


def test_the_renderer_gives_its_statistics_with_the_same_audio(engine):
    runtime = engine.runtime
    pack = engine.voice_library.get("jf_alpha").pack
    ids = engine.plan(SpeechRequest("Statistics come with every render.", voice="jf_alpha")).segments[0].token_ids[1:-1]
    planned = runtime.plan(ids, pack[len(ids) - 1], 1.0)
    audio, stats, pad = runtime.render_with_statistics(planned, pack[len(ids) - 1])
    np.testing.assert_array_equal(audio, runtime.render_planned(planned, pack[len(ids) - 1]))
    assert pad == {}  # no pad frames named, no pad moments
    # Every frame named as "pad": its moments are the render's own statistics, as moments.
    same, _, every = runtime.render_with_statistics(planned, pack[len(ids) - 1], pad=(planned.frames, 0))
    np.testing.assert_array_equal(same, audio)
    assert sorted(every) == sorted(stats)
    for mean, var in graphs.norm_pairs(list(stats)):
        np.testing.assert_allclose(every[mean], stats[mean], rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(every[var] - every[mean] ** 2, stats[var], rtol=2e-2, atol=1e-3)
    _, _, ends = runtime.render_with_statistics(planned, pack[len(ids) - 1], pad=(10, 10))
    assert sorted(ends) == sorted(stats) and not all(np.allclose(ends[k], every[k]) for k in ends)
    windows = runtime.window_renderer()
    assert sorted(stats) == sorted(windows.generator_names) and len(stats) == 88
    assert all(v.shape[0] == 1 and v.shape[2] == 1 and np.isfinite(v).all() for v in stats.values())
    assert windows.statistics_session() is runtime.renderer  # calibration loads no session of its own


@pytest.mark.slow
def test_a_voice_with_no_calibration_streams_once_its_speech_taught_it(engine, tmp_path):
    """A voice never calibrated: its first long segment renders whole (the audio of a whole
    render, bit for bit) and teaches its row; the next long segment streams window by window
    with those statistics, as close to the whole render as a calibrated voice's windows."""
    streaming = StreamingConfig(calibration_dir=tmp_path)
    eng = Engine(replace(engine.config, streaming=streaming, cache_megabytes=0, first_segment_words=1000),
                 runtime=engine.runtime)
    whole_engine = Engine(replace(eng.config, streaming=replace(streaming, enabled=False)), runtime=engine.runtime)
    request = SpeechRequest(LONG, voice="jm_kumo", accent_strength=1.0)
    whole, whole_plan, _ = _collect(whole_engine, request)
    first, plan, _ = _collect(eng, request)
    assert [s.renderer for s in plan.segments] == ["kokoro"]
    np.testing.assert_array_equal(first, whole)
    ((key, row),) = eng.wanted_calibrations()
    assert key.startswith("jm_kumo") and row == grid_row(len(plan.segments[0].token_ids) - 2)
    (learnt,) = eng.renderer.learned.rows(key).items()
    assert learnt[0] == row and learnt[1] >= plan.segments[0].samples // 600  # every frame, pads included
    second, plan, _ = _collect(eng, request)
    assert len(plan.segments) >= 3 and {s.renderer for s in plan.segments} == {"kokoro-window"}
    assert len(second) == len(whole) and not plan.report.events
    distance = log_mel_distance(second, whole)
    print(f"streamed with learnt statistics vs whole: {distance:.3f}")
    assert distance < 0.4
    stats = eng.statistics()["streaming"]
    assert stats["learned_segments"] == 1 and stats["windows"] == len(plan.segments)
    assert 50_000 < stats["learned_bytes"] < 200_000  # one grid row of one voice
    assert eng.wanted_calibrations()  # an idle moment still calibrates it properly
    off = Engine(replace(eng.config, streaming=replace(streaming, learn=False)), runtime=engine.runtime)
    for _ in range(2):
        _, plan, _ = _collect(off, request)
        assert [s.renderer for s in plan.segments] == ["kokoro"]


TAUGHT = ("She reads the letter again, slowly.", "Tomorrow we meet at half past three.",
          "Seven people waited outside the station.", "Please close the door when you leave.",
          "I think I left the oven on.", "I put the rubbish out last night.")


@pytest.mark.slow
def test_a_short_sentence_streams_once_a_few_sentences_taught_its_row(engine, tmp_path):
    """Short segments (64 frames on) of a voice never calibrated render whole and teach their
    row, each render's pad kept apart from its speech; once the row pooled `learn_pooled_frames`,
    a short sentence streams in windows, its first window early, close to its whole render."""
    streaming = StreamingConfig(calibration_dir=tmp_path)
    eng = Engine(replace(engine.config, streaming=streaming, cache_megabytes=0, first_segment_words=1000),
                 runtime=engine.runtime)
    whole_engine = Engine(replace(eng.config, streaming=replace(streaming, enabled=False, cut_pads=False)),
                          runtime=engine.runtime)
    target = SpeechRequest("The weather today is mostly sunny.", voice="af_heart")
    for text in TAUGHT:
        _, plan, _ = _collect(eng, SpeechRequest(text, voice="af_heart"))
        assert [s.renderer for s in plan.segments] == ["kokoro"] and not plan.report.events
        assert sum(plan.segments[0].durations) < 160  # short: under the old threshold
    key = eng.conditioner.voice_for(eng.voice_library.get("af_heart"), get_locale("en-US"), None).key
    rows = eng.renderer.learned.rows(key)
    assert max(rows.values()) >= streaming.learn_pooled_frames  # a row pooled several short sentences
    streamed, plan, _ = _collect(eng, target)
    assert len(plan.segments) >= 2 and {s.renderer for s in plan.segments} == {"kokoro-window"}
    assert not plan.report.events and eng.statistics()["streaming"]["learned_segments"] == 1
    whole, whole_plan, _ = _collect(whole_engine, target)
    assert len(streamed) == len(whole) and plan.segments[0].samples < len(whole) // 2  # the first window is early
    distance = log_mel_distance(streamed, whole)
    print(f"short sentence streamed on learnt statistics vs whole: {distance:.3f}")
    assert distance < 0.4  # measured 0.21-0.37 over five voices
    # A row that pooled less than `learn_pooled_frames` renders whole (and goes on teaching).
    strict = Engine(replace(eng.config, streaming=replace(streaming, learn_pooled_frames=100_000)), runtime=engine.runtime)
    strict.renderer.learned = eng.renderer.learned
    _, plan, _ = _collect(strict, target)
    assert [s.renderer for s in plan.segments] == ["kokoro"]


@pytest.mark.slow
def test_bench_learn_prints_learning_against_whole_renders(engine, monkeypatch, capsys):
    from engine import bench_learn

    monkeypatch.setattr(bench_learn, "PARAGRAPH", (LONG, LONG))
    rows = bench_learn.bench_say_all(voice="jm_kumo", engine=engine)
    assert [r["windows"] for r in rows][0] == 0 and rows[1]["windows"] >= 2  # taught by the first
    assert rows[0]["distance"] == 0.0 and 0.0 < rows[1]["distance"] < 0.4
    out = capsys.readouterr().out
    assert "learning from speech on against off" in out and "learnt rows" in out


class _Teaching:
    """The real runtime, but its whole renders with statistics come back silent, or with NaN statistics."""

    def __init__(self, real, broken: str):
        self.real, self.broken = real, broken

    def __getattr__(self, name):
        return getattr(self.real, name)

    def render_with_statistics(self, plan, style, run_options=None, pad=(0, 0)):
        audio, stats, pad_moments = self.real.render_with_statistics(plan, style, run_options, pad)
        if self.broken == "silent":
            return np.zeros_like(audio), stats, pad_moments
        nan = {k: np.full_like(v, np.nan) for k, v in stats.items()}
        return audio, nan, {k: np.full_like(v, np.nan) for k, v in pad_moments.items()}


@pytest.mark.slow
@pytest.mark.parametrize("broken", ["silent", "nan"])
def test_a_render_that_fails_its_checks_teaches_nothing(engine, tmp_path, broken):
    streaming = StreamingConfig(calibration_dir=tmp_path)
    eng = Engine(replace(engine.config, streaming=streaming, cache_megabytes=0, first_segment_words=1000),
                 runtime=_Teaching(engine.runtime, broken))
    _, plan, _ = _collect(eng, SpeechRequest(LONG, voice="jm_kumo", accent_strength=1.0))
    (key,) = {key for key, _ in eng.wanted_calibrations()}  # one voice, the segment's row and its halves'
    assert eng.renderer.learned.rows(key) == {} and eng.renderer.learned.nbytes() == 0
    assert [w.text for w in plan.words] == LONG.replace(",", "").replace(".", "").split()  # nothing lost
    if broken == "silent":
        assert plan.report.events  # the ladder took over; a silent render taught no statistics
    else:
        assert not plan.report.events and {s.renderer for s in plan.segments} == {"kokoro"}


def test_render_peaks_grow_with_the_segment(capsys):
    from engine.bench_learn import render_peaks

    short, longer = render_peaks((20, 80))
    assert short["frames"] < longer["frames"]
    assert longer["peak_mib"] - longer["before_mib"] > short["peak_mib"] - short["before_mib"] > 0
    assert "one whole render, memory pattern on" in capsys.readouterr().out
