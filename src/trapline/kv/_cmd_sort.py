"""SORT and SORT_RO: Redis's ``sort.c``, quirks included.

Elements of a list, set or sorted set are sorted as numbers (C ``strtod``, so ``0x10`` and
`` 3`` count and ``3 `` does not) or, with ALPHA, as strings; ``BY pattern`` sorts by the string
at the key made by putting the element in place of the pattern's first ``*`` (``key->field``
reads a hash field), and a pattern without ``*`` (``nosort``) skips sorting. ``GET pattern``
fetches such values (``#`` is the element itself) instead of the element. ``STORE`` writes the
result as a list.

Where Redis reads C strings, so do we: a pattern ends at its first NUL byte, and ALPHA
comparisons without STORE (``strcoll`` in the C/C.UTF-8 locale) stop at the first NUL. Ties are
kept in input order, as glibc's merge-sorting ``qsort`` keeps them; ``BY`` with ``LIMIT`` uses a
port of Redis's partial quicksort (``pqsort.c``), so equal weights come out in Redis's order.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._cmd_keys import keep_as_skiplist
from ._cmd_zsets import _strtod
from ._commands import command, parse_int_arg, syntax_error
from ._db import WRONGTYPE, CommandError, Database, ZSet
from ._resp import parse_int

if TYPE_CHECKING:
    from ._server import Client

__all__ = ["lookup_by_pattern"]

_DBL_MIN = 2.2250738585072014e-308
#: The LIMIT window (first, last) when only it needs sorting, else None.
Window = tuple[int, int] | None
_INTSET_MAX_ENTRIES = 512


def _c_string(data: bytes) -> bytes:
    """What C string functions see of ``data``: everything before the first NUL."""
    end = data.find(b"\0")
    return data if end < 0 else data[:end]


def lookup_by_pattern(db: Database, pattern: bytes, element: bytes) -> bytes | None:
    """Redis ``lookupKeyByPattern``: the string (or hash field) the pattern names for
    ``element``, or None."""
    spat = _c_string(pattern)
    if spat == b"#":
        return element
    star = spat.find(b"*")
    if star < 0:
        return None  # a fixed key makes no sense to GET
    arrow = spat.find(b"->", star + 1)
    field: bytes | None = None
    if arrow >= 0 and arrow + 2 < len(spat):
        field = pattern[arrow + 2 :]  # the field runs to the real end (sdslen), NULs and all
    postfix = len(pattern) - (star + 1) - (len(field) + 2 if field is not None else 0)
    key = pattern[:star] + element + pattern[star + 1 : star + 1 + postfix]
    value = db.get(key)
    if value is None:
        return None
    if field is not None:
        return value.get(field) if type(value) is dict else None
    return value if type(value) is bytes else None


def _score(value: bytes) -> float | None:
    """``strtod`` as SORT checks it: the whole C string, no overflow/underflow, no NaN."""
    text = _c_string(value)
    number, used, erange = _strtod(text)
    if used != len(text) or math.isnan(number):
        return None
    # glibc reports ERANGE for overflow, and for results in the subnormal range too.
    if erange or (number != 0 and abs(number) < _DBL_MIN):
        return None
    return number


def _binary(a: bytes, b: bytes) -> int:
    return (a > b) - (a < b)


def _collate(a: bytes, b: bytes) -> int:
    return _binary(_c_string(a), _c_string(b))


def _members(value: Any) -> list[bytes]:
    """The elements of a list, set or sorted set in Redis's iteration order (an intset walks
    in ascending order; a hash table's order is arbitrary in Redis and here)."""
    kind = type(value)
    if kind is deque:
        return list(value)
    if kind is ZSet:
        return [member for _, member in value.order]
    members = list(value)
    if len(members) <= _INTSET_MAX_ENTRIES and all(parse_int(m) is not None for m in members):
        return sorted(members, key=int)
    return members


def _sort_generic(client: Client, argv: list[bytes], readonly: bool) -> Any:
    desc = alpha = dontsort = False
    limit_start, limit_count = 0, -1
    sortby: bytes | None = None
    storekey: bytes | None = None
    gets: list[bytes] = []
    argc = len(argv)
    j = 2
    while j < argc:
        opt = argv[j].lower()
        left = argc - j - 1
        if opt == b"asc":
            desc = False
        elif opt == b"desc":
            desc = True
        elif opt == b"alpha":
            alpha = True
        elif opt == b"limit" and left >= 2:
            limit_start = parse_int_arg(argv[j + 1])
            limit_count = parse_int_arg(argv[j + 2])
            j += 2
        elif not readonly and opt == b"store" and left >= 1:
            storekey = argv[j + 1]
            j += 1
        elif opt == b"by" and left >= 1:
            sortby = argv[j + 1]
            dontsort = b"*" not in _c_string(sortby)
            j += 1
        elif opt == b"get" and left >= 1:
            gets.append(argv[j + 1])
            j += 1
        else:
            raise syntax_error()
        j += 1

    db = client.db
    value = db.get(argv[1])
    if value is not None and type(value) not in (deque, set, ZSet):
        raise CommandError(WRONGTYPE)
    if value is None:
        value = deque()
    kind = type(value)
    if kind is ZSet:
        keep_as_skiplist(value)  # Redis converts the sorted set it sorts, and keeps it so
    if dontsort and kind is set and storekey is not None:
        # A set has no order of its own: what is stored must not depend on a hash table's.
        dontsort, alpha, sortby = False, True, None

    length = len(value)
    start = min(max(limit_start, 0), length)
    count = min(max(limit_count, -1), length)
    end = length - 1 if count < 0 else start + count - 1
    if start >= length:
        start, end = length - 1, length - 2
    end = min(end, length - 1)

    if dontsort and kind is not set:
        # Lists and sorted sets keep their own order (reversed by DESC); LIMIT cuts it.
        ordered = _members(value)
        if desc:
            ordered.reverse()
        vector = ordered[start : end + 1] if end >= start else []
        end -= start
        start = 0
    else:
        vector = _members(value)

    if not dontsort:
        # Redis sorts only the LIMIT window, with its own quicksort, when sorting BY weights.
        window = (start, end) if sortby is not None and (start, end) != (0, length - 1) else None
        vector = _sorted(db, vector, sortby, alpha, desc, storekey is not None, window)

    rows = vector[start : end + 1] if end >= start else []
    if storekey is None:
        if not gets:
            return rows
        return [lookup_by_pattern(db, pattern, row) for row in rows for pattern in gets]
    if gets:
        items = [lookup_by_pattern(db, pattern, row) or b"" for row in rows for pattern in gets]
    else:
        items = rows
    if items:
        db.set(storekey, deque(items))
    else:
        db.delete(storekey)
    return len(items)


def _sort(items: list[Any], compare: Callable[[Any, Any], int], window: Window) -> None:
    if window is None:
        items.sort(key=functools.cmp_to_key(compare))
    else:
        _pqsort(items, 0, len(items), compare, *window)


def _sorted(
    db: Database,
    vector: list[bytes],
    sortby: bytes | None,
    alpha: bool,
    desc: bool,
    store: bool,
    window: Window,
) -> list[bytes]:
    sign = -1 if desc else 1
    if not alpha:
        scored: list[tuple[float, bytes]] = []
        failed = False
        for element in vector:
            weight = element if sortby is None else lookup_by_pattern(db, sortby, element)
            score = 0.0
            if weight is not None:
                parsed = _score(weight)
                if parsed is None:
                    failed = True
                else:
                    score = parsed
            scored.append((score, element))
        if failed:
            raise CommandError("ERR One or more scores can't be converted into double")

        def by_score(a: tuple[float, bytes], b: tuple[float, bytes]) -> int:
            if a[0] != b[0]:
                return sign if a[0] > b[0] else -sign
            return sign * _binary(a[1], b[1])

        _sort(scored, by_score, window)
        return [element for _, element in scored]
    compare = _binary if store else _collate
    if sortby is None:

        def by_element(a: bytes, b: bytes) -> int:
            return sign * compare(a, b)

        vector = list(vector)
        _sort(vector, by_element, window)
        return vector
    weighted = [(lookup_by_pattern(db, sortby, element), element) for element in vector]

    def by_weight(a: tuple[bytes | None, bytes], b: tuple[bytes | None, bytes]) -> int:
        wa, wb = a[0], b[0]
        if wa is None or wb is None:
            cmp = 0 if wa is wb else (-1 if wa is None else 1)
        else:
            cmp = compare(wa, wb)
        return sign * cmp

    _sort(weighted, by_weight, window)
    return [element for _, element in weighted]


# -- Redis's pqsort.c: Bentley & McIlroy's quicksort that skips parts outside [lrange, rrange] --


def _med3(v: list[Any], a: int, b: int, c: int, cmp: Callable[[Any, Any], int]) -> int:
    if cmp(v[a], v[b]) < 0:
        return b if cmp(v[b], v[c]) < 0 else (c if cmp(v[a], v[c]) < 0 else a)
    return b if cmp(v[b], v[c]) > 0 else (a if cmp(v[a], v[c]) < 0 else c)


def _vecswap(v: list[Any], a: int, b: int, n: int) -> None:
    for i in range(n):
        v[a + i], v[b + i] = v[b + i], v[a + i]


def _outside(lrange: int, rrange: int, first: int, last: int) -> bool:
    return (lrange < first and rrange < first) or (lrange > last and rrange > last)


def _pqsort(
    v: list[Any], a: int, n: int, cmp: Callable[[Any, Any], int], lrange: int, rrange: int
) -> None:
    """Sort ``v[a:a+n]`` at least enough that positions lrange..rrange hold what a full sort
    puts there, comparing and swapping exactly as ``pqsort.c`` does."""
    while True:
        if n < 7:
            for pm in range(a + 1, a + n):
                pl = pm
                while pl > a and cmp(v[pl - 1], v[pl]) > 0:
                    v[pl], v[pl - 1] = v[pl - 1], v[pl]
                    pl -= 1
            return
        pm = a + n // 2
        if n > 7:
            pl, pn = a, a + n - 1
            if n > 40:
                d = n // 8
                pl = _med3(v, pl, pl + d, pl + 2 * d, cmp)
                pm = _med3(v, pm - d, pm, pm + d, cmp)
                pn = _med3(v, pn - 2 * d, pn - d, pn, cmp)
            pm = _med3(v, pl, pm, pn, cmp)
        v[a], v[pm] = v[pm], v[a]
        pa = pb = a + 1
        pc = pd = a + n - 1
        while True:
            while pb <= pc:
                result = cmp(v[pb], v[a])
                if result > 0:
                    break
                if result == 0:
                    v[pa], v[pb] = v[pb], v[pa]
                    pa += 1
                pb += 1
            while pb <= pc:
                result = cmp(v[pc], v[a])
                if result < 0:
                    break
                if result == 0:
                    v[pc], v[pd] = v[pd], v[pc]
                    pd -= 1
                pc -= 1
            if pb > pc:
                break
            v[pb], v[pc] = v[pc], v[pb]
            pb += 1
            pc -= 1
        pn = a + n
        r = min(pa - a, pb - pa)
        _vecswap(v, a, pb - r, r)
        r = min(pd - pc, pn - pd - 1)
        _vecswap(v, pb, pn - r, r)
        r = pb - pa
        if r > 1 and not _outside(lrange, rrange, a, a + r - 1):
            _pqsort(v, a, r, cmp, lrange, rrange)
        r = pd - pc
        if r <= 1:
            return
        a, n = pn - r, r
        if _outside(lrange, rrange, a, a + r - 1):
            return


@command("sort", -2, "write denyoom")
def sort(client: Client, argv: list[bytes]) -> Any:
    return _sort_generic(client, argv, readonly=False)


@command("sort_ro", -2, "readonly")
def sort_ro(client: Client, argv: list[bytes]) -> Any:
    return _sort_generic(client, argv, readonly=True)
