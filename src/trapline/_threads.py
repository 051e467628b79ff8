"""Run blocking functions in worker threads without blocking the run loop.

``await trapline.to_thread.run_sync(fn, *args)`` hands ``fn`` to a cached pool of worker threads
(a thread idle for 10 seconds exits) and parks the task until the result comes back through
``Token.run_sync_soon``. ``fn`` runs in a copy of the caller's ``contextvars`` context.
"""

from __future__ import annotations

import contextvars
import inspect
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ._core import RunFinishedError
from ._sync import CapacityLimiter
from .lowlevel import (
    Abort,
    Task,
    checkpoint_if_cancelled,
    current_task,
    current_token,
    park,
    spawn_system_task,
)
from .lowlevel import reschedule as _reschedule

__all__ = ["default_limiter", "from_thread_run", "from_thread_run_sync", "run_sync"]

T = TypeVar("T")

_IDLE_SECONDS = 10.0


class _Worker:
    __slots__ = ("job", "wake")

    def __init__(self) -> None:
        self.wake = threading.Event()
        self.job: Callable[[], None] | None = None


class _Pool:
    """Threads are started on demand and reused while busy work keeps coming."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is None:
            worker = _Worker()
            worker.job = job
            threading.Thread(
                target=self._work, args=(worker,), name="trapline worker", daemon=True
            ).start()
        else:
            worker.job = job
            worker.wake.set()

    def _work(self, worker: _Worker) -> None:
        while True:
            job = worker.job
            worker.job = None
            if job is not None:
                job()
            with self._lock:
                self._idle.append(worker)
            if not worker.wake.wait(_IDLE_SECONDS):
                with self._lock:
                    if worker in self._idle:
                        self._idle.remove(worker)
                        return
                # Picked between the timeout and taking the lock: the job is coming.
                worker.wake.wait()
            worker.wake.clear()


_pool = _Pool()

# The token of the run a worker thread is working for (what from_thread uses).
_worker = threading.local()


def _token_for_this_thread() -> Any:
    token = getattr(_worker, "token", None)
    if token is None:
        raise RuntimeError(
            "this thread was not started by trapline.to_thread.run_sync(); pass a token "
            "(trapline.lowlevel.current_token()) explicitly"
        )
    return token


def _resolve_token(token: Any, what: str) -> Any:
    """The run to call into. In that run's own thread, blocking until the run answers would
    hang it forever: refuse with a message that says what to do instead."""
    try:
        current_task()
    except RuntimeError:  # not inside a run in this thread: the intended use
        return token or _token_for_this_thread()
    if token is None or token == current_token():
        raise RuntimeError(
            f"trapline.from_thread.{what}() was called from the trapline run's own thread, "
            "where waiting for the run would block it forever; in async code, call (or await) "
            "the function directly. from_thread is for threads started by "
            "trapline.to_thread.run_sync() or given a token"
        )
    return token


def from_thread_run(async_fn: Callable[..., Any], *args: Any, token: Any = None) -> Any:
    """From a worker thread: run ``async_fn(*args)`` in the trapline run as a system task, block
    this thread until it finishes, and return its result (or raise its error). ``RuntimeError``
    in the run's own thread."""
    token = _resolve_token(token, "run")
    done = threading.Event()
    outcome: list[Any] = []

    async def runner() -> None:
        try:
            outcome.append((True, await async_fn(*args)))
        except BaseException as error:
            outcome.append((False, error))
        finally:
            done.set()

    def start() -> None:
        try:
            spawn_system_task(runner, name=getattr(async_fn, "__name__", None))
        except BaseException as error:
            outcome.append((False, error))
            done.set()

    token.run_sync_soon(start)
    done.wait()
    ok, value = outcome[0]
    if ok:
        return value
    raise value


def from_thread_run_sync(fn: Callable[..., T], *args: Any, token: Any = None) -> T:
    """From a worker thread: call ``fn(*args)`` in the trapline run's thread and return its
    result (or raise its error), blocking this thread meanwhile. ``RuntimeError`` in the run's
    own thread."""
    token = _resolve_token(token, "run_sync")
    done = threading.Event()
    outcome: list[Any] = []

    def call() -> None:
        try:
            outcome.append((True, fn(*args)))
        except BaseException as error:
            outcome.append((False, error))
        finally:
            done.set()

    token.run_sync_soon(call)
    done.wait()
    ok, value = outcome[0]
    if ok:
        return value  # type: ignore[no-any-return]
    raise value


_default_limiter: CapacityLimiter | None = None


def default_limiter() -> CapacityLimiter:
    """The limiter ``run_sync`` uses when given none: 40 threads at once, per process."""
    global _default_limiter
    if _default_limiter is None:
        _default_limiter = CapacityLimiter(40)
    return _default_limiter


async def run_sync(
    fn: Callable[..., T],
    *args: Any,
    abandon_on_cancel: bool = False,
    limiter: CapacityLimiter | None = None,
) -> T:
    """Call ``fn(*args)`` in a worker thread and return its result (or raise its error).

    At most ``limiter.total_tokens`` calls run at once (``default_limiter()``, 40, if None);
    the rest wait for a token. Checkpoint: yes. Cancellation: while waiting for a token, the
    call simply does not happen; once running, by default the task keeps waiting for the thread
    to finish (a thread cannot be interrupted) and gets ``Cancelled`` at its next checkpoint;
    with ``abandon_on_cancel=True`` it raises ``Cancelled`` at once and the thread's eventual
    result is discarded. ``TypeError`` if ``fn`` returns a coroutine (an async function).
    """
    await checkpoint_if_cancelled()
    if limiter is None:
        limiter = default_limiter()
    # The borrower is the call itself: its token is returned when the thread finishes, even if
    # the task stopped waiting (abandon_on_cancel), so the limit bounds real threads.
    borrower = object()
    await limiter.acquire_on_behalf_of(borrower)
    token = current_token()
    task = current_task()
    context = contextvars.copy_context()
    abandoned = False

    def deliver(ok: bool, value: Any) -> None:
        limiter.release_on_behalf_of(borrower)
        if abandoned:
            return
        if ok:
            _reschedule(task, value)
        else:
            _reschedule(task, error=value)

    name = getattr(fn, "__name__", repr(fn))

    def job() -> None:
        _worker.token = token
        try:
            value = context.run(fn, *args)
            if inspect.iscoroutine(value):  # an async function: it would never run
                value.close()
                raise TypeError(
                    f"trapline.to_thread.run_sync() calls plain functions in a thread, but "
                    f"{name}() returned a coroutine: await it directly instead"
                )
            result: tuple[bool, Any] = (True, value)
        except BaseException as error:
            result = (False, error)
        finally:
            _worker.token = None
        try:
            token.run_sync_soon(deliver, *result)
        except RunFinishedError:
            pass

    def abort(_task: Task) -> Abort:
        nonlocal abandoned
        if abandon_on_cancel:
            abandoned = True
            return Abort.SUCCEEDED
        return Abort.FAILED

    try:
        _pool.submit(job)
    except BaseException:
        limiter.release_on_behalf_of(borrower)
        raise
    result: T = await park(f"thread running {name}()", abort)
    return result
