"""The system voice: the last resort for a segment the neural model could not speak correctly.

pyttsx3 drives eSpeak NG on Linux and SAPI5 on Windows. The audio is rendered to a WAV file and
resampled to the engine's rate, so it joins the utterance like any other segment.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import threading
import time
import wave
from pathlib import Path

import numpy as np

from .audio import read_wav, resample
from .errors import RenderError
from .g2p import espeak
from .locales import Locale


def _wait_for_wav(path: Path, timeout: float = 10.0) -> tuple[np.ndarray, int]:
    """pyttsx3's espeak driver may return from runAndWait before its synthesis callback has
    written the file (seen in long test runs: an empty file, then "Audio saved" printed later),
    so wait until the WAV is complete."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            audio, rate = read_wav(path)
            if len(audio):
                return audio, rate
        except (EOFError, wave.Error):
            pass
        if time.monotonic() > deadline:
            raise RenderError(f"the system voice wrote no audio within {timeout:.0f} s")
        time.sleep(0.01)


class SystemVoice:
    """Lazily initialised pyttsx3 engine; calls are serialised (pyttsx3 is not thread-safe)."""

    def __init__(self):
        self._engine = None
        self._lock = threading.Lock()

    def _init(self):
        if self._engine is None:
            try:
                import pyttsx3

                self._engine = pyttsx3.init()
            except Exception as exc:  # pyttsx3 raises bare errors when no driver/library exists
                raise RenderError(f"the system voice (pyttsx3) is unavailable: {exc}") from exc
        return self._engine

    def _pick_voice(self, engine, locale: Locale) -> None:
        wanted = (locale.espeak_voice.lower(), locale.tag.lower(), locale.language)
        for voice in engine.getProperty("voices"):
            langs = [str(lang).lower() for lang in (voice.languages or [])]
            ident = str(voice.id).lower()
            if any(ident.endswith("/" + w) or w in langs for w in wanted):
                engine.setProperty("voice", voice.id)
                return

    def speak_to_array(self, text: str, locale: Locale, rate: float, sample_rate: int) -> np.ndarray:
        """Render `text` with the system voice: float32 mono at `sample_rate`."""
        # On Linux pyttsx3 drives the same libespeak-ng as our G2P: one user at a time.
        with self._lock, espeak().exclusive():
            engine = self._init()
            self._pick_voice(engine, locale)
            engine.setProperty("rate", int(175 * rate))
            fd, tmp = tempfile.mkstemp(suffix=".wav", prefix="echoic-fallback-")
            os.close(fd)
            try:
                # pyttsx3 prints "Audio saved to ..." on stdout, which belongs to our callers.
                with contextlib.redirect_stdout(io.StringIO()):
                    engine.save_to_file(text, tmp)
                    engine.runAndWait()
                    audio, rate_in = _wait_for_wav(Path(tmp))
            except Exception as exc:
                raise RenderError(f"the system voice failed to speak {text[:40]!r}: {exc}") from exc
            finally:
                Path(tmp).unlink(missing_ok=True)
        if len(audio) == 0:
            raise RenderError(f"the system voice produced no audio for {text[:40]!r}")
        return resample(audio, round(len(audio) * sample_rate / rate_in))
