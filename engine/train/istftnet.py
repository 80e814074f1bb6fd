"""Kokoro's decoder (the renderer): AdaIN residual blocks and an iSTFTNet generator.

Ported from the `kokoro` package (0.9.4, `kokoro/istftnet.py`, itself adapted from StyleTTS2) with
three deliberate differences, each because the shipped int8 ONNX graph (our only source of weights)
was exported that way:

- convolutions are plain `nn.Conv1d`/`nn.ConvTranspose1d`: the graph holds the weight-normalised
  weights already folded (g * v / |v|), so there is no (g, v) pair to restore;
- `AdaIN1d` normalises without an affine part: the export folded the identity affine away;
- the harmonic source is deterministic (no initial phase noise, no additive noise): the graph has
  no random operators, so a deterministic source is what parity with it needs.

Tensor layout is (B, C, L) throughout, as in the original.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class DecoderConfig:
    dim_in: int = 512
    """Channels of the aligned text features (the text encoder's width)."""
    style_dim: int = 128
    """Width of the timbre half of the style vector."""
    upsample_rates: tuple[int, ...] = (10, 6)
    upsample_kernel_sizes: tuple[int, ...] = (20, 12)
    upsample_initial_channel: int = 512
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    n_fft: int = 20
    hop_size: int = 5
    sample_rate: int = 24000

    def __post_init__(self):
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            raise ValueError(f"upsample_rates {self.upsample_rates} and kernels {self.upsample_kernel_sizes} differ in length")

    @property
    def samples_per_f0_step(self) -> int:
        """Audio samples per F0 step (F0 runs at twice the frame rate): 10 * 6 * 5 = 300."""
        return math.prod(self.upsample_rates) * self.hop_size


def get_padding(kernel_size: int, dilation: int = 1) -> int:
    return (kernel_size * dilation - dilation) // 2


class AdaIN1d(nn.Module):
    """Instance norm whose scale and shift come from the style: (1 + gamma) * norm(x) + beta."""

    def __init__(self, style_dim: int, num_features: int):
        super().__init__()
        self.fc = nn.Linear(style_dim, num_features * 2)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        h = self.fc(s).unsqueeze(-1)  # (B, 2C, 1)
        gamma, beta = torch.chunk(h, chunks=2, dim=1)
        return (1 + gamma) * F.instance_norm(x, eps=1e-5) + beta


class AdainResBlk1d(nn.Module):
    """Residual block of the decoder and the F0/energy predictor; optional 2x upsampling."""

    def __init__(self, dim_in: int, dim_out: int, style_dim: int, upsample: bool = False):
        super().__init__()
        self.upsample = upsample
        self.learned_sc = dim_in != dim_out
        self.conv1 = nn.Conv1d(dim_in, dim_out, 3, 1, 1)
        self.conv2 = nn.Conv1d(dim_out, dim_out, 3, 1, 1)
        self.norm1 = AdaIN1d(style_dim, dim_in)
        self.norm2 = AdaIN1d(style_dim, dim_out)
        if self.learned_sc:
            self.conv1x1 = nn.Conv1d(dim_in, dim_out, 1, 1, 0, bias=False)
        if upsample:
            self.pool = nn.ConvTranspose1d(dim_in, dim_in, 3, stride=2, groups=dim_in, padding=1, output_padding=1)

    def _shortcut(self, x):
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv1x1(x) if self.learned_sc else x

    def _residual(self, x, s):
        x = F.leaky_relu(self.norm1(x, s), 0.2)
        if self.upsample:
            x = self.pool(x)
        x = F.leaky_relu(self.norm2(self.conv1(x), s), 0.2)
        return self.conv2(x)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """x (B, dim_in, L), s (B, style_dim) -> (B, dim_out, L or 2L)."""
        return (self._residual(x, s) + self._shortcut(x)) * (1 / math.sqrt(2))


class AdaINResBlock1(nn.Module):
    """HiFi-GAN style resblock with AdaIN and Snake activations."""

    def __init__(self, channels: int, kernel_size: int, dilation: tuple[int, ...], style_dim: int):
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, 1, dilation=d, padding=get_padding(kernel_size, d)) for d in dilation
        )
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, 1, dilation=1, padding=get_padding(kernel_size, 1)) for _ in dilation
        )
        self.adain1 = nn.ModuleList(AdaIN1d(style_dim, channels) for _ in dilation)
        self.adain2 = nn.ModuleList(AdaIN1d(style_dim, channels) for _ in dilation)
        self.alpha1 = nn.ParameterList(nn.Parameter(torch.ones(1, channels, 1)) for _ in dilation)
        self.alpha2 = nn.ParameterList(nn.Parameter(torch.ones(1, channels, 1)) for _ in dilation)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """x (B, C, L) -> (B, C, L)."""
        for c1, c2, n1, n2, a1, a2 in zip(self.convs1, self.convs2, self.adain1, self.adain2, self.alpha1, self.alpha2):
            xt = n1(x, s)
            xt = xt + (1 / a1) * torch.sin(a1 * xt) ** 2  # Snake
            xt = c1(xt)
            xt = n2(xt, s)
            xt = xt + (1 / a2) * torch.sin(a2 * xt) ** 2
            xt = c2(xt)
            x = xt + x
        return x


class SourceModuleHnNSF(nn.Module):
    """Harmonic source: sines at F0 and 8 overtones, voiced where F0 > 10 Hz, merged by a linear layer."""

    def __init__(self, sample_rate: int, upsample_scale: int, harmonic_num: int = 8,
                 sine_amp: float = 0.1, voiced_threshold: float = 10.0):
        super().__init__()
        self.sample_rate = sample_rate
        self.upsample_scale = upsample_scale
        self.harmonic_num = harmonic_num
        self.sine_amp = sine_amp
        self.voiced_threshold = voiced_threshold
        self.l_linear = nn.Linear(harmonic_num + 1, 1)

    def sine_waves(self, f0: torch.Tensor) -> torch.Tensor:
        """f0 (B, N, 1) at audio rate -> (B, N, harmonics) unvoiced-gated sines."""
        harmonics = torch.arange(1, self.harmonic_num + 2, device=f0.device, dtype=f0.dtype)
        rad = (f0 * harmonics / self.sample_rate) % 1  # (B, N, H)
        # Integrate phase at the coarse rate then interpolate back, as the original does, so the
        # phase is smooth and the result matches the exported graph.
        rad = F.interpolate(rad.transpose(1, 2), scale_factor=1 / self.upsample_scale, mode="linear")
        phase = torch.cumsum(rad, dim=2) * 2 * math.pi  # (B, H, N / scale)
        phase = F.interpolate(phase * self.upsample_scale, scale_factor=self.upsample_scale, mode="linear")
        sines = torch.sin(phase.transpose(1, 2)) * self.sine_amp  # (B, N, H)
        uv = (f0 > self.voiced_threshold).to(f0.dtype)
        return sines * uv

    def forward(self, f0: torch.Tensor) -> torch.Tensor:
        """f0 (B, N, 1) -> merged excitation (B, N, 1)."""
        with torch.no_grad():
            sines = self.sine_waves(f0)
        return torch.tanh(self.l_linear(sines))


class Generator(nn.Module):
    """Upsamples decoder features to a 22-bin magnitude/phase spectrogram and inverts it (iSTFT)."""

    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.cfg = cfg
        self.num_kernels = len(cfg.resblock_kernel_sizes)
        self.num_upsamples = len(cfg.upsample_rates)
        self.m_source = SourceModuleHnNSF(cfg.sample_rate, cfg.samples_per_f0_step)
        bins = cfg.n_fft + 2
        self.ups = nn.ModuleList()
        self.noise_convs = nn.ModuleList()
        self.noise_res = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        ch = cfg.upsample_initial_channel
        for i, (u, k) in enumerate(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes)):
            ch = cfg.upsample_initial_channel // (2 ** (i + 1))
            self.ups.append(nn.ConvTranspose1d(2 * ch, ch, k, u, padding=(k - u) // 2))
            for k_res, d in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes):
                self.resblocks.append(AdaINResBlock1(ch, k_res, d, cfg.style_dim))
            if i + 1 < self.num_upsamples:
                stride = math.prod(cfg.upsample_rates[i + 1:])
                self.noise_convs.append(nn.Conv1d(bins, ch, kernel_size=stride * 2, stride=stride, padding=(stride + 1) // 2))
                self.noise_res.append(AdaINResBlock1(ch, 7, (1, 3, 5), cfg.style_dim))
            else:
                self.noise_convs.append(nn.Conv1d(bins, ch, kernel_size=1))
                self.noise_res.append(AdaINResBlock1(ch, 11, (1, 3, 5), cfg.style_dim))
        self.conv_post = nn.Conv1d(ch, bins, 7, 1, padding=3)
        self.register_buffer("window", torch.hann_window(cfg.n_fft, periodic=True), persistent=False)

    def _stft(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, N) -> magnitude and phase stacked, (B, n_fft + 2, N / hop + 1)."""
        spec = torch.stft(x, self.cfg.n_fft, self.cfg.hop_size, self.cfg.n_fft, window=self.window,
                          center=True, pad_mode="reflect", return_complex=True)
        return torch.cat([spec.abs(), spec.angle()], dim=1)

    def harmonic_source(self, f0: torch.Tensor) -> torch.Tensor:
        """f0 (B, 2F) in Hz -> excitation (B, 600 F); its phase integrates F0 from the first frame."""
        with torch.no_grad():
            f0_up = F.interpolate(f0[:, None], scale_factor=self.cfg.samples_per_f0_step, mode="nearest")
            return self.m_source(f0_up.transpose(1, 2)).transpose(1, 2).squeeze(1)  # (B, N)

    def forward(self, x: torch.Tensor, s: torch.Tensor, f0: torch.Tensor,
                har_source: torch.Tensor | None = None, last_stage=None) -> torch.Tensor:
        """x (B, C, 2F), s (B, style_dim), f0 (B, 2F) in Hz -> audio (B, 600 F).

        `har_source` (B, 600 F) replaces the excitation made from `f0` (a window of a
        whole-utterance excitation keeps the sine phase continuous across windows).
        `last_stage(x, s)` replaces the last stage's average of residual blocks (a lighter
        generator's probe, engine/train/lighter_generator.py)."""
        with torch.no_grad():
            if har_source is None:
                har_source = self.harmonic_source(f0)
            har = self._stft(har_source)
        for i in range(self.num_upsamples):
            x = F.leaky_relu(x, 0.1)
            x_source = self.noise_res[i](self.noise_convs[i](har), s)
            x = self.ups[i](x)
            if i == self.num_upsamples - 1:
                x = F.pad(x, (1, 0), mode="reflect")
            x = x + x_source
            if last_stage is not None and i == self.num_upsamples - 1:
                x = last_stage(x, s)
            else:
                xs = sum(self.resblocks[i * self.num_kernels + j](x, s) for j in range(self.num_kernels))
                x = xs / self.num_kernels
        return self.head(x)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's output (B, C, frames) -> audio: `conv_post`, magnitude and phase, iSTFT."""
        x = self.conv_post(F.leaky_relu(x))  # (B, n_fft + 2, frames); default slope 0.01
        half = self.cfg.n_fft // 2 + 1
        spec = torch.exp(x[:, :half, :])
        phase = torch.sin(x[:, half:, :])
        return self._istft(torch.polar(spec, phase))

    def _istft(self, spec: torch.Tensor) -> torch.Tensor:
        """spec (B, n_fft / 2 + 1, frames) complex -> audio (B, hop * (frames - 1)).

        Overlap-add *without* dividing by the window envelope, as the shipped graph does: its
        export baked the envelope for a single frame (`window_sum` has 20 values), so only the first
        n_fft raw samples are normalised and the rest come out 1.5x (the Hann^2 overlap sum at
        hop n_fft/4) louder than `torch.istft` would make them.
        """
        n_fft, hop = self.cfg.n_fft, self.cfg.hop_size
        frames = torch.fft.irfft(spec, n=n_fft, dim=1) * self.window[:, None]  # (B, n_fft, L)
        length = hop * (frames.shape[-1] - 1) + n_fft
        raw = F.fold(frames, output_size=(1, length), kernel_size=(1, n_fft), stride=(1, hop))[:, 0, 0]  # (B, N)
        envelope = self.window ** 2
        head = torch.where(envelope > 1e-38, raw[:, :n_fft] / envelope.clamp(min=1e-38), raw[:, :n_fft])
        raw = torch.cat([head, raw[:, n_fft:]], dim=1)
        return raw[:, n_fft // 2: -(n_fft // 2)]


class Decoder(nn.Module):
    """Aligned text features + F0 + energy + timbre style -> audio."""

    def __init__(self, cfg: DecoderConfig = DecoderConfig()):
        super().__init__()
        self.cfg = cfg
        self.encode = AdainResBlk1d(cfg.dim_in + 2, 1024, cfg.style_dim)
        self.decode = nn.ModuleList([
            AdainResBlk1d(1024 + 2 + 64, 1024, cfg.style_dim),
            AdainResBlk1d(1024 + 2 + 64, 1024, cfg.style_dim),
            AdainResBlk1d(1024 + 2 + 64, 1024, cfg.style_dim),
            AdainResBlk1d(1024 + 2 + 64, 512, cfg.style_dim, upsample=True),
        ])
        self.F0_conv = nn.Conv1d(1, 1, kernel_size=3, stride=2, padding=1)
        self.N_conv = nn.Conv1d(1, 1, kernel_size=3, stride=2, padding=1)
        self.asr_res = nn.Sequential(nn.Conv1d(cfg.dim_in, 64, kernel_size=1))
        self.generator = Generator(cfg)

    def forward(self, asr: torch.Tensor, f0_curve: torch.Tensor, n_curve: torch.Tensor, s: torch.Tensor,
                har_source: torch.Tensor | None = None) -> torch.Tensor:
        """asr (B, 512, F), f0_curve (B, 2F), n_curve (B, 2F), s (B, 128) -> audio (B, 600 F);
        `har_source` as in `Generator.forward`."""
        f0 = self.F0_conv(f0_curve.unsqueeze(1))  # (B, 1, F)
        n = self.N_conv(n_curve.unsqueeze(1))
        x = self.encode(torch.cat([asr, f0, n], dim=1), s)
        asr_res = self.asr_res(asr)
        for block in self.decode:
            x = block(torch.cat([x, asr_res, f0, n], dim=1), s)
            if block.upsample:
                break  # the upsampling block is last; after it no residual concat
        return self.generator(x, s, f0_curve, har_source)
