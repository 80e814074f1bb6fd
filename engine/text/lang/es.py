"""Spanish: number words, dates, times and the tables the front end reads for `es-*` locales."""

from __future__ import annotations

from .base import Language

_ONES = (
    "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince "
    "dieciséis diecisiete dieciocho diecinueve veinte veintiuno veintidós veintitrés veinticuatro "
    "veinticinco veintiséis veintisiete veintiocho veintinueve"
).split()
_TENS = ("", "", "", "treinta", "cuarenta", "cincuenta", "sesenta", "setenta", "ochenta", "noventa")
_HUNDREDS = (
    "", "ciento", "doscientos", "trescientos", "cuatrocientos", "quinientos", "seiscientos",
    "setecientos", "ochocientos", "novecientos",
)
_ORD_UNITS = ("", "primero", "segundo", "tercero", "cuarto", "quinto", "sexto", "séptimo", "octavo", "noveno")
_ORD_TENS = (
    "", "décimo", "vigésimo", "trigésimo", "cuadragésimo", "quincuagésimo", "sexagésimo",
    "septuagésimo", "octogésimo", "nonagésimo",
)
_ORD_HUNDREDS = (
    "", "centésimo", "ducentésimo", "tricentésimo", "cuadringentésimo", "quingentésimo",
    "sexcentésimo", "septingentésimo", "octingentésimo", "noningentésimo",
)
_ORD_SPECIAL = {11: "undécimo", 12: "duodécimo"}
# Before a noun (and before "mil", "millones"), "uno" loses its last syllable.
_APOCOPE = {"uno": "un", "veintiuno": "veintiún"}


def _apocope(words: str) -> str:
    head, sep, last = words.rpartition(" ")
    return head + sep + _APOCOPE.get(last, last)


def _below_thousand(n: int) -> str:
    if n == 100:
        return "cien"
    hundreds, rest = divmod(n, 100)
    words = [_HUNDREDS[hundreds]] if hundreds else []
    if rest >= 30:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens] + (f" y {_ONES[ones]}" if ones else ""))
    elif rest:
        words.append(_ONES[rest])
    return " ".join(words)


def _below_million(n: int) -> str:
    thousands, rest = divmod(n, 1000)
    words = []
    if thousands == 1:
        words.append("mil")
    elif thousands:
        words.append(_apocope(_below_thousand(thousands)) + " mil")
    if rest:
        words.append(_below_thousand(rest))
    return " ".join(words)


def cardinal(n: int) -> str:
    if n == 0:
        return "cero"
    parts = []
    for value, one, many in ((10**12, "un billón", "billones"), (10**6, "un millón", "millones")):
        count, n = divmod(n, value)
        if count == 1:
            parts.append(one)
        elif count:
            parts.append(f"{_apocope(_below_million(count))} {many}")
    if n:
        parts.append(_below_million(n))
    return " ".join(parts)


def ordinal(n: int, form: str = "") -> str:
    """Spanish ordinals up to 999 (larger ones are said as cardinals, as speakers do).

    `form`: "" masculine, "f" feminine, "short" the apocopated masculine ("primer", "tercer")."""
    if n >= 1000:
        return "milésimo" if n == 1000 else cardinal(n)
    hundreds, rest = divmod(n, 100)
    words = [_ORD_HUNDREDS[hundreds]] if hundreds else []
    if rest in _ORD_SPECIAL:
        words.append(_ORD_SPECIAL[rest])
    elif 13 <= rest <= 19:
        words.append("decimo" + _ORD_UNITS[rest - 10])
    elif rest:
        tens, ones = divmod(rest, 10)
        words += [w for w in (_ORD_TENS[tens], _ORD_UNITS[ones]) if w]
    if form == "f":
        words = [w[:-1] + "a" for w in words]
    elif form == "short" and words[-1] in ("primero", "tercero"):
        words[-1] = words[-1][:-1]
    return " ".join(words)


def read_year(year: int) -> str:
    return cardinal(year)


def read_regnal(n: int, gender: str) -> str:
    """"Felipe II" -> "segundo", "Isabel II" -> "segunda"; from eleven on, cardinals: "Alfonso
    XIII" -> "trece" (DPD)."""
    return ordinal(n, "f" if gender == "f" else "") if n <= 10 else cardinal(n)


def read_date(year: int, month: int, day: int, locale: str, form: str) -> str:
    return f"{cardinal(day)} de {MONTHS[month - 1]} de {read_year(year)}"


def _hours(n: int) -> str:
    # Hours are feminine ("la una", "las veintiuna").
    words = cardinal(n)
    return words[:-1] + "a" if words.endswith("uno") else words


def read_time(hours: int, minutes: int, seconds: int | None, period: str) -> str:
    words = _hours(hours) + (f" y {cardinal(minutes)}" if minutes else " en punto")
    if seconds:
        words += f" y {cardinal(seconds)} segundo{'s' if seconds != 1 else ''}"
    return f"{words} {period}".strip()


MONTHS = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
    "octubre", "noviembre", "diciembre",
)

_LETTERS = {
    "a": "a", "b": "be", "c": "ce", "d": "de", "e": "e", "f": "efe", "g": "ge", "h": "hache",
    "i": "i", "j": "jota", "k": "ka", "l": "ele", "m": "eme", "n": "ene", "ñ": "eñe", "o": "o",
    "p": "pe", "q": "cu", "r": "erre", "s": "ese", "t": "te", "u": "u", "v": "uve",
    "w": "uve doble", "x": "equis", "y": "ye", "z": "zeta", "ß": "ese alemana",
}

_SYMBOLS = {
    " ": "espacio", ".": "punto", ",": "coma", ";": "punto y coma", ":": "dos puntos",
    "!": "cierre de exclamación", "?": "cierre de interrogación", "¡": "apertura de exclamación",
    "¿": "apertura de interrogación", "'": "apóstrofo", '"': "comillas", "(": "abre paréntesis",
    ")": "cierra paréntesis", "[": "abre corchete", "]": "cierra corchete", "{": "abre llave",
    "}": "cierra llave", "<": "menor que", ">": "mayor que", "-": "guion", "–": "raya",
    "—": "raya", "_": "guion bajo", "&": "y", "@": "arroba", "#": "almohadilla",
    "%": "por ciento", "+": "más", "=": "igual", "/": "barra", "\\": "barra invertida",
    "*": "asterisco", "|": "barra vertical", "~": "tilde", "^": "circunflejo", "`": "acento grave",
    "$": "dólar", "€": "euro", "£": "libra", "¥": "yen", "§": "sección", "©": "copyright",
    "®": "marca registrada", "™": "marca comercial", "°": "grado", "•": "viñeta",
    "…": "puntos suspensivos", "×": "por", "÷": "dividido por", "±": "más menos",
    "→": "flecha derecha", "←": "flecha izquierda", "«": "comillas", "»": "cierra comillas",
    "“": "comillas", "”": "cierra comillas", "‘": "comilla", "’": "apóstrofo", "\t": "tabulador",
    "\n": "nueva línea", "−": "menos", "µ": "micro", "º": "ordinal masculino",
    "ª": "ordinal femenino", "≈": "aproximadamente",
}

_ABBREVIATIONS = {
    "Sr.": "Señor", "Sra.": "Señora", "Srta.": "Señorita", "Sres.": "Señores", "Dr.": "Doctor",
    "Dra.": "Doctora", "D.": "Don", "Dña.": "Doña", "etc.": "etcétera", "p.ej.": "por ejemplo",
    "p. ej.": "por ejemplo", "Ud.": "usted", "Uds.": "ustedes", "Vd.": "usted", "pág.": "página",
    "págs.": "páginas", "núm.": "número", "n.º": "número", "aprox.": "aproximadamente",
    "EE.UU.": "Estados Unidos", "EE. UU.": "Estados Unidos", "Avda.": "Avenida", "Av.": "Avenida",
    "c/": "calle", "Prof.": "Profesor", "Profa.": "Profesora", "Lic.": "Licenciado",
    "Ing.": "Ingeniero", "S.A.": "Sociedad Anónima", "a.C.": "antes de Cristo",
    "d.C.": "después de Cristo", "tel.": "teléfono", "Tel.": "teléfono", "vol.": "volumen",
    "cap.": "capítulo", "Sto.": "Santo", "Sta.": "Santa", "admón.": "administración",
    "C#": "C sharp", "F#": "F sharp",
}

_UNITS = {
    "km": ("kilómetro", "kilómetros"), "m": ("metro", "metros"), "cm": ("centímetro", "centímetros"),
    "mm": ("milímetro", "milímetros"), "kg": ("kilogramo", "kilogramos"), "g": ("gramo", "gramos"),
    "mg": ("miligramo", "miligramos"), "l": ("litro", "litros"), "ml": ("mililitro", "mililitros"),
    "°C": ("grado Celsius", "grados Celsius"), "°F": ("grado Fahrenheit", "grados Fahrenheit"),
    "°": ("grado", "grados"), "km/h": ("kilómetro por hora", "kilómetros por hora"),
    "KB": ("kilobyte", "kilobytes"), "kB": ("kilobyte", "kilobytes"), "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"), "TB": ("terabyte", "terabytes"), "Hz": ("hercio", "hercios"),
    "kHz": ("kilohercio", "kilohercios"), "MHz": ("megahercio", "megahercios"),
    "GHz": ("gigahercio", "gigahercios"), "W": ("vatio", "vatios"), "kW": ("kilovatio", "kilovatios"),
    "V": ("voltio", "voltios"), "h": ("hora", "horas"), "min": ("minuto", "minutos"),
    "s": ("segundo", "segundos"), "ms": ("milisegundo", "milisegundos"),
}

_CURRENCIES = {
    "€": ("euro", "euros", "céntimo", "céntimos"), "EUR": ("euro", "euros", "céntimo", "céntimos"),
    "$": ("dólar", "dólares", "centavo", "centavos"), "USD": ("dólar", "dólares", "centavo", "centavos"),
    "£": ("libra", "libras", "penique", "peniques"), "GBP": ("libra", "libras", "penique", "peniques"),
    "¥": ("yen", "yenes", "sen", "sen"), "MXN": ("peso", "pesos", "centavo", "centavos"),
}

REGNAL_NAMES = {
    "felipe": "m", "carlos": "m", "fernando": "m", "alfonso": "m", "juan": "m", "pedro": "m",
    "enrique": "m", "jaime": "m", "sancho": "m", "luis": "m", "pío": "m", "pablo": "m",
    "benedicto": "m", "gregorio": "m", "león": "m", "clemente": "m", "inocencio": "m",
    "urbano": "m", "alejandro": "m", "nicolás": "m", "napoleón": "m", "jorge": "m",
    "guillermo": "m", "eduardo": "m", "ricardo": "m", "federico": "m", "francisco": "m",
    "amadeo": "m", "ramiro": "m", "bermudo": "m", "ordoño": "m", "luis": "m", "sixto": "m",
    "julio": "m", "isabel": "f", "juana": "f", "catalina": "f", "maría": "f", "cleopatra": "f",
}


LANGUAGE = Language(
    code="es",
    cardinal=cardinal,
    ordinal=ordinal,
    read_year=read_year,
    read_date=read_date,
    read_time=read_time,
    decimal_separator=",",
    group_separators=".\u00a0\u202f\u2009",
    fraction_digits_max=2,
    words={
        "point": "coma", "minus": "menos", "percent": "por ciento", "to": "a", "dot": "punto",
        "at": "arroba", "emoji": "emoji", "flag": "bandera", "space": "espacio", "and": "con",
        "slash": "barra", "colon": "dos puntos",
    },
    abbreviations=_ABBREVIATIONS,
    symbols=_SYMBOLS,
    letters=_LETTERS,
    marks={
        "\u0301": "tilde", "\u0300": "acento grave", "\u0302": "acento circunflejo",
        "\u0308": "diéresis", "\u0303": "virgulilla", "\u0327": "cedilla", "\u030a": "anillo",
        "\u030c": "carón",
    },
    accented_letter="{letter} con {mark}",
    units=_UNITS,
    currencies=_CURRENCIES,
    months=MONTHS,
    noun_forms=_APOCOPE,
    ordinal_suffixes={
        "º": "", "ª": "f", ".º": "", ".ª": "f", "°": "", ".°": "", "o": "", "a": "f",
        "er": "short", ".er": "short",
    },
    read_regnal=read_regnal,
    regnal_names=REGNAL_NAMES,
    roman_never=frozenset({"X"}),  # "Herr X", "Monsieur X": a name, not ten
    roman_cardinal_after=frozenset({
        "siglo", "siglos", "capítulo", "tomo", "volumen", "parte", "acto", "libro", "artículo",
        "título", "fase", "escena",
    }),
    not_names=frozenset({
        "el", "la", "los", "las", "un", "una", "en", "de", "del", "y", "a", "con", "por", "para",
        "mi", "su", "yo", "es",
    }),
    phone_words=frozenset({"tel", "teléfono", "telf", "tlf", "móvil", "fax"}),
)
