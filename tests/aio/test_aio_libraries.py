"""Real asyncio libraries from PyPI on trapline's loop, against loopback servers in the same run.

redis.asyncio talks to a trapline.kv server (trapline-native) while a trapline.kv client pushes
to the list it blocks on; aiohttp serves HTTP to httpx (anyio on asyncio) and to aiohttp's own
client. The libraries that are not installed are skipped (``pip install -e .[test]`` has them).
These run on the system clock: a virtual clock would jump past the libraries' socket timeouts
while real I/O is in flight.
"""

import asyncio

import pytest

import trapline
import trapline.aio
import trapline.kv
from trapline.aio import run_asyncio


async def test_redis_asyncio_against_trapline_kv_in_the_same_run():
    redis_asyncio = pytest.importorskip("redis.asyncio")
    server = trapline.kv.Server()
    async with trapline.TaskGroup() as tg:
        listeners = await tg.start(server.serve, "127.0.0.1", 0)
        port = listeners[0].socket.getsockname()[1]

        async def use_redis():
            client = redis_asyncio.Redis(host="127.0.0.1", port=port)
            try:
                results = [await client.ping()]
                results.append(await client.sadd("set", "a", "b", "c"))
                results.append(sorted(await client.smembers("set")))
                await client.set("key", "value")
                results.append(await client.get("key"))
                async with client.pipeline(transaction=True) as pipe:
                    pipe.incr("counter").incr("counter").get("counter")
                    results.append(await pipe.execute())
                # Many concurrent commands over the connection pool.
                counts = await asyncio.gather(*(client.incr("many") for _ in range(50)))
                results.append(sorted(counts) == list(range(1, 51)))
                # Blocks until the trapline.kv client below pushes.
                results.append(await client.blpop(["queue"], timeout=10))
                return results
            finally:
                await client.aclose()

        async def push_later():
            await trapline.sleep(0.05)
            async with trapline.kv.connect(f"redis://127.0.0.1:{port}") as kv:
                await kv.rpush("queue", "from a trapline client")

        tg.spawn(push_later)
        assert await run_asyncio(use_redis()) == [
            True,
            3,
            [b"a", b"b", b"c"],
            b"value",
            [1, 2, b"2"],
            True,
            (b"queue", b"from a trapline client"),
        ]
        tg.cancel_scope.cancel()


def _hello_app():
    web = pytest.importorskip("aiohttp.web")

    async def hello(request):
        await asyncio.sleep(0.001)
        return web.json_response({"hello": request.match_info["name"]})

    async def upload(request):
        body = await request.read()
        return web.Response(body=body[::-1])

    app = web.Application()
    app.router.add_get("/hello/{name}", hello)
    app.router.add_post("/reverse", upload)
    return web, app


def test_httpx_and_aiohttp_clients_against_an_aiohttp_server():
    httpx = pytest.importorskip("httpx")
    aiohttp = pytest.importorskip("aiohttp")
    web, app = _hello_app()

    async def main():
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient() as client:
                responses = await asyncio.gather(
                    *(client.get(f"{base}/hello/{i}") for i in range(20))
                )
                names = [r.json()["hello"] for r in responses]
                posted = await client.post(f"{base}/reverse", content=b"x" * 100_000 + b"y")
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{base}/hello/aiohttp") as response:
                    via_aiohttp = await response.json()
        finally:
            await runner.cleanup()
        return names, posted.content[:2], via_aiohttp

    names, reversed_start, via_aiohttp = trapline.aio.run(main())
    assert names == [str(i) for i in range(20)]
    assert reversed_start == b"yx"
    assert via_aiohttp == {"hello": "aiohttp"}


async def test_httpx_from_trapline_code_against_aiohttp_hosted_in_the_same_run():
    httpx = pytest.importorskip("httpx")
    web, app = _hello_app()
    runner = web.AppRunner(app)
    await run_asyncio(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await run_asyncio(site.start())
    port = runner.addresses[0][1]

    async def fetch(name):
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/hello/{name}")
            return response.json()["hello"]

    results = {}

    async def one(name):
        results[name] = await run_asyncio(fetch(name))

    async with trapline.TaskGroup() as tg:
        for name in ("a", "b", "c"):
            tg.spawn(one, name)
    await run_asyncio(runner.cleanup())
    assert results == {"a": "a", "b": "b", "c": "c"}
