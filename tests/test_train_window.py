"""A renderer fed whole-utterance instance-norm statistics and the source phase renders windows
that join seamlessly (onnx only, no torch).

Measured (docs/model.md), int8 graph, 40-frame chunks with 16 frames of context, log-mel distance
to the whole render (whole / worst join): on this file's PHRASE (jm_kumo) 0.16 / 0.26 with the
statistics, 0.69 / 1.18 without (the plain renderer on the same windows); on a 230-frame jf_alpha
utterance 0.21 / 0.24. What remains is the int8 graph's per-window activation ranges: the same
windows in float torch are exact (tests/test_train_streaming.py).
"""

from __future__ import annotations

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from engine import graphs, model_store  # noqa: E402
from engine.runtime import KokoroRuntime, RuntimeConfig  # noqa: E402
from engine.train.spectral import log_mel_distance  # noqa: E402

pytestmark = pytest.mark.slow
PHRASE = "ðə kwˈɪk bɹˈaʊn fˈɑːks dʒˈʌmps ˌoʊvɚ ðə lˈeɪzi dˈɑːɡ."
CHUNK, CONTEXT = 40, 16


def _session(model_bytes):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def case():
    runtime = KokoroRuntime(model_store.ensure_model(), RuntimeConfig(use_gpu=False))
    renderer = graphs.ensure_split_models()[1].read_bytes()
    stats_bytes, names = graphs.statistics_renderer(renderer)
    window_bytes, order = graphs.window_renderer(renderer)
    assert sorted(names) == sorted(order) and len(order) == 108  # 54 norms: mean and variance each
    vocab = model_store.load_vocab()
    ids = [vocab[c] for c in PHRASE if c in vocab]
    style = np.load(str(model_store.voices_file()))["jm_kumo"][len(ids) - 1].astype(np.float32).reshape(1, -1)
    plan = runtime.plan(ids, style, 1.0)
    feeds = {graphs.PLAN_FEATURES: plan.features, graphs.PLAN_F0: plan.f0, graphs.PLAN_ENERGY: plan.energy,
             model_store.INPUT_STYLE: style}
    stats = _session(stats_bytes)
    outs = dict(zip([o.name for o in stats.get_outputs()], stats.run(None, feeds)))
    whole = runtime.render_planned(plan, style)
    return dict(runtime=runtime, plan=plan, style=style, outs=outs, order=order, whole=whole,
                window=_session(window_bytes))


def _window(case, lo, hi):
    plan, outs = case["plan"], case["outs"]
    phase = outs[graphs.STOCK_PHASE]  # (1, steps, 9): cycles integrated so far, per harmonic
    feeds = {graphs.PLAN_FEATURES: plan.features[..., lo:hi], graphs.PLAN_F0: plan.f0[..., 2 * lo:2 * hi],
             graphs.PLAN_ENERGY: plan.energy[..., 2 * lo:2 * hi], model_store.INPUT_STYLE: case["style"],
             graphs.PLAN_PHASE_OFFSET: phase[:, 2 * lo - 1:2 * lo] if lo else np.zeros_like(phase[:, :1])}
    feeds.update({name: outs[name] for name in case["order"]})
    return case["window"].run([model_store.OUTPUT_AUDIO], feeds)[0].reshape(-1)


def _distances(audio, whole, frames):
    joins = [log_mel_distance(audio[(a - 8) * 600:(a + 8) * 600], whole[(a - 8) * 600:(a + 8) * 600])
             for a in range(CHUNK, frames, CHUNK)]
    return log_mel_distance(audio, whole), max(joins)


def test_whole_window_with_its_own_statistics_is_the_whole_render(case):
    np.testing.assert_array_equal(case["outs"][model_store.OUTPUT_AUDIO].reshape(-1), case["whole"])
    np.testing.assert_array_equal(_window(case, 0, case["plan"].frames), case["whole"])


def test_windows_with_whole_statistics_join_seamlessly(case):
    frames, whole = case["plan"].frames, case["whole"]
    out = np.zeros_like(whole)
    for a in range(0, frames, CHUNK):
        b = min(frames, a + CHUNK)
        lo, hi = max(0, a - CONTEXT), min(frames, b + CONTEXT)
        out[a * 600:b * 600] = _window(case, lo, hi)[(a - lo) * 600:(b - lo) * 600]
    seamless = _distances(out, whole, frames)

    def plain(features, f0, energy):
        return case["runtime"].render_planned(type(case["plan"])(case["plan"].durations, features, f0, energy),
                                              case["style"])

    p = case["plan"]
    windowed = graphs.render_in_windows(plain, p.features, p.f0, p.energy, CHUNK, CONTEXT, 0)
    baseline = _distances(windowed, whole, frames)
    print(f"with statistics {seamless}, without {baseline}")
    assert seamless[0] < 0.3 and seamless[1] < 0.35, seamless  # int8 parity floor is about 0.15-0.2
    assert baseline[0] > 1.5 * seamless[0], (baseline, seamless)
