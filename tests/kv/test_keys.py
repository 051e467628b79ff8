"""Generic key commands against real Redis, byte for byte."""

import trapline
import trapline.kv


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
