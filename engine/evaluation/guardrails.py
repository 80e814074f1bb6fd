"""`echoic eval guardrails`: how often the guardrails fire on speech that is fine (issue #16).

Every line of a text file (a sentence, or a paragraph of prose) is synthesised with each voice;
the engine's guardrail counters say how many checks fired, how many segments were regenerated
(split or slowed) and how many went to the system voice. On ordinary text every one of these is a
false alarm, heard as a pause or a jarring switch of voice, so the figures are per 1,000 words and
the goal is zero. The committed everyday corpus (`data/everyday_<language>.txt`, short sentences
full of one-vowel function words and clitics) is the default text; long prose is given with
`--text-file` (one paragraph a line).

Results are kept per line in a JSON file, written atomically after every few lines, so an
interrupted run resumes where it stopped; the table is computed from that file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

from ..atomic_write import write_atomically

DATA = Path(__file__).parent / "data"
REGENERATIONS = ("split", "regenerated_slower", "regenerated")


def default_text_file(language: str) -> Path:
    return DATA / f"everyday_{language}.txt"


def read_lines(path: Path) -> list[str]:
    """The items of a text file: one a line; blank lines and lines starting with '#' skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(f"echoic eval guardrails: cannot read {path}: {exc}") from exc
    lines = [line.strip() for line in text.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def default_results() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("echoic")) / "eval" / "guardrails.json"


def _key(locale: str, voice: str, path: Path, lines: list[str]) -> str:
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]
    return f"{locale}|{voice}|{path.name}|{digest}"


def measure_line(engine, text: str, locale: str, voice: str) -> dict:
    """One line spoken: its word count and what the guardrails did (deltas of the counters)."""
    from ..api import SpeechRequest

    before = engine.counters.snapshot()
    _, plan = engine.synthesize(SpeechRequest(text, locale=locale, voice=voice))
    after = engine.counters.snapshot()
    failures = {k: v - before["failures"].get(k, 0) for k, v in after["failures"].items()}
    actions = {k: v - before["actions"].get(k, 0) for k, v in after["actions"].items()}
    return {
        "words": len(plan.words),
        "failures": {k: v for k, v in failures.items() if v},
        "actions": {k: v for k, v in actions.items() if v},
        "events": [f"{e.check} -> {e.action}: {e.detail}" for e in plan.report.events],
        "voices": sorted({seg.renderer for seg in plan.segments}),
    }


def summarise(lines: dict) -> dict:
    """Totals over measured lines: words, checks fired, regenerations, fallbacks, and per 1,000 words."""
    words = sum(r["words"] for r in lines.values())
    checks = sum(sum(r["failures"].values()) for r in lines.values())
    regenerations = sum(r["actions"].get(a, 0) for r in lines.values() for a in REGENERATIONS)
    fallbacks = sum(r["actions"].get("fallback", 0) for r in lines.values())
    per = 1000 / words if words else 0.0
    return {"items": len(lines), "words": words, "checks": checks, "regenerations": regenerations,
            "fallbacks": fallbacks, "checks_per_1000": checks * per,
            "regenerations_per_1000": regenerations * per, "fallbacks_per_1000": fallbacks * per,
            "items_with_events": sum(1 for r in lines.values() if r["events"])}


def table(results: dict) -> str:
    rows = ["| locale | voice | text | items | words | checks fired | regenerations | fallbacks "
            "| per 1,000 words (checks / regen. / fallbacks) |",
            "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for key, entry in results.items():
        locale, voice, name, _ = key.split("|")
        s = summarise(entry["lines"])
        done = f"{s['items']}" if s["items"] == entry["total"] else f"{s['items']} of {entry['total']}"
        rows.append(f"| {locale} | {voice} | {name} | {done} | {s['words']} | {s['checks']} | {s['regenerations']} "
                    f"| {s['fallbacks']} | {s['checks_per_1000']:.1f} / {s['regenerations_per_1000']:.1f} "
                    f"/ {s['fallbacks_per_1000']:.1f} |")
    return "\n".join(rows)


def _load(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"echoic eval guardrails: results file {path} is unreadable ({exc}); "
                         "move it away or pass --results") from exc


def _save(path: Path, results: dict) -> None:
    write_atomically(path, json.dumps(results, ensure_ascii=False, indent=1).encode("utf-8"))


def run(args) -> int:
    from ..errors import EchoicError
    from ..locales import get_locale
    from ..synth import Engine

    try:
        locale = get_locale(args.locale)
    except EchoicError as exc:
        raise SystemExit(f"echoic eval guardrails: {exc}") from exc
    paths = [Path(p) for p in args.text_file] if args.text_file else [default_text_file(locale.language)]
    for path in paths:
        if not path.is_file():
            raise SystemExit(f"echoic eval guardrails: no text file {path}"
                             + (" (no everyday corpus for this language)" if not args.text_file else ""))
    engine = Engine()
    voices = args.voices or [locale.default_voice]
    for voice in voices:
        engine.voice_library.get(voice)  # an unknown voice fails before any work
    results_path = Path(args.results) if args.results else default_results()
    results = _load(results_path)
    for path in paths:
        lines = read_lines(path)
        for voice in voices:
            key = _key(locale.tag, voice, path, lines)
            entry = results.setdefault(key, {"total": len(lines), "lines": {}})
            todo = [i for i in range(min(len(lines), args.limit or len(lines))) if str(i) not in entry["lines"]]
            started, last_save = time.monotonic(), time.monotonic()
            for n, i in enumerate(todo, 1):
                entry["lines"][str(i)] = measure_line(engine, lines[i], locale.tag, voice)
                if entry["lines"][str(i)]["events"]:
                    print(f"  line {i + 1}: {lines[i][:70]!r}: " + "; ".join(entry["lines"][str(i)]["events"]),
                          file=sys.stderr)
                if n % 10 == 0 or n == len(todo) or time.monotonic() - last_save > 30:
                    _save(results_path, results)
                    last_save = time.monotonic()
                    s = summarise(entry["lines"])
                    print(f"[{locale.tag} {voice} {path.name}] {len(entry['lines'])}/{len(lines)} lines, "
                          f"{s['checks']} checks, {s['regenerations']} regenerations, {s['fallbacks']} fallbacks "
                          f"({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
    _save(results_path, results)
    wanted = {_key(locale.tag, v, p, read_lines(p)) for p in paths for v in voices}
    print(table({k: v for k, v in results.items() if k in wanted}))
    streaming = engine.statistics()["streaming"]  # how the segments measured in this run rendered
    print(f"this run: {streaming['pad_cuts']} segments rendered without their pad, {streaming['windows']} windows "
          f"({streaming['learned_segments']} segments streamed on learnt statistics)", file=sys.stderr)
    print(f"results: {results_path}", file=sys.stderr)
    return 0


def register(evals) -> None:
    parser = evals.add_parser("guardrails", help="guardrail false alarms per 1,000 words on ordinary text",
                              formatter_class=argparse.RawDescriptionHelpFormatter, description=__doc__)
    parser.add_argument("--locale", required=True, help="locale tag, e.g. fr-FR")
    parser.add_argument("--voices", nargs="+", help="voice ids (default: the locale's default voice)")
    parser.add_argument("--text-file", action="append",
                        help="text, one item a line (repeatable; default: the committed everyday corpus "
                             "of the locale's language)")
    parser.add_argument("--limit", type=int,
                        help="measure lines up to the N-th of each file this time (a later run goes on from there)")
    parser.add_argument("--results", help="results JSON (default: in the user cache folder); reruns resume from it")
    parser.set_defaults(func=run)
