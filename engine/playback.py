"""Local playback through sounddevice (PortAudio). Only the CLI and the daemon's playback use it."""

from __future__ import annotations

from collections.abc import Iterable

from .errors import AudioDeviceError


def open_output(sample_rate: int):
    """A started 16-bit mono output stream, or AudioDeviceError saying why there is none."""
    try:
        import sounddevice
    except (ImportError, OSError) as exc:  # OSError: PortAudio library missing
        raise AudioDeviceError(f"no audio output: sounddevice/PortAudio unavailable ({exc})") from exc
    try:
        stream = sounddevice.RawOutputStream(samplerate=sample_rate, channels=1, dtype="int16")
        stream.start()
    except Exception as exc:  # PortAudioError, ValueError when no default device
        raise AudioDeviceError(f"no audio output device ({exc})") from exc
    return stream


def play_pcm(chunks: Iterable[bytes], sample_rate: int) -> None:
    """Play 16-bit mono PCM chunks as they come; returns when all have played."""
    stream = open_output(sample_rate)
    try:
        for pcm in chunks:
            stream.write(pcm)
    finally:
        stream.stop()
        stream.close()
