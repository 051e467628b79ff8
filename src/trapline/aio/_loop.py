"""``TraplineEventLoop``: asyncio's event loop, driven by one trapline task.

asyncio's loop is a ready queue of callbacks, a heap of timers and a selector; ``_run_once``
polls the selector, moves due timers to the ready queue and runs what was ready. Here the same
``_run_once`` runs inside a trapline task, the *driver*, and the only blocking in the whole
program is trapline's:

* when asyncio has nothing ready, the driver parks with the earliest asyncio timer as its
  trapline deadline (so ``loop.time()`` is ``trapline.current_time()``, and on a virtual clock
  ``call_later(5, ...)`` runs at exactly 5.0);
* readiness comes from watcher tasks waiting in ``wait_readable``/``wait_writable``
  (``_selector.py``), which wake the driver;
* ``call_soon`` from trapline code and ``call_soon_threadsafe`` from other threads (through
  ``Token.run_sync_soon``) wake it too; otherwise it checkpoints between batches, so trapline
  tasks and asyncio callbacks share one run queue.

The loop subclasses ``asyncio.SelectorEventLoop`` and replaces only the selector, the self-pipe,
``time``, the default executor and signal handling, so transports, servers, streams, TLS,
datagrams, pipes and subprocesses are asyncio's own code. It runs in two ways:

* **asyncio drives trapline** (``run_forever``, ``asyncio.Runner(loop_factory=...)``,
  ``trapline.aio.run``): each ``run_forever`` is one ``trapline.run`` whose main task is the
  driver, until ``stop()``.
* **trapline hosts asyncio** (``trapline.aio.current_loop()``, ``run_asyncio``): the first use
  inside ``trapline.run`` starts the loop as a system task of that run; when the main task
  finishes, the remaining asyncio tasks are cancelled and awaited, async generators and the
  loop are shut down, as ``asyncio.run`` would.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import math
import signal
import sys
import threading
import time
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor
from types import FrameType
from typing import Any, TypeVar, TypeVarTuple, Unpack, final

import trapline
from trapline import Cancelled, CancelScope, RunFinishedError, TaskGroup, to_thread
from trapline.lowlevel import (
    Abort,
    Clock,
    Task,
    Token,
    checkpoint,
    current_clock,
    current_root_task,
    current_task,
    current_token,
    park,
    reschedule,
    spawn_system_task,
)

from ._selector import TraplineSelector

__all__ = ["TraplineEventLoop", "current_loop"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

# asyncio's own iteration: poll (ours never blocks), due timers, run what is ready.
_base_run_once: Callable[[asyncio.BaseEventLoop], None] = asyncio.BaseEventLoop._run_once  # type: ignore[attr-defined]


class TraplineEventLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop whose scheduling, time and I/O are trapline's.

    ``TraplineEventLoop(clock=None)``: ``clock`` is the trapline clock ``run_forever`` runs on
    (``trapline.testing.VirtualClock()`` for virtual time); inside ``trapline.run`` the loop
    uses the run's clock. Usually made by ``trapline.aio.run``, ``loop_factory`` or
    ``current_loop()`` rather than directly.
    """

    # asyncio internals this class drives (declared here for the type checker).
    _ready: deque[asyncio.Handle]
    _scheduled: list[asyncio.TimerHandle]
    _timer_cancelled_count: int
    _stopping: bool
    _thread_id: int | None
    _debug: bool
    _default_executor: Executor | None
    _asyncgens: weakref.WeakSet[Any]
    _asyncgens_shutdown_called: bool
    _signal_handlers: dict[int, asyncio.Handle]
    _add_callback_signalsafe: Callable[[asyncio.Handle], None]
    _check_closed: Callable[[], None]

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock
        self._driver: Task | None = None
        self._sleeping: Task | None = None
        self._sleep_until = math.inf
        self._token: Token | None = None
        self._group: TaskGroup | None = None
        self._hosted = False
        self._outer_hooks: Any = None
        self._signal_previous: dict[int, Any] = {}
        self._waits = _LoopWait(self)
        self._tsel = TraplineSelector(self._wake_driver, self.call_exception_handler)
        super().__init__(self._tsel)

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "closed" if self.is_closed() else "idle"
        return f"<TraplineEventLoop {state} debug={self.get_debug()}>"

    # -- time and scheduling -------------------------------------------------------------------

    def time(self) -> float:
        """The trapline clock's time (``time.monotonic()`` when running on the system clock)."""
        clock = self._clock
        return time.monotonic() if clock is None else clock.current_time()

    def call_soon(
        self,
        callback: Callable[[Unpack[Ts]], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        handle = super().call_soon(callback, *args, context=context)
        if self._debug:
            _drop_own_frame(handle)
        if self._sleeping is not None:  # called from a trapline task while the driver sleeps
            self._wake_driver()
        return handle

    def call_at(
        self,
        when: float,
        callback: Callable[[Unpack[Ts]], object],
        *args: *Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        timer = super().call_at(when, callback, *args, context=context)
        if self._debug:
            _drop_own_frame(timer)
        if self._sleeping is not None and when < self._sleep_until:
            self._wake_driver()
        return timer

    def stop(self) -> None:
        super().stop()
        if self._sleeping is not None:
            self._wake_driver()

    def _write_to_self(self) -> None:
        # call_soon_threadsafe and signal handlers: wake the driver through the run's token.
        token = self._token
        if token is not None:
            try:
                token.run_sync_soon(self._wake_driver)
            except RunFinishedError:
                pass

    def _make_self_pipe(self) -> None:
        pass  # no self-pipe: Token.run_sync_soon is the way in from other threads

    def _close_self_pipe(self) -> None:
        pass

    def _wake_driver(self) -> None:
        task = self._sleeping
        if task is not None:
            self._sleeping = None
            reschedule(task)

    def _stop_sleeping(self, task: Task) -> Abort:
        self._sleeping = None
        return Abort.SUCCEEDED

    # -- the driver ----------------------------------------------------------------------------

    def _run_once(self) -> None:
        # BaseEventLoop.run_forever calls this until stop(): run the loop on trapline instead,
        # one trapline.run per run_forever (asyncio's own setup and teardown stay as they are).
        if self._driver is not None:
            _base_run_once(self)
            return
        # Called directly rather than by run_forever (asyncio's own tests do): one iteration,
        # which is what asyncio's _run_once is.
        done = self._stop_requested if self.is_running() else _one_pass
        trapline.run(self._main, done, clock=self._clock)

    async def _main(self, done: Callable[[], bool]) -> None:
        _local.loop, _local.root = self, current_root_task()
        try:
            await self._serve(done)
        finally:
            if getattr(_local, "loop", None) is self:
                _local.loop = _local.root = None

    def _stop_requested(self) -> bool:
        return self._stopping

    def _until_cancelled(self) -> bool:
        self._stopping = False  # nobody waits in run_forever for a loop hosted by trapline
        return False

    async def _serve(self, done: Callable[[], bool]) -> None:
        """Attach to the current run and drive the loop until ``done()``; then detach.

        An exception escaping asyncio's callbacks (``SystemExit`` from ``sys.exit()`` in a task,
        ``KeyboardInterrupt``, anything ``_run_once`` lets through) leaves as itself, as it
        leaves asyncio's ``run_forever``, not wrapped in the task group's exception group."""
        escaped: BaseException | None = None
        try:
            async with TaskGroup() as group:
                self._group = group
                self._driver = current_task()
                self._token = current_token()
                self._tsel.attach(group)
                try:
                    await self._drive(done)
                except Cancelled:
                    raise
                except BaseException as error:
                    escaped = error
                finally:
                    self._tsel.detach()
                    self._group = self._driver = self._token = self._sleeping = None
                    group.cancel_scope.cancel()
        except BaseExceptionGroup as group_error:
            if escaped is None:
                raise
            # Trapline work started by asyncio code failed too: report both.
            raise BaseExceptionGroup(
                "asyncio loop failed", [escaped, *group_error.exceptions]
            ) from None
        if escaped is not None:
            try:
                raise escaped
            finally:
                escaped = None

    async def _drive(self, done: Callable[[], bool]) -> None:
        ready = self._ready
        selector = self._tsel
        while True:
            if selector.take_fresh():
                await checkpoint()  # new watchers register their fds before the next poll
            if ready or self._stopping or selector.has_events:
                # More to run: let trapline tasks have their turn, but come back through a
                # deadline of "now" rather than a plain checkpoint, because the kernel fires
                # deadlines after it has polled I/O and woken the watchers. So, as in asyncio,
                # every iteration sees the I/O that is ready before it runs callbacks.
                deadline = self.time()
            else:
                scheduled = self._scheduled
                # Drop cancelled timers at the head first, as asyncio's _run_once does before
                # it computes its select() timeout: the driver must not wake (nor, on a
                # virtual clock, move time) for a timer that nobody waits for any more.
                while scheduled and scheduled[0].cancelled():
                    self._timer_cancelled_count -= 1
                    heapq.heappop(scheduled)._scheduled = False  # type: ignore[attr-defined]
                deadline = scheduled[0].when() if scheduled else math.inf
            self._sleep_until = deadline
            self._sleeping = self._driver
            await park(self._waits, self._stop_sleeping, deadline=deadline)
            self._sleeping = None
            _base_run_once(self)
            if done():
                return

    def _spawn(self, fn: Callable[..., Coroutine[Any, Any, None]], *args: Any, name: str) -> None:
        """Start trapline work on behalf of asyncio code, in the driver's task group."""
        group = self._group
        if group is None:
            raise RuntimeError(f"{self!r} is not running on trapline")
        group.spawn(fn, *args, name=name)

    # -- hosted inside a trapline run ----------------------------------------------------------

    def _start_hosted(self) -> None:
        """Become the running loop of the current trapline run, driven by a system task."""
        self._hosted = True
        self._thread_id = threading.get_ident()
        asyncio._set_running_loop(self)
        self._outer_hooks = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(
            firstiter=self._asyncgen_firstiter_hook, finalizer=self._asyncgen_finalizer_hook
        )
        _local.loop, _local.root = self, current_root_task()
        spawn_system_task(self._serve_hosted, name="asyncio-loop")

    async def _serve_hosted(self) -> None:
        try:
            await self._serve(self._until_cancelled)
        finally:
            try:
                # The main task finished: wind asyncio down as asyncio.run would.
                with CancelScope(shield=True):
                    shutdown = self.create_task(self._shutdown(), name="asyncio-loop shutdown")
                    await self._serve(shutdown.done)
                    shutdown.result()
            finally:
                self._unhost()

    def _unhost(self) -> None:
        if self._outer_hooks is not None:
            sys.set_asyncgen_hooks(*self._outer_hooks)
        if asyncio._get_running_loop() is self:
            asyncio._set_running_loop(None)
        self._thread_id = None
        self.close()
        if getattr(_local, "loop", None) is self:
            _local.loop = _local.root = None

    async def _shutdown(self) -> None:
        this = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks(self) if task is not this]
        for task in pending:
            task.cancel()
        results = await asyncio.gather(*pending, return_exceptions=True)
        for task, result in zip(pending, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                self.call_exception_handler(
                    {
                        "message": "unhandled exception during trapline.run() shutdown",
                        "exception": result,
                        "task": task,
                    }
                )
        await self.shutdown_asyncgens()
        await self.shutdown_default_executor()

    # -- executor ------------------------------------------------------------------------------

    def run_in_executor(
        self, executor: Executor | None, func: Callable[[Unpack[Ts]], T], *args: *Ts
    ) -> asyncio.Future[T]:
        """Without an executor: ``trapline.to_thread.run_sync`` (trapline's worker threads and
        limiter). Cancelling the future abandons the call, as asyncio's executors do."""
        if executor is not None or self._default_executor is not None or self._group is None:
            return super().run_in_executor(executor, func, *args)
        self._check_closed()
        future: asyncio.Future[T] = self.create_future()
        name = getattr(func, "__name__", type(func).__name__)
        self._spawn(self._in_thread, future, func, args, name=f"run_in_executor {name}")
        return future

    async def _in_thread(
        self, future: asyncio.Future[T], func: Callable[..., T], args: tuple[Any, ...]
    ) -> None:
        scope = CancelScope()
        future.add_done_callback(lambda f: scope.cancel() if f.cancelled() else None)
        try:
            with scope:
                try:
                    result = await to_thread.run_sync(func, *args, abandon_on_cancel=True)
                except Cancelled:
                    raise
                except BaseException as error:
                    if not future.done():
                        future.set_exception(error)
                else:
                    if not future.done():
                        future.set_result(result)
        finally:
            if not future.done() and not self.is_closed():
                future.cancel()

    # -- signals -------------------------------------------------------------------------------

    def add_signal_handler(
        self, sig: int, callback: Callable[[Unpack[Ts]], object], *args: *Ts
    ) -> None:
        """Call ``callback(*args)`` in the loop when signal ``sig`` arrives. Main thread only.

        The Python-level handler only queues the handle and wakes the driver through the run's
        token (no ``signal.set_wakeup_fd``, which trapline may be using)."""
        if asyncio.iscoroutine(callback) or asyncio.iscoroutinefunction(callback):
            raise TypeError("coroutines cannot be used with add_signal_handler()")
        _check_signal(sig)
        self._check_closed()
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("signal handlers can only be added in the main thread")
        handle = asyncio.Handle(callback, args, self, None)
        try:
            previous = signal.signal(sig, self._on_signal)
            signal.siginterrupt(sig, False)
        except OSError as error:
            raise RuntimeError(f"sig {sig} cannot be caught") from error
        self._signal_previous.setdefault(sig, previous)
        self._signal_handlers[sig] = handle

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        handle = self._signal_handlers.get(signum)
        if handle is None:
            return
        if handle.cancelled():
            self.call_soon_threadsafe(self.remove_signal_handler, signum)
        else:
            self._add_callback_signalsafe(handle)

    def remove_signal_handler(self, sig: int) -> bool:
        """Remove the handler for ``sig`` and restore the one that was there before."""
        _check_signal(sig)
        if self._signal_handlers.pop(sig, None) is None:
            return False
        previous = self._signal_previous.pop(sig, None)
        if previous is None:
            previous = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
        try:
            signal.signal(sig, previous)
        except OSError as error:
            raise RuntimeError(f"sig {sig} cannot be caught") from error
        return True

    # -- async generators ----------------------------------------------------------------------

    def _asyncio_is_running(self) -> bool:
        """Is the code running now asyncio's (a callback or task step in the driver)?"""
        driver = self._driver
        if driver is None:
            return True
        try:
            return current_task() is driver
        except RuntimeError:
            return True

    def _asyncgen_firstiter_hook(self, agen: Any) -> None:
        if self._asyncio_is_running():
            if self._asyncgens_shutdown_called:
                warnings.warn(
                    f"asynchronous generator {agen!r} was scheduled after "
                    "loop.shutdown_asyncgens() call",
                    ResourceWarning,
                    source=self,
                    stacklevel=2,
                )
            self._asyncgens.add(agen)
        elif self._outer_hooks is not None and self._outer_hooks.firstiter is not None:
            self._outer_hooks.firstiter(agen)

    def _asyncgen_finalizer_hook(self, agen: Any) -> None:
        if agen in self._asyncgens:
            self._asyncgens.discard(agen)
            if not self.is_closed():
                self.call_soon_threadsafe(self.create_task, agen.aclose())
        elif self._outer_hooks is not None and self._outer_hooks.finalizer is not None:
            self._outer_hooks.finalizer(agen)
        else:
            _close_now(agen)


@final
class _LoopWait:
    """The driver's wait reason in task listings."""

    __slots__ = ("_loop",)

    def __init__(self, loop: TraplineEventLoop) -> None:
        self._loop = loop

    def __str__(self) -> str:
        loop = self._loop
        tasks = len(asyncio.all_tasks(loop)) if loop.is_running() else 0
        return f"asyncio loop ({tasks} asyncio tasks)"


def _one_pass() -> bool:
    return True


def _drop_own_frame(handle: asyncio.Handle) -> None:
    """In debug mode a handle records where it was scheduled; asyncio drops its own frame
    from that stack, and our wrapper drops its own too, so the stack ends at the caller.
    (Called only in debug mode: ``call_soon`` is the hot path.)"""
    stack = getattr(handle, "_source_traceback", None)
    if stack:
        del stack[-1]


def _check_signal(sig: int) -> None:
    if not isinstance(sig, int):
        raise TypeError(f"sig must be an int, not {sig!r}")
    if sig not in signal.valid_signals():
        raise ValueError(f"invalid signal number {sig}")


def _close_now(agen: Any) -> None:
    """Finalise a trapline async generator as CPython does without hooks: close it in place."""
    closer = agen.aclose()
    try:
        closer.send(None)
    except StopIteration:
        return
    except BaseException as error:  # reported like any error in a finaliser
        sys.unraisablehook(_Unraisable(error, agen))  # type: ignore[arg-type]
        return
    closer.close()
    awaited = RuntimeError(f"async generator {agen!r} awaited while being garbage-collected")
    sys.unraisablehook(_Unraisable(awaited, agen))  # type: ignore[arg-type]


@final
class _Unraisable:
    __slots__ = ("err_msg", "exc_traceback", "exc_type", "exc_value", "object")

    def __init__(self, error: BaseException, obj: object) -> None:
        self.exc_type = type(error)
        self.exc_value = error
        self.exc_traceback = error.__traceback__
        self.err_msg = "Exception ignored while closing an async generator"
        self.object = obj


# The loop of the trapline run going on in this thread (runs cannot nest in a thread).
_local = threading.local()


def current_loop() -> TraplineEventLoop:
    """The asyncio event loop of the current ``trapline.run``, started on first use.

    Not a checkpoint. From then on ``asyncio.get_running_loop()`` returns it in every trapline
    task too. The loop lives until the main task finishes; then its remaining asyncio tasks
    are cancelled and awaited, and it is closed (``RuntimeError`` if used after that).
    """
    root = current_root_task()
    loop: TraplineEventLoop | None = getattr(_local, "loop", None)
    if loop is not None and _local.root is root:
        if loop.is_closed():
            raise RuntimeError("this trapline run's asyncio loop has been shut down")
        return loop
    running = asyncio._get_running_loop()
    if running is not None:
        raise RuntimeError(f"another asyncio event loop is running in this thread: {running!r}")
    loop = TraplineEventLoop(clock=current_clock())
    loop._start_hosted()
    return loop
