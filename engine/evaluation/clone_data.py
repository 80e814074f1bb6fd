"""Real speakers for `echoic eval clone`: the Asterisk core prompts of Debian, as WAV with transcripts.

Debian's `asterisk-core-sounds-{en,es,fr,it}-g722` hold one professional speaker per language
(16 kHz G.722, CC-BY-SA-3.0); `asterisk-core-sounds-{en,es,fr,it}` hold the prompt texts
(`/usr/share/doc/asterisk-core-sounds-LANG/core-sounds-LANG.txt.gz`). G.722 is decoded with the
PyPI package `G722` (eval extra). `export_speaker` writes, for one language:

    OUT/ref.wav + OUT/ref.txt   prompts (in name order, at least 6 words each) until `seconds` of
                                audio: the reference a voice is fitted to, with its transcript;
    OUT/held/NAME.wav           the next `held` prompts (at least 4 words): real speech of the same
                                speaker never seen by the fit (the evaluation's target).

    python -m engine.evaluation.clone_data en /tmp/clone-data/en [--seconds 30] [--held 12]
"""

from __future__ import annotations

import argparse
import gzip
import re
from pathlib import Path

import numpy as np

SOUNDS = Path("/usr/share/asterisk/sounds")
TEXTS = "/usr/share/doc/asterisk-core-sounds-{lang}/core-sounds-{lang}.txt.gz"
SPEAKERS = {"en": "en_US_f_Allison", "es": "es_MX_f_Allison", "fr": "fr_CA_f_June", "it": "it_IT_m_Carlo"}
"""The voice directory each language package installs (name: locale, gender, speaker)."""
PACKAGES = ("asterisk-core-sounds-en-g722 asterisk-core-sounds-en asterisk-core-sounds-es-g722 "
            "asterisk-core-sounds-es asterisk-core-sounds-fr-g722 asterisk-core-sounds-fr "
            "asterisk-core-sounds-it-g722 asterisk-core-sounds-it")
RATE = 16000


def prompt_texts(lang: str) -> dict[str, str]:
    path = Path(TEXTS.format(lang=lang))
    if not path.exists():
        raise SystemExit(f"echoic: no prompt texts at {path}: apt-get install {PACKAGES}")
    texts = {}
    with gzip.open(path, "rt", encoding="utf-8-sig", errors="replace") as f:
        for line in f:
            if line.startswith(";") or ":" not in line:
                continue
            name, text = line.split(":", 1)
            text = re.sub(r"\s+", " ", re.sub(r"[\[\(<].*?[\]\)>]", " ", text)).strip()
            if name.strip() and text:
                texts[name.strip()] = text
    return texts


def decode_g722(path: Path) -> np.ndarray:
    try:
        import G722
    except ModuleNotFoundError as exc:
        raise SystemExit("echoic: decoding G.722 needs the eval extra (pip install G722==1.2.8)") from exc
    pcm = np.asarray(G722.G722(RATE, 64000).decode(path.read_bytes()), dtype=np.int16)
    return pcm.astype(np.float32) / 32768.0


def export_speaker(lang: str, out: Path, seconds: float = 30.0, held: int = 12) -> dict:
    import soundfile as sf

    from ..atomic_write import write_atomically

    directory = SOUNDS / SPEAKERS[lang]
    texts = prompt_texts(lang)
    names = [n for n in sorted(texts) if "/" not in n and (directory / f"{n}.g722").exists()]
    if not names:
        raise SystemExit(f"echoic: no G.722 prompts in {directory}: apt-get install {PACKAGES}")
    ref, ref_text, used = [], [], 0.0
    rest = iter(names)
    for name in rest:
        if len(texts[name].split()) < 6:
            continue
        audio = decode_g722(directory / f"{name}.g722")
        ref += [audio, np.zeros(RATE // 4, np.float32)]
        ref_text.append(texts[name])
        used += len(audio) / RATE
        if used >= seconds:
            break
    out.mkdir(parents=True, exist_ok=True)
    sf.write(out / "ref.wav", np.concatenate(ref), RATE)
    write_atomically(out / "ref.txt", (" ".join(ref_text) + "\n").encode("utf-8"))
    (out / "held").mkdir(exist_ok=True)
    kept = 0
    for name in rest:
        if kept >= held:
            break
        if len(texts[name].split()) < 4:
            continue
        sf.write(out / "held" / f"{name}.wav", decode_g722(directory / f"{name}.g722"), RATE)
        write_atomically(out / "held" / f"{name}.txt", (texts[name] + "\n").encode("utf-8"))
        kept += 1
    return {"speaker": SPEAKERS[lang], "reference_seconds": round(used, 1), "held_out": kept}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("lang", choices=sorted(SPEAKERS))
    p.add_argument("out", type=Path)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--held", type=int, default=12)
    args = p.parse_args(argv)
    print(export_speaker(args.lang, args.out, args.seconds, args.held))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
