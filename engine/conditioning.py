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
- **Locale adapter** (LoRA, docs/adapters.md): `Conditioner.adapter_for` is the one place that
  names the adapter a voice speaks a locale with (none for the locale's natives and the
  adapter's own teachers);
  `Conditioning.adapter` carries it to the runtime (`None`: the base model). The engine passes
  the `AdapterSet` it loaded at start (`engine/adapters/*.npz`).
- **One decision for the accent knob** (`Conditioner.condition`): where the locale has an adapter,
  the voice keeps its own style row and `accent_strength` becomes the planner's guidance strength
  w (`Conditioning.guidance`: 0 = the locale's native-average prosody, 1 = the voice's own; the
  adapter itself carries the accent); where it has none, `accent_strength` moves the style along
  the accent direction as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from .guidance import Guidance
from .locales import Locale, get_locale
from .voices import Voice

TIMBRE = slice(0, 128)
"""Style columns the renderer reads (the decoder's conditioning)."""
PROSODY = slice(128, 256)
"""Style columns the planner reads (the duration, pitch and energy predictor's conditioning)."""

AccentFunction = Callable[[Voice, str, "float | None"], Voice]
"""accented(voice, locale tag, accent strength or None) -> the voice moved toward the locale's accent."""
UnconditionalFunction = Callable[[str, int], "np.ndarray | None"]
"""native_prosody(locale tag, n_ids) -> float32 (128,): the locale's native-average prosody half."""

ADAPTER_DEFAULT_STRENGTH = 1.0
"""Guidance strength w when a request names no accent strength and the locale has an adapter: 1,
the adapter with the voice's own prosody and no unconditional branch (one planner run). Chosen
from the measured curve (docs/accent.md, "Three more tries"): with the shipped fr-FR adapter,
w = 0.75 was no better than w = 1 on three held-out voices (af_heart 0.99 / 12% / 0.808 against
0.98 / 10% / 0.815, jm_kumo 0.97 / 20% / 0.827 against 0.98 / 15% / 0.878) and costs a second
planner run."""


@dataclass(frozen=True)
class Conditioning:
    """What one model call is conditioned on; the same value for its planner and its renderer."""

    style: np.ndarray = field(repr=False)
    """float32 (1, 256): TIMBRE columns for the renderer, PROSODY columns for the planner."""
    adapter: str | None = None
    """The locale adapter to run with; None: the base model."""
    guidance: Guidance | None = None
    """The planner's classifier-free guidance (unconditional prosody and strength), or None: the
    conditional planner alone."""
    digest: str = field(init=False)
    """16 hex digits naming exactly this conditioning (the style's bytes, the adapter, the
    guidance): the identity caches key by. With no adapter it is the hash calibration files were
    always named by."""

    def __post_init__(self):
        style = np.ascontiguousarray(self.style, dtype=np.float32).reshape(1, -1)  # (1, 256)
        object.__setattr__(self, "style", style)
        hashed = hashlib.sha256(style.tobytes())
        if self.adapter is not None:
            hashed.update(b"\0adapter:" + self.adapter.encode())
        if self.guidance is not None:
            hashed.update(b"\0guidance:" + repr(self.guidance.strength).encode() + self.guidance.unconditional.tobytes())
        object.__setattr__(self, "digest", hashed.hexdigest()[:16])

    def planner_options(self) -> dict:
        """Keyword arguments of `KokoroRuntime.plan` beyond the style ({} for the base model)."""
        options = {}
        if self.adapter is not None:
            options["adapter"] = self.adapter
        if self.guidance is not None:
            options["guidance"] = self.guidance
        return options

    def renderer_options(self) -> dict:
        """Keyword arguments of `KokoroRuntime.render_planned` / `render_frames` beyond the style."""
        return {"adapter": self.adapter} if self.adapter is not None else {}

    @property
    def timbre(self) -> np.ndarray:
        return self.style[:, TIMBRE]  # (1, 128)

    @property
    def prosody(self) -> np.ndarray:
        return self.style[:, PROSODY]  # (1, 128)


def native_prosody(library) -> UnconditionalFunction:
    """native_prosody(locale tag, n_ids) from a `VoiceLibrary`: the mean prosody half of the packs
    native to the locale (or to the locale it borrows its accent from), of every native pack where
    there is none (de-DE), at the row for `n_ids` ids."""
    from .locales import LOCALES

    def mean(tag: str, n_ids: int) -> np.ndarray | None:
        loc = get_locale(tag)
        infos = library.native(loc.accent_from or loc.tag) or [i for other in LOCALES for i in library.native(other.tag)]
        rows = [library.get(info.id).style(n_ids)[:, PROSODY] for info in infos]
        return np.mean(rows, axis=0, dtype=np.float64).astype(np.float32).reshape(-1) if rows else None

    return mean


def pack_row(pack: np.ndarray, row: int) -> Conditioning:
    """A voice pack's row as it is, with no accent and no adapter: what `Conditioner()` gives a
    voice with this pack for `row + 1` phoneme ids. For stores and tools that hold a bare pack
    (Kokoro's own (510, 1, 256) layout too)."""
    pack = np.asarray(pack, dtype=np.float32).reshape(len(pack), -1)  # (rows, 256)
    return Conditioning(pack[row:row + 1])


class Conditioner:
    """Turns (voice, locale, length, accent strength) into the model's `Conditioning`."""

    def __init__(self, accent: AccentFunction | None = None, adapters: Iterable[str] = (),
                 native_prosody: UnconditionalFunction | None = None):
        self.accent = accent
        """The accent transform of a voice's pack; None: none (the voice's own timbre)."""
        self._adapter_set = adapters if hasattr(adapters, "null_style") else None
        tags = adapters.locales if self._adapter_set is not None else adapters
        self.adapters = frozenset(get_locale(tag).tag for tag in tags)  # an unknown tag: LocaleError
        """Locale tags that have an adapter loaded (an `AdapterSet`, or bare tags in tests)."""
        self.teachers = {tag: self._adapter_set.teachers(tag) for tag in self.adapters} \
            if self._adapter_set is not None else {}
        """Per adapted locale, the voices its adapter was taught by (none for bare tags)."""
        self.native_prosody = native_prosody
        """The unconditional prosody of a locale whose adapter has no learned `null_style`."""

    def unconditional(self, tag: str, n_ids: int) -> np.ndarray | None:
        """(1, 128) prosody of the guidance's unconditional branch: the adapter's learned null style,
        else the locale's native-average prosody; None if neither is known."""
        null = self._adapter_set.null_style(tag) if self._adapter_set is not None else None
        if null is None and self.native_prosody is not None:
            null = self.native_prosody(tag, n_ids)
        return None if null is None else np.asarray(null, dtype=np.float32).reshape(1, -1)

    def adapter_for(self, voice: Voice, locale: Locale | None) -> str | None:
        """The adapter `voice` speaks `locale` with: the locale's own when one is loaded, else the
        base model. A voice native to the locale, or one the adapter was taught by (its training
        metadata's teachers: ef_dora for German, which has no native voice), speaks through the
        base model: the adapter teaches what those voices already do, and their own speech is what
        every other voice's accent and identity are measured against."""
        if locale is None or locale.tag not in self.adapters or voice.info.is_native(locale.tag) \
                or voice.info.id in self.teachers.get(locale.tag, ()):
            return None
        return locale.tag

    def voice_for(self, voice: Voice, locale: Locale | None, accent_strength: float | None = None) -> Voice:
        """The voice as it speaks `locale`: moved toward the locale's accent (its `key` names the
        moved pack, which is what calibrations are wanted and made for). `locale=None`: as it is."""
        if self.accent is None or locale is None or self.adapter_for(voice, locale) is not None:
            return voice  # with an adapter the accent is the adapter's, not a moved pack
        return self.accent(voice, locale.tag, accent_strength)

    def condition(self, voice: Voice, locale: Locale | None, n_ids: int,
                  accent_strength: float | None = None) -> Conditioning:
        """The conditioning of a segment of `n_ids` phoneme ids (pads excluded) in `locale`.

        A calibration grid row `row` is the conditioning for `row + 1` ids. `locale=None` is the
        voice on its own: no accent, no adapter. Where the locale has an adapter, the voice keeps
        its own row and `accent_strength` (None: ADAPTER_DEFAULT_STRENGTH) is the guidance
        strength; elsewhere it moves the style (the accent function)."""
        adapter = self.adapter_for(voice, locale)
        if adapter is None:
            style = self.voice_for(voice, locale, accent_strength).style(n_ids)  # (1, 256)
            return Conditioning(style)
        style = voice.style(n_ids)
        w = ADAPTER_DEFAULT_STRENGTH if accent_strength is None else float(accent_strength)
        null = None if w == 1.0 else self.unconditional(adapter, n_ids)
        return Conditioning(style, adapter, None if null is None else Guidance(null, w))
