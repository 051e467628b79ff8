"""Pub/sub against real Redis, byte for byte: confirmations, messages, patterns, shard channels,
introspection, RESP2 and RESP3; and the pub/sub output-buffer limit that disconnects a
subscriber which stops reading (only that subscriber)."""

import random
import socket
import threading
import time

import pytest
from conftest import KVThread, RawClient, encode_command

import trapline
import trapline.kv
from trapline.kv._glob import glob_match


def both(pair, *args, replies=1):
    """Send one command to both servers; read ``replies`` replies from each; all must match."""
    redis, kv = pair
    data = encode_command(*args)
    redis.send(data)
    kv.send(data)
    return [same(pair) for _ in range(replies)]


def same(pair):
    """Read one reply (or message) from each side; they must match."""
    redis, kv = pair
    expected, actual = redis.read_reply(), kv.read_reply()
    assert actual == expected, f"redis {expected!r} != trapline.kv {actual!r}"
    return actual


def quiesce(differ):
    """Wait until both servers have dropped the subscriptions of earlier tests' connections
    (closing a connection is noticed asynchronously)."""
    deadline = time.monotonic() + 10
    for client in differ.main:
        while (
            client.call("PUBSUB", "NUMPAT") != b":0\r\n"
            or client.call("PUBSUB", "CHANNELS") != b"*0\r\n"
            or client.call("PUBSUB", "SHARDCHANNELS") != b"*0\r\n"
        ):
            assert time.monotonic() < deadline, "subscriptions of closed connections linger"
            time.sleep(0.01)


def parse(data):
    """A raw RESP2/RESP3 reply as Python values (lists for arrays, sets and pushes)."""

    def value(pos):
        kind, end = data[pos : pos + 1], data.index(b"\r\n", pos)
        header, pos = data[pos + 1 : end], end + 2
        if kind in (b"$", b"="):
            length = int(header)
            if length < 0:
                return None, pos
            return data[pos : pos + length], pos + length + 2
        if kind in (b"*", b"~", b">", b"%"):
            count = int(header) * (2 if kind == b"%" else 1)
            items = []
            for _ in range(max(count, 0)):
                item, pos = value(pos)
                items.append(item)
            return (items if count >= 0 else None), pos
        if kind == b":":
            return int(header), pos
        if kind == b"_":
            return None, pos
        return header, pos

    return value(0)[0]


def test_subscribe_publish_unsubscribe(differ):
    quiesce(differ)
    sub, pub = differ.connection(), differ.main
    assert both(sub, "SUBSCRIBE", "chan1", "chan2", replies=2)[1].endswith(b":2\r\n")
    assert both(pub, "PUBLISH", "chan1", "hello") == [b":1\r\n"]
    both(pub, "PUBLISH", "chan2", "world")
    same(sub)
    same(sub)
    both(sub, "UNSUBSCRIBE", "chan1")
    assert both(pub, "PUBLISH", "chan1", "hello") == [b":0\r\n"]
    both(pub, "PUBLISH", "chan2", "world")
    same(sub)
    both(sub, "UNSUBSCRIBE", "chan2")
    both(pub, "PUBLISH", "chan2", "world")
    # Not subscribed any more: ordinary commands work again (RESP2).
    both(sub, "ECHO", "back")


def test_subscribe_twice_and_unsubscribe_unknown(differ):
    quiesce(differ)
    sub = differ.connection()
    both(sub, "SUBSCRIBE", "chan1", "chan1", "chan1", replies=3)
    both(differ.main, "PUBLISH", "chan1", "once")
    same(sub)
    both(sub, "UNSUBSCRIBE", "foo", "bar", "quux", replies=3)
    both(sub, "UNSUBSCRIBE", replies=1)  # the one channel left
    both(sub, "UNSUBSCRIBE")  # nothing left: a reply with a null channel
    both(sub, "PUNSUBSCRIBE")
    both(sub, "SUNSUBSCRIBE")


def test_publish_to_several_subscribers(differ):
    quiesce(differ)
    first, second = differ.connection(), differ.connection()
    both(first, "SUBSCRIBE", "chan1")
    both(second, "SUBSCRIBE", "chan1")
    assert both(differ.main, "PUBLISH", "chan1", "hello") == [b":2\r\n"]
    same(first)
    same(second)


def test_psubscribe_patterns(differ):
    quiesce(differ)
    sub = differ.connection()
    both(sub, "PSUBSCRIBE", "foo.*", "bar.*", replies=2)
    for channel, receivers in (("foo.1", 1), ("bar.1", 1), ("foo1", 0), ("barfoo.1", 0)):
        assert both(differ.main, "PUBLISH", channel, "hello") == [b":%d\r\n" % receivers]
    same(sub)
    same(sub)
    both(sub, "PUNSUBSCRIBE", "foo.*")
    both(differ.main, "PUBLISH", "foo.1", "hello")
    both(differ.main, "PUBLISH", "bar.1", "hello")
    same(sub)
    both(sub, "PSUBSCRIBE", "a*", "b?", "[cd]x", replies=3)
    # Without arguments, patterns go in subscription order (a list in Redis).
    both(sub, "PUNSUBSCRIBE", replies=4)
    both(sub, "PUNSUBSCRIBE", "foo.*", "bar.*", "quux.*", replies=3)


def test_subscribe_and_psubscribe_both_deliver(differ):
    quiesce(differ)
    sub = differ.connection()
    both(sub, "SUBSCRIBE", "foo.bar")
    both(sub, "PSUBSCRIBE", "foo.*")
    assert both(differ.main, "PUBLISH", "foo.bar", "hello") == [b":2\r\n"]
    same(sub)  # message first
    same(sub)  # then pmessage


def test_pubsub_introspection(differ):
    quiesce(differ)
    first, second = differ.connection(), differ.connection()
    both(first, "SUBSCRIBE", "news.tech", "news.art", "x", replies=3)
    both(second, "SUBSCRIBE", "news.tech")
    both(first, "PSUBSCRIBE", "foo*", "bar*", replies=2)
    both(second, "PSUBSCRIBE", "foo*", "baz*", replies=2)
    both(differ.main, "PUBSUB", "NUMSUB")
    both(differ.main, "PUBSUB", "NUMSUB", "news.tech", "news.art", "nothing")
    both(differ.main, "PUBSUB", "NUMPAT")
    redis, kv = differ.main
    for args in (("CHANNELS",), ("CHANNELS", "news.*"), ("CHANNELS", "*"), ("CHANNELS", "zz*")):
        expected = parse(redis.call("PUBSUB", *args))
        actual = parse(kv.call("PUBSUB", *args))
        assert sorted(actual) == sorted(expected)
    both(first, "PUNSUBSCRIBE", replies=2)
    both(second, "PUNSUBSCRIBE", replies=2)
    both(differ.main, "PUBSUB", "NUMPAT")


def test_pubsub_errors_and_help(differ):
    for args in (
        ("SUBSCRIBE",),
        ("PSUBSCRIBE",),
        ("SSUBSCRIBE",),
        ("PUBLISH", "a"),
        ("PUBLISH", "a", "b", "c"),
        ("SPUBLISH", "a"),
        ("PUBSUB",),
        ("PUBSUB", "FOO"),
        ("PUBSUB", "NUMPAT", "x"),
        ("PUBSUB", "CHANNELS", "a", "b"),
        ("PUBSUB", "SHARDCHANNELS", "a", "b"),
        ("PUBSUB", "HELP"),
        ("PUBSUB", "help", "x"),
    ):
        differ.check(*args)


def test_resp2_subscriber_may_only_subscribe_ping_quit_reset(differ):
    quiesce(differ)
    sub = differ.connection()
    both(sub, "SUBSCRIBE", "chan")
    both(sub, "ECHO", "x")
    both(sub, "SELECT", "1")
    both(sub, "PING")
    both(sub, "PING", "hello")
    both(sub, "PSUBSCRIBE", "c*")
    both(sub, "RESET")
    both(sub, "PUBLISH", "chan", "nobody listens")
    both(sub, "SUBSCRIBE", "chan")
    both(sub, "QUIT")


def test_resp3_pushes_and_commands_while_subscribed(differ):
    quiesce(differ)
    sub = differ.connection()
    for client in sub:
        client.call("HELLO", "3")  # (the reply holds the connection id, which differs)
    both(sub, "SUBSCRIBE", "chan", "other", replies=2)
    both(sub, "ECHO", "allowed in RESP3")
    both(sub, "PING")
    both(differ.main, "PUBLISH", "chan", "pushed")
    same(sub)
    # A message to itself comes before the PUBLISH reply.
    both(sub, "PUBLISH", "chan", "to myself", replies=2)
    both(sub, "PSUBSCRIBE", "ch*")
    both(differ.main, "PUBLISH", "chan", "twice")
    same(sub)
    same(sub)
    both(sub, "UNSUBSCRIBE", "chan")
    both(sub, "PUNSUBSCRIBE")
    both(sub, "UNSUBSCRIBE")
    both(sub, "UNSUBSCRIBE")


def test_pipelined_subscribe_keeps_reply_order(differ):
    sub = differ.connection()
    data = encode_command("SUBSCRIBE", "a", "b", "c") + encode_command("PING")
    data += encode_command("UNSUBSCRIBE", "b") + encode_command("PING", "x")
    for client in sub:
        client.send(data)
    for _ in range(6):
        same(sub)


def test_subscribe_inside_transaction(differ):
    quiesce(differ)
    sub = differ.connection()
    both(sub, "MULTI")
    both(sub, "SUBSCRIBE", "chan")
    both(sub, "EXEC")
    both(differ.main, "PUBLISH", "chan", "after exec")
    same(sub)
    both(sub, "UNSUBSCRIBE")
    both(sub, "MULTI")
    both(sub, "SSUBSCRIBE", "chan")
    both(sub, "EXEC")


def test_shard_channels(differ):
    quiesce(differ)
    sub = differ.connection()
    both(sub, "SSUBSCRIBE", "s1", "s2", "s1", replies=3)
    both(sub, "SUBSCRIBE", "s1")  # counts are separate from shard channels
    both(sub, "PSUBSCRIBE", "s*")
    assert both(differ.main, "SPUBLISH", "s1", "sharded") == [b":1\r\n"]
    same(sub)  # smessage only: patterns do not apply to shard channels
    both(differ.main, "PUBLISH", "s1", "global")
    same(sub)
    same(sub)
    both(differ.main, "PUBSUB", "SHARDNUMSUB", "s1", "s2", "s3")
    both(differ.main, "PUBSUB", "SHARDCHANNELS", "s1")
    redis, kv = differ.main
    assert sorted(parse(kv.call("PUBSUB", "SHARDCHANNELS"))) == sorted(
        parse(redis.call("PUBSUB", "SHARDCHANNELS"))
    )
    both(sub, "SUNSUBSCRIBE", "s1", "nope", replies=2)
    both(sub, "SUNSUBSCRIBE")
    both(sub, "SUNSUBSCRIBE")
    both(differ.main, "PUBSUB", "SHARDNUMSUB", "s1", "s2")


def test_glob_patterns_match_like_redis(differ):
    """PUBSUB CHANNELS <pattern> over random channels and patterns (Redis's stringmatchlen)."""
    quiesce(differ)
    rng = random.Random(7)
    alphabet = b"ab[]^-\\*?Az\x01\x80\xe9\xff"
    words = {bytes(rng.choices(alphabet, k=rng.randint(1, 4))) for _ in range(60)}
    channels = sorted(words)
    sub = differ.connection()
    both(sub, "SUBSCRIBE", *channels, replies=len(channels))
    redis, kv = differ.main
    for _ in range(300):
        pattern = bytes(rng.choices(alphabet, k=rng.randint(0, 5)))
        expected = parse(redis.call("PUBSUB", "CHANNELS", pattern))
        assert sorted(parse(kv.call("PUBSUB", "CHANNELS", pattern))) == sorted(expected), pattern


@pytest.mark.parametrize(
    ("pattern", "text", "nocase", "expected"),
    [
        (b"*", b"", False, False),  # Redis: an empty string only matches the empty pattern
        (b"", b"", False, True),
        (b"a*", b"a", False, True),
        (b"[a-", b"b", False, False),
        (b"[^", b"x", False, True),
        (b"[a-]", b"]", False, True),
        (b"\\", b"\\", False, True),
        (b"h[A-C]llo", b"hbllo", True, True),
        (b"HELLO", b"hello", True, True),
        (b"h\\*", b"h*", False, True),
        # Ranges compare C's signed chars: [\x01-\xff] is [-1, 1], so it misses 0x80.
        (b"[\x01-\xff]", b"\x80", False, False),
        (b"[\x01-\xff]", b"\x01", False, True),
        (b"[\x80-\xff]", b"\x90", False, True),
    ],
)
def test_glob_corner_cases(pattern, text, nocase, expected):
    assert glob_match(pattern, text, nocase) is expected


def test_glob_with_many_stars_stays_fast():
    """A backtracking matcher is exponential here; Redis (and _glob) are not."""
    start = time.perf_counter()
    pattern = b"*a" * 40 + b"*b"
    assert not glob_match(pattern, b"a" * 300)
    assert glob_match(pattern, b"a" * 300 + b"b")
    assert glob_match(b"*a?[bc]*", b"xxabcyy")
    assert not glob_match(b"*a?[bc]*d", b"xxabcyy")
    assert time.perf_counter() - start < 1


def test_disconnected_subscriber_is_forgotten(kv_port):
    publisher = RawClient(kv_port)
    subscriber = RawClient(kv_port)
    try:
        subscriber.call("SUBSCRIBE", "gone")
        subscriber.call("PSUBSCRIBE", "gone*")
        assert publisher.call("PUBLISH", "gone", "x") == b":2\r\n"
        subscriber.close()
        deadline = time.monotonic() + 5
        while publisher.call("PUBSUB", "NUMSUB", "gone") != b"*2\r\n$4\r\ngone\r\n:0\r\n":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert publisher.call("PUBSUB", "NUMPAT") == b":0\r\n"
        assert publisher.call("PUBLISH", "gone", "x") == b":0\r\n"
    finally:
        publisher.close()


async def test_registry_cleanup_in_process():
    server = trapline.kv.Server()
    alice = server.new_client("alice")
    server.execute(alice, [b"SUBSCRIBE", b"a", b"b"])
    server.execute(alice, [b"PSUBSCRIBE", b"p*"])
    server.execute(alice, [b"SSUBSCRIBE", b"s"])
    bob = server.new_client("bob")
    assert server.execute(bob, [b"PUBLISH", b"pa", b"m"]) == 1
    server.drop_client(alice)
    pubsub = server.pubsub
    assert (pubsub.channels, pubsub.patterns, pubsub.shard_channels) == ({}, {}, {})
    assert server.execute(bob, [b"PUBLISH", b"a", b"m"]) == 0


# -- output buffer limits ------------------------------------------------------------------------


async def test_soft_output_limit_needs_sixty_seconds(virtual_clock):
    """Over 8mb but under 32mb: the subscriber goes only after 60 s above the soft limit."""
    server = trapline.kv.Server()
    slow = server.new_client("slow")  # no connection: nothing ever drains its pushes
    publisher = server.new_client("publisher")
    server.execute(slow, [b"SUBSCRIBE", b"feed"])
    message = b"x" * (1024 * 1024)
    for _ in range(9):
        assert server.execute(publisher, [b"PUBLISH", b"feed", message]) == 1
    assert len(slow.pushes) > 8 * 1024 * 1024
    assert not slow.closing
    await trapline.sleep(30)
    server.execute(publisher, [b"PUBLISH", b"feed", b"small"])
    assert not slow.closing
    # Drained below the soft limit: the clock starts again.
    slow.pushes.clear()
    server.execute(publisher, [b"PUBLISH", b"feed", b"small"])
    for _ in range(9):
        server.execute(publisher, [b"PUBLISH", b"feed", message])
    await trapline.sleep(59)
    server.execute(publisher, [b"PUBLISH", b"feed", b"small"])
    assert not slow.closing
    await trapline.sleep(2)
    assert server.execute(publisher, [b"PUBLISH", b"feed", b"small"]) == 1
    assert slow.closing


async def test_hard_output_limit_and_config(virtual_clock):
    server = trapline.kv.Server()
    slow = server.new_client("slow")
    admin = server.new_client("admin")
    server.execute(slow, [b"SUBSCRIBE", b"feed"])
    limit = [b"CONFIG", b"SET", b"client-output-buffer-limit", b"pubsub 2mb 0 0"]
    assert server.execute(admin, limit) == "OK"
    message = b"x" * (512 * 1024)
    for _ in range(3):
        server.execute(admin, [b"PUBLISH", b"feed", message])
    assert not slow.closing
    server.execute(admin, [b"PUBLISH", b"feed", message])
    assert slow.closing
    # A closing subscriber still counts (Redis frees it asynchronously) but gets nothing more.
    size = len(slow.pushes)
    assert server.execute(admin, [b"PUBLISH", b"feed", message]) == 1
    assert len(slow.pushes) == size


def test_subscriber_that_never_reads_is_disconnected(tmp_path):
    """A subscriber that stops reading while a publisher sends 64 MB is disconnected at the
    32mb hard limit; the publisher, a subscriber that reads, and other clients keep working."""
    server = KVThread().start()
    stop_reading = threading.Event()
    received = []
    try:
        slow = socket.create_connection(("127.0.0.1", server.port))
        slow.sendall(encode_command("SUBSCRIBE", "feed"))
        fast = RawClient(server.port)
        assert fast.call("SUBSCRIBE", "feed").endswith(b":1\r\n")
        publisher = RawClient(server.port)
        bystander = RawClient(server.port)
        assert publisher.call("PUBSUB", "NUMSUB", "feed") == b"*2\r\n$4\r\nfeed\r\n:2\r\n"

        def read_fast():
            while not stop_reading.is_set():
                received.append(fast.read_reply())

        reader = threading.Thread(target=read_fast, daemon=True)
        reader.start()
        message = b"m" * (1024 * 1024)
        counts = [publisher.call("PUBLISH", "feed", message) for _ in range(64)]
        assert counts[0] == b":2\r\n"
        assert counts[-1] == b":1\r\n"  # the slow subscriber is gone
        assert bystander.call("PING") == b"+PONG\r\n"
        assert publisher.call("PUBSUB", "NUMSUB", "feed") == b"*2\r\n$4\r\nfeed\r\n:1\r\n"
        assert b"flags=P" in publisher.call("CLIENT", "LIST", "TYPE", "pubsub")
        deadline = time.monotonic() + 20
        while len(received) < 64:
            assert time.monotonic() < deadline, len(received)
            time.sleep(0.01)
        assert all(reply.endswith(message + b"\r\n") for reply in received)
        # The slow socket reads what the kernel buffered, then end of file.
        slow.settimeout(10)
        total = 0
        while chunk := slow.recv(1 << 20):
            total += len(chunk)
        assert total < 40 * 1024 * 1024
        stop_reading.set()
        publisher.call("PUBLISH", "feed", "bye")
        reader.join(5)
        for client in (fast, publisher, bystander):
            client.close()
        slow.close()
    finally:
        server.stop()
