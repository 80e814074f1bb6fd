"""The non-neural voices a locale has on this machine, as rows of the accent meter (`--systems`).

The engines blind users choose today for a language Kokoro never learnt (German above all: SVOX
Pico, MBROLA through espeak-ng, espeak-ng itself) are the bar a locale is held to (issue #18: German
"with word error rate at most Pico's"). Each row speaks the same held-out sentences as the voice
rows and is measured by the same meters. The voices are the locale's non-neural adapter teachers
(engine/train/data.py, `TEACHERS`) that this machine has, Pico in the locale's language and
espeak-ng's own voice for the locale. Nothing here is on the runtime path.
"""

from __future__ import annotations

import numpy as np

from ..locales import get_locale

PICO = {"en-US": "en-US", "en-GB": "en-GB", "en-AU": "en-GB", "en-US-south": "en-US", "de-DE": "de-DE",
        "es-ES": "es-ES", "es-US": "es-ES", "fr-FR": "fr-FR", "it-IT": "it-IT"}
"""SVOX Pico's language for each locale (Pico speaks six; the dialects get their standard)."""
PREFIX = "system-"
"""A system row's voice id: PREFIX + the teacher's name ("system-pico:de-DE", "system-mbrola:de2")."""
KINDS = ("pico", "mbrola", "espeak")


def is_system(voice: str) -> bool:
    return voice.startswith(PREFIX)


def teacher(voice: str):
    """The teacher a system row's voice id names; ValueError for anything else."""
    from ..train.data import Teacher

    kind, _, name = voice.removeprefix(PREFIX).partition(":")
    if not is_system(voice) or kind not in KINDS or not name:
        raise ValueError(f"not a system voice: {voice!r} (expected {PREFIX}<{'|'.join(KINDS)}>:<voice>)")
    return Teacher(kind, name, 1.0)


def voices(locale: str) -> tuple[list[str], list[str]]:
    """(the locale's system voice ids this machine can run, a sentence for each one it cannot)."""
    from ..train.data import TEACHERS, Teacher

    tag = get_locale(locale).tag
    candidates = [t for t in TEACHERS.get(tag, ()) if t.kind in KINDS]
    for extra in (Teacher("pico", PICO[tag], 1.0), Teacher("espeak", get_locale(tag).espeak_voice, 1.0)):
        if extra.name not in {t.name for t in candidates}:
            candidates.append(extra)
    have, missing = [], []
    for t in candidates:
        why = t.missing()
        (missing if why else have).append(why or PREFIX + t.name)
    return have, missing


def synthesize(row, text: str) -> np.ndarray:
    """A system row's audio for `text`: float32 at the meters' 16 kHz."""
    from scipy.signal import resample_poly

    from ..train.data import external_audio

    return resample_poly(external_audio(teacher(row.voice), text), 2, 3).astype(np.float32)
