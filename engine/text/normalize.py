"""Normalisation: one written token -> the words that are said, for one language.

`speak` tries readers in order (abbreviation, Roman numeral, initials, URL and e-mail, date, time,
money, decade, number with a unit or percent, ordinal, range, number or year, plain word, number
joined to words by hyphens) and falls back to reading the token piece by piece: letter runs as
written, digit runs as numbers, emoji by their CLDR names, other symbols by name, and a hyphen that
starts a token or stands next to another said ("-la", "--amend": command options). Phone numbers
are found by the segmenter (their groups hold spaces) and said by `say_phone`. Every
language-specific word comes from the `Language` tables; nothing here raises on odd input, and
anything unreadable becomes a note in the report.

What is hand-written and why (measured by `echoic eval text --compare`, docs/text.md): number words,
ordinals and years stay the language modules' own. On the normalisation test set num2words and
unicode-rbnf (CLDR RBNF) lose cases the rules pass (num2words says "one hundred and one", CLDR's
German years and French ordinal forms differ from the set's conventions) and win none; unicode-rbnf
also costs hundreds of milliseconds to load per process. Emoji names come from the `emoji` package
(CLDR short names in every language): it passes every emoji case where Unicode character names pass
one in seventeen, and it is imported only when a token holds an emoji.

Size: about 550 lines: the readers are one ordered cascade whose order is part of the rules
(a date must be tried before a number, a decade before a year); the per-language words are in
`lang/`. Splitting the readers into one module per class is the next step if it grows further.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from dataclasses import dataclass

from .items import FrontEndReport
from .lang import MAX_NUMBER, Language

_NUM = r"[-−+]?\d[\d.,\u00a0\u202f\u2009]*"
_URL = re.compile(
    r"(?:(?:https?|ftp)://|www\.)\S+"
    r"|[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|edu|gov|io|info|eu|uk|de|es|fr|it|ch|at|us|co)(?:/\S*)?",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})([/.])(\d{1,2})\2(\d{4})")
_DAY_MONTH = re.compile(r"(\d{1,2})\.(\d{1,2})\.")
_RANGE = re.compile(r"(\d{1,4})[-–](\d{1,4})")
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_PIECE = re.compile(
    r"\d+(?:[.,]\d+)*|(?:[^\W\d_][\u0300-\u036f]*)+(?:['’-](?:[^\W\d_][\u0300-\u036f]*)+)*"
    r"|[\U0001F1E6-\U0001F1FF]{2}|.",
    re.S,
)
# Joiners, variation selectors, skin-tone modifiers, keycap and tag characters: parts of an emoji
# sequence that have no name of their own worth saying.
_SILENT = re.compile(r"[\u200b-\u200f\u2060\ufe0e\ufe0f\u20e3\U0001F3FB-\U0001F3FF\U000E0020-\U000E007F]")
_JOINERS = frozenset("-‐‑")
# Invisible characters that may sit inside a word (soft hyphen, zero-width space, word joiner).
_INVISIBLE = re.compile(r"[\u00ad\u200b\u2060\ufeff]")
_EMOJI_RANGES = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF), (0x2300, 0x23FF))


@dataclass(frozen=True)
class Context:
    """What a reader may know besides the token itself."""

    lang: Language
    locale: str
    report: FrontEndReport
    prev: str = ""
    """The previous token's text in the same sentence (chooses German ordinal endings)."""
    next: str = ""
    """The next token's text ("3. Oktober": a month follows; "Main St.": no name follows)."""
    prev2: str = ""
    """The token before `prev` ("November 27, 2026": the year follows a month and a day)."""


# --- numbers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    negative: bool
    digits: str
    """The integer part's digits, group separators removed."""
    fraction: str | None
    grouped: bool

    @property
    def is_one(self) -> bool:
        return self.digits.lstrip("0") == "1" and not self.fraction


def _parse_with(text: str, decimal: str, groups: str) -> Number | None:
    sign = text[:1] in "-−"
    body = text[1:] if text[:1] in "-−+" else text
    integer, dec, fraction = body.partition(decimal)
    if dec and not fraction.isdecimal():
        return None
    if integer.isdecimal():
        return Number(sign, integer, fraction if dec else None, False)
    for sep in groups:
        if re.fullmatch(rf"\d{{1,3}}(?:{re.escape(sep)}\d{{3}})+", integer):
            return Number(sign, integer.replace(sep, ""), fraction if dec else None, True)
    return None


def parse_number(text: str, lang: Language) -> Number | None:
    """A number written by the language's conventions ("1,234.5" en, "1.234,5" de), or None.

    When the locale's convention cannot read it but the other one can, the text's own convention
    wins: "€1.150,00" in English text, "$1,150.00" in German text (issue #14). Only a number with
    both a group and a decimal separator says which convention it follows: "1,5" and "14.30" stay
    the locale's."""
    number = _parse_with(text, lang.decimal_separator, lang.group_separators)
    if number is None and lang.decimal_separator in ".," and "." in text and "," in text:
        other = "," if lang.decimal_separator == "." else "."
        number = _parse_with(text, other, lang.decimal_separator)
    return number


def digits_one_by_one(digits: str, lang: Language) -> str:
    return " ".join(lang.cardinal(int(d)) for d in digits)


def _say_integer(digits: str, grouped: bool, lang: Language) -> str:
    if len(digits) > 1 and digits.startswith("0") and not grouped:
        return digits_one_by_one(digits, lang)  # "007", "0049": said digit by digit
    if len(digits) > len(str(MAX_NUMBER)):  # also keeps int() away from Python's 4300-digit limit
        return digits_one_by_one(digits, lang)
    value = int(digits)
    return lang.cardinal(value) if value <= MAX_NUMBER else digits_one_by_one(digits, lang)


def _say_fraction(fraction: str, lang: Language) -> str:
    zeros = len(fraction) - len(fraction.lstrip("0"))
    rest = fraction[zeros:]
    if rest and len(fraction) <= lang.fraction_digits_max:
        return " ".join([lang.cardinal(0)] * zeros + [lang.cardinal(int(rest))])
    return digits_one_by_one(fraction, lang)


def say_number(number: Number, lang: Language, before_noun: bool = False) -> str:
    words = _say_integer(number.digits, number.grouped, lang)
    if number.fraction is not None:
        words += f" {lang.words['point']} {_say_fraction(number.fraction, lang)}"
    elif before_noun:
        words = lang.number_before_noun(words)
    return f"{lang.words['minus']} {words}" if number.negative else words


def _say_money(number: Number, currency: str, lang: Language) -> str:
    one, many, cent, cents = lang.currencies[currency]
    if number.fraction is not None and len(number.fraction) != 2:
        return f"{say_number(number, lang)} {many}"
    major = int(number.digits)
    minor = int(number.fraction or "0")
    major_words = f"{_say_integer(number.digits, number.grouped, lang)}"
    parts = []
    if major or not minor:
        parts.append(f"{lang.number_before_noun(major_words)} {one if major == 1 else many}")
    if minor:
        parts.append(f"{lang.number_before_noun(lang.cardinal(minor))} {cent if minor == 1 else cents}")
    words = f" {lang.words['and']} ".join(parts)
    return f"{lang.words['minus']} {words}" if number.negative else words


# --- readers: each returns the spoken words, or None when the token is not its kind ---------------


def read_abbreviation(text: str, ctx: Context) -> str | None:
    lang = ctx.lang
    if text in lang.after_name_abbreviations and _is_name(ctx.prev, lang) and not ctx.next[:1].isupper():
        return lang.after_name_abbreviations[text]  # "42 Main St." is a street, "St. Louis" a saint
    if text in lang.abbreviations:
        return lang.abbreviations[text]
    for ending, expansion in lang.abbreviation_endings.items():
        stem = text[: -len(ending)]
        if text.endswith(ending) and len(stem) > 1 and stem.isalpha():
            return stem + expansion  # "Goethestr." -> "Goethestraße"
    return lang.day_periods.get(text) or None  # "Uhr" alone is a word, "pm" alone is "p m"


def _is_name(word: str, lang: Language) -> bool:
    """A capitalised word that is not a function word: "Main", "Louis", "Jean-Paul"; a number too
    ("42nd St.")."""
    if word[:1].isdecimal():
        return True
    parts = word.split("-")
    return (all(p[:1].isupper() and (len(p) == 1 or p[1:].islower()) for p in parts)
            and word.lower() not in lang.not_names)


def read_initials(text: str, ctx: Context) -> str | None:
    """"J." or "N.A.S.A.": the letters, each said on its own."""
    if re.fullmatch(r"(?:[^\W\d_]\.)+", text):
        return " ".join(text.replace(".", ""))
    return None


def read_address(text: str, ctx: Context) -> str | None:
    """URLs and e-mail addresses, in parts: "example dot com", "name at example dot com"."""
    if not (_EMAIL.fullmatch(text) or _URL.fullmatch(text)):
        return None
    words = []
    for piece in re.findall(r"[^\W_]+|[\W_]", text):
        if piece.isdecimal():
            words.append(_say_integer(piece, False, ctx.lang) if len(piece) <= 4 else digits_one_by_one(piece, ctx.lang))
        elif piece.lower() in ("www", "http", "https", "ftp"):
            words.append(" ".join(ctx.lang.letters.get(c, c) for c in piece.lower()))
        elif piece.isalnum():
            words.append(read_pieces(piece, ctx))
        else:
            named = {".": "dot", "@": "at", "/": "slash", ":": "colon"}.get(piece)
            words.append(ctx.lang.words[named] if named else ctx.lang.symbols.get(piece, ""))
    return " ".join(w for w in words if w)


def _date(year: int, month: int, day: int, ctx: Context) -> str | None:
    try:
        datetime.date(year, month, day)
    except ValueError:
        return None
    form = ctx.lang.ordinal_form_after.get(ctx.prev.lower(), ctx.lang.date_ordinal_form)
    return ctx.lang.read_date(year, month, day, ctx.locale, form)


def read_date(text: str, ctx: Context) -> str | None:
    if m := _ISO_DATE.fullmatch(text):
        return _date(int(m[1]), int(m[2]), int(m[3]), ctx)
    if m := _DAY_MONTH_YEAR.fullmatch(text):
        day, month, year = int(m[1]), int(m[3]), int(m[4])
        if m[2] == "/" and ctx.locale in ctx.lang.month_first_locales:
            day, month = month, day
        # A date the locale's order cannot read is read in the other order: "27/11/2026" in en-US.
        return _date(year, month, day, ctx) or _date(year, day, month, ctx)
    if ctx.lang.ordinal_dot and (m := _DAY_MONTH.fullmatch(text)):
        try:
            datetime.date(2000, int(m[2]), int(m[1]))  # a leap year: "29.2." is a date
        except ValueError:
            return None
        form = ctx.lang.ordinal_form_after.get(ctx.prev.lower(), ctx.lang.date_ordinal_form)
        return ctx.lang.read_date(None, int(m[2]), int(m[1]), ctx.locale, form)
    return None


def read_time(text: str, ctx: Context) -> str | None:
    """"14:30", "2:30 pm", "14.30 Uhr", "14h30", "21h"."""
    lang = ctx.lang
    periods = "|".join(re.escape(p) for p in sorted(lang.day_periods, key=len, reverse=True)) or "(?!)"
    suffix = re.escape(lang.time_suffix) if lang.time_suffix else "(?!)"
    m = re.fullmatch(
        rf"(?P<h>\d{{1,2}})(?:(?P<sep>[:.{lang.time_suffix}])(?P<m>\d{{2}})(?::(?P<s>\d{{2}}))?|{suffix})?"
        rf"\s*(?P<p>{periods})?", text)
    if not m or (m["m"] is None and m["p"] is None and not (lang.time_suffix and text.endswith(lang.time_suffix))):
        return None
    if m["sep"] == "." and m["p"] is None:
        return None  # "14.30" alone is a number; "14.30 Uhr" and "2.30 pm" are times
    hours, minutes = int(m["h"]), int(m["m"] or 0)
    seconds = int(m["s"]) if m["s"] else None
    period = lang.day_periods.get(m["p"], "") if m["p"] else ""
    if hours > (12 if period else 24) or minutes > 59 or (seconds or 0) > 59:
        return None
    return lang.read_time(hours, minutes, seconds, period)


def read_money(text: str, ctx: Context) -> str | None:
    """"$5.20", "-€3", "5 €", "5,50 EUR": the currency's words, with cents when there are two digits."""
    symbols = "".join(re.escape(s) for s in ctx.lang.currencies if len(s) == 1)
    m = (re.fullmatch(rf"(?P<sign>[-−]?)(?P<cur>[{symbols}])(?P<num>\d[\d.,]*)", text)
         or re.fullmatch(rf"(?P<sign>)(?P<num>{_NUM})\s*(?P<cur>[{symbols}]|[A-Z]{{3}})", text))
    if not m or m["cur"] not in ctx.lang.currencies:
        return None
    number = parse_number(m["sign"] + m["num"], ctx.lang)
    return _say_money(number, m["cur"], ctx.lang) if number else None


def read_measure(text: str, ctx: Context) -> str | None:
    """A number with a percent sign or a unit: "50%", "5 %", "10 km", "25°C", "100km/h"."""
    m = re.fullmatch(rf"({_NUM})\s*([^\d\s].*)", text)
    if not m:
        return None
    number = parse_number(m[1], ctx.lang)
    if number is None:
        return None
    suffix = m[2]
    if suffix == "%":
        return f"{say_number(number, ctx.lang)} {ctx.lang.words['percent']}"
    if suffix in ctx.lang.units:
        one, many = ctx.lang.units[suffix]
        singular = number.is_one or (ctx.lang.singular_below_two and number.digits.lstrip("0") in ("", "1"))
        return f"{say_number(number, ctx.lang, before_noun=True)} {one if singular else many}"
    return None


def _is_month(word: str, lang: Language) -> bool:
    """A month name, written out or abbreviated ("Mai", "Jan.")."""
    return word.lower() in _lower_months(lang) or lang.abbreviations.get(word) in lang.months


def _lower_months(lang: Language) -> frozenset[str]:
    return frozenset(m.lower() for m in lang.months)


def read_ordinal(text: str, ctx: Context) -> str | None:
    lang = ctx.lang
    m = re.fullmatch(r"(\d{1,15})(\D+)", text)
    if m and m[2] in lang.ordinal_suffixes and int(m[1]) > 0:
        return lang.ordinal(int(m[1]), lang.ordinal_suffixes[m[2]])
    if lang.ordinal_dot and (m := re.fullmatch(r"(\d{1,15})\.", text)) and int(m[1]) > 0:
        default = lang.date_ordinal_form if _is_month(ctx.next, lang) else ""  # "3. Oktober": "dritter"
        return lang.ordinal(int(m[1]), lang.ordinal_form_after.get(ctx.prev.lower(), default))
    return None


def read_decade(text: str, ctx: Context) -> str | None:
    """"1990s", "the '80s", "1990er", "les années 80": the decade's own words."""
    lang = ctx.lang
    if lang.read_decade is None:
        return None
    if lang.decade_after and ctx.prev.lower() in lang.decade_after and re.fullmatch(r"[1-9]\d{1,3}", text):
        value = int(text)
        return lang.read_decade(value) if value % 10 == 0 else None
    suffixes = "|".join(re.escape(s) for s in lang.decade_suffixes) or "(?!)"
    m = re.fullmatch(rf"([1-9]\d{{1,3}})(?:{suffixes})", text)
    if not m or int(m[1]) % 10:
        return None
    value = int(m[1])
    if value < 100 and lang.short_decade_after and ctx.prev.lower() not in lang.short_decade_after:
        return None  # "30s" is thirty seconds unless "the", "early" or "late" says it is a decade
    return lang.read_decade(value) if value < 100 or 1000 <= value else None


ROMAN_NUMERAL = re.compile(r"(?=[MDCLXVI])M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})")
_ROMAN_VALUES = {"M": 1000, "D": 500, "C": 100, "L": 50, "X": 10, "V": 5, "I": 1}


def roman_value(numeral: str) -> int:
    values = [_ROMAN_VALUES[c] for c in numeral]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def read_roman(text: str, ctx: Context) -> str | None:
    """Roman numerals: "Louis XIV" (regnal, after a name), "Chapter IV" (a cardinal), "XIXe siècle"
    (an ordinal suffix), "Friedrich II." (German writes the regnal dot)."""
    lang = ctx.lang
    m = re.fullmatch(r"([MDCLXVI]+)(\.?)(\D*)", text)
    if not m or not ROMAN_NUMERAL.fullmatch(m[1]):
        return None
    if text in lang.roman_never and not (ctx.prev.lower() in lang.regnal_names and not ctx.next[:1].islower()):
        return None  # "Then I went", "Mary I think"; but "Queen Victoria I"
    value = roman_value(m[1])
    if m[3]:
        # Only I, V and X: "Le", "La", "Ce", "De", "Va" are words, not 50th, 100th, 500th, 5th.
        if m[2] or m[3] not in lang.roman_ordinal_suffixes or set(m[1]) - set("IVX"):
            return None
        return lang.ordinal(value, lang.ordinal_suffixes[m[3]])  # "XIXe", "Ier"
    if m[2] and not lang.ordinal_dot:
        return None
    prev = ctx.prev.rstrip(".").lower()
    if value >= 40 or not (ctx.prev or ctx.next) or ctx.prev[:1].isdecimal():
        return None  # "DC", "CD", "MIX", "XL" are rarely numerals; alone, "IV" may be anything
    if prev in lang.regnal_names and lang.read_regnal:
        return lang.read_regnal(value, lang.regnal_names[prev])
    if (prev in lang.roman_cardinal_after or ctx.next.lower() in lang.roman_count_before
            or _is_name(ctx.prev, lang)):
        # "Chapter IV", "siglo XXI", "World War II", "Rocky IV", "nel XX secolo"
        return (lang.read_roman_count or lang.cardinal)(value)
    return None


def read_range(text: str, ctx: Context) -> str | None:
    m = _RANGE.fullmatch(text)
    if not m or m[1].startswith("0") or int(m[1]) >= int(m[2]):
        return None
    low, high = int(m[1]), int(m[2])
    say = ctx.lang.read_year if 1000 <= low and high <= 2099 else ctx.lang.cardinal
    return f"{say(low)} {ctx.lang.words['to']} {say(high)}"


def _is_year(text: str, ctx: Context) -> bool:
    """Four digits after "in", "seit", a month, or a month and a day: a year, not a count."""
    if not (len(text) == 4 and text.isdecimal() and 1000 <= int(text) <= 2999):
        return False
    lang = ctx.lang
    if ctx.prev.lower() in lang.year_after or _is_month(ctx.prev, lang):
        return True
    if lang.years_without_context and 1100 <= int(text) <= 1999:
        return True
    return len(ctx.prev) <= 2 and ctx.prev.isdecimal() and int(ctx.prev) <= 31 and _is_month(ctx.prev2, lang)


def read_number(text: str, ctx: Context) -> str | None:
    lang = ctx.lang
    if _is_year(text, ctx):
        return lang.read_year(int(text))
    if (lang.ordinal_day_after_month and len(text) <= 2 and text.isdecimal() and 1 <= int(text) <= 31
            and _is_month(ctx.prev, lang)):
        return lang.ordinal(int(text), "")  # "May 5" -> "May fifth"
    if (lang.ordinal_day_after_month and len(text) <= 2 and text.isdecimal() and 1 <= int(text) <= 31
            and _is_month(ctx.next, lang)):
        form = lang.words.get("day_before_month", "{}")  # "4 July" -> "the fourth of July"
        if ctx.prev.lower() == form.split()[0]:
            form = form.split(" ", 1)[1]  # "the 4 July" says "the" once
        return form.format(lang.ordinal(int(text), ""))
    number = parse_number(text, lang)
    if number is None:
        return None
    words = say_number(number, lang)
    return f"{lang.symbols['+']} {words}" if text.startswith("+") else words


def read_word(text: str, ctx: Context) -> str | None:
    return text if _WORD.fullmatch(text) else None


def read_compound(text: str, ctx: Context) -> str | None:
    """A number joined to words by hyphens: "2nd-floor", "5-year-old", "1920er-Jahren"."""
    parts = text.split("-")
    if len(parts) < 2 or not all(parts) or not parts[0][:1].isdecimal():
        return None
    return "-".join(speak(part, ctx) for part in parts)


def say_phone(text: str, lang: Language) -> str:
    """A phone number in its written groups, digit by digit ("plus four nine, three zero, ...");
    where the language says short groups as numbers, as French does, as numbers ("vingt-trois")."""
    words = []
    for group in re.findall(r"\+|\d+", text):
        if group == "+":
            words.append(lang.symbols["+"])
        elif lang.phone_pairs and len(group) <= 2 and not (len(group) == 2 and group[0] == "0"):
            words.append(lang.cardinal(int(group)))
        else:
            words.append(digits_one_by_one(group, lang))
    return " ".join(words)


# --- the piece-by-piece fallback -----------------------------------------------------------------


def _is_emoji(char: str) -> bool:
    return any(low <= ord(char) <= high for low, high in _EMOJI_RANGES)


def _flag(pair: str, ctx: Context) -> str:
    letters = " ".join(chr(ord(c) - 0x1F1E6 + ord("A")) for c in pair)
    return f"{ctx.lang.words['flag']} {letters}"


_EMOJI_LANGUAGES_LOADED = {"en"}


def _emoji_name(sequence: str, lang: Language) -> str | None:
    """The CLDR short name of an emoji sequence in the language ("grinsendes gesicht"), from the
    `emoji` package; None when it has none. Imported on first use: its tables cost tens of
    milliseconds to load, which text without emoji never pays (docs/text.md)."""
    import emoji

    if lang.code not in _EMOJI_LANGUAGES_LOADED:
        emoji.config.load_language(lang.code)  # other languages than English load on demand
        _EMOJI_LANGUAGES_LOADED.add(lang.code)
    data = emoji.EMOJI_DATA.get(sequence) or emoji.EMOJI_DATA.get(sequence + "\ufe0f")
    if not data:
        return None
    name = (data.get(lang.code) or data.get("en") or "").strip(":").replace("_", " ")
    if name and 0x1F1E6 <= ord(sequence[0]) <= 0x1F1FF and not name.lower().startswith(lang.words["flag"].lower()):
        name = f"{lang.words['flag']} {name}"  # English names flags by country alone: "France"
    return name or None


def _emoji_spans(text: str) -> list[tuple[int, int]]:
    """Where the emoji sequences (with joiners, skin tones, flags, keycaps) are in `text`."""
    if not any(_is_emoji(c) or 0x1F1E6 <= ord(c) <= 0x1F1FF for c in text):
        return []
    import emoji

    return [(m["match_start"], m["match_end"]) for m in emoji.emoji_list(text)
            if _is_emoji(m["emoji"][0]) or 0x1F1E6 <= ord(m["emoji"][0]) <= 0x1F1FF]


def read_char(char: str, ctx: Context) -> str:
    """One character that is not part of a word or a number: its name, or "" with a note."""
    lang = ctx.lang
    if char in lang.symbols:
        return lang.symbols[char]
    if _SILENT.fullmatch(char) or char.isspace() or unicodedata.category(char)[0] in "MC":
        return ""
    if _is_emoji(char):
        return _emoji_name(char, lang) or lang.words["emoji"]
    try:
        return unicodedata.name(char).lower()
    except ValueError:
        ctx.report.notes.append(f"unreadable character U+{ord(char):04X}: not spoken")
        return ""


def _read_digits(piece: str, ctx: Context) -> str:
    number = parse_number(piece, ctx.lang)
    if number is not None:
        return say_number(number, ctx.lang)
    parts = re.findall(r"\d+|.", piece)
    return " ".join(_say_integer(p, False, ctx.lang) if p.isdecimal() else read_char(p, ctx) for p in parts)


def read_pieces(text: str, ctx: Context) -> str:
    """The fallback: letters as written, digits as numbers, emoji by their CLDR names, every other
    character by name. A hyphen between two pieces joins them ("COVID-19"); one that starts or
    ends a token or stands next to another is said ("-la", "--amend": command options)."""
    words, start = [], 0
    for begin, end in _emoji_spans(text) + [(len(text), len(text))]:
        words.append(_read_plain_pieces(text[start:begin], ctx))
        if begin < end:
            sequence = text[begin:end]
            words.append(_emoji_name(sequence, ctx.lang) or _read_plain_pieces(sequence, ctx))
        start = end
    return " ".join(w for w in words if w)


def _read_plain_pieces(text: str, ctx: Context) -> str:
    words = []
    pieces = [m.group() for m in _PIECE.finditer(text)]
    for i, piece in enumerate(pieces):
        joins = 0 < i < len(pieces) - 1 and pieces[i - 1] not in _JOINERS and pieces[i + 1] not in _JOINERS
        if piece in _JOINERS and joins:
            continue  # "COVID-19": a hyphen inside a token joins, it is not read
        if piece[0].isdecimal():
            words.append(_read_digits(piece, ctx))
        elif len(piece) == 2 and 0x1F1E6 <= ord(piece[0]) <= 0x1F1FF:
            words.append(_flag(piece, ctx))
        elif piece[0].isalpha():
            words.append(piece)
        else:
            # Superscripts and other number-like symbols are word characters to the regex.
            words.extend(c if c.isalpha() else read_char(c, ctx) for c in piece)
    return " ".join(w for w in words if w)


_READERS = (
    read_abbreviation, read_roman, read_initials, read_address, read_date, read_time, read_money,
    read_decade, read_measure, read_ordinal, read_range, read_number, read_word, read_compound,
)


def speak(text: str, ctx: Context) -> str:
    """The spoken form of one token (without its trailing punctuation)."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    if not text:
        return ""
    for reader in _READERS:
        spoken = reader(text, ctx)
        if spoken is not None:
            return spoken
    return read_pieces(text, ctx)
