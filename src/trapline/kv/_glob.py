"""Redis glob patterns (``stringmatchlen``) compiled to regular expressions.

Used by PSUBSCRIBE/PUBLISH, PUBSUB CHANNELS, CONFIG GET and COMMAND LIST. ``*`` is any run of
bytes, ``?`` one byte, ``[...]`` a class (``^`` negates, ``a-z`` ranges in either order, ``\\``
escapes) and ``\\x`` a literal ``x``. Redis's corner cases are kept: a class left open runs to the
end of the pattern, ``[a-]`` is a range up to ``]``, a trailing ``\\`` is literal, and an empty
string only matches the empty pattern (not even ``*``). With ``nocase`` letters compare like C's
``tolower`` (classes included). Compiled matchers are cached.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

__all__ = ["compile_glob", "glob_match"]

Matcher = Callable[[bytes], bool]


def _lower(c: int) -> int:
    return c + 32 if 65 <= c <= 90 else c


def _class_members(pattern: bytes, i: int, nocase: bool) -> tuple[set[int], int]:
    """The bytes a ``[...]`` class starting after ``[`` at ``i`` matches, and where it ends."""
    n = len(pattern)
    negate = i < n and pattern[i] == 0x5E  # ^
    if negate:
        i += 1
    members: set[int] = set()
    while True:
        if i < n and pattern[i] == 0x5C and n - i >= 2:  # backslash escape: exact byte
            members.add(pattern[i + 1])
            i += 2
        elif i < n and pattern[i] == 0x5D:  # ]
            i += 1
            break
        elif i >= n:
            break
        elif n - i >= 3 and pattern[i + 1] == 0x2D:  # a-b
            low, high = sorted((pattern[i], pattern[i + 2]))
            if nocase:
                low, high = _lower(low), _lower(high)
                members.update(c for c in range(256) if low <= _lower(c) <= high)
            else:
                members.update(range(low, high + 1))
            i += 3
        else:
            char = pattern[i]
            if nocase:
                members.update(c for c in range(256) if _lower(c) == _lower(char))
            else:
                members.add(char)
            i += 1
    if negate:
        members = set(range(256)) - members
    return members, i


def _class_regex(members: set[int]) -> bytes:
    if not members:
        return b"(?!)"
    return b"[" + b"".join(re.escape(bytes([c])) for c in sorted(members)) + b"]"


def _segments(pattern: bytes, nocase: bool) -> list[list[bytes]]:
    """The pattern split at its stars: each segment a list of one-byte regular expressions."""
    segments: list[list[bytes]] = [[]]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == 0x2A:  # *
            if segments[-1] or len(segments) == 1:
                segments.append([])
            i += 1
        elif c == 0x3F:  # ?
            segments[-1].append(b".")
            i += 1
        elif c == 0x5B:  # [
            members, i = _class_members(pattern, i + 1, nocase)
            segments[-1].append(_class_regex(members))
        else:
            if c == 0x5C and n - i >= 2:  # \x
                i += 1
                c = pattern[i]
            if nocase and 97 <= _lower(c) <= 122:
                segments[-1].append(_class_regex({_lower(c), _lower(c) - 32}))
            else:
                segments[-1].append(re.escape(bytes([c])))
            i += 1
    return segments


def _compile(pattern: bytes, nocase: bool) -> Matcher:
    segments = [
        (re.compile(b"".join(parts), re.DOTALL), len(parts)) for parts in _segments(pattern, nocase)
    ]
    if len(segments) == 1:
        fullmatch = segments[0][0].fullmatch
        return lambda text: bool(text) and fullmatch(text) is not None
    # With stars, each segment matches a fixed number of bytes: anchor the first at the start
    # and the last at the end, and place the middle ones leftmost-first in between (greedy
    # placement is optimal, so this is linear-ish where a backtracking regex is exponential).
    (head, head_len), *middle, (tail, tail_len) = segments

    def match(text: bytes) -> bool:
        end = len(text) - tail_len
        if not text or end < head_len or not head.match(text):
            return False
        if tail_len and not tail.match(text, end):
            return False
        pos = head_len
        for segment, _ in middle:
            found = segment.search(text, pos, end)
            if found is None:
                return False
            pos = found.end()
        return True

    return match


@functools.lru_cache(maxsize=4096)
def compile_glob(pattern: bytes, nocase: bool = False) -> Matcher:
    """A function telling whether a byte string matches ``pattern``."""
    if not pattern:
        return lambda text: not text
    return _compile(pattern, nocase)


def glob_match(pattern: bytes, text: bytes, nocase: bool = False) -> bool:
    return compile_glob(pattern, nocase)(text)
