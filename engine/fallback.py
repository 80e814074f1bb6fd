"""The system voice: the last resort for a segment the neural model could not speak correctly.

On Linux it is eSpeak NG, the voice Orca users hear through speech-dispatcher: the libespeak-ng
the G2P already holds, driven synchronously (`Espeak.synthesize`: the samples arrive in the
calling thread before the call returns). pyttsx3's own eSpeak NG driver is not used: it runs the
library asynchronously and its state (a pending cancel, a rate change, its "finished" event)
races the next render, which once cost a render its audio in CI (docs/guardrails.md).
On Windows (SAPI5) and macOS the system voice is pyttsx3's, rendered to a WAV file; a render that
brings no audio is tried once more, then it is an error naming each try and what the driver
reported. Either way the audio is resampled to the engine's rate, so it joins the utterance like
any other segment.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path

import numpy as np

from .audio import read_wav, resample
from .errors import G2PError, RenderError
from .g2p import espeak
from .locales import Locale

USES_PYTTSX3 = sys.platform in ("win32", "darwin")
"""Where the system voice is pyttsx3's (SAPI5, NSSS); elsewhere it is eSpeak NG's library."""

WORDS_PER_MINUTE = 175
"""The system voice's speed at rate 1."""

ATTEMPTS = 2
"""pyttsx3 renders tried before the system voice is an error."""

FINISH_TIMEOUT_S = 5.0
"""How long a pyttsx3 render's file may take to appear after `runAndWait` returns."""


class SystemVoice:
    """Renders text with the system voice; calls from any thread are serialised."""

    def speak_to_array(self, text: str, locale: Locale, rate: float, sample_rate: int) -> np.ndarray:
        """Render `text` with the system voice: float32 mono at `sample_rate`."""
        words_per_minute = round(WORDS_PER_MINUTE * rate)
        if USES_PYTTSX3:
            audio, rate_in = _pyttsx3_speak(text, locale, words_per_minute)
        else:
            library = espeak()
            try:
                audio, rate_in = library.synthesize(text, locale.espeak_voice, words_per_minute), library.sample_rate
            except G2PError as exc:
                raise RenderError(f"the system voice failed to speak {text[:40]!r}: {exc}") from exc
        if len(audio) == 0:
            raise RenderError(f"the system voice produced no audio for {text[:40]!r}")
        return resample(audio, round(len(audio) * sample_rate / rate_in))


class _Pyttsx3:
    """The process's one pyttsx3 engine (pyttsx3 keeps one per driver), with what its driver
    reports as errors: pyttsx3 catches a driver's exceptions and only announces them."""

    def __init__(self):
        try:
            import pyttsx3

            self.engine = pyttsx3.init()
        except Exception as exc:  # pyttsx3 raises bare errors when no driver or library exists
            raise RenderError(f"the system voice (pyttsx3) is unavailable: {exc}") from exc
        self.errors: list[str] = []
        self.engine.connect("error", lambda exception=None, **_: self.errors.append(str(exception)))

    def pick_voice(self, locale: Locale) -> None:
        """The most specific voice for `locale`: its exact tag or eSpeak voice, else its language."""
        exact = {locale.tag.lower(), locale.espeak_voice.lower()}
        best, best_score = None, 0
        for voice in self.engine.getProperty("voices"):
            names = {str(lang).lower().replace("_", "-") for lang in (voice.languages or [])}
            names.add(str(voice.id).lower().rsplit("/", 1)[-1])
            score = 2 if names & exact else 1 if any(n.split("-")[0] == locale.language for n in names) else 0
            if score > best_score:
                best, best_score = voice, score
        if best is not None:
            self.engine.setProperty("voice", best.id)

    def render(self, text: str, path: Path) -> tuple[np.ndarray, int]:
        """One render of `text` into `path` (SAPI5 writes it before `runAndWait` returns)."""
        self.errors.clear()
        self.engine.save_to_file(text, str(path))
        self.engine.runAndWait()
        deadline = time.monotonic() + FINISH_TIMEOUT_S
        while not self.errors:
            try:
                audio, rate = read_wav(path)
                if len(audio):
                    return audio, rate
            except (EOFError, wave.Error):
                pass  # not written yet
            if time.monotonic() > deadline:
                raise RenderError(f"it wrote no audio within {FINISH_TIMEOUT_S:.0f} s")
            time.sleep(0.01)
        raise RenderError("the driver reported " + "; ".join(self.errors))


_ENGINE: _Pyttsx3 | None = None
_LOCK = threading.Lock()  # pyttsx3 is not thread-safe, and its engine is the process's one


def _pyttsx3_speak(text: str, locale: Locale, words_per_minute: int) -> tuple[np.ndarray, int]:
    global _ENGINE
    with _LOCK:
        if _ENGINE is None:
            _ENGINE = _Pyttsx3()
        _ENGINE.pick_voice(locale)
        _ENGINE.engine.setProperty("rate", words_per_minute)
        fd, tmp = tempfile.mkstemp(suffix=".wav", prefix="echoic-fallback-")
        os.close(fd)
        problems = []
        try:
            # pyttsx3's drivers may print ("Audio saved to ..."); stdout belongs to our callers.
            with contextlib.redirect_stdout(io.StringIO()):
                for _ in range(ATTEMPTS):
                    Path(tmp).write_bytes(b"")
                    try:
                        return _ENGINE.render(text, Path(tmp))
                    except RenderError as exc:
                        problems.append(str(exc))
        finally:
            Path(tmp).unlink(missing_ok=True)
    raise RenderError(f"the system voice failed to speak {text[:40]!r}: " + "; then ".join(problems))
