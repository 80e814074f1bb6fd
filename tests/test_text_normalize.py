"""Normalisation per language: exact spoken forms for what screen readers send."""

import pytest

from engine.text import FrontEndReport, read_text
from engine.text.lang import LANGUAGES


def spoken(text: str, locale: str) -> list[str]:
    return [w.spoken for run in read_text(text, locale, FrontEndReport()) for w in run.items]


def one(text: str, locale: str) -> str:
    return " ".join(spoken(text, locale))


CASES = {
    "en-US": [
        ("1,234.5", "one thousand two hundred thirty-four point five"),
        ("-5", "minus five"),
        ("3.14", "three point one four"),
        ("1000000", "one million"),
        ("123456789012", "one hundred twenty-three billion four hundred fifty-six million "
                         "seven hundred eighty-nine thousand twelve"),
        ("1st", "first"), ("22nd", "twenty-second"), ("103rd", "one hundred third"),
        ("2026-11-27", "November twenty-seventh twenty twenty-six"),
        ("11/27/2026", "November twenty-seventh twenty twenty-six"),
        ("14:30", "fourteen thirty"), ("2:30 pm", "two thirty p m"), ("2:05pm", "two oh five p m"),
        ("9:00", "nine o'clock"),
        ("$5.20", "five dollars and twenty cents"), ("$1", "one dollar"), ("€3", "three euros"),
        ("£10", "ten pounds"), ("$0.99", "ninety-nine cents"),
        ("50%", "fifty percent"), ("10 km", "ten kilometres"), ("1 kg", "one kilogram"),
        ("25°C", "twenty-five degrees Celsius"), ("100 km/h", "one hundred kilometres per hour"),
        ("3.5 GB", "three point five gigabytes"), ("5mm", "five millimetres"),
        ("www.example.com", "double-u double-u double-u dot example dot com"),
        ("john.doe@example.com", "john dot doe at example dot com"),
        ("Dr. Smith", "Doctor Smith"), ("e.g. this", "for example this"), ("etc.", "et cetera"),
        ("well-known", "well-known"), ("COVID-19", "COVID nineteen"), ("10-20", "ten to twenty"),
        ("&", "and"), ("#1", "number one"), ("a + b = c", "a plus b equals c"),
        ("007", "zero zero seven"), ("😀", "grinning face"),
    ],
    "en-GB": [
        ("27/11/2026", "the twenty-seventh of November twenty twenty-six"),
        ("1999", "one thousand nine hundred ninety-nine"),
    ],
    "de-DE": [
        ("1.234,5", "eintausendzweihundertvierunddreißig Komma fünf"),
        ("3,14", "drei Komma eins vier"), ("-7", "minus sieben"),
        ("21", "einundzwanzig"), ("1000000", "eine Million"),
        ("Am 3. Mai", "Am dritten Mai"), ("der 1. Platz", "der erste Platz"),
        ("27.11.2026", "siebenundzwanzigster November zweitausendsechsundzwanzig"),
        ("am 27.11.2026", "am siebenundzwanzigsten November zweitausendsechsundzwanzig"),
        ("2026-11-27", "siebenundzwanzigster November zweitausendsechsundzwanzig"),
        ("14:30", "vierzehn Uhr dreißig"), ("1:00", "ein Uhr"),
        ("5 €", "fünf Euro"), ("5,50 €", "fünf Euro und fünfzig Cent"), ("1 €", "ein Euro"),
        ("50%", "fünfzig Prozent"), ("1 km", "ein Kilometer"), ("20 °C", "zwanzig Grad Celsius"),
        ("z.B.", "zum Beispiel"), ("z. B. hier", "zum Beispiel hier"), ("usw.", "und so weiter"),
        ("Dr. Meier", "Doktor Meier"), ("a@b.de", "a ät b Punkt de"), ("😀", "grinsendes gesicht"),
    ],
    "es-ES": [
        ("1.234,5", "mil doscientos treinta y cuatro coma cinco"), ("3,05", "tres coma cero cinco"),
        ("3,50", "tres coma cincuenta"), ("-2", "menos dos"), ("21000", "veintiún mil"),
        ("1000000", "un millón"), ("1º", "primero"), ("1ª", "primera"), ("3er", "tercer"),
        ("27/11/2026", "veintisiete de noviembre de dos mil veintiséis"),
        ("14:30", "catorce y treinta"), ("5 €", "cinco euros"), ("1 €", "un euro"),
        ("5,20 €", "cinco euros con veinte céntimos"), ("21 km", "veintiún kilómetros"),
        ("50%", "cincuenta por ciento"), ("Sr. García", "Señor García"), ("etc.", "etcétera"),
        ("y", "y"), ("a@b.es", "a arroba b punto es"),
    ],
    "fr-FR": [
        ("1\u202f234,5", "mille deux cent trente-quatre virgule cinq"), ("71", "soixante et onze"),
        ("80", "quatre-vingts"), ("91", "quatre-vingt-onze"), ("200", "deux cents"),
        ("80000", "quatre-vingt mille"), ("1er", "premier"), ("1re", "première"),
        ("2e", "deuxième"), ("21e", "vingt et unième"), ("14h30", "quatorze heures trente"),
        ("14:30", "quatorze heures trente"), ("1:00", "une heure"),
        ("27/11/2026", "vingt-sept novembre deux mille vingt-six"),
        ("5 €", "cinq euros"), ("5 %", "cinq pour cent"), ("M. Dupont", "Monsieur Dupont"),
        ("Mme Curie", "Madame Curie"), ("10 km", "dix kilomètres"),
    ],
    "it-IT": [
        ("1.234,5", "milleduecentotrentaquattro virgola cinque"), ("3,5", "tre virgola cinque"),
        ("23", "ventitré"), ("28", "ventotto"), ("108", "centotto"), ("2000", "duemila"),
        ("21000", "ventunmila"), ("1000000", "un milione"), ("1º", "primo"), ("2ª", "seconda"),
        ("27/11/2026", "ventisette novembre duemilaventisei"), ("14:30", "quattordici e trenta"),
        ("5 €", "cinque euro"), ("50%", "cinquanta per cento"), ("Sig.ra Rossi", "Signora Rossi"),
        ("ecc.", "eccetera"), ("2 kg", "due chilogrammi"),
    ],
}


@pytest.mark.parametrize(("locale", "text", "expected"),
                         [(loc, t, e) for loc, cases in CASES.items() for t, e in cases])
def test_spoken_form(locale, text, expected):
    assert one(text, locale) == expected


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_numbers_up_to_a_trillion_have_words(code):
    lang = LANGUAGES[code]
    for n in (0, 7, 19, 99, 101, 999, 1001, 10**6 + 1, 10**9, 10**12, 10**15 - 1):
        words = lang.cardinal(n)
        assert words and not any(c.isdigit() for c in words)
    for n in (1, 2, 3, 11, 21, 100, 1000):
        assert lang.ordinal(n, "") and not any(c.isdigit() for c in lang.ordinal(n, ""))


def test_very_long_digit_strings_are_read_digit_by_digit():
    assert one("12345678901234567890", "en-US").split()[:3] == ["one", "two", "three"]


def test_abbreviations_do_not_end_sentences():
    words = read_text("Dr. Smith met Sr. Lee. Then etc. and more", "en-US", FrontEndReport())[0].items
    ends = [w.text for w in words if w.ends_sentence]
    assert ends == ["Lee"]


def test_emoji_and_unknown_symbols_never_crash():
    report = FrontEndReport()
    words = read_text("hi 👨‍👩‍👧 \ue000 🇫🇷 ☃", "de-DE", report)[0].items
    # Emoji sequences have their CLDR names (issue #14): one name for the whole family.
    assert [w.spoken for w in words][:2] == ["hi", "familie mann frau und mädchen"]
    assert words[3].spoken == "flagge frankreich"
    # A private-use character has nothing to say: an empty word and a note, not an exception.
    assert words[2].spoken == ""
    assert any("nothing speakable" in n and "offset 9" in n for n in report.notes)


def test_a_number_past_pythons_int_conversion_limit_is_read_digit_by_digit():
    from engine.text import read_text
    from engine.text.items import FrontEndReport

    (run,) = read_text("call 1" + "2" * 4400 + " now", "en-US", FrontEndReport())
    items = run.items
    assert [i.text[:6] for i in items] == ["call", "122222", "now"]
    assert items[1].spoken.split()[:3] == ["one", "two", "two"] and len(items[1].spoken.split()) == 4401
