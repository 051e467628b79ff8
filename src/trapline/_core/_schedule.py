"""Scheduling policies: the one hook for choosing which ready task runs next.

By default the run loop steps the ready tasks first in, first out, which makes a program run the
same way every time, and makes a test pass in that one order even when another order would break
it. A ``Schedule`` given to ``trapline.run(..., schedule=)`` or ``Stepper(..., schedule=)``
changes two things, and nothing else:

* which task steps next: each pass of the loop asks ``pick(ready)`` for the index of one ready
  task and runs that one step alone (so every step is a choice, as in the ``Stepper``);
* whether a checkpoint that would not switch tasks switches anyway. Every trapline checkpoint
  yields to the loop, except the first half of the "try the operation, then
  ``cancel_shielded_checkpoint()``" pair: ``checkpoint_if_cancelled()`` returns at once when the
  task is not cancelled, so a lock, a channel send or a socket call that can complete at once
  takes effect in the same step as the code before it. ``extra_checkpoint(task)`` may turn that
  into a real switch, so other tasks can run between the code before the operation and the
  operation itself.

Without a schedule the run loop costs what it did (whether each pass runs one task is decided
before the loop starts, as for the ``Stepper``), and ``checkpoint_if_cancelled`` pays one
attribute test; FIFO order is unchanged.

``RandomSchedule(seed)`` draws both choices from a ``random.Random(seed)``: the same seed gives the
same schedule, step for step, as long as the program's only other nondeterminism is time (use a
``VirtualClock``). ``trapline.testing.explore`` runs a test under many seeds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    from ._task import Task

__all__ = ["RandomSchedule", "Schedule", "pick_next"]


class Schedule:
    """Base class for scheduling policies (``trapline.run(main, schedule=...)``).

    The base class schedules as the kernel does without one: first in, first out, and no extra
    switches. Override ``pick`` and/or ``extra_checkpoint``. A schedule belongs to one run at a
    time, and is called from the run loop: it must not raise and must not touch the tasks.
    """

    def pick(self, ready: Sequence[Task]) -> int:
        """Return the index in ``ready`` (oldest first, never empty) of the task to step next.

        The chosen task runs one step; then the loop takes I/O, timers and wake-ups as usual and
        asks again. Tasks that became ready meanwhile are at the end of ``ready``.
        """
        return 0

    def extra_checkpoint(self, task: Task) -> bool:
        """Return True to make ``task`` yield at a checkpoint that would not otherwise switch.

        Asked by ``checkpoint_if_cancelled()`` when ``task`` is not cancelled (the fast path of
        locks, channels and sockets that need not wait). Yielding there is a full checkpoint: the
        task is resumed after the others had a turn, with ``Cancelled`` if it was cancelled
        meanwhile.
        """
        return False


@final
class RandomSchedule(Schedule):
    """A seeded random schedule: each step picks a ready task uniformly at random, and a
    checkpoint that would not switch switches with probability ``extra_checkpoints``.

    ``RandomSchedule(seed)`` replays exactly: the same seed gives the same choices. Used by
    ``trapline.testing.explore`` and ``replay``; pass one to ``trapline.run(main,
    schedule=...)`` or ``Stepper(main, schedule=...)`` to run or step through one schedule.
    """

    __slots__ = ("_chance", "_random", "seed")

    def __init__(self, seed: int, *, extra_checkpoints: float = 0.5) -> None:
        if not 0.0 <= extra_checkpoints <= 1.0:
            raise ValueError(
                f"extra_checkpoints must be between 0 and 1, not {extra_checkpoints!r}"
            )
        import random  # here, not at the top: `import trapline` need not load it

        self.seed = seed
        self._random = random.Random(seed)
        self._chance = extra_checkpoints

    def pick(self, ready: Sequence[Task]) -> int:
        count = len(ready)
        return self._random.randrange(count) if count > 1 else 0

    def extra_checkpoint(self, task: Task) -> bool:
        return self._chance > 0.0 and self._random.random() < self._chance

    def __repr__(self) -> str:
        return f"RandomSchedule({self.seed!r}, extra_checkpoints={self._chance!r})"


def pick_next(schedule: Schedule, ready: deque[Task]) -> int:
    """The run loop's side of the hook: move the task ``schedule`` picks to the front of
    ``ready`` (the others keep their order) and return the number of tasks to run this pass."""
    index = schedule.pick(ready)
    if index:
        task = ready[index]
        del ready[index]
        ready.appendleft(task)
    return 1
