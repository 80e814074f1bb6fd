"""LoRA branches added to the split int8 graphs, with the adapter weights as graph inputs (no torch).

For every adapted module (a torch module path of `KModel`, the naming scheme of adapter files),
each graph node computing it (`MatMulInteger` or `ConvInteger`: one per module, twelve for a shared
ALBERT layer) gets a float low-rank branch beside it:

    x --DynamicQuantizeLinear--> MatMulInteger -> Cast -> Mul (scale) -> Add (bias) = y    (unchanged)
    x --MatMul(lora_At.P)--MatMul(lora_Bt.P)---------------------------------------> Add(y, .) = y'

and every former reader of y reads y'. ConvInteger gets Conv(x, lora_A.P) -> Conv(., lora_B.P) with
the node's own padding. The int8 base nodes stay as they are. `lora_At.P` (in, r) / `lora_Bt.P`
(r, out) for a matrix, `lora_A.P` (r, in, k) / `lora_B.P` (out, r, 1) for a convolution, are graph
inputs with all-zero rank-1 initializers as defaults: a call that feeds nothing runs the base model
(y + 0 = y, asserted bit for bit in tests/test_adapters_runtime.py), a call that feeds an adapter's
A and B runs that adapter. Switching is the choice of feeds, per call: nothing is rebuilt.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import model_store
from .errors import ModelError
from .model_store import ModelStoreConfig

LORA_OPS = ("MatMulInteger", "ConvInteger")
_CHAIN_OPS = ("Cast", "Mul", "Add")
ADAPTED_VERSION = 3
"""Bump when the surgery changes (it names the cached graphs)."""


def module_path(node_name: str) -> str:
    """ONNX node name -> torch module path of KModel (the same rule as engine/train/convert.py's,
    which needs torch; tests/test_adapters_runtime.py checks they agree on every node)."""
    parts = [re.sub(r"_\d+$", "", p) for p in node_name.strip("/").split("/")[:-1]]
    if not parts:
        return ""
    top, parts = parts[0], parts[1:]
    if top == "decoder":
        parts = parts[1:] if parts and parts[0] == "decoder" else parts
        parts = ["decoder", *parts]
    elif not parts or parts[0] not in ("bert", "bert_encoder", "text_encoder", "predictor"):
        parts = ["predictor", *parts]
    parts = [p for i, p in enumerate(parts) if not (i + 1 < len(parts) and parts[i + 1].startswith(p + "."))]
    return ".".join(parts)


@dataclass(frozen=True)
class LoraSite:
    """One graph node a module's LoRA branch attaches to."""

    path: str
    """torch module path."""
    node: str
    op: str
    x: str
    """the float input (before dynamic quantization)."""
    y: str
    """the module's float output (after scale and bias)."""
    shape: tuple[int, ...]
    """torch weight layout: (out, in) for a matrix, (out, in, k) for a convolution."""


def input_names(path: str, conv: bool) -> tuple[str, str]:
    """Graph input names of a module's A and B."""
    return (f"lora_A.{path}", f"lora_B.{path}") if conv else (f"lora_At.{path}", f"lora_Bt.{path}")


def lora_sites(model) -> dict[str, list[LoraSite]]:
    """Module path -> the nodes a LoRA branch can attach to, for every weight node of LORA_OPS."""
    inits = {t.name: t for t in model.graph.initializer}
    producer = {o: n for n in model.graph.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    # Scalars of the dynamic quantization (scale, zero point) count as constants: the int8
    # ops' bias and output scale are computed from them.
    known: dict[str, bool] = {o: True for n in model.graph.node if n.op_type == "DynamicQuantizeLinear"
                              for o in n.output[1:]}

    def constant(name: str) -> bool:
        """An initializer or quantization scalar, or computed from those alone."""
        if name not in known:
            p = producer.get(name)
            known[name] = name in inits or (p is not None and all(constant(i) for i in p.input if i))
        return known[name]

    sites: dict[str, list[LoraSite]] = {}
    for node in model.graph.node:
        if node.op_type not in LORA_OPS or node.input[1] not in inits:
            continue
        quant = producer.get(node.input[0])
        if quant is None or quant.op_type != "DynamicQuantizeLinear":
            continue
        y = node.output[0]
        while len(consumers.get(y, [])) == 1:
            nxt = consumers[y][0]
            if nxt.op_type not in _CHAIN_OPS or not all(constant(i) for i in nxt.input if i != y):
                break
            y = nxt.output[0]
        dims = tuple(int(d) for d in inits[node.input[1]].dims)
        shape = (dims[1], dims[0]) if node.op_type == "MatMulInteger" else dims
        path = module_path(node.name)
        sites.setdefault(path, []).append(LoraSite(path, node.name, node.op_type, quant.input[0], y, shape))
    return sites


def add_lora_branches(model_bytes: bytes, targets) -> tuple[bytes, dict[str, LoraSite]]:
    """The graph with a LoRA branch on every node of each target module present in it (targets
    absent from this graph are skipped: the planner and renderer each take their own). Returns the
    new graph's bytes and the sites patched (one per module; shared repeats use the same inputs)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load_from_string(model_bytes)
    sites = lora_sites(model)
    patched: dict[str, LoraSite] = {}
    new_after: dict[str, list] = {}
    renames: dict[str, str] = {}
    for path in sorted(set(targets)):
        for k, site in enumerate(sites.get(path, [])):
            conv = site.op == "ConvInteger"
            a_name, b_name = input_names(path, conv)
            tag = f"echoic_lora/{path}/{k}"
            if path not in patched:
                patched[path] = site
                if conv:
                    out, inn, kernel = site.shape
                    a0, b0 = np.zeros((1, inn, kernel), np.float32), np.zeros((out, 1, 1), np.float32)
                    a_shape, b_shape = ["lora_rank", inn, kernel], [out, "lora_rank", 1]
                else:
                    out, inn = site.shape
                    a0, b0 = np.zeros((inn, 1), np.float32), np.zeros((1, out), np.float32)
                    a_shape, b_shape = [inn, "lora_rank"], ["lora_rank", out]
                for name, value, shape in ((a_name, a0, a_shape), (b_name, b0, b_shape)):
                    model.graph.initializer.append(numpy_helper.from_array(value, name))
                    model.graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
            low, delta, y2 = f"{tag}/low", f"{tag}/delta", f"{site.y}/lora"
            if conv:
                node = next(n for n in model.graph.node if n.name == site.node)
                attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
                if attrs.get("group", 1) != 1:
                    raise ModelError(f"cannot add a LoRA branch to grouped convolution {site.node}")
                conv_attrs = {k2: attrs[k2] for k2 in ("pads", "strides", "dilations", "auto_pad") if k2 in attrs}
                nodes = [helper.make_node("Conv", [site.x, a_name], [low], name=f"{tag}/A", **conv_attrs),
                         helper.make_node("Conv", [low, b_name], [delta], name=f"{tag}/B")]
            else:
                nodes = [helper.make_node("MatMul", [site.x, a_name], [low], name=f"{tag}/A"),
                         helper.make_node("MatMul", [low, b_name], [delta], name=f"{tag}/B")]
            nodes.append(helper.make_node("Add", [site.y, delta], [y2], name=f"{tag}/add"))
            new_after.setdefault(site.y, []).extend(nodes)
            renames[site.y] = y2
    old = list(model.graph.node)
    for node in old:
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]
    for out in model.graph.output:
        if out.name in renames:
            raise ModelError(f"LoRA site {out.name} is a graph output")
    ordered = []
    for node in old:
        ordered.append(node)
        for produced in node.output:
            ordered.extend(new_after.get(produced, []))
    del model.graph.node[:]
    model.graph.node.extend(ordered)
    return model.SerializeToString(), patched


def targets_stamp(targets) -> str:
    return hashlib.sha256(("\n".join(sorted(set(targets))) + f"\nv{ADAPTED_VERSION}").encode()).hexdigest()[:10]


def ensure_adapted_models(targets, config: ModelStoreConfig | None = None) -> tuple[Path, Path]:
    """Paths of the planner and renderer with LoRA branches on `targets`, cut and patched on
    first use (a few seconds) and cached next to the split graphs. The renderer is the runtime's
    pad renderer (`graphs.pad_renderer`: norm and pad statistics as outputs, the pad mixing as
    defaulted inputs), so an adapted segment streams in windows and cuts its pad as any other."""
    from .graphs import ensure_split_models
    from .streaming import ensure_streaming_models

    config = config or ModelStoreConfig()
    planner = ensure_split_models(config)[0]
    stamp = f"{model_store.expected_sha256()[:16]}-lora{targets_stamp(targets)}"
    adapted_planner = Path(config.cache_dir) / f"{stamp}-{planner.name.split('-', 1)[1]}"
    if not adapted_planner.exists():
        missing = sorted(set(targets) - set(split_sites(targets, config)))
        if missing:
            raise ModelError(f"adapter targets with no int8 MatMulInteger/ConvInteger node in the graphs: {missing[:5]}")
        patched, _ = add_lora_branches(planner.read_bytes(), targets)
        model_store.write_atomically(adapted_planner, _with_raw_durations(patched))
    (renderer,) = ensure_streaming_models(config, ("pad-renderer",), tuple(targets))
    return adapted_planner, renderer


def _with_raw_durations(planner_bytes: bytes) -> bytes:
    """The planner with its durations before rounding as an extra output (`PLAN_RAW_DURATIONS`)."""
    import onnx

    from .graphs import PLAN_RAW_DURATIONS, STOCK_RAW_DURATIONS

    model = onnx.load_from_string(planner_bytes)
    if not any(STOCK_RAW_DURATIONS in n.output for n in model.graph.node):
        raise ModelError(f"the planner has no {STOCK_RAW_DURATIONS} (not the Kokoro v1.0 layout?)")
    model.graph.node.append(onnx.helper.make_node("Identity", [STOCK_RAW_DURATIONS], [PLAN_RAW_DURATIONS],
                                                  name=f"echoic_{PLAN_RAW_DURATIONS}"))
    model.graph.output.append(onnx.helper.make_tensor_value_info(PLAN_RAW_DURATIONS, onnx.TensorProto.FLOAT, None))
    return model.SerializeToString()


def graph_sites(model_bytes: bytes, targets) -> dict[str, LoraSite]:
    """The sites of `targets` in a graph (for shape checks), without patching it."""
    import onnx

    sites = lora_sites(onnx.load_from_string(model_bytes))
    return {t: sites[t][0] for t in targets if t in sites}


def split_sites(targets, config: ModelStoreConfig | None = None) -> dict[str, LoraSite]:
    """The sites of `targets` in the split planner and renderer (shapes for test adapters)."""
    from .graphs import ensure_split_models

    found: dict[str, LoraSite] = {}
    for path in ensure_split_models(config or ModelStoreConfig()):
        found.update(graph_sites(path.read_bytes(), targets))
    return found


def write_random_adapter(path, locale: str, sites: dict[str, LoraSite], rank: int = 8, seed: int = 0,
                         scale: float = 0.02, null_style: bool = True, teachers: tuple[str, ...] = ()) -> Path:
    """A format-1 adapter of random weights on `sites` (tests and benchmarks; no torch): A with
    unit-variance rows over its fan-in, B of std `scale`, so every target changes a little;
    `teachers` are recorded as the training's teacher voices."""
    import json

    from .adapters import META, NULL_STYLE

    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    for name, site in sorted(sites.items()):
        if site.op == "ConvInteger":
            out, inn, k = site.shape
            a, b = rng.standard_normal((rank, inn, k)) / np.sqrt(inn * k), scale * rng.standard_normal((out, rank, 1))
        else:
            out, inn = site.shape
            a, b = rng.standard_normal((rank, inn)) / np.sqrt(inn), scale * rng.standard_normal((out, rank))
        arrays[f"{name}.lora_A"], arrays[f"{name}.lora_B"] = a.astype(np.float32), b.astype(np.float32)
    if null_style:
        arrays[NULL_STYLE] = (0.1 * rng.standard_normal(128)).astype(np.float32)
    meta = {"format": 1, "locale": locale, "rank": rank, "alpha": float(rank), "targets": sorted(sites),
            "base_model_sha256": model_store.expected_sha256(),
            "training": {"random": True, "seed": seed, "data": {"teachers": list(teachers)}}}
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **{META: np.array(json.dumps(meta))}, **arrays)
    path = Path(path)
    model_store.write_atomically(path, buffer.getvalue())
    return path
