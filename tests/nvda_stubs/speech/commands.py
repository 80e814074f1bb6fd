"""Stand-in for NVDA's speech.commands: the commands a synth driver receives, same constructors."""

import config


class SpeechCommand:
	"""Base of everything that can sit between strings in a speech sequence."""


class SynthCommand(SpeechCommand):
	"""Commands passed to synth drivers."""


class IndexCommand(SynthCommand):
	def __init__(self, index):
		if not isinstance(index, int):
			raise ValueError("index must be int, not %s" % type(index))
		self.index = index

	def __repr__(self):
		return "IndexCommand(%r)" % self.index


class SynthParamCommand(SynthCommand):
	isDefault = False


class CharacterModeCommand(SynthParamCommand):
	def __init__(self, state):
		if not isinstance(state, bool):
			raise ValueError("state must be boolean, not %s" % type(state))
		self.state = state
		self.isDefault = not state

	def __repr__(self):
		return "CharacterModeCommand(%r)" % self.state


class LangChangeCommand(SynthParamCommand):
	def __init__(self, lang):
		"""lang: a locale name like 'fr_FR'; None returns to the synth's own language."""
		self.lang = lang
		self.isDefault = not lang

	def __repr__(self):
		return "LangChangeCommand (%r)" % self.lang


class BreakCommand(SynthCommand):
	def __init__(self, time=0):
		"""time: milliseconds of pause."""
		self.time = time

	def __repr__(self):
		return "BreakCommand(time=%d)" % self.time


class EndUtteranceCommand(SpeechCommand):
	pass


class BaseProsodyCommand(SynthParamCommand):
	"""Offset or multiplier (not both) on the user's configured value of `settingName`."""

	settingName = None

	def __init__(self, offset=0, multiplier=1):
		if offset != 0 and multiplier != 1:
			raise ValueError("offset and multiplier both specified")
		self._offset = offset
		self._multiplier = multiplier
		self.isDefault = offset == 0 and multiplier == 1

	@property
	def defaultValue(self):
		from synthDriverHandler import getSynth

		return config.conf["speech"][getSynth().name][self.settingName]

	@property
	def multiplier(self):
		if self._multiplier != 1:
			return self._multiplier
		if self._offset == 0:
			return 1
		defaultVal = self.defaultValue
		return float(defaultVal + self._offset) / defaultVal

	@property
	def offset(self):
		if self._offset != 0:
			return self._offset
		if self._multiplier == 1:
			return 0
		defaultVal = self.defaultValue
		return int(defaultVal * self._multiplier - defaultVal)

	@property
	def newValue(self):
		if self._offset != 0:
			return self.defaultValue + self._offset
		if self._multiplier != 1:
			return int(self.defaultValue * self._multiplier)
		return self.defaultValue

	def __repr__(self):
		if self._offset != 0:
			param = "offset=%d" % self._offset
		elif self._multiplier != 1:
			param = "multiplier=%g" % self._multiplier
		else:
			param = ""
		return f"{type(self).__name__}({param})"


class PitchCommand(BaseProsodyCommand):
	settingName = "pitch"


class VolumeCommand(BaseProsodyCommand):
	settingName = "volume"


class RateCommand(BaseProsodyCommand):
	settingName = "rate"


class PhonemeCommand(SynthCommand):
	def __init__(self, ipa, text=None):
		self.ipa = ipa
		self.text = text

	def __repr__(self):
		return "PhonemeCommand(%r, text=%r)" % (self.ipa, self.text)
