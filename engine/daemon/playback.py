"""Daemon-side playback (`"playback": "daemon"`) through sounddevice.

One output stream for the whole daemon, opened on first use. `write` blocks until PortAudio has
taken the samples, so the caller learns when audio reaches the device and can send index events
then; `abort` drops what the device still holds (cancel).
"""

from __future__ import annotations

import threading

from ..errors import AudioDeviceError


class Player:
    def __init__(self, sample_rate: int):
        try:
            import sounddevice
        except (ImportError, OSError) as exc:  # OSError: the PortAudio library is missing
            raise AudioDeviceError(f"no audio output: {exc}") from None
        self._sd = sounddevice
        self.sample_rate = sample_rate
        self._stream = None
        self._lock = threading.Lock()

    def _open(self):
        if self._stream is None:
            try:
                self._stream = self._sd.RawOutputStream(samplerate=self.sample_rate, channels=1, dtype="int16")
                self._stream.start()
            except Exception as exc:  # PortAudioError and friends: no device, device busy
                self._stream = None
                raise AudioDeviceError(f"cannot open the audio output: {exc}") from None
        return self._stream

    def check(self) -> None:
        """Raise AudioDeviceError now if there is no usable output device."""
        with self._lock:
            self._open()

    def write(self, pcm: bytes) -> None:
        with self._lock:
            stream = self._open()
        try:
            stream.write(pcm)
        except Exception as exc:  # an aborted stream raises; the next write reopens
            with self._lock:
                self._stream = None
            raise AudioDeviceError(f"audio output failed: {exc}") from None

    def abort(self) -> None:
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception:  # already closed by a failing write
                pass
