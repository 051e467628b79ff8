"""The run loop: one generator that ``run()``, the ``Stepper`` and tests all drive.

How it works, in the seed tutorial's terms: every task is a coroutine that the loop drives with
``send``. A task runs until it yields one of the trap messages (``_traps.py``): ``CHECKPOINT`` puts
it at the back of the ready queue, a ``Park`` sets it aside until somebody (a parking lot, a timer,
the I/O backend, cancellation) reschedules it with a value to send. ``StopIteration`` carries the
task's return value, any other exception its error.

The loop itself is a generator. Each pass it yields how long it may block (``events = yield
timeout``), and the driver, ``drive()`` here or the ``Stepper``, does the blocking and sends back
what happened. So the one loop serves the real scheduler, the step-by-step "human scheduler", and
tests, and the only blocking call lives in the driver. Each pass: take I/O events, deliver a
pending Ctrl-C, fire expired deadlines, then run the tasks that were ready when the pass began
(FIFO, so the same program always steps in the same order).

Hot-path choices, measured: the checkpoint is the bare trap (no extra frame); a task's "cancel
pending" flag is cached so a checkpoint reads one attribute; a resumed-from-checkpoint task carries
``CHECKPOINT`` as its next value so cancellation can be checked at resume time without a second
flag; objects are slotted and free of reference cycles.
"""

from __future__ import annotations

import contextvars
import math
import os
import signal
import threading
import types
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable
from typing import Any, TypeVar, final

from ._cancel import CancelScope, cancelled_error_for
from ._clock import Clock, SystemClock
from ._coerce import coerce_coroutine
from ._deadlines import Deadlines
from ._exceptions import Cancelled, DeadlockError, explain_foreign_error
from ._instrument import Instrument, Instruments
from ._io import make_backend
from ._schedule import Schedule, pick_next
from ._task import Task
from ._traps import (
    CHECKPOINT,
    SLEEPING,
    YIELD,
    Abort,
    AbortFn,
    Delay,
    Park,
    Raise,
    checkpoint,
    trap,
    trap_iter,
)

__all__ = [
    "Runner",
    "current_clock",
    "current_root_task",
    "current_runner",
    "current_task",
    "current_time",
    "park",
    "reschedule",
    "run",
    "sleep",
    "sleep_forever",
    "sleep_until",
]

T = TypeVar("T")

_local = threading.local()
_new_task = object.__new__
_copy_context = contextvars.copy_context


class _RootGroup:
    """Stands in for a task group above the main task, so cancellation reaches it."""

    __slots__ = ("_children",)

    def __init__(self) -> None:
        self._children: dict[Task, None] = {}


class _SystemGroup:
    """Owns system tasks (work the kernel runs on behalf of other threads and the like).

    They live under the root scope, are cancelled when the main task finishes, and the run ends
    only when they are gone. A system task that fails ends the run with its error."""

    __slots__ = ("_children", "_runner")

    def __init__(self, runner: Runner) -> None:
        self._children: dict[Task, None] = {}
        self._runner = runner

    def _child_exited(self, task: Task) -> None:
        del self._children[task]
        error = task._error
        runner = self._runner
        if error is not None and not isinstance(error, Cancelled) and runner.crash is None:
            runner.crash = error
            runner.root_scope._cancel(f"system task {task.name!r} failed", "system task")


@final
class Runner:
    """The kernel's state for one ``trapline.run``. Internal; reached through ``current_*()``."""

    __slots__ = (
        "_next_id",
        "backend",
        "clock",
        "crash",
        "current_task",
        "deadlines",
        "deadlock",
        "entries",
        "finished",
        "instruments",
        "ki_pending",
        "ki_raised",
        "main_task",
        "ready",
        "root_scope",
        "schedule",
        "step_limit",
        "system_group",
        "system_scope",
        "token_ref",
    )

    def __init__(
        self, clock: Clock | None, instruments: Iterable[Instrument], backend: Any = None
    ) -> None:
        if clock is None:
            clock = SystemClock()
        elif not isinstance(clock, Clock):
            raise TypeError(
                f"clock must have current_time() and deadline_to_sleep(), not {clock!r}"
            )
        self.clock = clock
        self.instruments = Instruments(instruments)
        self.deadlines = Deadlines()
        self.ready: deque[Task] = deque()
        self.backend = make_backend() if backend is None else backend
        self.current_task: Task | None = None
        self.main_task: Task | None = None
        self.ki_pending = False
        self.ki_raised = False
        # Functions queued by other threads (Token.run_sync_soon); see _entry.py.
        self.entries: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self.crash: BaseException | None = None
        self.finished = False
        self.token_ref: Any = None  # weak reference to the live Token, if any (see _entry)
        self.deadlock: DeadlockError | None = None
        self.step_limit = 0
        self.schedule: Schedule | None = None  # None: FIFO (see _schedule.py)
        self._next_id = 0
        root = self.root_scope = CancelScope()
        root._state = 1
        root._runner = self
        root._group = _RootGroup()  # type: ignore[assignment]
        system = self.system_scope = CancelScope()
        system._state = 1
        system._runner = self
        system._parent = root
        root._child = system  # so cancelling the root reaches system tasks too
        self.system_group = _SystemGroup(self)
        system._group = self.system_group  # type: ignore[assignment]

    # -- tasks ---------------------------------------------------------------------------------

    def spawn(
        self, coro: Coroutine[Any, Any, Any], group: Any, base: CancelScope, name: str | None
    ) -> Task:
        # Slots that are rarely set (_name, _own_scope, _child_groups, and _result/_error until
        # the task ends) are left unset: every store here is paid 100,000 times in a burst.
        task = _new_task(Task)
        task.coro = coro
        task._send = coro.send
        task._next = None
        task.context = _copy_context()
        task._runner = self
        task._id = self._next_id
        self._next_id += 1
        if name is not None:
            task._name = name
        task._group = group
        task._base = task._scope = base
        task._outer = None
        task._cancel_pending = base._eff
        task._wait = None
        task._timer = None
        task._waiters = None
        group._children[task] = None
        self.ready.append(task)
        if self.instruments:
            self.instruments.call("task_spawned", task)
        return task

    def _task_exited(self, task: Task, result: Any, error: BaseException | None) -> None:
        task._send = None  # marks the task done
        task._result = result
        task._error = error
        if error is not None:
            tb = error.__traceback__
            # Drop the run loop's own frame: tracebacks start at the task's coroutine.
            if tb is not None and tb.tb_frame.f_code is _LOOP_CODE:
                error.__traceback__ = tb.tb_next
            if type(error) is RuntimeError:  # not a call per cancelled task
                explain_foreign_error(error)
        group = task._group
        if group is not None:
            group._child_exited(task)
        elif task is self.main_task:
            self.system_scope._cancel("the main task finished", "trapline.run")
        waiters = task._waiters
        if waiters:
            task._waiters = None
            for waiter in waiters:
                self.wake(waiter, None)
        if self.instruments:
            self.instruments.call("task_exited", task)

    # -- parking and waking --------------------------------------------------------------------

    def park(self, task: Task, message: Park) -> None:
        task._wait = message
        if message.deadline != math.inf:
            task._timer = self.deadlines.add(message.deadline, task)
        if task._cancel_pending:
            self.try_abort(task)

    def sleep(self, task: Task, delay: float) -> None:
        task._wait = SLEEPING
        task._timer = self.deadlines.add(self.clock.current_time() + delay, task)
        if task._cancel_pending:
            self.try_abort(task)

    def wake(self, task: Task, value: Any) -> None:
        """Make a parked task ready, to be resumed with ``value`` (a ``Raise`` to raise)."""
        if self.instruments:
            self.instruments.call("task_woken", task, self.current_task)
        task._wait = None
        if task._timer is not None:
            task._timer = None
            self.deadlines.discard()
        task._next = value
        self.ready.append(task)

    def try_abort(self, task: Task) -> None:
        """The task's scope was cancelled while it is parked: undo the wait if we can."""
        wait = task._wait
        assert wait is not None
        abort_fn = wait.abort_fn
        if abort_fn is None or abort_fn(task) is Abort.SUCCEEDED:
            self.wake(task, cancelled_error_for(task))

    def deadline_wake(self, task: Task) -> None:
        """A parked task's deadline passed (its timer entry is already gone)."""
        wait = task._wait
        assert wait is not None
        abort_fn = wait.abort_fn
        if abort_fn is None or abort_fn(task) is Abort.SUCCEEDED:
            self.wake(task, None)

    # -- the loop ------------------------------------------------------------------------------

    def loop(self) -> Generator[float, Any, None]:
        """The run loop. Yields a timeout, receives I/O events; ends when the main task is done."""
        ready = self.ready
        popleft = ready.popleft
        append = ready.append
        deadlines = self.deadlines
        clock = self.clock
        backend = self.backend
        instruments = self.instruments
        main = self.main_task
        assert main is not None
        ckpt = CHECKPOINT
        system_tasks = self.system_group._children
        schedule = self.schedule
        one_at_a_time = bool(self.step_limit) or schedule is not None  # both set before the loop
        while not main._done or system_tasks:
            if ready:
                timeout = 0.0
            else:
                deadline = deadlines.next_deadline()
                if deadline == math.inf and backend.idle and self._nothing_can_wake():
                    self._deadlocked()
                    continue
                timeout = clock.deadline_to_sleep(deadline)
            events = yield timeout
            if events:
                backend.process_events(events)
            if self.ki_pending:
                self._deliver_ki()
            if self.entries:
                self._run_entries()
            heap = deadlines.heap
            if heap and heap[0][0] <= clock.current_time():
                deadlines.expire(clock.current_time(), instruments)
            batch = len(ready)
            if one_at_a_time and batch:
                batch = 1 if schedule is None else pick_next(schedule, ready)
            hooks = bool(instruments)
            while batch:
                batch -= 1
                task = popleft()
                value = task._next
                if value is ckpt:
                    value = cancelled_error_for(task) if task._cancel_pending else None
                self.current_task = task
                if hooks:
                    instruments.call("before_task_step", task)
                try:
                    message = task.context.run(task._send, value)
                except StopIteration as stop:
                    self._task_exited(task, stop.value, None)
                except BaseException as error:
                    self._task_exited(task, None, error)
                else:
                    if message is ckpt:
                        task._next = ckpt
                        append(task)
                    elif type(message) is Park:
                        self.park(task, message)
                    elif type(message) is Delay:
                        self.sleep(task, message)
                    elif message is YIELD:
                        task._next = None
                        append(task)
                    else:
                        self._bad_yield(task, message)
                if hooks:
                    self.current_task = None
                    instruments.call("after_task_step", task)
            self.current_task = None

    def _nothing_can_wake(self) -> bool:
        """No task is ready, no deadline, no fd of interest: can anything else wake a task?"""
        if self.entries or self.step_limit or self.ki_pending:
            return False
        ref = self.token_ref
        return ref is None or ref() is None  # no thread or signal handler holds a token

    def _deadlocked(self) -> None:
        if self.deadlock is not None:
            # Even cancelling everything left tasks waiting forever (shielded): give up.
            raise self.deadlock
        lines = ["every task is waiting and nothing can ever wake any of them:"]
        for task in self.all_tasks():
            lines.append(f"  {task.name:<24} waits for {task.wait_reason}")
        self.deadlock = DeadlockError("\n".join(lines))
        self.root_scope._cancel("deadlock (see DeadlockError)", "deadlock detector")

    def all_tasks(self) -> list[Task]:
        """Every unfinished task (main, its task groups' tasks, system tasks), by spawn order."""
        found: list[Task] = []
        stack = [self.main_task] if self.main_task is not None else []
        stack += list(self.system_group._children)
        while stack:
            task = stack.pop()
            if not task._done:
                found.append(task)
            for group in getattr(task, "_child_groups", ()):
                stack.extend(group._children)
        found.sort(key=lambda task: task._id)
        return found

    def _bad_yield(self, task: Task, message: object) -> None:
        error = RuntimeError(
            f"task {task.name!r} yielded {message!r} to the trapline scheduler, which only "
            "understands trapline's own awaitables (was an asyncio or trio awaitable used inside "
            "trapline.run? asyncio code runs here through trapline.aio.run_asyncio(coro))"
        )
        # A foreign awaitable's bare ``yield`` cannot unwrap a ``Raise``: throw the error in, once.
        coro = task.coro

        def throw(_value: object) -> Any:
            task._send = coro.send
            return coro.throw(error)

        task._send = throw
        task._next = None
        self.ready.append(task)

    def _run_entries(self) -> None:
        entries = self.entries
        for _ in range(len(entries)):
            fn, args = entries.popleft()
            try:
                fn(*args)
            except BaseException as error:
                if self.crash is None:
                    self.crash = error
                    self.root_scope._cancel(
                        f"a run_sync_soon callback raised {type(error).__name__}", "run_sync_soon"
                    )

    def _deliver_ki(self) -> None:
        self.ki_pending = False
        self.ki_raised = True
        self.root_scope._cancel("KeyboardInterrupt", "Ctrl-C")

    def _sigint(self, signum: int, frame: types.FrameType | None) -> None:
        """Ctrl-C policy: cancel the root scope at the loop's next pass (so cleanup runs at
        checkpoints). If that has not happened when the signal comes again (a second Ctrl-C,
        or the watchdog's poke one second later), a task is stuck without checkpoints: raise
        ``KeyboardInterrupt`` right where it runs, unless it is inside trapline's own code
        (never in the middle of kernel bookkeeping), in which case try again shortly."""
        if not self.ki_pending:
            self.ki_pending = True
            self.backend.force_wakeup()
            _ki_watchdog(self, KI_PATIENCE)
            return
        if self.current_task is not None and not _in_trapline_code(frame):
            self.ki_raised = True
            raise KeyboardInterrupt
        _ki_watchdog(self, 0.05)

    # -- driving -------------------------------------------------------------------------------

    def start(self, coro: Coroutine[Any, Any, Any]) -> Generator[float, Any, None]:
        """Create the main task and return the loop generator (not started yet)."""
        root_group: Any = self.root_scope._group
        self.main_task = self.spawn(coro, root_group, self.root_scope, None)
        self.main_task._group = None
        return self.loop()

    def close(self) -> None:
        self.finished = True
        self.backend.close()

    def outcome(self) -> Any:
        main = self.main_task
        assert main is not None and main._done
        error = main._error
        if self.deadlock is not None:
            deadlock = self.deadlock
            try:
                raise deadlock from (error if not isinstance(error, Cancelled) else None)
            finally:
                del deadlock
        if self.crash is not None:
            crash = self.crash
            try:
                raise crash
            finally:
                del crash
        if self.ki_raised:
            if error is not None and not isinstance(error, Cancelled):
                raise KeyboardInterrupt from error
            raise KeyboardInterrupt
        if error is not None:
            try:
                raise error
            finally:
                del error
        return main._result


_LOOP_CODE = Runner.loop.__code__
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Seconds a first Ctrl-C waits for the loop to deliver it before interrupting a stuck task.
KI_PATIENCE = 1.0


def _in_trapline_code(frame: types.FrameType | None) -> bool:
    """True if the interrupted code, up to the run loop, is inside the trapline package."""
    while frame is not None and frame.f_code is not _LOOP_CODE:
        if frame.f_code.co_filename.startswith(_PACKAGE_DIR):
            return True
        frame = frame.f_back
    return frame is None  # not inside a task step at all


def _ki_watchdog(runner: Runner, delay: float) -> None:
    """Re-send SIGINT to the main thread after ``delay`` if the first one is still pending."""

    def poke() -> None:
        if runner.ki_pending and not runner.finished:
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    timer = threading.Timer(delay, poke)
    timer.daemon = True
    timer.start()


class _Installed:
    """Context manager: make ``runner`` current in this thread and route Ctrl-C to it."""

    __slots__ = ("_old_pid", "_old_runner", "_old_sigint", "_runner")

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self._old_sigint: Any = None
        self._old_runner: Runner | None = None
        self._old_pid: int | None = None

    def __enter__(self) -> None:
        if _running_here():
            raise RuntimeError("trapline.run() cannot be called from inside trapline.run()")
        # A run found here belongs to the parent of a forked child (see _running_here); it is
        # put back afterwards in case the child returns into it.
        self._old_runner = getattr(_local, "runner", None)
        self._old_pid = getattr(_local, "pid", None)
        _local.runner = self._runner
        _local.pid = os.getpid()
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            try:
                self._old_sigint = signal.signal(signal.SIGINT, self._runner._sigint)
            except ValueError:
                # The main thread of an interpreter that has no signal handling (a
                # subinterpreter, an embedding that disabled it): run without Ctrl-C routing,
                # as asyncio.Runner does.
                self._old_sigint = None

    def __exit__(self, *exc: object) -> None:
        if self._old_sigint is not None:
            signal.signal(signal.SIGINT, self._old_sigint)
        _local.runner = self._old_runner
        _local.pid = self._old_pid


def _running_here() -> bool:
    """Is a run going on in this thread of this process?

    A child forked by a task (``multiprocessing`` with the fork start method, for instance a
    ``ProcessPoolExecutor`` worker) inherits the parent's thread state, run included, but that
    run never advances in the child; the child may start runs of its own."""
    if getattr(_local, "runner", None) is None:
        return False
    pid = getattr(_local, "pid", None)
    return pid is None or pid == os.getpid()


def drive(runner: Runner, gen: Generator[float, Any, None]) -> None:
    """The plain driver: block in the backend for as long as the loop allows."""
    backend = runner.backend
    instruments = runner.instruments
    try:
        timeout = gen.send(None)
        while True:
            if timeout <= 0 and backend.idle:
                events = None
            elif instruments:
                instruments.call("before_io_wait", timeout)
                events = backend.get_events(timeout)
                instruments.call("after_io_wait", timeout)
            else:
                events = backend.get_events(timeout)
            timeout = gen.send(events)
    except StopIteration:
        pass


def run(
    fn: Callable[..., Awaitable[T]] | Coroutine[Any, Any, T],
    *args: Any,
    clock: Clock | None = None,
    instruments: Iterable[Instrument] = (),
    backend: Any = None,
    schedule: Schedule | None = None,
) -> T:
    """Run ``fn(*args)`` (or a coroutine object) to completion and return its value.

    Blocks the calling thread. Errors from the main task propagate unchanged. Ctrl-C cancels the
    main task, lets its cleanup run, then raises ``KeyboardInterrupt``. ``clock`` defaults to the
    system clock; pass ``trapline.testing.VirtualClock()`` for virtual time. ``schedule`` (a
    ``trapline.lowlevel.Schedule``) chooses the order ready tasks run in instead of FIFO.
    """
    if _running_here():
        raise RuntimeError("trapline.run() cannot be called from inside trapline.run()")
    runner = Runner(clock, instruments, backend)
    runner.schedule = schedule
    try:
        coro = coerce_coroutine(fn, args, "trapline.run()")
    except BaseException:
        runner.close()
        raise
    try:
        gen = runner.start(coro)
        with _Installed(runner):
            if runner.instruments:
                runner.instruments.call("before_run")
            drive(runner, gen)
            if runner.instruments:
                runner.instruments.call("after_run")
    finally:
        runner.close()
    return runner.outcome()  # type: ignore[no-any-return]


# -- accessors ---------------------------------------------------------------------------------


def current_runner() -> Runner:
    runner: Runner | None = getattr(_local, "runner", None)
    if runner is None:
        raise RuntimeError(
            "this must be called inside trapline.run() (a trapline async function was awaited "
            "outside trapline's scheduler)"
        )
    return runner


def current_task() -> Task:
    """The task running now. Not a checkpoint."""
    task = current_runner().current_task
    if task is None:
        raise RuntimeError("no task is running (called from the scheduler itself?)")
    return task


def current_root_task() -> Task:
    """The run's main task. Not a checkpoint."""
    task = current_runner().main_task
    assert task is not None
    return task


def current_time() -> float:
    """The current time on the run's clock, in seconds. Not a checkpoint."""
    return current_runner().clock.current_time()


def current_clock() -> Clock:
    """The clock this run uses. Not a checkpoint."""
    return current_runner().clock


def spawn_system_task(fn: Any, *args: Any, name: str | None = None) -> Task:
    """Start ``fn(*args)`` as a system task: owned by the run rather than a task group,
    cancelled when the main task finishes; its failure ends the run. Not a checkpoint; may be
    called from ``Token.run_sync_soon`` callbacks (outside any task)."""
    runner = current_runner()
    coro = coerce_coroutine(fn, args, "spawn_system_task()")
    return runner.spawn(coro, runner.system_group, runner.system_scope, name)


def add_instrument(instrument: Instrument) -> None:
    """Register an instrument on the running loop. Not a checkpoint."""
    current_runner().instruments.add(instrument)


def remove_instrument(instrument: Instrument) -> None:
    """Unregister an instrument from the running loop; ``KeyError`` if it is not registered."""
    current_runner().instruments.remove(instrument)


# -- sleeping and parking ----------------------------------------------------------------------

_SLEEP = "sleep"


async def sleep_until(deadline: float) -> None:
    """Sleep until the clock reaches ``deadline``.

    Checkpoint: yes (even when the deadline has passed). Raises ``Cancelled`` if the enclosing
    scope is cancelled; cancellation ends the sleep early.
    """
    if math.isnan(deadline):
        raise ValueError("deadline must not be NaN")
    await trap(Park(_SLEEP, None, deadline))


@final
class sleep:
    """``await trapline.sleep(seconds)``: sleep for ``seconds`` (>= 0) on the run's clock.

    Checkpoint: yes; ``sleep(0)`` is a plain checkpoint. Raises ``ValueError`` for a negative or
    NaN duration and ``Cancelled`` when cancelled, which ends the sleep early.

    A small awaitable rather than an ``async def``: a parked sleeper then holds only the trap's
    frame, not a second coroutine frame (100,000 sleeping tasks are 25 MB lighter). Like a
    coroutine, it warns if it is never awaited.
    """

    __slots__ = ("_seconds",)

    def __init__(self, seconds: float) -> None:
        self._seconds: float | None = seconds

    def __await__(self) -> Generator[Any, Any, None]:
        seconds = self._seconds
        self._seconds = None  # awaited: no warning
        if seconds is None:
            raise RuntimeError("this sleep() has already been awaited")
        if seconds > 0:
            return trap_iter(Delay(seconds))
        if seconds == 0:
            return trap_iter(CHECKPOINT)
        raise ValueError(f"sleep() needs a non-negative number of seconds, not {seconds!r}")

    def __del__(self) -> None:
        if self._seconds is not None:
            warnings.warn(
                f"trapline.sleep({self._seconds!r}) was never awaited",
                RuntimeWarning,
                stacklevel=2,
            )


async def sleep_forever() -> None:
    """Sleep until cancelled. Checkpoint: yes; it only ever ends by raising ``Cancelled``."""
    await trap(Park("sleep_forever"))
    raise RuntimeError("sleep_forever() was woken up")  # pragma: no cover


async def park(
    reason: object, abort_fn: AbortFn | None = None, *, deadline: float = math.inf
) -> Any:
    """Park the current task until ``reschedule(task, value)`` and return ``value``.

    The low-level wait every blocking primitive is built on: register the waker first (put the
    task in a parking lot, a dict, ...), then park. ``reason`` is shown by ``Stepper`` and task
    listings. If the task is cancelled while parked, ``abort_fn(task)`` is called: return
    ``Abort.SUCCEEDED`` after undoing the registration (the task gets ``Cancelled``), or
    ``Abort.FAILED`` if the waker will still reschedule it. ``abort_fn=None`` means nothing needs
    undoing. With a ``deadline``, the task is resumed with ``None`` at that time. Checkpoint: yes.
    """
    return await trap(Park(reason, abort_fn, deadline))


def reschedule(task: Task, value: Any = None, *, error: BaseException | None = None) -> None:
    """Resume a parked task: its ``park()`` returns ``value``, or raises ``error``.

    Not a checkpoint. ``RuntimeError`` if the task is not parked.
    """
    if task._wait is None:
        raise RuntimeError(f"{task!r} is not parked")
    task._runner.wake(task, value if error is None else Raise(error))


async def checkpoint_if_cancelled() -> None:
    """Raise ``Cancelled`` if the current task is cancelled; otherwise return without yielding.

    Checkpoint: half of one (a cancel point, not a schedule point): it never lets other tasks
    run (unless the run's ``Schedule.extra_checkpoint`` asks for a switch here, to explore other
    orders). Raises ``Cancelled`` when an enclosing scope is cancelled.
    """
    runner = current_runner()  # current_task() inlined: every try-first operation comes here
    task: Any = runner.current_task  # never None in an async function
    if task._cancel_pending or (
        runner.schedule is not None and runner.schedule.extra_checkpoint(task)
    ):
        await trap(CHECKPOINT)


def cancel_shielded_checkpoint() -> Awaitable[None]:
    """Let other tasks run, without checking for cancellation (a schedule point only).

    Used after an operation that already took effect, so that it is still a checkpoint without
    raising ``Cancelled`` after the fact. Like ``checkpoint()``, it is the bare trap.
    """
    return trap(YIELD)


__all__ += [
    "spawn_system_task",
    "add_instrument",
    "cancel_shielded_checkpoint",
    "checkpoint",
    "checkpoint_if_cancelled",
    "drive",
    "remove_instrument",
]
