"""The system voice: eSpeak NG's library here (Linux), pyttsx3 on Windows and macOS (driven below
through a stand-in engine, since neither SAPI5 nor NSSS exists on this machine)."""

from __future__ import annotations

import sys
import threading
import types

import numpy as np
import pytest

import engine.fallback as fallback
from engine.audio import write_wav
from engine.errors import G2PError, RenderError
from engine.fallback import SystemVoice
from engine.g2p import espeak
from engine.locales import get_locale

RATE = 24000
SENTENCE = "The weather report for Thursday calls for scattered thunderstorms."


def speak(text=SENTENCE, tag="en-US", rate=1.0):
    return SystemVoice().speak_to_array(text, get_locale(tag), rate, RATE)


def whole_like(audio, solo):
    """eSpeak NG varies a sentence by a few milliseconds from call to call; a render cut short,
    lost or silenced would not be within 20 ms and 10% loudness of another."""
    loudness = np.sqrt(np.mean(audio ** 2)) / np.sqrt(np.mean(solo ** 2))
    return abs(len(audio) - len(solo)) < 0.02 * RATE and 0.9 < loudness < 1.1


def test_renders_back_to_back_are_whole():
    first = speak()
    assert len(first) / RATE > 3.0
    assert np.sqrt(np.mean(first ** 2)) > 0.02  # speech, not silence
    assert all(whole_like(speak(), first) for _ in range(5))


def test_renders_from_two_threads_are_whole():
    solo = speak()
    results: list[np.ndarray] = []

    def worker():
        for _ in range(3):
            results.append(speak())

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6
    assert all(whole_like(r, solo) for r in results)


def test_the_locale_picks_the_espeak_voice_and_the_rate_its_speed(monkeypatch):
    library, calls = espeak(), []
    real = library.synthesize

    def spy(text, voice, words_per_minute):
        calls.append((voice, words_per_minute))
        return real(text, voice, words_per_minute)

    monkeypatch.setattr(library, "synthesize", spy)
    normal, fast = speak(), speak(rate=2.0)
    speak("Tomato.", "en-GB"), speak("Zwei.", "de-DE"), speak("Dos.", "es-US")
    assert calls == [("en-us", 175), ("en-us", 350), ("en", 175), ("de", 175), ("es-419", 175)]
    assert 0.4 < len(fast) / len(normal) < 0.7
    # a screen reader at three times the normal rate: eSpeak NG goes past 450 words a minute
    assert 0.25 < len(speak(rate=3.0)) / len(normal) < 0.4


def test_the_g2p_still_reads_after_the_system_voice_spoke():
    before = espeak().phonemize("hello world", "en-us")
    speak("Zwei Bibliotheken.", "de-DE", rate=2.0)
    assert espeak().phonemize("hello world", "en-us") == before


def test_a_library_error_is_a_render_error_naming_the_text(monkeypatch):
    def broken(text, voice, words_per_minute):
        raise G2PError("espeak-ng could not speak 'Hello' (espeak_Synth error 2)")

    monkeypatch.setattr(espeak(), "synthesize", broken)
    with pytest.raises(RenderError, match=r"failed to speak 'Hello'.*espeak_Synth error 2"):
        speak("Hello")


# pyttsx3 (SAPI5 on Windows): a stand-in engine with pyttsx3's interface.

VOICES = [types.SimpleNamespace(id="gmw/en", languages=["en"]),
          types.SimpleNamespace(id="HKLM/Speech/Voices/TTS_MS_EN-US_ZIRA", languages=["en_US"]),
          types.SimpleNamespace(id="HKLM/Speech/Voices/TTS_MS_DE-DE_HEDDA", languages=["de_DE"])]


class StandIn:
    """What `runAndWait` does on each call: "audio" writes 0.5 s of tone, "error" announces a
    driver error, "nothing" writes nothing."""

    def __init__(self, outcomes):
        self.outcomes = list(outcomes)
        self.props: dict = {}
        self.listeners: dict = {}
        self.path = None

    def connect(self, topic, callback):
        self.listeners.setdefault(topic, []).append(callback)

    def getProperty(self, name):
        return VOICES

    def setProperty(self, name, value):
        self.props[name] = value

    def save_to_file(self, text, path):
        self.path = path

    def runAndWait(self):
        outcome = self.outcomes.pop(0)
        if outcome == "audio":
            tone = (8000 * np.sin(np.arange(8000) * 0.1)).astype(np.int16)
            write_wav(self.path, tone, 16000)
        elif outcome == "error":
            for listener in self.listeners["error"]:
                listener(name=None, exception=RuntimeError("SAPI5: the voice is not installed"))


@pytest.fixture
def stand_in(monkeypatch):
    def install(*outcomes):
        engine = StandIn(outcomes)
        monkeypatch.setattr(fallback, "USES_PYTTSX3", True)
        monkeypatch.setattr(fallback, "_ENGINE", None)
        monkeypatch.setattr(fallback, "FINISH_TIMEOUT_S", 0.2)
        monkeypatch.setitem(sys.modules, "pyttsx3", types.SimpleNamespace(init=lambda: engine))
        return engine
    return install


def test_pyttsx3_speaks_the_most_specific_voice_at_the_rate(stand_in):
    engine = stand_in("audio", "audio", "audio")
    audio = speak("Hello", "en-US", rate=2.0)
    assert engine.props == {"voice": "HKLM/Speech/Voices/TTS_MS_EN-US_ZIRA", "rate": 350}
    assert len(audio) == 12000  # 0.5 s at 24 kHz
    speak("Hello", "en-US-south")
    assert engine.props["voice"].endswith("EN-US_ZIRA")  # its eSpeak voice, en-us, is exact
    speak("Hallo", "de-DE")
    assert engine.props["voice"].endswith("DE-DE_HEDDA")


def test_pyttsx3_render_that_brings_nothing_is_tried_again(stand_in):
    engine = stand_in("nothing", "audio")
    assert len(speak("Hello")) == 12000
    assert engine.outcomes == []


def test_pyttsx3_errors_are_named_after_both_tries(stand_in):
    stand_in("error", "nothing")
    with pytest.raises(RenderError, match=r"failed to speak 'Hello': the driver reported SAPI5: the voice is "
                                          r"not installed; then it wrote no audio within 0 s"):
        speak("Hello")
