"""`echoic train data --locale L`: the training data of one locale's adapter, built offline.

For each locale, everyday sentences (menus, dialogs, messages, web pages, prose: the curated files
in `engine/train/data/`, plus the Asterisk prompt texts where Debian's `asterisk-core-sounds-*`
packages are installed) are phonemized the way the runtime phonemizes them (the text front end,
espeak-ng, and for en-AU / en-US-south the dialect rules of `engine/dialects.py`) and spoken by the
locale's teachers:

- the native Kokoro packs where the locale has them (en-US, en-GB, es-ES, fr-FR, it-IT: the model
  speaking natively is the teacher), rendered by the runtime itself (planner, then renderer), with
  the plan's per-token durations, F0 and energy saved beside the audio;
- en-AU and en-US-south: a native British / American Kokoro pack speaking the dialect phonemes
  (the accent there comes from published phonology alone; no recording validates it);
- de-DE: the MBROLA German voices (through espeak-ng) and SVOX Pico; es-US: MBROLA's Mexican and
  Venezuelan voices and espeak-ng's es-419. These come from Debian's contrib / non-free sections
  (docs/training-data.md says how to add them); their audio is resampled to 24 kHz mono;
- en-US and it-IT, where Debian's asterisk-core-sounds-<lang>-g722 are installed: the human
  speakers of the Asterisk prompts, for the prompts in the sentence pool (decoded with ffmpeg).

Output, under `--out` (default: the per-user cache, `<cache>/train/<L>/`; format in
docs/training-data.md):
`dataset.json`, `manifest.jsonl` (one utterance a line), `wavs/<id>.wav` (24 kHz mono 16-bit) and,
for Kokoro teachers, `plans/<id>.npz` (durations int64 per token incl. the two pads, f0 and energy
float32 at two steps per 600-sample frame). Every file is written atomically; a run that is
interrupted resumes where it stopped (utterances already on disk are kept, never rendered again).

No torch: this runs on the runtime's onnxruntime sessions, without the `train` extra.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic_write import write_atomically
from ..errors import ConfigError, EchoicError
from ..locales import LOCALES, Locale, get_locale

FORMAT = 1
SAMPLE_RATE = 24000
MAX_IDS = 510
DATA_DIR = Path(__file__).with_name("data")
ASTERISK_TEXTS = Path("/usr/share/doc")
"""Debian's asterisk-core-sounds-<lang> packages put their prompt texts here (core-sounds-<lang>.txt.gz)."""
ASTERISK_LANGUAGES = ("en", "fr", "it")
"""The Spanish prompt texts are written without accents or tildes ("contrasena", "extension"),
which espeak-ng then mispronounces: they are not used."""
HELDOUT_EVERY = 16
"""About one sentence in HELDOUT_EVERY (by a hash of its text, so a sentence keeps its split
whatever --sentences says) is held out of training, for every teacher that speaks it; the pool's
order puts one after every HELDOUT_EVERY - 1 training sentences while they last."""
FLUSH_EVERY = 10
"""The manifest is rewritten (atomically) after this many new utterances, and at the end."""
MBROLA_DIR = Path("/usr/share/mbrola")
ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds")
"""Where Debian's asterisk-core-sounds-<lang>-g722 put the recordings, one folder per speaker."""
SILENCE_RMS = 1e-3
"""A teacher's audio quieter than this is a failed render (MBROLA with a missing diphone set)."""


# --- teachers ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Teacher:
    kind: str
    """"kokoro", "mbrola", "pico", "espeak" or "human" (recorded speech)."""
    voice: str
    """The Kokoro pack, the MBROLA voice (de2), Pico's language (de-DE), espeak-ng's voice (es-419),
    or the recordings' folder under ASTERISK_SOUNDS (en_US_f_Allison)."""
    share: float
    """This teacher's share of the locale's data weight (the shares of a locale sum to 1)."""

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.voice}"

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "_", self.name)

    def missing(self) -> str | None:
        """What this machine lacks to run the teacher (a sentence saying how to get it), or None."""
        if self.kind == "kokoro":
            return None
        if shutil.which("espeak-ng") is None and self.kind in ("mbrola", "espeak"):
            return f"{self.name} needs espeak-ng (Debian package espeak-ng)"
        if self.kind == "mbrola":
            if shutil.which("mbrola") is None:
                return f"{self.name} needs MBROLA (Debian contrib package mbrola, and mbrola-{self.voice} from non-free)"
            if not (MBROLA_DIR / self.voice / self.voice).exists():
                return f"{self.name} needs the voice {MBROLA_DIR / self.voice} (Debian non-free package mbrola-{self.voice})"
        if self.kind == "pico" and shutil.which("pico2wave") is None:
            return f"{self.name} needs SVOX Pico (Debian non-free package libttspico-utils)"
        if self.kind == "human":
            language = self.voice.split("_", 1)[0]
            if shutil.which("ffmpeg") is None:
                return f"{self.name} needs ffmpeg to decode G.722 (Debian package ffmpeg)"
            if not (ASTERISK_SOUNDS / self.voice).is_dir():
                return (f"{self.name} needs the recordings {ASTERISK_SOUNDS / self.voice} "
                        f"(Debian package asterisk-core-sounds-{language}-g722)")
            if not asterisk_texts_file(language).exists():
                return f"{self.name} needs the prompt texts (Debian package asterisk-core-sounds-{language})"
        return None


def _kokoro(*voices: str) -> tuple[Teacher, ...]:
    return tuple(Teacher("kokoro", v, 1.0 / len(voices)) for v in voices)


def _shared(kind: str, voices: tuple[str, ...], share: float) -> tuple[Teacher, ...]:
    return tuple(Teacher(kind, v, share / len(voices)) for v in voices)


# Kokoro teachers: the locale's native packs graded A or B by the accent meter
# (engine/voice_packs/grades.json), men and women; a locale with fewer takes what it has.
TEACHERS: dict[str, tuple[Teacher, ...]] = {
    # en-US and it-IT also have real speech: the professional voices of the Asterisk prompts
    # (Allison, US English; Carlo, Italian), for the prompts whose text is in the sentence pool.
    "en-US": (*_shared("kokoro", ("af_heart", "am_michael", "af_bella", "am_fenrir"), 0.8),
              Teacher("human", "en_US_f_Allison", 0.2)),
    "en-GB": _kokoro("bm_george", "bf_emma", "bf_isabella", "bm_fable"),
    # No Australian or Southern US voice exists: a native British / American pack reads the
    # dialect phonemes (engine/dialects.py); the locale's default voice and its other gender.
    "en-AU": _kokoro("bm_george", "bf_emma"),
    "en-US-south": _kokoro("am_michael", "af_bella"),
    "es-ES": _kokoro("ef_dora", "em_alex"),
    "fr-FR": _kokoro("ff_siwis"),
    "it-IT": (*_shared("kokoro", ("im_nicola", "if_sara"), 0.75), Teacher("human", "it_IT_m_Carlo", 0.25)),
    # German: no Kokoro pack and the model never learnt German. Pico is the most understandable
    # native German voice measured (Whisper-base WER .13 on 12 sentences, docs/training-data.md);
    # six MBROLA voices (three women, three men: WER .27-.36) bring speaker variety. de3 (WER .85)
    # and de8 (WER 1.5, many diphones missing from its espeak-ng mapping) are left out.
    # The adapter trainer aligns only to Kokoro plans, and no Kokoro voice is German: ef_dora, the
    # most understandable Kokoro voice in German (docs/accent.md), is its Kokoro teacher, so the
    # adapter brings every voice's German toward hers, not toward a native's (docs/adapters.md).
    "de-DE": (Teacher("pico", "de-DE", 0.3),
              *_shared("mbrola", ("de1", "de2", "de4", "de5", "de6", "de7"), 0.45), Teacher("kokoro", "ef_dora", 0.25)),
    # US Spanish: no Latin American Kokoro pack exists, so, as for en-AU, the native Spanish packs
    # read the locale's phonemes (espeak-ng es-419: seseo, yeísmo); they are the teachers the
    # adapter trainer can align to. MBROLA's Mexican (mx1, mx2) and Venezuelan (vz1) voices and
    # espeak-ng's Latin American voice are hard to understand (Whisper-base WER .78-.96 on 12
    # everyday sentences, docs/training-data.md): teachers of phonemes and rough rhythm, not of sound.
    "es-US": (*_shared("kokoro", ("ef_dora", "em_alex"), 0.5),
              *_shared("mbrola", ("mx1", "mx2", "vz1"), 0.375), Teacher("espeak", "es-419", 0.125)),
}


def teachers_for(locale: str, names: list[str] | None = None) -> tuple[Teacher, ...]:
    """The locale's teachers, or those of them named (`kokoro:af_heart`, `mbrola:de2`)."""
    tag = get_locale(locale).tag
    teachers = TEACHERS[tag]
    if not names:
        return teachers
    known = {t.name: t for t in teachers}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"{tag} has no teacher {', '.join(unknown)}; its teachers: {', '.join(known)}")
    return tuple(known[n] for n in dict.fromkeys(names))


# --- sentences ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sentence:
    text: str
    source: str
    """"echoic" (the curated files) or "asterisk-core-sounds-<lang>"."""
    key: str | None = None
    """The Asterisk prompt's name (its recording is `<key>.g722`); None for the curated sentences."""


def normalized(text: str) -> str:
    """Lower-case words without punctuation, for comparing sentences."""
    text = unicodedata.normalize("NFC", text).lower().replace("’", "'")
    return " ".join(re.findall(r"[^\W_]+", text))


def _split_sentences(paragraph: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?…])\s+", paragraph.strip()) if s]


def heldout_sentences(language: str) -> list[str]:
    """The accent meter's held-out sentences of a language and the everyday / prose evaluation
    texts (`engine/evaluation/`), one sentence each: training never uses any of them."""
    from .. import evaluation

    root = Path(evaluation.__file__).parent
    out = list(json.loads((root / "accent_sentences.json").read_text(encoding="utf-8")).get(language, []))
    for path in sorted((root / "data").glob(f"*_{language}.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                out.extend(_split_sentences(line))
    return out


SHARED_WORDS = 5
"""A training sentence may share no run of this many words with a held-out sentence."""


def _runs(text: str, n: int = SHARED_WORDS) -> set[str]:
    words = normalized(text).split()
    if len(words) < n:
        return {" ".join(words)}
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


class HeldOut:
    """The held-out sentences of a language, for testing training sentences against them."""

    def __init__(self, sentences: list[str]):
        self.whole = {normalized(h) for h in sentences}
        self.runs = set().union(*(_runs(h) for h in sentences)) if sentences else set()

    def overlaps(self, text: str) -> bool:
        """Whether a sentence is a held-out one or shares a run of SHARED_WORDS words with one."""
        n = normalized(text)
        return n in self.whole or (len(n.split()) >= SHARED_WORDS and bool(_runs(text) & self.runs))


def overlaps(text: str, heldout: list[str]) -> bool:
    return HeldOut(heldout).overlaps(text)


def curated_sentences(language: str) -> list[str]:
    path = DATA_DIR / f"sentences_{language}.txt"
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


_ASTERISK_NAMES = re.compile(r"asterisk|digium|\bPBX\b|\bIAX\b|voicemail system", re.IGNORECASE)


def asterisk_texts_file(language: str, root: Path = ASTERISK_TEXTS) -> Path:
    return root / f"asterisk-core-sounds-{language}" / f"core-sounds-{language}.txt.gz"


def asterisk_sentences(language: str, root: Path = ASTERISK_TEXTS) -> list[tuple[str, str]]:
    """Prompt texts of Debian's asterisk-core-sounds-<language> (CC-BY-SA-3.0), when installed:
    `name: text` lines; bracketed sound descriptions, digits and fragments are left out."""
    if language not in ASTERISK_LANGUAGES:
        return []
    path = asterisk_texts_file(language, root)
    if not path.exists():
        return []
    out = []
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            if ":" not in line or line.startswith(";"):
                continue
            key, _, text = line.partition(":")
            text = re.sub(r"\s+", " ", text.strip())
            # Fragments meant to be chained after a number (lower-case starts, trailing "..."),
            # sound descriptions in brackets, digits and the product's own name are left out.
            if (not text or not text[0].isupper() or re.search(r"[\[*#@/]", text) or "\ufffd" in text or re.search(r"\d", text)
                    or text.endswith(("...", "…")) or len(text.split()) < 3 or _ASTERISK_NAMES.search(text)):
                continue
            out.append((key.strip(), text if text[-1] in ".!?" else text + "."))
    return out


def sentence_pool(language: str, asterisk_root: Path = ASTERISK_TEXTS) -> list[Sentence]:
    """The language's training sentences in a fixed shuffled order (seed 0): curated and Asterisk
    ones mixed, duplicates and anything overlapping the held-out sentences removed."""
    heldout = HeldOut(heldout_sentences(language))
    seen: set[str] = set()
    pool = []
    for source, texts in (("echoic", [(None, t) for t in curated_sentences(language)]),
                          (f"asterisk-core-sounds-{language}", asterisk_sentences(language, asterisk_root))):
        for prompt, text in texts:
            key = normalized(text)
            if key and key not in seen and not heldout.overlaps(text):
                seen.add(key)
                pool.append(Sentence(text, source, prompt))
    random.Random(0).shuffle(pool)
    # Held-out sentences spread evenly through the order (one after every HELDOUT_EVERY - 1
    # training ones), so that even a small --sentences build holds some out.
    train = [s for s in pool if not is_heldout(s.text)]
    held = [s for s in pool if is_heldout(s.text)]
    ordered = []
    step = HELDOUT_EVERY - 1
    for i in range(0, max(len(train), 1), step):
        ordered.extend(train[i:i + step])
        if held:
            ordered.append(held.pop(0))
    return ordered + held


def is_heldout(text: str) -> bool:
    return int(hashlib.sha1(normalized(text).encode()).hexdigest()[:8], 16) % HELDOUT_EVERY == 0


# --- phonemes ----------------------------------------------------------------------------------

class _Cached:
    def __init__(self, phonemize):
        self.phonemize = phonemize
        self.cache: dict[str, tuple[str, list[int]]] = {}

    def __call__(self, text: str) -> tuple[str, list[int]]:
        if text not in self.cache:
            self.cache[text] = self.phonemize(text)
        return self.cache[text]


class Phonemizer:
    """Text -> the Kokoro phoneme string the runtime would read for it (text front end, espeak-ng,
    dialect rules, punctuation the model hears), and its token ids (no pads)."""

    def __init__(self, locale: Locale):
        from ..g2p import G2P
        from ..model_store import load_vocab

        self.locale = locale
        self.vocab = load_vocab()
        self.g2p = G2P(locale, self.vocab)

    def __call__(self, text: str) -> tuple[str, list[int]]:
        from ..text import FrontEndReport, Word, read_text

        words = [w for run in read_text(text, self.locale.tag, FrontEndReport()) for w in run.items
                 if isinstance(w, Word)]
        phonemes = self.g2p.words([w.spoken for w in words])
        parts = []
        for word, ps in zip(words, phonemes):
            if ps:
                parts.append(ps + "".join(c for c in word.punct if c in self.vocab))
        string = " ".join(parts)
        return string, [self.vocab[c] for c in string]


# --- audio -------------------------------------------------------------------------------------

def resample(audio: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling (FFT, zero-padded or truncated spectrum) of a whole utterance."""
    audio = np.asarray(audio, dtype=np.float64)
    if rate == target or len(audio) == 0:
        return audio.astype(np.float32)
    n = len(audio)
    m = int(round(n * target / rate))
    spectrum = np.fft.rfft(audio)
    keep = min(len(spectrum), m // 2 + 1)
    out = np.zeros(m // 2 + 1, dtype=complex)
    out[:keep] = spectrum[:keep]
    if m < n and m % 2 == 0:
        out[-1] = out[-1].real  # the new Nyquist bin of a downsampled signal is real
    return (np.fft.irfft(out, m) * (m / n)).astype(np.float32)


def wav_bytes(audio: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise EchoicError(f"{path}: {8 * w.getsampwidth()}-bit audio, expected 16-bit")
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        return data.reshape(-1, w.getnchannels()).mean(axis=1), w.getframerate()


def external_audio(teacher: Teacher, text: str, timeout: float = 120.0) -> np.ndarray:
    """A non-neural teacher's audio for `text` (for a recorded speaker: the recording's path),
    at 24 kHz mono."""
    # The system espeak-ng must read its own data (where the MBROLA voice definitions are), not
    # another copy an ESPEAK_DATA_PATH in the environment may point at.
    env = {k: v for k, v in os.environ.items() if k != "ESPEAK_DATA_PATH"}
    with tempfile.TemporaryDirectory(prefix="echoic-teacher-") as tmp:
        out = Path(tmp) / "out.wav"
        if teacher.kind == "human":
            cmd, stdin = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "g722", "-i", text,
                          "-ac", "1", "-y", str(out)], None
        elif teacher.kind == "pico":
            cmd, stdin = ["pico2wave", "-l", teacher.voice, "-w", str(out), "--", text], None
        else:
            voice = f"mb-{teacher.voice}" if teacher.kind == "mbrola" else teacher.voice
            cmd, stdin = ["espeak-ng", "-v", voice, "-w", str(out), "--stdin"], text
        try:
            done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired as exc:
            raise EchoicError(f"{teacher.name} took over {timeout:.0f} s") from exc
        if done.returncode != 0 or not out.exists():
            raise EchoicError(f"{teacher.name} failed (exit {done.returncode}): {done.stderr.strip()[-300:]}")
        audio, rate = read_wav(out)
    audio = resample(audio, rate)
    if len(audio) == 0 or float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) < SILENCE_RMS:
        raise EchoicError(f"{teacher.name} gave silence")
    return audio


# --- the build ---------------------------------------------------------------------------------

def default_out_dir(locale: str) -> Path:
    from ..model_store import default_cache_dir

    return default_cache_dir() / "train" / get_locale(locale).tag


@dataclass
class BuildResult:
    out: Path
    rendered: int = 0
    kept: int = 0
    failed: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    counts: dict = field(default_factory=dict)


def utterance_id(locale: str, teacher: Teacher, text: str) -> str:
    return f"{teacher.slug}-{hashlib.sha1(f'{locale}|{text}'.encode()).hexdigest()[:12]}"


def recording(teacher: Teacher, sentence: Sentence) -> Path | None:
    """The recorded speaker's file of a sentence, if it has one."""
    if teacher.kind != "human" or sentence.key is None:
        return None
    path = ASTERISK_SOUNDS / teacher.voice / f"{sentence.key}.g722"
    return path if path.exists() else None


def assign(pool: list[Sentence], teachers: tuple[Teacher, ...], per_sentence: int) -> list[tuple[Sentence, Teacher]]:
    """Each sentence to `per_sentence` synthetic teachers, in rotation, so every teacher speaks as
    many; a recorded speaker (human) speaks, in addition, every sentence it recorded."""
    synthetic = tuple(t for t in teachers if t.kind != "human")
    jobs = []
    k = min(max(per_sentence, 1), len(synthetic))
    for i, s in enumerate(pool):
        jobs.extend((s, synthetic[(i * k + j) % len(synthetic)]) for j in range(k))
        jobs.extend((s, t) for t in teachers if t.kind == "human" and recording(t, s))
    return jobs


def read_manifest(path: Path) -> list[dict]:
    if not path.exists():
        return []
    entries = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise EchoicError(f"{path} line {n} is not JSON ({exc}); delete the folder to start again") from exc
    return entries


def set_weights(entries: list[dict], teachers: tuple[Teacher, ...]) -> None:
    """Each teacher's utterances together weigh its share of the locale (renormalised over the
    teachers present); the mean weight over the dataset is 1."""
    shares = {t.name: t.share for t in teachers}
    count: dict[str, int] = {}
    for e in entries:
        count[e["teacher"]] = count.get(e["teacher"], 0) + 1
    total_share = sum(shares.get(name, 0.0) for name in count) or 1.0
    for e in entries:
        share = shares.get(e["teacher"], 0.0) / total_share
        e["weight"] = round(share * len(entries) / count[e["teacher"]], 6)


def summarize(entries: list[dict], out: Path) -> dict:
    counts: dict = {"utterances": len(entries), "train": 0, "heldout": 0, "seconds": 0.0, "sentences": 0,
                    "per_teacher": {}, "per_source": {}}
    texts = set()
    for e in entries:
        seconds = e.get("seconds", 0.0)
        counts[e["split"]] += 1
        counts["seconds"] += seconds
        texts.add(e["text"])
        t = counts["per_teacher"].setdefault(e["teacher"], {"utterances": 0, "seconds": 0.0})
        t["utterances"] += 1
        t["seconds"] += seconds
        counts["per_source"][e["source"]] = counts["per_source"].get(e["source"], 0) + 1
    counts["sentences"] = len(texts)
    counts["seconds"] = round(counts["seconds"], 2)
    for t in counts["per_teacher"].values():
        t["seconds"] = round(t["seconds"], 2)
    return counts


def _write_manifest(out: Path, entries: list[dict], locale: str, teachers: tuple[Teacher, ...],
                    result: BuildResult, created: str) -> None:
    # Shares from the locale's whole table, so utterances kept from an earlier run with other
    # --teacher choices keep their weight; "teachers" names those present and those asked for.
    table = TEACHERS[locale]
    present = {e["teacher"] for e in entries} | {t.name for t in teachers}
    teachers = tuple(t for t in table if t.name in present)
    set_weights(entries, teachers)
    lines = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries)
    write_atomically(out / "manifest.jsonl", lines.encode("utf-8"))
    result.counts = summarize(entries, out)
    dataset = {
        "format": FORMAT, "locale": locale, "teachers": [t.name for t in teachers],
        "shares": {t.name: t.share for t in teachers}, "counts": result.counts, "created": created,
        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "sample_rate": SAMPLE_RATE,
        "failed": result.failed, "skipped": result.skipped,
        "sources": sorted({e["source"] for e in entries}),
    }
    write_atomically(out / "dataset.json", (json.dumps(dataset, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))


def build(locale: str, out: Path | None = None, sentences: int | None = None, per_sentence: int = 2,
          teacher_names: list[str] | None = None, skip_missing: bool = False, threads: int = 2,
          runtime=None, progress=None, asterisk_root: Path = ASTERISK_TEXTS) -> BuildResult:
    """Build (or resume) one locale's training data; returns what was done and the counts."""
    loc = get_locale(locale)
    tag = loc.tag
    out = Path(out) if out else default_out_dir(tag)
    teachers = teachers_for(tag, teacher_names)
    # Recorded speakers are a bonus where their Debian packages are installed; unless asked for
    # by name, their absence is only noted.
    optional = [t.missing() for t in teachers if t.kind == "human" and t.missing() and not teacher_names]
    teachers = tuple(t for t in teachers if not (t.kind == "human" and t.missing() and not teacher_names))
    missing = [m for m in (t.missing() for t in teachers) if m]
    if missing and not skip_missing:
        raise ConfigError(f"{tag}: teachers missing on this machine: " + "; ".join(missing)
                          + " (docs/training-data.md; --skip-missing builds with the others)")
    teachers = tuple(t for t in teachers if t.missing() is None)
    if not teachers:
        raise ConfigError(f"{tag}: no teacher of this locale can run here: " + "; ".join(missing))
    if sentences is not None and sentences < 1:
        raise ConfigError(f"--sentences must be at least 1, got {sentences}")
    progress = progress or (lambda line: None)

    pool = sentence_pool(loc.language, asterisk_root)[:sentences]
    jobs = assign(pool, teachers, per_sentence)
    out.mkdir(parents=True, exist_ok=True)
    (out / "wavs").mkdir(exist_ok=True)
    (out / "plans").mkdir(exist_ok=True)

    result = BuildResult(out)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if (out / "dataset.json").exists():
        try:
            old = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise EchoicError(f"{out / 'dataset.json'} is not JSON ({exc}); delete the folder to start again") from exc
        if old.get("locale") != tag:
            raise ConfigError(f"{out} holds data of {old.get('locale')!r}, not {tag}: choose another --out")
        created = old.get("created", created)
    phonemize = _Cached(Phonemizer(loc))
    known = {t.name for t in TEACHERS[tag]}
    entries = {}
    for e in read_manifest(out / "manifest.jsonl"):
        # Kept only if its teacher is still one of the locale's, its files are there and the
        # phonemes are still what G2P says (a change of espeak-ng or of the dialect rules renders
        # the sentence again).
        if (e.get("teacher") in known and (out / e["wav"]).exists()
                and (e["plan"] is None or (out / e["plan"]).exists()) and phonemize(e["text"])[0] == e["phonemes"]):
            entries[e["id"]] = e
    result.kept = len(entries)

    library = None
    todo = [(s, t) for s, t in jobs if utterance_id(tag, t, s.text) not in entries]
    for note in optional:
        progress(f"{tag}: not using {note}")
    progress(f"{tag}: {len(pool)} sentences x up to {min(per_sentence, len(teachers))} of {len(teachers)} teachers = "
             f"{len(jobs)} utterances; {len(jobs) - len(todo)} already done, {len(todo)} to render into {out}")
    started = time.monotonic()
    audio_seconds = 0.0
    since_flush = 0
    try:
        for n, (sentence, teacher) in enumerate(todo, 1):
            uid = utterance_id(tag, teacher, sentence.text)
            phonemes, ids = phonemize(sentence.text)
            if not ids or len(ids) > MAX_IDS:
                result.skipped.append({"id": uid, "text": sentence.text, "why": f"{len(ids)} token ids (1..{MAX_IDS})"})
                continue
            plan_rel = None
            try:
                if teacher.kind == "kokoro":
                    if runtime is None:
                        from ..model_store import ensure_model
                        from ..runtime import KokoroRuntime, RuntimeConfig

                        runtime = KokoroRuntime(ensure_model(), RuntimeConfig(threads=threads))
                    if library is None:
                        from ..voices import VoiceLibrary

                        library = VoiceLibrary()
                    style = library.get(teacher.voice).style(len(ids))
                    plan = runtime.plan(ids, style, 1.0)
                    audio = runtime.render_planned(plan, style)
                    buf = io.BytesIO()
                    np.savez(buf, durations=plan.durations.astype(np.int64), f0=plan.f0.reshape(-1).astype(np.float32),
                             energy=plan.energy.reshape(-1).astype(np.float32))
                    plan_rel = f"plans/{uid}.npz"
                    write_atomically(out / plan_rel, buf.getvalue())
                else:
                    audio = external_audio(teacher, str(recording(teacher, sentence)) if teacher.kind == "human"
                                           else sentence.text)
            except EchoicError as exc:
                result.failed.append({"id": uid, "teacher": teacher.name, "text": sentence.text, "error": str(exc)})
                progress(f"  failed {uid}: {exc}")
                continue
            wav_rel = f"wavs/{uid}.wav"
            write_atomically(out / wav_rel, wav_bytes(audio))
            seconds = round(len(audio) / SAMPLE_RATE, 3)
            entries[uid] = {
                "id": uid, "text": sentence.text, "phonemes": phonemes, "ids": ids, "teacher": teacher.name,
                "wav": wav_rel, "plan": plan_rel, "split": "heldout" if is_heldout(sentence.text) else "train",
                "weight": 1.0, "seconds": seconds, "source": sentence.source,
            }
            result.rendered += 1
            audio_seconds += seconds
            since_flush += 1
            if since_flush >= FLUSH_EVERY:
                _write_manifest(out, list(entries.values()), tag, teachers, result, created)
                since_flush = 0
            elapsed = time.monotonic() - started
            eta = elapsed / n * (len(todo) - n)
            progress(f"  [{n}/{len(todo)}] {teacher.name} {seconds:.1f} s  ({elapsed:.0f} s elapsed, "
                     f"{audio_seconds / max(elapsed, 1e-9):.2f} s of audio per second, about {eta:.0f} s left)")
    finally:
        _write_manifest(out, list(entries.values()), tag, teachers, result, created)
    return result


# --- measuring the teachers ----------------------------------------------------------------------

def measure(out: Path, locale: str, threads: int = 2, progress=None) -> dict:
    """How understandable each teacher of a built dataset is: Whisper-base's word error rate and
    its probability of the locale's language, per utterance (cached in `measure.json`, written
    atomically, so an interrupted run resumes), summarised per teacher. Needs the `eval` extra.

    A check on the data, never a training signal: the adapters are not trained against Whisper
    (the acceptance meter), and nothing here selects or weights utterances by it."""
    loc = get_locale(locale)
    progress = progress or (lambda line: None)
    entries = read_manifest(out / "manifest.jsonl")
    if not entries:
        raise ConfigError(f"{out} holds no manifest.jsonl: build the data first (echoic train data --locale {loc.tag})")
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise ConfigError("--measure needs the eval extra (pip install 'echoic[eval]')") from exc
    from ..evaluation.accent import whisper_dir, word_error_rate
    from ..model_store import default_cache_dir

    cache_path = out / "measure.json"
    cache = json.loads(cache_path.read_text(encoding="utf-8")) if cache_path.exists() else {}
    model = WhisperModel(str(whisper_dir(default_cache_dir())), device="cpu", compute_type="int8",
                         cpu_threads=threads, local_files_only=True)
    for n, e in enumerate(entries, 1):
        if e["id"] in cache:
            continue
        audio, rate = read_wav(out / e["wav"])
        audio = resample(audio, rate, 16000)
        _, _, probabilities = model.detect_language(audio)
        segments, _ = model.transcribe(audio, language=loc.language, beam_size=1, without_timestamps=True,
                                       condition_on_previous_text=False, vad_filter=False)
        heard = " ".join(seg.text.strip() for seg in segments)
        cache[e["id"]] = {"teacher": e["teacher"], "wer": word_error_rate(e["text"], heard), "heard": heard,
                          "target": float(dict(probabilities).get(loc.language, 0.0))}
        write_atomically(cache_path, json.dumps(cache, ensure_ascii=False, indent=0).encode("utf-8"))
        progress(f"  [{n}/{len(entries)}] {e['teacher']} WER {cache[e['id']]['wer']:.2f}")
    summary: dict = {}
    for e in entries:
        r = cache[e["id"]]
        s = summary.setdefault(e["teacher"], {"utterances": 0, "wer": 0.0, "target": 0.0})
        s["utterances"] += 1
        s["wer"] += r["wer"]
        s["target"] += r["target"]
    for s in summary.values():
        s["wer"] = round(s["wer"] / s["utterances"], 3)
        s["target"] = round(s["target"] / s["utterances"], 3)
    return summary


# --- command -----------------------------------------------------------------------------------

def cmd_train_data(args) -> int:
    if args.list:
        for tag, teachers in TEACHERS.items():
            for t in teachers:
                print(f"{tag}\t{t.name}\t{t.share:.3f}\t{t.missing() or 'available'}")
        return 0
    if not args.locale:
        raise ConfigError(f"--locale is required; one of {', '.join(loc.tag for loc in LOCALES)}")
    if args.measure:
        out = Path(args.out) if args.out else default_out_dir(args.locale)
        summary = measure(out, args.locale, args.threads, progress=lambda line: print(line, file=sys.stderr, flush=True))
        print("teacher\tutterances\tWER\ttarget-language probability (Whisper-base)")
        for name, s in summary.items():
            print(f"{name}\t{s['utterances']}\t{s['wer']:.3f}\t{s['target']:.3f}")
        return 0
    result = build(args.locale, Path(args.out) if args.out else None, args.sentences, args.teachers_per_sentence,
                   args.teacher, args.skip_missing, args.threads,
                   progress=lambda line: print(line, file=sys.stderr, flush=True))
    c = result.counts
    print(f"{get_locale(args.locale).tag}: {c['utterances']} utterances ({c['train']} train, {c['heldout']} held out), "
          f"{c['seconds'] / 60:.1f} min of audio, {c['sentences']} sentences; rendered {result.rendered} now, "
          f"kept {result.kept}, {len(result.failed)} failed, {len(result.skipped)} skipped -> {result.out}")
    return 1 if result.failed and not result.rendered and not result.kept else 0


def register(trainings) -> None:
    data = trainings.add_parser("data", help="build a locale's adapter training data (teachers' audio, phonemes, plans)")
    data.add_argument("--locale", help="locale tag (see `echoic locales`)")
    data.add_argument("--out", help="output folder (default: the per-user cache, <cache>/train/<locale>/)")
    data.add_argument("--sentences", type=int, help="use only the first N sentences of the locale's pool (default: all)")
    data.add_argument("--teachers-per-sentence", type=int, default=2, help="teachers speaking each sentence (default 2)")
    data.add_argument("--teacher", action="append", help="only this teacher (repeatable), e.g. kokoro:af_heart, mbrola:de2")
    data.add_argument("--skip-missing", action="store_true", help="build with the teachers this machine has")
    data.add_argument("--threads", type=int, default=2, help="onnxruntime threads for the Kokoro teachers (default 2)")
    data.add_argument("--measure", action="store_true",
                      help="instead of building: Whisper-base's WER per teacher of the built data (eval extra)")
    data.add_argument("--list", action="store_true", help="list every locale's teachers and whether each can run here")
    data.set_defaults(func=cmd_train_data)
