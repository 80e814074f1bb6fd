"""The G2P variants `engine/evaluation/phone_maps.py` measures: each changes the phonemes while
entered and leaves the shipped G2P as it was."""

from engine import g2p, model_store
from engine.evaluation.phone_maps import glottal_variants, pool_sentences, table_variants
from engine.locales import get_locale


def german(text: str) -> list[str]:
    return g2p.G2P(get_locale("de-DE"), model_store.load_vocab()).words(text.split())


def test_pool_sentences_match_the_pattern_and_skip_comments():
    found = pool_sentences("de", "eu|äu", 5)
    assert len(found) == 5
    assert all(("eu" in s.lower() or "äu" in s.lower()) and not s.startswith("#") for s in found)


def test_pool_sentences_by_phoneme_hold_it_in_their_espeak_phonemes():
    from engine.g2p import espeak

    found = pool_sentences("de", None, 3, phonemes=("ɔ^ø",))
    assert len(found) == 3
    assert all("ɔ^ø" in " ".join(espeak().phonemize(s, "de")) for s in found)
    assert pool_sentences("de", None, 3, phonemes=("no such phoneme",)) == []


def test_table_variants_measure_the_shipped_diphthong_against_two_vowels():
    shipped = german("heute neun")
    assert shipped == ["hˈYtə", "nˈYn"]
    variants = table_variants("de", (("ɔ^ø", "Y"),))
    with variants["without"]():
        assert german("heute neun") == ["hˈɔøtə", "nˈɔøn"]
    assert german("heute neun") == shipped
    with variants["with"]():
        assert german("heute neun") == shipped
    assert german("heute neun") == shipped


def test_a_table_change_not_shipped_is_added_only_while_entered():
    variants = table_variants("de", (("ɜ", "ɐ"),))
    with variants["with"]():
        assert german("wärmer") == ["vˈɛɾmɐ"]
    assert german("wärmer") == ["vˈɛɾmɜ"]


def test_glottal_variant_puts_a_glottal_stop_before_word_initial_vowels_only():
    plain = german("der Anwendung ist offen")
    variants = glottal_variants()
    with variants["with"]():
        assert german("der Anwendung ist offen") == ["dɛɾ", "ˈʔanvˌɛndʊŋ", "ʔɪst", "ˈʔɔfən"]
    with variants["without"]():
        assert german("der Anwendung ist offen") == plain
    assert german("der Anwendung ist offen") == plain
