"""Sorted set commands, part one: ZADD, ZINCRBY, ZREM, ZSCORE, ZMSCORE, ZCARD, ZCOUNT, ZLEXCOUNT,
ZRANK, ZREVRANK, the ZRANGE family (ZRANGE, ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE,
ZRANGEBYLEX, ZREVRANGEBYLEX, ZRANGESTORE) and ZREMRANGEBYRANK/BYSCORE/BYLEX, with the number and
range parsing the other sorted set commands share. Part two (pops, blocking pops, ZRANDMEMBER,
ZUNION/ZINTER/ZDIFF, ZSCAN) lives in ``_cmd_zsets2``, imported at the bottom.

A ``ZSet`` keeps ``order``, a list of (score, member) sorted the way Redis's skiplist is, so a
rank is an index and a score range is a pair of bisections; so is a lex range when all scores are
equal (the only case Redis defines), and otherwise it is walked like Redis walks a small sorted
set. Numbers are parsed the way Redis's C code parses them (``strtod``: hex floats, ``inf``,
overflow rules), not by ``float()``. Redis stores small sorted sets as listpacks, where a score
of -0 becomes 0; ``is_listpack`` tells from the current contents which encoding Redis would use.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from ._commands import command, parse_int_arg, syntax_error
from ._db import CommandError, Database, ZSet
from ._resp import Double

if TYPE_CHECKING:
    from ._server import Client

__all__ = [
    "Pair",
    "is_listpack",
    "parse_double",
    "parse_timeout",
    "scores_reply",
    "store_zset",
    "zset_from_sorted",
]

#: One entry of ``ZSet.order``: (score, member).
Pair = tuple[float, bytes]

_SCORE = itemgetter(0)
_MEMBER = itemgetter(1)
_LLONG_MAX = 2**63 - 1

# -- numbers ---------------------------------------------------------------------------------------

_C_SPACE = b" \t\n\v\f\r"
_STRTOD = re.compile(
    rb"([+-]?)(?:"
    rb"(0x(?:[0-9a-f]+(?:\.[0-9a-f]*)?|\.[0-9a-f]+)(?:p[+-]?[0-9]+)?)"
    rb"|((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[+-]?[0-9]+)?)"
    rb"|(inf(?:inity)?)"
    rb"|(nan(?:\([0-9a-z_]*\))?))",
    re.IGNORECASE,
)


def _strtod(text: bytes) -> tuple[float, int, bool]:
    """C ``strtod``: (value, bytes consumed, ERANGE). Nothing parsed consumes 0 bytes."""
    start = len(text) - len(text.lstrip(_C_SPACE))
    found = _STRTOD.match(text, start)
    if found is None:
        return 0.0, 0, False
    sign, hexa, decimal, inf, _ = found.groups()
    negative = sign == b"-"
    erange = False
    if hexa is not None:
        try:
            value = float.fromhex(hexa.decode())
        except OverflowError:
            value, erange = math.inf, True
        digits = hexa[2:].lower().split(b"p")[0]
        erange = erange or (value == 0 and digits.strip(b"0.") != b"")
    elif decimal is not None:
        value = float(decimal)
        digits = decimal.lower().split(b"e")[0]
        erange = math.isinf(value) or (value == 0 and digits.strip(b"0.") != b"")
    elif inf is not None:
        value = math.inf
    else:
        value = math.nan
    return (-value if negative else value), found.end(), erange


def parse_double(arg: bytes, message: str = "ERR value is not a valid float") -> float:
    """Redis ``getDoubleFromObject`` (``string2d``): the whole argument, no spaces, no NaN,
    no overflow to infinity or underflow to zero."""
    if arg.isdigit() and len(arg) < 300:  # the common case, cheaply
        return float(arg)
    if not arg or arg[0] in _C_SPACE:
        raise CommandError(message)
    value, used, erange = _strtod(arg)
    if used != len(arg) or math.isnan(value) or (erange and (math.isinf(value) or value == 0)):
        raise CommandError(message)
    return value


def parse_timeout(arg: bytes, now_ms: int) -> int:
    """Redis ``getTimeoutFromObjectOrReply`` in seconds: an absolute deadline (0 = forever)."""
    message = "ERR timeout is not a float or out of range"
    if len(arg) >= 5120:
        raise CommandError(message)
    milliseconds = parse_double(arg, message) * 1000.0
    # Redis casts ceill(ms) to long long; anything too big comes out negative on x86-64.
    if not -_LLONG_MAX <= milliseconds <= _LLONG_MAX or math.ceil(milliseconds) < 0:
        raise CommandError("ERR timeout is negative")
    ticks = math.ceil(milliseconds)
    return now_ms + ticks if ticks > 0 else 0


def _range_number(arg: bytes) -> tuple[float, bool] | None:
    """One end of a score range (``zslParseRange``): ``(1.5`` is exclusive; ``strtod`` rules."""
    exclusive = arg[:1] == b"("
    text = (arg[1:] if exclusive else arg).split(b"\0", 1)[0]
    value, used, _ = _strtod(text)
    if used != len(text) or math.isnan(value):
        return None
    return value, exclusive


def parse_score_range(low: bytes, high: bytes) -> tuple[float, bool, float, bool]:
    first, second = _range_number(low), _range_number(high)
    if first is None or second is None:
        raise CommandError("ERR min or max is not a float")
    return first[0], first[1], second[0], second[1]


#: A lex range end: (-1 for "-", 1 for "+", 0 for a string), the string, exclusive.
LexItem = tuple[int, bytes, bool]


def _lex_item(arg: bytes) -> LexItem | None:
    head = arg[:1]
    if head in (b"+", b"-"):
        if len(arg) > 1 and arg[1] != 0:
            return None
        return (1 if head == b"+" else -1), b"", True
    if head == b"(":
        return 0, arg[1:], True
    if head == b"[":
        return 0, arg[1:], False
    return None


def parse_lex_range(low: bytes, high: bytes) -> tuple[LexItem, LexItem]:
    first, second = _lex_item(low), _lex_item(high)
    if first is None or second is None:
        raise CommandError("ERR min or max not valid string range item")
    return first, second


# -- ZSet helpers ----------------------------------------------------------------------------------


def score_bounds(zs: ZSet, low: float, lowex: bool, high: float, highex: bool) -> tuple[int, int]:
    """The slice of ``zs.order`` whose scores are within the range."""
    order = zs.order
    start = (bisect_right if lowex else bisect_left)(order, low, key=_SCORE)
    end = (bisect_left if highex else bisect_right)(order, high, key=_SCORE)
    return start, max(start, end)


def _lex_position(order: list[Pair], item: LexItem, as_max: bool) -> int:
    kind, value, exclusive = item
    if kind:
        return 0 if kind < 0 else len(order)
    after = exclusive != as_max  # min exclusive / max inclusive: after equal members
    return (bisect_right if after else bisect_left)(order, value, key=_MEMBER)


def _above_min(member: bytes, item: LexItem) -> bool:
    kind, value, exclusive = item
    if kind:
        return kind < 0
    return member > value if exclusive else member >= value


def _below_max(member: bytes, item: LexItem) -> bool:
    kind, value, exclusive = item
    if kind:
        return kind > 0
    return member < value if exclusive else member <= value


def _lex_compare(low: LexItem, high: LexItem) -> int:
    """Redis ``sdscmplex`` of the two ends."""
    if low[0] or high[0]:
        if low[0] == high[0]:
            return 0
        return -1 if low[0] < 0 or high[0] > 0 else 1
    return (low[1] > high[1]) - (low[1] < high[1])


def _lex_first_last(order: list[Pair], low: LexItem, high: LexItem) -> tuple[int, int] | None:
    """Where a forward walk starts and a backward walk starts (Redis's listpack walks, which
    are well defined even when the scores differ and the members are not sorted)."""
    cmp = _lex_compare(low, high)
    if cmp > 0 or (cmp == 0 and (low[2] or high[2])) or not order:
        return None
    if not _above_min(order[-1][1], low) or not _below_max(order[0][1], high):
        return None
    first = next(i for i, (_, member) in enumerate(order) if _above_min(member, low))
    last = next(i for i in range(len(order) - 1, -1, -1) if _below_max(order[i][1], high))
    return first, last


def lex_span(zs: ZSet, low: LexItem, high: LexItem) -> tuple[int, int]:
    """The slice of ``zs.order`` that ZLEXCOUNT counts and ZREMRANGEBYLEX removes: from the
    first member in range, onwards while members stay under the maximum."""
    order = zs.order
    if not order or order[0][0] == order[-1][0]:
        start = _lex_position(order, low, False)
        return start, max(start, _lex_position(order, high, True))
    ends = _lex_first_last(order, low, high)
    if ends is None or not _below_max(order[ends[0]][1], high):
        return 0, 0
    end = ends[0]
    while end < len(order) and _below_max(order[end][1], high):
        end += 1
    return ends[0], end


def lex_select(
    zs: ZSet, low: LexItem, high: LexItem, offset: int, limit: int, reverse: bool
) -> list[Pair]:
    """ZRANGE BYLEX: the walk from the first (or last) member in range, ``offset`` skipped
    unchecked, then members while they stay in range, at most ``limit`` (negative: all)."""
    order = zs.order
    if not order or order[0][0] == order[-1][0]:
        start = _lex_position(order, low, False)
        end = max(start, _lex_position(order, high, True))
        return _limited(order, start, end, offset, limit, reverse)
    ends = _lex_first_last(order, low, high)
    if ends is None or offset < 0:
        return []
    pairs: list[Pair] = []
    if reverse:
        if not _above_min(order[ends[1]][1], low):
            return []
        i = ends[1] - offset
        while i >= 0 and limit != 0 and _above_min(order[i][1], low):
            pairs.append(order[i])
            i -= 1
            limit -= 1
    else:
        if not _below_max(order[ends[0]][1], high):
            return []
        i = ends[0] + offset
        while i < len(order) and limit != 0 and _below_max(order[i][1], high):
            pairs.append(order[i])
            i += 1
            limit -= 1
    return pairs


LISTPACK_MAX_ENTRIES = 128  # Redis's zset-max-listpack-entries
LISTPACK_MAX_VALUE = 64  # zset-max-listpack-value


def is_listpack(zs: ZSet, adding: bytes = b"") -> bool:
    """Would Redis keep this sorted set (after adding ``adding``) as a listpack? Judged on the
    current contents: Redis never converts a set back, which we cannot see."""
    size = len(zs) + (1 if adding and adding not in zs.scores else 0)
    return (
        size <= LISTPACK_MAX_ENTRIES
        and len(adding) <= LISTPACK_MAX_VALUE
        and all(len(member) <= LISTPACK_MAX_VALUE for member in zs.scores)
    )


def _negative_zero(score: float) -> bool:
    return score == 0.0 and math.copysign(1.0, score) < 0


def stored(zs: ZSet, member: bytes, score: float) -> float:
    """The score as Redis stores it: a listpack keeps -0 as the integer 0, a skiplist keeps it."""
    if _negative_zero(score) and is_listpack(zs, member):
        return 0.0
    return score


def zset_from_sorted(pairs: list[Pair]) -> ZSet:
    """A new ZSet from pairs already in (score, member) order, members distinct (a small
    result is a listpack in Redis, without negative zeros)."""
    if any(_negative_zero(score) for score, _ in pairs) and (
        len(pairs) <= LISTPACK_MAX_ENTRIES
        and all(len(member) <= LISTPACK_MAX_VALUE for _, member in pairs)
    ):
        pairs = [(score + 0.0, member) for score, member in pairs]
    zs = ZSet()
    zs.order = pairs
    zs.scores = {member: score for score, member in pairs}
    return zs


def store_zset(db: Database, key: bytes, zs: ZSet) -> int:
    """Store a computed result like Redis (an empty result deletes the destination)."""
    if zs:
        db.set(key, zs)
    else:
        db.delete(key)
    return len(zs)


def scores_reply(pairs: Sequence[Pair], resp3: bool) -> list[Any]:
    """WITHSCORES: ``[member, score, ...]`` in RESP2, ``[[member, score], ...]`` in RESP3."""
    if resp3:
        return [[member, Double(score)] for score, member in pairs]
    reply: list[Any] = []
    for score, member in pairs:
        reply.append(member)
        reply.append(Double(score))
    return reply


# -- ZADD / ZINCRBY / ZREM -------------------------------------------------------------------------

_ZADD_FLAGS = {b"nx", b"xx", b"ch", b"incr", b"gt", b"lt"}


def _zadd(client: Client, argv: list[bytes], incr: bool) -> Any:
    flags: set[bytes] = set()
    index = 2
    while index < len(argv):
        option = argv[index].lower()
        if option not in _ZADD_FLAGS:
            break
        flags.add(option)
        index += 1
    incr = incr or b"incr" in flags
    nx, xx, gt, lt = b"nx" in flags, b"xx" in flags, b"gt" in flags, b"lt" in flags
    pairs = len(argv) - index
    if pairs % 2 or not pairs:
        raise syntax_error()
    if nx and xx:
        raise CommandError("ERR XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise CommandError("ERR GT, LT, and/or NX options at the same time are not compatible")
    if incr and pairs > 2:
        raise CommandError("ERR INCR option supports a single increment-element pair")
    scores = [parse_double(argv[i]) for i in range(index, len(argv), 2)]
    db = client.db
    key = argv[1]
    zs: ZSet | None = db.get_typed(key, ZSet)
    created = zs is None
    if zs is None:
        if xx:
            return None if incr else 0
        zs = ZSet()
    added = updated = processed = 0
    current = zs.scores
    score = 0.0
    for value, member in zip(scores, argv[index + 1 :: 2], strict=True):
        old = current.get(member)
        if old is None:
            if xx:
                continue
            score = value
            zs.add(member, stored(zs, member, score))
            added += 1
            processed += 1
            continue
        if nx:
            continue
        score = value + old if incr else value
        if math.isnan(score):
            raise CommandError("ERR resulting score is not a number (NaN)")
        if (lt and score >= old) or (gt and score <= old):
            continue
        processed += 1
        if score != old:
            zs.add(member, stored(zs, member, score))
            updated += 1
    if created:
        db.set(key, zs)
    elif added or updated:
        db.touch(key)
    if incr:
        return Double(score) if processed else None
    return added + updated if b"ch" in flags else added


_NUMBER_START = frozenset(b"0123456789+-.")  # no ZADD option starts like this


@command("zadd", -4, "write denyoom fast")
def zadd(client: Client, argv: list[bytes]) -> Any:
    if len(argv) != 4 or not argv[2] or argv[2][0] not in _NUMBER_START:
        return _zadd(client, argv, False)
    # Fast path: ZADD key score member, no options.
    score = parse_double(argv[2])
    db = client.db
    key, member = argv[1], argv[3]
    zs: ZSet | None = db.get_typed(key, ZSet)
    if zs is None:
        zs = ZSet()
        zs.add(member, stored(zs, member, score))
        db.set(key, zs)
        return 1
    old = zs.scores.get(member)
    if old == score:
        return 0
    zs.add(member, stored(zs, member, score))
    db.touch(key)
    return 1 if old is None else 0


@command("zincrby", 4, "write denyoom fast")
def zincrby(client: Client, argv: list[bytes]) -> Any:
    return _zadd(client, argv, True)


@command("zrem", -3, "write fast")
def zrem(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    key = argv[1]
    zs: ZSet | None = db.get_typed(key, ZSet)
    if zs is None:
        return 0
    deleted = 0
    for member in argv[2:]:
        if zs.remove(member):
            deleted += 1
            if not zs:
                break
    if deleted:
        db.touch(key)
        db.drop_if_empty(key, zs)
    return deleted


# -- reading ---------------------------------------------------------------------------------------


@command("zcard", 2, "readonly fast")
def zcard(client: Client, argv: list[bytes]) -> Any:
    zs: ZSet | None = client.db.get_typed(argv[1], ZSet)
    return 0 if zs is None else len(zs)


@command("zscore", 3, "readonly fast")
def zscore(client: Client, argv: list[bytes]) -> Any:
    zs: ZSet | None = client.db.get_typed(argv[1], ZSet)
    if zs is None:
        return None
    score = zs.scores.get(argv[2])
    return None if score is None else Double(score)


@command("zmscore", -3, "readonly fast")
def zmscore(client: Client, argv: list[bytes]) -> Any:
    zs: ZSet | None = client.db.get_typed(argv[1], ZSet)
    if zs is None:
        return [None] * (len(argv) - 2)
    scores = zs.scores
    return [None if (s := scores.get(m)) is None else Double(s) for m in argv[2:]]


def _rank(client: Client, argv: list[bytes], reverse: bool) -> Any:
    zs: ZSet | None = client.db.get_typed(argv[1], ZSet)
    if zs is None:
        return None
    rank = zs.rank(argv[2])
    if rank is None:
        return None
    return len(zs) - 1 - rank if reverse else rank


@command("zrank", 3, "readonly fast")
def zrank(client: Client, argv: list[bytes]) -> Any:
    return _rank(client, argv, False)


@command("zrevrank", 3, "readonly fast")
def zrevrank(client: Client, argv: list[bytes]) -> Any:
    return _rank(client, argv, True)


@command("zcount", 4, "readonly fast")
def zcount(client: Client, argv: list[bytes]) -> Any:
    bounds = parse_score_range(argv[2], argv[3])
    zs: ZSet | None = client.db.get_typed(argv[1], ZSet)
    if zs is None:
        return 0
    start, end = score_bounds(zs, *bounds)
    return end - start


@command("zlexcount", 4, "readonly fast")
def zlexcount(client: Client, argv: list[bytes]) -> Any:
    low, high = parse_lex_range(argv[2], argv[3])
    zs: ZSet | None = client.db.get_typed(argv[1], ZSet)
    if zs is None:
        return 0
    start, end = lex_span(zs, low, high)
    return end - start


# -- the ZRANGE family -----------------------------------------------------------------------------

_RANK, _SCORE_RANGE, _LEX = 1, 2, 3


def _rank_slice(order: list[Pair], start: int, end: int, reverse: bool) -> list[Pair]:
    length = len(order)
    if start < 0:
        start += length
    if end < 0:
        end += length
    start = max(start, 0)
    if start > end or start >= length:
        return []
    end = min(end, length - 1)
    if reverse:
        return order[length - 1 - end : length - start][::-1]
    return order[start : end + 1]


def _limited(
    order: list[Pair], start: int, end: int, offset: int, limit: int, reverse: bool
) -> list[Pair]:
    """Elements ``start:end`` of ``order`` (in range), walked forwards or backwards, after
    skipping ``offset``, at most ``limit`` of them (negative: all). A negative offset walks off
    the end in Redis, so it yields nothing."""
    if offset < 0 or start >= end:
        return []
    if reverse:
        first = end - 1 - offset
        if first < start:
            return []
        last = start if limit < 0 else max(start, first - limit + 1)
        return order[last : first + 1][::-1]
    first = start + offset
    stop = end if limit < 0 else min(end, first + limit)
    return order[first:stop]


def _zrange(
    client: Client,
    argv: list[bytes],
    key_index: int,
    store: bytes | None,
    rangetype: int = 0,
    reverse: bool | None = None,
) -> Any:
    """Redis ``zrangeGenericCommand``: ``store`` is ZRANGESTORE's destination."""
    withscores = False
    offset, limit = 0, -1
    i = key_index + 3
    while i < len(argv):
        option = argv[i].lower()
        if store is None and option == b"withscores":
            withscores = True
        elif option == b"limit" and len(argv) - i - 1 >= 2:
            offset = parse_int_arg(argv[i + 1])
            limit = parse_int_arg(argv[i + 2])
            i += 2
        elif reverse is None and option == b"rev":
            reverse = True
        elif rangetype == 0 and option == b"bylex":
            rangetype = _LEX
        elif rangetype == 0 and option == b"byscore":
            rangetype = _SCORE_RANGE
        else:
            raise syntax_error()
        i += 1
    reverse = bool(reverse)
    rangetype = rangetype or _RANK
    if limit != -1 and rangetype == _RANK:
        raise CommandError(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    if withscores and rangetype == _LEX:
        raise CommandError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    low, high = argv[key_index + 1], argv[key_index + 2]
    if reverse and rangetype != _RANK:
        low, high = high, low
    if rangetype == _RANK:
        first, last = parse_int_arg(low), parse_int_arg(high)
    elif rangetype == _SCORE_RANGE:
        score_range = parse_score_range(low, high)
    else:
        lex_range = parse_lex_range(low, high)
    db = client.db
    zs: ZSet | None = db.get_typed(argv[key_index], ZSet)
    if zs is None:
        if store is not None:
            db.delete(store)
            return 0
        return []
    order = zs.order
    if rangetype == _RANK:
        pairs = _rank_slice(order, first, last, reverse)
    elif rangetype == _SCORE_RANGE:
        pairs = _limited(order, *score_bounds(zs, *score_range), offset, limit, reverse)
    else:
        pairs = lex_select(zs, *lex_range, offset, limit, reverse)
    if store is not None:
        return store_zset(db, store, zset_from_sorted(pairs[::-1] if reverse else pairs))
    if withscores:
        return scores_reply(pairs, client.resp3)
    return [member for _, member in pairs]


@command("zrange", -4, "readonly")
def zrange(client: Client, argv: list[bytes]) -> Any:
    return _zrange(client, argv, 1, None)


@command("zrangestore", -5, "write denyoom", keys=(1, 2, 1))
def zrangestore(client: Client, argv: list[bytes]) -> Any:
    return _zrange(client, argv, 2, argv[1])


@command("zrevrange", -4, "readonly")
def zrevrange(client: Client, argv: list[bytes]) -> Any:
    return _zrange(client, argv, 1, None, _RANK, True)


@command("zrangebyscore", -4, "readonly")
def zrangebyscore(client: Client, argv: list[bytes]) -> Any:
    return _zrange(client, argv, 1, None, _SCORE_RANGE, False)


@command("zrevrangebyscore", -4, "readonly")
def zrevrangebyscore(client: Client, argv: list[bytes]) -> Any:
    return _zrange(client, argv, 1, None, _SCORE_RANGE, True)


@command("zrangebylex", -4, "readonly")
def zrangebylex(client: Client, argv: list[bytes]) -> Any:
    return _zrange(client, argv, 1, None, _LEX, False)


@command("zrevrangebylex", -4, "readonly")
def zrevrangebylex(client: Client, argv: list[bytes]) -> Any:
    return _zrange(client, argv, 1, None, _LEX, True)


# -- ZREMRANGEBY* ----------------------------------------------------------------------------------


def _remove_slice(db: Database, key: bytes, zs: ZSet, start: int, end: int) -> int:
    if start >= end:
        return 0
    scores = zs.scores
    for _, member in zs.order[start:end]:
        del scores[member]
    del zs.order[start:end]
    db.touch(key)
    db.drop_if_empty(key, zs)
    return end - start


@command("zremrangebyrank", 4, "write")
def zremrangebyrank(client: Client, argv: list[bytes]) -> Any:
    start, end = parse_int_arg(argv[2]), parse_int_arg(argv[3])
    zs: ZSet | None = client.db.get_typed(argv[1], ZSet)
    if zs is None:
        return 0
    length = len(zs)
    if start < 0:
        start += length
    if end < 0:
        end += length
    start = max(start, 0)
    if start > end or start >= length:
        return 0
    return _remove_slice(client.db, argv[1], zs, start, min(end, length - 1) + 1)


@command("zremrangebyscore", 4, "write")
def zremrangebyscore(client: Client, argv: list[bytes]) -> Any:
    bounds = parse_score_range(argv[2], argv[3])
    zs: ZSet | None = client.db.get_typed(argv[1], ZSet)
    if zs is None:
        return 0
    return _remove_slice(client.db, argv[1], zs, *score_bounds(zs, *bounds))


@command("zremrangebylex", 4, "write")
def zremrangebylex(client: Client, argv: list[bytes]) -> Any:
    low, high = parse_lex_range(argv[2], argv[3])
    zs: ZSet | None = client.db.get_typed(argv[1], ZSet)
    if zs is None:
        return 0
    return _remove_slice(client.db, argv[1], zs, *lex_span(zs, low, high))


from . import _cmd_zsets2  # noqa: E402, F401 - registers the rest of the sorted set commands
