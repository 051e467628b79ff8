"""The client against a real three-master Redis Cluster, started on free loopback ports.

The cluster (``redis-server --cluster-enabled yes`` three times, joined by ``redis-cli --cluster
create``) lives for this module. Tests that move slots leave the cluster consistent, and every
test goes through the client's MOVED handling anyway.
"""

import shutil
import socket
import subprocess
import time

import pytest

import trapline
import trapline.kv
import trapline.to_thread
from trapline.kv import ResponseError, WatchError
from trapline.kv._client_resp import ClusterError
from trapline.kv._cluster import ClusterKV, crc16, key_slot


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cli(port, *args, check=True):
    """Run redis-cli against one node; its output as text."""
    result = subprocess.run(
        ["redis-cli", "-p", str(port), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )
    return result.stdout.strip()


def wait_until_consistent(ports, deadline=30):
    """Every node says cluster_state:ok and they all agree on the slot map."""
    stop = time.monotonic() + deadline
    while True:
        states = [cli(port, "CLUSTER", "INFO", check=False) for port in ports]
        maps = {cli(port, "CLUSTER", "SLOTS", check=False) for port in ports}
        if all("cluster_state:ok" in state for state in states) and len(maps) == 1:
            return
        if time.monotonic() > stop:
            raise TimeoutError(f"the cluster did not settle: {states}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    binary, tool = shutil.which("redis-server"), shutil.which("redis-cli")
    if binary is None or tool is None:
        pytest.skip("redis-server and redis-cli are needed (.ci/run installs them)")
    directory = tmp_path_factory.mktemp("cluster")
    ports = [_free_port() for _ in range(3)]
    processes = []
    try:
        for port in ports:
            processes.append(
                subprocess.Popen(
                    [
                        binary,
                        "--port",
                        str(port),
                        "--cluster-port",  # the bus port; by default port + 10000
                        str(_free_port()),
                        "--bind",
                        "127.0.0.1",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        f"nodes-{port}.conf",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        str(directory),
                        "--loglevel",
                        "warning",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        deadline = time.monotonic() + 10
        for port in ports:
            while cli(port, "PING", check=False) != "PONG":
                assert time.monotonic() < deadline, "a cluster node did not start"
                time.sleep(0.02)
        subprocess.run(
            [tool, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports)]
            + ["--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            timeout=60,
            check=True,
        )
        wait_until_consistent(ports)
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)


@pytest.fixture
def url(cluster):
    return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in cluster)


async def flushed(url, **options):
    db = trapline.kv.connect(url, **options)
    await db.__aenter__()
    assert isinstance(db, ClusterKV)
    await db.flushall()
    return db


def test_key_slots_match_redis(cluster):
    assert crc16(b"123456789") == 0x31C3
    assert key_slot("foo") == 12182 and key_slot(b"bar") == 5061
    assert key_slot("{user1000}.following") == key_slot("user1000")
    assert key_slot("foo{}{bar}") == crc16(b"foo{}{bar}") % 16384  # empty tag: whole key
    assert key_slot("foo{{bar}}zap") == key_slot("{bar")
    keys = [f"k{i}:{'{'}t{i % 7}{'}'}x" for i in range(50)] + ["é", "{", "}{", "a{b}c{d}"]
    for key in keys:
        assert key_slot(key) == int(cli(cluster[0], "CLUSTER", "KEYSLOT", key)), key


async def test_commands_reach_the_node_serving_each_slot(url, cluster):
    async with await flushed(url, decode_responses=True) as db:
        assert sorted(db.nodes()) == sorted(f"127.0.0.1:{p}" for p in cluster)
        for i in range(200):
            await db.set(f"key:{i}", i)
        assert [await db.get(f"key:{i}") for i in range(200)] == [str(i) for i in range(200)]
        per_node = await db.execute_on_nodes("DBSIZE")
        assert sum(per_node.values()) == 200 and all(per_node.values())
        assert await db.dbsize() == 200  # answered by every master, added up
        assert sorted(await db.keys("key:*")) == sorted(f"key:{i}" for i in range(200))
        assert sorted([key async for key in db.scan(match="key:1*", count=20)]) == sorted(
            f"key:{i}" for i in range(200) if str(i).startswith("1")
        )
        await db.hset("h", mapping={f"f{i}": i for i in range(50)})
        assert len({f async for f, _ in db.hscan("h", count=10)}) == 50
        assert len(db.statistics().pools) == 3


async def test_one_startup_node_is_enough(cluster):
    async with trapline.kv.connect(f"redis+cluster://127.0.0.1:{cluster[1]}") as db:
        assert len(db.nodes()) == 3
        await db.set("anywhere", 1)
        assert await db.get("anywhere") == b"1"


async def test_multi_key_commands_split_per_slot(url):
    async with await flushed(url) as db:
        mapping = {f"m{i}": i for i in range(40)}
        assert len({key_slot(k) for k in mapping}) > 10
        assert await db.mset(mapping) is True
        keys = [*mapping, "missing"]
        assert await db.mget(*keys) == [str(i).encode() for i in range(40)] + [None]
        assert await db.exists(*keys, "m0") == 41
        assert await db.touch(*keys) == 40
        assert await db.delete(*keys[:20]) == 20
        assert await db.unlink(*keys) == 20
        # Other multi-key commands must keep to one slot: hash tags do that.
        with pytest.raises(ClusterError, match="CROSSSLOT"):
            await db.rename("a", "b")
        await db.set("{acct}a", 1)
        assert await db.rename("{acct}a", "{acct}b") is True
        assert await db.sunionstore("{s}dst", "{s}x", "{s}y") == 0


async def test_pipeline_split_by_node_keeps_order(url):
    async with await flushed(url) as db:
        async with db.pipeline() as p:
            for i in range(300):
                p.set(f"p{i}", i)
            p.execute("NOSUCHCOMMAND")
            for i in range(300):
                p.incr(f"p{i}")
            p.hgetall("nothing")
        assert p.results[:300] == [True] * 300
        assert isinstance(p.results[300], ResponseError)
        assert p.results[301:601] == list(range(1, 301))
        assert p.results[601] == {}
        nodes_used = [s for s in db.statistics().pools.values() if s.connections_made]
        assert len(nodes_used) == 3


async def test_transactions_within_one_slot(url):
    async with await flushed(url) as db:
        await db.set("{acct:1}balance", 100)
        async with db.transaction("{acct:1}balance") as tx:
            balance = int(await tx.get("{acct:1}balance"))
            tx.multi()
            tx.set("{acct:1}balance", balance - 10)
            tx.incrby("{acct:1}spent", 10)
        assert tx.results == [True, 10]
        with pytest.raises(WatchError):
            async with db.transaction("{acct:1}balance") as tx:
                await tx.get("{acct:1}balance")
                await db.incr("{acct:1}balance")
                tx.multi()
                tx.set("{acct:1}balance", 0)
        assert await db.get("{acct:1}balance") == b"91"
        async with db.pipeline(transaction=True) as p:
            p.incr("{t}a")
            p.incr("{t}b")
        assert p.results == [1, 1]
        p.incr("{t}a")
        p.incr("elsewhere")
        with pytest.raises(ClusterError, match="one slot"):
            await p.run()


async def test_blocking_pop_and_cancellation_in_a_cluster(url):
    async with await flushed(url) as db:
        async with trapline.TaskGroup() as tg:

            async def push():
                await trapline.sleep(0.05)
                await db.rpush("{q}jobs", "job")

            tg.spawn(push)
            assert await db.blpop("{q}jobs", "{q}other", timeout=5) == (b"{q}jobs", b"job")
        with trapline.move_on_after(0.05):
            await db.blpop("{q}jobs")
        with trapline.fail_after(5):
            while any(
                int(line.split(b":")[1])
                for reply in (await db.execute_on_nodes("INFO", "clients")).values()
                for line in reply.splitlines()
                if line.startswith(b"blocked_clients:")
            ):
                await trapline.sleep(0.005)
        await db.rpush("{q}jobs", "kept")
        assert await db.lrange("{q}jobs") == [b"kept"]


async def test_pubsub_in_a_cluster(url):
    async with await flushed(url) as db, db.subscribe("news", patterns=("n*",)) as sub:
        # PUBLISH on any node reaches subscribers on every node.
        for _ in range(3):
            await db.publish("news", "hi")
        messages = [await sub.get_message() for _ in range(6)]
        assert sorted((m.pattern, m.data) for m in messages if m.pattern) == [(b"n*", b"hi")] * 3


async def test_commands_without_a_method_are_routed_by_command_info(url):
    async with await flushed(url, protocol=3) as db:
        for i in range(20):
            stream = f"stream{i}"
            await db.execute("XADD", stream, "*", "field", i)
            assert await db.execute("XLEN", stream) == 1
        await db.set("sub", "hello")
        assert await db.execute("SUBSTR", "sub", 0, 1) == b"he"
        # A command whose keys move (its spec says so) is asked about with COMMAND GETKEYS.
        await db.zadd("{g}a", {"x": 1})
        assert await db.execute("ZUNION", 2, "{g}a", "{g}b") == [b"x"]
        assert await db.execute("GEOADD", "geo", 13.36, 38.11, "Palermo") == 1
        assert await db.execute("GEORADIUS_RO", "geo", 15, 37, 200, "km") == [b"Palermo"]


async def test_ask_and_moved_during_a_manual_slot_migration(url, cluster):
    async with await flushed(url) as db:
        await db.set("{mv}a", "1")
        await db.set("{mv}b", "2")
        slot = key_slot("{mv}")
        ids = {port: cli(port, "CLUSTER", "MYID") for port in cluster}
        source = db._slots[slot].port
        target = next(p for p in cluster if p != source)
        cli(target, "CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source])
        cli(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])
        cli(source, "MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", "{mv}a")
        before = db.statistics()
        # "{mv}a" now lives on the target: the source answers ASK, the client follows it
        # (ASKING first) without changing its slot map.
        assert await db.get("{mv}a") == b"1"
        assert await db.get("{mv}b") == b"2"  # still on the source
        assert await db.set("{mv}c", "3") is True  # a new key goes to the target
        async with db.pipeline() as p:
            p.get("{mv}a")
            p.get("{mv}b")
            p.get("{mv}c")
        assert p.results == [b"1", b"2", b"3"]
        after = db.statistics()
        assert after.asked - before.asked == 4 and after.moved == before.moved
        assert db._slots[slot].port == source
        # Finish the migration: now the source answers MOVED and the client learns the new map.
        cli(source, "MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", "{mv}b")
        for port in (target, source, *(p for p in cluster if p not in (source, target))):
            cli(port, "CLUSTER", "SETSLOT", slot, "NODE", ids[target])
        wait_until_consistent(cluster)
        assert await db.mget("{mv}a", "{mv}b", "{mv}c") == [b"1", b"2", b"3"]
        assert db.statistics().moved == after.moved + 1
        assert await db.get("{mv}a") == b"1"  # the map was reloaded: no redirection now
        final = db.statistics()
        assert final.moved == after.moved + 1
        assert final.slot_map_refreshes > after.slot_map_refreshes
        assert db._slots[slot].port == target


async def test_live_resharding_with_redis_cli_while_the_client_works(url, cluster):
    async with await flushed(url, max_connections=4) as db:
        keys = [f"live:{i}" for i in range(400)]
        await db.mset(dict.fromkeys(keys, 0))
        ids = {port: cli(port, "CLUSTER", "MYID") for port in cluster}
        source, target = cluster[0], cluster[2]
        done = trapline.Event()
        rounds = 0

        async def traffic():
            nonlocal rounds
            while not done.is_set():
                async with db.pipeline() as p:
                    for key in keys[::7]:
                        p.incr(key)
                assert all(isinstance(n, int) for n in p.results), p.results
                for key in keys[3::50]:
                    await db.incr(key)
                rounds += 1

        async with trapline.TaskGroup() as tg:
            tg.spawn(traffic)
            await trapline.run_process(
                [
                    "redis-cli",
                    "--cluster",
                    "reshard",
                    f"127.0.0.1:{source}",
                    "--cluster-from",
                    ids[source],
                    "--cluster-to",
                    ids[target],
                    "--cluster-slots",
                    "1000",
                    "--cluster-yes",
                    "--cluster-pipeline",
                    "5",
                ],
                capture_stdout=True,
                capture_stderr=True,
            )
            done.set()
        await trapline.to_thread.run_sync(wait_until_consistent, cluster)
        assert rounds > 0
        expected = dict.fromkeys(keys, 0)
        for _ in range(rounds):
            for key in keys[::7]:
                expected[key] += 1
            for key in keys[3::50]:
                expected[key] += 1
        assert await db.mget(*keys) == [str(expected[key]).encode() for key in keys]
        stats = db.statistics()
        assert stats.moved + stats.asked > 0
        assert all(s.open_connections <= 4 for s in stats.pools.values())
