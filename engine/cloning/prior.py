"""The space of real voice packs: where a fitted voice may go (numpy only).

A pack is (510, 256): one style row per input length, the first 128 columns the renderer's timbre,
the last 128 the planner's prosody. The 39 real packs (34 of `engine/voice_packs`, 5 Japanese) are
decomposed per half by PCA over *whole packs* (510 x 128 values each), so one coefficient moves
every length row together, the way real voices differ. A fitted pack is

    pack[:, half] = mean[half] + (z[half] * sigma[half]) @ components[half] + residual[half]

with z in units of the real packs' standard deviation along each component (the prior: z ~ N(0, 1),
clamped to +-`limit`), and a small residual row (128 per half, shared by every length row) whose
scale is tied to the real packs' spread per column. Every real pack is exactly representable
(39 packs span 38 components).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HALF = 128
HALVES = ("timbre", "prosody")


def real_packs(exclude: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Every real pack Echoic ships, id -> float32 (510, 256), minus `exclude`."""
    from .. import model_store
    from .. import voice_packs

    packs: dict[str, np.ndarray] = {}
    with np.load(str(model_store.voices_file())) as ja:
        for name in ja.files:
            packs[name] = np.asarray(ja[name], dtype=np.float32).reshape(ja[name].shape[0], -1)
    with voice_packs.packs_file().open("rb") as f, np.load(f) as shipped:
        for name in shipped.files:
            packs[name] = np.asarray(shipped[name], dtype=np.float32)
    missing = set(exclude) - set(packs)
    if missing:
        raise ValueError(f"cannot exclude unknown packs {sorted(missing)}")
    return {k: v for k, v in sorted(packs.items()) if k not in exclude}


@dataclass(frozen=True)
class PackSpace:
    names: tuple[str, ...]
    mean: np.ndarray
    """(510, 256)."""
    components: tuple[np.ndarray, np.ndarray]
    """Per half: (K, 510 * 128), orthonormal rows."""
    sigma: tuple[np.ndarray, np.ndarray]
    """Per half: (K,) standard deviation of the real packs along each component."""
    column_std: np.ndarray
    """(256,): the real packs' spread per column (over packs, averaged over rows): the residual's scale."""
    coefficients: dict[str, np.ndarray]
    """Each real pack's z, (2, K) (timbre row, prosody row)."""

    @property
    def rows(self) -> int:
        return self.mean.shape[0]

    def pack(self, z: np.ndarray, residual: np.ndarray | None = None) -> np.ndarray:
        """z (2, K) [, residual (256,) in units of column_std] -> float32 (510, 256)."""
        out = self.mean.copy()
        for h in range(2):
            flat = (z[h] * self.sigma[h]) @ self.components[h]
            out[:, h * HALF:(h + 1) * HALF] += flat.reshape(self.rows, HALF)
        if residual is not None:
            out += residual * self.column_std
        return out.astype(np.float32)

    def project(self, pack: np.ndarray) -> np.ndarray:
        """The z (2, K) of a pack (its least-squares coordinates)."""
        z = []
        for h in range(2):
            centred = (pack[:, h * HALF:(h + 1) * HALF] - self.mean[:, h * HALF:(h + 1) * HALF]).reshape(-1)
            z.append((self.components[h] @ centred) / self.sigma[h])
        return np.stack(z)


def build_space(packs: dict[str, np.ndarray], max_components: int | None = None) -> PackSpace:
    names = tuple(sorted(packs))
    stack = np.stack([packs[n] for n in names]).astype(np.float64)  # (N, 510, 256)
    if len(names) < 3:
        raise ValueError(f"a pack space needs at least 3 packs, got {len(names)}")
    mean = stack.mean(axis=0)
    components, sigma = [], []
    k = len(names) - 1 if max_components is None else min(max_components, len(names) - 1)
    for h in range(2):
        x = (stack[:, :, h * HALF:(h + 1) * HALF] - mean[:, h * HALF:(h + 1) * HALF]).reshape(len(names), -1)
        _, s, vt = np.linalg.svd(x, full_matrices=False)
        components.append(vt[:k].astype(np.float32))
        sigma.append((s[:k] / np.sqrt(len(names) - 1)).astype(np.float32))
    column_std = stack.std(axis=0).mean(axis=0).astype(np.float32)
    space = PackSpace(names, mean.astype(np.float32), tuple(components), tuple(sigma), column_std, {})
    for n in names:
        space.coefficients[n] = space.project(packs[n])
    return space
