"""The shape of one language's data for the text front end.

Every language module (`en.py`, `de.py`, ...) builds one `Language` from tables and a few small
functions (number words, dates, times). The normaliser, the segmenter and the speller read these
fields and never branch on the language's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

MAX_NUMBER = 10**15 - 1
"""The largest integer a language's `cardinal` must read; longer digit strings are read digit by digit."""


@dataclass(frozen=True)
class Language:
    code: str
    """Two-letter language code (`en`), the key of the registry."""
    cardinal: Callable[[int], str]
    """Number words for 0 <= n <= MAX_NUMBER."""
    ordinal: Callable[[int, str], str]
    """Ordinal words for n >= 1; the second argument is a form key from `ordinal_suffixes` or
    `ordinal_form_after` ("" is the default form)."""
    read_year: Callable[[int], str]
    """A year as it is said (`1999` -> "nineteen ninety-nine")."""
    read_date: Callable[[int, int, int, str, str], str]
    """(year, month, day, locale tag, ordinal form) -> words."""
    read_time: Callable[[int, int, int | None, str], str]
    """(hours, minutes, seconds or None, day period words or "") -> words."""
    decimal_separator: str
    group_separators: str
    """Characters that may group thousands (`,` in English; `.` and no-break spaces elsewhere)."""
    fraction_digits_max: int
    """Fractions up to this many digits are read as a number ("coma cinco"), longer ones digit by digit."""
    words: dict[str, str]
    """Small words the logic needs: point, minus, percent, to, dot, at, emoji, flag, space, and."""
    abbreviations: dict[str, str]
    """Written abbreviation (with its dots, case-sensitive) -> expansion. Keys may hold a space."""
    symbols: dict[str, str]
    """Character -> its name (symbols and punctuation), used in text and in spelling."""
    letters: dict[str, str]
    """Lower-case letter -> its name when spelled."""
    marks: dict[str, str]
    """Combining mark -> its name when spelling an accented letter not in `letters`."""
    accented_letter: str
    """How an accented letter is named: "{letter} {mark}"."""
    units: dict[str, tuple[str, str]]
    """Unit symbol -> (singular, plural), read after a number."""
    currencies: dict[str, tuple[str, str, str, str]]
    """Symbol or ISO code -> (unit singular, unit plural, cent singular, cent plural)."""
    months: tuple[str, ...]
    day_periods: dict[str, str] = field(default_factory=dict)
    """Written am/pm forms -> how they are said, read after a time or a number."""
    noun_forms: dict[str, str] = field(default_factory=dict)
    """Last number word -> its form before a noun (German "eins" -> "ein": "ein Euro")."""
    ordinal_suffixes: dict[str, str] = field(default_factory=dict)
    """Written ordinal suffix after digits (`st`, `º`, `ª`, `er`) -> ordinal form key."""
    ordinal_dot: bool = False
    """Whether digits followed by a dot inside a sentence are an ordinal (German `3. Mai`)."""
    ordinal_form_after: dict[str, str] = field(default_factory=dict)
    """Preceding word (lower case) -> ordinal form key (German "am 3." -> dative "dritten")."""
    date_ordinal_form: str = ""
    """Ordinal form for a date's day when no preceding word chooses one."""
    month_first_locales: frozenset[str] = frozenset()
    """Locales whose slashed dates are month/day/year."""
    time_suffix: str = ""
    """A letter that may replace the colon in times (French `14h30`)."""
    read_decade: Callable[[int], str] | None = None
    """A decade or century as it is said ("1990s" -> "nineteen nineties", "80er" -> "achtziger");
    None where decades are plain numbers ("los años 90")."""
    decade_suffixes: tuple[str, ...] = ()
    """Written endings that make a round number a decade (`s`, `'s`; German `er`)."""
    decade_after: frozenset[str] = frozenset()
    """Words (lower case) after which a round number is a decade (French "années")."""
    short_decade_after: frozenset[str] = frozenset()
    """Where set, a two-digit decade ("80s") is one only after these words ("the", "early"):
    "30s" alone is thirty seconds."""
    years_without_context: bool = False
    """Whether every four-digit number from 1100 to 1999 written without a group separator is a
    year (German: "1945" is "neunzehnhundertfünfundvierzig" wherever it stands)."""
    year_after: frozenset[str] = frozenset()
    """Words (lower case) after which a four-digit number is a year ("in 1999", "seit 1989");
    month names always count."""
    ordinal_day_after_month: bool = False
    """Whether a day number next to a month name is an ordinal (English "May 5" -> "May fifth",
    "4 July" -> "the fourth of July")."""
    read_regnal: Callable[[int, str], str] | None = None
    """(n, "m" or "f") -> a Roman numeral after a monarch's or pope's name ("Louis XIV"): "the
    fourteenth", "der Vierzehnte", "die Zweite", "quatorze", "segunda"."""
    regnal_names: dict[str, str] = field(default_factory=dict)
    """Given names (lower case) of monarchs and popes -> "m" or "f". After another capitalised word
    a Roman numeral is a cardinal ("World War II", "Rocky IV")."""
    roman_cardinal_after: frozenset[str] = frozenset()
    """Words (lower case) after which a Roman numeral is a count ("Chapter IV", "siglo XXI")."""
    roman_count_before: frozenset[str] = frozenset()
    """Words (lower case) before which a Roman numeral is a count (Italian "XX secolo")."""
    read_roman_count: Callable[[int], str] | None = None
    """How a Roman numeral that counts is said; None: as a cardinal. Italian reads them as
    ordinals ("XX secolo" -> "ventesimo secolo", "capitolo IV" -> "capitolo quarto")."""
    not_names: frozenset[str] = frozenset()
    """Capitalised function words (lower case) that are not names ("The IV" is not regnal)."""
    roman_ordinal_suffixes: frozenset[str] = frozenset()
    """Endings written after a Roman numeral of I, V and X to make it an ordinal (French "XIXe
    siècle", "François Ier"); the endings are keys of `ordinal_suffixes`."""
    roman_never: frozenset[str] = frozenset()
    """Roman-numeral-like words that are never numerals here (the English pronoun "I")."""
    abbreviation_endings: dict[str, str] = field(default_factory=dict)
    """Abbreviated last part of a compound -> its expansion ("Goethestr." -> "Goethestraße")."""
    after_name_abbreviations: dict[str, str] = field(default_factory=dict)
    """Abbreviations read differently after a name and before no name ("Main St." -> "Street")."""
    phone_words: frozenset[str] = frozenset()
    """Words (lower case, without dot or colon) after which digit groups are a phone number."""
    phone_pairs: bool = False
    """Whether phone groups of one or two digits are said as numbers (French "vingt-trois")."""
    singular_below_two: bool = False
    """Whether a unit after a number below two is singular ("1,5 kilogramme")."""

    def number_before_noun(self, words: str) -> str:
        """Number words as they stand before a counted noun ("eins" -> "ein")."""
        head, sep, last = words.rpartition(" ")
        return head + sep + self.noun_forms.get(last, last)
