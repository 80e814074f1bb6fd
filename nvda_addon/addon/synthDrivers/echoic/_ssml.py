# A part of Echoic, the NVDA add-on.

"""NVDA speech sequence -> one SSML `speak` document for the Echoic daemon. Pure: no I/O.

Strings become XML-escaped text; IndexCommand a `<mark name="N"/>`; LangChangeCommand a
`<lang xml:lang=...>`; CharacterModeCommand a `<say-as interpret-as="characters">`;
BreakCommand a `<break time="Nms"/>`; Pitch/Rate/VolumeCommand a `<prosody>` whose values are
relative to the utterance's base values (which travel as the `speak` message's own fields).

Elements are reopened for every run of text whose state differs from the open one, so the
document is always well-formed whatever order NVDA sends commands in; marks and breaks close
`say-as` first because `say-as` may hold only text.
"""

import math
import re

# Characters XML 1.0 forbids even escaped; NVDA can hand us any of them from screen content.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_SSML_NS = "http://www.w3.org/2001/10/synthesis"


def escape_text(text):
	text = _INVALID_XML.sub(" ", text)
	return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attr(text):
	return escape_text(text).replace('"', "&quot;")


def locale_tag(nvdaLang):
	"""NVDA's 'fr_FR' (or 'fr') -> BCP 47 'fr-FR'; None or '' -> None."""
	if not nvdaLang:
		return None
	parts = nvdaLang.replace("_", "-").split("-")
	tag = parts[0].lower()
	for part in parts[1:]:
		tag += "-" + (part.upper() if len(part) == 2 else part)
	return tag


def format_rate(ratio):
	"""SSML 1.1: a non-negative percentage multiplies the base rate."""
	return f"{round(ratio * 100)}%"


def format_pitch(ratio):
	"""SSML 1.1: a signed percentage changes the base pitch relatively."""
	return f"{round((ratio - 1) * 100):+d}%"


def format_volume(ratio):
	"""SSML 1.1: a signed dB change of the base volume; 0 is silent."""
	if ratio <= 0:
		return "silent"
	return f"{20 * math.log10(ratio):+.1f}dB"


class _State:
	__slots__ = ("lang", "rate", "pitch", "volume", "characters")

	def __init__(self):
		self.lang = None
		self.rate = 1.0
		self.pitch = 1.0
		self.volume = 1.0
		self.characters = False

	def key(self):
		return (self.lang, self.rate, self.pitch, self.volume, self.characters)


def to_ssml(sequence, defaultLocale, prosodyRatio, resolveLocale=locale_tag):
	"""Convert a speech sequence. Returns (ssml, indexes in order).

	`sequence`: strings and NVDA speech commands (matched by class name, so this module needs
	no NVDA import). `defaultLocale`: BCP 47 tag of the utterance. `prosodyRatio(command)`: the
	multiplier on the base value that a Pitch/Rate/VolumeCommand asks for. `resolveLocale(lang)`:
	NVDA's language name -> a tag the daemon speaks, or None to stay in the current language.
	"""
	out = []
	indexes = []
	state = _State()
	openKey = None  # the state whose elements are open now; None: nothing open
	openTags = []

	def close():
		nonlocal openKey
		while openTags:
			out.append(f"</{openTags.pop()}>")
		openKey = None

	def open_(s):
		nonlocal openKey
		if s.lang:
			out.append(f'<lang xml:lang="{escape_attr(s.lang)}">')
			openTags.append("lang")
		attrs = []
		if s.rate != 1.0:
			attrs.append(f'rate="{format_rate(s.rate)}"')
		if s.pitch != 1.0:
			attrs.append(f'pitch="{format_pitch(s.pitch)}"')
		if s.volume != 1.0:
			attrs.append(f'volume="{format_volume(s.volume)}"')
		if attrs:
			out.append(f"<prosody {' '.join(attrs)}>")
			openTags.append("prosody")
		if s.characters:
			out.append('<say-as interpret-as="characters">')
			openTags.append("say-as")
		openKey = s.key()

	for item in sequence:
		if isinstance(item, str):
			if not item:
				continue
			if openKey != state.key():
				close()
				open_(state)
			out.append(escape_text(item))
			continue
		kind = type(item).__name__
		if kind == "IndexCommand":
			if openTags and openTags[-1] == "say-as":
				close()
			out.append(f'<mark name="{int(item.index)}"/>')
			indexes.append(int(item.index))
		elif kind == "BreakCommand":
			if openTags and openTags[-1] == "say-as":
				close()
			out.append(f'<break time="{max(0, int(item.time))}ms"/>')
		elif kind == "CharacterModeCommand":
			state.characters = bool(item.state)
		elif kind == "LangChangeCommand":
			if not item.lang:
				state.lang = None
			else:
				tag = resolveLocale(item.lang)
				if tag is not None:
					state.lang = None if tag == defaultLocale else tag
		elif kind in ("PitchCommand", "RateCommand", "VolumeCommand"):
			ratio = 1.0 if item.isDefault else float(prosodyRatio(item))
			ratio = max(0.0, ratio)
			setattr(state, kind[:-len("Command")].lower(), ratio)
		# Other commands (PhonemeCommand, unknown ones) are ignored: their text, if any, is not
		# ours to guess, and NVDA sends only what supportedCommands lists.
	close()
	body = "".join(out)
	lang = escape_attr(defaultLocale or "und")
	ssml = f'<speak version="1.1" xmlns="{_SSML_NS}" xml:lang="{lang}">{body}</speak>'
	return ssml, indexes
