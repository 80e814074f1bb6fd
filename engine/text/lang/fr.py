"""French: number words, dates, times and the tables the front end reads for `fr-*` locales."""

from __future__ import annotations

import re

from .base import Language

_ONES = (
    "zéro un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze "
    "seize dix-sept dix-huit dix-neuf"
).split()
_TENS = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante"}
_SCALES = ((10**12, "billion"), (10**9, "milliard"), (10**6, "million"))
_ORDINAL_LAST = {"un": "unième", "cinq": "cinquième", "neuf": "neuvième"}
_PLURAL_WORDS = ("cents", "vingts", "millions", "milliards", "billions")


def _below_hundred(n: int, final: bool) -> str:
    """`final`: the number ends here, so 80 is "quatre-vingts" (not before "mille")."""
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    if tens in (7, 9):
        base = "soixante" if tens == 7 else "quatre-vingt"
        return base + (" et " if n == 71 else "-") + _ONES[n - (60 if tens == 7 else 80)]
    if tens == 8:
        return "quatre-vingt" + (f"-{_ONES[ones]}" if ones else "s" if final else "")
    return _TENS[tens] + (" et un" if ones == 1 else f"-{_ONES[ones]}" if ones else "")


def _below_thousand(n: int, final: bool = True) -> str:
    hundreds, rest = divmod(n, 100)
    words = []
    if hundreds == 1:
        words.append("cent")
    elif hundreds:
        words.append(f"{_ONES[hundreds]} cent" + ("s" if rest == 0 and final else ""))
    if rest:
        words.append(_below_hundred(rest, final))
    return " ".join(words)


def _below_million(n: int) -> str:
    thousands, rest = divmod(n, 1000)
    words = []
    if thousands == 1:
        words.append("mille")
    elif thousands:
        words.append(_below_thousand(thousands, final=False) + " mille")
    if rest:
        words.append(_below_thousand(rest))
    return " ".join(words)


def cardinal(n: int) -> str:
    if n == 0:
        return "zéro"
    parts = []
    for value, name in _SCALES:
        count, n = divmod(n, value)
        if count:
            parts.append(f"{_below_million(count)} {name}{'s' if count > 1 else ''}")
    if n:
        parts.append(_below_million(n))
    return " ".join(parts)


def ordinal(n: int, form: str = "") -> str:
    """French ordinals; `form` "f" gives "première" (only 1 has a feminine form)."""
    if n == 1:
        return "première" if form == "f" else "premier"
    head, last = re.fullmatch(r"(.*?[ -]?)([^ -]+)", cardinal(n)).groups()
    if last in _ORDINAL_LAST:
        return head + _ORDINAL_LAST[last]
    if last in _PLURAL_WORDS:
        last = last[:-1]
    return head + last.removesuffix("e") + "ième"


def read_year(year: int) -> str:
    return cardinal(year)


def read_decade(n: int) -> str:
    """"les années 80" -> "quatre-vingt": a decade's number is invariable (no final "s")."""
    words = cardinal(n)
    return words[:-1] if words.endswith(("vingts", "cents")) else words


def read_regnal(n: int, gender: str) -> str:
    """"Louis XIV" -> "quatorze"; only the first is an ordinal: "François Ier" -> "premier"."""
    return "premier" if n == 1 else cardinal(n)


def read_date(year: int, month: int, day: int, locale: str, form: str) -> str:
    return f"{ordinal(1) if day == 1 else cardinal(day)} {MONTHS[month - 1]} {read_year(year)}"


def _feminine(words: str) -> str:
    return words[:-2] + "une" if words.endswith("un") else words


def read_time(hours: int, minutes: int, seconds: int | None, period: str) -> str:
    words = f"{_feminine(cardinal(hours))} heure{'s' if hours > 1 else ''}"
    if minutes:
        words += f" {_feminine(cardinal(minutes))}"
    if seconds:
        words += f" et {_feminine(cardinal(seconds))} seconde{'s' if seconds > 1 else ''}"
    return f"{words} {period}".strip()


MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
    "octobre", "novembre", "décembre",
)

_LETTERS = {
    "a": "a", "b": "bé", "c": "cé", "d": "dé", "e": "e", "f": "effe", "g": "gé", "h": "hache",
    "i": "i", "j": "ji", "k": "ka", "l": "elle", "m": "emme", "n": "enne", "o": "o", "p": "pé",
    "q": "qu", "r": "erre", "s": "esse", "t": "té", "u": "u", "v": "vé", "w": "double vé",
    "x": "ixe", "y": "i grec", "z": "zède", "ç": "cé cédille", "ß": "eszett", "œ": "o e dans l'o",
    "æ": "a e dans l'a",
}

_SYMBOLS = {
    " ": "espace", ".": "point", ",": "virgule", ";": "point-virgule", ":": "deux-points",
    "!": "point d'exclamation", "?": "point d'interrogation", "'": "apostrophe", '"': "guillemet",
    "(": "parenthèse ouvrante", ")": "parenthèse fermante", "[": "crochet ouvrant",
    "]": "crochet fermant", "{": "accolade ouvrante", "}": "accolade fermante",
    "<": "inférieur à", ">": "supérieur à", "-": "tiret", "–": "tiret moyen", "—": "tiret long",
    "_": "tiret bas", "&": "et", "@": "arobase", "#": "dièse", "%": "pour cent", "+": "plus",
    "=": "égal", "/": "barre oblique", "\\": "barre oblique inverse", "*": "astérisque",
    "|": "barre verticale", "~": "tilde", "^": "accent circonflexe", "`": "accent grave",
    "$": "dollar", "€": "euro", "£": "livre", "¥": "yen", "§": "paragraphe", "©": "copyright",
    "®": "marque déposée", "™": "marque commerciale", "°": "degré", "•": "puce",
    "…": "points de suspension", "×": "fois", "÷": "divisé par", "±": "plus ou moins",
    "→": "flèche droite", "←": "flèche gauche", "«": "ouvrez les guillemets",
    "»": "fermez les guillemets", "“": "guillemet", "”": "guillemet", "‘": "apostrophe",
    "’": "apostrophe", "\t": "tabulation", "\n": "nouvelle ligne", "−": "moins", "µ": "micro", "≈": "environ",
}

_ABBREVIATIONS = {
    "M.": "Monsieur", "MM.": "Messieurs", "Mme": "Madame", "Mmes": "Mesdames",
    "Mlle": "Mademoiselle", "Mlles": "Mesdemoiselles", "Dr": "Docteur", "Dr.": "Docteur",
    "Pr": "Professeur", "Me": "Maître", "St": "Saint", "Ste": "Sainte", "etc.": "et cetera",
    "p.ex.": "par exemple", "p. ex.": "par exemple", "c.-à-d.": "c'est-à-dire",
    "env.": "environ", "av.": "avenue", "bd": "boulevard", "bd.": "boulevard", "n°": "numéro",
    "no": "numéro", "tél.": "téléphone", "cf.": "confer", "vol.": "volume", "chap.": "chapitre",
    "p.": "page", "apr.": "après", "av. J.-C.": "avant Jésus-Christ",
    "apr. J.-C.": "après Jésus-Christ", "janv.": "janvier", "févr.": "février",
    "avr.": "avril", "juil.": "juillet", "sept.": "septembre", "oct.": "octobre",
    "nov.": "novembre", "déc.": "décembre", "min.": "minimum", "max.": "maximum",
    "Tél.": "téléphone", "C#": "C sharp", "F#": "F sharp",
}

_UNITS = {
    "km": ("kilomètre", "kilomètres"), "m": ("mètre", "mètres"), "cm": ("centimètre", "centimètres"),
    "mm": ("millimètre", "millimètres"), "kg": ("kilogramme", "kilogrammes"), "g": ("gramme", "grammes"),
    "mg": ("milligramme", "milligrammes"), "l": ("litre", "litres"), "ml": ("millilitre", "millilitres"),
    "°C": ("degré Celsius", "degrés Celsius"), "°F": ("degré Fahrenheit", "degrés Fahrenheit"),
    "°": ("degré", "degrés"), "km/h": ("kilomètre heure", "kilomètres heure"),
    "Ko": ("kilooctet", "kilooctets"), "Mo": ("mégaoctet", "mégaoctets"), "Go": ("gigaoctet", "gigaoctets"),
    "To": ("téraoctet", "téraoctets"), "KB": ("kilooctet", "kilooctets"), "kB": ("kilooctet", "kilooctets"),
    "MB": ("mégaoctet", "mégaoctets"), "GB": ("gigaoctet", "gigaoctets"), "TB": ("téraoctet", "téraoctets"),
    "Hz": ("hertz", "hertz"), "kHz": ("kilohertz", "kilohertz"), "MHz": ("mégahertz", "mégahertz"),
    "GHz": ("gigahertz", "gigahertz"), "W": ("watt", "watts"), "kW": ("kilowatt", "kilowatts"),
    "V": ("volt", "volts"), "h": ("heure", "heures"), "min": ("minute", "minutes"),
    "s": ("seconde", "secondes"), "ms": ("milliseconde", "millisecondes"),
}

_CURRENCIES = {
    "€": ("euro", "euros", "centime", "centimes"), "EUR": ("euro", "euros", "centime", "centimes"),
    "$": ("dollar", "dollars", "cent", "cents"), "USD": ("dollar", "dollars", "cent", "cents"),
    "£": ("livre", "livres", "penny", "pence"), "GBP": ("livre", "livres", "penny", "pence"),
    "¥": ("yen", "yens", "sen", "sen"), "CHF": ("franc", "francs", "centime", "centimes"),
}

REGNAL_NAMES = {
    "louis": "m", "henri": "m", "charles": "m", "philippe": "m", "françois": "m", "jean": "m",
    "napoléon": "m", "louis-philippe": "m", "pie": "m", "benoît": "m", "léon": "m",
    "grégoire": "m", "clément": "m", "innocent": "m", "urbain": "m", "alexandre": "m",
    "nicolas": "m", "paul": "m", "jean-paul": "m", "georges": "m", "guillaume": "m",
    "édouard": "m", "richard": "m", "frédéric": "m", "pierre": "m", "robert": "m", "hugues": "m",
    "lothaire": "m", "pépin": "m", "childéric": "m", "clovis": "m", "dagobert": "m",
    "rodolphe": "m", "ferdinand": "m", "alphonse": "m", "sixte": "m", "jules": "m",
    "élisabeth": "f", "marie": "f", "catherine": "f", "isabelle": "f", "victoria": "f",
    "cléopâtre": "f",
}


LANGUAGE = Language(
    code="fr",
    cardinal=cardinal,
    ordinal=ordinal,
    read_year=read_year,
    read_date=read_date,
    read_time=read_time,
    decimal_separator=",",
    group_separators="\u00a0\u202f\u2009.",
    fraction_digits_max=2,
    words={
        "point": "virgule", "minus": "moins", "percent": "pour cent", "to": "à", "dot": "point",
        "at": "arobase", "emoji": "émoji", "flag": "drapeau", "space": "espace", "and": "et",
        "slash": "barre oblique", "colon": "deux-points",
    },
    abbreviations=_ABBREVIATIONS,
    symbols=_SYMBOLS,
    letters=_LETTERS,
    marks={
        "\u0301": "accent aigu", "\u0300": "accent grave", "\u0302": "accent circonflexe",
        "\u0308": "tréma", "\u0303": "tilde", "\u0327": "cédille", "\u030a": "rond en chef",
        "\u030c": "caron",
    },
    accented_letter="{letter} {mark}",
    units=_UNITS,
    currencies=_CURRENCIES,
    months=MONTHS,
    ordinal_suffixes={"er": "", "re": "f", "ère": "f", "e": "", "ème": "", "eme": "", "è": ""},
    time_suffix="h",
    read_decade=read_decade,
    decade_after=frozenset({"années"}),
    read_regnal=read_regnal,
    regnal_names=REGNAL_NAMES,
    roman_never=frozenset({"X"}),  # "Herr X", "Monsieur X": a name, not ten
    roman_cardinal_after=frozenset({
        "chapitre", "tome", "volume", "partie", "acte", "livre", "article", "titre", "scène",
    }),
    not_names=frozenset({
        "le", "la", "les", "un", "une", "des", "du", "de", "et", "en", "à", "au", "aux", "je", "il",
        "elle", "nous", "vous", "ils", "ce", "cette",
    }),
    phone_words=frozenset({"tél", "tel", "téléphone", "fax", "portable"}),
    roman_ordinal_suffixes=frozenset({"e", "er", "re", "ème", "è"}),
    phone_pairs=True,
    singular_below_two=True,
)
