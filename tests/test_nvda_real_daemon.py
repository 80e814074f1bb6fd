"""The driver starts the real daemon itself (`python -m engine serve`, the real model) and speaks.

The driver finds no runtime file, runs ECHOIC_DAEMON_COMMAND, waits for the daemon's runtime
file and connects: the same path as a user's first NVDA start after installing.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import pytest

from tests.test_nvda_driver import BYTES_PER_SAMPLE, Recorder, config, synthDriverHandler
from speech.commands import CharacterModeCommand, IndexCommand, LangChangeCommand

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_synth(tmp_path_factory):
    runtime = tmp_path_factory.mktemp("nvda-real-runtime")
    saved = {k: os.environ.get(k) for k in ("ECHOIC_RUNTIME_DIR", "ECHOIC_DAEMON_COMMAND")}
    os.environ["ECHOIC_RUNTIME_DIR"] = str(runtime)
    os.environ["ECHOIC_DAEMON_COMMAND"] = json.dumps(
        [sys.executable, "-m", "engine", "serve", "--port", "0", "--runtime-dir", str(runtime), "--threads", "2",
         "--no-calibrate-ahead"])
    config.reset()
    try:
        if not synthDriverHandler.setSynth("echoic"):
            pytest.fail("the driver could not start the real daemon (see the log)")
        synth = synthDriverHandler.getSynth()
        rec = Recorder(synth)
        synth.speak(["Ready."])
        if not rec.done.wait(120) or not rec.daemonDone or rec.daemonDone[-1].get("samples", 0) == 0:
            pytest.skip("the real engine cannot speak SSML in this checkout yet")
        rec.close()
        yield synth
    finally:
        info = json.loads((runtime / "daemon.json").read_text()) if (runtime / "daemon.json").exists() else None
        synthDriverHandler.setSynth(None)
        if info:
            os.kill(info["pid"], signal.SIGTERM)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_real_speech_reports_every_index_after_its_audio(real_synth):
    rec = Recorder(real_synth)
    start = len(real_synth._player.played)
    try:
        real_synth.speak([IndexCommand(1), "Hello there.", IndexCommand(2), LangChangeCommand("fr_FR"),
            "Bonjour.", LangChangeCommand(None), IndexCommand(3), CharacterModeCommand(True), "A",
            CharacterModeCommand(False), IndexCommand(4)])
        assert rec.done.wait(120)
        assert rec.indexes() == [1, 2, 3, 4]
        for kind, index, playedBytes, _t in rec.events:
            if kind == "index":
                assert playedBytes - start == rec.daemonIndexes[index] * BYTES_PER_SAMPLE, index
        assert 0 == rec.daemonIndexes[1] < rec.daemonIndexes[2] < rec.daemonIndexes[3] < rec.daemonIndexes[4]
        assert rec.events[-1][2] - start == rec.daemonDone[-1]["samples"] * BYTES_PER_SAMPLE
        # The whole tail played before synthDoneSpeaking.
        assert rec.events[-1][0] == "done"
    finally:
        rec.close()


def test_real_cancel_is_silent_at_once(real_synth):
    rec = Recorder(real_synth)
    try:
        real_synth.speak([IndexCommand(1), "This is a long sentence that will be cut off in the middle by a cancel.",
            IndexCommand(2), "And this one is never heard at all.", IndexCommand(3)])
        deadline = time.monotonic() + 60
        while len(real_synth._player.played) < 24000 and time.monotonic() < deadline:
            time.sleep(0.005)
        real_synth.cancel()
        played = len(real_synth._player.played)
        seen = rec.indexes()
        time.sleep(1.0)
        assert len(real_synth._player.played) == played
        assert rec.indexes() == seen and 3 not in seen
    finally:
        rec.close()


def test_bench_times_the_daemons_own_key_echo_after_a_cancel(real_synth):
    """`echoic bench nvda`'s side-by-side figure: a sentence, a cancel, a spelled key; the key's
    first frame is timed, not a late frame of the cancelled sentence."""
    from engine.client import DaemonClient
    from nvda_addon.bench import daemon_key_echo

    with DaemonClient.connect(os.environ["ECHOIC_RUNTIME_DIR"], name="bench-test") as client:
        first = daemon_key_echo(client, "q")
        status = client.status()
    assert first is not None and 0 < first < 60_000
    assert status["type"] == "status"
