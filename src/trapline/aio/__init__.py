"""asyncio on trapline's kernel: one scheduler, one poll and one clock for both.

``TraplineEventLoop`` is an asyncio event loop driven by a trapline task, so asyncio libraries
run unmodified next to trapline task groups. From trapline code, ``await run_asyncio(coro)``;
from asyncio code, ``await run_trapline(fn, *args)``; an asyncio program switches with
``trapline.aio.run(main())`` (or ``asyncio.Runner(loop_factory=trapline.aio.loop_factory)``).
Cancellation is translated only at those crossings. See ``docs/asyncio.md``.
"""

from ._bridge import run_asyncio, run_trapline
from ._loop import TraplineEventLoop, current_loop
from ._runner import EventLoopPolicy, loop_factory, run

__all__ = [
    "EventLoopPolicy",
    "TraplineEventLoop",
    "current_loop",
    "loop_factory",
    "run",
    "run_asyncio",
    "run_trapline",
]
