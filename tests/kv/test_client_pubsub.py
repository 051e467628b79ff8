"""Subscriptions: channels and patterns, publishing while receiving, RESP2 and RESP3, against
real Redis and trapline.kv."""

import pytest

import trapline
import trapline.kv
from trapline.kv._client_pubsub import Message


@pytest.fixture(params=["redis", "trapline.kv"])
def url(request, redis_port, kv_port):
    port = redis_port if request.param == "redis" else kv_port
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def protocol(request):
    return request.param


async def test_channels_and_patterns(url, protocol):
    async with (
        trapline.kv.connect(url, protocol=protocol) as db,
        db.subscribe("news", "sport", patterns=("user:*",)) as sub,
    ):
        assert sub.channels == {b"news", b"sport"} and sub.patterns == {b"user:*"}
        assert await db.publish("news", "extra!") == 1
        assert await db.publish("user:42", "hello") == 1
        assert await db.publish("sport", b"\x00goal") == 1
        assert await db.publish("weather", "rain") == 0
        assert await sub.get_message() == Message(b"news", b"extra!")
        assert await sub.get_message() == Message(b"user:42", b"hello", pattern=b"user:*")
        assert await sub.get_message() == Message(b"sport", b"\x00goal")
        with pytest.raises(trapline.WouldBlock):
            sub.get_message_nowait()
        counts = dict(await db.pubsub_numsub("news", "sport", "weather"))
        assert counts == {b"news": 1, b"sport": 1, b"weather": 0}
        assert await db.pubsub_numpat() == 1


async def test_a_channel_matched_twice_delivers_twice(url, protocol):
    async with (
        trapline.kv.connect(url, protocol=protocol, decode_responses=True) as db,
        db.subscribe("a.b", patterns=("a.*", "*.b")) as sub,
    ):
        assert await db.publish("a.b", "x") == 3
        got = [await sub.get_message() for _ in range(3)]
        assert sorted((m.pattern or "", m.channel, m.data) for m in got) == [
            ("", "a.b", "x"),
            ("*.b", "a.b", "x"),
            ("a.*", "a.b", "x"),
        ]


async def test_publishing_while_receiving(url, protocol):
    async with trapline.kv.connect(url, protocol=protocol) as db:
        received = []
        async with db.subscribe("stream") as sub, trapline.TaskGroup() as tg:

            async def publish_all():
                for i in range(300):
                    await db.publish("stream", i)

            tg.spawn(publish_all)
            async for message in sub:
                received.append(int(message.data))
                if len(received) == 300:
                    break
        assert received == list(range(300))


async def test_changing_subscriptions_and_the_end_of_iteration(url, protocol):
    async with trapline.kv.connect(url, protocol=protocol) as db:
        async with db.subscribe("one") as sub:
            await sub.subscribe("two", "three")
            await sub.psubscribe("t*")
            assert sub.channels == {b"one", b"two", b"three"} and sub.patterns == {b"t*"}
            await db.publish("two", "2")
            await sub.unsubscribe("two")
            await db.publish("two", "dropped")  # only the pattern matches now
            await sub.punsubscribe()
            await db.publish("three", "3")
            await sub.unsubscribe()
            assert sub.channels == set() and sub.patterns == set()
            # Everything published before the last UNSUBSCRIBE is still delivered, then the
            # iteration ends because nothing is subscribed any more.
            got = [(m.pattern, m.channel, m.data) async for m in sub]
            assert got == [
                (None, b"two", b"2"),
                (b"t*", b"two", b"2"),
                (b"t*", b"two", b"dropped"),
                (None, b"three", b"3"),
            ]
            with pytest.raises(trapline.EndOfChannel):
                await sub.get_message()
            with pytest.raises(TypeError):
                await sub.subscribe()


async def test_cancelled_wait_loses_nothing(url, protocol):
    async with (
        trapline.kv.connect(url, protocol=protocol) as db,
        db.subscribe("c") as sub,
    ):
        with trapline.move_on_after(0.02) as scope:
            await sub.get_message()
        assert scope.cancelled_caught
        await db.publish("c", "after")
        with trapline.fail_after(5):
            assert (await sub.get_message()).data == b"after"


async def test_bare_async_for_closes_its_connection(url, protocol):
    async with trapline.kv.connect(url, protocol=protocol) as db:

        async def publish_soon():
            with trapline.fail_after(5):
                while await db.publish("bare", "hi") == 0:
                    await trapline.sleep(0.005)

        async with trapline.TaskGroup() as tg:
            tg.spawn(publish_soon)
            async for message in db.subscribe("bare"):
                assert message.data == b"hi"
                break
        # Leaving the loop closed the subscription's connection: the server sees nobody.
        with trapline.fail_after(5):
            while dict(await db.pubsub_numsub("bare"))[b"bare"]:
                await trapline.sleep(0.005)


async def test_subscription_misuse(url):
    async with trapline.kv.connect(url) as db:
        sub = db.subscribe("x")
        with pytest.raises(RuntimeError, match="async with"):
            await sub.get_message()
        async with sub:
            with pytest.raises(RuntimeError, match="already open"):
                await sub.__aenter__()
        await sub.aclose()  # twice is fine
