"""String commands against real Redis, byte for byte."""

import trapline
import trapline.kv


def test_get_set_and_options(differ):
    c = differ.check
    c("GET", "s")
    c("SET", "s", "v")
    c("GET", "s")
    c("SET", "s", "w", "NX")
    c("SET", "s", "w", "XX")
    c("SET", "new", "x", "XX")
    c("SET", "s", "z", "GET")
    c("SET", "nope", "z", "NX", "GET")
    c("SET", "s", "v", "NX", "XX")
    c("SET", "s", "v", "EX", "10", "PX", "100")
    c("SET", "s", "v", "EX", "0")
    c("SET", "s", "v", "EX", "-1")
    c("SET", "s", "v", "EX", "abc")
    c("SET", "s", "v", "KEEPTTL", "EX", "10")
    c("SET", "s", "v", "EX")
    c("SET", "s", "v", "BOGUS")
    c("SET", "s", "v", "EX", "100")
    c("TTL", "s")
    c("SET", "s", "w", "KEEPTTL")
    c("TTL", "s")
    c("SET", "s", "w")
    c("TTL", "s")
    c("LPUSH", "list", "a")
    c("GET", "list")
    c("SET", "list", "x", "GET")
    c("GETSET", "list", "x")
    c("GETSET", "s", "new")
    c("GETDEL", "s")
    c("GETDEL", "s")


def test_setnx_setex_psetex_getex(differ):
    c = differ.check
    c("SETNX", "k", "1")
    c("SETNX", "k", "2")
    c("SETEX", "e", "100", "v")
    c("TTL", "e")
    c("SETEX", "e", "0", "v")
    c("SETEX", "e", "x", "v")
    c("PSETEX", "p", "100000", "v")
    c("TTL", "p")
    c("GETEX", "p", "PERSIST")
    c("TTL", "p")
    c("GETEX", "p", "EX", "50")
    c("TTL", "p")
    c("GETEX", "p", "EX", "50", "PERSIST")
    c("GETEX", "missing", "EX", "5")
    c("GETEX", "p", "BOGUS")


def test_multi_key_and_counters(differ):
    c = differ.check
    c("MSET", "a", "1", "b", "2")
    c("MSET", "a", "1", "b")
    c("MGET", "a", "b", "nope")
    c("MSETNX", "a", "9", "z", "9")
    c("MSETNX", "y", "9", "z", "9")
    c("INCR", "a")
    c("INCRBY", "a", "10")
    c("DECR", "a")
    c("DECRBY", "a", "5")
    c("DECRBY", "a", "-9223372036854775808")
    c("INCR", "counter")
    c("SET", "big", "9223372036854775807")
    c("INCR", "big")
    c("SET", "neg", "-9223372036854775808")
    c("DECR", "neg")
    c("SET", "word", "abc")
    c("INCR", "word")
    c("SET", "spaced", " 1")
    c("INCR", "spaced")
    c("INCRBY", "a", "1.5")
    c("INCRBYFLOAT", "f", "1.5")
    c("INCRBYFLOAT", "f", "0.1")
    c("INCRBYFLOAT", "f", "-1e2")
    c("INCRBYFLOAT", "f", "abc")
    c("INCRBYFLOAT", "word", "1")
    c("SET", "f2", "5.0e3")
    c("INCRBYFLOAT", "f2", "2.0e2")
    c("INCRBYFLOAT", "f", "inf")


def test_append_strlen_ranges(differ):
    c = differ.check
    c("APPEND", "s", "Hello")
    c("APPEND", "s", " World")
    c("STRLEN", "s")
    c("STRLEN", "none")
    for start, end in [(0, 3), (-3, -1), (0, -1), (10, 100), (5, 2), (-100, 100), (-1, -5)]:
        c("GETRANGE", "s", start, end)
    c("GETRANGE", "none", 0, 10)
    c("SUBSTR", "s", 0, 4)
    c("SETRANGE", "s", 6, "Redis")
    c("GET", "s")
    c("SETRANGE", "s", 20, "!")
    c("GET", "s")
    c("SETRANGE", "fresh", 3, "abc")
    c("GET", "fresh")
    c("SETRANGE", "empty", 3, "")
    c("EXISTS", "empty")
    c("SETRANGE", "s", -1, "x")
    c("SETRANGE", "s", 0, "")
    c("LPUSH", "l", "x")
    c("APPEND", "l", "x")
    c("STRLEN", "l")
    c("GETRANGE", "l", 0, 1)
    c("SETRANGE", "l", 0, "x")


async def test_expiry_is_exact_on_the_virtual_clock(virtual_clock):
    server = trapline.kv.Server()
    client = server.new_client("c")
    run = server.execute
    assert run(client, [b"SET", b"k", b"v", b"PX", b"1500"]) == "OK"
    await trapline.sleep(1.499)
    assert run(client, [b"PTTL", b"k"]) == 1
    assert run(client, [b"GET", b"k"]) == b"v"
    await trapline.sleep(0.001)
    assert run(client, [b"GET", b"k"]) is None
    assert run(client, [b"SETEX", b"e", b"10", b"v"]) == "OK"
    await trapline.sleep(4.5)
    assert run(client, [b"TTL", b"e"]) == 6  # 5.5 s left, rounded like Redis
    assert run(client, [b"INCR", b"n"]) == 1
    assert run(client, [b"EXPIRE", b"n", b"2"]) == 1
    assert run(client, [b"INCR", b"n"]) == 2  # INCR keeps the TTL
    await trapline.sleep(2)
    assert run(client, [b"EXISTS", b"n"]) == 0


def test_lcs(differ):
    c = differ.check
    c("MSET", "key1", "ohmytext", "key2", "mynewtext")
    c("LCS", "key1", "key2")
    c("LCS", "key1", "key2", "LEN")
    c("LCS", "key1", "key2", "IDX")
    c("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4")
    c("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN")
    c("LCS", "key1", "key2", "IDX", "WITHMATCHLEN", "MINMATCHLEN", "-3")
    c("LCS", "key1", "key2", "LEN", "IDX")
    c("LCS", "key1", "key2", "BOGUS")
    c("LCS", "key1", "missing")
    c("LCS", "missing", "missing", "IDX")
    c("SET", "a", "rhodesian")
    c("SET", "b", "ridgeback")
    c("LCS", "a", "b", "IDX", "WITHMATCHLEN")
    c("LPUSH", "l", "x")
    c("LCS", "key1", "l")
