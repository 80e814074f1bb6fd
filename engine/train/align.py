"""Token durations of another engine's (or a person's) audio, by alignment to a Kokoro render.

A teacher without a Kokoro plan (Pico, MBROLA, a recording) says the same phonemes in its own
timing. A Kokoro render of the same tokens has known token boundaries (its plan's durations);
dynamic time warping of the two on speaker-normalised spectra (MFCC 1-20 from a 40-band log-mel
of 60-7,600 Hz, the band every teacher has, each coefficient normalised over the utterance) maps
those boundaries onto the teacher's audio (`teacher_durations`). Between two Kokoro voices at
different speeds, whose true durations are known, the boundaries land 0.7 frames from the truth on
average (docs/accent.md, "German against the engines").

`measure_forced_rhythm` is the probe that used it: Kokoro voices rendered with Pico's German
durations forced, against their own, on the accent meter's German sentences (not kept: the forced
rhythm lost words). numpy only, apart from the probe (torch twin, meters).
"""

from __future__ import annotations

import numpy as np

from .. import SAMPLE_RATE
from .spectral import mel_filterbank, stft_magnitude

FRAME = 600
"""Samples per Kokoro frame (25 ms at 24 kHz)."""
HOP = FRAME // 2
"""The alignment's hop: two steps per Kokoro frame."""


def features(audio: np.ndarray) -> np.ndarray:
    """24 kHz audio -> (steps, 20) MFCC 1-20, each normalised over the utterance."""
    bank = mel_filterbank(n_fft=1024, n_mels=40, sample_rate=SAMPLE_RATE, fmin=60.0, fmax=7600.0)  # (40, bins)
    log_mel = np.log(np.maximum(stft_magnitude(audio, n_fft=1024, hop=HOP) @ bank.T, 1e-5))  # (steps, 40)
    n = log_mel.shape[1]
    dct = np.cos(np.pi / n * (np.arange(n)[:, None] + 0.5) * np.arange(1, 21)[None, :])  # (40, 20)
    c = log_mel @ dct
    return (c - c.mean(0)) / (c.std(0) + 1e-5)


def dtw_path(a: np.ndarray, b: np.ndarray) -> list[tuple[int, int]]:
    """The cheapest monotonic path from (0, 0) to (len(a) - 1, len(b) - 1), Euclidean costs,
    steps (1, 1), (1, 0), (0, 1)."""
    cost = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))  # (N, M)
    n, m = cost.shape
    total = np.full((n + 1, m + 1), np.inf)
    total[0, 0] = 0.0
    for i in range(1, n + 1):
        above = np.minimum(total[i - 1, :-1], total[i - 1, 1:])  # diagonal or vertical, for j = 1..m
        row, prev, c = total[i], np.inf, cost[i - 1]
        for j in range(1, m + 1):
            prev = row[j] = c[j - 1] + min(above[j - 1], prev)
    i, j, path = n, m, []
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        step = int(np.argmin([total[i - 1, j - 1], total[i - 1, j], total[i, j - 1]]))
        i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
    return path[::-1]


def teacher_durations(guide_durations: np.ndarray, guide_audio: np.ndarray, teacher_audio: np.ndarray) -> np.ndarray:
    """The guide's token durations (frames, pads included) moved onto the teacher's audio: int64
    (T,), summing to the teacher's length in frames (rounded)."""
    a, b = features(guide_audio), features(teacher_audio)
    first: dict[int, int] = {}
    for g, t in dtw_path(a, b):
        first.setdefault(g, t)  # the first teacher step each guide step meets
    inner = np.cumsum(np.asarray(guide_durations, dtype=np.int64))[:-1] * 2  # token boundaries, in steps
    steps = [0] + [first.get(min(int(x), len(a) - 1), len(b)) for x in inner]
    frames = np.maximum.accumulate(np.round(np.asarray(steps, dtype=np.float64) / 2).astype(np.int64))
    end = max(int(round(len(teacher_audio) / FRAME)), int(frames[-1]))
    return np.diff(np.append(frames, end))


def measure_forced_rhythm(voices=("ef_dora", "jm_kumo"), guide: str = "ef_dora", sentences: int = 6) -> dict:
    """The probe: each voice rendered with Pico's German durations forced (aligned through a
    render of `guide`) and with its own, the same path otherwise (the torch twin's planner, the
    runtime's int8 renderer), measured by the accent meter. Prints and returns the means.

        PYTHONPATH=. python -c "from engine.train.align import measure_forced_rhythm as m; m()"
    """
    import torch
    from scipy.signal import resample_poly

    from ..evaluation.accent import sentences as meter_sentences
    from ..evaluation.accent_meters import OfflineMeters
    from ..locales import get_locale
    from ..model_store import default_cache_dir, read_stock_model
    from ..runtime import PlannerOutput
    from ..synth import Engine
    from .convert import load_from_onnx
    from .data import Phonemizer, Teacher, external_audio

    engine = Engine()
    runtime, library = engine.runtime, engine.voice_library
    phonemize = Phonemizer(get_locale("de-DE"))
    model = load_from_onnx(read_stock_model()).eval()
    meters = OfflineMeters(default_cache_dir(), threads=2)
    pico = Teacher("pico", "de-DE", 1.0)
    results: dict[str, dict[str, list[dict]]] = {}
    for text in meter_sentences("de-DE", sentences):
        _, ids = phonemize(text)

        def style(voice):
            return np.array(library.get(voice).style(len(ids)), dtype=np.float32).reshape(1, -1)  # (1, 256)

        planned = runtime.plan(ids, style(guide), 1.0)
        forced = teacher_durations(planned.durations, runtime.render_planned(planned, style(guide)), external_audio(pico, text))
        for voice in voices:
            for kind, durations in (("own", None), ("pico", torch.from_numpy(forced)[None])):
                with torch.no_grad():
                    p = model.plan(torch.tensor([[0, *ids, 0]]), torch.from_numpy(style(voice)), 1.0, durations=durations)
                plan = PlannerOutput(durations=p.durations[0].numpy().astype(np.int64), features=p.asr.numpy(),
                                     f0=p.f0.numpy(), energy=p.energy.numpy())
                audio = resample_poly(runtime.render_planned(plan, style(voice)), 2, 3).astype(np.float32)
                record = meters(audio, "de-DE", text)
                results.setdefault(voice, {}).setdefault(kind, []).append(record)
                print(f"{voice} {kind:4} target {record['target']:.2f} WER {record['wer']:.2f}: {record.get('heard', '')}",
                      flush=True)
    means = {v: {k: {m: float(np.mean([r[m] for r in recs])) for m in ("target", "wer")} for k, recs in kinds.items()}
             for v, kinds in results.items()}
    for voice, kinds in means.items():
        print(f"{voice}: " + "; ".join(f"{k} durations: target {m['target']:.2f}, WER {m['wer']:.3f}" for k, m in kinds.items()))
    return means
