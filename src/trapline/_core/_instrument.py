"""Instrument hooks: observe the scheduler without changing it (trio ``_abc.Instrument``).

Subclass ``Instrument`` and override the hooks you want; only overridden hooks are called. When no
instrument is registered the run loop pays one local boolean test per step. An instrument that
raises is removed and the error is logged, so observing a program can never break it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from ._task import Task

__all__ = ["HOOKS", "Instrument", "Instruments"]

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
    "before_io_wait",
    "after_io_wait",
)


@final
class Instruments(dict[str, list[Callable[..., None]]]):
    """The registered instruments' hooks, by hook name (only hooks some instrument overrides).

    A dict, so that the run loop's "any instruments?" test is a C-level truth test.
    """

    __slots__ = ("_instruments",)

    def __init__(self, instruments: Iterable[Instrument] = ()) -> None:
        super().__init__()
        self._instruments: list[Instrument] = []
        for instrument in instruments:
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

    def call(self, hook: str, *args: Any) -> None:
        for fn in list(self.get(hook, ())):
            try:
                fn(*args)
            except Exception:
                instrument = fn.__self__  # type: ignore[attr-defined]
                logger.exception("instrument %r raised in %s; removing it", instrument, hook)
                if instrument in self._instruments:
                    self.remove(instrument)
