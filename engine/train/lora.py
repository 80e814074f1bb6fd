"""Locale LoRA adapters on the torch twin (peft), and their file format (docs/adapters.md).

Where an adapter reaches (`DEFAULT_TARGETS`), chosen by where accent lives (issue #18: swapping
the timbre half of the style, which only the decoder's AdaIN reads, moves language ID and word
error rate far more than the prosody half; phone-level errors survive any style) and restricted
to modules whose ONNX counterpart the runtime can patch (`engine/adapter_graphs.py`: each is one
`MatMulInteger` or `ConvInteger` node of the stock int8 graph, or one per ALBERT repeat):

- the decoder's style conditioning: every AdaIN `fc` map (the 10 frame-rate blocks' and the 48 of
  the generator): 128 timbre floats -> per-channel scale and shift;
- the prosody predictor's style conditioning: the duration encoder's 3 AdaLayerNorm `fc` maps and
  the F0 / energy blocks' 12 AdaIN `fc` maps (prosody half -> scale and shift), and the duration
  head `duration_proj.linear_layer` (per token);
- the phone-level text features: `bert_encoder` (PL-BERT's output into the predictor, per token)
  and the acoustic text encoder's three convolutions `text_encoder.cnn.N.0` (what the decoder
  reads as `aligned_features`).

The LSTMs (`DynamicQuantizeLSTM` in the graph) and the ALBERT layers are left out: the first
cannot be patched at run time without replacing the fused operator, the second is shared 12 times
(patchable, but 12 branches per module and the most expensive part to train through).

File format 1 (`engine/adapters/<locale>.npz`; read without torch by `engine/adapters.py`):

    __meta__            0-d unicode JSON {"format": 1, "locale", "rank", "alpha", "targets",
                        "base_model_sha256", "training"}
    <path>.lora_A       float32 (r, in) for nn.Linear, (r, in, k) for nn.Conv1d
    <path>.lora_B       float32 (out, r) for nn.Linear, (out, r, 1) for nn.Conv1d; peft's
                        scaling alpha / r already folded in, so delta_W = B @ A
    null_style          float32 (128,), optional: the unconditional prosody half for guidance
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ..adapters import DEFAULT_TARGETS, FORMAT, validate_adapter_arrays
from .kokoro_torch import KModel


GAUSSIAN_SCALE = 0.25
"""init="gaussian": each module's delta_W has this Frobenius norm relative to its base weight."""


def _lora_layers(peft_model) -> dict[str, nn.Module]:
    """Module path (of KModel) -> peft LoRA layer, in model order."""
    base = peft_model.get_base_model() if hasattr(peft_model, "get_base_model") else peft_model
    return {name: module for name, module in base.named_modules()
            if hasattr(module, "lora_A") and hasattr(module, "lora_B") and len(module.lora_A)}


def attach_lora(model: KModel, rank: int = 8, alpha: float = 16, targets=DEFAULT_TARGETS, init: str = "gaussian",
                seed: int = 0, gaussian_scale: float = GAUSSIAN_SCALE):
    """Wrap `model` in a peft LoRA model on `targets` (base weights frozen, only A and B train).

    init="zero": peft's default (A random, B zero: the adapted model equals the base).
    init="gaussian": A and B both random (seeded), each module's delta_W with norm
    `gaussian_scale` of its weight's, so a test adapter visibly changes the outputs."""
    from peft import LoraConfig, get_peft_model

    if init not in ("gaussian", "zero"):
        raise ValueError(f"init must be 'gaussian' or 'zero', got {init!r}")
    if not isinstance(rank, int) or rank < 1:
        raise ValueError(f"rank must be a positive integer, got {rank!r}")
    targets = list(targets) if not isinstance(targets, str) else targets
    names = {name for name, _ in model.named_modules()}
    if not isinstance(targets, str):
        missing = [t for t in targets if t not in names]
        if missing:
            raise ValueError(f"targets not in the model: {missing[:5]}")
    config = LoraConfig(r=rank, lora_alpha=alpha, target_modules=targets, lora_dropout=0.0, bias="none",
                        init_lora_weights=True)
    peft_model = get_peft_model(model, config)
    if init == "gaussian":
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, layer in _lora_layers(peft_model).items():
                a, b = layer.lora_A["default"].weight, layer.lora_B["default"].weight
                a.copy_(torch.randn(a.shape, generator=gen) / np.sqrt(a[0].numel()))
                b.copy_(torch.randn(b.shape, generator=gen))
                delta = _delta(a, b) * layer.scaling["default"]
                w = layer.get_base_layer().weight
                b.mul_(gaussian_scale * w.norm() / delta.norm().clamp(min=1e-12))
    return peft_model


def _delta(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """delta_W (torch layout) of lora A and B weights: Linear (r, in) (out, r); Conv1d (r, in, k) (out, r, 1)."""
    if a.dim() == 2:
        return b @ a
    return torch.einsum("or,rik->oik", b[:, :, 0], a)


def adapter_arrays(peft_model) -> tuple[dict[str, np.ndarray], int, list[str]]:
    """({'<path>.lora_A': A, '<path>.lora_B': B * scaling}, rank, targets) of the 'default' adapter."""
    arrays, ranks, targets = {}, set(), []
    for name, layer in _lora_layers(peft_model).items():
        a = layer.lora_A["default"].weight.detach().float().cpu().numpy()
        b = layer.lora_B["default"].weight.detach().float().cpu().numpy() * float(layer.scaling["default"])
        arrays[f"{name}.lora_A"] = np.ascontiguousarray(a, dtype=np.float32)
        arrays[f"{name}.lora_B"] = np.ascontiguousarray(b, dtype=np.float32)
        ranks.add(a.shape[0])
        targets.append(name)
    if not targets:
        raise ValueError("the model has no LoRA layers (attach_lora first)")
    if len(ranks) != 1:
        raise ValueError(f"LoRA layers of different ranks {sorted(ranks)}")
    return arrays, ranks.pop(), targets


def save_adapter(peft_model, path, locale: str, null_style=None, training: dict | None = None) -> Path:
    """Write the model's LoRA weights as a format-1 adapter file, atomically (a reader never sees
    half a file). Validated with the runtime's own checks before anything is written."""
    from .. import model_store
    from ..locales import get_locale

    path = Path(path)
    tag = get_locale(locale).tag
    arrays, rank, targets = adapter_arrays(peft_model)
    layer = next(iter(_lora_layers(peft_model).values()))
    alpha = float(layer.lora_alpha["default"])
    meta = {"format": FORMAT, "locale": tag, "rank": rank, "alpha": alpha, "targets": targets,
            "base_model_sha256": model_store.expected_sha256(), "training": training or {}}
    if null_style is not None:
        null = np.asarray(null_style.detach().cpu().numpy() if torch.is_tensor(null_style) else null_style,
                          dtype=np.float32).reshape(-1)
        arrays["null_style"] = null
    validate_adapter_arrays(arrays, meta, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, __meta__=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_adapter(model_or_peft, path):
    """Apply a format-1 adapter file to the torch twin: a plain `KModel` gets LoRA layers on the
    file's targets (returns the new peft model); a peft model from `attach_lora` gets the file's
    weights in its 'default' adapter (its targets must cover the file's; others are zeroed).
    The adapted model computes W x + B (A x) with the file's A and B (B already scaled)."""
    from ..adapters import read_adapter

    adapter = read_adapter(path, check_base=False)
    if isinstance(model_or_peft, KModel):
        peft_model = attach_lora(model_or_peft, rank=adapter.rank, alpha=adapter.rank, targets=adapter.targets,
                                 init="zero")
    else:
        peft_model = model_or_peft
    layers = _lora_layers(peft_model)
    missing = [t for t in adapter.targets if t not in layers]
    if missing:
        raise ValueError(f"{path}: the model has no LoRA layer on {missing[:5]}")
    with torch.no_grad():
        for name, layer in layers.items():
            a, b = layer.lora_A["default"].weight, layer.lora_B["default"].weight
            if name not in adapter.targets:
                b.zero_()
                continue
            fa, fb = adapter.weights[name]
            if tuple(a.shape) != fa.shape or tuple(b.shape) != fb.shape:
                raise ValueError(f"{path}: {name} has A {fa.shape} and B {fb.shape}, the model's LoRA layer "
                                 f"A {tuple(a.shape)} and B {tuple(b.shape)} (another rank?)")
            a.copy_(torch.from_numpy(fa))
            b.copy_(torch.from_numpy(fb) / float(layer.scaling["default"]))
    return peft_model
