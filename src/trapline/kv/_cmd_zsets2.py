"""Sorted set commands, part two: ZPOPMIN, ZPOPMAX, BZPOPMIN, BZPOPMAX, ZMPOP, BZMPOP,
ZRANDMEMBER, ZUNION, ZINTER, ZDIFF, ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE, ZINTERCARD and ZSCAN
(imported by ``_cmd_zsets``, whose helpers it uses).

The blocking pops return ``Blocked`` when every key is empty; the server retries them whenever
one of the keys is written, and a retry only pops from a key that holds a sorted set (Redis
leaves a client blocked when its key turns into another type). ZUNION, ZINTER and ZDIFF accept
plain sets as inputs, whose members all score 1.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ._cmd_sets import (
    EMPTY_SCAN,
    LONG_MAX,
    parse_long,
    parse_positive,
)
from ._cmd_zsets import (
    Pair,
    is_listpack,
    parse_double,
    parse_timeout,
    scores_reply,
    store_zset,
    zset_from_sorted,
)
from ._commands import Blocked, command, parse_int_arg, syntax_error
from ._db import WRONGTYPE, CommandError, Database, ZSet
from ._glob import compile_glob
from ._resp import Double, NullArray, format_double
from ._scan import parse_cursor, parse_scan_options, scan_page

if TYPE_CHECKING:
    from ._server import Client

_MIN, _MAX = False, True

# -- popping ---------------------------------------------------------------------------------------


def _pop(db: Database, key: bytes, zs: ZSet, where: bool, count: int) -> list[Pair]:
    """Remove up to ``count`` lowest (or highest) entries; the key goes when emptied."""
    order = zs.order
    if where is _MAX:
        pairs = order[-count:][::-1]
        del order[-count:]
    else:
        pairs = order[:count]
        del order[:count]
    scores = zs.scores
    for _, member in pairs:
        del scores[member]
    db.touch(key)
    db.drop_if_empty(key, zs)
    return pairs


def _zpop(client: Client, argv: list[bytes], where: bool) -> Any:
    if len(argv) > 3:
        raise syntax_error()
    count = parse_positive(argv[2]) if len(argv) == 3 else -1
    db = client.db
    zs: ZSet | None = db.get_typed(argv[1], ZSet)
    if zs is None or count == 0:
        return []
    pairs = _pop(db, argv[1], zs, where, 1 if count == -1 else count)
    # Nested [member, score] pairs only in RESP3 and only when a count was given.
    return scores_reply(pairs, client.resp3 and count != -1)


@command("zpopmin", -2, "write fast")
def zpopmin(client: Client, argv: list[bytes]) -> Any:
    return _zpop(client, argv, _MIN)


@command("zpopmax", -2, "write fast")
def zpopmax(client: Client, argv: list[bytes]) -> Any:
    return _zpop(client, argv, _MAX)


def _first_zset(db: Database, keys: Iterable[bytes]) -> tuple[bytes, ZSet] | None:
    """The first key holding a sorted set (missing keys are skipped, others are WRONGTYPE)."""
    for key in keys:
        zs = db.get(key)
        if zs is None:
            continue
        if type(zs) is not ZSet:
            raise CommandError(WRONGTYPE)
        return key, zs
    return None


def _multi_pop_reply(db: Database, key: bytes, zs: ZSet, where: bool, count: int) -> Any:
    """The ZMPOP shape: ``[key, [[member, score], ...]]`` in both protocols."""
    return [key, [[member, Double(score)] for score, member in _pop(db, key, zs, where, count)]]


def _block(
    client: Client, keys: list[bytes], deadline_ms: int, serve: Callable[[bytes, ZSet], Any]
) -> Blocked:
    db = client.db
    keys = list(dict.fromkeys(keys))  # BZPOPMIN z z 0 waits on z once

    def retry() -> Any:
        for key in keys:
            zs = db.get(key)
            if type(zs) is ZSet and zs:
                return serve(key, zs)
        return None

    return Blocked(keys, deadline_ms, retry, NullArray)


def _bzpop(client: Client, argv: list[bytes], where: bool) -> Any:
    db = client.db
    deadline = parse_timeout(argv[-1], client.server.now_ms())
    keys = argv[1:-1]

    def serve(key: bytes, zs: ZSet) -> Any:
        ((score, member),) = _pop(db, key, zs, where, 1)
        return [key, member, Double(score)]

    found = _first_zset(db, keys)
    if found is not None:
        return serve(*found)
    return _block(client, keys, deadline, serve)


@command("bzpopmin", -3, "write noscript fast blocking", keys=(1, -2, 1))
def bzpopmin(client: Client, argv: list[bytes]) -> Any:
    return _bzpop(client, argv, _MIN)


@command("bzpopmax", -3, "write noscript fast blocking", keys=(1, -2, 1))
def bzpopmax(client: Client, argv: list[bytes]) -> Any:
    return _bzpop(client, argv, _MAX)


def _parse_mpop(argv: list[bytes], numkeys_index: int) -> tuple[list[bytes], bool, int]:
    """``numkeys key [key ...] MIN|MAX [COUNT count]`` -> (keys, where, count)."""
    numkeys = parse_long(argv[numkeys_index], 1, LONG_MAX, "ERR numkeys should be greater than 0")
    where_index = numkeys_index + numkeys + 1
    if where_index >= len(argv):
        raise syntax_error()
    side = argv[where_index].lower()
    if side not in (b"min", b"max"):
        raise syntax_error()
    count = -1
    i = where_index + 1
    while i < len(argv):
        if count == -1 and argv[i].lower() == b"count" and i + 1 < len(argv):
            count = parse_long(argv[i + 1], 1, LONG_MAX, "ERR count should be greater than 0")
            i += 2
        else:
            raise syntax_error()
    keys = argv[numkeys_index + 1 : where_index]
    return keys, side == b"max", max(count, 1)


@command("zmpop", -4, "write movablekeys", keys=(0, 0, 0))
def zmpop(client: Client, argv: list[bytes]) -> Any:
    keys, where, count = _parse_mpop(argv, 1)
    found = _first_zset(client.db, keys)
    if found is None:
        return NullArray
    return _multi_pop_reply(client.db, *found, where, count)


@command("bzmpop", -5, "write blocking movablekeys", keys=(0, 0, 0))
def bzmpop(client: Client, argv: list[bytes]) -> Any:
    keys, where, count = _parse_mpop(argv, 2)
    db = client.db
    deadline = parse_timeout(argv[1], client.server.now_ms())

    def serve(key: bytes, zs: ZSet) -> Any:
        return _multi_pop_reply(db, key, zs, where, count)

    found = _first_zset(db, keys)
    if found is not None:
        return serve(*found)
    return _block(client, keys, deadline, serve)


# -- ZRANDMEMBER -----------------------------------------------------------------------------------


@command("zrandmember", -2, "readonly")
def zrandmember(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    if len(argv) == 2:
        zs: ZSet | None = db.get_typed(argv[1], ZSet)
        return None if zs is None else random.choice(zs.order)[1]
    count = parse_long(argv[2], -LONG_MAX, LONG_MAX)
    withscores = False
    if len(argv) > 4 or (len(argv) == 4 and argv[3].lower() != b"withscores"):
        raise syntax_error()
    if len(argv) == 4:
        withscores = True
        if not -(LONG_MAX // 2) <= count <= LONG_MAX // 2:
            raise CommandError("ERR value is out of range")
    zs = db.get_typed(argv[1], ZSet)
    if zs is None or count == 0:
        return []
    order = zs.order
    if count < 0 or count == 1:
        pairs = random.choices(order, k=abs(count))
    elif count >= len(order):
        pairs = order[::-1]  # Redis walks the whole set from the top
    else:
        pairs = random.sample(order, count)
    if withscores:
        return scores_reply(pairs, client.resp3)
    return [member for _, member in pairs]


# -- ZUNION / ZINTER / ZDIFF -----------------------------------------------------------------------

_UNION, _INTER, _DIFF = 1, 2, 3
_SUM, _AGG_MIN, _AGG_MAX = 1, 2, 3
Source = ZSet | set[bytes] | None


def _items(source: Source) -> Iterable[tuple[bytes, float]]:
    if source is None:
        return ()
    if type(source) is ZSet:
        return source.scores.items()
    return ((member, 1.0) for member in source)


def _find(source: Source, member: bytes) -> float | None:
    if type(source) is ZSet:
        return source.scores.get(member)
    assert isinstance(source, set)
    return 1.0 if member in source else None


def _size(source: Source) -> int:
    return 0 if source is None else len(source)


def _aggregate(target: float, value: float, how: int) -> float:
    if how == _SUM:
        total = target + value
        return 0.0 if math.isnan(total) else total
    if how == _AGG_MIN:
        return value if value < target else target
    return value if value > target else target


def _combine(
    client: Client, argv: list[bytes], numkeys_index: int, op: int, store: bytes | None
) -> Any:
    """Redis ``zunionInterDiffGenericCommand`` (ZINTERCARD is ``_intercard``)."""
    name = argv[0].lower().decode("utf-8", "replace")
    setnum = parse_int_arg(argv[numkeys_index])
    if setnum < 1:
        raise CommandError(f"ERR at least 1 input key is needed for '{name}' command")
    if setnum > len(argv) - numkeys_index - 1:
        raise syntax_error()
    db = client.db
    sources = _sources(db, argv[numkeys_index + 1 : numkeys_index + 1 + setnum])
    weights = [1.0] * setnum
    how = _SUM
    withscores = False
    i = numkeys_index + 1 + setnum
    while i < len(argv):
        option = argv[i].lower()
        remaining = len(argv) - i
        if op != _DIFF and remaining >= setnum + 1 and option == b"weights":
            weights = [
                parse_double(arg, "ERR weight value is not a float")
                for arg in argv[i + 1 : i + 1 + setnum]
            ]
            i += setnum + 1
        elif op != _DIFF and remaining >= 2 and option == b"aggregate":
            how = {b"sum": _SUM, b"min": _AGG_MIN, b"max": _AGG_MAX}.get(argv[i + 1].lower(), 0)
            if not how:
                raise syntax_error()
            i += 2
        elif store is None and option == b"withscores":
            withscores = True
            i += 1
        else:
            raise syntax_error()
    weighted = list(zip(sources, weights, strict=True))
    if op != _DIFF:
        weighted.sort(key=lambda entry: _size(entry[0]))
    if op == _INTER:
        result = _inter(weighted, how)
    elif op == _UNION:
        result = _union(weighted, how)
    else:
        result = _diff(sources)
    pairs = sorted([(score, member) for member, score in result.items()])
    if store is not None:
        return store_zset(db, store, zset_from_sorted(pairs))
    if withscores:
        return scores_reply(pairs, client.resp3)
    return [member for _, member in pairs]


def _sources(db: Database, keys: list[bytes]) -> list[Source]:
    sources: list[Source] = []
    for key in keys:
        value = db.get(key)
        if value is not None and type(value) is not ZSet and type(value) is not set:
            raise CommandError(WRONGTYPE)
        sources.append(value)
    return sources


def _inter(weighted: list[tuple[Source, float]], how: int) -> dict[bytes, float]:
    result: dict[bytes, float] = {}
    (first, first_weight), rest = weighted[0], weighted[1:]
    if not _size(first):
        return result
    for member, score in _items(first):
        total = first_weight * score
        if math.isnan(total):
            total = 0.0
        for source, weight in rest:
            value = _find(source, member)
            if value is None:
                break
            total = _aggregate(total, value * weight, how)
        else:
            result[member] = total
    return result


def _union(weighted: list[tuple[Source, float]], how: int) -> dict[bytes, float]:
    result: dict[bytes, float] = {}
    for source, weight in weighted:
        for member, score in _items(source):
            value = weight * score
            if math.isnan(value):
                value = 0.0
            old = result.get(member)
            result[member] = value if old is None else _aggregate(old, value, how)
    return result


def _diff(sources: list[Source]) -> dict[bytes, float]:
    first, rest = sources[0], sources[1:]
    if not _size(first) or any(source is first for source in rest):
        return {}
    return {
        member: score
        for member, score in _items(first)
        if all(source is None or _find(source, member) is None for source in rest)
    }


@command("zunion", -3, "readonly movablekeys", keys=(0, 0, 0))
def zunion(client: Client, argv: list[bytes]) -> Any:
    return _combine(client, argv, 1, _UNION, None)


@command("zinter", -3, "readonly movablekeys", keys=(0, 0, 0))
def zinter(client: Client, argv: list[bytes]) -> Any:
    return _combine(client, argv, 1, _INTER, None)


@command("zdiff", -3, "readonly movablekeys", keys=(0, 0, 0))
def zdiff(client: Client, argv: list[bytes]) -> Any:
    return _combine(client, argv, 1, _DIFF, None)


@command("zunionstore", -4, "write denyoom movablekeys", keys=(1, 1, 1))
def zunionstore(client: Client, argv: list[bytes]) -> Any:
    return _combine(client, argv, 2, _UNION, argv[1])


@command("zinterstore", -4, "write denyoom movablekeys", keys=(1, 1, 1))
def zinterstore(client: Client, argv: list[bytes]) -> Any:
    return _combine(client, argv, 2, _INTER, argv[1])


@command("zdiffstore", -4, "write denyoom movablekeys", keys=(1, 1, 1))
def zdiffstore(client: Client, argv: list[bytes]) -> Any:
    return _combine(client, argv, 2, _DIFF, argv[1])


@command("zintercard", -3, "readonly movablekeys", keys=(0, 0, 0))
def zintercard(client: Client, argv: list[bytes]) -> Any:
    setnum = parse_int_arg(argv[1])
    if setnum < 1:
        raise CommandError("ERR at least 1 input key is needed for 'zintercard' command")
    if setnum > len(argv) - 2:
        raise syntax_error()
    sources = _sources(client.db, argv[2 : 2 + setnum])
    limit = 0
    i = 2 + setnum
    while i < len(argv):
        if len(argv) - i >= 2 and argv[i].lower() == b"limit":
            limit = parse_positive(argv[i + 1], "ERR LIMIT can't be negative")
            i += 2
        else:
            raise syntax_error()
    sources.sort(key=_size)
    first, rest = sources[0], sources[1:]
    cardinality = 0
    if not _size(first):
        return 0
    for member, _ in _items(first):
        if all(_find(source, member) is not None for source in rest):
            cardinality += 1
            if cardinality == limit:
                break
    return cardinality


# -- ZSCAN -----------------------------------------------------------------------------------------


def _listpack_score(score: float) -> bytes:
    """How a listpack stores a score (Redis ``d2string``): integers without a fraction."""
    if math.isfinite(score) and abs(score) <= 2**62 and score == int(score):
        return b"%d" % int(score)
    return format_double(score)


@command("zscan", -3, "readonly")
def zscan(client: Client, argv: list[bytes]) -> Any:
    cursor = parse_cursor(argv[2])
    zs: ZSet | None = client.db.get_typed(argv[1], ZSet)
    if zs is None:
        return EMPTY_SCAN
    pattern, count, _ = parse_scan_options(argv, 3)
    scores = zs.scores
    reply: list[bytes] = []
    matches = compile_glob(pattern) if pattern is not None else None
    if is_listpack(zs):
        for score, member in zs.order:
            if matches is None or matches(member):
                reply += (member, _listpack_score(score))
        return [b"0", reply]
    next_cursor, members = scan_page(scores, cursor, count)
    for member in members:
        if matches is None or matches(member):
            reply += (member, format_double(scores[member]))
    return [b"%d" % next_cursor, reply]
