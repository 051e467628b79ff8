"""Instrument hooks: observe the scheduler without changing it (trio ``_abc.Instrument``).

Subclass ``Instrument`` and override the hooks you want; only overridden hooks are called. When no
instrument is registered the run loop pays one local boolean test per step. An instrument that
raises is removed and the error is logged, so observing a program can never break it.

Default instruments (``add_default_instrument``) join every run started afterwards, in any thread:
that is how ``trapline trace script.py`` traces a script's own ``trapline.run`` calls without the
script knowing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from ._task import Task

__all__ = [
    "HOOKS",
    "Instrument",
    "Instruments",
    "add_default_instrument",
    "default_instruments",
    "remove_default_instrument",
]

logger = logging.getLogger("trapline.instrument")


class Instrument:
    """Base class for instruments. All hooks are no-ops; override the ones you need."""

    def before_run(self) -> None:
        """Called once when the run starts, before the main task's first step."""

    def after_run(self) -> None:
        """Called once when the run ends."""

    def task_spawned(self, task: Task) -> None:
        """Called when ``task`` has been created (not yet stepped)."""

    def before_task_step(self, task: Task) -> None:
        """Called right before ``task`` runs one step."""

    def after_task_step(self, task: Task) -> None:
        """Called right after ``task`` ran one step (it is now waiting, ready, or done)."""

    def task_exited(self, task: Task) -> None:
        """Called when ``task`` has finished; its result or error is set."""

    def task_cancelled(self, task: Task, by: Task | None, reason: str) -> None:
        """Called when cancellation reaches ``task`` (a scope around it was cancelled, or its
        deadline passed): its next checkpoint raises ``Cancelled``, and a wait it is parked in
        is aborted. ``by`` is the task that called ``cancel()``, or None when no task did (a
        deadline, Ctrl-C, the deadlock detector, the run ending); ``reason`` is what the
        ``Cancelled`` will say (``"cancelled: deadline expired ..."``)."""

    def task_woken(self, task: Task, by: Task | None) -> None:
        """Called when a parked task is made ready (a lock released, a queue put, an event set,
        a task it waited for ended, its fd became ready, a thread handed back a result, or a
        cancellation aborted the wait, after ``task_cancelled``); not for a sleep's end, which
        is ``timer_fired``. ``by`` is the task running when it happened (the one that released
        the lock...), or None when the kernel did it (I/O, other threads, timers)."""

    def timer_fired(self, deadline: float, task: Task | None) -> None:
        """Called when a deadline expires, before its effect: ``task`` is the task parked until
        then (a sleep, a ``park(deadline=...)``), which now wakes; None for a cancel scope's
        deadline, whose cancellation then reaches tasks through ``task_cancelled``."""

    def before_io_wait(self, timeout: float) -> None:
        """Called before the kernel blocks up to ``timeout`` seconds waiting for I/O."""

    def after_io_wait(self, timeout: float) -> None:
        """Called after that wait returns."""


HOOKS = (
    "before_run",
    "after_run",
    "task_spawned",
    "before_task_step",
    "after_task_step",
    "task_exited",
    "task_cancelled",
    "task_woken",
    "timer_fired",
    "before_io_wait",
    "after_io_wait",
)

_defaults: list[Instrument] = []


def add_default_instrument(instrument: Instrument) -> None:
    """Register ``instrument`` with every ``trapline.run`` (and ``Stepper``) started from now
    on, in any thread, besides their own ``instruments=``. Not a checkpoint; runs already
    going are not affected. An instrument seeing runs in several threads must be thread-safe.
    """
    if not isinstance(instrument, Instrument):
        raise TypeError(
            f"instruments must be trapline.lowlevel.Instrument instances, not {instrument!r}"
        )
    if instrument not in _defaults:
        _defaults.append(instrument)


def remove_default_instrument(instrument: Instrument) -> None:
    """Stop adding ``instrument`` to new runs; ``KeyError`` if it is not a default instrument.
    Not a checkpoint; runs already going keep it until they end."""
    try:
        _defaults.remove(instrument)
    except ValueError:
        raise KeyError(f"{instrument!r} is not a default instrument") from None


def default_instruments() -> list[Instrument]:
    """The instruments every new run gets (a copy). Not a checkpoint."""
    return list(_defaults)


@final
class Instruments(dict[str, list[Callable[..., None]]]):
    """The registered instruments' hooks, by hook name (only hooks some instrument overrides).

    A dict, so that the run loop's "any instruments?" test is a C-level truth test. A new set
    starts with the default instruments (``add_default_instrument``).
    """

    __slots__ = ("_instruments",)

    def __init__(self, instruments: Iterable[Instrument] = ()) -> None:
        super().__init__()
        self._instruments: list[Instrument] = []
        for instrument in (*_defaults, *instruments):
            self.add(instrument)

    def add(self, instrument: Instrument) -> None:
        if not isinstance(instrument, Instrument):
            raise TypeError(
                f"instruments must be trapline.lowlevel.Instrument instances, not {instrument!r}"
            )
        if instrument in self._instruments:
            return
        self._instruments.append(instrument)
        self._reindex()

    def remove(self, instrument: Instrument) -> None:
        """Unregister ``instrument``; ``KeyError`` if it is not registered."""
        try:
            self._instruments.remove(instrument)
        except ValueError:
            raise KeyError(f"{instrument!r} is not registered") from None
        self._reindex()

    def _reindex(self) -> None:
        hooks: dict[str, list[Callable[..., None]]] = {}
        for instrument in self._instruments:
            for name in HOOKS:
                if getattr(type(instrument), name) is not getattr(Instrument, name):
                    hooks.setdefault(name, []).append(getattr(instrument, name))
        self.clear()
        self.update(hooks)

    def timer_hook(self) -> Callable[[float, Any], None] | None:
        """What the deadline heap calls as each timer fires, or None if no instrument listens."""
        return self._timer_fired if "timer_fired" in self else None

    def _timer_fired(self, deadline: float, target: Any) -> None:
        from ._task import Task  # a deadline's target is a parked task or a cancel scope

        self.call("timer_fired", deadline, target if isinstance(target, Task) else None)

    def call(self, hook: str, *args: Any) -> None:
        for fn in list(self.get(hook, ())):
            try:
                fn(*args)
            except Exception:
                instrument = fn.__self__  # type: ignore[attr-defined]
                logger.exception("instrument %r raised in %s; removing it", instrument, hook)
                if instrument in self._instruments:
                    self.remove(instrument)
