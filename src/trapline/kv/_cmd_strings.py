"""String commands: GET, SET and its variants, MGET/MSET, counters, APPEND, ranges, LCS.

Strings are stored as ``bytes``. Redis keeps small strings in one of three encodings (``int``,
``embstr``, ``raw``) and OBJECT ENCODING shows which; here the encoding follows from the
contents, except after the few commands that leave Redis with a different one (APPEND and
SETRANGE make ``raw`` strings, INCRBYFLOAT an ``embstr`` even when the result looks like an
integer, COPY an unshared ``int``). Those exceptions are remembered per key in a small table that
every string write here clears (``string_encoding`` reads it for OBJECT).

INCRBYFLOAT computes in x87 80-bit extended precision, as Redis's ``long double`` does on x86-64:
both operands are rounded to a 64-bit significand exactly as ``strtold`` rounds them, the sum is
rounded once, and the result is printed like ``%.17Lf`` with trailing zeros removed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ._commands import command, parse_int_arg, syntax_error
from ._db import WRONGTYPE, CommandError, Database
from ._resp import Map, Simple, parse_int

if TYPE_CHECKING:
    from ._server import Client

__all__ = ["carry_encoding", "forget_encoding", "string_encoding"]

OK = Simple("OK")
_LLONG_MIN = -(2**63)
_LLONG_MAX = 2**63 - 1

# -- encodings ---------------------------------------------------------------------------------

#: (id of the database's dict, key) -> (the value it applies to, its encoding). Bounded.
_ENCODINGS: dict[tuple[int, bytes], tuple[bytes, str]] = {}
_ENCODINGS_MAX = 4096
_EMBSTR_LIMIT = 44
_SHARED_INTEGERS = 10000
_NO_SHARED_POLICIES = frozenset({"allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu"})


def _mark(db: Database, key: bytes, value: bytes, encoding: str) -> None:
    if len(_ENCODINGS) >= _ENCODINGS_MAX:
        del _ENCODINGS[next(iter(_ENCODINGS))]
    _ENCODINGS[(id(db.data), key)] = (value, encoding)


def forget_encoding(db: Database, key: bytes) -> None:
    """Drop ``key``'s remembered encoding (any command storing a fresh string calls this)."""
    if _ENCODINGS:
        _ENCODINGS.pop((id(db.data), key), None)


def carry_encoding(
    src: Database, src_key: bytes, dst: Database, dst_key: bytes, *, copy: bool
) -> None:
    """Carry a string's encoding from ``src_key`` to ``dst_key`` (RENAME, MOVE, COPY)."""
    value = dst.data.get(dst_key)
    if type(value) is not bytes:
        return
    remembered = _ENCODINGS.get((id(src.data), src_key)) if _ENCODINGS else None
    forget_encoding(dst, dst_key)
    if remembered is not None and remembered[0] is value:
        _mark(dst, dst_key, value, remembered[1])
    elif copy and string_encoding(src, src_key, value)[0] == "int":
        _mark(dst, dst_key, value, "int")  # a duplicated integer is not the shared object


def string_encoding(db: Database, key: bytes, value: bytes) -> tuple[str, int]:
    """OBJECT ENCODING and OBJECT REFCOUNT of the string ``value`` stored at ``key``."""
    remembered = _ENCODINGS.get((id(db.data), key)) if _ENCODINGS else None
    if remembered is not None and remembered[0] is value:
        return remembered[1], 1
    if len(value) <= 20:
        number = parse_int(value)
        if number is not None:
            values = db.server.config.values
            shared = 0 <= number < _SHARED_INTEGERS and (
                values.get("maxmemory", "0") == "0"
                or values.get("maxmemory-policy", "noeviction") not in _NO_SHARED_POLICIES
            )
            return "int", 2147483647 if shared else 1
    return ("embstr" if len(value) <= _EMBSTR_LIMIT else "raw"), 1


# -- helpers -----------------------------------------------------------------------------------


def _get_string(db: Database, key: bytes) -> bytes | None:
    value = db.get(key)
    if value is None or type(value) is bytes:
        return value
    raise CommandError(WRONGTYPE)


def _check_length(client: Client, size: int, append: int) -> None:
    if size + append > client.server.config.get_int("proto-max-bulk-len"):
        raise CommandError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")


def _expire_error(name: str) -> CommandError:
    return CommandError(f"ERR invalid expire time in '{name}' command")


# Option flags shared by SET and GETEX (Redis's OBJ_* flags).
_NX, _XX, _EX, _PX, _KEEPTTL, _GET, _EXAT, _PXAT, _PERSIST = (1 << i for i in range(9))
_TIME_FLAGS = _EX | _PX | _EXAT | _PXAT


def _parse_extended(argv: list[bytes], start: int, is_set: bool) -> tuple[int, bytes | None]:
    """Redis ``parseExtendedStringArgumentsOrReply``: the flags and the expire argument."""
    flags = 0
    expire: bytes | None = None
    j = start
    argc = len(argv)
    while j < argc:
        opt = argv[j].upper()
        has_next = j < argc - 1
        if opt == b"NX" and is_set and not flags & _XX:
            flags |= _NX
        elif opt == b"XX" and is_set and not flags & _NX:
            flags |= _XX
        elif opt == b"GET" and is_set:
            flags |= _GET
        elif opt == b"KEEPTTL" and is_set and not flags & (_PERSIST | _TIME_FLAGS):
            flags |= _KEEPTTL
        elif opt == b"PERSIST" and not is_set and not flags & (_TIME_FLAGS | _KEEPTTL):
            flags |= _PERSIST
        elif (
            opt in _TIME_OPTIONS
            and has_next
            and not flags & (_KEEPTTL | _PERSIST | (_TIME_FLAGS & ~_TIME_OPTIONS[opt]))
        ):
            flags |= _TIME_OPTIONS[opt]
            expire = argv[j + 1]
            j += 1
        else:
            raise syntax_error()
        j += 1
    return flags, expire


_TIME_OPTIONS = {b"EX": _EX, b"PX": _PX, b"EXAT": _EXAT, b"PXAT": _PXAT}


def _expire_ms(client: Client, arg: bytes, flags: int, name: str) -> int:
    """Redis ``getExpireMillisecondsOrReply``: the absolute expiry in milliseconds."""
    when = parse_int_arg(arg)
    seconds = bool(flags & (_EX | _EXAT))
    if when <= 0 or (seconds and when > _LLONG_MAX // 1000):
        raise _expire_error(name)
    if seconds:
        when *= 1000
    if flags & (_EX | _PX):
        when += client.server.now_ms()
        if when > _LLONG_MAX:
            raise _expire_error(name)
    return when


# -- GET and SET -------------------------------------------------------------------------------


@command("get", 2, "readonly fast")
def get(client: Client, argv: list[bytes]) -> Any:
    value = client.db.get(argv[1])
    if value is None or type(value) is bytes:
        return value
    raise CommandError(WRONGTYPE)


@command("set", -3, "write denyoom")
def set_(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    key = argv[1]
    if len(argv) == 3:
        db.set(key, argv[2])
        if _ENCODINGS:
            forget_encoding(db, key)
        return OK
    flags, expire = _parse_extended(argv, 3, True)
    return _set_generic(client, flags, key, argv[2], expire, "set", OK, None)


def _set_generic(
    client: Client,
    flags: int,
    key: bytes,
    value: bytes,
    expire: bytes | None,
    name: str,
    ok_reply: Any,
    abort_reply: Any,
) -> Any:
    when = _expire_ms(client, expire, flags, name) if expire is not None else 0
    db = client.db
    old = _get_string(db, key) if flags & _GET else None
    found = db.get(key) is not None
    if (flags & _NX and found) or (flags & _XX and not found):
        return old if flags & _GET else abort_reply
    db.set(key, value, keep_ttl=bool(flags & _KEEPTTL))
    forget_encoding(db, key)
    if expire is not None:
        db.set_expire(key, when)
    return old if flags & _GET else ok_reply


@command("setnx", 3, "write denyoom fast")
def setnx(client: Client, argv: list[bytes]) -> Any:
    return _set_generic(client, _NX, argv[1], argv[2], None, "setnx", 1, 0)


@command("setex", 4, "write denyoom")
def setex(client: Client, argv: list[bytes]) -> Any:
    return _set_generic(client, _EX, argv[1], argv[3], argv[2], "setex", OK, None)


@command("psetex", 4, "write denyoom")
def psetex(client: Client, argv: list[bytes]) -> Any:
    return _set_generic(client, _PX, argv[1], argv[3], argv[2], "psetex", OK, None)


@command("getex", -2, "write fast")
def getex(client: Client, argv: list[bytes]) -> Any:
    flags, expire = _parse_extended(argv, 2, False)
    db = client.db
    key = argv[1]
    value = _get_string(db, key)
    if value is None:
        return None
    if expire is not None:
        when = _expire_ms(client, expire, flags, "getex")
        if flags & (_EXAT | _PXAT) and when <= client.server.now_ms():
            db.delete(key)
        else:
            db.set_expire(key, when)
    elif flags & _PERSIST:
        db.persist(key)
    return value


@command("getdel", 2, "write fast")
def getdel(client: Client, argv: list[bytes]) -> Any:
    value = _get_string(client.db, argv[1])
    if value is not None:
        client.db.delete(argv[1])
    return value


@command("getset", 3, "write denyoom fast")
def getset(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    old = _get_string(db, argv[1])
    db.set(argv[1], argv[2])
    forget_encoding(db, argv[1])
    return old


@command("mget", -2, "readonly fast", keys=(1, -1, 1))
def mget(client: Client, argv: list[bytes]) -> Any:
    get_value = client.db.get
    replies: list[Any] = []
    for key in argv[1:]:
        value = get_value(key)
        replies.append(value if type(value) is bytes else None)
    return replies


@command("mset", -3, "write denyoom", keys=(1, -1, 2))
def mset(client: Client, argv: list[bytes]) -> Any:
    if not len(argv) & 1:
        raise CommandError("ERR wrong number of arguments for 'mset' command")
    db = client.db
    keys = argv[1::2]
    db.set_many(keys, argv[2::2])
    if _ENCODINGS:
        for key in keys:
            forget_encoding(db, key)
    return OK


@command("msetnx", -3, "write denyoom", keys=(1, -1, 2))
def msetnx(client: Client, argv: list[bytes]) -> Any:
    if not len(argv) & 1:
        raise CommandError("ERR wrong number of arguments for 'msetnx' command")
    db = client.db
    if any(db.get(argv[i]) is not None for i in range(1, len(argv), 2)):
        return 0
    for i in range(1, len(argv), 2):
        db.set(argv[i], argv[i + 1])
        forget_encoding(db, argv[i])
    return 1


# -- counters ----------------------------------------------------------------------------------


def _incr_by(client: Client, key: bytes, delta: int) -> int:
    db = client.db
    value = db.get(key)
    if value is None:
        current = 0
    elif type(value) is not bytes:
        raise CommandError(WRONGTYPE)
    else:
        number = parse_int(value)
        if number is None:
            raise CommandError("ERR value is not an integer or out of range")
        current = number
    result = current + delta
    if result < _LLONG_MIN or result > _LLONG_MAX:
        raise CommandError("ERR increment or decrement would overflow")
    db.set(key, b"%d" % result, keep_ttl=True)
    if _ENCODINGS:
        forget_encoding(db, key)
    return result


@command("incr", 2, "write denyoom fast")
def incr(client: Client, argv: list[bytes]) -> Any:
    return _incr_by(client, argv[1], 1)


@command("decr", 2, "write denyoom fast")
def decr(client: Client, argv: list[bytes]) -> Any:
    return _incr_by(client, argv[1], -1)


@command("incrby", 3, "write denyoom fast")
def incrby(client: Client, argv: list[bytes]) -> Any:
    return _incr_by(client, argv[1], parse_int_arg(argv[2]))


@command("decrby", 3, "write denyoom fast")
def decrby(client: Client, argv: list[bytes]) -> Any:
    delta = parse_int_arg(argv[2])
    if delta == _LLONG_MIN:
        raise CommandError("ERR decrement would overflow")
    return _incr_by(client, argv[1], -delta)


# x87 extended precision: a 64-bit significand, exponents down to 2**-16382 (normal) and
# 2**-16445 (subnormal), largest finite value just under 2**16384.
_LD_DIGITS = 64
_LD_MIN_QUANTUM = -16445
_LD_MAX_BITS = 16384
_MAX_LONG_DOUBLE_CHARS = 5 * 1024
_DECIMAL = re.compile(rb"([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?")
_HEX = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?")
_INFINITY = re.compile(rb"[+-]?(?:inf|infinity)", re.IGNORECASE)
_INF = (0, 1 << 20)  # a marker: never a real (significand, exponent) pair
_CHUNK = 4000  # digits per step when converting very long numbers (Python limits int <-> str)


def _digits_to_int(digits: bytes, base: int = 10) -> int:
    if len(digits) <= _CHUNK:
        return int(digits, base) if digits else 0
    value = 0
    for i in range(0, len(digits), _CHUNK):
        chunk = digits[i : i + _CHUNK]
        value = value * base ** len(chunk) + int(chunk, base)
    return value


def _exponent(text: bytes | None) -> int:
    if not text:
        return 0
    if text[:1] in b"+-":
        value = _digits_to_int(text[1:])
        return -value if text[:1] == b"-" else value
    return _digits_to_int(text)


def _int_to_digits(value: int) -> bytes:
    if value < 10**_CHUNK:
        return b"%d" % value
    high, low = divmod(value, 10**_CHUNK)
    return _int_to_digits(high) + _int_to_digits(low).rjust(_CHUNK, b"0")


def _round_extended(negative: bool, num: int, den: int) -> tuple[int, int] | None:
    """Round ``num / den`` (positive) to extended precision: ``(significand, exponent)``,
    ``_INF`` on overflow, or None if a nonzero value underflows to zero."""
    if num == 0:
        return 0, 0
    exponent = num.bit_length() - den.bit_length()
    if (num < den << exponent) if exponent >= 0 else (num << -exponent < den):
        exponent -= 1
    quantum = max(exponent - (_LD_DIGITS - 1), _LD_MIN_QUANTUM)
    if quantum >= 0:
        den <<= quantum
    else:
        num <<= -quantum
    significand, remainder = divmod(num, den)
    twice = 2 * remainder
    if twice > den or (twice == den and significand & 1):
        significand += 1
    if significand == 0:
        return None
    if significand.bit_length() + quantum > _LD_MAX_BITS:
        return _INF
    return (-significand if negative else significand), quantum


def _parse_long_double(text: bytes) -> tuple[int, int] | None:
    """Redis ``string2ld`` (``strtold`` taking the whole string): None if not a valid float."""
    if not text or len(text) >= _MAX_LONG_DOUBLE_CHARS:
        return None
    match = _DECIMAL.fullmatch(text)
    if match is not None:
        sign, whole, fraction, exp = match.groups()
        fraction = fraction or b""
        if not whole and not fraction:
            return None
        digits = (whole + fraction).lstrip(b"0")
        if not digits:
            return 0, 0
        exponent = _exponent(exp) - len(fraction)
        magnitude = len(digits) + exponent  # the value is below 10**magnitude
        if magnitude > 4940:
            return None  # overflow: strtold sets ERANGE
        if magnitude < -4960:
            return None
        mantissa = _digits_to_int(digits)
        if exponent >= 0:
            value = _round_extended(sign == b"-", mantissa * 10**exponent, 1)
        else:
            value = _round_extended(sign == b"-", mantissa, 10**-exponent)
        return None if value is _INF else value
    match = _HEX.fullmatch(text)
    if match is not None:
        sign, whole, fraction, exp = match.groups()
        fraction = fraction or b""
        if not whole and not fraction:
            return None
        digits = (whole + fraction).lstrip(b"0")
        if not digits:
            return 0, 0
        exponent = _exponent(exp) - 4 * len(fraction)
        mantissa = _digits_to_int(digits, 16)
        bits = mantissa.bit_length() + exponent
        if bits > _LD_MAX_BITS + 1:
            return None
        if bits < _LD_MIN_QUANTUM - 2:
            return None
        if exponent >= 0:
            value = _round_extended(sign == b"-", mantissa << exponent, 1)
        else:
            value = _round_extended(sign == b"-", mantissa, 1 << -exponent)
        return None if value is _INF else value
    if _INFINITY.fullmatch(text) is not None:
        return _INF
    return None


def _format_long_double(significand: int, exponent: int) -> bytes:
    """``%.17Lf`` with trailing zeros (and a bare point) removed; ``-0`` prints as ``0``."""
    negative = significand < 0
    significand = abs(significand)
    if exponent >= 0:
        scaled = (significand << exponent) * 10**17
    else:
        den = 1 << -exponent
        scaled, remainder = divmod(significand * 10**17, den)
        twice = 2 * remainder
        if twice > den or (twice == den and scaled & 1):
            scaled += 1
    whole, fraction = divmod(scaled, 10**17)
    text = (_int_to_digits(whole) + b".%017d" % fraction).rstrip(b"0").rstrip(b".")
    if negative and text != b"0":
        return b"-" + text
    return text


@command("incrbyfloat", 3, "write denyoom fast")
def incrbyfloat(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    key = argv[1]
    value = _get_string(db, key)
    current = (0, 0) if value is None else _parse_long_double(value)
    increment = _parse_long_double(argv[2])
    if current is None or increment is None:
        raise CommandError("ERR value is not a valid float")
    if current is _INF or increment is _INF:
        raise CommandError("ERR increment would produce NaN or Infinity")
    (m1, e1), (m2, e2) = current, increment
    low = min(e1, e2)
    total = (m1 << (e1 - low)) + (m2 << (e2 - low))
    if low >= 0:
        result = _round_extended(total < 0, abs(total) << low, 1)
    else:
        result = _round_extended(total < 0, abs(total), 1 << -low)
    if result is _INF:
        raise CommandError("ERR increment would produce NaN or Infinity")
    text = _format_long_double(*result) if result is not None else b"0"
    db.set(key, text, keep_ttl=True)
    forget_encoding(db, key)
    if len(text) <= 20 and parse_int(text) is not None:
        _mark(db, key, text, "embstr")  # Redis does not re-encode the result as an integer
    return text


# -- APPEND, STRLEN, ranges --------------------------------------------------------------------


@command("append", 3, "write denyoom fast")
def append(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    key = argv[1]
    value = _get_string(db, key)
    if value is None:
        db.set(key, argv[2])
        forget_encoding(db, key)
        return len(argv[2])
    _check_length(client, len(value), len(argv[2]))
    value += argv[2]
    db.set(key, value, keep_ttl=True)
    forget_encoding(db, key)
    if len(value) <= _EMBSTR_LIMIT:
        _mark(db, key, value, "raw")
    return len(value)


@command("strlen", 2, "readonly fast")
def strlen(client: Client, argv: list[bytes]) -> Any:
    value = _get_string(client.db, argv[1])
    return 0 if value is None else len(value)


def _getrange(client: Client, argv: list[bytes]) -> Any:
    start = parse_int_arg(argv[2])
    end = parse_int_arg(argv[3])
    value = _get_string(client.db, argv[1])
    if value is None or (start < 0 and end < 0 and start > end):
        return b""
    length = len(value)
    if start < 0:
        start = max(start + length, 0)
    if end < 0:
        end = max(end + length, 0)
    end = min(end, length - 1)
    if start > end or length == 0:
        return b""
    return value[start : end + 1]


command("getrange", 4, "readonly")(_getrange)
command("substr", 4, "readonly")(_getrange)


@command("setrange", 4, "write denyoom")
def setrange(client: Client, argv: list[bytes]) -> Any:
    offset = parse_int_arg(argv[2])
    if offset < 0:
        raise CommandError("ERR offset is out of range")
    db = client.db
    key = argv[1]
    patch = argv[3]
    value = _get_string(db, key)
    if value is None:
        if not patch:
            return 0
        _check_length(client, offset, len(patch))
        value = b""
    elif not patch:
        return len(value)
    else:
        _check_length(client, offset, len(patch))
    if len(value) < offset:
        value += bytes(offset - len(value))
    value = value[:offset] + patch + value[offset + len(patch) :]
    db.set(key, value, keep_ttl=True)
    forget_encoding(db, key)
    if len(value) <= _EMBSTR_LIMIT:
        _mark(db, key, value, "raw")
    return len(value)


# -- LCS ---------------------------------------------------------------------------------------


def _lcs_rows(a: bytes, b: bytes) -> list[int]:
    """Bit-parallel LCS (Hyyro): ``rows[j]`` has a zero bit at position ``i`` exactly where
    ``LCS(a[:i+1], b[:j]) > LCS(a[:i], b[:j])``, so ``LCS(a[:i], b[:j])`` is the number of
    zero bits below ``i``."""
    full = (1 << len(a)) - 1
    masks: dict[int, int] = {}
    reverse = a[::-1]
    for byte in set(a).intersection(b):
        table = bytearray(b"0" * 256)
        table[byte] = 0x31  # '1'
        masks[byte] = int(reverse.translate(table), 2)
    rows = [full]
    row = full
    for byte in b:
        match = masks.get(byte, 0)
        if match:
            taken = row & match
            row = ((row + taken) | (row - taken)) & full
        rows.append(row)
    return rows


@command("lcs", -3, "readonly", keys=(1, 2, 1))
def lcs(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    a = db.get(argv[1])
    b = db.get(argv[2])
    if (a is not None and type(a) is not bytes) or (b is not None and type(b) is not bytes):
        raise CommandError("ERR The specified keys must contain string values")
    a = a or b""
    b = b or b""
    get_idx = get_len = with_match_len = False
    min_match_len = 0
    j = 3
    while j < len(argv):
        opt = argv[j].upper()
        if opt == b"IDX":
            get_idx = True
        elif opt == b"LEN":
            get_len = True
        elif opt == b"WITHMATCHLEN":
            with_match_len = True
        elif opt == b"MINMATCHLEN" and j < len(argv) - 1:
            min_match_len = max(parse_int_arg(argv[j + 1]), 0)
            j += 1
        else:
            raise syntax_error()
        j += 1
    if get_len and get_idx:
        raise CommandError("ERR If you want both the length and indexes, please just use IDX.")
    if len(a) >= 2**32 - 2 or len(b) >= 2**32 - 2:
        raise CommandError("ERR String too long for LCS")
    if (len(a) + 1) * (len(b) + 1) * 4 > client.server.config.get_int("proto-max-bulk-len"):
        raise CommandError(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
        )
    rows = _lcs_rows(a, b)
    i, j = len(a), len(b)
    total = i - rows[j].bit_count()
    if get_len:
        return total
    # Walk back from the end as Redis does, collecting the common bytes and the ranges.
    result = bytearray(total)
    idx = current = total
    matches: list[Any] = []
    a_start = a_end = b_start = b_end = -1
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            result[idx - 1] = a[i - 1]
            if a_start == -1:
                a_start = a_end = i - 1
                b_start = b_end = j - 1
            elif a_start == i and b_start == j:
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            idx -= 1
            current -= 1
            i -= 1
            j -= 1
        else:
            # LCS(i, j-1) == LCS(i, j) means Redis steps j back (it prefers j on ties).
            left = i - (rows[j - 1] & ((1 << i) - 1)).bit_count()
            if left == current:
                j -= 1
            else:
                i -= 1
            if a_start != -1:
                emit = True
        if emit:
            match_len = a_end - a_start + 1
            if get_idx and (min_match_len == 0 or match_len >= min_match_len):
                entry: list[Any] = [[a_start, a_end], [b_start, b_end]]
                if with_match_len:
                    entry.append(match_len)
                matches.append(entry)
            a_start = -1
    if get_idx:
        return Map([(b"matches", matches), (b"len", total)])
    return bytes(result)
