"""CLIENT PAUSE/UNPAUSE/UNBLOCK: held commands run at exact virtual times; errors as Redis's."""

import pytest
from conftest import encode_command
from test_pubsub import both

import trapline
import trapline.kv
from trapline.kv._commands import Blocked
from trapline.kv._resp import Error, NullArray, Simple

OK = Simple("OK")


async def test_pause_write_holds_writes_until_it_ends(virtual_clock):
    server = trapline.kv.Server()
    pauser, other = server.new_client("a"), server.new_client("b")
    start = trapline.current_time()
    assert server.execute(pauser, [b"CLIENT", b"PAUSE", b"1000", b"WRITE"]) == OK
    assert server.execute(other, [b"GET", b"k"]) is None  # reads go on
    held = server.execute(other, [b"SET", b"k", b"v"])
    assert type(held) is Blocked
    assert server.execute(pauser, [b"GET", b"k"]) is None  # not written yet
    assert await server.block(other, held) == OK
    assert trapline.current_time() - start == pytest.approx(1.0, abs=1e-6)
    assert server.execute(pauser, [b"GET", b"k"]) == b"v"
    assert server.gate is None  # the pause is over: the fast path is back


async def test_pause_all_holds_everything_until_unpaused(virtual_clock):
    server = trapline.kv.Server()
    pauser, other, third = (server.new_client(name) for name in "abc")
    assert server.execute(pauser, [b"CLIENT", b"PAUSE", b"5000"]) == OK
    held = server.execute(other, [b"PING"])
    assert type(held) is Blocked
    results = []
    async with trapline.TaskGroup() as tg:

        async def wait() -> None:
            results.append((await server.block(other, held), trapline.current_time()))

        tg.spawn(wait)
        await trapline.sleep(2)
        # Redis holds CLIENT UNPAUSE too in ALL mode; the pause is lifted from the server's
        # side here, as the pausing client's own UNPAUSE would once it ran.
        start = trapline.current_time()
        server.execute(third, [b"CLIENT", b"UNPAUSE"])  # held too: returns a Blocked
        from trapline.kv._cmd_clientx import client_unpause

        client_unpause(pauser, [b"CLIENT", b"UNPAUSE"])
    assert results == [(Simple("PONG"), start)]


async def test_pause_in_write_mode_holds_an_exec_that_writes(virtual_clock):
    server = trapline.kv.Server()
    pauser, other = server.new_client("a"), server.new_client("b")
    server.execute(other, [b"MULTI"])
    server.execute(other, [b"GET", b"k"])
    server.execute(pauser, [b"CLIENT", b"PAUSE", b"100", b"WRITE"])
    assert server.execute(other, [b"EXEC"]) == [None]  # reads only: runs at once
    server.execute(other, [b"MULTI"])
    server.execute(other, [b"INCR", b"k"])
    held = server.execute(other, [b"EXEC"])
    assert type(held) is Blocked
    assert await server.block(other, held) == [1]


async def test_client_unblock(virtual_clock):
    server = trapline.kv.Server()
    admin, waiter = server.new_client("a"), server.new_client("b")
    results = []
    async with trapline.TaskGroup() as tg:

        async def blpop() -> None:
            blocked = server.execute(waiter, [b"BLPOP", b"list", b"0"])
            results.append(await server.block(waiter, blocked))

        tg.spawn(blpop)
        await trapline.sleep(1)
        assert server.execute(admin, [b"CLIENT", b"UNBLOCK", b"%d" % waiter.id]) == 1
        await trapline.sleep(0)
        tg.spawn(blpop)
        await trapline.sleep(1)
        unblock = [b"CLIENT", b"UNBLOCK", b"%d" % waiter.id, b"ERROR"]
        assert server.execute(admin, unblock) == 1
    assert results == [NullArray, Error("UNBLOCKED client unblocked via CLIENT UNBLOCK")]
    assert server.execute(admin, [b"CLIENT", b"UNBLOCK", b"%d" % waiter.id]) == 0


@pytest.mark.parametrize(
    "command",
    [
        ("CLIENT", "PAUSE"),
        ("CLIENT", "PAUSE", "x"),
        ("CLIENT", "PAUSE", "-1"),
        ("CLIENT", "PAUSE", "1", "FOO"),
        ("CLIENT", "PAUSE", "1", "2", "3"),
        ("CLIENT", "UNBLOCK", "x"),
        ("CLIENT", "UNBLOCK", "1", "foo"),
        ("CLIENT", "UNBLOCK", "999999"),
        ("CLIENT", "UNBLOCK", "1", "2", "3"),
        ("CLIENT", "UNPAUSE", "x"),
        ("CLIENT", "UNPAUSE"),
    ],
)
def test_client_pause_and_unblock_errors_match_redis(differ, command):
    differ.check(*command)


def test_client_reply_off_on_and_skip_match_redis(differ):
    pair = differ.connection()
    for client in pair:
        client.send(
            encode_command("CLIENT", "REPLY", "OFF")
            + encode_command("SET", "a", "1")
            + encode_command("GET", "a")
            + encode_command("CLIENT", "REPLY", "SKIP")  # ignored while replies are off
            + encode_command("CLIENT", "REPLY", "ON")
            + encode_command("GET", "a")
            + encode_command("CLIENT", "REPLY", "SKIP")
            + encode_command("INCR", "a")
            + encode_command("INCR", "a")
            + encode_command("CLIENT", "REPLY", "OFF")
            + encode_command("RESET")
            + encode_command("CLIENT", "REPLY", "MAYBE")
        )
    redis, kv = pair
    expected = [redis.read_reply() for _ in range(5)]
    assert expected[:3] == [b"+OK\r\n", b"$1\r\n1\r\n", b":3\r\n"]
    assert [kv.read_reply() for _ in range(5)] == expected


def test_second_monitor_gets_no_reply(differ):
    pair = differ.connection()
    for client in pair:
        client.send(encode_command("MONITOR") + encode_command("MONITOR"))
    both(pair, "ECHO", "x")  # the next reply is ECHO's, the monitor's line follows
