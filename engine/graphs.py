"""Split planner/renderer graphs cut out of the stock Kokoro int8 ONNX, and their tensor names.

The stock graph already separates the two stages (`/encoder/...` and `/decoder/...`); the tensors
crossing between them are the duration-aligned text features, the F0 and energy curves and the
style. `ensure_split_models` cuts the graph there with `onnx.utils.extract_model` (no torch, so
the runtime can build them on first use) and renames the boundary tensors to the names below,
which the runtime, the export code and the tests share.

    planner:  tokens [1, T] int64, style [1, 256], speed [1]
              -> durations [1, T] (frames of 600 samples, pads included), aligned_features
                 [1, 512, F], f0 [1, 2F] (Hz), energy [1, 2F]      (F = durations.sum())
    renderer: aligned_features [1, 512, F'], f0 [1, 2F'], energy [1, 2F'], style [1, 256]
              -> audio [600 F']

The renderer takes any window of frames F' (chunked rendering, `render_in_windows`), but its
instance norms and harmonic source see only the window, so windows need context frames and a
cross-fade to match a whole render (numbers in docs/model.md).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import model_store
from .model_store import (FRAME_SAMPLES, INPUT_SPEED, INPUT_STYLE, INPUT_TOKENS, OUTPUT_AUDIO,
                          OUTPUT_DURATIONS, ModelStoreConfig, STOCK_DURATION_TENSOR)
from .errors import ModelError

PLAN_FEATURES = "aligned_features"
"""float32 [1, 512, F]: text-encoder features repeated along the durations."""
PLAN_F0 = "f0"
"""float32 [1, 2F]: pitch in Hz at twice the frame rate (below 10 Hz is unvoiced)."""
PLAN_ENERGY = "energy"
"""float32 [1, 2F]: energy curve at twice the frame rate."""
PLAN_DURATIONS = OUTPUT_DURATIONS
"""float32 [1, T]: frames per token, integer-valued, each >= 1."""
PLAN_RAW_DURATIONS = "durations_float"
"""float32 [1, T]: frames per token before the graph's Round and Clip(min=1) (the adapted planner
has it as an extra output, for guidance: engine/guidance.py)."""
STOCK_RAW_DURATIONS = "/encoder/Div_output_0"

# Where the stock graph crosses from planner to renderer.
STOCK_FEATURES = "/encoder/MatMul_1_output_0"
STOCK_F0 = "/encoder/Reshape_output_0"
STOCK_ENERGY = "/encoder/Reshape_1_output_0"

PLANNER_INPUTS = (INPUT_TOKENS, INPUT_STYLE, INPUT_SPEED)
PLANNER_OUTPUTS = (PLAN_DURATIONS, PLAN_FEATURES, PLAN_F0, PLAN_ENERGY)
RENDERER_INPUTS = (PLAN_FEATURES, PLAN_F0, PLAN_ENERGY, INPUT_STYLE)
RENDERER_OUTPUTS = (OUTPUT_AUDIO,)
PLANNER_MODEL_NAME = "kokoro-v1.0-int8-planner.onnx"
RENDERER_MODEL_NAME = "kokoro-v1.0-int8-renderer.onnx"
F0_STEPS_PER_FRAME = 2


def _rename_outputs(model, renames: dict[str, str]) -> None:
    import onnx

    for old, new in renames.items():
        model.graph.node.append(onnx.helper.make_node("Identity", [old], [new], name=f"echoic_{new}"))
    kept = [o for o in model.graph.output if o.name not in renames]
    del model.graph.output[:]
    model.graph.output.extend(kept)
    for new in renames.values():
        model.graph.output.append(onnx.helper.make_tensor_value_info(new, onnx.TensorProto.FLOAT, None))


def _rename_inputs(model, renames: dict[str, str]) -> None:
    for node in model.graph.node:
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]
    for value in model.graph.input:
        if value.name in renames:
            value.name = renames[value.name]


def split_stock_graph(model_bytes: bytes) -> tuple[bytes, bytes]:
    """(planner, renderer) ONNX bytes cut out of the stock graph (`read_stock_model()` bytes)."""
    import onnx
    import onnx.utils

    with tempfile.TemporaryDirectory() as tmp:
        whole, planner_path, renderer_path = (Path(tmp) / n for n in ("whole.onnx", "planner.onnx", "renderer.onnx"))
        whole.write_bytes(model_bytes)
        stock_out = [STOCK_DURATION_TENSOR, STOCK_FEATURES, STOCK_F0, STOCK_ENERGY]
        onnx.utils.extract_model(str(whole), str(planner_path), list(PLANNER_INPUTS), stock_out, check_model=False)
        onnx.utils.extract_model(str(whole), str(renderer_path), [STOCK_FEATURES, STOCK_F0, STOCK_ENERGY, INPUT_STYLE],
                                 [OUTPUT_AUDIO], check_model=False)
        planner, renderer = onnx.load(str(planner_path)), onnx.load(str(renderer_path))
    _rename_outputs(planner, dict(zip(stock_out, PLANNER_OUTPUTS)))
    _rename_inputs(renderer, {STOCK_FEATURES: PLAN_FEATURES, STOCK_F0: PLAN_F0, STOCK_ENERGY: PLAN_ENERGY})
    for model, inputs in ((planner, PLANNER_INPUTS), (renderer, RENDERER_INPUTS)):
        found = tuple(i.name for i in model.graph.input)
        if sorted(found) != sorted(inputs):
            raise ModelError(f"split graph has inputs {found}, expected {inputs}: not the Kokoro v1.0 layout?")
    return planner.SerializeToString(), renderer.SerializeToString()


def ensure_split_models(config: ModelStoreConfig | None = None) -> tuple[Path, Path]:
    """Paths of the planner and renderer graphs in the model cache, cutting them on first use."""
    config = config or ModelStoreConfig()
    stamp = model_store.expected_sha256()[:16]
    planner = Path(config.cache_dir) / f"{stamp}-{PLANNER_MODEL_NAME}"
    renderer = Path(config.cache_dir) / f"{stamp}-{RENDERER_MODEL_NAME}"
    if planner.exists() and renderer.exists():
        return planner, renderer
    planner_bytes, renderer_bytes = split_stock_graph(model_store.read_stock_model())
    model_store.write_atomically(planner, planner_bytes)
    model_store.write_atomically(renderer, renderer_bytes)
    return planner, renderer


@dataclass(frozen=True)
class Window:
    """One renderer call: frames [start, stop) rendered, of which [keep_start, keep_stop) is kept."""

    start: int
    stop: int
    keep_start: int
    keep_stop: int


def context_span(frames: int, start: int, stop: int, context: int) -> tuple[int, int]:
    """The frames that frames [start, stop) of a plan of `frames` frames are rendered over:
    `context` more either side, within the plan (a window, a pad cut, `render_frames`)."""
    return max(0, start - context), min(frames, stop + context)


def plan_windows(frames: int, chunk_frames: int, context_frames: int, crossfade_frames: int) -> list[Window]:
    """Cover [0, frames) with chunks of `chunk_frames`, each rendered with `context_frames` of
    context on both sides and kept `crossfade_frames` past its edges (for the cross-fade)."""
    if chunk_frames < 1 or context_frames < 0 or not 0 <= crossfade_frames <= context_frames:
        raise ValueError(f"bad windowing: chunk {chunk_frames}, context {context_frames}, crossfade {crossfade_frames}")
    starts = list(range(0, frames, chunk_frames))
    if len(starts) > 1 and frames - starts[-1] <= 2 * crossfade_frames:
        starts.pop()  # a last chunk shorter than the cross-fade joins the one before it
    windows = []
    for a, b in zip(starts, [*starts[1:], frames]):
        windows.append(Window(max(0, a - context_frames), min(frames, b + context_frames),
                              max(0, a - crossfade_frames), min(frames, b + crossfade_frames)))
    return windows


def render_in_windows(render: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
                      features: np.ndarray, f0: np.ndarray, energy: np.ndarray, chunk_frames: int,
                      context_frames: int = 0, crossfade_frames: int = 0) -> np.ndarray:
    """Render a plan window by window and join the pieces with linear cross-fades.

    `render(features [1, 512, F'], f0 [1, 2F'], energy [1, 2F']) -> audio [600 F']` is one
    renderer call (the style bound in). Returns audio of 600 * F samples.
    """
    frames = features.shape[-1]
    out = np.zeros(frames * FRAME_SAMPLES, dtype=np.float32)
    fade = 2 * crossfade_frames * FRAME_SAMPLES
    for w in plan_windows(frames, chunk_frames, context_frames, crossfade_frames):
        k = F0_STEPS_PER_FRAME
        audio = render(features[..., w.start:w.stop], f0[..., k * w.start:k * w.stop], energy[..., k * w.start:k * w.stop])
        piece = audio[(w.keep_start - w.start) * FRAME_SAMPLES:(w.keep_stop - w.start) * FRAME_SAMPLES].astype(np.float32)
        gain = np.ones_like(piece)
        if fade and w.keep_start > 0:
            gain[:fade] = np.linspace(0.0, 1.0, fade, endpoint=False) + 0.5 / fade
        if fade and w.keep_stop < frames:
            gain[-fade:] *= 1.0 - (np.linspace(0.0, 1.0, fade, endpoint=False) + 0.5 / fade)
        out[w.keep_start * FRAME_SAMPLES:w.keep_stop * FRAME_SAMPLES] += piece * gain
    return out


# --- a renderer that takes its instance-norm statistics and phase offset from outside -------------

PLAN_PHASE_OFFSET = "phase_offset"
"""float32 [1, 1, 9]: the harmonic source's integrated phase (cycles, per harmonic) before the window."""
STOCK_PHASE = "/decoder/decoder/generator/m_source/l_sin_gen/CumSum_output_0"


def _norm_statistics(model) -> list[str]:
    """Names of the renderer's instance-norm statistics: each norm is ReduceMean(x) -> Sub (the
    mean) and ReduceMean((x - mean)^2) -> Add eps (the variance), in graph order."""
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node.op_type)
    return [n.output[0] for n in model.graph.node
            if n.op_type == "ReduceMean" and consumers.get(n.output[0]) in (["Sub"], ["Add"])]


def statistics_renderer(renderer_bytes: bytes) -> tuple[bytes, list[str]]:
    """The renderer with every norm statistic and the source phase as extra outputs."""
    import onnx

    model = onnx.load_from_string(renderer_bytes)
    names = _norm_statistics(model)
    for name in [*names, STOCK_PHASE]:
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    return model.SerializeToString(), names


def window_renderer(renderer_bytes: bytes) -> tuple[bytes, list[str]]:
    """The renderer with every norm statistic and the phase offset as inputs (names returned).

    Fed the statistics of a whole render and the phase reached at the window's first step, a
    window with 16+ frames of context each side renders its middle as the whole render does
    (docs/model.md)."""
    import onnx

    model = onnx.load_from_string(renderer_bytes)
    names = set(_norm_statistics(model))
    kept = [n for n in model.graph.node if not (n.op_type == "ReduceMean" and n.output[0] in names)]
    offset_sum = onnx.helper.make_node("Add", [STOCK_PHASE, PLAN_PHASE_OFFSET], [STOCK_PHASE + "_offset"],
                                       name="echoic_phase_offset")
    for node in kept:
        for i, name in enumerate(node.input):
            if name == STOCK_PHASE:
                node.input[i] = STOCK_PHASE + "_offset"
    at = next(i for i, n in enumerate(kept) if STOCK_PHASE in n.output)
    kept.insert(at + 1, offset_sum)  # keep the node list in topological order
    # Drop what only fed the removed statistics (the squared deviations).
    needed = {o.name for o in model.graph.output}
    live = []
    for node in reversed(kept):
        if any(o in needed for o in node.output):
            live.append(node)
            needed.update(node.input)
    del model.graph.node[:]
    model.graph.node.extend(reversed(live))
    ordered = [n.output[0] for n in onnx.load_from_string(renderer_bytes).graph.node if n.output[0] in names]
    for name in ordered:
        model.graph.input.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, [1, None, 1]))
    model.graph.input.append(onnx.helper.make_tensor_value_info(PLAN_PHASE_OFFSET, onnx.TensorProto.FLOAT, [1, 1, None]))
    onnx.checker.check_model(model)
    return model.SerializeToString(), ordered


GENERATOR_SCOPE = "/decoder/decoder/generator/"
"""Statistics under this scope belong to the generator's 44 norms (88 statistics; the generator
is about 95% of the renderer's work); the other 20 belong to the 10 frame-rate norms, which are
cheap to compute whole."""


def is_generator_statistic(name: str) -> bool:
    return name.startswith(GENERATOR_SCOPE)


def frame_statistics_graph(renderer_bytes: bytes) -> tuple[bytes, list[str]]:
    """The renderer's cheap prefix: (features, f0, energy, style) -> the 20 frame-rate norm
    statistics (names returned, in graph order) and the harmonic source's phase (STOCK_PHASE)."""
    import onnx
    import onnx.utils

    names = [n for n in _norm_statistics(onnx.load_from_string(renderer_bytes)) if not is_generator_statistic(n)]
    with tempfile.TemporaryDirectory() as tmp:
        whole, part = Path(tmp) / "renderer.onnx", Path(tmp) / "frame_statistics.onnx"
        whole.write_bytes(renderer_bytes)
        onnx.utils.extract_model(str(whole), str(part), list(RENDERER_INPUTS), [*names, STOCK_PHASE], check_model=False)
        return part.read_bytes(), names


# --- pad statistics (docs/latency.md, "The pad's statistics"): a word rendered without its pad ----

PAD_LEAD = "pad_lead"
"""int64 [1]: the plan's first frames a cut render will leave out (the leading pad)."""
PAD_TRAIL = "pad_trail"
"""int64 [1]: the plan's last frames a cut render will leave out (the trailing pad)."""
PAD_SHARE = "pad_share"
"""float32 [1]: the left-out frames' share of the whole render's frames."""


def _pad_names(i: int) -> tuple[str, str]:
    """The i-th norm's pad statistics (graph order) as the pad-statistics renderer outputs them:
    mean and mean of squares, [1, C, 1] each."""
    return f"pad_mean_{i}", f"pad_m2_{i}"


def pad_input(name: str) -> str:
    """The pad-mixing renderer's input for a pad statistic of `_pad_names` (both can live in one
    graph, so they are named apart)."""
    return f"in_{name}"


def norm_pairs(names: list[str]) -> list[tuple[str, str]]:
    """(mean, variance) statistic names per norm, in the means' order: '.../ReduceMean_output_0'
    and '.../ReduceMean_2_output_0' (`_norm_statistics` lists both, interleaved by graph order)."""
    means = [n for n in names if n.endswith("/ReduceMean_output_0")]
    pairs = [(m, m.replace("/ReduceMean_output_0", "/ReduceMean_2_output_0")) for m in means]
    if sorted(n for p in pairs for n in p) != sorted(names):
        raise ModelError("the renderer's norm statistics do not pair up as mean and variance")
    return pairs


def pad_statistics_renderer(renderer_bytes: bytes) -> tuple[bytes, int]:
    """The renderer with, per norm, the mean and mean of squares of its input over the pad: the
    first `PAD_LEAD` and last `PAD_TRAIL` frames of the plan (int64 [1] each, scaled to each
    norm's time axis, rounded down), as extra outputs (`_pad_names`). Only those frames are read,
    so a call with no pad (0, 0) costs nothing more. The audio is the plain renderer's. Returns the
    graph and the number of norms."""
    import onnx
    from onnx import helper

    model = onnx.load_from_string(renderer_bytes)
    producers = {o: n for n in model.graph.node for o in n.output}

    def constant(name, value):
        return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, onnx.TensorProto.INT64, [1], [value]))

    added = [constant("pad_c_zero", 0), constant("pad_c_axis2", 2), constant("pad_c_three", 3),
             helper.make_node("Shape", [PLAN_FEATURES], ["pad_features_shape"]),
             helper.make_node("Slice", ["pad_features_shape", "pad_c_axis2", "pad_c_three"], ["pad_frames"])]
    pairs = norm_pairs(_norm_statistics(model))
    for i, (mean, _) in enumerate(pairs):
        x = producers[mean].input[0]
        p = f"echoic_pad{i}_"
        mean_out, m2_out = _pad_names(i)
        added += [
            helper.make_node("Shape", [x], [p + "shape"]),
            helper.make_node("Slice", [p + "shape", "pad_c_axis2", "pad_c_three"], [p + "t"]),  # [1]
            helper.make_node("Mul", [PAD_LEAD, p + "t"], [p + "lead_t"]),
            helper.make_node("Div", [p + "lead_t", "pad_frames"], [p + "lead"]),  # integer: rounded down
            helper.make_node("Mul", [PAD_TRAIL, p + "t"], [p + "trail_t"]),
            helper.make_node("Div", [p + "trail_t", "pad_frames"], [p + "trail"]),
            helper.make_node("Sub", [p + "t", p + "trail"], [p + "tail_start"]),
            helper.make_node("Slice", [x, "pad_c_zero", p + "lead", "pad_c_axis2"], [p + "head"]),
            helper.make_node("Slice", [x, p + "tail_start", p + "t", "pad_c_axis2"], [p + "tail"]),
            helper.make_node("Concat", [p + "head", p + "tail"], [p + "pad"], axis=2),
            helper.make_node("ReduceSum", [p + "pad", "pad_c_axis2"], [p + "sum"], keepdims=1),
            helper.make_node("Mul", [p + "pad", p + "pad"], [p + "sq"]),
            helper.make_node("ReduceSum", [p + "sq", "pad_c_axis2"], [p + "sum2"], keepdims=1),
            helper.make_node("Add", [p + "lead", p + "trail"], [p + "n"]),
            helper.make_node("Cast", [p + "n"], [p + "count"], to=onnx.TensorProto.FLOAT),
            helper.make_node("Div", [p + "sum", p + "count"], [mean_out]),
            helper.make_node("Div", [p + "sum2", p + "count"], [m2_out]),
        ]
        model.graph.output.extend([helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [1, None, 1])
                                   for n in (mean_out, m2_out)])
    model.graph.node.extend(added)  # they read only what the renderer computed, so they can go last
    model.graph.input.extend([helper.make_tensor_value_info(n, onnx.TensorProto.INT64, [1]) for n in (PAD_LEAD, PAD_TRAIL)])
    return model.SerializeToString(), len(pairs)


def pad_moment_names(outputs: list[str]) -> dict[str, str]:
    """The pad-statistics outputs (`_pad_names`) of the generator's norms among a renderer's
    `outputs` -> the norm statistic each stands beside: `pad_mean_<i>` -> its mean's name,
    `pad_m2_<i>` -> its variance's name. Empty when the renderer has no pad outputs."""
    if not any(name.startswith("pad_mean_") for name in outputs):
        return {}
    # The statistics in graph order (`statistics_renderer` appends them so), paired as
    # `pad_statistics_renderer` paired them.
    pairs = norm_pairs([n for n in outputs if "/ReduceMean" in n])
    names = {}
    for i, (mean, var) in enumerate(pairs):
        if is_generator_statistic(mean):
            pad_mean, pad_m2 = _pad_names(i)
            names[pad_mean], names[pad_m2] = mean, var
    return names


def pad_mixing_renderer(renderer_bytes: bytes) -> tuple[bytes, int]:
    """The renderer for a cut: every norm mixes its own frames' statistics with given pad
    statistics (inputs `pad_input` of each `_pad_names`, [1, C, 1] each, and `PAD_SHARE` s):

        mean = (1 - s) mean(x) + s pad_mean
        var  = (1 - s) mean((x - mean)^2) + s (pad_m2 - 2 mean pad_mean + mean^2)

    (the second term is the pad frames' mean squared deviation from the mixed mean). s = 0 is the
    plain renderer. Returns the graph and the number of norms."""
    import onnx
    from onnx import helper

    model = onnx.load_from_string(renderer_bytes)
    producers = {o: n for n in model.graph.node for o in n.output}
    pairs = norm_pairs(_norm_statistics(model))
    after: dict[str, list] = {}
    for i, (mean, var) in enumerate(pairs):
        pad_mean, pad_m2 = (pad_input(name) for name in _pad_names(i))
        p = f"echoic_mix{i}_"
        producers[mean].output[0] = p + "own_mean"
        producers[var].output[0] = p + "own_var"
        after[p + "own_mean"] = [
            helper.make_node("Mul", [p + "own_mean", "echoic_keep_share"], [p + "a"]),
            helper.make_node("Mul", [pad_mean, PAD_SHARE], [p + "b"]),
            helper.make_node("Add", [p + "a", p + "b"], [mean]),
        ]
        after[p + "own_var"] = [
            helper.make_node("Mul", [p + "own_var", "echoic_keep_share"], [p + "c"]),
            helper.make_node("Add", [pad_mean, pad_mean], [p + "2pm"]),
            helper.make_node("Sub", [p + "2pm", mean], [p + "d"]),
            helper.make_node("Mul", [mean, p + "d"], [p + "e"]),
            helper.make_node("Sub", [pad_m2, p + "e"], [p + "pad_dev"]),
            helper.make_node("Mul", [p + "pad_dev", PAD_SHARE], [p + "f"]),
            helper.make_node("Add", [p + "c", p + "f"], [var]),
        ]
        model.graph.input.extend([helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [1, None, 1])
                                  for n in (pad_mean, pad_m2)])
    nodes = [helper.make_node("Constant", [], ["echoic_one"], value=helper.make_tensor("one", onnx.TensorProto.FLOAT, [1], [1.0])),
             helper.make_node("Sub", ["echoic_one", PAD_SHARE], ["echoic_keep_share"])]
    for node in list(model.graph.node):
        nodes.append(node)
        nodes.extend(after.get(node.output[0], []) if node.output else [])  # right after the statistic
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    model.graph.input.append(helper.make_tensor_value_info(PAD_SHARE, onnx.TensorProto.FLOAT, [1]))
    return model.SerializeToString(), len(pairs)


def pad_renderer(renderer_bytes: bytes) -> tuple[bytes, int]:
    """The runtime's renderer: the statistics renderer (every norm statistic and the source phase
    as outputs) with the pad statistics as outputs too (`pad_statistics_renderer`, `PAD_LEAD` and
    `PAD_TRAIL`) and the pad mixing (`pad_mixing_renderer`, inputs `pad_input(...)` and `PAD_SHARE`), every added
    input with a default (no pad frames, zero statistics, share 0), so a call that feeds only
    `RENDERER_INPUTS` is the plain renderer, bit for bit. One graph, one session: a whole render, a
    whole render that teaches pad statistics and a cut render are the same session's calls."""
    import onnx
    from onnx import numpy_helper

    staged, _ = statistics_renderer(renderer_bytes)
    staged, _ = pad_statistics_renderer(staged)
    staged, norms = pad_mixing_renderer(staged)
    model = onnx.load_from_string(staged)
    defaults = {PAD_LEAD: np.zeros((1,), np.int64), PAD_TRAIL: np.zeros((1,), np.int64),
                PAD_SHARE: np.zeros((1,), np.float32)}
    defaults.update({pad_input(name): np.zeros((1, 1, 1), np.float32) for i in range(norms) for name in _pad_names(i)})
    model.graph.initializer.extend(numpy_helper.from_array(value, name) for name, value in defaults.items())
    return model.SerializeToString(), norms
