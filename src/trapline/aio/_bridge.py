"""Crossing between trapline code and asyncio code, with cancellation translated at the edge.

trapline's cancellation is level-triggered (a cancelled scope makes every checkpoint inside it
raise); asyncio's is edge-triggered (``Task.cancel()`` throws one ``CancelledError`` and counts
one request in ``cancelling()``). Neither model is emulated inside the other; each crossing
translates once:

* ``run_asyncio(aw)`` (trapline awaits asyncio): when the caller's scope is cancelled, the
  asyncio task gets exactly one ``cancel()``, counted by ``cancelling()`` so that
  ``asyncio.timeout`` and ``asyncio.TaskGroup`` inside it let it through; the trapline task then
  waits for the asyncio task to finish, as an asyncio task awaiting another does. If it ended
  cancelled, the caller's checkpoint raises the scope's ``Cancelled``.
* ``run_trapline(fn, *args)`` (asyncio awaits trapline): a ``cancel()`` of the awaiting asyncio
  task cancels a trapline scope around ``fn``; the asyncio task waits until ``fn`` has unwound
  and then gets its ``CancelledError`` (further cancels meanwhile are part of the same one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, final

from trapline import Cancelled, CancelScope
from trapline.lowlevel import Abort, Task, checkpoint, current_task, park, reschedule

from ._loop import TraplineEventLoop, current_loop

__all__ = ["run_asyncio", "run_trapline"]

T = TypeVar("T")


async def run_asyncio(aw: Awaitable[T]) -> T:
    """From trapline code: run ``aw`` (a coroutine, an asyncio Future or Task, or any asyncio
    awaitable) on the run's asyncio loop, wait for it, and return its result.

    Checkpoint: yes. Raises what the asyncio code raised. Cancellation: a cancelled enclosing
    scope cancels the asyncio task once (``Task.cancel()``, edge-triggered, as asyncio expects)
    and waits for it to finish; if it finished cancelled this raises the scope's
    ``Cancelled``, and if it finished anyway its result is returned (the next checkpoint
    raises). ``RuntimeError`` when called from asyncio code, which awaits ``aw`` directly.
    """
    loop = current_loop()
    task = current_task()
    if task is loop._driver:
        if asyncio.iscoroutine(aw):
            aw.close()
        raise RuntimeError("run_asyncio() is for trapline code; asyncio code awaits directly")
    future = asyncio.ensure_future(aw, loop=loop)
    if future.done():
        await checkpoint()
        return future.result()
    requested = False

    def wake(_: object) -> None:
        reschedule(task)

    def abort(_: Task) -> Abort:
        nonlocal requested
        if not requested:
            requested = True
            future.cancel("cancelled by a trapline cancel scope")
        # Keep waiting: the task unwinds in its own time and wake() resumes us.
        return Abort.FAILED

    future.add_done_callback(wake)
    await park(_Awaiting(future), abort)
    if requested and future.cancelled():
        await checkpoint()  # raises the scope's Cancelled: the level is still set
    return future.result()


@final
class _Awaiting:
    __slots__ = ("_future",)

    def __init__(self, future: asyncio.Future[Any]) -> None:
        self._future = future

    def __str__(self) -> str:
        future = self._future
        if isinstance(future, asyncio.Task):
            return f"asyncio task {future.get_name()!r}"
        return "asyncio future"


async def run_trapline(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """From asyncio code on a ``TraplineEventLoop``: run ``fn(*args)`` as a trapline task and
    return its result.

    ``fn`` runs in a trapline task (under the loop's driver in task listings) and may use any
    trapline API. Errors propagate. Cancellation: a ``cancel()`` of the awaiting asyncio task
    cancels a scope around ``fn`` (a trapline cancellation, level-triggered inside), waits for
    ``fn`` to unwind, then raises ``CancelledError`` (or the error ``fn`` raised while
    unwinding). If trapline cancels ``fn`` from outside (the run is ending), this raises
    ``CancelledError``. ``RuntimeError`` on any other event loop. It is an asyncio coroutine:
    a checkpoint of the calling asyncio task, as any await of a future is.
    """
    loop = asyncio.get_running_loop()
    if not isinstance(loop, TraplineEventLoop):
        raise RuntimeError(f"run_trapline() needs a trapline.aio event loop, not {loop!r}")
    outcome: asyncio.Future[tuple[Any, BaseException | None]] = loop.create_future()
    scope = CancelScope()
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    loop._spawn(_trapline_side, loop, fn, args, scope, outcome, name=name)
    try:
        value, error = await asyncio.shield(outcome)
    except asyncio.CancelledError:
        if not outcome.done():
            scope.cancel("the asyncio task awaiting run_trapline() was cancelled")
            while not outcome.done():
                try:
                    await asyncio.shield(outcome)
                except asyncio.CancelledError:
                    pass  # the same cancellation, still unwinding
            _, error = outcome.result()
            if error is not None and not isinstance(error, asyncio.CancelledError):
                raise error from None
        raise
    if error is not None:
        raise error
    result: T = value
    return result


async def _trapline_side(
    loop: TraplineEventLoop,
    fn: Callable[..., Awaitable[Any]],
    args: tuple[Any, ...],
    scope: CancelScope,
    outcome: asyncio.Future[tuple[Any, BaseException | None]],
) -> None:
    value: Any = None
    error: BaseException | None = asyncio.CancelledError("trapline cancelled this call")
    try:
        with scope:
            try:
                value = await fn(*args)
                error = None
            except Cancelled:
                raise
            except BaseException as exc:
                error = exc
    finally:
        if not outcome.done() and not loop.is_closed():
            outcome.set_result((value, error))
        del error
