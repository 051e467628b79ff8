"""Generic key commands: DEL, EXISTS, expiry, TYPE, KEYS, SCAN, RENAME, COPY, MOVE, SWAPDB,
FLUSHDB/FLUSHALL, OBJECT.
"""

from __future__ import annotations

import copy
import random
from collections import deque
from typing import TYPE_CHECKING, Any

from ._cmd_strings import _ENCODINGS, carry_encoding, string_encoding
from ._commands import command, parse_int_arg, syntax_error
from ._db import CommandError, Database, ZSet, type_name
from ._glob import compile_glob
from ._resp import Simple, parse_int
from ._scan import forget_scans, parse_cursor, parse_scan_options, scan_page, scan_reply

if TYPE_CHECKING:
    from ._server import Client, Server

__all__ = [
    "object_encoding",
]

OK = Simple("OK")
_LLONG_MAX = 2**63 - 1
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


@command("scan", -2, "readonly touches_arbitrary_keys", keys=(0, 0, 0))
def scan(client: Client, argv: list[bytes]) -> Any:
    cursor = parse_cursor(argv[1])
    pattern, count, kind = parse_scan_options(argv, 2, allow_type=True)
    db = client.db
    cursor, page = scan_page(db.data, cursor, count)
    matcher = compile_glob(pattern) if pattern is not None else None
    keys: list[bytes] = []
    for key in page:
        if matcher is not None and not matcher(key):
            continue
        value = db.get(key)
        if value is None or (kind is not None and _type_of(value).encode() != kind):
            continue
        keys.append(key)
    return scan_reply(cursor, keys)


# -- existence, deletion, types ----------------------------------------------------------------


def _delete(client: Client, argv: list[bytes]) -> Any:
    delete = client.db.delete
    return sum(1 for key in argv[1:] if delete(key))


command("del", -2, "write", keys=(1, -1, 1))(_delete)
command("unlink", -2, "write fast", keys=(1, -1, 1))(_delete)


def _count_existing(client: Client, argv: list[bytes]) -> Any:
    get = client.db.get
    return sum(1 for key in argv[1:] if get(key) is not None)


command("exists", -2, "readonly fast", keys=(1, -1, 1))(_count_existing)
command("touch", -2, "readonly fast", keys=(1, -1, 1))(_count_existing)


def _type_of(value: Any) -> str:
    try:
        return type_name(value)
    except KeyError:
        return str(getattr(value, "type_name", "unknown"))


@command("type", 2, "readonly fast")
def type_(client: Client, argv: list[bytes]) -> Any:
    value = client.db.get(argv[1])
    return Simple("none" if value is None else _type_of(value))


@command("keys", 2, "readonly", keys=(0, 0, 0))
def keys(client: Client, argv: list[bytes]) -> Any:
    pattern = argv[1]
    if pattern == b"*":
        return list(client.db.keys())
    matcher = compile_glob(pattern)
    live = client.db.keys()  # a generator that drops expired keys, not dict.keys()
    return [key for key in live if matcher(key)]


@command("randomkey", 1, "readonly touches_arbitrary_keys", keys=(0, 0, 0))
def randomkey(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    if not db.data:
        return None
    candidates = list(db.data)
    for _ in range(64):
        key = random.choice(candidates)
        if db.get(key) is not None:
            return key
    random.shuffle(candidates)
    return next((key for key in candidates if db.get(key) is not None), None)


@command("dbsize", 1, "readonly fast", keys=(0, 0, 0))
def dbsize(client: Client, argv: list[bytes]) -> Any:
    return len(client.db.data)


# -- expiry ------------------------------------------------------------------------------------

_NX, _XX, _GT, _LT = 1, 2, 4, 8
_EXPIRE_OPTIONS = {b"nx": _NX, b"xx": _XX, b"gt": _GT, b"lt": _LT}


def _error_text(arg: bytes) -> str:
    text = arg.split(b"\0", 1)[0].decode("utf-8", "replace")
    return text.replace("\r", " ").replace("\n", " ")


def _expire_generic(client: Client, argv: list[bytes], relative: bool, seconds: bool) -> int:
    flags = 0
    for opt in argv[3:]:
        flag = _EXPIRE_OPTIONS.get(opt.lower())
        if flag is None:
            raise CommandError(f"ERR Unsupported option {_error_text(opt)}")
        flags |= flag
    if flags & _NX and flags & (_XX | _GT | _LT):
        raise CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if flags & _GT and flags & _LT:
        raise CommandError("ERR GT and LT options at the same time are not compatible")
    when = parse_int_arg(argv[2])
    name = argv[0].lower().decode("utf-8", "replace")
    if seconds:
        if abs(when) > _LLONG_MAX // 1000:
            raise CommandError(f"ERR invalid expire time in '{name}' command")
        when *= 1000
    now = client.server.now_ms()
    if relative:
        if when > _LLONG_MAX - now:
            raise CommandError(f"ERR invalid expire time in '{name}' command")
        when += now
    db = client.db
    key = argv[1]
    if db.get(key) is None:
        return 0
    if flags:
        current = db.expires.get(key)
        if flags & _NX and current is not None:
            return 0
        if flags & _XX and current is None:
            return 0
        if flags & _GT and (current is None or when <= current):
            return 0
        if flags & _LT and current is not None and when >= current:
            return 0
    if when <= now:
        db.delete(key)
    else:
        db.set_expire(key, when)
    return 1


@command("expire", -3, "write fast")
def expire(client: Client, argv: list[bytes]) -> Any:
    return _expire_generic(client, argv, relative=True, seconds=True)


@command("pexpire", -3, "write fast")
def pexpire(client: Client, argv: list[bytes]) -> Any:
    return _expire_generic(client, argv, relative=True, seconds=False)


@command("expireat", -3, "write fast")
def expireat(client: Client, argv: list[bytes]) -> Any:
    return _expire_generic(client, argv, relative=False, seconds=True)


@command("pexpireat", -3, "write fast")
def pexpireat(client: Client, argv: list[bytes]) -> Any:
    return _expire_generic(client, argv, relative=False, seconds=False)


def _ttl_generic(client: Client, key: bytes, milliseconds: bool, absolute: bool) -> int:
    db = client.db
    if db.get(key) is None:
        return -2
    when = db.expires.get(key)
    if when is None:
        return -1
    ttl = max(when if absolute else when - client.server.now_ms(), 0)
    return ttl if milliseconds else (ttl + 500) // 1000


@command("ttl", 2, "readonly fast")
def ttl(client: Client, argv: list[bytes]) -> Any:
    return _ttl_generic(client, argv[1], milliseconds=False, absolute=False)


@command("pttl", 2, "readonly fast")
def pttl(client: Client, argv: list[bytes]) -> Any:
    return _ttl_generic(client, argv[1], milliseconds=True, absolute=False)


@command("expiretime", 2, "readonly fast")
def expiretime(client: Client, argv: list[bytes]) -> Any:
    return _ttl_generic(client, argv[1], milliseconds=False, absolute=True)


@command("pexpiretime", 2, "readonly fast")
def pexpiretime(client: Client, argv: list[bytes]) -> Any:
    return _ttl_generic(client, argv[1], milliseconds=True, absolute=True)


@command("persist", 2, "write fast")
def persist(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    if db.get(argv[1]) is None:
        return 0
    return 1 if db.persist(argv[1]) else 0


# -- renaming, copying, moving -----------------------------------------------------------------


def _rename(client: Client, argv: list[bytes], nx: bool) -> Any:
    db = client.db
    src, dst = argv[1], argv[2]
    value = db.get(src)
    if value is None:
        raise CommandError("ERR no such key")
    if src == dst:
        return 0 if nx else OK
    when = db.expires.get(src)
    if nx and db.get(dst) is not None:
        return 0
    db.set(dst, value)
    if when is not None:
        db.set_expire(dst, when)
    carry_encoding(db, src, db, dst, copy=False)
    db.delete(src)
    return 1 if nx else OK


@command("rename", 3, "write", keys=(1, 2, 1))
def rename(client: Client, argv: list[bytes]) -> Any:
    return _rename(client, argv, nx=False)


@command("renamenx", 3, "write fast", keys=(1, 2, 1))
def renamenx(client: Client, argv: list[bytes]) -> Any:
    return _rename(client, argv, nx=True)


def _db_index(arg: bytes, message: str | None = None) -> int:
    """Redis ``getIntFromObjectOrReply``: a 32-bit integer."""
    value = parse_int(arg)
    if value is None:
        raise CommandError(message or "ERR value is not an integer or out of range")
    if not _INT_MIN <= value <= _INT_MAX:
        raise CommandError(
            message or "ERR value is out of range, value must between -2147483648 and 2147483647"
        )
    return value


def _select(server: Server, index: int) -> Database:
    if not 0 <= index < len(server.dbs):
        raise CommandError("ERR DB index is out of range")
    return server.dbs[index]


def _duplicate(value: Any) -> Any:
    kind = type(value)
    if kind is bytes:
        return value
    if kind is deque:
        return deque(value)
    if kind is dict or kind is set:
        return value.copy()
    if kind is ZSet:
        twin = ZSet()
        twin.scores = dict(value.scores)
        twin.order = list(value.order)
        if _SKIPLISTS.get(id(value)) is value:
            keep_as_skiplist(twin)  # Redis copies a skiplist as a skiplist
        return twin
    return copy.deepcopy(value)


@command("copy", -3, "write denyoom", keys=(1, 2, 1))
def copy_(client: Client, argv: list[bytes]) -> Any:
    src = dst = client.db
    replace = False
    j = 3
    while j < len(argv):
        opt = argv[j].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"db" and j + 1 < len(argv):
            dst = _select(client.server, _db_index(argv[j + 1]))
            j += 1
        else:
            raise syntax_error()
        j += 1
    key, new_key = argv[1], argv[2]
    if src is dst and key == new_key:
        raise CommandError("ERR source and destination objects are the same")
    value = src.get(key)
    if value is None:
        return 0
    when = src.expires.get(key)
    if dst.get(new_key) is not None and not replace:
        return 0
    dst.set(new_key, _duplicate(value))
    if when is not None:
        dst.set_expire(new_key, when)
    carry_encoding(src, key, dst, new_key, copy=True)
    return 1


@command("move", 3, "write fast")
def move(client: Client, argv: list[bytes]) -> Any:
    src = client.db
    dst = _select(client.server, _db_index(argv[2]))
    if dst is src:
        raise CommandError("ERR source and destination objects are the same")
    key = argv[1]
    value = src.get(key)
    if value is None:
        return 0
    when = src.expires.get(key)
    if dst.get(key) is not None:
        return 0
    dst.set(key, value)
    if when is not None:
        dst.set_expire(key, when)
    carry_encoding(src, key, dst, key, copy=False)
    src.delete(key)
    return 1


@command("swapdb", 3, "write fast", keys=(0, 0, 0))
def swapdb(client: Client, argv: list[bytes]) -> Any:
    first = _db_index(argv[1], "ERR invalid first DB index")
    second = _db_index(argv[2], "ERR invalid second DB index")
    server = client.server
    one, two = _select(server, first), _select(server, second)
    if one is two:
        return OK
    one.data, two.data = two.data, one.data
    one.expires, two.expires = two.expires, one.expires
    # WATCHers of a key that exists on either side see a change; clients blocked on a key
    # that now exists get to retry (each keeps waiting on its own database number).
    for db_id, key in [*server.watchers, *server.blocked_on]:
        if db_id in (first, second) and (key in one.data or key in two.data):
            server.key_touched(server.dbs[db_id], key)
    return OK


# -- flushing ----------------------------------------------------------------------------------


def _check_flush_args(argv: list[bytes]) -> None:
    if len(argv) == 2 and argv[1].lower() in (b"sync", b"async"):
        return
    if len(argv) != 1:
        raise syntax_error()


def _flush(dbs: list[Database]) -> None:
    for db in dbs:
        db.flush()
    if _ENCODINGS:
        idents = {id(db.data) for db in dbs}
        for slot in [slot for slot in _ENCODINGS if slot[0] in idents]:
            del _ENCODINGS[slot]
    forget_scans([db.data for db in dbs])


@command("flushdb", -1, "write", keys=(0, 0, 0))
def flushdb(client: Client, argv: list[bytes]) -> Any:
    _check_flush_args(argv)
    _flush([client.db])
    return OK


@command("flushall", -1, "write", keys=(0, 0, 0))
def flushall(client: Client, argv: list[bytes]) -> Any:
    _check_flush_args(argv)
    _flush(client.server.dbs)
    return OK


# -- OBJECT ------------------------------------------------------------------------------------


def _config_int(server: Server, name: str, default: int) -> int:
    value = parse_int(server.config.values.get(name, "").encode())
    return default if value is None else value


#: Sorted sets that Redis would have converted to a skiplist for good (SORT does that to any
#: sorted set it reads), by id; the object is kept so that a recycled id cannot match. A small
#: LRU, like the strings' remembered encodings.
_SKIPLISTS: dict[int, ZSet] = {}
_SKIPLISTS_MAX = 1024


def keep_as_skiplist(zset: ZSet) -> None:
    """From now on, report (and DUMP) ``zset`` in the skiplist encoding, as Redis would."""
    _SKIPLISTS.pop(id(zset), None)
    if len(_SKIPLISTS) >= _SKIPLISTS_MAX:
        del _SKIPLISTS[next(iter(_SKIPLISTS))]
    _SKIPLISTS[id(zset)] = zset


def object_encoding(db: Database, key: bytes, value: Any) -> str:
    """What OBJECT ENCODING says for ``value`` (thresholds from the config, Redis 7.0 defaults)."""
    kind = type(value)
    if kind is bytes:
        return string_encoding(db, key, value)[0]
    if kind is deque:
        return "quicklist"  # Redis 7.0 keeps every list in a quicklist
    server = db.server
    if kind is dict:
        limit = _config_int(server, "hash-max-listpack-value", 64)
        small = len(value) <= _config_int(server, "hash-max-listpack-entries", 512) and all(
            len(field) <= limit and len(item) <= limit for field, item in value.items()
        )
        return "listpack" if small else "hashtable"
    if kind is set:
        small = len(value) <= _config_int(server, "set-max-intset-entries", 512) and all(
            parse_int(member) is not None for member in value
        )
        return "intset" if small else "hashtable"
    if kind is ZSet:
        if _SKIPLISTS and _SKIPLISTS.get(id(value)) is value:
            return "skiplist"
        limit = _config_int(server, "zset-max-listpack-value", 64)
        small = len(value) <= _config_int(server, "zset-max-listpack-entries", 128) and all(
            len(member) <= limit for member in value.scores
        )
        return "listpack" if small else "skiplist"
    return str(getattr(value, "encoding", "unknown"))


def _lfu(server: Server) -> bool:
    return "lfu" in server.config.values.get("maxmemory-policy", "noeviction")


@command("object|encoding", 3, "readonly", keys=(2, 2, 1))
def object_encoding_command(client: Client, argv: list[bytes]) -> Any:
    value = client.db.get(argv[2])
    return None if value is None else object_encoding(client.db, argv[2], value).encode()


@command("object|refcount", 3, "readonly", keys=(2, 2, 1))
def object_refcount(client: Client, argv: list[bytes]) -> Any:
    value = client.db.get(argv[2])
    if value is None:
        return None
    return string_encoding(client.db, argv[2], value)[1] if type(value) is bytes else 1


@command("object|idletime", 3, "readonly", keys=(2, 2, 1))
def object_idletime(client: Client, argv: list[bytes]) -> Any:
    if client.db.get(argv[2]) is None:
        return None
    if _lfu(client.server):
        raise CommandError(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that "
            "when switching between policies at runtime LRU and LFU data will take some time "
            "to adjust."
        )
    return 0  # access times are not tracked


@command("object|freq", 3, "readonly", keys=(2, 2, 1))
def object_freq(client: Client, argv: list[bytes]) -> Any:
    if client.db.get(argv[2]) is None:
        return None
    if not _lfu(client.server):
        raise CommandError(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please "
            "note that when switching between policies at runtime LRU and LFU data will take "
            "some time to adjust."
        )
    return 5  # Redis's LFU_INIT_VAL: access frequencies are not tracked


_OBJECT_HELP = [
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
]


@command("object|help", 2, "loading stale", keys=(0, 0, 0))
def object_help(client: Client, argv: list[bytes]) -> Any:
    name = argv[0].upper().decode("utf-8", "replace")
    lines = [f"{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"]
    lines += _OBJECT_HELP
    lines += ["HELP", "    Prints this help."]
    return [Simple(line) for line in lines]
