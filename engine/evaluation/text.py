"""`echoic eval text`: the normalisation test set, per class and language, and the number libraries
measured against the hand-written rules on it.

The test set is data: `tests/data/normalization/<lang>.tsv` (class, locale, input, expected spoken
form; sources in each file's header). A case passes when the words the front end says for the input,
joined by spaces, equal the expected form exactly.

Backends swap what a library can stand in for, the `Language`'s `cardinal`, `ordinal` and
`read_year` (the language modules' own dates and times keep their hand-written words), or the emoji
names:

    rules           the shipped front end (hand-written number words, CLDR emoji names)
    num2words       number words from num2words (its commas dropped)
    rbnf            number words from unicode-rbnf (CLDR RBNF rule sets)
    unicode-names   emoji by Unicode character name or a generic word, as before issue #14

Time is CPU time (the machine may be shared), measured two ways: the median milliseconds to normalise one case once everything is loaded,
and the cold first call in a fresh process (imports and table loading included): the cost the first
segment of a daemon's life pays. `--nemo-python` also runs NeMo text processing (in its own
environment, where pynini is installed) on a few classes, compared loosely (lower case, no
punctuation), since its output keeps punctuation and casing.

The run takes seconds, so it does not resume; results are written atomically with `--out`.

Size: a little over 400 lines: the table, the four backends and the NeMo comparison run in a
separate interpreter; none of it is on the runtime path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..text import FrontEndReport
from ..text.lang import LANGUAGES, Language
from ..text.segment import split_words

DATA_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "normalization"
CLASSES = (
    "cardinal", "ordinal", "decade", "year", "date", "time", "money", "phone", "measure", "roman",
    "abbreviation", "url", "email", "code", "symbol", "emoji", "mixed",
)
BACKENDS = ("rules", "num2words", "rbnf", "unicode-names")


@dataclass(frozen=True)
class Case:
    cls: str
    """One of CLASSES."""
    locale: str
    text: str
    expected: str
    line: int
    """Line number in the data file (for messages)."""


class CaseFileError(ValueError):
    """A malformed line in a test-set file: the file and line say where."""


def load_cases(language: str) -> list[Case]:
    """The cases of one language's file; a malformed line raises CaseFileError naming it."""
    path = DATA_DIR / f"{language}.tsv"
    if not path.exists():
        raise CaseFileError(f"{path}: no test set for {language!r} (the data lives in the source tree)")
    cases, header = [], None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if header is None:
            header = fields
            if header != ["class", "locale", "input", "expected"]:
                raise CaseFileError(f"{path}:{number}: header {header!r} is not class, locale, input, expected")
            continue
        if len(fields) != 4 or fields[0] not in CLASSES or not fields[2]:
            raise CaseFileError(f"{path}:{number}: expected 4 tab-separated fields with a known class: {line!r}")
        cases.append(Case(fields[0], fields[1], fields[2], fields[3], number))
    return cases


def heard(words: str) -> str:
    """What a listener can tell apart: hyphens and commas are not heard ("vingt-et-un" sounds as
    "vingt et un"); the library comparison counts a case passed when this matches."""
    return " ".join(words.replace("-", " ").replace(",", " ").split())


def spoken(text: str, locale: str, lang: Language) -> str:
    """The words said for `text`, joined by spaces (punctuation is not part of the comparison)."""
    _, words = split_words(text, lang, locale, FrontEndReport())
    return " ".join(w.spoken for w in words if w.spoken)


# --- backends --------------------------------------------------------------------------------------


def _num2words_language(lang: Language) -> Language:
    from num2words import num2words

    def say(n: int, to: str) -> str:
        return num2words(n, lang=lang.code, to=to).replace(",", "")

    def ordinal(n: int, form: str = "") -> str:
        words = say(n, "ordinal")
        # num2words has one ordinal form per language; the forms the front end asks for are made
        # the way the hand-written modules make them.
        if lang.code == "de":
            return words + form
        if form == "f" and lang.code in ("es", "it"):
            return " ".join(w[:-1] + "a" if w.endswith("o") else w for w in words.split())
        if form == "f" and lang.code == "fr" and n == 1:
            return "première"
        if form == "short" and lang.code == "es":
            return re.sub(r"\b(primer|tercer)o$", r"\1", words)
        return words

    return dataclasses.replace(lang, cardinal=lambda n: say(n, "cardinal"), ordinal=ordinal,
                               read_year=lambda n: say(n, "year"))


_RBNF_ORDINAL_SETS = {
    "en": {"": "spellout-ordinal"},
    "de": {"": "spellout-ordinal", "n": "spellout-ordinal-n", "r": "spellout-ordinal-r",
           "s": "spellout-ordinal-s", "m": "spellout-ordinal-m"},
    "es": {"": "spellout-ordinal-masculine", "f": "spellout-ordinal-feminine",
           "short": "spellout-ordinal-masculine-adjective"},
    "fr": {"": "spellout-ordinal-masculine", "f": "spellout-ordinal-feminine"},
    "it": {"": "spellout-ordinal-masculine", "f": "spellout-ordinal-feminine"},
}


def _rbnf_language(lang: Language) -> Language:
    from unicode_rbnf import FormatPurpose, RbnfEngine

    engine = RbnfEngine.for_language(lang.code)

    def ruleset(n: int, purpose, name: str) -> str:
        return engine.format_number(n, purpose).text_by_ruleset[name]

    def ordinal(n: int, form: str = "") -> str:
        sets = _RBNF_ORDINAL_SETS[lang.code]
        return ruleset(n, FormatPurpose.ORDINAL, sets.get(form, sets[""]))

    return dataclasses.replace(
        lang, cardinal=lambda n: ruleset(n, FormatPurpose.CARDINAL, "spellout-numbering"),
        ordinal=ordinal, read_year=lambda n: ruleset(n, FormatPurpose.YEAR, "spellout-numbering-year"))


@contextlib.contextmanager
def _unicode_emoji_names() -> Iterator[None]:
    """Emoji read as before issue #14: the Unicode character name in English, a generic word else."""
    from ..text import normalize

    saved = normalize._emoji_name, normalize._emoji_spans
    normalize._emoji_name = lambda sequence, lang: (
        None if lang.code != "en" or len(sequence) > 2 else normalize.unicodedata.name(sequence[0], "").lower() or None)
    normalize._emoji_spans = lambda text: []
    try:
        yield
    finally:
        normalize._emoji_name, normalize._emoji_spans = saved


def backend_language(backend: str, lang: Language) -> Language:
    if backend == "num2words":
        return _num2words_language(lang)
    if backend == "rbnf":
        return _rbnf_language(lang)
    return lang


def run_backend(backend: str, languages: list[str]) -> dict:
    """{language: {"classes": {cls: [passed, total]}, "heard": {cls: [passed, total]},
    "failures": [...], "ms_median": x, "ms_p95": y}}; "classes" counts exact matches, "heard"
    matches as heard (see `heard`)."""
    results = {}
    context = _unicode_emoji_names() if backend == "unicode-names" else contextlib.nullcontext()
    with context:
        for code in languages:
            lang = backend_language(backend, LANGUAGES[code])
            classes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            as_heard: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            failures, times = [], []
            for case in load_cases(code):
                start = time.process_time()
                try:
                    got = spoken(case.text, case.locale, lang)
                except Exception as error:  # a library that raises on an input fails that case, no more
                    got = f"<{type(error).__name__}: {error}>"
                times.append((time.process_time() - start) * 1000)
                classes[case.cls][1] += 1
                as_heard[case.cls][1] += 1
                as_heard[case.cls][0] += heard(got) == heard(case.expected)
                if got == case.expected:
                    classes[case.cls][0] += 1
                else:
                    failures.append({"class": case.cls, "input": case.text, "expected": case.expected, "got": got})
            times.sort()
            results[code] = {
                "classes": dict(classes), "heard": dict(as_heard), "failures": failures,
                "ms_median": round(statistics.median(times), 3),
                "ms_p95": round(times[int(0.95 * (len(times) - 1))], 3),
            }
    return results


_COLD_SCRIPT = """
import sys, time
t0 = time.process_time()
from engine.evaluation.text import backend_language, spoken
from engine.text.lang import LANGUAGES
lang = backend_language(sys.argv[1], LANGUAGES[sys.argv[2]])
text = sys.argv[3]
t1 = time.process_time()
spoken(text, sys.argv[4], lang)
t2 = time.process_time()
print(round((t1 - t0) * 1000, 1), round((t2 - t1) * 1000, 2))
"""

FIRST_SEGMENTS = {
    "en": ("en-US", "On May 5, 2026 at 2:30 pm the 1990s show cost $12.50."),
    "de": ("de-DE", "Am 3. Mai 2026 um 14:30 Uhr kostete es 12,50 €."),
    "es": ("es-ES", "El 3 de mayo de 2026 a las 14:30 costó 12,50 €."),
    "fr": ("fr-FR", "Le 3 mai 2026 à 14h30, cela coûtait 12,50 €."),
    "it": ("it-IT", "Il 3 maggio 2026 alle 14:30 costava 12,50 €."),
}


def cold_first_call(backend: str, code: str, runs: int = 3) -> tuple[float, float]:
    """(CPU ms to import and load the backend, CPU ms for the first segment after) in a fresh
    process; the median of `runs` processes (CPU time, so that other work on the machine does not
    count)."""
    locale, text = FIRST_SEGMENTS[code]
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    loads, firsts = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", _COLD_SCRIPT, backend, code, text, locale],
                             capture_output=True, text=True, env=env, check=True, timeout=120)
        load, first = out.stdout.split()
        loads.append(float(load))
        firsts.append(float(first))
    return statistics.median(loads), statistics.median(firsts)


# --- NeMo, in its own environment ------------------------------------------------------------------

def _loose(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower().replace("-", " ")).split())


def run_nemo(python: str, languages: list[str], classes: list[str], cache_dir: str) -> dict:
    """NeMo's normaliser on the given classes, compared loosely; in the interpreter `python`."""
    cases = [{"lang": code, "cls": c.cls, "text": c.text, "expected": c.expected}
             for code in languages for c in load_cases(code) if c.cls in classes]
    script = (
        "import json, sys, time\n"
        "from nemo_text_processing.text_normalization.normalize import Normalizer\n"
        "cases = json.load(sys.stdin)\n"
        "normalizers, out = {}, {'load_s': {}, 'results': []}\n"
        "for lang in sorted({c['lang'] for c in cases}):\n"
        "    t = time.process_time()\n"
        "    normalizers[lang] = Normalizer(input_case='cased', lang=lang, cache_dir=sys.argv[1], overwrite_cache=False)\n"
        "    out['load_s'][lang] = round(time.process_time() - t, 1)\n"
        "for c in cases:\n"
        "    t = time.process_time()\n"
        "    got = normalizers[c['lang']].normalize(c['text'], punct_post_process=True)\n"
        "    out['results'].append({**c, 'got': got, 'ms': (time.process_time() - t) * 1000})\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run([python, "-c", script, cache_dir], input=json.dumps(cases), capture_output=True,
                          text=True, timeout=3600)
    if proc.returncode:
        raise RuntimeError(f"NeMo run failed: {proc.stderr.strip()[-2000:]}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    table: dict = {}
    for r in data["results"]:
        row = table.setdefault(r["lang"], {}).setdefault(r["cls"], {"nemo": [0, 0], "rules": [0, 0], "ms": []})
        lang = LANGUAGES[r["lang"]]
        locale = next(c.locale for c in load_cases(r["lang"]) if c.text == r["text"])
        row["nemo"][1] += 1
        row["rules"][1] += 1
        row["nemo"][0] += _loose(r["got"]) == _loose(r["expected"])
        row["rules"][0] += _loose(spoken(r["text"], locale, lang)) == _loose(r["expected"])
        row["ms"].append(r["ms"])
    for per_lang in table.values():
        for row in per_lang.values():
            row["ms"] = round(statistics.median(row["ms"]), 1)
    return {"load_s": data["load_s"], "classes": table,
            "failures": [r for r in data["results"] if _loose(r["got"]) != _loose(r["expected"])]}


# --- tables ---------------------------------------------------------------------------------------


def accuracy_table(results: dict) -> str:
    """Markdown: one row per class, one column per language, "passed/total"."""
    languages = list(results)
    lines = ["| class | " + " | ".join(languages) + " |", "|---|" + "---|" * len(languages)]
    totals = {code: [0, 0] for code in languages}
    for cls in CLASSES:
        cells = []
        for code in languages:
            passed, total = results[code]["classes"].get(cls, [0, 0])
            totals[code][0] += passed
            totals[code][1] += total
            cells.append(f"{passed}/{total}" if total else "–")
        lines.append(f"| {cls} | " + " | ".join(cells) + " |")
    lines.append("| **all** | " + " | ".join(f"**{p}/{t}**" for p, t in totals.values()) + " |")
    return "\n".join(lines)


def comparison_table(by_backend: dict, cold: dict) -> str:
    """Markdown: per class, each backend's passed/total as heard over all languages; then time."""
    backends = list(by_backend)
    lines = ["| class | " + " | ".join(backends) + " |", "|---|" + "---|" * len(backends)]
    for cls in CLASSES:
        cells = []
        for backend in backends:
            passed = sum(r["heard"].get(cls, [0, 0])[0] for r in by_backend[backend].values())
            total = sum(r["heard"].get(cls, [0, 0])[1] for r in by_backend[backend].values())
            cells.append(f"{passed}/{total}")
        lines.append(f"| {cls} | " + " | ".join(cells) + " |")
    for label, key in (("ms per case, median", "ms_median"), ("ms per case, p95", "ms_p95")):
        cells = [f"{statistics.median(r[key] for r in by_backend[b].values()):.2f}" for b in backends]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if cold:
        for label, index in (("cold: import + load, ms", 0), ("cold: first segment, ms", 1)):
            cells = [f"{max(v[index] for v in cold[b].values()):.1f}" if b in cold else "–" for b in backends]
            lines.append(f"| {label} (worst language) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _write_atomically(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
    os.replace(f.name, path)


def cmd_eval_text(args) -> int:
    languages = args.languages or sorted(LANGUAGES)
    unknown = [code for code in languages if code not in LANGUAGES]
    if unknown:
        print(f"echoic eval text: unknown language {unknown[0]!r} (known: {', '.join(sorted(LANGUAGES))})",
              file=sys.stderr)
        return 2
    backends = ["rules"] if not args.compare else list(BACKENDS)
    try:
        by_backend = {b: run_backend(b, languages) for b in backends}
    except CaseFileError as error:
        print(f"echoic eval text: {error}", file=sys.stderr)
        return 2
    except ImportError as error:
        print(f"echoic eval text: --compare needs num2words and unicode-rbnf ({error}); "
              "pip install 'echoic[test]'", file=sys.stderr)
        return 2
    print("Accuracy per class (passed/total), hand-written rules as shipped:\n")
    print(accuracy_table(by_backend["rules"]))
    report: dict = {"backends": by_backend}
    if args.compare:
        cold = {b: {code: cold_first_call(b, code) for code in languages} for b in ("rules", "num2words", "rbnf")}
        report["cold"] = cold
        print("\nBackends, all languages together (passed/total as heard: hyphens and commas ignored; "
              "CPU time):\n")
        print(comparison_table(by_backend, cold))
    if args.nemo_python:
        nemo = run_nemo(args.nemo_python, args.nemo_languages, args.nemo_classes, args.nemo_cache)
        report["nemo"] = nemo
        print(f"\nNeMo text processing (loose comparison; grammar load s: {nemo['load_s']}):\n")
        print("| language | class | NeMo | rules | NeMo ms per case |\n|---|---|---|---|---|")
        for code, per_class in nemo["classes"].items():
            for cls, row in per_class.items():
                print(f"| {code} | {cls} | {row['nemo'][0]}/{row['nemo'][1]} | {row['rules'][0]}/{row['rules'][1]} | {row['ms']} |")
    if args.failures:
        for backend, results in by_backend.items():
            for code, result in results.items():
                for f in result["failures"]:
                    print(f"{backend}\t{code}\t{f['class']}\t{f['input']!r}\n    expected {f['expected']}\n    got      {f['got']}")
    if args.out:
        _write_atomically(Path(args.out), report)
    total = sum(sum(t for _, t in r["classes"].values()) for r in by_backend["rules"].values())
    passed = sum(sum(p for p, _ in r["classes"].values()) for r in by_backend["rules"].values())
    return 0 if passed == total else 1


def register(evals) -> None:
    p = evals.add_parser("text", help="the normalisation test set per class and language; number libraries compared")
    p.add_argument("--languages", nargs="*", help="language codes (default: all)")
    p.add_argument("--compare", action="store_true",
                   help="also measure num2words, unicode-rbnf and plain Unicode emoji names (accuracy and time)")
    p.add_argument("--failures", action="store_true", help="print every case that fails, per backend")
    p.add_argument("--out", help="write all results as JSON here (atomically)")
    p.add_argument("--nemo-python", help="a Python with nemo-text-processing installed: measure NeMo too")
    p.add_argument("--nemo-languages", nargs="*", default=["en", "de"])
    p.add_argument("--nemo-classes", nargs="*", default=["decade", "money", "phone", "roman", "time"])
    p.add_argument("--nemo-cache", default=os.path.join(tempfile.gettempdir(), "echoic-nemo-cache"),
                   help="where NeMo keeps its compiled grammars")
    p.set_defaults(func=cmd_eval_text)
