"""Classifier-free guidance of the planner (engine/guidance.py), on synthetic planner outputs."""

from __future__ import annotations

import numpy as np
import pytest

from engine.guidance import Guidance, guide, mix, round_durations, warp
from engine.runtime import PlannerOutput


def plan(raw, seed, voiced=True):
    """A planner output as the graph makes one: rounded durations, per-token features repeated,
    F0 and energy at 2 steps per frame."""
    rng = np.random.default_rng(seed)
    raw = np.asarray(raw, dtype=np.float32)
    d = round_durations(raw)
    frames = int(d.sum())
    per_token = np.random.default_rng(0).standard_normal((1, 512, len(d))).astype(np.float32)  # style-free
    f0 = (120 + 40 * rng.random(2 * frames)).astype(np.float32)
    if not voiced:
        f0[: 2 * int(d[0])] = 0.0
    energy = rng.standard_normal(2 * frames).astype(np.float32)
    return PlannerOutput(d, np.repeat(per_token, d, axis=-1), f0[None], energy[None], raw_durations=raw)


C = plan([3.2, 5.6, 2.4, 7.5, 1.1], seed=1)
U = plan([4.4, 3.1, 2.6, 9.2, 0.2], seed=2, voiced=False)


def test_w1_is_the_conditional_and_w0_the_unconditional_exactly():
    assert guide(C, U, 1.0) is C and guide(C, U, 0.0) is U
    for w in (0.0, 1.0):  # the mix itself is exact at both ends, not only by the shortcut
        assert np.array_equal(mix(U.f0, C.f0, w), C.f0 if w else U.f0)
        assert np.array_equal(mix(U.raw_durations, C.raw_durations, w), C.raw_durations if w else U.raw_durations)


@pytest.mark.parametrize("w", [0.25, 0.5, 0.75])
def test_intermediate_w_lies_between_the_branches(w):
    g = guide(C, U, w)
    lo, hi = np.minimum(C.durations, U.durations), np.maximum(C.durations, U.durations)
    assert np.all(g.durations >= np.maximum(lo, 1)) and np.all(g.durations <= hi)
    assert np.array_equal(g.durations, round_durations(U.raw_durations + w * (C.raw_durations - U.raw_durations)))
    frames = int(g.durations.sum())
    assert g.features.shape == (1, 512, frames) and g.f0.shape == g.energy.shape == (1, 2 * frames)
    # features: each token's own vector, repeated along its mixed duration
    starts = np.concatenate([[0], np.cumsum(g.durations)[:-1]])
    assert np.array_equal(g.features[..., starts], C.features[..., np.concatenate([[0], np.cumsum(C.durations)[:-1]])])
    # voiced F0 between the warped branches; where one branch is unvoiced, the nearer branch's
    fc, fu = warp(C.f0[0], C.durations, g.durations), warp(U.f0[0], U.durations, g.durations)
    both = (fc >= 10) & (fu >= 10)
    assert np.all(g.f0[0][both] >= np.minimum(fc, fu)[both] - 1e-3)
    assert np.all(g.f0[0][both] <= np.maximum(fc, fu)[both] + 1e-3)
    assert np.array_equal(g.f0[0][~both], (fc if w >= 0.5 else fu)[~both])
    assert (~both).any()


def test_guidance_moves_monotonically_with_w():
    ws = np.linspace(0, 1, 11)
    totals = [guide(C, U, w).raw_durations.sum() for w in ws]
    assert np.all(np.diff(totals) * np.sign(C.raw_durations.sum() - U.raw_durations.sum()) >= -1e-4)


def test_warp_is_the_identity_onto_the_same_durations_and_keeps_constant_curves():
    assert np.array_equal(warp(C.f0[0], C.durations, C.durations), C.f0[0])
    flat = np.full(2 * int(C.durations.sum()), 7.0, np.float32)
    out = warp(flat, C.durations, U.durations)
    assert out.shape == (2 * int(U.durations.sum()),) and np.all(out == 7.0)


def test_rounding_is_the_graphs():
    assert round_durations(np.array([0.2, 0.5, 1.5, 2.5, 3.51])).tolist() == [1, 1, 2, 2, 4]


def test_guidance_values_are_checked():
    with pytest.raises(ValueError):
        Guidance(np.zeros(64, np.float32), 0.5)
    with pytest.raises(ValueError):
        Guidance(np.zeros(128, np.float32), 1.5)
    with pytest.raises(ValueError):
        Guidance(np.full(128, np.nan, np.float32), 0.5)
    style = np.arange(256, dtype=np.float32).reshape(1, 256)
    g = Guidance(np.ones(128, np.float32), 0.5)
    u = g.style(style)
    assert np.array_equal(u[:, :128], style[:, :128]) and np.all(u[:, 128:] == 1) and style[0, 200] == 200
    with pytest.raises(ValueError, match="continuous durations"):
        guide(PlannerOutput(C.durations, C.features, C.f0, C.energy), U, 0.5)
