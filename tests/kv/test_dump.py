"""DUMP, RESTORE, WAIT and MIGRATE: against real Redis byte for byte, and across servers."""

import random
import socket
import struct

import pytest
from conftest import KVThread, RawClient, encode_command

import trapline
import trapline.kv
from trapline.kv._commands import Blocked
from trapline.kv._rdb import crc64, lzf_compress, lzf_decompress


def bulk_value(reply: bytes) -> bytes:
    """The payload of a bulk string reply."""
    header, _, rest = reply.partition(b"\r\n")
    assert header[:1] == b"$", reply
    return rest[: int(header[1:])]


def fill(c, key: str, kind: str, items: list) -> None:
    if kind == "string":
        c("SET", key, items[0])
    elif kind == "list":
        c("RPUSH", key, *items)
    elif kind == "set":
        c("SADD", key, *items)
    elif kind == "hash":
        c("HSET", key, *items)
    elif kind == "zset":
        c("ZADD", key, *items)


VALUES = [
    ("string", ["hello"]),
    ("string", ["0"]),
    ("string", ["-128"]),
    ("string", ["127"]),
    ("string", ["32767"]),
    ("string", ["-32769"]),
    ("string", ["2147483647"]),
    ("string", ["2147483648"]),
    ("string", ["9223372036854775807"]),
    ("string", ["007"]),
    ("string", [""]),
    ("string", ["a" * 20]),
    ("string", ["a" * 21]),
    ("string", ["abcdefghijklmnopqrstuvwxyz0123456789"]),
    ("string", ["hello world " * 40]),
    ("string", ["x" * 100000]),
    ("list", ["a", "b", "c"]),
    ("list", ["1", "-1", "127", "128", "-4096", "4095", "-4097", "40000", "9000000", "-2"]),
    ("list", ["2147483648", "-9223372036854775808", "1.5", "01", "-0", "x" * 70, "y" * 5000]),
    ("list", [f"element-{i}" for i in range(2000)]),
    ("list", ["z" * 3000 for _ in range(10)]),
    ("set", ["1", "2", "3", "-7"]),
    ("set", ["1", "70000"]),
    ("set", ["1", "5000000000"]),
    ("hash", ["f", "v", "n", "12", "big", "z" * 64]),
    ("hash", ["a", "1", "b", "2", "c", "3"]),
    ("zset", ["1", "a", "2.5", "b", "-3", "c", "1e20", "d", "inf", "e", "-inf", "f"]),
    ("zset", ["4611686018427387904", "big", "-0", "zero", "0.1", "tenth"]),
]


@pytest.mark.parametrize(("kind", "items"), VALUES)
def test_dump_bytes_match_redis(differ, kind, items):
    c = differ.check
    fill(c, "k", kind, items)
    c("DUMP", "k")


def test_dump_missing_and_errors(differ):
    c = differ.check
    c("DUMP", "nope")
    c("DUMP")
    c("DUMP", "a", "b")
    c("COMMAND", "INFO", "dump", "restore", "restore-asking", "wait", "migrate")
    c("COMMAND", "DOCS", "dump", "restore", "restore-asking", "wait", "migrate")
    c("SET", "k", "v")
    payload = bulk_value(differ.main[0].call("DUMP", "k"))
    c("RESTORE-ASKING", "k2", "0", payload)
    c("RESTORE-ASKING", "k2", "0", payload)
    c("GET", "k2")


def test_restore_round_trip_and_options(differ):
    c = differ.check
    redis = differ.main[0]
    c("SET", "s", "value")
    payload = bulk_value(redis.call("DUMP", "s"))
    c("RESTORE", "s", "0", payload)
    c("RESTORE", "s2", "0", payload)
    c("GET", "s2")
    c("RESTORE", "s2", "0", payload, "REPLACE")
    c("RESTORE", "s3", "100000", payload)
    c("TTL", "s3")
    c("RESTORE", "s4", "99999999999999", payload, "ABSTTL")
    c("EXPIRETIME", "s4")
    c("RESTORE", "s5", "1", payload, "ABSTTL")
    c("EXISTS", "s5")
    c("RESTORE", "s2", "1", payload, "ABSTTL", "REPLACE")
    c("EXISTS", "s2")
    c("RESTORE", "huge", "9223372036854775807", payload)
    c("EXISTS", "huge")
    c("RESTORE", "huge", "9223372036854775807", payload, "ABSTTL")
    c("EXPIRETIME", "huge")
    c("RESTORE", "s6", "0", payload, "IDLETIME", "100")
    c("RESTORE", "s7", "0", payload, "FREQ", "100")
    c("RESTORE", "s8", "0", payload, "IDLETIME", "-1")
    c("RESTORE", "s8", "0", payload, "FREQ", "256")
    c("RESTORE", "s8", "0", payload, "FREQ", "-1")
    c("RESTORE", "s8", "0", payload, "FREQ", "x")
    c("RESTORE", "s8", "0", payload, "IDLETIME", "1", "FREQ", "1")
    c("RESTORE", "s8", "0", payload, "FREQ", "1", "IDLETIME", "1")
    c("RESTORE", "s8", "0", payload, "IDLETIME")
    c("RESTORE", "s8", "0", payload, "BOGUS")
    c("RESTORE", "s8", "-1", payload)
    c("RESTORE", "s8", "x", payload)
    c("RESTORE", "s", "x", payload)
    c("RESTORE", "s8", "0", payload[:-1] + bytes([payload[-1] ^ 1]))
    c("RESTORE", "s8", "0", payload[:-10] + b"\x0b\x00" + payload[-8:])
    c("RESTORE", "s8", "0", "short")
    c("RESTORE", "s8", "0", "")
    c("RESTORE", "s8", "0")
    c("EXISTS", "s8")


def with_checksum(body: bytes) -> bytes:
    body += b"\x0a\x00"
    return body + crc64(body).to_bytes(8, "little")


def test_restore_bad_data(differ):
    c = differ.check
    c("RESTORE", "k", "0", with_checksum(b"\x63"))  # unknown type
    c("RESTORE", "k", "0", with_checksum(b"\x00\x05ab"))  # truncated string
    c("RESTORE", "k", "0", with_checksum(b"\x02\x00"))  # empty set
    c("RESTORE", "k", "0", with_checksum(b"\x00\x03abc"))  # a plain string
    c("GET", "k")
    c("RESTORE", "k2", "0", with_checksum(b"\x01\x02\x01a\xc0\x05"))  # an old linked list
    c("LRANGE", "k2", "0", "-1")
    c("RESTORE", "k3", "0", with_checksum(b"\x02\x02\x01a\x01a"))  # duplicate set members
    c("EXISTS", "k3")


def ziplist(*entries: bytes) -> bytes:
    """A ziplist of already encoded entries (encoding byte(s) and data)."""
    body = b""
    previous = tail = 0
    for entry in entries:
        tail = 10 + len(body)
        body += bytes([previous]) + entry
        previous = 1 + len(entry)
    return struct.pack("<IIH", 10 + len(body) + 1, tail, len(entries)) + body + b"\xff"


def string(data: bytes) -> bytes:
    """An RDB string of fewer than 64 bytes."""
    return bytes([len(data)]) + data


def test_restore_older_encodings(differ):
    """Payloads of older RDB versions (ziplists, quicklists of ziplists, text scores)."""
    c = differ.check
    listed = ziplist(b"\x01a", b"\xc0\xe8\x03", b"\xf4")  # "a", 1000, 3
    c("RESTORE", "zl", "0", with_checksum(b"\x0a" + string(listed)))
    c("LRANGE", "zl", "0", "-1")
    c("RESTORE", "ql", "0", with_checksum(b"\x0e\x02" + string(listed) * 2))
    c("LRANGE", "ql", "0", "-1")
    pairs = ziplist(b"\x01f", b"\x01v", b"\x01g", b"\xfe\x85")  # f=v, g=-123
    c("RESTORE", "hz", "0", with_checksum(b"\x0d" + string(pairs)))
    c("HGETALL", "hz")
    scored = ziplist(b"\x01m", b"\x031.5", b"\x01n", b"\xf3")  # m=1.5, n=2
    c("RESTORE", "zz", "0", with_checksum(b"\x0c" + string(scored)))
    c("ZRANGE", "zz", "0", "-1", "WITHSCORES")
    c("RESTORE", "bad", "0", with_checksum(b"\x0c" + string(listed)))
    c("RESTORE", "z1", "0", with_checksum(b"\x03\x02\x01a\x031.5\x01b\xfe"))
    c("ZRANGE", "z1", "0", "-1", "WITHSCORES")


# Kept in hash tables, whose order (and so the payload's) is Redis's own.
UNORDERED = [
    ("hash", ["f", "v", "big", "z" * 65]),
    ("set", ["a", "b", "c", "1"]),
]


@pytest.mark.parametrize(("kind", "items"), VALUES + UNORDERED)
def test_dump_crosses_servers_both_ways(differ, kind, items):
    """A payload from either server restores on the other with an equal value."""
    redis, kv = differ.main
    fill(lambda *args: [client.call(*args) for client in (redis, kv)], "k", kind, items)
    readers = {
        "string": ("GET", "k"),
        "list": ("LRANGE", "k", "0", "-1"),
        "set": ("SMEMBERS", "k"),
        "hash": ("HGETALL", "k"),
        "zset": ("ZRANGE", "k", "0", "-1", "WITHSCORES"),
    }
    for source, target in ((redis, kv), (kv, redis)):
        payload = bulk_value(source.call("DUMP", "k"))
        assert target.call("RESTORE", "copy", "0", payload, "REPLACE") == b"+OK\r\n"
        read = readers[kind]
        original = source.call(*read)
        restored = target.call(*read[:1], "copy", *read[2:])
        if kind in ("set", "hash"):
            assert sorted(original.split(b"\r\n")) == sorted(restored.split(b"\r\n"))
        else:
            assert restored == original
        if (kind, items) not in UNORDERED:
            assert target.call("DUMP", "copy") == source.call("DUMP", "k")


def test_big_collections_cross_servers(differ):
    redis, kv = differ.main
    for client in (redis, kv):
        client.call("HSET", "h", *[x for i in range(600) for x in (f"f{i}", f"v{i}")])
        client.call("SADD", "s", *[f"m{i}" for i in range(600)])
        client.call("SADD", "si", *[str(i) for i in range(600)])
        client.call("ZADD", "z", *[x for i in range(200) for x in (str(i / 3), f"m{i}")])
    for key in ("h", "s", "si", "z"):
        for source, target in ((redis, kv), (kv, redis)):
            payload = bulk_value(source.call("DUMP", key))
            assert target.call("RESTORE", "copy", "0", payload, "REPLACE") == b"+OK\r\n"
            for command in (("HGETALL",), ("SMEMBERS",), ("ZRANGE", "0", "-1", "WITHSCORES")):
                first = source.call(command[0], key, *command[1:])
                second = target.call(command[0], "copy", *command[1:])
                assert sorted(first.split(b"\r\n")) == sorted(second.split(b"\r\n"))
    differ.check("DUMP", "z")


def test_wrongtype_free_and_type_checks(differ):
    c = differ.check
    c("SET", "s", "1")
    c("SORT", "s")
    c("RESTORE", "s", "0", "x")


def test_lzf_round_trips():
    rng = random.Random(5)
    for size in (21, 50, 300, 5000, 70000):
        for alphabet in (b"ab", b"abcdefgh", bytes(range(256))):
            data = bytes(rng.choice(alphabet) for _ in range(size))
            packed = lzf_compress(data, size - 4)
            if packed is not None:
                assert lzf_decompress(packed, size) == data
    assert lzf_compress(bytes(range(256)) * 1, 200) is None
    assert lzf_decompress(b"\x05ab", 6) is None
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA


# -- WAIT --------------------------------------------------------------------------------------


def test_wait(differ):
    c = differ.check
    c("WAIT", "0", "0")
    c("WAIT", "-1", "100")
    c("WAIT", "1", "20")
    c("WAIT", "x", "0")
    c("WAIT", "1", "x")
    c("WAIT", "1", "-1")
    c("WAIT", "1")
    c("MULTI")
    c("WAIT", "5", "0")
    c("EXEC")


# -- MIGRATE -----------------------------------------------------------------------------------


def test_migrate_errors(differ):
    c = differ.check
    c("MIGRATE", "127.0.0.1", "1", "k", "0", "100")
    c("SET", "k", "v")
    c("MIGRATE", "127.0.0.1", "1", "k", "0", "x")
    c("MIGRATE", "127.0.0.1", "1", "k", "x", "100")
    c("MIGRATE", "127.0.0.1", "1", "k", "0", "100", "BOGUS")
    c("MIGRATE", "127.0.0.1", "1", "k", "0", "100", "AUTH")
    c("MIGRATE", "127.0.0.1", "1", "k", "0", "100", "AUTH2", "u")
    c("MIGRATE", "127.0.0.1", "1", "k", "0", "100", "KEYS", "k")
    for port in ("-1", "abc", "0", "65537"):
        c("MIGRATE", "127.0.0.1", port, "k", "0", "100")
    c("MIGRATE", "127.0.0.1", "1", "", "0", "100", "KEYS", "nope", "nada")
    c("MIGRATE", "127.0.0.1", "1", "", "0", "100", "KEYS")
    c("MIGRATE", "127.0.0.1", "1", "k", "0")
    c("MIGRATE", "127.0.0.1", "1", "k", "0", "100")  # nothing listens on port 1
    c("MIGRATE", "127.0.0.1", "1", "k", "0", "100", "KEYS", "k")
    for port in ("-1", "abc", "0", "65537"):
        c("MIGRATE", "127.0.0.1", port, "k", "0", "100")


def test_migrate_to_a_target_that_never_answers(differ):
    """The connection is accepted (by the kernel) but nothing is ever read or answered."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        differ.check("SET", "k", "v")
        differ.check("MIGRATE", "127.0.0.1", port, "k", "0", "100")
        differ.check("EXISTS", "k")


def test_migrate_with_auth(differ, redis_port):
    kv = differ.main[1]
    secured = KVThread(trapline.kv.ServerConfig(requirepass="sesame")).start()
    try:
        kv.call("SET", "k", "v")
        reply = kv.call("MIGRATE", "127.0.0.1", secured.port, "k", "0", "1000")
        assert (
            reply == b"-ERR Target instance replied with error: NOAUTH Authentication required.\r\n"
        )
        reply = kv.call("MIGRATE", "127.0.0.1", secured.port, "k", "0", "1000", "AUTH", "bad")
        assert reply.startswith(b"-ERR Target instance replied with error: WRONGPASS")
        args = ("MIGRATE", "127.0.0.1", secured.port, "k", "0", "1000", "COPY")
        assert kv.call(*args, "AUTH", "sesame") == b"+OK\r\n"
        assert kv.call(*args, "REPLACE", "AUTH2", "default", "sesame") == b"+OK\r\n"
        assert kv.call("EXISTS", "k") == b":1\r\n"
        target = RawClient(secured.port)
        assert target.call("AUTH", "sesame") == b"+OK\r\n"
        assert target.call("GET", "k") == b"$1\r\nv\r\n"
        target.close()
        reply = kv.call("MIGRATE", "127.0.0.1", redis_port, "k", "0", "1000", "AUTH2", "u", "p")
        assert reply.startswith(b"-ERR Target instance replied with error: WRONGPASS")
    finally:
        secured.stop()


@pytest.fixture
def target_redis(redis_port):
    client = RawClient(redis_port)
    client.call("SELECT", "5")
    client.call("FLUSHDB")
    yield client
    client.call("FLUSHDB")
    client.close()


def test_migrate_between_trapline_and_redis(differ, redis_port, kv_port, target_redis):
    redis, kv = differ.main
    kv.call("SET", "s", "moved")
    kv.call("RPUSH", "l", "1", "2", "three")
    kv.call("HSET", "h", "f", "v")
    kv.call("PEXPIRE", "h", "500000")
    kv.call("SADD", "set", "x")
    # trapline.kv -> redis-server, one key, then several with KEYS
    assert kv.call("MIGRATE", "127.0.0.1", redis_port, "s", "5", "1000") == b"+OK\r\n"
    assert kv.call("EXISTS", "s") == b":0\r\n"
    assert target_redis.call("GET", "s") == b"$5\r\nmoved\r\n"
    reply = kv.call("MIGRATE", "127.0.0.1", redis_port, "", "5", "1000", "KEYS", "l", "h", "no")
    assert reply == b"+OK\r\n"
    assert kv.call("EXISTS", "l", "h") == b":0\r\n"
    three = b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$5\r\nthree\r\n"
    assert target_redis.call("LRANGE", "l", "0", "-1") == three
    ttl = int(target_redis.call("PTTL", "h")[1:-2])
    assert 0 < ttl <= 500000
    # COPY keeps the key here; a key that exists there is an error unless REPLACE
    reply = kv.call("MIGRATE", "127.0.0.1", f"+{redis_port}x", "set", "5", "1000", "COPY")
    assert reply == b"+OK\r\n"
    assert kv.call("EXISTS", "set") == b":1\r\n"
    reply = kv.call("MIGRATE", "127.0.0.1", redis_port, "set", "5", "1000", "COPY")
    assert (
        reply
        == b"-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n"
    )
    reply = kv.call("MIGRATE", "127.0.0.1", redis_port, "set", "5", "1000", "REPLACE")
    assert reply == b"+OK\r\n"
    assert kv.call("EXISTS", "set") == b":0\r\n"
    # AUTH against a server without a password is the target's error
    kv.call("SET", "a", "1")
    reply = kv.call("MIGRATE", "127.0.0.1", redis_port, "a", "5", "1000", "AUTH", "pw")
    assert reply.startswith(b"-ERR Target instance replied with error: ERR AUTH <password>")
    assert kv.call("EXISTS", "a") == b":1\r\n"
    # and back: redis-server -> trapline.kv (C's atoi reads the port: trailing junk is ignored)
    redis.call("SELECT", "5")
    port = f" {kv_port}junk"
    reply = redis.call("MIGRATE", "127.0.0.1", port, "", "3", "1000", "KEYS", "l", "s", "h")
    assert reply == b"+OK\r\n"
    kv.call("SELECT", "3")
    assert kv.call("LRANGE", "l", "0", "-1") == three
    assert kv.call("GET", "s") == b"$5\r\nmoved\r\n"
    assert 0 < int(kv.call("PTTL", "h")[1:-2]) <= 500000
    assert target_redis.call("EXISTS", "l", "s", "h") == b":0\r\n"
    kv.call("FLUSHDB")


def test_migrate_unreachable_target_and_inside_exec(differ, redis_port, target_redis):
    kv = differ.main[1]
    kv.call("SET", "k", "v")
    listener = KVThread().start()
    port = listener.port
    listener.stop()  # nothing listens there any more
    reply = kv.call("MIGRATE", "127.0.0.1", port, "k", "0", "200")
    # As Redis says it: its connect does not wait for the outcome, the first write fails.
    assert reply == b"-IOERR error or timeout writing to target instance\r\n"
    assert kv.call("MULTI") == b"+OK\r\n"
    assert kv.call("MIGRATE", "127.0.0.1", redis_port, "k", "5", "1000") == b"+QUEUED\r\n"
    assert kv.call("EXEC") == b"*1\r\n+OK\r\n"
    assert target_redis.call("GET", "k") == b"$1\r\nv\r\n"
    assert kv.call("EXISTS", "k") == b":0\r\n"


def test_migrate_between_two_trapline_servers(kv_port):
    other = KVThread().start()
    try:
        source, target = RawClient(kv_port), RawClient(other.port)
        source.call("SELECT", "7")
        source.call("FLUSHDB")
        source.call("ZADD", "z", "1", "a", "2", "b")
        assert source.call("MIGRATE", "127.0.0.1", other.port, "z", "0", "1000") == b"+OK\r\n"
        assert target.call("ZRANGE", "z", "0", "-1", "WITHSCORES") == (
            b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
        )
        assert source.call("EXISTS", "z") == b":0\r\n"
        source.close()
        target.close()
    finally:
        other.stop()


async def test_wait_times_out_at_exact_virtual_times(virtual_clock):
    server = trapline.kv.Server()
    client = server.new_client("waiter")
    reply = server.execute(client, [b"WAIT", b"1", b"1500"])
    assert type(reply) is Blocked
    start = trapline.current_time()
    assert await server.block(client, reply) == 0
    assert trapline.current_time() - start == pytest.approx(1.5, abs=1e-6)
    forever = server.execute(client, [b"WAIT", b"2", b"0"])
    with trapline.move_on_after(10_000) as scope:
        await server.block(client, forever)
    assert scope.cancelled_caught
    assert server.execute(client, [b"WAIT", b"0", b"1500"]) == 0


async def test_restore_and_migrate_are_logged_as_redis_propagates_them(tmp_path):
    """RESTORE's relative TTL is logged as an absolute one; a MIGRATE as the DEL of its keys."""
    source = trapline.kv.Server(
        trapline.kv.ServerConfig(dir=str(tmp_path), appendonly="yes", appendfsync="always")
    )
    target = trapline.kv.Server()
    async with trapline.TaskGroup() as tg:
        listeners = await tg.start(source.serve, "127.0.0.1", 0)
        other = await tg.start(target.serve, "127.0.0.1", 0)
        port = listeners[0].socket.getsockname()[1]
        target_port = other[0].socket.getsockname()[1]
        async with trapline.kv.connect(f"redis://127.0.0.1:{port}") as db:
            await db.execute("SET", "s", "v")
            payload = await db.execute("DUMP", "s")
            await db.execute("RESTORE", "ttl", "100000", payload)
            when = await db.execute("PEXPIRETIME", "ttl")
            await db.execute("RESTORE", "gone", "0", payload)
            assert await db.execute("MIGRATE", "127.0.0.1", target_port, "gone", "0", "1000")
        tg.cancel_scope.cancel()
    log = (tmp_path / "appendonly.aof").read_bytes()
    assert b"$7\r\nRESTORE\r\n$3\r\nttl\r\n$%d\r\n%d\r\n" % (len(str(when)), when) in log
    assert b"$6\r\nABSTTL\r\n" in log
    assert log.endswith(b"*2\r\n$3\r\nDEL\r\n$4\r\ngone\r\n")
    assert target.dbs[0].data == {b"gone": b"v"}
    replayed = trapline.kv.Server(
        trapline.kv.ServerConfig(dir=str(tmp_path), appendonly="yes", appendfsync="always")
    )
    async with trapline.TaskGroup() as tg:
        await tg.start(replayed.serve, "127.0.0.1", 0)
        tg.cancel_scope.cancel()
    assert replayed.dbs[0].data == {b"s": b"v", b"ttl": b"v"}
    assert replayed.dbs[0].expires == {b"ttl": when}


def test_dump_bytes_match_redis_for_random_values(differ):
    """Random strings (compressible or not), lists and small hashes and sorted sets: the same
    payload bytes as Redis, LZF output included."""
    rng = random.Random(11)
    c = differ.check
    for n in range(40):
        alphabet = rng.choice([b"ab", b"abcdefgh", b"0123456789", bytes(range(256))])
        size = rng.choice([21, 25, 64, 300, 4000, 20000, 140000])
        c("SET", f"s{n}", bytes(rng.choice(alphabet) for _ in range(size)))
        c("DUMP", f"s{n}")
        items = [
            rng.choice([str(rng.randrange(-(2**40), 2**40)), "x" * rng.randrange(100), "-0"])
            for _ in range(rng.randrange(1, 60))
        ]
        c("RPUSH", f"l{n}", *items)
        c("DUMP", f"l{n}")
        c("HSET", f"h{n}", *[x for i, item in enumerate(items) for x in (f"f{i}", item[:64])])
        c("DUMP", f"h{n}")
        scores = [str(rng.choice([rng.randrange(-9, 9), rng.random() * 1e6, 1e300])) for _ in items]
        c("ZADD", f"z{n}", *[x for i, s in enumerate(scores) for x in (s, f"m{i}")])
        c("DUMP", f"z{n}")


def test_pipelined_migrate_replies_in_order(differ, redis_port, target_redis):
    """Commands pipelined after a MIGRATE run after it finished, as in Redis."""
    kv = differ.main[1]
    kv.call("SET", "p", "v")
    kv.send(
        encode_command("MIGRATE", "127.0.0.1", redis_port, "p", "5", "1000")
        + encode_command("EXISTS", "p")
        + encode_command("SET", "p", "again")
        + encode_command("GET", "p")
    )
    replies = [kv.read_reply() for _ in range(4)]
    assert replies == [b"+OK\r\n", b":0\r\n", b"+OK\r\n", b"$5\r\nagain\r\n"]
    assert target_redis.call("GET", "p") == b"$1\r\nv\r\n"
