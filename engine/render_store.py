"""The render cache on disk: short renders a screen reader repeats, kept across restarts.

The in-memory render cache (`rendering.RenderCache`) makes a repeated letter or word a dictionary
look-up; this store behind it keeps those renders on disk, so the first key echoes after a login
or a daemon restart do not each cost a model call (issue #11). One `.npz` a render:

- named by a hash of the model's identity (with the locale adapters' weights) and the cache key
  (phoneme ids; the conditioning digest: voice pack row, accent and adapter; the speed: rate,
  pitch), so a changed model, adapter, voice or setting never reads an old render; the key is
  stored inside too and checked on reading;
- written through a temporary file and renamed (no fsync: a render lost to a power cut is a miss,
  never a half file read as audio); a file that does not read back as a render of its key is
  removed and counts as a miss;
- bounded in bytes: past `max_bytes` the least recently used files go (a hit touches its file, so
  the order survives restarts).

Several processes (the daemon, `echoic synth`) may share the folder: each keeps its own index,
and a file another one removed is a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from . import model_store
from .runtime import Render

log = logging.getLogger(__name__)

STORE_VERSION = 1
"""Part of every file's hash: bump it when the file layout or what a render holds changes."""


def render_store_dir(configured: Path | None, model: model_store.ModelStoreConfig) -> Path:
    """`configured`, else $ECHOIC_RENDER_CACHE_DIR, else "renders" in the model cache."""
    if configured is not None:
        return Path(configured)
    return Path(os.environ.get("ECHOIC_RENDER_CACHE_DIR") or Path(model.cache_dir) / "renders")


def render_store_model_id(adapters=()) -> str:
    """The model's identity for file names: the int8 model's hash and, when locale adapters are
    loaded, a hash of each adapter's weights (a retrained adapter of the same locale is another
    model)."""
    identity = model_store.expected_sha256()[:16]
    if not len(adapters):
        return identity
    digest = hashlib.sha256()
    for tag in sorted(adapters):
        digest.update(tag.encode() + b"\0")
        for path, pair in sorted(adapters.get(tag).weights.items()):
            digest.update(path.encode())
            for array in pair:
                digest.update(np.ascontiguousarray(array).tobytes())
    return f"{identity}-{digest.hexdigest()[:16]}"


class RenderStore:
    def __init__(self, directory: Path, max_bytes: int, model_id: str | None = None):
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.model_id = model_id if model_id is not None else model_store.expected_sha256()[:16]
        self.hits = 0
        self.misses = 0
        self._index: OrderedDict[str, int] | None = None
        """File name -> bytes, least recently used first; read from the folder on first use."""
        self._bytes = 0
        self._lock = threading.Lock()

    def _name(self, key: tuple) -> tuple[str, str]:
        text = f"v{STORE_VERSION}|{self.model_id}|{key!r}"
        return hashlib.sha256(text.encode()).hexdigest()[:32] + ".npz", text

    def _scan(self) -> OrderedDict[str, int]:
        if self._index is None:
            entries = []
            try:
                with os.scandir(self.directory) as it:
                    for entry in it:
                        if entry.name.endswith(".npz") and entry.is_file():
                            stat = entry.stat()
                            entries.append((stat.st_mtime, entry.name, stat.st_size))
            except OSError:  # no folder yet, or unreadable: start empty
                pass
            self._index = OrderedDict((name, size) for _, name, size in sorted(entries))
            self._bytes = sum(self._index.values())
        return self._index

    def get(self, key: tuple) -> Render | None:
        name, text = self._name(key)
        path = self.directory / name
        # No folder scan here, on the way to first audio: a missing file is a miss (the index,
        # for the bound, is read by the first `put`, after the audio went out).
        try:
            with np.load(path) as data:
                stored = str(data["key"])
                audio, durations = data["audio"], data["durations"]
            if stored != text or audio.dtype != np.float32 or audio.ndim != 1 or durations.dtype != np.int64 \
                    or durations.ndim != 1 or not np.isfinite(audio).all():
                raise ValueError("not a render of this key")
            os.utime(path)
        except Exception as exc:  # gone, truncated, foreign: np.load and zipfile raise many kinds
            if not isinstance(exc, OSError):  # OSError: no such file, or no such folder
                log.warning("render cache file %s is unreadable (%s): removed", path, exc)
                with contextlib.suppress(OSError):
                    path.unlink()
            with self._lock:
                if self._index is not None:
                    self._bytes -= self._index.pop(name, 0)
                self.misses += 1
            return None
        with self._lock:
            if self._index is not None and name in self._index:
                self._index.move_to_end(name)
            self.hits += 1
        return Render(audio, durations)

    def put(self, key: tuple, render: Render) -> None:
        """Write one render (a render that passed every check), then evict past the bound. An
        error writing (a full disk, a read-only folder) is logged once per call and loses nothing
        but the cached copy."""
        name, text = self._name(key)
        buffer = io.BytesIO()
        np.savez(buffer, key=np.array(text), audio=np.asarray(render.audio, dtype=np.float32),
                 durations=np.asarray(render.durations, dtype=np.int64))
        data = buffer.getvalue()
        if len(data) > self.max_bytes:
            return
        with self._lock:
            index = self._scan()
            if name in index:
                return
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(prefix=name + ".", suffix=".tmp", dir=self.directory)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, self.directory / name)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            log.warning("render cache: cannot write %s (%s); the render is still spoken", self.directory / name, exc)
            return
        with self._lock:
            self._index[name] = len(data)
            self._bytes += len(data)
            doomed = []
            while self._bytes > self.max_bytes and self._index:
                old, size = self._index.popitem(last=False)
                self._bytes -= size
                doomed.append(old)
        for old in doomed:
            (self.directory / old).unlink(missing_ok=True)

    @property
    def bytes(self) -> int:
        with self._lock:
            self._scan()
            return self._bytes
