"""Classifier-free guidance of the planner (numpy, run time): u + w * (c - u).

The planner runs twice with the same locale adapter: conditional (the voice's own prosody half of
the style) and unconditional (the adapter's learned `null_style`, or the locale's native-average
prosody). `w` is the request's accent strength: 0 = the unconditional plan (the locale's native
average), 1 = the conditional one (the voice's own), in between a mix:

- durations: the planner's continuous durations (before its rounding) are mixed, then rounded
  half to even and floored at 1 frame as the graph does, so every token keeps at least one frame
  and the aligned features, F0 and energy all have 2 x sum(durations) steps;
- F0 and energy: each token's stretch of each branch is resampled (linear) onto the token's mixed
  duration, then mixed; where a branch is unvoiced (F0 below 10 Hz) F0 is not averaged but taken
  from the branch nearer in w (no half-voiced pitch);
- aligned features: per-token features (identical in both branches: the text encoder does not read
  the style) repeated along the mixed durations.

At w = 1 the result is the conditional plan exactly and at w = 0 the unconditional one exactly
(the mix is written from the nearer end: c + (1 - w) (u - c) for w >= 0.5, u + w (c - u) below).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

UNVOICED_HZ = 10.0
STEPS = 2
"""F0 / energy steps per frame."""


@dataclass(frozen=True)
class Guidance:
    """What a guided planner call needs besides the conditional style."""

    unconditional: np.ndarray = field(repr=False)
    """float32 (1, 128): the prosody half of the unconditional branch."""
    strength: float
    """w: 0 = unconditional (the locale's native average), 1 = conditional (the voice's own)."""

    def __post_init__(self):
        u = np.ascontiguousarray(self.unconditional, dtype=np.float32).reshape(1, -1)
        if u.shape != (1, 128) or not np.isfinite(u).all():
            raise ValueError(f"unconditional prosody must be 128 finite floats, got shape {u.shape}")
        w = float(self.strength)
        if not np.isfinite(w) or not 0.0 <= w <= 1.0:
            raise ValueError(f"guidance strength must be in [0, 1], got {self.strength!r}")
        object.__setattr__(self, "unconditional", u)
        object.__setattr__(self, "strength", w)

    def style(self, style: np.ndarray) -> np.ndarray:
        """The unconditional branch's style: `style` with its prosody half replaced."""
        out = np.array(style, dtype=np.float32).reshape(1, -1)
        out[:, 128:] = self.unconditional
        return out


def mix(u, c, w: float):
    """u + w (c - u), exact at both ends."""
    if w >= 0.5:
        return c + (1.0 - w) * (u - c)
    return u + w * (c - u)


def round_durations(raw: np.ndarray) -> np.ndarray:
    """The planner graph's own rounding: Round (half to even), then Clip(min=1)."""
    return np.maximum(np.round(raw), 1).astype(np.int64)


def _resample(x: np.ndarray, n: int) -> np.ndarray:
    """x (L,) resampled to n points, centre-aligned linear interpolation; x itself when n == L."""
    if n == len(x):
        return x
    if len(x) == 1:
        return np.repeat(x, n)
    pos = (np.arange(n) + 0.5) * (len(x) / n) - 0.5
    return np.interp(pos, np.arange(len(x)), x).astype(x.dtype)


def warp(curve: np.ndarray, durations: np.ndarray, target: np.ndarray) -> np.ndarray:
    """curve (2 sum(durations),) warped token by token onto `target` durations."""
    edges, out_edges = STEPS * np.concatenate([[0], np.cumsum(durations)]), STEPS * np.concatenate([[0], np.cumsum(target)])
    out = np.empty(int(out_edges[-1]), dtype=curve.dtype)
    for i in range(len(durations)):
        out[out_edges[i]:out_edges[i + 1]] = _resample(curve[edges[i]:edges[i + 1]], int(out_edges[i + 1] - out_edges[i]))
    return out


def guide(conditional, unconditional, w: float):
    """Mix two `PlannerOutput`s of the same tokens (both with `raw_durations`) at strength w."""
    from .runtime import PlannerOutput

    w = float(w)
    if w == 1.0:
        return conditional
    if w == 0.0:
        return unconditional
    if conditional.raw_durations is None or unconditional.raw_durations is None:
        raise ValueError("guidance needs the planner's continuous durations (the adapted planner's raw_durations)")
    if conditional.durations.shape != unconditional.durations.shape:
        raise ValueError(f"branches of {conditional.durations.shape} and {unconditional.durations.shape} tokens")
    dc, du = conditional.durations, unconditional.durations
    raw = mix(unconditional.raw_durations.astype(np.float64), conditional.raw_durations.astype(np.float64), w)
    dm = round_durations(raw)
    f0c, f0u = warp(conditional.f0[0], dc, dm), warp(unconditional.f0[0], du, dm)
    voiced = (f0c >= UNVOICED_HZ) & (f0u >= UNVOICED_HZ)
    f0 = np.where(voiced, mix(f0u, f0c, w), f0c if w >= 0.5 else f0u).astype(np.float32)
    energy = mix(warp(unconditional.energy[0], du, dm), warp(conditional.energy[0], dc, dm), w).astype(np.float32)
    starts = np.concatenate([[0], np.cumsum(dc)[:-1]])
    per_token = conditional.features[..., starts]  # (1, 512, T)
    features = np.ascontiguousarray(np.repeat(per_token, dm, axis=-1), dtype=np.float32)
    return PlannerOutput(dm, features, f0[None], energy[None], raw_durations=raw.astype(np.float32))
