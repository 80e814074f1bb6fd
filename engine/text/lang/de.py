"""German: number words, dates, times and the tables the front end reads for `de-*` locales."""

from __future__ import annotations

from .base import Language

_ONES = (
    "null eins zwei drei vier fünf sechs sieben acht neun zehn elf zwölf dreizehn vierzehn "
    "fünfzehn sechzehn siebzehn achtzehn neunzehn"
).split()
_TENS = ("", "", "zwanzig", "dreißig", "vierzig", "fünfzig", "sechzig", "siebzig", "achtzig", "neunzig")
_SCALES = ((10**12, "Billion", "Billionen"), (10**9, "Milliarde", "Milliarden"), (10**6, "Million", "Millionen"))
# Ordinal stems of 1..19; from 20 on the stem is the cardinal plus "st".
_ORDINAL_STEMS = {1: "erst", 3: "dritt", 7: "siebt", 8: "acht"}


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    words = ("ein" if hundreds == 1 else _ONES[hundreds]) + "hundert" if hundreds else ""
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words += (("ein" if ones == 1 else _ONES[ones]) + "und" if ones else "") + _TENS[tens]
    elif rest:
        words += _ONES[rest]
    return words


def _below_million(n: int) -> str:
    thousands, rest = divmod(n, 1000)
    words = _below_thousand(thousands).removesuffix("s") + "tausend" if thousands else ""
    return words + (_below_thousand(rest) if rest else "")


def cardinal(n: int) -> str:
    if n == 0:
        return "null"
    parts = []
    for value, one, many in _SCALES:
        count, n = divmod(n, value)
        if count == 1:
            parts.append(f"eine {one}")
        elif count:
            # The count agrees with the feminine scale word: "einhunderteine Millionen".
            words = _below_million(count)
            parts.append(f"{words[:-1] + 'e' if words.endswith('eins') else words} {many}")
    if n:
        parts.append(_below_million(n))
    return " ".join(parts)


def _ordinal_stem(n: int) -> str:
    small = n % 100
    words = cardinal(n)
    if 1 <= small <= 19:
        return words[: -len(_ONES[small])] + _ORDINAL_STEMS.get(small, _ONES[small] + "t")
    if n >= 10**6 and n % 10**6 == 0:
        # "zwei Millionen" -> "zweimillionst": the scale word joins the count, singular.
        count, _, scale = words.rpartition(" ")
        singular = {many: one for _, one, many in _SCALES}.get(scale, scale)
        return (count.removesuffix("e") + singular).lower() + "st"
    return words + "st"


def ordinal(n: int, form: str = "") -> str:
    """German ordinals; `form` is the adjective ending after "e": "" (dritte), "n", "r", "s", "m"."""
    return _ordinal_stem(n) + "e" + form


def read_year(year: int) -> str:
    if 1100 <= year <= 1999:
        century, rest = divmod(year, 100)
        return cardinal(century) + "hundert" + (_below_thousand(rest) if rest else "")
    return cardinal(year)


def read_decade(n: int) -> str:
    """"80er" -> "achtziger", "1990er" -> "neunzehnhundertneunziger"."""
    return (cardinal(n) if n < 100 else read_year(n)) + "er"


def read_regnal(n: int, gender: str) -> str:
    """"Friedrich II." -> "der Zweite", "Elisabeth II." -> "die Zweite" (nominative; the ordinal is
    part of the name, so capitalised)."""
    return ("die " if gender == "f" else "der ") + ordinal(n).capitalize()


def read_date(year: int | None, month: int, day: int, locale: str, form: str) -> str:
    """`year` None: a date written without one ("am 3.10.")."""
    words = f"{ordinal(day, form)} {MONTHS[month - 1]}"
    return words if year is None else f"{words} {read_year(year)}"


def read_time(hours: int, minutes: int, seconds: int | None, period: str) -> str:
    words = f"{LANGUAGE.number_before_noun(cardinal(hours))} Uhr"
    if minutes:
        words += f" {cardinal(minutes)}"
    if seconds:
        words += " und eine Sekunde" if seconds == 1 else f" und {cardinal(seconds)} Sekunden"
    return f"{words} {period}".strip()


MONTHS = (
    "Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
    "November", "Dezember",
)

_LETTERS = {
    "a": "a", "b": "be", "c": "zeh", "d": "de", "e": "e", "f": "eff", "g": "ge", "h": "ha",
    "i": "i", "j": "jott", "k": "ka", "l": "ell", "m": "emm", "n": "enn", "o": "o", "p": "pe",
    "q": "ku", "r": "err", "s": "ess", "t": "te", "u": "u", "v": "fau", "w": "we", "x": "ix",
    "y": "ypsilon", "z": "zett", "ä": "ä", "ö": "ö", "ü": "ü", "ß": "eszett",
}

_SYMBOLS = {
    " ": "Leerzeichen", ".": "Punkt", ",": "Komma", ";": "Semikolon", ":": "Doppelpunkt",
    "!": "Ausrufezeichen", "?": "Fragezeichen", "'": "Apostroph", '"': "Anführungszeichen",
    "(": "Klammer auf", ")": "Klammer zu", "[": "eckige Klammer auf", "]": "eckige Klammer zu",
    "{": "geschweifte Klammer auf", "}": "geschweifte Klammer zu", "<": "kleiner als",
    ">": "größer als", "-": "Bindestrich", "–": "Gedankenstrich", "—": "Gedankenstrich",
    "_": "Unterstrich", "&": "und", "@": "ät", "#": "Raute", "%": "Prozent", "+": "plus",
    "=": "gleich", "/": "Schrägstrich", "\\": "Backslash", "*": "Stern", "|": "senkrechter Strich",
    "~": "Tilde", "^": "Zirkumflex", "`": "Gravis", "$": "Dollar", "€": "Euro", "£": "Pfund",
    "¥": "Yen", "§": "Paragraf", "©": "Copyright", "®": "eingetragene Marke", "™": "Marke",
    "°": "Grad", "•": "Aufzählungspunkt", "…": "Auslassungspunkte", "×": "mal", "÷": "geteilt durch",
    "±": "plus minus", "→": "Pfeil rechts", "←": "Pfeil links", "„": "Anführungszeichen unten",
    "“": "Anführungszeichen oben", "”": "Anführungszeichen oben", "‘": "Apostroph", "’": "Apostroph",
    "«": "Anführungszeichen", "»": "Anführungszeichen", "\t": "Tabulator", "\n": "neue Zeile",
    "−": "minus", "µ": "mü", "≈": "ungefähr",
}

_ABBREVIATIONS = {
    "z.B.": "zum Beispiel", "z. B.": "zum Beispiel", "d.h.": "das heißt", "d. h.": "das heißt",
    "u.a.": "unter anderem", "u. a.": "unter anderem", "usw.": "und so weiter",
    "bzw.": "beziehungsweise", "ca.": "circa", "Dr.": "Doktor", "Prof.": "Professor",
    "Nr.": "Nummer", "Hr.": "Herr", "Hrn.": "Herrn", "Fr.": "Frau", "Str.": "Straße",
    "evtl.": "eventuell", "ggf.": "gegebenenfalls", "inkl.": "inklusive", "vgl.": "vergleiche",
    "z.T.": "zum Teil", "z. T.": "zum Teil", "St.": "Sankt", "S.": "Seite", "s.": "siehe",
    "Tel.": "Telefon", "bspw.": "beispielsweise", "etc.": "et cetera", "o.ä.": "oder ähnlich",
    "o. ä.": "oder ähnlich", "Jh.": "Jahrhundert", "Mio.": "Millionen", "Mrd.": "Milliarden",
    "Abs.": "Absatz", "Abb.": "Abbildung", "Kap.": "Kapitel", "usf.": "und so fort",
    "Jan.": "Januar", "Feb.": "Februar", "Aug.": "August", "Sept.": "September", "Okt.": "Oktober",
    "Nov.": "November", "Dez.": "Dezember", "Mo.": "Montag", "Di.": "Dienstag", "Mi.": "Mittwoch",
    "Do.": "Donnerstag", "Fr.,": "Freitag", "Sa.": "Samstag", "So.": "Sonntag",
    "C#": "C Sharp", "F#": "F Sharp", "Bd.": "Band", "Bde.": "Bände",
}

_UNITS = {
    "km": ("Kilometer", "Kilometer"), "m": ("Meter", "Meter"), "cm": ("Zentimeter", "Zentimeter"),
    "mm": ("Millimeter", "Millimeter"), "kg": ("Kilogramm", "Kilogramm"), "g": ("Gramm", "Gramm"),
    "mg": ("Milligramm", "Milligramm"), "l": ("Liter", "Liter"), "ml": ("Milliliter", "Milliliter"),
    "°C": ("Grad Celsius", "Grad Celsius"), "°F": ("Grad Fahrenheit", "Grad Fahrenheit"),
    "°": ("Grad", "Grad"), "km/h": ("Kilometer pro Stunde", "Kilometer pro Stunde"),
    "KB": ("Kilobyte", "Kilobyte"), "kB": ("Kilobyte", "Kilobyte"), "MB": ("Megabyte", "Megabyte"),
    "GB": ("Gigabyte", "Gigabyte"), "TB": ("Terabyte", "Terabyte"), "Hz": ("Hertz", "Hertz"),
    "kHz": ("Kilohertz", "Kilohertz"), "MHz": ("Megahertz", "Megahertz"),
    "GHz": ("Gigahertz", "Gigahertz"), "W": ("Watt", "Watt"), "kW": ("Kilowatt", "Kilowatt"),
    "V": ("Volt", "Volt"), "h": ("Stunde", "Stunden"), "Std.": ("Stunde", "Stunden"),
    "min": ("Minute", "Minuten"), "Min.": ("Minute", "Minuten"), "s": ("Sekunde", "Sekunden"),
    "ms": ("Millisekunde", "Millisekunden"), "t": ("Tonne", "Tonnen"),
}

_CURRENCIES = {
    "€": ("Euro", "Euro", "Cent", "Cent"), "EUR": ("Euro", "Euro", "Cent", "Cent"),
    "$": ("Dollar", "Dollar", "Cent", "Cent"), "USD": ("Dollar", "Dollar", "Cent", "Cent"),
    "£": ("Pfund", "Pfund", "Penny", "Pence"), "GBP": ("Pfund", "Pfund", "Penny", "Pence"),
    "¥": ("Yen", "Yen", "Sen", "Sen"), "CHF": ("Franken", "Franken", "Rappen", "Rappen"),
}

REGNAL_NAMES = {
    "friedrich": "m", "wilhelm": "m", "ludwig": "m", "karl": "m", "otto": "m", "heinrich": "m",
    "konrad": "m", "maximilian": "m", "joseph": "m", "josef": "m", "leopold": "m", "franz": "m",
    "rudolf": "m", "albrecht": "m", "johann": "m", "johannes": "m", "georg": "m", "august": "m",
    "ernst": "m", "peter": "m", "paul": "m", "pius": "m", "benedikt": "m", "leo": "m",
    "gregor": "m", "innozenz": "m", "klemens": "m", "urban": "m", "bonifatius": "m",
    "alexander": "m", "nikolaus": "m", "iwan": "m", "napoleon": "m", "philipp": "m",
    "eduard": "m", "richard": "m", "jakob": "m", "ferdinand": "m", "sigismund": "m",
    "gustav": "m", "christian": "m", "lothar": "m", "ramses": "m", "ptolemaios": "m",
    "sixtus": "m", "julius": "m", "hadrian": "m", "elisabeth": "f", "maria": "f",
    "katharina": "f", "viktoria": "f", "anna": "f", "christina": "f", "margarethe": "f",
    "isabella": "f", "johanna": "f", "kleopatra": "f", "beatrix": "f",
}


LANGUAGE = Language(
    code="de",
    cardinal=cardinal,
    ordinal=ordinal,
    read_year=read_year,
    read_date=read_date,
    read_time=read_time,
    decimal_separator=",",
    group_separators=".\u00a0\u202f\u2009",
    fraction_digits_max=0,
    words={
        "point": "Komma", "minus": "minus", "percent": "Prozent", "to": "bis", "dot": "Punkt",
        "at": "ät", "emoji": "Emoji", "flag": "Flagge", "space": "Leerzeichen", "and": "und",
        "slash": "Schrägstrich", "colon": "Doppelpunkt",
    },
    abbreviations=_ABBREVIATIONS,
    symbols=_SYMBOLS,
    letters=_LETTERS,
    marks={
        "\u0301": "Akut", "\u0300": "Gravis", "\u0302": "Zirkumflex", "\u0308": "Trema",
        "\u0303": "Tilde", "\u0327": "Cedille", "\u030a": "Ring", "\u030c": "Hatschek",
    },
    accented_letter="{letter} mit {mark}",
    units=_UNITS,
    currencies=_CURRENCIES,
    months=MONTHS,
    noun_forms={"eins": "ein"},
    ordinal_dot=True,
    ordinal_form_after={
        "am": "n", "im": "n", "vom": "n", "zum": "n", "beim": "n", "dem": "n", "den": "n",
        "des": "n", "bis": "n", "ab": "n", "seit": "n", "der": "", "die": "", "das": "",
        "ein": "r", "eine": "", "einem": "n", "einen": "n",
    },
    date_ordinal_form="r",
    time_suffix="",
    # "14:30 Uhr" is "vierzehn Uhr dreißig": the time already says "Uhr".
    day_periods={"Uhr": ""},
    read_decade=read_decade,
    decade_suffixes=("er",),
    years_without_context=True,
    year_after=frozenset({"jahr", "jahre", "jahres", "jahrs", "im", "seit", "anno", "von", "bis"}),
    read_regnal=read_regnal,
    regnal_names=REGNAL_NAMES,
    roman_never=frozenset({"X"}),  # "Herr X", "Monsieur X": a name, not ten
    roman_cardinal_after=frozenset({
        "kapitel", "teil", "band", "akt", "artikel", "abschnitt", "anhang", "klasse", "stufe",
        "phase", "typ", "buch", "szene", "titel",
    }),
    not_names=frozenset({
        "der", "die", "das", "den", "dem", "des", "ein", "eine", "einer", "im", "am", "und", "in",
        "von", "zu", "mit", "auf", "für", "ich", "er", "sie", "es", "wir", "ihr",
    }),
    abbreviation_endings={"str.": "straße"},
    phone_words=frozenset({"tel", "telefon", "fax", "mobil", "handy", "rufnummer"}),
)
