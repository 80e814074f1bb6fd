"""`echoic eval guardrails`: the corpus is there and the figures are counted right (no model)."""

import argparse
import json

import pytest

from engine.evaluation import guardrails as meter


@pytest.mark.parametrize("language, clitics", [
    ("en", ["the", "a", "and", "to"]), ("de", ["und", "die", "in"]), ("es", ["y", "a", "o", "la"]),
    ("fr", ["à", "et", "l'", "qu'"]), ("it", ["e", "a", "o", "l'"]),
])
def test_every_language_has_an_everyday_corpus_full_of_short_function_words(language, clitics):
    lines = meter.read_lines(meter.default_text_file(language))
    assert len(lines) >= 150 and len(set(lines)) == len(lines)
    words = " ".join(lines).lower().replace("?", " ").replace(",", " ").replace(".", " ")
    tokens = words.split()
    for clitic in clitics:
        hits = sum(t == clitic or (clitic.endswith("'") and t.startswith(clitic)) for t in tokens)
        assert hits >= 5, (clitic, hits)
    assert meter.read_lines(meter.DATA / f"prose_{language}.txt")


def test_comments_and_blank_lines_are_not_items(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("# a comment\n\nOne.\n  Two.  \n", encoding="utf-8")
    assert meter.read_lines(path) == ["One.", "Two."]


def test_counts_per_thousand_words():
    lines = {
        "0": {"words": 400, "failures": {"silent_word": 3}, "actions": {"split": 1, "regenerated_slower": 1, "fallback": 1}, "events": ["x"]},
        "1": {"words": 100, "failures": {}, "actions": {}, "events": []},
    }
    s = meter.summarise(lines)
    assert (s["words"], s["checks"], s["regenerations"], s["fallbacks"]) == (500, 3, 2, 1)
    assert (s["checks_per_1000"], s["regenerations_per_1000"], s["fallbacks_per_1000"]) == (6.0, 4.0, 2.0)
    assert s["items_with_events"] == 1
    row = meter.table({"fr-FR|jm_kumo|everyday_fr.txt|abc": {"total": 3, "lines": lines}}).splitlines()[-1]
    assert row == "| fr-FR | jm_kumo | everyday_fr.txt | 2 of 3 | 500 | 3 | 2 | 1 | 6.0 / 4.0 / 2.0 |"


def test_the_command_is_registered():
    parser = argparse.ArgumentParser()
    meter.register(parser.add_subparsers())
    args = parser.parse_args(["guardrails", "--locale", "fr-FR", "--voices", "jm_kumo", "ff_siwis", "--limit", "5"])
    assert (args.locale, args.voices, args.limit, args.func) == ("fr-FR", ["jm_kumo", "ff_siwis"], 5, meter.run)
