"""The user's voice store: cloned voices on disk, where the engine's VoiceLibrary finds them.

One folder per user (`engine.voices.default_voice_dir()`: the platform's user data folder +
`voices`, or `ECHOIC_VOICE_DIR`), two files per voice:

    NAME.npz    array `pack`: float32 (510, 256), a full Kokoro voice pack (timbre and prosody)
    NAME.json   `VoiceMetadata`: name, source locale, date, reference length, fit losses,
                similarity reached, the pack it started from, gender
    NAME.reference.flac (or .wav)   the reference recording, only when kept on purpose

Each file is written atomically (a temporary file renamed over it), the metadata before the pack,
and a removal takes the pack first: a reader (the daemon rescans this folder on every request)
sees a voice whole or not at all. Resumable fit checkpoints live beside the voices, in
`.checkpoints/` (a name the library never loads).

Names are file names and protocol voice ids at once: ASCII letters, digits, `_` and `-`, at most
64, starting with a letter or digit; names equal to a bundled voice (any case) or reserved by
Windows are refused, and so is a second voice differing only in case (the NVDA side runs on
case-insensitive file systems).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..atomic_write import write_atomically
from ..errors import VoiceError
from ..locales import get_locale
from ..voices import PACK_ROWS, STYLE_DIM, bundled_voice_ids, default_voice_dir

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
CHECKPOINTS = ".checkpoints"
REFERENCE_SUFFIXES = (".reference.flac", ".reference.wav")


@dataclass(frozen=True)
class VoiceMetadata:
    """What `NAME.json` holds (and `echoic voice show` prints)."""

    name: str
    source_locale: str
    """The locale of the recording: the voice's native locale (other locales get their accent)."""
    created: str
    """When the voice was saved, ISO 8601 in UTC."""
    reference_seconds: float
    """Seconds of speech in the reference recording (voice activity, not the file's length)."""
    losses: dict[str, float] = field(default_factory=dict)
    """The fit's final losses by name."""
    similarity: float | None = None
    """Resemblyzer cosine of the clone's speech with the reference, as the fit measured it."""
    nearest: str | None = None
    """The bundled pack the fit started from."""
    gender: str = "unknown"
    steps: int | None = None
    """Optimisation steps the fit ran."""
    reference: str | None = None
    """File name of the kept reference recording in the store, or None (not kept: the default)."""

    def __post_init__(self):
        check_name(self.name)
        object.__setattr__(self, "source_locale", get_locale(self.source_locale).tag)
        if not (self.reference_seconds >= 0):
            raise VoiceError(f"reference_seconds must be >= 0, got {self.reference_seconds!r}")
        if self.gender not in ("female", "male", "unknown"):
            raise VoiceError(f"gender must be female, male or unknown, got {self.gender!r}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "VoiceMetadata":
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


def check_name(name: str) -> str:
    """`name` if it can name a user voice (not whether it is taken); else VoiceError saying why."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise VoiceError(f"voice name {name!r} is not allowed: use 1-64 ASCII letters, digits, '_' or '-', "
                         "starting with a letter or digit (no spaces, dots or slashes)")
    if name.lower() in _WINDOWS_RESERVED:
        raise VoiceError(f"voice name {name!r} is reserved on Windows; choose another")
    return name


def now_utc() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


class VoiceStore:
    """The voices in one folder (default: the user's voice folder, as the engine reads it)."""

    def __init__(self, directory: Path | None = None):
        self.directory = Path(directory) if directory is not None else default_voice_dir()

    # --- paths ---------------------------------------------------------------------------------
    def pack_path(self, name: str) -> Path:
        return self.directory / f"{check_name(name)}.npz"

    def metadata_path(self, name: str) -> Path:
        return self.directory / f"{check_name(name)}.json"

    def checkpoint_path(self, name: str) -> Path:
        """Where an interrupted `echoic voice create NAME` keeps its fit to resume from."""
        return self.directory / CHECKPOINTS / f"{check_name(name)}.pt"

    # --- reading -------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Every stored voice's name, sorted (a pack with or without metadata)."""
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.npz") if NAME_PATTERN.fullmatch(p.stem))

    def exists(self, name: str) -> bool:
        return self.pack_path(name).is_file()

    def _unknown(self, name: str) -> VoiceError:
        have = self.names()
        return VoiceError(f"no voice named {name!r} in {self.directory}; "
                          + (f"your voices: {', '.join(have)}" if have else "you have no voices yet (echoic voice create)"))

    def show(self, name: str) -> VoiceMetadata:
        """A voice's metadata; VoiceError for an unknown name or an unreadable file."""
        if not self.exists(name):
            raise self._unknown(name)
        path = self.metadata_path(name)
        try:
            return VoiceMetadata.from_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise VoiceError(f"voice {name!r} has no metadata file ({path})") from None
        except (OSError, ValueError, TypeError) as exc:
            raise VoiceError(f"voice {name!r}: metadata {path} cannot be read: {exc}") from exc

    def list(self) -> list[VoiceMetadata | VoiceError]:
        """Every stored voice's metadata, in name order; a voice whose metadata cannot be read
        appears as the VoiceError saying why (a listing never fails on one bad file)."""
        items: list[VoiceMetadata | VoiceError] = []
        for name in self.names():
            try:
                items.append(self.show(name))
            except VoiceError as exc:
                items.append(exc)
        return items

    def load_pack(self, name: str) -> np.ndarray:
        if not self.exists(name):
            raise self._unknown(name)
        from ..voices import load_user_voice

        return load_user_voice(self.pack_path(name)).pack

    # --- writing -------------------------------------------------------------------------------
    def check_new(self, name: str, overwrite: bool = False) -> None:
        """Raise VoiceError unless `name` may be saved: valid, not a bundled voice, and (unless
        `overwrite`) not taken, in any case. `echoic voice create` asks before fitting."""
        check_name(name)
        bundled = {b.lower(): b for b in bundled_voice_ids()}
        if name.lower() in bundled:
            raise VoiceError(f"{name!r} is the name of a bundled voice ({bundled[name.lower()]}); choose another")
        for other in self.names():
            if other.lower() == name.lower() and (other != name or not overwrite):
                raise VoiceError(f"a voice named {other!r} already exists; remove it first "
                                 f"(echoic voice remove {other}) or choose another name")

    def save(self, pack: np.ndarray, metadata: VoiceMetadata, *, overwrite: bool = False,
             reference: tuple[np.ndarray, int] | None = None) -> Path:
        """Write the voice (and the reference recording, float32 mono at its rate, only if given);
        returns the pack's path. The pack must be finite float (510, 256)."""
        name = metadata.name
        self.check_new(name, overwrite)
        pack = np.asarray(pack)
        if pack.ndim == 3 and pack.shape[1] == 1:  # Kokoro's (510, 1, 256)
            pack = pack[:, 0, :]
        if pack.shape != (PACK_ROWS, STYLE_DIM) or not np.issubdtype(pack.dtype, np.floating):
            raise VoiceError(f"voice {name!r}: a pack must be float ({PACK_ROWS}, {STYLE_DIM}), got {pack.dtype} {pack.shape}")
        if not np.all(np.isfinite(pack)):
            raise VoiceError(f"voice {name!r}: the pack holds NaN or inf; nothing was saved")
        if reference is not None:
            metadata = replace(metadata, reference=self._save_reference(name, *reference))
        buffer = io.BytesIO()
        np.savez(buffer, pack=pack.astype(np.float32))
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomically(self.metadata_path(name), metadata.to_json().encode("utf-8"))
        write_atomically(self.pack_path(name), buffer.getvalue())
        return self.pack_path(name)

    def _save_reference(self, name: str, audio: np.ndarray, sample_rate: int) -> str:
        from .recording import encode_flac

        data, suffix = encode_flac(audio, sample_rate)
        path = self.directory / f"{name}{suffix}"
        write_atomically(path, data)
        return path.name

    def remove(self, name: str) -> list[Path]:
        """Delete a voice (pack first, so no reader sees a pack without its metadata), its kept
        reference and its checkpoint; returns the files removed. VoiceError for an unknown name."""
        if not self.exists(name):
            raise self._unknown(name)
        paths = [self.pack_path(name), self.metadata_path(name), self.checkpoint_path(name),
                 *(self.directory / f"{name}{suffix}" for suffix in REFERENCE_SUFFIXES)]
        removed = []
        for path in paths:
            try:
                path.unlink()
                removed.append(path)
            except FileNotFoundError:
                pass
        return removed

