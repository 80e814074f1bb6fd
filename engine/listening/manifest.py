"""The test folder's manifest: what each stimulus is, as a value checked on the way in.

    DIR/manifest.json     this file (written once by `create`)
    DIR/audio/<hex>.wav   the stimuli; random names, so a file name never reveals its system
    DIR/results/<listener>.json   one file per listener (see results.py)

Every problem with a folder or a manifest is a ConfigError naming the file and what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import ConfigError

FORMAT = "echoic-listening-test"
VERSION = 1
MANIFEST = "manifest.json"
ROLES = ("test", "reference", "anchor")
"""A stimulus is a system under test, the hidden reference, or the low anchor."""
_FILE = re.compile(r"^audio/[0-9a-f]{16,64}\.wav$")


@dataclass(frozen=True)
class Stimulus:
    file: str
    """Path relative to the test folder, `audio/<random hex>.wav`."""
    system: str
    """What made it: a voice id (`jm_kumo`), `voice@strength`, `system` (the system voice), or
    for the anchor `anchor-3.5kHz`."""
    role: str
    """"test", "reference" (the hidden reference) or "anchor"."""
    sha256: str
    """Of the WAV file's bytes, so a swapped or damaged stimulus is noticed."""

    def __post_init__(self):
        if not isinstance(self.file, str) or not _FILE.match(self.file):
            raise ConfigError(f"stimulus file {self.file!r} is not audio/<hex>.wav")
        if self.role not in ROLES:
            raise ConfigError(f"stimulus role {self.role!r} is not one of {', '.join(ROLES)}")
        if not isinstance(self.system, str) or not self.system:
            raise ConfigError(f"stimulus {self.file}: system must be a non-empty string, got {self.system!r}")
        if not isinstance(self.sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", self.sha256):
            raise ConfigError(f"stimulus {self.file}: sha256 {self.sha256!r} is not 64 hex digits")


@dataclass(frozen=True)
class Trial:
    id: str
    locale: str
    sentence: str
    reference: str
    """The open reference the listener compares against (its own file, same audio as the hidden one)."""
    reference_system: str
    stimuli: tuple[Stimulus, ...]

    def __post_init__(self):
        if not isinstance(self.id, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", self.id):
            raise ConfigError(f"trial id {self.id!r} must be 1-40 letters, digits, '-' or '_'")
        if not _FILE.match(str(self.reference)):
            raise ConfigError(f"trial {self.id}: reference file {self.reference!r} is not audio/<hex>.wav")
        roles = [s.role for s in self.stimuli]
        if roles.count("reference") != 1 or roles.count("anchor") != 1 or roles.count("test") < 1:
            raise ConfigError(f"trial {self.id}: needs one hidden reference, one anchor and at least one "
                              f"system under test, got roles {roles}")
        if len({s.file for s in self.stimuli} | {self.reference}) != len(self.stimuli) + 1:
            raise ConfigError(f"trial {self.id}: two stimuli share a file")

    def stimulus(self, file: str) -> Stimulus:
        for s in self.stimuli:
            if s.file == file:
                return s
        raise ConfigError(f"trial {self.id} has no stimulus {file!r}")


@dataclass(frozen=True)
class Manifest:
    set: str
    salt: str
    """Random hex: with a listener's name it seeds that listener's order of trials and samples."""
    sample_rate: int
    trials: tuple[Trial, ...]
    created: str = ""

    def __post_init__(self):
        if not self.trials:
            raise ConfigError("the manifest has no trials")
        ids = [t.id for t in self.trials]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"the manifest repeats trial ids: {ids}")
        files = [s.file for t in self.trials for s in t.stimuli] + [t.reference for t in self.trials]
        if len(set(files)) != len(files):
            raise ConfigError("the manifest uses one audio file for two stimuli")
        if not isinstance(self.salt, str) or not re.fullmatch(r"[0-9a-f]{16,64}", self.salt):
            raise ConfigError(f"manifest salt {self.salt!r} is not hex")

    def trial(self, trial_id: str) -> Trial:
        for t in self.trials:
            if t.id == trial_id:
                return t
        raise ConfigError(f"no trial {trial_id!r} in this test")

    def to_json(self) -> str:
        body = {"format": FORMAT, "version": VERSION, **asdict(self)}
        return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def _trial(raw: dict) -> Trial:
    stimuli = tuple(Stimulus(**{k: s[k] for k in ("file", "system", "role", "sha256")}) for s in raw["stimuli"])
    return Trial(id=raw["id"], locale=raw["locale"], sentence=raw["sentence"], reference=raw["reference"],
                 reference_system=raw["reference_system"], stimuli=stimuli)


def load_manifest(folder: Path, check_audio: bool = True) -> Manifest:
    """Read and check DIR/manifest.json (and, with `check_audio`, that every WAV is there unchanged)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder; make a test first: echoic listen-test create {folder} --set accent")
    path = folder / MANIFEST
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{folder} has no {MANIFEST}; is it a listening-test folder made by `echoic listen-test create`?") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} cannot be read as JSON ({exc}); the folder's results are untouched") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ConfigError(f"{path} is not a listening-test manifest (format {raw.get('format') if isinstance(raw, dict) else None!r})")
    if raw.get("version") != VERSION:
        raise ConfigError(f"{path} has version {raw.get('version')!r}; this Echoic reads version {VERSION}")
    try:
        manifest = Manifest(set=raw["set"], salt=raw["salt"], sample_rate=int(raw["sample_rate"]),
                            trials=tuple(_trial(t) for t in raw["trials"]), created=str(raw.get("created", "")))
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise ConfigError(f"{path}: {exc}") from exc
        raise ConfigError(f"{path} is damaged: missing or wrong field ({type(exc).__name__}: {exc})") from exc
    if check_audio:
        for trial in manifest.trials:
            wanted = {s.file: s.sha256 for s in trial.stimuli}
            for file, digest in wanted.items():
                audio = folder / file
                if not audio.is_file():
                    raise ConfigError(f"{audio} is missing (trial {trial.id}); recreate the test")
                if hashlib.sha256(audio.read_bytes()).hexdigest() != digest:
                    raise ConfigError(f"{audio} was changed after the test was made (trial {trial.id}); recreate the test")
            hidden = next(s.sha256 for s in trial.stimuli if s.role == "reference")
            reference = folder / trial.reference
            if not reference.is_file() or hashlib.sha256(reference.read_bytes()).hexdigest() != hidden:
                raise ConfigError(f"{reference} is missing or differs from the hidden reference (trial {trial.id}); "
                                  "recreate the test")
    return manifest


def listener_order(manifest: Manifest, listener: str) -> list[tuple[Trial, list[Stimulus]]]:
    """This listener's order of trials, and of the samples within each: shuffled by a generator
    seeded with the test's salt and the listener's name, so each listener gets their own order,
    and the same order again when they come back."""
    seed = hashlib.sha256(f"{manifest.salt}:{listener}".encode("utf-8")).digest()
    rng = random.Random(seed)
    trials = list(manifest.trials)
    rng.shuffle(trials)
    return [(trial, rng.sample(trial.stimuli, len(trial.stimuli))) for trial in trials]
