"""Dialect phonology for English locales that have no offline speech source: Australian English
(`en-AU`) and Southern US English (`en-US-south`).

No Australian or Southern US voice, recording or lexicon exists in any package this project can
use (docs/training-data.md), so these two accents are built from published descriptions as
rewrite rules over the Kokoro phoneme strings that espeak-ng gives for British English (en-AU) and
General American (en-US-south), after `engine.g2p.to_kokoro` has mapped them to Kokoro's symbols.
`engine.g2p` applies them for those locales, so the runtime and the training data
(`echoic train data --locale en-AU`) get the same phonemes.

**No recording validates these rules.** They encode textbook descriptions of the accents, not a
measured speaker; the adapters trained on them learn what the rules say, nothing more.

Sources (cited per rule below):
- [Wells] J. C. Wells (1982), *Accents of English*, Cambridge University Press: vol. 3, section 8.2
  (Australia) and section 6.5 (the southern United States).
- [C&P] F. Cox and S. Palethorpe (2007), "Australian English", *Journal of the International
  Phonetic Association* 37(3): 341-350 (Illustrations of the IPA): the phoneme set
  /iː ɪ e æ ɐː ɐ ɔ oː ʊ ʉː ɜː ə æɪ ɑe oɪ æɔ əʉ ɪə eː ʊə/ and its realisations.
- [Tollfree] L. Tollfree (2001), "Variation and change in Australian consonants: reduction of /t/",
  in D. Blair and P. Collins (eds.), *English in Australia*, John Benjamins: flapped /t/.
- [Thomas] E. R. Thomas (2004), "Rural Southern white accents", in B. Kortmann and E. W. Schneider
  (eds.), *A Handbook of Varieties of English*, vol. 1: Phonology, Mouton de Gruyter, 300-324.
- [ANAE] W. Labov, S. Ash and C. Boberg (2006), *The Atlas of North American English*, Mouton de
  Gruyter, the chapter on the South: the Southern Shift, /ay/ glide deletion, the pin-pen merger.

Kokoro's symbols used here, all in its vocabulary (tests/test_dialects.py checks): A = /eɪ/,
I = /aɪ/, O = /oʊ/ (American GOAT), Q = /əʊ/ (British GOAT), W = /aʊ/, T = the flap [ɾ]; plain IPA
vowels otherwise. Rules see one word's phonemes at a time (stress marks ˈ ˌ precede the stressed
vowel), and each rule set is applied in one left-to-right pass, so no rule rewrites another's output.
"""

from __future__ import annotations

import re
from collections.abc import Callable

VOWELS = "aeiouyæɐɑɒɔəɛɜɪʊʌøœɨᵻᵊAIOQWY"
"""Kokoro's vowel symbols (the diphthong letters included), for the contexts of the rules."""
VOICELESS = "ptkfθsʃʧh"

# --- Australian English, on top of espeak-ng's British output (english_style "gb") ------------

_AU_VOWELS = (
    # NEAR: [C&P] /ɪə/, commonly a long monophthong [ɪː] in open syllables and before consonants.
    # Only when stressed, so that "area" (ˈɛːɹiə: /i/ + schwa) is left alone.
    (r"(?<=[ˈˌ])[iɪ]ə(?!ɹ)", "ɪː"),
    # SQUARE: [C&P] /eː/, a long monophthong (espeak's /eə/ reaches Kokoro as "Aə" or "ɛː").
    (r"Aə|ɛː", "eː"),
    # FACE: [C&P] /æɪ/, the nucleus lowered to [æ] ([Wells], the "Diphthong Shift").
    (r"A", "æɪ"),
    # PRICE: [C&P] /ɑe/, the nucleus retracted to [ɑ] (Kokoro has no [e] offglide in English: ɪ).
    (r"I", "ɑɪ"),
    # GOAT: [C&P] /əʉ/, broad [ɐʉ] ([Wells]); the onset lowered and centralised to [ʌ]
    # (Kokoro has no ʉ: the offglide stays [ʊ]).
    (r"Q", "ʌʊ"),
    # MOUTH: [C&P] /æɔ/, the nucleus fronted to [æ] ([Wells]).
    (r"W", "æʊ"),
    # FLEECE: [C&P] /iː/ with a delayed onset glide, [ɪi] ([Wells]: "[ɪi] ~ [əi]").
    (r"iː", "ɪi"),
    # GOOSE: [C&P] /ʉː/, fronted with an onset glide, [ʊʉ] ([Wells]); Kokoro has no ʉ: [ʊu].
    (r"uː", "ʊu"),
    # START: [C&P] /ɐː/, a long open central vowel, fronter than RP's [ɑː].
    (r"ɑː", "ɐː"),
    # THOUGHT: [C&P] /oː/, raised from RP's [ɔː].
    (r"ɔː", "oː"),
    # NURSE: [C&P] /ɜː/, realised fronted and rounded, near [øː] ([Wells]).
    (r"ɜː", "øː"),
    # STRUT: [C&P] /ɐ/, open central.
    (r"ʌ", "ɐ"),
    # TRAP: [C&P] /æ/, raised and fronter than espeak's British [a]; also BATH before a nasal
    # ("dance", "chance": [æ] for most speakers, [Wells]).
    (r"a", "æ"),
    # DRESS: [C&P] /e/, raised from RP's [ɛ].
    (r"ɛ", "e"),
    # LOT: [C&P] /ɔ/, raised from RP's [ɒ].
    (r"ɒ", "ɔ"),
)


def _au_flap(ps: str) -> str:
    # /t/ between vowels, the second unstressed, is a voiced flap [ɾ] ([Tollfree]; [C&P]):
    # "water", "better", "city". No stress mark between: the following syllable is unstressed
    # ("attack" keeps its [t]). Kokoro writes the flap "T" (its American-English flap symbol).
    return re.sub(rf"(?<=[{VOWELS}ː])t(?=[{VOWELS}])", "T", ps)


# --- Southern US English, on top of espeak-ng's General American output (english_style "us") --

_SOUTH_VOWELS = (
    # PRICE: /aɪ/ glide weakening to a long monophthong [aː] ([Thomas]; [ANAE]), in the
    # South at large before voiced consonants, sonorants and word-finally ("time", "ride", "my");
    # before voiceless consonants ("price", "right") the diphthong stays outside the inland South.
    (rf"I(?![{VOICELESS}])", "aː"),
    # The pin-pen merger: DRESS before a nasal raised to KIT ([Thomas]; [ANAE]):
    # "pen" = "pin", "ten" = "tin", "em" = "im".
    (r"ɛ(?=[nmŋ])", "ɪ"),
    # The Southern drawl: stressed TRAP broken to [æjə] before a word-final voiced consonant
    # ([Thomas] "breaking"; [Wells]): "bad" [bæjəd], "man" [mæjən].
    (r"(?<=ˈ)æ(?=[bdɡvðzʒʤmnŋl](?:\s|$))", "æjə"),
    # FACE: the Southern Shift lowers and centralises the nucleus: [ɛɪ] ([Thomas]; [ANAE]).
    (r"A", "ɛɪ"),
    # MOUTH: the nucleus fronted to [æ]: [æʊ] ([Thomas]; [Wells]).
    (r"W", "æʊ"),
    # GOAT: the nucleus fronted: [ɜʊ] ([Thomas], GOAT fronting in Southern white speech).
    (r"O", "ɜʊ"),
    # THOUGHT: the Southern upgliding [ɔʊ] ([Thomas]; [ANAE]), not before /ɹ/ (NORTH).
    (r"ɔ(?!ɹ)", "ɔʊ"),
)


def _compile(rules: tuple[tuple[str, str], ...]) -> Callable[[str], str]:
    """One pass over the string: at each position the first rule that matches wins."""
    pattern = re.compile("|".join(f"(?P<r{i}>{p})" for i, (p, _) in enumerate(rules)))
    replacements = [r for _, r in rules]

    def apply(ps: str) -> str:
        return pattern.sub(lambda m: replacements[int(m.lastgroup[1:])], ps)

    return apply


_au_vowels = _compile(_AU_VOWELS)
_south_vowels = _compile(_SOUTH_VOWELS)


def australian(ps: str) -> str:
    """Australian English phonemes from British Kokoro phonemes (one word or several)."""
    return _au_vowels(_au_flap(ps))


def southern_us(ps: str) -> str:
    """Southern US English phonemes from General American Kokoro phonemes (one word or several)."""
    return _south_vowels(ps)


DIALECTS: dict[str, Callable[[str], str]] = {"en-AU": australian, "en-US-south": southern_us}
"""Locale tag -> its rules; the locales not named here use espeak-ng's output as it is."""


def apply(locale_tag: str, ps: str) -> str:
    """The dialect's phonemes for `ps` (Kokoro symbols), or `ps` itself for a locale without rules."""
    rules = DIALECTS.get(locale_tag)
    return rules(ps) if rules else ps
