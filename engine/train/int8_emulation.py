"""Emulate the int8 graph's dynamic activation quantization in the torch model.

The shipped graph quantizes the *input* of every `ConvInteger`/`MatMulInteger` on the fly
(`DynamicQuantizeLinear`: per-tensor uint8, range always including 0) and its LSTMs quantize their
inputs too. The torch model rebuilt from it has the same (dequantized) weights but float
activations, so its audio differs from onnxruntime's by that quantization noise. With
`emulated_int8(model)` active the same rounding happens in torch, which separates "the port is
wrong" from "int8 is noisy" in the parity tests. Gradients pass straight through the rounding.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn as nn


def fake_quantize_uint8(x: torch.Tensor) -> torch.Tensor:
    """What DynamicQuantizeLinear followed by dequantization gives back (straight-through grad)."""
    with torch.no_grad():
        lo = torch.clamp(x.min(), max=0.0)
        hi = torch.clamp(x.max(), min=0.0)
        scale = (hi - lo) / 255.0
        if scale == 0:
            return x
        zero_point = torch.clamp(torch.round(-lo / scale), 0, 255)
        q = torch.clamp(torch.round(x / scale) + zero_point, 0, 255)
        dq = (q - zero_point) * scale
    return x + (dq - x).detach()


# Layers the graph runs in float (Conv, ConvTranspose, MatMul): their inputs are not quantized.
FLOAT_LAYERS = ("decoder.generator.conv_post", "decoder.generator.m_source.l_linear")


def _quantize_input(module, args):
    return (fake_quantize_uint8(args[0]), *args[1:])


@contextmanager
def emulated_int8(model: nn.Module):
    """Within the block, inputs of the layers the graph quantizes are fake-quantized like it does."""
    handles = []
    for name, module in model.named_modules():
        quantized_in_graph = isinstance(module, (nn.Linear, nn.Conv1d, nn.LSTM)) and name not in FLOAT_LAYERS
        if quantized_in_graph:
            handles.append(module.register_forward_pre_hook(_quantize_input))
    try:
        yield model
    finally:
        for h in handles:
            h.remove()
