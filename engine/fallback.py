"""The system voice: the last resort for a segment the neural model could not speak correctly.

pyttsx3 drives eSpeak NG on Linux and SAPI5 on Windows. The audio is rendered to a WAV file and
resampled to the engine's rate, so it joins the utterance like any other segment.

pyttsx3's eSpeak NG driver is asynchronous: `runAndWait` returns once synthesis is queued, and the
library's own thread writes the file, then resets the driver ("finished-utterance"). A render is
complete only after that notification, not when the file first holds audio; starting the next one
earlier races the previous one's reset. SAPI5 writes the file before `runAndWait` returns and
announces nothing. A render that brings no audio is tried once more, then it is an error.
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

ATTEMPTS = 2
"""Renders tried before the system voice is an error."""

FINISH_TIMEOUT_S = 5.0
"""How long one render may take (eSpeak NG speaks a long sentence in well under a second)."""


class _Pyttsx3:
    """The process's one pyttsx3 engine (pyttsx3 keeps one per driver anyway, and eSpeak NG can be
    initialised once per process), with the driver's start and finish notifications."""

    def __init__(self):
        try:
            import pyttsx3

            self.engine = pyttsx3.init()
        except Exception as exc:  # pyttsx3 raises bare errors when no driver/library exists
            raise RenderError(f"the system voice (pyttsx3) is unavailable: {exc}") from exc
        self.started = threading.Event()
        self.finished = threading.Event()
        self.engine.connect("started-utterance", lambda **_: self.started.set())
        self.engine.connect("finished-utterance", lambda **_: self.finished.set())

    def pick_voice(self, locale: Locale) -> None:
        wanted = (locale.espeak_voice.lower(), locale.tag.lower(), locale.language)
        for voice in self.engine.getProperty("voices"):
            langs = [str(lang).lower() for lang in (voice.languages or [])]
            ident = str(voice.id).lower()
            if any(ident.endswith("/" + w) or w in langs for w in wanted):
                self.engine.setProperty("voice", voice.id)
                return

    def render(self, text: str, path: Path) -> tuple[np.ndarray, int]:
        """One render of `text` into `path`, waited for until the driver is done with it."""
        self.started.clear()
        self.finished.clear()
        self.engine.save_to_file(text, str(path))
        self.engine.runAndWait()
        if self.started.is_set():  # eSpeak NG: asynchronous, announces its end
            if not self.finished.wait(FINISH_TIMEOUT_S):
                raise RenderError(f"it did not finish within {FINISH_TIMEOUT_S:.0f} s")
            # The driver marks itself idle just after announcing the end; the next render waits.
            deadline = time.monotonic() + FINISH_TIMEOUT_S
            while self.engine.isBusy() and time.monotonic() < deadline:
                time.sleep(0.001)
        try:
            return read_wav(path)
        except (EOFError, wave.Error, OSError) as exc:
            raise RenderError(f"it wrote no readable audio ({exc})") from exc


_ENGINE: _Pyttsx3 | None = None
_LOCK = threading.Lock()  # pyttsx3 is not thread-safe, and its engine is the process's one


class SystemVoice:
    """Renders text with the system voice; calls from any thread are serialised."""

    def speak_to_array(self, text: str, locale: Locale, rate: float, sample_rate: int) -> np.ndarray:
        """Render `text` with the system voice: float32 mono at `sample_rate`."""
        global _ENGINE
        # On Linux pyttsx3 drives the same libespeak-ng as our G2P: one user at a time.
        with _LOCK, espeak().exclusive():
            if _ENGINE is None:
                _ENGINE = _Pyttsx3()
            _ENGINE.pick_voice(locale)
            _ENGINE.engine.setProperty("rate", int(175 * rate))
            fd, tmp = tempfile.mkstemp(suffix=".wav", prefix="echoic-fallback-")
            os.close(fd)
            problems = []
            try:
                # pyttsx3 prints "Audio saved to ..." on stdout, which belongs to our callers.
                with contextlib.redirect_stdout(io.StringIO()):
                    for _ in range(ATTEMPTS):
                        try:
                            audio, rate_in = _ENGINE.render(text, Path(tmp))
                        except Exception as exc:
                            problems.append(str(exc))
                            continue
                        if len(audio):
                            break
                        problems.append("it wrote no audio")
                    else:
                        raise RenderError(f"the system voice failed to speak {text[:40]!r}: "
                                          + "; then ".join(problems))
            finally:
                Path(tmp).unlink(missing_ok=True)
        return resample(audio, round(len(audio) * sample_rate / rate_in))
