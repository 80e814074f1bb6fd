"""speech-dispatcher's output-module protocol as pure functions: strings and bytes in, values out.

The server talks to a module over its stdin/stdout in text lines (see docs/speechd.md):
commands (`INIT`, `SET`, `SPEAK`, `STOP` ...), data blocks ended by a lone `.` with a leading
`.` doubled, numbered replies (`2xx` ok, `3xx` error) and asynchronous events (`7xx`). Nothing
here reads or writes a file; `module.py` is the thin threaded layer around it.

Also here, because they are the same kind of thing: how speech-dispatcher's settings (-100..100
scales, language codes, voice types) become an Echoic daemon `speak` message.

Size: about 440 lines: the full module protocol (commands, data blocks, replies, events) and
the settings mapping, all pure and tested on strings; splitting it would scatter one protocol.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

# ---- replies (module -> server, synchronous) -----------------------------------------------------

OK_LOADED = "299 OK LOADED SUCCESSFULLY"
ERR_CANT_INIT = "399 ERROR CANT INIT MODULE"
OK_RECEIVING_AUDIO = "207 OK RECEIVING AUDIO SETTINGS"
OK_AUDIO_INITIALIZED = "203 OK AUDIO INITIALIZED"
ERR_AUDIO = "300 ERR AUDIO NOT SUPPORTED"
OK_RECEIVING_LOGLEVEL = "207 OK RECEIVING LOGLEVEL SETTINGS"
OK_LOGLEVEL_SET = "203 OK LOGLEVEL SET"
OK_RECEIVING_SETTINGS = "203 OK RECEIVING SETTINGS"
OK_SETTINGS_RECEIVED = "203 OK SETTINGS RECEIVED"
OK_RECEIVING_MESSAGE = "202 OK RECEIVING MESSAGE"
OK_SPEAKING = "200 OK SPEAKING"
ERR_CANT_SPEAK = "301 ERROR CANT SPEAK"
OK_VOICE_LIST_SENT = "200 OK VOICE LIST SENT"
# 0.12 asks `LIST VOICES <lang> [<variant>]`; a 300 makes it ask again without arguments.
ERR_LIST_VOICES_FILTER = "300 ERR NO FILTERED VOICE LIST"
OK_QUIT = "210 OK QUIT"
ERR_UNKNOWN_COMMAND = "300 ERR UNKNOWN COMMAND"

# ---- events (module -> server, asynchronous, in message order) -----------------------------------

EVENT_BEGIN = "701 BEGIN"
EVENT_END = "702 END"
EVENT_STOP = "703 STOP"
EVENT_PAUSE = "704 PAUSE"

SPD_MARK_PREFIX = "__spd_"
"""Marks the server inserts itself (after each sentence); PAUSE stops at the next one."""

AUDIO_ESCAPE = 0x7D
AUDIO_INVERT = 0x20


def reply_lines(code: int, lines: list[str], final: str) -> bytes:
    """A multi-line reply: `<code>-<line>` for each line, then the final `<code> ...` line."""
    out = [f"{code}-{_one_line(line)}\n" for line in lines]
    out.append(final + "\n")
    return "".join(out).encode("utf-8")


def line(text: str) -> bytes:
    """One reply or event line, newline-terminated."""
    return (text + "\n").encode("utf-8")


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


def mark_event(name: str) -> bytes:
    """`700` index mark: the server tells the client the audio reached `name`."""
    return f"700-{_one_line(name)}\n700 INDEX MARK\n".encode("utf-8")


def icon_event(name: str) -> bytes:
    """`706` sound icon: the server plays the icon itself (server audio)."""
    return f"706-{_one_line(name)}\n706 ICON\n".encode("utf-8")


def escape_audio(data: bytes) -> bytes:
    """Escape a 705 payload so it holds no newline: `\\n` and 0x7D become 0x7D, byte ^ 0x20."""
    if b"\n" not in data and b"\x7d" not in data:
        return bytes(data)
    return bytes(data).replace(b"\x7d", b"\x7d\x5d").replace(b"\n", b"\x7d\x2a")


def unescape_audio(data: bytes) -> bytes:
    """The inverse of `escape_audio` (what the server does on its side)."""
    out = bytearray()
    it = iter(data)
    for byte in it:
        if byte == AUDIO_ESCAPE:
            out.append(next(it) ^ AUDIO_INVERT)
        else:
            out.append(byte)
    return bytes(out)


def audio_event(pcm: bytes, sample_rate: int) -> bytes:
    """`705` audio block for the server to play: 16-bit little-endian mono PCM.

    The header lines end with `705-AUDIO`, a NUL, then the escaped samples, a newline and
    `705 AUDIO`.
    """
    if len(pcm) % 2:
        raise ValueError(f"16-bit PCM must have an even length, got {len(pcm)} bytes")
    header = (
        "705-bits=16\n705-num_channels=1\n"
        f"705-sample_rate={int(sample_rate)}\n705-num_samples={len(pcm) // 2}\n"
        "705-big_endian=0\n705-AUDIO\0"
    ).encode("ascii")
    return header + escape_audio(pcm) + b"\n705 AUDIO\n"


def parse_audio_event(block: bytes) -> tuple[dict[str, int], bytes]:
    """Parse a 705 block back into its header fields and raw PCM (the server's view; for tests)."""
    head, sep, rest = block.partition(b"705-AUDIO\0")
    if not sep or not rest.endswith(b"\n705 AUDIO\n"):
        raise ValueError("not a 705 audio block")
    fields = {}
    for raw in head.decode("ascii").splitlines():
        key, _, value = raw.removeprefix("705-").partition("=")
        fields[key] = int(value)
    pcm = unescape_audio(rest[: -len(b"\n705 AUDIO\n")])
    return fields, pcm


# ---- commands and data blocks (server -> module) -------------------------------------------------


@dataclass(frozen=True)
class Command:
    name: str
    """Upper-cased command word (`SPEAK`, `LIST VOICES` is `LIST` with args `VOICES ...`)."""
    args: tuple[str, ...] = ()


def parse_command(raw: str) -> Command:
    """One command line (`SPEAK`, `LIST VOICES en`, ...). Blank lines give an empty name."""
    words = raw.strip().split()
    if not words:
        return Command("")
    return Command(words[0].upper(), tuple(words[1:]))


COMMANDS_WITH_DATA = frozenset({"SPEAK", "CHAR", "KEY", "SOUND_ICON", "SET", "AUDIO", "LOGLEVEL"})
"""Commands followed by a data block ended by a lone `.`."""


def is_block_end(raw: str) -> bool:
    return raw.rstrip("\r\n") == "."


def unstuff(raw: str) -> str:
    """A data line as sent: a leading `.` was doubled so text cannot end the block early."""
    raw = raw.rstrip("\r\n")
    return raw[1:] if raw.startswith("..") else raw


def stuff(text: str) -> str:
    """The server's side of `unstuff`, for a whole multi-line text: block lines plus the final `.`."""
    lines = [("." + ln) if ln.startswith(".") else ln for ln in text.split("\n")]
    return "\n".join(lines) + "\n.\n"


def join_block(lines: list[str]) -> str:
    """The text of a SPEAK/CHAR/KEY block from its raw lines (without the final `.`)."""
    return "\n".join(unstuff(ln) for ln in lines)


def parse_key_values(lines: list[str]) -> dict[str, str]:
    """A SET/AUDIO/LOGLEVEL block: `name=value` lines. Lines without `=` are ignored."""
    values = {}
    for raw in lines:
        key, sep, value = unstuff(raw).partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


# ---- settings -----------------------------------------------------------------------------------

VOICE_TYPES = ("male1", "male2", "male3", "female1", "female2", "female3", "child_male", "child_female")


@dataclass(frozen=True)
class Settings:
    """What the server last SET. `None` means "not set: the daemon's default"."""

    rate: int | None = None
    """-100..100; see `rate_multiplier`."""
    pitch: int | None = None
    """-100..100; see `pitch_multiplier`."""
    pitch_range: int | None = None
    """-100..100; the daemon has no such control yet, kept for the log."""
    volume: int | None = None
    """-100..100; see `volume_gain`."""
    punctuation_mode: str | None = None
    """`none`, `some`, `most`, `all`: the server already replaces symbols in 0.11."""
    spelling_mode: bool = False
    """Speak character by character."""
    cap_let_recogn: str | None = None
    voice: str | None = None
    """A voice type: one of VOICE_TYPES (lower case)."""
    language: str | None = None
    """A language code as the client sent it (`en`, `en-GB`, `es`)."""
    synthesis_voice: str | None = None
    """A voice name from our LIST VOICES, or None."""

    def __post_init__(self):
        for name in ("rate", "pitch", "pitch_range", "volume"):
            value = getattr(self, name)
            if value is not None and not -100 <= value <= 100:
                raise ValueError(f"{name} must be between -100 and 100, got {value!r}")


_INT_FIELDS = {"rate", "pitch", "pitch_range", "volume"}


def apply_settings(current: Settings, values: dict[str, str]) -> Settings:
    """A SET block applied to the current settings. Unknown names are ignored; a bad number
    raises ValueError quoting it. `NULL` (speechd's word for unset) gives None."""
    changes: dict[str, object] = {}
    for key, value in values.items():
        if key not in {f.name for f in dataclasses.fields(Settings)}:
            continue
        if value == "NULL" or value == "":
            changes[key] = False if key == "spelling_mode" else None
        elif key in _INT_FIELDS:
            try:
                number = int(value)
            except ValueError:
                raise ValueError(f"{key} must be an integer, got {value!r}") from None
            changes[key] = max(-100, min(100, number))
        elif key == "spelling_mode":
            changes[key] = value.strip().lower() in ("1", "on", "true")
        elif key == "voice":
            changes[key] = value.lower()
        else:
            changes[key] = value
    return dataclasses.replace(current, **changes)


# Speaking rate: exponential on each side of 0, so each step is the same *ratio*.
# -100 -> 0.5x, 0 -> 1x, +100 -> 4x (one octave below, two above: experienced listeners go fast).
RATE_SLOWEST = 0.5
RATE_FASTEST = 4.0


def rate_multiplier(rate: int | None) -> float | None:
    """speech-dispatcher rate -100..100 -> the daemon's speaking-rate multiplier.

    0.5 ** (-rate/100) below 0 and 4 ** (rate/100) above: -50 -> 0.71x, +50 -> 2x, +100 -> 4x.
    """
    if rate is None:
        return None
    rate = max(-100, min(100, rate))
    if rate < 0:
        return RATE_SLOWEST ** (-rate / 100)
    return RATE_FASTEST ** (rate / 100)


def pitch_multiplier(pitch: int | None) -> float | None:
    """Pitch -100..100 -> 0.5x..2x, exponential (an octave each way), 0 -> the voice's own."""
    if pitch is None:
        return None
    return 2.0 ** (max(-100, min(100, pitch)) / 100)


def volume_gain(volume: int | None) -> float | None:
    """Volume -100..100 -> gain 0..1, linear: 100 is full scale (speechd's usual default), 0 half."""
    if volume is None:
        return None
    return (max(-100, min(100, volume)) + 100) / 200


# ---- languages and voices -----------------------------------------------------------------------

# A bare language to the locale a speaker of it most likely means; everything else is matched
# against the daemon's own `locales` list.
_PREFERRED_LOCALE = {
    "en": "en-US", "es": "es-ES", "de": "de-DE", "fr": "fr-FR", "it": "it-IT",
    "en-uk": "en-GB", "es-419": "es-US", "es-mx": "es-US",
}


def locale_for_language(language: str | None, known: list[str]) -> str | None:
    """speech-dispatcher language code -> one of the daemon's locale tags, or None (daemon default).

    Exact tag (case and `_` ignored), then a preferred locale for the code, then the first known
    locale of the same language; None when the language is unknown (the daemon speaks its default).
    """
    if not language:
        return None
    key = language.strip().replace("_", "-").lower()
    by_key = {tag.lower(): tag for tag in known}
    if key in by_key:
        return by_key[key]
    preferred = _PREFERRED_LOCALE.get(key) or _PREFERRED_LOCALE.get(key.split("-")[0])
    if preferred and preferred.lower() in by_key:
        return by_key[preferred.lower()]
    base = key.split("-")[0]
    for tag in known:
        if tag.lower().split("-")[0] == base:
            return tag
    return None


@dataclass(frozen=True)
class VoiceInfo:
    """A voice as the daemon lists it."""

    id: str
    name: str
    gender: str
    locales: tuple[str, ...]


def voice_for_type(voice_type: str | None, voices: list[VoiceInfo], locale: str | None) -> str | None:
    """A voice type (`male2`, `child_female` ...) -> a voice id, or None (the locale's default).

    Voices of the wanted gender that speak the locale, in the daemon's order; `male2` takes the
    second, wrapping around. With no voice of that gender, None.
    """
    if not voice_type:
        return None
    voice_type = voice_type.lower()
    gender = "female" if "female" in voice_type else "male" if "male" in voice_type else None
    if gender is None:
        return None
    digits = re.sub(r"\D", "", voice_type)
    index = int(digits) - 1 if digits else 0
    candidates = [v for v in voices if v.gender.lower() == gender and (locale is None or locale in v.locales)]
    if not candidates:
        return None
    return candidates[index % len(candidates)].id


def voice_list_lines(voices: list[VoiceInfo]) -> list[str]:
    """LIST VOICES data lines, `name<TAB>language<TAB>variant`, one per voice and locale."""
    lines = []
    for voice in voices:
        for locale in voice.locales:
            lines.append(f"{voice.id}\t{locale}\tnone")
    return lines


SSML_MARK = re.compile(r"""<mark\s+name\s*=\s*(?:"([^"]*)"|'([^']*)')\s*/?>""")


def ssml_marks(ssml: str) -> list[str]:
    """The mark names in an SSML text, in order."""
    return [m.group(1) if m.group(1) is not None else m.group(2) for m in SSML_MARK.finditer(ssml)]


def key_text(key: str) -> tuple[str, bool]:
    """A KEY name (`a`, `shift_a`, `kp-enter`, `space`) -> (text to say, spell it?).

    A single character is spelled; a name is said as words (`shift_a` -> "shift a").
    """
    if len(key) == 1:
        return key, True
    words = [w for w in re.split(r"[_\-\s]+", key) if w]
    return " ".join(words) or key, False


@dataclass(frozen=True)
class SpeakJob:
    """One message for the daemon, made from a SPEAK/CHAR/KEY and the settings."""

    message: dict
    marks: tuple[str, ...]
    """The marks the SSML holds, in order (empty for plain text)."""


def speak_message(
    utterance_id: str,
    kind: str,
    data: str,
    settings: Settings,
    voices: list[VoiceInfo],
    locales: list[str],
    playback: str = "client",
) -> SpeakJob:
    """The daemon `speak` message for a SPEAK (SSML), CHAR or KEY and the current settings."""
    message: dict = {"type": "speak", "id": utterance_id, "priority": "text"}
    marks: tuple[str, ...] = ()
    if kind == "SPEAK":
        message["ssml"] = data if data.lstrip().startswith("<speak") else f"<speak>{data}</speak>"
        marks = tuple(ssml_marks(data))
        if settings.spelling_mode:
            message["spell"] = True
    elif kind == "CHAR":
        char = " " if data == "space" else data
        message["text"] = char
        message["spell"] = True
    elif kind == "KEY":
        text, spell = key_text(data)
        message["text"] = text
        if spell:
            message["spell"] = True
    else:
        message["text"] = data
    locale = locale_for_language(settings.language, locales)
    if locale:
        message["locale"] = locale
    known_ids = {v.id for v in voices}
    if settings.synthesis_voice and settings.synthesis_voice in known_ids:
        message["voice"] = settings.synthesis_voice
    else:
        voice = voice_for_type(settings.voice, voices, locale)
        if voice:
            message["voice"] = voice
    for name, value in (
        ("rate", rate_multiplier(settings.rate)),
        ("pitch", pitch_multiplier(settings.pitch)),
        ("volume", volume_gain(settings.volume)),
    ):
        if value is not None and math.isfinite(value):
            message[name] = round(value, 4)
    if playback != "client":
        message["playback"] = playback
    return SpeakJob(message, marks)


# ---- the module's own config file ---------------------------------------------------------------


def parse_module_config(text: str) -> dict[str, str]:
    """speech-dispatcher-style `Name value` lines (value may be quoted); `#` starts a comment."""
    values = {}
    for raw in text.splitlines():
        raw = raw.strip()
        if not raw or raw.startswith("#"):
            continue
        name, _, value = raw.partition(" ")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        values[name] = value
    return values
