"""Log-mel spectral distance in numpy, to compare two renders of the same plan numerically.

No torch here, so runtime-side tests (split graphs, chunked rendering) can use it too.
`log_mel_distance` is the mean absolute difference of natural-log mel magnitudes (80 bands,
1024-point STFT, hop 256, 24 kHz): 0 for identical audio; about 0.1 is inaudible requantisation
noise; different voices saying the same words score around 1.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 24000


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)


def mel_filterbank(n_fft: int = 1024, n_mels: int = 80, sample_rate: int = SAMPLE_RATE,
                   fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular HTK-mel filters."""
    fmax = fmax or sample_rate / 2
    bins = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None] - lower) / (centre - lower)
    falling = (upper - bins[None]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling))


def stft_magnitude(audio: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """(frames, n_fft // 2 + 1) magnitudes of a Hann-windowed, reflect-padded STFT."""
    audio = np.asarray(audio, dtype=np.float64).ravel()
    padded = np.pad(audio, n_fft // 2, mode="reflect") if audio.size > n_fft // 2 else np.pad(audio, n_fft // 2)
    frames = 1 + (padded.size - n_fft) // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    window = np.hanning(n_fft + 1)[:-1]
    return np.abs(np.fft.rfft(padded[index] * window, axis=1))


def log_mel(audio: np.ndarray, n_fft: int = 1024, hop: int = 256, n_mels: int = 80) -> np.ndarray:
    """(frames, n_mels) natural-log mel magnitudes, floored at 1e-5."""
    return np.log(np.maximum(stft_magnitude(audio, n_fft, hop) @ mel_filterbank(n_fft, n_mels).T, 1e-5))


def log_mel_distance(a: np.ndarray, b: np.ndarray, n_fft: int = 1024, hop: int = 256) -> float:
    """Mean |log-mel(a) - log-mel(b)|; the signals must have the same length."""
    a, b = np.asarray(a).ravel(), np.asarray(b).ravel()
    if a.shape != b.shape:
        raise ValueError(f"audio lengths differ: {a.shape[0]} vs {b.shape[0]} samples")
    return float(np.mean(np.abs(log_mel(a, n_fft, hop) - log_mel(b, n_fft, hop))))
