"""Rebuild the torch Kokoro from the int8 ONNX graph's initializers.

The shipped graph is the only copy of the weights. Three kinds of tensors carry them:

- quantized weights `X_quantized` (int8/uint8) consumed by `ConvInteger`, `MatMulInteger`,
  `Gather` (embeddings) and `DynamicQuantizeLSTM`: dequantized as (q - zero_point) * scale, scale
  per tensor or per output channel. Their names are often synthetic (`onnx::MatMul_6548_3_quantized`,
  `/decoder/decoder/decode.0/Mul_output_0_quantized`: a folded weight-norm), so the torch module is
  read from the *consuming node's* name, which carries the module path
  (`/decoder/decoder/decode.0/conv1/Conv_quant` -> `decoder.decode.0.conv1`);
- float weights consumed by `Conv`, `ConvTranspose` and `MatMul` (same node-name rule);
- float tensors named after the state dict (`encoder.predictor.F0.0.conv1.bias`,
  `decoder.decoder.generator.resblocks.0.alpha1.0`): biases, norms, Snake alphas, by name.

`load_from_onnx` fills every parameter of `KModel` and returns a `ConversionReport` saying so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from .kokoro_torch import KModel, KokoroConfig

WEIGHT_OPS = {"ConvInteger", "MatMulInteger", "Gather", "DynamicQuantizeLSTM", "Conv", "ConvTranspose", "MatMul"}
# Buffers of the export, not parameters: the conv-transpose iSTFT basis and its window envelope
# (the torch side uses torch.istft, which computes the same thing).
KNOWN_UNUSED = ("decoder.decoder.generator.stft.istft.stft.inverse_basis", "decoder.decoder.generator.stft.istft.stft.window_sum")
# Constants the exporter folded out of parameters: 1 / alpha of the Snake activations
# ('.../resblocks.0/Reciprocal_output_0'), zero initial LSTM states, unit LayerNorm scales.
DERIVED_CONSTANT = re.compile(r"/(Reciprocal(_\d+)?_output_0|ConstantOfShape_output_0|Constant_\d+_output_0)$")


@dataclass
class ConversionReport:
    filled: dict[str, str] = field(default_factory=dict)
    """torch parameter -> the ONNX initializer it came from."""
    missing: list[str] = field(default_factory=list)
    """torch parameters no initializer filled (must be empty)."""
    shape_mismatches: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    """float/int8 initializers of 64+ elements that no parameter took, beyond KNOWN_UNUSED."""
    conflicts: list[str] = field(default_factory=list)
    """parameters two graph nodes gave different values (ALBERT's shared layer must agree)."""

    @property
    def ok(self) -> bool:
        return not (self.missing or self.shape_mismatches or self.unused or self.conflicts)

    def summary(self) -> str:
        return (f"{len(self.filled)} parameters filled; missing {len(self.missing)}, shape mismatches "
                f"{len(self.shape_mismatches)}, unused initializers {len(self.unused)}, conflicts {len(self.conflicts)}")


def module_path(node_name: str) -> str:
    """ONNX node name -> torch module path of KModel.

    '/encoder/text_encoder/cnn.0/cnn.0.0/Conv_quant' -> 'text_encoder.cnn.0.0'
    '/encoder/bert/encoder/albert_layer_groups.0/albert_layers.0/attention/query_7/MatMul_quant'
        -> 'bert.encoder.albert_layer_groups.0.albert_layers.0.attention.query'
    '/encoder/F0.1/conv1x1/Conv_quant' -> 'predictor.F0.1.conv1x1'
    """
    parts = [re.sub(r"_\d+$", "", p) for p in node_name.strip("/").split("/")[:-1]]
    top, parts = parts[0], parts[1:]
    if top == "decoder":
        parts = parts[1:] if parts and parts[0] == "decoder" else parts
        parts = ["decoder", *parts]
    elif parts[0] not in ("bert", "bert_encoder", "text_encoder", "predictor"):
        parts = ["predictor", *parts]  # the export hoisted F0/N/shared/F0_proj/N_proj to /encoder
    # nn.Sequential shows up twice ('cnn.0/cnn.0.0', 'asr_res/asr_res.0'): keep the inner name.
    parts = [p for i, p in enumerate(parts) if not (i + 1 < len(parts) and parts[i + 1].startswith(p + "."))]
    return ".".join(parts)


def state_dict_name(onnx_name: str) -> str | None:
    """A state-dict style initializer name -> KModel parameter name ('encoder.bert.x' -> 'bert.x')."""
    if onnx_name.startswith("decoder.decoder."):
        return "decoder." + onnx_name[len("decoder.decoder."):]
    if onnx_name.startswith("encoder."):
        return onnx_name[len("encoder."):]
    return None


class _Initializers:
    def __init__(self, graph: onnx.GraphProto):
        self.arrays = {t.name: t for t in graph.initializer}
        self.used: set[str] = set()

    def __contains__(self, name):
        return name in self.arrays

    def get(self, name: str) -> np.ndarray:
        self.used.add(name)
        return numpy_helper.to_array(self.arrays[name])

    def dequantized(self, name: str, zero_point_name: str | None = None, channel_axis: int = 0,
                    scale_name: str | None = None) -> np.ndarray:
        """Float weight of `name` (a `*_quantized` initializer or a float one). Zero points are
        shared between weights by the exporter's deduplication, so the consuming node's is passed."""
        q = self.get(name)
        if q.dtype == np.float32:
            return q
        base = name[: -len("_quantized")]
        scale = self.get(scale_name or base + "_scale").astype(np.float32)
        zp = self.get(zero_point_name or base + "_zero_point").astype(np.int32)
        shape = [1] * q.ndim
        if scale.size > 1:
            shape[channel_axis] = scale.size
        return (q.astype(np.int32) - zp.reshape(shape if zp.size > 1 else ())) .astype(np.float32) * scale.reshape(shape)


def _lstm_params(inits: _Initializers, node: onnx.NodeProto) -> dict[str, np.ndarray]:
    """DynamicQuantizeLSTM (W [dirs, in, 4H] int8, gates i,o,f,c) -> torch LSTM (gates i,f,g,o)."""
    x, w, r, b = node.input[:4]
    w_scale, w_zp, r_scale, r_zp = node.input[8:12]

    def deq(q_name, s_name, zp_name):
        q = inits.get(q_name).astype(np.int32)  # (dirs, in, 4H)
        s, zp = inits.get(s_name).astype(np.float32), inits.get(zp_name).astype(np.int32)
        shape = (q.shape[0], 1, -1) if s.ndim == 2 else (q.shape[0], 1, 1)
        return (q - zp.reshape(shape)).astype(np.float32) * s.reshape(shape)

    W, R, B = deq(w, w_scale, w_zp), deq(r, r_scale, r_zp), inits.get(b)

    def reorder(m):  # (..., 4H) in i,o,f,c -> i,f,g(c),o
        i, o, f, c = np.split(m, 4, axis=-1)
        return np.concatenate([i, f, c, o], axis=-1)

    out = {}
    for d, suffix in enumerate(["", "_reverse"]):
        out[f"weight_ih_l0{suffix}"] = reorder(W[d]).T
        out[f"weight_hh_l0{suffix}"] = reorder(R[d]).T
        wb, rb = np.split(B[d], 2)
        out[f"bias_ih_l0{suffix}"] = reorder(wb)
        out[f"bias_hh_l0{suffix}"] = reorder(rb)
    return out


def convert_initializers(model: onnx.ModelProto, params: dict[str, torch.Tensor]) -> tuple[dict[str, np.ndarray], ConversionReport]:
    """Map the graph's initializers onto `params` (name -> tensor, for shapes). Returns arrays + report."""
    inits = _Initializers(model.graph)
    report = ConversionReport()
    values: dict[str, np.ndarray] = {}

    def put(param: str, array: np.ndarray, source: str):
        if param not in params:
            if source not in KNOWN_UNUSED:
                report.unused.append(f"{source} -> {param} (no such parameter)")
            return
        if param in values:
            if values[param].shape != array.shape or not np.allclose(values[param], array):
                report.conflicts.append(param)
            return
        values[param] = array
        report.filled[param] = source

    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node)

    for node in model.graph.node:
        if node.op_type not in WEIGHT_OPS:
            continue
        if node.op_type == "DynamicQuantizeLSTM":
            path = module_path(node.name)
            for k, v in _lstm_params(inits, node).items():
                put(f"{path}.{k}", v, node.input[1])
            continue
        if node.op_type == "Gather":
            w = node.input[0]
            if w in inits and w.endswith("_quantized"):
                dq = next(c for c in consumers[node.output[0]] if c.op_type == "DequantizeLinear")
                put(state_dict_name(w[: -len("_quantized")]), inits.dequantized(w, dq.input[2], scale_name=dq.input[1]), w)
            continue
        w = node.input[1]
        if w not in inits:
            continue  # activation x activation (attention scores, alignment)
        path = module_path(node.name)
        if node.op_type in ("MatMulInteger", "MatMul"):
            zp = node.input[3] if node.op_type == "MatMulInteger" else None
            put(f"{path}.weight", inits.dequantized(w, zp, channel_axis=1).T, w)  # (in, out) -> (out, in)
        else:
            zp = node.input[3] if node.op_type == "ConvInteger" else None
            put(f"{path}.weight", inits.dequantized(w, zp, channel_axis=0), w)
            if node.op_type in ("Conv", "ConvTranspose") and len(node.input) > 2 and node.input[2]:
                put(f"{path}.bias", inits.get(node.input[2]), node.input[2])

    for name in inits.arrays:
        param = state_dict_name(name)
        if param in params and param not in values:
            put(param, inits.get(name), name)

    for name, tensor in params.items():
        if name not in values:
            report.missing.append(name)
        elif tuple(values[name].shape) != tuple(tensor.shape):
            report.shape_mismatches.append(f"{name}: onnx {values[name].shape} vs torch {tuple(tensor.shape)}")
    for name, t in inits.arrays.items():
        n = int(np.prod(t.dims)) if t.dims else 1
        if name in inits.used or name in KNOWN_UNUSED or n < 64 or DERIVED_CONSTANT.search(name):
            continue
        if name.endswith(("_scale", "_zero_point")) or t.data_type == onnx.TensorProto.INT64:
            continue
        report.unused.append(name)
    return values, report


def load_from_onnx(model_bytes: bytes, config: KokoroConfig | None = None, strict: bool = True) -> KModel:
    """A KModel (eval mode, float32) with every parameter from the int8 graph, dequantized.

    The report is attached as `model.conversion_report`; with `strict`, an incomplete conversion
    raises ValueError quoting it.
    """
    graph = onnx.load_from_string(model_bytes)
    model = KModel(config or KokoroConfig())
    params = dict(model.named_parameters())
    values, report = convert_initializers(graph, params)
    if strict and not report.ok:
        raise ValueError(f"weight conversion incomplete: {report.summary()}: missing {report.missing[:5]}, "
                         f"mismatched {report.shape_mismatches[:5]}, unused {report.unused[:5]}, conflicts {report.conflicts[:5]}")
    with torch.no_grad():
        for name, array in values.items():
            params[name].copy_(torch.from_numpy(np.array(array, dtype=np.float32)).reshape(params[name].shape))
    model.conversion_report = report
    return model.eval()
