"""MEMORY, LATENCY, ACL and DEBUG against real Redis (byte for byte where Redis is deterministic,
by shape where its numbers come from its allocator), and redis-cli's tool modes run against
trapline.kv as a subprocess: --pipe, --bigkeys, --memkeys, --scan, --latency, -r/-i, --stat."""

import os
import pty
import re
import shutil
import subprocess
import threading

import pytest
from conftest import KVThread, RawClient
from test_pubsub import parse

import trapline.kv
from trapline.kv._server import ServerConfig

REDIS_CLI = shutil.which("redis-cli")
needs_cli = pytest.mark.skipif(REDIS_CLI is None, reason="redis-cli is not installed")


# -- MEMORY ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ("MEMORY", "USAGE", "nokey"),
        ("MEMORY", "USAGE"),
        ("MEMORY", "USAGE", "k", "SAMPLES"),
        ("MEMORY", "USAGE", "k", "SAMPLES", "-1"),
        ("MEMORY", "USAGE", "k", "SAMPLES", "x"),
        ("MEMORY", "USAGE", "k", "FOO", "1"),
        ("MEMORY", "USAGE", "a", "b", "c", "d"),
        ("MEMORY", "STATS", "x"),
        ("MEMORY", "PURGE"),
        ("MEMORY", "HELP"),
        ("MEMORY", "NOPE"),
        ("MEMORY",),
        ("MEMORY", "DOCTOR"),  # empty instance
    ],
)
def test_memory_replies_match_redis(differ, command):
    differ.check(*command)


def test_memory_usage_and_stats_shape(differ):
    redis, kv = differ.main
    for client in differ.main:
        client.call("SET", "s", "v" * 100)
        client.call("RPUSH", "l", *[b"item%d" % i for i in range(50)])
        client.call("HSET", "h", "f", "v")
    sizes = {}
    for key in ("s", "l", "h"):
        for args in ((), ("SAMPLES", "0"), ("SAMPLES", "5")):
            expected, actual = (
                redis.call("MEMORY", "USAGE", key, *args),
                kv.call("MEMORY", "USAGE", key, *args),
            )
            assert expected.startswith(b":") and actual.startswith(b":")
            sizes[key] = int(actual[1:-2])
    # Estimates of the right order: a bigger value takes more.
    assert sizes["h"] < sizes["s"] < sizes["l"]
    for resp in ("2", "3"):
        redis.call("HELLO", resp)
        kv.call("HELLO", resp)
        expected, actual = parse(redis.call("MEMORY", "STATS")), parse(kv.call("MEMORY", "STATS"))
        assert expected[::2] == actual[::2]  # the same fields, in the same order
        assert [type(v) for v in expected[1::2]] == [type(v) for v in actual[1::2]]
    redis.call("HELLO", "2")
    kv.call("HELLO", "2")
    assert kv.call("MEMORY", "DOCTOR").startswith(b"$")
    assert kv.call("MEMORY", "MALLOC-STATS").startswith(b"$")


# -- LATENCY -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ("LATENCY", "LATEST"),
        ("LATENCY", "HISTORY", "command"),
        ("LATENCY", "HISTORY", "nope"),
        ("LATENCY", "HISTORY"),
        ("LATENCY", "RESET"),
        ("LATENCY", "RESET", "command", "nope"),
        ("LATENCY", "DOCTOR"),
        ("LATENCY", "GRAPH", "command"),
        ("LATENCY", "HELP"),
        ("LATENCY", "NOPE"),
        ("LATENCY",),
    ],
)
def test_latency_replies_match_redis_with_no_events(differ, command):
    differ.check(*command)


async def test_latency_monitor_records_slow_commands(virtual_clock):
    server = trapline.kv.Server(ServerConfig(latency_monitor_threshold=1))
    client = server.new_client("127.0.0.1:1")
    server.execute(client, [b"SET", b"k", b"v"])  # 0 ms on the virtual clock: not recorded
    assert server.execute(client, [b"LATENCY", b"LATEST"]) == []
    assert server.execute(client, [b"LATENCY", b"DOCTOR"]).text.startswith(
        b"Dave, no latency spike was observed"
    )
    from trapline.kv._cmd_debug import latency_sample

    now = server.now_ms() // 1000
    latency_sample(server, b"command", 5)
    latency_sample(server, b"command", 3)  # the same second: the worst is kept
    virtual_clock.jump(2)
    latency_sample(server, b"command", 2)
    assert server.execute(client, [b"LATENCY", b"LATEST"]) == [[b"command", now + 2, 2, 5]]
    assert server.execute(client, [b"LATENCY", b"HISTORY", b"command"]) == [
        [now, 5],
        [now + 2, 2],
    ]
    assert server.execute(client, [b"LATENCY", b"RESET", b"command", b"other"]) == 1
    assert server.execute(client, [b"LATENCY", b"LATEST"]) == []


# -- ACL ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ("ACL", "WHOAMI"),
        ("ACL", "USERS"),
        ("ACL", "LIST"),
        ("ACL", "GETUSER", "default"),
        ("ACL", "GETUSER", "nope"),
        ("ACL", "CAT"),
        ("ACL", "CAT", "nope"),
        ("ACL", "CAT", "a", "b"),
        ("ACL", "HELP"),
        ("ACL", "WHOAMI", "x"),
        ("ACL",),
    ],
)
def test_acl_replies_match_redis(differ, command):
    differ.check(*command)


def test_acl_cat_lists_the_commands_of_a_category(differ):
    redis, kv = differ.main
    for category in ("string", "connection", "fast"):
        ours = set(parse(kv.call("ACL", "CAT", category)))
        theirs = set(parse(redis.call("ACL", "CAT", category)))
        assert ours and ours <= theirs  # Redis's order is its hash table's


def test_acl_reflects_requirepass():
    server = KVThread(ServerConfig(requirepass="secret")).start()
    client = RawClient(server.port)
    try:
        assert client.call("AUTH", "secret") == b"+OK\r\n"
        digest = b"2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
        rule = b"user default on #%s ~* &* +@all" % digest
        assert client.call("ACL", "LIST") == b"*1\r\n$%d\r\n%s\r\n" % (len(rule), rule)
        user = parse(client.call("ACL", "GETUSER", "default"))
        assert user[:4] == [b"flags", [b"on"], b"passwords", [digest]]
    finally:
        client.close()
        server.stop()


# -- DEBUG -------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [("DEBUG", "HELP"), ("DEBUG", "SLEEP", "0"), ("DEBUG",)])
def test_debug_is_refused_by_default_as_redis_does(differ, command):
    differ.check(*command)


def test_debug_subset_when_enabled():
    server = KVThread(ServerConfig(enable_debug_command="local")).start()
    client = RawClient(server.port)
    try:
        assert client.call("DEBUG", "POPULATE", "3") == b"+OK\r\n"
        assert client.call("DBSIZE") == b":3\r\n"
        assert client.call("GET", "key:2") == b"$7\r\nvalue:2\r\n"
        assert client.call("DEBUG", "POPULATE", "2", "p", "10") == b"+OK\r\n"
        assert client.call("STRLEN", "p:1") == b":10\r\n"
        reply = client.call("DEBUG", "OBJECT", "key:1")
        assert re.fullmatch(
            rb"\+Value at:0x[0-9a-f]+ refcount:1 encoding:embstr serializedlength:\d+ "
            rb"lru:0 lru_seconds_idle:0\r\n",
            reply,
        ), reply
        assert client.call("DEBUG", "OBJECT", "nokey") == b"-ERR no such key\r\n"
        assert client.call("DEBUG", "ERROR", "boom") == b"-ERR boom\r\n"
        assert client.call("DEBUG", "ERROR", "-CUSTOM x") == b"-CUSTOM x\r\n"
        assert client.call("DEBUG", "SLEEP", "0") == b"+OK\r\n"
        assert client.call("DEBUG", "NOPE") == (
            b"-ERR unknown subcommand or wrong number of arguments for 'NOPE'. Try DEBUG HELP.\r\n"
        )
    finally:
        client.close()
        server.stop()


# -- redis-cli tool modes ----------------------------------------------------------------------


def cli(port, *args, input=None, timeout=20):
    assert REDIS_CLI is not None
    result = subprocess.run(
        [REDIS_CLI, "-p", str(port), *args],
        input=input,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    return result.returncode, result.stdout.decode("utf-8", "replace")


def fill(client):
    client.call("FLUSHALL")
    for i in range(5):
        client.call("SET", f"str{i}", "v" * (i + 1))
    client.call("RPUSH", "list", "a", "b", "c")
    client.call("HSET", "hash", "f1", "v1", "f2", "v2")
    client.call("SADD", "set", "m")
    client.call("ZADD", "zset", "1", "m")


@needs_cli
def test_cli_pipe_mass_insertion(kv_port, kv_client):
    kv_client.call("FLUSHALL")
    commands = "".join(f"SET key{i} value{i}\r\n" for i in range(200))
    code, out = cli(kv_port, "--pipe", input=commands.encode())
    assert code == 0, out
    # --pipe ends with an ECHO of 20 random bytes, which must come back exactly.
    assert "errors: 0, replies: 200" in out
    assert kv_client.call("DBSIZE") == b":200\r\n"


@needs_cli
@pytest.mark.parametrize("mode", ["--bigkeys", "--memkeys"])
def test_cli_bigkeys_and_memkeys(kv_port, kv_client, mode):
    fill(kv_client)
    code, out = cli(kv_port, mode)
    assert code == 0, out
    assert "Sampled 9 keys in the keyspace!" in out
    assert "Warning" not in out
    if mode == "--memkeys":
        # MEMORY USAGE's estimate, as Redis's, is the same for all short strings.
        assert re.search(r"Biggest string found '\"str\d\"' has [1-9]\d* bytes", out), out
        assert re.search(r"5 strings with [1-9]\d* bytes", out), out
        assert re.search(r"1 zsets with [1-9]\d* bytes", out), out
    else:
        assert "Biggest string found '\"str4\"' has 5 bytes" in out
        assert "5 strings with 15 bytes" in out
        assert "1 lists with 3 items" in out
        assert "1 hashs with 2 fields" in out


@needs_cli
def test_cli_scan_with_pattern(kv_port, kv_client):
    fill(kv_client)
    code, out = cli(kv_port, "--scan", "--pattern", "str*")
    assert code == 0, out
    assert sorted(out.split()) == [f"str{i}" for i in range(5)]


@needs_cli
def test_cli_repeat_with_interval(kv_port, kv_client):
    code, out = cli(kv_port, "-r", "3", "-i", "0.01", "INCR", "counter")
    assert code == 0, out
    assert out.split() == ["1", "2", "3"]


@needs_cli
def test_cli_latency_prints_one_line_when_not_a_tty(kv_port):
    # Not on a terminal, --latency measures for a second, prints min/max/avg/count, and exits.
    code, out = cli(kv_port, "--latency")
    assert code == 0, out
    fields = out.split()
    assert len(fields) == 4 and int(fields[3]) > 0, out


@needs_cli
def test_cli_stat_reads_info(kv_port, kv_client):
    fill(kv_client)
    # --stat prints a line a second, to a terminal only when it has one: give it one.
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [REDIS_CLI, "-p", str(kv_port), "--stat", "-i", "0.1"],
        stdout=terminal,
        stderr=terminal,
        stdin=subprocess.DEVNULL,
    )
    os.close(terminal)
    output = b""
    try:
        while output.count(b"\n") < 4:
            chunk = os.read(controller, 4096)
            if not chunk:
                break
            output += chunk
    finally:
        process.kill()
        process.wait()
        os.close(controller)
    text = output.decode("utf-8", "replace")
    assert "------- data ------ --------------------- load -------------------- - child -" in text
    assert re.search(r"\n9 +\S+ +\d+ +\d+ +\d+", text), text


@needs_cli
def test_cli_monitor_mode(kv_port, kv_client):
    assert REDIS_CLI is not None
    process = subprocess.Popen(
        [REDIS_CLI, "-p", str(kv_port), "MONITOR"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    watchdog = threading.Timer(10, process.kill)  # a missing line ends the test, not the run
    watchdog.start()
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"OK\n"
        kv_client.call("SET", "watched", "a b")
        line = process.stdout.readline().decode()
    finally:
        watchdog.cancel()
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
    assert re.fullmatch(r'\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "SET" "watched" "a b"\n', line), line
