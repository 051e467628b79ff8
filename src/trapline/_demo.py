"""The seed tutorial's program, told with trapline (``python -m trapline demo``)."""

from __future__ import annotations

import os
import sys

import trapline
import trapline.kv
from trapline.lowlevel import Stepper
from trapline.testing import VirtualClock


async def square(x: int) -> int:
    print(f"    Starting square with argument {x}!")
    await trapline.sleep(3)
    print(f"    Finishing square with argument {x}!")
    return x * x


async def cube(x: int) -> int:
    print(f"    Starting cube with argument {x}!")
    await trapline.sleep(3)
    y = await square(x)
    print(f"    Finishing cube with argument {x}!")
    return x * y


async def plain_square(x: int) -> int:
    return x * x


def _heading(text: str) -> None:
    print(f"\n== {text} ==\n")


def _by_hand() -> None:
    _heading("1. Calling a coroutine function only makes a coroutine object")
    coro = plain_square(4)
    print(f">>> plain_square(4)\n{coro!r}")
    print(">>> coro.send(None)")
    try:
        coro.send(None)
    except StopIteration as stop:
        print(f"StopIteration: {stop.value}      <- the result rides on StopIteration")

    _heading("2. You are the scheduler: trapline.sleep yields an instruction to whoever drives it")
    coro2 = cube(3)
    step = 0
    while True:
        step += 1
        print(f">>> coro.send(None)   # send number {step}")
        try:
            instruction = coro2.send(None)
        except StopIteration as stop:
            print(f"StopIteration: {stop.value}")
            break
        print(f"{instruction!r}")
        print("    (a human scheduler reads it, waits, and sends again)")


async def two_cubes() -> list[int]:
    async with trapline.TaskGroup() as tg:
        first = tg.spawn(cube, 5)
        second = tg.spawn(cube, 10)
    return [first.result(), second.result()]


def _stepped() -> None:
    _heading("3. The human scheduler as a tool: trapline.lowlevel.Stepper, one step at a time")
    print("Two cubes spawned in a task group; each line is one step of one task.")
    print("When nobody is ready, the Stepper moves its virtual clock to the next deadline.\n")
    with Stepper(two_cubes) as stepper:
        while not stepper.done:
            print(stepper.step())
        print(f"\nresult: {stepper.result()}")


async def gathered() -> None:
    start = trapline.current_time()
    results = await trapline.gather(cube(3), cube(4), cube(5))
    print(f"\n    gather(cube(3), cube(4), cube(5)) = {results}")
    print(f"    took {trapline.current_time() - start:.1f} s, not 18: the sleeps overlapped")


#: Where the demo's server keeps its data: under the directory the demo runs in, which is the
#: project when run as the README says. ``trapline kv serve --dir .trapline/kv --appendonly
#: yes`` serves the same data afterwards (see docs/kv.md).
DATA_DIR = os.path.join(".trapline", "kv")


async def database() -> None:
    """The tutorial's last two examples, for real: a trapline.kv server, embedded in this
    program with its data in ``DATA_DIR`` (an append-only file), and its client. If another
    server has ``DATA_DIR`` (``trapline kv serve --dir .trapline/kv``), says what to do."""
    try:
        await _database()
    except* trapline.kv.DataDirLocked as group:
        error: BaseException = group
        while isinstance(error, BaseExceptionGroup):  # one per task group it went through
            error = error.exceptions[0]
        assert isinstance(error, trapline.kv.DataDirLocked)
        holder = f" (pid {error.pid})" if error.pid is not None else ""
        print(f"    The demo keeps its data in {DATA_DIR}, and another trapline.kv server{holder}")
        print("    is serving that directory. Two servers on one directory would mix their")
        print("    histories, so the demo did not start its own. Stop that server (Ctrl-C in its")
        print("    terminal) and run the demo again.")


async def _database() -> None:
    config = trapline.kv.ServerConfig(dir=DATA_DIR, appendonly="yes")
    server = trapline.kv.Server(config)
    async with trapline.TaskGroup() as tg:
        listeners = await tg.start(server.serve, "127.0.0.1", 0)
        host, port = listeners[0].socket.getsockname()[:2]
        url = f"redis://{host}:{port}"
        print(f"    trapline.kv is serving on {url}, data in {DATA_DIR} (append-only file)\n")
        print(f"    async with trapline.kv.connect({url!r}) as db:")
        async with trapline.kv.connect(url, decode_responses=True) as db:
            print("        await db.set('cow', 'Moo!')")
            await db.set("cow", "Moo!")
            print(f"        await db.get('cow')  ->  {await db.get('cow')!r}")
            for animal, sound in [("duck", "Quack!"), ("sheep", "Baa!"), ("cat", "Meow!")]:
                await db.set(animal, sound)
            print("\n    async for key in db.scan():   # each batch is a network round trip")
            async for key in db.scan(count=2):
                if key != "demo:runs":  # the counter below, from earlier runs
                    print(f"        {key:<6} says {await db.get(key)}")
            runs = await db.incr("demo:runs")
            print(f"\n    await db.incr('demo:runs')  ->  {runs}   # kept on disk between runs")
        tg.cancel_scope.cancel()  # stops the server; the append-only file is flushed
    python = os.path.relpath(sys.executable)
    if python.startswith(".."):
        python = sys.executable
    print(f"\n    To use this data with redis-cli, serve {DATA_DIR} again (Ctrl-C stops it):")
    print(f"        {python} -m trapline kv serve --dir {DATA_DIR} --appendonly yes")
    print("        redis-cli get cow          # in another terminal")
    print("    docs/kv.md has more, and how to move to Redis or Valkey with the same client.")


def main(*, virtual: bool = False) -> None:
    _by_hand()
    _stepped()
    clock_name = "virtual clock" if virtual else "real clock: about 6 seconds"
    _heading(f"4. No human needed: trapline.run schedules them ({clock_name})")
    trapline.run(gathered, clock=VirtualClock() if virtual else None)
    _heading("5. async with and async for over the network: the tutorial's database, for real")
    trapline.run(database)
