"""The NVDA driver, through NVDA stand-ins, against the real daemon server.

The daemon is engine.daemon.server.Server on real loopback sockets with the fake engine of
conftest_daemon (a 50 ms tone per word, exact marks), so every assertion on samples is exact.
The real model is exercised by test_nvda_real_daemon.py.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "nvda_stubs"))
import nvda_env  # noqa: E402

nvda_env.install()
ADDON = nvda_env.staged_addon()  # the driver with its copy of the client core, as built
if ADDON not in sys.path:
	sys.path.insert(1, ADDON)

import config  # noqa: E402
import queueHandler  # noqa: E402
import synthDriverHandler  # noqa: E402
from speech.commands import (  # noqa: E402
	BreakCommand,
	CharacterModeCommand,
	IndexCommand,
	LangChangeCommand,
	PitchCommand,
)

from tests.conftest_daemon import WORD_SAMPLES, FakeEngine, running_daemon  # noqa: E402

BYTES_PER_SAMPLE = 2


class Recorder:
	"""What NVDA would see: index and done notifications, with the bytes played at that moment."""

	def __init__(self, synth):
		self.synth = synth
		self.events = []
		self.done = threading.Event()
		self.daemonIndexes = {}  # mark -> sample_offset, as the daemon reported it
		self.daemonDone = []
		synthDriverHandler.synthIndexReached.register(self.onIndex)
		synthDriverHandler.synthDoneSpeaking.register(self.onDone)
		conn = synth._conn
		forward = conn._onEvent

		def spy(item):
			if isinstance(item, dict) and item.get("type") == "index":
				self.daemonIndexes[int(item["mark"])] = item["sample_offset"]
			if isinstance(item, dict) and item.get("type") == "done":
				self.daemonDone.append(item)
			forward(item)

		conn._onEvent = spy

	def onIndex(self, synth, index):
		self.events.append(("index", index, len(self.synth._player.played), time.monotonic()))

	def onDone(self, synth):
		self.events.append(("done", None, len(self.synth._player.played), time.monotonic()))
		self.done.set()

	def indexes(self):
		return [e[1] for e in self.events if e[0] == "index"]

	def close(self):
		synthDriverHandler.synthIndexReached.unregister(self.onIndex)
		synthDriverHandler.synthDoneSpeaking.unregister(self.onDone)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
	runtime = tmp_path_factory.mktemp("nvda-runtime")
	engine = FakeEngine()
	old = os.environ.get("ECHOIC_RUNTIME_DIR")
	os.environ["ECHOIC_RUNTIME_DIR"] = str(runtime)
	try:
		with running_daemon(engine, runtime) as server:
			yield engine, server
	finally:
		if old is None:
			os.environ.pop("ECHOIC_RUNTIME_DIR", None)
		else:
			os.environ["ECHOIC_RUNTIME_DIR"] = old


@pytest.fixture
def synth(daemon):
	config.reset()
	assert synthDriverHandler.setSynth("echoic"), "the driver did not load"
	synth = synthDriverHandler.getSynth()
	recorder = Recorder(synth)
	yield synth, recorder, daemon[0]
	recorder.close()
	synthDriverHandler.setSynth(None)


def test_check_and_voices_come_from_the_daemon(synth):
	driver, _rec, engine = synth
	assert type(driver).check() is True
	assert list(driver.availableVoices) == [v.id for v in engine.voices()]
	assert list(driver.availableVariants) == [loc.tag for loc in engine.locales()]
	assert driver.variant == "en-US"  # the stand-in NVDA speaks en_US
	assert driver.language == "en_US"


def test_indexes_fire_in_order_only_after_their_audio_has_played(synth):
	driver, rec, engine = synth
	driver.speak([
		IndexCommand(1), "one two three", IndexCommand(2), LangChangeCommand("fr_FR"), "un deux",
		IndexCommand(3), CharacterModeCommand(True), PitchCommand(offset=30), "A", PitchCommand(),
		CharacterModeCommand(False), BreakCommand(100), IndexCommand(4),
	])
	assert rec.done.wait(10)
	assert rec.indexes() == [1, 2, 3, 4]
	# Each index fired exactly when the audio before its mark had reached the speaker: not earlier
	# (say-all cursor would run ahead), not later (it would lag a whole chunk).
	for kind, index, playedBytes, _t in rec.events:
		if kind == "index":
			assert playedBytes == rec.daemonIndexes[index] * BYTES_PER_SAMPLE, index
	assert rec.daemonIndexes == {1: 0, 2: 3 * WORD_SAMPLES, 3: 5 * WORD_SAMPLES, 4: 6 * WORD_SAMPLES}
	# The whole tail played before done: nothing clipped.
	done = rec.events[-1]
	assert done[0] == "done"
	assert done[2] == rec.daemonDone[-1]["samples"] * BYTES_PER_SAMPLE == len(driver._player.played)
	request = engine.requests[-1]
	assert request.ssml and request.locale == "en-US"
	assert '<lang xml:lang="fr-FR">un deux' in request.text
	assert '<say-as interpret-as="characters">A</say-as>' in request.text
	# Capital pitch: 50 + 30 on a 0.5..2 log scale is 2 ** 0.6 = 1.516 times the base pitch.
	assert '<prosody pitch="+52%"><say-as' in request.text
	assert '<break time="100ms"/>' in request.text


def test_cancel_silences_at_once_and_drops_later_indexes(synth):
	driver, rec, _engine = synth
	words = " ".join(["word"] * 10)
	sequence = []
	for i in range(1, 11):
		sequence += [IndexCommand(i), words]
	driver.speak(sequence)
	deadline = time.monotonic() + 10
	while 2 not in rec.indexes() and time.monotonic() < deadline:
		time.sleep(0.005)
	assert 2 in rec.indexes()
	driver.cancel()
	playedAtCancel = len(driver._player.played)
	seenAtCancel = list(rec.indexes())
	time.sleep(0.6)
	assert len(driver._player.played) == playedAtCancel, "audio kept playing after cancel"
	assert rec.indexes() == seenAtCancel, "an index of the cancelled speech was reported"
	assert not rec.done.is_set()
	# The driver recovers: the next speech plays whole, with its own indexes only.
	driver.speak([IndexCommand(100), "after the cancel", IndexCommand(101)])
	assert rec.done.wait(10)
	assert rec.indexes() == seenAtCancel + [100, 101]
	assert len(driver._player.played) - playedAtCancel == 3 * WORD_SAMPLES * BYTES_PER_SAMPLE


def test_key_echo_right_after_cancel_speaks_the_new_character(synth):
	driver, rec, engine = synth
	driver.speak(["a long sentence that is interrupted by typing"])
	time.sleep(0.1)
	driver.cancel()
	start = len(driver._player.played)
	driver.speak([CharacterModeCommand(True), "x", CharacterModeCommand(False)])
	assert rec.done.wait(10)
	assert len(driver._player.played) - start == WORD_SAMPLES * BYTES_PER_SAMPLE
	assert '<say-as interpret-as="characters">x</say-as>' in engine.requests[-1].text


def test_rate_boost_widens_the_rate_range(synth):
	driver, rec, engine = synth
	driver.rate = 100
	driver.speak(["fast"])
	assert rec.done.wait(10)
	rec.done.clear()
	assert engine.requests[-1].rate == pytest.approx(2.0)
	driver.rateBoost = True
	assert driver.rate == 100
	driver.speak(["faster"])
	assert rec.done.wait(10)
	rec.done.clear()
	assert engine.requests[-1].rate == pytest.approx(6.0)
	driver.rate = 50
	driver.speak(["normal"])
	assert rec.done.wait(10)
	assert engine.requests[-1].rate == pytest.approx(0.5 * 12 ** 0.5)


def test_settings_persist_through_nvda_config(synth):
	driver, _rec, _engine = synth
	driver.rateBoost = True
	driver.rate = 80
	driver.variant = "fr-FR"
	driver.voice = "jf_alpha"
	driver.inflection = 30
	driver.saveSettings()
	saved = dict(config.conf["speech"]["echoic"])
	assert saved["rateBoost"] is True and saved["rate"] == 80 and saved["variant"] == "fr-FR"
	assert saved["voice"] == "jf_alpha" and saved["inflection"] == 30
	# A new driver instance (NVDA restarted) comes back with the same settings.
	synthDriverHandler.setSynth("echoic")
	again = synthDriverHandler.getSynth()
	assert (again.rateBoost, again.rate, again.variant, again.voice) == (True, 80, "fr-FR", "jf_alpha")


def test_pause_holds_the_audio_and_resume_finishes_it(synth):
	driver, rec, _engine = synth
	driver.speak([IndexCommand(1), "one two three four five six", IndexCommand(2)])
	time.sleep(0.1)
	driver.pause(True)
	time.sleep(0.05)
	held = len(driver._player.played)
	time.sleep(0.3)
	assert len(driver._player.played) == held
	assert not rec.done.is_set()
	driver.pause(False)
	assert rec.done.wait(10)
	assert rec.indexes() == [1, 2]
	assert len(driver._player.played) == 6 * WORD_SAMPLES * BYTES_PER_SAMPLE


def test_repeated_failures_let_nvda_fall_back(daemon, tmp_path, monkeypatch):
	config.reset()
	assert synthDriverHandler.setSynth("echoic")
	driver = synthDriverHandler.getSynth()
	rec = Recorder(driver)
	try:
		# The daemon goes away for good: no runtime file, nothing to start.
		monkeypatch.setenv("ECHOIC_RUNTIME_DIR", str(tmp_path))
		monkeypatch.delenv("ECHOIC_DAEMON_COMMAND", raising=False)
		driver._conn.close()
		driver._conn = None
		synthDriverHandler.fallbacks.clear()
		for _ in range(driver.MAX_CONSECUTIVE_SPEECH_FAILURES):
			rec.done.clear()
			driver.speak(["hello"])
			assert rec.done.wait(5), "NVDA must hear synthDoneSpeaking even when speech failed"
		deadline = time.monotonic() + 5
		while not queueHandler.queued and time.monotonic() < deadline:
			time.sleep(0.01)
		assert synthDriverHandler.fallbacks == ["echoic"]
	finally:
		rec.close()
		synthDriverHandler.setSynth(None)


def test_check_is_false_with_a_logged_reason_when_no_daemon_can_run(tmp_path, monkeypatch, caplog):
	from synthDrivers.echoic import SynthDriver

	monkeypatch.setenv("ECHOIC_RUNTIME_DIR", str(tmp_path))
	monkeypatch.delenv("ECHOIC_DAEMON_COMMAND", raising=False)
	monkeypatch.delenv("LOCALAPPDATA", raising=False)
	monkeypatch.setenv("PATH", str(tmp_path))
	with caplog.at_level(logging.DEBUG, logger="nvda"):
		assert SynthDriver.check() is False
	assert "no daemon is running and none is installed" in caplog.text
	# And loading it fails cleanly, so NVDA falls back to another synth.
	config.reset()
	assert synthDriverHandler.setSynth("echoic") is False
	assert "could not start the daemon" in caplog.text


def test_a_key_press_after_pause_does_not_leave_speech_paused(synth):
	"""NVDA pauses with Shift, then a key press calls cancel() without pause(False): the next
	speech must still be heard (found in review: it stayed silent for good)."""
	driver, rec, _engine = synth
	driver.speak([IndexCommand(1), "one two three four five six seven eight nine ten", IndexCommand(2)])
	time.sleep(0.1)
	driver.pause(True)
	time.sleep(0.1)
	driver.cancel()
	start = len(driver._player.played)
	driver.speak([IndexCommand(10), "after", IndexCommand(11)])
	assert rec.done.wait(5)
	assert rec.indexes()[-2:] == [10, 11] and len(driver._player.played) > start


def test_a_daemon_that_never_answers_hello_cannot_freeze_nvda():
	"""The hello is read on NVDA's main thread: the connect timeout must cover it."""
	from websockets.sync.server import serve
	from synthDrivers.echoic import _daemon

	def wedged(ws):
		ws.recv()
		time.sleep(10)

	with serve(wedged, "127.0.0.1", 0) as server:
		threading.Thread(target=server.serve_forever, daemon=True).start()
		started = time.monotonic()
		with pytest.raises(_daemon.DaemonError):
			_daemon.DaemonConnection({"port": server.socket.getsockname()[1], "token": "x"}, print, print, timeout=1.0)
		assert time.monotonic() - started < 3
		server.shutdown()


def test_the_end_of_a_replaced_connection_leaves_the_new_one_alone(synth):
	"""After speak() reconnected, the old connection's late close must not drop the new one."""
	import synthDrivers.echoic as driver_module

	driver, rec, _engine = synth
	old = driver._conn
	driver._connect(startIfNeeded=False)
	new = driver._conn
	assert new is not old and new.isAlive
	driver._events.put(driver_module._Closed("the old daemon went away", old))
	driver.speak([IndexCommand(20), "still here", IndexCommand(21)])
	assert rec.done.wait(5)
	assert driver._conn is new and rec.indexes()[-2:] == [20, 21]
	old.close()


def test_a_voice_created_or_removed_while_nvda_runs_shows_in_the_voice_list(synth, monkeypatch):
	from engine.voices import VoiceInfo as EngineVoice

	driver, _rec, engine = synth
	before = list(driver.availableVoices)
	monkeypatch.setattr(type(driver), "VOICES_TTL", 0.0)
	tags = tuple(loc.tag for loc in engine.locales())
	engine._voices.append(EngineVoice("anna", "Anna", "female", tags, native_locale="fr-FR"))
	try:
		assert list(driver.availableVoices) == before + ["anna"]
		assert driver.availableVoices["anna"].language == "fr_FR" and driver.availableVoices["anna"].displayName == "Anna"
		driver.voice = "anna"
		assert driver.voice == "anna"
	finally:
		engine._voices.pop()
	assert list(driver.availableVoices) == before
	assert driver.voice == "am_michael"  # the removed voice gave way to the variant's default voice
