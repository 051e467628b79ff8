"""Schedule exploration: run an async test under many seeded schedules, and replay a failing one.

trapline runs ready tasks first in, first out, so a test sees one interleaving of its tasks: the
same one every time. A race (a check and an act with a checkpoint between them, a lost update)
can pass in that order and fail in another. ``explore`` runs the test again and again, each time
under a ``RandomSchedule(seed)`` for a new seed: every step, a random ready task runs, and
checkpoints that would not switch tasks sometimes do (see ``trapline/_core/_schedule.py``). Each
run is on a fresh ``VirtualClock``, so time is the same on every run and a seed fixes the whole
run. The first failing run is reported with its seed, and ``replay(test, seed)`` runs exactly that
schedule again, step for step, for a debugger or ``print``.

Built on the public kernel API only: ``trapline.run(..., schedule=)``, an ``Instrument`` that
records each step as a ``StepEvent`` (the ``Stepper``'s record), and ``VirtualClock``.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, final

from ._core import (
    Cancelled,
    Instrument,
    RandomSchedule,
    StepEvent,
    Task,
    VirtualClock,
    run,
)

__all__ = ["ExplorationFailure", "ExplorationSummary", "explore", "replay"]

_DEFAULT_EXTRA = 0.5


@dataclass(frozen=True)
class ExplorationSummary:
    """What ``explore`` tried: ``runs`` runs with seeds ``seed``, ``seed + 1``, ...; ``schedules``
    is how many distinct step sequences they took (a test whose tasks never have a choice has
    one)."""

    seed: int
    runs: int
    schedules: int


@final
class ExplorationFailure(Exception):
    """A run of ``explore`` failed. ``__cause__`` is the test's error; ``seed`` replays it.

    ``run`` is the failing run's number (from 1) out of ``runs``; ``steps`` is that run's step
    sequence (``StepEvent``s, as ``Stepper.events`` lists them), the same that ``replay(test,
    seed, on_step=...)`` reports. ``reproduced`` says whether running the seed once more took the
    same steps to the same kind of error (if not, the message says so: the test depends on
    something besides its schedule, and replaying the seed may not show the failure).
    """

    __module__ = "trapline.testing"  # tracebacks name it where users import it from

    def __init__(
        self,
        message: str,
        *,
        seed: int,
        run: int,
        runs: int,
        steps: list[StepEvent],
        reproduced: bool,
    ) -> None:
        super().__init__(message)
        self.seed = seed
        self.run = run
        self.runs = runs
        self.steps = steps
        self.reproduced = reproduced


class _StepRecorder(Instrument):
    """Reports each task step as a ``StepEvent``, like the ``Stepper`` records them."""

    def __init__(self, clock: VirtualClock, on_step: Callable[[StepEvent], Any]) -> None:
        self._clock = clock
        self._on_step = on_step
        self._count = 0

    def after_task_step(self, task: Task) -> None:
        self._count += 1
        index, now = self._count, self._clock.current_time()
        if task.done():
            error = task.exception()
            if error is None:
                event = StepEvent(index, now, task, "finished", result=task.result())
            else:
                event = StepEvent(index, now, task, "failed", error=error)
        elif task.wait_reason is not None:
            event = StepEvent(index, now, task, "park", wait_reason=task.wait_reason)
        else:
            event = StepEvent(index, now, task, "checkpoint")
        self._on_step(event)


def _key(steps: list[StepEvent]) -> tuple[tuple[str, str, str | None], ...]:
    return tuple((event.task.name, event.kind, event.wait_reason) for event in steps)


def _run_once(
    test_fn: Callable[[], Awaitable[Any]],
    seed: int,
    extra_checkpoints: float,
    on_step: Callable[[StepEvent], Any] | None,
) -> Any:
    clock = VirtualClock()
    schedule = RandomSchedule(seed, extra_checkpoints=extra_checkpoints)
    instruments = [] if on_step is None else [_StepRecorder(clock, on_step)]
    return run(test_fn, clock=clock, schedule=schedule, instruments=instruments)


def _name(fn: object) -> str:
    while isinstance(fn, functools.partial):
        fn = fn.func
    name = getattr(fn, "__qualname__", None)
    if not isinstance(name, str) or "<locals>" in name:
        name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) else repr(fn)


def _summary(error: BaseException) -> str:
    """``Type: message``; for an exception group, also what its first leaves say (a failing
    task's error arrives grouped)."""
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if isinstance(error, BaseExceptionGroup):
        leaves: list[BaseException] = []
        stack = list(error.exceptions)
        while stack and len(leaves) < 3:
            leaf = stack.pop(0)
            if isinstance(leaf, BaseExceptionGroup):
                stack[:0] = leaf.exceptions
            else:
                leaves.append(leaf)
        text += ": " + "; ".join(_summary(leaf) for leaf in leaves)
    return text


def _check(test_fn: object, extra_checkpoints: float) -> None:
    if not callable(test_fn):
        raise TypeError(f"expected an async test function, not {test_fn!r}")
    if not 0.0 <= extra_checkpoints <= 1.0:
        raise ValueError(f"extra_checkpoints must be between 0 and 1, not {extra_checkpoints!r}")


def explore(
    test_fn: Callable[[], Awaitable[Any]],
    *,
    runs: int = 200,
    seed: int | None = None,
    extra_checkpoints: float = _DEFAULT_EXTRA,
) -> ExplorationSummary:
    """Run the async test ``test_fn()`` ``runs`` times, each under another seeded schedule.

    Run ``n`` (from 1) uses ``RandomSchedule(seed + n - 1)`` on a fresh ``VirtualClock``: at
    each step a random ready task runs, and a checkpoint that would not switch tasks
    (``checkpoint_if_cancelled``, the fast path of locks, channels and sockets) switches with
    probability ``extra_checkpoints``. ``seed=None`` picks a random first seed. ``test_fn`` is
    called once per run and should build its own state (pass arguments with
    ``functools.partial``). Keep the test deterministic apart from its schedule (no threads, no
    real I/O, no unseeded randomness) so that a seed means one run.

    Returns an ``ExplorationSummary`` when every run passes. The first run that raises (an
    ``Exception``, an exception group, or ``Cancelled``) ends the exploration with
    ``ExplorationFailure``, chained to that error, whose message gives the seed to pass to
    ``replay``; before raising it, the failing seed is run once more to check that it fails the
    same way. Not async: call it outside ``trapline.run`` (``KeyboardInterrupt`` propagates).
    """
    __tracebackhide__ = True  # pytest: the test's error and this failure are what matter
    _check(test_fn, extra_checkpoints)
    if runs < 1:
        raise ValueError(f"runs must be at least 1, not {runs!r}")
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    schedules: set[tuple[tuple[str, str, str | None], ...]] = set()
    for number in range(1, runs + 1):
        run_seed = seed + number - 1
        steps: list[StepEvent] = []
        try:
            _run_once(test_fn, run_seed, extra_checkpoints, steps.append)
        except (Exception, BaseExceptionGroup, Cancelled) as error:
            again: list[StepEvent] = []
            try:
                _run_once(test_fn, run_seed, extra_checkpoints, again.append)
                same = False
            except (Exception, BaseExceptionGroup, Cancelled) as second:
                same = type(second) is type(error) and _key(again) == _key(steps)
                del second
            raise _failure(
                test_fn, error, run_seed, number, runs, extra_checkpoints, steps, same
            ) from error
        schedules.add(_key(steps))
    return ExplorationSummary(seed, runs, len(schedules))


def _failure(
    test_fn: object,
    error: BaseException,
    seed: int,
    number: int,
    runs: int,
    extra_checkpoints: float,
    steps: list[StepEvent],
    reproduced: bool,
) -> ExplorationFailure:
    name = _name(test_fn)
    extra = (
        "" if extra_checkpoints == _DEFAULT_EXTRA else f", extra_checkpoints={extra_checkpoints!r}"
    )
    summary = _summary(error)
    message = (
        f"{name} failed on run {number} of {runs} (seed {seed}) after {len(steps)} steps: "
        f"{summary}\n"
        f"Replay that schedule step by step with "
        f"trapline.testing.replay({name}, {seed}{extra}, on_step=print)"
    )
    if not reproduced:
        message += (
            f"\nBut running seed {seed} again did not fail the same way: the test depends on "
            "something besides its schedule (threads, real I/O, unseeded randomness, state kept "
            "from run to run), so replaying it may not show this failure."
        )
    return ExplorationFailure(
        message, seed=seed, run=number, runs=runs, steps=steps, reproduced=reproduced
    )


def replay(
    test_fn: Callable[[], Awaitable[Any]],
    seed: int,
    *,
    extra_checkpoints: float = _DEFAULT_EXTRA,
    on_step: Callable[[StepEvent], Any] | None = None,
) -> Any:
    """Run ``test_fn()`` once under the schedule ``explore`` used for ``seed``; return its result.

    The run is the same, step for step, as ``explore``'s run with that seed (same
    ``extra_checkpoints``), so its error is raised again, unchanged (not wrapped), and a debugger
    or ``print`` placed in the test sees the same interleaving. ``on_step`` is called with a
    ``StepEvent`` after every task step: ``on_step=print`` lists the schedule as the ``Stepper``
    prints it. To step through it by hand instead: ``Stepper(test_fn,
    schedule=RandomSchedule(seed))``. Not async: call it outside ``trapline.run``.
    """
    _check(test_fn, extra_checkpoints)
    return _run_once(test_fn, seed, extra_checkpoints, on_step)
