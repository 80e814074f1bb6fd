"""Kokoro-82M v1.0 in torch: the planner (ALBERT, prosody predictor, text encoder) and the renderer.

A self-contained port of the `kokoro` package (0.9.4: `model.py`, `modules.py`, and the ALBERT of
`transformers`) with the module names of the original, so the weights rebuilt from the int8 ONNX
(`convert.load_from_onnx`) land where the original's state dict would. Differences from it:

- inference is for one utterance at a time or a batch of equal-length token sequences: there is no
  padding mask or packed LSTM (the runtime never pads; batching utterances of one length is enough
  for training adapters);
- convolutions hold folded weight-norm weights (see `istftnet.py`);
- the forward pass is split as the runtime is: `plan` (tokens -> durations, aligned features, F0,
  energy) and `render` (those -> audio), so the split ONNX graphs and this model agree on the cut.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from .istftnet import AdainResBlk1d, Decoder, DecoderConfig


@dataclass(frozen=True)
class AlbertConfig:
    vocab_size: int = 178
    embedding_size: int = 128
    hidden_size: int = 768
    num_attention_heads: int = 12
    intermediate_size: int = 2048
    num_hidden_layers: int = 12
    """The one ALBERT layer is applied this many times (weights shared)."""
    max_position_embeddings: int = 512

    def __post_init__(self):
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"hidden_size {self.hidden_size} not divisible by {self.num_attention_heads} heads")


@dataclass(frozen=True)
class KokoroConfig:
    n_token: int = 178
    """Size of the phoneme vocabulary (ids 0..177; 0 is the pad wrapped around every utterance)."""
    hidden_dim: int = 512
    style_dim: int = 128
    """Width of each half of the 256-wide style vector."""
    n_layer: int = 3
    max_dur: int = 50
    """The duration head predicts up to this many frames per token (sum of 50 sigmoids)."""
    text_encoder_kernel_size: int = 5
    albert: AlbertConfig = field(default_factory=AlbertConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)

    def __post_init__(self):
        if self.albert.vocab_size != self.n_token:
            raise ValueError(f"ALBERT vocab {self.albert.vocab_size} != n_token {self.n_token}")


# ---------------------------------------------------------------------------------------------
# ALBERT (the phoneme-level "PL-BERT" of Kokoro): one shared transformer layer applied 12 times.

class AlbertEmbeddings(nn.Module):
    def __init__(self, cfg: AlbertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.embedding_size)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.embedding_size)
        self.token_type_embeddings = nn.Embedding(2, cfg.embedding_size)
        self.LayerNorm = nn.LayerNorm(cfg.embedding_size, eps=1e-12)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.word_embeddings(ids) + self.position_embeddings(positions) + self.token_type_embeddings.weight[0]
        return self.LayerNorm(x)  # (B, T, 128)


class AlbertAttention(nn.Module):
    def __init__(self, cfg: AlbertConfig):
        super().__init__()
        self.heads = cfg.num_attention_heads
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.value = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=1e-12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        split = lambda t: t.view(B, T, self.heads, C // self.heads).transpose(1, 2)  # (B, heads, T, d)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(C // self.heads), dim=-1)
        context = (probs @ v).transpose(1, 2).reshape(B, T, C)
        return self.LayerNorm(x + self.dense(context))


class AlbertLayer(nn.Module):
    def __init__(self, cfg: AlbertConfig):
        super().__init__()
        self.attention = AlbertAttention(cfg)
        self.ffn = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.ffn_output = nn.Linear(cfg.intermediate_size, cfg.hidden_size)
        self.full_layer_layer_norm = nn.LayerNorm(cfg.hidden_size, eps=1e-12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attention(x)
        h = self.ffn_output(F.gelu(self.ffn(x), approximate="tanh"))  # ALBERT's "gelu_new"
        return self.full_layer_layer_norm(h + x)


class AlbertLayerGroup(nn.Module):
    def __init__(self, cfg: AlbertConfig):
        super().__init__()
        self.albert_layers = nn.ModuleList([AlbertLayer(cfg)])


class AlbertTransformer(nn.Module):
    def __init__(self, cfg: AlbertConfig):
        super().__init__()
        self.cfg = cfg
        self.embedding_hidden_mapping_in = nn.Linear(cfg.embedding_size, cfg.hidden_size)
        self.albert_layer_groups = nn.ModuleList([AlbertLayerGroup(cfg)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embedding_hidden_mapping_in(x)
        layer = self.albert_layer_groups[0].albert_layers[0]
        for _ in range(self.cfg.num_hidden_layers):
            x = layer(x)
        return x


class Albert(nn.Module):
    def __init__(self, cfg: AlbertConfig):
        super().__init__()
        self.embeddings = AlbertEmbeddings(cfg)
        self.encoder = AlbertTransformer(cfg)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (B, T) -> last hidden state (B, T, 768)."""
        return self.encoder(self.embeddings(ids))


# ---------------------------------------------------------------------------------------------
# Text encoder (acoustic text features) and prosody predictor (durations, F0, energy).

class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of (B, C, T), with StyleTTS2's parameter names."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.transpose(1, -1), (x.shape[1],), self.gamma, self.beta, self.eps)
        return x.transpose(1, -1)


class TextEncoder(nn.Module):
    def __init__(self, channels: int, kernel_size: int, depth: int, n_symbols: int):
        super().__init__()
        self.embedding = nn.Embedding(n_symbols, channels)
        self.cnn = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(channels, channels, kernel_size, padding=(kernel_size - 1) // 2),
                ChannelLayerNorm(channels),
                nn.LeakyReLU(0.2),
                nn.Dropout(0.2),
            )
            for _ in range(depth)
        )
        self.lstm = nn.LSTM(channels, channels // 2, 1, batch_first=True, bidirectional=True)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (B, T) -> (B, 512, T)."""
        x = self.embedding(ids).transpose(1, 2)  # (B, C, T)
        for block in self.cnn:
            x = block(x)
        x, _ = self.lstm(x.transpose(1, 2))  # (B, T, C)
        return x.transpose(1, 2)


class AdaLayerNorm(nn.Module):
    """LayerNorm over channels with style-driven scale and shift; x (B, T, C)."""

    def __init__(self, style_dim: int, channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.fc = nn.Linear(style_dim, channels * 2)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        gamma, beta = torch.chunk(self.fc(s).unsqueeze(1), 2, dim=-1)  # (B, 1, C) each
        return (1 + gamma) * F.layer_norm(x, (x.shape[-1],), eps=self.eps) + beta


class DurationEncoder(nn.Module):
    """BiLSTMs interleaved with AdaLayerNorm; the style is appended to every step's features."""

    def __init__(self, style_dim: int, d_model: int, nlayers: int):
        super().__init__()
        self.lstms = nn.ModuleList()
        for _ in range(nlayers):
            self.lstms.append(nn.LSTM(d_model + style_dim, d_model // 2, 1, batch_first=True, bidirectional=True))
            self.lstms.append(AdaLayerNorm(style_dim, d_model))

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """x (B, 512, T), s (B, 128) -> (B, T, 640)."""
        s_t = s.unsqueeze(1).expand(-1, x.shape[2], -1)  # (B, T, 128)
        x = torch.cat([x.transpose(1, 2), s_t], dim=-1)
        for block in self.lstms:
            if isinstance(block, AdaLayerNorm):
                x = torch.cat([block(x, s), s_t], dim=-1)
            else:
                x, _ = block(x)  # (B, T, 512)
        return x


class ProsodyPredictor(nn.Module):
    def __init__(self, style_dim: int, d_hid: int, nlayers: int, max_dur: int):
        super().__init__()
        self.text_encoder = DurationEncoder(style_dim, d_hid, nlayers)
        self.lstm = nn.LSTM(d_hid + style_dim, d_hid // 2, 1, batch_first=True, bidirectional=True)
        self.duration_proj = nn.Module()
        self.duration_proj.linear_layer = nn.Linear(d_hid, max_dur)
        self.shared = nn.LSTM(d_hid + style_dim, d_hid // 2, 1, batch_first=True, bidirectional=True)
        half = d_hid // 2
        self.F0 = nn.ModuleList([
            AdainResBlk1d(d_hid, d_hid, style_dim),
            AdainResBlk1d(d_hid, half, style_dim, upsample=True),
            AdainResBlk1d(half, half, style_dim),
        ])
        self.N = nn.ModuleList([
            AdainResBlk1d(d_hid, d_hid, style_dim),
            AdainResBlk1d(d_hid, half, style_dim, upsample=True),
            AdainResBlk1d(half, half, style_dim),
        ])
        self.F0_proj = nn.Conv1d(half, 1, 1)
        self.N_proj = nn.Conv1d(half, 1, 1)

    def durations(self, d: torch.Tensor, speed: torch.Tensor | float) -> torch.Tensor:
        """d (B, T, 640) -> continuous frames per token (B, T), before rounding."""
        x, _ = self.lstm(d)
        return torch.sigmoid(self.duration_proj.linear_layer(x)).sum(dim=-1) / speed

    def F0Ntrain(self, en: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """en (B, 640, F), s (B, 128) -> F0 (B, 2F) in Hz and energy (B, 2F)."""
        x, _ = self.shared(en.transpose(1, 2))
        f0 = n = x.transpose(1, 2)  # (B, 512, F)
        for block in self.F0:
            f0 = block(f0, s)
        for block in self.N:
            n = block(n, s)
        return self.F0_proj(f0).squeeze(1), self.N_proj(n).squeeze(1)


# ---------------------------------------------------------------------------------------------

@dataclass
class KokoroPlan:
    """What the planner hands the renderer (tensors; batch first)."""

    durations: torch.Tensor
    """(B, T) integer-valued frames per token (pads included), each >= 1."""
    asr: torch.Tensor
    """(B, 512, F) text-encoder features repeated along the durations, F = durations.sum()."""
    f0: torch.Tensor
    """(B, 2F) pitch curve in Hz (0 or below 10 Hz is unvoiced)."""
    energy: torch.Tensor
    """(B, 2F) energy curve."""


def alignment_matrix(durations: torch.Tensor) -> torch.Tensor:
    """(T,) integer frames per token -> (T, F) one-hot alignment, F = durations.sum()."""
    durations = durations.long()
    frame_token = torch.repeat_interleave(torch.arange(durations.shape[0], device=durations.device), durations)
    return F.one_hot(frame_token, durations.shape[0]).T.float()


class KModel(nn.Module):
    """Kokoro-82M: tokens (B, T) = [0, *ids, 0] and style (B, 256) -> 24 kHz audio."""

    def __init__(self, cfg: KokoroConfig = KokoroConfig()):
        super().__init__()
        self.cfg = cfg
        self.bert = Albert(cfg.albert)
        self.bert_encoder = nn.Linear(cfg.albert.hidden_size, cfg.hidden_dim)
        self.predictor = ProsodyPredictor(cfg.style_dim, cfg.hidden_dim, cfg.n_layer, cfg.max_dur)
        self.text_encoder = TextEncoder(cfg.hidden_dim, cfg.text_encoder_kernel_size, cfg.n_layer, cfg.n_token)
        self.decoder = Decoder(cfg.decoder)

    def prosody_features(self, tokens: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """tokens (B, T), style (B, 256) -> duration-encoder features d (B, T, 640)."""
        d_en = self.bert_encoder(self.bert(tokens)).transpose(1, 2)  # (B, 512, T)
        return self.predictor.text_encoder(d_en, style[:, self.cfg.style_dim:])

    def plan(self, tokens: torch.Tensor, style: torch.Tensor, speed: float | torch.Tensor = 1.0,
             durations: torch.Tensor | None = None) -> KokoroPlan:
        """tokens (1, T), style (1, 256) -> KokoroPlan. Pass `durations` (1, T) to force them
        (teacher forcing in training); otherwise they are predicted and rounded as the graph does."""
        if tokens.shape[0] != 1:
            raise ValueError(f"plan() aligns one utterance at a time; got batch {tokens.shape[0]}")
        s = style[:, self.cfg.style_dim:]
        d = self.prosody_features(tokens, style)
        if durations is None:
            durations = torch.round(self.predictor.durations(d, speed)).clamp(min=1)
        aln = alignment_matrix(durations[0]).unsqueeze(0)  # (1, T, F)
        en = d.transpose(1, 2) @ aln  # (1, 640, F)
        f0, energy = self.predictor.F0Ntrain(en, s)
        asr = self.text_encoder(tokens) @ aln  # (1, 512, F)
        return KokoroPlan(durations=durations, asr=asr, f0=f0, energy=energy)

    def render(self, asr: torch.Tensor, f0: torch.Tensor, energy: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """asr (B, 512, F), f0 and energy (B, 2F), style (B, 256) -> audio (B, 600 F)."""
        return self.decoder(asr, f0, energy, style[:, : self.cfg.style_dim])

    def forward(self, tokens: torch.Tensor, style: torch.Tensor, speed: float | torch.Tensor = 1.0):
        """tokens (1, T), style (1, 256) -> (audio (600 F,), durations (T,))."""
        p = self.plan(tokens, style, speed)
        return self.render(p.asr, p.f0, p.energy, style)[0], p.durations[0]
