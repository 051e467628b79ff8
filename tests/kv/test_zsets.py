"""Sorted set commands against real Redis, byte for byte; blocking pops on the virtual clock."""

import random
import time

import pytest
from conftest import encode_command, own_server_fixtures
from test_sets import parse, use_resp3

import trapline
import trapline.kv
from trapline.kv._commands import Blocked
from trapline.kv._resp import NullArray, encode

# -- fixtures and helpers --------------------------------------------------------------------------


kv_server, kv_port, _empty_keyspace = own_server_fixtures()


def check_all(differ, *commands):
    for command in commands:
        differ.check(*command)


def script(differ, text):
    """Check each ``;``-terminated command of ``text`` (arguments split on whitespace)."""
    for command in text.split(";"):
        if command.split():
            differ.check(*command.split())


def fill(differ, key="z", count=10):
    """A sorted set with members m0..m<count-1> scoring 0..count-1 (halves on odd members)."""
    args = []
    for i in range(count):
        args += [str(i + 0.5 if i % 2 else i), f"m{i}"]
    differ.check("ZADD", key, *args)


LEX_MEMBERS = [*"a b c d e f g bb".split(), "", b"\xff"]
LEX = ["ZADD", "lex", *[arg for member in LEX_MEMBERS for arg in ("0", member)]]


# -- ZADD / ZINCRBY --------------------------------------------------------------------------------


def test_zadd_basics_and_options(differ):
    script(
        differ,
        """
        ZADD z 10 x 20 y 30 z; ZADD z 1 x 1 x; ZADD z 5 x; ZADD z CH 5 x 6 y 7 new; ZADD z XX
        100 x 1 nope; ZADD z XX CH 101 x 1 nope; ZADD z NX 1 x 2 fresh; ZADD z NX CH 1 x 3
        fresh2; ZADD z GT CH 50 x 500 y 1 z 9 gtnew; ZADD z LT CH 50 x 500 y 1 z 9 ltnew; ZADD z
        XX GT CH 1000 x 1 y 1 xxgt; ZADD z xx lt ch -1 x 1000 y; ZRANGE z 0 -1 WITHSCORES; ZADD
        missing XX 1 a; ZADD missing XX INCR 1 a; ZCARD missing; ZADD nx NX 1 a; ZADD nx GT 2 b;
        ZRANGE nx 0 -1 WITHSCORES
    """,
    )


def test_zadd_errors(differ):
    differ.check("ZADD", "z", "1", "a")
    # Scores are all parsed before anything is added (ZADD z 1 a x b adds nothing).
    script(
        differ,
        """
        ZADD z; ZADD z 1; ZADD z NX; ZADD z NX 1; ZADD z 1 a 2; ZADD z XX NX 1 a; ZADD z NX XX 1
        a; ZADD z GT NX 1 a; ZADD z LT NX 1 a; ZADD z GT LT 1 a; ZADD z NX XX GT LT 1 a; ZADD z
        INCR 1 a 2 b; ZADD z INCR NX XX 1 a 2 b; ZADD z 1 a x b; ZADD z INCR x a; ZADD z CH CH 2
        a; ZADD z 1 a NX b; ZRANGE z 0 -1 WITHSCORES
    """,
    )


@pytest.mark.parametrize(
    "score",
    [
        "abc", "", " 1", "1 ", "nan", "NaN", "-nan", "inf", "-inf", "+inf", "Infinity", "-infinity",
        "1e400", "-1e400", "1e-400", "1e-310", "0x10", "0X1p-2", "0x", "1_0", "1e", "1e+", ".5",
        "5.", ".", "-0", "+0", "-.0e5", "00012", "1.7976931348623157e308", "4.9e-324", "1\x002",
        "0.1", "3.141592653589793238", "123456789012345678901234567890", "-5e-1",
    ],
)  # fmt: skip
def test_score_parsing_and_formatting(differ, score):
    differ.check("ZADD", "z", score, "m")
    differ.check("ZSCORE", "z", "m")
    differ.check("ZINCRBY", "z", score, "m")
    differ.check("ZRANGE", "z", "0", "-1", "WITHSCORES")
    differ.check("ZSCAN", "z", "0")


def test_zadd_incr_and_zincrby(differ):
    # ZINCRBY parses options the way ZADD does (ZINCRBY z nx a is a syntax error).
    script(
        differ,
        """
        ZINCRBY z 1 a; ZINCRBY z -3.5 a; ZINCRBY z 0 a; ZADD z INCR 10 a; ZADD z INCR NX 10 a;
        ZADD z INCR NX 10 b; ZADD z INCR XX 10 c; ZADD z INCR GT -1 a; ZADD z INCR GT 0 a; ZADD
        z INCR GT 1 a; ZADD z INCR LT 1 a; ZADD z INCR LT -1 a; ZADD z INCR CH 1 a; ZINCRBY z
        +inf inf; ZINCRBY z -inf inf; ZADD z INCR -inf inf; ZADD z INCR GT +inf inf; ZADD z INCR
        LT -inf ninf; ZADD z INCR LT -inf ninf; ZSCORE z inf; ZINCRBY z -0 negzero; ZSCORE z
        negzero; ZINCRBY z x a; ZINCRBY z nx a; ZINCRBY z 1; ZINCRBY z 1 a b; ZRANGE z 0 -1
        WITHSCORES
    """,
    )


def test_wrong_type_and_arity(differ):
    differ.check("SADD", "s", "a")
    differ.check("ZADD", "z", "1", "a")
    # WRONGTYPE everywhere, except that ZMPOP stops at the first sorted set it finds.
    script(
        differ,
        """
        ZADD s 1 a; ZINCRBY s 1 a; ZREM s a; ZSCORE s a; ZMSCORE s a; ZCARD s; ZCOUNT s 0 1;
        ZLEXCOUNT s - +; ZRANK s a; ZREVRANK s a; ZRANGE s 0 1; ZRANGE s x 1; ZRANGESTORE d s 0
        1; ZRANGEBYSCORE s 0 1; ZRANGEBYLEX s - +; ZREMRANGEBYRANK s 0 1; ZREMRANGEBYSCORE s 0
        1; ZREMRANGEBYLEX s - +; ZPOPMIN s; ZPOPMAX s 2; ZPOPMIN s x; BZPOPMIN s 0; BZPOPMAX
        missing s 0; BZMPOP 0 1 s MIN; ZMPOP 2 missing s MIN; ZMPOP 2 z s MIN; ZRANDMEMBER s;
        ZRANDMEMBER s 2; ZSCAN s 0; ZADD z 1
    """,
    )
    script(
        differ,
        """
        ZADD z 1; ZINCRBY z 1; ZREM z; ZSCORE z; ZMSCORE z; ZCARD; ZCOUNT z 0; ZLEXCOUNT z -;
        ZRANK z; ZREVRANK z a b; ZRANGE z 0; ZRANGESTORE d z 0; ZREVRANGE z 0; ZRANGEBYSCORE z
        0; ZREVRANGEBYLEX z -; ZREMRANGEBYRANK z 0 1 2; ZPOPMIN; BZPOPMIN z; BZMPOP 0 1 z; ZMPOP
        1 z; ZRANDMEMBER; ZUNION 1; ZINTERSTORE d 1; ZINTERCARD 1; ZSCAN z
    """,
    )


# -- reading ---------------------------------------------------------------------------------------


def test_zrem_zcard_zscore_zmscore_zrank(differ):
    fill(differ, count=6)
    script(
        differ,
        """
        ZCARD z; ZCARD missing; ZSCORE z m3; ZSCORE z nope; ZSCORE missing m3; ZMSCORE z m1 nope
        m2; ZMSCORE missing a b; ZRANK z m0; ZRANK z m5; ZREVRANK z m0; ZREVRANK z m5; ZRANK z
        nope; ZRANK missing a; ZREVRANK missing a; ZREM z m1 nope m1; ZREM z nope; ZREM missing
        a; ZRANK z m2; ZREM z m0 m2 m3 m4 m5 m6 m7; ZCARD z; ZRANGE z 0 -1
    """,
    )


def test_zrange_by_rank(differ):
    fill(differ, count=7)
    for start, stop in [
        (0, -1), (0, 0), (1, 3), (-3, -1), (-100, 2), (5, 100), (3, 2), (7, 10), (-1, -1),
        (-8, -7), (0, -8), (2, -2), (-9223372036854775808, 9223372036854775807),
    ]:  # fmt: skip
        differ.check("ZRANGE", "z", start, stop)
        differ.check("ZREVRANGE", "z", start, stop, "WITHSCORES")
        differ.check("ZRANGE", "z", start, stop, "REV", "withscores")
    script(
        differ,
        """
        ZRANGE z a 1; ZRANGE z 0 1.5; ZRANGE z 0 9223372036854775808; ZRANGE z 0 1 LIMIT 0 1;
        ZREVRANGE z 0 1 LIMIT 0 1; ZRANGE z 0 1 NOPE; ZRANGE z 0 1 WITHSCORES WITHSCORES; ZRANGE
        z 0 1 REV REV; ZREVRANGE z 0 1 REV; ZREVRANGE z 0 1 BYSCORE; ZRANGE z 0 1 BYSCORE BYLEX;
        ZRANGE z 0 1 LIMIT 1; ZRANGE missing 0 -1; ZRANGE missing 0 -1 WITHSCORES
    """,
    )


SCORE_RANGES = [
    ("-inf", "+inf"), ("0", "3"), ("(0", "3"), ("0", "(3"), ("(0", "(3"), ("(1.5", "+inf"),
    ("-inf", "(1.5"), ("3", "0"), ("2", "2"), ("(2", "2"), ("2", "(2"), ("(", "+inf"),
    ("", "2"), (" 1", "5"), ("1e400", "inf"), ("-1e400", "(-inf"), ("0x2", "0X4"), ("inf", "-inf"),
    ("(inf", "+inf"), ("-inf", "(-inf"), ("(-inf", "(inf"), ("2\x00junk", "4"), ("-0", "0"),
    ("abc", "1"), ("1", "abc"), ("(nan", "1"), ("nan", "1"), ("1 ", "2"), ("((1", "2"), ("[1", "2"),
    ("1", ""), ("+", "1"),
]  # fmt: skip


def test_score_ranges(differ):
    fill(differ, count=8)
    differ.check("ZADD", "z", "-inf", "minus", "+inf", "plus", "0", "zero")
    for low, high in SCORE_RANGES:
        differ.check("ZCOUNT", "z", low, high)
        differ.check("ZRANGEBYSCORE", "z", low, high, "WITHSCORES")
        differ.check("ZREVRANGEBYSCORE", "z", high, low)
        differ.check("ZRANGE", "z", low, high, "BYSCORE")
        differ.check("ZRANGE", "z", high, low, "BYSCORE", "REV", "WITHSCORES")
        differ.check("ZRANGESTORE", "dst", "z", low, high, "BYSCORE")
        differ.check("ZRANGE", "dst", "0", "-1", "WITHSCORES")


@pytest.mark.parametrize(
    ("offset", "count"),
    [("0", "3"), ("2", "2"), ("0", "0"), ("0", "-1"), ("3", "-5"), ("-1", "2"), ("-1", "-1"),
     ("9", "2"), ("10", "1"), ("100", "1"), ("1", "100"), ("x", "1"), ("1", "x"), ("1", "1.0")],
)  # fmt: skip
def test_limit(differ, offset, count):
    fill(differ, count=10)
    differ.check(*LEX)
    check_all(
        differ,
        ("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", offset, count),
        ("ZRANGEBYSCORE", "z", "(1", "8", "WITHSCORES", "LIMIT", offset, count),
        ("ZREVRANGEBYSCORE", "z", "+inf", "-inf", "LIMIT", offset, count, "WITHSCORES"),
        ("ZREVRANGEBYSCORE", "z", "8", "(1", "LIMIT", offset, count),
        ("ZRANGE", "z", "(1", "8", "BYSCORE", "REV", "LIMIT", offset, count),
        ("ZRANGE", "z", "8", "(1", "BYSCORE", "REV", "LIMIT", offset, count),
        ("ZRANGEBYLEX", "lex", "-", "+", "LIMIT", offset, count),
        ("ZRANGEBYLEX", "lex", "(a", "[f", "LIMIT", offset, count),
        ("ZREVRANGEBYLEX", "lex", "+", "-", "LIMIT", offset, count),
        ("ZREVRANGEBYLEX", "lex", "[f", "(a", "LIMIT", offset, count),
        ("ZRANGE", "lex", "[f", "(a", "BYLEX", "REV", "LIMIT", offset, count),
        ("ZRANGESTORE", "dst", "z", "(1", "8", "BYSCORE", "LIMIT", offset, count),
        ("ZRANGE", "dst", "0", "-1", "WITHSCORES"),
        ("ZRANGESTORE", "dst", "z", "8", "(1", "BYSCORE", "REV", "LIMIT", offset, count),
        ("ZRANGE", "dst", "0", "-1", "WITHSCORES"),
    )


LEX_RANGES = [
    ("-", "+"), ("+", "-"), ("-", "-"), ("+", "+"), ("[a", "[c"), ("(a", "(c"), ("[a", "(a"),
    ("[a", "[a"), ("(a", "[a"), ("[", "(b"), ("(", "+"), ("[bb", "+"), ("(b", "(c"), ("[\xff", "+"),
    ("[c", "[a"), ("-", "(\xff"), ("a", "[c"), ("[a", "c"), ("+a", "+"), ("-", "-a"), ("", "+"),
    ("[a", ""), ("+\x00", "-"), ("-\x00x", "+"),
]  # fmt: skip


def test_lex_ranges(differ):
    differ.check(*LEX)
    for low, high in LEX_RANGES:
        low_b, high_b = low.encode("latin-1"), high.encode("latin-1")
        differ.check("ZLEXCOUNT", "lex", low_b, high_b)
        differ.check("ZRANGEBYLEX", "lex", low_b, high_b)
        differ.check("ZREVRANGEBYLEX", "lex", high_b, low_b)
        differ.check("ZRANGE", "lex", low_b, high_b, "BYLEX")
        differ.check("ZRANGE", "lex", high_b, low_b, "BYLEX", "REV")
        differ.check("ZRANGESTORE", "dst", "lex", low_b, high_b, "BYLEX")
        differ.check("ZRANGE", "dst", "0", "-1")
    script(
        differ,
        """
        ZRANGEBYLEX lex - + WITHSCORES; ZRANGE lex - + BYLEX WITHSCORES; ZRANGEBYLEX lex - +
        REV; ZRANGEBYLEX missing - +; ZLEXCOUNT missing - +; ZLEXCOUNT missing x +
    """,
    )


def test_zrangestore(differ):
    fill(differ, count=6)
    differ.check("ZADD", "other", "1", "x")
    # The source and the destination may be the same key (ZRANGESTORE z z 2 3).
    script(
        differ,
        """
        ZRANGESTORE dst z 0 -1; ZRANGE dst 0 -1 WITHSCORES; ZRANGESTORE dst z 1 3 REV; ZRANGE
        dst 0 -1 WITHSCORES; ZRANGESTORE dst z 5 1; ZCARD dst; ZRANGESTORE other missing 0 -1;
        ZCARD other; ZRANGESTORE z z 2 3; ZRANGE z 0 -1 WITHSCORES; ZRANGESTORE dst z 0 -1
        WITHSCORES; ZRANGESTORE dst z 0 -1 LIMIT 0 1; ZRANGESTORE dst z ( + BYLEX WITHSCORES;
        SADD setdst a; ZRANGESTORE setdst z 0 0; ZRANGE setdst 0 -1
    """,
    )


def test_zremrange(differ):
    for start, stop in [("0", "1"), ("-2", "-1"), ("1", "-2"), ("5", "1"), ("-100", "100"),
                        ("10", "20"), ("x", "1"), ("1", "x")]:  # fmt: skip
        fill(differ, count=6)
        differ.check("ZREMRANGEBYRANK", "z", start, stop)
        differ.check("ZRANGE", "z", "0", "-1")
    for low, high in SCORE_RANGES[:12] + [("abc", "1"), ("1", "(x")]:
        fill(differ, count=6)
        differ.check("ZREMRANGEBYSCORE", "z", low, high)
        differ.check("ZRANGE", "z", "0", "-1")
    for low, high in LEX_RANGES[:14] + [("a", "[c"), ("[a", "+x")]:
        differ.check(*LEX)
        differ.check("ZREMRANGEBYLEX", "lex", low.encode("latin-1"), high.encode("latin-1"))
        differ.check("ZRANGE", "lex", "0", "-1")
    script(
        differ,
        """
        ZREMRANGEBYRANK missing 0 -1; ZREMRANGEBYSCORE missing -inf +inf; ZREMRANGEBYLEX missing
        - +; ZREMRANGEBYSCORE missing x +inf; ZREMRANGEBYRANK z 0 -1; ZCARD z
    """,
    )


def test_bigger_sorted_sets(differ):
    args = []
    for i in range(300):
        args += [str((i * 37) % 101 / 4), f"member-{i:03d}-{'x' * (i % 70)}"]
    differ.check("ZADD", "big", *args)
    check_all(
        differ,
        ("ZCARD", "big"),
        ("ZRANGE", "big", "0", "-1", "WITHSCORES"),
        ("ZRANGE", "big", "100", "120", "REV"),
        ("ZRANGEBYSCORE", "big", "(3", "7.25", "WITHSCORES", "LIMIT", "5", "20"),
        ("ZREVRANGEBYSCORE", "big", "7.25", "(3", "LIMIT", "5", "20"),
        ("ZCOUNT", "big", "10", "(20"),
        ("ZRANK", "big", "member-150-" + "x" * 10),
        ("ZREVRANK", "big", "member-150-" + "x" * 10),
        ("ZREMRANGEBYSCORE", "big", "(10", "12"),
        ("ZREMRANGEBYRANK", "big", "10", "19"),
        ("ZPOPMIN", "big", "3"),
        ("ZPOPMAX", "big", "3"),
        ("ZUNIONSTORE", "u", "1", "big", "WEIGHTS", "2"),
        ("ZRANGE", "u", "0", "-1", "WITHSCORES"),
        ("ZRANDMEMBER", "big", "1000", "WITHSCORES"),
    )


# -- pops ------------------------------------------------------------------------------------------


def test_zpopmin_zpopmax(differ):
    fill(differ, count=6)
    script(
        differ,
        """
        ZPOPMIN z; ZPOPMAX z; ZPOPMIN z 2; ZPOPMAX z 1; ZPOPMIN z 0; ZPOPMIN z -1; ZPOPMIN z x;
        ZPOPMIN z 1 2; ZPOPMAX z 10; ZCARD z; ZPOPMIN z; ZPOPMIN z 0; ZPOPMAX z 5
    """,
    )


def test_zmpop(differ):
    fill(differ, "a", 3)
    fill(differ, "b", 5)
    script(
        differ,
        """
        ZMPOP 1 a MIN; ZMPOP 2 missing b max COUNT 2; ZMPOP 2 a b MAX COUNT 10; ZMPOP 2 a b MIN
        COUNT 1; ZMPOP 3 a missing b MIN count 100; ZMPOP 2 a b MIN; ZMPOP 1 b MIN
    """,
    )
    for bad in (
        ("0", "a", "MIN"),
        ("-1", "a", "MIN"),
        ("x", "a", "MIN"),
        ("2", "a", "MIN"),
        ("1", "a", "MIDDLE"),
        ("1", "a", "MIN", "COUNT"),
        ("1", "a", "MIN", "COUNT", "0"),
        ("1", "a", "MIN", "COUNT", "-1"),
        ("1", "a", "MIN", "COUNT", "x"),
        ("1", "a", "MIN", "COUNT", "1", "COUNT", "1"),
        ("1", "a", "MIN", "NOPE"),
        ("5", "a", "b"),
    ):
        differ.check("ZMPOP", *bad)
        differ.check("BZMPOP", "0", *bad)


def test_blocking_pops_that_do_not_block(differ):
    fill(differ, "a", 3)
    fill(differ, "b", 3)
    script(
        differ,
        """
        BZPOPMIN missing a b 0; BZPOPMAX b a 1.5; BZPOPMIN a a a 0; BZMPOP 0 2 missing b MIN
        COUNT 5; BZMPOP 0.5 1 a MAX; ZCARD a; ZCARD b
    """,
    )
    for timeout in ("-1", "abc", "", "inf", "-inf", "1e20", "9.3e15", " 1", "nan", "-0.0001x"):
        differ.check("BZPOPMIN", "missing", timeout)
        differ.check("BZMPOP", timeout, "1", "missing", "MIN")
    differ.check("BZMPOP", "abc", "0", "missing", "MIN")  # numkeys is checked first


def test_blocking_pops_inside_multi_time_out_at_once(differ):
    script(differ, "MULTI; BZPOPMIN missing 0; BZPOPMAX missing 1; BZMPOP 0 1 missing MIN;")
    script(differ, "ZADD z 1 a; BZPOPMIN z 0; EXEC")


def test_blocking_pops_over_tcp(differ):
    waiter = differ.connection()
    for command in (
        ("BZPOPMIN", "z1", "z2", "0"),
        ("BZPOPMAX", "z1", "z2", "0"),
        ("BZMPOP", "0", "2", "z1", "z2", "MAX", "COUNT", "2"),
    ):
        for client in waiter:
            client.send(encode_command(*command))
        time.sleep(0.05)
        differ.check("ZADD", "z2", "1", "a", "2", "b", "3", "c")
        assert waiter[0].read_reply() == waiter[1].read_reply()
        differ.check("ZRANGE", "z2", "0", "-1", "WITHSCORES")
        differ.check("ZREMRANGEBYRANK", "z2", "0", "-1")
    for client in waiter:
        client.send(encode_command("BZPOPMIN", "z3", "0.05"))
    assert waiter[0].read_reply() == waiter[1].read_reply() == b"*-1\r\n"


# -- blocking pops on the virtual clock ------------------------------------------------------------


def _encoded(reply, resp3=False):
    out = bytearray()
    encode(reply, out, resp3)
    return bytes(out)


def _argv(*args):
    return [arg if isinstance(arg, bytes) else str(arg).encode() for arg in args]


async def _block_then(server, client, command, action, delay):
    """Run ``command`` (which must block), do ``action()`` after ``delay`` seconds, and return
    the blocked client's reply with the time it took."""
    blocked = server.execute(client, _argv(*command))
    assert type(blocked) is Blocked
    result = {}
    start = trapline.current_time()
    async with trapline.TaskGroup() as tg:

        async def wait():
            result["reply"] = await server.block(client, blocked)
            result["elapsed"] = trapline.current_time() - start

        tg.spawn(wait)
        await trapline.sleep(delay)
        action()
    return result["reply"], result["elapsed"]


async def test_bzpopmin_woken_by_zadd(virtual_clock):
    server = trapline.kv.Server()
    waiter, writer = server.new_client("waiter"), server.new_client("writer")

    def zadd():
        assert server.execute(writer, _argv("ZADD", "z", "2", "b", "1", "a")) == 2

    reply, elapsed = await _block_then(server, waiter, ("BZPOPMIN", "z", "10"), zadd, 3)
    assert _encoded(reply) == b"*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n"
    assert elapsed == pytest.approx(3)
    assert server.dbs[0].get(b"z").scores == {b"b": 2.0}


async def test_bzpopmax_resp3_and_bzmpop(virtual_clock):
    server = trapline.kv.Server()
    waiter, writer = server.new_client("waiter"), server.new_client("writer")
    waiter.resp3 = True
    zadd = lambda *args: lambda: server.execute(writer, _argv("ZADD", *args))  # noqa: E731
    command = ("BZPOPMAX", "first", "second", "0")
    reply, _ = await _block_then(server, waiter, command, zadd("second", 2, "b", 1.5, "a"), 1)
    assert _encoded(reply, True) == b"*3\r\n$6\r\nsecond\r\n$1\r\nb\r\n,2\r\n"
    command = ("BZMPOP", "5", "2", "y", "z", "MIN", "COUNT", "2")
    reply, _ = await _block_then(server, waiter, command, zadd("z", 1, "a", 2, "b", 3, "c"), 0.5)
    pairs = b"*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2\r\n"
    assert _encoded(reply, True) == b"*2\r\n$1\r\nz\r\n" + pairs


async def test_blocking_pop_times_out(virtual_clock):
    server = trapline.kv.Server()
    waiter = server.new_client("waiter")
    for command in (("BZPOPMIN", "z", "1.5"), ("BZMPOP", "1.5", "1", "z", "MAX")):
        blocked = server.execute(waiter, _argv(*command))
        assert type(blocked) is Blocked
        start = trapline.current_time()
        assert await server.block(waiter, blocked) is NullArray
        assert trapline.current_time() - start == pytest.approx(1.5, abs=0.002)


async def test_emptied_or_retyped_key_does_not_wake_the_waiter(virtual_clock):
    server = trapline.kv.Server()
    waiter, writer = server.new_client("waiter"), server.new_client("writer")

    def writes():
        # Written then emptied within one transaction: nothing to pop when the waiter retries.
        for command in (("MULTI",), ("ZADD", "z", "0", "foo"), ("ZPOPMIN", "z"), ("EXEC",)):
            server.execute(writer, _argv(*command))
        server.execute(writer, _argv("SADD", "z", "not a zset"))

    blocked = server.execute(waiter, _argv("BZPOPMIN", "z", "0"))
    async with trapline.TaskGroup() as tg:
        result = {}

        async def wait():
            result["reply"] = await server.block(waiter, blocked)

        tg.spawn(wait)
        await trapline.sleep(1)
        writes()
        await trapline.sleep(1)
        assert "reply" not in result
        server.execute(writer, _argv("SREM", "z", "not a zset"))
        server.execute(writer, _argv("ZADD", "z", "1", "bar"))
    assert _encoded(result["reply"]) == b"*3\r\n$1\r\nz\r\n$3\r\nbar\r\n$1\r\n1\r\n"
    assert server.blocked_on == {}


async def test_waiters_are_served_in_order(virtual_clock):
    server = trapline.kv.Server()
    first, second, writer = (server.new_client(name) for name in ("one", "two", "writer"))
    replies = []

    async def wait(client):
        blocked = server.execute(client, _argv("BZPOPMIN", "z", "0"))
        replies.append((client.address, _encoded(await server.block(client, blocked))))

    async with trapline.TaskGroup() as tg:
        tg.spawn(wait, first)
        await trapline.sleep(0.1)
        tg.spawn(wait, second)
        await trapline.sleep(0.1)
        server.execute(writer, _argv("ZADD", "z", "1", "a", "2", "b"))
    assert [address for address, _ in replies] == ["one", "two"]
    assert replies[0][1].endswith(b"$1\r\na\r\n$1\r\n1\r\n")
    assert replies[1][1].endswith(b"$1\r\nb\r\n$1\r\n2\r\n")


# -- ZRANDMEMBER -----------------------------------------------------------------------------------


def test_zrandmember_deterministic_cases(differ):
    script(
        differ,
        """
        ZRANDMEMBER missing; ZRANDMEMBER missing 5; ZRANDMEMBER missing -5 WITHSCORES; ZADD one
        1.5 only; ZRANDMEMBER one; ZRANDMEMBER one 0; ZRANDMEMBER one 1; ZRANDMEMBER one -3;
        ZRANDMEMBER one -3 WITHSCORES; ZRANDMEMBER one 3 withscores; ZRANDMEMBER one x;
        ZRANDMEMBER one 1 NOPE; ZRANDMEMBER one 1 WITHSCORES x; ZRANDMEMBER one
        -9223372036854775808; ZRANDMEMBER one 4611686018427387904 WITHSCORES; ZRANDMEMBER one
        -4611686018427387904 WITHSCORES; ZRANDMEMBER missing 4611686018427387904 WITHSCORES
    """,
    )
    fill(differ, count=5)
    differ.check("ZRANDMEMBER", "z", "5", "WITHSCORES")
    differ.check("ZRANDMEMBER", "z", "50")


def test_zrandmember_properties(kv_client):
    pairs = {b"m%d" % i: b"%d" % i for i in range(30)}
    kv_client.call("ZADD", "z", *[x for member, score in pairs.items() for x in (score, member)])
    for count in (1, 5, 20, 29):
        got = [item[1] for item in parse(kv_client.call("ZRANDMEMBER", "z", count))[1]]
        assert len(set(got)) == count and set(got) <= set(pairs)
    flat = [item[1] for item in parse(kv_client.call("ZRANDMEMBER", "z", "-100", "WITHSCORES"))[1]]
    assert len(flat) == 200
    assert all(pairs[member] == score for member, score in zip(flat[::2], flat[1::2]))
    singles = {parse(kv_client.call("ZRANDMEMBER", "z"))[1] for _ in range(100)}
    assert singles <= set(pairs) and len(singles) > 10


# -- ZUNION / ZINTER / ZDIFF -----------------------------------------------------------------------


def _setup_algebra(differ):
    differ.check("ZADD", "a", "1", "x", "2", "y", "3", "z", "-inf", "ninf", "inf", "pinf")
    differ.check("ZADD", "b", "10", "y", "20", "z", "30", "w", "inf", "ninf", "inf", "pinf")
    differ.check("ZADD", "c", "0.5", "z", "0.25", "q")
    differ.check("SADD", "s", "x", "z", "q", "only-in-set")


ALGEBRA_INPUTS = [
    ("1", "a"), ("2", "a", "b"), ("2", "b", "a"), ("3", "a", "b", "c"), ("2", "a", "s"),
    ("3", "s", "c", "a"), ("2", "a", "a"), ("2", "a", "missing"), ("2", "missing", "a"),
    ("1", "missing"), ("2", "s", "s"),
]  # fmt: skip


def test_zunion_zinter_zdiff(differ):
    _setup_algebra(differ)
    for inputs in ALGEBRA_INPUTS:
        for name in ("ZUNION", "ZINTER", "ZDIFF"):
            differ.check(name, *inputs)
            differ.check(name, *inputs, "WITHSCORES")
            differ.check(name + "STORE", "dst", *inputs)
            differ.check("ZRANGE", "dst", "0", "-1", "WITHSCORES")
        differ.check("ZINTERCARD", *inputs)
        differ.check("ZINTERCARD", *inputs, "LIMIT", "1")
        n = int(inputs[0])
        for options in (
            ("WEIGHTS", *["2"] * n),
            ("WEIGHTS", *["-1.5"] * n, "AGGREGATE", "MIN"),
            ("AGGREGATE", "MAX", "WEIGHTS", *["0"] * n),
            ("AGGREGATE", "sum", "WITHSCORES", "weights", *["inf"] * n),
            ("WEIGHTS", *["-inf"] * n, "WITHSCORES", "AGGREGATE", "min"),
        ):
            differ.check("ZUNION", *inputs, *options, "WITHSCORES")
            differ.check("ZINTER", *inputs, *options)
            differ.check("ZUNIONSTORE", "dst", *inputs, *options)
            differ.check("ZRANGE", "dst", "0", "-1", "WITHSCORES")
            differ.check("ZINTERSTORE", "dst", *inputs, *options)
            differ.check("ZRANGE", "dst", "0", "-1", "WITHSCORES")


def test_set_operation_errors(differ):
    _setup_algebra(differ)
    differ.check("ZADD", "dst", "1", "keep")
    for name in ("ZUNION", "ZINTER", "ZDIFF", "ZINTERCARD"):
        for bad in (
            ("0", "a"),
            ("-1", "a"),
            ("x", "a"),
            ("3", "a", "b"),
            ("9223372036854775808", "a"),
            ("1", "a", "WEIGHTS"),
            ("2", "a", "b", "WEIGHTS", "1"),
            ("2", "a", "b", "WEIGHTS", "1", "x"),
            ("2", "a", "b", "WEIGHTS", "1", "nan"),
            ("1", "a", "AGGREGATE"),
            ("1", "a", "AGGREGATE", "AVG"),
            ("1", "a", "NOPE"),
            ("1", "a", "WITHSCORES", "x"),
            ("1", "a", "LIMIT", "1"),
            ("1", "a", "LIMIT", "-1"),
            ("1", "a", "LIMIT", "x"),
            ("1", "a", "LIMIT"),
            ("2", "a", "s", "WITHSCORES", "WITHSCORES"),
        ):
            differ.check(name, *bad)
            differ.check(name + "STORE", "dst", *bad)
    differ.check("ZUNIONSTORE", "dst", "1", "a", "WITHSCORES")
    differ.check("ZRANGE", "dst", "0", "-1")
    differ.check("ZUNIONSTORE", "dst", "1", "missing")
    differ.check("ZCARD", "dst")


# -- ZSCAN -----------------------------------------------------------------------------------------


def test_zscan_small(differ):
    differ.check("ZADD", "z", "1", "a", "2.5", "b", "-3", "c", "1e17", "d", "inf", "e", "-0", "f")
    script(
        differ,
        """
        ZSCAN z 0; ZSCAN z 123 COUNT 1; ZSCAN z 0 MATCH [a-c]; ZSCAN z 0 MATCH nope; ZSCAN z x;
        ZSCAN z 0 COUNT 0; ZSCAN z 0 MATCH; ZSCAN missing 0; ZSCAN missing x
    """,
    )


def test_zscan_big(kv_client):
    pairs = {b"member-%d" % i: i / 8 for i in range(500)}
    kv_client.call("ZADD", "z", *[x for m, s in pairs.items() for x in (repr(s), m)])
    cursor, seen = b"0", {}
    while True:
        reply = parse(kv_client.call("ZSCAN", "z", cursor, "COUNT", "20", "MATCH", "*1*"))
        cursor = reply[1][0][1]
        flat = [item[1] for item in reply[1][1][1]]
        seen.update(zip(flat[::2], flat[1::2], strict=True))
        if cursor == b"0":
            break
    assert seen == {m: b"%.17g" % s for m, s in pairs.items() if b"1" in m}


# -- RESP3 -----------------------------------------------------------------------------------------


def test_resp3_replies(differ, kv_server):
    use_resp3(differ, kv_server)
    fill(differ, count=4)
    differ.check("SADD", "s", "m1", "m2", "extra")
    script(
        differ,
        """
        ZSCORE z m1; ZSCORE z nope; ZSCORE missing m1; ZMSCORE z m0 nope m3; ZINCRBY z 1 m0;
        ZADD z INCR 1 m0; ZADD z INCR NX 1 m0; ZRANK z nope; ZRANGE z 0 -1 WITHSCORES; ZRANGE z
        0 -1; ZRANGEBYSCORE z -inf +inf WITHSCORES LIMIT 1 2; ZREVRANGE z 0 1 WITHSCORES; ZRANGE
        missing 0 -1 WITHSCORES; ZUNION 2 z s WITHSCORES; ZINTER 2 z s WITHSCORES; ZDIFF 2 z s
        WITHSCORES; ZRANDMEMBER z 10 WITHSCORES; ZRANDMEMBER one 1 WITHSCORES; ZSCAN z 0;
        ZPOPMIN z; ZPOPMIN z 1; ZPOPMAX z 5; ZPOPMIN z; ZPOPMIN z 2; ZADD z 1 a 2 b; ZMPOP 1 z
        MIN; BZPOPMAX z 0; ZMPOP 1 z MIN; BZPOPMIN z 0.01; BZMPOP 0.01 1 z MIN
    """,
    )


# -- negative zero and keyspace notifications ------------------------------------------------------


def test_negative_zero_scores(differ):
    script(
        differ,
        """
        ZADD z 0 a 1 b -0 c; ZSCORE z c; ZUNION 1 z WEIGHTS -1 WITHSCORES; ZINTER 2 z z WEIGHTS
        -1 -1 WITHSCORES; ZUNIONSTORE d 1 z WEIGHTS -1; ZRANGE d 0 -1 WITHSCORES; ZSCORE d a;
        ZADD z INCR -0 a; ZINCRBY z -0 new; ZMSCORE z a new; ZRANGEBYSCORE z -0 (0.5 WITHSCORES;
        ZRANGEBYSCORE z (-0 +inf WITHSCORES
    """,
    )


async def test_writes_touch_watched_keys_only_when_they_change():
    server = trapline.kv.Server()
    client, other = server.new_client("c"), server.new_client("other")

    def changes(*args):
        server.execute(client, _argv("WATCH", "z", "d"))
        server.execute(client, _argv("MULTI"))
        server.execute(client, _argv("PING"))
        server.execute(other, _argv(*args))
        return server.execute(client, _argv("EXEC")) is NullArray

    assert changes("ZADD", "z", "1", "a", "2", "b")
    assert not changes("ZADD", "z", "1", "a")
    assert not changes("ZADD", "z", "NX", "5", "a")
    assert not changes("ZADD", "z", "XX", "5", "nope")
    assert not changes("ZADD", "z", "GT", "0", "a")
    assert not changes("ZADD", "z", "INCR", "0", "a")
    assert changes("ZADD", "z", "INCR", "1", "a")
    assert not changes("ZREM", "z", "nope")
    assert not changes("ZREMRANGEBYSCORE", "z", "10", "20")
    assert not changes("ZPOPMIN", "missing")
    assert changes("ZUNIONSTORE", "d", "1", "z")
    assert changes("ZINTERSTORE", "d", "2", "z", "missing")  # deletes "d"
    assert not changes("ZINTERSTORE", "d", "2", "z", "missing")
    assert changes("ZPOPMAX", "z", "5")
    assert server.dbs[0].data == {}


# -- random command sequences ----------------------------------------------------------------------

FUZZ_MEMBERS = [b"a", b"b", b"c", b"d", b"aa", b"", b"1", b"10", b"x" * 70]
FUZZ_SCORES = b"0 1 -1 2.5 inf -inf 3 (1 (2.5 -0 1e3 (inf +inf (-inf".split()
FUZZ_LEX = b"- + [a (a [b (aa [ ( [d (1 [10".split()


def _fuzz_command(rnd):
    key, member, z2 = rnd.choice([b"z1", b"z2"]), rnd.choice(FUZZ_MEMBERS), rnd.choice(FUZZ_MEMBERS)
    score, lex, index = (
        (lambda: rnd.choice(FUZZ_SCORES)),
        (lambda: rnd.choice(FUZZ_LEX)),
        (lambda: b"%d" % rnd.randint(-8, 8)),
    )
    limit = [b"LIMIT", index(), index()] if rnd.random() < 0.4 else []
    keys = rnd.sample([b"z1", b"z2", b"s1"], rnd.randint(1, 3))
    weights = [b"WEIGHTS", *[rnd.choice(b"1 2 -1 0 inf 0.5".split()) for _ in keys]]
    return rnd.choice([
        [b"ZADD", key, *rnd.sample(b"NX XX GT LT CH".split(), rnd.randint(0, 2)),
         score().lstrip(b"("), member, score().lstrip(b"("), z2],
        [b"ZINCRBY", key, rnd.choice(b"1 -2 inf 0.5".split()), member],
        [b"ZREM", key, member, z2], [b"ZRANK", key, member], [b"ZREVRANK", key, member],
        [b"ZSCORE", key, member], [b"ZMSCORE", key, member, z2], [b"ZCARD", key],
        [b"ZRANGE", key, index(), index(), b"REV", b"WITHSCORES"][: rnd.randint(4, 6)],
        [b"ZRANGEBYSCORE", key, score(), score(), b"WITHSCORES", *limit],
        [b"ZREVRANGEBYSCORE", key, score(), score(), *limit],
        [b"ZRANGEBYLEX", key, lex(), lex(), *limit], [b"ZREVRANGEBYLEX", key, lex(), lex(), *limit],
        [b"ZCOUNT", key, score(), score()], [b"ZLEXCOUNT", key, lex(), lex()],
        [b"ZREMRANGEBYSCORE", key, score(), score()], [b"ZREMRANGEBYRANK", key, index(), index()],
        [b"ZREMRANGEBYLEX", key, lex(), lex()], [rnd.choice([b"ZPOPMIN", b"ZPOPMAX"]), key],
        [rnd.choice([b"ZUNION", b"ZINTER"]), b"%d" % len(keys), *keys, *weights, b"WITHSCORES"],
        [b"ZDIFFSTORE", key, b"%d" % len(keys), *keys], [b"ZINTERCARD", b"%d" % len(keys), *keys],
        [b"ZUNIONSTORE", key, b"%d" % len(keys), *keys, b"AGGREGATE", rnd.choice([b"MIN", b"MAX"])],
        [b"SADD", b"s1", member], [b"SREM", b"s1", member],
        [b"ZRANGESTORE", b"z2", key, score(), score(), b"BYSCORE", b"REV", *limit],
        [b"ZRANGESTORE", b"z1", key, lex(), lex(), b"BYLEX", *limit],
        [b"ZMPOP", b"2", key, b"z2", rnd.choice([b"MIN", b"MAX"]), b"COUNT", index().lstrip(b"-")],
        [b"ZRANDMEMBER", key, b"1000", b"WITHSCORES"], [b"BZPOPMIN", key, b"z2", b"0.001"],
        [b"ZPOPMAX", key, index().lstrip(b"-")],
    ])  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_random_command_sequences(differ, seed):
    rnd = random.Random(seed)
    for _ in range(600):
        differ.check(*_fuzz_command(rnd))


async def test_same_key_many_times(virtual_clock):
    server = trapline.kv.Server()
    waiter, writer = server.new_client("waiter"), server.new_client("writer")
    command = ("BZPOPMIN", "z1", "z2", "z2", "z1", "0")
    reply, _ = await _block_then(
        server, waiter, command, lambda: server.execute(writer, _argv("ZADD", "z2", "1", "b")), 1
    )
    assert _encoded(reply) == b"*3\r\n$2\r\nz2\r\n$1\r\nb\r\n$1\r\n1\r\n"
    assert server.blocked_on == {}
