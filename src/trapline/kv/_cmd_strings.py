"""String commands: GET, SET and its options, counters, ranges, multi-key forms.

Error texts, option parsing order and reply shapes follow Redis 7.0.15's ``t_string.c``; the
differential tests compare the raw replies with a real redis-server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._cmd_hashes import format_long_double, long_double_round, parse_long_double
from ._commands import command, parse_int_arg, syntax_error
from ._db import WRONGTYPE, CommandError
from ._resp import Map, Simple, parse_int

if TYPE_CHECKING:
    from ._server import Client

OK = Simple("OK")
_LLONG_MAX = 2**63 - 1
_LLONG_MIN = -(2**63)
_NOT_INT = "ERR value is not an integer or out of range"


def _string(client: Client, key: bytes) -> bytes | None:
    value = client.db.get(key)
    if value is not None and type(value) is not bytes:
        raise CommandError(WRONGTYPE)
    return value


def _expire_error(name: str) -> CommandError:
    return CommandError(f"ERR invalid expire time in '{name}' command")


def _absolute_ms(client: Client, arg: bytes, unit_ms: int, relative: bool, name: str) -> int:
    """Redis ``getExpireMillisecondsOrReply``."""
    value = parse_int(arg)
    if value is None:
        raise CommandError(_NOT_INT)
    if value <= 0 or (unit_ms == 1000 and value > _LLONG_MAX // 1000):
        raise _expire_error(name)
    value *= unit_ms
    if relative:
        value += client.server.now_ms()
    if value <= 0 or value > _LLONG_MAX:
        raise _expire_error(name)
    return value


_EXPIRY_OPTIONS = {
    b"ex": (1000, True),
    b"px": (1, True),
    b"exat": (1000, False),
    b"pxat": (1, False),
}


@command("get", 2, "readonly fast")
def get(client: Client, argv: list[bytes]) -> Any:
    value = client.db.get(argv[1])
    if value is not None and type(value) is not bytes:
        raise CommandError(WRONGTYPE)
    return value


@command("set", -3, "write denyoom")
def set_(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    key, value = argv[1], argv[2]
    if len(argv) == 3:  # the common case
        db.set(key, value)
        return OK
    nx = xx = get_old = keepttl = False
    expiry: tuple[bytes, bytes] | None = None
    i = 3
    while i < len(argv):
        option = argv[i].lower()
        following = i + 1 < len(argv)
        if option == b"nx" and not xx:
            nx = True
        elif option == b"xx" and not nx:
            xx = True
        elif option == b"get":
            get_old = True
        elif option == b"keepttl" and expiry is None:
            keepttl = True
        elif option in _EXPIRY_OPTIONS and expiry is None and not keepttl and following:
            expiry = (option, argv[i + 1])
            i += 1
        else:
            raise syntax_error()
        i += 1
    when = None
    if expiry is not None:
        unit, relative = _EXPIRY_OPTIONS[expiry[0]]
        when = _absolute_ms(client, expiry[1], unit, relative, "set")
    old = None
    if get_old:
        old = _string(client, key)
    exists = db.get(key) is not None
    if (nx and exists) or (xx and not exists):
        return old if get_old else None
    db.set(key, value, keep_ttl=keepttl)
    if when is not None:
        db.set_expire(key, when)
    return old if get_old else OK


@command("setnx", 3, "write denyoom fast")
def setnx(client: Client, argv: list[bytes]) -> Any:
    if client.db.get(argv[1]) is not None:
        return 0
    client.db.set(argv[1], argv[2])
    return 1


def _setex(client: Client, argv: list[bytes], unit_ms: int, name: str) -> Any:
    when = _absolute_ms(client, argv[2], unit_ms, True, name)
    client.db.set(argv[1], argv[3])
    client.db.set_expire(argv[1], when)
    return OK


@command("setex", 4, "write denyoom")
def setex(client: Client, argv: list[bytes]) -> Any:
    return _setex(client, argv, 1000, "setex")


@command("psetex", 4, "write denyoom")
def psetex(client: Client, argv: list[bytes]) -> Any:
    return _setex(client, argv, 1, "psetex")


@command("getex", -2, "write fast")
def getex(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    key = argv[1]
    expiry: tuple[bytes, bytes] | None = None
    persist = False
    i = 2
    while i < len(argv):
        option = argv[i].lower()
        if option in _EXPIRY_OPTIONS and expiry is None and not persist and i + 1 < len(argv):
            expiry = (option, argv[i + 1])
            i += 1
        elif option == b"persist" and expiry is None:
            persist = True
        else:
            raise syntax_error()
        i += 1
    when = None
    if expiry is not None:
        unit, relative = _EXPIRY_OPTIONS[expiry[0]]
        when = _absolute_ms(client, expiry[1], unit, relative, "getex")
    value = _string(client, key)
    if value is None:
        return None
    if when is not None:
        db.set_expire(key, when)
    elif persist:
        db.persist(key)
    return value


@command("getdel", 2, "write fast")
def getdel(client: Client, argv: list[bytes]) -> Any:
    value = _string(client, argv[1])
    if value is not None:
        client.db.delete(argv[1])
    return value


@command("getset", 3, "write denyoom fast")
def getset(client: Client, argv: list[bytes]) -> Any:
    old = _string(client, argv[1])
    client.db.set(argv[1], argv[2])
    return old


@command("mget", -2, "readonly fast", keys=(1, -1, 1))
def mget(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    result = []
    for key in argv[1:]:
        value = db.get(key)
        result.append(value if type(value) is bytes else None)
    return result


def _pairs(argv: list[bytes], name: str) -> list[tuple[bytes, bytes]]:
    if len(argv) % 2 == 0:
        raise CommandError(f"ERR wrong number of arguments for '{name}' command")
    return list(zip(argv[1::2], argv[2::2], strict=True))


@command("mset", -3, "write denyoom", keys=(1, -1, 2))
def mset(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    for key, value in _pairs(argv, "mset"):
        db.set(key, value)
    return OK


@command("msetnx", -3, "write denyoom", keys=(1, -1, 2))
def msetnx(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    pairs = _pairs(argv, "msetnx")
    if any(db.get(key) is not None for key, _ in pairs):
        return 0
    for key, value in pairs:
        db.set(key, value)
    return 1


def _incr(client: Client, key: bytes, increment: int) -> Any:
    db = client.db
    value = _string(client, key)
    if value is None:
        current = 0
    else:
        parsed = parse_int(value)
        if parsed is None:
            raise CommandError(_NOT_INT)
        current = parsed
    result = current + increment
    if result > _LLONG_MAX or result < _LLONG_MIN:
        raise CommandError("ERR increment or decrement would overflow")
    db.set(key, b"%d" % result, keep_ttl=True)
    return result


@command("incr", 2, "write denyoom fast")
def incr(client: Client, argv: list[bytes]) -> Any:
    return _incr(client, argv[1], 1)


@command("decr", 2, "write denyoom fast")
def decr(client: Client, argv: list[bytes]) -> Any:
    return _incr(client, argv[1], -1)


@command("incrby", 3, "write denyoom fast")
def incrby(client: Client, argv: list[bytes]) -> Any:
    return _incr(client, argv[1], parse_int_arg(argv[2]))


@command("decrby", 3, "write denyoom fast")
def decrby(client: Client, argv: list[bytes]) -> Any:
    amount = parse_int_arg(argv[2])
    if amount == _LLONG_MIN:
        raise CommandError("ERR decrement would overflow")
    return _incr(client, argv[1], -amount)


@command("incrbyfloat", 3, "write denyoom fast")
def incrbyfloat(client: Client, argv: list[bytes]) -> Any:
    value = _string(client, argv[1])
    increment = parse_long_double(argv[2])
    current: Any = 0
    if value is not None:
        current = parse_long_double(value)
        if current is None:
            raise CommandError("ERR value is not a valid float")
    if increment is None:
        raise CommandError("ERR value is not a valid float")
    if isinstance(increment, float) or isinstance(current, float):
        raise CommandError("ERR increment would produce NaN or Infinity")
    total = long_double_round(current + increment)
    if isinstance(total, float):
        raise CommandError("ERR increment would produce NaN or Infinity")
    text = format_long_double(total)
    client.db.set(argv[1], text, keep_ttl=True)
    return text


def _check_size(client: Client, size: int) -> None:
    if size > client.server.config.get_int("proto-max-bulk-len"):
        raise CommandError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")


@command("append", 3, "write denyoom fast")
def append(client: Client, argv: list[bytes]) -> Any:
    value = _string(client, argv[1])
    if value is None:
        client.db.set(argv[1], argv[2])
        return len(argv[2])
    _check_size(client, len(value) + len(argv[2]))
    new = value + argv[2]
    client.db.set(argv[1], new, keep_ttl=True)
    return len(new)


@command("strlen", 2, "readonly fast")
def strlen(client: Client, argv: list[bytes]) -> Any:
    value = _string(client, argv[1])
    return 0 if value is None else len(value)


def _getrange(client: Client, argv: list[bytes]) -> Any:
    start = parse_int_arg(argv[2])
    end = parse_int_arg(argv[3])
    value = _string(client, argv[1])
    if value is None:
        return b""
    length = len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start = max(length + start, 0)
    if end < 0:
        end = max(length + end, 0)
    end = min(end, length - 1)
    if start > end or length == 0:
        return b""
    return value[start : end + 1]


@command("getrange", 4, "readonly")
def getrange(client: Client, argv: list[bytes]) -> Any:
    return _getrange(client, argv)


@command("substr", 4, "readonly")
def substr(client: Client, argv: list[bytes]) -> Any:
    return _getrange(client, argv)


@command("setrange", 4, "write denyoom")
def setrange(client: Client, argv: list[bytes]) -> Any:
    offset = parse_int_arg(argv[2])
    if offset < 0:
        raise CommandError("ERR offset is out of range")
    patch = argv[3]
    value = _string(client, argv[1])
    if value is None:
        if not patch:
            return 0
        _check_size(client, offset + len(patch))
        client.db.set(argv[1], b"\0" * offset + patch)
        return offset + len(patch)
    if not patch:
        return len(value)
    _check_size(client, offset + len(patch))
    padded = value.ljust(offset, b"\0")
    new = padded[:offset] + patch + padded[offset + len(patch) :]
    client.db.set(argv[1], new, keep_ttl=True)
    return len(new)


@command("lcs", -3, "readonly", keys=(1, 2, 1))
def lcs(client: Client, argv: list[bytes]) -> Any:
    """Longest common subsequence (Redis 7.0's dynamic programme, ranges emitted backwards)."""
    db = client.db
    a, b = db.get(argv[1]), db.get(argv[2])
    if (a is not None and type(a) is not bytes) or (b is not None and type(b) is not bytes):
        raise CommandError("ERR The specified keys must contain string values")
    a = a or b""
    b = b or b""
    get_len = get_idx = with_match_len = False
    min_match_len = 0
    i = 3
    while i < len(argv):
        option = argv[i].lower()
        if option == b"idx":
            get_idx = True
        elif option == b"len":
            get_len = True
        elif option == b"withmatchlen":
            with_match_len = True
        elif option == b"minmatchlen" and i + 1 < len(argv):
            min_match_len = max(parse_int_arg(argv[i + 1]), 0)
            i += 1
        else:
            raise syntax_error()
        i += 1
    if get_len and get_idx:
        raise CommandError("ERR If you want both the length and indexes, please just use IDX.")
    alen, blen = len(a), len(b)
    if (alen + 1) * (blen + 1) * 4 > client.server.config.get_int("proto-max-bulk-len"):
        raise CommandError(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
        )
    table = [[0] * (blen + 1) for _ in range(alen + 1)]
    for x in range(1, alen + 1):
        row, previous, ax = table[x], table[x - 1], a[x - 1]
        for y in range(1, blen + 1):
            if ax == b[y - 1]:
                row[y] = previous[y - 1] + 1
            else:
                up, left = previous[y], row[y - 1]
                row[y] = up if up > left else left
    total = table[alen][blen]
    if get_len:
        return total
    result = bytearray(total)
    matches: list[Any] = []
    index, x, y = total, alen, blen
    a_start = alen  # alen means "no range open"
    a_end = b_start = b_end = 0
    while x > 0 and y > 0:
        emit = False
        if a[x - 1] == b[y - 1]:
            result[index - 1] = a[x - 1]
            if a_start == alen:
                a_start = a_end = x - 1
                b_start = b_end = y - 1
            elif a_start == x and b_start == y:
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            index -= 1
            x -= 1
            y -= 1
        else:
            if table[x - 1][y] > table[x][y - 1]:
                x -= 1
            else:
                y -= 1
            if a_start != alen:
                emit = True
        if emit:
            length = a_end - a_start + 1
            if get_idx and (min_match_len == 0 or length >= min_match_len):
                match: list[Any] = [[a_start, a_end], [b_start, b_end]]
                if with_match_len:
                    match.append(length)
                matches.append(match)
            a_start = alen
    if get_idx:
        return Map([(b"matches", matches), (b"len", total)])
    return bytes(result)
