"""Audio values: conversions, pitch by resampling, WAV files. Pure functions over numpy arrays."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    """float32 [-1, 1] -> int16, clipped."""
    return (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype(np.int16)


def resample(audio: np.ndarray, length: int) -> np.ndarray:
    """Linear-interpolation resampling of `audio` to exactly `length` samples."""
    if length == len(audio):
        return audio
    if len(audio) == 0 or length <= 0:
        return np.zeros(max(length, 0), dtype=np.float32)
    positions = np.linspace(0.0, len(audio) - 1, num=length)
    return np.interp(positions, np.arange(len(audio)), audio).astype(np.float32)


def write_wav(path: Path, pcm16: np.ndarray, sample_rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(np.asarray(pcm16, dtype="<i2").tobytes())


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A mono or stereo 16-bit WAV -> (float32 mono, sample_rate)."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit WAV is supported, got {8 * w.getsampwidth()}-bit")
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        channels, rate = w.getnchannels(), w.getframerate()
    return frames.reshape(-1, channels).mean(axis=1), rate


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0
