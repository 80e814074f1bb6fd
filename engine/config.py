"""The engine's configuration: one dataclass, a docstring under each field, checked on creation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .guardrails import GuardrailConfig
from .model_store import MAX_TOKEN_IDS, ModelStoreConfig
from .runtime import RuntimeConfig
from .streaming import StreamingConfig


@dataclass(frozen=True)
class EngineConfig:
    model: ModelStoreConfig = field(default_factory=ModelStoreConfig)
    """Where the model is assembled and cached."""
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    """onnxruntime threads and provider choice."""
    guardrails: GuardrailConfig = field(default_factory=GuardrailConfig)
    """Thresholds of the plan and audio checks."""
    max_segment_tokens: int = 300
    """A segment (one model call) holds at most this many phoneme ids (the model's hard limit is 510)."""
    first_segment_words: int = 8
    """The first segment of an utterance is cut at its first clause end, or after this many words."""
    lead_frames: int = 1
    """Frames of the model's leading silence kept before a segment's first word (25 ms each)."""
    chunk_seconds: float = 0.25
    """Audio is handed out in chunks of at most this length; cancel is checked between chunks."""
    fallback: bool = True
    """Let the system voice speak a segment that fails every regeneration."""
    max_piece_words: int = 120
    """A sentence longer than this is cut (at a clause end when one is near) before G2P, so one
    huge sentence never holds the synthesis thread for seconds."""
    max_text_chars: int = 1_000_000
    """Longer input is refused with TextError (the daemon has its own, smaller cap)."""
    cache_max_tokens: int = 48
    """Renders of at most this many phoneme ids (characters, words, short phrases) are cached."""
    cache_megabytes: int = 64
    """Memory bound of the render cache (0 turns it off, on disk too)."""
    disk_cache_megabytes: int = 64
    """Disk bound of the render cache's copy on disk, kept across restarts (engine/render_store.py;
    0 turns it off)."""
    disk_cache_dir: Path | None = None
    """Where that copy lives; None: $ECHOIC_RENDER_CACHE_DIR, else "renders" in the model cache."""
    streaming: StreamingConfig = field(default_factory=StreamingConfig)
    """Chunked rendering of long segments (window sizes; on only for calibrated voices)."""

    def __post_init__(self):
        if not isinstance(self.max_segment_tokens, int) or not 16 <= self.max_segment_tokens <= MAX_TOKEN_IDS:
            raise ValueError(f"max_segment_tokens must be an integer in 16..{MAX_TOKEN_IDS}, got {self.max_segment_tokens!r}")
        if not isinstance(self.first_segment_words, int) or self.first_segment_words < 1:
            raise ValueError(f"first_segment_words must be a positive integer, got {self.first_segment_words!r}")
        if not isinstance(self.lead_frames, int) or self.lead_frames < 0:
            raise ValueError(f"lead_frames must be a non-negative integer, got {self.lead_frames!r}")
        if not isinstance(self.cache_megabytes, int) or self.cache_megabytes < 0:
            raise ValueError(f"cache_megabytes must be a non-negative integer, got {self.cache_megabytes!r}")
        if not isinstance(self.disk_cache_megabytes, int) or self.disk_cache_megabytes < 0:
            raise ValueError(f"disk_cache_megabytes must be a non-negative integer, got {self.disk_cache_megabytes!r}")
        if self.runtime.graphs != "split":
            raise ValueError(f"the engine plans before it renders and needs graphs='split', got {self.runtime.graphs!r}")
        if not 0.01 <= self.chunk_seconds <= 5:
            raise ValueError(f"chunk_seconds must be in 0.01..5, got {self.chunk_seconds!r}")
