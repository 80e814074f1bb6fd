"""Per-language data for the text front end, found through a registry keyed by language code.

Adding a language means adding a module that builds a `Language` and listing it here; the front
end's logic never names a language.
"""

from __future__ import annotations

from . import de, en, es, fr, it
from .base import MAX_NUMBER, Language

LANGUAGES: dict[str, Language] = {m.LANGUAGE.code: m.LANGUAGE for m in (en, de, es, fr, it)}


def get_language(code: str) -> Language:
    """The data for a two-letter language code; unknown codes raise KeyError."""
    return LANGUAGES[code]


__all__ = ["LANGUAGES", "MAX_NUMBER", "Language", "get_language"]
