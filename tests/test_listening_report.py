"""The report: Student's t, post-screening, means and intervals, the files it writes, bad results."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.cli import main
from engine.errors import ConfigError
from engine.listening.create import ANCHOR
from engine.listening.report import ANCHOR_ROW, compute, t_quantile, write_report
from engine.listening.results import ResultStore
from tests.test_listening_create import make_sine_test


@pytest.mark.parametrize("df, expected", [(1, 12.7062047), (2, 4.3026527), (4, 2.7764451), (9, 2.2621572),
                                          (29, 2.0452296), (200, 1.9718962)])
def test_t_quantile_matches_the_published_table(df, expected):
    assert abs(t_quantile(0.975, df) - expected) < 1e-6


def test_t_quantile_matches_scipy_where_it_is_installed():
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 3, 7, 15, 60):
        for p in (0.9, 0.975, 0.995):
            assert abs(t_quantile(p, df) - stats.t.ppf(p, df)) < 1e-6


def rate(store, manifest, listener, scores_by_system):
    """Save every trial for `listener`, scoring each stimulus by its system (a callable of the trial index)."""
    for i, trial in enumerate(manifest.trials):
        store.save(listener, trial.id, {s.file: scores_by_system(s.system, s.role, i) for s in trial.stimuli})


def test_means_intervals_and_post_screening(tmp_path):
    folder = tmp_path / "t"
    manifest = make_sine_test(folder, locales=("en-US", "fr-FR"))  # 4 trials
    store = ResultStore(folder, manifest)
    kumo = {"ana": [60, 70, 65, 75], "ben": [40, 50, 45, 55]}
    rate(store, manifest, "ana", lambda system, role, i: {"jm_kumo": kumo["ana"][i], "jf_nezumi": 80, "system": 30,
                                                          "jf_alpha": 100, ANCHOR: 10}[system])
    rate(store, manifest, "ben", lambda system, role, i: {"jm_kumo": kumo["ben"][i], "jf_nezumi": 70, "system": 20,
                                                          "jf_alpha": 95, ANCHOR: 15}[system])
    # cleo misses the hidden reference in 1 of 4 trials (25% > 15%): excluded
    rate(store, manifest, "cleo", lambda system, role, i: {"jf_alpha": 50 if i == 0 else 100}.get(system, 0))
    report = compute(manifest, store.all())
    assert report.excluded == ["cleo"]
    assert [(s.listener, s.trials, s.reference_below) for s in report.screening] == [
        ("ana", 4, 0), ("ben", 4, 0), ("cleo", 4, 1)]
    rows = {r.system: r for r in report.rows}
    scores = np.array(kumo["ana"] + kumo["ben"], dtype=float)  # cleo's zeros are left out
    assert rows["jm_kumo"].n == len(scores)
    assert rows["jm_kumo"].mean == pytest.approx(scores.mean())
    half = t_quantile(0.975, len(scores) - 1) * scores.std(ddof=1) / math.sqrt(len(scores))
    assert rows["jm_kumo"].ci95 == pytest.approx(half)
    assert rows[ANCHOR_ROW].n == len(scores)
    assert rows["hidden reference (jf_alpha)"].mean == pytest.approx(97.5)
    assert rows["system"].mean == pytest.approx(25.0) and rows["system"].ci95 == pytest.approx(
        t_quantile(0.975, 7) * np.std([30] * 4 + [20] * 4, ddof=1) / math.sqrt(8))
    assert [r.system for r in report.rows][0] == "hidden reference (jf_alpha)"  # sorted by mean


def test_screening_follows_the_15_percent_rule_exactly(tmp_path):
    folder = tmp_path / "t"
    manifest = make_sine_test(folder, locales=("en-US", "fr-FR"), per_locale=3)  # 6 trials
    store = ResultStore(folder, manifest)
    # 0 of 6 below 90: kept; 1 of 6 (16.7%): excluded; reference at exactly 90 counts as not below.
    rate(store, manifest, "keep", lambda system, role, i: 90 if role == "reference" else 50)
    rate(store, manifest, "drop", lambda system, role, i: (89 if i == 0 else 100) if role == "reference" else 50)
    report = compute(manifest, store.all())
    assert report.excluded == ["drop"]


def test_report_writes_markdown_and_png_and_the_cli_prints_it(tmp_path, capsys):
    folder = tmp_path / "t"
    manifest = make_sine_test(folder)
    store = ResultStore(folder, manifest)
    rate(store, manifest, "ana", lambda system, role, i: {"jm_kumo": 40 + 10 * i, "jf_alpha": 100}.get(system, 20))
    assert main(["listen-test", "report", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "| jm_kumo | 2 | 45.0 | ±63.5 (-18.5 to 108.5) |" in out
    assert "1 listener(s) with results, 0 excluded by post-screening, 1 kept" in out
    assert (folder / "report.md").read_text() == out
    pytest.importorskip("matplotlib")
    assert (folder / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_of_bad_folders_says_what_is_wrong(tmp_path, capsys):
    assert main(["listen-test", "report", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    folder = tmp_path / "t"
    manifest = make_sine_test(folder)
    with pytest.raises(ConfigError, match="holds no results yet"):
        write_report(folder)
    store = ResultStore(folder, manifest)
    rate(store, manifest, "ana", lambda system, role, i: 50)
    path = folder / "results" / "ana.json"
    path.write_text(path.read_text().replace('"listener": "ana"', '"listener": "bob"'))
    assert main(["listen-test", "report", str(folder)]) == 2
    assert "ana.json was changed by hand or damaged" in capsys.readouterr().err
    assert not (folder / "report.md").exists()


def test_without_matplotlib_the_table_is_written_and_the_plot_explained(tmp_path, monkeypatch, capsys):
    import sys

    folder = tmp_path / "t"
    manifest = make_sine_test(folder)
    rate(ResultStore(folder, manifest), manifest, "ana", lambda system, role, i: 100 if role == "reference" else 40)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    assert main(["listen-test", "report", str(folder)]) == 0
    captured = capsys.readouterr()
    assert "matplotlib is not installed (pip install 'echoic[listen]')" in captured.err
    assert "| jm_kumo | 2 | 40.0 |" in captured.out and "Plot: not drawn" in captured.out
    assert not (folder / "report.png").exists()
