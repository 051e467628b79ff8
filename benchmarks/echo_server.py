"""One echo server for the TCP echo benchmark, in this process, on a free loopback port.

    python -m benchmarks.echo_server SERVER [--profile FILE]

SERVER is one of ``SERVERS`` (``trapline-aio-*``: asyncio's servers on ``trapline.aio``'s
loop). Prints one JSON line (``{"port": ..., ...}``) once it listens, then serves until killed.
With ``--profile``, the server runs under cProfile and writes the stats to FILE when it gets
SIGTERM (used to see where trapline's server time goes).

Each server is the idiomatic echo for its framework: read up to 64 KiB, write it back, await
the write where the API has backpressure.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

READ_SIZE = 65536
HOST = "127.0.0.1"


def _announce(port: int) -> None:
    info: dict[str, Any] = {"port": port, "pid": os.getpid()}
    module = sys.modules.get("trapline")
    if module is not None:
        info["trapline_file"] = module.__file__
    print(json.dumps(info), flush=True)


# -- trapline ----------------------------------------------------------------------------------


def trapline_streams() -> None:
    import trapline

    async def echo(stream: trapline.Stream) -> None:
        async for chunk in stream:
            await stream.send_all(chunk)

    async def main() -> None:
        async with trapline.TaskGroup() as tg:
            listeners = await tg.start(trapline.serve_tcp, echo, 0)
            _announce(listeners[0].socket.getsockname()[1])

    trapline.run(main)


# -- asyncio and uvloop --------------------------------------------------------------------------


def _asyncio_streams(loop_factory: Callable[[], Any] | None) -> None:
    import asyncio

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(READ_SIZE):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(echo, HOST, 0)
        _announce(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main())


def _asyncio_protocols(loop_factory: Callable[[], Any] | None) -> None:
    import asyncio

    class Echo(asyncio.Protocol):
        transport: asyncio.Transport

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport  # type: ignore[assignment]

        def data_received(self, data: bytes) -> None:
            self.transport.write(data)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Echo, HOST, 0)
        _announce(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main())


def asyncio_streams() -> None:
    _asyncio_streams(None)


def asyncio_protocols() -> None:
    _asyncio_protocols(None)


def uvloop_streams() -> None:
    import uvloop

    _asyncio_streams(uvloop.new_event_loop)


def uvloop_protocols() -> None:
    import uvloop

    _asyncio_protocols(uvloop.new_event_loop)


def trapline_aio_streams() -> None:
    import trapline.aio

    _asyncio_streams(trapline.aio.loop_factory)


def trapline_aio_protocols() -> None:
    import trapline.aio

    _asyncio_protocols(trapline.aio.loop_factory)


# -- trio --------------------------------------------------------------------------------------


def trio_streams() -> None:
    import trio

    async def echo(stream: trio.SocketStream) -> None:
        try:
            while data := await stream.receive_some(READ_SIZE):
                await stream.send_all(data)
        except trio.BrokenResourceError:
            pass

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(functools.partial(trio.serve_tcp, echo, 0, host=HOST))
            _announce(listeners[0].socket.getsockname()[1])

    trio.run(main)


SERVERS: dict[str, Callable[[], None]] = {
    "trapline-streams": trapline_streams,
    "asyncio-streams": asyncio_streams,
    "asyncio-protocols": asyncio_protocols,
    "uvloop-streams": uvloop_streams,
    "uvloop-protocols": uvloop_protocols,
    "trio-streams": trio_streams,
    # The same asyncio servers on trapline's asyncio loop (``trapline.aio``; the aio benchmark).
    "trapline-aio-streams": trapline_aio_streams,
    "trapline-aio-protocols": trapline_aio_protocols,
}

#: The module each server needs (to skip those not installed).
REQUIRES = {name: name.split("-")[0] for name in SERVERS}


def _profiled(serve: Callable[[], None], path: str) -> None:
    import cProfile

    profiler = cProfile.Profile()

    def stop(signum: int, frame: object) -> None:
        profiler.disable()
        profiler.dump_stats(path)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    profiler.enable()
    serve()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.echo_server", description=__doc__)
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
