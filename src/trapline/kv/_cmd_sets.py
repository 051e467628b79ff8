"""Set commands: SADD, SREM, SMEMBERS, SPOP, SRANDMEMBER, SMOVE, SINTER/SUNION/SDIFF (and their
STORE forms), SINTERCARD, SSCAN; plus the SCAN machinery the sorted sets share.

A set is a plain Python ``set`` of ``bytes``. Redis replies with members in its internal order,
which no client may rely on, so ours is Python's. Randomness: SRANDMEMBER picks uniformly; SPOP
picks uniformly from sets of up to ``_UNIFORM_LIMIT`` members and takes Python's arbitrary next
member (an order fixed by the per-process hash seed) from bigger ones, which keeps it O(1).

SSCAN/ZSCAN mimic Redis's two encodings: a small collection (what Redis would keep as an intset
or listpack) comes back whole, in Redis's order, with cursor 0; a bigger one is walked in the
order of its members' hashes, the cursor being the hash to resume from, so every member present
for the whole iteration is returned at least once even if the collection changes in between.
"""

from __future__ import annotations

import random
from itertools import islice
from typing import TYPE_CHECKING, Any

from ._commands import command, syntax_error
from ._db import CommandError, Database
from ._glob import compile_glob
from ._resp import SetReply, parse_int
from ._scan import parse_cursor, parse_scan_options, scan_page

if TYPE_CHECKING:
    from ._server import Client

__all__ = [
    "EMPTY_SCAN",
    "parse_long",
]

LONG_MAX = 2**63 - 1
_UNIFORM_LIMIT = 1024
_INTSET_MAX_ENTRIES = 512  # Redis's set-max-intset-entries
EMPTY_SCAN: list[Any] = [b"0", []]


# -- argument helpers ----------------------------------------------------------------------------


def parse_long(arg: bytes, low: int, high: int, message: str | None = None) -> int:
    """Redis ``getRangeLongFromObjectOrReply``: ``message`` replaces both of its errors."""
    value = parse_int(arg)
    if value is None:
        raise CommandError(message or "ERR value is not an integer or out of range")
    if value < low or value > high:
        raise CommandError(
            message or f"ERR value is out of range, value must between {low} and {high}"
        )
    return value


def parse_positive(arg: bytes, message: str = "ERR value is out of range, must be positive") -> int:
    """Redis ``getPositiveLongFromObjectOrReply``."""
    return parse_long(arg, 0, LONG_MAX, message)


# -- SCAN helpers --------------------------------------------------------------------------------


def _is_intset(members: set[bytes]) -> bool:
    """Would Redis keep this set as an intset? (All canonical 64-bit integers, few of them.)"""
    if len(members) > _INTSET_MAX_ENTRIES:
        return False
    return all(parse_int(member) is not None for member in members)


# -- helpers ---------------------------------------------------------------------------------------


def _random_member(members: set[bytes]) -> bytes:
    return next(islice(members, random.randrange(len(members)), None))


def _pop_member(members: set[bytes]) -> bytes:
    if len(members) <= _UNIFORM_LIMIT:
        member = _random_member(members)
        members.remove(member)
        return member
    return members.pop()


def _sets(db: Database, keys: list[bytes]) -> list[set[bytes] | None]:
    """Look up every key (missing ones are None); WRONGTYPE if any is not a set."""
    return [db.get_typed(key, set) for key in keys]


def _store(db: Database, key: bytes, result: set[bytes]) -> int:
    if result:
        db.set(key, result)
    else:
        db.delete(key)
    return len(result)


# -- commands --------------------------------------------------------------------------------------


@command("sadd", -3, "write denyoom fast")
def sadd(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    key = argv[1]
    members = db.get_typed(key, set)
    if members is None:
        members = set(argv[2:])
        db.set(key, members)
        return len(members)
    before = len(members)
    members.update(argv[2:])
    added = len(members) - before
    if added:
        db.touch(key)
    return added


@command("srem", -3, "write fast")
def srem(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    key = argv[1]
    members = db.get_typed(key, set)
    if members is None:
        return 0
    before = len(members)
    members.difference_update(argv[2:])
    deleted = before - len(members)
    if deleted:
        db.touch(key)
        db.drop_if_empty(key, members)
    return deleted


@command("smove", 4, "write fast", keys=(1, 2, 1))
def smove(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    source, destination, member = argv[1], argv[2], argv[3]
    src = db.get(source)
    if src is None:
        return 0
    dst = db.get(destination)
    if type(src) is not set or (dst is not None and type(dst) is not set):
        db.get_typed(source, set)
        db.get_typed(destination, set)
    if src is dst:
        return 1 if member in src else 0
    if member not in src:
        return 0
    src.remove(member)
    db.touch(source)
    db.drop_if_empty(source, src)
    if dst is None:
        db.set(destination, {member})
    elif member not in dst:
        dst.add(member)
        db.touch(destination)
    return 1


@command("sismember", 3, "readonly fast")
def sismember(client: Client, argv: list[bytes]) -> Any:
    members = client.db.get_typed(argv[1], set)
    return 1 if members is not None and argv[2] in members else 0


@command("smismember", -3, "readonly fast")
def smismember(client: Client, argv: list[bytes]) -> Any:
    members = client.db.get_typed(argv[1], set)
    if members is None:
        return [0] * (len(argv) - 2)
    return [1 if member in members else 0 for member in argv[2:]]


@command("scard", 2, "readonly fast")
def scard(client: Client, argv: list[bytes]) -> Any:
    members = client.db.get_typed(argv[1], set)
    return 0 if members is None else len(members)


@command("spop", -2, "write fast")
def spop(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    key = argv[1]
    if len(argv) > 3:
        raise syntax_error()
    if len(argv) == 3:
        return _spop_count(db, key, parse_positive(argv[2]))
    members = db.get_typed(key, set)
    if members is None:
        return None
    member = _pop_member(members)
    db.touch(key)
    db.drop_if_empty(key, members)
    return member


def _spop_count(db: Database, key: bytes, count: int) -> Any:
    members = db.get_typed(key, set)
    if members is None or count == 0:
        return SetReply(())
    size = len(members)
    if count >= size:
        db.delete(key)
        return SetReply(members)
    if size > _UNIFORM_LIMIT and count * 5 < size:
        popped = [members.pop() for _ in range(count)]
    else:
        popped = random.sample(tuple(members), count)
        members.difference_update(popped)
    db.touch(key)
    return SetReply(popped)


@command("srandmember", -2, "readonly")
def srandmember(client: Client, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise syntax_error()
    if len(argv) == 2:
        members = client.db.get_typed(argv[1], set)
        return None if members is None else _random_member(members)
    count = parse_long(argv[2], -LONG_MAX, LONG_MAX)
    members = client.db.get_typed(argv[1], set)
    if members is None or count == 0:
        return []
    if count == 1:
        return [_random_member(members)]
    if count < 0:
        return random.choices(tuple(members), k=-count)
    if count >= len(members):
        return list(members)
    return random.sample(tuple(members), count)


def _intersection(sets: list[set[bytes] | None]) -> set[bytes] | None:
    """None if some input is missing (the caller replies "empty" without computing)."""
    present = [members for members in sets if members is not None]
    if len(present) < len(sets):
        return None
    present.sort(key=len)
    return present[0].intersection(*present[1:])


@command("smembers", 2, "readonly")
def smembers(client: Client, argv: list[bytes]) -> Any:
    members = client.db.get_typed(argv[1], set)
    return SetReply(() if members is None else members)


@command("sinter", -2, "readonly", keys=(1, -1, 1))
def sinter(client: Client, argv: list[bytes]) -> Any:
    result = _intersection(_sets(client.db, argv[1:]))
    return SetReply(() if result is None else result)


@command("sinterstore", -3, "write denyoom", keys=(1, -1, 1))
def sinterstore(client: Client, argv: list[bytes]) -> Any:
    result = _intersection(_sets(client.db, argv[2:]))
    return _store(client.db, argv[1], result or set())


@command("sintercard", -3, "readonly movablekeys", keys=(0, 0, 0))
def sintercard(client: Client, argv: list[bytes]) -> Any:
    numkeys = parse_long(argv[1], 1, LONG_MAX, "ERR numkeys should be greater than 0")
    if numkeys > len(argv) - 2:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    limit = 0
    i = 2 + numkeys
    while i < len(argv):
        if argv[i].lower() == b"limit" and i + 1 < len(argv):
            limit = parse_positive(argv[i + 1], "ERR LIMIT can't be negative")
            i += 2
        else:
            raise syntax_error()
    sets = _sets(client.db, argv[2 : 2 + numkeys])
    if any(members is None for members in sets):
        return 0
    present = sorted([members for members in sets if members is not None], key=len)
    smallest, others = present[0], present[1:]
    if not limit:
        return len(smallest.intersection(*others))
    cardinality = 0
    for member in smallest:
        if all(member in other for other in others):
            cardinality += 1
            if cardinality >= limit:
                break
    return cardinality


def _union(sets: list[set[bytes] | None]) -> set[bytes]:
    return set().union(*[members for members in sets if members is not None])


def _difference(sets: list[set[bytes] | None]) -> set[bytes]:
    first = sets[0]
    if first is None:
        return set()
    return first.difference(*[members for members in sets[1:] if members is not None])


@command("sunion", -2, "readonly", keys=(1, -1, 1))
def sunion(client: Client, argv: list[bytes]) -> Any:
    return SetReply(_union(_sets(client.db, argv[1:])))


@command("sunionstore", -3, "write denyoom", keys=(1, -1, 1))
def sunionstore(client: Client, argv: list[bytes]) -> Any:
    return _store(client.db, argv[1], _union(_sets(client.db, argv[2:])))


@command("sdiff", -2, "readonly", keys=(1, -1, 1))
def sdiff(client: Client, argv: list[bytes]) -> Any:
    return SetReply(_difference(_sets(client.db, argv[1:])))


@command("sdiffstore", -3, "write denyoom", keys=(1, -1, 1))
def sdiffstore(client: Client, argv: list[bytes]) -> Any:
    return _store(client.db, argv[1], _difference(_sets(client.db, argv[2:])))


@command("sscan", -3, "readonly")
def sscan(client: Client, argv: list[bytes]) -> Any:
    cursor = parse_cursor(argv[2])
    members = client.db.get_typed(argv[1], set)
    if members is None:
        return EMPTY_SCAN
    pattern, count, _ = parse_scan_options(argv, 3)
    if _is_intset(members):
        next_cursor = 0
        found = sorted(members, key=int)
    else:
        next_cursor, found = scan_page(members, cursor, count)
    if pattern is not None:
        matches = compile_glob(pattern)
        found = [member for member in found if matches(member)]
    return [b"%d" % next_cursor, found]
