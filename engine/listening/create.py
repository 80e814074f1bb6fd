"""Making a test: which systems speak which sentences (a pure plan), then rendering it to a folder.

A trial is one held-out sentence spoken by every system under test, plus the hidden reference
(the best native voice for the locale, or the one named) and the low anchor (that reference
low-passed at 3.5 kHz, as ITU-R BS.1534-3 asks). Every stimulus is loudness-matched and saved
under a random name; the manifest says what each is. The systems come from the engine's voice
list, so a voice pack added to the engine appears here without a code change.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import numpy as np

from ..audio import to_pcm16, write_wav
from ..errors import ConfigError
from ..locales import LOCALES, get_locale
from ..voices import VoiceInfo
from .manifest import MANIFEST, Manifest, Stimulus, Trial

SETS = ("accent", "voices", "custom")
SYSTEM_VOICE = "system"
STOCK_VOICE = "jm_kumo"
"""The accent set's baseline: the stock Japanese voice that spoke every locale before the native packs."""
"""The system voice (eSpeak NG on Linux, SAPI5 through pyttsx3 on Windows) as a system under test."""
ANCHOR = "anchor-3.5kHz"
ANCHOR_HZ = 3500.0
MAX_SAMPLES = 12
"""Samples in one trial, hidden reference and anchor included: more tire the listener (BS.1534-3)."""
TARGET_RMS = 0.05
"""Every stimulus is scaled to this RMS (about -26 dBFS), less if its peak would clip: listeners
should judge voices, not loudness."""
REFERENCE_PREFERENCE = {
    # The native Kokoro pack that sounds best for each locale, by Kokoro's own voice grades; used
    # when it is installed, otherwise the first native voice the engine lists. --reference overrides.
    "en-US": ("af_heart", "af_bella", "am_michael"),
    "en-US-south": ("af_heart", "af_bella", "am_michael"),
    "en-GB": ("bf_emma", "bm_george"),
    "en-AU": ("bf_emma", "bm_george"),
    "fr-FR": ("ff_siwis",),
    "it-IT": ("if_sara", "im_nicola"),
    "es-ES": ("ef_dora", "em_alex"),
    "es-US": ("ef_dora", "em_alex"),
}


@dataclass(frozen=True)
class System:
    """What renders a stimulus: a voice (optionally at an accent strength) or the system voice."""

    voice: str | None
    """Voice id; None: the system voice."""
    accent_strength: float | None = None

    @classmethod
    def parse(cls, text: str) -> "System":
        """`jm_kumo`, `jm_kumo@0.5` (accent strength 0..1) or `system`."""
        name, _, strength = text.strip().partition("@")
        if not name:
            raise ConfigError(f"system {text!r}: give a voice id, voice@strength, or {SYSTEM_VOICE!r}")
        if name == SYSTEM_VOICE:
            if strength:
                raise ConfigError(f"system {text!r}: the system voice has no accent strength")
            return cls(None)
        if not strength:
            return cls(name)
        try:
            value = float(strength)
        except ValueError:
            raise ConfigError(f"system {text!r}: accent strength {strength!r} is not a number") from None
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"system {text!r}: accent strength must be in 0..1")
        return cls(name, value)

    @property
    def name(self) -> str:
        if self.voice is None:
            return SYSTEM_VOICE
        return self.voice if self.accent_strength is None else f"{self.voice}@{self.accent_strength:g}"


@dataclass(frozen=True)
class PlannedTrial:
    id: str
    locale: str
    sentence: str
    reference: System
    systems: tuple[System, ...]
    """The systems under test (never the reference itself)."""


def held_out_sentences() -> dict[str, list[str]]:
    raw = json.loads(resources.files(__package__).joinpath("sentences.json").read_text(encoding="utf-8"))
    return {tag: list(lines) for tag, lines in raw.items() if not tag.startswith("_")}


def native_voices(locale: str, voices: Sequence[VoiceInfo]) -> list[VoiceInfo]:
    """Voices made for this locale: they list it, and not every locale (the stock Japanese packs
    list every locale, because every voice can speak every locale)."""
    every = len(LOCALES)
    native = [v for v in voices if locale in v.locales and len(v.locales) < every]
    preferred = REFERENCE_PREFERENCE.get(locale, ())
    return sorted(native, key=lambda v: preferred.index(v.id) if v.id in preferred else len(preferred))


def plan_test(test_set: str, locales: Sequence[str], voices_for: Callable[[str], Sequence[VoiceInfo]],
              systems: Sequence[str] | None = None, reference: str | None = None,
              sentences: dict[str, list[str]] | None = None, per_locale: int | None = None) -> list[PlannedTrial]:
    """Which systems speak which sentences. Pure: the engine is reached only through `voices_for`.

    accent: the locale's default (stock) voice, the next best native voice and the system voice;
    voices: every voice the engine lists for the locale, and the system voice;
    custom: exactly `systems`. `systems` replaces the set's own list in every set; `reference`
    (a voice id or `system`) replaces the best native voice as the hidden reference.
    """
    if test_set not in SETS:
        raise ConfigError(f"unknown set {test_set!r}; choose one of {', '.join(SETS)}")
    if test_set == "custom" and not (systems and reference):
        raise ConfigError("--set custom needs --systems and --reference")
    if per_locale is not None and per_locale < 1:
        raise ConfigError(f"--sentences must be at least 1, got {per_locale}")
    sentences = sentences if sentences is not None else held_out_sentences()
    trials: list[PlannedTrial] = []
    for tag in [get_locale(t).tag for t in locales]:
        lines = sentences.get(tag)
        if not lines:
            raise ConfigError(f"no held-out sentences for {tag}; sentences exist for {', '.join(sorted(sentences))}")
        voices = list(voices_for(tag))
        known = {v.id for v in voices}
        if reference:
            ref = System.parse(reference)
        else:
            native = native_voices(tag, voices)
            if not native:
                raise ConfigError(f"no native voice is installed for {tag} to be the hidden reference; "
                                  f"name one with --reference VOICE (a voice id, or {SYSTEM_VOICE!r})")
            ref = System(native[0].id)
        if systems:
            chosen = [System.parse(s) for s in systems]
        elif test_set == "accent":
            # One native voice besides the reference (the next best), so a locale with twenty
            # native packs still makes a trial a listener can hold in mind.
            others = [System(v.id) for v in native_voices(tag, voices) if System(v.id) != ref][:1]
            chosen = [System(STOCK_VOICE)] + others + [System(None)]
        else:
            chosen = [System(v.id) for v in voices] + [System(None)]
        for system in [ref, *chosen]:
            if system.voice is not None and system.voice not in known:
                raise ConfigError(f"unknown voice {system.voice!r} for {tag}; available: {', '.join(sorted(known))}, {SYSTEM_VOICE}")
        unique = list(dict.fromkeys(s for s in chosen if s != ref))
        if not unique:
            raise ConfigError(f"{tag}: no system to test besides the reference {ref.name}")
        if len(unique) + 2 > MAX_SAMPLES:
            raise ConfigError(f"{tag}: {len(unique)} systems plus the hidden reference and the anchor make "
                              f"{len(unique) + 2} samples; a MUSHRA trial holds at most {MAX_SAMPLES} "
                              "(BS.1534-3): choose fewer with --systems")
        for n, sentence in enumerate(lines[:per_locale] if per_locale else lines, 1):
            trials.append(PlannedTrial(f"{tag}-{n}", tag, sentence, ref, tuple(unique)))
    if not trials:
        raise ConfigError("no trials: name at least one locale with --locales")
    return trials


def default_locales(test_set: str, voices_for: Callable[[str], Sequence[VoiceInfo]],
                    reference: str | None = None) -> list[str]:
    """accent: every locale with a native voice to be its reference (every locale when the
    reference is named); the other sets: en-US."""
    if test_set != "accent":
        return ["en-US"]
    tags = [loc.tag for loc in LOCALES if reference or native_voices(loc.tag, voices_for(loc.tag))]
    if not tags:
        raise ConfigError("no locale has a native voice installed to be the hidden reference; name one with "
                          f"--reference VOICE (a voice id, or {SYSTEM_VOICE!r}), or list --locales")
    return tags


# --- audio -------------------------------------------------------------------------------------
def low_pass(audio: np.ndarray, sample_rate: int, cutoff_hz: float = ANCHOR_HZ) -> np.ndarray:
    """Zero every frequency above `cutoff_hz` (an ideal filter over the whole stimulus, as the
    standard's anchor is defined), float32 in, float32 out of the same length."""
    spectrum = np.fft.rfft(np.asarray(audio, dtype=np.float64))
    freqs = np.fft.rfftfreq(len(audio), 1.0 / sample_rate)
    spectrum[freqs > cutoff_hz] = 0.0
    return np.fft.irfft(spectrum, n=len(audio)).astype(np.float32)


def loudness_matched(audio: np.ndarray, target_rms: float = TARGET_RMS) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    level = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0
    if level == 0.0:
        raise ConfigError("a stimulus is silent; the system that rendered it failed")
    gain = target_rms / level
    peak = float(np.max(np.abs(audio))) * gain
    if peak > 0.99:
        gain *= 0.99 / peak
    return audio * gain


Renderer = Callable[[System, str, str], np.ndarray]
"""(system, sentence, locale) -> float32 mono audio at the test's sample rate."""


class EngineRenderer:
    """Renders through the engine's public API; the system voice through the engine's fallback."""

    def __init__(self, engine):
        self.engine = engine
        self.sample_rate = engine.sample_rate

    def __call__(self, system: System, sentence: str, locale: str) -> np.ndarray:
        from ..api import SpeechRequest

        if system.voice is None:
            return self.engine.ladder.system_voice.speak_to_array(sentence, get_locale(locale), 1.0, self.sample_rate)
        audio, _ = self.engine.synthesize(SpeechRequest(text=sentence, locale=locale, voice=system.voice,
                                                        accent_strength=system.accent_strength))
        return audio.astype(np.float32) / 32768.0


def _write(folder: Path, audio: np.ndarray, sample_rate: int) -> tuple[str, str]:
    name = f"audio/{secrets.token_hex(8)}.wav"
    write_wav(folder / name, to_pcm16(audio), sample_rate)
    return name, hashlib.sha256((folder / name).read_bytes()).hexdigest()


def render_test(folder: Path, test_set: str, planned: Sequence[PlannedTrial], render: Renderer, sample_rate: int,
                progress: Callable[[str], None] = lambda line: None) -> Manifest:
    """Render every trial into a new folder. The folder appears only when complete (it is built
    beside it and renamed), so an interrupted run leaves nothing half made."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ConfigError(f"{folder} already exists and is not empty; choose a new folder (nothing was changed)")
    if not folder.parent.is_dir():
        raise ConfigError(f"{folder.parent} does not exist")
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        (work / "audio").mkdir()
        trials = []
        for n, plan in enumerate(planned, 1):
            progress(f"trial {n}/{len(planned)} ({plan.locale}): {plan.reference.name}, "
                     + ", ".join(s.name for s in plan.systems))
            reference = render(plan.reference, plan.sentence, plan.locale)
            stimuli = []
            for system in plan.systems:
                file, digest = _write(work, loudness_matched(render(system, plan.sentence, plan.locale)), sample_rate)
                twin = next((s.system for s in stimuli if s.sha256 == digest), None)
                if twin:  # e.g. voice@0.5 while no adapter makes accent strength change anything
                    progress(f"note: {system.name} rendered exactly the same audio as {twin}")
                stimuli.append(Stimulus(file, system.name, "test", digest))
            ref_audio = loudness_matched(reference)
            anchor = loudness_matched(low_pass(ref_audio, sample_rate))
            # The hidden and the open reference are the same audio under two names.
            hidden, digest = _write(work, ref_audio, sample_rate)
            open_ref, _ = _write(work, ref_audio, sample_rate)
            anchor_file, anchor_digest = _write(work, anchor, sample_rate)
            stimuli += [Stimulus(hidden, plan.reference.name, "reference", digest),
                        Stimulus(anchor_file, ANCHOR, "anchor", anchor_digest)]
            trials.append(Trial(plan.id, plan.locale, plan.sentence, open_ref, plan.reference.name, tuple(stimuli)))
        manifest = Manifest(set=test_set, salt=secrets.token_hex(16), sample_rate=sample_rate, trials=tuple(trials),
                            created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        (work / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
        (work / "results").mkdir()
        if folder.exists():
            folder.rmdir()
        work.rename(folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest
