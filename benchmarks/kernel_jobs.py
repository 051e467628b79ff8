"""The kernel jobs, each written once per framework as the idiomatic equivalent.

Every job function runs one whole program on its framework (``trapline.run``, ``asyncio.run``,
``uvloop.run``, ``trio.run``), measures inside it, and returns a dict whose ``"value"`` is the
job's headline number. asyncio and uvloop share one asyncio implementation that differs only in
the event loop it runs on. Frameworks are imported inside the functions, so a measurement process
loads only the framework it measures. Nothing here touches the garbage collector's settings, and
trapline runs with its full feature set (plain ``trapline.run(main)``).

Jobs:

* ``switch``: N tasks each loop on the cheapest checkpoint; value = switches per second.
* ``spawn``: spawn N no-op tasks in a task group and join them; value = seconds.
* ``memory``: N tasks parked in ``sleep(3600)``; value = resident-set growth / N, in bytes.
* ``timers``: N tasks each sleep once for a seeded random time in [0, max]; value = elapsed time
  minus the longest sleep (the timer overhead), in seconds.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from time import perf_counter
from typing import Any

__all__ = ["JOBS", "make_delays", "rss_bytes", "run_job"]

JOBS = ("switch", "spawn", "memory", "timers")

PARK_SECONDS = 3600
SETTLE_SECONDS = 0.1
SETTLE_CHECKPOINTS = 3

Result = dict[str, Any]


# -- shared helpers ----------------------------------------------------------------------------


def rss_bytes() -> int:
    """The current resident set size of this process, from ``/proc/self/statm``."""
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def make_delays(tasks: int, seed: int, max_delay: float) -> list[float]:
    """The timer job's sleep lengths: the same seeded sequence for every framework."""
    rng = random.Random(seed)
    return [rng.uniform(0.0, max_delay) for _ in range(tasks)]


def _switch_result(tasks: int, iterations: int, elapsed: float) -> Result:
    switches = tasks * iterations
    return {"value": switches / elapsed, "elapsed": elapsed, "switches": switches}


def _spawn_result(tasks: int, elapsed: float) -> Result:
    return {"value": elapsed, "tasks_per_second": tasks / elapsed}


def _memory_result(tasks: int, before: int, after: int) -> Result:
    return {"value": (after - before) / tasks, "rss_before": before, "rss_after": after}


def _timers_result(delays: list[float], elapsed: float) -> Result:
    longest = max(delays)
    return {"value": elapsed - longest, "elapsed": elapsed, "longest_sleep": longest}


# -- trapline ----------------------------------------------------------------------------------


def trapline_switch(tasks: int, iterations: int) -> Result:
    import trapline

    start = [0.0]

    async def worker() -> None:
        if not start[0]:
            start[0] = perf_counter()
        for _ in range(iterations):
            await trapline.checkpoint()

    async def main() -> float:
        async with trapline.TaskGroup() as tg:
            for _ in range(tasks):
                tg.spawn(worker)
        return perf_counter() - start[0]

    return _switch_result(tasks, iterations, trapline.run(main))


def trapline_spawn(tasks: int) -> Result:
    import trapline

    async def noop() -> None:
        pass

    async def main() -> float:
        t0 = perf_counter()
        async with trapline.TaskGroup() as tg:
            for _ in range(tasks):
                tg.spawn(noop)
        return perf_counter() - t0

    return _spawn_result(tasks, trapline.run(main))


def trapline_memory(tasks: int) -> Result:
    import trapline

    async def main() -> tuple[int, int]:
        before = rss_bytes()
        async with trapline.TaskGroup() as tg:
            for _ in range(tasks):
                tg.spawn(trapline.sleep, PARK_SECONDS)
            await trapline.sleep(SETTLE_SECONDS)
            for _ in range(SETTLE_CHECKPOINTS):
                await trapline.checkpoint()
            after = rss_bytes()
            tg.cancel_scope.cancel()
        return before, after

    return _memory_result(tasks, *trapline.run(main))


def trapline_timers(delays: list[float]) -> Result:
    import trapline

    async def main() -> float:
        t0 = perf_counter()
        async with trapline.TaskGroup() as tg:
            for delay in delays:
                tg.spawn(trapline.sleep, delay)
        return perf_counter() - t0

    return _timers_result(delays, trapline.run(main))


# -- asyncio (and uvloop: the same code on uvloop's event loop) ---------------------------------


def _asyncio_runner(framework: str) -> Callable[[Any], Any]:
    if framework == "uvloop":
        import uvloop

        return uvloop.run
    import asyncio

    return asyncio.run


def asyncio_switch(framework: str, tasks: int, iterations: int) -> Result:
    import asyncio

    run = _asyncio_runner(framework)
    start = [0.0]

    async def worker() -> None:
        if not start[0]:
            start[0] = perf_counter()
        for _ in range(iterations):
            await asyncio.sleep(0)

    async def main() -> float:
        async with asyncio.TaskGroup() as tg:
            for _ in range(tasks):
                tg.create_task(worker())
        return perf_counter() - start[0]

    return _switch_result(tasks, iterations, run(main()))


def asyncio_spawn(framework: str, tasks: int) -> Result:
    import asyncio

    run = _asyncio_runner(framework)

    async def noop() -> None:
        pass

    async def main() -> float:
        t0 = perf_counter()
        async with asyncio.TaskGroup() as tg:
            for _ in range(tasks):
                tg.create_task(noop())
        return perf_counter() - t0

    return _spawn_result(tasks, run(main()))


def asyncio_memory(framework: str, tasks: int) -> Result:
    import asyncio

    run = _asyncio_runner(framework)

    async def main() -> tuple[int, int]:
        before = rss_bytes()
        async with asyncio.TaskGroup() as tg:
            for _ in range(tasks):
                tg.create_task(asyncio.sleep(PARK_SECONDS))
            await asyncio.sleep(SETTLE_SECONDS)
            for _ in range(SETTLE_CHECKPOINTS):
                await asyncio.sleep(0)
            after = rss_bytes()
            me = asyncio.current_task()
            for task in asyncio.all_tasks():
                if task is not me:
                    task.cancel()
        return before, after

    return _memory_result(tasks, *run(main()))


def asyncio_timers(framework: str, delays: list[float]) -> Result:
    import asyncio

    run = _asyncio_runner(framework)

    async def main() -> float:
        t0 = perf_counter()
        async with asyncio.TaskGroup() as tg:
            for delay in delays:
                tg.create_task(asyncio.sleep(delay))
        return perf_counter() - t0

    return _timers_result(delays, run(main()))


# -- trio --------------------------------------------------------------------------------------


def trio_switch(tasks: int, iterations: int) -> Result:
    import trio

    start = [0.0]

    async def worker() -> None:
        if not start[0]:
            start[0] = perf_counter()
        for _ in range(iterations):
            await trio.lowlevel.checkpoint()

    async def main() -> float:
        async with trio.open_nursery() as nursery:
            for _ in range(tasks):
                nursery.start_soon(worker)
        return perf_counter() - start[0]

    return _switch_result(tasks, iterations, trio.run(main))


def trio_spawn(tasks: int) -> Result:
    import trio

    async def noop() -> None:
        pass

    async def main() -> float:
        t0 = perf_counter()
        async with trio.open_nursery() as nursery:
            for _ in range(tasks):
                nursery.start_soon(noop)
        return perf_counter() - t0

    return _spawn_result(tasks, trio.run(main))


def trio_memory(tasks: int) -> Result:
    import trio

    async def main() -> tuple[int, int]:
        before = rss_bytes()
        async with trio.open_nursery() as nursery:
            for _ in range(tasks):
                nursery.start_soon(trio.sleep, PARK_SECONDS)
            await trio.sleep(SETTLE_SECONDS)
            for _ in range(SETTLE_CHECKPOINTS):
                await trio.lowlevel.checkpoint()
            after = rss_bytes()
            nursery.cancel_scope.cancel()
        return before, after

    return _memory_result(tasks, *trio.run(main))


def trio_timers(delays: list[float]) -> Result:
    import trio

    async def main() -> float:
        t0 = perf_counter()
        async with trio.open_nursery() as nursery:
            for delay in delays:
                nursery.start_soon(trio.sleep, delay)
        return perf_counter() - t0

    return _timers_result(delays, trio.run(main))


# -- dispatch ----------------------------------------------------------------------------------


_JOB_FUNCTIONS: dict[str, dict[str, Callable[..., Result]]] = {
    "trapline": {
        "switch": trapline_switch,
        "spawn": trapline_spawn,
        "memory": trapline_memory,
        "timers": trapline_timers,
    },
    "asyncio": {
        "switch": asyncio_switch,
        "spawn": asyncio_spawn,
        "memory": asyncio_memory,
        "timers": asyncio_timers,
    },
    "trio": {
        "switch": trio_switch,
        "spawn": trio_spawn,
        "memory": trio_memory,
        "timers": trio_timers,
    },
}


def run_job(
    framework: str,
    job: str,
    *,
    tasks: int,
    iterations: int = 0,
    seed: int = 0,
    max_delay: float = 0.5,
) -> Result:
    """Run one job on one framework in this process and return its result dict."""
    if job not in JOBS:
        raise ValueError(f"unknown job {job!r}; choose from {', '.join(JOBS)}")
    args: tuple[Any, ...]
    if job == "switch":
        args = (tasks, iterations)
    elif job == "timers":
        args = (make_delays(tasks, seed, max_delay),)
    else:
        args = (tasks,)
    if framework in ("asyncio", "uvloop"):
        return _JOB_FUNCTIONS["asyncio"][job](framework, *args)
    if framework not in _JOB_FUNCTIONS:
        raise ValueError(f"unknown framework {framework!r}")
    return _JOB_FUNCTIONS[framework][job](*args)
