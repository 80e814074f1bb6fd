"""The exception tree of Echoic, in one place.

    EchoicError                 every error Echoic raises on purpose
    ├── ConfigError             a configuration or request value is invalid (message quotes it)
    ├── LocaleError             an unknown or unsupported locale tag
    ├── VoiceError              an unknown voice or a broken voice pack
    │   └── RecordingError      a reference recording for cloning is unusable (has a `code`)
    ├── ModelError              the model cannot be found, assembled, verified or loaded
    ├── TextError               input text that cannot be read at all (too long, not text)
    ├── G2PError                grapheme-to-phoneme conversion failed (espeak-ng missing or broken)
    ├── RenderError             synthesis failed and no fallback could speak the segment
    ├── AudioDeviceError        no usable audio output device
    └── ProtocolError           a malformed message at a client/daemon boundary (has a `code`)

Transport errors (sockets, subprocesses) are wrapped once, where the code meets them.
"""


class EchoicError(Exception):
    """Base class of every error Echoic raises on purpose."""


class ConfigError(EchoicError, ValueError):
    """A configuration or request value is invalid."""


class LocaleError(EchoicError, ValueError):
    """An unknown or unsupported locale tag."""


class VoiceError(EchoicError, ValueError):
    """An unknown voice or a broken voice pack."""


class RecordingError(VoiceError):
    """A reference recording for cloning cannot make a voice: one problem, with its measured value.

    `code` names the problem: "unreadable", "too_long", "clipping", "too_quiet", "too_noisy",
    "mostly_silence", "too_short", "several_speakers" (engine/cloning/recording.py).
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class ModelError(EchoicError):
    """The model cannot be found, assembled, verified or loaded."""


class TextError(EchoicError, ValueError):
    """Input text that cannot be read at all."""


class G2PError(EchoicError):
    """Grapheme-to-phoneme conversion failed."""


class RenderError(EchoicError):
    """Synthesis failed, and no fallback could speak the segment."""


class AudioDeviceError(EchoicError):
    """No usable audio output device."""


class ProtocolError(EchoicError):
    """A malformed message at a client/daemon boundary.

    `code` is a short machine-readable reason (for example "bad_json", "unknown_type").
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
