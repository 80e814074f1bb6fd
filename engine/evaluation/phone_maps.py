"""Does a change to a language's phoneme table (engine/g2p.py `_LANGUAGE`) make the engine more
understandable? Measured on sentences the accent meter never uses: the locale's training pool
(engine/train/data/sentences_<language>.txt) that hold the letters the change is about, each spoken
through the engine by a few voices with the table as it is and with the change, and heard by the
accent meter's Whisper-base (word error rate, target-language probability).

The meter's own six held-out sentences then say whether the change holds there too
(`echoic eval accent`, docs/accent.md); nothing here chooses a change by the meter: a change is
written from phonology first and only accepted or rejected by what is measured.

    PYTHONPATH=. python -c "from engine.evaluation.phone_maps import measure_phone_map as m; m()"
    PYTHONPATH=. python -c "from engine.evaluation.phone_maps import measure_glottal_onset as m; m()"
"""

from __future__ import annotations

import contextlib
import re

import numpy as np

from ..train.data import curated_sentences


def pool_sentences(language: str, pattern: str | None, count: int, phonemes: tuple[str, ...] = ()) -> list[str]:
    """The first `count` sentences of the language's training pool (comment lines left out) that
    match `pattern` (a regex, case-insensitive) or, with no pattern, whose espeak-ng phonemes
    (ties marked `^`) hold one of `phonemes`."""
    texts = curated_sentences(language)
    if pattern is not None:
        return [s for s in texts if re.search(pattern, s, re.I)][:count]
    from ..g2p import espeak
    from ..locales import get_locale

    voice = get_locale(language).espeak_voice
    return [s for s in texts if any(p in " ".join(espeak().phonemize(s, voice)) for p in phonemes)][:count]


VOICES = ("ef_dora", "im_nicola", "jm_kumo")
"""German's default voice and two others (Italian, Japanese) whose German the meter has measured."""


def measure_phone_map(locale: str = "de-DE", change: tuple[tuple[str, str], ...] = (("ɔ^ø", "Y"),),
                      pattern: str | None = "eu|äu", voices: tuple[str, ...] = VOICES, count: int = 12) -> dict:
    """Word error rate and target-language probability per voice, with the language's table without
    the pairs of `change` ("without") and with them appended ("with"), so the command measures the
    same after a change has shipped; on sentences matching `pattern`, or with `pattern` None, on
    those whose phonemes hold what the change replaces.
    Returns {voice: {variant: {"wer": mean, "target": mean}}}."""
    from ..locales import get_locale

    language = get_locale(locale).language
    texts = pool_sentences(language, pattern, count, tuple(old for old, _ in change))
    return _measure(locale, texts, voices, table_variants(language, change),
                    f"change {change!r}")


def table_variants(language: str, change: tuple[tuple[str, str], ...]) -> dict:
    """{"without": ..., "with": ...}: context managers under which the language's table lacks, or
    ends with, the pairs of `change`; leaving either restores the table as shipped."""
    from .. import g2p

    shipped = g2p._LANGUAGE.get(language, ())
    base = tuple(pair for pair in shipped if pair not in change)

    def table(pairs):
        @contextlib.contextmanager
        def use():
            g2p._LANGUAGE[language] = pairs
            try:
                yield
            finally:
                g2p._LANGUAGE[language] = shipped
        return use

    return {"without": table(base), "with": table(base + tuple(change))}


GLOTTAL_VOWELS = "aeiouyøœɛɪʊɔɑəɐɜIWY"
"""Kokoro symbols that begin a German word with a vowel (I, W, Y: the diphthongs)."""


def measure_glottal_onset(pattern: str = r"\s[aeiouäöü]", voices: tuple[str, ...] = VOICES, count: int = 12) -> dict:
    """German's hard onset (a glottal stop before a word-initial vowel, "der ʔAnwendung": R. Wiese,
    The Phonology of German, 1996, 2.6), which espeak-ng does not write: each word's phonemes
    with and without ʔ before a first vowel, on training-pool sentences with a vowel-initial word
    after the first."""
    return _measure("de-DE", pool_sentences("de", pattern, count), voices, glottal_variants(),
                    "a glottal stop before word-initial vowels")


def glottal_variants() -> dict:
    """{"without": ..., "with": ...}: under "with", every word's Kokoro phonemes that begin with a
    vowel (after a stress mark) get ʔ before it."""
    from .. import g2p

    plain = g2p.to_kokoro
    onset = re.compile(rf"(^|\s)([ˈˌ]?)(?=[{GLOTTAL_VOWELS}])")

    @contextlib.contextmanager
    def glottal():
        g2p.to_kokoro = lambda ipa, locale, vocab: onset.sub(r"\1\2ʔ", plain(ipa, locale, vocab))
        try:
            yield
        finally:
            g2p.to_kokoro = plain

    return {"without": contextlib.nullcontext, "with": glottal}


def _measure(locale: str, texts: list[str], voices: tuple[str, ...], variants: dict, what: str) -> dict:
    """Each text by each voice under each variant (a context manager factory that changes the
    G2P while it is entered), the variants taking turns per sentence, heard by Whisper-base."""
    from ..config import EngineConfig
    from ..model_store import default_cache_dir
    from ..synth import Engine
    from .accent import Row
    from .accent_meters import OfflineMeters, engine_synthesizer

    # every render fresh: the phonemes differ per variant
    synthesize = engine_synthesizer(Engine(EngineConfig(cache_megabytes=0)))
    meters = OfflineMeters(default_cache_dir(), threads=2)
    results: dict[str, dict[str, list[dict]]] = {}
    for text in texts:
        for voice in voices:
            for name, variant in variants.items():
                with variant():
                    audio = synthesize(Row(voice, locale), text)  # 16 kHz, as the accent meter hears it
                record = meters(audio, locale, text)
                results.setdefault(voice, {}).setdefault(name, []).append(record)
                print(f"{voice} {name:7} WER {record['wer']:.2f} target {record['target']:.2f}: {record['heard']}",
                      flush=True)
    means = {v: {k: {m: float(np.mean([r[m] for r in recs])) for m in ("wer", "target")} for k, recs in kinds.items()}
             for v, kinds in results.items()}
    print(f"{len(texts)} sentences of the training pool; {what}")
    for voice, kinds in means.items():
        print(f"{voice}: " + "; ".join(f"{k}: WER {m['wer']:.3f}, target {m['target']:.2f}" for k, m in kinds.items()))
    return means
