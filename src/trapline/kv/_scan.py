"""The SCAN family's shared parts: cursor and option parsing, and cursor iteration.

SCAN iterates over a snapshot ordered by key hash: the cursor is a hash threshold, so every key
present for the whole iteration is returned (keys added meanwhile may or may not be, and a key
can come twice only if it was deleted and re-added). A snapshot is taken when an iteration starts
(cursor 0) and cached for the pages that follow; if it was dropped, the next page takes a new one,
which is still correct because a threshold means the same in any snapshot.

SCAN, HSCAN, SSCAN and ZSCAN all page with ``scan_page(the_dict_or_set, cursor, count)``; small
collections that Redis keeps in a compact encoding are returned whole, in their order, by the
commands themselves, as Redis does.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection
from typing import Any

from ._commands import parse_int_arg, syntax_error
from ._db import CommandError

__all__ = ["forget_scans", "parse_cursor", "parse_scan_options", "scan_page", "scan_reply"]

_SCAN_OFFSET = 1 << 62
#: id(collection) -> (collection, sorted thresholds, keys in that order); a small LRU.
_SCANS: dict[int, tuple[Collection[bytes], list[int], list[bytes]]] = {}
_SCANS_MAX = 16


def parse_cursor(arg: bytes) -> int:
    """Redis ``parseScanCursorOrReply`` (``strtoul``: a sign is allowed, "-1" wraps)."""
    text = arg.split(b"\0", 1)[0]
    digits = text[1:] if text[:1] in (b"+", b"-") else text
    if not text:
        return 0
    if not digits.isdigit():
        raise CommandError("ERR invalid cursor")
    value = int(digits) if len(digits) < 100 else 2**64
    if value >= 2**64:
        raise CommandError("ERR invalid cursor")
    return (2**64 - value) % 2**64 if text[:1] == b"-" else value


def parse_scan_options(
    argv: list[bytes], start: int, *, allow_type: bool = False
) -> tuple[bytes | None, int, bytes | None]:
    """MATCH, COUNT (and TYPE for SCAN) from ``argv[start:]``: ``(pattern, count, type)``;
    the pattern is None when it is absent or ``*``."""
    pattern: bytes | None = None
    count = 10
    kind: bytes | None = None
    i = start
    argc = len(argv)
    while i < argc:
        opt = argv[i].lower()
        more = argc - i >= 2
        if opt == b"count" and more:
            count = parse_int_arg(argv[i + 1])
            if count < 1:
                raise syntax_error()
        elif opt == b"match" and more:
            pattern = None if argv[i + 1] == b"*" else argv[i + 1]
        elif opt == b"type" and allow_type and more:
            kind = argv[i + 1].lower()
        else:
            raise syntax_error()
        i += 2
    return pattern, count, kind


def scan_page(members: Collection[bytes], cursor: int, count: int) -> tuple[int, list[bytes]]:
    """The next page of a cursor iteration over ``members`` (a dict or set that stays the same
    object between calls): ``(next_cursor, up to about count members still present)``."""
    if cursor == 0 and len(members) <= count:
        return 0, list(members)
    entry = _SCANS.get(id(members)) if cursor else None
    if entry is None or entry[0] is not members:
        keys = sorted(members, key=hash)
        marks = [(hash(key) >> 1) + _SCAN_OFFSET for key in keys]
        entry = (members, marks, keys)
        _SCANS.pop(id(members), None)
        if len(_SCANS) >= _SCANS_MAX:
            del _SCANS[next(iter(_SCANS))]
        _SCANS[id(members)] = entry
    marks, keys = entry[1], entry[2]
    size = len(keys)
    i = bisect.bisect_left(marks, cursor)
    page: list[bytes] = []
    visits = count * 10
    while i < size and len(page) < count and visits:
        key = keys[i]
        if key in members:
            page.append(key)
        i += 1
        visits -= 1
    while 0 < i < size and marks[i] == marks[i - 1]:  # never split equal thresholds
        key = keys[i]
        if key in members:
            page.append(key)
        i += 1
    return (marks[i - 1] + 1 if i < size else 0), page


def scan_reply(cursor: int, items: list[Any]) -> list[Any]:
    """The two-element SCAN reply: the cursor as a bulk string, then the items."""
    return [b"%d" % cursor, items]


def forget_scans(collections: list[Any]) -> None:
    for ident in [ident for ident, entry in _SCANS.items() if entry[0] in collections]:
        del _SCANS[ident]
