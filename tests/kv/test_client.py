"""The trapline.kv client's machinery: the pool, pipelines, transactions, scans, URLs and the RESP
parser. The network tests run against real Redis and against trapline.kv."""

import contextlib
import shutil
import socket
import ssl
import subprocess
import time

import pytest

import trapline
import trapline.kv
from trapline.kv import ResponseError, WatchError
from trapline.kv._client import KV, Queued
from trapline.kv._client_conn import Address, parse_url
from trapline.kv._client_resp import (
    NEED_MORE,
    ProtocolViolation,
    PushMessage,
    ReplyParser,
    encode_command,
)


@pytest.fixture(params=["redis", "trapline.kv"])
def url(request, redis_port, kv_port):
    port = redis_port if request.param == "redis" else kv_port
    return f"redis://127.0.0.1:{port}/0"


@contextlib.asynccontextmanager
async def fresh(url, **options):
    async with trapline.kv.connect(url, **options) as db:
        await db.flushall()
        yield db


async def test_the_seeds_database_example(url):
    async with trapline.kv.connect(url, decode_responses=True) as db:
        assert isinstance(db, KV)
        await db.set("cow", "Moo!")
        assert await db.get("cow") == "Moo!"
        assert await db.ping() is True
        assert await db.delete("cow") == 1


async def test_a_command_is_a_checkpoint_and_a_cancelled_one_sends_nothing(url):
    async with fresh(url, max_connections=1) as db:
        await db.set("k", "before")
        with trapline.CancelScope() as scope:
            scope.cancel()
            await db.set("k", "after")  # cancelled before it started: nothing is sent
        assert scope.cancelled_caught
        with trapline.CancelScope() as scope:
            scope.cancel()
            async with db.pipeline() as p:
                p.set("k", "after")
        assert scope.cancelled_caught and p.results is None
        assert await db.get("k") == b"before"
        assert db.statistics().pools.popitem()[1].connections_made == 1  # nothing was broken

        ran = []

        async def other():
            ran.append("other task")

        async with trapline.TaskGroup() as tg:
            tg.spawn(other)
            assert await db.ping() is True  # waiting for the reply lets the other task run
            assert ran == ["other task"]


async def test_error_reply_raises_response_error_and_keeps_the_connection(url):
    async with fresh(url, max_connections=1) as db:
        with pytest.raises(ResponseError, match="unknown command") as info:
            await db.execute("NOSUCHCOMMAND")
        assert info.value.code == "ERR"
        await db.lpush("list", 1)
        with pytest.raises(ResponseError) as info:
            await db.get("list")
        assert info.value.code == "WRONGTYPE"
        assert await db.execute("ECHO", "still here") == b"still here"
        assert db.statistics().pools.popitem()[1].connections_made == 1


# -- pipelines ---------------------------------------------------------------------------------


async def test_pipeline_returns_replies_in_order_with_errors_in_place(url):
    async with fresh(url) as db:
        async with db.pipeline() as p:
            p.set("pk", "1")
            p.incr("pk")
            p.execute("NOSUCHCOMMAND")
            p.lpush("pk", "x")
            p.get("pk")
            p.hgetall("nope")
            p.delete("pk")
        assert len(p.results) == 7
        assert p.results[:2] == [True, 2]
        assert isinstance(p.results[2], ResponseError) and p.results[2].code == "ERR"
        assert isinstance(p.results[3], ResponseError) and p.results[3].code == "WRONGTYPE"
        assert p.results[4:] == [b"2", {}, 1]


async def test_pipeline_queued_placeholders_and_reuse(url):
    async with fresh(url) as db:
        p = db.pipeline()
        first = p.set("a", 1)
        second = p.incr("a")
        bad = p.execute("LPUSH", "a", "x")
        assert isinstance(first, Queued) and len(p) == 3
        with pytest.raises(RuntimeError, match="queued, not sent"):
            await second
        assert await p.run() == [True, 2, p.results[2]]
        assert await second == 2 and second.result() == 2
        with pytest.raises(ResponseError):
            await bad
        p.get("a")  # the pipeline can be used again
        assert await p.run() == [b"2"]
        assert await p.run() == []
        with pytest.raises(TypeError, match="queues a command"):
            p.execute()


async def test_pipeline_raise_on_error_and_discard_on_exception(url):
    async with fresh(url) as db:
        p = db.pipeline()
        p.set("a", "x")
        p.incr("a")
        with pytest.raises(ResponseError, match="not an integer"):
            await p.run(raise_on_error=True)
        with pytest.raises(ZeroDivisionError):
            async with db.pipeline() as p:
                p.set("b", 1)
                1 / 0  # noqa: B018
        assert await db.exists("b") == 0


async def test_a_thousand_commands_in_one_pipeline(url):
    async with fresh(url) as db:
        async with db.pipeline() as p:
            for i in range(1000):
                p.set(f"k{i}", i)
            for i in range(1000):
                p.get(f"k{i}")
        assert p.results == [True] * 1000 + [str(i).encode() for i in range(1000)]


async def test_cancelled_pipeline_does_not_desync_the_next_command(url):
    async with fresh(url, max_connections=1) as db:
        with trapline.move_on_after(0.05):
            async with db.pipeline() as p:
                p.set("x", 1)
                p.blpop("never", timeout=0)
                p.set("y", 1)
        assert p.results is None
        assert await db.echo("fresh") == b"fresh"
        assert await db.get("x") == b"1"


async def test_pipeline_transaction(url):
    async with fresh(url) as db:
        async with db.pipeline(transaction=True) as p:
            p.set("a", "1")
            p.incr("a")
            p.lpush("a", "x")  # fails at EXEC, in place
            p.get("a")
        assert p.results[:2] == [True, 2]
        assert isinstance(p.results[2], ResponseError)
        assert p.results[3] == b"2"
        p.set("a", 5)
        p.execute("SET", "a")  # wrong arity: refused at queue time, so nothing runs
        with pytest.raises(ResponseError) as info:
            await p.run()
        assert info.value.code == "EXECABORT"
        assert isinstance(info.value.__cause__, ResponseError)
        assert "wrong number of arguments" in info.value.__cause__.message
        assert await db.get("a") == b"2"


# -- transactions ------------------------------------------------------------------------------


async def test_transaction_reads_then_queues_writes(url):
    async with fresh(url) as db:
        await db.set("balance", 100)
        async with db.transaction("balance") as tx:
            balance = int(await tx.get("balance"))
            tx.multi()
            queued = tx.set("balance", balance - 30)
            tx.incrby("spent", 30)
            tx.get("balance")
        assert tx.results == [True, 30, b"70"]
        assert await queued is True
        assert await db.get("balance") == b"70"


async def test_watch_conflict_raises_watch_error_and_nothing_runs(url):
    async with fresh(url) as db:
        await db.set("balance", 100)
        with pytest.raises(WatchError):
            async with db.transaction("balance") as tx:
                balance = int(await tx.get("balance"))
                await db.set("balance", 1)  # another connection changes the watched key
                tx.multi()
                tx.set("balance", balance - 30)
        assert await db.get("balance") == b"1"
        assert tx.results is None


async def test_optimistic_retry_loop_under_concurrency(url):
    async with fresh(url) as db:
        await db.set("counter", 0)
        conflicts = 0

        async def add_one():
            nonlocal conflicts
            while True:
                try:
                    async with db.transaction("counter") as tx:
                        value = int(await tx.get("counter"))
                        await trapline.sleep(0)  # let the others interleave
                        tx.multi()
                        tx.set("counter", value + 1)
                    return
                except WatchError:
                    conflicts += 1

        async with trapline.TaskGroup() as tg:
            for _ in range(10):
                tg.spawn(add_one)
        assert await db.get("counter") == b"10"
        assert conflicts > 0


async def test_transaction_discard_error_and_misuse(url):
    async with fresh(url, max_connections=1) as db:
        async with db.transaction("k") as tx:
            tx.multi()
            tx.set("k", 1)
            tx.discard()
        assert await db.exists("k") == 0
        with pytest.raises(KeyError):
            async with db.transaction("k") as tx:
                tx.multi()
                tx.set("k", 1)
                raise KeyError("oops")
        assert await db.exists("k") == 0
        async with db.transaction() as tx:  # no WATCH, no multi(): just UNWATCH at the end
            assert await tx.execute("ECHO", "x") == b"x"
            await tx.watch("k")
            tx.multi()
            with pytest.raises(RuntimeError):
                tx.multi()
            with pytest.raises(RuntimeError):
                await tx.watch("other")
            tx.execute("SET", "k", "v")
        assert tx.results == [b"OK"]
        with pytest.raises(RuntimeError, match="async with"):
            await tx.get("k")  # its connection went back to the pool
        with pytest.raises(RuntimeError, match="only once"):
            await tx.__aenter__()
        with pytest.raises(RuntimeError, match="async with"):
            db.transaction("k").multi()
        # The single pooled connection came back clean each time (no WATCH left behind).
        await db.set("k", "again")
        stats = db.statistics().pools.popitem()[1]
        assert stats.in_use == 0 and stats.open_connections <= 1


# -- the pool ----------------------------------------------------------------------------------


async def test_a_thousand_tasks_share_a_bounded_pool(url):
    async with fresh(url, max_connections=8) as db:
        peak = 0

        async def worker(i):
            nonlocal peak
            await db.set(f"w{i}", i)
            assert await db.get(f"w{i}") == str(i).encode()
            stats = db.statistics().pools[str(db.address)]
            peak = max(peak, stats.open_connections)
            assert stats.open_connections <= 8

        async with trapline.TaskGroup() as tg:
            for i in range(1000):
                tg.spawn(worker, i)
        stats = db.statistics().pools[str(db.address)]
        assert peak == 8 and stats.connections_made == 8
        assert stats.in_use == 0 and stats.tasks_waiting == 0 and stats.idle == 8
        assert await db.dbsize() == 1000
        clients = await db.client_list()
        assert len(clients) <= 9  # ours, and the fixture's raw connection at most


async def test_pool_waiters_are_cancellable_and_served_in_order(url):
    async with fresh(url, max_connections=1) as db:
        order = []
        async with trapline.TaskGroup() as tg:

            async def hold():
                await db.blpop("gate", timeout=0.2)

            tg.spawn(hold)
            await trapline.sleep(0.02)
            with trapline.move_on_after(0.01):
                await db.ping()  # waits for the only connection, then gives up
            assert db.statistics().pools.popitem()[1].tasks_waiting == 0

            async def use(i):
                await db.ping()
                order.append(i)

            for i in range(5):
                tg.spawn(use, i)
        assert order == [0, 1, 2, 3, 4]


async def test_closed_client_refuses_commands(url):
    db = trapline.kv.connect(url)
    async with db:
        await db.ping()
    with pytest.raises(trapline.ClosedResourceError):
        await db.ping()


async def test_connect_failures():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(OSError):
        async with trapline.kv.connect(f"redis://127.0.0.1:{port}"):
            pass


async def test_password_client_name_and_database_from_the_url():
    server = trapline.kv.Server(trapline.kv.ServerConfig(requirepass="s3cret"))
    async with trapline.TaskGroup() as tg:
        listeners = await tg.start(server.serve, "127.0.0.1", 0)
        port = listeners[0].socket.getsockname()[1]
        with pytest.raises(ResponseError) as info:
            async with trapline.kv.connect(f"redis://:wrong@127.0.0.1:{port}"):
                pass
        assert info.value.code == "WRONGPASS"
        with pytest.raises(ResponseError) as info:
            async with trapline.kv.connect(f"redis://127.0.0.1:{port}") as db:
                await db.ping()
        assert info.value.code == "NOAUTH"
        for protocol in (2, 3):
            async with trapline.kv.connect(
                f"redis://:s3cret@127.0.0.1:{port}/3", protocol=protocol, client_name="me"
            ) as db:
                await db.set("where", "db3")
                me = await db.client_info()
                assert (me["db"], me["name"], me["resp"]) == ("3", "me", str(protocol))
        async with trapline.kv.connect(f"redis://default:s3cret@127.0.0.1:{port}/0") as db:
            assert await db.get("where") is None
            for command in ("SELECT", b"select", "MULTI", "subscribe", "AUTH"):
                with pytest.raises(ValueError, match="pooled connection"):
                    await db.execute(command, 3)
        async with trapline.kv.connect(f"redis://:s3cret@127.0.0.1:{port}/3") as db:
            assert await db.get("where") == b"db3"
        tg.cancel_scope.cancel()


async def test_unix_socket(tmp_path):
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    path = tmp_path / "redis.sock"
    process = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(path), "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not path.exists():
            assert time.monotonic() < deadline and process.poll() is None
            await trapline.sleep(0.01)
        async with trapline.kv.connect(f"unix://{path}?db=2") as db:
            await db.set("k", "over a unix socket")
            assert await db.get("k") == b"over a unix socket"
            assert (await db.client_info())["db"] == "2"
    finally:
        process.terminate()
        process.wait(10)


async def test_tls(tmp_path):
    trustme = pytest.importorskip("trustme")
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            binary,
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--tls-cert-file",
            str(tmp_path / "server.pem"),
            "--tls-key-file",
            str(tmp_path / "server.pem"),
            "--tls-ca-cert-file",
            str(tmp_path / "ca.pem"),
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        context = ssl.create_default_context()
        ca.configure_trust(context)
        deadline = time.monotonic() + 10
        while True:
            try:
                async with trapline.kv.connect(
                    f"rediss://127.0.0.1:{port}/1", ssl_context=context, protocol=3
                ) as db:
                    await db.set("k", "over TLS")
                    assert await db.get("k") == b"over TLS"
                    async with db.pipeline() as p:
                        for i in range(100):
                            p.incr("n")
                    assert p.results == list(range(1, 101))
                    stats = db.statistics().pools.popitem()[1]
                    assert stats.connections_made == 1  # (TLS 1.3 tickets do not look like EOF)
                    with trapline.move_on_after(0.05):
                        await db.blpop("nothing")
                    assert await db.ping()
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None
                await trapline.sleep(0.02)
        # No SELECT, no AUTH: the connection goes idle right after the handshake, and the
        # server's TLS 1.3 session tickets arrive on it then. That is not a closed connection.
        async with trapline.kv.connect(f"rediss://127.0.0.1:{port}", ssl_context=context) as db:
            await trapline.sleep(0.05)
            assert await db.ping() and await db.get("k") is None
            assert db.statistics().pools.popitem()[1].connections_made == 1
        with pytest.raises(trapline.BrokenResourceError):  # our CA is not trusted by default
            async with trapline.kv.connect(f"rediss://127.0.0.1:{port}"):
                pass
    finally:
        process.terminate()
        process.wait(10)


# -- scans -------------------------------------------------------------------------------------


async def test_scan_iterators_see_everything(url):
    async with fresh(url, decode_responses=True) as db:
        await db.mset({f"user:{i}": i for i in range(300)})
        await db.mset({f"other:{i}": i for i in range(20)})
        await db.hset("h", mapping={f"f{i}": i for i in range(200)})
        await db.sadd("s", *range(200))
        await db.zadd("z", {f"m{i}": i / 2 for i in range(200)})
        keys = [key async for key in db.scan(match="user:*", count=50)]
        assert sorted(keys) == sorted(f"user:{i}" for i in range(300))
        assert {key async for key in db.scan(type="hash")} == {"h"}
        assert len({key async for key in db.scan()}) == 323
        fields = {field: value async for field, value in db.hscan("h", count=30)}
        assert fields == {f"f{i}": str(i) for i in range(200)}
        assert {m async for m in db.sscan("s", match="1*")} == {
            str(i) for i in range(200) if str(i).startswith("1")
        }
        scores = {member: score async for member, score in db.zscan("z")}
        assert scores == {f"m{i}": i / 2 for i in range(200)}
        async for key in db.scan():  # leaving early holds nothing
            break
        assert await db.ping()


# -- URLs and the RESP codec --------------------------------------------------------------------


def test_url_parsing():
    parsed = parse_url("redis://:secret@localhost:6380/2")
    assert parsed.addresses == (Address("localhost", 6380),)
    assert (parsed.db, parsed.username, parsed.password) == (2, None, "secret")
    parsed = parse_url("redis://alice:p%40ss@h")
    assert (parsed.username, parsed.password, parsed.addresses[0].port) == ("alice", "p@ss", 6379)
    assert parse_url("redis://onlypassword@h").password == "onlypassword"
    assert parse_url("rediss://h").addresses[0].tls
    unix = parse_url("unix:///tmp/kv.sock?db=3")
    assert (unix.addresses[0].path, unix.db) == ("/tmp/kv.sock", 3)
    cluster = parse_url("redis+cluster://:pw@127.0.0.1:7000,127.0.0.1:7001,[::1]:7002")
    assert cluster.cluster and cluster.password == "pw"
    assert [str(a) for a in cluster.addresses] == ["127.0.0.1:7000", "127.0.0.1:7001", "::1:7002"]
    for bad, message in [
        ("http://x", "unsupported URL scheme"),
        ("localhost:6379", r"not a URL: 'localhost:6379' \(write redis://host:port, "),
        ("redis://a:1,b:2", "redis\\+cluster"),
        ("redis+cluster://a:1/3", "only database 0"),
        ("unix://", "no socket path"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_url(bad)
    with pytest.raises(ValueError, match="protocol"):
        trapline.kv.connect("redis://h", protocol=4)  # type: ignore[call-overload]


def test_encode_command():
    out = bytearray()
    encode_command(("SET", b"k\x00", 7, -1, 1.5, 300, bytearray(b"ba")), out)
    assert bytes(out) == (
        b"*7\r\n$3\r\nSET\r\n$2\r\nk\x00\r\n$1\r\n7\r\n$2\r\n-1\r\n$3\r\n1.5\r\n$3\r\n300\r\n"
        b"$2\r\nba\r\n"
    )
    for bad in (True, None, [1], object()):
        with pytest.raises(TypeError):
            encode_command(("SET", "k", bad), bytearray())


RESP3_REPLIES = [
    (b"+OK\r\n", b"OK"),
    (b"-ERR bad thing\r\n", ResponseError("ERR bad thing")),
    (b":-42\r\n", -42),
    (b"$5\r\nhello\r\n", b"hello"),
    (b"$0\r\n\r\n", b""),
    (b"$-1\r\n", None),
    (b"*-1\r\n", None),
    (b"*3\r\n:1\r\n$1\r\na\r\n*1\r\n+x\r\n", [1, b"a", [b"x"]]),
    (b"%2\r\n+a\r\n:1\r\n*1\r\n:2\r\n#t\r\n", {b"a": 1, (2,): True}),
    (b"~2\r\n+a\r\n+a\r\n", {b"a"}),
    (b"~1\r\n*1\r\n:1\r\n", [[1]]),  # unhashable members: a list
    (b">3\r\n+message\r\n+ch\r\n+hi\r\n", PushMessage([b"message", b"ch", b"hi"])),
    (b"_\r\n", None),
    (b",3.25\r\n", 3.25),
    (b",inf\r\n", float("inf")),
    (b"#f\r\n", False),
    (b"(123456789012345678901234567890\r\n", 123456789012345678901234567890),
    (b"=8\r\ntxt:abcd\r\n", b"abcd"),
    (b"!9\r\nSYNTAX no\r\n", ResponseError("SYNTAX no")),
    (b"|1\r\n+ttl\r\n:3\r\n+real\r\n", b"real"),
]


@pytest.mark.parametrize(("data", "expected"), RESP3_REPLIES)
def test_parser_every_type_at_every_split(data, expected):
    for split in range(len(data) + 1):
        parser = ReplyParser()
        parser.feed(data[:split])
        reply = parser.next()
        if split < len(data):
            assert reply is NEED_MORE, split
            parser.feed(data[split:])
            reply = parser.next()
        if isinstance(expected, ResponseError):
            assert isinstance(reply, ResponseError)
            assert (reply.message, reply.code) == (expected.message, expected.code)
        else:
            assert reply == expected and type(reply) is type(expected)
        assert parser.next() is NEED_MORE and parser.buffered() == 0


def test_parser_decodes_and_refuses_garbage():
    parser = ReplyParser(decode=True)
    parser.feed(b"$4\r\ncaf\xc3\r\n+ok\r\n")
    with pytest.raises(UnicodeDecodeError):
        parser.next()
    for garbage in (b"?what\r\n", b"$x\r\n", b",notanumber\r\n"):
        parser = ReplyParser()
        parser.feed(garbage)
        with pytest.raises(ProtocolViolation):
            parser.next()


def test_parser_many_replies_in_one_feed_and_buffer_compaction():
    parser = ReplyParser()
    parser.feed(b":1\r\n" * 100_000)
    assert [parser.next() for _ in range(100_000)] == [1] * 100_000
    assert parser.next() is NEED_MORE
    parser.feed(b"+x\r\n")
    assert parser.next() == b"x" and parser.buffered() == 0


async def test_a_closed_connection_is_not_touched_through_its_old_fd(url):
    from trapline.kv._client_conn import Connection

    address = parse_url(url).addresses[0]
    conn = await Connection.open(address, trapline.kv.connect(url).options)
    conn.close_now()
    # The next file gets the lowest free fd number: very likely the one just freed. Neither
    # direction may use it; both go through the stream, which knows it was closed.
    mine, peer = socket.socketpair()
    with mine, peer:
        peer.sendall(b"+OK\r\n")
        with pytest.raises(trapline.kv.ConnectionLost):
            await conn.write((("SET", "k", "v"),))
        with pytest.raises(trapline.kv.ConnectionLost):
            await conn.read()
        assert mine.recv(100) == b"+OK\r\n"  # still there: not read by the closed connection
        peer.setblocking(False)
        with pytest.raises(BlockingIOError):
            peer.recv(100)  # and nothing was written
