"""Grapheme-to-phoneme: espeak-ng (through espeakng-loader's library, so Windows works too),
mapped to Kokoro's phoneme symbols.

Words are phonemized in their clause, so that function words keep their reduced forms ("a" is
"ɐ", not the letter name), then split back per word. When the clause's output cannot be split
one-to-one onto the input words (espeak-ng joined or split words), each word is phonemized alone.
"""

from __future__ import annotations

import ctypes
import re
import threading
from dataclasses import dataclass

import numpy as np

from . import dialects
from .errors import G2PError
from .locales import Locale

# espeak-ng constants (speak_lib.h)
_AUDIO_OUTPUT_SYNCHRONOUS = 0x02
_CHARS_UTF8 = 1
_PHONEMES_IPA = 0x02
_PHONEMES_TIE = 0x80
_TIE = "^"
_POS_CHARACTER = 1
_ENDPAUSE = 0x1000
_RATE = 1  # espeakRATE, words per minute (eSpeak NG keeps it within its own range: 80 up)
# int callback(short *wav, int numsamples, espeak_EVENT *events)
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)

# espeak-ng IPA -> Kokoro symbols: multi-character phonemes become Kokoro's single symbols.
# (The same conventions as the misaki package's espeak front end, written out here as data.)
_COMMON = {
    "a^ɪ": "I", "a^ʊ": "W", "d^z": "ʣ", "d^ʒ": "ʤ", "e^ɪ": "A", "o^ʊ": "O", "ə^ʊ": "Q",
    "s^s": "S", "t^s": "ʦ", "t^ʃ": "ʧ", "ɔ^ɪ": "Y",
}
_ENGLISH = {
    "a^ɪ": "I", "a^ʊ": "W", "d^ʒ": "ʤ", "e^ɪ": "A", "e": "A", "t^ʃ": "ʧ", "ɔ^ɪ": "Y",
    "ə^l": "ᵊl", "ʲo": "jo", "ʲə": "jə", "ʲ": "", "ɚ": "əɹ", "r": "ɹ", "x": "k", "ç": "k",
    "ɐ": "ə", "ɬ": "l", "\u0303": "",
}
_ENGLISH_AFTER = {
    "us": (("o^ʊ", "O"), ("ɜːɹ", "ɜɹ"), ("ɜː", "ɜɹ"), ("ɪə", "iə"), ("ː", "")),
    "gb": (("e^ə", "ɛː"), ("iə", "ɪə"), ("ə^ʊ", "Q")),
}

# Per language, after the common table, where espeak-ng's symbol is not the one Kokoro learnt for
# that sound in the languages it was trained on (docs/accent.md, "German's phones").
_LANGUAGE = {
    # German: the rounded ʏ of "Brücke", "Glück" is no Kokoro symbol and was dropped ("Brücke" was
    # said "brkə", heard "Dröcken" for "Drücken"): y, the nearest rounded front vowel (French "u").
    # The uvular r of standard German (ʁ, French) for espeak-ng's tap and trill was tried and not
    # kept: the voices' ʁ is heard as an h ("Bericht" as "Behecht"; docs/accent.md).
    # The diphthong of "heute", "neun", "läuft" (espeak-ng's ɔø) is no Kokoro unit, and the voices
    # said it as two vowels ("neue" heard as "Norde", "heute" as "Hote"): Y, the model's own ɔɪ of
    # English "boy", as the other two German diphthongs already use its I and W. Its second element
    # is commonly unrounded in Standard German, [ɔɪ] (R. Wiese, The Phonology of German, 1996, 2.2;
    # K. Kohler, "German", Handbook of the IPA, 1999). Measured on the training pool's sentences
    # with "eu"/"äu" (engine/evaluation/phone_maps.py; docs/accent.md, "German's diphthong").
    "de": (("ʏ", "y"), ("ɔ^ø", "Y")),
}


def _ordered(table: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(table.items(), key=lambda kv: -len(kv[0])))


_COMMON_ORDERED = _ordered(_COMMON)
_ENGLISH_ORDERED = _ordered(_ENGLISH)


_LANGUAGE_FLAG = re.compile(r"\([\^a-z0-9-]+\)")  # with our tie character inside: "(^k^o)"


def to_kokoro(ipa: str, locale: Locale, vocab: dict[str, int]) -> str:
    """espeak-ng IPA (with `^` ties) -> a string of Kokoro symbols only."""
    # espeak-ng marks a word it read in another language's voice with "(ko)...(en-us)"; the
    # parentheses are model symbols, so the flags must go before anything else.
    ps = _LANGUAGE_FLAG.sub("", ipa).strip()
    if locale.english_style:
        for old, new in _ENGLISH_ORDERED:
            ps = ps.replace(old, new)
        ps = re.sub(r"(\S)\u0329", r"ᵊ\1", ps).replace("\u0329", "")
        for old, new in _ENGLISH_AFTER[locale.english_style]:
            ps = ps.replace(old, new)
        ps = ps.replace("ɾ", "T").replace("ʔ", "t")
    else:
        for old, new in _COMMON_ORDERED:
            ps = ps.replace(old, new)
        for old, new in _LANGUAGE.get(locale.language, ()):
            ps = ps.replace(old, new)
        ps = ps.replace("-", "")
    ps = ps.replace(_TIE, "")
    # Australian and Southern US English: published phonology over the British / American output
    # (engine/dialects.py); every other locale is left as espeak-ng says it.
    ps = dialects.apply(locale.tag, ps)
    return "".join(c for c in ps if c in vocab)


class Espeak:
    """A thin, locked wrapper over libespeak-ng (the library is not thread-safe): its
    text-to-phonemes for the G2P, and its own speech for the system voice on Linux (fallback.py).
    The process's one user of the library: a second initialisation would change its mode."""

    def __init__(self):
        try:
            import espeakng_loader
        except ImportError as exc:
            raise G2PError("espeakng-loader is not installed (pip install espeakng-loader)") from exc
        try:
            lib = ctypes.CDLL(espeakng_loader.get_library_path())
            data = espeakng_loader.get_data_path()
        except (OSError, RuntimeError) as exc:
            raise G2PError(f"espeak-ng library cannot be loaded: {exc}") from exc
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_Synth.restype = ctypes.c_int
        # Synchronous: espeak_Synth returns when the last sample has gone to the callback, in the
        # calling thread (no library thread, no queue).
        self.sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data.encode(), 0)
        if self.sample_rate <= 0:
            raise G2PError(f"espeak-ng failed to initialise with data at {data}")
        self._lib = lib
        self._lock = threading.Lock()
        self._voice: str | None = None
        self._samples: list[bytes] = []
        self._callback = _SYNTH_CALLBACK(self._on_samples)  # kept: the library holds its address
        lib.espeak_SetSynthCallback(self._callback)

    def _on_samples(self, wav, count, events) -> int:
        if count > 0:
            self._samples.append(ctypes.string_at(wav, count * 2))
        return 0  # 0: go on

    def synthesize(self, text: str, voice: str, words_per_minute: int) -> np.ndarray:
        """eSpeak NG's own speech of `text`: float32 mono at `sample_rate` (the system voice on
        Linux; docs/guardrails.md)."""
        rate = max(int(words_per_minute), 1)
        data = text.encode("utf-8")
        with self._lock:
            self._set_voice(voice)
            self._lib.espeak_SetParameter(_RATE, rate, 0)
            self._samples = []
            error = self._lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0,
                                           _CHARS_UTF8 | _ENDPAUSE, None, None)
            pcm, self._samples = b"".join(self._samples), []
        if error != 0:
            raise G2PError(f"espeak-ng could not speak {text[:40]!r} (espeak_Synth error {error})")
        return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0

    def _set_voice(self, voice: str) -> None:
        if voice != self._voice:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise G2PError(f"espeak-ng has no voice {voice!r}")
            self._voice = voice

    def phonemize(self, text: str, voice: str) -> list[str]:
        """IPA for `text`, one string per espeak-ng word (ties marked with `^`)."""
        mode = _PHONEMES_IPA | _PHONEMES_TIE | (ord(_TIE) << 8)
        words: list[str] = []
        with self._lock:
            self._set_voice(voice)
            buf = ctypes.c_char_p(text.encode("utf-8"))
            ptr = ctypes.pointer(buf)
            while buf.value:
                out = self._lib.espeak_TextToPhonemes(ptr, _CHARS_UTF8, mode)
                if out:
                    words.extend(out.decode("utf-8", errors="replace").split())
        return words


_ESPEAK: Espeak | None = None
_ESPEAK_LOCK = threading.Lock()


def espeak() -> Espeak:
    global _ESPEAK
    with _ESPEAK_LOCK:
        if _ESPEAK is None:
            _ESPEAK = Espeak()
        return _ESPEAK


# Characters that would make espeak-ng start a new clause or read punctuation aloud.
_CLAUSE_BREAKERS = re.compile(r"[.,;:!?…()\[\]{}\"“”«»—–]")


@dataclass(frozen=True)
class G2P:
    """Phonemes per word for one locale, in Kokoro's symbols."""

    locale: Locale
    vocab: dict

    def words(self, spoken_words: list[str]) -> list[str]:
        """Kokoro phonemes for each spoken word (a word may be several espeak words). Empty: nothing."""
        engine = espeak()
        voice = self.locale.espeak_voice
        cleaned = [_CLAUSE_BREAKERS.sub(" ", w).strip() for w in spoken_words]
        alone = [engine.phonemize(w, voice) if w else [] for w in cleaned]
        in_clause = engine.phonemize(" ".join(w for w in cleaned if w), voice)
        if sum(len(a) for a in alone) == len(in_clause):
            # Same word count: take the in-context phonemes, split by each word's count.
            per_word, i = [], 0
            for a in alone:
                per_word.append(in_clause[i : i + len(a)])
                i += len(a)
        else:
            per_word = alone
        return [to_kokoro(" ".join(p), self.locale, self.vocab) for p in per_word]


_STRESS = "ˈˌ"


def may_end_segment(phonemes: str) -> bool:
    """Whether a model call may end on a word with these phonemes, where no punctuation follows.

    A word espeak-ng leaves unstressed in its clause is a clitic or a reduced function word that
    leans on its neighbour ("à", "et", "e", "y", "a", "o", "the", "and"). Ended on it, with no
    punctuation after it, Kokoro fades the utterance out and never voices it: measured with
    jm_kumo, "ma sˈœʁ apʁˈɑ̃t a" gives the final "a" a peak RMS of 0.0000, the same
    word stressed ("ˈa") or followed by "ʒwˈe" gives 0.09-0.14 (issue #16). Segments are cut
    after a stressed word instead, so the clitic opens the next segment, where it is voiced."""
    return any(c in _STRESS for c in phonemes)
