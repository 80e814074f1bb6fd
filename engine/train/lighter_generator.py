"""A probe of issue #11's next step: the vocoder's last stage with one residual block, not three.

The generator's stage after its second upsampling runs at 4,800 steps a second and averages three
residual blocks (kernels 3, 7 and 11: `resblocks.3-5`, 40% of the renderer's kernel time with the
noise block beside them, docs/latency.md). A student keeps only `resblocks.3`, trained locally to
give what the three give on average, on the stage's own inputs recorded from the torch twin
speaking training sentences in several voices; measured on other sentences and voices: the whole
render's log-mel distance to the teacher's (the int8 renderer sits about 0.15-0.2 from the float
twin) and both generators' time on 2 CPU threads.

    PYTHONPATH=. python -c "from engine.train.lighter_generator import measure_lighter_generator as m; m()"

torch only (the `train` extra); nothing here is on the runtime path.
"""

from __future__ import annotations

import copy
import time

import numpy as np

TRAIN_VOICES = ("af_bella", "am_michael", "bf_isabella", "bm_lewis", "ff_siwis", "im_nicola", "jf_alpha", "em_alex")
TEST_VOICES = ("af_heart", "bm_george", "ef_dora", "if_sara")
TRAIN_TEXTS = (
    ("en-US", "Open the file menu and choose save as to keep a copy."),
    ("en-US", "The meeting starts at ten, so please be on time."),
    ("en-US", "Press the space bar to play or pause the video."),
    ("en-US", "Your download is complete and the folder is ready."),
    ("it-IT", "Il treno per Milano parte dal binario tre."),
    ("fr-FR", "La réunion commence à dix heures précises."),
)
TEST_TEXTS = (
    ("en-US", "Screen readers need speech that starts at once, every time."),
    ("en-US", "The library opens at nine, but the reading room stays closed until noon."),
    ("de-DE", "Drücken Sie zweimal die Taste, um die Datei zu speichern."),
)
"""(locale, sentence) pairs: the locale's phonemes are what the voices read."""


def _generator_inputs(model, library, phonemize, text, voice):
    """What the decoder hands the generator for `voice` speaking `text`: x (1, C, 2F), s (1, 128), f0 (1, 2F)."""
    import torch

    _, ids = phonemize(text)
    style = torch.from_numpy(np.array(library.get(voice).style(len(ids)), dtype=np.float32)).reshape(1, -1)
    with torch.no_grad():
        p = model.plan(torch.tensor([[0, *ids, 0]]), style)
        captured = {}
        gen = model.decoder.generator
        hook = gen.register_forward_pre_hook(lambda m, args: captured.update(x=args[0], s=args[1], f0=args[2]))
        try:
            model.render(p.asr, p.f0, p.energy, style)
        finally:
            hook.remove()
    return captured["x"], captured["s"], captured["f0"]


def _spectral_loss(a, b):
    """Multi-resolution L1 of log STFT magnitudes, (B, N) audio each."""
    import torch

    total = 0.0
    for n_fft in (256, 512, 1024, 2048):
        window = torch.hann_window(n_fft)
        sa = torch.stft(a, n_fft, n_fft // 4, window=window, return_complex=True).abs()
        sb = torch.stft(b, n_fft, n_fft // 4, window=window, return_complex=True).abs()
        total = total + torch.mean(torch.abs(torch.log(sa + 1e-5) - torch.log(sb + 1e-5)))
    return total / 4


def measure_lighter_generator(steps: int = 300, crop: int = 4800, seed: int = 0, threads: int = 2,
                              loss: str = "features") -> dict:
    """Train the one-block last stage (see the module), then measure it; prints and returns the
    figures. `loss`: "features" (L1 on the stage's output) or "audio" (multi-resolution log-STFT
    L1 of the audio the generator's head makes of it, against the teacher's)."""
    import torch
    import torch.nn.functional as F

    from ..locales import get_locale
    from ..model_store import read_stock_model
    from ..voices import VoiceLibrary
    from .convert import load_from_onnx
    from .data import Phonemizer
    from .spectral import log_mel_distance

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    model = load_from_onnx(read_stock_model()).eval()
    model.requires_grad_(False)
    gen = model.decoder.generator
    library = VoiceLibrary()
    last = (gen.num_upsamples - 1) * gen.num_kernels
    teacher_blocks = [gen.resblocks[last + j] for j in range(gen.num_kernels)]

    def stage_example(x, s, f0):
        """The last stage's input, style and three-block output for generator inputs."""
        seen = {}

        def catch(x_stage, s_stage):
            out = sum(b(x_stage, s_stage) for b in teacher_blocks) / len(teacher_blocks)
            seen.update(x=x_stage, s=s_stage, out=out)
            return out

        with torch.no_grad():
            gen(x, s, f0, last_stage=catch)
        return seen["x"], seen["s"], seen["out"]

    phonemizers = {tag: Phonemizer(get_locale(tag)) for tag in {t for t, _ in TRAIN_TEXTS + TEST_TEXTS}}
    started = time.perf_counter()
    examples = []
    for k, (tag, text) in enumerate(TRAIN_TEXTS):
        for voice in TRAIN_VOICES[k % 2::2]:
            examples.append(stage_example(*_generator_inputs(model, library, phonemizers[tag], text, voice)))
    print(f"recorded {len(examples)} utterances' last-stage inputs in {time.perf_counter() - started:.0f} s", flush=True)

    student = copy.deepcopy(teacher_blocks[0]).train()
    student.requires_grad_(True)
    optimizer = torch.optim.Adam(student.parameters(), lr=3e-4)
    rng = np.random.default_rng(seed)
    for step in range(1, steps + 1):
        xs, ss, target = examples[int(rng.integers(len(examples)))]
        start = int(rng.integers(max(1, xs.shape[-1] - crop)))
        window = slice(start, start + crop)
        out = student(xs[..., window], ss)
        if loss == "features":
            value = F.l1_loss(out, target[..., window])
        else:
            with torch.no_grad():
                wanted = gen.head(target[..., window])
            value = _spectral_loss(gen.head(out), wanted)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        if step == 1 or step % 50 == 0:
            print(f"step {step}/{steps}: {loss} loss {value.item():.4f} ({time.perf_counter() - started:.0f} s)", flush=True)
    student.eval()

    rows = []
    for tag, text in TEST_TEXTS:
        for voice in TEST_VOICES:
            x, s, f0 = _generator_inputs(model, library, phonemizers[tag], text, voice)
            with torch.no_grad():
                timed = {}
                for name, stage in (("teacher", None), ("one block, untrained", teacher_blocks[0]), ("one block, trained", student)):
                    t = time.perf_counter()
                    audio = gen(x, s, f0, last_stage=stage)[0].numpy()
                    timed[name] = (audio, time.perf_counter() - t)
            teacher = timed["teacher"][0]
            row = {"text": text, "voice": voice}
            for name, (audio, seconds) in timed.items():
                row[name] = {"log_mel": log_mel_distance(audio, teacher), "seconds": seconds}
            rows.append(row)
            print(f"{voice} {text[:30]!r}: " + "; ".join(f"{n} {v['log_mel']:.2f} ({v['seconds'] * 1000:.0f} ms)"
                                                         for n, v in row.items() if isinstance(v, dict)), flush=True)
    summary = {name: {"log_mel": float(np.mean([r[name]["log_mel"] for r in rows])),
                      "time_ratio": float(np.median([r[name]["seconds"] / r["teacher"]["seconds"] for r in rows]))}
               for name in ("teacher", "one block, untrained", "one block, trained")}
    for name, v in summary.items():
        print(f"{name:22} log-mel to the teacher {v['log_mel']:.3f}, generator time {v['time_ratio']:.2f}x")
    return summary
