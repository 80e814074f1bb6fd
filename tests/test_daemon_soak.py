"""A short soak (#15): the mixed load of `echoic bench soak` for a few seconds on the fake engine;
the daemon serves every worker without error and its memory comes back near its idle figure."""

from __future__ import annotations

import csv

from engine.daemon.soak import run_soak
from tests.conftest_daemon import FakeEngine


def test_short_soak_serves_everyone_and_gives_memory_back(tmp_path):
    lines = list(run_soak(0.2, tmp_path / "soak", engine=FakeEngine(delay=0.002), every_s=0.5, settle_s=4.0))
    summary = "\n".join(lines)
    assert "worker errors: 0 " in summary, summary
    for kind in ("say_all", "keys", "reconnects", "settings"):
        assert f"'{kind}': 0," not in summary and f"'{kind}': 0}}" not in summary, summary
    rows = list(csv.DictReader((tmp_path / "soak.csv").open()))
    assert len(rows) >= 15 and {r["phase"] for r in rows} == {"load", "idle"}
    load = [float(r["rss_mib"]) for r in rows if r["phase"] == "load"]
    idle = [float(r["rss_mib"]) for r in rows if r["phase"] == "idle"]
    # The test process already holds whatever earlier tests loaded (the real model among them), so
    # the bound is on what the soak adds; `echoic bench soak` in a fresh process gives absolutes.
    assert max(load) - float(rows[0]["rss_mib"]) < 64, summary
    assert idle[-1] <= min(load) * 1.25, summary  # no growth left behind by the load


def test_memory_probe_reports_every_request_kind():
    from engine.daemon.soak import PROBES, run_memory_probe

    lines = list(run_memory_probe(engine=FakeEngine(delay=0)))
    assert len(lines) == 3 + len(PROBES) and all(name in "\n".join(lines) for name, _ in PROBES)
