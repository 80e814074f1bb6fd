"""Locale adapters at run time (no torch): format-1 files, validated and loaded once.

`engine/adapters/<locale tag>.npz` files (this package's data; written by `engine/train/lora.py`
`save_adapter`) are LoRA weights for the Kokoro graphs, one file per locale. `load_adapters()`
reads every file of a folder at start; `AdapterSet` holds them and builds the graph feeds of one
adapter (`engine/adapter_graphs.py` adds the inputs to the graphs). Loading activates nothing: an
adapter is used only for a call that names it (`Conditioning.adapter`). Layout and choices:
docs/adapters.md.

A file is refused with an `AdapterError` naming the file and the key when a key is unknown, a shape
is wrong (against the other arrays and against the graph's weights), a value is not finite, its
locale is not a known one or not its file name, or it was trained on another base model.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ModelError

FORMAT = 1
ADAPTER_DIR = Path(__file__).resolve().parent
"""Where the shipped adapters live (package data)."""
NULL_STYLE = "null_style"
META = "__meta__"
STYLE_HALF = 128
SUFFIX_A, SUFFIX_B = ".lora_A", ".lora_B"
META_KEYS = {"format", "locale", "rank", "alpha", "targets", "base_model_sha256", "training"}


def _default_targets() -> tuple[str, ...]:
    decoder = [f"decoder.encode.norm{n}.fc" for n in (1, 2)]
    decoder += [f"decoder.decode.{b}.norm{n}.fc" for b in range(4) for n in (1, 2)]
    decoder += [f"decoder.generator.resblocks.{b}.adain{n}.{j}.fc" for b in range(6) for n in (1, 2) for j in range(3)]
    decoder += [f"decoder.generator.noise_res.{b}.adain{n}.{j}.fc" for b in range(2) for n in (1, 2) for j in range(3)]
    predictor = [f"predictor.text_encoder.lstms.{i}.fc" for i in (1, 3, 5)]
    predictor += [f"predictor.{p}.{b}.norm{n}.fc" for p in ("F0", "N") for b in range(3) for n in (1, 2)]
    predictor += ["predictor.duration_proj.linear_layer"]
    text = ["bert_encoder"] + [f"text_encoder.cnn.{i}.0" for i in range(3)]
    return tuple(decoder + predictor + text)


DEFAULT_TARGETS: tuple[str, ...] = _default_targets()
"""Full module paths of `KModel` (peft `target_modules`; each also names its ONNX node). Why
these: engine/train/lora.py and docs/adapters.md."""

class AdapterError(ModelError, ValueError):
    """An adapter file that cannot be used (message names the file and the key)."""


def validate_adapter_arrays(arrays: dict[str, np.ndarray], meta: dict, where: str) -> None:
    """Check a format-1 adapter's arrays and meta against each other (shapes against the graph
    are checked when the adapter is bound to it, `AdapterSet.bind`). Raises AdapterError."""
    from ..locales import get_locale

    def fail(key, why):
        raise AdapterError(f"adapter {where}: {key}: {why}")

    if not isinstance(meta, dict):
        fail(META, "not a JSON object")
    if meta.get("format") != FORMAT:
        fail(META, f"format {meta.get('format')!r}, this runtime reads format {FORMAT}")
    unknown_meta = set(meta) - META_KEYS
    if unknown_meta:
        fail(META, f"unknown fields {sorted(unknown_meta)}")
    try:
        get_locale(str(meta.get("locale")))
    except Exception:
        fail(META, f"unknown locale {meta.get('locale')!r}")
    rank = meta.get("rank")
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
        fail(META, f"rank {rank!r} is not a positive integer")
    if not isinstance(meta.get("alpha"), (int, float)):
        fail(META, f"alpha {meta.get('alpha')!r} is not a number")
    targets = meta.get("targets")
    if not isinstance(targets, list) or not targets or not all(isinstance(t, str) and t for t in targets):
        fail(META, "targets must be a non-empty list of module paths")
    if len(set(targets)) != len(targets):
        fail(META, "targets repeat")
    if not isinstance(meta.get("base_model_sha256"), str):
        fail(META, "base_model_sha256 missing")
    if not isinstance(meta.get("training", {}), dict):
        fail(META, "training must be a JSON object")
    data = meta.get("training", {}).get("data", {})
    if not isinstance(data, dict):
        fail(META, "training.data must be a JSON object")
    teachers = data.get("teachers", [])
    if not isinstance(teachers, list) or not all(isinstance(v, str) for v in teachers):
        fail(META, f"training.data.teachers must be a list of voice ids, not {teachers!r:.60}")
    expected = {t + s for t in targets for s in (SUFFIX_A, SUFFIX_B)}
    for key in arrays:
        if key == NULL_STYLE:
            continue
        if key not in expected:
            fail(key, "unknown key (not a target's lora_A / lora_B, nor null_style)")
    for key in sorted(expected - set(arrays)):
        fail(key, "missing")
    for key, value in arrays.items():
        if value.dtype != np.float32:
            fail(key, f"dtype {value.dtype}, expected float32")
        if not np.isfinite(value).all():
            fail(key, "holds NaN or infinite values")
    if NULL_STYLE in arrays and arrays[NULL_STYLE].shape != (STYLE_HALF,):
        fail(NULL_STYLE, f"shape {arrays[NULL_STYLE].shape}, expected ({STYLE_HALF},)")
    for t in targets:
        a, b = arrays[t + SUFFIX_A], arrays[t + SUFFIX_B]
        if a.ndim == 2 and b.ndim == 2:
            ok = a.shape[0] == rank and b.shape[1] == rank
        elif a.ndim == 3 and b.ndim == 3:
            ok = a.shape[0] == rank and b.shape[1] == rank and b.shape[2] == 1
        else:
            ok = False
        if not ok:
            fail(t + SUFFIX_A, f"A {a.shape} and B {b.shape} do not make a rank-{rank} LoRA "
                               "((r, in) and (out, r), or (r, in, k) and (out, r, 1))")


@dataclass(frozen=True)
class Adapter:
    """One locale's adapter, as read from its file."""

    path: Path
    locale: str
    rank: int
    alpha: float
    targets: tuple[str, ...]
    weights: dict[str, tuple[np.ndarray, np.ndarray]] = field(repr=False)
    """module path -> (A, B), torch layout, B with the scaling folded in."""
    null_style: np.ndarray | None = field(repr=False)
    """float32 (128,): the learned unconditional prosody half, or None."""
    meta: dict = field(repr=False)
    teachers: frozenset[str] = frozenset()
    """The voices whose speech the adapter was trained toward (`training.data.teachers` of its
    metadata, written by `echoic train adapter`); empty for an adapter that names none."""

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes + b.nbytes for a, b in self.weights.values())


def read_adapter(path, check_base: bool = True) -> Adapter:
    """Read and validate one format-1 adapter file (AdapterError if it cannot be used)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k]) for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise AdapterError(f"adapter {path}: not a readable .npz file ({exc})") from exc
    if META not in arrays:
        raise AdapterError(f"adapter {path}: {META}: missing")
    try:
        meta = json.loads(str(arrays.pop(META)[()]))
    except (ValueError, TypeError) as exc:
        raise AdapterError(f"adapter {path}: {META}: not JSON ({exc})") from exc
    validate_adapter_arrays(arrays, meta, str(path))
    if check_base:
        from .. import model_store

        if meta["base_model_sha256"] != model_store.expected_sha256():
            raise AdapterError(f"adapter {path}: base_model_sha256: trained on another model "
                               f"({meta['base_model_sha256'][:12]}..., this one is {model_store.expected_sha256()[:12]}...)")
    from ..locales import get_locale

    locale = get_locale(meta["locale"]).tag
    targets = tuple(meta["targets"])
    weights = {t: (np.ascontiguousarray(arrays[t + SUFFIX_A]), np.ascontiguousarray(arrays[t + SUFFIX_B]))
               for t in targets}
    teachers = frozenset(meta.get("training", {}).get("data", {}).get("teachers", []))
    return Adapter(path, locale, int(meta["rank"]), float(meta["alpha"]), targets, weights,
                   arrays.get(NULL_STYLE), meta, teachers)


class AdapterSet:
    """Every loaded adapter, by locale tag. Holds weights only; nothing is active until a call
    names an adapter."""

    def __init__(self, adapters=()):
        self._adapters: dict[str, Adapter] = {}
        for adapter in adapters:
            if adapter.locale in self._adapters:
                raise AdapterError(f"adapter {adapter.path}: locale {adapter.locale} already loaded from "
                                   f"{self._adapters[adapter.locale].path}")
            self._adapters[adapter.locale] = adapter
        self._feeds: dict[tuple[str, str], dict[str, np.ndarray]] = {}

    @property
    def locales(self) -> tuple[str, ...]:
        return tuple(sorted(self._adapters))

    def __iter__(self):
        return iter(self.locales)

    def __len__(self):
        return len(self._adapters)

    def __contains__(self, tag) -> bool:
        return tag in self._adapters

    def get(self, tag: str) -> Adapter:
        try:
            return self._adapters[tag]
        except KeyError:
            raise AdapterError(f"no adapter loaded for locale {tag!r} (loaded: {', '.join(self.locales) or 'none'})") from None

    def targets(self) -> tuple[str, ...]:
        """Every module any loaded adapter reaches, sorted (what the adapted graphs patch)."""
        return tuple(sorted({t for a in self._adapters.values() for t in a.targets}))

    def null_style(self, tag: str) -> np.ndarray | None:
        return self.get(tag).null_style

    def teachers(self, tag: str) -> frozenset[str]:
        return self.get(tag).teachers

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._adapters.values())


def load_adapters(folder=None) -> AdapterSet:
    """Every `<locale>.npz` of `folder` (default: the shipped ones), validated; the file's name
    must be its locale tag. An empty or missing folder gives an empty set (the base model)."""
    folder = Path(folder) if folder is not None else ADAPTER_DIR
    adapters = []
    for path in sorted(folder.glob("*.npz")) if folder.is_dir() else ():
        adapter = read_adapter(path)
        if adapter.locale != path.stem:
            raise AdapterError(f"adapter {path}: {META}: locale {adapter.locale} does not match the file name")
        adapters.append(adapter)
    return AdapterSet(adapters)
