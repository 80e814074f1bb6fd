"""Protocol v1 on the wire, client side, as constants and pure functions (docs/protocol.md).

Everything a client and the daemon must agree on byte for byte lives here, once: the protocol
version, the default port, the audio format, the close codes, the binary audio frame, and the
messages a client sends. The daemon's `engine/daemon/protocol.py` imports these constants.
No I/O, no imports outside the standard library: the NVDA add-on carries a byte-identical copy.
"""

import json
import struct

PROTOCOL_VERSION = 1
DEFAULT_PORT = 49733
SAMPLE_RATE = 24000
CHANNELS = 1
FORMAT_NAME = "s16le"
FORMAT_S16LE = 1
BYTES_PER_SAMPLE = 2

MAX_MESSAGE_BYTES = 1 << 20
"""Larger frames close the connection with 1009 (the daemon enforces it; clients accept 4x)."""

CLOSE_UNAUTHORIZED = 4401
CLOSE_BAD_VERSION = 4400

AUDIO_MAGIC = b"EAU1"
AUDIO_HEADER = struct.Struct("<4sIIQIHH")
"""magic, utterance, seq, sample_offset, sample_rate, channels, format; then s16le PCM."""
AUDIO_HEADER_BYTES = AUDIO_HEADER.size  # 28

REPLY_TYPES = frozenset(("hello", "set", "voices", "locales", "settings", "pong", "status"))
"""Answers that carry no utterance id: each answers the request of the same type (ping -> pong)."""
UTTERANCE_TYPES = frozenset(("accepted", "index", "done", "error"))


class FrameError(ValueError):
    """A binary frame from the daemon that is not a protocol v1 audio frame."""


class AudioFrame:
    """One binary audio frame: PCM (s16le) of utterance `utterance` starting at `sample_offset`."""

    __slots__ = ("utterance", "seq", "sample_offset", "sample_rate", "channels", "format", "pcm")

    def __init__(self, utterance, seq, sample_offset, sample_rate, channels, format, pcm):
        self.utterance = utterance
        self.seq = seq
        self.sample_offset = sample_offset
        self.sample_rate = sample_rate
        self.channels = channels
        self.format = format
        self.pcm = pcm

    @property
    def samples(self):
        return len(self.pcm) // (BYTES_PER_SAMPLE * max(1, self.channels))

    def __eq__(self, other):
        return isinstance(other, AudioFrame) and all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __repr__(self):
        return (f"AudioFrame(utterance={self.utterance}, seq={self.seq}, sample_offset={self.sample_offset}, "
                f"sample_rate={self.sample_rate}, {len(self.pcm)} bytes)")


def audio_frame(utterance, seq, sample_offset, pcm, sample_rate=SAMPLE_RATE):
    """Header + PCM, as the daemon sends it."""
    return AUDIO_HEADER.pack(AUDIO_MAGIC, utterance, seq, sample_offset, sample_rate, CHANNELS, FORMAT_S16LE) + pcm


def parse_audio_frame(frame):
    """A binary frame -> AudioFrame; FrameError says what is wrong (short, magic, format)."""
    if len(frame) < AUDIO_HEADER_BYTES:
        raise FrameError(f"audio frame of {len(frame)} bytes is shorter than its header")
    magic, utterance, seq, offset, rate, channels, fmt = AUDIO_HEADER.unpack_from(frame)
    if magic != AUDIO_MAGIC:
        raise FrameError(f"audio frame magic {magic!r} is not {AUDIO_MAGIC!r}")
    if fmt != FORMAT_S16LE:
        raise FrameError(f"audio frame format {fmt} is not {FORMAT_S16LE} ({FORMAT_NAME})")
    return AudioFrame(utterance, seq, offset, rate, channels, fmt, bytes(frame[AUDIO_HEADER_BYTES:]))


def encode(message):
    """A message dict -> the text frame. ASCII escapes keep a lone surrogate (NVDA can hand one
    over from screen content) from making the frame unencodable."""
    return json.dumps(message, ensure_ascii=True, separators=(",", ":"))


def decode(text):
    """A text frame -> a dict; FrameError for anything that is not a JSON object."""
    try:
        message = json.loads(text)
    except ValueError as e:
        raise FrameError(f"a text frame from the daemon is not JSON: {e}") from None
    if not isinstance(message, dict):
        raise FrameError(f"a text frame from the daemon is not a JSON object: {text[:80]!r}")
    return message


def hello(token, client):
    return {"type": "hello", "token": token, "protocol": PROTOCOL_VERSION, "client": client}


def speak(uid, text, ssml=False, **fields):
    """A `speak` (fields: locale, voice, rate, pitch, volume, spell, priority, playback; None left out)."""
    message = {"type": "speak", "id": uid, ("ssml" if ssml else "text"): text}
    message.update({k: v for k, v in fields.items() if v is not None})
    return message


def cancel(uid=None):
    return {"type": "cancel"} if uid is None else {"type": "cancel", "id": uid}


def answer_type(request_type):
    """The type of the reply that answers a request without an utterance id."""
    return "pong" if request_type == "ping" else request_type
