"""One measurement of the KV client benchmark, in a fresh process (``benchmarks/kv_client.py``).

    python -m benchmarks.kv_client_jobs CLIENT JOB PORT DURATION WARMUP [CPU]

CLIENT is ``trapline`` (``trapline.kv.connect``) or ``redis-py`` (``redis.asyncio`` on asyncio's
default event loop). JOB is one of ``JOBS``. Prints one JSON line: operations, seconds, the
process's CPU seconds over the measured window, and where trapline was imported from.

The jobs do the same thing with both clients, written the way each client's documentation
says to write it:

- ``sequential``: one task, ``await db.set(key, value)`` then ``await db.get(key)``, each
  awaited before the next is sent (one round trip per operation).
- ``pipeline``: one task, batches of ``BATCH`` commands (SET and GET alternating) sent as one
  pipeline (no MULTI/EXEC: ``transaction=False`` for redis-py, the default for trapline).
- ``concurrent``: ``TASKS`` tasks share one client whose pool holds at most ``POOL``
  connections, each doing sequential SET/GET (redis-py: a ``BlockingConnectionPool``, so
  tasks wait for a connection as trapline's pool makes them do).

The clock runs in windows: the job runs until ``WARMUP`` seconds have passed (connections
made, code warm), then counts operations until ``DURATION`` more have passed. Time is checked
between rounds of ``ROUND`` operations, so the check costs nothing measurable.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

BATCH = 100
TASKS = 100
POOL = 20
ROUND = 100  # operations between clock checks (sequential and concurrent)
VALUE = b"x" * 100

JOBS = ("sequential", "pipeline", "concurrent")
CLIENTS = ("trapline", "redis-py")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Window:
    """Counts operations done after the warm-up and before the end of the measured window."""

    def __init__(self, warmup: float, duration: float) -> None:
        self.start = time.perf_counter() + warmup
        self.end = self.start + duration
        self.measuring = False
        self.ops = 0
        self.cpu_start = 0.0
        self.t0 = 0.0
        self.t1 = 0.0
        self.cpu = 0.0

    def tick(self, ops: int) -> bool:
        """Record ``ops`` finished operations; False once the window is over."""
        now = time.perf_counter()
        if not self.measuring:
            if now >= self.start:
                self.measuring = True
                self.t0 = now
                self.cpu_start = _cpu()
            return True
        if self.t1:
            return False
        self.ops += ops
        if now >= self.end:
            self.t1 = now
            self.cpu = _cpu() - self.cpu_start
            return False
        return True


async def _sequential(
    set_: Callable[[bytes, bytes], Awaitable[Any]],
    get: Callable[[bytes], Awaitable[Any]],
    window: Window,
    key: bytes,
) -> None:
    while True:
        for _ in range(ROUND // 2):
            await set_(key, VALUE)
            if await get(key) != VALUE:
                raise AssertionError("GET returned something else")
        if not window.tick(ROUND):
            return


async def trapline_job(job: str, port: int, window: Window) -> None:
    import trapline.kv

    url = f"redis://127.0.0.1:{port}"
    if job == "sequential":
        async with trapline.kv.connect(url) as db:
            await _sequential(db.set, db.get, window, b"seq")
    elif job == "pipeline":
        async with trapline.kv.connect(url) as db:
            keys = [b"pipe:%d" % i for i in range(BATCH // 2)]
            while True:
                p = db.pipeline()
                for key in keys:
                    p.set(key, VALUE)
                    p.get(key)
                results = await p.run(raise_on_error=True)
                if results[-1] != VALUE:
                    raise AssertionError("GET returned something else")
                if not window.tick(BATCH):
                    return
    elif job == "concurrent":
        async with trapline.kv.connect(url, max_connections=POOL) as db:
            async with trapline.TaskGroup() as tg:
                for i in range(TASKS):
                    tg.spawn(_sequential, db.set, db.get, window, b"task:%d" % i)
    else:
        raise ValueError(job)


async def redis_py_job(job: str, port: int, window: Window) -> None:
    import asyncio

    import redis.asyncio

    if job == "sequential":
        db = redis.asyncio.Redis(host="127.0.0.1", port=port)
        try:
            await _sequential(db.set, db.get, window, b"seq")
        finally:
            await db.aclose()
    elif job == "pipeline":
        db = redis.asyncio.Redis(host="127.0.0.1", port=port)
        try:
            keys = [b"pipe:%d" % i for i in range(BATCH // 2)]
            while True:
                async with db.pipeline(transaction=False) as p:
                    for key in keys:
                        p.set(key, VALUE)
                        p.get(key)
                    results = await p.execute()
                if results[-1] != VALUE:
                    raise AssertionError("GET returned something else")
                if not window.tick(BATCH):
                    return
        finally:
            await db.aclose()
    elif job == "concurrent":
        pool = redis.asyncio.BlockingConnectionPool(
            host="127.0.0.1", port=port, max_connections=POOL
        )
        db = redis.asyncio.Redis(connection_pool=pool)
        try:
            async with asyncio.TaskGroup() as tg:
                for i in range(TASKS):
                    tg.create_task(_sequential(db.set, db.get, window, b"task:%d" % i))
        finally:
            await db.aclose()
            await pool.aclose()
    else:
        raise ValueError(job)


def main(argv: list[str]) -> int:
    client, job, port, duration, warmup = argv[:5]
    if len(argv) > 5:
        os.sched_setaffinity(0, {int(argv[5])})
    window = Window(float(warmup), float(duration))
    if client == "trapline":
        import trapline

        trapline.run(trapline_job, job, int(port), window)
        source = trapline.__file__
    elif client == "redis-py":
        import asyncio

        asyncio.run(redis_py_job(job, int(port), window))
        source = None
    else:
        raise ValueError(client)
    if not window.t1:
        raise RuntimeError("the measured window did not end")
    print(
        json.dumps(
            {
                "ops": window.ops,
                "seconds": window.t1 - window.t0,
                "cpu": window.cpu,
                "trapline_file": source,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
