"""Locales as data: one row per locale, found through a registry.

Each row says which espeak-ng voice gives its phonemes, which language the model is asked for,
the default voice, and honestly what it sounds like today.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import LocaleError


@dataclass(frozen=True)
class Locale:
    tag: str
    """BCP-47-like tag, the project's canonical spelling (`en-US`, `en-US-south`)."""
    display_name: str
    language: str
    """Two-letter language, used by the text front end (`en`, `de`, `es`, `fr`, `it`)."""
    espeak_voice: str
    """The espeak-ng voice used for grapheme-to-phoneme conversion."""
    english_style: str | None
    """For English: "us" or "gb" phoneme conventions of the model; None otherwise."""
    default_voice: str
    status: str
    """What this locale sounds like today, said plainly."""
    accent_from: str | None = None
    """The locale whose native voice packs give this one's accent direction (engine/voices.py),
    where it has none of its own; None: its own packs (none at all for de-DE)."""
    other_voice: str | None = None
    """The best voice of the other gender, offered beside the default (None: there is none)."""


LOCALES: tuple[Locale, ...] = (
    # Default voices are the best-scoring native voice on the accent meter (docs/accent.md), with the
    # best of the other gender beside it; locales without a native pack get the measured best available.
    # In English the meter's top female and male tie within noise, and af_bella and bf_emma trip the
    # silent_word guardrail on quiet function words (a system-voice fallback): the males lead there.
    Locale("en-US", "English (United States)", "en", "en-us", "us", "am_michael",
           "native US voices (20; default am_michael, female af_bella); US phonemes from espeak-ng",
           other_voice="af_bella"),
    Locale("en-GB", "English (United Kingdom)", "en", "en", "gb", "bm_george",
           "native British voices (8; default bm_george, female bf_emma); British phonemes from espeak-ng",
           other_voice="bf_emma"),
    Locale("en-AU", "English (Australia)", "en", "en", "gb", "bm_george",
           "no Australian recording exists offline: a native British voice reading Australian phonemes "
           "from published phonology (engine/dialects.py), which no recording validates",
           "en-GB", other_voice="bf_emma"),
    Locale("en-US-south", "English (Southern US)", "en", "en-us", "us", "am_michael",
           "no Southern US recording exists offline: a native General American voice reading Southern "
           "phonemes from published phonology (engine/dialects.py), which no recording validates",
           "en-US", other_voice="af_bella"),
    Locale("de-DE", "Deutsch (Deutschland)", "de", "de", None, "ef_dora",
           "no German voice exists and the model never learnt German: the Spanish voice ef_dora, the "
           "measured best, understandable with a clear foreign accent (male: the Spanish em_alex)",
           other_voice="em_alex"),
    Locale("es-ES", "Español (España)", "es", "es", None, "ef_dora",
           "native Spanish voices (3; default ef_dora, male em_alex); Castilian phonemes from espeak-ng",
           other_voice="em_alex"),
    Locale("es-US", "Español (Estados Unidos)", "es", "es-419", None, "ef_dora",
           "Latin American phonemes (espeak-ng es-419, seseo) in a Spain-trained native voice (ef_dora); "
           "no Latin American voice exists offline", "es-ES", other_voice="em_alex"),
    Locale("fr-FR", "Français (France)", "fr", "fr", None, "ff_siwis",
           "one native French voice (ff_siwis, female); French phonemes from espeak-ng"),
    Locale("it-IT", "Italiano (Italia)", "it", "it", None, "im_nicola",
           "native Italian voices (default im_nicola, female if_sara); Italian phonemes from espeak-ng",
           other_voice="if_sara"),
)

_BY_KEY = {loc.tag.lower(): loc for loc in LOCALES}
# A bare language, or a common regional spelling, goes to a default locale.
_ALIASES = {
    "en": "en-US", "en-uk": "en-GB", "en-us-x-south": "en-US-south", "en-us-south": "en-US-south",
    "de": "de-DE", "de-at": "de-DE", "de-ch": "de-DE",
    "es": "es-ES", "es-419": "es-US", "es-mx": "es-US",
    "fr": "fr-FR", "fr-be": "fr-FR", "fr-ch": "fr-FR", "fr-ca": "fr-FR",
    "it": "it-IT",
}
DEFAULT_LOCALE = "en-US"


def canonical_tag(tag: str) -> str:
    """Normalise a tag: `en_us`, `EN-us` -> `en-US`; `en` -> `en-US`. Unknown tags raise LocaleError."""
    return get_locale(tag).tag


def get_locale(tag: str | None) -> Locale:
    """The locale for a tag (None gives the default). Unknown tags raise LocaleError listing the supported ones."""
    if tag is None:
        return _BY_KEY[DEFAULT_LOCALE.lower()]
    if not isinstance(tag, str):
        raise LocaleError(f"locale must be a string, got {tag!r}")
    key = tag.strip().replace("_", "-").lower()
    if key in _BY_KEY:
        return _BY_KEY[key]
    if key in _ALIASES:
        return _BY_KEY[_ALIASES[key].lower()]
    # A region we do not know, of a language we do (`en-IN`): fall back to the language's default.
    language = key.split("-", 1)[0]
    if language in _ALIASES and "-" in key:
        return _BY_KEY[_ALIASES[language].lower()]
    supported = ", ".join(loc.tag for loc in LOCALES)
    raise LocaleError(f"unknown locale {tag!r}; supported: {supported}")


# What a screen reader echoes key by key, beyond a-z and 0-9, per language: the daemon renders
# these ahead of time (in idle moments) so that key echo comes from the render cache.
_EXTRA_LETTERS = {"en": "", "de": "äöüß", "es": "ñáéíóúü", "fr": "àâçéèêëîïôûùœ", "it": "àèéìòù"}


_PUNCTUATION = ".,;:!?'\"()-/@"
"""Named when spelled (cursor on a comma, typing an e-mail address)."""
# The commonest short words of each language (function words, the top of any frequency list), which
# a screen reader says alone when the user moves by word: rendered in idle after the characters.
_FREQUENT_WORDS = {
    "en": "the of and to a in is it you that he was for on are as with his they I at be this have "
          "from or one had by not but what all were we when your can",
    "de": "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als auch es an "
          "werden aus er hat dass sie nach wird bei noch wie",
    "es": "de la que el en y a los se del las un por con no una su para es al lo como más o pero sus le "
          "ha me si sin sobre este ya",
    "fr": "de la le et les des en un du une que est pour qui dans a par plus pas au sur ne se ce il sont "
          "avec ou son mais elle nous vous",
    "it": "di e il la che a per un in è non una del le si con i da della al ma come sono lo gli più anche "
          "se ha nel questo",
}


def key_echo_characters(tag: str) -> str:
    """The characters worth pre-rendering for key echo in a locale."""
    return "abcdefghijklmnopqrstuvwxyz0123456789" + _EXTRA_LETTERS[get_locale(tag).language] + _PUNCTUATION


def frequent_words(tag: str) -> list[str]:
    """The words worth pre-rendering for moving by word in a locale."""
    return _FREQUENT_WORDS[get_locale(tag).language].split()
