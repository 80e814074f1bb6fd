"""`echoic train adapter --locale L`: train a locale's LoRA adapter on the torch twin of Kokoro.

What is learnt (issue #18): voice X speaking locale L with L's adapter should sound like L's
natives and still like X. The teacher is a native pack speaking the utterance (the training data of
`echoic train data`, docs/training.md); the student is X speaking the *same* tokens with the
teacher's durations forced, so student and teacher frames align one to one. Per step, for one
(utterance, voice X):

- **content** (native phone realisation): the decoder's frame-rate output (the 512 x 2F features
  the iSTFT generator turns into sound) of the student against the teacher's, each normalised per
  channel over the utterance (mean 0, std 1). The decoder's style conditioning is per-channel affine
  (AdaIN), so this normalisation removes most of what the timbre sets and keeps how each phone is
  realised in time; nothing rewards copying the teacher's timbre. Measured before training
  (fr-FR and en-US, /tmp probes summarised in docs/training.md): natives of a locale score 0.31-0.34
  against one another, voices of other locales 0.39-0.53, so the distance does measure accent.
  It is also 5-10x cheaper than a log-mel loss through the generator (a 2 s utterance: about 3 s
  for a step against 30 s on the 2-core machine), which is what lets training fit on a CPU.
- **duration**: the student's predicted log-durations against the teacher's;
- **pitch contour**: z-normalised log-F0 (speaker-normalised prosody) on the teacher's voiced steps;
- **energy**: the planner's energy contour held to X's own unadapted one (loudness is the voice's);
- **identity**: the per-channel mean and standard deviation of the student's decoder features, and
  its log-F0 mean and spread, equal to X's own *unadapted* rendering of the same tokens (the base
  model, X's style, the same durations). The renderer's generator keeps X's timbre conditioning
  untouched (no adapter reaches it), so X's voice quality is held there too.
- **style dropout**: with probability `drop_style` the planner gets the learnt `null_style` instead of
  X's prosody half, and its pitch level is then held to the teacher's (the locale's native average)
  instead of X's: the unconditional branch the runtime's guidance mixes with (`u + w (c - u)`).

The meters of acceptance (Whisper-base, Resemblyzer, the voicefilter d-vector) are never used here.

Training resumes: the checkpoint (LoRA weights, null style, optimiser, step, loss history) is written
atomically every `checkpoint_every` steps; sampling is a pure function of (seed, step), so a resumed
run takes the same steps an uninterrupted one would. The adapter file (format 1,
`engine.train.lora.save_adapter`) is written atomically at the end, with the training metadata.

torch and peft are imported lazily (the `train` extra); nothing here is on the runtime path.
"""

from __future__ import annotations

import io
import json
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from ..atomic_write import write_atomically
from ..errors import ConfigError

HELD_OUT_VOICES = ("af_heart", "bf_emma", "if_sara", "jm_kumo")
"""Never trained on: the voices the accent meter's adapter rows use (docs/accent.md)."""
LOSS_NAMES = ("content", "duration", "pitch", "identity", "energy")
CHECKPOINT_FORMAT = 1
PITCH_LEVEL_WEIGHT = 30.0
ENERGY_SCALE = 4.0
"""Energy difference (the planner's units) that costs 1 in the energy term."""
"""Scale of the log-F0 mean / spread part of the identity term: 10% off in pitch costs about 0.27."""


@dataclass(frozen=True)
class AdapterTrainingConfig:
    locale: str
    """Locale tag whose adapter is trained (the dataset's locale must be the same)."""
    data_dir: Path
    """A dataset of `echoic train data` (dataset.json + manifest.jsonl)."""
    steps: int = 300
    """Total optimiser steps (a resumed run continues up to this many)."""
    rank: int = 4
    """LoRA rank. 4, not the contract's example 8: rank 8 on the 30 reachable targets makes a
    1.45 MB file (measured), rank 4 about 0.73 MB."""
    alpha: float = 8.0
    """peft's scaling is alpha / rank (2 here, as 16 / 8)."""
    lr: float = 1e-3
    drop_style: float = 0.2
    """Probability of replacing the voice's prosody half with the learnt null style."""
    batch: int = 1
    """(utterance, voice) pairs per step (gradients accumulated)."""
    max_frames: int = 200
    """Utterances longer than this many frames (80 per second) are skipped: short ones train faster."""
    voices: tuple[str, ...] = ()
    """Student voices; empty: every bundled voice except HELD_OUT_VOICES."""
    targets: tuple[str, ...] = ()
    """Module paths or regexes (full match) of the modules to adapt, within the runtime's
    `DEFAULT_TARGETS`; empty: all of them that the objective reaches (`adapter_targets`)."""
    held_out: tuple[str, ...] = HELD_OUT_VOICES
    weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0)
    """Loss weights, in the order of LOSS_NAMES."""
    seed: int = 0
    checkpoint_every: int = 10
    device: str = "auto"
    """"auto" (a GPU when torch sees one), "cpu" or "cuda"."""
    threads: int = 2

    def __post_init__(self):
        if self.steps < 1:
            raise ConfigError(f"steps must be at least 1, got {self.steps}")
        if self.rank < 1:
            raise ConfigError(f"rank must be at least 1, got {self.rank}")
        if not 0.0 <= self.drop_style < 1.0:
            raise ConfigError(f"drop_style must lie in [0, 1), got {self.drop_style}")
        if self.batch < 1 or self.checkpoint_every < 1 or self.max_frames < 4:
            raise ConfigError(f"batch {self.batch}, checkpoint_every {self.checkpoint_every} and "
                              f"max_frames {self.max_frames} must be positive (max_frames >= 4)")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if len(self.weights) != len(LOSS_NAMES) or any(w < 0 for w in self.weights):
            raise ConfigError(f"weights must be {len(LOSS_NAMES)} non-negative numbers, got {self.weights}")

    def identity(self) -> dict:
        """What a checkpoint must agree on to be resumed (everything that shapes the steps)."""
        d = asdict(self)
        for k in ("steps", "checkpoint_every", "device", "threads", "data_dir"):
            d.pop(k)
        d["voices"], d["held_out"], d["weights"] = list(self.voices), list(self.held_out), list(self.weights)
        d.pop("targets")
        if self.targets:  # checkpoints from before the option stay resumable
            d["targets"] = list(self.targets)
        return d


# --- the dataset (contract: docs/training.md, `echoic train data`) ------------------------------

@dataclass
class Utterance:
    id: str
    tokens: list[int]
    """Kokoro token ids with the two pads: [0, *ids, 0]."""
    durations: np.ndarray
    """int64 (T,): the teacher's frames per token, pads included."""
    f0: np.ndarray
    """float32 (2F,): the teacher's pitch in Hz."""
    energy: np.ndarray
    """float32 (2F,)."""
    teacher: str
    """The teacher's voice id (a bundled Kokoro pack)."""
    weight: float

    @property
    def frames(self) -> int:
        return int(self.durations.sum())


@dataclass
class Dataset:
    locale: str
    utterances: list[Utterance]
    skipped: dict[str, int] = field(default_factory=dict)
    """Why utterances were left out, with counts (non-Kokoro teachers have no plan to align to)."""
    info: dict = field(default_factory=dict)
    """dataset.json as read."""


def read_dataset(data_dir: Path, locale: str, max_frames: int = 200, split: str = "train") -> Dataset:
    """The training utterances of a dataset; a malformed entry is an error naming the file and line."""
    data_dir = Path(data_dir)
    info_path, manifest = data_dir / "dataset.json", data_dir / "manifest.jsonl"
    if not info_path.exists() or not manifest.exists():
        raise ConfigError(f"{data_dir} is not a training dataset (no dataset.json / manifest.jsonl): "
                          f"make one with `echoic train data --locale {locale} --out {data_dir}`")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    if info.get("format") != 1 or info.get("locale") != locale:
        raise ConfigError(f"{info_path}: format {info.get('format')!r}, locale {info.get('locale')!r}; "
                          f"expected format 1 for {locale}")
    out, skipped = [], {}
    for n, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if entry.get("split", "train") != split:
                continue
            teacher = str(entry["teacher"])
            if not teacher.startswith("kokoro:") or not entry.get("plan"):
                skipped["no Kokoro plan (teacher %s)" % teacher.split(":")[0]] = skipped.get(
                    "no Kokoro plan (teacher %s)" % teacher.split(":")[0], 0) + 1
                continue
            with np.load(data_dir / entry["plan"], allow_pickle=False) as plan:
                durations = np.asarray(plan["durations"]).reshape(-1).astype(np.int64)
                f0 = np.asarray(plan["f0"], dtype=np.float32).reshape(-1)
                energy = np.asarray(plan["energy"], dtype=np.float32).reshape(-1)
            ids = [int(i) for i in entry["ids"]]
            weight = float(entry.get("weight", 1.0))
        except (KeyError, TypeError, ValueError, OSError) as exc:
            raise ConfigError(f"{manifest}:{n}: bad entry ({type(exc).__name__}: {exc})") from exc
        if len(durations) != len(ids) + 2 or f0.shape != (2 * durations.sum(),) or energy.shape != f0.shape \
                or durations.min() < 1 or not np.isfinite(f0).all() or not weight >= 0:
            raise ConfigError(f"{manifest}:{n}: plan {entry['plan']} does not fit {len(ids)} ids "
                              f"(durations {durations.shape}, f0 {f0.shape}, weight {weight})")
        if durations.sum() > max_frames:
            skipped[f"longer than {max_frames} frames"] = skipped.get(f"longer than {max_frames} frames", 0) + 1
            continue
        out.append(Utterance(str(entry["id"]), [0, *ids, 0], durations, f0, energy, teacher.split(":", 1)[1], weight))
    if not out:
        raise ConfigError(f"{manifest}: no usable {split} utterance with a Kokoro teacher under {max_frames} "
                          f"frames (skipped: {skipped or 'none'})")
    return Dataset(locale, out, skipped, info)


def build_plans(locale: str, out: Path, progress: Callable[[str], None] = lambda line: None) -> int:
    """A plans-only dataset in the manifest format (`"wav": null`): the sentence pool, phonemes,
    splits, ids and weights of `echoic train data` (engine/train/data.py), each sentence planned by
    every Kokoro teacher of the locale with the runtime's planner, and no audio. The trainer reads
    only the plans, and rendering audio is about 95% of the full build's time. Returns the number
    of utterances; existing plans are kept (resumable)."""
    from ..locales import get_locale
    from ..model_store import ensure_model
    from ..runtime import KokoroRuntime, RuntimeConfig
    from ..voices import VoiceLibrary
    from . import data as D

    loc = get_locale(locale)
    teachers = tuple(t for t in D.teachers_for(loc.tag) if t.kind == "kokoro")
    if not teachers:
        raise ConfigError(f"{loc.tag} has no Kokoro teacher: build its data with `echoic train data --locale {loc.tag}`")
    out = Path(out)
    (out / "plans").mkdir(parents=True, exist_ok=True)
    runtime, library, phonemize = KokoroRuntime(ensure_model(), RuntimeConfig(threads=2)), VoiceLibrary(), D.Phonemizer(loc)
    entries, pool = [], D.sentence_pool(loc.language)
    for n, sentence in enumerate(pool, 1):
        phonemes, ids = phonemize(sentence.text)
        if not ids or len(ids) > D.MAX_IDS:
            continue
        for teacher in teachers:
            uid = D.utterance_id(loc.tag, teacher, sentence.text)
            rel = f"plans/{uid}.npz"
            if not (out / rel).exists():
                plan = runtime.plan(ids, library.get(teacher.voice).style(len(ids)), 1.0)
                buf = io.BytesIO()
                np.savez(buf, durations=plan.durations.astype(np.int64), f0=plan.f0.reshape(-1).astype(np.float32),
                         energy=plan.energy.reshape(-1).astype(np.float32))
                write_atomically(out / rel, buf.getvalue())
            entries.append({"id": uid, "text": sentence.text, "phonemes": phonemes, "ids": ids, "teacher": teacher.name,
                            "wav": None, "plan": rel, "split": "heldout" if D.is_heldout(sentence.text) else "train",
                            "weight": 1.0, "source": sentence.source})
        if n % 20 == 0:
            progress(f"planned {n}/{len(pool)} sentences")
    D.set_weights(entries, teachers)
    write_atomically(out / "manifest.jsonl",
                     "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries).encode("utf-8"))
    write_atomically(out / "dataset.json", json.dumps({
        "format": 1, "locale": loc.tag, "teachers": [t.name for t in teachers], "counts": {"utterances": len(entries)},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "plans_only": True}).encode("utf-8"))
    return len(entries)


# --- the trainer ------------------------------------------------------------------------------

def adapter_targets(model, targets) -> list[str]:
    """Module paths of `model` matching the runtime's targets (a regex, or a list of paths/regexes)
    that the training objective reaches and should: not the generator (it lies after the content
    features, so its maps would stay at their initial zero and only bloat the file), and not the
    energy predictor (`predictor.N`: loudness belongs to the voice, and adapting it muted the first
    word of every sentence, docs/training.md)."""
    patterns = [targets] if isinstance(targets, str) else list(targets)
    names = [n for n, _ in model.named_modules() if n and any(re.fullmatch(p, n) for p in patterns)]
    return [n for n in names if not n.startswith(("decoder.generator", "predictor.N."))]


def _znorm(x, dim: int, eps: float = 1e-4):
    return (x - x.mean(dim, keepdim=True)) / (x.std(dim, keepdim=True) + eps)


def decoder_features(model, asr, f0, energy, timbre):
    """The decoder's frame-rate blocks: asr (1, 512, F), f0 and energy (1, 2F), timbre (1, 128) ->
    the generator's input (1, 512, 2F). The same computation as `Decoder.forward` up to the generator."""
    import torch

    dec = model.decoder
    f0c, nc = dec.F0_conv(f0.unsqueeze(1)), dec.N_conv(energy.unsqueeze(1))  # (1, 1, F)
    x = dec.encode(torch.cat([asr, f0c, nc], dim=1), timbre)
    residual = dec.asr_res(asr)
    for block in dec.decode:
        x = block(torch.cat([x, residual, f0c, nc], dim=1), timbre)
        if block.upsample:
            break
    return x


def _log_f0_stats(f0, voiced):
    import torch

    lf = torch.log(f0.clamp(min=20.0))[voiced]
    return lf.mean(), lf.std()


class AdapterTrainer:
    """One locale's adapter training on a base `KModel`; `step()` runs one optimiser step."""

    def __init__(self, config: AdapterTrainingConfig, dataset: Dataset, model=None, library=None):
        import torch

        from . import lora
        from ..voices import VoiceLibrary

        self.config = config
        torch.set_num_threads(config.threads)
        self.device = torch.device("cuda" if config.device == "cuda" or (
            config.device == "auto" and torch.cuda.is_available()) else "cpu")
        if dataset.locale != config.locale:
            raise ConfigError(f"dataset is for {dataset.locale}, training {config.locale}")
        self.dataset = dataset
        self.library = library or VoiceLibrary()
        if model is None:
            from .. import model_store
            from .convert import load_from_onnx

            model = load_from_onnx(model_store.read_stock_model())
        model = model.to(self.device).eval()  # eval: the text encoder's dropout off, deterministic
        model.requires_grad_(False)
        self.targets = adapter_targets(model, lora.DEFAULT_TARGETS)
        if config.targets:
            chosen = set(adapter_targets(model, config.targets))
            self.targets = [t for t in self.targets if t in chosen]
        if not self.targets:
            raise ConfigError(f"no module of the model matches the adapter targets "
                              f"{list(config.targets or lora.DEFAULT_TARGETS)!r}")
        torch.manual_seed(config.seed)  # peft draws lora_A from the global generator: same seed, same start
        self.peft = lora.attach_lora(model, rank=config.rank, alpha=config.alpha, targets=self.targets,
                                     init="zero", seed=config.seed)
        self.model = model  # peft injects its layers in place: the KModel now runs the adapter
        self.cache_bert = not any(t.startswith("bert.") for t in self.targets)  # ALBERT itself not adapted
        voices = config.voices or tuple(v.id for v in self.library.list() if v.id not in config.held_out)
        for v in voices:
            self.library.get(v)  # unknown ids fail here
        self.voices = tuple(voices)
        teachers = {u.teacher for u in dataset.utterances}
        for t in teachers:
            self.library.get(t)
        native = [self.library.get(v.id).pack for v in self.library.native(config.locale)] or \
                 [self.library.get(t).pack for t in sorted(teachers)]
        init = np.mean([p[:, 128:].mean(axis=0) for p in native], axis=0).astype(np.float32)
        self.null_style = torch.nn.Parameter(torch.from_numpy(init).to(self.device))  # (128,)
        self.parameters = [p for _, p in self._lora_parameters()] + [self.null_style]
        self.optimizer = torch.optim.Adam(self.parameters, lr=config.lr)
        self.step_count = 0
        self.history: list[dict] = []
        self._teacher_cache: dict[str, tuple] = {}
        self._reference_cache: dict[tuple[str, str], tuple] = {}
        self._bert_cache: dict[str, object] = {}
        weights = np.array([u.weight for u in dataset.utterances], dtype=np.float64)
        if weights.sum() <= 0:
            raise ConfigError("every utterance of the dataset has weight 0")
        self._p = weights / weights.sum()

    def _lora_parameters(self):
        return [(n, p) for n, p in self.peft.named_parameters() if "lora_" in n and p.requires_grad]

    # -- cached targets (no gradient, adapter off) --

    def _style(self, voice: str, n_ids: int):
        import torch

        return torch.from_numpy(np.array(self.library.get(voice).style(n_ids), dtype=np.float32)).to(self.device)

    def _tensors(self, u: Utterance):
        import torch

        from .kokoro_torch import alignment_matrix

        tokens = torch.tensor([u.tokens], device=self.device)
        durations = torch.from_numpy(u.durations).to(self.device)
        return tokens, durations, alignment_matrix(durations).unsqueeze(0)  # (1, T), (T,), (1, T, F)

    def _bert(self, u: Utterance, tokens):
        """The predictor's text input (1, 512, T): ALBERT's output (cached per utterance: no adapter
        reaches ALBERT, and it is the planner's most expensive part) through `bert_encoder`."""
        m = self.model
        if not self.cache_bert:
            return m.bert_encoder(m.bert(tokens)).transpose(1, 2)
        if u.id not in self._bert_cache:
            import torch

            with torch.no_grad():
                self._bert_cache[u.id] = m.bert(tokens)  # (1, T, 768)
        return m.bert_encoder(self._bert_cache[u.id]).transpose(1, 2)

    def _teacher(self, u: Utterance):
        """The teacher's normalised decoder features and voiced mask (its own plan, its timbre)."""
        if u.id not in self._teacher_cache:
            import torch

            tokens, _, aln = self._tensors(u)
            f0 = torch.from_numpy(u.f0).to(self.device)[None]
            energy = torch.from_numpy(u.energy).to(self.device)[None]
            with torch.no_grad(), self.peft.disable_adapter():
                asr = self.model.text_encoder(tokens) @ aln
                x = decoder_features(self.model, asr, f0, energy, self._style(u.teacher, len(u.tokens) - 2)[:, :128])
            voiced = f0[0] > 10.0
            self._teacher_cache[u.id] = (_znorm(x, 2), voiced, *_log_f0_stats(f0[0], voiced))
        return self._teacher_cache[u.id]

    def _student(self, u: Utterance, voice: str, prosody):
        """The model (adapter as it is now) speaking `u` as `voice` with `prosody` as the planner's
        style half: predicted durations (T,), f0 (2F,), energy (2F,), decoder features (1, 512, 2F)."""
        tokens, durations, aln = self._tensors(u)
        m = self.model
        d = m.predictor.text_encoder(self._bert(u, tokens), prosody)  # (1, T, 640)
        predicted = m.predictor.durations(d, 1.0)[0]  # (T,)
        f0, energy = m.predictor.F0Ntrain(d.transpose(1, 2) @ aln, prosody)  # (1, 2F) each
        asr = m.text_encoder(tokens) @ aln  # (1, 512, F)
        x = decoder_features(m, asr, f0, energy, self._style(voice, len(u.tokens) - 2)[:, :128])
        return predicted, f0[0], energy[0], x

    def _reference(self, u: Utterance, voice: str):
        """X's own unadapted rendering of `u` (teacher durations): per-channel mean/std, log-F0 stats."""
        key = (u.id, voice)
        if key not in self._reference_cache:
            import torch

            with torch.no_grad(), self.peft.disable_adapter():
                _, f0, energy, x = self._student(u, voice, self._style(voice, len(u.tokens) - 2)[:, 128:])
            voiced = self._teacher(u)[1]
            self._reference_cache[key] = (x.mean(2), x.std(2), *_log_f0_stats(f0, voiced), energy)
        return self._reference_cache[key]

    # -- the objective --

    def losses(self, u: Utterance, voice: str, drop: bool) -> dict:
        """The four loss terms (tensors) for one (utterance, voice); `drop`: the null-style branch."""
        import torch

        teacher_z, voiced, t_mean, t_std = self._teacher(u)
        ref_mu, ref_sd, x_mean, x_std, ref_energy = self._reference(u, voice)
        prosody = self.null_style[None] if drop else self._style(voice, len(u.tokens) - 2)[:, 128:]
        predicted, f0, energy, x = self._student(u, voice, prosody)
        target_durations = torch.from_numpy(u.durations).to(self.device).float()
        inner = slice(1, -1)  # the pads' durations are the model's business, not the accent's
        duration = torch.mean((torch.log(predicted[inner].clamp(min=0.5)) - torch.log(target_durations[inner])) ** 2)
        lf = torch.log(f0.clamp(min=20.0))[voiced]
        lt = torch.log(torch.from_numpy(u.f0).to(self.device).clamp(min=20.0))[voiced]
        pitch = torch.mean((_znorm(lf, 0) - _znorm(lt, 0)) ** 2) if voiced.sum() > 2 else f0.sum() * 0
        content = torch.mean(torch.abs(_znorm(x, 2) - teacher_z))
        mu, sd = x.mean(2), x.std(2)
        scale = ref_sd + 1e-3
        level_mean, level_std = (t_mean, t_std) if drop else (x_mean, x_std)
        identity = torch.mean(torch.abs(mu - ref_mu) / scale) + torch.mean(torch.abs(sd - ref_sd) / scale) \
            + PITCH_LEVEL_WEIGHT * ((lf.mean() - level_mean) ** 2 + (lf.std() - level_std) ** 2)
        # Loudness is the voice's own: the energy contour held to X's unadapted one (in the
        # planner's units, about -10 for silence to +9; ENERGY_SCALE is a typical swing within
        # speech). An adapter free to move it learnt the teacher's slow onsets and muted a
        # sentence's first word, which the content term, normalised per channel, does not see.
        loudness = torch.mean(torch.abs(energy - ref_energy)) / ENERGY_SCALE
        return {"content": content, "duration": duration, "pitch": pitch, "identity": identity, "energy": loudness}

    def _draw(self, step: int, k: int) -> tuple[Utterance, str, bool]:
        """What pair k of step `step` trains on: a pure function of (seed, step, k), so resuming
        replays exactly the steps an uninterrupted run takes."""
        rng = np.random.default_rng([self.config.seed, step, k])
        u = self.dataset.utterances[int(rng.choice(len(self._p), p=self._p))]
        voice = self.voices[int(rng.integers(len(self.voices)))]
        return u, voice, bool(rng.random() < self.config.drop_style)

    def step(self) -> dict:
        """One optimiser step; returns the step's mean loss terms and total (floats)."""
        import torch

        self.optimizer.zero_grad(set_to_none=True)
        totals = dict.fromkeys((*LOSS_NAMES, "total"), 0.0)
        pairs = []
        for k in range(self.config.batch):
            u, voice, drop = self._draw(self.step_count, k)
            terms = self.losses(u, voice, drop)
            total = sum(w * terms[n] for w, n in zip(self.config.weights, LOSS_NAMES)) / self.config.batch
            total.backward()
            for n in LOSS_NAMES:
                totals[n] += float(terms[n].detach()) / self.config.batch
            totals["total"] += float(total.detach())
            pairs.append(f"{u.id}:{voice}{'/null' if drop else ''}")
        torch.nn.utils.clip_grad_norm_(self.parameters, 1.0)
        self.optimizer.step()
        self.step_count += 1
        record = {"step": self.step_count, **{k: round(v, 6) for k, v in totals.items()}, "pairs": pairs}
        self.history.append(record)
        return record

    def evaluate(self, pairs: list[tuple[Utterance, str, bool]]) -> dict:
        """Mean loss terms over fixed pairs, no gradient (what a test or a progress line compares)."""
        import torch

        out = dict.fromkeys(LOSS_NAMES, 0.0)
        with torch.no_grad():
            for u, voice, drop in pairs:
                for n, v in self.losses(u, voice, drop).items():
                    out[n] += float(v) / len(pairs)
        out["total"] = sum(w * out[n] for w, n in zip(self.config.weights, LOSS_NAMES))
        return out

    # -- checkpoints and the adapter file --

    def state(self) -> dict:
        return {"format": CHECKPOINT_FORMAT, "config": self.config.identity(), "step": self.step_count,
                "lora": {n: p.detach().cpu().clone() for n, p in self._lora_parameters()},
                "null_style": self.null_style.detach().cpu().clone(),
                "optimizer": self.optimizer.state_dict(), "history": self.history}

    def save_checkpoint(self, path: Path) -> None:
        import torch

        buf = io.BytesIO()
        torch.save(self.state(), buf)
        write_atomically(Path(path), buf.getvalue())

    def load_checkpoint(self, path: Path) -> None:
        """Continue from a checkpoint of the same configuration (anything else is an error)."""
        import torch

        try:
            state = torch.load(io.BytesIO(Path(path).read_bytes()), map_location=self.device, weights_only=True)
        except Exception as exc:  # torch raises a variety of unpickling errors for a broken file
            raise ConfigError(f"checkpoint {path} cannot be read ({exc}); delete it or pass --fresh") from exc
        if state.get("format") != CHECKPOINT_FORMAT or state.get("config") != self.config.identity():
            raise ConfigError(f"checkpoint {path} was made with another configuration "
                              f"({state.get('config')}); delete it or pass --fresh")
        params = dict(self._lora_parameters())
        if set(state["lora"]) != set(params):
            raise ConfigError(f"checkpoint {path} holds other adapter weights; delete it or pass --fresh")
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(state["lora"][n])
            self.null_style.copy_(state["null_style"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step_count = int(state["step"])
        self.history = list(state["history"])

    def write_adapter(self, path: Path, extra: dict | None = None) -> None:
        from . import lora

        first = self.history[: min(20, len(self.history))]
        last = self.history[-min(20, len(self.history)):]
        mean = lambda rows: {n: round(float(np.mean([r[n] for r in rows])), 5) for n in (*LOSS_NAMES, "total")} if rows else {}
        training = {"steps": self.step_count, "losses": {"first_20": mean(first), "last_20": mean(last)},
                    "data": {"dir": str(self.config.data_dir), "utterances": len(self.dataset.utterances),
                             "skipped": self.dataset.skipped, "created": self.dataset.info.get("created"),
                             "teachers": sorted({u.teacher for u in self.dataset.utterances})},
                    "voices": list(self.voices), "held_out": list(self.config.held_out),
                    "objective": "decoder-feature content (per-channel normalised) + log-duration + z log-F0 "
                                 "+ identity (feature and F0 statistics of the unadapted voice) + energy of the unadapted voice; "
                                 "style dropout",
                    "config": self.config.identity(),
                    "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), **(extra or {})}
        lora.save_adapter(self.peft, Path(path), self.config.locale,
                          null_style=self.null_style.detach().cpu().numpy().astype(np.float32), training=training)


def train(config: AdapterTrainingConfig, out: Path, checkpoint: Path, fresh: bool = False,
          progress: Callable[[str], None] = lambda line: None, model=None) -> AdapterTrainer:
    """Train (or resume) up to `config.steps`, checkpointing; write the adapter to `out`."""
    dataset = read_dataset(config.data_dir, config.locale, config.max_frames)
    progress(f"{len(dataset.utterances)} training utterances"
             + (f" (skipped: {', '.join(f'{n} {k}' for k, n in dataset.skipped.items())})" if dataset.skipped else ""))
    trainer = AdapterTrainer(config, dataset, model=model)
    progress(f"{len(trainer.targets)} adapted modules, rank {config.rank}; {len(trainer.voices)} student voices "
             f"(held out: {', '.join(config.held_out)}); device {trainer.device}")
    if checkpoint.exists() and not fresh:
        trainer.load_checkpoint(checkpoint)
        progress(f"resumed from {checkpoint} at step {trainer.step_count}")
    started, first = time.monotonic(), trainer.step_count
    while trainer.step_count < config.steps:
        record = trainer.step()
        done = trainer.step_count - first
        per_step = (time.monotonic() - started) / done
        if trainer.step_count % config.checkpoint_every == 0 or trainer.step_count == config.steps:
            trainer.save_checkpoint(checkpoint)
        window = trainer.history[-20:]
        avg = {n: np.mean([r[n] for r in window]) for n in (*LOSS_NAMES, "total")}
        progress(f"step {trainer.step_count}/{config.steps} total {record['total']:.4f} (last {len(window)}: "
                 + " ".join(f"{n} {avg[n]:.4f}" for n in (*LOSS_NAMES, "total"))
                 + f") {per_step:.2f} s/step, {per_step * (config.steps - trainer.step_count) / 60:.0f} min left")
    seconds = time.monotonic() - started
    trainer.write_adapter(out, {"seconds_per_step": round(seconds / max(1, trainer.step_count - first), 3),
                                "device": str(trainer.device)})
    size = Path(out).stat().st_size
    progress(f"wrote {out} ({size / 1024:.0f} KiB)")
    return trainer


# --- the command ------------------------------------------------------------------------------

def cmd_train_adapter(args) -> int:
    from ..locales import get_locale
    from ..model_store import default_cache_dir

    try:
        import peft  # noqa: F401
        import torch  # noqa: F401
    except ModuleNotFoundError as exc:
        raise SystemExit(f"echoic: training needs the train extra ({exc.name} missing): pip install 'echoic[train]'") from exc
    tag = get_locale(args.locale).tag
    data_dir = Path(args.data) if args.data else default_cache_dir() / "train" / tag
    out = Path(args.out) if args.out else Path(__file__).resolve().parents[1] / "adapters" / f"{tag}.npz"
    checkpoint = Path(args.checkpoint) if args.checkpoint else data_dir / f"adapter-{tag}.ckpt"
    config = AdapterTrainingConfig(
        locale=tag, data_dir=data_dir, steps=args.steps, rank=args.rank, alpha=args.alpha, lr=args.lr,
        drop_style=args.drop_style, batch=args.batch, max_frames=args.max_frames,
        voices=tuple(args.voices or ()), targets=tuple(args.targets or ()), seed=args.seed,
        weights=tuple(args.weights) if args.weights else AdapterTrainingConfig.weights, checkpoint_every=args.checkpoint_every,
        device=args.device, threads=args.threads)
    print(f"echoic train adapter: {tag}, data {data_dir}, checkpoint {checkpoint}, out {out}", file=sys.stderr)
    if args.build_plans and not (data_dir / "dataset.json").exists():
        n = build_plans(tag, data_dir, progress=lambda line: print(line, file=sys.stderr, flush=True))
        print(f"planned {n} utterances into {data_dir}", file=sys.stderr)
    train(config, out, checkpoint, fresh=args.fresh, progress=lambda line: print(line, file=sys.stderr, flush=True))
    return 0


def register(trainings) -> None:
    """Adds `adapter` to the `echoic train` group (engine/commands.py `TRAININGS`); imports no torch."""
    p = trainings.add_parser("adapter", help="train a locale's LoRA adapter (resumable; docs/training.md)")
    p.add_argument("--locale", required=True, help="locale tag, e.g. fr-FR")
    p.add_argument("--data", help="dataset of `echoic train data` (default: the cache's train/<locale>/)")
    p.add_argument("--steps", type=int, default=300, help="total optimiser steps (default 300)")
    p.add_argument("--out", help="adapter file (default: engine/adapters/<locale>.npz)")
    p.add_argument("--checkpoint", help="checkpoint file (default: <data>/adapter-<locale>.ckpt)")
    p.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint and start again")
    p.add_argument("--build-plans", action="store_true",
                   help="no dataset at --data yet: plan one (Kokoro teachers only, no audio; about a minute)")
    p.add_argument("--rank", type=int, default=4, help="LoRA rank (default 4: a file of about 0.73 MB)")
    p.add_argument("--alpha", type=float, default=8.0, help="LoRA alpha (scaling alpha / rank; default 8)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--drop-style", type=float, default=0.2, help="probability of the null style (default 0.2)")
    p.add_argument("--batch", type=int, default=1, help="(utterance, voice) pairs per step")
    p.add_argument("--max-frames", type=int, default=200, help="skip longer utterances (80 frames a second)")
    p.add_argument("--voices", nargs="+", help="student voices (default: all but the held-out ones)")
    p.add_argument("--targets", nargs="+", metavar="REGEX",
                   help="adapt only these modules (paths or regexes, within the default targets; default: all)")
    p.add_argument("--weights", nargs=len(LOSS_NAMES), type=float, metavar="W",
                   help=f"loss weights, in the order {', '.join(LOSS_NAMES)} (default all 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=int, default=10)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=cmd_train_adapter)
