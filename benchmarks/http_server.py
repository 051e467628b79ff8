"""One aiohttp HTTP server for the asyncio benchmark, in this process, on a free loopback port.

    python -m benchmarks.http_server SERVER [--profile FILE]

SERVER is ``aiohttp-asyncio``, ``aiohttp-uvloop`` or ``aiohttp-trapline`` (the event loop the
same aiohttp application runs on: asyncio's default loop, uvloop, ``trapline.aio``). Prints one
JSON line (``{"port": ..., ...}``) once it listens, then serves until killed; ``--profile`` as in
``benchmarks.echo_server``.

The application is the usual "plaintext" one: ``GET /`` answers ``Hello, World!`` as
``text/plain``, keep-alive, no access log (as aiohttp's own deployment advice says for speed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from .echo_server import HOST, _announce, _profiled

BODY = "Hello, World!"


def _aiohttp(loop_factory: Callable[[], Any] | None) -> None:
    import asyncio

    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=BODY)

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/", hello)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, HOST, 0)
        await site.start()
        _announce(runner.addresses[0][1])
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main())


def aiohttp_asyncio() -> None:
    _aiohttp(None)


def aiohttp_uvloop() -> None:
    import uvloop

    _aiohttp(uvloop.new_event_loop)


def aiohttp_trapline() -> None:
    import trapline.aio

    _aiohttp(trapline.aio.loop_factory)


SERVERS: dict[str, Callable[[], None]] = {
    "aiohttp-asyncio": aiohttp_asyncio,
    "aiohttp-uvloop": aiohttp_uvloop,
    "aiohttp-trapline": aiohttp_trapline,
}

#: The modules each server needs (to skip those not installed).
REQUIRES = {
    "aiohttp-asyncio": ("aiohttp",),
    "aiohttp-uvloop": ("aiohttp", "uvloop"),
    "aiohttp-trapline": ("aiohttp", "trapline"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.http_server", description=__doc__)
    parser.add_argument("server", choices=list(SERVERS))
    parser.add_argument("--profile", metavar="FILE", help="run under cProfile; dump on SIGTERM")
    args = parser.parse_args(argv)
    serve = SERVERS[args.server]
    if args.profile:
        _profiled(serve, args.profile)
    else:
        serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
