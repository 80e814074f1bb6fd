"""A voice saved into the store while `echoic serve` runs is listed and speaks, through the
daemon's protocol and through sd_echoic, and disappears when removed: no restart."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.client import DaemonClient, find_daemon
from engine.cloning.store import VoiceMetadata, VoiceStore
from engine.voices import VoiceLibrary

from .test_speechd_module import ModuleProcess, handshake, set_block, speak

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(runtime dir, voice store, settings path) of a real `python -m engine serve` process."""
    root = tmp_path_factory.mktemp("voice-daemon")
    voices, runtime, settings = root / "voices", root / "runtime", root / "settings.toml"
    env = dict(os.environ, ECHOIC_VOICE_DIR=str(voices), PYTHONPATH=str(REPO))
    log = open(root / "daemon.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--port", "0", "--runtime-dir", str(runtime),
                             "--settings-file", str(settings), "--no-calibrate-ahead"], cwd=REPO, env=env,
                            stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 180
        while find_daemon(runtime) is None:
            assert proc.poll() is None and time.monotonic() < deadline, (root / "daemon.log").read_text()[-3000:]
            time.sleep(0.1)
        yield runtime, VoiceStore(voices), settings
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def new_voice(store: VoiceStore, name: str) -> np.ndarray:
    """A voice no bundled pack is: halfway between af_heart and am_adam, recorded in en-GB."""
    library = VoiceLibrary(voice_dir=store.directory / "none")
    pack = 0.5 * library.get("af_heart").pack + 0.5 * library.get("am_adam").pack
    store.save(pack, VoiceMetadata(name=name, source_locale="en-GB", created="2026-11-29T22:00:00+00:00",
                                   reference_seconds=30.0, similarity=0.9, nearest="af_heart", gender="female"))
    return pack


def test_a_voice_saved_while_the_daemon_runs_is_listed_speaks_and_goes_away(served):
    runtime, store, _ = served
    with DaemonClient.connect(runtime) as c:
        before = [v["id"] for v in c.voices()]
        assert "anna" not in before
        new_voice(store, "anna")
        listed = {v["id"]: v for v in c.voices()}
        assert list(listed) == before + ["anna"]
        assert listed["anna"]["native_locale"] == "en-GB" and listed["anna"]["gender"] == "female"
        assert "anna" in {v["id"] for v in c.voices("fr-FR")}  # a cloned voice speaks every locale
        heard = c.speak("Good morning, this is my own voice.", voice="anna")
        assert heard.error is None and heard.accepted["voice"] == "anna" and heard.samples > 24000 // 2
        stock = c.speak("Good morning, this is my own voice.", voice="af_heart")
        n = min(heard.samples, stock.samples)
        a = np.frombuffer(heard.pcm, "<i2")[:n].astype(float)
        b = np.frombuffer(stock.pcm, "<i2")[:n].astype(float)
        assert heard.samples != stock.samples or np.abs(a - b).mean() > 100
        french = c.speak("Bonjour, ceci est ma voix.", voice="anna", locale="fr-FR")  # another locale: its accent seam
        assert french.error is None and french.samples > 0

        store.remove("anna")
        assert [v["id"] for v in c.voices()] == before
        gone = c.speak("Still there?", voice="anna")
        assert gone.error is not None and gone.error["code"] == "unknown_voice" and gone.samples == 0


def test_locale_settings_may_name_a_user_voice_and_survive_its_removal(served):
    runtime, store, _ = served
    with DaemonClient.connect(runtime) as c:
        with pytest.raises(Exception, match="unknown voice 'bert'"):
            c.set_settings("en-GB", {"voice": "bert"})
        new_voice(store, "bert")
        c.set_settings("en-GB", {"voice": "bert"})
        assert c.speak("Hello from the settings.", locale="en-GB").accepted["voice"] == "bert"
        store.remove("bert")
        fallback = c.speak("Hello again.", locale="en-GB")  # the settings still name bert
        assert fallback.error is None and fallback.accepted["voice"] == "bm_george" and fallback.samples > 0


def test_sd_echoic_lists_a_new_voice_without_reconnecting(served):
    runtime, store, _ = served
    module = ModuleProcess(runtime)
    try:
        handshake(module)
        module.send("LIST VOICES\n")
        assert "200-carla\ten-GB\tnone" not in module.reply()
        new_voice(store, "carla")
        module.send("LIST VOICES\n")
        lines = module.reply()
        assert "200-carla\ten-GB\tnone" in lines and "200-carla\tfr-FR\tnone" in lines
        set_block(module, synthesis_voice="carla", language="en")
        assert speak(module, "<speak>Hello.</speak>") == ["200 OK SPEAKING"]
        assert module.events()[-1] == "702 END"
        store.remove("carla")
        module.send("LIST VOICES\n")
        assert not any(line.startswith("200-carla") for line in module.reply())
    finally:
        module.close()
    assert "voice=carla" in module.log()
