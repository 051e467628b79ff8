"""Redis glob patterns, as ``stringmatchlen`` matches them: one matcher for the whole server.

Used by KEYS and the SCAN family's MATCH, PSUBSCRIBE/PUBLISH, PUBSUB CHANNELS, CONFIG GET and
COMMAND LIST. ``*`` is any run of bytes, ``?`` one byte, ``[...]`` a class (``^`` negates,
``a-z`` ranges in either order, compared as C's signed chars, ``\\`` escapes) and ``\\x`` a
literal ``x``. Redis's corner cases are kept: a class left open takes the rest of the pattern, a
trailing ``\\`` is literal, and an empty string only matches the empty pattern (not even
``*``). With ``nocase`` letters compare like glibc's ``tolower`` (classes included).

A pattern compiles once into a list of tokens (a 256-entry table of accepted bytes per position,
None for a star) and is matched with the greedy-star backtracking that is linear in practice;
patterns of plain text or plain text and stars take faster paths. Compiled matchers of short
patterns are cached (clients repeat their patterns; long ones would only fill the cache).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

__all__ = ["Matcher", "compile_glob", "glob_match"]

Matcher = Callable[[bytes], bool]

_CACHED_PATTERN_MAX = 256


def compile_glob(pattern: bytes, nocase: bool = False) -> Matcher:
    """A function telling whether a byte string matches ``pattern``."""
    if len(pattern) <= _CACHED_PATTERN_MAX:
        return _compile(pattern, nocase)
    return _compile.__wrapped__(pattern, nocase)


def glob_match(pattern: bytes, text: bytes, nocase: bool = False) -> bool:
    """Does ``pattern`` match ``text``? (Redis ``stringmatchlen``.)"""
    return compile_glob(pattern, nocase)(text)


def _signed(byte: int) -> int:
    return byte - 256 if byte >= 128 else byte


def _lower(char: int) -> int:
    """glibc ``tolower`` on a (signed) char: ASCII letters, and -128..-2 wrap to 128..254."""
    if 65 <= char <= 90:
        return char + 32
    return char + 256 if -128 <= char <= -2 else char


def _literal(byte: int, nocase: bool) -> bytes:
    table = bytearray(256)
    table[byte] = 1
    if nocase:
        table[_lower(byte)] = 1
        if 97 <= byte <= 122:
            table[byte - 32] = 1
    return bytes(table)


_ANY = bytes([1]) * 256


def _tokens(pattern: bytes, nocase: bool) -> list[bytes | None]:
    """Split ``pattern`` as ``stringmatchlen`` walks it: None for ``*``, else a 256-entry table
    of the bytes the position accepts."""
    tokens: list[bytes | None] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == 0x2A:  # '*'
            while i + 1 < n and pattern[i + 1] == 0x2A:
                i += 1
            tokens.append(None)
        elif char == 0x3F:  # '?'
            tokens.append(_ANY)
        elif char == 0x5B:  # '['
            i += 1
            negate = i < n and pattern[i] == 0x5E  # '^'
            if negate:
                i += 1
            table = bytearray(256)
            while True:
                if i < n and pattern[i] == 0x5C and n - i >= 2:  # escaped: exact match
                    i += 1
                    table[pattern[i]] = 1
                elif i < n and pattern[i] == 0x5D:  # ']'
                    break
                elif i >= n:  # unterminated: the class takes the rest of the pattern
                    i -= 1
                    break
                elif n - i >= 3 and pattern[i + 1] == 0x2D:  # a range, in signed chars
                    start, end = _signed(pattern[i]), _signed(pattern[i + 2])
                    if start > end:
                        start, end = end, start
                    if nocase:
                        start, end = _lower(start), _lower(end)
                    for byte in range(256):
                        value = _lower(_signed(byte)) if nocase else _signed(byte)
                        if start <= value <= end:
                            table[byte] = 1
                    i += 2
                else:
                    for byte, hit in enumerate(_literal(pattern[i], nocase)):
                        if hit:
                            table[byte] = 1
                i += 1
            if negate:
                table = bytearray(1 - hit for hit in table)
            tokens.append(bytes(table))
        else:
            if char == 0x5C and n - i >= 2:  # '\\'
                i += 1
            tokens.append(_literal(pattern[i], nocase))
        i += 1
    return tokens


@functools.lru_cache(maxsize=1024)
def _compile(pattern: bytes, nocase: bool) -> Matcher:
    if not any(special in pattern for special in (b"*", b"?", b"[", b"\\")):
        if nocase:
            folded = pattern.lower()
            return lambda text: text.lower() == folded
        return pattern.__eq__
    if not nocase and not any(special in pattern for special in (b"?", b"[", b"\\")):
        return functools.partial(_match_stars, pattern.split(b"*"))
    return functools.partial(_match_tokens, _tokens(pattern, nocase))


def _match_stars(parts: list[bytes], text: bytes) -> bool:
    """A pattern whose only special character is ``*`` (split around the stars)."""
    if not text:
        return False  # stringmatchlen matches nothing but the empty pattern to ""
    first, last = parts[0], parts[-1]
    end = len(text) - len(last)
    if end < len(first) or not text.startswith(first) or not text.endswith(last):
        return False
    pos = len(first)
    for part in parts[1:-1]:
        if part:
            found = text.find(part, pos, end)
            if found < 0:
                return False
            pos = found + len(part)
    return True


def _match_tokens(tokens: list[bytes | None], text: bytes) -> bool:
    if not text:
        return not tokens
    count = len(tokens)
    t = p = 0
    star = -1
    resume = 0
    size = len(text)
    while t < size:
        if p < count:
            token = tokens[p]
            if token is None:
                star = p
                resume = t
                p += 1
                continue
            if token[text[t]]:
                p += 1
                t += 1
                continue
        if star < 0:
            return False
        p = star + 1
        resume += 1
        t = resume
    while p < count and tokens[p] is None:
        p += 1
    return p == count
