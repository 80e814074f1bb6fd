"""Stand-in for NVDA's synthDriverHandler: the SynthDriver base, VoiceInfo, the notifications."""

from collections import OrderedDict
from typing import Optional

import config
import driverHandler
import extensionPoints
import languageHandler
from autoSettingsUtils.driverSetting import BooleanDriverSetting, DriverSetting, NumericDriverSetting
from autoSettingsUtils.utils import StringParameterInfo
from logHandler import log


class LanguageInfo(StringParameterInfo):
	def __init__(self, id):
		super().__init__(id, languageHandler.getLanguageDescription(id))


class VoiceInfo(StringParameterInfo):
	def __init__(self, id, displayName, language: Optional[str] = None):
		self.language = language
		super().__init__(id, displayName)


class SynthDriver(driverHandler.Driver):
	name = ""
	description = ""
	supportedCommands = frozenset()
	supportedNotifications = frozenset()
	_configSection = "speech"

	@classmethod
	def LanguageSetting(cls):
		return DriverSetting("language", _("&Language"), availableInSettingsRing=True,
			displayName=pgettext("synth setting", "Language"))

	@classmethod
	def VoiceSetting(cls):
		return DriverSetting("voice", _("&Voice"), availableInSettingsRing=True,
			displayName=pgettext("synth setting", "Voice"))

	@classmethod
	def VariantSetting(cls):
		return DriverSetting("variant", _("V&ariant"), availableInSettingsRing=True,
			displayName=pgettext("synth setting", "Variant"))

	@classmethod
	def RateSetting(cls, minStep=1):
		return NumericDriverSetting("rate", _("&Rate"), minStep=minStep, availableInSettingsRing=True,
			displayName=pgettext("synth setting", "Rate"))

	@classmethod
	def RateBoostSetting(cls):
		return BooleanDriverSetting("rateBoost", _("Rate boos&t"),
			displayName=pgettext("synth setting", "Rate boost"), availableInSettingsRing=True)

	@classmethod
	def VolumeSetting(cls, minStep=1):
		return NumericDriverSetting("volume", _("V&olume"), minStep=minStep, normalStep=5,
			availableInSettingsRing=True, displayName=pgettext("synth setting", "Volume"))

	@classmethod
	def PitchSetting(cls, minStep=1):
		return NumericDriverSetting("pitch", _("&Pitch"), minStep=minStep, availableInSettingsRing=True,
			displayName=pgettext("synth setting", "Pitch"))

	@classmethod
	def InflectionSetting(cls, minStep=1):
		return NumericDriverSetting("inflection", _("&Inflection"), minStep=minStep,
			availableInSettingsRing=True, displayName=pgettext("synth setting", "Inflection"))

	def speak(self, speechSequence):
		raise NotImplementedError

	def cancel(self):
		pass

	def _get_language(self):
		return self.availableVoices[self.voice].language

	def _set_language(self, language):
		raise NotImplementedError

	def _get_availableLanguages(self):
		return {self.availableVoices[v].language for v in self.availableVoices}

	def _get_voice(self):
		raise NotImplementedError

	def _set_voice(self, value):
		pass

	def _getAvailableVoices(self):
		raise NotImplementedError

	def _get_availableVoices(self):
		if not hasattr(self, "_availableVoices"):
			self._availableVoices = self._getAvailableVoices()
		return self._availableVoices

	def _get_rate(self):
		return 0

	def _set_rate(self, value):
		pass

	def _get_pitch(self):
		return 0

	def _set_pitch(self, value):
		pass

	def _get_volume(self):
		return 0

	def _set_volume(self, value):
		pass

	def _get_variant(self):
		raise NotImplementedError

	def _set_variant(self, value):
		pass

	def _getAvailableVariants(self):
		raise NotImplementedError

	def _get_availableVariants(self):
		if not hasattr(self, "_availableVariants"):
			self._availableVariants = self._getAvailableVariants()
		return self._availableVariants

	def _get_inflection(self):
		return 0

	def _set_inflection(self, value):
		pass

	def pause(self, switch):
		pass

	def initSettings(self):
		firstLoad = not config.conf[self._configSection].isSet(self.name)
		if firstLoad:
			config.conf[self._configSection][self.name] = {}
		config.conf[self._configSection][self.name].spec.update(self.getConfigSpec())
		for setting in self.supportedSettings:
			if not hasattr(self, setting.id):
				setattr(self, setting.id, setting.defaultVal)
		if firstLoad:
			changeVoice(self, self.voice if self.isSupported("voice") else None)
			self.saveSettings()
		else:
			self.loadSettings()

	def loadSettings(self, onlyChanged=False):
		c = config.conf[self._configSection][self.name]
		if self.isSupported("voice"):
			voice = c.get("voice", None)
			if not onlyChanged or self.voice != voice:
				try:
					changeVoice(self, voice)
				except Exception:
					log.warning("Invalid voice: %s" % voice)
					c["voice"] = self.voice
					changeVoice(self, self.voice)
		elif not onlyChanged:
			changeVoice(self, None)
		for s in self.supportedSettings:
			if s.id == "voice" or c.get(s.id) is None:
				continue
			val = c[s.id]
			if onlyChanged and getattr(self, s.id) == val:
				continue
			setattr(self, s.id, val)


synthIndexReached = extensionPoints.Action()
"""notify(synth, index): the audio before this index has played."""
synthDoneSpeaking = extensionPoints.Action()
"""notify(synth): the synth has finished speaking everything it was given."""
synthChanged = extensionPoints.Action()
pre_synthSpeak = extensionPoints.Action()

_curSynth = None
defaultSynthPriorityList = ["oneCore", "espeak", "silence"]
fallbacks = []
"""Tests: the synth names findAndSetNextSynth was asked to move away from."""


def changeVoice(synth, voice):
	if voice:
		synth.voice = voice


def getSynth():
	return _curSynth


def getSynthInstance(name, asDefault=False):
	import importlib

	newSynth = importlib.import_module("synthDrivers.%s" % name, package="synthDrivers").SynthDriver()
	newSynth.initSettings()
	return newSynth


def setSynth(name, isFallback=False):
	"""Load synthDrivers.<name> as the current synth (the add-on's folder must be on sys.path).
	A driver that raises while loading is logged and None becomes current, as in NVDA."""
	global _curSynth
	if _curSynth is not None:
		_curSynth.cancel()
		_curSynth.terminate()
		_curSynth = None
	if name is None:
		return True
	try:
		_curSynth = getSynthInstance(name)
	except Exception:
		log.error(f"setSynth failed for {name}", exc_info=True)
		return False
	if not isFallback:
		config.conf["speech"]["synth"] = name
	synthChanged.notify(synth=_curSynth, audioOutputDevice="default", isFallback=isFallback)
	return True


def findAndSetNextSynth(currentSynthName: str) -> bool:
	fallbacks.append(currentSynthName)
	return True


def isDebugForSynthDriver():
	return config.conf["debugLog"]["synthDriver"]
