# A part of Echoic, the NVDA add-on.
# Copyright (C) 2026 the Echoic authors. Licensed under the Apache License 2.0.

"""Synth driver for Echoic, a local neural speech engine.

The driver is a client of the Echoic daemon (docs/protocol.md): each speech sequence becomes one
SSML `speak`; the daemon streams audio frames and index messages back; a feeder thread plays the
audio through nvwave, fed up to each index with `onDone` reporting that index, as oneCore does.
Standard library only, plus the daemon client core copied into this package (`_client`).

Size: about 500 lines, because NVDA wants one SynthDriver class holding its settings, commands,
speech sequence conversion and audio feeding (as its own oneCore.py does); the transport is the
shared client core.
"""

import os
import queue
import threading
import time
from collections import OrderedDict

import addonHandler
import config
import languageHandler
import nvwave
import queueHandler
from logHandler import log
from speech.commands import (
	BreakCommand,
	CharacterModeCommand,
	IndexCommand,
	LangChangeCommand,
	PitchCommand,
	RateCommand,
	VolumeCommand,
)
from synthDriverHandler import (
	SynthDriver as BaseSynthDriver,
	VoiceInfo,
	findAndSetNextSynth,
	synthDoneSpeaking,
	synthIndexReached,
)

from . import _daemon, _ssml

addonHandler.initTranslation()

ADDON_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _geometric(percent, low, high):
	"""0..100 -> low..high on a log scale, so each step changes speed or pitch by the same ratio."""
	percent = min(100, max(0, percent))
	return low * (high / low) ** (percent / 100.0)


class _Closed:
	"""Queued by the reader thread when the connection to the daemon ends."""

	def __init__(self, reason, conn):
		self.reason = reason
		self.conn = conn


class _Stop:
	"""Queued by terminate(): the feeder thread ends."""


class _Held:
	"""Audio of one utterance received but not yet fed: it may still hold a later index."""

	__slots__ = ("uid", "start", "pcm")

	def __init__(self, uid, start, pcm):
		self.uid = uid
		self.start = start
		self.pcm = pcm


class SynthDriver(BaseSynthDriver):
	name = "echoic"
	# Translators: Description for a speech synthesizer.
	description = _("Echoic neural voices")

	MIN_RATE = 0.5
	DEFAULT_MAX_RATE = 2.0
	BOOSTED_MAX_RATE = 6.0
	MIN_PITCH = 0.5
	MAX_PITCH = 2.0
	MAX_CONSECUTIVE_SPEECH_FAILURES = 5
	#: Seconds to wait for a daemon we started to be ready (it loads the model first).
	START_TIMEOUT = 30.0
	#: The daemon queues `message` utterances behind each other; NVDA cancels explicitly.
	PRIORITY = "message"
	#: Seconds a fetched voice list is trusted: a voice created or removed since (`echoic voice
	#: create`, `remove`) shows in the voice list the next time NVDA asks for it after this long.
	VOICES_TTL = 2.0

	supportedSettings = (
		BaseSynthDriver.VoiceSetting(),
		BaseSynthDriver.VariantSetting(),
		BaseSynthDriver.RateSetting(),
		BaseSynthDriver.RateBoostSetting(),
		BaseSynthDriver.PitchSetting(),
		BaseSynthDriver.VolumeSetting(),
		BaseSynthDriver.InflectionSetting(),
	)
	supportedCommands = {
		IndexCommand,
		CharacterModeCommand,
		LangChangeCommand,
		BreakCommand,
		PitchCommand,
		RateCommand,
		VolumeCommand,
	}
	supportedNotifications = {synthIndexReached, synthDoneSpeaking}

	@classmethod
	def check(cls):
		try:
			if _daemon.findDaemon() is not None:
				return True
		except _daemon.DaemonError as e:
			log.error(f"Echoic: {e}")
			return False
		if _daemon.daemonCommands(ADDON_DIR):
			return True
		log.debugWarning(
			"Echoic: no daemon is running and none is installed "
			f"(looked for {_daemon.runtimeDir()}\\daemon.json, the add-on's bin\\echoic-daemon.exe, "
			f"%LOCALAPPDATA%\\{_daemon.INSTALLED_EXE} and 'echoic' on PATH)"
		)
		return False

	def __init__(self):
		super().__init__()
		self._lock = threading.Lock()
		self._gen = 0
		self._pending = 0
		self._serial = 0
		self._terminated = False
		self._consecutiveSpeechFailures = 0
		self._events = queue.Queue()
		self._conn = None
		self._connect(startIfNeeded=True)
		self._locales = self._fetchLocales()
		self._voices = self._fetchVoices()
		self._rate = 50
		self._rateBoost = False
		self._pitch = 50
		self._volume = 100
		self._inflection = 50
		self._variant = self._defaultLocale()
		self._voice = self._defaultVoice(self._variant)
		self._player = nvwave.WavePlayer(
			channels=self._conn.channels,
			samplesPerSec=self._conn.sampleRate,
			bitsPerSample=16,
			outputDevice=config.conf["audio"]["outputDevice"],
			purpose=nvwave.AudioPurpose.SPEECH,
		)
		self._bytesPerSample = 2 * self._conn.channels
		self._feeder = threading.Thread(target=self._feedLoop, name="echoic feeder", daemon=True)
		self._feeder.start()

	# The daemon

	def _connect(self, startIfNeeded):
		try:
			info = _daemon.findDaemon()
		except _daemon.DaemonError as e:
			raise RuntimeError(f"Echoic: {e}") from e
		if info is None and startIfNeeded:
			errors = []
			for argv in _daemon.daemonCommands(ADDON_DIR):
				try:
					info = _daemon.startDaemon(argv, timeout=self.START_TIMEOUT)
					log.info(f"Echoic: started the daemon ({argv[0]}, pid {info.pid})")
					break
				except _daemon.DaemonError as e:
					errors.append(str(e))
			if info is None:
				raise RuntimeError("Echoic: could not start the daemon: " + ("; ".join(errors) or "none is installed"))
		if info is None:
			raise RuntimeError("Echoic: the daemon is not running")
		try:
			self._conn = _daemon.DaemonConnection(info, self._events.put, self._onClosed)
		except _daemon.DaemonError as e:
			raise RuntimeError(f"Echoic: {e}") from e

	def _onClosed(self, reason, conn):
		self._events.put(_Closed(reason, conn))

	def _fetchLocales(self):
		reply = self._conn.request({"type": "locales"})
		return [loc for loc in reply.get("locales", []) if isinstance(loc, dict) and loc.get("tag")]

	def _fetchVoices(self):
		reply = self._conn.request({"type": "voices"})
		self._voicesFetched = time.monotonic()
		return [v for v in reply.get("voices", []) if isinstance(v, dict) and v.get("id")]

	def _get_availableVoices(self):
		# NVDA keeps the first list for the driver's life; Echoic's user voices come and go while
		# it runs, so ask the daemon again once the list is older than VOICES_TTL.
		if self._conn is not None and time.monotonic() - getattr(self, "_voicesFetched", 0.0) > self.VOICES_TTL:
			try:
				voices = self._fetchVoices()
			except _daemon.DaemonError as e:
				log.debugWarning(f"Echoic: could not refresh the voice list: {e}")
				voices = self._voices
			if voices != self._voices:
				self._voices = voices
				self.__dict__.pop("_availableVoices", None)
				if all(v["id"] != self._voice for v in voices):
					log.info(f"Echoic: voice {self._voice!r} was removed; using the default voice")
					self._voice = self._defaultVoice(self._variant)
		return super()._get_availableVoices()

	def _resolveLocale(self, nvdaLang):
		"""NVDA's 'pt_BR' -> the daemon's tag for it, or one of the same language, or None."""
		tag = _ssml.locale_tag(nvdaLang)
		if not tag:
			return None
		tags = [loc["tag"] for loc in self._locales]
		lowered = {t.lower(): t for t in tags}
		if tag.lower() in lowered:
			return lowered[tag.lower()]
		language = tag.split("-")[0].lower()
		for t in tags:
			if t.split("-")[0].lower() == language:
				return t
		log.debugWarning(f"Echoic: no locale for language {nvdaLang!r}; staying in the current one")
		return None

	def _defaultLocale(self):
		tag = self._resolveLocale(languageHandler.getLanguage())
		if tag:
			return tag
		if self._locales:
			return self._locales[0]["tag"]
		raise RuntimeError("Echoic: the daemon offers no locales")

	def _defaultVoice(self, locale):
		for loc in self._locales:
			if loc["tag"] == locale and loc.get("default_voice"):
				return loc["default_voice"]
		for v in self._voices:
			if locale in (v.get("locales") or ()):
				return v["id"]
		if self._voices:
			return self._voices[0]["id"]
		raise RuntimeError("Echoic: the daemon offers no voices")

	# Settings (0..100, as NVDA stores them; converted when speaking)

	def _getAvailableVoices(self):
		voices = OrderedDict()
		for v in self._voices:
			locales = v.get("locales") or []
			# A voice's own language is the locale it was trained or recorded in (`native_locale`).
			native = v.get("native_locale") or (locales[0] if locales else None)
			language = native.replace("-", "_") if native else None
			voices[v["id"]] = VoiceInfo(v["id"], v.get("name") or v["id"], language)
		return voices

	def _get_voice(self):
		return self._voice

	def _set_voice(self, value):
		if value not in self.availableVoices:
			raise LookupError(f"No such voice: {value}")
		self._voice = value

	def _getAvailableVariants(self):
		# The variant is the accent: every Echoic voice speaks every locale.
		variants = OrderedDict()
		for loc in self._locales:
			variants[loc["tag"]] = VoiceInfo(loc["tag"], loc.get("name") or loc["tag"], loc["tag"].replace("-", "_"))
		return variants

	def _get_variant(self):
		return self._variant

	def _set_variant(self, value):
		if value not in self.availableVariants:
			raise LookupError(f"No such variant: {value}")
		self._variant = value

	def _get_language(self):
		return self._variant.replace("-", "_")

	def _get_rate(self):
		return self._rate

	def _set_rate(self, value):
		self._rate = int(value)

	def _get_rateBoost(self):
		return self._rateBoost

	def _set_rateBoost(self, enable):
		# The percentage stays; its meaning stretches to the boosted range (as oneCore does).
		self._rateBoost = bool(enable)

	def _get_pitch(self):
		return self._pitch

	def _set_pitch(self, value):
		self._pitch = int(value)

	def _get_volume(self):
		return self._volume

	def _set_volume(self, value):
		self._volume = int(value)

	def _get_inflection(self):
		return self._inflection

	def _set_inflection(self, value):
		self._inflection = int(value)

	def _rateParam(self, percent):
		maxRate = self.BOOSTED_MAX_RATE if self._rateBoost else self.DEFAULT_MAX_RATE
		return _geometric(percent, self.MIN_RATE, maxRate)

	def _pitchParam(self, percent):
		return _geometric(percent, self.MIN_PITCH, self.MAX_PITCH)

	def _prosodyRatio(self, command):
		"""The multiplier a Pitch/Rate/VolumeCommand asks for, relative to the base values."""
		newValue = min(100, max(0, command.newValue))
		if isinstance(command, PitchCommand):
			return self._pitchParam(newValue) / self._pitchParam(self._pitch)
		if isinstance(command, RateCommand):
			return self._rateParam(newValue) / self._rateParam(self._rate)
		if self._volume <= 0:
			return 1.0
		return newValue / self._volume

	# Speaking

	def speak(self, speechSequence):
		ssml, _indexes = _ssml.to_ssml(speechSequence, self._variant, self._prosodyRatio, self._resolveLocale)
		with self._lock:
			self._serial += 1
			gen = self._gen
			uid = f"{gen}.{self._serial}"
			self._pending += 1
		message = {
			"type": "speak",
			"id": uid,
			"ssml": ssml,
			"locale": self._variant,
			"voice": self._voice,
			"rate": min(6.0, max(0.25, self._rateParam(self._rate))),
			"pitch": self._pitchParam(self._pitch),
			"volume": self._volume / 100.0,
			# Not in protocol v1 (unknown fields are ignored); kept for when the daemon reads it.
			"inflection": self._inflection / 100.0,
			"priority": self.PRIORITY,
		}
		try:
			if self._conn is None or not self._conn.isAlive:
				self._connect(startIfNeeded=False)
			self._conn.send(message)
		except (RuntimeError, _daemon.DaemonError) as e:
			log.error(f"Echoic: could not send speech to the daemon: {e}")
			self._conn = None
			self._events.put({"type": "error", "id": uid, "code": "disconnected", "message": str(e)})

	def cancel(self):
		with self._lock:
			self._gen += 1
			self._pending = 0
		# Silence first: stop() also drops every onDone still pending in the player.
		self._player.stop()
		conn = self._conn
		if conn is not None and conn.isAlive:
			try:
				conn.send({"type": "cancel"})
				# NVDA cancels without unpausing (a key press after Shift): a pause left in force
				# in the daemon would hold back all later speech on this connection.
				conn.send({"type": "resume"})
			except _daemon.DaemonError:
				log.debugWarning("Echoic: could not send cancel", exc_info=True)

	def pause(self, switch):
		self._player.pause(switch)
		conn = self._conn
		if conn is not None and conn.isAlive:
			try:
				conn.send({"type": "pause" if switch else "resume"})
			except _daemon.DaemonError:
				log.debugWarning("Echoic: could not send pause", exc_info=True)

	def terminate(self):
		self._terminated = True
		with self._lock:
			self._gen += 1
			self._pending = 0
		self._player.stop()
		self._events.put(_Stop())
		self._feeder.join(2.0)
		if self._conn is not None:
			self._conn.close()
			self._conn = None
		super().terminate()

	# The feeder thread: daemon events -> nvwave, in the daemon's order

	def _isCurrent(self, uid):
		gen, _sep, _serial = str(uid).partition(".")
		return not self._terminated and gen == str(self._gen)

	def _feed(self, uid, data, onDone=None):
		self._player.feed(data, onDone=onDone)
		if not self._isCurrent(uid):
			# cancel() ran while feed blocked: what we just queued is stale; silence it too.
			self._player.stop()

	def _notifyIndex(self, uid, index):
		if self._isCurrent(uid):
			synthIndexReached.notify(synth=self, index=index)

	def _feedLoop(self):
		numbers = {}  # utterance number in audio frames -> our id
		held = None
		while True:
			item = self._events.get()
			if isinstance(item, _Stop):
				return
			try:
				held = self._handle(item, numbers, held)
			except Exception:
				log.error("Echoic: error while playing speech", exc_info=True)
				held = None

	def _handle(self, item, numbers, held):
		if isinstance(item, _Closed):
			if item.conn is not self._conn:
				# An older connection, already replaced by speak()'s reconnect: its end concerns
				# nothing that is speaking now.
				return held
			log.warning(f"Echoic: lost the daemon ({item.reason})")
			self._conn = None
			with self._lock:
				lost = self._pending
				self._pending = 0
			if lost:
				self._speechFailed()
			return None
		if isinstance(item, _daemon.AudioFrame):
			uid = numbers.get(item.utterance)
			if uid is None or not self._isCurrent(uid):
				return held
			if held is not None and held.uid == uid and held.start + len(held.pcm) // self._bytesPerSample == item.sample_offset:
				# Keep one frame back: the next index may fall inside it.
				self._feed(uid, held.pcm)
			elif held is not None and self._isCurrent(held.uid):
				self._feed(held.uid, held.pcm)
			return _Held(uid, item.sample_offset, item.pcm)
		kind = item.get("type")
		uid = item.get("id")
		if kind == "accepted":
			numbers[item.get("utterance")] = uid
			return held
		if not self._isCurrent(uid):
			if kind == "done":
				for number, value in list(numbers.items()):
					if value == uid:
						del numbers[number]
			return held if held is None or self._isCurrent(held.uid) else None
		if kind == "index":
			try:
				index = int(item.get("mark"))
			except (TypeError, ValueError):
				return held
			offset = int(item.get("sample_offset", 0))
			onDone = lambda uid=uid, index=index: self._notifyIndex(uid, index)
			if held is None or held.uid != uid:
				self._feed(uid, b"", onDone=onDone)
				return held
			cut = min(len(held.pcm), max(0, (offset - held.start) * self._bytesPerSample))
			self._feed(uid, held.pcm[:cut], onDone=onDone)
			return _Held(uid, held.start + cut // self._bytesPerSample, held.pcm[cut:])
		if kind in ("done", "error"):
			if held is not None and held.uid == uid:
				# The whole tail: nothing of the utterance's end is dropped.
				self._feed(uid, held.pcm)
				held = None
			for number, value in list(numbers.items()):
				if value == uid:
					del numbers[number]
			if kind == "error":
				log.error(f"Echoic: the daemon could not speak: {item.get('code')}: {item.get('message')}")
				self._speechFailed(uid)
			else:
				self._consecutiveSpeechFailures = 0
			self._utteranceFinished(uid)
			return held
		return held

	def _utteranceFinished(self, uid):
		with self._lock:
			if not self._isCurrent(uid):
				return
			self._pending = max(0, self._pending - 1)
			if self._pending or not self._events.empty():
				return
		# Nothing else to say: wait for the audio to play out, then report it (#10721 in
		# NVDA: sync before idle so the device stays open if more speech comes meanwhile).
		self._player.sync()
		with self._lock:
			if not self._isCurrent(uid) or self._pending:
				return
		self._player.idle()
		if self._isCurrent(uid):
			synthDoneSpeaking.notify(synth=self)

	def _speechFailed(self, uid=None):
		self._consecutiveSpeechFailures += 1
		if self._consecutiveSpeechFailures >= self.MAX_CONSECUTIVE_SPEECH_FAILURES:
			log.debugWarning("Echoic: too many consecutive speech failures, changing synth")
			self._consecutiveSpeechFailures = 0
			queueHandler.queueFunction(queueHandler.eventQueue, findAndSetNextSynth, self.name)
		if uid is None:
			# The connection is gone: nothing will finish the pending utterances.
			synthDoneSpeaking.notify(synth=self)
