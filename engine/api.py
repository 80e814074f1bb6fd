"""The engine's public vocabulary: a speech request in, a stream of events out.

Clients (the daemon, the CLI) build a `SpeechRequest`, call `Engine.stream(request, cancel)` and
get `AudioChunk`, `MarkReached` and finally one `Finished` event, in sample order.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from .errors import ConfigError
from .plan import Plan

RATE_RANGE = (0.25, 6.0)
PITCH_RANGE = (0.5, 2.0)
VOLUME_RANGE = (0.0, 1.0)
ACCENT_STRENGTH_RANGE = (0.0, 1.0)


def finite(value: int | float) -> bool:
    """math.isfinite, but an integer too large for a float (JSON allows 10**400) is not finite either."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _check_range(name: str, value, low: float, high: float) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not finite(value):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value!r}")


@dataclass(frozen=True)
class SpeechRequest:
    """One utterance to speak. `None` means "the locale's or voice's default"."""

    text: str
    """Plain text, or SSML when `ssml` is true."""
    ssml: bool = False
    locale: str | None = None
    """Locale tag (normalised by engine.locales); None: the default locale."""
    voice: str | None = None
    """Voice id; None: the locale's default voice."""
    rate: float | None = None
    """Speaking-rate multiplier, 0.25..6 (1 = normal)."""
    pitch: float | None = None
    """Pitch multiplier, 0.5..2 (1 = the voice's own)."""
    volume: float | None = None
    """Gain, 0..1 (1 = full)."""
    spell: bool = False
    """Read character by character (screen readers' spelling / character mode)."""
    accent_strength: float | None = None
    """0..1: 0 = the locale's native accent, 1 = the voice's own; None: the default for the locale."""

    def __post_init__(self):
        if not isinstance(self.text, str):
            raise ConfigError(f"text must be a string, got {type(self.text).__name__}")
        _check_range("rate", self.rate, *RATE_RANGE)
        _check_range("pitch", self.pitch, *PITCH_RANGE)
        _check_range("volume", self.volume, *VOLUME_RANGE)
        _check_range("accent_strength", self.accent_strength, *ACCENT_STRENGTH_RANGE)


class Cancellation(threading.Event):
    """A cancel flag for `Engine.stream` whose `set()` also stops the model call in flight.

    A plain threading.Event works too, but is only looked at between chunks; this one lets a
    cancel interrupt a render already running (a long segment takes a second or more on a CPU).
    """

    def __init__(self):
        super().__init__()
        self._hooks: list[Callable[[], None]] = []
        self._hooks_lock = threading.Lock()

    def set(self) -> None:
        super().set()
        with self._hooks_lock:
            hooks = list(self._hooks)
        for hook in hooks:
            hook()

    @contextlib.contextmanager
    def hooked(self, hook: Callable[[], None]):
        """Call `hook` if the flag is set while the block runs (or already is)."""
        with self._hooks_lock:
            self._hooks.append(hook)
        try:
            if self.is_set():
                hook()
            yield
        finally:
            with self._hooks_lock:
                self._hooks.remove(hook)


@dataclass(frozen=True)
class AudioChunk:
    pcm: bytes
    """Signed 16-bit little-endian mono PCM at the engine's sample rate."""
    sample_offset: int
    """Offset of the chunk's first sample in the utterance."""

    @property
    def samples(self) -> int:
        return len(self.pcm) // 2


@dataclass(frozen=True)
class MarkReached:
    name: str
    sample_offset: int
    """The mark is reached when audio up to this sample has played."""


@dataclass(frozen=True)
class Finished:
    plan: Plan
    time_to_first_audio: float
    """Seconds from the call to the first AudioChunk."""
    real_time_factor: float
    """Synthesis time divided by audio duration."""
    cancelled: bool = False


Event = AudioChunk | MarkReached | Finished
