"""Set commands against real Redis, byte for byte (member order aside: Redis's is internal)."""

import random

import pytest
from conftest import own_server_fixtures

import trapline.kv
from trapline.kv._glob import glob_match as stringmatch
from trapline.kv._resp import encode

# -- fixtures and helpers --------------------------------------------------------------------------


kv_server, kv_port, _empty_keyspace = own_server_fixtures()


def use_resp3(differ, kv_server, pair=None):
    """Switch a connection pair to RESP3 (directly on trapline.kv if it lacks HELLO)."""
    redis, kv = pair or differ.main
    assert redis.call("HELLO", "3").startswith(b"%")
    if not kv.call("HELLO", "3").startswith(b"%"):
        port = kv.sock.getsockname()[1]
        for client in list(kv_server.server.clients.values()):
            if client.address.endswith(f":{port}"):
                client.resp3 = True


def parse(data: bytes):
    """Parse one raw RESP reply into nested tuples: (type byte, payload)."""
    value, end = _parse(data, 0)
    assert end == len(data)
    return value


def _parse(data: bytes, pos: int):
    end = data.index(b"\r\n", pos)
    kind, header = data[pos : pos + 1], data[pos + 1 : end]
    pos = end + 2
    if kind == b"$":
        length = int(header)
        if length < 0:
            return (kind, None), pos
        return (kind, data[pos : pos + length]), pos + length + 2
    if kind in (b"*", b"~", b">", b"%"):
        count = int(header) * (2 if kind == b"%" else 1)
        items = []
        for _ in range(max(count, 0)):
            item, pos = _parse(data, pos)
            items.append(item)
        return (kind, tuple(items) if count >= 0 else None), pos
    return (kind, header), pos


def unordered(reply):
    """A reply with the members of every flat collection sorted."""
    kind, payload = reply
    if kind in (b"*", b"~") and payload is not None:
        items = [unordered(item) for item in payload]
        if all(item[0] == b"$" for item in items):
            items.sort()
        return kind, tuple(items)
    return reply


def check_unordered(differ, *args, on=None):
    """Like ``differ.check`` but member order does not matter; returns the parsed reply."""
    redis, kv = on or differ.main
    expected, actual = redis.call(*args), kv.call(*args)
    assert unordered(parse(actual)) == unordered(parse(expected)), (args, expected, actual)
    return parse(actual)


def members(reply) -> list[bytes]:
    kind, payload = reply
    return [item[1] for item in payload]


# -- basics ----------------------------------------------------------------------------------------


def test_sadd_scard_sismember_smembers(differ):
    differ.check("SADD", "s", "a", "b", "c", "a")
    differ.check("SADD", "s", "c", "d")
    differ.check("SADD", "s", "c")
    differ.check("SCARD", "s")
    differ.check("SCARD", "missing")
    differ.check("SISMEMBER", "s", "a")
    differ.check("SISMEMBER", "s", "zz")
    differ.check("SISMEMBER", "missing", "a")
    differ.check("SMISMEMBER", "s", "a", "zz", "d", "a")
    differ.check("SMISMEMBER", "missing", "a", "b")
    check_unordered(differ, "SMEMBERS", "s")
    differ.check("SMEMBERS", "missing")
    differ.check("SADD", "ints", "1", "2", "3", "-5", "10")
    check_unordered(differ, "SMEMBERS", "ints")
    differ.check("SADD", "bin", b"\x00\xff", b"", b"a b")
    check_unordered(differ, "SMEMBERS", "bin")
    differ.check("SISMEMBER", "bin", b"")


def test_srem(differ):
    differ.check("SADD", "s", "1", "2", "3", "x")
    differ.check("SREM", "s", "1", "nope", "1")
    differ.check("SREM", "s", "nope")
    differ.check("SREM", "missing", "a")
    differ.check("SREM", "s", "2", "3", "x", "4", "5")
    differ.check("SCARD", "s")
    differ.check("SISMEMBER", "s", "2")
    differ.check("SADD", "s", "again")
    differ.check("SMEMBERS", "s")


def test_wrong_arity(differ):
    for command in (
        ("SADD", "s"),
        ("SREM", "s"),
        ("SMEMBERS",),
        ("SMEMBERS", "a", "b"),
        ("SISMEMBER", "s"),
        ("SMISMEMBER", "s"),
        ("SCARD",),
        ("SPOP",),
        ("SRANDMEMBER",),
        ("SMOVE", "a", "b"),
        ("SINTER",),
        ("SINTERCARD",),
        ("SINTERCARD", "1"),
        ("SUNION",),
        ("SDIFF",),
        ("SINTERSTORE", "d"),
        ("SUNIONSTORE", "d"),
        ("SDIFFSTORE", "d"),
        ("SSCAN", "s"),
    ):
        differ.check(*command)


def test_wrong_type(differ):
    differ.check("ZADD", "z", "1", "a")
    differ.check("SADD", "s", "a")
    for command in (
        ("SADD", "z", "a"),
        ("SREM", "z", "a"),
        ("SMEMBERS", "z"),
        ("SISMEMBER", "z", "a"),
        ("SMISMEMBER", "z", "a"),
        ("SCARD", "z"),
        ("SPOP", "z"),
        ("SPOP", "z", "2"),
        ("SRANDMEMBER", "z"),
        ("SRANDMEMBER", "z", "2"),
        ("SINTER", "s", "z"),
        ("SINTER", "missing", "z"),
        ("SINTERCARD", "2", "missing", "z"),
        ("SUNION", "s", "z"),
        ("SDIFF", "s", "z"),
        ("SDIFF", "missing", "z"),
        ("SINTERSTORE", "d", "s", "z"),
        ("SUNIONSTORE", "d", "s", "z"),
        ("SDIFFSTORE", "d", "z"),
        ("SSCAN", "z", "0"),
        ("SMOVE", "z", "s", "a"),
        ("SMOVE", "s", "z", "a"),
    ):
        differ.check(*command)
    differ.check("SMOVE", "missing", "z", "a")  # a missing source wins over a bad destination
    differ.check("ZCARD", "z")


# -- SMOVE -----------------------------------------------------------------------------------------


def test_smove(differ):
    differ.check("SADD", "src", "a", "b", "1")
    differ.check("SADD", "dst", "x", "2")
    differ.check("SMOVE", "src", "dst", "a")
    differ.check("SMOVE", "src", "dst", "a")
    differ.check("SMOVE", "src", "dst", "nope")
    differ.check("SMOVE", "src", "src", "b")
    differ.check("SMOVE", "src", "src", "nope")
    differ.check("SADD", "src", "x")
    differ.check("SMOVE", "src", "dst", "x")  # already in the destination
    check_unordered(differ, "SMEMBERS", "src")
    check_unordered(differ, "SMEMBERS", "dst")
    differ.check("SMOVE", "src", "new", "1")
    differ.check("SMOVE", "src", "new", "b")  # empties (deletes) the source
    differ.check("SCARD", "src")
    check_unordered(differ, "SMEMBERS", "new")
    differ.check("SMOVE", "missing", "dst", "a")


# -- SINTER / SUNION / SDIFF -----------------------------------------------------------------------


def test_set_algebra(differ):
    differ.check("SADD", "a", "1", "2", "3", "4", "x", "y")
    differ.check("SADD", "b", "3", "4", "5", "y", "z")
    differ.check("SADD", "c", "4", "y", "w")
    for name in ("SINTER", "SUNION", "SDIFF"):
        check_unordered(differ, name, "a")
        check_unordered(differ, name, "a", "b")
        check_unordered(differ, name, "a", "b", "c")
        check_unordered(differ, name, "c", "b", "a")
        check_unordered(differ, name, "a", "a")
        check_unordered(differ, name, "a", "a", "a")
        check_unordered(differ, name, "a", "missing")
        check_unordered(differ, name, "missing", "a")
        check_unordered(differ, name, "missing")
    differ.check("SADD", "empty-after", "q")
    differ.check("SREM", "empty-after", "q")
    check_unordered(differ, "SDIFF", "empty-after", "a")


def test_store_variants(differ):
    differ.check("SADD", "a", "1", "2", "3", "x")
    differ.check("SADD", "b", "2", "3", "4", "y")
    for name in ("SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"):
        differ.check(name, "dst", "a", "b")
        check_unordered(differ, "SMEMBERS", "dst")
        differ.check(name, "dst", "a")
        check_unordered(differ, "SMEMBERS", "dst")
    differ.check("SINTERSTORE", "dst", "a", "missing")
    differ.check("SCARD", "dst")
    differ.check("SUNIONSTORE", "dst", "a", "b")
    differ.check("SDIFFSTORE", "dst", "a", "a")
    differ.check("SCARD", "dst")
    differ.check("SUNIONSTORE", "dst", "missing", "missing2")
    differ.check("SCARD", "dst")
    # The destination may be one of the sources, or a key of another type.
    differ.check("SUNIONSTORE", "a", "a", "b")
    check_unordered(differ, "SMEMBERS", "a")
    differ.check("ZADD", "zdst", "1", "m")
    differ.check("SINTERSTORE", "zdst", "a", "b")
    check_unordered(differ, "SMEMBERS", "zdst")
    differ.check("ZCARD", "zdst")


def test_sintercard(differ):
    differ.check("SADD", "a", "1", "2", "3", "4", "5", "x")
    differ.check("SADD", "b", "2", "3", "4", "5", "6", "x")
    differ.check("SINTERCARD", "2", "a", "b")
    differ.check("SINTERCARD", "1", "a")
    differ.check("SINTERCARD", "2", "a", "b", "LIMIT", "0")
    differ.check("SINTERCARD", "2", "a", "b", "LIMIT", "3")
    differ.check("SINTERCARD", "2", "a", "b", "limit", "100")
    differ.check("SINTERCARD", "2", "a", "missing")
    differ.check("SINTERCARD", "1", "missing", "LIMIT", "10")
    for bad in (
        ("0", "a"),
        ("-1", "a"),
        ("a", "a"),
        ("2", "a"),
        ("3", "a", "b"),
        ("1", "a", "b"),
        ("1", "a", "LIMIT"),
        ("1", "a", "LIMIT", "-1"),
        ("1", "a", "LIMIT", "x"),
        ("1", "a", "LIMIT", "1", "LIMIT"),
    ):
        differ.check("SINTERCARD", *bad)
    differ.check("SINTERCARD", "1", "a", "LIMIT", "1", "LIMIT", "2")


# -- SPOP / SRANDMEMBER ----------------------------------------------------------------------------


def test_spop_deterministic_cases(differ):
    differ.check("SPOP", "missing")
    differ.check("SPOP", "missing", "3")
    differ.check("SPOP", "missing", "0")
    differ.check("SADD", "one", "only")
    differ.check("SPOP", "one")
    differ.check("SCARD", "one")
    differ.check("SADD", "s", "a", "b", "c")
    for bad in ("-1", "abc", "1.5", "9223372036854775808", ""):
        differ.check("SPOP", "s", bad)
    differ.check("SPOP", "s", "1", "2")
    differ.check("SPOP", "s", "0")
    check_unordered(differ, "SPOP", "s", "3")
    differ.check("SCARD", "s")
    differ.check("SADD", "s", "a", "b", "c")
    check_unordered(differ, "SPOP", "s", "100")
    differ.check("SPOP", "s")


def test_spop_properties(kv_client):
    values = [str(i).encode() for i in range(50)] + [b"m%d" % i for i in range(50)]
    assert kv_client.call("SADD", "s", *values) == b":100\r\n"
    popped = set()
    for _ in range(10):
        reply = parse(kv_client.call("SPOP", "s"))
        popped.add(reply[1])
    many = parse(kv_client.call("SPOP", "s", "30"))
    assert many[0] == b"*" and len(many[1]) == 30
    popped.update(members(many))
    rest = parse(kv_client.call("SPOP", "s", "80"))
    popped.update(members(rest))
    assert len(rest[1]) == 60
    assert popped == set(values)
    assert kv_client.call("SCARD", "s") == b":0\r\n"


def test_spop_big_set_and_all_code_paths(kv_client):
    values = [b"%d" % i for i in range(3000)]
    kv_client.call("SADD", "big", *values)
    seen = set()
    for count in ("1", "5", "500", "2000"):
        reply = parse(kv_client.call("SPOP", "big", count))
        assert len(reply[1]) == int(count)
        seen.update(members(reply))
    seen.add(parse(kv_client.call("SPOP", "big"))[1])
    assert len(seen) == 2507
    assert kv_client.call("SCARD", "big") == b":493\r\n"
    rest = members(parse(kv_client.call("SMEMBERS", "big")))
    assert seen.isdisjoint(rest) and seen.union(rest) == set(values)


def test_srandmember_deterministic_cases(differ):
    differ.check("SRANDMEMBER", "missing")
    differ.check("SRANDMEMBER", "missing", "5")
    differ.check("SRANDMEMBER", "missing", "-5")
    differ.check("SADD", "s", "a")
    differ.check("SRANDMEMBER", "s")
    differ.check("SRANDMEMBER", "s", "0")
    differ.check("SRANDMEMBER", "s", "1")
    differ.check("SRANDMEMBER", "s", "-3")
    differ.check("SRANDMEMBER", "s", "10")
    for bad in ("-9223372036854775808", "9223372036854775808", "x", "1.0"):
        differ.check("SRANDMEMBER", "s", bad)
    differ.check("SRANDMEMBER", "s", "1", "2")
    differ.check("SRANDMEMBER", "s", "x", "2")
    differ.check("SADD", "s", "b", "c", "d")
    check_unordered(differ, "SRANDMEMBER", "s", "4")
    check_unordered(differ, "SRANDMEMBER", "s", "40")
    differ.check("SCARD", "s")


def test_srandmember_properties(kv_client):
    values = {b"%d" % i for i in range(20)} | {b"x%d" % i for i in range(20)}
    kv_client.call("SADD", "s", *values)
    for count in (1, 5, 25, 39):
        got = members(parse(kv_client.call("SRANDMEMBER", "s", count)))
        assert len(got) == count and len(set(got)) == count and set(got) <= values
    got = members(parse(kv_client.call("SRANDMEMBER", "s", "-200")))
    assert len(got) == 200 and set(got) <= values and len(set(got)) > 20
    singles = {parse(kv_client.call("SRANDMEMBER", "s"))[1] for _ in range(200)}
    assert singles <= values and len(singles) > 20
    assert kv_client.call("SCARD", "s") == b":40\r\n"


# -- SSCAN -----------------------------------------------------------------------------------------


def test_sscan_small_sets(differ):
    differ.check("SSCAN", "missing", "0")
    differ.check("SSCAN", "missing", "0", "COUNT", "0")  # options are not parsed for a missing key
    differ.check("SADD", "ints", *[str(n) for n in (5, -3, 100, 7, 0, 12, 9999999999)])
    differ.check("SSCAN", "ints", "0")
    differ.check("SSCAN", "ints", "0", "COUNT", "2")
    differ.check("SSCAN", "ints", "17", "MATCH", "1*")
    differ.check("SSCAN", "ints", "0", "MATCH", "*", "COUNT", "1")
    differ.check("SSCAN", "ints", "0", "match", "-*")
    for bad in (
        ("abc",),
        (" 1",),
        ("1 ",),
        ("-",),
        ("18446744073709551616",),
        ("0", "COUNT", "0"),
        ("0", "COUNT", "-1"),
        ("0", "COUNT", "x"),
        ("0", "COUNT"),
        ("0", "MATCH"),
        ("0", "NOPE", "1"),
        ("0", "TYPE", "string"),
    ):
        differ.check("SSCAN", "ints", *bad)
    for cursor in ("", "-1", "+5", "18446744073709551615", "007"):
        differ.check("SSCAN", "ints", cursor)
    differ.check("SADD", "words", "alpha", "beta", "gamma", "delta", "hello", "hallo", "h[a]llo")
    for pattern in ("*", "h?llo", "h*", "*a", "[a-c]*", "[^a-c]*", "h\\[a\\]llo", "*l*o", "nope"):
        check_unordered(differ, "SSCAN", "words", "0", "MATCH", pattern)


def test_sscan_big_set_returns_everything(kv_client):
    values = {b"member:%d" % i for i in range(1000)}
    kv_client.call("SADD", "big", *values)
    cursor, seen, calls = b"0", [], 0
    while True:
        reply = parse(kv_client.call("SSCAN", "big", cursor, "COUNT", "37"))
        cursor = reply[1][0][1]
        batch = members(reply[1][1])
        assert len(batch) <= 40
        seen += batch
        calls += 1
        if cursor == b"0":
            break
    assert set(seen) == values and len(seen) == len(values)
    assert calls > 20


def test_sscan_guarantees_under_writes(kv_client):
    kept = {b"k%d" % i for i in range(600)}
    kv_client.call("SADD", "s", *kept)
    kv_client.call("SADD", "s", *[b"t%d" % i for i in range(600)])
    cursor, seen, step = b"0", set(), 0
    while True:
        reply = parse(kv_client.call("SSCAN", "s", cursor))
        cursor = reply[1][0][1]
        seen.update(members(reply[1][1]))
        # Churn: remove some temporary members, add new ones.
        kv_client.call("SREM", "s", b"t%d" % step, b"t%d" % (599 - step))
        kv_client.call("SADD", "s", b"n%d" % step)
        step += 1
        if cursor == b"0":
            break
    assert kept <= seen
    assert all(member[:1] in b"ktn" for member in seen)


# Glob corner cases (split on spaces; "" and the Latin-1 ones are added separately).
GLOB_STRINGS = r"a b x ab abc abbbc abbbd ac bx ax * ? ] [ - a\ \ xaybzc hello hallo hxllo".split()
GLOB_STRINGS += ["", "h[a]llo", "HELLO", "a-c", "\xe9t\xe9"]
GLOB_PATTERNS = r"* ** a* *a a*c a?c ? ?? [abc]x [^abc]x [a-c] [c-a]".split()
GLOB_PATTERNS += r"[a-c [ [] [^] \* \ a\ x".split()
GLOB_PATTERNS += r"*a*b*c* [\]] h[ae]llo h[^e]llo h*llo *[ [-] [a-] \? *\ *?* x*y*z".split()
GLOB_PATTERNS += ["", "[\xc0-\xff]*", "[^\xc0-\xff]*"]


def test_glob_matching_like_redis(differ):
    """SSCAN MATCH over one small set, every pattern compared with Redis's stringmatchlen."""
    differ.check("SADD", "words", *[text.encode("latin-1") for text in GLOB_STRINGS])
    for pattern in GLOB_PATTERNS:
        check_unordered(
            differ, "SSCAN", "words", "0", "MATCH", pattern.encode("latin-1"), "COUNT", "1000"
        )
    assert not stringmatch(b"*", b"")  # a Redis quirk: "*" needs at least one byte
    assert stringmatch(b"a*", b"a")


# -- RESP3 -----------------------------------------------------------------------------------------


def test_resp3_set_replies(differ, kv_server):
    use_resp3(differ, kv_server)
    differ.check("SADD", "s", "a", "b", "c")
    differ.check("SADD", "one", "x")
    check_unordered(differ, "SMEMBERS", "s")
    differ.check("SMEMBERS", "missing")
    differ.check("SMEMBERS", "one")
    check_unordered(differ, "SINTER", "s", "s")
    differ.check("SINTER", "s", "missing")
    check_unordered(differ, "SUNION", "s", "one")
    check_unordered(differ, "SDIFF", "s", "one")
    differ.check("SDIFF", "missing", "s")
    differ.check("SPOP", "missing")
    differ.check("SPOP", "missing", "2")
    differ.check("SPOP", "one", "0")
    differ.check("SPOP", "one", "5")
    differ.check("SRANDMEMBER", "missing")
    differ.check("SRANDMEMBER", "missing", "3")
    differ.check("SISMEMBER", "s", "a")
    differ.check("SMISMEMBER", "s", "a", "q")
    differ.check("SSCAN", "missing", "0")
    check_unordered(differ, "SPOP", "s", "3")


# -- keyspace notifications to WATCH and blocked clients -------------------------------------------


async def test_writes_touch_watched_keys_only_when_they_change():
    server = trapline.kv.Server()
    client = server.new_client("c")

    def run(*args):
        out = bytearray()
        encode(server.execute(client, [a.encode() for a in args]), out)
        return bytes(out)

    def changes(*args):
        run("WATCH", "s", "d")
        run("MULTI")
        run("PING")
        server.execute(server.new_client("other"), [a.encode() for a in args])
        return run("EXEC") == b"*-1\r\n"

    assert changes("SADD", "s", "a", "b")
    assert not changes("SADD", "s", "a")
    assert not changes("SREM", "s", "zz")
    assert changes("SREM", "s", "b")
    assert not changes("SMOVE", "s", "d", "zz")
    assert changes("SMOVE", "s", "d", "a")
    assert server.dbs[0].data == {b"d": {b"a"}}
    assert changes("SINTERSTORE", "d", "missing")  # deletes "d"
    assert not changes("SINTERSTORE", "d", "missing")


# -- random command sequences ----------------------------------------------------------------------

FUZZ_MEMBERS = [b"1", b"2", b"-3", b"10", b"a", b"b", b"", b"x" * 70, b"007"]


def _fuzz_command(rnd):
    key, other = rnd.choice([b"s1", b"s2", b"s3"]), rnd.choice([b"s1", b"s2", b"s3", b"z"])
    members = rnd.sample(FUZZ_MEMBERS, rnd.randint(1, 3))
    keys = rnd.sample([b"s1", b"s2", b"s3", b"missing", b"z"], rnd.randint(1, 3))
    return rnd.choice([
        [b"SADD", key, *members], [b"SREM", key, *members], [b"SMOVE", key, other, members[0]],
        [b"SISMEMBER", key, members[0]], [b"SMISMEMBER", other, *members], [b"SCARD", key],
        [b"SMEMBERS", key], [rnd.choice([b"SINTER", b"SUNION", b"SDIFF"]), *keys],
        [rnd.choice([b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE"]), key, *keys],
        [b"SINTERCARD", b"%d" % len(keys), *keys, b"LIMIT", b"%d" % rnd.randint(0, 3)],
        [b"SSCAN", key, b"0", b"COUNT", b"999", b"MATCH", rnd.choice([b"*", b"1*", b"[a-b]"])],
        [b"ZADD", b"z", b"1", members[0]], [b"ZREM", b"z", members[0]],
    ])  # fmt: skip


@pytest.mark.parametrize("seed", range(3))
def test_random_command_sequences(differ, seed):
    rnd = random.Random(seed)
    for _ in range(500):
        check_unordered(differ, *_fuzz_command(rnd))
