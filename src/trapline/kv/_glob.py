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


def _translate(pattern: bytes, nocase: bool) -> bytes:
    out: list[bytes] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == 0x2A:  # *
            while i + 1 < n and pattern[i + 1] == 0x2A:
                i += 1
            out.append(b".*")
            i += 1
        elif c == 0x3F:  # ?
            out.append(b".")
            i += 1
        elif c == 0x5B:  # [
            members, i = _class_members(pattern, i + 1, nocase)
            out.append(_class_regex(members))
        else:
            if c == 0x5C and n - i >= 2:  # \x
                i += 1
                c = pattern[i]
            if nocase and 97 <= _lower(c) <= 122:
                out.append(_class_regex({_lower(c), _lower(c) - 32}))
            else:
                out.append(re.escape(bytes([c])))
            i += 1
    return b"".join(out)


@functools.lru_cache(maxsize=4096)
def compile_glob(pattern: bytes, nocase: bool = False) -> Matcher:
    """A function telling whether a byte string matches ``pattern``."""
    if not pattern:
        return lambda text: not text
    if pattern == b"*":
        return bool
    fullmatch = re.compile(_translate(pattern, nocase), re.DOTALL).fullmatch
    return lambda text: bool(text) and fullmatch(text) is not None


def glob_match(pattern: bytes, text: bytes, nocase: bool = False) -> bool:
    return compile_glob(pattern, nocase)(text)
