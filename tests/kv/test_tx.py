"""Transactions against real Redis, byte for byte."""

import trapline
import trapline.kv


def test_multi_exec_discard_errors(differ):
    differ.check("EXEC")
    differ.check("DISCARD")
    differ.check("MULTI")
    differ.check("MULTI")
    differ.check("ECHO", "queued")
    differ.check("PING")
    differ.check("EXEC")


def test_queue_time_error_aborts_exec(differ):
    differ.check("MULTI")
    differ.check("ECHO", "a")
    differ.check("NOSUCHCOMMAND")
    differ.check("ECHO")
    differ.check("EXEC")
    differ.check("EXEC")


def test_discard_drops_the_queue(differ):
    differ.check("MULTI")
    differ.check("ECHO", "a")
    differ.check("DISCARD")
    differ.check("ECHO", "after")


def test_watch_inside_multi_and_unwatch(differ):
    differ.check("WATCH", "k")
    differ.check("MULTI")
    differ.check("WATCH", "k")
    differ.check("EXEC")
    differ.check("UNWATCH")
    differ.check("WATCH")


async def test_watched_key_changed_by_another_client_aborts_exec():
    server = trapline.kv.Server()
    alice = server.new_client("alice")
    bob = server.new_client("bob")
    assert server.execute(alice, [b"WATCH", b"k"]) == "OK"
    assert server.execute(alice, [b"MULTI"]) == "OK"
    assert server.execute(alice, [b"ECHO", b"x"]) == "QUEUED"
    server.dbs[0].set(b"k", b"changed by bob")  # any write through the keyspace
    assert server.execute(bob, [b"PING"]) == "PONG"
    assert server.execute(alice, [b"EXEC"]) is trapline.kv._resp.NullArray
    # Unwatched now: the next transaction runs.
    server.execute(alice, [b"MULTI"])
    server.execute(alice, [b"ECHO", b"y"])
    assert server.execute(alice, [b"EXEC"]) == [b"y"]
    assert server.watchers == {}


async def test_watched_key_expiring_aborts_exec(virtual_clock):
    server = trapline.kv.Server()
    client = server.new_client("c")
    db = server.dbs[0]
    db.set(b"k", b"v")
    db.set_expire(b"k", server.now_ms() + 1000)
    server.execute(client, [b"WATCH", b"k"])
    server.execute(client, [b"MULTI"])
    server.execute(client, [b"ECHO", b"x"])
    await trapline.sleep(1.0)
    assert server.execute(client, [b"EXEC"]) is trapline.kv._resp.NullArray


async def test_disconnect_forgets_watches():
    server = trapline.kv.Server()
    client = server.new_client("c")
    server.execute(client, [b"WATCH", b"a", b"b"])
    assert set(server.watchers) == {(0, b"a"), (0, b"b")}
    server.drop_client(client)
    assert server.watchers == {}
