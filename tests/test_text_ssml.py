"""SSML: marks, breaks, prosody, language switches, say-as, sub, and malformed input."""

import pytest
from hypothesis import given, settings, strategies as st

from engine.text import Break, FrontEndReport, Mark, Word, read_ssml
from engine.text.ssml import break_ms, prosody_multiplier


def items(ssml, locale="en-US", report=None):
    runs = read_ssml(ssml, locale, report or FrontEndReport())
    return [i for run in runs for i in run.items]


def test_speech_dispatcher_document_with_marks_after_sentences():
    ssml = ('<speak>Hello world.<mark name="__spd_1"/> How are you?<mark name="__spd_2"/>'
            ' Fine, thanks.<mark name="__spd_3"/></speak>')
    report = FrontEndReport()
    got = items(ssml, report=report)
    assert [(type(i).__name__, getattr(i, "text", getattr(i, "name", None)), getattr(i, "punct", None))
            for i in got] == [
        ("Word", "Hello", ""), ("Word", "world", "."), ("Mark", "__spd_1", None),
        ("Word", "How", ""), ("Word", "are", ""), ("Word", "you", "?"), ("Mark", "__spd_2", None),
        ("Word", "Fine", ","), ("Word", "thanks", "."), ("Mark", "__spd_3", None),
    ]
    for word in (i for i in got if isinstance(i, Word)):
        assert ssml[word.source_start:].startswith(word.text)
    assert report.notes == []


def test_breaks_by_time_and_strength():
    got = items('<speak>a<break time="500ms"/>b<break time="1s"/>c<break strength="strong"/>d'
                '<break strength="none"/>e<break/>f</speak>')
    assert [i.ms for i in got if isinstance(i, Break)] == [500, 1000, 700, 400]
    assert [i.text for i in got if isinstance(i, Word)] == list("abcdef")


def test_nested_prosody_multiplies():
    runs = read_ssml('<speak>plain <prosody rate="150%" volume="loud">fast <prosody rate="+20%" '
                     'pitch="x-high">faster</prosody></prosody> plain</speak>', "en-US", FrontEndReport())
    got = [([w.text for w in r.items], r.rate, r.pitch, r.volume) for r in runs]
    assert got == [
        (["plain"], 1.0, 1.0, 1.0), (["fast"], 1.5, 1.0, 1.5),
        (["faster"], pytest.approx(1.8), 1.3, 1.5), (["plain"], 1.0, 1.0, 1.0),
    ]


@pytest.mark.parametrize(("attr", "value", "expected"), [
    ("rate", "x-slow", 0.5), ("rate", "x-fast", 2.0), ("rate", "150%", 1.5), ("rate", "+20%", 1.2),
    ("rate", "-10%", 0.9), ("rate", "2", 2.0), ("pitch", "x-low", 0.7), ("pitch", "+12st", 2.0),
    ("volume", "silent", 0.0), ("volume", "x-loud", 2.0), ("volume", "50", 0.5),
    ("volume", "+6dB", pytest.approx(1.995, abs=1e-3)), ("rate", "warp", None), ("pitch", "200Hz", None),
])
def test_prosody_values(attr, value, expected):
    assert prosody_multiplier(attr, value) == expected


def test_break_values():
    assert break_ms({"time": "1.5s"}) == 1500
    assert break_ms({"time": "250 ms"}) == 250
    assert break_ms({"time": "999s"}) == 10_000
    assert break_ms({"time": "soon"}) is None
    assert break_ms({"strength": "x-weak"}) == 100


def test_language_switch_sets_run_locale_and_normalises_in_that_language():
    runs = read_ssml('<speak>It costs <lang xml:lang="de-DE">5 €</lang> <s xml:lang="fr">'
                     'Il est 14h30</s></speak>', "en-US", FrontEndReport())
    assert [(r.locale, [w.spoken for w in r.items]) for r in runs] == [
        (None, ["It", "costs"]), ("de-DE", ["fünf Euro"]),
        ("fr-FR", ["Il", "est", "quatorze heures trente"]),
    ]
    assert runs[-1].items[-1].punct == "."


def test_unknown_language_keeps_locale_with_a_note():
    report = FrontEndReport()
    runs = read_ssml('<speak><lang xml:lang="tlh">Qapla</lang></speak>', "es-ES", report)
    assert [(r.locale, r.items[0].text) for r in runs] == [(None, "Qapla")]
    assert any("tlh" in n for n in report.notes)


def test_speak_lang_other_than_request():
    runs = read_ssml('<speak xml:lang="it-IT">1º</speak>', "en-US", FrontEndReport())
    assert runs[0].locale == "it-IT" and runs[0].items[0].spoken == "primo"


def test_say_as_characters_spells_and_sub_replaces():
    got = items('<speak><say-as interpret-as="characters">NVDA</say-as> and '
                '<sub alias="World Wide Web">WWW</sub>.</speak>')
    assert [(i.text, i.spoken, i.punct) for i in got] == [
        ("N", "en", ""), ("V", "vee", ""), ("D", "dee", ""), ("A", "eh", ""), ("and", "and", ""),
        ("WWW", "World Wide Web", "."),
    ]


def test_say_as_spell_out_in_spanish():
    got = items('<speak><say-as interpret-as="spell-out">ñy</say-as></speak>', "es-ES")
    assert [i.spoken for i in got] == ["eñe", "ye"]


def test_s_and_p_end_sentences_and_unknown_elements_are_read():
    got = items("<speak><p><s>One</s><s>two <emphasis>three</emphasis></s></p><p>four</p></speak>")
    assert [(i.text, i.punct) for i in got] == [("One", "."), ("two", ""), ("three", "."), ("four", ".")]


@pytest.mark.parametrize("fragment", ['Hello <mark name="a"/> world', '<p>Hello <mark name="a"/> world</p>'])
def test_a_fragment_without_speak_is_read_inside_speak_with_its_marks(fragment):
    report = FrontEndReport()
    got = items(fragment, report=report)
    assert [i.name if isinstance(i, Mark) else i.text for i in got] == ["Hello", "a", "world"]
    assert report.notes == []
    assert [i.source_start for i in got if isinstance(i, Word)] == [fragment.index("Hello"), fragment.index("world")]


def test_entities_and_namespaces():
    got = items('<speak xmlns="http://www.w3.org/2001/10/synthesis" version="1.0">Tom &amp; Jerry '
                '&lt;3</speak>')
    assert [i.spoken for i in got] == ["Tom", "and", "Jerry", "less than three"]


@pytest.mark.parametrize("bad", [
    "<speak>Hello <b>world", "<speak>Tom & Jerry</speak>", "Hello <mark name='a'> world",
    "<speak>Hello</speak><speak>world</speak>", "<speak>&nbsp;Hello world</speak>",
])
def test_malformed_ssml_is_read_as_text_with_a_note(bad):
    report = FrontEndReport()
    got = items(bad, report=report)
    assert [i.text for i in got if isinstance(i, Word)][-1] in ("world", "Jerry")
    assert any(n.startswith("malformed SSML") and n.endswith("read as text") for n in report.notes)
    for word in got:
        assert bad[word.source_start:].startswith(word.text)


def test_entity_declarations_are_refused():
    report = FrontEndReport()
    got = items('<!DOCTYPE speak [<!ENTITY a "aaaa">]><speak>&a;</speak>', report=report)
    assert all(isinstance(i, Word) for i in got)
    assert any("malformed SSML" in n for n in report.notes)


def _check(runs, source):
    for run in runs:
        for item in run.items:
            assert isinstance(item, (Word, Mark, Break))


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_read_ssml_never_raises_on_any_string(text):
    _check(read_ssml(text, "en-US", FrontEndReport()), text)


_TAGS = st.sampled_from([
    "<speak>", "</speak>", '<mark name="m"/>', '<break time="300ms"/>', '<prosody rate="fast">',
    "</prosody>", '<lang xml:lang="de">', "</lang>", '<say-as interpret-as="characters">',
    "</say-as>", '<sub alias="x">', "</sub>", "<s>", "</s>", "<p>", "</p>", "&amp;", "&bogus;", "<",
    ">", "Hello", " world", ".", "5 €", "\n",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_TAGS, max_size=30), st.sampled_from(["en-US", "de-DE", "fr-FR", "es-US", "it-IT"]))
def test_tag_soup_never_raises(parts, locale):
    _check(read_ssml("".join(parts), locale, FrontEndReport()), "".join(parts))
