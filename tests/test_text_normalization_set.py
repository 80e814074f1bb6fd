"""The normalisation test set (tests/data/normalization/*.tsv), run case by case, and the guards
that keep its new readers from misreading what they must leave alone."""

from argparse import Namespace
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from engine.evaluation.text import (
    CLASSES, CaseFileError, accuracy_table, cmd_eval_text, load_cases, run_backend,
)
from engine.text import FrontEndReport, read_text
from engine.text.lang import LANGUAGES

CASES = [(code, case) for code in sorted(LANGUAGES) for case in load_cases(code)]


def say(text: str, locale: str) -> str:
    return " ".join(w.spoken for run in read_text(text, locale, FrontEndReport()) for w in run.items if w.spoken)


@pytest.mark.parametrize(("code", "case"), CASES, ids=[f"{code}:{c.line}:{c.cls}" for code, c in CASES])
def test_case(code, case):
    assert say(case.text, case.locale) == case.expected


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_every_language_has_sixty_cases_in_every_class(code):
    cases = load_cases(code)
    assert len(cases) >= 60
    assert {c.cls for c in cases} == set(CLASSES)


# The misreadings issue #14 reported, each with what a native reader says.
ISSUE_TABLE = [
    ("en-US", "The 1990s, the '80s", "The nineteen nineties the eighties"),
    ("en-US", "2nd-floor office", "second-floor office"),
    ("en-US", "C#", "C sharp"),
    ("en-US", "+1 (555) 010-9999", "plus one five five five zero one zero nine nine nine nine"),
    ("en-US", "≈ €1.150,00", "about one thousand one hundred fifty euros"),
    ("de-DE", "um 14:30 Uhr", "um vierzehn Uhr dreißig"),
    ("de-DE", "Tel. +49 30 1234567.", "Telefon plus vier neun drei null eins zwei drei vier fünf sechs sieben"),
    ("de-DE", "die 1990er Jahre", "die neunzehnhundertneunziger Jahre"),
    ("de-DE", "Friedrich II., Goethestr. 5a", "Friedrich der Zweite Goethestraße fünf a"),
    ("fr-FR", "Louis XIV", "Louis quatorze"),
    ("es-ES", "Felipe II", "Felipe segundo"),
    ("it-IT", "Vittorio Emanuele II", "Vittorio Emanuele secondo"),
]


@pytest.mark.parametrize(("locale", "text", "expected"), ISSUE_TABLE)
def test_the_issues_misreadings_are_read_right(locale, text, expected):
    assert say(text, locale) == expected


def test_a_phone_number_is_one_word_and_its_final_dot_ends_the_sentence():
    (run,) = read_text("Tel. +49 30 1234567. Danke", "de-DE", FrontEndReport())
    phone = run.items[1]
    assert (phone.text, phone.punct, phone.source_start) == ("+49 30 1234567", ".", 5)


# What the new readers must leave alone.
GUARDS = [
    ("en-US", "500-1000 words", "five hundred to one thousand words"),  # a range, not a phone number
    ("en-US", "wait 30s", "wait thirty seconds"),  # seconds, not "thirties"
    ("en-US", "the 30s", "the thirties"),
    ("en-US", "03/04/2026", "March fourth twenty twenty-six"),  # a date, not a phone number
    ("en-US", "Then I went", "Then I went"),  # the pronoun
    ("en-US", "Malcolm X", "Malcolm X"),
    ("en-US", "The IV", "The IV"),  # a function word is not a name
    ("en-US", "in 5 minutes", "in five minutes"),  # not a year
    ("en-US", "wait--what", "wait what"),  # "--" between words is still a break
    ("en-US", "COVID-19", "COVID nineteen"),  # a hyphen inside a token joins
    ("en-US", "1.150", "one point one five zero"),  # the locale's own convention first
    ("de-DE", "Die Uhr tickt", "Die Uhr tickt"),  # "Uhr" alone is a word
    ("de-DE", "14.30", "vierzehn Punkt dreißig"),  # no "Uhr", no time
    ("de-DE", "Es waren 3. Dann", "Es waren drei Dann"),
    ("de-DE", "die 3 Bände", "die drei Bände"),
    ("fr-FR", "0,5", "zéro virgule cinq"),  # a leading zero with a comma is no phone number
    ("es-ES", "Isabel es", "Isabel es"),
    ("en-US", "Mary I think", "Mary I think"),  # the pronoun after a regnal name
    ("en-US", "Super Bowl LVII", "Super Bowl LVII"),  # past 39: left to the voice
]


@pytest.mark.parametrize(("locale", "text", "expected"), GUARDS)
def test_guards(locale, text, expected):
    assert say(text, locale) == expected


def test_a_malformed_test_set_line_names_its_file_and_line(tmp_path, monkeypatch):
    import engine.evaluation.text as evaluation

    (tmp_path / "xx.tsv").write_text("# note\nclass\tlocale\tinput\texpected\nnumber\ten-US\t5\tfive\n")
    monkeypatch.setattr(evaluation, "DATA_DIR", tmp_path)
    with pytest.raises(CaseFileError, match=r"xx.tsv:3: .*known class"):
        load_cases("xx")


def test_the_rules_pass_the_set_and_the_libraries_measurably_do_not():
    rules = run_backend("rules", ["en"])["en"]["classes"]
    assert all(passed == total for passed, total in rules.values())
    # num2words says "one hundred and one"; plain Unicode names say "heavy black heart".
    n2w = run_backend("num2words", ["en"])["en"]["classes"]
    assert n2w["cardinal"][0] < n2w["cardinal"][1]
    plain = run_backend("unicode-names", ["de"])["de"]["classes"]
    assert plain["emoji"][0] == 0 and plain["emoji"][1] == 4
    assert "| **all** | **" in accuracy_table({"en": {"classes": rules}})


def test_eval_text_command_exits_zero_when_every_case_passes(capsys, tmp_path):
    out = tmp_path / "text.json"
    args = Namespace(languages=["it"], compare=False, failures=False, out=str(out), nemo_python=None)
    assert cmd_eval_text(args) == 0
    n = len(load_cases("it"))
    assert f"| **all** | **{n}/{n}** |" in capsys.readouterr().out
    assert out.exists()


def test_eval_text_command_rejects_an_unknown_language(capsys):
    args = Namespace(languages=["xx"], compare=False, failures=False, out=None, nemo_python=None)
    assert cmd_eval_text(args) == 2
    assert "unknown language 'xx'" in capsys.readouterr().err


def test_prepare_loads_the_emoji_names_a_locale_will_need():
    import sys

    from engine.text import prepare

    prepare("it-IT")
    assert "emoji" in sys.modules
    assert say("👍", "it-IT") == "pollice in su"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789 +()-./:'\"IVXer")), max_size=40),
       st.sampled_from(["en-US", "de-DE", "es-ES", "fr-FR", "it-IT"]))
def test_phone_and_roman_like_text_keeps_offsets_on_the_written_word(text, locale):
    for run in read_text(text, locale, FrontEndReport()):
        for word in run.items:
            assert text[word.source_start : word.source_start + len(word.text)] == word.text


@pytest.mark.parametrize(("locale", "text", "expected"), [
    ("fr-FR", "Le 1er mai", "Le premier mai"),  # "Le" is no Roman 50 with an ordinal ending
    ("fr-FR", "Ce livre", "Ce livre"),
    ("fr-FR", "De rien", "De rien"),
    ("es-ES", "La reunión", "La reunión"),
    ("es-ES", "Va bien", "Va bien"),
    ("it-IT", "La riunione", "La riunione"),
    ("de-DE", "Das 3. Kapitel", "Das dritte Kapitel"),  # weak ending after the definite article
])
def test_words_that_look_like_roman_numerals_with_endings(locale, text, expected):
    assert say(text, locale) == expected


@pytest.mark.parametrize("lang, locale", [("en", "en-US"), ("fr", "fr-FR"), ("de", "de-DE"), ("es", "es-ES"), ("it", "it-IT")])
def test_a_long_text_read_in_blocks_gives_the_words_read_whole(lang, locale):
    """Engine.stream reads plain text a block at a time (cut at line breaks, or in a long line at a
    plain word's full stop): the words, their normalisation and their offsets are unchanged."""
    from engine.text import read_text_lazily
    from engine.text.segment import text_blocks

    data = Path(__file__).resolve().parents[1] / "engine" / "evaluation" / "data"
    prose = (data / f"prose_{lang}.txt").read_text(encoding="utf-8")
    everyday = (data / f"everyday_{lang}.txt").read_text(encoding="utf-8")
    for text in ((prose + "\n") * 4 + everyday, prose.replace("\n", " ") * 4):
        blocks = list(text_blocks(text, 300, 2000))
        assert len(blocks) >= 3 and blocks[0][0] == 0 and blocks[-1][1] == len(text)
        assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))  # contiguous: nothing skipped
        whole = [w for run in read_text(text, locale, FrontEndReport()) for w in run.items]
        lazily = [w for run in read_text_lazily(text, locale, FrontEndReport(), 300, 2000) for w in run.items]
        assert lazily == whole


def test_text_blocks_never_cut_after_an_abbreviation_or_inside_a_line():
    from engine.text.segment import text_blocks

    text = "Dr. Smith met Prof. Jones at No. 5 Main St. Then they left. " * 40
    cuts = [end for _, end in list(text_blocks(text, 100, 100))[:-1]]
    assert cuts and all(text[:cut].endswith("left. ") for cut in cuts)
    assert list(text_blocks("no break at all " * 200, 100, 100)) == [(0, len("no break at all " * 200))]
