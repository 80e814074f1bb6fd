"""The conditioning seam: where a voice and a locale become what the model receives.

    (voice, locale, phoneme-id count, accent strength)  ->  Conditioning(style, adapter, digest)

Kokoro is conditioned by one style row of 256 floats, picked from the voice pack by the input's
length (`Voice.style`: row n - 1 for n phoneme ids):

    columns   0-127  TIMBRE   read by the renderer (the decoder's AdaIN): who is speaking
    columns 128-255  PROSODY  read by the planner (durations, pitch, energy): how they phrase it

Both graphs take the whole row and each reads its own half, so the planner and the renderer of one
segment receive the same `Conditioning.style`. Every path that feeds the model a style, or keys
something by one, asks `Conditioner.condition` for it: the whole-segment render and the window
renderer (`engine/rendering.py`), calibration of grid rows (`engine/streaming.py`), the render
cache key and `CalibrationStore.key` (both use `Conditioning.digest`). A change made here (an
accent, an adapter) therefore reaches all of them at once, and no cache can serve audio made with
other conditioning.

Where the next pieces plug in (docs/architecture.md):

- **Accent** (engine/voices.py builds per-locale accent directions in style space): the engine
  passes `Conditioner(accent=VoiceLibrary.accented)`, with `accented(voice, locale tag, strength)
  -> voice` moving the whole pack's timbre half toward the locale's native accent (`Voice.key`
  names the moved pack, so calibrations follow it). `strength` is the request's
  `accent_strength` (0 = the locale's native accent, 1 = the voice's own, None = the default,
  `voices.DEFAULT_ACCENT_STRENGTH`). With no accent function, or at strength 1, the style is the
  voice pack's row, bit for bit.
- **Locale adapter** (LoRA, DESIGN.md): `Conditioner.adapter_for` is the one place that names the
  adapter a locale uses; `Conditioning.adapter` carries it to the runtime (`None`: the base model,
  peft's `__base__`). Today no adapter is loaded (`adapters=()`), so it is always None.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from .locales import Locale
from .voices import Voice

TIMBRE = slice(0, 128)
"""Style columns the renderer reads (the decoder's conditioning)."""
PROSODY = slice(128, 256)
"""Style columns the planner reads (the duration, pitch and energy predictor's conditioning)."""

AccentFunction = Callable[[Voice, str, "float | None"], Voice]
"""accented(voice, locale tag, accent strength or None) -> the voice moved toward the locale's accent."""


@dataclass(frozen=True)
class Conditioning:
    """What one model call is conditioned on; the same value for its planner and its renderer."""

    style: np.ndarray = field(repr=False)
    """float32 (1, 256): TIMBRE columns for the renderer, PROSODY columns for the planner."""
    adapter: str | None = None
    """The locale adapter to run with; None: the base model."""
    digest: str = field(init=False)
    """16 hex digits naming exactly this conditioning (the style's bytes and the adapter): the
    identity caches key by. With no adapter it is the hash calibration files were always named by."""

    def __post_init__(self):
        style = np.ascontiguousarray(self.style, dtype=np.float32).reshape(1, -1)  # (1, 256)
        object.__setattr__(self, "style", style)
        hashed = hashlib.sha256(style.tobytes())
        if self.adapter is not None:
            hashed.update(b"\0adapter:" + self.adapter.encode())
        object.__setattr__(self, "digest", hashed.hexdigest()[:16])

    @property
    def timbre(self) -> np.ndarray:
        return self.style[:, TIMBRE]  # (1, 128)

    @property
    def prosody(self) -> np.ndarray:
        return self.style[:, PROSODY]  # (1, 128)


def pack_row(pack: np.ndarray, row: int) -> Conditioning:
    """A voice pack's row as it is, with no accent and no adapter: what `Conditioner()` gives a
    voice with this pack for `row + 1` phoneme ids. For stores and tools that hold a bare pack
    (Kokoro's own (510, 1, 256) layout too)."""
    pack = np.asarray(pack, dtype=np.float32).reshape(len(pack), -1)  # (rows, 256)
    return Conditioning(pack[row:row + 1])


class Conditioner:
    """Turns (voice, locale, length, accent strength) into the model's `Conditioning`."""

    def __init__(self, accent: AccentFunction | None = None, adapters: Iterable[str] = ()):
        self.accent = accent
        """The accent transform of a voice's pack; None: none (the voice's own timbre)."""
        self.adapters = frozenset(adapters)
        """Locale tags that have an adapter loaded."""

    def adapter_for(self, locale: Locale | None) -> str | None:
        """The adapter a locale speaks with: its own when one is loaded, else the base model."""
        if locale is not None and locale.tag in self.adapters:
            return locale.tag
        return None

    def voice_for(self, voice: Voice, locale: Locale | None, accent_strength: float | None = None) -> Voice:
        """The voice as it speaks `locale`: moved toward the locale's accent (its `key` names the
        moved pack, which is what calibrations are wanted and made for). `locale=None`: as it is."""
        if self.accent is None or locale is None:
            return voice
        return self.accent(voice, locale.tag, accent_strength)

    def condition(self, voice: Voice, locale: Locale | None, n_ids: int,
                  accent_strength: float | None = None) -> Conditioning:
        """The conditioning of a segment of `n_ids` phoneme ids (pads excluded) in `locale`.

        A calibration grid row `row` is the conditioning for `row + 1` ids. `locale=None` is the
        voice on its own: no accent, no adapter."""
        style = self.voice_for(voice, locale, accent_strength).style(n_ids)  # (1, 256)
        return Conditioning(style, self.adapter_for(locale))
