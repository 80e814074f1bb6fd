"""The model runtime: one onnxruntime session over the int8 Kokoro graph (no torch here).

`KokoroRuntime.render(ids, style, speed)` returns the audio and the per-token durations the model
followed, so the plan and the audio can never disagree about where each word is.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelError
from .model_store import (
    FRAME_SAMPLES, INPUT_SPEED, INPUT_STYLE, INPUT_TOKENS, MAX_TOKEN_IDS, OUTPUT_AUDIO, OUTPUT_DURATIONS,
)


@dataclass(frozen=True)
class RuntimeConfig:
    threads: int = 2
    """onnxruntime intra-op threads (the daemon's whole budget on a 2-core machine)."""
    use_gpu: bool = True
    """Use the CUDA provider when onnxruntime-gpu is installed and a GPU is present."""

    def __post_init__(self):
        if not isinstance(self.threads, int) or not 1 <= self.threads <= 256:
            raise ValueError(f"threads must be an integer in 1..256, got {self.threads!r}")


@dataclass(frozen=True)
class Render:
    audio: np.ndarray
    """float32 (N,) at 24 kHz."""
    durations: np.ndarray
    """int64 (T,): frames of FRAME_SAMPLES per token, pads included."""


def pick_providers(use_gpu: bool) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if use_gpu and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class KokoroRuntime:
    """One onnxruntime session; `render` is safe to call from several threads (calls are serialised)."""

    frame_samples = FRAME_SAMPLES

    def __init__(self, model_path: Path, config: RuntimeConfig | None = None):
        import onnxruntime as ort

        config = config or RuntimeConfig()
        options = ort.SessionOptions()
        options.intra_op_num_threads = config.threads
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(model_path), options, providers=pick_providers(config.use_gpu))
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"cannot load model {model_path}: {exc}") from exc
        outputs = {o.name for o in self.session.get_outputs()}
        if OUTPUT_DURATIONS not in outputs:
            raise ModelError(f"model {model_path} has no {OUTPUT_DURATIONS!r} output (outputs: {sorted(outputs)})")
        self.providers = self.session.get_providers()
        self._lock = threading.Lock()

    def render(self, ids: list[int], style: np.ndarray, speed: float) -> Render:
        if not 1 <= len(ids) <= MAX_TOKEN_IDS:
            raise ValueError(f"a render takes 1..{MAX_TOKEN_IDS} phoneme ids, got {len(ids)}")
        feeds = {
            INPUT_TOKENS: np.array([[0, *ids, 0]], dtype=np.int64),  # (1, T)
            INPUT_STYLE: np.asarray(style, dtype=np.float32).reshape(1, -1),  # (1, 256)
            INPUT_SPEED: np.array([speed], dtype=np.float32),  # (1,)
        }
        with self._lock:
            audio, durations = self.session.run([OUTPUT_AUDIO, OUTPUT_DURATIONS], feeds)
        return Render(np.asarray(audio, dtype=np.float32).reshape(-1), np.asarray(durations).reshape(-1).astype(np.int64))
