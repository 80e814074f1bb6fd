"""The daemon's seams (#10): the engine reached through a declared interface, idle-work planning
as pure functions, modules small enough to read."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.api import SpeechRequest
from engine.daemon import idle
from engine.daemon.interface import SpeechEngine
from tests.conftest_daemon import FakeEngine

DAEMON = Path(__file__).resolve().parents[1] / "engine" / "daemon"


def test_the_fake_and_the_real_engine_provide_the_interface():
    from engine.synth import Engine

    assert isinstance(FakeEngine(), SpeechEngine)
    members = [name for name in SpeechEngine.__protocol_attrs__] if hasattr(SpeechEngine, "__protocol_attrs__") \
        else ["sample_rate", "voices", "locales", "statistics", "stream", "preload_streaming",
              "wanted_calibrations", "calibration_rows", "calibrate"]
    missing = [name for name in members if not hasattr(Engine, name)]
    assert not missing, missing


def test_the_server_refuses_an_engine_without_the_interface(tmp_path):
    from engine.daemon.server import Server

    class Half:
        sample_rate = 24000

        def voices(self, locale=None):
            return []

    with pytest.raises(TypeError, match="interface"):
        Server(Half(), port=0, runtime_dir=tmp_path)


def test_wanted_calibrations_go_before_those_queued_ahead():
    queue = [idle.Preload(), idle.Calibration("v", 15, ahead=True), idle.Calibration("v", 47, ahead=True)]
    planned = idle.plan_calibrations(queue, [("v", 47)], {"v": (15, 19, 47)})
    assert planned == [idle.Preload(), idle.Calibration("v", 47), idle.Calibration("v", 15, ahead=True),
                       idle.Calibration("v", 19, ahead=True)]


def test_key_echo_replaces_older_keys_and_goes_first():
    old_key = SpeechRequest("x", locale="en-US", spell=True)
    queue = [old_key, idle.Calibration("v", 15)]
    planned = idle.plan_key_echo(queue, SpeechRequest("a", locale="en-US"), "jf_alpha", "en-US", ["a", "b"])
    assert [getattr(i, "text", None) for i in planned] == ["a", "b", None]
    assert all(i.spell and i.voice == "jf_alpha" for i in planned[:2])
    assert idle.pending(planned) == {"warm_up_pending": 2, "words_ahead_pending": 0, "calibrations_pending": 1}
    with_words = idle.plan_key_echo(queue, SpeechRequest("a", locale="en-US"), "jf_alpha", "en-US", ["a"], ["the"])
    assert [(i.text, i.spell) for i in with_words[:2]] == [("a", True), ("the", False)]


def test_words_ahead_are_each_word_once_with_punctuation_attached_as_written():
    words = ["Tomatoes", "beans", "and", "beans", "the", "garage"]
    text = "Tomatoes, beans and beans; the garage."
    assert idle.words_ahead(words, text, 16) == ["Tomatoes", "beans", "and", "the", "garage", "Tomatoes,", "beans;",
                                                 "garage."]
    assert idle.words_ahead(words, text, 6) == ["Tomatoes", "beans", "and", "the", "garage", "Tomatoes,"]
    assert idle.words_ahead(words, None, 16) == ["Tomatoes", "beans", "and", "the", "garage"]  # SSML: the words only
    # Tokens that are not one a word (a number read as two words) attach nothing.
    assert idle.words_ahead(["at", "nine", "thirty"], "at 9:30.", 16) == ["at", "nine", "thirty"]


def test_words_ahead_replace_older_ones_and_follow_key_echo():
    key = SpeechRequest("x", locale="en-US", spell=True)
    old = idle.WordAhead(SpeechRequest("old", locale="en-US"))
    queue = [key, old, idle.Calibration("v", 15)]
    line = SpeechRequest("Two words.", locale="en-US", rate=1.5, ssml=False)
    planned = idle.plan_words_ahead(queue, line, "bf_emma", "en-GB", ["Two", "words"])
    assert planned[0] is key and planned[-1] == idle.Calibration("v", 15)
    ahead = planned[1:3]
    assert [(a.request.text, a.request.voice, a.request.locale, a.request.rate, a.request.spell) for a in ahead] == [
        ("Two", "bf_emma", "en-GB", 1.5, False), ("words", "bf_emma", "en-GB", 1.5, False)]
    assert idle.pending(planned) == {"warm_up_pending": 1, "words_ahead_pending": 2, "calibrations_pending": 1}
    # A key echo afterwards goes first and keeps the words ahead (after its own keys and words).
    keys = idle.plan_key_echo(planned, SpeechRequest("a", locale="en-GB"), "bf_emma", "en-GB", ["a"])
    assert [type(i).__name__ for i in keys] == ["SpeechRequest", "WordAhead", "WordAhead", "Calibration"]


@pytest.mark.parametrize("path", sorted(DAEMON.glob("*.py")), ids=lambda p: p.name)
def test_daemon_modules_are_about_400_lines_or_say_why(path):
    text = path.read_text()
    lines = text.count("\n")
    assert lines <= 420 or "400 lines" in text.split('"""')[1], f"{path.name}: {lines} lines"
