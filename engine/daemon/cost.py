"""What a `speak` will cost, estimated from the message alone before any work starts, and the
limits on it (#15): a request over a limit is refused with `too_large` or `bad_value` before
`accepted`, so no client can hold the synthesis thread or the daemon's memory with one message.

The estimate reads the raw text with a few regular expressions (linear, ~1 ms per 100,000
characters); it is an upper bound of what the engine's front end will make of it, not a parse.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from ..errors import ProtocolError

MAX_EXPANDED_CHARS = 200_000
"""Characters after `sub` aliases replace their content (the text itself has the same limit)."""
MAX_WORD_CHARS = 1_000
"""Longest run without a space (the engine's letter-to-sound of one word is one indivisible step)."""
MAX_ALIAS_CHARS = 200
"""Longest `sub alias` (an expansion of an abbreviation, not a book: the alias is one word to the
engine, rendered in model-sized segments that no other client can interrupt)."""
MAX_MARKS = 10_000
MAX_MARK_NAME_CHARS = 256
MAX_SPELLED_CHARS = 1_000
"""Characters spelled one by one (`spell: true` or `say-as` characters): each becomes a word."""
MAX_DEPTH = 32
"""SSML element nesting."""
SECONDS_PER_CHAR = 0.065
"""Rough speech duration per character of English at rate 1 (for `planned_samples`)."""

_TAG = re.compile(r"<(/?)([A-Za-z_][\w.:-]*)([^<>]*?)(/?)>")
_ALIAS = re.compile(r"""\balias\s*=\s*("[^"]*"|'[^']*')""")
_MARK_NAME = re.compile(r"""<mark\b[^<>]*?\bname\s*=\s*("[^"]*"|'[^']*')""")
_SPELLED = re.compile(r"""<say-as\b[^<>]*interpret-as\s*=\s*["']\s*(?:characters|spell-out|digits|letters)\s*["'][^<>]*>"""
                      r"""(.*?)</say-as\s*>""", re.S | re.I)
_RUN = re.compile(r"\S+")


@dataclass(frozen=True)
class Cost:
    chars: int
    """Characters to read after alias expansion, tags removed."""
    longest_word: int
    marks: int
    spelled: int
    depth: int

    def planned_samples(self, rate: float | None, sample_rate: int) -> int:
        """About how much audio this is: how the scheduler compares requests."""
        return int(self.chars * SECONDS_PER_CHAR / (rate or 1.0) * sample_rate)


def _longest(text: str) -> int:
    return max((m.end() - m.start() for m in _RUN.finditer(text)), default=0)


def estimate(text: str, ssml: bool, spell: bool) -> Cost:
    """The cost of one speak; raises ProtocolError (too_large / bad_value) past a limit."""
    if not ssml:
        cost = Cost(len(text), _longest(text), 0, len(text) if spell else 0, 0)
        return check(cost)
    depth = deepest = marks = 0
    for m in _TAG.finditer(text):
        closing, self_closing = m.group(1), m.group(4) or m.group(3).endswith("/")
        if closing:
            depth = max(depth - 1, 0)
        elif not self_closing:
            depth += 1
            deepest = max(deepest, depth)
    for m in _MARK_NAME.finditer(text):
        marks += 1
        if len(m.group(1)) - 2 > MAX_MARK_NAME_CHARS:
            raise ProtocolError("bad_value", f"a mark name has {len(m.group(1)) - 2} characters; "
                                             f"the limit is {MAX_MARK_NAME_CHARS}")
    aliases = [len(m.group(1)) - 2 for m in _ALIAS.finditer(text)]
    if aliases and max(aliases) > MAX_ALIAS_CHARS:
        raise ProtocolError("too_large", f"a sub alias has {max(aliases)} characters; the limit is {MAX_ALIAS_CHARS}")
    spelled = sum(len(m.group(1)) for m in _SPELLED.finditer(text))
    body = html.unescape(_TAG.sub(" ", text)) if "&" in text else _TAG.sub(" ", text)
    longest = max([_longest(body), *(_longest(html.unescape(m.group(1)[1:-1])) for m in _ALIAS.finditer(text))])
    return check(Cost(len(body) + sum(aliases), longest, marks, len(body) if spell else spelled, deepest))


def check(cost: Cost) -> Cost:
    if cost.chars > MAX_EXPANDED_CHARS:
        raise ProtocolError("too_large", f"the text expands to {cost.chars} characters; the limit is {MAX_EXPANDED_CHARS}")
    if cost.longest_word > MAX_WORD_CHARS:
        raise ProtocolError("too_large", f"a word of {cost.longest_word} characters; the limit is {MAX_WORD_CHARS} "
                                         "(put spaces in it to have it read in pieces)")
    if cost.marks > MAX_MARKS:
        raise ProtocolError("too_large", f"{cost.marks} marks; the limit is {MAX_MARKS}")
    if cost.spelled > MAX_SPELLED_CHARS:
        raise ProtocolError("too_large", f"{cost.spelled} characters to spell; the limit is {MAX_SPELLED_CHARS}")
    if cost.depth > MAX_DEPTH:
        raise ProtocolError("bad_value", f"SSML nested {cost.depth} elements deep; the limit is {MAX_DEPTH}")
    return cost
