"""Generic key commands against real Redis, byte for byte; expiry on the virtual clock."""

import random

import pytest

import trapline
import trapline.kv
from trapline.kv._commands import Blocked
from trapline.kv._db import CommandError
from trapline.kv._glob import glob_match as match_pattern
from trapline.kv._resp import Error, NullArray
from trapline.kv._scan import parse_cursor, scan_page


def test_del_exists_type_touch(differ):
    c = differ.check
    c("SET", "a", "1")
    c("LPUSH", "l", "x")
    c("SADD", "s", "m")
    c("HSET", "h", "f", "v")
    c("ZADD", "z", "1", "m")
    for key in ("a", "l", "s", "h", "z", "none"):
        c("TYPE", key)
    c("EXISTS", "a", "a", "none", "l")
    c("TOUCH", "a", "none")
    c("DEL", "a", "none", "l")
    c("UNLINK", "s", "h")
    c("EXISTS", "a", "l", "s", "h")
    c("DBSIZE")


def test_expire_family(differ):
    c = differ.check
    c("SET", "k", "v")
    c("EXPIRE", "k", "100")
    c("TTL", "k")
    c("EXPIRE", "k", "100", "NX")
    c("EXPIRE", "k", "200", "XX")
    c("EXPIRE", "k", "50", "GT")
    c("EXPIRE", "k", "50", "LT")
    c("TTL", "k")
    c("EXPIRE", "k", "10", "NX", "XX")
    c("EXPIRE", "k", "10", "GT", "LT")
    c("EXPIRE", "k", "10", "BOGUS")
    c("EXPIRE", "k", "abc")
    c("EXPIRE", "k", "99999999999999999")
    c("PERSIST", "k")
    c("PERSIST", "k")
    c("TTL", "k")
    c("PTTL", "none")
    c("EXPIRE", "none", "10")
    c("EXPIRE", "k", "10", "XX")
    c("EXPIRE", "k", "10", "GT")
    c("EXPIREAT", "k", "1")
    c("EXISTS", "k")
    c("SET", "k", "v")
    c("PEXPIREAT", "k", "99999999999999")
    c("PEXPIRETIME", "k")
    c("EXPIRETIME", "k")
    c("EXPIRETIME", "none")
    c("SET", "k2", "v")
    c("EXPIRETIME", "k2")
    c("EXPIRE", "k2", "-5")
    c("EXISTS", "k2")


def test_keys_and_scan(differ):
    c = differ.check
    for key in ("hello", "hallo", "hxllo", "hllo", "heeeello", "a*b", "user:1", "user:2"):
        c("SET", key, "v")
    for pattern in ("h?llo", "h*llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "a\\*b", "user:*"):
        redis, kv = differ.main
        got = [sorted(client.call("KEYS", pattern).split(b"\r\n")[2::2]) for client in (redis, kv)]
        assert got[0] == got[1], pattern
    kv = differ.main[1]
    seen = set()
    cursor = b"0"
    while True:
        reply = kv.call("SCAN", cursor, "MATCH", "user:*", "COUNT", "2")
        parts = reply.split(b"\r\n")
        cursor = parts[2]
        seen.update(part for part in parts[5::2] if part)
        if cursor == b"0":
            break
    assert seen == {b"user:1", b"user:2"}
    c("SCAN", "abc")
    c("SCAN", "0", "COUNT", "0")
    c("SCAN", "0", "BOGUS", "1")


def test_rename_copy_move_swapdb_flush(differ):
    c = differ.check
    c("SET", "a", "1")
    c("EXPIRE", "a", "100")
    c("RENAME", "a", "b")
    c("TTL", "b")
    c("RENAME", "nope", "x")
    c("RENAME", "b", "b")
    c("SET", "c", "2")
    c("RENAMENX", "b", "c")
    c("RENAMENX", "b", "d")
    c("COPY", "d", "e")
    c("COPY", "d", "e")
    c("COPY", "d", "e", "REPLACE")
    c("COPY", "d", "d")
    c("COPY", "d", "x", "DB", "1")
    c("COPY", "d", "x", "DB", "99")
    c("COPY", "d", "x", "BOGUS")
    c("MOVE", "d", "0")
    c("MOVE", "d", "2")
    c("MOVE", "d", "2")
    c("MOVE", "nope", "2")
    c("MOVE", "e", "99")
    c("SELECT", "2")
    c("GET", "d")
    c("SELECT", "0")
    c("SWAPDB", "0", "2")
    c("GET", "d")
    c("SWAPDB", "0", "99")
    c("SWAPDB", "x", "1")
    c("SWAPDB", "0", "x")
    c("FLUSHDB", "BOGUS")
    c("FLUSHDB", "ASYNC")
    c("DBSIZE")
    c("FLUSHALL", "SYNC")


async def test_randomkey_and_expiring_keys(virtual_clock):
    server = trapline.kv.Server()
    client = server.new_client("c")
    run = server.execute
    assert run(client, [b"RANDOMKEY"]) is None
    run(client, [b"SET", b"only", b"v"])
    assert run(client, [b"RANDOMKEY"]) == b"only"
    run(client, [b"PEXPIRE", b"only", b"10"])
    await trapline.sleep(0.01)
    assert run(client, [b"RANDOMKEY"]) is None
    assert run(client, [b"DBSIZE"]) == 0


# -- more of every command ---------------------------------------------------------------------


def check_all(differ, *commands):
    for command in commands:
        differ.check(*command)


def keys_of(client, *command):
    """The sorted elements of a flat array reply (KEYS), from the raw bytes."""
    return sorted(client.call(*command).split(b"\r\n")[2::2])


def test_arity_and_basic_errors(differ):
    check_all(
        differ,
        ("DEL",),
        ("UNLINK",),
        ("EXISTS",),
        ("TOUCH",),
        ("TYPE",),
        ("TYPE", "a", "b"),
        ("KEYS",),
        ("KEYS", "a", "b"),
        ("SCAN",),
        ("RANDOMKEY", "x"),
        ("RENAME", "a"),
        ("RENAMENX", "a", "b", "c"),
        ("COPY", "a"),
        ("MOVE", "a"),
        ("SWAPDB", "0"),
        ("DBSIZE", "x"),
        ("EXPIRE", "a"),
        ("PEXPIRE", "a"),
        ("EXPIREAT", "a"),
        ("PEXPIREAT", "a"),
        ("TTL",),
        ("PTTL", "a", "b"),
        ("EXPIRETIME",),
        ("PEXPIRETIME", "a", "b"),
        ("PERSIST",),
        ("OBJECT",),
        ("OBJECT", "ENCODING"),
        ("OBJECT", "ENCODING", "a", "b"),
        ("OBJECT", "BOGUS", "a"),
        ("OBJECT", "HELP", "x"),
        ("FLUSHDB", "ASYNC", "x"),
        ("FLUSHALL", "x"),
        ("FLUSHALL", "ASYNC", "SYNC"),
        ("FLUSHALL", "async"),
        ("FLUSHDB", "sync"),
        ("FLUSHDB",),
    )


def test_del_exists_counts_repeats(differ):
    check_all(
        differ,
        ("MSET", "a", "1", "b", "2", "c", "3"),
        ("EXISTS", "a", "a", "a", "missing"),
        ("TOUCH", "a", "b", "b"),
        ("DEL", "a", "a", "b"),
        ("UNLINK", "c", "c", "missing"),
        ("DBSIZE",),
        ("DEL", "missing"),
    )


def test_expire_options_and_limits(differ):
    check_all(
        differ,
        ("SET", "k", "v"),
        ("EXPIRE", "k", "100", "GT"),
        ("TTL", "k"),
        ("EXPIRE", "k", "100", "LT"),
        ("TTL", "k"),
        ("EXPIRE", "k", "200", "lt"),
        ("EXPIRE", "k", "50", "gt"),
        ("EXPIRE", "k", "50", "Lt"),
        ("TTL", "k"),
        ("EXPIRE", "k", "60", "xx", "gt"),
        ("TTL", "k"),
        ("EXPIRE", "k", "10", "NX", "GT"),
        ("EXPIRE", "k", "10", "NX", "LT"),
        ("EXPIRE", "k", "10", "LT", "GT"),
        ("EXPIRE", "k", "10", "XX", "NX"),
        ("EXPIRE", "k", "10", "NX", "NX"),
        ("EXPIRE", "missing", "abc", "BOGUS"),
        ("EXPIRE", "missing", "abc", "NX"),
        ("EXPIRE", "k", "abc", "NX", "XX"),
        ("EXPIRE", "k", "1.5"),
        ("EXPIRE", "k", "9223372036854775"),
        ("TTL", "k"),
        ("SET", "k", "v"),
        ("EXPIRE", "k", "9223372036854776"),
        ("EXPIRE", "k", "-9223372036854775"),
        ("SET", "k", "v"),
        ("EXPIRE", "k", "-9223372036854776"),
        ("PEXPIRE", "k", "9223372036854775807"),
        ("PEXPIRE", "k", "9223372036854775806", "NX"),
        ("PEXPIREAT", "k", "9223372036854775807"),
        ("PEXPIRETIME", "k"),
        ("EXPIRETIME", "k"),
        ("EXPIREAT", "k", "9223372036854775"),
        ("EXPIRETIME", "k"),
        ("EXPIREAT", "k", "9223372036854776"),
        ("EXPIREAT", "k", "4102444800"),
        ("EXPIRETIME", "k"),
        ("PEXPIRETIME", "k"),
        ("PEXPIREAT", "k", "4102444800499"),
        ("EXPIRETIME", "k"),
        ("PEXPIREAT", "k", "4102444800500"),
        ("EXPIRETIME", "k"),
        ("EXPIREAT", "k", "4102444801", "GT"),
        ("EXPIREAT", "k", "4102444700", "GT"),
        ("EXPIREAT", "k", "4102444700", "LT"),
        ("EXPIRETIME", "k"),
        ("PERSIST", "k"),
        ("EXPIRE", "k", "10", "XX"),
        ("EXPIRE", "k", "10", "GT"),
        ("EXPIRE", "k", "10", "LT"),
        ("TTL", "k"),
        ("EXPIRE", "k", "0"),
        ("EXISTS", "k"),
        ("SET", "k", "v"),
        ("PEXPIRE", "k", "-1"),
        ("EXISTS", "k"),
        ("SET", "k", "v"),
        ("EXPIREAT", "k", "-100", "NX"),
        ("EXISTS", "k"),
        ("SET", "k", "v", "EX", "100"),
        ("EXPIRE", "k", "-1", "GT"),
        ("EXPIRE", "k", "-1", "LT"),
        ("EXISTS", "k"),
        ("TTL", "missing"),
        ("PTTL", "missing"),
        ("PERSIST", "missing"),
    )


def test_expire_on_every_type(differ):
    check_all(
        differ,
        ("RPUSH", "l", "a"),
        ("SADD", "s", "a"),
        ("HSET", "h", "f", "v"),
        ("ZADD", "z", "1", "a"),
    )
    for key in ("l", "s", "h", "z"):
        differ.check("EXPIREAT", key, "4102444800")
        differ.check("EXPIRETIME", key)
        differ.check("PERSIST", key)
        differ.check("TTL", key)
        differ.check("EXPIRE", key, "0")
        differ.check("TYPE", key)


GLOB_KEYS = [
    "",
    "a",
    "ab",
    "abc",
    "aXc",
    "a*c",
    "a?c",
    "a[c",
    "a]c",
    "a\\c",
    "a-c",
    "a^c",
    "hello",
    "hallo",
    "hillo",
    "hllo",
    "heeeello",
    "HELLO",
    "user:1",
    "user:10",
    "user:2:name",
    "x\xffy",
    "x\x80y",
    "*",
    "?",
    "[",
    "]",
    "\\",
]

GLOB_PATTERNS = [
    "*",
    "**",
    "?",
    "??",
    "a*",
    "*c",
    "a*c",
    "a**c",
    "*a*",
    "h?llo",
    "h*llo",
    "h[ae]llo",
    "h[^e]llo",
    "h[a-e]llo",
    "h[e-a]llo",
    "h[a-]llo",
    "h[-a]llo",
    "h[]llo",
    "h[",
    "a[",
    "a[^",
    "a[\\",
    "a[c-",
    "a[\\]]c",
    "a[]]c",
    "a[^]]c",
    "a\\*c",
    "a\\?c",
    "a\\[c",
    "a\\\\c",
    "a\\",
    "\\",
    "\\*",
    "[*]",
    "[?]",
    "[[]",
    "[\\[]",
    "user:*",
    "user:?",
    "user:[0-9]",
    "user:[0-9]*",
    "*:*:*",
    "x[\x80-\xff]y",
    "x[\xff-\x80]y",
    "x?y",
    "[a-z]*",
    "[^a-z]*",
    "*[",
    "*\\",
    "HELLO",
    "hello",
]


def test_keys_glob_patterns(differ):
    redis, kv = differ.main
    for key in GLOB_KEYS:
        differ.check("SET", key.encode("latin-1"), "v")
    for pattern in GLOB_PATTERNS:
        raw = pattern.encode("latin-1")
        assert keys_of(redis, "KEYS", raw) == keys_of(kv, "KEYS", raw), pattern


def test_keys_random_patterns(differ):
    redis, kv = differ.main
    rng = random.Random(11)
    keys = {
        bytes(rng.choice(b"ab-]^[\\*?\xe9") for _ in range(rng.randint(0, 6))) for _ in range(60)
    }
    for key in keys:
        differ.check("SET", key, "v")
    for _ in range(400):
        pattern = bytes(rng.choice(b"ab*?[]^-\\\xe9") for _ in range(rng.randint(0, 7)))
        assert keys_of(redis, "KEYS", pattern) == keys_of(kv, "KEYS", pattern), pattern


def test_match_pattern_helper():
    assert match_pattern(b"h[a-z]llo", b"hello")
    assert not match_pattern(b"h[^e]llo", b"hello")
    assert match_pattern(b"HeLLo", b"hello", nocase=True)
    assert match_pattern(b"h[A-Z]llo", b"hello", nocase=True)
    assert not match_pattern(b"*", b"")  # Redis's stringmatchlen: "" only matches ""
    assert match_pattern(b"", b"")
    assert match_pattern(b"a\\*", b"a*")
    assert not match_pattern(b"a\\*", b"ab")
    # No exponential backtracking.
    assert not match_pattern(b"a*" * 40 + b"b", b"a" * 200)
    assert not match_pattern(b"a?*" * 40 + b"[b]", b"a" * 200)


def test_scan_errors_and_empty(differ):
    check_all(
        differ,
        ("SCAN", "0"),
        ("SCAN", ""),
        ("SCAN", "0", "COUNT", "100", "MATCH", "*", "TYPE", "string"),
        ("SCAN", "abc"),
        ("SCAN", " 0"),
        ("SCAN", "0 "),
        ("SCAN", "1.5"),
        ("SCAN", "18446744073709551616"),
        ("SCAN", "-18446744073709551616"),
        ("SCAN", "+"),
        ("SCAN", "-"),
        ("SCAN", "0", "COUNT"),
        ("SCAN", "0", "COUNT", "0"),
        ("SCAN", "0", "COUNT", "-1"),
        ("SCAN", "0", "COUNT", "x"),
        ("SCAN", "0", "MATCH"),
        ("SCAN", "0", "TYPE"),
        ("SCAN", "0", "BOGUS", "x"),
        ("SCAN", "abc", "COUNT", "0"),
        ("SCAN", "0", "COUNT", "0", "BOGUS"),
    )
    for cursor in ("18446744073709551615", "-1", "+5", "007"):
        reply = differ.main[1].call("SCAN", cursor)
        assert reply.startswith(b"*2\r\n$"), (cursor, reply)


def full_scan(client, *options):
    seen = []
    cursor = b"0"
    for _ in range(10_000):
        reply = client.call("SCAN", cursor, *options).split(b"\r\n")
        cursor = reply[2]
        seen += reply[5::2]
        if cursor == b"0":
            return seen
    raise AssertionError("SCAN never finished")


def test_scan_returns_everything(differ):
    redis, kv = differ.main
    kv.call("MSET", *[f"key:{i}" for i in range(1000) for _ in (0, 1)])
    redis.call("MSET", *[f"key:{i}" for i in range(1000) for _ in (0, 1)])
    for count in ("1", "7", "10", "100", "5000"):
        seen = full_scan(kv, "COUNT", count)
        assert sorted(seen) == sorted(f"key:{i}".encode() for i in range(1000)), count
    assert sorted(full_scan(kv, "MATCH", "key:1?", "COUNT", "3")) == sorted(
        full_scan(redis, "MATCH", "key:1?", "COUNT", "3")
    )
    assert len(full_scan(kv, "MATCH", "key:1*")) == 111


def test_scan_type_filter(differ):
    redis, kv = differ.main
    for client in (redis, kv):
        client.call("SET", "s", "v")
        client.call("RPUSH", "l", "a")
        client.call("SADD", "st", "a")
        client.call("HSET", "h", "f", "v")
        client.call("ZADD", "z", "1", "a")
    for kind in ("string", "list", "set", "hash", "zset", "STRING", "none", "bogus"):
        assert sorted(full_scan(kv, "TYPE", kind)) == sorted(full_scan(redis, "TYPE", kind)), kind
    assert sorted(full_scan(kv, "TYPE", "set", "MATCH", "s*")) == [b"st"]


def test_scan_page_keeps_its_promise_under_changes():
    rng = random.Random(5)
    data = {f"k{i}".encode(): 1 for i in range(500)}
    stable = set(list(data)[:250])
    seen: list[bytes] = []
    cursor = 0
    steps = 0
    while True:
        cursor, page = scan_page(data, cursor, rng.randint(1, 20))
        seen += page
        steps += 1
        for _ in range(5):  # churn among the keys that are not promised
            victim = f"k{rng.randint(250, 499)}".encode()
            data.pop(victim, None)
            data[f"new{rng.randint(0, 10**6)}".encode()] = 1
        if cursor == 0:
            break
    assert stable <= set(seen)
    assert all(seen.count(key) == 1 for key in stable)
    assert steps > 10


def test_scan_page_small_and_unknown_cursors():
    members = {b"a", b"b"}
    cursor, page = scan_page(members, 0, 10)
    assert cursor == 0
    assert sorted(page) == [b"a", b"b"]
    cursor, page = scan_page(members, 12345, 1)  # a cursor from nowhere still terminates
    for _ in range(10):
        if not cursor:
            break
        cursor, page = scan_page(members, cursor, 1)
    assert cursor == 0
    assert parse_cursor(b"") == 0
    assert parse_cursor(b"-1") == 2**64 - 1
    assert parse_cursor(b"+7") == 7
    with pytest.raises(CommandError):
        parse_cursor(b"18446744073709551616")


def test_randomkey(differ):
    differ.check("RANDOMKEY")
    differ.check("SET", "only", "v")
    differ.check("RANDOMKEY")
    kv = differ.main[1]
    kv.call("MSET", "a", "1", "b", "2", "c", "3")
    seen = {kv.call("RANDOMKEY") for _ in range(200)}
    assert seen == {b"$4\r\nonly\r\n", b"$1\r\na\r\n", b"$1\r\nb\r\n", b"$1\r\nc\r\n"}


def test_rename_copy_move_every_type(differ):
    check_all(
        differ,
        ("RPUSH", "l", "a", "b", "c"),
        ("HSET", "h", "f1", "v1", "f2", "v2"),
        ("SADD", "s", "1", "2", "x"),
        ("ZADD", "z", "1", "a", "2", "b"),
        ("SET", "str", "v"),
    )
    for key in ("l", "h", "s", "z", "str"):
        check_all(
            differ,
            ("COPY", key, key + "2"),
            ("TYPE", key + "2"),
            ("RENAME", key + "2", key + "3"),
            ("EXISTS", key + "2", key + "3"),
            ("RENAMENX", key + "3", key),
            ("MOVE", key + "3", "1"),
            ("EXISTS", key + "3"),
            ("COPY", key, key + "4", "DB", "1"),
            ("COPY", key, key + "4", "DB", "1"),
            ("COPY", key, "str", "REPLACE"),
            ("TYPE", "str"),
        )
    # Copies are independent of their originals.
    check_all(
        differ,
        ("COPY", "l", "lc"),
        ("RPUSH", "lc", "d"),
        ("LRANGE", "l", "0", "-1"),
        ("COPY", "h", "hc"),
        ("HSET", "hc", "f3", "v3"),
        ("HGETALL", "h"),
        ("HGETALL", "hc"),
        ("COPY", "s", "sc"),
        ("SREM", "sc", "1"),
        ("SCARD", "s"),
        ("COPY", "z", "zc"),
        ("ZADD", "zc", "0", "c"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
        ("ZRANGE", "zc", "0", "-1", "WITHSCORES"),
        ("SELECT", "1"),
        ("LRANGE", "l3", "0", "-1"),
        ("HGETALL", "h4"),
        ("EXISTS", "z3", "z4", "s3", "s4"),
    )


def test_copy_move_swapdb_errors(differ):
    check_all(
        differ,
        ("SET", "a", "1"),
        ("COPY", "a", "b", "DB"),
        ("COPY", "a", "b", "DB", "x"),
        ("COPY", "a", "b", "DB", "-1"),
        ("COPY", "a", "b", "DB", "16"),
        ("COPY", "a", "b", "DB", "2147483648"),
        ("COPY", "a", "a", "DB", "0"),
        ("COPY", "a", "a", "DB", "1"),
        ("COPY", "a", "a", "REPLACE"),
        ("COPY", "missing", "b"),
        ("COPY", "a", "b", "replace", "db", "0", "REPLACE"),
        ("GET", "b"),
        ("COPY", "a", "b", "DB", "0", "DB", "99"),
        ("MOVE", "a", "x"),
        ("MOVE", "a", "-1"),
        ("MOVE", "a", "16"),
        ("MOVE", "a", "2147483648"),
        ("MOVE", "missing", "0"),
        ("MOVE", "missing", "1"),
        ("SET", "a", "2", "PX", "100000"),
        ("MOVE", "a", "1"),
        ("SELECT", "1"),
        ("TTL", "a"),
        ("SET", "b", "in db 1"),
        ("SELECT", "0"),
        ("SET", "b", "in db 0"),
        ("MOVE", "b", "1"),
        ("SWAPDB", "-1", "0"),
        ("SWAPDB", "0", "16"),
        ("SWAPDB", "2147483648", "0"),
        ("SWAPDB", "0", "0"),
        ("SWAPDB", "1", "0"),
        ("MGET", "a", "b"),
        ("TTL", "a"),
        ("DBSIZE",),
        ("RENAME", "missing", "missing"),
        ("RENAMENX", "missing", "x"),
        ("RENAMENX", "a", "a"),
        ("RENAME", "a", "a"),
    )


def test_object_subcommands(differ):
    check_all(
        differ,
        ("OBJECT", "HELP"),
        ("object", "help"),
        ("OBJECT", "ENCODING", "missing"),
        ("OBJECT", "REFCOUNT", "missing"),
        ("OBJECT", "IDLETIME", "missing"),
        ("OBJECT", "FREQ", "missing"),
        ("SET", "k", "v"),
        ("OBJECT", "REFCOUNT", "k"),
        ("OBJECT", "IDLETIME", "k"),
        ("OBJECT", "FREQ", "k"),
        ("SET", "n", "100"),
        ("OBJECT", "REFCOUNT", "n"),
        ("SET", "n", "10000"),
        ("OBJECT", "REFCOUNT", "n"),
        ("RPUSH", "l", "a"),
        ("OBJECT", "ENCODING", "l"),
        ("OBJECT", "REFCOUNT", "l"),
        ("RPUSH", "biglist", *range(1000)),
        ("OBJECT", "ENCODING", "biglist"),
        ("HSET", "h", "f", "v"),
        ("OBJECT", "ENCODING", "h"),
        ("HSET", "h", "long", "x" * 64),
        ("OBJECT", "ENCODING", "h"),
        ("HSET", "hv", "f", "x" * 65),
        ("OBJECT", "ENCODING", "hv"),
        ("HSET", "hf", "x" * 65, "v"),
        ("OBJECT", "ENCODING", "hf"),
        ("HSET", "hbig", *[f"f{i // 2}" for i in range(1024)]),
        ("OBJECT", "ENCODING", "hbig"),
        ("HSET", "hbig", "one", "more"),
        ("OBJECT", "ENCODING", "hbig"),
        ("SADD", "si", "1", "2", "-3"),
        ("OBJECT", "ENCODING", "si"),
        ("SADD", "si", "01"),
        ("OBJECT", "ENCODING", "si"),
        ("SADD", "sbig", *range(512)),
        ("OBJECT", "ENCODING", "sbig"),
        ("SADD", "sbig", "512"),
        ("OBJECT", "ENCODING", "sbig"),
        ("SADD", "ss", "a"),
        ("OBJECT", "ENCODING", "ss"),
        ("ZADD", "z", "1", "a"),
        ("OBJECT", "ENCODING", "z"),
        ("ZADD", "z", "2", "x" * 64),
        ("OBJECT", "ENCODING", "z"),
        ("ZADD", "zl", "2", "x" * 65),
        ("OBJECT", "ENCODING", "zl"),
        ("ZADD", "zbig", *[str(i // 2) if i % 2 == 0 else f"m{i}" for i in range(256)]),
        ("OBJECT", "ENCODING", "zbig"),
        ("ZADD", "zbig", "1", "extra"),
        ("OBJECT", "ENCODING", "zbig"),
        ("OBJECT", "ENCODING", "k"),
    )


def test_object_encoding_follows_the_config(differ):
    try:
        check_all(
            differ,
            ("CONFIG", "SET", "hash-max-listpack-entries", "1000"),
            ("HSET", "h", *[f"f{i // 2}" for i in range(1026)]),
            ("OBJECT", "ENCODING", "h"),
            ("CONFIG", "SET", "zset-max-listpack-value", "3"),
            ("ZADD", "z", "1", "abcd"),
            ("OBJECT", "ENCODING", "z"),
        )
    finally:
        for client in differ.main:
            client.call("CONFIG", "SET", "hash-max-listpack-entries", "512")
            client.call("CONFIG", "SET", "zset-max-listpack-value", "64")


async def test_expiry_is_exact_on_the_virtual_clock(virtual_clock):
    server = trapline.kv.Server()
    client = server.new_client("test")

    def run(*args):
        return server.execute(client, [str(arg).encode() for arg in args])

    run("SET", "k", "v")
    assert run("PEXPIRE", "k", 2500) == 1
    assert run("PTTL", "k") == 2500
    assert run("TTL", "k") == 3  # rounded: (2500 + 500) // 1000
    await trapline.sleep(0.75)
    assert run("PTTL", "k") == 1750
    assert run("TTL", "k") == 2
    start = server.now_ms()
    assert run("PEXPIRETIME", "k") == start + 1750
    assert run("EXPIRETIME", "k") == (start + 1750 + 500) // 1000
    assert run("PEXPIRE", "k", 1000, "GT") == 0
    assert run("PEXPIRE", "k", 1000, "LT") == 1
    assert run("RENAME", "k", "r") == "OK"
    assert run("PTTL", "r") == 1000
    assert run("COPY", "r", "c") == 1
    assert run("MOVE", "c", 3) == 1
    await trapline.sleep(0.999)
    assert run("PTTL", "r") == 1
    assert run("EXISTS", "r") == 1
    await trapline.sleep(0.001)
    assert run("EXISTS", "r") == 0
    assert run("TTL", "r") == -2
    assert run("SELECT", 3) == "OK"
    assert run("EXISTS", "c") == 0
    assert run("SET", "p", "v", "EX", 10) == "OK"
    assert run("PERSIST", "p") == 1
    assert run("PERSIST", "p") == 0
    assert run("TTL", "p") == -1
    assert run("EXPIREAT", "p", server.now_ms() // 1000 - 1) == 1
    assert run("EXISTS", "p") == 0
    assert server.stats["expired_keys"] == 2  # r and c, not the key EXPIREAT deleted
    run("SET", "e", "v", "PX", 10)
    await trapline.sleep(0.01)
    assert run("KEYS", "*") == []
    assert run("DBSIZE") == 0


async def test_expire_in_the_past_wakes_watchers_and_returns_one():
    server = trapline.kv.Server()
    alice = server.new_client("alice")
    bob = server.new_client("bob")
    server.execute(bob, [b"SET", b"k", b"v"])
    assert server.execute(alice, [b"WATCH", b"k"]) == "OK"
    server.execute(alice, [b"MULTI"])
    assert server.execute(bob, [b"EXPIRE", b"k", b"-1"]) == 1
    assert server.execute(alice, [b"EXEC"]) is NullArray
    assert server.execute(bob, [b"EXISTS", b"k"]) == 0


async def test_swapdb_touches_watched_keys():
    server = trapline.kv.Server()
    alice = server.new_client("alice")
    bob = server.new_client("bob")
    server.execute(bob, [b"SELECT", b"1"])
    server.execute(bob, [b"SET", b"k", b"in db 1"])
    server.execute(alice, [b"WATCH", b"k", b"other"])
    server.execute(alice, [b"MULTI"])
    server.execute(alice, [b"GET", b"k"])
    assert server.execute(bob, [b"SWAPDB", b"0", b"1"]) == "OK"
    assert server.execute(alice, [b"EXEC"]) is NullArray
    assert server.execute(alice, [b"GET", b"k"]) == b"in db 1"
    # Nothing watched exists in either database: EXEC runs.
    server.execute(alice, [b"WATCH", b"nothing"])
    server.execute(alice, [b"MULTI"])
    server.execute(alice, [b"PING"])
    server.execute(bob, [b"SWAPDB", b"0", b"1"])
    assert server.execute(alice, [b"EXEC"]) == ["PONG"]


async def test_swapdb_and_rename_wake_blocked_clients():
    server = trapline.kv.Server()
    waiter = server.new_client("waiter")
    other = server.new_client("other")
    blocked = server.execute(waiter, [b"BLPOP", b"q", b"0"])
    assert type(blocked) is Blocked
    results = []

    async def wait():
        results.append(await server.block(waiter, blocked))

    async with trapline.TaskGroup() as tg:
        tg.spawn(wait)
        await trapline.sleep(0)
        server.execute(other, [b"SELECT", b"1"])
        server.execute(other, [b"RPUSH", b"q", b"from db 1"])
        assert server.execute(other, [b"SWAPDB", b"0", b"1"]) == "OK"
    assert results == [[b"q", b"from db 1"]]
    blocked = server.execute(waiter, [b"BLPOP", b"q2", b"0"])
    results.clear()
    async with trapline.TaskGroup() as tg:
        tg.spawn(wait)
        await trapline.sleep(0)
        server.execute(other, [b"SELECT", b"0"])
        server.execute(other, [b"RPUSH", b"src", b"renamed"])
        assert server.execute(other, [b"RENAME", b"src", b"q2"]) == "OK"
    assert results == [[b"q2", b"renamed"]]


async def test_flush_and_wrongtype_free_checks():
    server = trapline.kv.Server()
    client = server.new_client("c")
    server.dbs[0].set(b"h", {b"f": b"v"})
    server.dbs[5].set(b"x", b"1")
    assert server.execute(client, [b"TYPE", b"h"]) == "hash"
    assert server.execute(client, [b"OBJECT", b"ENCODING", b"h"]) == b"listpack"
    assert server.execute(client, [b"FLUSHDB"]) == "OK"
    assert server.dbs[5].data == {b"x": b"1"}
    assert server.execute(client, [b"FLUSHALL", b"ASYNC"]) == "OK"
    assert all(not db.data for db in server.dbs)
    assert server.execute(client, [b"COPY", b"a", b"b", b"DB", b"x"]) == Error(
        "ERR value is not an integer or out of range"
    )
