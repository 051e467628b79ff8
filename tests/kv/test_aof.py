"""Append-only-file persistence: durability, deterministic replay, recovery, rewriting."""

import logging
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from conftest import RawClient, encode_command

import trapline
import trapline.kv
from trapline.kv._aof import AppendOnlyFile


def make_config(directory, fsync="always"):
    return trapline.kv.ServerConfig(dir=str(directory), appendonly="yes", appendfsync=fsync)


async def run_server(config, script):
    """Serve ``config``, run ``script(client)`` over a real connection, then stop."""
    server = trapline.kv.Server(config)
    async with trapline.TaskGroup() as tg:
        listeners = await tg.start(server.serve, "127.0.0.1", 0)
        port = listeners[0].socket.getsockname()[1]
        async with trapline.kv.connect(f"redis://127.0.0.1:{port}") as db:
            result = await script(db)
        tg.cancel_scope.cancel()
    return server, result


async def test_writes_survive_a_restart(tmp_path):
    config = make_config(tmp_path)

    async def write(db):
        await db.execute("SADD", "s", "a", "b", "c")
        await db.execute("ZADD", "z", "1.5", "x", "2", "y")
        await db.execute("SREM", "s", "b")
        async with db.pipeline() as p:  # one connection: SELECT applies to what follows
            p.execute("SELECT", "3")
            p.execute("SADD", "in3", "yes")
            p.execute("SELECT", "0")

    server, _ = await run_server(config, write)
    assert server.dbs[3].data == {b"in3": {b"yes"}}

    async def read(db):
        return (
            sorted(await db.execute("SMEMBERS", "s")),
            await db.execute("ZRANGE", "z", "0", "-1", "WITHSCORES"),
        )

    server, (members, zset) = await run_server(config, read)
    assert server.dbs[3].data == {b"in3": {b"yes"}}
    assert members == [b"a", b"c"]
    assert zset == [b"x", b"1.5", b"y", b"2"]


async def test_spop_and_blocking_pops_are_logged_deterministically(tmp_path):
    config = make_config(tmp_path)

    async def write(db):
        await db.execute("SADD", "s", *[str(i) for i in range(20)])
        popped = await db.execute("SPOP", "s", "5")

        async def blocked():
            return await db.execute("BZPOPMIN", "q", "0")

        async with trapline.TaskGroup() as tg:
            waiter = tg.spawn(blocked)
            await trapline.sleep(0.05)
            await db.execute("ZADD", "q", "1", "one", "2", "two")
        return popped, waiter.result()

    _, (popped, got) = await run_server(config, write)
    assert got == [b"q", b"one", b"1"]
    log = (tmp_path / "appendonly.aof").read_bytes()
    assert b"SPOP" not in log and b"SREM" in log
    assert b"BZPOPMIN" not in log and b"ZPOPMIN" in log

    async def read(db):
        return (
            set(await db.execute("SMEMBERS", "s")),
            await db.execute("ZRANGE", "q", "0", "-1"),
        )

    _, (members, queue) = await run_server(config, read)
    assert members == {str(i).encode() for i in range(20)} - set(popped)
    assert queue == [b"two"]


async def test_exec_is_logged_as_a_transaction(tmp_path):
    config = make_config(tmp_path)

    async def write(db):
        async with db.pipeline(transaction=True) as p:
            p.execute("SADD", "a", "1")
            p.execute("SADD", "b", "2")

    await run_server(config, write)
    log = (tmp_path / "appendonly.aof").read_bytes()
    assert log.index(b"MULTI") < log.index(b"SADD") < log.rindex(b"EXEC")


def _server_with_log(tmp_path, data: bytes):
    (tmp_path / "appendonly.aof").write_bytes(data)
    server = trapline.kv.Server(make_config(tmp_path))
    aof = AppendOnlyFile(server, str(tmp_path / "appendonly.aof"))
    return server, aof


async def test_truncated_last_command_is_dropped_with_a_warning(tmp_path, caplog):
    good = encode_command("SADD", "s", "1") + encode_command("SADD", "s", "2")
    server, aof = _server_with_log(tmp_path, good + encode_command("SADD", "s", "3")[:-5])
    with caplog.at_level(logging.WARNING, logger="trapline.kv.aof"):
        assert aof.load() == 2
    assert "truncated command" in caplog.text
    assert server.dbs[0].data[b"s"] == {b"1", b"2"}
    assert (tmp_path / "appendonly.aof").read_bytes() == good


async def test_unfinished_transaction_at_the_end_is_dropped(tmp_path, caplog):
    good = encode_command("SADD", "s", "1")
    tail = encode_command("MULTI") + encode_command("SADD", "s", "2")
    server, aof = _server_with_log(tmp_path, good + tail)
    with caplog.at_level(logging.WARNING, logger="trapline.kv.aof"):
        aof.load()
    assert server.dbs[0].data[b"s"] == {b"1"}
    assert (tmp_path / "appendonly.aof").read_bytes() == good


async def test_corruption_in_the_middle_refuses_to_start(tmp_path):
    data = encode_command("SADD", "s", "1") + b"*2\r\n!oops\r\n" + encode_command("SADD", "s", "2")
    _, aof = _server_with_log(tmp_path, data)
    with pytest.raises(RuntimeError, match="refusing to start"):
        aof.load()


async def test_bgrewriteaof_compacts_while_serving(tmp_path):
    config = make_config(tmp_path, fsync="everysec")

    async def write(db):
        for i in range(200):
            await db.execute("SADD", "s", str(i % 10))
            await db.execute("ZINCRBY", "z", "1", "m")
        before = os.path.getsize(tmp_path / "appendonly.aof")
        assert await db.execute("BGREWRITEAOF") == b"Background append only file rewriting started"
        # Writes made while the rewrite runs must survive it.
        await db.execute("SADD", "late", "x")
        for _ in range(100):
            if not any(p.name.startswith("appendonly.aof.rewrite") for p in tmp_path.iterdir()):
                break
            await trapline.sleep(0.01)
        await trapline.sleep(0.05)
        await db.execute("SADD", "later", "y")
        return before

    server, before = await run_server(config, write)
    assert server.aof.rewrites == 1
    assert os.path.getsize(tmp_path / "appendonly.aof") < before / 10

    async def read(db):
        return (
            len(await db.execute("SMEMBERS", "s")),
            await db.execute("ZSCORE", "z", "m"),
            await db.execute("SMEMBERS", "late"),
            await db.execute("SMEMBERS", "later"),
        )

    _, result = await run_server(config, read)
    assert result == (10, b"200", [b"x"], [b"y"])


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(tmp_path, port, fsync="always"):
    process = subprocess.Popen(
        [sys.executable, "-m", "trapline", "kv", "serve", "--port", str(port)]
        + ["--dir", str(tmp_path), "--appendonly", "yes", "--appendfsync", fsync],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while True:
        try:
            return process, RawClient(port)
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)


@pytest.mark.parametrize("kill_after", [50, 400])
def test_kill_9_loses_no_acknowledged_write(tmp_path, kill_after):
    """With appendfsync always, every write that got its reply is on disk."""
    port = _free_port()
    process, client = _start(tmp_path, port)
    acknowledged = []
    try:
        # Pipeline writes and SIGKILL the server while replies are still coming back.
        batch = b"".join(encode_command("SADD", "s", str(i)) for i in range(1000))
        client.send(batch)
        for i in range(1000):
            if i == kill_after:
                os.kill(process.pid, signal.SIGKILL)
            try:
                reply = client.read_reply()
            except (ConnectionError, OSError):
                break
            assert reply == b":1\r\n"
            acknowledged.append(str(i).encode())
    finally:
        client.close()
        process.wait(10)
    assert len(acknowledged) >= kill_after
    process, client = _start(tmp_path, port)
    try:
        stored = set(client.call("SMEMBERS", "s").split(b"\r\n")[2::2])
    finally:
        client.close()
        process.send_signal(signal.SIGTERM)
        process.wait(10)
    assert set(acknowledged) <= stored


def test_sigterm_is_a_graceful_shutdown_that_keeps_the_log(tmp_path):
    """everysec: writes acknowledged just before SIGTERM are flushed and fsynced on the way out."""
    port = _free_port()
    process, client = _start(tmp_path, port, fsync="everysec")
    try:
        for i in range(200):
            assert client.call("SADD", "s", str(i)) == b":1\r\n"
    finally:
        client.close()
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0
    process, client = _start(tmp_path, port, fsync="everysec")
    try:
        assert client.call("SCARD", "s") == b":200\r\n"
    finally:
        client.close()
        process.send_signal(signal.SIGTERM)
        process.wait(10)
