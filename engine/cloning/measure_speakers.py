"""Measures the several-speakers check on real speech: one folder of recordings per speaker.

    python -m engine.cloning.measure_speakers FOLDER FOLDER ... [--clips 6] [--seconds 30] [--prompts 150]

From each folder (WAV/FLAC prompts of one speaker, e.g. Debian's asterisk-core-sounds-*-wav) it
builds `--clips` single-speaker recordings of about `--seconds` s (prompts joined with 0.3 s of
silence), and for each pair of folders as many two-speaker recordings (prompts alternating, half
and half, and 80/20). It prints, per kind and method (Resemblyzer, pitch), the distance the check
measured (min / median / max) and how many it calls several speakers, and the thresholds in
RecordingLimits. Folders that are one person in two languages may be passed joined with `+`
(`en_US_f_Allison+es_MX_f_Allison`): they count as one speaker. docs/cloning.md has the results.
"""

from __future__ import annotations

import argparse
import itertools
import random
from pathlib import Path

import numpy as np

from .. import SAMPLE_RATE
from .recording import (RecordingLimits, read_audio, resample, resemblyzer_split, speaker_split_pitch, speech_windows,
                        voice_activity)

GAP = np.zeros(int(0.3 * SAMPLE_RATE), np.float32)


def prompts(spec: str, limit: int = 0) -> list[np.ndarray]:
    """The prompts of at least 1.5 s under the folder(s), mono at 24 kHz: all, or `limit` drawn
    at random (seeded) from them."""
    paths = [path for folder in spec.split("+") for path in sorted(Path(folder).rglob("*"))
             if path.suffix.lower() in (".wav", ".flac") and "silence" not in path.parts]
    random.Random(1).shuffle(paths)
    out = []
    for path in paths:
        frames, rate = read_audio(path)
        if len(frames) >= 1.5 * rate:
            out.append(resample(frames.mean(axis=1), rate, SAMPLE_RATE))
        if limit and len(out) >= limit:
            break
    return out


def build(sources: list[list[np.ndarray]], shares: list[float], seconds: float, rng: random.Random) -> np.ndarray:
    """About `seconds` of prompts, drawn from each source by its share, in random order."""
    parts, total = [], 0.0
    counts = [0.0] * len(sources)
    while total < seconds:
        k = min(range(len(sources)), key=lambda i: counts[i] / shares[i])  # the source most behind its share
        clip = rng.choice(sources[k])
        parts += [clip, GAP]
        counts[k] += len(clip) / SAMPLE_RATE
        total += (len(clip) + len(GAP)) / SAMPLE_RATE
    return np.concatenate(parts)


def measure(audio: np.ndarray, split) -> dict:
    activity = voice_activity(audio, SAMPLE_RATE)
    windows = speech_windows(audio, SAMPLE_RATE, activity)
    result = {"pitch": speaker_split_pitch(windows, SAMPLE_RATE)}
    if split is not None:
        result["resemblyzer"] = split(windows, SAMPLE_RATE)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.cloning.measure_speakers", description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--prompts", type=int, default=150, help="prompts drawn from each speaker (0: all)")
    args = parser.parse_args(argv)
    rng = random.Random(0)
    limits = RecordingLimits()
    split = resemblyzer_split()
    speakers = {Path(spec.split("+")[0]).name: prompts(spec, args.prompts) for spec in args.folders}
    cases: list[tuple[str, str, np.ndarray]] = []
    for name, clips in speakers.items():
        cases += [("one speaker", name, build([clips], [1.0], args.seconds, rng)) for _ in range(args.clips)]
    for (a, ca), (b, cb) in itertools.combinations(speakers.items(), 2):
        for shares, kind in (([0.5, 0.5], "two, 50/50"), ([0.8, 0.2], "two, 80/20")):
            cases += [(kind, f"{a}+{b}", build([ca, cb], shares, args.seconds, rng)) for _ in range(args.clips)]
    thresholds = {"resemblyzer": limits.max_speaker_distance, "pitch": limits.max_pitch_ratio}
    rows: dict[tuple[str, str], list[tuple[float, bool]]] = {}
    for kind, name, audio in cases:
        for method, (distance, share) in measure(audio, split).items():
            several = distance > thresholds[method] and share >= limits.min_minority_share
            rows.setdefault((kind, method), []).append((distance, several))
            print(f"{kind:12} {name:34} {method:11} distance {distance:.3f} minority {share:.2f} "
                  f"{'SEVERAL' if several else 'one'}", flush=True)
    print(f"\n| recordings | method | distance min / median / max | called several speakers |")
    print("|---|---|---|---|")
    for (kind, method), values in rows.items():
        d = np.array([v for v, _ in values])
        print(f"| {kind} | {method} (threshold {thresholds[method]}) | {d.min():.3f} / {np.median(d):.3f} / "
              f"{d.max():.3f} | {sum(s for _, s in values)} of {len(values)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
