"""`echoic listen-test report`: per-system means with 95% confidence intervals, after the
post-screening of ITU-R BS.1534-3 (section 4.1.2): a listener who rates the hidden reference below
90 in more than 15% of their trials is excluded, and the report says who and why.

The t quantile is computed here (regularised incomplete beta, bisection) so the report needs
numpy only; the plot needs matplotlib (the `listen` extra) and is skipped with a message without it.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic_write import write_atomically
from ..errors import ConfigError
from .manifest import Manifest, load_manifest
from .results import ListenerResults, ResultStore

REFERENCE_BELOW = 90
MAX_SHARE_BELOW = 0.15
REFERENCE_ROW = "hidden reference"
ANCHOR_ROW = "anchor (3.5 kHz low-pass)"


# --- Student's t without scipy ------------------------------------------------------------------
def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (Lentz's method)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for num in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _incomplete_beta(a: float, b: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: int) -> float:
    tail = 0.5 * _incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t with `df` degrees of freedom (p in (0.5, 1))."""
    if df < 1 or not 0.5 < p < 1.0:
        raise ValueError(f"t_quantile needs df >= 1 and 0.5 < p < 1, got df={df}, p={p}")
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        high *= 2.0
    for _ in range(200):
        mid = (low + high) / 2.0
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2.0


# --- the statistics -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    system: str
    n: int
    mean: float
    ci95: float
    """Half width of the 95% confidence interval (t distribution); nan with fewer than 2 ratings."""


@dataclass(frozen=True)
class Screening:
    listener: str
    trials: int
    reference_below: int
    excluded: bool


@dataclass(frozen=True)
class Report:
    rows: tuple[Row, ...]
    screening: tuple[Screening, ...]
    locale_rows: dict[str, tuple[Row, ...]]

    @property
    def excluded(self) -> list[str]:
        return [s.listener for s in self.screening if s.excluded]


def row_name(role: str, system: str) -> str:
    if role == "reference":
        return f"{REFERENCE_ROW} ({system})"
    if role == "anchor":
        return ANCHOR_ROW
    return system


def summarise(name: str, scores: list[int]) -> Row:
    values = np.asarray(scores, dtype=np.float64)
    n = len(values)
    mean = float(values.mean()) if n else float("nan")
    if n < 2:
        return Row(name, n, mean, float("nan"))
    return Row(name, n, mean, t_quantile(0.975, n - 1) * float(values.std(ddof=1)) / math.sqrt(n))


def screen(manifest: Manifest, results: ListenerResults) -> Screening:
    below = 0
    for trial_id, ratings in results.ratings.items():
        trial = manifest.trial(trial_id)
        hidden = next(s.file for s in trial.stimuli if s.role == "reference")
        below += ratings[hidden] < REFERENCE_BELOW
    trials = len(results.ratings)
    return Screening(results.listener, trials, below, trials > 0 and below > MAX_SHARE_BELOW * trials)


def compute(manifest: Manifest, listeners: list[ListenerResults]) -> Report:
    screening = tuple(screen(manifest, r) for r in listeners)
    kept = [r for r, s in zip(listeners, screening) if not s.excluded]
    scores: dict[str, list[int]] = {}
    by_locale: dict[str, dict[str, list[int]]] = {}
    for results in kept:
        for trial_id, ratings in results.ratings.items():
            trial = manifest.trial(trial_id)
            for stimulus in trial.stimuli:
                name = row_name(stimulus.role, stimulus.system)
                scores.setdefault(name, []).append(ratings[stimulus.file])
                by_locale.setdefault(trial.locale, {}).setdefault(name, []).append(ratings[stimulus.file])

    def rows(table: dict[str, list[int]]) -> tuple[Row, ...]:
        return tuple(sorted((summarise(k, v) for k, v in table.items()), key=lambda r: -r.mean))

    return Report(rows(scores), screening, {loc: rows(t) for loc, t in sorted(by_locale.items())})


# --- writing it ---------------------------------------------------------------------------------
def _table(rows: tuple[Row, ...]) -> list[str]:
    lines = ["| system | ratings | mean | 95% CI |", "| --- | ---: | ---: | ---: |"]
    for r in rows:
        ci = "n/a" if math.isnan(r.ci95) else f"±{r.ci95:.1f}"
        low_high = "" if math.isnan(r.ci95) else f" ({r.mean - r.ci95:.1f} to {r.mean + r.ci95:.1f})"
        lines.append(f"| {r.system} | {r.n} | {r.mean:.1f} | {ci}{low_high} |")
    return lines


def to_markdown(manifest: Manifest, report: Report, plot: str | None) -> str:
    kept = len(report.screening) - len(report.excluded)
    lines = [f"# Listening test report ({manifest.set} set)", "",
             f"{len(manifest.trials)} trials; {len(report.screening)} listener(s) with results, "
             f"{len(report.excluded)} excluded by post-screening, {kept} kept.", "",
             f"Post-screening (ITU-R BS.1534-3): a listener who rated the hidden reference below "
             f"{REFERENCE_BELOW} in more than {MAX_SHARE_BELOW:.0%} of their trials is excluded.", ""]
    for s in report.screening:
        verdict = "excluded" if s.excluded else "kept"
        lines.append(f"- {s.listener}: {s.trials} trial(s), hidden reference below {REFERENCE_BELOW} "
                     f"in {s.reference_below}: {verdict}")
    lines += ["", "## All trials", "", "Mean score 0-100 over the kept listeners' ratings; the interval is "
              "the 95% confidence interval of the mean (Student's t).", ""]
    lines += _table(report.rows) if report.rows else ["No ratings from kept listeners yet."]
    if len(report.locale_rows) > 1:
        for locale, rows in report.locale_rows.items():
            lines += ["", f"## {locale}", ""] + _table(rows)
    lines += ["", f"Plot: {plot}" if plot else "Plot: not drawn (see the message printed by the command)."]
    return "\n".join(lines) + "\n"


def plot_png(report: Report, path: Path) -> None:
    """Means with 95% intervals as a bar chart. Raises ImportError without matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = report.rows
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(rows) + 2), 4.5), dpi=100)
    x = np.arange(len(rows))
    errors = [0.0 if math.isnan(r.ci95) else r.ci95 for r in rows]
    ax.bar(x, [r.mean for r in rows], yerr=errors, capsize=6, color="#4a78b5", edgecolor="#111")
    ax.set_xticks(x, [r.system for r in rows], rotation=20, ha="right")
    ax.set_ylim(0, 100)
    ax.set_ylabel("MUSHRA score (mean, 95% CI)")
    ax.set_title("Listening test")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    write_atomically(path, buffer.getvalue())


def write_report(folder: Path) -> tuple[Report, str, str | None]:
    """Compute the report of a test folder and write report.md (and report.png when matplotlib is
    installed). Returns (report, the Markdown, a note about the plot or None)."""
    folder = Path(folder)
    manifest = load_manifest(folder, check_audio=False)
    listeners = ResultStore(folder, manifest).all()
    if not listeners:
        raise ConfigError(f"{folder / 'results'} holds no results yet; take the test first: echoic listen-test serve {folder}")
    report = compute(manifest, listeners)
    note = None
    plot = None
    try:
        png = folder / "report.png"
        plot_png(report, png)
        plot = png.name
    except ImportError:
        note = "report.png not drawn: matplotlib is not installed (pip install 'echoic[listen]')"
    markdown = to_markdown(manifest, report, plot)
    write_atomically(folder / "report.md", markdown.encode("utf-8"))
    return report, markdown, note
