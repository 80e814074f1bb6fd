"""Fit a full voice pack to a recording by analysis-by-synthesis through the torch twin (train extra).

    result = fit_voice(audio, sample_rate, transcript, locale, FitConfig(steps=30), checkpoint=path)

How (docs/cloning.md, "Evaluation", has the measured effect):

1. **Start** from the real pack whose speech sounds nearest: each pack renders a short fixed text in
   the locale's language once (int8 ONNX runtime), its Resemblyzer embedding is cached in the echoic
   cache dir, and the pack with the highest cosine to the reference's embedding wins.
2. **Parameterise** the pack in the space of the real packs (engine/cloning/prior.py): per half (timbre columns
   0-127, prosody 128-255) whole-pack PCA coefficients z shared by all 510 length rows, plus a small
   residual row per half. The prior is z ~ N(0, 1) (a penalty on z^2 and on the residual) and a hard
   box: each z stays within 1.1x the largest |z| of any real pack, the residual within 0.5 of the
   real packs' per-column spread. So the result stays a voice.
3. **Losses**, per step on a short crop (`crop_frames` frames of 25 ms) of one text chunk, rendered
   by the torch twin (`engine/train/kokoro_torch.py`: planner with the durations held at the
   starting pack's, renderer on the crop's frames):
   - speaker: 1 - cosine of the crop's Resemblyzer embedding (`speaker.py`, the same numbers as
     Resemblyzer's numpy path) to the reference's;
   - spectral: multi-resolution log-mel statistics (per-band mean and spread over speech frames) of
     the crop against the whole reference's; with a transcript also the L1 distance of the crop's
     log-mel to the reference frames it is aligned with (alignment: the starting pack renders the
     transcript, its 25 ms frames are matched to the reference's by DTW on mean-normalised log-mel);
   - prosody (the planner's half): log-F0 mean and spread of the crop's pitch curve against the
     reference's (pYIN), and with a transcript the speaking rate (planned seconds per phoneme against
     the reference's speech seconds per phoneme);
   - with `cross_locales`, the speaker term again on a crop of another language's `FIT_TEXTS`
     (planned the same way), so that the clone sounds like the reference in those languages too;
   - prior, as above.
   Without a transcript the texts rendered are fixed sentences of the locale's language and the
   aligned and rate terms are left out (Whisper is an acceptance meter: never used for fitting).
4. Adam on (z, residual); a checkpoint (parameters, optimiser state, step, history) is written
   atomically every `checkpoint_every` steps and at the end, and a run given an existing checkpoint
   resumes from it: the crop of step k depends only on (seed, k), so the resumed run is identical.
5. The result's similarity is measured as a user hears it: the int8 ONNX runtime renders the fitting
   text with the fitted pack and Resemblyzer (numpy path) compares it with the reference.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..atomic_write import write_atomically

FRAME_SAMPLES = 600
SAMPLE_RATE = 24000
MAX_CHUNK_IDS = 120
CHECKPOINT_VERSION = 1

FIT_TEXTS = {
    "en": ("The old lighthouse keeper walked along the harbour every evening. "
           "He counted the boats, listened to the gulls, and wrote a few lines in his diary before the lamps were lit."),
    "es": ("El viejo farero paseaba por el puerto todas las tardes. "
           "Contaba los barcos, escuchaba a las gaviotas y escribía unas líneas en su diario antes de encender la lámpara."),
    "fr": ("Le vieux gardien du phare se promenait sur le port chaque soir. "
           "Il comptait les bateaux, écoutait les mouettes et écrivait quelques lignes dans son carnet avant d'allumer la lampe."),
    "it": ("Il vecchio guardiano del faro passeggiava lungo il porto ogni sera. "
           "Contava le barche, ascoltava i gabbiani e scriveva qualche riga nel suo diario prima di accendere la lampada."),
    "de": ("Der alte Leuchtturmwärter ging jeden Abend am Hafen entlang. "
           "Er zählte die Boote, hörte den Möwen zu und schrieb ein paar Zeilen in sein Tagebuch, bevor er die Lampe anzündete."),
}
"""What the fit renders when no transcript is given (not the evaluation's sentences)."""
NEAREST_TEXT = {
    "en": "She sells fresh bread at the corner shop every morning.",
    "es": "Ella vende pan fresco en la tienda de la esquina cada mañana.",
    "fr": "Elle vend du pain frais dans la boutique du coin chaque matin.",
    "it": "Lei vende pane fresco nel negozio all'angolo ogni mattina.",
    "de": "Sie verkauft jeden Morgen frisches Brot im Laden an der Ecke.",
}


@dataclass(frozen=True)
class FitConfig:
    steps: int = 30
    """Optimiser steps (each renders one crop of `crop_frames` frames and back-propagates)."""
    lr: float = 0.08
    """Adam learning rate, in units of the prior's standard deviation per coefficient."""
    device: str = "auto"
    """"auto" (a CUDA GPU when torch sees one, else the CPU), "cpu", "cuda", "cuda:1"."""
    seed: int = 0
    """Picks each step's crop: step k uses the generator seeded by (seed, k)."""
    crop_frames: int = 64
    """Frames (25 ms) rendered per step: 64 = 1.6 s, one Resemblyzer partial."""
    checkpoint_every: int = 5
    threads: int = 2
    """torch CPU threads."""
    w_speaker: float = 1.0
    w_spectral: float = 0.1
    w_prosody: float = 0.1
    w_prior: float = 0.01
    box: float = 1.1
    """Each coefficient stays within this times the largest |z| of any real pack."""
    residual_limit: float = 0.5
    """The residual row stays within this times the real packs' per-column spread."""
    start: str | None = None
    """Start from this pack instead of the nearest one."""
    exclude: tuple[str, ...] = ()
    """Real packs left out of the space and of the start (tests fit to a left-out pack's speech)."""
    cross_locales: tuple[str, ...] = ()
    """Locales whose language the clone should also sound like the reference in: each step also
    renders a crop of `FIT_TEXTS` in one of them (drawn per step) and adds its speaker term,
    weighted `w_cross`. Each step then costs two renders. Measured, not kept (docs/cloning.md, "Fitting
    the speaker term in the other languages too"): Resemblyzer rose in the other languages while
    the independent d-vector fell everywhere, so nothing sets it but the evaluation's `--cross-locales`."""
    w_cross: float = 1.0


@dataclass(frozen=True)
class FitResult:
    pack: np.ndarray
    """float32 (510, 256): a full voice pack, Kokoro layout rows."""
    nearest: str
    """The stock/native pack it started from."""
    losses: dict[str, float]
    """The last step's loss terms, plus `similarity_start`: the starting pack's similarity."""
    similarity: float
    """Resemblyzer cosine, clone speech (int8 runtime) vs the reference."""
    steps: int


class FitError(ValueError):
    """A fit that cannot run as asked (a checkpoint of another fit, an unknown start pack)."""


# --- audio helpers (numpy) ---------------------------------------------------------------------

def resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    from scipy.signal import resample_poly

    if rate == target:
        return np.asarray(audio, dtype=np.float32)
    g = math.gcd(rate, target)
    return resample_poly(np.asarray(audio, dtype=np.float64), target // g, rate // g).astype(np.float32)


def _reference_pitch(audio16: np.ndarray) -> tuple[float, float]:
    """(mean, std) of log F0 over voiced frames, by pYIN on at most 15 s."""
    import librosa

    f0, voiced, _ = librosa.pyin(audio16[: 15 * 16000], fmin=50, fmax=500, sr=16000, frame_length=1024, hop_length=320)
    f0 = f0[voiced & np.isfinite(f0)]
    if len(f0) < 10:
        raise FitError("the reference has too little voiced speech to measure its pitch")
    lf = np.log(f0)
    return float(lf.mean()), float(lf.std())


def _speech_seconds(audio24: np.ndarray) -> float:
    """Seconds of frames within 35 dB of the loudest (pauses of 25 ms frames left out)."""
    n = len(audio24) // FRAME_SAMPLES
    rms = np.sqrt(np.mean(audio24[: n * FRAME_SAMPLES].reshape(n, FRAME_SAMPLES) ** 2, axis=1) + 1e-12)
    db = 20 * np.log10(rms)
    return float(np.sum(db > db.max() - 35) * FRAME_SAMPLES / SAMPLE_RATE)


def _digest(*parts) -> str:
    h = hashlib.sha1()
    for p in parts:
        h.update(p if isinstance(p, bytes) else repr(p).encode("utf-8"))
    return h.hexdigest()


# --- texts ---------------------------------------------------------------------------------------

def phoneme_chunks(text: str, locale: str, vocab: dict[str, int], limit: int = MAX_CHUNK_IDS) -> list[list[int]]:
    """Kokoro ids of `text`, split at sentence ends (and, if still long, between words) into chunks of
    at most `limit` ids."""
    from ..g2p import G2P
    from ..locales import get_locale

    g2p = G2P(get_locale(locale), vocab)
    chunks: list[list[int]] = []
    for sentence in re.split(r"(?<=[.!?;:])\s+", text.strip()):
        words = [p for p in g2p.words(sentence.split()) if p]
        current: list[str] = []
        for w in words:
            if current and len(" ".join(current + [w])) > limit:
                chunks.append(" ".join(current))
                current = []
            current.append(w)
        if current:
            chunks.append(" ".join(current) + ("." if sentence.rstrip()[-1:] in ".!?;:" and "." in vocab else ""))
    ids = [[vocab[c] for c in chunk if c in vocab][:limit] for chunk in chunks]
    return [c for c in ids if len(c) >= 3]


# --- the starting pack ------------------------------------------------------------------------

def pack_embeddings(names_packs: dict[str, np.ndarray], language: str, runtime, vocab, cache: Path | None) -> dict[str, np.ndarray]:
    """Resemblyzer embedding of each pack's speech (a fixed sentence), cached on disk by pack content."""
    from resemblyzer import VoiceEncoder, preprocess_wav

    text = NEAREST_TEXT.get(language, NEAREST_TEXT["en"])
    locale = {"en": "en-US", "es": "es-ES", "fr": "fr-FR", "it": "it-IT", "de": "de-DE"}.get(language, "en-US")
    table = json.loads(cache.read_text(encoding="utf-8")) if cache is not None and cache.exists() else {}
    out, encoder, ids = {}, None, None
    for name, pack in names_packs.items():
        key = f"{name}|{_digest(pack.astype(np.float32).tobytes())[:12]}|{language}|{_digest(text)[:8]}"
        if key not in table:
            if encoder is None:
                encoder = VoiceEncoder("cpu", verbose=False)
                ids = phoneme_chunks(text, locale, vocab)[0]
            audio = runtime.render(ids, pack[len(ids) - 1], 1.0).audio
            table[key] = np.round(encoder.embed_utterance(preprocess_wav(audio, SAMPLE_RATE)), 6).tolist()
            if cache is not None:
                write_atomically(cache, json.dumps(table).encode("utf-8"))
        out[name] = np.asarray(table[key], dtype=np.float32)
    return out


_SHARED: dict = {}


def _shared(key, make):
    """One model, runtime, pack space... per process: a second fit (or a resumed one) reuses them."""
    if key not in _SHARED:
        _SHARED[key] = make()
    return _SHARED[key]


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


# --- the fit ---------------------------------------------------------------------------------------

@dataclass
class _Chunk:
    ids: list[int]
    tokens: "object"
    d_en: "object"
    asr: "object"
    """(1, 512, F) aligned text features (durations fixed at the starting pack's)."""
    aln: "object"
    durations: np.ndarray
    offset: int
    """First frame of this chunk in the concatenated rendering (for the alignment)."""

    @property
    def frames(self) -> int:
        return int(self.durations.sum())


def _log_mel_torch(audio, n_fft: int, hop: int, n_mels: int = 80):
    import librosa
    import torch

    key = (n_fft, hop, n_mels, str(audio.device))
    cache = _log_mel_torch.__dict__.setdefault("bases", {})
    if key not in cache:
        cache[key] = (torch.tensor(librosa.filters.mel(sr=SAMPLE_RATE, n_fft=n_fft, n_mels=n_mels), device=audio.device),
                      torch.hann_window(n_fft, device=audio.device))
    basis, window = cache[key]
    spec = torch.stft(audio, n_fft, hop, window=window, center=True, return_complex=True).abs()
    return torch.log(torch.clamp(basis @ spec, min=1e-5))  # (B, n_mels, frames)


RESOLUTIONS = ((512, 120), (1024, 240), (2048, 600))
"""(n_fft, hop) of the multi-resolution log-mel statistics; the last is the 25 ms frame grid."""


def _speech_mask(logmel):
    energy = logmel.mean(dim=-2)  # (B, frames)
    return energy > energy.max() - 8.0  # natural log: about 35 dB


def _stats(logmel):
    mask = _speech_mask(logmel)[0]
    x = logmel[0][:, mask] if int(mask.sum()) >= 4 else logmel[0]
    return x.mean(dim=-1), x.std(dim=-1)


def fit_voice(audio: np.ndarray, sample_rate: int, transcript: str | None, locale: str,
              config: FitConfig = FitConfig(), checkpoint: Path | None = None,
              progress: Callable[[int, int, dict], None] | None = None) -> FitResult:
    """Fit a (510, 256) voice pack to `audio` (validated mono float32 at `sample_rate`)."""
    import torch

    from .. import model_store
    from ..locales import get_locale
    from ..runtime import KokoroRuntime
    from .convert import load_from_onnx
    from .kokoro_torch import alignment_matrix
    from ..cloning.prior import build_space, real_packs
    from .speaker import ResemblyzerTorch, reference_embedding

    if config.steps < 0 or config.crop_frames < 8 or config.checkpoint_every < 1:
        raise FitError(f"bad FitConfig: steps {config.steps}, crop_frames {config.crop_frames}, "
                       f"checkpoint_every {config.checkpoint_every}")
    try:
        import resemblyzer  # noqa: F401
    except ModuleNotFoundError as exc:
        raise FitError("fitting a voice needs the train extra and Resemblyzer: pip install 'echoic[train]' && "
                       "pip install --no-deps Resemblyzer==0.1.4") from exc
    loc = get_locale(locale)
    others = [get_locale(tag) for tag in config.cross_locales]  # an unknown tag fails here, before any work
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    torch.set_num_threads(config.threads)
    device = torch.device("cuda" if config.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if config.device == "auto" else config.device))
    settings = asdict(config) | {"steps": None}
    if not config.cross_locales:  # so a fit checkpointed before the option existed still resumes
        del settings["cross_locales"], settings["w_cross"]
    fingerprint = _digest(audio.tobytes(), sample_rate, transcript, loc.tag, settings)

    # The reference, as the losses see it.
    ref24, ref16 = resample(audio, sample_rate, SAMPLE_RATE), resample(audio, sample_rate, 16000)
    e_ref = reference_embedding(ref16, 16000)
    pitch_mean, pitch_std = _reference_pitch(ref16)
    ref_t = torch.tensor(ref24, device=device)[None]
    with torch.no_grad():
        ref_stats = [_stats(_log_mel_torch(ref_t, n, h)) for n, h in RESOLUTIONS]

    # The pack space and the start.
    packs = _shared(("packs", config.exclude), lambda: real_packs(config.exclude))
    space = _shared(("space", config.exclude), lambda: build_space(packs))
    vocab = model_store.load_vocab()
    runtime = _shared("runtime", lambda: KokoroRuntime(model_store.ensure_model()))
    from ..model_store import default_cache_dir
    embeddings = pack_embeddings(packs, loc.language, runtime, vocab, default_cache_dir() / "clone-pack-embeddings.json")
    if config.start is not None:
        if config.start not in packs:
            raise FitError(f"start pack {config.start!r} is not among the real packs {sorted(packs)}")
        nearest = config.start
    else:
        nearest = max(embeddings, key=lambda n: _cos(embeddings[n], e_ref))

    # Texts, planned once with the starting pack (durations fixed from here on).
    text = transcript if transcript and transcript.strip() else FIT_TEXTS.get(loc.language, FIT_TEXTS["en"])
    id_chunks = phoneme_chunks(text, loc.tag, vocab)
    if not id_chunks:
        raise FitError(f"the text to fit gives no phonemes in {loc.tag}: {text[:60]!r}")
    model = _shared(("model", str(device)), lambda: load_from_onnx(model_store.read_stock_model()).to(device).eval())
    model.requires_grad_(False)
    start_pack = packs[nearest]
    rendered = []

    def planned_chunks(id_lists: list[list[int]], keep_audio: bool) -> list[_Chunk]:
        out, offset = [], 0
        with torch.no_grad():
            for ids in id_lists:
                plan = runtime.plan(ids, start_pack[len(ids) - 1], 1.0)
                tokens = torch.tensor([[0, *ids, 0]], device=device)
                durations = torch.tensor(plan.durations[None], device=device)
                aln = alignment_matrix(durations[0]).unsqueeze(0)
                out.append(_Chunk(ids, tokens, model.bert_encoder(model.bert(tokens)).transpose(1, 2),
                                  model.text_encoder(tokens) @ aln, aln, plan.durations, offset))
                offset += out[-1].frames
                if keep_audio:
                    rendered.append(runtime.render_planned(plan, start_pack[len(ids) - 1]))
        return out

    chunks = planned_chunks(id_chunks, keep_audio=bool(transcript))
    # Other languages: only the speaker term reads them (no reference speech in those languages).
    cross: list[_Chunk] = []
    for other in others:
        cross += planned_chunks(phoneme_chunks(FIT_TEXTS.get(other.language, FIT_TEXTS["en"]), other.tag, vocab), False)
    path = None
    if transcript:
        path = torch.tensor(_align(np.concatenate(rendered), ref24), device=device)
        total_ids = sum(len(c.ids) for c in chunks)
        seconds_per_id = _speech_seconds(ref24) / total_ids
    ref_frames = None
    if path is not None:
        with torch.no_grad():
            ref_frames = _log_mel_torch(ref_t, *RESOLUTIONS[-1])[0]  # (80, frames)

    # Parameters: z (2, K) and residual (256,), both in prior units.
    comps = [torch.tensor(c, device=device).view(c.shape[0], space.rows, 128) for c in space.components]
    sigma = [torch.tensor(s, device=device) for s in space.sigma]
    mean = torch.tensor(space.mean, device=device)
    col_std = torch.tensor(space.column_std, device=device)
    bound = torch.tensor(np.abs(np.stack(list(space.coefficients.values()))).max(axis=0) * config.box, device=device)
    z = torch.tensor(space.coefficients[nearest], device=device, requires_grad=True)
    residual = torch.zeros(256, device=device, requires_grad=True)
    optimizer = torch.optim.Adam([z, residual], lr=config.lr)
    step, history = 0, []
    if checkpoint is not None and Path(checkpoint).exists():
        state = torch.load(io.BytesIO(Path(checkpoint).read_bytes()), map_location=device, weights_only=False)
        if state.get("version") != CHECKPOINT_VERSION or state.get("fingerprint") != fingerprint:
            raise FitError(f"checkpoint {checkpoint} belongs to another fit (other audio, text, locale or settings); "
                           "remove it to start again")
        with torch.no_grad():
            z.copy_(state["z"])
            residual.copy_(state["residual"])
        optimizer.load_state_dict(state["optimizer"])
        step, history, nearest = state["step"], state["history"], state["nearest"]

    def save():
        if checkpoint is None:
            return
        buf = io.BytesIO()
        torch.save({"version": CHECKPOINT_VERSION, "fingerprint": fingerprint, "step": step, "nearest": nearest,
                    "z": z.detach().cpu(), "residual": residual.detach().cpu(),
                    "optimizer": optimizer.state_dict(), "history": history}, buf)
        write_atomically(Path(checkpoint), buf.getvalue())

    speaker = _shared(("speaker", str(device)), lambda: ResemblyzerTorch(device=device))
    e_ref_t = torch.tensor(e_ref, device=device)

    def style_row(row: int):
        halves = [mean[row, h * 128:(h + 1) * 128] + (z[h] * sigma[h]) @ comps[h][:, row] for h in range(2)]
        return (torch.cat(halves) + residual * col_std)[None]  # (1, 256)

    def render_crop(chunk: _Chunk, a: int, width: int):
        """Frames [a, a + width) of a chunk with the pack as it is now: audio, f0 (1, 2w), the
        predictor's features d (for the planned durations)."""
        s = style_row(len(chunk.ids) - 1)
        s_t, s_p = s[:, :128], s[:, 128:]
        d = model.predictor.text_encoder(chunk.d_en, s_p)
        en = (d.transpose(1, 2) @ chunk.aln)[..., a:a + width]
        f0, energy = model.predictor.F0Ntrain(en, s_p)
        return model.render(chunk.asr[..., a:a + width], f0, energy, torch.cat([s_t, s_p], dim=1)), f0, d

    losses: dict[str, float] = {}
    while step < config.steps:
        started, started_cpu = time.monotonic(), time.process_time()
        rng = np.random.default_rng([config.seed, step])
        chunk = chunks[int(rng.integers(len(chunks)))]
        width = min(config.crop_frames, chunk.frames)
        a = int(rng.integers(0, chunk.frames - width + 1))
        wav, f0, d = render_crop(chunk, a, width)
        terms = {}
        terms["speaker"] = 1.0 - torch.dot(speaker(wav)[0], e_ref_t)
        if cross:
            other = cross[int(rng.integers(len(cross)))]
            other_width = min(config.crop_frames, other.frames)
            other_wav, _, _ = render_crop(other, int(rng.integers(0, other.frames - other_width + 1)), other_width)
            terms["cross_speaker"] = 1.0 - torch.dot(speaker(other_wav)[0], e_ref_t)
        spectral = 0.0
        for (n_fft, hop), (mu, sd) in zip(RESOLUTIONS, ref_stats):
            m_mu, m_sd = _stats(_log_mel_torch(wav, n_fft, hop))
            spectral = spectral + (m_mu - mu).abs().mean() + (m_sd - sd).abs().mean()
        terms["spectral"] = spectral / len(RESOLUTIONS)
        if ref_frames is not None:
            mine = _log_mel_torch(wav, *RESOLUTIONS[-1])[0][:, :width]
            target = ref_frames[:, path[chunk.offset + a: chunk.offset + a + mine.shape[1]]]
            terms["aligned"] = (mine - target).abs().mean()
        voiced = f0[0] > 40.0
        if int(voiced.sum()) >= 4:
            lf = torch.log(f0[0][voiced])
            terms["pitch"] = (lf.mean() - pitch_mean) ** 2 + (lf.std() - pitch_std) ** 2
        if transcript:
            planned = model.predictor.durations(d, 1.0)[0, 1:-1].sum() * FRAME_SAMPLES / SAMPLE_RATE
            terms["rate"] = (torch.log(planned / (seconds_per_id * len(chunk.ids)))) ** 2
        terms["prior"] = (z ** 2).mean() + (residual ** 2).mean()
        total = (config.w_speaker * terms["speaker"] + config.w_cross * terms.get("cross_speaker", 0.0)
                 + config.w_spectral * (terms["spectral"] + terms.get("aligned", 0.0))
                 + config.w_prosody * (terms.get("pitch", 0.0) + terms.get("rate", 0.0))
                 + config.w_prior * terms["prior"])
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        with torch.no_grad():
            z.copy_(torch.maximum(torch.minimum(z, bound), -bound))
            residual.clamp_(-config.residual_limit, config.residual_limit)
        step += 1
        losses = {k: float(v.detach()) if hasattr(v, "detach") else float(v) for k, v in terms.items()} | {"total": float(total.detach()),
                                                              "seconds": time.monotonic() - started,
                                                              "cpu_seconds": time.process_time() - started_cpu}
        history.append(losses)
        if step % config.checkpoint_every == 0 or step == config.steps:
            save()
        if progress is not None:
            progress(step, config.steps, losses)

    pack = space.pack(z.detach().cpu().numpy(), residual.detach().cpu().numpy())
    similarity = clone_similarity(pack, id_chunks, runtime, e_ref)
    start_similarity = clone_similarity(start_pack, id_chunks, runtime, e_ref)
    out_losses = {k: v for k, v in losses.items() if k not in ("seconds", "cpu_seconds")} | {"similarity_start": start_similarity}
    return FitResult(pack=pack, nearest=nearest, losses=out_losses, similarity=similarity, steps=step)


def clone_similarity(pack: np.ndarray, id_chunks: list[list[int]], runtime, e_ref: np.ndarray, count: int = 3) -> float:
    """Resemblyzer cosine of the int8 runtime's speech of the first `count` chunks to `e_ref`."""
    from resemblyzer import preprocess_wav

    from .speaker import reference_embedding

    audio = np.concatenate([runtime.render(ids, pack[len(ids) - 1], 1.0).audio for ids in id_chunks[:count]])
    return _cos(reference_embedding(audio, SAMPLE_RATE), e_ref)


def _align(model_audio: np.ndarray, ref24: np.ndarray) -> np.ndarray:
    """For each 25 ms frame of the model's audio, the reference frame DTW matches it with."""
    import librosa

    def feats(x):
        m = np.log(np.maximum(librosa.feature.melspectrogram(y=x, sr=SAMPLE_RATE, n_fft=2048, hop_length=FRAME_SAMPLES,
                                                              n_mels=80), 1e-5))
        return m - m.mean(axis=1, keepdims=True)

    a, b = feats(model_audio), feats(ref24)
    _, wp = librosa.sequence.dtw(X=a, Y=b, metric="euclidean")
    path = np.zeros(a.shape[1], dtype=np.int64)
    for i, j in wp[::-1]:
        path[i] = j
    return np.minimum(path, b.shape[1] - 1)
