"""`echoic eval ...`: measurements of quality that are too slow for the test suite.

Each evaluation is a module here with `register(evals)`, which adds its sub-parser to the `eval`
group; the list below is the whole registry. An evaluation prints a table, writes its results
atomically and resumes after an interruption. Meters it uses come from the `eval` extra and are
never trained against.
"""

from __future__ import annotations

import importlib

# Module names under engine.evaluation, in the order `echoic eval --help` lists them.
EVALUATIONS: tuple[str, ...] = ("text", "accent", "guardrails", "clone")


def register(evals) -> None:
    for name in EVALUATIONS:
        importlib.import_module(f"{__name__}.{name}").register(evals)
