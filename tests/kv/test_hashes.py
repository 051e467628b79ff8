"""Hash commands against real Redis, byte for byte (random replies checked by their properties)."""

import random
from fractions import Fraction

import pytest
from conftest import own_server_fixtures

import trapline.kv
from trapline.kv._cmd_hashes import (
    format_long_double,
    long_double_round,
    parse_long_double,
)
from trapline.kv._db import CommandError
from trapline.kv._scan import parse_cursor, scan_page

# -- fixtures and helpers ----------------------------------------------------------------------


kv_server, kv_port, _empty_keyspace = own_server_fixtures()


def run(differ, text):
    """Check each ``;``-separated command of ``text`` (arguments split on whitespace)."""
    for command in text.split(";"):
        if command.split():
            differ.check(*command.split())


def resp3(differ, pair=None):
    for client in pair or differ.main:
        assert client.call("HELLO", "3").startswith(b"%")


def fill(differ, key="h", count=5):
    args = []
    for i in range(count):
        args += [f"f{i}", f"v{i}"]
    differ.check("HSET", key, *args)


def parse_array(raw):
    """The bulk strings of a flat RESP2 array reply."""
    lines = raw.split(b"\r\n")
    assert lines[0].startswith(b"*")
    return [lines[i] for i in range(2, len(lines) - 1, 2)]


# -- setting and getting -----------------------------------------------------------------------


def test_hset_hget_insert_and_update(differ):
    run(
        differ,
        "HSET h a 1; HSET h a 2 b 3; HSET h b 3 c 4 a 9; HGET h a; HGET h b; HGET h nope;"
        "HGET nokey a; HLEN h; HLEN nokey; HGETALL h; HSET h a 1 a 2 a 3; HGET h a;"
        "HSET new x 1 y 2 x 3; HGETALL new; HLEN new",
    )


def test_hset_hmset_arity(differ):
    run(
        differ,
        "HSET h a; HSET h a 1 b; HMSET h a; HMSET h a 1 b; HSET h; HMSET h a 1 b 2; HGETALL h",
    )
    differ.check("HSET", "h", "", "")
    differ.check("HGET", "h", "")
    differ.check("HSET", "h", "bin\x00ary", "v\r\nal")
    differ.check("HGETALL", "h")


def test_hsetnx(differ):
    run(differ, "HSETNX h a 1; HSETNX h a 2; HGET h a; HSETNX h b 3; HGETALL h; HSETNX h a")


def test_hmget(differ):
    fill(differ)
    run(differ, "HMGET h f0 nope f4 f0; HMGET nokey a b; HMGET h; HMGET h f1")


def test_hexists_hstrlen(differ):
    fill(differ)
    run(differ, "HEXISTS h f1; HEXISTS h nope; HEXISTS nokey f1; HSTRLEN h f1; HSTRLEN h nope;")
    run(differ, "HSTRLEN nokey f; HEXISTS h; HSTRLEN h")
    for value in ["-9223372036854775808", "9223372036854775807", "9223372036854775808", "", "0"]:
        differ.check("HSET", "n", "field", value)
        differ.check("HSTRLEN", "n", "field")


def test_hdel(differ):
    fill(differ)
    run(
        differ,
        "HDEL h f1; HDEL h f1; HDEL h nope; HDEL h f0 f2 f0 nope; HGETALL h; HDEL nokey a;"
        "HDEL h f3 f4 f5; HLEN h; HGETALL h; HDEL h",
    )


def test_hgetall_hkeys_hvals_keep_order(differ):
    run(
        differ,
        "HSET h z 1 a 2 m 3; HSET h a 20; HDEL h z; HSET h z 4; HGETALL h; HKEYS h; HVALS h;"
        "HGETALL nokey; HKEYS nokey; HVALS nokey; HGETALL; HKEYS h x",
    )


def test_resp3_shapes(differ):
    resp3(differ)
    fill(differ, count=3)
    run(differ, "HGETALL h; HGETALL nokey; HKEYS h; HVALS h; HGET h nope; HMGET h f0 nope;")
    run(differ, "HRANDFIELD nokey; HRANDFIELD nokey 3; HRANDFIELD h 10 WITHVALUES; HSCAN h 0")
    run(differ, "HRANDFIELD h 0 WITHVALUES; HINCRBYFLOAT h f 1.5; HSCAN nokey 0")


def test_large_hash_reads(differ):
    """Beyond listpack size Redis's order is its own: compare sorted contents instead."""
    args = []
    for i in range(300):
        args += [f"field:{i}", f"value:{i}" * (i % 3 + 1)]
    differ.check("HSET", "big", *args)
    run(differ, "HLEN big; HGET big field:299; HSTRLEN big field:2; HEXISTS big field:300")
    redis, kv = differ.main
    for command in ("HKEYS", "HVALS"):
        assert sorted(parse_array(redis.call(command, "big"))) == sorted(
            parse_array(kv.call(command, "big"))
        )
    pairs = parse_array(kv.call("HGETALL", "big"))
    expected = [arg.encode() for arg in args]
    assert dict(zip(pairs[::2], pairs[1::2])) == dict(zip(expected[::2], expected[1::2]))
    assert len(pairs) == 600


# -- counters ----------------------------------------------------------------------------------


def test_hincrby(differ):
    run(
        differ,
        "HINCRBY h n 5; HINCRBY h n -12; HINCRBY h n 0; HINCRBY new n 1; HGET h n;"
        "HSET h big 17179869184; HINCRBY h big 17179869184; HINCRBY h n 1.5; HINCRBY h n x;"
        "HINCRBY h n 9223372036854775808; HINCRBY h n -9223372036854775809",
    )
    run(
        differ,
        "HSET h max 9223372036854775807 min -9223372036854775808; HINCRBY h max 1; HINCRBY h max 0;"
        "HINCRBY h min -1; HINCRBY h min 1; HINCRBY h max -9223372036854775808; HGETALL h",
    )
    differ.check("HSET", "h", "s1", " 11", "s2", "11 ", "s3", "011", "s4", "+1", "s5", "1\x002")
    for field in ["s1", "s2", "s3", "s4", "s5"]:
        differ.check("HINCRBY", "h", field, "1")
    run(differ, "HINCRBY h s1; HINCRBY nokey f +1; HINCRBY nokey f 01")


def test_hincrbyfloat(differ):
    run(
        differ,
        "HINCRBYFLOAT h f 2.5; HINCRBYFLOAT h f 1.23; HINCRBYFLOAT h f 0.77; HINCRBYFLOAT h f -0.1;"
        "HINCRBYFLOAT h f 1e3; HINCRBYFLOAT h f 0x10; HINCRBYFLOAT h f 1.5e-300;"
        "HINCRBYFLOAT h i 17179869184; HINCRBYFLOAT h i 17179869184; HINCRBY h i 1;"
        "HINCRBYFLOAT h g -0; HINCRBYFLOAT h g .5; HINCRBYFLOAT h g 5.; HGETALL h",
    )
    run(
        differ,
        "HINCRBYFLOAT h e +inf; HINCRBYFLOAT h e -inf; HINCRBYFLOAT h e inf;"
        "HINCRBYFLOAT h e nan; HINCRBYFLOAT h e abc; HINCRBYFLOAT h e 1e;"
        "HINCRBYFLOAT h e 1e99999; HINCRBYFLOAT h e 1e-99999; HINCRBYFLOAT h e 1e4932;"
        "HINCRBYFLOAT h e 1e4932; HINCRBYFLOAT h e 1.2e4932; HINCRBYFLOAT h e 0x;"
        "HINCRBYFLOAT h e 1_0; HINCRBYFLOAT h e infinity",
    )
    differ.check("HSET", "h", "s1", " 1", "s2", "1 ", "s3", "1\x002", "s4", "inf", "s5", "-inf")
    for field in ["s1", "s2", "s3", "s4", "s5"]:
        differ.check("HINCRBYFLOAT", "h", field, "1")
    differ.check("HINCRBYFLOAT", "h", "f", " 1")
    differ.check("HINCRBYFLOAT", "h", "f", "")


def test_hincrbyfloat_random_values(differ):
    """Seeded random operands: Redis's long double sums and %.17Lf printing, to the digit."""
    rnd = random.Random(2846)

    def number():
        kind = rnd.randrange(5)
        if kind == 0:
            return str(rnd.randrange(-(10**20), 10**20))
        if kind == 1:
            return repr(rnd.uniform(-1e6, 1e6))
        if kind == 2:
            return f"{rnd.randrange(1, 10**18)}e{rnd.randrange(-30, 30)}"
        if kind == 3:
            return f"0x{rnd.randrange(1, 2**70):x}p{rnd.randrange(-80, 80)}"
        return f"{rnd.uniform(-10, 10):.{rnd.randrange(1, 20)}f}"

    for i in range(150):
        field = f"f{i % 7}"
        if i % 5 == 0:
            differ.check("HSET", "h", field, number())
        differ.check("HINCRBYFLOAT", "h", field, number())


def test_long_double_helpers():
    assert parse_long_double(b"0.1") == long_double_round(Fraction(1, 10))
    assert parse_long_double(b"inf") == float("inf")
    assert parse_long_double(b"-INFINITY") == float("-inf")
    for bad in [b"", b" 1", b"1 ", b"nan", b"1e", b"0x", b".", b"1e5000", b"1e-5000", b"1" * 5200]:
        assert parse_long_double(bad) is None, bad
    assert parse_long_double(b"0" * 5000 + b"1") == 1
    smallest = parse_long_double(b"0x1p-16445")
    assert smallest == Fraction(1, 2**16445)
    assert parse_long_double(b"0x1p-16446") is None  # rounds to zero: ERANGE
    assert long_double_round(Fraction(2**64 + 1)) == 2**64  # ties to even
    assert long_double_round(Fraction(2**64 + 3)) == 2**64 + 4
    assert long_double_round(Fraction(2**16384)) == float("inf")
    assert format_long_double(Fraction(-1, 10**20)) == b"0"
    assert format_long_double(Fraction(5, 2)) == b"2.5"
    assert format_long_double(Fraction(10**5000)) == b"1" + b"0" * 5000


# -- HRANDFIELD --------------------------------------------------------------------------------


def test_hrandfield_deterministic_cases(differ):
    fill(differ, count=3)
    run(
        differ,
        "HRANDFIELD nokey; HRANDFIELD nokey 5; HRANDFIELD nokey -5 WITHVALUES; HRANDFIELD h 0;"
        "HRANDFIELD h 3; HRANDFIELD h 10; HRANDFIELD h 10 WITHVALUES; HRANDFIELD h 3 withvalues;"
        "HRANDFIELD h 1 WITHVAL; HRANDFIELD h 1 WITHVALUES x; HRANDFIELD h x;"
        "HRANDFIELD h -9223372036854775808; HRANDFIELD h -9223372036854770000 WITHVALUES;"
        "HRANDFIELD h 4611686018427387904 WITHVALUES; HRANDFIELD h -4611686018427387904 WITHVALUES;"
        "HRANDFIELD h 9223372036854775808; HRANDFIELD nokey 0 x; HRANDFIELD",
    )


def test_hrandfield_random_properties(differ):
    fill(differ, count=10)
    _, kv = differ.main
    fields = {f"f{i}".encode() for i in range(10)}
    seen = set()
    for _ in range(200):
        raw = kv.call("HRANDFIELD", "h")
        seen.add(raw.split(b"\r\n")[1])
    assert seen == fields
    # Positive count: distinct fields.
    for count in (1, 2, 5, 9):
        got = parse_array(kv.call("HRANDFIELD", "h", count))
        assert len(got) == count == len(set(got)) and set(got) <= fields
        flat = parse_array(kv.call("HRANDFIELD", "h", count, "WITHVALUES"))
        assert len(flat) == 2 * count
        for field, value in zip(flat[::2], flat[1::2]):
            assert value == b"v" + field[1:]
    # Negative count: repetitions allowed, exactly |count| of them, roughly uniform.
    got = parse_array(kv.call("HRANDFIELD", "h", -1000))
    assert len(got) == 1000 and set(got) == fields
    counts = [got.count(field) for field in fields]
    assert min(counts) > 40
    flat = parse_array(kv.call("HRANDFIELD", "h", -7, "WITHVALUES"))
    assert len(flat) == 14
    assert all(value == b"v" + field[1:] for field, value in zip(flat[::2], flat[1::2]))


def test_hrandfield_resp3_pairs(differ):
    fill(differ, count=10)
    _, kv = differ.main
    resp3(differ)
    raw = kv.call("HRANDFIELD", "h", 3, "WITHVALUES")
    assert raw.startswith(b"*3\r\n*2\r\n$2\r\nf")
    raw = kv.call("HRANDFIELD", "h", -3, "WITHVALUES")
    assert raw.count(b"*2\r\n") == 3
    assert kv.call("HRANDFIELD", "h", 3).startswith(b"*3\r\n$2\r\nf")


# -- HSCAN -------------------------------------------------------------------------------------


def test_hscan_small_hash_matches_redis(differ):
    fill(differ, count=12)
    differ.check("HSET", "h", "other", "x", "", "empty")
    run(
        differ,
        "HSCAN h 0; HSCAN h 0 COUNT 2; HSCAN h 7 MATCH f1*; HSCAN h 0 MATCH * COUNT 1;"
        "HSCAN h 0 MATCH f? ; HSCAN h 0 MATCH [a-f]1 MATCH o*; HSCAN h 0 match nothing;"
        "HSCAN h 0 MATCH f[^0-5]; HSCAN h 0 MATCH f\\1; HSCAN nokey 0; HSCAN nokey 0 COUNT 0;"
        "HSCAN h 0 COUNT 0; HSCAN h 0 COUNT -1; HSCAN h 0 COUNT x; HSCAN h 0 COUNT;"
        "HSCAN h 0 TYPE hash; HSCAN h 0 NOVALUES; HSCAN h x; HSCAN h -1; HSCAN h +5;"
        "HSCAN h 18446744073709551615; HSCAN h 18446744073709551616; HSCAN h -18446744073709551616;"
        "HSCAN h 1.5; HSCAN h; HSCAN nokey x",
    )
    differ.check("HSCAN", "h", "")
    differ.check("HSCAN", "h", " 1")


def _full_scan(kv, key, *options, mutate=None):
    cursor = b"0"
    found = []
    steps = 0
    while True:
        raw = kv.call("HSCAN", key, cursor, *options)
        items = parse_array(b"*" + raw.split(b"*", 2)[2])
        cursor = raw.split(b"\r\n")[2]
        found += items[::2]
        steps += 1
        if mutate is not None:
            mutate(steps)
        if cursor == b"0":
            return found, steps


def test_hscan_big_hash_visits_everything(differ):
    _, kv = differ.main
    args = []
    for i in range(1000):
        args += [f"k{i}", f"v{i}"]
    kv.call("HSET", "big", *args)
    found, steps = _full_scan(kv, "big")
    assert sorted(found) == sorted(f"k{i}".encode() for i in range(1000))
    assert 50 <= steps <= 150  # COUNT 10 per step, roughly
    found, steps = _full_scan(kv, "big", "COUNT", 100)
    assert len(found) == 1000 and steps <= 15
    found, _ = _full_scan(kv, "big", "MATCH", "k1*", "COUNT", 50)
    assert sorted(found) == sorted(f"k{i}".encode() for i in range(1000) if str(i)[0] == "1")


def test_hscan_guarantees_under_changes(differ):
    """Fields present for the whole scan are returned; removing others does not hide them."""
    _, kv = differ.main
    args = []
    for i in range(500):
        args += [f"k{i}", "v"]
    kv.call("HSET", "big", *args)

    def mutate(step):
        kv.call("HDEL", "big", *[f"k{i}" for i in range(step * 3, step * 3 + 3) if i % 2])
        kv.call("HSET", "big", f"new{step}", "v")

    found, _ = _full_scan(kv, "big", mutate=mutate)
    stable = {f"k{i}".encode() for i in range(500) if i % 2 == 0}
    assert stable <= set(found)
    assert len(found) == len(set(found))


def test_scan_helpers():
    assert parse_cursor(b"") == 0
    assert parse_cursor(b"-1") == 2**64 - 1
    assert parse_cursor(b"+7") == 7
    for bad in [b" 1", b"1 ", b"0x1", b"2" * 30, b"-", b"1.0"]:
        with pytest.raises(CommandError):
            parse_cursor(bad)
    members = {b"m%d" % i for i in range(100)}
    cursor, seen = 0, []
    while True:
        cursor, step = scan_page(members, cursor, 7)
        assert len(step) >= 7 or cursor == 0
        seen += step
        if cursor == 0:
            break
    assert sorted(seen) == sorted(members)


# -- types, arity, WATCH ------------------------------------------------------------------------


def test_wrong_type(differ):
    differ.check("SADD", "s", "x")
    for command in [
        "HSET s a 1",
        "HMSET s a 1",
        "HSETNX s a 1",
        "HGET s a",
        "HMGET s a",
        "HDEL s a",
        "HLEN s",
        "HSTRLEN s a",
        "HEXISTS s a",
        "HGETALL s",
        "HKEYS s",
        "HVALS s",
        "HINCRBY s a 1",
        "HINCRBYFLOAT s a 1",
        "HRANDFIELD s",
        "HRANDFIELD s 0",
        "HRANDFIELD s -1 WITHVALUES",
        "HSCAN s 0",
        "HSCAN s 0 COUNT 0",
        "HINCRBY s a x",
        "HINCRBYFLOAT s a x",
        "HSCAN s x",
    ]:
        differ.check(*command.split())


def test_wrong_arity(differ):
    for command in [
        "HSET h",
        "HSETNX h a",
        "HGET h",
        "HMGET h",
        "HDEL h",
        "HLEN",
        "HLEN h x",
        "HSTRLEN h",
        "HEXISTS h",
        "HGETALL",
        "HKEYS",
        "HVALS h x",
        "HINCRBY h a",
        "HINCRBYFLOAT h a 1 2",
        "HRANDFIELD",
        "HSCAN h",
        "HMSET",
    ]:
        differ.check(*command.split())


def test_failed_or_noop_writes_do_not_touch_watched_keys(differ):
    differ.check("HSET", "h", "f", "1", "s", "text")
    for noop in ["HSETNX h f 2", "HINCRBY h s 1", "HINCRBYFLOAT h s 1", "HDEL h nope", "HGET h f"]:
        run(differ, f"WATCH h; {noop}; MULTI; HGET h f; EXEC")
    for write in ["HSETNX h g 2", "HINCRBY h f 1", "HDEL h g", "HSET h f 1"]:
        run(differ, f"WATCH h; {write}; MULTI; HGET h f; EXEC")


def test_hash_commands_in_process():
    """Commands work on a bare Server too (no network), including fresh keys and deletion."""

    async def main():
        server = trapline.kv.Server()
        client = server.new_client("c")
        assert server.execute(client, [b"HSET", b"h", b"a", b"1", b"b", b"2"]) == 2
        assert server.execute(client, [b"HINCRBYFLOAT", b"h", b"a", b"0.5"]) == b"1.5"
        assert server.execute(client, [b"HDEL", b"h", b"a", b"b"]) == 2
        assert server.dbs[0].get(b"h") is None

    trapline.run(main)
