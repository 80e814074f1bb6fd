"""Normalisation: one written token -> the words that are said, for one language.

`speak` tries readers in order (abbreviation, URL and e-mail, date, time, money, number with a
unit or percent, ordinal, range, number, plain word) and falls back to reading the token piece by
piece: letter runs as written, digit runs as numbers, symbols by name, emoji by name or a generic
word. Every language-specific word comes from the `Language` tables; nothing here raises on odd
input, and anything unreadable becomes a note in the report.
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


def parse_number(text: str, lang: Language) -> Number | None:
    """A number written by the language's conventions ("1,234.5" en, "1.234,5" de), or None."""
    sign = text[:1] in "-−"
    body = text[1:] if text[:1] in "-−+" else text
    integer, dec, fraction = body.partition(lang.decimal_separator)
    if dec and not fraction.isdecimal():
        return None
    if integer.isdecimal():
        return Number(sign, integer, fraction if dec else None, False)
    for sep in lang.group_separators:
        if re.fullmatch(rf"\d{{1,3}}(?:{re.escape(sep)}\d{{3}})+", integer):
            return Number(sign, integer.replace(sep, ""), fraction if dec else None, True)
    return None


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
    return ctx.lang.abbreviations.get(text) or ctx.lang.day_periods.get(text)


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
        first, second, year = int(m[1]), int(m[3]), int(m[4])
        if m[2] == "/" and ctx.locale in ctx.lang.month_first_locales:
            first, second = second, first
        return _date(year, second, first, ctx)
    return None


def read_time(text: str, ctx: Context) -> str | None:
    lang = ctx.lang
    periods = "|".join(re.escape(p) for p in sorted(lang.day_periods, key=len, reverse=True)) or "(?!)"
    seps = ":" + lang.time_suffix
    m = re.fullmatch(rf"(\d{{1,2}})(?:[{seps}](\d{{2}})(?::(\d{{2}}))?)?\s*({periods})?", text)
    if not m or (m[2] is None and m[4] is None):
        return None
    hours, minutes = int(m[1]), int(m[2] or 0)
    seconds = int(m[3]) if m[3] else None
    period = lang.day_periods.get(m[4], "") if m[4] else ""
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
        return f"{say_number(number, ctx.lang, before_noun=True)} {one if number.is_one else many}"
    return None


def read_ordinal(text: str, ctx: Context) -> str | None:
    lang = ctx.lang
    m = re.fullmatch(r"(\d{1,15})(\D+)", text)
    if m and m[2] in lang.ordinal_suffixes and int(m[1]) > 0:
        return lang.ordinal(int(m[1]), lang.ordinal_suffixes[m[2]])
    if lang.ordinal_dot and (m := re.fullmatch(r"(\d{1,15})\.", text)) and int(m[1]) > 0:
        return lang.ordinal(int(m[1]), lang.ordinal_form_after.get(ctx.prev.lower(), ""))
    return None


def read_range(text: str, ctx: Context) -> str | None:
    m = _RANGE.fullmatch(text)
    if not m or m[1].startswith("0") or int(m[1]) >= int(m[2]):
        return None
    low, high = int(m[1]), int(m[2])
    say = ctx.lang.read_year if 1000 <= low and high <= 2099 else ctx.lang.cardinal
    return f"{say(low)} {ctx.lang.words['to']} {say(high)}"


def read_number(text: str, ctx: Context) -> str | None:
    number = parse_number(text, ctx.lang)
    if number is None:
        return None
    words = say_number(number, ctx.lang)
    return f"{ctx.lang.symbols['+']} {words}" if text.startswith("+") else words


def read_word(text: str, ctx: Context) -> str | None:
    return text if _WORD.fullmatch(text) else None


# --- the piece-by-piece fallback -----------------------------------------------------------------


def _is_emoji(char: str) -> bool:
    return any(low <= ord(char) <= high for low, high in _EMOJI_RANGES)


def _flag(pair: str, ctx: Context) -> str:
    letters = " ".join(chr(ord(c) - 0x1F1E6 + ord("A")) for c in pair)
    return f"{ctx.lang.words['flag']} {letters}"


def read_char(char: str, ctx: Context) -> str:
    """One character that is not part of a word or a number: its name, or "" with a note."""
    lang = ctx.lang
    if char in lang.symbols:
        return lang.symbols[char]
    if _SILENT.fullmatch(char) or char.isspace() or unicodedata.category(char)[0] in "MC":
        return ""
    if _is_emoji(char) and lang.code != "en":
        return lang.words["emoji"]
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
    """The fallback: letters as written, digits as numbers, every other character by name."""
    words = []
    for m in _PIECE.finditer(text):
        piece = m.group()
        if piece in _JOINERS and piece != text:
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
    read_abbreviation, read_initials, read_address, read_date, read_time, read_money, read_measure,
    read_ordinal, read_range, read_number, read_word,
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
