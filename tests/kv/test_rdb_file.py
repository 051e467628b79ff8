"""RDB snapshots and the data-directory lock: SAVE/BGSAVE/SHUTDOWN write ``dump.rdb`` in Redis
7.0's format, a restart loads it, real redis-server and trapline.kv read each other's files,
save points fire at exact virtual times, damaged files refuse to start, and two servers cannot
share a data directory."""

import math
import os
import shutil
import subprocess
import time

import pytest
from conftest import RawClient, _free_port

import trapline
import trapline.kv
from trapline.kv._rdbfile import DataDirLocked, PersistenceError, snapshots_of

# A dataset with every type, both encodings of each collection, TTLs and several databases.
SCRIPT = [
    (0, ["SET", "str", "hello"]),
    (0, ["SET", "int", "12345"]),
    (0, ["SET", "big", "x" * 5000]),
    (0, ["SET", "ttl", "soon"]),
    (0, ["PEXPIREAT", "ttl", "4102444800000"]),
    (0, ["RPUSH", "list", "a", "1", "b" * 100, "-7"]),
    (0, ["RPUSH", "longlist", *[f"item{i}" for i in range(600)]]),
    (0, ["HSET", "hash", "f1", "v1", "f2", "22"]),
    (0, ["HSET", "bighash", *[x for i in range(600) for x in (f"f{i}", f"v{i}")]]),
    (0, ["SADD", "intset", "1", "2", "-300", "70000"]),
    (0, ["SADD", "set", "a", "b", "c"]),
    (0, ["SADD", "bigset", *[f"m{i}" for i in range(600)]]),
    (0, ["ZADD", "zset", "1.5", "a", "-2", "b", "inf", "c"]),
    (0, ["ZADD", "bigzset", *[x for i in range(200) for x in (str(i / 3), f"m{i}")]]),
    (2, ["SET", "db2", "two"]),
    (2, ["HSET", "h2", "a", "b"]),
    (2, ["EXPIREAT", "h2", "4102444800"]),
    (15, ["RPUSH", "l15", "x"]),
]


def _lines(reply: bytes) -> list[bytes]:
    return reply.split(b"\r\n")


def contents(client: RawClient) -> dict:
    """Every key of every database: its type, value (sorted where unordered) and expiry."""
    result = {}
    for db in range(16):
        client.call("SELECT", db)
        keys = sorted(_lines(client.call("KEYS", "*"))[2::2])
        for key in keys:
            kind = client.call("TYPE", key)
            if kind == b"+string\r\n":
                value = client.call("GET", key)
            elif kind == b"+list\r\n":
                value = client.call("LRANGE", key, 0, -1)
            elif kind == b"+hash\r\n":
                items = _lines(client.call("HGETALL", key))[2::2]
                value = sorted(zip(items[::2], items[1::2], strict=True))
            elif kind == b"+set\r\n":
                value = sorted(_lines(client.call("SMEMBERS", key))[2::2])
            else:
                value = client.call("ZRANGE", key, 0, -1, "WITHSCORES")
            result[(db, key)] = (kind, value, client.call("PEXPIRETIME", key))
    client.call("SELECT", 0)
    return result


def fill(client: RawClient) -> None:
    for db, command in SCRIPT:
        client.call("SELECT", db)
        reply = client.call(*command)
        assert not reply.startswith(b"-"), reply
    client.call("SELECT", 0)


class Served:
    """A trapline.kv server on its own thread (see conftest.KVThread), for a data directory."""

    def __init__(self, directory, **settings):
        from conftest import KVThread

        config = trapline.kv.ServerConfig(dir=str(directory), **settings)
        self.thread = KVThread(config)

    def __enter__(self):
        self.thread.start()
        self.client = RawClient(self.thread.port)
        return self

    def __exit__(self, *exc):
        self.client.close()
        if self.thread._thread.is_alive():
            self.thread.stop()
        elif self.thread.error is not None:
            raise self.thread.error


def test_save_then_restart_gives_the_same_data(tmp_path):
    with Served(tmp_path) as first:
        fill(first.client)
        before = contents(first.client)
        assert first.client.call("SAVE") == b"+OK\r\n"
    assert (tmp_path / "dump.rdb").exists()
    assert not [name for name in os.listdir(tmp_path) if name.startswith("temp-")]
    with Served(tmp_path) as second:
        assert contents(second.client) == before
        assert len(before) == len(SCRIPT) - 2  # two commands only set a TTL


@pytest.fixture
def redis_binary():
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (.ci/run installs it)")
    return binary


class RedisProcess:
    def __init__(self, binary, directory):
        self.port = _free_port()
        self.process = subprocess.Popen(
            [binary, "--dir", str(directory), "--dbfilename", "dump.rdb", "--port",
             str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--logfile", str(directory / "redis.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client = RawClient(self.port)
                if self.client.call("PING") == b"+PONG\r\n":
                    return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.process.kill()
                    self.process.wait()
                    raise
                time.sleep(0.05)

    def stop(self):
        self.client.close()
        self.process.terminate()
        self.process.wait(10)


def test_redis_server_loads_a_dump_written_by_trapline_kv(tmp_path, redis_binary):
    with Served(tmp_path) as served:
        fill(served.client)
        expected = contents(served.client)
        assert served.client.call("SAVE") == b"+OK\r\n"
    redis = RedisProcess(redis_binary, tmp_path)
    try:
        assert contents(redis.client) == expected
        assert b"DB loaded from disk" in (tmp_path / "redis.log").read_bytes()
    finally:
        redis.stop()


def test_trapline_kv_loads_a_dump_saved_by_redis_server(tmp_path, redis_binary):
    redis = RedisProcess(redis_binary, tmp_path)
    try:
        fill(redis.client)
        expected = contents(redis.client)
        assert redis.client.call("SAVE") == b"+OK\r\n"
    finally:
        redis.stop()
    with Served(tmp_path) as served:
        assert contents(served.client) == expected


def test_bgsave_holds_the_state_at_the_moment_it_ran(tmp_path):
    with Served(tmp_path, save="3600 100000000") as served:  # save points: changes counted
        client = served.client
        client.call("RPUSH", "list", *range(2000))
        client.call("HSET", "hash", "f", "before")
        client.call("SET", "counter", "0")
        client.send(
            b"".join(
                [
                    b"*1\r\n$6\r\nBGSAVE\r\n",  # in one batch with the writes after it
                    b"*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n",
                    b"*4\r\n$4\r\nHSET\r\n$4\r\nhash\r\n$1\r\nf\r\n$5\r\nafter\r\n",
                    b"*2\r\n$4\r\nLPOP\r\n$4\r\nlist\r\n",
                ]
            )
        )
        replies = [client.read_reply() for _ in range(4)]
        assert replies == [b"+Background saving started\r\n", b":1\r\n", b":0\r\n", b"$1\r\n0\r\n"]
        for _ in range(50):  # clients keep writing while it saves
            client.call("INCR", "counter")
        deadline = time.monotonic() + 20
        while b"rdb_bgsave_in_progress:0" not in client.call("INFO", "persistence"):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        info = client.call("INFO", "persistence")
        assert b"rdb_last_bgsave_status:ok" in info
        assert b"rdb_saves:1" in info
        assert b"rdb_changes_since_last_save:53\r\n" in info  # the writes made after it began
        assert client.call("GET", "counter") == b"$2\r\n51\r\n"
        client.call("CONFIG", "SET", "save", "")  # so stopping does not save again
    with Served(tmp_path) as again:
        assert again.client.call("GET", "counter") == b"$1\r\n0\r\n"
        assert again.client.call("HGET", "hash", "f") == b"$6\r\nbefore\r\n"
        assert again.client.call("LLEN", "list") == b":2000\r\n"


async def test_save_points_fire_at_exact_virtual_times(virtual_clock, tmp_path):
    config = trapline.kv.ServerConfig(dir=str(tmp_path), save="60 3 10 5")
    server = trapline.kv.Server(config)
    state = snapshots_of(server)
    async with trapline.TaskGroup() as tg:
        await tg.start(server.serve, "127.0.0.1", 0)
        start = trapline.current_time()
        client = server.new_client("test")
        for i in range(3):
            server.execute(client, [b"SET", b"k%d" % i, b"v"])
        await trapline.sleep(60.5)
        assert state.saves == 0  # 3 changes, but not more than 60 seconds yet
        await trapline.sleep(0.5)
        assert state.bgsave_started_at == start + 61  # the first check after 60 s
        while state.bgsave_running:
            await trapline.sleep(0.001)
        assert state.saves == 1 and state.dirty == 0
        save_time = trapline.current_time()
        for i in range(5):
            server.execute(client, [b"SET", b"k%d" % i, b"w"])
        started = state.bgsave_started_at
        await trapline.sleep(12)  # 5 changes in more than 10 seconds
        assert state.bgsave_started_at > started
        # The first whole-second check more than 10 seconds after the save finished.
        assert state.bgsave_started_at == start + math.floor(save_time - start) + 11
        while state.bgsave_running:
            await trapline.sleep(0.001)
        assert state.saves == 2
        tg.cancel_scope.cancel()
    restarted = trapline.kv.Server(trapline.kv.ServerConfig(dir=str(tmp_path), save=""))
    async with trapline.TaskGroup() as tg:
        await tg.start(restarted.serve, "127.0.0.1", 0)
        client = restarted.new_client("test")
        assert restarted.execute(client, [b"GET", b"k4"]) == b"w"
        tg.cancel_scope.cancel()


async def test_no_save_points_no_automatic_save(virtual_clock, tmp_path):
    server = trapline.kv.Server(trapline.kv.ServerConfig(dir=str(tmp_path)))
    async with trapline.TaskGroup() as tg:
        await tg.start(server.serve, "127.0.0.1", 0)
        client = server.new_client("test")
        server.execute(client, [b"SET", b"k", b"v"])
        await trapline.sleep(7200)
        tg.cancel_scope.cancel()
    assert not (tmp_path / "dump.rdb").exists()
    assert not (tmp_path / "trapline-kv.lock").exists()  # nothing persists: nothing locked


def test_shutdown_saves_when_save_points_are_configured(tmp_path):
    with Served(tmp_path, save="3600 1") as served:
        served.client.call("SET", "k", "v")
        served.client.send(b"SHUTDOWN\r\n")
        served.thread._thread.join(10)
    with Served(tmp_path, save="") as again:
        assert again.client.call("GET", "k") == b"$1\r\nv\r\n"
        again.client.call("SET", "k", "new")
        again.client.send(b"SHUTDOWN NOSAVE\r\n")
        again.thread._thread.join(10)
    with Served(tmp_path) as third:
        assert third.client.call("GET", "k") == b"$1\r\nv\r\n"
        third.client.call("SET", "k", "saved")
        third.client.send(b"SHUTDOWN SAVE\r\n")
        third.thread._thread.join(10)
    with Served(tmp_path) as fourth:
        assert fourth.client.call("GET", "k") == b"$5\r\nsaved\r\n"


def _serve_once(directory):
    server = trapline.kv.Server(trapline.kv.ServerConfig(dir=str(directory)))

    async def main():
        async with trapline.TaskGroup() as tg:
            await tg.start(server.serve, "127.0.0.1", 0)
            tg.cancel_scope.cancel()

    trapline.run(main)


@pytest.mark.parametrize("damage", ["truncate", "flip", "signature", "version"])
def test_a_damaged_dump_refuses_to_start(tmp_path, damage):
    with Served(tmp_path) as served:
        fill(served.client)
        served.client.call("SAVE")
    path = tmp_path / "dump.rdb"
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0x10
    elif damage == "signature":
        data[:5] = b"REDIX"
    else:
        data[5:9] = b"0099"
    path.write_bytes(bytes(data))
    with pytest.raises(BaseExceptionGroup) as caught:
        _serve_once(tmp_path)
    (error,) = caught.value.exceptions
    while isinstance(error, BaseExceptionGroup):
        (error,) = error.exceptions
    assert isinstance(error, PersistenceError)
    assert str(error).startswith(f"bad RDB file {tmp_path / 'dump.rdb'}: ")
    assert str(error).endswith("refusing to start (move it away to start empty)")


def test_a_missing_dump_starts_empty(tmp_path):
    with Served(tmp_path) as served:
        assert served.client.call("DBSIZE") == b":0\r\n"


# -- the data-directory lock -------------------------------------------------------------------


async def test_two_servers_cannot_share_a_data_directory(tmp_path):
    config = {"dir": str(tmp_path), "appendonly": "yes"}
    first = trapline.kv.Server(trapline.kv.ServerConfig(**config))
    async with trapline.TaskGroup() as tg:
        await tg.start(first.serve, "127.0.0.1", 0)
        second = trapline.kv.Server(trapline.kv.ServerConfig(**config))
        with pytest.raises(BaseExceptionGroup) as caught:
            async with trapline.TaskGroup() as inner:
                await inner.start(second.serve, "127.0.0.1", 0)
        (error,) = caught.value.exceptions
        while isinstance(error, BaseExceptionGroup):
            (error,) = error.exceptions
        assert isinstance(error, DataDirLocked)
        assert str(error) == (
            f"data directory {tmp_path} is in use by another trapline.kv server "
            f"(pid {os.getpid()}); stop it or give this one another --dir"
        )
        tg.cancel_scope.cancel()
    # After the first stops, a new one starts on the same directory.
    third = trapline.kv.Server(trapline.kv.ServerConfig(**config))
    async with trapline.TaskGroup() as tg:
        await tg.start(third.serve, "127.0.0.1", 0)
        tg.cancel_scope.cancel()


async def test_one_background_save_at_a_time(virtual_clock, tmp_path):
    server = trapline.kv.Server(trapline.kv.ServerConfig(dir=str(tmp_path)))
    state = snapshots_of(server)
    async with trapline.TaskGroup() as tg:
        await tg.start(server.serve, "127.0.0.1", 0)
        client = server.new_client("test")
        server.execute(client, [b"SET", b"k", b"v"])
        seconds = int(server.execute(client, [b"TIME"])[0])
        await trapline.sleep(5)
        assert server.execute(client, [b"BGSAVE"]) == "Background saving started"
        in_progress = "ERR Background save already in progress"
        assert server.execute(client, [b"BGSAVE"]) == in_progress
        assert server.execute(client, [b"BGSAVE", b"SCHEDULE"]) == in_progress
        assert server.execute(client, [b"SAVE"]) == in_progress
        while state.bgsave_running:
            await trapline.sleep(0.001)
        assert state.last_bgsave_ok
        assert server.execute(client, [b"LASTSAVE"]) >= seconds + 5
        # Inside EXEC, BGSAVE is scheduled: the next once-a-second check starts it.
        server.execute(client, [b"MULTI"])
        server.execute(client, [b"BGSAVE"])
        assert server.execute(client, [b"EXEC"]) == ["Background saving scheduled"]
        assert state.bgsave_scheduled and not state.bgsave_running
        started = state.bgsave_started_at
        await trapline.sleep(1)
        assert state.bgsave_started_at > started and not state.bgsave_scheduled
        while state.bgsave_running:
            await trapline.sleep(0.001)
        assert state.saves == 2
        tg.cancel_scope.cancel()


async def test_a_failed_background_save_is_retried_after_5_seconds(virtual_clock, tmp_path):
    # The snapshot's directory does not exist, so every save fails.
    config = trapline.kv.ServerConfig(
        dir=str(tmp_path), save="1 1", dbfilename=os.path.join("missing", "dump.rdb")
    )
    server = trapline.kv.Server(config)
    state = snapshots_of(server)

    async def until(when):
        await trapline.sleep(start + when - trapline.current_time())

    async with trapline.TaskGroup() as tg:
        await tg.start(server.serve, "127.0.0.1", 0)
        start = trapline.current_time()
        client = server.new_client("test")
        server.execute(client, [b"SET", b"k", b"v"])
        await until(2.5)
        assert state.bgsave_started_at == start + 2  # 1 change, more than 1 second
        while state.bgsave_running:
            await trapline.sleep(0.001)
        assert not state.last_bgsave_ok and state.saves == 0 and state.dirty == 1
        info = server.execute(client, [b"INFO", b"persistence"])
        assert b"rdb_last_bgsave_status:err\r\n" in info.text
        assert server.execute(client, [b"SAVE"]) == "ERR"  # what Redis replies
        await until(7.5)
        assert state.bgsave_started_at == start + 2  # not before 5 seconds after the failure
        await until(8.5)
        assert state.bgsave_started_at == start + 8
        tg.cancel_scope.cancel()


def _changes(client: RawClient) -> bytes:
    info = client.call("INFO", "persistence")
    return info.split(b"rdb_changes_since_last_save:")[1].split(b"\r\n")[0]


def test_changes_are_counted_as_redis_counts_them(differ, tmp_path):
    commands = [
        ["SET", "s", "1"],
        ["INCR", "s"],
        ["MSET", "a", "1", "b", "2", "c", "3"],
        ["MSETNX", "a", "1", "d", "4"],  # sets nothing
        ["RPUSH", "l", "x", "y", "z"],
        ["LPUSHX", "missing", "x"],
        ["HSET", "h", "f", "1", "g", "2"],
        ["HSET", "h", "f", "1"],  # an update still counts
        ["SADD", "set", "a", "b", "a"],
        ["SADD", "set", "a"],
        ["DEL", "a", "b", "nothing"],
        ["EXPIRE", "c", "100"],
        ["EXPIRE", "nothing", "100"],
        ["ZADD", "z", "1", "m", "2", "n"],
        ["SREM", "set", "a", "zzz"],
    ]
    redis = differ.main[0]
    # Changes are counted while save points are set (they never fire here).
    with Served(tmp_path, save="3600 100000000") as served:
        kv = served.client
        for client in (redis, kv):
            assert client.call("SAVE") == b"+OK\r\n"
        for command in commands:
            assert kv.call(*command) == redis.call(*command), command
            assert _changes(kv) == _changes(redis), command
    # Without save points nothing needs the count, and no write pays for it.
    with Served(tmp_path / "none") as served:
        served.client.call("SET", "k", "v")
        assert _changes(served.client) == b"0"


async def test_bgsave_waits_for_an_append_only_file_rewrite(virtual_clock, tmp_path):
    config = trapline.kv.ServerConfig(dir=str(tmp_path), appendonly="yes")
    server = trapline.kv.Server(config)
    state = snapshots_of(server)
    async with trapline.TaskGroup() as tg:
        await tg.start(server.serve, "127.0.0.1", 0)
        client = server.new_client("test")
        server.execute(client, [b"SET", b"k", b"v"])
        rewriting = "Background append only file rewriting started"
        assert server.execute(client, [b"BGREWRITEAOF"]) == rewriting
        assert server.execute(client, [b"BGSAVE"]) == (
            "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE "
            "SCHEDULE in order to schedule a BGSAVE whenever possible."
        )
        scheduled = server.execute(client, [b"BGSAVE", b"SCHEDULE"])
        assert scheduled == "Background saving scheduled"
        while server.aof.rewrite_buffer is not None or state.saves == 0:
            await trapline.sleep(0.001)
        assert (tmp_path / "dump.rdb").exists()
        tg.cancel_scope.cancel()
    # With the append-only file on, it is what a restart loads (dump.rdb is not read).
    (tmp_path / "dump.rdb").write_bytes(b"not an RDB file")
    again = trapline.kv.Server(config)
    async with trapline.TaskGroup() as tg:
        await tg.start(again.serve, "127.0.0.1", 0)
        assert again.execute(again.new_client("test"), [b"GET", b"k"]) == b"v"
        tg.cancel_scope.cancel()


def test_kill_9_during_save_leaves_the_previous_snapshot(tmp_path):
    import signal
    import sys

    port = _free_port()
    command = [sys.executable, "-m", "trapline", "kv", "serve", "--port", str(port)]
    command += ["--dir", str(tmp_path), "--save", ""]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                client = RawClient(port)
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.05)
        client.call("SET", "version", "1")
        assert client.call("SAVE") == b"+OK\r\n"
        for start in range(0, 200_000, 10_000):
            pairs = [x for i in range(start, start + 10_000) for x in (f"k{i}", f"value {i}")]
            assert client.call("MSET", *pairs) == b"+OK\r\n"
        client.call("SET", "version", "2")
        client.send(b"SAVE\r\n")  # seconds of work for 200k keys: killed in the middle
        time.sleep(0.3)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        client.close()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
    # Whatever the moment, dump.rdb is a whole snapshot: the first, or (if the save won the
    # race) the second.
    with Served(tmp_path, save="") as served:
        version = served.client.call("GET", "version")
        size = served.client.call("DBSIZE")
        assert (version, size) in [(b"$1\r\n1\r\n", b":1\r\n"), (b"$1\r\n2\r\n", b":200001\r\n")]


def test_redis_cli_rdb_downloads_a_snapshot(tmp_path):
    cli = shutil.which("redis-cli")
    if cli is None:
        pytest.skip("redis-cli is not installed")
    with Served(tmp_path / "server") as served:
        fill(served.client)
        expected = contents(served.client)
        target = tmp_path / "copy" / "dump.rdb"
        target.parent.mkdir()
        done = subprocess.run(
            [cli, "-p", str(served.thread.port), "--rdb", str(target)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        assert "Transfer finished with success" in done.stderr + done.stdout
        # The connection that asked is closed; the server goes on serving the others.
        assert served.client.call("PING") == b"+PONG\r\n"
        bad = served.client.call("REPLCONF", "nosuch", "1")
        assert bad == b"-ERR Unrecognized REPLCONF option: nosuch\r\n"
    with Served(tmp_path / "copy") as copy:
        assert contents(copy.client) == expected


def test_replconf_replies_as_redis(differ):
    differ.check("REPLCONF", "capa", "eof")
    differ.check("REPLCONF", "capa", "eof", "capa", "psync2")
    differ.check("REPLCONF", "listening-port", "6380")
    differ.check("REPLCONF", "capa")
    differ.check("REPLCONF", "nosuch", "1")
    differ.check("REPLCONF")
