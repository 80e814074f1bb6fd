"""The conditioning seam (engine/conditioning.py): one place turns (voice, locale, length, accent
strength) into the style the model reads, and every path takes it from there: the planner and the
renderer of a whole segment, the window renderer, calibration and both caches' keys.

A stand-in runtime records every style it is handed, so these tests run without the model."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest

from engine.api import SpeechRequest
from engine.conditioning import TIMBRE, Conditioner, pack_row
from engine.config import EngineConfig
from engine.locales import get_locale
from engine.runtime import PlannerOutput
from engine.streaming import CalibrationStore, Statistics, StreamingConfig, grid_row
from engine.synth import Engine
from engine.voices import VoiceLibrary

LONG = ("Reading a long paragraph aloud, the screen reader should start speaking almost at once, "
        "without waiting for the whole sentence to be rendered by the model.")


def accent(voice, tag, strength):
    """A test accent: moves the pack's timbre half by an amount that depends on locale and strength
    (strength 1 is the voice's own)."""
    pack = np.array(voice.pack, copy=True)
    pack[:, TIMBRE] += (0.05 if tag == "fr-FR" else 0.02) * (0.5 if strength is None else 1.0 - strength)
    return replace(voice, pack=pack, accent=f"{tag}@{strength}")


class RecordingRuntime:
    """Plans 3 frames a token, renders noise, and records the style of every call."""

    frame_samples = 600
    providers = ["stand-in"]

    def __init__(self):
        self.calls: list[tuple[str, int, np.ndarray]] = []

    @staticmethod
    def run_options():
        return type("Options", (), {"terminate": False})()

    def plan(self, ids, style, speed, run_options=None):
        self.calls.append(("plan", len(ids), np.array(style)))
        durations = np.array([4] + [3] * len(ids) + [5], dtype=np.int64)
        frames = int(durations.sum())
        return PlannerOutput(durations, np.zeros((1, 512, frames), np.float32), np.zeros((1, 2 * frames), np.float32),
                             np.zeros((1, 2 * frames), np.float32))

    def render_planned(self, plan, style, run_options=None):
        self.calls.append(("render", plan.frames, np.array(style)))
        return (0.2 * np.random.default_rng(plan.frames).standard_normal(600 * plan.frames)).astype(np.float32)

    # The window renderer's side, as engine/streaming.py's WindowRenderer.
    def window_renderer(self):
        return self

    def prepare(self, plan, style, generator, run_options=None, adapter=None):
        assert adapter is None
        self.calls.append(("prepare", plan.frames, np.array(style)))
        return plan

    def render(self, prepared, start, stop, context, run_options=None):
        return self.render_planned(prepared, None)[600 * start:600 * stop]

    def statistics_session(self):
        return object()

    def sentence_statistics(self, runtime, session, style, index, vocab, run_options=None):
        self.calls.append(("calibrate", index, np.array(style)))
        return 10, Statistics({"mean": np.zeros((1, 2, 1), np.float32)})

    def pool(self, parts):
        return Statistics({"mean": np.zeros((1, 2, 1), np.float32)})


class RecordingCalibration:
    """Every grid row calibrated; records what it was asked for."""

    def __init__(self):
        self.asked: list[tuple[str, int]] = []

    def get(self, conditioning, row):
        self.asked.append((conditioning.digest, row))
        return Statistics()


@pytest.fixture(scope="module")
def voices():
    return VoiceLibrary()


def old_style_row(pack: np.ndarray, n_ids: int) -> np.ndarray:
    """The style every path read before the seam existed: the pack's row for n ids."""
    row = min(max(n_ids, 1), len(pack)) - 1
    return pack[row:row + 1]


@pytest.mark.parametrize("strength", [None, 1.0, 0.0, 0.4])
def test_without_accent_data_the_style_is_the_old_pack_row_bit_for_bit(voices, strength):
    voice, locale = voices.get("jf_alpha"), get_locale("fr-FR")
    for n in (1, 12, 300, 509, 510, 600):
        conditioning = Conditioner().condition(voice, locale, n, strength)
        old = old_style_row(voice.pack, n)
        assert conditioning.style.dtype == np.float32 and conditioning.style.shape == (1, 256)
        assert conditioning.style.tobytes() == old.tobytes()
        assert conditioning.adapter is None
        # The digest is the hash calibration files were named by: existing calibrations stay valid.
        assert conditioning.digest == hashlib.sha256(np.ascontiguousarray(old[0]).tobytes()).hexdigest()[:16]
    assert np.array_equal(conditioning.timbre, old[:, :128]) and np.array_equal(conditioning.prosody, old[:, 128:])


def test_the_accent_hook_moves_only_the_timbre_and_changes_the_identity(voices):
    voice, locale = voices.get("jf_alpha"), get_locale("fr-FR")
    plain = Conditioner().condition(voice, locale, 40, 0.3)
    accented = Conditioner(accent=accent).condition(voice, locale, 40, 0.3)
    assert np.array_equal(accented.prosody, plain.prosody)
    assert np.allclose(accented.timbre - plain.timbre, 0.05 * 0.7)
    assert accented.digest != plain.digest
    # Strength 1 is the voice's own timbre under this accent function: the same bytes again.
    assert Conditioner(accent=accent).condition(voice, locale, 40, 1.0).digest == plain.digest
    # The voice on its own (locale None) is never accented.
    assert Conditioner(accent=accent).condition(voice, None, 40, 0.3).digest == plain.digest


def test_an_adapter_is_named_by_the_locale_only_when_loaded_and_enters_the_identity(voices):
    voice = voices.get("jf_alpha")
    conditioner = Conditioner(adapters=["fr-FR"])
    french, german = conditioner.condition(voice, get_locale("fr-FR"), 40), conditioner.condition(voice, get_locale("de-DE"), 40)
    assert french.adapter == "fr-FR" and german.adapter is None
    assert np.array_equal(french.style, german.style) and french.digest != german.digest


def test_a_bare_pack_row_keys_the_calibration_store_as_the_seam_does(voices, tmp_path):
    voice = voices.get("jf_alpha")
    store = CalibrationStore(tmp_path)
    seam = Conditioner().condition(voice, None, 40)
    assert store.key(voice.pack, 39) == store.key(seam, 39) == store.key(pack_row(voice.pack, 39), 39)
    assert store.key(voice.pack, 39).endswith("-r39-" + seam.digest)
    kokoro_layout = voice.pack[:, None, :]  # (510, 1, 256)
    assert pack_row(kokoro_layout, 39).digest == seam.digest


def _engine(conditioner=None, **config) -> tuple[Engine, RecordingRuntime]:
    runtime = RecordingRuntime()
    config.setdefault("disk_cache_megabytes", 0)  # the recording runtime must see every call
    return Engine(EngineConfig(**config), runtime=runtime, conditioner=conditioner), runtime


def test_every_path_receives_the_same_conditioning(voices, tmp_path):
    """Whole render, render-cache key, window renderer and calibration key all carry what the
    seam gives for (voice, locale, length, strength), accented here so a bypass would show."""
    conditioner = Conditioner(accent=accent)
    voice, locale, strength = voices.get("jf_alpha"), get_locale("fr-FR"), 0.3
    engine, runtime = _engine(conditioner, streaming=StreamingConfig(calibration_dir=tmp_path))

    # A short segment: planner and renderer get the seam's style, and the cache is keyed by it.
    request = SpeechRequest("Bonjour.", locale="fr-FR", voice="jf_alpha", accent_strength=strength)
    engine.synthesize(request)
    (plan_call,) = [c for c in runtime.calls if c[0] == "plan"]
    expected = conditioner.condition(voice, locale, plan_call[1], strength)
    assert [c[0] for c in runtime.calls] == ["plan", "render"]
    for _, _, style in runtime.calls:
        assert style.tobytes() == expected.style.tobytes()
    assert [key[1] for key in engine.cache._items] == [expected.digest]
    hits = engine.cache.hits
    engine.synthesize(request)
    assert engine.cache.hits == hits + 1  # the same conditioning: served from the cache
    misses = engine.cache.misses
    engine.synthesize(replace(request, accent_strength=0.6))
    assert engine.cache.misses == misses + 1  # another strength is another conditioning, never a stale hit

    # A long segment in windows: the grid row's conditioning reaches the calibration look-up and
    # the window renderer; the plan keeps the segment's own.
    runtime.calls.clear()
    engine = Engine(replace(engine.config, first_segment_words=1000), runtime=runtime, conditioner=conditioner)
    engine.calibration = calibration = RecordingCalibration()
    _, plan = engine.synthesize(SpeechRequest(LONG, locale="fr-FR", voice="jf_alpha", accent_strength=strength))
    assert {s.renderer for s in plan.segments} == {"kokoro-window"}
    (plan_call,) = [c for c in runtime.calls if c[0] == "plan"]
    (prepare_call,) = [c for c in runtime.calls if c[0] == "prepare"]
    row = grid_row(plan_call[1])
    grid = conditioner.condition(voice, locale, row + 1, strength)
    assert plan_call[2].tobytes() == conditioner.condition(voice, locale, plan_call[1], strength).style.tobytes()
    assert prepare_call[2].tobytes() == grid.style.tobytes()
    assert calibration.asked == [(grid.digest, row)]
    assert grid.digest != Conditioner().condition(voice, locale, row + 1).digest


def test_calibration_renders_and_stores_the_grid_rows_conditioning(voices, tmp_path):
    engine, runtime = _engine(streaming=StreamingConfig(calibration_dir=tmp_path))
    voice = voices.get("jf_alpha")
    assert engine.calibrate("jf_alpha", (39,)) == 1
    grid = engine.conditioner.condition(voice, None, 40)
    styles = [style for name, _, style in runtime.calls if name == "calibrate"]
    assert len(styles) == 6 and all(style.tobytes() == voice.pack[39:40].tobytes() for style in styles)
    assert [p.stem for p in tmp_path.iterdir()] == [engine.calibration.key(grid, 39)]
    assert engine.calibration.get(voice.pack, 39) is not None
