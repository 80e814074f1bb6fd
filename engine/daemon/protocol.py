"""Protocol v1 of the Echoic daemon, as pure functions: no sockets, no clocks, no threads.

`parse_client_message` turns one WebSocket frame from a client into a validated message value
(or raises ProtocolError with the protocol's error code); the `*_message` functions produce the
daemon's JSON answers; `audio_frame` / `parse_audio_frame` (from the client core) pack and unpack
the binary audio frames. docs/protocol.md is the specification; this module is its executable form.

Size: about 400 lines: every message type's parser and every reply builder of the protocol,
pure and tested on strings; the wire constants and audio frames are the client core's.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ..api import PITCH_RANGE, RATE_RANGE, VOLUME_RANGE, finite
from ..client.wire import (  # the wire constants and the audio frame exist once, in the client core
    AUDIO_HEADER,
    AUDIO_HEADER_BYTES,
    AUDIO_MAGIC,
    CHANNELS,
    CLOSE_BAD_VERSION,
    CLOSE_UNAUTHORIZED,
    DEFAULT_PORT,
    FORMAT_NAME,
    FORMAT_S16LE,
    MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    SAMPLE_RATE,
    AudioFrame,
    audio_frame,
    parse_audio_frame,
)
from ..errors import AudioDeviceError, ConfigError, EchoicError, LocaleError, ProtocolError, TextError, VoiceError

CAPABILITIES = ("ssml", "marks", "spell", "priority", "playback", "settings", "status")

MAX_TEXT_CHARS = 200_000
MAX_QUEUED_UTTERANCES = 64
MAX_ID_CHARS = 64

PRIORITIES = ("important", "message", "text", "notification", "progress")
PLAYBACKS = ("client", "daemon")
SETTINGS_FIELDS = ("voice", "rate", "pitch", "volume", "accent_strength")
ACCENT_STRENGTH_RANGE = (0.0, 1.0)

ERROR_CODES = (
    "bad_json", "not_object", "unknown_type", "missing_field", "bad_value", "unknown_locale",
    "unknown_voice", "too_large", "binary_not_allowed", "duplicate_id", "queue_full",
    "synthesis_failed", "no_audio_device", "internal",
)


# --- client -> daemon -------------------------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    token: str
    protocol: int
    client: str = ""


@dataclass(frozen=True)
class Speak:
    id: str
    text: str
    ssml: bool = False
    locale: str | None = None
    voice: str | None = None
    rate: float | None = None
    pitch: float | None = None
    volume: float | None = None
    spell: bool = False
    priority: str = "text"
    playback: str = "client"


@dataclass(frozen=True)
class Cancel:
    id: str | None = None
    """None: every utterance of this client ("*" on the wire means the same)."""


@dataclass(frozen=True)
class Pause:
    pass


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class SetDefaults:
    values: dict[str, Any] = field(default_factory=dict)
    """Any of locale, voice, rate, pitch, volume (None clears a default)."""


@dataclass(frozen=True)
class ListVoices:
    locale: str | None = None


@dataclass(frozen=True)
class ListLocales:
    pass


@dataclass(frozen=True)
class Settings:
    action: str
    """"get" or "set"."""
    locale: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ping:
    id: Any = None


@dataclass(frozen=True)
class Status:
    pass


@dataclass(frozen=True)
class Shutdown:
    pass


ClientMessage = (
    Hello | Speak | Cancel | Pause | Resume | SetDefaults | ListVoices | ListLocales | Settings | Ping
    | Status | Shutdown
)


def shown(value, limit: int = 60) -> str:
    """A short JSON rendering of a client's value for an error message. Containers are named, not
    rendered: a value nested a thousand deep would exhaust json.dumps' recursion."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return json.dumps(value)[:limit]


def _field(obj: dict, name: str, kind, required: bool = False, default=None):
    """The value of `name`, checked to be of `kind` (bool is never a number here)."""
    if name not in obj or (obj[name] is None and not required):
        if required:
            raise ProtocolError("missing_field", f"'{obj.get('type')}' needs the field '{name}'")
        return default
    value = obj[name]
    number = kind in (int, float) or kind == (int, float)
    if (number and isinstance(value, bool)) or not isinstance(value, kind):
        names = {str: "a string", bool: "true or false", int: "an integer", (int, float): "a number",
                 dict: "an object"}
        raise ProtocolError("bad_value", f"'{name}' must be {names.get(kind, kind)}, got {shown(value)}")
    return value


def _number(obj: dict, name: str, low: float, high: float):
    value = _field(obj, name, (int, float))
    if value is not None and (not finite(value) or not low <= value <= high):
        raise ProtocolError("bad_value", f"'{name}' must be between {low} and {high}, got {value!r}")
    return value


def _choice(obj: dict, name: str, choices: tuple[str, ...], default: str) -> str:
    value = _field(obj, name, str, default=default)
    if value not in choices:
        raise ProtocolError("bad_value", f"'{name}' must be one of {', '.join(choices)}, got {value[:40]!r}")
    return value


def _text(obj: dict, name: str) -> str | None:
    value = _field(obj, name, str)
    if value is not None and len(value) > MAX_TEXT_CHARS:
        raise ProtocolError("too_large", f"'{name}' has {len(value)} characters; the limit is {MAX_TEXT_CHARS}")
    return value


def _utterance_id(obj: dict, required: bool) -> str | None:
    value = _field(obj, "id", str, required=required)
    if value is not None and not 1 <= len(value) <= MAX_ID_CHARS:
        raise ProtocolError("bad_value", f"'id' must have 1 to {MAX_ID_CHARS} characters, got {len(value)}")
    return value


def validate_setting(name: str, value):
    """Check one per-locale setting (settings file and protocol alike); returns the value or raises ProtocolError."""
    ranges = {"rate": RATE_RANGE, "pitch": PITCH_RANGE, "volume": VOLUME_RANGE,
              "accent_strength": ACCENT_STRENGTH_RANGE}
    if name == "voice":
        if not isinstance(value, str) or not 1 <= len(value) <= 64 or not value.replace("_", "").replace("-", "").isalnum():
            raise ProtocolError("bad_value", f"voice must be a voice id (letters, digits, _ and -), got {value!r}")
        return value
    if name in ranges:
        low, high = ranges[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not finite(value):
            raise ProtocolError("bad_value", f"{name} must be a number, got {value!r}")
        if not low <= value <= high:
            raise ProtocolError("bad_value", f"{name} must be between {low} and {high}, got {value!r}")
        return value
    raise ProtocolError("bad_value", f"unknown setting {name!r}; settings are {', '.join(SETTINGS_FIELDS)}")


_DOCTYPE = re.compile(r"<!DOCTYPE", re.IGNORECASE)


def _parse_speak(obj: dict) -> Speak:
    uid = _utterance_id(obj, required=True)
    text, ssml = _text(obj, "text"), _text(obj, "ssml")
    if (text is None) == (ssml is None):
        code = "missing_field" if text is None else "bad_value"
        raise ProtocolError(code, "'speak' needs exactly one of 'text' or 'ssml'")
    if ssml is not None and _DOCTYPE.search(ssml):
        raise ProtocolError("bad_value", "SSML with a document type declaration (<!DOCTYPE>) is not accepted: "
                                         "Echoic reads no DTDs, so send the <speak> document alone")
    return Speak(
        id=uid, text=text if ssml is None else ssml, ssml=ssml is not None,
        locale=_field(obj, "locale", str), voice=_field(obj, "voice", str),
        rate=_number(obj, "rate", *RATE_RANGE), pitch=_number(obj, "pitch", *PITCH_RANGE),
        volume=_number(obj, "volume", *VOLUME_RANGE), spell=_field(obj, "spell", bool, default=False),
        priority=_choice(obj, "priority", PRIORITIES, "text"),
        playback=_choice(obj, "playback", PLAYBACKS, "client"),
    )


def _parse_set(obj: dict) -> SetDefaults:
    values: dict[str, Any] = {}
    for name in ("locale", "voice"):
        if name in obj:
            values[name] = _field(obj, name, str)
    for name, (low, high) in (("rate", RATE_RANGE), ("pitch", PITCH_RANGE), ("volume", VOLUME_RANGE)):
        if name in obj:
            values[name] = _number(obj, name, low, high)
    return SetDefaults(values)


def _parse_settings(obj: dict) -> Settings:
    action = _choice(obj, "action", ("get", "set"), "")
    if action == "get":
        return Settings("get")
    locale = _field(obj, "locale", str, required=True)
    values = _field(obj, "values", dict, required=True)
    checked = {}
    for name, value in values.items():
        checked[name] = None if value is None else validate_setting(name, value)
    return Settings("set", locale, checked)


def _ping_id(obj: dict):
    """A ping's `id` comes back verbatim, so it must be something worth echoing: a short string or a
    finite number (a nested structure or NaN would make the pong itself invalid)."""
    value = obj.get("id")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and len(value) <= MAX_ID_CHARS:
        return value
    if isinstance(value, (int, float)) and finite(value) and abs(value) < 2 ** 53:
        return value
    raise ProtocolError("bad_value", f"'id' of a ping must be a string of at most {MAX_ID_CHARS} characters "
                                     f"or a number, got {shown(value, 40)}")


def _parse_cancel(obj: dict) -> Cancel:
    if obj.get("id") == "*":
        return Cancel(None)
    return Cancel(_utterance_id(obj, required=False))


_PARSERS = {
    "hello": lambda o: Hello(_field(o, "token", str, required=True), _field(o, "protocol", int, required=True),
                             _field(o, "client", str, default="")),
    "speak": _parse_speak,
    "cancel": _parse_cancel,
    "pause": lambda o: Pause(),
    "resume": lambda o: Resume(),
    "set": _parse_set,
    "voices": lambda o: ListVoices(_field(o, "locale", str)),
    "locales": lambda o: ListLocales(),
    "settings": _parse_settings,
    "ping": lambda o: Ping(_ping_id(o)),
    "status": lambda o: Status(),
    "shutdown": lambda o: Shutdown(),
}
CLIENT_TYPES = tuple(_PARSERS)


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")  # Python's json reads NaN and Infinity; the standard does not


def parse_client_message(frame: str | bytes) -> ClientMessage:
    """One frame from a client -> a message value. Raises ProtocolError(code, message)."""
    if isinstance(frame, (bytes, bytearray, memoryview)):
        raise ProtocolError("binary_not_allowed", "clients send JSON text frames only")
    try:
        obj = json.loads(frame, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("bad_json", f"not JSON: {str(exc)[:80]}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("not_object", f"a message must be a JSON object, got {type(obj).__name__}")
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in _PARSERS:
        what = shown(kind, 40) if kind is not None else "nothing"
        raise ProtocolError("unknown_type", f"unknown message type {what}; known: {', '.join(CLIENT_TYPES)}")
    return _PARSERS[kind](obj)


def message_id(frame: str | bytes):
    """Best effort: the `id` of a (possibly invalid) speak/cancel message, for error replies."""
    try:
        obj = json.loads(frame)
    except (ValueError, TypeError, RecursionError):
        return None
    value = obj.get("id") if isinstance(obj, dict) else None
    return value if isinstance(value, str) and len(value) <= MAX_ID_CHARS else None


# --- daemon -> client -------------------------------------------------------------------------


def dumps(message: dict) -> str:
    # ASCII escapes: a lone UTF-16 surrogate (NVDA can hand one over from screen content) in an id
    # or a mark name would otherwise make the frame unencodable and drop the connection.
    return json.dumps(message, ensure_ascii=True, separators=(",", ":"))


def close_reason(text: str) -> str:
    """`text` cut to the 123 bytes a WebSocket close reason may hold (longer ones fail the close)."""
    data = text.encode("utf-8")
    return text if len(data) <= 123 else data[:120].decode("utf-8", "ignore") + "..."


def hello_message(version: str) -> dict:
    return {"type": "hello", "protocol": PROTOCOL_VERSION, "version": version, "sample_rate": SAMPLE_RATE,
            "channels": CHANNELS, "format": FORMAT_NAME, "capabilities": list(CAPABILITIES)}


def accepted_message(uid: str, utterance: int, locale: str, voice: str) -> dict:
    return {"type": "accepted", "id": uid, "utterance": utterance, "locale": locale, "voice": voice}


def index_message(uid: str, mark: str, sample_offset: int) -> dict:
    return {"type": "index", "id": uid, "mark": mark, "sample_offset": sample_offset}


def done_message(uid: str, samples: int, cancelled: bool, time_to_first_audio_ms: float | None = None,
                 real_time_factor: float | None = None, events: list | None = None,
                 notes: list | None = None) -> dict:
    return {"type": "done", "id": uid, "samples": samples, "cancelled": cancelled,
            "stats": {"time_to_first_audio_ms": time_to_first_audio_ms, "real_time_factor": real_time_factor,
                      "guardrail": {"events": events or [], "notes": notes or []}}}


def error_message(uid: str | None, code: str, message: str) -> dict:
    return {"type": "error", "id": uid, "code": code, "message": message}


def error_code(exc: BaseException) -> str:
    """The protocol's error code for an exception raised while preparing or synthesising speech."""
    if isinstance(exc, ProtocolError):
        return exc.code
    for kind, code in ((LocaleError, "unknown_locale"), (VoiceError, "unknown_voice"), (ConfigError, "bad_value"),
                       (TextError, "bad_value"), (AudioDeviceError, "no_audio_device"), (EchoicError, "synthesis_failed")):
        if isinstance(exc, kind):
            return code
    return "internal"


def finished_message(uid: str, samples: int, finished, time_to_first_audio_ms: float | None) -> dict:
    """`done` for an engine's Finished event (its plan's guardrail report included)."""
    report = finished.plan.report
    return done_message(uid, samples, bool(finished.cancelled), time_to_first_audio_ms,
                        round(finished.real_time_factor, 4), [asdict(e) for e in report.events], list(report.notes))


def pong_message(uid) -> dict:
    return {"type": "pong", "id": uid}


def defaults_message(defaults: dict) -> dict:
    return {"type": "set", "defaults": dict(defaults)}


def voices_message(voices, locale: str | None) -> dict:
    return {"type": "voices", "voices": [{"id": v.id, "name": v.name, "gender": v.gender, "locales": list(v.locales),
                                          "native_locale": v.native_locale}
                                         for v in voices if locale is None or locale in v.locales]}


def locales_message(locales) -> dict:
    return {"type": "locales", "locales": [{"tag": loc.tag, "name": loc.display_name, "status": loc.status,
                                            "default_voice": loc.default_voice} for loc in locales]}


def settings_message(table: dict, problem: str | None) -> dict:
    return {"type": "settings", "settings": table, "problem": problem}
