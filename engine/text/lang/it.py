"""Italian: number words, dates, times and the tables the front end reads for `it-*` locales."""

from __future__ import annotations

from .base import Language

_ONES = (
    "zero uno due tre quattro cinque sei sette otto nove dieci undici dodici tredici quattordici "
    "quindici sedici diciassette diciotto diciannove"
).split()
_TENS = ("", "", "venti", "trenta", "quaranta", "cinquanta", "sessanta", "settanta", "ottanta", "novanta")
_SCALES = ((10**12, "bilione", "bilioni"), (10**9, "miliardo", "miliardi"), (10**6, "milione", "milioni"))
_ORD_SMALL = ("", "primo", "secondo", "terzo", "quarto", "quinto", "sesto", "settimo", "ottavo", "nono", "decimo")


def _below_hundred(n: int) -> str:
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    base = _TENS[tens][:-1] if ones in (1, 8) else _TENS[tens]  # ventuno, ventotto
    return base + ("tré" if ones == 3 else _ONES[ones] if ones else "")


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    words = "" if hundreds == 0 else "cento" if hundreds == 1 else _ONES[hundreds] + "cento"
    if rest:
        tail = _below_hundred(rest)
        if words and tail.startswith("o"):
            words = words[:-1]  # centotto, centottanta
        words += tail
    return words


def _before_noun(words: str) -> str:
    return words[:-1] if words.endswith("uno") else words  # ventun mila, un milione


def _below_million(n: int) -> str:
    thousands, rest = divmod(n, 1000)
    words = "" if thousands == 0 else "mille" if thousands == 1 else _before_noun(_below_thousand(thousands)) + "mila"
    return words + (_below_thousand(rest) if rest else "")


def cardinal(n: int) -> str:
    if n == 0:
        return "zero"
    parts = []
    for value, one, many in _SCALES:
        count, n = divmod(n, value)
        if count == 1:
            parts.append(f"un {one}")
        elif count:
            parts.append(f"{_before_noun(_below_million(count))} {many}")
    if n:
        parts.append(_below_million(n))
    return " ".join(parts)


def ordinal(n: int, form: str = "") -> str:
    """Italian ordinals; `form` "f" gives the feminine ("prima")."""
    if n <= 10:
        words = _ORD_SMALL[n]
    else:
        words = cardinal(n)
        if words.endswith("tré"):
            words = words[:-1] + "e" + "esimo"  # ventitreesimo
        elif words.endswith("sei"):
            words += "esimo"  # ventiseiesimo
        elif words.endswith("mila"):
            words = words[:-4] + "millesimo"  # duemillesimo
        else:
            words = words[:-1] + "esimo"
    return words[:-1] + "a" if form == "f" else words


def read_year(year: int) -> str:
    return cardinal(year)


def read_date(year: int, month: int, day: int, locale: str, form: str) -> str:
    return f"{ordinal(1) if day == 1 else cardinal(day)} {MONTHS[month - 1]} {read_year(year)}"


def read_time(hours: int, minutes: int, seconds: int | None, period: str) -> str:
    words = ("una" if hours == 1 else cardinal(hours)) + (f" e {cardinal(minutes)}" if minutes else "")
    if seconds:
        words += f" e {cardinal(seconds)} second{'i' if seconds != 1 else 'o'}"
    return f"{words} {period}".strip()


MONTHS = (
    "gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre",
    "ottobre", "novembre", "dicembre",
)

_LETTERS = {
    "a": "a", "b": "bi", "c": "ci", "d": "di", "e": "e", "f": "effe", "g": "gi", "h": "acca",
    "i": "i", "j": "i lunga", "k": "cappa", "l": "elle", "m": "emme", "n": "enne", "o": "o",
    "p": "pi", "q": "cu", "r": "erre", "s": "esse", "t": "ti", "u": "u", "v": "vu",
    "w": "doppia vu", "x": "ics", "y": "ipsilon", "z": "zeta", "ß": "esse tedesca",
}

_SYMBOLS = {
    " ": "spazio", ".": "punto", ",": "virgola", ";": "punto e virgola", ":": "due punti",
    "!": "punto esclamativo", "?": "punto interrogativo", "'": "apostrofo", '"': "virgolette",
    "(": "parentesi aperta", ")": "parentesi chiusa", "[": "parentesi quadra aperta",
    "]": "parentesi quadra chiusa", "{": "parentesi graffa aperta", "}": "parentesi graffa chiusa",
    "<": "minore di", ">": "maggiore di", "-": "trattino", "–": "lineetta", "—": "lineetta",
    "_": "trattino basso", "&": "e", "@": "chiocciola", "#": "cancelletto", "%": "per cento",
    "+": "più", "=": "uguale", "/": "barra", "\\": "barra rovesciata", "*": "asterisco",
    "|": "barra verticale", "~": "tilde", "^": "accento circonflesso", "`": "accento grave",
    "$": "dollaro", "€": "euro", "£": "sterlina", "¥": "yen", "§": "paragrafo", "©": "copyright",
    "®": "marchio registrato", "™": "marchio", "°": "grado", "•": "punto elenco",
    "…": "puntini di sospensione", "×": "per", "÷": "diviso", "±": "più o meno",
    "→": "freccia destra", "←": "freccia sinistra", "«": "virgolette aperte",
    "»": "virgolette chiuse", "“": "virgolette aperte", "”": "virgolette chiuse",
    "‘": "apostrofo", "’": "apostrofo", "\t": "tabulazione", "\n": "nuova riga", "−": "meno",
    "µ": "micro", "º": "ordinale maschile", "ª": "ordinale femminile", "≈": "circa",
}

_ABBREVIATIONS = {
    "Sig.": "Signor", "Sigg.": "Signori", "Sig.ra": "Signora", "Sig.na": "Signorina",
    "Dott.": "Dottor", "Dott.ssa": "Dottoressa", "Dr.": "Dottor", "Prof.": "Professor",
    "Prof.ssa": "Professoressa", "Ing.": "Ingegner", "Avv.": "Avvocato", "Arch.": "Architetto",
    "ecc.": "eccetera", "etc.": "eccetera", "es.": "esempio", "p.es.": "per esempio",
    "p. es.": "per esempio", "pag.": "pagina", "pagg.": "pagine", "n.": "numero",
    "tel.": "telefono", "cfr.": "confronta", "ca.": "circa", "vol.": "volume", "cap.": "capitolo",
    "S.": "San", "S.p.A.": "Società per Azioni", "a.C.": "avanti Cristo", "d.C.": "dopo Cristo",
    "gen.": "gennaio", "feb.": "febbraio", "apr.": "aprile", "giu.": "giugno", "lug.": "luglio",
    "ago.": "agosto", "set.": "settembre", "ott.": "ottobre", "nov.": "novembre", "dic.": "dicembre",
    "V.le": "viale", "P.za": "piazza", "P.zza": "piazza", "C.so": "corso", "Tel.": "telefono",
    "C#": "C sharp", "F#": "F sharp",
}

_UNITS = {
    "km": ("chilometro", "chilometri"), "m": ("metro", "metri"), "cm": ("centimetro", "centimetri"),
    "mm": ("millimetro", "millimetri"), "kg": ("chilogrammo", "chilogrammi"), "g": ("grammo", "grammi"),
    "mg": ("milligrammo", "milligrammi"), "l": ("litro", "litri"), "ml": ("millilitro", "millilitri"),
    "°C": ("grado Celsius", "gradi Celsius"), "°F": ("grado Fahrenheit", "gradi Fahrenheit"),
    "°": ("grado", "gradi"), "km/h": ("chilometro orario", "chilometri orari"),
    "KB": ("kilobyte", "kilobyte"), "kB": ("kilobyte", "kilobyte"), "MB": ("megabyte", "megabyte"),
    "GB": ("gigabyte", "gigabyte"), "TB": ("terabyte", "terabyte"), "Hz": ("hertz", "hertz"),
    "kHz": ("kilohertz", "kilohertz"), "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"), "W": ("watt", "watt"), "kW": ("kilowatt", "kilowatt"),
    "V": ("volt", "volt"), "h": ("ora", "ore"), "min": ("minuto", "minuti"),
    "s": ("secondo", "secondi"), "ms": ("millisecondo", "millisecondi"),
}

_CURRENCIES = {
    "€": ("euro", "euro", "centesimo", "centesimi"), "EUR": ("euro", "euro", "centesimo", "centesimi"),
    "$": ("dollaro", "dollari", "centesimo", "centesimi"), "USD": ("dollaro", "dollari", "centesimo", "centesimi"),
    "£": ("sterlina", "sterline", "penny", "pence"), "GBP": ("sterlina", "sterline", "penny", "pence"),
    "¥": ("yen", "yen", "sen", "sen"), "CHF": ("franco", "franchi", "centesimo", "centesimi"),
}

REGNAL_NAMES = {
    "emanuele": "m", "umberto": "m", "carlo": "m", "luigi": "m", "enrico": "m", "federico": "m",
    "filippo": "m", "francesco": "m", "ferdinando": "m", "giovanni": "m", "paolo": "m",
    "pio": "m", "benedetto": "m", "leone": "m", "gregorio": "m", "clemente": "m",
    "innocenzo": "m", "urbano": "m", "alessandro": "m", "niccolò": "m", "nicola": "m",
    "napoleone": "m", "giorgio": "m", "guglielmo": "m", "edoardo": "m", "riccardo": "m",
    "pietro": "m", "ludovico": "m", "lorenzo": "m", "cosimo": "m", "amedeo": "m", "giacomo": "m",
    "alberto": "m", "sisto": "m", "giulio": "m", "elisabetta": "f", "maria": "f", "caterina": "f",
    "isabella": "f", "vittoria": "f", "cleopatra": "f",
}


LANGUAGE = Language(
    code="it",
    cardinal=cardinal,
    ordinal=ordinal,
    read_year=read_year,
    read_date=read_date,
    read_time=read_time,
    decimal_separator=",",
    group_separators=".\u00a0\u202f\u2009",
    fraction_digits_max=2,
    words={
        "point": "virgola", "minus": "meno", "percent": "per cento", "to": "a", "dot": "punto",
        "at": "chiocciola", "emoji": "emoji", "flag": "bandiera", "space": "spazio", "and": "e",
        "slash": "barra", "colon": "due punti",
    },
    abbreviations=_ABBREVIATIONS,
    symbols=_SYMBOLS,
    letters=_LETTERS,
    marks={
        "\u0301": "acuta", "\u0300": "grave", "\u0302": "circonflessa", "\u0308": "con dieresi",
        "\u0303": "con tilde", "\u0327": "cediglia", "\u030a": "con anello", "\u030c": "con caron",
    },
    accented_letter="{letter} {mark}",
    units=_UNITS,
    currencies=_CURRENCIES,
    months=MONTHS,
    noun_forms={"uno": "un"},
    ordinal_suffixes={"º": "", "°": "", "ª": "f", "o": "", "a": "f"},
    # "Vittorio Emanuele II" -> "secondo", "Elisabetta II" -> "seconda", "Luigi XIV" -> "quattordicesimo"
    read_regnal=lambda n, gender: ordinal(n, "f" if gender == "f" else ""),
    regnal_names=REGNAL_NAMES,
    roman_never=frozenset({"X"}),  # "Herr X", "Monsieur X": a name, not ten
    not_names=frozenset({
        "il", "lo", "la", "i", "gli", "le", "un", "una", "uno", "di", "del", "della", "e", "a", "in",
        "con", "per", "io", "che", "nel", "nella", "nei", "nelle", "al", "alla", "ai", "dal",
        "dalla", "sul", "sulla", "dei", "delle",
    }),
    # Roman numerals that count are ordinals in Italian: "XX secolo", "capitolo IV" -> "quarto".
    read_roman_count=ordinal,
    roman_count_before=frozenset({"secolo", "secoli"}),
    roman_cardinal_after=frozenset({"capitolo", "parte", "libro", "volume", "tomo", "atto", "canto"}),
    phone_words=frozenset({"tel", "telefono", "cell", "cellulare", "fax"}),
)
