"""Resemblyzer's speaker embedding as a differentiable torch function of 24 kHz audio (train extra).

Resemblyzer's encoder is a torch LSTM, but its front end is numpy (librosa's mel spectrogram after
a librosa resample). Here the same front end is rebuilt in torch so a loss on the embedding reaches
the voice pack through the rendered audio:

- 24 kHz -> 16 kHz by the polyphase filter of `scipy.signal.resample_poly(x, 2, 3)` (same taps,
  same alignment), as a strided convolution;
- `normalize_volume` to -30 dBFS (Resemblyzer raises quiet audio only; here the gain is applied
  both ways so the loss cannot win by loudness);
- librosa's power mel spectrogram (n_fft 400, hop 160, 40 bands, Slaney filters, centred frames
  with zero padding): the filter bank is librosa's own matrix, the STFT torch's;
- the encoder's partial utterances of 160 frames where `embed_utterance` puts them, averaged and
  renormalised as it does.

`tests/test_clone_fit.py` checks the front end and the embedding against Resemblyzer's numpy path.
Silence trimming (webrtcvad) is not differentiable and is left out: the fit's crops are speech.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

SOURCE_RATE = 24000
RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 40
PARTIAL = 160
TARGET_DBFS = -30.0


def resample_filter() -> np.ndarray:
    """The taps `resample_poly(x, 2, 3)` uses (Kaiser beta 5, half-length 10 * 3)."""
    from scipy.signal import firwin

    up, down = 2, 3
    max_rate = max(up, down)
    half_len = 10 * max_rate
    h = firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0)) * up
    return h


class ResemblyzerTorch(torch.nn.Module):
    """audio (B, n) float at 24 kHz -> Resemblyzer embedding (B, 256), L2-normalised."""

    def __init__(self, encoder=None, device="cpu"):
        super().__init__()
        if encoder is None:
            from resemblyzer import VoiceEncoder

            encoder = VoiceEncoder("cpu", verbose=False)
        import librosa

        self.encoder = encoder.to(device).eval()
        self.encoder.requires_grad_(False)
        self.register_buffer("fir", torch.tensor(resample_filter()[::-1].copy(), dtype=torch.float32).view(1, 1, -1))
        mel = librosa.filters.mel(sr=RATE, n_fft=N_FFT, n_mels=N_MELS)
        self.register_buffer("mel_basis", torch.tensor(mel, dtype=torch.float32))
        self.register_buffer("window", torch.hann_window(N_FFT, periodic=True))
        self.to(device)

    def resample(self, x: torch.Tensor) -> torch.Tensor:
        """(B, n) at 24 kHz -> (B, ceil(2n/3)) at 16 kHz, equal to resample_poly(x, 2, 3)."""
        B, n = x.shape
        h_len = self.fir.shape[-1]
        up = torch.zeros(B, 1, 2 * n, dtype=x.dtype, device=x.device)
        up[:, 0, ::2] = x
        # resample_poly pads so output sample k is filter centre at upsampled index 3k.
        half = (h_len - 1) // 2
        padded = F.pad(up, (half, half + 3))
        y = F.conv1d(padded, self.fir, stride=3)[:, 0]
        return y[:, : (2 * n + 2) // 3]

    def normalize_volume(self, x: torch.Tensor) -> torch.Tensor:
        rms = torch.sqrt(torch.mean(x ** 2, dim=-1, keepdim=True) + 1e-10)
        gain = 10 ** (TARGET_DBFS / 20) / rms
        return x * gain

    def mel(self, wav16: torch.Tensor) -> torch.Tensor:
        """(B, n) at 16 kHz -> power mel (B, frames, 40), as resemblyzer.audio.wav_to_mel_spectrogram."""
        spec = torch.stft(wav16, N_FFT, HOP, window=self.window, center=True, pad_mode="constant",
                          return_complex=True)
        power = spec.real ** 2 + spec.imag ** 2  # (B, 201, frames)
        return (self.mel_basis @ power).transpose(1, 2)

    def forward(self, audio24: torch.Tensor) -> torch.Tensor:
        """Partials placed as `VoiceEncoder.embed_utterance` places them (rate 1.3, coverage 0.75)."""
        wav = self.normalize_volume(self.resample(audio24))
        wav_slices, mel_slices = self.encoder.compute_partial_slices(wav.shape[-1], 1.3, 0.75)
        if wav_slices[-1].stop > wav.shape[-1]:
            wav = F.pad(wav, (0, wav_slices[-1].stop - wav.shape[-1]))
        mel = self.mel(wav)
        parts = torch.stack([mel[:, s] for s in mel_slices], dim=1)  # (B, P, 160, 40)
        B, P = parts.shape[:2]
        emb = self.encoder(parts.reshape(B * P, PARTIAL, N_MELS)).view(B, P, -1).mean(dim=1)
        return emb / emb.norm(dim=-1, keepdim=True)


def reference_embedding(audio: np.ndarray, sample_rate: int, encoder=None) -> np.ndarray:
    """Resemblyzer's own embedding of real audio (its numpy path, silence trimmed)."""
    from resemblyzer import VoiceEncoder, preprocess_wav

    encoder = encoder or VoiceEncoder("cpu", verbose=False)
    return encoder.embed_utterance(preprocess_wav(np.asarray(audio, dtype=np.float32), sample_rate))


# --- the recording check's speaker split (engine/cloning/recording.py) ------------------------

def resemblyzer_encoder():
    """Resemblyzer's VoiceEncoder on the CPU, loaded once; None when Resemblyzer is not importable."""
    try:
        from resemblyzer import VoiceEncoder
    except Exception:  # not installed, or its webrtcvad import broken (pkg_resources): use pitch
        return None
    global _ENCODER
    if _ENCODER is None:
        _ENCODER = VoiceEncoder("cpu", verbose=False)
    return _ENCODER


_ENCODER = None


def speaker_split_resemblyzer(windows: list[np.ndarray], sample_rate: int, encoder) -> tuple[float, float]:
    """(1 - cosine of the two groups' centroid embeddings, the smaller group's share). Each 1.6 s
    window is one of Resemblyzer's partial utterances; all go through the encoder in one batch."""
    from resemblyzer.audio import wav_to_mel_spectrogram
    from resemblyzer.hparams import partials_n_frames, sampling_rate

    from ..cloning.recording import resample, two_groups

    mels = np.stack([wav_to_mel_spectrogram(resample(w, sample_rate, sampling_rate))[:partials_n_frames]
                     for w in windows])  # (W, 160, 40)
    with torch.no_grad():
        embeddings = encoder(torch.from_numpy(mels).to(encoder.device)).cpu().numpy().astype(np.float64)  # (W, 256)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    labels = two_groups(embeddings)
    share = min(np.mean(labels == 0), np.mean(labels == 1))
    if share == 0:
        return 0.0, 0.0
    c0, c1 = embeddings[labels == 0].mean(axis=0), embeddings[labels == 1].mean(axis=0)
    cosine = float(c0 @ c1 / (np.linalg.norm(c0) * np.linalg.norm(c1)))
    return 1.0 - cosine, float(share)
