"""Hash commands: HSET, HGET, HGETALL, HINCRBY, HINCRBYFLOAT, HRANDFIELD, HSCAN and the rest.

A hash is a plain ``dict`` of field to value (both ``bytes``). Python dicts keep insertion order
and update values in place, which is exactly the order Redis gives for small (listpack-encoded)
hashes, so HGETALL, HKEYS and friends match Redis byte for byte there; big hashes are unordered
in Redis anyway.

HINCRBYFLOAT (and the blocking list commands' timeouts) compute in C ``long double`` in Redis:
x87 80-bit extended precision. ``parse_long_double``, ``long_double_round`` and
``format_long_double`` emulate it exactly with rationals (correctly rounded parsing like
``strtold``, sums rounded to a 64-bit mantissa, ``%.17Lf`` printing), so results agree to the
last digit, including values beyond the range of a Python float.
"""

from __future__ import annotations

import random
import re
from fractions import Fraction
from itertools import islice
from typing import TYPE_CHECKING, Any

from ._commands import command, parse_int_arg, syntax_error
from ._db import WRONGTYPE, CommandError
from ._glob import compile_glob
from ._resp import Map, Simple, parse_int
from ._scan import parse_cursor, parse_scan_options, scan_page

if TYPE_CHECKING:
    from ._server import Client

__all__ = [
    "LongDouble",
    "format_long_double",
    "long_double_round",
    "parse_long_double",
]

OK = Simple("OK")
_LLONG_MIN = -(2**63)
_LLONG_MAX = 2**63 - 1
_EMPTY_SCAN: list[Any] = [b"0", []]

# -- long double (x87 80-bit) emulation -------------------------------------------------------

#: A finite long double as an exact rational, or an infinity (``float``).
LongDouble = Fraction | float

_LD_MIN_SHIFT = -16445  # the smallest subnormal is 2**-16445
_LD_OVERFLOW = 2**16384  # anything that rounds to this or more is infinite
_LD_MAX_CHARS = 5 * 1024  # Redis's MAX_LONG_DOUBLE_CHARS
_LD_SYNTAX = re.compile(
    rb"([+-]?)(?:"
    rb"0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?[0-9]+))?"
    rb"|([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?"
    rb"|([iI][nN][fF](?:[iI][nN][iI][tT][yY])?)"
    rb")"
)


def long_double_round(value: Fraction) -> LongDouble:
    """Round an exact rational to the nearest long double (ties to even), or to +-inf."""
    if not value:
        return value
    p, q = abs(value.numerator), value.denominator
    exponent = p.bit_length() - q.bit_length()  # floor(log2(p/q)) is this or one less
    if (p << max(-exponent, 0)) < (q << max(exponent, 0)):
        exponent -= 1
    shift = max(exponent - 63, _LD_MIN_SHIFT)
    if shift >= 0:
        mantissa, rest = divmod(p, q << shift)
        half = (q << shift) - 2 * rest
    else:
        mantissa, rest = divmod(p << -shift, q)
        half = q - 2 * rest
    if half < 0 or (half == 0 and mantissa & 1):
        mantissa += 1
    result = Fraction(mantissa << shift) if shift >= 0 else Fraction(mantissa, 1 << -shift)
    if result >= _LD_OVERFLOW:
        return float("inf") if value > 0 else float("-inf")
    return result if value > 0 else -result


def _big_int(digits: bytes, base: int) -> int:
    """``int(digits, base)`` for any length (Python limits decimal conversions to 4300 digits)."""
    value = 0
    for i in range(0, len(digits), 1000):
        chunk = digits[i : i + 1000]
        value = value * base ** len(chunk) + int(chunk, base)
    return value


def parse_long_double(text: bytes) -> LongDouble | None:
    """Redis ``string2ld``: ``strtold`` on the whole string, else None (also for NaN, leading
    space, overflow to infinity and underflow to zero)."""
    if not text or len(text) >= _LD_MAX_CHARS:
        return None
    match = _LD_SYNTAX.fullmatch(text)
    if match is None:
        return None
    sign, hex_int, hex_frac, hex_exp, dec_int, dec_frac, dec_exp, inf = match.groups()
    negative = sign == b"-"
    if inf:
        return float("-inf") if negative else float("inf")
    hexadecimal = hex_int is not None
    whole, fraction, exponent = (
        (hex_int, hex_frac, hex_exp) if hexadecimal else (dec_int, dec_frac, dec_exp)
    )
    fraction = fraction or b""
    digits = (whole or b"") + fraction
    if not digits:
        return None
    significant = digits.lstrip(b"0")
    if not significant:
        return Fraction(0)
    if hexadecimal:
        mantissa = int(significant, 16)
        shift = int(exponent or 0) - 4 * len(fraction)
        top = mantissa.bit_length() + shift  # 2**(top-1) <= value < 2**top
        too_big, too_small = top - 1 >= 16384, top < -16446
    else:
        mantissa = _big_int(significant, 10)
        shift = int(exponent or 0) - len(fraction)
        top = len(significant) + shift  # 10**(top-1) <= value < 10**top
        too_big, too_small = top - 1 >= 4933, top <= -4952
    if too_big or too_small:
        return None  # strtold overflows to HUGE_VAL or underflows to zero: ERANGE
    scale = Fraction(2 if hexadecimal else 10) ** shift
    rounded = long_double_round(mantissa * scale if not negative else -mantissa * scale)
    if isinstance(rounded, float) or not rounded:
        return None
    return rounded


def _big_str(value: int) -> str:
    """``str(value)`` for any size (Python limits conversions to 4300 digits)."""
    if value < 10**4000:
        return str(value)
    chunks = []
    while value:
        value, chunk = divmod(value, 10**1000)
        chunks.append(f"{chunk:01000d}")
    return "".join(reversed(chunks)).lstrip("0")


def format_long_double(value: Fraction) -> bytes:
    """Redis ``ld2string(..., LD_STR_HUMAN)``: ``%.17Lf`` without trailing zeros."""
    negative = value < 0
    magnitude = -value if negative else value
    scaled, rest = divmod(magnitude.numerator * 10**17, magnitude.denominator)
    twice = 2 * rest
    if twice > magnitude.denominator or (twice == magnitude.denominator and scaled & 1):
        scaled += 1
    whole, fraction = divmod(scaled, 10**17)
    text = f"{_big_str(whole)}.{fraction:017d}".rstrip("0").removesuffix(".")
    if negative and text != "0":
        text = "-" + text
    return text.encode()


# -- scan cursors -----------------------------------------------------------


# -- helpers ----------------------------------------------------------------------------------


def _arity_error(name: str) -> CommandError:
    return CommandError(f"ERR wrong number of arguments for '{name}' command")


def _hash(client: Client, key: bytes) -> dict[bytes, bytes] | None:
    value: dict[bytes, bytes] | None = client.db.get_typed(key, dict)
    return value


def _store(
    client: Client, key: bytes, h: dict[bytes, bytes] | None, field: bytes, value: bytes
) -> None:
    """Set one field, creating the hash if needed; tells watchers once."""
    if h is None:
        client.db.set(key, {field: value})
    else:
        h[field] = value
        client.db.touch(key)


# -- commands ---------------------------------------------------------------------------------


def _hset(client: Client, argv: list[bytes], name: str) -> int:
    if len(argv) % 2:
        raise _arity_error(name)
    db = client.db
    key = argv[1]
    h = db.get(key)
    if h is None:
        h = dict(zip(argv[2::2], argv[3::2], strict=True)) if len(argv) > 4 else {argv[2]: argv[3]}
        db.set(key, h)
        return len(h)
    if type(h) is not dict:
        raise CommandError(WRONGTYPE)
    before = len(h)
    if len(argv) == 4:
        h[argv[2]] = argv[3]
    else:
        h.update(zip(argv[2::2], argv[3::2], strict=True))
    db.touch(key)
    return len(h) - before


@command("hset", -4, "write denyoom fast")
def hset(client: Client, argv: list[bytes]) -> Any:
    return _hset(client, argv, "hset")


@command("hmset", -4, "write denyoom fast")
def hmset(client: Client, argv: list[bytes]) -> Any:
    _hset(client, argv, "hmset")
    return OK


@command("hsetnx", 4, "write denyoom fast")
def hsetnx(client: Client, argv: list[bytes]) -> Any:
    h = _hash(client, argv[1])
    if h is not None and argv[2] in h:
        return 0
    _store(client, argv[1], h, argv[2], argv[3])
    return 1


@command("hget", 3, "readonly fast")
def hget(client: Client, argv: list[bytes]) -> Any:
    h = client.db.get_typed(argv[1], dict)
    return None if h is None else h.get(argv[2])


@command("hmget", -3, "readonly fast")
def hmget(client: Client, argv: list[bytes]) -> Any:
    h = client.db.get_typed(argv[1], dict)
    if h is None:
        return [None] * (len(argv) - 2)
    get = h.get
    return [get(field) for field in argv[2:]]


@command("hdel", -3, "write fast")
def hdel(client: Client, argv: list[bytes]) -> Any:
    db = client.db
    key = argv[1]
    h = db.get_typed(key, dict)
    if h is None:
        return 0
    deleted = 0
    for field in argv[2:]:
        if h.pop(field, None) is not None:
            deleted += 1
            if not h:
                break
    if deleted:
        db.touch(key)
        db.drop_if_empty(key, h)
    return deleted


@command("hlen", 2, "readonly fast")
def hlen(client: Client, argv: list[bytes]) -> Any:
    h = client.db.get_typed(argv[1], dict)
    return 0 if h is None else len(h)


@command("hstrlen", 3, "readonly fast")
def hstrlen(client: Client, argv: list[bytes]) -> Any:
    h = client.db.get_typed(argv[1], dict)
    value = None if h is None else h.get(argv[2])
    return 0 if value is None else len(value)


@command("hexists", 3, "readonly fast")
def hexists(client: Client, argv: list[bytes]) -> Any:
    h = client.db.get_typed(argv[1], dict)
    return 1 if h is not None and argv[2] in h else 0


@command("hgetall", 2, "readonly")
def hgetall(client: Client, argv: list[bytes]) -> Any:
    h = client.db.get_typed(argv[1], dict)
    return Map(() if h is None else h.items())


@command("hkeys", 2, "readonly")
def hkeys(client: Client, argv: list[bytes]) -> Any:
    h = client.db.get_typed(argv[1], dict)
    return [] if h is None else list(h)


@command("hvals", 2, "readonly")
def hvals(client: Client, argv: list[bytes]) -> Any:
    h = client.db.get_typed(argv[1], dict)
    return [] if h is None else list(h.values())


@command("hincrby", 4, "write denyoom fast")
def hincrby(client: Client, argv: list[bytes]) -> Any:
    increment = parse_int_arg(argv[3])
    h = _hash(client, argv[1])
    old = None if h is None else h.get(argv[2])
    if old is None:
        value = 0
    else:
        parsed = parse_int(old)
        if parsed is None:
            raise CommandError("ERR hash value is not an integer")
        value = parsed
    value += increment
    if not _LLONG_MIN <= value <= _LLONG_MAX:
        raise CommandError("ERR increment or decrement would overflow")
    _store(client, argv[1], h, argv[2], b"%d" % value)
    return value


@command("hincrbyfloat", 4, "write denyoom fast")
def hincrbyfloat(client: Client, argv: list[bytes]) -> Any:
    increment = parse_long_double(argv[3])
    if increment is None:
        raise CommandError("ERR value is not a valid float")
    if isinstance(increment, float):
        raise CommandError("ERR value is NaN or Infinity")
    h = _hash(client, argv[1])
    old = None if h is None else h.get(argv[2])
    value: LongDouble = Fraction(0)
    if old is not None:
        parsed = parse_long_double(old)
        if parsed is None:
            raise CommandError("ERR hash value is not a float")
        value = parsed
    if isinstance(value, float):
        raise CommandError("ERR increment would produce NaN or Infinity")
    total = long_double_round(value + increment)
    if isinstance(total, float):
        raise CommandError("ERR increment would produce NaN or Infinity")
    text = format_long_double(total)
    _store(client, argv[1], h, argv[2], text)
    return text


@command("hrandfield", -2, "readonly")
def hrandfield(client: Client, argv: list[bytes]) -> Any:
    argc = len(argv)
    if argc == 2:
        h = client.db.get_typed(argv[1], dict)
        if h is None:
            return None
        return next(islice(h, random.randrange(len(h)), None))
    count = parse_int_arg(argv[2])
    if count == _LLONG_MIN:
        raise CommandError(
            f"ERR value is out of range, value must between {-_LLONG_MAX} and {_LLONG_MAX}"
        )
    if argc > 4 or (argc == 4 and argv[3].lower() != b"withvalues"):
        raise syntax_error()
    with_values = argc == 4
    if with_values and not -(_LLONG_MAX // 2) <= count <= _LLONG_MAX // 2:
        raise CommandError("ERR value is out of range")
    h = client.db.get_typed(argv[1], dict)
    if h is None or count == 0:
        return []
    if count < 0 or count == 1:  # with repetitions, in random order
        picked = random.choices(list(h.items()), k=-count if count < 0 else 1)
    elif count >= len(h):  # the whole hash, in its own order
        picked = list(h.items())
    else:
        picked = random.sample(list(h.items()), count)
    if not with_values:
        return [field for field, _ in picked]
    if client.resp3:
        return [list(pair) for pair in picked]
    return [item for pair in picked for item in pair]


@command("hscan", -3, "readonly")
def hscan(client: Client, argv: list[bytes]) -> Any:
    cursor = parse_cursor(argv[2])
    h = client.db.get_typed(argv[1], dict)
    if h is None:
        return _EMPTY_SCAN
    pattern, count, _ = parse_scan_options(argv, 3)
    if len(h) <= 128 and all(len(f) <= 64 and len(v) <= 64 for f, v in h.items()):
        # Redis keeps such a hash as a listpack and returns all of it at once.
        cursor, fields = 0, list(h)
    else:
        cursor, fields = scan_page(h, cursor, count)
    if pattern is not None:
        matches = compile_glob(pattern)
        fields = [field for field in fields if matches(field)]
    reply: list[bytes] = []
    for field in fields:
        reply.append(field)
        reply.append(h[field])
    return [b"%d" % cursor, reply]
