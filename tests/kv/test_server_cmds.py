"""Server and connection commands against real Redis: HELLO, AUTH, RESET, CLIENT, INFO, CONFIG,
COMMAND, TIME, LASTSAVE, SAVE/BGSAVE, ROLE, SHUTDOWN; byte for byte where Redis is deterministic,
by structure and key fields where it is not (ids, addresses, times, memory). Also redis-cli and
redis-py against trapline.kv."""

import re
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest
from conftest import KVThread, RawClient, encode_command
from test_pubsub import both, parse

import trapline
import trapline.kv
from trapline.kv._commands import COMMANDS
from trapline.kv._resp import Verbatim


def without_id(reply):
    return re.sub(rb"\$2\r\nid\r\n:\d+\r\n", b"$2\r\nid\r\n:<id>\r\n", reply)


def check_hello(pair, *args):
    redis, kv = pair
    expected, actual = redis.call("HELLO", *args), kv.call("HELLO", *args)
    assert without_id(actual) == without_id(expected)
    return actual


def fields(line):
    return dict(item.split("=", 1) for item in line.split(" "))


# -- HELLO, AUTH, RESET ------------------------------------------------------------------------


def test_hello(differ):
    pair = differ.connection()
    check_hello(pair)
    check_hello(pair, "3")
    both(pair, "ECHO", "in resp3")
    check_hello(pair, "2", "SETNAME", "named")
    both(pair, "CLIENT", "GETNAME")
    for args in (
        ("4",),
        ("1",),
        ("x",),
        ("3", "AUTH", "default"),
        ("3", "AUTH", "nobody", "pass"),
        ("3", "SETNAME"),
        ("3", "SETNAME", "has space"),
        ("2", "FOO"),
        ("2", "SETNAME", "ok", "BAR"),
    ):
        check_hello(pair, *args)
    both(pair, "CLIENT", "GETNAME")  # SETNAME took effect before the bad option
    check_hello(pair, "3", "AUTH", "default", "anything")  # no password: any works
    redis, kv = pair
    reply = parse(kv.call("HELLO"))
    assert dict(zip(reply[::2], reply[1::2], strict=True))[b"proto"] == 3
    assert kv.call("HELLO", "2").startswith(b"*14\r\n")


def test_auth_without_password(differ):
    differ.check("AUTH", "secret")
    differ.check("AUTH", "default", "secret")
    differ.check("AUTH", "someone", "secret")
    differ.check("AUTH", "a", "b", "c")
    differ.check("AUTH")


def test_requirepass(differ):
    admin = differ.main
    both(admin, "CONFIG", "SET", "requirepass", "s3cret")
    try:
        both(admin, "CONFIG", "GET", "requirepass")
        fresh = differ.connection()
        both(fresh, "ECHO", "hi")
        both(fresh, "PING")
        check_hello(fresh, "3")
        both(fresh, "AUTH", "wrong")
        both(fresh, "AUTH", "default", "wrong")
        both(fresh, "AUTH", "nobody", "s3cret")
        both(fresh, "ECHO", "still locked")
        both(fresh, "AUTH", "s3cret")
        both(fresh, "ECHO", "open")
        both(fresh, "RESET")  # back to the default user: not authenticated
        both(fresh, "ECHO", "locked again")
        check_hello(fresh, "3", "AUTH", "default", "wrong")
        check_hello(fresh, "3", "AUTH", "default", "s3cret")
        both(fresh, "ECHO", "open in resp3")
        other = differ.connection()
        both(other, "AUTH", "default", "s3cret")
        both(other, "CLIENT", "GETNAME")
    finally:
        both(admin, "CONFIG", "SET", "requirepass", "")


def test_reset(differ):
    pair = differ.connection()
    both(pair, "SELECT", "3")
    both(pair, "CLIENT", "SETNAME", "before")
    both(pair, "SUBSCRIBE", "chan")
    both(pair, "RESET")
    both(pair, "CLIENT", "GETNAME")
    both(pair, "PUBSUB", "NUMSUB", "chan")
    both(pair, "MULTI")
    both(pair, "ECHO", "queued")
    both(pair, "RESET")
    both(pair, "EXEC")
    for client in pair:
        client.call("HELLO", "3")
    both(pair, "RESET")
    both(pair, "CLIENT", "TRACKINGINFO")  # RESP2 again
    both(pair, "RESET", "x")


# -- CLIENT ------------------------------------------------------------------------------------


def test_client_names(differ):
    differ.check("CLIENT", "GETNAME")
    differ.check("CLIENT", "SETNAME", "my-name")
    differ.check("CLIENT", "GETNAME")
    differ.check("CLIENT", "SETNAME", "with space")
    differ.check("CLIENT", "SETNAME", "new\nline")
    differ.check("CLIENT", "SETNAME", "\x7f")
    differ.check("CLIENT", "GETNAME")
    differ.check("CLIENT", "SETNAME", "")
    differ.check("CLIENT", "GETNAME")
    differ.check("CLIENT", "SETNAME")
    differ.check("CLIENT", "GETNAME", "x")


def test_client_errors_and_help(differ):
    for args in (
        ("CLIENT",),
        ("CLIENT", "HELP"),
        ("CLIENT", "FOO"),
        ("CLIENT", "SETINFO", "LIB-NAME", "x"),
        ("CLIENT", "ID", "x"),
        ("CLIENT", "INFO", "x"),
        ("CLIENT", "LIST", "TYPE", "bogus"),
        ("CLIENT", "LIST", "ID", "abc"),
        ("CLIENT", "LIST", "x"),
        ("CLIENT", "LIST", "ID"),
        ("CLIENT", "LIST", "ID", "99999999"),
        ("CLIENT", "LIST", "TYPE", "master"),
        ("CLIENT", "LIST", "TYPE", "replica"),
        ("CLIENT", "KILL"),
        ("CLIENT", "KILL", "1.2.3.4:5"),
        ("CLIENT", "KILL", "ID", "10", "wrong_arg"),
        ("CLIENT", "KILL", "ID", "str"),
        ("CLIENT", "KILL", "ID", "-1"),
        ("CLIENT", "KILL", "ID", "0"),
        ("CLIENT", "KILL", "ID", "99999999"),
        ("CLIENT", "KILL", "TYPE", "wrong_type"),
        ("CLIENT", "KILL", "TYPE", "master"),
        ("CLIENT", "KILL", "USER", "wrong_user"),
        ("CLIENT", "KILL", "SKIPME", "yes_or_no"),
        ("CLIENT", "KILL", "ADDR", "1.2.3.4:5", "SKIPME", "no"),
        ("CLIENT", "KILL", "LADDR", "1.2.3.4:5"),
        ("CLIENT", "NO-EVICT", "on"),
        ("CLIENT", "NO-EVICT", "maybe"),
        ("CLIENT", "NO-EVICT", "off"),
        ("CLIENT", "GETREDIR"),
        ("CLIENT", "TRACKINGINFO"),
    ):
        differ.check(*args)


def test_client_list_and_info_fields(differ):
    redis, kv = differ.main
    for client in differ.main:
        client.call("CLIENT", "SETNAME", "lister")
        client.call("SELECT", "2")
    expected = fields(redis.call("CLIENT", "INFO").split(b"\r\n")[1].decode().strip())
    my_id = int(kv.call("CLIENT", "ID")[1:-2])
    raw = kv.call("CLIENT", "INFO")
    assert raw.startswith(b"$")
    actual = fields(raw.split(b"\r\n")[1].decode().strip())
    assert list(actual) == list(expected)
    same_fields = ("name", "flags", "db", "sub", "psub", "ssub", "multi", "obl", "oll", "omem")
    same_fields += ("events", "cmd", "user", "redir", "resp")
    for name in same_fields:
        assert actual[name] == expected[name], name
    assert actual["id"] == str(my_id)
    assert actual["laddr"].endswith(f":{differ.ports[1]}")
    # CLIENT LIST shows every connection, one per line; ID and TYPE filter.
    listing = kv.call("CLIENT", "LIST").split(b"\r\n")[1].decode()
    lines = [fields(line) for line in listing.strip("\n").split("\n")]
    assert str(my_id) in {line["id"] for line in lines}
    mine = next(line for line in lines if line["id"] == str(my_id))
    assert mine["cmd"] == "client|list"
    assert mine["name"] == "lister"
    only = kv.call("CLIENT", "LIST", "ID", str(my_id), "999999").split(b"\r\n")[1].decode()
    assert [fields(line)["id"] for line in only.strip("\n").split("\n")] == [str(my_id)]
    sub = differ.connection()
    sub_id = sub[1].call("CLIENT", "ID")[1:-2].decode()
    both(sub, "PSUBSCRIBE", "x*")
    pubsub = kv.call("CLIENT", "LIST", "TYPE", "pubsub").split(b"\r\n")[1].decode()
    entries = {e["id"]: e for e in (fields(line) for line in pubsub.strip("\n").split("\n"))}
    assert (entries[sub_id]["flags"], entries[sub_id]["psub"]) == ("P", "1")
    assert entries[sub_id]["cmd"] == "psubscribe"
    assert all(e["flags"] == "P" for e in entries.values())
    # MULTI shows as flag x with the queue length.
    both(differ.main, "MULTI")
    both(differ.main, "ECHO", "a")
    both(differ.main, "EXEC")
    for client in differ.main:
        client.call("SELECT", "0")


def test_client_list_resp3_is_verbatim(kv_client):
    kv_client.call("HELLO", "3")
    reply = kv_client.call("CLIENT", "INFO")
    assert reply.startswith(b"=") and b"\r\ntxt:id=" in reply
    assert b" resp=3\n" in reply


def test_client_kill(differ):
    for _ in range(2):
        victims = differ.connection()
        ids = [int(client.call("CLIENT", "ID")[1:-2]) for client in victims]
        redis, kv = differ.main
        assert redis.call("CLIENT", "KILL", "ID", ids[0]) == b":1\r\n"
        assert kv.call("CLIENT", "KILL", "ID", ids[1]) == b":1\r\n"
        for victim in victims:
            with pytest.raises(ConnectionError):
                victim.call("PING")
    # Old form, by address; and killing oneself with SKIPME no (the reply still arrives).
    victims = differ.connection()
    for admin, victim in zip(differ.main, victims, strict=True):
        address = fields(victim.call("CLIENT", "INFO").split(b"\r\n")[1].decode().strip())["addr"]
        assert admin.call("CLIENT", "KILL", address) == b"+OK\r\n"
    doomed = differ.connection()
    for client in doomed:
        my_id = client.call("CLIENT", "ID")[1:-2]
        assert client.call("CLIENT", "KILL", "ID", my_id, "SKIPME", "no") == b":1\r\n"
        with pytest.raises(ConnectionError):
            client.call("PING")


def test_client_kill_by_type(kv_port):
    subscriber, other = RawClient(kv_port), RawClient(kv_port)
    try:
        subscriber.call("SUBSCRIBE", "chan")
        assert other.call("CLIENT", "KILL", "TYPE", "pubsub") == b":1\r\n"
        with pytest.raises(ConnectionError):
            subscriber.read_reply()
        assert other.call("PING") == b"+PONG\r\n"
    finally:
        subscriber.close()
        other.close()


# -- INFO --------------------------------------------------------------------------------------


def info_structure(text):
    """[(section title, [field names])] of an INFO reply body."""
    sections = []
    for block in text.strip("\r\n").split("\r\n\r\n"):
        lines = block.split("\r\n")
        names = [line.split(":", 1)[0] for line in lines[1:] if line]
        sections.append((lines[0], names))
    return sections


def info_body(raw):
    return raw.split(b"\r\n", 1)[1][:-2].decode()


def test_info_sections_match_redis(differ):
    redis, kv = differ.main
    for args in ((), ("default",), ("server",), ("clients", "STATS"), ("all",), ("everything",)):
        expected = info_structure(info_body(redis.call("INFO", *args)))
        actual = info_structure(info_body(kv.call("INFO", *args)))
        # Per-command and per-error statistics are not kept (the titles must still match);
        # Keyspace lists whichever databases have keys.
        variable = ("# Commandstats", "# Errorstats", "# Latencystats", "# Keyspace")
        expected = [(t, [] if t in variable else n) for t, n in expected]
        actual = [(t, [] if t in variable else n) for t, n in actual]
        assert actual == expected, args
    differ.check("INFO", "nosuch")
    differ.check("INFO", "cluster")
    differ.check("INFO", "modules")
    text = info_body(kv.call("INFO"))
    values = dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)
    assert values["redis_version"] == "7.0.15"
    assert values["redis_mode"] == "standalone"
    assert values["role"] == "master"
    assert int(values["connected_clients"]) >= 1
    assert values["blocked_clients"].isdigit()  # other tests may leave clients blocked
    assert values["maxmemory_policy"] == "noeviction"
    assert values["aof_enabled"] == "0"
    assert abs(int(values["server_time_usec"]) / 1e6 - time.time()) < 60


async def test_info_counts_keys_clients_and_blocked():
    server = trapline.kv.Server()
    client = server.new_client("c")
    server.new_client("d").blocked = True
    server.dbs[0].set(b"a", b"1")
    server.dbs[3].set(b"b", b"2")
    server.dbs[3].set_expire(b"b", server.now_ms() + 100_000)
    server.execute(client, [b"SUBSCRIBE", b"x"])
    server.execute(client, [b"RESET"])
    reply = server.execute(client, [b"INFO", b"KEYSPACE", b"clients", b"stats"])
    assert type(reply) is Verbatim
    text = reply.text.decode()
    assert (
        "\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\ndb3:keys=1,expires=1,avg_ttl=" in text
    )
    assert "connected_clients:2\r\n" in text
    assert "blocked_clients:1\r\n" in text
    assert text.startswith("# Clients\r\n")
    assert text.endswith("\r\n")
    assert "total_commands_processed:3\r\n" in text


# -- CONFIG ------------------------------------------------------------------------------------


def config_map(raw):
    items = parse(raw)
    return dict(zip(items[::2], items[1::2], strict=True))


def test_config_get(differ):
    for name in ("maxmemory", "maxmemory-policy", "appendonly", "appendfsync", "databases"):
        differ.check("CONFIG", "GET", name)
    differ.check("CONFIG", "GET", "MAXMEMORY")
    differ.check("CONFIG", "GET", "slaveof")
    differ.check("CONFIG", "GET", "nosuch")
    redis, kv = differ.main
    names = ("hash-max-ziplist-entries", "maxmemory", "MaxMemory", "slave-priority")
    assert config_map(kv.call("CONFIG", "GET", *names)) == config_map(
        redis.call("CONFIG", "GET", *names)
    )
    differ.check("CONFIG", "GET", "use-exit-on-panic")  # hidden: exact name only
    differ.check("CONFIG", "GET", "use-exit-on-pan*")
    differ.check("CONFIG", "GET")
    for patterns in (("*",), ("*max*",), ("MAXMEM*", "maxmemory"), ("slave-*",), ("[ab]*",)):
        expected = config_map(redis.call("CONFIG", "GET", *patterns))
        actual = config_map(kv.call("CONFIG", "GET", *patterns))
        assert sorted(actual) == sorted(expected), patterns
        differing = {n for n in actual if actual[n] != expected[n]}
        # The servers were started differently (ports, directories, log level, daemonize).
        assert differing <= {b"port", b"dir", b"loglevel", b"logfile", b"pidfile"}, differing
    pair = differ.connection()
    for client in pair:
        client.call("HELLO", "3")
    both(pair, "CONFIG", "GET", "maxmemory")  # a map in RESP3


def test_config_set_errors(differ):
    for args in (
        ("maxmemory", "abc"),
        ("maxmemory", "-1"),
        ("maxmemory", " 5"),
        ("maxclients", "-1"),
        ("timeout", "+5"),
        ("timeout", "05"),
        ("timeout", "99999999999"),
        ("daemonize", "yes"),
        ("dir", "/tmp"),
        ("dbfilename", "x.rdb"),
        ("unixsocketperm", "700"),
        ("maxmemory", "1", "maxmemory", "2"),
        ("nosuch", "1", "maxmemory", "x"),
        ("maxmemory", "x", "nosuch", "1"),
        ("daemonize", "yes", "nosuch", "1"),
        ("maxmemory",),
        ("save", "1 2 3"),
        ("save", "0 1"),
        ("save", "x 1"),
        ("maxmemory-policy", "foo"),
        ("maxmemory-policy", "lru"),
        ("appendfsync", "sometimes"),
        ("activerehashing", "maybe"),
        ("maxmemory-clients", "200%"),
        ("maxmemory-clients", "abc"),
        ("notify-keyspace-events", "KEz!"),
        ("client-output-buffer-limit", "pubsub 1 2"),
        ("client-output-buffer-limit", "master 1 2 3"),
        ("client-output-buffer-limit", "pubsub x 2 3"),
        ("client-output-buffer-limit", "pubsub 1 2 -3"),
        ("oom-score-adj-values", "1 2"),
        ("oom-score-adj-values", "1 2 3000"),
        ("shutdown-on-sigint", "save nosave"),
        ("shutdown-on-sigint", "later"),
        ("latency-tracking-info-percentiles", "50 101"),
        ("latency-tracking-info-percentiles", "50 abc"),
        ("replicaof", "no one"),
        ("hz", "-1"),
        ("proto-max-bulk-len", "100"),
        ("list-max-listpack-size", "9999999999"),
    ):
        differ.check("CONFIG", "SET", *args)


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("maxmemory", ["1gb", "1kb", "1K", "kb", "18446744073709551616", "99999999999999999999kb"]),
        ("maxmemory-policy", ["ALLKEYS-LRU", "volatile-ttl"]),
        ("hz", ["1000", "0", "5"]),
        ("maxmemory-clients", ["20%", "0%", "1mb"]),
        ("notify-keyspace-events", ["KEA", "Kg$lshzxetdn", "Exg", "mK", ""]),
        ("save", ["3600 1 300 100", "", "+10 -0"]),
        ("client-output-buffer-limit", ["pubsub 64mb 16mb 120", "normal 1 2 3 replica 4 5 6"]),
        ("shutdown-on-sigint", ["now save", "default force", "default"]),
        ("oom-score-adj-values", ["-5 +10 0", "0 200 800"]),
        ("latency-tracking-info-percentiles", ["50 99.90 100", "", "0.5"]),
        ("list-max-ziplist-size", ["-5", "100"]),
        ("activerehashing", ["NO", "yes"]),
        ("maxmemory-samples", ["7"]),
    ],
)
def test_config_set_then_get(differ, name, values):
    redis, kv = differ.main
    original = config_map(redis.call("CONFIG", "GET", name))[name.encode()]
    try:
        for value in values:
            differ.check("CONFIG", "SET", name, value)
            differ.check("CONFIG", "GET", name)
    finally:
        for client in differ.main:
            client.call("CONFIG", "SET", name, original)


def test_config_set_alias_and_name_together(differ):
    try:
        differ.check(
            "CONFIG", "SET", "hash-max-ziplist-entries", "1", "hash-max-listpack-entries", "2"
        )
        differ.check("CONFIG", "GET", "hash-max-ziplist-entries")
    finally:
        differ.check("CONFIG", "SET", "hash-max-listpack-entries", "512")


def test_config_set_several_at_once_is_atomic(differ):
    differ.check("CONFIG", "SET", "maxmemory-samples", "9", "hz", "20")
    differ.check("CONFIG", "GET", "maxmemory-samples")
    differ.check("CONFIG", "SET", "maxmemory-samples", "3", "hz", "abc")
    differ.check("CONFIG", "GET", "maxmemory-samples")
    differ.check("CONFIG", "SET", "maxmemory-samples", "5", "hz", "10")


def test_config_other_subcommands(differ):
    differ.check("CONFIG", "RESETSTAT")
    differ.check("CONFIG", "REWRITE")
    differ.check("CONFIG", "HELP")
    differ.check("CONFIG", "RESETSTAT", "x")
    differ.check("CONFIG", "NOSUCH")
    differ.check("CONFIG")


async def test_config_set_takes_effect():
    server = trapline.kv.Server()
    client = server.new_client("c")
    server.execute(client, [b"CONFIG", b"SET", b"requirepass", b"pw"])
    assert server.new_client("later").authenticated is False
    server.execute(client, [b"CONFIG", b"SET", b"client-output-buffer-limit", b"pubsub 1mb 0 0"])
    assert server.config.values["client-output-buffer-limit"] == (
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 0 0"
    )
    server.stats["total_commands_processed"] = 99
    server.execute(client, [b"CONFIG", b"RESETSTAT"])
    assert server.stats["total_commands_processed"] == 0


# -- COMMAND -----------------------------------------------------------------------------------

MINE = [
    "subscribe",
    "unsubscribe",
    "psubscribe",
    "punsubscribe",
    "publish",
    "ssubscribe",
    "sunsubscribe",
    "spublish",
    "pubsub|channels",
    "pubsub|numsub",
    "pubsub|numpat",
    "pubsub|shardchannels",
    "pubsub|shardnumsub",
    "pubsub|help",
    "hello",
    "auth",
    "reset",
    "client|id",
    "client|info",
    "client|list",
    "client|kill",
    "client|setname",
    "client|getname",
    "client|no-evict",
    "client|getredir",
    "client|trackinginfo",
    "client|help",
    "info",
    "config|get",
    "config|set",
    "config|resetstat",
    "config|rewrite",
    "config|help",
    "command|count",
    "command|info",
    "command|docs",
    "command|list",
    "command|getkeys",
    "command|getkeysandflags",
    "command|help",
    "time",
    "lastsave",
    "shutdown",
    "save",
    "bgsave",
    "role",
]


def test_command_info_and_docs_match_redis(differ):
    for name in MINE:
        differ.check("COMMAND", "INFO", name)
        differ.check("COMMAND", "DOCS", name)
    differ.check("COMMAND", "INFO", "nosuch", "publish", "client|nosuch", "a|b|c")
    differ.check("COMMAND", "DOCS", "nosuch", "publish")
    pair = differ.connection()
    for client in pair:
        client.call("HELLO", "3")
    both(pair, "COMMAND", "INFO", "publish", "ssubscribe", "config|set")
    both(pair, "COMMAND", "DOCS", "hello", "client|kill", "nosuch")


def test_command_table_shape(kv_client):
    table = parse(kv_client.call("COMMAND"))
    assert len(table) == len(COMMANDS) == int(kv_client.call("COMMAND", "COUNT")[1:-2])
    by_name = {entry[0]: entry for entry in table}
    assert all(len(entry) == 10 for entry in table)
    hello = by_name[b"hello"]
    assert hello[1] == -1
    assert b"no_auth" in hello[2]
    client = by_name[b"client"]
    assert {sub[0] for sub in client[9]} >= {b"client|list", b"client|kill"}
    docs = parse(kv_client.call("COMMAND", "DOCS"))
    names = docs[::2]
    assert len(names) == len(COMMANDS)
    for entry in docs[1::2]:
        keys = entry[::2]
        assert b"summary" in keys and b"group" in keys  # redis-cli relies on both


def test_command_list_and_getkeys(differ):
    redis, kv = differ.main
    for filters in (("FILTERBY", "PATTERN", "pubsub*"), ("FILTERBY", "PATTERN", "CLIENT|[gs]*")):
        ours = set(parse(kv.call("COMMAND", "LIST", *filters)))
        assert ours <= set(parse(redis.call("COMMAND", "LIST", *filters)))
        assert ours
    assert b"publish" in set(parse(kv.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "pubsub")))
    for args in (
        ("LIST", "FILTERBY", "MODULE", "x"),
        ("LIST", "FILTERBY", "ACLCAT", "nosuch"),
        ("LIST", "FILTERBY", "SOMETHING", "x"),
        ("LIST", "FILTERBY"),
        ("LIST", "x"),
        ("GETKEYS", "ssubscribe", "a", "b"),
        ("GETKEYS", "spublish", "chan", "msg"),
        ("GETKEYSANDFLAGS", "spublish", "chan", "msg"),
        ("GETKEYS", "publish", "chan", "msg"),
        ("GETKEYS", "nosuch", "a"),
        ("GETKEYS", "spublish", "chan"),
        ("GETKEYS", "sunsubscribe"),
        ("GETKEYS", "config", "get", "x"),
        ("HELP",),
        ("COUNT", "x"),
        ("NOSUCH",),
    ):
        differ.check("COMMAND", *args)


# -- TIME, LASTSAVE, SAVE, BGSAVE, ROLE, DBSIZE ------------------------------------------------


def test_time_and_lastsave(kv_client):
    seconds, micros = parse(kv_client.call("TIME"))
    assert abs(int(seconds) - time.time()) < 60
    assert 0 <= int(micros) < 1_000_000
    lastsave = int(kv_client.call("LASTSAVE")[1:-2])
    assert abs(lastsave - time.time()) < 3600


async def test_time_follows_the_server_clock(virtual_clock, tmp_path):
    server = trapline.kv.Server(trapline.kv.ServerConfig(dir=str(tmp_path)))
    client = server.new_client("c")
    seconds, micros = server.execute(client, [b"TIME"])
    before = int(seconds) * 1_000_000 + int(micros)
    await trapline.sleep(1.25)
    seconds, micros = server.execute(client, [b"TIME"])
    assert int(seconds) * 1_000_000 + int(micros) - before == 1_250_000
    await trapline.sleep(10)
    assert server.execute(client, [b"SAVE"]) == "OK"
    assert server.execute(client, [b"LASTSAVE"]) == (before + 11_250_000) // 1_000_000


def test_save_bgsave_role_dbsize(differ):
    differ.check("ROLE")
    differ.check("ROLE", "x")
    differ.check("SAVE")
    differ.check("SAVE", "x")
    differ.check("BGSAVE", "x")
    differ.check("BGSAVE", "SCHEDULE", "x")
    differ.check("LASTSAVE", "x")
    differ.check("TIME", "x")
    differ.check("MULTI")
    differ.check("SAVE")
    differ.check("DISCARD")
    if b"dbsize" in COMMANDS:
        differ.check("SELECT", "13")  # a database no test writes to
        differ.check("DBSIZE")
        differ.check("DBSIZE", "x")
        differ.check("SELECT", "0")


def test_bgsave(differ):
    redis, kv = differ.main
    deadline = time.monotonic() + 20
    while b"rdb_bgsave_in_progress:0" not in redis.call("INFO", "persistence"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    differ.check("BGSAVE")
    while b"rdb_bgsave_in_progress:0" not in redis.call("INFO", "persistence"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    differ.check("MULTI")
    differ.check("BGSAVE")
    differ.check("EXEC")


# -- SHUTDOWN ----------------------------------------------------------------------------------


def test_shutdown_stops_the_server():
    server = KVThread().start()
    hooked = threading.Event()
    server.server.shutdown_hooks.append(hooked.set)
    client = RawClient(server.port)
    bystander = RawClient(server.port)
    assert client.call("SHUTDOWN", "ABORT") == b"-ERR No shutdown in progress.\r\n"
    assert client.call("SHUTDOWN", "SAVE", "NOSAVE") == b"-ERR syntax error\r\n"
    assert client.call("MULTI") == b"+OK\r\n"
    assert client.call("SHUTDOWN") == b"-ERR Command not allowed inside a transaction\r\n"
    assert client.call("DISCARD") == b"+OK\r\n"
    client.send(encode_command("SHUTDOWN", "NOSAVE", "NOW") + encode_command("PING"))
    with pytest.raises(ConnectionError):
        client.read_reply()  # no reply: the connection just closes
    with pytest.raises(ConnectionError):
        bystander.read_reply()
    server._thread.join(10)
    assert not server._thread.is_alive()
    assert server.error is None
    assert hooked.is_set()
    client.close()
    bystander.close()


def test_shutdown_ends_the_serve_process(tmp_path):
    cli = shutil.which("redis-cli")
    if cli is None:
        pytest.skip("redis-cli is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "trapline", "kv", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--dir", str(tmp_path)], stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 15
        while subprocess.run([cli, "-p", str(port), "PING"], capture_output=True).returncode:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        done = subprocess.run([cli, "-p", str(port), "SHUTDOWN"], capture_output=True, timeout=10)
        assert (done.returncode, done.stdout) == (0, b"")
        assert process.wait(15) == 0
        assert "trapline.kv stopped" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        process.stderr.close()


def test_info_persistence_with_the_append_only_file(tmp_path):
    config = trapline.kv.ServerConfig(appendonly="yes", dir=str(tmp_path))
    server = KVThread(config).start()
    try:
        client = RawClient(server.port)
        text = info_body(client.call("INFO", "persistence"))
        values = dict(line.split(":", 1) for line in text.split("\r\n")[1:] if line)
        assert values["aof_enabled"] == "1"
        assert values["aof_last_write_status"] == "ok"
        assert "aof_current_size" in values and "aof_buffer_length" in values
        client.close()
    finally:
        server.stop()


# -- real clients --------------------------------------------------------------------------------


def test_redis_cli(kv_port):
    cli = shutil.which("redis-cli")
    if cli is None:
        pytest.skip("redis-cli is not installed")

    def run(*args):
        done = subprocess.run(
            [cli, "-p", str(kv_port), *args], capture_output=True, text=True, timeout=20
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert run("PING") == "PONG\n"
    info = run("INFO", "server")
    assert "redis_version:7.0.15" in info
    assert "\nproto 3\n" in run("-3", "HELLO")
    assert "PONG" in run("--no-raw", "PING")
    assert run("CONFIG", "GET", "maxmemory") == "maxmemory\n0\n"
    if b"set" not in COMMANDS or b"get" not in COMMANDS:
        pytest.skip("SET/GET are not registered yet")
    assert run("SET", "cli-key", "cli value") == "OK\n"
    assert run("GET", "cli-key") == "cli value\n"
    run("DEL", "cli-key")


def test_redis_py(kv_port):
    redis = pytest.importorskip("redis")
    client = redis.Redis(port=kv_port, protocol=3, socket_timeout=10)
    try:
        assert client.ping() is True
        assert client.execute_command("HELLO")[b"proto"] == 3
        info = client.info()
        assert info["redis_version"] == "7.0.15"
        assert list(client.config_get("maxmemory").values()) in ([b"0"], ["0"])
        assert client.client_setname("py") is True
        assert client.client_getname() == b"py"
        pubsub = client.pubsub()
        pubsub.subscribe("py-chan")
        message = pubsub.get_message(timeout=5)
        assert message["type"] == "subscribe"
        assert client.publish("py-chan", "hello") == 1
        message = pubsub.get_message(timeout=5)
        assert (message["type"], message["data"]) == ("message", b"hello")
        pubsub.psubscribe("py-*")
        pubsub.get_message(timeout=5)
        client.publish("py-chan", "both")
        received = [pubsub.get_message(timeout=5) for _ in range(2)]
        assert [m["type"] for m in received] == ["message", "pmessage"]
        pubsub.close()
        if b"set" in COMMANDS and b"get" in COMMANDS:
            assert client.set("py-key", "value") is True
            assert client.get("py-key") == b"value"
    finally:
        client.close()
    resp2 = redis.Redis(port=kv_port, protocol=2, socket_timeout=10, decode_responses=True)
    try:
        assert resp2.ping() is True
        assert resp2.time()[0] > 0
        pubsub = resp2.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe("py2")
        assert resp2.pubsub_numsub("py2") == [("py2", 1)]
        resp2.publish("py2", "x")
        deadline = time.monotonic() + 5
        message = None
        while message is None and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=1)
        assert message["data"] == "x"
        pubsub.close()
    finally:
        resp2.close()
