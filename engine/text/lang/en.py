"""English: number words, dates, times and the tables the front end reads for `en-*` locales."""

from __future__ import annotations

import re

from .base import Language

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_IRREGULAR = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}


def _below_hundred(n: int) -> str:
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    words = [f"{_ONES[hundreds]} hundred"] if hundreds else []
    if rest:
        words.append(_below_hundred(rest))
    return " ".join(words)


def cardinal(n: int) -> str:
    if n == 0:
        return "zero"
    parts = []
    for value, name in _SCALES:
        count, n = divmod(n, value)
        if count:
            parts.append(f"{_below_thousand(count)} {name}")
    if n:
        parts.append(_below_thousand(n))
    return " ".join(parts)


def ordinal(n: int, form: str = "") -> str:
    head, last = re.fullmatch(r"(.*?[ -]?)([a-z]+)", cardinal(n)).groups()
    if last in _ORDINAL_IRREGULAR:
        return head + _ORDINAL_IRREGULAR[last]
    if last.endswith("y"):
        return head + last[:-1] + "ieth"
    return head + last + "th"


def read_year(year: int) -> str:
    century, rest = divmod(year, 100)
    if not 1000 <= year <= 9999 or 2000 <= year <= 2009 or year % 1000 == 0:
        return cardinal(year)
    if rest == 0:
        return f"{cardinal(century)} hundred"
    return f"{cardinal(century)} {'oh ' if rest < 10 else ''}{cardinal(rest)}"


def read_decade(n: int) -> str:
    """"80s" -> "eighties", "1990s" -> "nineteen nineties", "1900s" -> "nineteen hundreds"."""
    words = cardinal(n) if n < 100 else read_year(n)
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def read_regnal(n: int, gender: str) -> str:
    return f"the {ordinal(n)}"


def read_date(year: int, month: int, day: int, locale: str, form: str) -> str:
    if locale in LANGUAGE.month_first_locales:
        return f"{MONTHS[month - 1]} {ordinal(day)} {read_year(year)}"
    return f"the {ordinal(day)} of {MONTHS[month - 1]} {read_year(year)}"


def read_time(hours: int, minutes: int, seconds: int | None, period: str) -> str:
    if minutes == 0 and not seconds:
        if period:
            words = cardinal(hours)
        else:
            words = cardinal(hours) + (" hundred" if hours > 12 else " o'clock")
    else:
        words = f"{cardinal(hours)} {'oh ' if minutes < 10 else ''}{cardinal(minutes)}"
    if seconds:
        words += f" and {cardinal(seconds)} second{'s' if seconds != 1 else ''}"
    return f"{words} {period}".strip()


MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)

_LETTERS = {
    "a": "eh", "b": "bee", "c": "see", "d": "dee", "e": "ee", "f": "ef", "g": "gee", "h": "aitch",
    "i": "eye", "j": "jay", "k": "kay", "l": "el", "m": "em", "n": "en", "o": "oh", "p": "pee",
    "q": "cue", "r": "ar", "s": "ess", "t": "tee", "u": "you", "v": "vee", "w": "double-u",
    "x": "ex", "y": "why", "z": "zee", "ß": "sharp s", "æ": "ash", "ø": "o slash", "œ": "o e",
}

_SYMBOLS = {
    " ": "space", ".": "dot", ",": "comma", ";": "semicolon", ":": "colon", "!": "exclamation mark",
    "?": "question mark", "'": "apostrophe", '"': "quote", "(": "left paren", ")": "right paren",
    "[": "left bracket", "]": "right bracket", "{": "left brace", "}": "right brace",
    "<": "less than", ">": "greater than", "-": "dash", "–": "en dash", "—": "em dash",
    "_": "underscore", "&": "and", "@": "at", "#": "number", "%": "percent", "+": "plus",
    "=": "equals", "/": "slash", "\\": "backslash", "*": "star", "|": "bar", "~": "tilde",
    "^": "caret", "`": "grave", "$": "dollar", "€": "euro", "£": "pound", "¥": "yen",
    "¢": "cent", "§": "section", "¶": "pilcrow", "©": "copyright", "®": "registered",
    "™": "trademark", "°": "degree", "•": "bullet", "·": "middle dot", "…": "ellipsis",
    "×": "times", "÷": "divided by", "±": "plus or minus", "→": "right arrow", "←": "left arrow",
    "‘": "left quote", "’": "apostrophe", "“": "left quote", "”": "right quote", "«": "left quote",
    "»": "right quote", "¿": "inverted question mark", "¡": "inverted exclamation mark",
    "\t": "tab", "\n": "new line", "−": "minus", "µ": "micro", "≈": "about",
}

_ABBREVIATIONS = {
    "Dr.": "Doctor", "Mr.": "Mister", "Mrs.": "Missus", "Ms.": "Miz", "Prof.": "Professor",
    "St.": "Saint", "Jr.": "Junior", "Sr.": "Senior", "Mt.": "Mount", "Ave.": "Avenue",
    "Rd.": "Road", "Inc.": "Incorporated", "Ltd.": "Limited", "Corp.": "Corporation",
    "Co.": "Company", "etc.": "et cetera", "e.g.": "for example", "i.e.": "that is",
    "vs.": "versus", "approx.": "approximately", "Fig.": "figure", "fig.": "figure",
    "Jan.": "January", "Feb.": "February", "Mar.": "March", "Apr.": "April", "Aug.": "August",
    "Sep.": "September", "Sept.": "September", "Oct.": "October", "Nov.": "November",
    "Dec.": "December", "Mon.": "Monday", "Tue.": "Tuesday", "Wed.": "Wednesday",
    "Thu.": "Thursday", "Fri.": "Friday", "Sat.": "Saturday", "Sun.": "Sunday",
    "U.S.": "U S", "U.K.": "U K", "a.m.": "a m", "p.m.": "p m", "Gen.": "General",
    "Sgt.": "Sergeant", "Capt.": "Captain", "Lt.": "Lieutenant", "Rev.": "Reverend",
    "Dept.": "Department", "Univ.": "University", "Vol.": "volume", "vol.": "volume",
    "p.": "page", "pp.": "pages", "No.": "number", "Nos.": "numbers", "cf.": "compare",
    "ca.": "circa", "min.": "minutes", "max.": "maximum", "est.": "established",
    "C#": "C sharp", "F#": "F sharp",
}

_UNITS = {
    "km": ("kilometre", "kilometres"), "m": ("metre", "metres"), "cm": ("centimetre", "centimetres"),
    "mm": ("millimetre", "millimetres"), "kg": ("kilogram", "kilograms"), "g": ("gram", "grams"),
    "mg": ("milligram", "milligrams"), "l": ("litre", "litres"), "ml": ("millilitre", "millilitres"),
    "°C": ("degree Celsius", "degrees Celsius"), "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"), "km/h": ("kilometre per hour", "kilometres per hour"),
    "mph": ("mile per hour", "miles per hour"), "mi": ("mile", "miles"), "ft": ("foot", "feet"),
    "in": ("inch", "inches"), "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"), "KB": ("kilobyte", "kilobytes"), "kB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"), "GB": ("gigabyte", "gigabytes"), "TB": ("terabyte", "terabytes"),
    "Hz": ("hertz", "hertz"), "kHz": ("kilohertz", "kilohertz"), "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"), "W": ("watt", "watts"), "kW": ("kilowatt", "kilowatts"),
    "V": ("volt", "volts"), "h": ("hour", "hours"), "min": ("minute", "minutes"),
    "s": ("second", "seconds"), "ms": ("millisecond", "milliseconds"),
}

_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"), "USD": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"), "EUR": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"), "GBP": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "sen", "sen"), "JPY": ("yen", "yen", "sen", "sen"),
}

REGNAL_NAMES = {
    "henry": "m", "edward": "m", "george": "m", "william": "m", "charles": "m", "james": "m",
    "john": "m", "richard": "m", "louis": "m", "philip": "m", "frederick": "m", "peter": "m",
    "paul": "m", "pius": "m", "benedict": "m", "leo": "m", "gregory": "m", "innocent": "m",
    "clement": "m", "urban": "m", "boniface": "m", "alexander": "m", "nicholas": "m", "ivan": "m",
    "napoleon": "m", "ferdinand": "m", "emmanuel": "m", "david": "m", "robert": "m",
    "alfonso": "m", "felipe": "m", "juan": "m", "carlos": "m", "ludwig": "m", "wilhelm": "m",
    "otto": "m", "constantine": "m", "justinian": "m", "ramesses": "m", "rameses": "m",
    "amenhotep": "m", "thutmose": "m", "ptolemy": "m", "harold": "m", "stephen": "m",
    "edmund": "m", "rudolf": "m", "maximilian": "m", "gustav": "m", "gustavus": "m",
    "christian": "m", "frederik": "m", "olaf": "m", "haakon": "m", "harald": "m", "magnus": "m",
    "eric": "m", "erik": "m", "sancho": "m", "pedro": "m", "manuel": "m", "sebastian": "m",
    "francis": "m", "umberto": "m", "sixtus": "m", "julius": "m", "adrian": "m", "hadrian": "m",
    "celestine": "m", "eugene": "m", "martin": "m", "sergius": "m", "stanislaus": "m",
    "elizabeth": "f", "mary": "f", "catherine": "f", "victoria": "f", "anne": "f",
    "isabella": "f", "isabel": "f", "margaret": "f", "christina": "f", "juana": "f",
    "joanna": "f", "cleopatra": "f", "beatrix": "f", "wilhelmina": "f",
}


LANGUAGE = Language(
    code="en",
    cardinal=cardinal,
    ordinal=ordinal,
    read_year=read_year,
    read_date=read_date,
    read_time=read_time,
    decimal_separator=".",
    group_separators=",",
    fraction_digits_max=0,
    words={
        "point": "point", "minus": "minus", "percent": "percent", "to": "to", "dot": "dot",
        "at": "at", "emoji": "emoji", "flag": "flag", "space": "space", "and": "and",
        "slash": "slash", "colon": "colon", "day_before_month": "the {} of",
    },
    abbreviations=_ABBREVIATIONS,
    symbols=_SYMBOLS,
    letters=_LETTERS,
    marks={
        "\u0301": "acute", "\u0300": "grave", "\u0302": "circumflex", "\u0308": "umlaut",
        "\u0303": "tilde", "\u0327": "cedilla", "\u030a": "ring", "\u030c": "caron",
    },
    accented_letter="{letter} {mark}",
    units=_UNITS,
    currencies=_CURRENCIES,
    months=MONTHS,
    day_periods={"am": "a m", "pm": "p m", "AM": "a m", "PM": "p m", "a.m.": "a m", "p.m.": "p m"},
    ordinal_suffixes={"st": "", "nd": "", "rd": "", "th": ""},
    month_first_locales=frozenset({"en-US", "en-US-south"}),
    read_decade=read_decade,
    decade_suffixes=("s", "'s", "’s"),
    short_decade_after=frozenset({"the", "early", "mid", "late", "mid-", "its", "their"}),
    year_after=frozenset({
        "in", "since", "by", "from", "to", "until", "till", "through", "before", "after", "of",
        "circa", "c.", "ca.", "year", "around", "during",
    }),
    ordinal_day_after_month=True,
    read_regnal=read_regnal,
    regnal_names=REGNAL_NAMES,
    roman_cardinal_after=frozenset({
        "war", "chapter", "part", "volume", "vol", "book", "act", "scene", "phase", "type", "class",
        "title", "article", "section", "appendix", "apollo", "level", "stage", "grade", "psalm",
        "step", "annex", "schedule", "figure", "table", "plate",
    }),
    not_names=frozenset({
        "the", "a", "an", "in", "on", "at", "of", "and", "to", "my", "your", "his", "her", "our",
        "their", "this", "that", "for", "with", "from", "by", "is", "was", "it", "we", "they", "he",
        "she", "you", "but", "or", "so", "if", "as",
    }),
    roman_never=frozenset({"I", "X"}),  # the pronoun; "Malcolm X", "Generation X"
    after_name_abbreviations={"St.": "Street", "Dr.": "Drive"},
    phone_words=frozenset({"tel", "phone", "telephone", "fax", "mobile", "cell"}),
)
