"""The trapline.kv client, against real Redis and against trapline.kv."""

import pytest

import trapline
import trapline.kv


@pytest.fixture(params=["redis", "trapline.kv"])
def url(request, redis_port, kv_port):
    port = redis_port if request.param == "redis" else kv_port
    return f"redis://127.0.0.1:{port}/0"


async def test_the_seeds_database_example(url):
    async with trapline.kv.connect(url, decode_responses=True) as db:
        await db.execute("SET", "cow", "Moo!")
        assert await db.execute("GET", "cow") == "Moo!"
        assert await db.ping() is True
        await db.execute("DEL", "cow")


async def test_pipeline_returns_replies_in_order_with_errors_in_place(url):
    async with trapline.kv.connect(url) as db:
        async with db.pipeline() as p:
            p.execute("SET", "pk", "1")
            p.execute("INCR", "pk")
            p.execute("NOSUCHCOMMAND")
            p.execute("GET", "pk")
            p.execute("DEL", "pk")
        assert p.results[:2] == [b"OK", 2]
        assert isinstance(p.results[2], trapline.kv.ResponseError)
        assert p.results[2].code == "ERR"
        assert p.results[3:] == [b"2", 1]


async def test_error_reply_raises_response_error(url):
    async with trapline.kv.connect(url) as db:
        with pytest.raises(trapline.kv.ResponseError, match="unknown command"):
            await db.execute("NOSUCHCOMMAND")
        # The connection is still usable after an error reply.
        assert await db.execute("ECHO", "still here") == b"still here"


async def test_cancelled_command_does_not_desync_the_next_one(url):
    async with trapline.kv.connect(url, max_connections=1) as db:
        with trapline.move_on_after(0.05):
            await db.execute("BLPOP", "nothing-here", "0")
        # The connection that was waiting is discarded; a new one answers correctly.
        assert await db.execute("ECHO", "fresh") == b"fresh"


async def test_many_tasks_share_a_bounded_pool(url):
    async with trapline.kv.connect(url, max_connections=3) as db:
        results = await trapline.gather(*(db.execute("ECHO", str(i)) for i in range(50)))
        assert results == [str(i).encode() for i in range(50)]
        stats = db.statistics().pools.popitem()[1]
        assert stats.in_use == 0 and stats.open_connections <= 3


def test_url_parsing():
    from trapline.kv._client_conn import parse_url

    parsed = parse_url("redis://:secret@localhost:6380/2")
    assert (parsed.addresses[0].host, parsed.addresses[0].port) == ("localhost", 6380)
    assert (parsed.db, parsed.password) == (2, "secret")
    assert parse_url("rediss://h").addresses[0].tls
    unix = parse_url("unix:///tmp/kv.sock?db=3")
    assert (unix.addresses[0].path, unix.db) == ("/tmp/kv.sock", 3)
    with pytest.raises(ValueError, match="unsupported URL scheme"):
        parse_url("http://x")


async def test_connect_to_a_closed_port_fails_at_enter():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(OSError):
        async with trapline.kv.connect(f"redis://127.0.0.1:{port}"):
            pass
