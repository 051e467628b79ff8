"""Running an asyncio program on trapline: ``run``, ``loop_factory`` and an event loop policy."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Coroutine
from typing import Any, TypeVar

from trapline.lowlevel import Clock

from ._loop import TraplineEventLoop

__all__ = ["EventLoopPolicy", "loop_factory", "run"]

T = TypeVar("T")


def loop_factory() -> TraplineEventLoop:
    """A new ``TraplineEventLoop`` on the system clock: pass it as ``loop_factory`` to
    ``asyncio.Runner`` (3.11+) or ``asyncio.run`` (3.12+)."""
    return TraplineEventLoop()


def run(
    main: Coroutine[Any, Any, T], *, debug: bool | None = None, clock: Clock | None = None
) -> T:
    """``asyncio.run(main)`` on trapline's kernel: the one-line change for an asyncio program.

    Same contract as ``asyncio.run`` (a fresh loop; remaining tasks cancelled, async generators
    and the default executor shut down, the loop closed; Ctrl-C cancels ``main`` and then raises
    ``KeyboardInterrupt``). ``clock``: a trapline clock, such as
    ``trapline.testing.VirtualClock()`` for virtual time. ``RuntimeError`` if an event loop is
    already running in this thread.
    """
    if asyncio._get_running_loop() is not None:
        if asyncio.iscoroutine(main):
            main.close()
        raise RuntimeError("trapline.aio.run() cannot be called from a running event loop")
    factory = functools.partial(TraplineEventLoop, clock=clock)
    with asyncio.Runner(debug=debug, loop_factory=factory) as runner:
        return runner.run(main)


class EventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """An event loop policy whose new loops are ``TraplineEventLoop``s:
    ``asyncio.set_event_loop_policy(trapline.aio.EventLoopPolicy())`` makes
    ``asyncio.new_event_loop()`` (and through it ``asyncio.run`` on 3.11) use trapline."""

    def new_event_loop(self) -> TraplineEventLoop:
        return TraplineEventLoop()
