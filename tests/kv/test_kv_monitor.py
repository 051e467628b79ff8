"""MONITOR and SLOWLOG against real Redis: the monitor's lines byte for byte once the time stamp
and client port are masked; slow log entries exactly on the virtual clock."""

import re

import pytest
from conftest import KVThread, RawClient, encode_command
from test_pubsub import both, parse

import trapline.kv
from trapline.kv._cmd_monitor import sds_repr
from trapline.kv._server import ServerConfig

_STAMP = re.compile(rb"^\+\d+\.\d{6} \[(\d+) 127\.0\.0\.1:\d+\] ")


def masked(line):
    match = _STAMP.match(line)
    assert match is not None, line
    return b"+<time> [" + match.group(1) + b" <addr>] " + line[match.end() :]


def test_sds_repr_quotes_as_redis():
    assert sds_repr(b'a\x00b"q\\ \n\r\t\x07\x08\xff~') == b'"a\\x00b\\"q\\\\ \\n\\r\\t\\a\\b\\xff~"'


def test_monitor_lines_match_redis(differ):
    watchers = differ.connection()
    both(watchers, "MONITOR")
    pair = differ.connection()
    commands = [
        ("SET", "k", b'a\x00b"q\\ \n\r\t\x07\x08\xff'),
        ("SELECT", "2"),
        ("GET", "k"),
        ("AUTH", "pw"),
        ("AUTH", "user", "pw"),
        ("HELLO", "2", "AUTH", "default", "pw"),
        ("HELLO", "2", "AUTH", "default", "pw", "SETNAME", "x"),
        ("HELLO", "2"),
        ("CLIENT", "LIST"),  # admin: not shown
        ("CONFIG", "GET", "maxmemory"),  # admin: not shown
        ("SLOWLOG", "LEN"),  # admin: not shown
        ("NOSUCH",),  # refused before it runs: not shown
        ("GET",),  # wrong arity: not shown
        ("MULTI",),
        ("SET", "a", "1"),
        ("INCR", "a"),
        ("EXEC",),
        ("CLIENT", "ID"),
        ("BLPOP", "nolist", "0.01"),
        ("MIGRATE", "127.0.0.1", "1", "k", "0", "1", "AUTH", "pw"),
        ("MIGRATE", "127.0.0.1", "1", "k", "0", "1", "AUTH2", "u", "pw"),
        ("SELECT", "0"),
        ("PING",),
    ]
    for command in commands:
        for client in pair:
            client.call(*command)
    redis, kv = watchers
    for redis_line, kv_line in zip(
        [redis.read_reply() for _ in range(18)], [kv.read_reply() for _ in range(18)], strict=True
    ):
        assert masked(kv_line) == masked(redis_line)
    assert masked(kv_line).startswith(b'+<time> [0 <addr>] "PING"')


def test_monitoring_client_commands(differ):
    watchers = differ.connection()
    both(watchers, "MONITOR")
    redis, kv = watchers
    for command in (("GET", "k"), ("SET", "a", "b"), ("LPUSH", "l", "x")):
        assert kv.call(*command) == redis.call(*command)
    # Other commands run, and the monitor sees its own after their replies.
    for command in (("PING",), ("ECHO", "hi")):
        expected, actual = redis.call(*command), kv.call(*command)
        assert actual == expected
        assert masked(kv.read_reply()) == masked(redis.read_reply())
    # RESET ends MONITOR mode (and is not shown); the client is an ordinary one again.
    both(watchers, "RESET")
    both(watchers, "SET", "a", "b")


def test_monitor_sees_other_clients_until_they_quit(kv_port):
    watcher, other = RawClient(kv_port), RawClient(kv_port)
    try:
        assert watcher.call("MONITOR") == b"+OK\r\n"
        other.call("SET", "x", "1")
        assert masked(watcher.read_reply()) == b'+<time> [0 <addr>] "SET" "x" "1"\r\n'
    finally:
        watcher.close()
    # The monitor's connection is gone: the fast path is back, and nothing is queued for it.
    assert other.call("GET", "x") == b"$1\r\n1\r\n"
    other.close()


async def test_slowlog_entries_exact_on_the_virtual_clock(virtual_clock):
    server = trapline.kv.Server(ServerConfig(slowlog_log_slower_than=0, slowlog_max_len=4))
    client = server.new_client("127.0.0.1:5000")
    start = server.now_ms() // 1000
    server.execute(client, [b"SET", b"k", b"v"])
    virtual_clock.jump(5)
    server.execute(client, [b"AUTH", b"secret"])
    server.execute(client, [b"CLIENT", b"SETNAME", b"me"])
    server.execute(client, [b"RPUSH", b"long", *[b"%d" % i for i in range(40)]])
    server.execute(client, [b"SET", b"big", b"x" * 200])
    server.execute(client, [b"MULTI"])
    server.execute(client, [b"EXEC"])  # skip_slowlog
    assert server.execute(client, [b"SLOWLOG", b"LEN"]) == 4
    entries = server.execute(client, [b"SLOWLOG", b"GET", b"-1"])
    addr = b"127.0.0.1:5000"
    assert entries == [
        [6, start + 5, 0, [b"SLOWLOG", b"LEN"], addr, b"me"],
        [5, start + 5, 0, [b"MULTI"], addr, b"me"],
        [4, start + 5, 0, [b"SET", b"big", b"x" * 128 + b"... (72 more bytes)"], addr, b"me"],
        [
            3,
            start + 5,
            0,
            [b"RPUSH", b"long", *[b"%d" % i for i in range(29)], b"... (11 more arguments)"],
            addr,
            b"me",
        ],
    ]
    assert server.execute(client, [b"SLOWLOG", b"GET", b"1"])[0][0] == 7  # SLOWLOG LEN, GET
    server.execute(client, [b"CONFIG", b"SET", b"slowlog-log-slower-than", b"-1"])
    server.execute(client, [b"SLOWLOG", b"RESET"])
    server.execute(client, [b"GET", b"k"])
    assert server.execute(client, [b"SLOWLOG", b"GET"]) == []


def test_slowlog_logs_a_command_slow_by_construction():
    server = KVThread(ServerConfig(enable_debug_command="yes")).start()
    client = RawClient(server.port)
    try:
        assert client.call("CONFIG", "SET", "slowlog-log-slower-than", "40000") == b"+OK\r\n"
        client.call("SLOWLOG", "RESET")
        client.call("GET", "fast")
        assert client.call("DEBUG", "SLEEP", "0.05") == b"+OK\r\n"
        reply = client.call("SLOWLOG", "GET")
        match = re.fullmatch(
            rb"\*1\r\n\*6\r\n:\d+\r\n:\d+\r\n:(\d+)\r\n\*3\r\n\$5\r\nDEBUG\r\n\$5\r\nSLEEP\r\n"
            rb"\$4\r\n0.05\r\n\$\d+\r\n127.0.0.1:\d+\r\n\$0\r\n\r\n",
            reply,
        )
        assert match is not None, reply
        assert int(match.group(1)) >= 50_000
    finally:
        client.close()
        server.stop()


def test_slowlog_errors_and_help(differ):
    for command in (
        ("SLOWLOG", "GET", "-2"),
        ("SLOWLOG", "GET", "x"),
        ("SLOWLOG", "GET", "1", "2"),
        ("SLOWLOG", "LEN", "1"),
        ("SLOWLOG", "HELP"),
        ("SLOWLOG", "NOPE"),
        ("SLOWLOG",),
    ):
        differ.check(*command)


@pytest.mark.parametrize("command", [("SLOWLOG", "RESET"), ("SLOWLOG", "GET", "0")])
def test_slowlog_plain_replies(differ, command):
    differ.check(*command)


async def test_fast_path_is_left_only_while_commands_must_be_traced():
    server = trapline.kv.Server()
    client = server.new_client("127.0.0.1:1")
    assert not server.tracing
    for name, value in (("slowlog-log-slower-than", b"0"), ("latency-monitor-threshold", b"5")):
        server.execute(client, [b"CONFIG", b"SET", name.encode(), value])
        assert server.tracing
        server.execute(
            client, [b"CONFIG", b"SET", name.encode(), b"10000" if value == b"0" else b"0"]
        )
        assert not server.tracing
    watcher = server.new_client("127.0.0.1:2")
    server.execute(watcher, [b"MONITOR"])
    assert server.tracing
    server.drop_client(watcher)
    assert not server.tracing


def test_slowlog_logs_fast_path_commands_when_logging_all(kv_port):
    client = RawClient(kv_port)
    try:
        client.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        client.call("SLOWLOG", "RESET")
        client.send(encode_command("SET", "k", "v") + encode_command("GET", "k"))
        assert client.read_reply() == b"+OK\r\n"
        assert client.read_reply() == b"$1\r\nv\r\n"
        entries = parse(client.call("SLOWLOG", "GET"))
        assert [entry[3] for entry in entries[:3]] == [
            [b"GET", b"k"],
            [b"SET", b"k", b"v"],
            [b"SLOWLOG", b"RESET"],
        ]
    finally:
        client.call("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        client.close()


def test_monitor_inside_a_transaction_matches_redis(differ):
    differ.check("MULTI")
    differ.check("MONITOR")
    differ.check("EXEC")


def test_client_list_flags_a_monitor(kv_port):
    watcher, other = RawClient(kv_port), RawClient(kv_port)
    try:
        watcher.call("MONITOR")
        watcher_id = watcher.call("CLIENT", "ID")[1:-2]  # allowed to a monitor
        watcher.read_reply()  # its own CLIENT ID, shown to it
        listing = parse(other.call("CLIENT", "LIST", "ID", watcher_id))
        assert b" flags=O " in listing
        assert b" flags=N " in parse(other.call("CLIENT", "INFO"))
    finally:
        watcher.close()
        other.close()
