"""List commands against real Redis, byte for byte; blocking pops and moves on the virtual clock."""

import time

import pytest
from conftest import RawClient, encode_command, own_server_fixtures

import trapline
import trapline.kv
from trapline.kv._cmd_lists import parse_timeout
from trapline.kv._commands import Blocked
from trapline.kv._db import CommandError
from trapline.kv._resp import NullArray, encode

# -- fixtures and helpers ----------------------------------------------------------------------


kv_server, kv_port, _empty_keyspace = own_server_fixtures()


def run(differ, text, on=None):
    """Check each ``;``-separated command of ``text`` (arguments split on whitespace)."""
    for command in text.split(";"):
        if command.split():
            differ.check(*command.split(), on=on)


def resp3(differ, pair=None):
    for client in pair or differ.main:
        assert client.call("HELLO", "3").startswith(b"%")


# -- pushing, reading --------------------------------------------------------------------------


def test_push_and_length(differ):
    run(
        differ,
        "LPUSH l a; LPUSH l b c d; RPUSH l x y; LRANGE l 0 -1; LLEN l; LLEN nokey;"
        "LPUSHX nokey a; RPUSHX nokey a b; LLEN nokey; LPUSHX l 1 2; RPUSHX l 3 4; LRANGE l 0 -1;"
        "RPUSH r 1 2 3; LRANGE r 0 -1; LPUSH l; RPUSHX l; LLEN",
    )
    differ.check("RPUSH", "bin", "", "a\x00b", "\r\n")
    differ.check("LRANGE", "bin", "0", "-1")


def test_lindex(differ):
    differ.check("RPUSH", "l", *"abcde")
    for index in [
        "0",
        "4",
        "5",
        "-1",
        "-5",
        "-6",
        "100",
        "-100",
        "x",
        "1.5",
        "9223372036854775808",
    ]:
        differ.check("LINDEX", "l", index)
    run(differ, "LINDEX nokey 0; LINDEX nokey x; LINDEX l")


def test_lrange(differ):
    differ.check("RPUSH", "l", *[str(i) for i in range(10)])
    ranges = [
        ("0", "-1"), ("0", "0"), ("2", "5"), ("-3", "-1"), ("-100", "2"), ("5", "100"),
        ("7", "3"), ("10", "20"), ("-1", "-3"), ("-100", "-50"), ("0", "-11"), ("8", "-1"),
        ("-9223372036854775808", "9223372036854775807"), ("x", "1"), ("1", "y"), ("1.0", "2"),
    ]  # fmt: skip
    for start, end in ranges:
        differ.check("LRANGE", "l", start, end)
    run(differ, "LRANGE nokey 0 -1; LRANGE nokey x 1; LRANGE l 0")
    differ.check("RPUSH", "big", *[str(i) for i in range(1000)])
    for start, end in [("0", "99"), ("900", "-1"), ("-150", "-100"), ("400", "600")]:
        differ.check("LRANGE", "big", start, end)


def test_lpop_rpop(differ):
    differ.check("RPUSH", "l", *"abcdefgh")
    run(
        differ,
        "LPOP l; RPOP l; LPOP l 0; RPOP l 0; LPOP l 2; RPOP l 1; LPOP l -1; RPOP l x;"
        "LPOP l 1 2; LPOP l 100; LLEN l; LPOP l; LPOP l 2; RPOP l; RPOP l 0; LPOP nokey x;"
        "RPUSH l z; RPOP l 9223372036854775807; RPOP l 9223372036854775808; LPOP",
    )


def test_pop_null_shapes_resp3(differ):
    resp3(differ)
    run(
        differ,
        "LPOP nokey; LPOP nokey 1; RPOP nokey 0; LINDEX nokey 0; LMPOP 1 nokey LEFT;"
        "BLPOP nokey 0.01; BLMOVE nokey d LEFT LEFT 0.01; LPOS nokey a; LPOS nokey a COUNT 0;"
        "RPUSH l a b c; LPOP l 0; LPOP l 2; RPOP l; LMPOP 1 l LEFT; LMOVE nokey l LEFT LEFT",
    )


def test_lset(differ):
    differ.check("RPUSH", "l", *"abc")
    run(
        differ,
        "LSET l 0 x; LSET l -1 z; LSET l 1 y; LRANGE l 0 -1; LSET l 3 q; LSET l -4 q;"
        "LSET l x q; LSET nokey 0 a; LSET nokey x a; LSET l 0",
    )


def test_linsert(differ):
    differ.check("RPUSH", "l", "a", "b", "c", "b")
    run(
        differ,
        "LINSERT l BEFORE b x; LINSERT l after b y; LINSERT l AfTeR c z; LRANGE l 0 -1;"
        "LINSERT l BEFORE nope q; LINSERT l middle b q; LINSERT nokey BEFORE a b;"
        "LINSERT nokey middle a b; LINSERT l BEFORE a; LLEN l",
    )


def test_lrem(differ):
    items = ["a", "b", "a", "c", "a", "b", "a"]
    for count in ["0", "1", "2", "-1", "-2", "100", "-100", "-9223372036854775808"]:
        differ.check("RPUSH", "l", *items)
        differ.check("LREM", "l", count, "a")
        differ.check("LRANGE", "l", "0", "-1")
        differ.check("LTRIM", "l", "1", "0")
    run(differ, "RPUSH l a a; LREM l 0 a; LLEN l; LPUSHX l x; LREM nokey 0 a; LREM l x a; LREM l 0")
    run(differ, "RPUSH l a; LREM l 0 b; LRANGE l 0 -1")


def test_ltrim(differ):
    for start, end in [
        ("0", "-1"), ("1", "-2"), ("2", "2"), ("-3", "-1"), ("5", "2"), ("-100", "1"),
        ("3", "100"), ("10", "20"), ("0", "-100"), ("-1", "-1"), ("x", "1"), ("0", "y"),
    ]:  # fmt: skip
        differ.check("RPUSH", "l", *"abcdefg")
        differ.check("LTRIM", "l", start, end)
        differ.check("LRANGE", "l", "0", "-1")
        differ.check("LPUSHX", "l", "probe")  # 0 if the key was removed
        differ.check("LTRIM", "l", "1", "0")
    run(differ, "LTRIM nokey 0 -1; LTRIM nokey x 1; LTRIM l 0")


def test_lpos(differ):
    differ.check("RPUSH", "l", *"abcd1231c")
    run(
        differ,
        "LPOS l a; LPOS l c; LPOS l x; LPOS l c RANK 2; LPOS l c RANK -1; LPOS l c RANK -2;"
        "LPOS l c RANK 3; LPOS l c RANK 0; LPOS l c COUNT 0; LPOS l c COUNT 1; LPOS l c COUNT 2;"
        "LPOS l c COUNT 0 RANK 2; LPOS l c COUNT 2 RANK -1; LPOS l c MAXLEN 3; LPOS l c MAXLEN 2;"
        "LPOS l c MAXLEN 1 RANK -1; LPOS l c COUNT 0 MAXLEN 7; LPOS l 1 RANK -1 COUNT 0 MAXLEN 4;"
        "LPOS l c RANK -9223372036854775808; LPOS l c RANK -9223372036854775808 COUNT 2;"
        "LPOS l c RANK 9223372036854775807; LPOS l c RANK -9223372036854775807 COUNT 0;"
        "LPOS l c RANK 9223372036854775807 COUNT 0",
    )
    run(
        differ,
        "LPOS l c COUNT -1; LPOS l c MAXLEN -1; LPOS l c COUNT x; LPOS l c MAXLEN x;"
        "LPOS l c RANK x; LPOS l c RANK; LPOS l c COUNT; LPOS l c FOO 1; LPOS nokey a;"
        "LPOS nokey a COUNT 1; LPOS nokey a RANK 0; LPOS nokey a COUNT -1; LPOS l; LPOS l c rank 1",
    )


def test_lmove_and_rpoplpush(differ):
    for source_side in ("LEFT", "RIGHT"):
        for target_side in ("LEFT", "right"):
            differ.check("RPUSH", "src", "a", "b", "c")
            differ.check("RPUSH", "dst", "x")
            differ.check("LMOVE", "src", "dst", source_side, target_side)
            differ.check("LRANGE", "src", "0", "-1")
            differ.check("LRANGE", "dst", "0", "-1")
            differ.check("LMOVE", "src", "src", source_side, target_side)
            differ.check("LRANGE", "src", "0", "-1")
            differ.check("LTRIM", "src", "1", "0")
            differ.check("LTRIM", "dst", "1", "0")
    run(
        differ,
        "RPUSH s 1 2; RPOPLPUSH s d; RPOPLPUSH s d; RPOPLPUSH s d; LRANGE d 0 -1; LLEN s;"
        "RPOPLPUSH d d; LRANGE d 0 -1; LMOVE nokey d LEFT LEFT; LMOVE d new UP LEFT;"
        "LMOVE nokey d LEFT DOWN; LMOVE d new LEFT RIGHT; LRANGE new 0 -1; RPOPLPUSH one;"
        "RPUSH single z; LMOVE single single LEFT RIGHT; LRANGE single 0 -1",
    )


def test_lmpop(differ):
    differ.check("RPUSH", "a", *"12345")
    differ.check("RPUSH", "b", *"xyz")
    run(
        differ,
        "LMPOP 1 a LEFT; LMPOP 1 a RIGHT COUNT 2; LMPOP 2 nokey b LEFT COUNT 10; LMPOP 2 b a right;"
        "LMPOP 3 x y a LEFT COUNT 1; LMPOP 2 nokey other LEFT; LLEN a; LLEN b",
    )
    run(
        differ,
        "LMPOP 0 a LEFT; LMPOP -1 a LEFT; LMPOP x a LEFT; LMPOP 1.5 a LEFT; LMPOP 2 a LEFT;"
        "LMPOP 1 a UP; LMPOP 1 a LEFT COUNT 0; LMPOP 1 a LEFT COUNT -1; LMPOP 1 a LEFT COUNT x;"
        "LMPOP 1 a LEFT COUNT 1 COUNT 2; LMPOP 1 a LEFT COUNT; LMPOP 1 a LEFT FOO; LMPOP 1 a;"
        "LMPOP 5 a b LEFT; LMPOP 2 a b c LEFT",
    )


# -- types, arity, WATCH ------------------------------------------------------------------------


def test_wrong_type(differ):
    differ.check("SADD", "s", "x")
    differ.check("RPUSH", "l", "a")
    for command in [
        "LPUSH s a", "RPUSH s a", "LPUSHX s a", "RPUSHX s a", "LPOP s", "RPOP s 2", "LPOP s 0",
        "LPOP s -1", "LLEN s", "LINDEX s 0", "LINDEX s x", "LRANGE s 0 -1", "LRANGE s x 1",
        "LSET s 0 a", "LSET s x a", "LINSERT s BEFORE a b", "LINSERT s x a b", "LREM s 0 a",
        "LREM s x a", "LTRIM s 0 1", "LPOS s a", "LPOS s a COUNT 0", "LPOS s a RANK 0",
        "LMOVE s l LEFT LEFT", "LMOVE l s LEFT LEFT", "LMOVE nokey s LEFT LEFT",
        "LMOVE s l UP LEFT", "RPOPLPUSH s l", "RPOPLPUSH l s", "LMPOP 2 s l LEFT",
        "LMPOP 2 nokey s LEFT", "BLPOP s 0", "BLPOP nokey s 0", "BLPOP s x", "BRPOP s 0",
        "BLMPOP 0 1 s LEFT", "BLMOVE s l LEFT LEFT 0", "BLMOVE l s LEFT LEFT 0",
        "BRPOPLPUSH s l 0", "BRPOPLPUSH l s 0", "LRANGE l 0 -1",
        # The first non-empty list among the keys wins, before the wrong type is seen.
        "LMPOP 2 l s LEFT", "RPUSH l a", "BLPOP l s 0", "RPUSH l a", "BLMPOP 0 2 l s LEFT",
    ]:  # fmt: skip
        differ.check(*command.split())


def test_wrong_arity(differ):
    for command in [
        "LPUSH l", "RPUSH", "LPUSHX l", "RPUSHX", "LPOP", "RPOP l 1 2", "LLEN", "LINDEX l",
        "LRANGE l 0", "LSET l 0", "LINSERT l BEFORE a", "LREM l 0", "LTRIM l 0", "LPOS l",
        "LMOVE a b LEFT", "RPOPLPUSH a", "LMPOP 1 a", "BLPOP l", "BRPOP", "BLMOVE a b LEFT LEFT",
        "BRPOPLPUSH a b", "BLMPOP 0 1 a",
    ]:  # fmt: skip
        differ.check(*command.split())


def test_watch_sees_only_real_changes(differ):
    differ.check("RPUSH", "l", "a", "b")
    for noop in [
        "LREM l 0 x",
        "LINSERT l BEFORE x y",
        "LSET l 5 x",
        "LPUSHX nokey a",
        "LRANGE l 0 -1",
    ]:
        run(differ, f"WATCH l nokey; {noop}; MULTI; LLEN l; EXEC")
    for write in ["LTRIM l 0 -1", "LSET l 0 a", "LREM l 1 b", "RPUSH l b", "LINSERT l AFTER a c"]:
        run(differ, f"WATCH l; {write}; MULTI; LLEN l; EXEC")


# -- blocking commands that do not block ---------------------------------------------------------


def test_blocking_with_data_available(differ):
    differ.check("RPUSH", "a", *"12345")
    differ.check("RPUSH", "b", *"xyz")
    run(
        differ,
        "BLPOP nokey a b 0; BRPOP b a 1.5; BLPOP a a a 0; BLMPOP 0 2 nokey b LEFT COUNT 5;"
        "BLMPOP 0.5 1 a RIGHT; BLMOVE a b RIGHT LEFT 0; BRPOPLPUSH a b 0; LRANGE a 0 -1;"
        "LRANGE b 0 -1; BLMOVE b b LEFT RIGHT 0; LRANGE b 0 -1; BLMPOP 0 1 b LEFT COUNT 100;"
        "BLPOP nokey b 0.01",
    )


def test_blocking_timeout_arguments(differ):
    differ.check("RPUSH", "l", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m")
    for timeout in [
        "-1", "abc", "", "inf", "-inf", "+inf", "1e20", "9.3e15", " 1", "1 ", "nan", "0x",
        "-0.0001x", "1e-5000", "1e5000", "0x10", "-0.0001", "0.001", ".5", "1_0", "9.2e15",
    ]:  # fmt: skip
        differ.check("BLPOP", "l", timeout)
        differ.check("BLMPOP", timeout, "1", "l", "LEFT")
        differ.check("BLMOVE", "l", "l", "LEFT", "RIGHT", timeout)
        differ.check("BRPOPLPUSH", "l", "l", timeout)
    # Parsing order: the direction and numkeys come before the timeout.
    run(differ, "BLMPOP x 0 l LEFT; BLMPOP x 1 l UP; BLMOVE l l UP LEFT x; BLMOVE l l LEFT UP x")


def test_blocking_commands_inside_multi(differ):
    run(
        differ,
        "RPUSH x foo bar; MULTI; BRPOPLPUSH x t 0; BRPOPLPUSH x t 0; BRPOPLPUSH x t 0;"
        "BLPOP nokey 0; BRPOP nokey 10; BLMPOP 0 1 nokey LEFT; BLMOVE nokey t LEFT LEFT 0;"
        "LRANGE x 0 -1; LRANGE t 0 -1; EXEC",
    )
    resp3(differ)
    run(differ, "MULTI; BLPOP nokey 0; BLMOVE nokey t LEFT LEFT 0; EXEC")


# -- blocking over TCP, against Redis -----------------------------------------------------------


def _send_both(pair, *command):
    for client in pair:
        client.send(encode_command(*command))


def test_blocked_clients_woken_over_tcp(differ):
    waiter = differ.connection()
    for command, push in [
        (("BLPOP", "l1", "l2", "0"), ("RPUSH", "l2", "a", "b")),
        (("BRPOP", "l1", "l2", "0"), ("RPUSH", "l1", "c")),
        (("BLMPOP", "0", "2", "l1", "l2", "RIGHT", "COUNT", "5"), ("RPUSH", "l1", "d", "e")),
        (("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"), ("RPUSH", "src", "f", "g")),
        (("BRPOPLPUSH", "empty", "dst", "0"), ("LPUSH", "empty", "h")),
    ]:
        _send_both(waiter, *command)
        time.sleep(0.05)
        differ.check(*push)
        assert waiter[0].read_reply() == waiter[1].read_reply()
    for key in ("l1", "l2", "src", "dst", "empty"):
        differ.check("LRANGE", key, "0", "-1")


def test_blocked_clients_time_out_over_tcp(differ):
    waiter = differ.connection()
    for command in [
        ("BLPOP", "nokey", "0.05"),
        ("BRPOP", "nokey", "other", "0.05"),
        ("BLMPOP", "0.05", "1", "nokey", "LEFT"),
        ("BLMOVE", "nokey", "dst", "LEFT", "LEFT", "0.05"),  # a null array, not a null bulk
        ("BRPOPLPUSH", "nokey", "dst", "0.05"),
    ]:
        _send_both(waiter, *command)
        assert waiter[0].read_reply() == waiter[1].read_reply() == b"*-1\r\n"
    resp3(differ, waiter)
    _send_both(waiter, "BLMOVE", "nokey", "dst", "LEFT", "LEFT", "0.05")
    assert waiter[0].read_reply() == waiter[1].read_reply() == b"_\r\n"


def test_brpoplpush_served_into_wrong_type_target(differ):
    waiter = differ.connection()
    differ.check("SADD", "target", "x")
    _send_both(waiter, "BRPOPLPUSH", "blist", "target", "0")
    time.sleep(0.05)
    differ.check("RPUSH", "blist", "foo")
    assert waiter[0].read_reply() == waiter[1].read_reply()
    differ.check("LRANGE", "blist", "0", "-1")


# -- blocking on the virtual clock -------------------------------------------------------------


def _argv(*args):
    return [arg if isinstance(arg, bytes) else str(arg).encode() for arg in args]


def _encoded(reply, resp3=False):
    out = bytearray()
    encode(reply, out, resp3)
    return bytes(out)


class Waiters:
    """Clients of one in-process server that block in a task group and record their replies."""

    def __init__(self, server, tg):
        self.server = server
        self.tg = tg
        self.replies = {}
        self.order = []

    def block(self, name, *command):
        client = self.server.new_client(name)
        blocked = self.server.execute(client, _argv(*command))
        assert type(blocked) is Blocked, blocked
        start = trapline.current_time()

        async def wait():
            reply = await self.server.block(client, blocked)
            self.replies[name] = (_encoded(reply, client.resp3), trapline.current_time() - start)
            self.order.append(name)

        self.tg.spawn(wait)
        return client


async def test_blpop_woken_by_another_client(virtual_clock):
    server = trapline.kv.Server()
    writer = server.new_client("writer")
    async with trapline.TaskGroup() as tg:
        waiters = Waiters(server, tg)
        waiters.block("w", "BLPOP", "k", "10")
        await trapline.sleep(3)
        assert waiters.replies == {}
        assert server.execute(writer, _argv("LPUSH", "k", "x", "y")) == 2
    assert waiters.replies["w"] == (b"*2\r\n$1\r\nk\r\n$1\r\ny\r\n", pytest.approx(3))
    assert list(server.dbs[0].get(b"k")) == [b"x"]
    assert server.blocked_on == {}


async def test_waiters_are_served_first_come_first_served(virtual_clock):
    server = trapline.kv.Server()
    writer = server.new_client("writer")
    async with trapline.TaskGroup() as tg:
        waiters = Waiters(server, tg)
        for name, command in [("one", "BLPOP"), ("two", "BRPOP"), ("three", "BLPOP")]:
            waiters.block(name, command, "k", "0")
            await trapline.sleep(0.1)
        server.execute(writer, _argv("RPUSH", "k", "a", "b", "c", "d"))
    assert waiters.order == ["one", "two", "three"]
    assert waiters.replies["one"][0].endswith(b"$1\r\na\r\n")
    assert waiters.replies["two"][0].endswith(b"$1\r\nd\r\n")
    assert waiters.replies["three"][0].endswith(b"$1\r\nb\r\n")
    assert list(server.dbs[0].get(b"k")) == [b"c"]
    assert server.blocked_on == {}


async def test_waiter_that_lost_the_race_keeps_waiting_in_order(virtual_clock):
    server = trapline.kv.Server()
    writer = server.new_client("writer")
    async with trapline.TaskGroup() as tg:
        waiters = Waiters(server, tg)
        for name in ("one", "two", "three"):
            waiters.block(name, "BLPOP", "k", "0")
            await trapline.sleep(0.1)
        server.execute(writer, _argv("RPUSH", "k", "a"))
        await trapline.sleep(1)
        assert waiters.order == ["one"]
        # The two still waiting keep their places ahead of a newcomer.
        waiters.block("four", "BRPOP", "k", "0")
        await trapline.sleep(0.1)
        server.execute(writer, _argv("RPUSH", "k", "b", "c", "d"))
        await trapline.sleep(1)
        tg.cancel_scope.cancel()
    assert waiters.order == ["one", "two", "three", "four"]
    assert waiters.replies["two"][0].endswith(b"$1\r\nb\r\n")
    assert waiters.replies["three"][0].endswith(b"$1\r\nc\r\n")
    assert waiters.replies["four"][0].endswith(b"$1\r\nd\r\n")
    assert server.dbs[0].get(b"k") is None


async def test_blmpop_waiter_left_over_by_a_transaction_is_served_later(virtual_clock):
    """Redis's "BLMPOP with multiple blocked clients": the last waiter gets the next push."""
    server = trapline.kv.Server()
    writer = server.new_client("writer")
    async with trapline.TaskGroup() as tg:
        waiters = Waiters(server, tg)
        for name, side, count in [("rd1", "left", 1), ("rd2", "right", 10), ("rd3", "left", 10)]:
            waiters.block(name, "BLMPOP", "0", "2", "b1", "b2", side, "COUNT", count)
        waiters.block("rd4", "BLMPOP", "0", "2", "b1", "b2", "right", "COUNT", "1")
        await trapline.sleep(0.1)
        server.execute(writer, _argv("MULTI"))
        server.execute(writer, _argv("LPUSH", "b1", *"abcde"))
        server.execute(writer, _argv("LPUSH", "b2", *"12345"))
        server.execute(writer, _argv("EXEC"))
        await trapline.sleep(1)
        server.execute(writer, _argv("LPUSH", "b2", "1", "2", "3"))
        await trapline.sleep(1)
        tg.cancel_scope.cancel()
    assert waiters.order == ["rd1", "rd2", "rd3", "rd4"]
    assert waiters.replies["rd4"][0] == b"*2\r\n$2\r\nb2\r\n*1\r\n$1\r\n1\r\n"


async def test_timeouts_at_exact_virtual_times(virtual_clock):
    server = trapline.kv.Server()
    async with trapline.TaskGroup() as tg:
        waiters = Waiters(server, tg)
        waiters.block("blpop", "BLPOP", "a", "b", "1.5")
        waiters.block("brpop", "BRPOP", "a", "0.001")
        waiters.block("blmpop", "BLMPOP", "2.25", "1", "a", "LEFT", "COUNT", "3")
        waiters.block("blmove", "BLMOVE", "a", "b", "LEFT", "RIGHT", "0.0001")  # ceil: 1 ms
        waiters.block("brpoplpush", "BRPOPLPUSH", "a", "b", "7")
        forever = waiters.block("forever", "BLPOP", "a", "0")
        await trapline.sleep(1000)
        assert "forever" not in waiters.replies
        server.execute(server.new_client("writer"), _argv("RPUSH", "a", "late"))
    for name, seconds in [
        ("blpop", 1.5),
        ("brpop", 0.001),
        ("blmpop", 2.25),
        ("blmove", 0.001),
        ("brpoplpush", 7),
    ]:
        assert waiters.replies[name] == (b"*-1\r\n", pytest.approx(seconds, abs=1e-6))
    assert waiters.replies["forever"][0] == b"*2\r\n$1\r\na\r\n$4\r\nlate\r\n"
    assert not forever.blocked


async def test_resp3_timeout_and_reply_shapes(virtual_clock):
    server = trapline.kv.Server()
    writer = server.new_client("writer")
    async with trapline.TaskGroup() as tg:
        waiters = Waiters(server, tg)
        waiters.block("timeout", "BLPOP", "a", "1").resp3 = True
        waiters.block("mpop", "BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "2").resp3 = True
        await trapline.sleep(2)
        server.execute(writer, _argv("RPUSH", "b", "1", "2", "3"))
    assert waiters.replies["timeout"][0] == b"_\r\n"
    assert waiters.replies["mpop"][0] == b"*2\r\n$1\r\nb\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n"


async def test_multiple_keys_and_repeated_keys(virtual_clock):
    server = trapline.kv.Server()
    writer = server.new_client("writer")
    async with trapline.TaskGroup() as tg:
        waiters = Waiters(server, tg)
        waiters.block("repeat", "BLPOP", "l1", "l2", "l2", "l1", "0")
        waiters.block("other", "BRPOP", "l3", "l2", "0")
        await trapline.sleep(1)
        assert set(server.blocked_on) == {(0, b"l1"), (0, b"l2"), (0, b"l3")}
        server.execute(writer, _argv("RPUSH", "l2", "a", "b"))
    assert waiters.replies["repeat"][0] == b"*2\r\n$2\r\nl2\r\n$1\r\na\r\n"
    assert waiters.replies["other"][0] == b"*2\r\n$2\r\nl2\r\n$1\r\nb\r\n"
    assert server.blocked_on == {}


async def test_emptied_or_retyped_key_does_not_wake(virtual_clock):
    server = trapline.kv.Server()
    writer = server.new_client("writer")
    async with trapline.TaskGroup() as tg:
        waiters = Waiters(server, tg)
        waiters.block("w", "BLPOP", "list", "0")
        await trapline.sleep(1)
        for command in (("MULTI",), ("LPUSH", "list", "a"), ("LPOP", "list"), ("EXEC",)):
            server.execute(writer, _argv(*command))
        server.execute(writer, _argv("SADD", "list", "foo"))
        await trapline.sleep(1)
        assert waiters.replies == {}
        server.execute(writer, _argv("SREM", "list", "foo"))
        server.execute(writer, _argv("LPUSH", "list", "b"))
    assert waiters.replies["w"][0] == b"*2\r\n$4\r\nlist\r\n$1\r\nb\r\n"


async def test_transaction_is_seen_whole(virtual_clock):
    """MULTI/EXEC is isolated from the point of view of BLPOP; BLMPOP waiters share it out."""
    server = trapline.kv.Server()
    writer = server.new_client("writer")
    async with trapline.TaskGroup() as tg:
        waiters = Waiters(server, tg)
        waiters.block("blpop", "BLPOP", "list", "0")
        await trapline.sleep(0.1)
        for command in (("MULTI",), ("LPUSH", "list", "a"), ("LPUSH", "list", "b")):
            server.execute(writer, _argv(*command))
        server.execute(writer, _argv("LPUSH", "list", "c"))
        server.execute(writer, _argv("EXEC"))
    assert waiters.replies["blpop"][0] == b"*2\r\n$4\r\nlist\r\n$1\r\nc\r\n"

    async with trapline.TaskGroup() as tg:
        waiters = Waiters(server, tg)
        for name, side, count in [("rd1", "left", 1), ("rd2", "right", 10), ("rd3", "left", 10)]:
            waiters.block(name, "BLMPOP", "0", "2", "b1", "b2", side, "COUNT", count)
            await trapline.sleep(0.1)
        server.execute(writer, _argv("MULTI"))
        server.execute(writer, _argv("LPUSH", "b1", *"abcde"))
        server.execute(writer, _argv("LPUSH", "b2", *"12345"))
        server.execute(writer, _argv("EXEC"))
        await trapline.sleep(1)
    assert waiters.replies["rd1"][0] == b"*2\r\n$2\r\nb1\r\n*1\r\n$1\r\ne\r\n"
    assert waiters.replies["rd2"][0] == b"*2\r\n$2\r\nb1\r\n*4\r\n" + b"".join(
        b"$1\r\n%s\r\n" % c for c in (b"a", b"b", b"c", b"d")
    )
    assert waiters.replies["rd3"][0] == b"*2\r\n$2\r\nb2\r\n*5\r\n" + b"".join(
        b"$1\r\n%d\r\n" % i for i in (5, 4, 3, 2, 1)
    )
    assert waiters.order == ["rd1", "rd2", "rd3"]
    assert server.dbs[0].get(b"b1") is None and server.dbs[0].get(b"b2") is None


async def test_blmove_is_atomic_and_chains(virtual_clock):
    """The moved element lands in the target at once, waking whoever waits there."""
    server = trapline.kv.Server()
    writer = server.new_client("writer")
    db = server.dbs[0]
    async with trapline.TaskGroup() as tg:
        waiters = Waiters(server, tg)
        waiters.block("target popper", "BLPOP", "target", "0")
        await trapline.sleep(0.1)
        waiters.block("mover", "BLMOVE", "blist", "target", "LEFT", "RIGHT", "0")
        await trapline.sleep(0.1)
        server.execute(writer, _argv("RPUSH", "blist", "foo"))
    assert waiters.order == ["mover", "target popper"]
    assert waiters.replies["mover"][0] == b"$3\r\nfoo\r\n"
    assert waiters.replies["target popper"][0] == b"*2\r\n$6\r\ntarget\r\n$3\r\nfoo\r\n"
    assert db.get(b"target") is None and db.get(b"blist") is None

    # Linked moves: list1 -> list2 -> list3.
    async with trapline.TaskGroup() as tg:
        waiters = Waiters(server, tg)
        waiters.block("rd1", "BLMOVE", "list1", "list2", "RIGHT", "LEFT", "0")
        waiters.block("rd2", "BLMOVE", "list2", "list3", "LEFT", "RIGHT", "0")
        await trapline.sleep(0.1)
        server.execute(writer, _argv("RPUSH", "list1", "foo"))
    assert db.get(b"list1") is None and db.get(b"list2") is None
    assert list(db.get(b"list3")) == [b"foo"]

    # Circular: the element ends where it started.
    async with trapline.TaskGroup() as tg:
        waiters = Waiters(server, tg)
        waiters.block("rd1", "BRPOPLPUSH", "c1", "c2", "0")
        waiters.block("rd2", "BRPOPLPUSH", "c2", "c1", "0")
        await trapline.sleep(0.1)
        server.execute(writer, _argv("RPUSH", "c1", "foo"))
    assert list(db.get(b"c1")) == [b"foo"] and db.get(b"c2") is None

    # Self-referential.
    async with trapline.TaskGroup() as tg:
        waiters = Waiters(server, tg)
        waiters.block("rd", "BRPOPLPUSH", "self", "self", "0")
        await trapline.sleep(0.1)
        server.execute(writer, _argv("RPUSH", "self", "foo"))
    assert waiters.replies["rd"][0] == b"$3\r\nfoo\r\n"
    assert list(db.get(b"self")) == [b"foo"]


async def test_blmove_into_wrong_type_unblocks_with_the_error(virtual_clock):
    server = trapline.kv.Server()
    writer = server.new_client("writer")
    server.execute(writer, _argv("SADD", "target1", "nolist"))
    async with trapline.TaskGroup() as tg:
        waiters = Waiters(server, tg)
        waiters.block("rd1", "BRPOPLPUSH", "blist", "target1", "0")
        waiters.block("rd2", "BRPOPLPUSH", "blist", "target2", "0")
        await trapline.sleep(0.1)
        server.execute(writer, _argv("LPUSH", "blist", "foo"))
    assert waiters.replies["rd1"][0].startswith(b"-WRONGTYPE")
    assert waiters.replies["rd2"][0] == b"$3\r\nfoo\r\n"
    assert list(server.dbs[0].get(b"target2")) == [b"foo"]


async def test_push_from_blmove_dirties_watchers(virtual_clock):
    server = trapline.kv.Server()
    writer, watcher = server.new_client("writer"), server.new_client("watcher")
    async with trapline.TaskGroup() as tg:
        waiters = Waiters(server, tg)
        waiters.block("blocked", "BRPOPLPUSH", "srclist", "dstlist", "0")
        await trapline.sleep(0.1)
        server.execute(watcher, _argv("WATCH", "dstlist"))
        server.execute(writer, _argv("LPUSH", "srclist", "element"))
    server.execute(watcher, _argv("MULTI"))
    server.execute(watcher, _argv("LLEN", "dstlist"))
    assert server.execute(watcher, _argv("EXEC")) is NullArray


async def test_blocking_inside_exec_does_not_block():
    server = trapline.kv.Server()
    client = server.new_client("c")
    for command in [
        ("MULTI",),
        ("BLPOP", "nokey", "0"),
        ("BLMOVE", "nokey", "t", "LEFT", "LEFT", "0"),
        ("BLMPOP", "0", "1", "nokey", "LEFT"),
        ("RPUSH", "l", "a"),
        ("BRPOP", "l", "0"),
    ]:
        server.execute(client, _argv(*command))
    assert server.execute(client, [b"EXEC"]) == [NullArray, None, NullArray, 1, [b"l", b"a"]]
    assert server.blocked_on == {}


def test_parse_timeout():
    assert parse_timeout(b"0") == 0
    assert parse_timeout(b"1.5") == 1500
    assert parse_timeout(b"0.0001") == 1
    assert parse_timeout(b"-0.0001") == 0  # ceil(-0.1) is zero: block forever, as Redis does
    assert parse_timeout(b"0x10") == 16000
    assert parse_timeout(b"922337203685477.5") == 922337203685477500
    for negative in [b"-1", b"inf", b"-inf", b"1e20", b"9223372036854775.808"]:
        with pytest.raises(CommandError, match="timeout is negative"):
            parse_timeout(negative)
    for junk in [b"", b"x", b"nan", b" 1", b"1e99999"]:
        with pytest.raises(CommandError, match="not a float or out of range"):
            parse_timeout(junk)


def test_a_push_serves_blocked_clients_before_the_next_pipelined_command(differ):
    """Redis hands a pushed element to a blocked client right after the push, so a pipelined
    LPOP that follows finds nothing."""
    blocked = differ.connection()
    for client in blocked:
        client.send(b"*3\r\n$5\r\nBLPOP\r\n$2\r\npk\r\n$1\r\n0\r\n")
    import time

    time.sleep(0.1)  # both servers have parked the BLPOP
    redis, kv = differ.main
    pipeline = b"*3\r\n$5\r\nLPUSH\r\n$2\r\npk\r\n$1\r\na\r\n*2\r\n$4\r\nLPOP\r\n$2\r\npk\r\n"
    replies = []
    for client in (redis, kv):
        client.send(pipeline)
        replies.append((client.read_reply(), client.read_reply()))
    assert replies[0] == replies[1] == (b":1\r\n", b"$-1\r\n")
    assert blocked[0].read_reply() == blocked[1].read_reply() == b"*2\r\n$2\r\npk\r\n$1\r\na\r\n"


def _blocked_clients(client):
    info = client.call("INFO", "clients").decode()
    return int(info.split("blocked_clients:")[1].split("\r\n")[0])


@pytest.mark.parametrize("which", ["redis", "trapline.kv"])
def test_a_blocked_client_that_hangs_up_is_served_nothing(which, redis_port, kv_port):
    """A client closes its connection while blocked in BLPOP: the server forgets it at once,
    and a later push is not popped for nobody (the element would be lost)."""
    port = redis_port if which == "redis" else kv_port
    other = RawClient(port)
    try:
        other.call("DEL", "hangup")
        gone = RawClient(port)
        gone.send(encode_command("BLPOP", "hangup", 0))
        deadline = time.monotonic() + 5
        while _blocked_clients(other) != 1:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        gone.close()
        while _blocked_clients(other) != 0:
            assert time.monotonic() < deadline, "the closed client is still blocked"
            time.sleep(0.005)
        assert other.call("RPUSH", "hangup", "x") == b":1\r\n"
        assert other.call("LRANGE", "hangup", 0, -1) == b"*1\r\n$1\r\nx\r\n"
    finally:
        other.close()


def test_commands_pipelined_behind_a_blocking_pop_wait_for_it(differ):
    """Bytes behind the blocking command are not mistaken for a hang-up: they run after it."""
    redis, kv = differ.connection()
    other_redis, other_kv = differ.connection()
    for client, other in ((redis, other_redis), (kv, other_kv)):
        other.call("DEL", "behind")
        client.send(encode_command("BLPOP", "behind", 0) + encode_command("PING"))
        time.sleep(0.05)  # blocked by now (were it not, BLPOP would just find the element)
        assert other.call("RPUSH", "behind", "v") == b":1\r\n"
        assert client.read_reply() == b"*2\r\n$6\r\nbehind\r\n$1\r\nv\r\n"
        assert client.read_reply() == b"+PONG\r\n"
