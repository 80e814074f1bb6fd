"""Real human speech for the accent meter: each meter's native ceiling (`echoic eval accent --human`).

The Debian packages `asterisk-core-sounds-{en,es,fr,it}-g722` hold professional telephone prompts
recorded at 16 kHz in G.722 (CC-BY-SA-3.0), and `asterisk-core-sounds-{en,es,fr,it}` their prompt
texts. A fixed, evenly spaced choice of the longer prompts (`prompts`) is decoded with ffmpeg
(`decode`) and measured by the same meters as the engine's rows: what a native human speaker
scores is the ceiling a synthetic voice can be read against. Nothing here is on the runtime path,
and no recording is copied into the repository.
"""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SOUNDS = Path("/usr/share/asterisk/sounds")
DOCS = Path("/usr/share/doc")
MIN_WORDS = 7


@dataclass(frozen=True)
class HumanSource:
    id: str
    """The row's voice id in the table."""
    locale: str
    """The locale whose meters it is read with (its language decides Whisper's target)."""
    folder: str
    """The recordings under SOUNDS (the speaker's own folder, not the alternatives link)."""
    package: str
    """The Debian package whose doc folder holds the prompt texts, core-sounds-XX.txt.gz."""
    fold: bool = False
    """The prompt texts are written without diacritics: the WER compares words without them."""
    about: str = ""

    @property
    def texts_file(self) -> Path:
        return DOCS / self.package / f"core-sounds-{self.package.rsplit('-', 1)[1]}.txt.gz"


SOURCES: tuple[HumanSource, ...] = (
    HumanSource("human-en", "en-US", "en_US_f_Allison", "asterisk-core-sounds-en", about="US English, female"),
    HumanSource("human-es", "es-US", "es_MX_f_Allison", "asterisk-core-sounds-es", fold=True,
                about="Spanish labelled Mexican, female; texts without accents"),
    HumanSource("human-fr", "fr-FR", "fr_CA_f_June", "asterisk-core-sounds-fr", about="Canadian French, female"),
    HumanSource("human-it", "it-IT", "it_IT_m_Carlo", "asterisk-core-sounds-it", about="Italian, male"),
)
BY_ID = {s.id: s for s in SOURCES}


def parse_texts(text: str) -> dict[str, str]:
    """`id: prompt text` lines (`;` comments) -> {id: text}."""
    out = {}
    for line in text.lstrip("\ufeff").splitlines():
        if line.startswith(";") or ":" not in line:
            continue
        key, value = line.split(":", 1)
        if key.strip() and value.strip():
            out[key.strip()] = " ".join(value.split())
    return out


def eligible(texts: dict[str, str], have: set[str]) -> list[str]:
    """Top-level prompts with a recording, at least MIN_WORDS words, no digits and no notes in
    brackets (what was said is then exactly the text), sorted by id."""
    return sorted(k for k, t in texts.items() if "/" not in k and k in have and len(t.split()) >= MIN_WORDS
                  and not re.search(r"[0-9\[\]()<>{}*#]", t) and "..." not in t and "…" not in t)


def spread(items: list, count: int) -> list:
    """`count` items evenly spaced over the list (all of them if it is shorter)."""
    if count >= len(items):
        return list(items)
    return [items[round(j * (len(items) - 1) / max(count - 1, 1))] for j in range(count)]


def prompts(source: HumanSource, count: int) -> list[tuple[str, str]]:
    """The chosen (prompt id, text) pairs; FileNotFoundError when the packages are not installed."""
    folder = SOUNDS / source.folder
    if not source.texts_file.exists() or not folder.is_dir():
        raise FileNotFoundError(f"{source.id}: install {source.package} and {source.package}-g722 "
                                f"(apt-get install {source.package} {source.package}-g722)")
    texts = parse_texts(gzip.decompress(source.texts_file.read_bytes()).decode("utf-8", errors="replace"))
    have = {p.stem for p in folder.glob("*.g722")}
    return [(k, texts[k]) for k in spread(eligible(texts, have), count)]


def decode(path: Path, rate: int = 16000) -> np.ndarray:
    """A raw G.722 file -> float32 mono at `rate`, through ffmpeg's G.722 decoder."""
    if shutil.which("ffmpeg") is None:
        raise SystemExit("echoic: decoding the G.722 recordings needs ffmpeg (apt-get install ffmpeg)")
    done = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "g722", "-i", str(path),
                           "-ac", "1", "-ar", str(rate), "-f", "f32le", "-"], capture_output=True, check=False)
    if done.returncode != 0 or not done.stdout:
        raise ValueError(f"ffmpeg could not decode {path}: {done.stderr.decode(errors='replace').strip()}")
    return np.frombuffer(done.stdout, dtype=np.float32).copy()


def recording(source: HumanSource, text: str, count: int) -> np.ndarray:
    """The decoded recording of the prompt whose text is `text` (one of `prompts(source, count)`)."""
    for key, said in prompts(source, count):
        if said == text:
            return decode(SOUNDS / source.folder / f"{key}.g722")
    raise KeyError(f"{source.id}: no chosen prompt says {text!r}")
