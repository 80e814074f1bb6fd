"""Planner + renderer graphs cut from the stock int8 graph (onnx only, no torch) and chunked rendering.

Measured (docs/model.md): planner + renderer reproduce the single graph bit for bit. Rendering in
windows does not: the renderer's instance norms see only their window. Log-mel distance to the
whole render, 204-frame utterance: 80-frame chunks with 40 frames of context and a 10-frame
cross-fade 0.46 (joins 0.41); 40-frame chunks with no context 1.38 (joins 2.95).
On this file's shorter phrase (two 80-frame chunks) 0.39 with context and 0.35 without.
"""

from __future__ import annotations

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")

from engine import graphs, model_store  # noqa: E402
from engine.model_store import ModelStoreConfig  # noqa: E402
from engine.train.spectral import log_mel_distance  # noqa: E402

pytestmark = pytest.mark.slow
PHRASE = "ðə kwˈɪk bɹˈaʊn fˈɑːks dʒˈʌmps ˌoʊvɚ ðə lˈeɪzi dˈɑːɡ."


def _session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    config = ModelStoreConfig(cache_dir=tmp_path_factory.mktemp("cache"))
    planner, renderer = graphs.ensure_split_models(config)
    assert graphs.ensure_split_models(config) == (planner, renderer)  # second call reuses the cache
    return _session(planner), _session(renderer), _session(model_store.ensure_model())


@pytest.fixture(scope="module")
def run(sessions):
    planner, renderer, whole = sessions
    vocab = model_store.load_vocab()
    ids = [vocab[c] for c in PHRASE if c in vocab]
    style = np.load(str(model_store.voices_file()))["jm_kumo"][len(ids) - 1].astype(np.float32)
    feeds = {model_store.INPUT_TOKENS: np.array([[0, *ids, 0]], np.int64), model_store.INPUT_STYLE: style,
             model_store.INPUT_SPEED: np.array([1.0], np.float32)}
    whole_audio, whole_durations = whole.run([model_store.OUTPUT_AUDIO, model_store.OUTPUT_DURATIONS], feeds)
    plan = dict(zip(graphs.PLANNER_OUTPUTS, planner.run(list(graphs.PLANNER_OUTPUTS), feeds)))

    def render(features, f0, energy):
        return renderer.run([model_store.OUTPUT_AUDIO], {graphs.PLAN_FEATURES: features, graphs.PLAN_F0: f0,
                                                         graphs.PLAN_ENERGY: energy, model_store.INPUT_STYLE: style})[0]

    audio = render(plan[graphs.PLAN_FEATURES], plan[graphs.PLAN_F0], plan[graphs.PLAN_ENERGY])
    return dict(plan=plan, audio=audio, render=render, whole_audio=whole_audio, whole_durations=whole_durations)


def test_split_graph_io_names(sessions):
    planner, renderer, _ = sessions
    assert tuple(i.name for i in planner.get_inputs()) == graphs.PLANNER_INPUTS
    assert tuple(o.name for o in planner.get_outputs()) == graphs.PLANNER_OUTPUTS
    assert sorted(i.name for i in renderer.get_inputs()) == sorted(graphs.RENDERER_INPUTS)
    assert tuple(o.name for o in renderer.get_outputs()) == graphs.RENDERER_OUTPUTS


def test_planner_then_renderer_equals_single_graph(run):
    plan = run["plan"]
    np.testing.assert_array_equal(plan[graphs.PLAN_DURATIONS], run["whole_durations"])
    frames = int(plan[graphs.PLAN_DURATIONS].sum())
    assert plan[graphs.PLAN_FEATURES].shape == (1, 512, frames)
    assert plan[graphs.PLAN_F0].shape == plan[graphs.PLAN_ENERGY].shape == (1, 2 * frames)
    np.testing.assert_allclose(run["audio"], run["whole_audio"], rtol=0, atol=1e-6)


def test_plan_windows_cover_every_frame_once():
    for frames in (1, 39, 40, 41, 204):
        windows = graphs.plan_windows(frames, chunk_frames=40, context_frames=20, crossfade_frames=5)
        assert windows[0].keep_start == 0 and windows[-1].keep_stop == frames
        for w in windows:
            assert 0 <= w.start <= w.keep_start < w.keep_stop <= w.stop <= frames
        for prev, nxt in zip(windows, windows[1:]):
            assert prev.keep_stop - nxt.keep_start == 10  # the two ramps overlap exactly
    with pytest.raises(ValueError):
        graphs.plan_windows(100, chunk_frames=40, context_frames=2, crossfade_frames=5)


def test_chunked_rendering_distance(run):
    plan, audio = run["plan"], run["audio"]
    args = (run["render"], plan[graphs.PLAN_FEATURES], plan[graphs.PLAN_F0], plan[graphs.PLAN_ENERGY])
    one_window = graphs.render_in_windows(*args, chunk_frames=10_000)
    np.testing.assert_array_equal(one_window, audio)
    with_context = log_mel_distance(graphs.render_in_windows(*args, 80, 40, 10), audio)
    without = log_mel_distance(graphs.render_in_windows(*args, 80, 0, 0), audio)
    # Measured on PHRASE (two 80-frame chunks): 0.39 with context, 0.35 without; for reference, the
    # torch port vs onnxruntime scores 0.19 and another voice 1+. Not seamless yet: see docs/model.md.
    assert with_context < 0.6, with_context
    assert without < 0.8, without
