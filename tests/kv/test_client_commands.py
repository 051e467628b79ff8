"""The client's typed command methods: the same tests against real Redis and trapline.kv, in RESP2
and RESP3, so the reply transforms are checked to give the same Python values either way."""

import contextlib
import datetime

import pytest

import trapline
import trapline.kv
from trapline.kv import ResponseError


@pytest.fixture(params=["redis", "trapline.kv"])
def server(request, redis_port, kv_port):
    return redis_port if request.param == "redis" else kv_port


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def protocol(request):
    return request.param


@contextlib.asynccontextmanager
async def fresh(port, protocol=2, **options):
    async with trapline.kv.connect(f"redis://127.0.0.1:{port}", protocol=protocol, **options) as db:
        await db.flushall()
        yield db


async def test_strings(server, protocol):
    async with fresh(server, protocol) as db:
        assert await db.set("s", "v") is True
        assert await db.get("s") == b"v"
        assert await db.get("missing") is None
        assert await db.set("s", "w", nx=True) is False
        assert await db.set("new", "w", xx=True) is False
        assert await db.set_get("s", "x") == b"v"
        assert await db.set("t", 1, ex=100) is True
        assert 99 <= await db.ttl("t") <= 100
        assert await db.set("t", 1, ex=1.5) is True  # fractions go as PX
        assert 1000 < await db.pttl("t") <= 1500
        assert await db.set("t", 2, ex=datetime.timedelta(seconds=50), keepttl=False)
        assert 49 <= await db.ttl("t") <= 50
        assert await db.set("t", 3, keepttl=True) is True
        assert await db.ttl("t") > 0
        assert await db.setnx("s", "y") is False
        assert await db.setex("e", 100, "v") is True
        assert await db.psetex("p", 100000, "v") is True
        assert await db.getex("e", persist=True) == b"v"
        assert await db.ttl("e") == -1
        assert await db.getex("e", px=5000) == b"v"
        assert 0 < await db.pttl("e") <= 5000
        assert await db.getdel("e") == b"v"
        assert await db.exists("e") == 0
        assert await db.getset("s", "z") == b"x"
        assert await db.mset({"a": 1, "b": "2", b"c": b"3"}) is True
        assert await db.mget("a", "b", "c", "nope") == [b"1", b"2", b"3", None]
        assert await db.msetnx({"a": 9, "fresh": 1}) is False
        assert await db.msetnx({"f1": 1, "f2": 2}) is True
        assert await db.incr("n") == 1
        assert await db.incr("n", 10) == 11
        assert await db.incrby("n", 5) == 16
        assert await db.decr("n") == 15
        assert await db.decr("n", 5) == 10
        assert await db.decrby("n", 10) == 0
        assert await db.incrbyfloat("f", 1.5) == 1.5
        assert await db.incrbyfloat("f", -0.25) == 1.25
        assert await db.append("ap", "Hello") == 5
        assert await db.append("ap", " World") == 11
        assert await db.strlen("ap") == 11
        assert await db.getrange("ap", 0, 4) == b"Hello"
        assert await db.setrange("ap", 6, "Redis") == 11
        assert await db.get("ap") == b"Hello Redis"
        await db.mset({"k1": "ohmytext", "k2": "mynewtext"})
        assert await db.lcs("k1", "k2") == b"mytext"
        assert await db.lcs_len("k1", "k2") == 6
        with pytest.raises(ResponseError) as info:
            await db.incr("ap")
        assert info.value.code == "ERR"
        assert "not an integer" in info.value.message


async def test_keys_and_expiry(server, protocol):
    async with fresh(server, protocol) as db:
        await db.mset({"a": 1, "b": 2, "c": 3})
        assert await db.exists("a", "b", "a", "zz") == 3
        assert await db.touch("a", "zz") == 1
        assert await db.delete("a", "zz") == 1
        assert await db.unlink("b") == 1
        assert await db.expire("c", 100) is True
        assert await db.expire("c", 50, gt=True) is False
        assert await db.expire("c", 50, lt=True) is True
        assert await db.expire("nope", 10) is False
        assert await db.expire("c", 2.5) is True
        assert 2000 < await db.pttl("c") <= 2500
        assert await db.pexpire("c", 100000) is True
        assert await db.expireat("c", 4102444800) is True  # 2100-01-01
        assert await db.expiretime("c") == 4102444800
        assert await db.pexpiretime("c") == 4102444800000
        when = datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC)
        assert await db.expireat("c", when, xx=True) is True
        assert await db.pexpireat("c", 4102444800123) is True
        assert await db.pexpiretime("c") == 4102444800123
        assert await db.persist("c") is True
        assert await db.ttl("c") == -1
        assert await db.ttl("nope") == -2
        await db.lpush("l", 1)
        assert await db.type("c") == b"string"
        assert await db.type("l") == b"list"
        assert await db.type("nope") == b"none"
        assert sorted(await db.keys()) == [b"c", b"l"]
        assert await db.keys("l*") == [b"l"]
        assert await db.randomkey() in (b"c", b"l")
        assert await db.rename("c", "d") is True
        assert await db.renamenx("d", "l") is False
        assert await db.copy("d", "e") is True
        assert await db.copy("d", "e") is False
        assert await db.copy("d", "e", replace=True) is True
        assert await db.copy("d", "e", db=1) is True
        assert await db.move("e", 1) is False  # db 1 has an "e" already
        assert await db.move("e", 2) is True
        assert await db.dbsize() == 2
        assert await db.object_encoding("d") == b"int"
        assert await db.flushdb() is True
        assert await db.dbsize() == 0
        with pytest.raises(ResponseError, match="no such key"):
            await db.rename("nope", "x")


async def test_sort(server, protocol):
    async with fresh(server, protocol) as db:
        await db.rpush("nums", 3, 1, 2)
        assert await db.sort("nums") == [b"1", b"2", b"3"]
        assert await db.sort("nums", desc=True, limit=(0, 2)) == [b"3", b"2"]
        await db.mset({"w_1": 30, "w_2": 10, "w_3": 20})
        assert await db.sort("nums", by="w_*", get=["#", "w_*"]) == [
            b"2",
            b"10",
            b"3",
            b"20",
            b"1",
            b"30",
        ]
        assert await db.sort_ro("nums", by="nosort") == [b"3", b"1", b"2"]
        assert await db.sort_ro("nums", get=["missing_*"]) == [None, None, None]
        await db.rpush("words", "b", "a")
        with pytest.raises(ResponseError, match="can't be converted into double"):
            await db.sort("words")
        assert await db.sort("words", alpha=True) == [b"a", b"b"]
        assert await db.sort("nums", store="sorted") == 3
        assert await db.lrange("sorted") == [b"1", b"2", b"3"]


async def test_dump_restore_wait(server, protocol):
    async with fresh(server, protocol) as db:
        await db.hset("h", mapping={"f": "v", "g": "w"})
        payload = await db.dump("h")
        assert isinstance(payload, bytes)
        assert await db.dump("missing") is None
        assert await db.restore("copy", 0, payload) is True
        assert await db.hgetall("copy") == {b"f": b"v", b"g": b"w"}
        with pytest.raises(ResponseError, match="BUSYKEY"):
            await db.restore("copy", 0, payload)
        assert await db.restore("copy", 5, payload, replace=True) is True
        assert 0 < await db.pttl("copy") <= 5000
        with pytest.raises(ResponseError, match="checksum"):
            await db.restore("bad", 0, payload[:-1] + bytes([payload[-1] ^ 1]))
        assert await db.wait(0, 1) == 0
    async with fresh(server, decode_responses=True) as text_db:
        with pytest.raises(TypeError, match="decode_responses"):
            await text_db.dump("h")


async def test_dump_payloads_move_between_servers(redis_port, kv_port):
    async with fresh(redis_port) as redis, fresh(kv_port) as kv:
        await redis.zadd("z", {"a": 1.5, "b": 2})
        await kv.restore("z", 0, await redis.dump("z"))
        assert await kv.zrange("z", 0, -1, withscores=True) == [(b"a", 1.5), (b"b", 2.0)]
        await kv.rpush("l", "x", "y")
        await redis.restore("l", 0, await kv.dump("l"))
        assert await redis.lrange("l") == [b"x", b"y"]


async def test_migrate(redis_port, kv_port):
    async with fresh(redis_port) as redis, fresh(kv_port) as kv:
        await kv.mset({"a": 1, "b": 2, "c": 3})
        assert await kv.migrate("127.0.0.1", redis_port, "a", 0, 5) is True
        assert await kv.exists("a") == 0
        assert await redis.get("a") == b"1"
        assert await kv.migrate("127.0.0.1", redis_port, ["b", "c"], 0, 5, copy=True) is True
        assert await kv.mget("b", "c") == [b"2", b"3"]
        assert await redis.mget("b", "c") == [b"2", b"3"]
        with pytest.raises(ResponseError, match="BUSYKEY"):
            await kv.migrate("127.0.0.1", redis_port, "b", 0, 5)
        assert await kv.migrate("127.0.0.1", redis_port, "b", 0, 5, replace=True) is True
        assert await kv.migrate("127.0.0.1", redis_port, "missing", 0, 5) is False


async def test_hashes(server, protocol):
    async with fresh(server, protocol) as db:
        assert await db.hset("h", "f", "v") == 1
        assert await db.hset("h", mapping={"a": 1, "b": 2}) == 2
        assert await db.hset("h", "f", "w", mapping={"c": 3}) == 1
        assert await db.hsetnx("h", "f", "x") is False
        assert await db.hget("h", "f") == b"w"
        assert await db.hget("h", "nope") is None
        assert await db.hmget("h", "a", "nope", "b") == [b"1", None, b"2"]
        assert await db.hgetall("h") == {b"f": b"w", b"a": b"1", b"b": b"2", b"c": b"3"}
        assert await db.hgetall("nope") == {}
        assert await db.hlen("h") == 4
        assert await db.hexists("h", "a") is True
        assert await db.hexists("h", "z") is False
        assert await db.hincrby("h", "a", 5) == 6
        assert await db.hincrbyfloat("h", "a", 0.5) == 6.5
        assert sorted(await db.hkeys("h")) == [b"a", b"b", b"c", b"f"]
        assert sorted(await db.hvals("h")) == [b"2", b"3", b"6.5", b"w"]
        assert await db.hstrlen("h", "a") == 3
        assert await db.hrandfield("h") in (b"a", b"b", b"c", b"f")
        assert len(await db.hrandfield("h", 2)) == 2
        pairs = await db.hrandfield("h", -6, withvalues=True)
        assert len(pairs) == 6
        assert all(isinstance(pair, tuple) and len(pair) == 2 for pair in pairs)
        assert await db.hrandfield("nope") is None
        assert await db.hdel("h", "a", "b", "zz") == 2
        with pytest.raises(TypeError):
            db.hset("h")
        await db.lpush("l", 1)
        with pytest.raises(ResponseError) as info:
            await db.hget("l", "x")
        assert info.value.code == "WRONGTYPE"


async def test_lists(server, protocol):
    async with fresh(server, protocol) as db:
        assert await db.rpush("l", "a", "b", "c") == 3
        assert await db.lpush("l", "z") == 4
        assert await db.lpushx("nope", "x") == 0
        assert await db.rpushx("l", "d") == 5
        assert await db.lrange("l") == [b"z", b"a", b"b", b"c", b"d"]
        assert await db.lrange("l", 1, 2) == [b"a", b"b"]
        assert await db.llen("l") == 5
        assert await db.lindex("l", -1) == b"d"
        assert await db.lindex("l", 99) is None
        assert await db.lset("l", 0, "y") is True
        assert await db.linsert("l", "BEFORE", "a", "x") == 6
        assert await db.linsert("l", "AFTER", "nope", "x") == -1
        assert await db.lpos("l", "x") == 1
        assert await db.lpos("l", "nope") is None
        await db.rpush("l", "x")
        assert await db.lpos("l", "x", count=0) == [1, 6]
        assert await db.lpos("l", "x", rank=-1) == 6
        assert await db.lrem("l", 0, "x") == 2
        assert await db.ltrim("l", 0, 3) is True
        assert await db.lrange("l") == [b"y", b"a", b"b", b"c"]
        assert await db.lpop("l") == b"y"
        assert await db.rpop("l") == b"c"
        assert await db.lpop("l", 5) == [b"a", b"b"]
        assert await db.lpop("l") is None
        assert await db.lpop("l", 2) is None
        await db.rpush("src", 1, 2, 3)
        assert await db.lmove("src", "dst", "RIGHT", "LEFT") == b"3"
        assert await db.rpoplpush("src", "dst") == b"2"
        assert await db.lrange("dst") == [b"2", b"3"]
        assert await db.lmpop("empty", "src", "dst") == (b"src", [b"1"])
        assert await db.lmpop("dst", direction="RIGHT", count=5) == (b"dst", [b"3", b"2"])
        assert await db.lmpop("dst") is None


async def test_blocking_pops_return_values_and_time_out(server, protocol):
    async with fresh(server, protocol) as db:
        await db.rpush("q", "a", "b")
        assert await db.blpop("none", "q", timeout=1) == (b"q", b"a")
        assert await db.brpop("q", timeout=1) == (b"q", b"b")
        assert await db.blpop("q", timeout=0.05) is None
        assert await db.brpop("q", timeout=datetime.timedelta(milliseconds=50)) is None
        await db.rpush("q", "c", "d")
        assert await db.blmove("q", "r", "LEFT", "RIGHT", timeout=1) == b"c"
        assert await db.brpoplpush("q", "r", timeout=1) == b"d"
        assert await db.blmove("q", "r", timeout=0.05) is None
        assert await db.blmpop("q", "r", count=2, timeout=1) == (b"r", [b"d", b"c"])
        assert await db.blmpop("q", timeout=0.05) is None
        await db.zadd("z", {"m": 1, "n": 2})
        assert await db.bzpopmin("z", timeout=1) == (b"z", b"m", 1.0)
        assert await db.bzpopmax("z", timeout=1) == (b"z", b"n", 2.0)
        assert await db.bzpopmin("z", timeout=0.05) is None
        await db.zadd("z", {"m": 1, "n": 2})
        assert await db.bzmpop("z", order="MAX", count=5, timeout=1) == (
            b"z",
            [(b"n", 2.0), (b"m", 1.0)],
        )
        with pytest.raises(ValueError):
            db.blpop("q", timeout=-1)


async def test_blocking_pop_waits_for_a_push(server, protocol):
    async with fresh(server, protocol) as db:
        async with trapline.TaskGroup() as tg:

            async def push_later():
                await trapline.sleep(0.05)
                await db.rpush("jobs", "job-1")

            tg.spawn(push_later)
            with trapline.fail_after(5):
                assert await db.blpop("jobs") == (b"jobs", b"job-1")


async def test_sets(server, protocol):
    async with fresh(server, protocol) as db:
        assert await db.sadd("s", "a", "b", "c", "a") == 3
        assert await db.srem("s", "c", "z") == 1
        assert await db.smembers("s") == {b"a", b"b"}
        assert await db.smembers("nope") == set()
        assert await db.sismember("s", "a") is True
        assert await db.smismember("s", "a", "z", "b") == [True, False, True]
        assert await db.scard("s") == 2
        await db.sadd("t", "b", "c")
        assert await db.sinter("s", "t") == {b"b"}
        assert await db.sunion("s", "t") == {b"a", b"b", b"c"}
        assert await db.sdiff("s", "t") == {b"a"}
        assert await db.sinterstore("i", "s", "t") == 1
        assert await db.sunionstore("u", "s", "t") == 3
        assert await db.sdiffstore("d", "s", "t") == 1
        assert await db.sintercard("s", "t") == 1
        assert await db.sintercard("u", "u", limit=2) == 2
        assert await db.smove("u", "s", "c") is True
        assert await db.srandmember("s") in {b"a", b"b", b"c"}
        assert sorted(await db.srandmember("s", 3)) == [b"a", b"b", b"c"]
        assert len(await db.srandmember("s", -5)) == 5
        popped = await db.spop("s")
        assert popped in {b"a", b"b", b"c"}
        assert len(await db.spop("s", 5)) == 2
        assert await db.spop("s") is None


async def test_sorted_sets(server, protocol):
    async with fresh(server, protocol) as db:
        assert await db.zadd("z", {"a": 1, "b": 2, "c": 3}) == 3
        assert await db.zadd("z", {"a": 5}, xx=True, ch=True) == 1
        assert await db.zadd("z", {"a": 0}, gt=True, ch=True) == 0
        assert await db.zadd_incr("z", "a", 1.5) == 6.5
        assert await db.zadd_incr("z", "new", 1, xx=True) is None
        assert await db.zscore("z", "a") == 6.5
        assert await db.zscore("z", "nope") is None
        assert await db.zmscore("z", "a", "nope", "b") == [6.5, None, 2.0]
        assert await db.zincrby("z", -0.5, "a") == 6.0
        assert await db.zcard("z") == 3
        assert await db.zcount("z", 2, "+inf") == 3
        assert await db.zcount("z", "(2", 3) == 1
        assert await db.zrank("z", "b") == 0
        assert await db.zrevrank("z", "b") == 2
        assert await db.zrank("z", "nope") is None
        assert await db.zrange("z") == [b"b", b"c", b"a"]
        assert await db.zrange("z", withscores=True) == [(b"b", 2.0), (b"c", 3.0), (b"a", 6.0)]
        assert await db.zrange("z", 0, 0, rev=True) == [b"a"]
        assert await db.zrange("z", 2, 5, byscore=True, offset=1, count=1) == [b"c"]
        assert await db.zrevrange("z", 0, 1, withscores=True) == [(b"a", 6.0), (b"c", 3.0)]
        assert await db.zrangebyscore("z", "-inf", 3) == [b"b", b"c"]
        assert await db.zrangebyscore("z", 0, 10, offset=1, count=5, withscores=True) == [
            (b"c", 3.0),
            (b"a", 6.0),
        ]
        assert await db.zrevrangebyscore("z", "+inf", "(3") == [b"a"]
        assert await db.zrangestore("dst", "z", 0, 1) == 2
        await db.zadd("lex", {"a": 0, "b": 0, "c": 0, "d": 0})
        assert await db.zrangebylex("lex", "[b", "(d") == [b"b", b"c"]
        assert await db.zrevrangebylex("lex", "+", "-", offset=0, count=2) == [b"d", b"c"]
        assert await db.zlexcount("lex", "-", "+") == 4
        assert await db.zrange("lex", "[a", "[b", bylex=True) == [b"a", b"b"]
        assert await db.zremrangebylex("lex", "[a", "[b") == 2
        assert await db.zremrangebyrank("lex", 0, 0) == 1
        assert await db.zremrangebyscore("lex", "-inf", "+inf") == 1
        assert await db.zrem("z", "nope", "c") == 1
        assert await db.zpopmin("z") == [(b"b", 2.0)]
        assert await db.zpopmax("z", 3) == [(b"a", 6.0)]
        assert await db.zpopmin("z") == []
        await db.zadd("x", {"a": 1, "b": 2})
        await db.zadd("y", {"b": 10, "c": 20})
        assert await db.zunion("x", "y") == [b"a", b"b", b"c"]
        assert await db.zunion("x", "y", weights=[2, 1], aggregate="MAX", withscores=True) == [
            (b"a", 2.0),
            (b"b", 10.0),
            (b"c", 20.0),
        ]
        assert await db.zinter("x", "y", withscores=True) == [(b"b", 12.0)]
        assert await db.zdiff("x", "y", withscores=True) == [(b"a", 1.0)]
        assert await db.zunionstore("u", "x", "y") == 3
        assert await db.zinterstore("i", "x", "y", aggregate="MIN") == 1
        assert await db.zscore("i", "b") == 2.0
        assert await db.zdiffstore("d", "x", "y") == 1
        assert await db.zintercard("x", "y") == 1
        assert await db.zmpop("nope", "u", order="MAX") == (b"u", [(b"c", 20.0)])
        assert await db.zmpop("nope") is None
        assert await db.zrandmember("u") in (b"a", b"b")
        assert len(await db.zrandmember("u", 2, withscores=True)) == 2
        assert await db.zrandmember("nope") is None
        with pytest.raises(ValueError):
            db.zrange("z", 0, 1, byscore=True, offset=1)


async def test_server_and_connection(server, protocol):
    async with fresh(server, protocol) as db:
        assert await db.ping() is True
        assert await db.echo("hi") == b"hi"
        seconds, micros = await db.time()
        assert seconds > 1_600_000_000 and 0 <= micros < 1_000_000
        info = await db.info()
        assert info["redis_version"].startswith("7.")
        assert isinstance(info["connected_clients"], int)
        await db.set("k", 1)
        assert (await db.info("keyspace"))["db0"]["keys"] == 1
        assert await db.config_get("maxclients") == {b"maxclients": b"10000"}
        assert await db.config_get("no-such-parameter") == {}
        assert isinstance(await db.client_id(), int)
        me = await db.client_info()
        assert me["resp"] == str(protocol)
        clients = await db.client_list()
        assert any(client["id"] == me["id"] for client in clients)
        assert await db.client_kill(id=10**9) == 0
        assert await db.command_count() > 100
        assert isinstance(await db.lastsave(), int)
        assert await db.publish("nobody", "hello") == 0
        assert await db.pubsub_numsub("nobody") == [(b"nobody", 0)]
        assert await db.pubsub_numpat() == 0
        assert await db.pubsub_channels() == []
        assert await db.execute("ECHO", b"\x00\xff") == b"\x00\xff"


async def test_decode_responses(server, protocol):
    async with fresh(server, protocol, decode_responses=True) as db:
        await db.set("café", "crème")
        assert await db.get("café") == "crème"
        await db.hset("h", mapping={"a": "1"})
        assert await db.hgetall("h") == {"a": "1"}
        await db.zadd("z", {"m": 1.5})
        assert await db.zrange("z", withscores=True) == [("m", 1.5)]
        assert await db.type("h") == "hash"
        assert await db.smembers("nope") == set()
        assert await db.info("server")
        await db.set(b"bin", b"\xff\xfe")
        with pytest.raises(UnicodeDecodeError):
            await db.get("bin")
        assert await db.get("café") == "crème"  # a fresh connection, in step


async def test_arguments_are_encoded_or_refused(server):
    async with fresh(server) as db:
        await db.set("f", 0.1)
        assert await db.get("f") == b"0.1"
        await db.set("big", 2**70)
        assert await db.get("big") == str(2**70).encode()
        await db.set("mv", memoryview(b"abc"))
        assert await db.get("mv") == b"abc"
        with pytest.raises(TypeError, match="bool"):
            await db.set("b", True)
        with pytest.raises(TypeError, match="NoneType"):
            await db.execute("SET", "k", None)
        assert await db.ping()  # a refused argument sends nothing
