"""engine/train/align.py: token durations of a teacher's audio, by alignment to a guide render."""

import numpy as np

from engine.train.align import FRAME, dtw_path, teacher_durations

PITCHES = (220, 330, 440, 550, 660, 880, 990, 1320)


def tones(durations) -> np.ndarray:
    """One token per pitch, each a vibrato tone lasting its duration in frames (24 kHz)."""
    parts = []
    for f, d in zip(PITCHES, durations):
        t = np.arange(d * FRAME) / 24000
        parts.append(0.3 * np.sin(2 * np.pi * f * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * f / 220 * t)))
    return np.concatenate(parts).astype(np.float32)


def test_a_teachers_durations_are_found_through_the_guides():
    guide, truth = np.array([6, 10, 4, 12, 8, 5, 9, 7]), np.array([9, 6, 8, 12, 4, 10, 5, 11])
    found = teacher_durations(guide, tones(guide), tones(truth))
    assert found.dtype == np.int64 and found.sum() == truth.sum() and len(found) == len(truth)
    assert np.abs(np.cumsum(found) - np.cumsum(truth)).max() <= 1  # every boundary within a frame
    assert np.abs(found - guide).sum() > 20  # and not the guide's own


def test_the_warping_path_is_monotonic_and_spans_both():
    a = np.array([[0.0], [1.0], [1.0], [2.0]])
    b = np.array([[0.0], [1.0], [2.0], [2.0], [2.0]])
    path = dtw_path(a, b)
    assert path[0] == (0, 0) and path[-1] == (3, 4)
    assert all(0 <= i2 - i1 <= 1 and 0 <= j2 - j1 <= 1 for (i1, j1), (i2, j2) in zip(path, path[1:]))
    assert (3, 2) in path and (1, 1) in path  # the repeated values meet their like
