"""Where each value of an utterance comes from: the `speak` message's own field, then the
connection's `set` defaults, then the user's per-locale settings file, then the voice's default."""

from __future__ import annotations

from ..api import SpeechRequest
from ..errors import VoiceError
from ..locales import get_locale
from . import protocol as p


def _check_voice(voice: str, voice_ids: set[str]) -> None:
    if voice not in voice_ids:
        raise VoiceError(f"unknown voice {voice!r}; available: {', '.join(sorted(voice_ids))}")


def with_defaults(defaults: dict, values: dict, voice_ids: set[str]) -> dict:
    """A connection's defaults after a `set` (a None value clears that default)."""
    values = dict(values)
    if values.get("locale") is not None:
        values["locale"] = get_locale(values["locale"]).tag
    if values.get("voice") is not None:
        _check_voice(values["voice"], voice_ids)
    new = dict(defaults)
    for name, value in values.items():
        if value is None:
            new.pop(name, None)
        else:
            new[name] = value
    return new


def speech_request(msg: p.Speak, defaults: dict, saved_for, voice_ids: set[str]) -> tuple[SpeechRequest, str]:
    """The engine request for a speak; `saved_for(tag)` reads the settings file's table for a locale."""
    locale = get_locale(msg.locale if msg.locale is not None else defaults.get("locale"))
    saved = saved_for(locale.tag)

    def pick(name):
        for source in (getattr(msg, name), defaults.get(name), saved.get(name)):
            if source is not None:
                return source
        return None

    voice = pick("voice")
    if msg.voice is None and defaults.get("voice") is None and voice not in voice_ids:
        voice = None  # the settings file names a user voice removed since: the locale's default speaks
    voice = voice or locale.default_voice
    _check_voice(voice, voice_ids)
    request = SpeechRequest(text=msg.text, ssml=msg.ssml, locale=locale.tag, voice=voice, rate=pick("rate"),
                            pitch=pick("pitch"), volume=pick("volume"), spell=msg.spell,
                            accent_strength=saved.get("accent_strength"))
    return request, voice
