"""The daemon with the real Engine (real onnxruntime, real voices), over real sockets, and
`python -m engine serve` as a real process."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.api import SpeechRequest
from engine.client import DaemonClient, find_daemon
from engine.cli import main as echoic
from engine.daemon import protocol as p
from tests.conftest_daemon import running_daemon

pytestmark = pytest.mark.slow

SSML = '<speak>Hello <mark name="one"/> world, and <mark name="two"/> goodbye.</speak>'
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def engine():
    from engine.synth import Engine

    return Engine()


@pytest.fixture(scope="module")
def daemon(engine, tmp_path_factory):
    root = tmp_path_factory.mktemp("real-daemon")
    # Calibrating every row ahead would keep this module's daemon busy for minutes.
    with running_daemon(engine, root / "runtime", root / "settings.toml", calibrate_ahead=False) as server:
        yield server


def test_marks_over_the_socket_equal_the_plan(engine, daemon):
    audio, plan = engine.synthesize(SpeechRequest(SSML, ssml=True))
    assert [m.name for m in plan.marks] == ["one", "two"]
    with DaemonClient.connect(daemon.runtime_dir) as c:
        result = c.speak(SSML, ssml=True)
    assert [(m["mark"], m["sample_offset"]) for m in result.marks] == [(m.name, m.sample) for m in plan.marks]
    assert result.samples == len(audio) == result.done["samples"] and result.pcm == audio.tobytes()
    sent = 0
    for event in result.events:  # every index comes exactly after the audio before its offset
        if isinstance(event, p.AudioFrame):
            assert event.sample_offset == sent
            sent += len(event.pcm) // 2
        elif event["type"] == "index":
            assert sent == event["sample_offset"]
    # The engine rendered this text just above, so its short segments come from the render cache:
    # the real-time factor may round to 0, time to first audio may not.
    assert result.done["stats"]["time_to_first_audio_ms"] > 0 and result.done["stats"]["real_time_factor"] >= 0


def test_cancel_mid_stream_with_the_real_engine(daemon):
    with DaemonClient.connect(daemon.runtime_dir) as c:
        uid = c.start_speaking("This sentence is long enough to take several chunks of audio. " * 6)
        while not isinstance(c.receive(120), p.AudioFrame):
            pass
        c.cancel(uid)
        done = next(m for m in iter(lambda: c.receive(120), None) if isinstance(m, dict) and m.get("type") == "done")
        assert done["cancelled"] is True and done["samples"] < 40 * 24000
        assert c.speak("Still here.").done["cancelled"] is False


def test_two_clients_with_the_real_engine(daemon):
    with DaemonClient.connect(daemon.runtime_dir, name="a") as a, DaemonClient.connect(daemon.runtime_dir, name="b") as b:
        ua = a.start_speaking("First client speaks.", locale="en-GB")
        ub = b.start_speaking("Zweiter Client.", locale="de-DE", voice="jf_alpha")
        ra, rb = a.collect([ua])[ua], b.collect([ub])[ub]
    assert ra.done and rb.done and ra.samples > 0 and rb.samples > 0
    assert ra.accepted["locale"] == "en-GB" and rb.accepted["voice"] == "jf_alpha"


def test_echoic_serve_process_status_and_stop(tmp_path, capsys):
    runtime = tmp_path / "runtime"
    proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--port", "0", "--runtime-dir", str(runtime),
                             "--settings-file", str(tmp_path / "s.toml")], cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while find_daemon(runtime) is None:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.1)
        with DaemonClient.connect(runtime) as c:
            assert c.speak("Ready.").samples > 0
        assert echoic(["status", "--runtime-dir", str(runtime)]) == 0
        assert echoic(["stop", "--runtime-dir", str(runtime)]) == 0
        assert proc.wait(30) == 0 and find_daemon(runtime) is None
    finally:
        proc.kill()


def test_status_exposes_the_engines_guardrail_counters(daemon):
    with DaemonClient.connect(daemon.runtime_dir) as c:
        before = c.status()["engine"]["guardrails"]["segments"]
        c.speak("Counters count.")
        status = c.status()
    assert status["engine"]["guardrails"]["segments"] == before + 1
    assert status["engine"]["providers"] == ["CPUExecutionProvider"]
    from engine.adapters import load_adapters

    shipped = list(load_adapters().locales)
    assert status["engine"]["adapters"] == shipped and {"fr-FR", "es-ES", "it-IT"} <= set(shipped)
    assert set(status["engine"]["cache"]) == {"hits", "misses", "disk"}
    assert set(status["engine"]["cache"]["disk"]) == {"hits", "misses", "bytes"}  # the copy kept across restarts


def test_key_echo_is_warmed_up_after_the_first_key(daemon):
    with DaemonClient.connect(daemon.runtime_dir) as c:
        # The way NVDA echoes a key: SSML with say-as characters and an index mark.
        c.speak('<speak><say-as interpret-as="characters">q</say-as><mark name="1"/></speak>', ssml=True,
                rate=1.21, locale="de-DE")
        deadline = time.monotonic() + 240
        while c.status()["warm_up_pending"] and time.monotonic() < deadline:
            time.sleep(0.5)
        assert c.status()["warm_up_pending"] == 0
        hits = c.status()["engine"]["cache"]["hits"]
        for key in "xß7,":
            result = c.speak(key, spell=True, rate=1.21, locale="de-DE")
            assert result.samples > 0
        for word in ("und", "nicht"):  # moving by word: the commonest words are rendered too
            assert c.speak(word, rate=1.21, locale="de-DE").samples > 0
        assert c.status()["engine"]["cache"]["hits"] == hits + 6


def test_the_words_of_a_line_just_read_come_from_the_cache(daemon, monkeypatch):
    """After a line, idle time renders each of its words alone (and with its punctuation), so
    moving by word through it makes no model call; with WORDS_AHEAD = 0 nothing is queued."""
    from engine.daemon import idle, limits

    line = "Yellow kites drift over quiet harbours, slowly."
    with DaemonClient.connect(daemon.runtime_dir) as c:
        assert c.speak(line, rate=1.3, locale="en-GB").samples > 0
        deadline = time.monotonic() + 240
        while c.status()["words_ahead_pending"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert c.status()["words_ahead_pending"] == 0
        cache = c.status()["engine"]["cache"]
        for word in ("Yellow", "kites", "drift", "over", "quiet", "harbours", "harbours,", "slowly", "slowly."):
            assert c.speak(word, rate=1.3, locale="en-GB").samples > 0
        after = c.status()["engine"]["cache"]
        assert (after["hits"] - cache["hits"], after["misses"] - cache["misses"]) == (9, 0)
        monkeypatch.setattr(limits, "WORDS_AHEAD", 0)
        c.speak("Another line with other words.", rate=1.3, locale="en-GB")
        assert c.status()["words_ahead_pending"] == 0 and not isinstance(daemon.synthesis.warming, idle.WordAhead)


def test_a_long_sentence_gets_its_calibration_in_idle_time_then_streams(engine, daemon):
    """The first long sentence of a voice renders whole and leaves its (voice, row) wanted; the
    daemon calibrates it when idle, and the same sentence then renders in windows. (A native voice:
    calibration is the base model's, and a voice from elsewhere speaks English through the en-US
    adapter, which streams on learnt statistics instead.)"""
    text = ("Reading a long paragraph aloud, the screen reader should start speaking almost at once, "
            "without waiting for the whole sentence to be rendered by the model.")
    with DaemonClient.connect(daemon.runtime_dir) as c:
        before = c.status()["engine"]["streaming"]
        assert c.speak(text, voice="am_echo").done["cancelled"] is False
        deadline = time.monotonic() + 240
        while c.status()["calibrations_pending"] and time.monotonic() < deadline:
            time.sleep(0.5)
        status = c.status()
        assert status["calibrations_pending"] == 0
        assert any(k.split("@")[0] == "am_echo" for k in status["engine"]["streaming"]["uncalibrated"])
        windows = status["engine"]["streaming"]["windows"]
        assert c.speak(text, voice="am_echo").done["cancelled"] is False
        assert c.status()["engine"]["streaming"]["windows"] > windows >= before["windows"]
