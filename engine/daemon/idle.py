"""What the synthesis thread does when no client is waiting, as pure functions over a list.

The idle queue holds, in order: a `Preload` (first idle moment after start: load the chunked
rendering sessions); key-echo warm-up requests (after a spelled key, the rest of that locale's
keys and punctuation, then its commonest words, with the same voice and prosody, so later keys
and words said alone come from the engine's cache); `WordAhead`s (the words of the line just
spoken, each said alone, so that moving by word through it comes from the cache); then
`Calibration`s for chunked rendering (engine/streaming.py): first the (voice, row)s long
segments rendered whole for want of one, then, with `ahead`, the rest of those voices' rows.
Real speech interrupts any of it; an interrupted item goes back to the front (server.py).
"""

from __future__ import annotations

import dataclasses

from ..api import SpeechRequest


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Calibrate one grid row of a voice (`Engine.calibrate`); `ahead`: a row no segment has asked
    for yet, queued after every row one has."""

    voice: str
    row: int
    ahead: bool = False


@dataclasses.dataclass(frozen=True)
class Preload:
    """Load the engine's chunked-rendering sessions."""


@dataclasses.dataclass(frozen=True)
class WordAhead:
    """A word of the utterance just spoken, rendered as a screen reader says a word alone when the
    user moves by word (NVDA's control+right arrow, Orca's word navigation)."""

    request: SpeechRequest


IdleWork = SpeechRequest | Calibration | Preload | WordAhead


def key_echo_key(request: SpeechRequest, voice: str, locale: str) -> tuple:
    return (locale, voice, request.rate, request.pitch)


def plan_key_echo(queue: list[IdleWork], request: SpeechRequest, voice: str, locale: str,
                  characters: list[str], words: list[str] = ()) -> list[IdleWork]:
    """The idle queue after a key echo: only the newest voice, locale and rate are worth the idle
    time, so earlier key warm-ups go; the keys (spelled), then the frequent words (said as a
    screen reader says a word alone), come before every other idle item."""
    other = [item for item in queue if not isinstance(item, SpeechRequest)]
    keys = [dataclasses.replace(request, text=char, ssml=False, spell=True, voice=voice, locale=locale)
            for char in characters]
    said = [dataclasses.replace(request, text=word, ssml=False, spell=False, voice=voice, locale=locale)
            for word in words]
    return keys + said + other


def words_ahead(words: list[str], text: str | None, limit: int) -> list[str]:
    """What to pre-render of an utterance of `words` (the plan's words as written): each distinct
    word in reading order, then, where `text` (the request's plain text; None for SSML) has a word
    with punctuation attached ("garage."), that form, since a screen reader may send either (the
    bare words first: they come back whichever way the punctuation level is set); at most `limit`."""
    tokens = text.split() if text is not None else []
    attached = [token for word, token in zip(words, tokens) if token != word and word in token] \
        if len(tokens) == len(words) else []  # only where each token is one word
    return list(dict.fromkeys(f for f in [*words, *attached] if f.strip()))[:limit]


def plan_words_ahead(queue: list[IdleWork], request: SpeechRequest, voice: str, locale: str,
                     words: list[str]) -> list[IdleWork]:
    """The idle queue after an utterance of several words: the words of this one replace those of
    any earlier one (the user moves through what was said last), after any key-echo warm-up (a
    user typing wants keys first) and before calibrations."""
    keys = [item for item in queue if isinstance(item, SpeechRequest)]
    other = [item for item in queue if not isinstance(item, (SpeechRequest, WordAhead))]
    ahead = [WordAhead(dataclasses.replace(request, text=word, ssml=False, spell=False, voice=voice, locale=locale))
             for word in words]
    return keys + ahead + other


def plan_calibrations(queue: list[IdleWork], wanted: list[tuple[str, int]],
                      ahead: dict[str, tuple[int, ...]]) -> list[IdleWork]:
    """The idle queue with the `wanted` (voice, row)s before any calibration queued ahead (a row
    already queued ahead is promoted), then every row of `ahead` not queued yet."""
    items = list(queue)
    keyed = {(item.voice, item.row) for item in items if isinstance(item, Calibration) and not item.ahead}
    for voice, row in wanted:
        if (voice, row) in keyed:
            continue
        keyed.add((voice, row))
        items = [i for i in items if not (isinstance(i, Calibration) and (i.voice, i.row) == (voice, row))]
        at = next((k for k, i in enumerate(items) if isinstance(i, Calibration) and i.ahead), len(items))
        items.insert(at, Calibration(voice, row))
    queued = {(i.voice, i.row) for i in items if isinstance(i, Calibration)}
    for voice, rows in ahead.items():
        items.extend(Calibration(voice, row, ahead=True) for row in rows if (voice, row) not in queued)
    return items


def is_key_echo(words: list) -> bool:
    """One word of one character, however the client asked for it (spelled or not)."""
    return len(words) == 1 and len(words[0].text) == 1


def pending(items: list[IdleWork]) -> dict[str, int]:
    """For `status`: key-echo warm-ups, words ahead and calibrations still to do."""
    return {"warm_up_pending": sum(1 for item in items if isinstance(item, SpeechRequest)),
            "words_ahead_pending": sum(1 for item in items if isinstance(item, WordAhead)),
            "calibrations_pending": sum(1 for item in items if isinstance(item, Calibration))}
