"""Generic key commands: DEL, EXISTS, the EXPIRE family, TTL, TYPE, KEYS, SCAN, RENAME, COPY,
MOVE, SWAPDB, DBSIZE, FLUSHDB/FLUSHALL, TOUCH, RANDOMKEY.

Behaviour and error texts follow Redis 7.0.15's ``db.c`` and ``expire.c``.
"""

from __future__ import annotations

import random
from collections import deque
from typing import TYPE_CHECKING, Any

from ._cmd_hashes import parse_scan_cursor, scan_positions
from ._commands import command, parse_int_arg, syntax_error
from ._db import CommandError, ZSet, type_name
from ._glob import glob_match
from ._resp import Simple, parse_int

if TYPE_CHECKING:
    from ._server import Client

OK = Simple("OK")
_LLONG_MAX = 2**63 - 1
_LLONG_MIN = -(2**63)


def match_pattern(pattern: bytes, text: bytes, nocase: bool = False) -> bool:
    """Redis glob matching (``*``, ``?``, ``[a-z]``, ``[^x]``, backslash escapes)."""
    return glob_match(pattern, text, nocase)


@command("del", -2, "write", keys=(1, -1, 1))
def del_(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    return sum(1 for key in argv[1:] if db.delete(key))


@command("unlink", -2, "write fast", keys=(1, -1, 1))
def unlink(client: Client, argv: list[bytes]) -> Any:
    return del_(client, argv)


@command("exists", -2, "readonly fast", keys=(1, -1, 1))
def exists(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    return sum(1 for key in argv[1:] if db.get(key) is not None)


@command("touch", -2, "readonly fast", keys=(1, -1, 1))
def touch(client: Client, argv: list[bytes]) -> Any:
    return exists(client, argv)


@command("type", 2, "readonly fast")
def type_(client: Client, argv: list[bytes]) -> Any:
    value = client.db.get(argv[1])
    return Simple("none" if value is None else type_name(value))


# -- expiry ------------------------------------------------------------------------------------


def _expire_options(argv: list[bytes]) -> tuple[bool, bool, bool, bool]:
    nx = xx = gt = lt = False
    for arg in argv[3:]:
        option = arg.lower()
        if option == b"nx":
            nx = True
        elif option == b"xx":
            xx = True
        elif option == b"gt":
            gt = True
        elif option == b"lt":
            lt = True
        else:
            raise CommandError(f"ERR Unsupported option {arg.decode('utf-8', 'replace')}")
    if nx and (xx or gt or lt):
        raise CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if gt and lt:
        raise CommandError("ERR GT and LT options at the same time are not compatible")
    return nx, xx, gt, lt


def _expire(client: Client, argv: list[bytes], unit_ms: int, relative: bool) -> Any:
    nx, xx, gt, lt = _expire_options(argv)
    when = parse_int_arg(argv[2])
    name = argv[0].decode("ascii", "replace").lower()
    if unit_ms == 1000:
        if when > _LLONG_MAX // 1000 or when < -((-_LLONG_MIN) // 1000):
            raise CommandError(f"ERR invalid expire time in '{name}' command")
        when *= 1000
    base = client.server.now_ms() if relative else 0
    if when > _LLONG_MAX - base:
        raise CommandError(f"ERR invalid expire time in '{name}' command")
    when += base
    db = client.db
    key = argv[1]
    if db.get(key) is None:
        return 0
    if nx or xx or gt or lt:
        current = db.expires.get(key)
        if nx and current is not None:
            return 0
        if xx and current is None:
            return 0
        if gt and (current is None or when <= current):
            return 0
        if lt and current is not None and when >= current:
            return 0
    db.set_expire(key, when)
    return 1


@command("expire", -3, "write fast")
def expire(client: Client, argv: list[bytes]) -> Any:
    return _expire(client, argv, 1000, True)


@command("pexpire", -3, "write fast")
def pexpire(client: Client, argv: list[bytes]) -> Any:
    return _expire(client, argv, 1, True)


@command("expireat", -3, "write fast")
def expireat(client: Client, argv: list[bytes]) -> Any:
    return _expire(client, argv, 1000, False)


@command("pexpireat", -3, "write fast")
def pexpireat(client: Client, argv: list[bytes]) -> Any:
    return _expire(client, argv, 1, False)


def _ttl(client: Client, key: bytes, ms: bool, absolute: bool) -> int:
    db = client.db
    if db.get(key) is None:
        return -2
    when = db.expires.get(key)
    if when is None:
        return -1
    ttl = when if absolute else max(when - client.server.now_ms(), 0)
    return ttl if ms else (ttl + 500) // 1000


@command("ttl", 2, "readonly fast")
def ttl(client: Client, argv: list[bytes]) -> Any:
    return _ttl(client, argv[1], False, False)


@command("pttl", 2, "readonly fast")
def pttl(client: Client, argv: list[bytes]) -> Any:
    return _ttl(client, argv[1], True, False)


@command("expiretime", 2, "readonly fast")
def expiretime(client: Client, argv: list[bytes]) -> Any:
    return _ttl(client, argv[1], False, True)


@command("pexpiretime", 2, "readonly fast")
def pexpiretime(client: Client, argv: list[bytes]) -> Any:
    return _ttl(client, argv[1], True, True)


@command("persist", 2, "write fast")
def persist(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    if db.get(argv[1]) is None:
        return 0
    return 1 if db.persist(argv[1]) else 0


# -- iteration ---------------------------------------------------------------------------------


@command("keys", 2, "readonly", keys=(0, 0, 0))
def keys(client: Client, argv: list[bytes]) -> Any:
    pattern = argv[1]
    if pattern == b"*":
        return list(client.db.keys())
    return [key for key in client.db.keys() if glob_match(pattern, key)]  # noqa: SIM118


@command("scan", -2, "readonly", keys=(0, 0, 0))
def scan(client: Client, argv: list[bytes]) -> Any:
    cursor = parse_scan_cursor(argv[1])
    count = 10
    pattern: bytes | None = None
    kind: str | None = None
    i = 2
    while i < len(argv):
        option = argv[i].lower()
        if i + 1 >= len(argv):
            raise syntax_error()
        if option == b"count":
            count = parse_int_arg(argv[i + 1])
            if count < 1:
                raise syntax_error()
        elif option == b"match":
            pattern = None if argv[i + 1] == b"*" else argv[i + 1]
        elif option == b"type":
            kind = argv[i + 1].decode("utf-8", "replace").lower()
        else:
            raise syntax_error()
        i += 2
    db = client.db
    next_cursor, found = scan_positions(db.keys(), cursor, count)
    result = []
    for key in found:
        value = db.data.get(key)
        if value is None:
            continue
        if pattern is not None and not glob_match(pattern, key):
            continue
        if kind is not None and type_name(value) != kind:
            continue
        result.append(key)
    return [b"%d" % next_cursor, result]


@command("randomkey", 1, "readonly", keys=(0, 0, 0))
def randomkey(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    for _ in range(100):
        if not db.data:
            return None
        key = random.choice(list(db.data))
        if db.get(key) is not None:
            return key
    live = list(db.keys())
    return random.choice(live) if live else None


@command("dbsize", 1, "readonly fast", keys=(0, 0, 0))
def dbsize(client: Client, argv: list[bytes]) -> Any:
    return len(client.db.data)


def _flush_mode(argv: list[bytes]) -> None:
    if len(argv) == 2 and argv[1].lower() in (b"sync", b"async"):
        return
    if len(argv) != 1:
        raise syntax_error()


@command("flushdb", -1, "write", keys=(0, 0, 0))
def flushdb(client: Client, argv: list[bytes]) -> Any:
    _flush_mode(argv)
    client.db.flush()
    return OK


@command("flushall", -1, "write", keys=(0, 0, 0))
def flushall(client: Client, argv: list[bytes]) -> Any:
    _flush_mode(argv)
    for db in client.server.dbs:
        db.flush()
    return OK


# -- moving keys -------------------------------------------------------------------------------


def _copy_value(value: Any) -> Any:
    kind = type(value)
    if kind is bytes:
        return value
    if kind is deque:
        return deque(value)
    if kind is dict:
        return dict(value)
    if kind is set:
        return set(value)
    copy = ZSet()
    copy.scores = dict(value.scores)
    copy.order = list(value.order)
    return copy


def _rename(client: Client, argv: list[bytes], nx: bool) -> Any:
    db = client.db
    source, target = argv[1], argv[2]
    value = db.get(source)
    if value is None:
        raise CommandError("ERR no such key")
    if source == target:
        return 0 if nx else OK
    when = db.expires.get(source)
    if db.get(target) is not None:
        if nx:
            return 0
        db.delete(target)
    db.delete(source)
    db.set(target, value)
    if when is not None:
        db.set_expire(target, when)
    return 1 if nx else OK


@command("rename", 3, "write", keys=(1, 2, 1))
def rename(client: Client, argv: list[bytes]) -> Any:
    return _rename(client, argv, False)


@command("renamenx", 3, "write fast", keys=(1, 2, 1))
def renamenx(client: Client, argv: list[bytes]) -> Any:
    return _rename(client, argv, True)


def _db_index(arg: bytes, message: str | None = None) -> int:
    """Redis ``getIntFromObjectOrReply`` (with an optional custom message)."""
    index = parse_int(arg)
    if index is None:
        raise CommandError(message or "ERR value is not an integer or out of range")
    if index < -(2**31) or index > 2**31 - 1:
        raise CommandError(message or "ERR value is out of range")
    return index


@command("move", 3, "write fast")
def move(client: Client, argv: list[bytes]) -> Any:
    server = client.server
    index = _db_index(argv[2])
    if index < 0 or index >= len(server.dbs):
        raise CommandError("ERR DB index is out of range")
    source, target = client.db, server.dbs[index]
    if source is target:
        raise CommandError("ERR source and destination objects are the same")
    key = argv[1]
    value = source.get(key)
    if value is None or target.get(key) is not None:
        return 0
    when = source.expires.get(key)
    target.set(key, value)
    if when is not None:
        target.set_expire(key, when)
    source.delete(key)
    return 1


@command("copy", -3, "write", keys=(1, 2, 1))
def copy(client: Client, argv: list[bytes]) -> Any:
    server = client.server
    source_db = target_db = client.db
    replace = False
    i = 3
    while i < len(argv):
        option = argv[i].lower()
        if option == b"replace":
            replace = True
        elif option == b"db" and i + 1 < len(argv):
            index = _db_index(argv[i + 1])
            if index < 0 or index >= len(server.dbs):
                raise CommandError("ERR DB index is out of range")
            target_db = server.dbs[index]
            i += 1
        else:
            raise syntax_error()
        i += 1
    source, target = argv[1], argv[2]
    if source_db is target_db and source == target:
        raise CommandError("ERR source and destination objects are the same")
    value = source_db.get(source)
    if value is None:
        return 0
    if target_db.get(target) is not None:
        if not replace:
            return 0
        target_db.delete(target)
    when = source_db.expires.get(source)
    target_db.set(target, _copy_value(value))
    if when is not None:
        target_db.set_expire(target, when)
    return 1


@command("swapdb", 3, "write fast", keys=(0, 0, 0))
def swapdb(client: Client, argv: list[bytes]) -> Any:
    server = client.server
    first = _db_index(argv[1], "ERR invalid first DB index")
    second = _db_index(argv[2], "ERR invalid second DB index")
    count = len(server.dbs)
    if not (0 <= first < count and 0 <= second < count):
        raise CommandError("ERR DB index is out of range")
    if first != second:
        a, b = server.dbs[first], server.dbs[second]
        for key in list(a.data) + list(b.data):
            a.touch(key)
            b.touch(key)
        a.data, b.data = b.data, a.data
        a.expires, b.expires = b.expires, a.expires
    return OK
