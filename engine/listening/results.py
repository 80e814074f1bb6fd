"""One listener's ratings: a JSON file per listener, replaced whole and atomically on every save.

    DIR/results/<listener>.json = {"format", "listener", "ratings": {trial: {stimulus file: 0..100}},
                                   "saved": {trial: ISO time}, "checksum": sha256 of the rest}

A save reads the listener's file, checks it, adds one trial and writes the whole file through a
temporary file and os.replace, so a crash leaves the old file or the new one, and one listener's
file is never touched by another's save. A file whose checksum does not match (edited by hand,
damaged) is refused, never overwritten: the error names it, and the other files stay usable.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..atomic_write import write_atomically
from ..errors import ConfigError
from .manifest import Manifest

FORMAT = "echoic-listening-results"
RESULTS = "results"
LISTENER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


class ResultFileError(ConfigError):
    """A listener's result file exists but cannot be trusted (unreadable, edited, damaged); it is
    left as it is. (A ConfigError, so the CLI reports it like any bad input.)"""


def check_listener(name: object) -> str:
    if not isinstance(name, str) or not LISTENER.match(name):
        raise ConfigError(f"listener name {name!r} must be 1-40 letters, digits, '-' or '_', starting with a letter or digit")
    return name


def _checksum(body: dict) -> str:
    canonical = json.dumps({k: body[k] for k in ("format", "listener", "ratings", "saved")},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class ListenerResults:
    listener: str
    ratings: dict[str, dict[str, int]] = field(default_factory=dict)
    """trial id -> {stimulus file -> score 0..100}."""
    saved: dict[str, str] = field(default_factory=dict)
    """trial id -> when it was saved (UTC, ISO 8601)."""

    def to_json(self) -> str:
        body = {"format": FORMAT, "listener": self.listener, "ratings": self.ratings, "saved": self.saved}
        body["checksum"] = _checksum(body)
        return json.dumps(body, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def check_ratings(manifest: Manifest, trial_id: str, ratings: object) -> dict[str, int]:
    """A trial's ratings as sent by the page: every stimulus of the trial, each an integer 0..100."""
    trial = manifest.trial(trial_id)
    if not isinstance(ratings, dict):
        raise ConfigError(f"ratings of trial {trial_id} must be an object, got {type(ratings).__name__}")
    wanted = {s.file for s in trial.stimuli}
    if set(ratings) != wanted:
        raise ConfigError(f"ratings of trial {trial_id} must rate exactly its {len(wanted)} samples")
    for file, score in ratings.items():
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100:
            raise ConfigError(f"a rating must be an integer 0..100, got {score!r}")
    return {file: ratings[file] for file in sorted(ratings)}


def read_results(path: Path, manifest: Manifest) -> ListenerResults:
    """One listener's file, checked against its checksum and the manifest (ConfigError naming it if not)."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultFileError(f"result file {path} cannot be read ({exc}); it was left as it is") from exc
    if not isinstance(body, dict) or body.get("format") != FORMAT or "checksum" not in body:
        raise ResultFileError(f"result file {path} is not an Echoic listening-test result; it was left as it is")
    try:
        intact = body["checksum"] == _checksum(body)
    except (KeyError, TypeError) as exc:
        raise ResultFileError(f"result file {path} lacks a field ({exc}); it was left as it is") from exc
    if not intact:
        raise ResultFileError(f"result file {path} was changed by hand or damaged (its checksum does not match); "
                          "it was left as it is: move it away to go on")
    try:
        results = ListenerResults(check_listener(body["listener"]), dict(body["ratings"]), dict(body["saved"]))
    except (ConfigError, TypeError, ValueError) as exc:
        raise ResultFileError(f"result file {path} is damaged ({exc}); it was left as it is") from exc
    if path.stem != results.listener:
        raise ResultFileError(f"result file {path} holds listener {results.listener!r}, not {path.stem!r}")
    for trial_id, ratings in results.ratings.items():
        try:
            check_ratings(manifest, trial_id, ratings)
        except ConfigError as exc:
            raise ResultFileError(f"result file {path} does not fit this test's manifest: {exc}") from exc
    return results


class ResultStore:
    """The results folder of one test. Saves are serialised (one lock): the server is threaded."""

    def __init__(self, folder: Path, manifest: Manifest):
        self.folder = Path(folder) / RESULTS
        self.manifest = manifest
        self._lock = threading.Lock()

    def path(self, listener: str) -> Path:
        return self.folder / f"{check_listener(listener)}.json"

    def load(self, listener: str) -> ListenerResults:
        path = self.path(listener)
        if not path.exists():
            return ListenerResults(listener)
        return read_results(path, self.manifest)

    def save(self, listener: str, trial_id: str, ratings: object) -> ListenerResults:
        checked = check_ratings(self.manifest, trial_id, ratings)
        with self._lock:
            results = self.load(listener)
            results.ratings[trial_id] = checked
            results.saved[trial_id] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            write_atomically(self.path(listener), results.to_json().encode("utf-8"))
        return results

    def all(self) -> list[ListenerResults]:
        """Every listener's results; the first bad file raises (its message names it)."""
        if not self.folder.is_dir():
            return []
        return [read_results(path, self.manifest) for path in sorted(self.folder.glob("*.json"))]
