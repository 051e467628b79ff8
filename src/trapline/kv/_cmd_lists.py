"""List commands: pushes and pops, ranges, LPOS, LMOVE, LMPOP, and the blocking BLPOP family.

A list is a ``collections.deque`` of ``bytes``: pushes and pops at both ends are O(1), and an
emptied list is removed, as Redis never keeps empty ones.

A blocking command (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) that finds nothing returns
``Blocked``: the server parks the client until one of the keys changes, then calls ``retry``,
which pops if it can (a key holding another type is skipped, as Redis only serves lists).
Clients blocked on a key are retried in the order they blocked, so the first to block is the
first served. Inside EXEC a blocking command never blocks: it replies as if its timeout had
passed (BLMOVE and BRPOPLPUSH with a null bulk there, as Redis does, not the null array of a
real timeout).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from itertools import islice
from typing import TYPE_CHECKING, Any

from ._cmd_hashes import long_double_round, parse_long_double
from ._commands import Blocked, command, parse_int_arg, syntax_error
from ._db import WRONGTYPE, CommandError, Database
from ._resp import NullArray, Simple, parse_int

if TYPE_CHECKING:
    from ._server import Client

__all__ = ["parse_timeout"]

OK = Simple("OK")
_LLONG_MIN = -(2**63)
_LLONG_MAX = 2**63 - 1
_RANK_ZERO = (
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
    "or use negative to start from the end of the list"
)


# -- argument parsing -------------------------------------------------------------------------


def _positive(arg: bytes, message: str = "ERR value is out of range, must be positive") -> int:
    """Redis ``getPositiveLongFromObjectOrReply``: one message for junk and for negatives."""
    value = parse_int(arg)
    if value is None or value < 0:
        raise CommandError(message)
    return value


def _where(arg: bytes) -> bool:
    """LEFT (True) or RIGHT (False)."""
    lowered = arg.lower()
    if lowered == b"left":
        return True
    if lowered == b"right":
        return False
    raise syntax_error()


def parse_timeout(arg: bytes) -> int:
    """Redis ``getTimeoutFromObjectOrReply`` in seconds: milliseconds, 0 meaning forever.

    Redis computes ``(long long) ceill(seconds * 1000.0)`` in long double; on x86 a result out
    of the 64-bit range (or infinite) converts to LLONG_MIN, hence "timeout is negative".
    """
    seconds = parse_long_double(arg)
    if seconds is None:
        raise CommandError("ERR timeout is not a float or out of range")
    millis = _LLONG_MIN
    if not isinstance(seconds, float):
        scaled = long_double_round(seconds * 1000)
        if not isinstance(scaled, float):
            millis = math.ceil(scaled)
            if not _LLONG_MIN <= millis <= _LLONG_MAX:
                millis = _LLONG_MIN
    if millis < 0:
        raise CommandError("ERR timeout is negative")
    return millis


def _mpop_args(argv: list[bytes], numkeys_at: int) -> tuple[list[bytes], bool, int]:
    """LMPOP/BLMPOP: ``numkeys key... LEFT|RIGHT [COUNT count]`` -> keys, left, count."""
    numkeys = parse_int(argv[numkeys_at])
    if numkeys is None or numkeys < 1:
        raise CommandError("ERR numkeys should be greater than 0")
    where_at = numkeys_at + numkeys + 1
    if where_at >= len(argv):
        raise syntax_error()
    left = _where(argv[where_at])
    count = -1
    i = where_at + 1
    while i < len(argv):
        if count == -1 and argv[i].lower() == b"count" and i + 1 < len(argv):
            count = parse_int(argv[i + 1]) or 0
            if count < 1:
                raise CommandError("ERR count should be greater than 0")
            i += 2
        else:
            raise syntax_error()
    return argv[numkeys_at + 1 : where_at], left, 1 if count == -1 else count


# -- helpers ----------------------------------------------------------------------------------


def _list(db: Database, key: bytes) -> deque[bytes] | None:
    value: deque[bytes] | None = db.get_typed(key, deque)
    return value


def _popped(db: Database, key: bytes, items: deque[bytes]) -> None:
    """After removing elements: tell watchers, and drop the key if the list emptied."""
    db.touch(key)
    db.drop_if_empty(key, items)


def _pop_many(items: deque[bytes], left: bool, count: int) -> list[bytes]:
    pop = items.popleft if left else items.pop
    return [pop() for _ in range(min(count, len(items)))]


def _deadline(client: Client, timeout_ms: int) -> int:
    return client.server.now_ms() + timeout_ms if timeout_ms else 0


# -- pushes -----------------------------------------------------------------------------------


def _push(client: Client, argv: list[bytes], left: bool, only_existing: bool) -> int:
    db = client.db
    key = argv[1]
    items = db.get(key)
    if items is None:
        if only_existing:
            return 0
        items = deque(argv[2:])
        if left:
            items.reverse()
        db.set(key, items)
        return len(items)
    if type(items) is not deque:
        raise CommandError(WRONGTYPE)
    if len(argv) == 3:
        if left:
            items.appendleft(argv[2])
        else:
            items.append(argv[2])
    elif left:
        items.extendleft(argv[2:])
    else:
        items.extend(argv[2:])
    db.touch(key)
    return len(items)


@command("lpush", -3, "write denyoom fast")
def lpush(client: Client, argv: list[bytes]) -> Any:
    return _push(client, argv, True, False)


@command("rpush", -3, "write denyoom fast")
def rpush(client: Client, argv: list[bytes]) -> Any:
    return _push(client, argv, False, False)


@command("lpushx", -3, "write denyoom fast")
def lpushx(client: Client, argv: list[bytes]) -> Any:
    return _push(client, argv, True, True)


@command("rpushx", -3, "write denyoom fast")
def rpushx(client: Client, argv: list[bytes]) -> Any:
    return _push(client, argv, False, True)


@command("linsert", 5, "write denyoom")
def linsert(client: Client, argv: list[bytes]) -> Any:
    where = argv[2].lower()
    if where not in (b"before", b"after"):
        raise syntax_error()
    items = _list(client.db, argv[1])
    if items is None:
        return 0
    try:
        index = items.index(argv[3])
    except ValueError:
        return -1
    items.insert(index + 1 if where == b"after" else index, argv[4])
    client.db.touch(argv[1])
    return len(items)


# -- pops -------------------------------------------------------------------------------------


def _pop(client: Client, argv: list[bytes], left: bool) -> Any:
    argc = len(argv)
    if argc > 3:
        name = "lpop" if left else "rpop"
        raise CommandError(f"ERR wrong number of arguments for '{name}' command")
    count = _positive(argv[2]) if argc == 3 else 0
    db = client.db
    key = argv[1]
    items = _list(db, key)
    if items is None:
        return NullArray if argc == 3 else None
    if argc == 2:
        value = items.popleft() if left else items.pop()
        _popped(db, key, items)
        return value
    if count == 0:
        return []
    values = _pop_many(items, left, count)
    _popped(db, key, items)
    return values


@command("lpop", -2, "write fast")
def lpop(client: Client, argv: list[bytes]) -> Any:
    return _pop(client, argv, True)


@command("rpop", -2, "write fast")
def rpop(client: Client, argv: list[bytes]) -> Any:
    return _pop(client, argv, False)


def _pop_first(db: Database, keys: list[bytes], left: bool, count: int, strict: bool) -> Any:
    """Pop from the first non-empty list among ``keys``: ``[key, value]`` (count 0, the BLPOP
    shape) or ``[key, [values]]``; None if all are empty. A key of another type is an error when
    ``strict``, and is skipped when retrying a blocked client (Redis serves it from another
    key)."""
    for key in keys:
        items = db.get(key)
        if items is None:
            continue
        if type(items) is not deque:
            if strict:
                raise CommandError(WRONGTYPE)
            continue
        if count:
            values: Any = _pop_many(items, left, count)
        else:
            values = items.popleft() if left else items.pop()
        _popped(db, key, items)
        return [key, values]
    return None


@command("lmpop", -4, "write movablekeys", keys=(0, 0, 0))
def lmpop(client: Client, argv: list[bytes]) -> Any:
    keys, left, count = _mpop_args(argv, 1)
    reply = _pop_first(client.db, keys, left, count, True)
    return NullArray if reply is None else reply


def _blocking_pop(
    client: Client, keys: list[bytes], timeout_arg: bytes, left: bool, count: int
) -> Any:
    timeout = parse_timeout(timeout_arg)
    db = client.db
    reply = _pop_first(db, keys, left, count, True)
    if reply is not None:
        return reply

    def retry() -> Any:
        return _pop_first(db, keys, left, count, False)

    # Inside EXEC, the transaction replies ``on_timeout`` at once.
    return Blocked(list(dict.fromkeys(keys)), _deadline(client, timeout), retry, NullArray)


@command("blpop", -3, "write noscript blocking", keys=(1, -2, 1))
def blpop(client: Client, argv: list[bytes]) -> Any:
    return _blocking_pop(client, argv[1:-1], argv[-1], True, 0)


@command("brpop", -3, "write noscript blocking", keys=(1, -2, 1))
def brpop(client: Client, argv: list[bytes]) -> Any:
    return _blocking_pop(client, argv[1:-1], argv[-1], False, 0)


@command("blmpop", -5, "write blocking movablekeys", keys=(0, 0, 0))
def blmpop(client: Client, argv: list[bytes]) -> Any:
    keys, left, count = _mpop_args(argv, 2)
    return _blocking_pop(client, keys, argv[1], left, count)


# -- moves ------------------------------------------------------------------------------------


def _move(db: Database, source: bytes, target: bytes, from_left: bool, to_left: bool) -> Any:
    """Pop from ``source``, push to ``target``: the element, or None if the source is empty."""
    items = _list(db, source)
    if items is None:
        return None
    destination = db.get(target)
    if destination is not None and type(destination) is not deque:
        raise CommandError(WRONGTYPE)
    value = items.popleft() if from_left else items.pop()
    if destination is None:
        db.set(target, deque((value,)))
    else:
        if to_left:
            destination.appendleft(value)
        else:
            destination.append(value)
        db.touch(target)
    _popped(db, source, items)
    return value


def _blocking_move(
    client: Client, argv: list[bytes], from_left: bool, to_left: bool, timeout: int
) -> Any:
    db = client.db
    source, target = argv[1], argv[2]
    value = _move(db, source, target, from_left, to_left)
    if value is not None or client.in_exec:
        return value  # in EXEC: a null bulk, unlike the null array of a real timeout

    def retry() -> Any:
        if type(db.get(source)) is not deque:
            return None
        try:
            return _move(db, source, target, from_left, to_left)
        except CommandError as error:  # the target has the wrong type: Redis unblocks with it
            return error.reply

    return Blocked([source], _deadline(client, timeout), retry, NullArray)


@command("lmove", 5, "write denyoom", keys=(1, 2, 1))
def lmove(client: Client, argv: list[bytes]) -> Any:
    from_left = _where(argv[3])
    to_left = _where(argv[4])
    return _move(client.db, argv[1], argv[2], from_left, to_left)


@command("rpoplpush", 3, "write denyoom", keys=(1, 2, 1))
def rpoplpush(client: Client, argv: list[bytes]) -> Any:
    return _move(client.db, argv[1], argv[2], False, True)


@command("blmove", 6, "write denyoom noscript blocking", keys=(1, 2, 1))
def blmove(client: Client, argv: list[bytes]) -> Any:
    from_left = _where(argv[3])
    to_left = _where(argv[4])
    return _blocking_move(client, argv, from_left, to_left, parse_timeout(argv[5]))


@command("brpoplpush", 4, "write denyoom noscript blocking", keys=(1, 2, 1))
def brpoplpush(client: Client, argv: list[bytes]) -> Any:
    return _blocking_move(client, argv, False, True, parse_timeout(argv[3]))


# -- reading ----------------------------------------------------------------------------------


@command("llen", 2, "readonly fast")
def llen(client: Client, argv: list[bytes]) -> Any:
    items = _list(client.db, argv[1])
    return 0 if items is None else len(items)


@command("lindex", 3, "readonly")
def lindex(client: Client, argv: list[bytes]) -> Any:
    items = _list(client.db, argv[1])
    if items is None:
        return None
    index = parse_int_arg(argv[2])
    if index < 0:
        index += len(items)
    return items[index] if 0 <= index < len(items) else None


@command("lrange", 4, "readonly")
def lrange(client: Client, argv: list[bytes]) -> Any:
    start = parse_int_arg(argv[2])
    end = parse_int_arg(argv[3])
    items = _list(client.db, argv[1])
    if items is None:
        return []
    size = len(items)
    if start < 0:
        start = max(start + size, 0)
    if end < 0:
        end += size
    if start > end or start >= size:
        return []
    if end >= size:
        end = size - 1
        if start == 0:
            return list(items)
    if start > size - end:  # nearer the tail: walk from there
        values = list(islice(reversed(items), size - 1 - end, size - start))
        values.reverse()
        return values
    return list(islice(items, start, end + 1))


@command("lpos", -3, "readonly")
def lpos(client: Client, argv: list[bytes]) -> Any:
    rank, count, maxlen = 1, -1, 0
    i, argc = 3, len(argv)
    while i < argc:
        option = argv[i].lower()
        if i + 1 >= argc:
            raise syntax_error()
        if option == b"rank":
            rank = parse_int_arg(argv[i + 1])
            if rank == 0:
                raise CommandError(_RANK_ZERO)
        elif option == b"count":
            count = _positive(argv[i + 1], "ERR COUNT can't be negative")
        elif option == b"maxlen":
            maxlen = _positive(argv[i + 1], "ERR MAXLEN can't be negative")
        else:
            raise syntax_error()
        i += 2
    items = _list(client.db, argv[1])
    if items is None:
        return [] if count != -1 else None
    element = argv[2]
    forward = rank > 0
    # C negates LLONG_MIN to itself: every match then ranks, and COUNT never stops the search
    # (its test overflows).
    wrapped = rank == _LLONG_MIN
    rank = 1 if wrapped else abs(rank)
    size = len(items)
    scan: Iterable[bytes] = items if forward else reversed(items)
    if maxlen:
        scan = islice(scan, maxlen)
    found: list[int] = []
    matches = 0
    for index, item in enumerate(scan):
        if item == element:
            matches += 1
            if matches >= rank:
                position = index if forward else size - index - 1
                if count == -1:
                    return position
                found.append(position)
                if count and not wrapped and matches - rank + 1 >= count:
                    break
    return found if count != -1 else None


# -- rewriting --------------------------------------------------------------------------------


@command("lset", 4, "write denyoom")
def lset(client: Client, argv: list[bytes]) -> Any:
    items = _list(client.db, argv[1])
    if items is None:
        raise CommandError("ERR no such key")
    index = parse_int_arg(argv[2])
    if index < 0:
        index += len(items)
    if not 0 <= index < len(items):
        raise CommandError("ERR index out of range")
    items[index] = argv[3]
    client.db.touch(argv[1])
    return OK


@command("lrem", 4, "write")
def lrem(client: Client, argv: list[bytes]) -> Any:
    limit = parse_int_arg(argv[2])
    db = client.db
    key = argv[1]
    items = _list(db, key)
    if items is None:
        return 0
    element = argv[3]
    if limit == 0:
        kept = [item for item in items if item != element]
    else:
        budget = abs(limit)
        scan: Iterable[bytes] = items if limit > 0 else reversed(items)
        kept = []
        for item in scan:
            if budget and item == element:
                budget -= 1
            else:
                kept.append(item)
        if limit < 0:
            kept.reverse()
    removed = len(items) - len(kept)
    if removed:
        items.clear()
        items.extend(kept)
        _popped(db, key, items)
    return removed


@command("ltrim", 4, "write")
def ltrim(client: Client, argv: list[bytes]) -> Any:
    start = parse_int_arg(argv[2])
    end = parse_int_arg(argv[3])
    db = client.db
    key = argv[1]
    items = _list(db, key)
    if items is None:
        return OK
    size = len(items)
    if start < 0:
        start = max(start + size, 0)
    if end < 0:
        end += size
    if start > end or start >= size:
        items.clear()
    else:
        end = min(end, size - 1)
        keep = end - start + 1
        if keep < size // 2:
            kept = list(islice(items, start, end + 1))
            items.clear()
            items.extend(kept)
        else:
            for _ in range(start):
                items.popleft()
            for _ in range(size - 1 - end):
                items.pop()
    _popped(db, key, items)
    return OK
