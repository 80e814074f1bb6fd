"""The runtime on the split planner/renderer graphs against the single stock graph.

Measured (docs/model.md, 2-core CPU): durations identical and audio bit for bit equal (max |diff|
0.0) on every input and voice below; per call the split pair costs the same as the single graph.
`python -c "from tests.test_runtime_split import bench; print(bench())"` prints the timings.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from engine import model_store  # noqa: E402
from engine.errors import ModelError  # noqa: E402
from engine.runtime import KokoroRuntime, PlannerOutput, RuntimeConfig  # noqa: E402

PHRASES = (
    "ðə kwˈɪk bɹˈaʊn fˈɑːks dʒˈʌmps ˌoʊvɚ ðə lˈeɪzi dˈɑːɡ.",
    "hˈɛloʊ!",
    "kˈæn juː hˈɪɹ miː? ðɪs ɪz ɐ lˈɔŋɡɚ sˈɛntəns, wɪð ɐ kˈɑːmə ænd ɐ kwˈɛstʃən.",
)
VOICES = ("jf_alpha", "jm_kumo")
AUDIO_TOLERANCE = 0.0
"""Max |split - single| allowed: the split graphs are the stock graph's own nodes, measured equal."""


def _ids(phrase: str) -> list[int]:
    vocab = model_store.load_vocab()
    return [vocab[c] for c in phrase if c in vocab]


def _style(voice: str, n: int) -> np.ndarray:
    return np.load(str(model_store.voices_file()))[voice][n - 1].astype(np.float32)


def _runtimes(layouts=("split", "single"), threads: int = 2) -> dict[str, KokoroRuntime]:
    path = model_store.ensure_model()
    return {g: KokoroRuntime(path, RuntimeConfig(threads=threads, use_gpu=False, graphs=g)) for g in layouts}


@pytest.fixture(scope="module")
def runtimes():
    return _runtimes()


@pytest.mark.parametrize("voice", VOICES)
@pytest.mark.parametrize("phrase", PHRASES)
def test_split_runtime_equals_single_graph(runtimes, phrase, voice):
    ids = _ids(phrase)
    style = _style(voice, len(ids))
    speed = 1.0 if voice == VOICES[0] else 1.6
    split = runtimes["split"].render(ids, style, speed)
    single = runtimes["single"].render(ids, style, speed)
    np.testing.assert_array_equal(split.durations, single.durations)
    assert split.audio.shape == single.audio.shape == (600 * int(single.durations.sum()),)
    assert float(np.abs(split.audio - single.audio).max()) <= AUDIO_TOLERANCE
    assert float(np.abs(single.audio).max()) > 0.05  # real speech, not silence on both sides


def test_plan_is_the_renderers_input(runtimes):
    ids = _ids(PHRASES[0])
    style = _style("jf_alpha", len(ids))
    plan = runtimes["split"].plan(ids, style, 1.0)
    frames = int(plan.durations.sum())
    assert isinstance(plan, PlannerOutput) and plan.frames == frames
    assert plan.durations.dtype == np.int64 and plan.durations.shape == (len(ids) + 2,) and plan.durations.min() >= 1
    assert plan.features.shape == (1, 512, frames) and plan.f0.shape == plan.energy.shape == (1, 2 * frames)
    assert 60 < float(np.median(plan.f0[plan.f0 > 10])) < 500  # Hz
    audio = runtimes["split"].render_planned(plan, style)
    np.testing.assert_array_equal(audio, runtimes["split"].render(ids, style, 1.0).audio)
    # The renderer follows the plan it is given: a flattened pitch curve changes the audio.
    flat = PlannerOutput(plan.durations, plan.features, np.full_like(plan.f0, 120.0), plan.energy)
    assert float(np.abs(runtimes["split"].render_planned(flat, style) - audio).max()) > 0.05
    with pytest.raises(ValueError):
        runtimes["split"].render_planned(PlannerOutput(plan.durations, plan.features, plan.f0[:, :-2], plan.energy), style)


def test_single_layout_has_no_plan_and_bad_layout_is_refused(runtimes):
    with pytest.raises(ModelError):
        runtimes["single"].plan([1, 2, 3], _style("jf_alpha", 3), 1.0)
    with pytest.raises(ValueError, match="'both'"):
        RuntimeConfig(graphs="both")
    assert RuntimeConfig().graphs == "split"


def bench(repeats: int = 5, threads: int = 2) -> dict[str, float]:
    """Load time and median per-call seconds of each layout (and of planner / renderer alone),
    on PHRASES[2] with jf_alpha; alternating calls so both layouts see the same machine load."""
    out = {}
    for layout in ("split", "single"):
        started = time.perf_counter()
        _runtimes((layout,), threads)
        out[f"load_{layout}_s"] = round(time.perf_counter() - started, 3)
    rts = _runtimes(threads=threads)
    ids = _ids(PHRASES[2])
    style = _style("jf_alpha", len(ids))
    timings: dict[str, list[float]] = {"split": [], "single": [], "planner": [], "renderer": []}
    for layout in ("split", "single"):
        rts[layout].render(ids, style, 1.0)  # warm-up
    for _ in range(repeats):
        for layout in ("split", "single"):
            started = time.perf_counter()
            rts[layout].render(ids, style, 1.0)
            timings[layout].append(time.perf_counter() - started)
        started = time.perf_counter()
        plan = rts["split"].plan(ids, style, 1.0)
        timings["planner"].append(time.perf_counter() - started)
        started = time.perf_counter()
        rts["split"].render_planned(plan, style)
        timings["renderer"].append(time.perf_counter() - started)
    out.update({f"call_{k}_s": round(float(np.median(v)), 4) for k, v in timings.items()})
    out["audio_s"] = round(600 * int(plan.durations.sum()) / 24000, 3)
    return out
