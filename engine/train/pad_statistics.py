"""Pad statistics: rendering a word without the model's pad silence, measured in torch (issue #11).

A word's whole render is more than half pad (15-20 frames of silence either side), and every
renderer norm (58 AdaIN instance norms) normalises over all of it, so a render of the word alone
sounds different (about 1-2 log-mel from the whole render; docs/latency.md). The statistics the
cut render lacks are those of the frames it leaves out, and those frames are silence: this module
measures whether the *pad's* statistics, learnt from other words of the same voice, stand in for
them. Each norm then normalises with

    mean  = (1 - s) * mean(x over its own frames) + s * pad mean
    E[x2] = (1 - s) * E[x2 over its own frames] + s * pad E[x2],   var = E[x2] - mean^2

where s is the share of the whole render's frames that the cut leaves out (the same at every
layer: upsampling scales both). A norm's own frames are the cut's, so the word's part of the
statistics is exact; only the pad's part is borrowed.

    python -m engine.train.pad_statistics --voices af_heart bf_emma

prints, for each word, the log-mel distance of the cut render's kept frames to the whole render:
plain (no pad statistics), with this word's own pad statistics (the best this can do), and with
the pad statistics pooled from the voice's other words (what a daemon could have learnt). torch
only (the `train` extra); the runtime does the same mixing in its onnx renderer (engine/pad_cut.py).
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager

import numpy as np
import torch

from ..bench_latency import PAD_WORDS
from .spectral import log_mel_distance
from .streaming import FRAME_SAMPLES, _normalise, adain_norms

CONTEXT_FRAMES = 3
"""Pad frames kept either side of the word, as in `measure_pad_cut` (docs/latency.md)."""
WORDS = PAD_WORDS
OTHERS = "other words' pad"
"""The row key of the cut rendered with pad statistics pooled from the voice's other words."""

PadStatistics = dict[str, tuple[torch.Tensor, torch.Tensor]]
"""Per AdaIN (module path): (mean, E[x^2]) over the left-out frames, (1, C, 1) each."""


@contextmanager
def recording_pad(decoder, frames: int, start: int, stop: int):
    """Within the block each AdaIN records the mean and E[x^2] of its input over the frames outside
    [start, stop) of a `frames`-frame render (positions scaled to the norm's time axis)."""
    out: PadStatistics = {}
    handles = []
    for name, norm in adain_norms(decoder).items():
        def hook(module, args, name=name):
            x = args[0]
            scale = x.shape[-1] / frames
            keep = torch.zeros(x.shape[-1], dtype=torch.bool)
            keep[int(round(start * scale)):int(round(stop * scale))] = True
            pad = x[..., ~keep]
            out[name] = (pad.mean(-1, keepdim=True).detach(), (pad ** 2).mean(-1, keepdim=True).detach())
        handles.append(norm.register_forward_pre_hook(hook))
    try:
        yield out
    finally:
        for h in handles:
            h.remove()


@contextmanager
def mixed_statistics(decoder, pad: PadStatistics, share: float):
    """Within the block every AdaIN normalises with its own frames' statistics mixed with `pad`'s,
    `share` being the left-out frames' part of the whole (0: the plain norm, exactly)."""
    norms = adain_norms(decoder)
    for name, norm in norms.items():
        pad_mean, pad_m2 = pad[name]

        def forward(x, s, norm=norm, pad_mean=pad_mean, pad_m2=pad_m2):
            mean = (1 - share) * x.mean(-1, keepdim=True) + share * pad_mean
            m2 = (1 - share) * (x ** 2).mean(-1, keepdim=True) + share * pad_m2
            var = (m2 - mean ** 2).clamp(min=0.0)
            gamma, beta = torch.chunk(norm.fc(s).unsqueeze(-1), chunks=2, dim=1)
            return (1 + gamma) * _normalise(x, mean, var) + beta

        norm.forward = forward
    try:
        yield
    finally:
        for norm in norms.values():
            if "forward" in vars(norm):
                del norm.forward  # back to the class's forward


def pooled(statistics: list[PadStatistics]) -> PadStatistics:
    """The mean of several renders' pad statistics, norm by norm."""
    return {name: tuple(torch.stack([s[name][k] for s in statistics]).mean(0) for k in range(2))
            for name in statistics[0]}


class Word:
    """One word planned by the twin, rendered whole (recording its pad statistics), and cut."""

    def __init__(self, model, ids: list[int], style: torch.Tensor, context: int = CONTEXT_FRAMES):
        self.model, self.style = model, style
        with torch.no_grad():
            self.plan = model.plan(torch.tensor([[0, *ids, 0]]), style)
        d = self.plan.durations[0].long().tolist()
        self.frames = sum(d)
        self.start, self.stop = max(0, d[0] - context), self.frames - max(0, d[-1] - context)
        self.context = context
        self.share = 1.0 - (self.stop - self.start) / self.frames
        with torch.no_grad(), recording_pad(model.decoder, self.frames, self.start, self.stop) as pad:
            self.whole = model.render(self.plan.asr, self.plan.f0, self.plan.energy, style)[0].numpy()
        self.pad = pad

    def cut_distance(self, pad: PadStatistics | None) -> float:
        """Log-mel distance of the cut render's kept frames (context dropped) to the whole render's."""
        a, b, p = self.start, self.stop, self.plan
        with torch.no_grad(), (mixed_statistics(self.model.decoder, pad, self.share) if pad else _nothing()):
            cut = self.model.render(p.asr[..., a:b], p.f0[..., 2 * a:2 * b], p.energy[..., 2 * a:2 * b], self.style)
        cut = cut[0].numpy()[self.context * FRAME_SAMPLES:(b - a - self.context) * FRAME_SAMPLES]
        return log_mel_distance(cut, self.whole[(a + self.context) * FRAME_SAMPLES:(b - self.context) * FRAME_SAMPLES])


@contextmanager
def _nothing():
    yield


def _words(voice: str, words, model, engine) -> dict[str, Word]:
    from ..api import SpeechRequest

    rendered = {}
    for text in words:
        ids = [i for s in engine.plan(SpeechRequest(text, voice=voice)).segments for i in s.token_ids[1:-1]]
        style = torch.from_numpy(np.array(engine.voice_library.get(voice).style(len(ids)), dtype=np.float32))
        rendered[text] = Word(model, ids, style)
    return rendered


def measure(voice: str, words=WORDS, model=None, engine=None, say=print, pad_from: str | None = None) -> list[dict]:
    """For each word of `voice`: the cut render plain, with its own pad statistics and with those
    pooled from the other words (and, with `pad_from`, from that other voice's renders of all the
    words). Returns one dict a word."""
    if model is None:
        from .. import model_store
        from .convert import load_from_onnx

        model = load_from_onnx(model_store.read_stock_model()).eval()
    if engine is None:
        from ..synth import Engine

        engine = Engine()
    rendered = _words(voice, words, model, engine)
    borrowed = pooled([w.pad for w in _words(pad_from, words, model, engine).values()]) if pad_from else None
    rows = []
    for text, word in rendered.items():
        others = pooled([w.pad for t, w in rendered.items() if t != text])
        row = {"voice": voice, "word": text, "frames": word.frames, "share": word.share,
               "plain": word.cut_distance(None), "own pad": word.cut_distance(word.pad),
               OTHERS: word.cut_distance(others)}
        line = (f"{voice:10} {text:9} {word.frames:3} frames, {word.share:.0%} left out: plain {row['plain']:.2f}, "
                f"own pad statistics {row['own pad']:.2f}, other words' {row[OTHERS]:.2f}")
        if borrowed is not None:
            key = f"{pad_from}'s pad"
            row[key] = word.cut_distance(borrowed)
            line += f", {key} {row[key]:.2f}"
        say(line)
        rows.append(row)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voices", nargs="+", default=["af_heart"])
    parser.add_argument("--words", nargs="+", default=list(WORDS))
    parser.add_argument("--pad-from", help="also cut with the pad statistics of this other voice's words")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from .. import model_store
    from ..synth import Engine
    from .convert import load_from_onnx

    model, engine = load_from_onnx(model_store.read_stock_model()).eval(), Engine()
    rows = [row for voice in args.voices for row in measure(voice, args.words, model, engine, pad_from=args.pad_from)]
    for voice in args.voices:
        mine = [r for r in rows if r["voice"] == voice]
        print(f"{voice}: medians over {len(mine)} words: plain {np.median([r['plain'] for r in mine]):.2f}, "
              f"own pad {np.median([r['own pad'] for r in mine]):.2f}, "
              f"other words' pad {np.median([r[OTHERS] for r in mine]):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
