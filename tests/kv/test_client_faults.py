"""The client when things go wrong: connections dropped before, during and after a command,
servers that answer slowly or with garbage, and cancelled blocking pops.

Fake servers are a few lines of ``trapline.serve_tcp`` in the test's own run; the rest runs
against real Redis and trapline.kv (CLIENT KILL, INFO blocked_clients)."""

import contextlib

import pytest

import trapline
import trapline.kv
from trapline.kv import ConnectionLost, ProtocolViolation


@pytest.fixture(params=["redis", "trapline.kv"])
def server(request, redis_port):
    """A URL factory: the session's redis-server, or a trapline.kv server of the test's own
    (the blocking-pop tests can leave it with clients it failed to forget)."""
    if request.param == "redis":

        @contextlib.asynccontextmanager
        async def redis_url():
            yield f"redis://127.0.0.1:{redis_port}/0"

        return redis_url
    return own_kv_server


@contextlib.asynccontextmanager
async def own_kv_server():
    kv_server = trapline.kv.Server()
    async with trapline.TaskGroup() as tg:
        listeners = await tg.start(kv_server.serve, "127.0.0.1", 0)
        yield f"redis://127.0.0.1:{listeners[0].socket.getsockname()[1]}/0"
        tg.cancel_scope.cancel()


async def read_command(stream):
    """One RESP command from a client, or None at end of stream."""
    try:
        header = await stream.readuntil(b"\r\n")
        args = []
        for _ in range(int(header[1:-2])):
            length = int((await stream.readuntil(b"\r\n"))[1:-2])
            args.append((await stream.readexactly(length + 2))[:-2])
    except (trapline.IncompleteReadError, trapline.BrokenResourceError):
        return None
    return args


@contextlib.asynccontextmanager
async def fake_server(answer):
    """Serve ``answer(command, stream, state)`` for every command; it returns the bytes to
    send, or None to close the connection. ``state`` counts connections and commands."""
    state = {"connections": 0, "commands": []}

    async def handler(stream):
        state["connections"] += 1
        async with stream:
            while (command := await read_command(stream)) is not None:
                state["commands"].append(command)
                reply = await answer(command, stream, state)
                if reply is None:
                    return
                await stream.send_all(reply)

    async with trapline.TaskGroup() as tg:
        listeners = await tg.start(trapline.serve_tcp, handler, 0)
        port = listeners[0].socket.getsockname()[1]
        state["url"] = f"redis://127.0.0.1:{port}"
        yield state
        tg.cancel_scope.cancel()


async def test_connection_lost_mid_command_is_reported_not_retried():
    async def answer(command, stream, state):
        if len(state["commands"]) == 1:
            return None  # the first command: drop the connection without a reply
        return b":1\r\n"

    async with fake_server(answer) as state, trapline.kv.connect(state["url"]) as db:
        with pytest.raises(ConnectionLost):
            await db.incr("n")
        assert state["commands"] == [[b"INCR", b"n"]]  # sent once, never again
        assert await db.incr("n") == 1  # the next command reconnects
        assert state["connections"] == 2
        stats = db.statistics().pools.popitem()[1]
        assert (stats.open_connections, stats.connections_made) == (1, 2)


@pytest.mark.parametrize(
    ("sent", "error"),
    [
        (b"$10\r\nhel", ConnectionLost),  # the reply is cut in the middle
        (b"*2\r\n:1\r\n", ConnectionLost),  # half an array
        (b"?garbage\r\n", ProtocolViolation),
        (b":12x\r\n", ProtocolViolation),
    ],
)
async def test_bad_replies_break_only_that_connection(sent, error):
    async def answer(command, stream, state):
        if command[0] == b"GET":
            await stream.send_all(sent)
            return None
        return b"+PONG\r\n"

    async with fake_server(answer) as state, trapline.kv.connect(state["url"]) as db:
        with pytest.raises(error):
            await db.get("k")
        assert await db.ping() is True
        assert state["connections"] == 2


async def test_connection_lost_in_a_pipeline():
    async def answer(command, stream, state):
        if command[0] == b"GET":
            return None
        return b"+OK\r\n"

    async with fake_server(answer) as state, trapline.kv.connect(state["url"]) as db:
        with pytest.raises(ConnectionLost):
            async with db.pipeline() as p:
                p.set("a", 1)
                p.get("a")
                p.set("b", 2)
        assert p.results is None
        assert await db.set("c", 3) is True


async def test_slow_server_times_out_through_a_cancel_scope(virtual_clock):
    async def answer(command, stream, state):
        if command == [b"GET", b"slow"]:
            await trapline.sleep_forever()  # until the test's server is cancelled
        return b"$2\r\nok\r\n"

    async with fake_server(answer) as state, trapline.kv.connect(state["url"]) as db:
        start = trapline.current_time()
        with pytest.raises(TimeoutError), trapline.fail_after(0.1):
            await db.get("slow")
        assert trapline.current_time() - start == pytest.approx(0.1)
        # The connection waiting for that reply was closed; the next command gets a new one
        # and cannot receive the late reply meant for the abandoned command.
        assert await db.get("fast") == b"ok"
        stats = db.statistics().pools.popitem()[1]
        assert (stats.open_connections, stats.connections_made) == (1, 2)
        with trapline.move_on_after(0.1) as scope:
            await db.get("slow")
        assert scope.cancelled_caught
        assert await db.get("fast") == b"ok"


async def test_idle_connection_dropped_by_the_server_reconnects_transparently(server):
    async with (
        server() as url,
        trapline.kv.connect(url, max_connections=1) as db,
        trapline.kv.connect(url) as admin,
    ):
        await db.set("k", "v")
        first_id = await db.client_id()
        assert await admin.client_kill(id=first_id) == 1
        idle = db._pool._idle[0]
        with trapline.fail_after(5):
            while not idle.looks_closed():  # the FIN is on its way over loopback
                await trapline.sleep(0.001)
        assert await db.get("k") == b"v"  # no error: the dead idle connection was replaced
        assert await db.client_id() != first_id
        assert db.statistics().pools.popitem()[1].connections_made == 2


async def test_blocked_command_killed_by_the_server_raises_connection_lost(server):
    async with (
        server() as url,
        trapline.kv.connect(url, client_name="victim") as db,
        trapline.kv.connect(url) as admin,
    ):
        await db.delete("kq")
        async with trapline.TaskGroup() as tg:

            async def kill_the_blocked_one():
                with trapline.fail_after(5):
                    while True:
                        blocked = [
                            c
                            for c in await admin.client_list()
                            if c["cmd"] == "blpop" and c["name"] == "victim"
                        ]
                        if blocked:
                            break
                        await trapline.sleep(0.005)
                assert await admin.client_kill(id=int(blocked[0]["id"])) == 1

            tg.spawn(kill_the_blocked_one)
            with pytest.raises(ConnectionLost), trapline.fail_after(10):
                await db.blpop("kq")
        assert await db.ping() is True


async def blocked_clients(db):
    return (await db.info("clients"))["blocked_clients"]


BLOCKING_CALLS = {
    "blpop": lambda db: db.blpop("bq", "bq2"),
    "brpop": lambda db: db.brpop("bq"),
    "blmove": lambda db: db.blmove("bq", "dst"),
    "brpoplpush": lambda db: db.brpoplpush("bq", "dst"),
    "blmpop": lambda db: db.blmpop("bq", count=2),
    "bzpopmin": lambda db: db.bzpopmin("bz"),
    "bzpopmax": lambda db: db.bzpopmax("bz"),
    "bzmpop": lambda db: db.bzmpop("bz"),
}


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("call", BLOCKING_CALLS)
async def test_cancelled_blocking_pop_leaves_nothing_waiting_on_the_server(server, call, protocol):
    async with server() as url, trapline.kv.connect(url, protocol=protocol) as db:
        await db.delete("bq", "bq2", "bz", "dst")
        with trapline.move_on_after(0.05) as scope:
            await BLOCKING_CALLS[call](db)
        assert scope.cancelled_caught
        # Its connection (the pool's only one) was closed, not returned to the pool...
        stats = db.statistics().pools.popitem()[1]
        assert (stats.open_connections, stats.in_use, stats.connections_made) == (0, 0, 1)
        # ...so the server forgets the wait...
        with trapline.fail_after(2):
            while await blocked_clients(db):
                await trapline.sleep(0.005)
        assert not [c for c in await db.client_list() if c["cmd"] == call]
        # ...and does not pop the next element for nobody.
        await db.rpush("bq", "x")
        await db.zadd("bz", {"m": 1})
        assert await db.lrange("bq") == [b"x"]
        assert await db.zcard("bz") == 1
        await db.delete("bq", "bz")


async def test_many_cancelled_blocking_pops_in_parallel(server):
    async with server() as url, trapline.kv.connect(url, max_connections=20) as db:
        await db.delete("many")
        with trapline.move_on_after(0.1):
            async with trapline.TaskGroup() as tg:
                for _ in range(50):
                    tg.spawn(db.blpop, "many")
        with trapline.fail_after(2):
            while await blocked_clients(db):
                await trapline.sleep(0.005)
        await db.rpush("many", *range(5))
        assert await db.llen("many") == 5
        stats = db.statistics().pools.popitem()[1]
        assert stats.open_connections <= 20 and stats.tasks_waiting == 0
