"""Pipelines sent in one write: the replies, byte for byte, are Redis's.

The server runs everything one read brought as a batch; these cover what can change within a
batch: authentication (which changes the protocol limits for the rest), transactions, pub/sub,
QUIT, blocking, and bad input after good commands.
"""

import socket

from conftest import encode_command

import trapline
import trapline.kv
from trapline.testing import memory_stream_pair


def _exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` in one write, then read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _same(differ, *requests: bytes) -> bytes:
    data = b"".join(requests)
    redis_port, kv_port = differ.ports
    expected = _exchange(redis_port, data)
    actual = _exchange(kv_port, data)
    assert actual == expected
    return actual


def _cmd(*args: bytes | str | int) -> bytes:
    return encode_command(*args)


QUIT = _cmd("QUIT")


def test_mixed_pipeline(differ):
    _same(
        differ,
        _cmd("SET", "k", "v"),
        b"GET k\r\n",  # inline
        b"*0\r\n",  # empty: ignored
        _cmd("INCR", "n"),
        _cmd("INCR", "k"),  # an error reply in the middle
        _cmd("gEt", "k"),
        _cmd("NOSUCH", "x"),
        _cmd("GET"),  # wrong arity
        _cmd("MSET", "a", "1", "b", "2", "c"),  # wrong arity for MSET
        _cmd("MSET", "a", "1", "b", "2", "a", "3"),
        _cmd("MGET", "a", "b"),
        _cmd("SET", "big", "x" * 10000),  # longer than the fast path takes
        _cmd("STRLEN", "big"),
        _cmd("SET", "crlf", "a\r\nb"),
        _cmd("GET", "crlf"),
        QUIT,
        _cmd("SET", "after", "quit"),  # never runs
    )
    differ.check("EXISTS", "after")


def test_transactions_and_pubsub_inside_one_batch(differ):
    _same(
        differ,
        _cmd("MULTI"),
        _cmd("SET", "t", "1"),
        _cmd("INCR", "t"),
        _cmd("EXEC"),
        _cmd("MULTI"),
        _cmd("NOSUCH"),
        _cmd("EXEC"),
        _cmd("SUBSCRIBE", "ch"),
        _cmd("GET", "t"),  # refused while subscribed (RESP2)
        _cmd("PING"),
        _cmd("UNSUBSCRIBE"),
        _cmd("GET", "t"),
        QUIT,
    )


def test_blocking_pop_fed_later_in_the_same_batch_times_out_first(differ):
    # The batch stops at the blocking command until it is served or times out.
    _same(
        differ,
        _cmd("DEL", "l"),
        _cmd("BLPOP", "l", "0.05"),
        _cmd("RPUSH", "l", "a"),
        _cmd("BLPOP", "l", "1"),
        QUIT,
    )


def test_bad_input_after_good_commands(differ):
    _same(differ, _cmd("SET", "p", "1"), _cmd("INCR", "p"), b"*1\r\n$x\r\n", _cmd("INCR", "p"))
    differ.check("GET", "p")
    _same(differ, _cmd("PING"), b'SET "unbalanced\r\n', _cmd("PING"))


def test_a_pipeline_longer_than_one_read(differ):
    requests = [_cmd("RPUSH", "long", f"item-{i}") for i in range(20000)]
    _same(differ, *requests, _cmd("LLEN", "long"), QUIT)


def test_authentication_changes_the_limits_for_the_rest_of_the_batch(differ):
    admin = differ.main
    for client in admin:
        assert client.call("CONFIG", "SET", "requirepass", "s3cret") == b"+OK\r\n"
    try:
        big = "x" * 20000
        many = [f"k{i}" for i in range(12)]
        # Unauthenticated, then AUTH: the rest may use the ordinary limits.
        _same(differ, _cmd("AUTH", "s3cret"), _cmd("SET", "k", big), _cmd("STRLEN", "k"), QUIT)
        _same(differ, _cmd("AUTH", "s3cret"), _cmd("DEL", *many), QUIT)
        # Authenticated, then RESET: the rest get the unauthenticated limits again. (The bad
        # request stops at its header: unread bytes would make the close a reset.)
        long_bulk = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$20000\r\n"
        _same(differ, _cmd("AUTH", "s3cret"), _cmd("RESET"), long_bulk)
        _same(differ, _cmd("AUTH", "s3cret"), _cmd("RESET"), b"*13\r\n")
        _same(differ, _cmd("AUTH", "s3cret"), _cmd("RESET"), _cmd("PING"), QUIT)
        # Before AUTH the tighter limits hold.
        _same(differ, _cmd("PING"), long_bulk)
    finally:
        for client in admin:
            client.call("AUTH", "s3cret")
            assert client.call("CONFIG", "SET", "requirepass", "") == b"+OK\r\n"


async def test_a_deep_pipeline_does_not_starve_other_clients():
    server = trapline.kv.Server()
    deep, deep_end = memory_stream_pair(max_buffer=1 << 22)
    other, other_end = memory_stream_pair()
    count = 40000  # about 1 MB of requests: many 64 KiB reads

    async def serve_one(stream):
        try:
            await server.handle(stream)
        finally:
            await stream.aclose()

    async with trapline.TaskGroup() as tg:
        tg.spawn(serve_one, deep_end)
        tg.spawn(serve_one, other_end)
        await deep.send_all(_cmd("INCR", "n") * count)
        await other.send_all(_cmd("PING"))
        assert await other.recv() == b"+PONG\r\n"
        # Answered between two reads of the deep pipeline, not after all of it.
        assert 0 < int(server.dbs[0].data[b"n"]) < count
        expected = b"".join(b":%d\r\n" % i for i in range(1, count + 1))
        replies = bytearray()
        while len(replies) < len(expected):
            replies += await deep.recv()
        assert replies == expected
        await deep.aclose()
        await other.aclose()
