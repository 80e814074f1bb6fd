"""The system voice (pyttsx3 over eSpeak NG here): every render complete, a lost one tried again."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import engine.fallback as fallback
from engine.errors import RenderError
from engine.fallback import SystemVoice
from engine.locales import get_locale

RATE = 24000
SENTENCE = "The weather report for Thursday calls for scattered thunderstorms."


def speak(text=SENTENCE, tag="en-US"):
    return SystemVoice().speak_to_array(text, get_locale(tag), 1.0, RATE)


def test_renders_back_to_back_are_each_complete():
    lengths = [len(speak()) / RATE for _ in range(6)]
    # eSpeak NG varies a sentence by a few milliseconds; a render cut short or lost would not.
    assert min(lengths) > 3.0, lengths
    assert max(lengths) - min(lengths) < 0.05, lengths


def test_renders_from_two_threads_are_each_complete():
    solo = len(speak()) / RATE
    results: list[float] = []

    def worker():
        for _ in range(3):
            results.append(len(speak()) / RATE)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6
    assert all(abs(d - solo) < 0.05 for d in results), (solo, results)


def test_the_locale_picks_the_system_voice_language():
    english, german = speak("Zwei", "en-US"), speak("Zwei", "de-DE")
    assert len(english) and len(german)
    assert len(english) != len(german) or not np.allclose(english, german)


def test_a_render_that_brings_nothing_is_tried_again(monkeypatch):
    speak()  # the process's engine exists
    real = fallback._Pyttsx3.render
    calls = []

    def first_lost(self, text, path):
        calls.append(text)
        if len(calls) == 1:
            raise RenderError("it did not finish within 5 s")
        return real(self, text, path)

    monkeypatch.setattr(fallback._Pyttsx3, "render", first_lost)
    audio = speak()
    assert len(calls) == 2
    assert len(audio) / RATE > 3.0


def test_a_render_that_never_brings_audio_is_an_error_naming_each_try(monkeypatch):
    speak()
    monkeypatch.setattr(fallback._Pyttsx3, "render",
                        lambda self, text, path: (np.zeros(0, np.float32), 22050))
    with pytest.raises(RenderError, match=r"failed to speak 'Hello'.*wrote no audio; then it wrote no audio"):
        speak("Hello")
