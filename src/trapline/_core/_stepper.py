"""``Stepper``: the seed tutorial's "human scheduler", made a tool.

In the tutorial a person drives two ``cube`` coroutines by calling ``send(None)`` on each in turn
and reading the instruction each one yields. ``Stepper`` does the same on trapline's real run loop
(the very generator ``run()`` drives, limited to one task step per pass), so what you see step by
step is what ``run()`` does. Each ``step()`` runs one step of one task and returns a ``StepEvent``
naming the task and what it stopped on. When no task is ready, ``step()`` first moves the clock
(virtual by default) to the next deadline. Ready order is FIFO and default task names are
deterministic, so a program steps the same way every time.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar, final

from ._clock import Clock, VirtualClock
from ._coerce import coerce_coroutine
from ._instrument import Instrument
from ._run import Runner, _local
from ._schedule import Schedule
from ._task import Task

__all__ = ["StepEvent", "Stepper"]

T = TypeVar("T")


@dataclass(frozen=True)
class StepEvent:
    """One step of one task.

    ``kind`` is ``"checkpoint"`` (the task yielded and is ready again), ``"park"`` (it waits:
    see ``wait_reason``), ``"finished"`` (it returned ``result``) or ``"failed"`` (it raised
    ``error``; a cancelled task fails with ``Cancelled``).
    """

    index: int
    time: float
    task: Task
    kind: str
    wait_reason: str | None = None
    result: Any = None
    error: BaseException | None = None

    def __str__(self) -> str:
        if self.kind == "park":
            what = f"waits: {self.wait_reason}"
        elif self.kind == "finished":
            what = f"finished, returned {self.result!r}"
        elif self.kind == "failed":
            what = f"failed: {self.error!r}"
        else:
            what = "checkpoint (ready again)"
        return f"step {self.index:>3}  t={self.time:<6g} {self.task.name:<10} {what}"


class _Recorder(Instrument):
    def __init__(self, clock: Clock, history: int | None) -> None:
        self.clock = clock
        self.events: deque[StepEvent] = deque(maxlen=history)
        self.count = 0

    def after_task_step(self, task: Task) -> None:
        self.count = index = self.count + 1
        now = self.clock.current_time()
        if task._done:
            error = task._error
            if error is None:
                event = StepEvent(index, now, task, "finished", result=task._result)
            else:
                event = StepEvent(index, now, task, "failed", error=error)
        elif task._wait is not None:
            event = StepEvent(index, now, task, "park", wait_reason=task.wait_reason)
        else:
            event = StepEvent(index, now, task, "checkpoint")
        self.events.append(event)


@final
class Stepper:
    """Drive ``fn(*args)`` one task step at a time on the real run loop.

    ``clock`` defaults to ``VirtualClock(autojump=False)``: time moves only when ``step()`` finds
    nothing ready (it jumps to the next deadline) or when you call ``advance()``. Use it as a
    context manager, or call ``close()``, if you may stop before the program finishes.
    ``schedule`` (a ``trapline.lowlevel.Schedule``) picks which ready task each step runs
    instead of FIFO: ``Stepper(test, schedule=RandomSchedule(seed))`` steps through the schedule
    ``trapline.testing.replay(test, seed)`` runs. ``history=N`` keeps only the last ``N`` steps
    in ``events`` (all by default), for a long session that should not hold every step taken.
    """

    def __init__(
        self,
        fn: Callable[..., Awaitable[Any]] | Coroutine[Any, Any, Any],
        *args: Any,
        clock: Clock | None = None,
        instruments: Iterable[Instrument] = (),
        schedule: Schedule | None = None,
        history: int | None = None,
    ) -> None:
        if history is not None and history < 1:
            raise ValueError(f"history must be at least 1 (or None for all), not {history!r}")
        coro = coerce_coroutine(fn, args, "Stepper()")
        self.clock: Clock = VirtualClock(autojump=False) if clock is None else clock
        self._recorder = _Recorder(self.clock, history)
        self._runner = Runner(self.clock, [*instruments, self._recorder])
        self._runner.step_limit = 1
        self._runner.schedule = schedule
        self._gen = self._runner.start(coro)
        self._timeout: float | None = None
        self._finished = False
        self._closed = False

    # -- driving -------------------------------------------------------------------------------

    def _send(self, events: Any) -> None:
        previous = getattr(_local, "runner", None)
        _local.runner = self._runner
        try:
            self._timeout = self._gen.send(events)
        except StopIteration:
            self._finished = True
            self._runner.close()
            self._closed = True
        finally:
            _local.runner = previous

    def _pass(self) -> None:
        """One pass of the loop: wait as needed, then run at most one task step."""
        if self._timeout is None:
            self._send(None)
            return
        runner = self._runner
        backend = runner.backend
        if not runner.ready:
            deadline = runner.deadlines.next_deadline()
            if isinstance(self.clock, VirtualClock):
                if deadline != math.inf:
                    self.clock.jump_to(deadline)
                    timeout = 0.0
                elif backend.idle:
                    raise RuntimeError(self._stuck_message())
                else:
                    timeout = math.inf
            else:
                timeout = self.clock.deadline_to_sleep(deadline)
                if timeout == math.inf and backend.idle:
                    raise RuntimeError(self._stuck_message())
            self._send(backend.get_events(timeout))
        elif backend.idle:
            self._send(None)
        else:
            self._send(backend.get_events(0))

    def _stuck_message(self) -> str:
        waiting = ", ".join(f"{task.name} ({task.wait_reason})" for task in self.tasks())
        return f"no task can run and nothing is scheduled to wake one: {waiting}"

    def step(self) -> StepEvent:
        """Run exactly one step of one task and return what happened.

        ``RuntimeError`` if the program has finished, or if every task waits and nothing (no
        deadline, no I/O) could wake one.
        """
        if self._finished:
            raise RuntimeError("the program has finished; see .result()")
        recorder = self._recorder
        count = recorder.count
        while recorder.count == count:
            self._pass()
            if self._finished and recorder.count == count:
                raise RuntimeError("the program has finished; see .result()")
        return recorder.events[-1]

    def _idle(self) -> bool:
        runner = self._runner
        if runner.ready:
            return False
        return runner.deadlines.next_deadline() > self.clock.current_time()

    def run_until_idle(self) -> list[StepEvent]:
        """Step until no task is ready (without moving the clock); return the steps taken."""
        taken: list[StepEvent] = []
        while not self._finished and (self._timeout is None or not self._idle()):
            taken.append(self.step())
        return taken

    def run(self) -> Any:
        """Step until the program finishes; return its result (or raise its error)."""
        while not self._finished:
            self.step()
        return self.result()

    def advance(self, seconds: float) -> list[StepEvent]:
        """Move the virtual clock forward by ``seconds``, firing each deadline at its own time
        and running tasks until idle after each; return the steps taken."""
        clock = self.clock
        if not isinstance(clock, VirtualClock):
            raise RuntimeError("advance() needs the Stepper to use a VirtualClock")
        if seconds < 0:
            raise ValueError("time can only move forward")
        target = clock.current_time() + seconds
        taken = self.run_until_idle()
        while not self._finished:
            deadline = self._runner.deadlines.next_deadline()
            if deadline > target:
                break
            clock.jump_to(deadline)
            taken += self.run_until_idle()
        clock.jump_to(target)
        taken += self.run_until_idle()
        return taken

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Call ``fn(*args)`` inside the stepped run, outside any task, without taking a step:
        what ``task_tree()``, ``current_time()`` or ``TaskGroup.spawn`` need. Not a checkpoint
        (no task runs meanwhile); returns what ``fn`` returns and raises what it raises."""
        previous = getattr(_local, "runner", None)
        _local.runner = self._runner
        try:
            return fn(*args)
        finally:
            _local.runner = previous

    # -- looking -------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """True once the main task has finished."""
        return self._finished

    @property
    def events(self) -> list[StepEvent]:
        """Every step taken so far (the last ``history`` of them, if that was given)."""
        return list(self._recorder.events)

    def result(self) -> Any:
        """The main task's return value (or its error, raised); ``RuntimeError`` if unfinished."""
        if not self._finished:
            raise RuntimeError("the program has not finished yet")
        return self._runner.outcome()

    def tasks(self) -> list[Task]:
        """Every unfinished task (with ``.name``, ``.state``, ``.wait_reason``), in spawn order."""
        return self._runner.all_tasks()

    # -- cleanup -------------------------------------------------------------------------------

    def close(self) -> None:
        """Cancel whatever still runs, let its cleanup finish, and release the loop's resources."""
        if self._closed:
            return
        if not self._finished:
            self._runner.root_scope._cancel("Stepper closed", "Stepper.close()")
            while not self._finished:
                self._pass()
        if not self._closed:
            self._runner.close()
            self._closed = True

    def __enter__(self) -> Stepper:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
