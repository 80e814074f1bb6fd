"""Which parts of the renderer depend on the window, measured in torch.

The decoder normalises over time in 58 AdaIN instance norms (10 in the F-rate blocks, 48 in the
generator) and integrates F0 into the harmonic source's phase from the first frame; its
convolutions see about 14 frames either side. `statistics` records each norm's per-channel mean
and variance on a whole render; `fixed_statistics` makes the norms use given statistics instead of
their input's, so a window rendered with whole-utterance statistics, a slice of the
whole-utterance harmonic source and enough context frames reproduces the whole render.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable

import torch

from .istftnet import AdaIN1d, Decoder

FRAME_SAMPLES = 600


def adain_norms(decoder: Decoder) -> dict[str, AdaIN1d]:
    """Every AdaIN of the decoder, by module path, in execution order of definition."""
    return {name: m for name, m in decoder.named_modules() if isinstance(m, AdaIN1d)}


def _normalise(x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    return (x - mean) * torch.rsqrt(var + eps)


@contextmanager
def statistics(decoder: Decoder):
    """Within the block each AdaIN records (mean, var) of its input, (B, C, 1) each, by name."""
    stats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    handles = []
    for name, norm in adain_norms(decoder).items():
        def hook(module, args, name=name):
            x = args[0]
            stats[name] = (x.mean(-1, keepdim=True).detach(), x.var(-1, unbiased=False, keepdim=True).detach())
        handles.append(norm.register_forward_pre_hook(hook))
    try:
        yield stats
    finally:
        for h in handles:
            h.remove()


@contextmanager
def fixed_statistics(decoder: Decoder, stats: dict[str, tuple[torch.Tensor, torch.Tensor]],
                     only: Iterable[str] | None = None):
    """Within the block the AdaINs named in `only` (default: all in `stats`) normalise with the
    given statistics instead of their input's."""
    names = set(stats if only is None else only)
    saved = {}
    for name, norm in adain_norms(decoder).items():
        if name not in names:
            continue
        mean, var = stats[name]

        def forward(x, s, norm=norm, mean=mean, var=var):
            h = norm.fc(s).unsqueeze(-1)  # (B, 2C, 1)
            gamma, beta = torch.chunk(h, chunks=2, dim=1)
            return (1 + gamma) * _normalise(x, mean, var) + beta

        saved[name] = norm.forward
        norm.forward = forward
    try:
        yield
    finally:
        for name, norm in adain_norms(decoder).items():
            if name in saved:
                del norm.forward  # back to the class's forward


def render_window(decoder: Decoder, asr: torch.Tensor, f0: torch.Tensor, energy: torch.Tensor, s: torch.Tensor,
                  start: int, stop: int, har_source: torch.Tensor | None = None) -> torch.Tensor:
    """Frames [start, stop) of a plan rendered alone -> audio (B, 600 (stop - start)); pass the
    whole utterance's `har_source` (B, 600 F) to keep its phase, else the window makes its own."""
    har = None if har_source is None else har_source[:, start * FRAME_SAMPLES: stop * FRAME_SAMPLES]
    return decoder(asr[..., start:stop], f0[..., 2 * start:2 * stop], energy[..., 2 * start:2 * stop], s, har)
