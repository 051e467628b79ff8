"""``Task``: one coroutine being run by the kernel, with its place in the cancel-scope tree.

A task is slotted and holds no reference cycles of its own making (CPython's cyclic GC is a large
share of the cost with 100,000 live tasks). Its name is computed lazily from the coroutine's
qualified name and a per-run counter, so names are deterministic and cost nothing until asked for.
"""

from __future__ import annotations

import contextvars
from collections.abc import Coroutine, Generator
from typing import TYPE_CHECKING, Any, final

from ._exceptions import Cancelled, TaskCancelled
from ._traps import Abort, Park, trap

_SUCCEEDED = Abort.SUCCEEDED

if TYPE_CHECKING:
    from ._cancel import CancelScope
    from ._run import Runner
    from ._taskgroup import TaskGroup

__all__ = ["Task"]


@final
class Task:
    """A running coroutine. Created by ``TaskGroup.spawn``; never constructed directly.

    ``await task`` waits for it and returns its result (or raises its error; ``TaskCancelled`` if
    it ended by cancellation). A failed task's error also reaches its task group. Awaiting is a
    checkpoint; cancelling the waiter stops the wait, not the task.
    """

    __slots__ = (
        "_base",
        "_cancel_pending",
        "_child_groups",
        "_error",
        "_group",
        "_id",
        "_name",
        "_next",
        "_outer",
        "_result",
        "_runner",
        "_scope",
        "_send",
        "_timer",
        "_wait",
        "_waiters",
        "context",
        "coro",
    )

    coro: Coroutine[Any, Any, Any]
    context: contextvars.Context
    _send: Any
    _next: Any
    _runner: Runner
    _id: int
    _name: str | None
    _group: TaskGroup | None
    # Cancel-scope tree: ``_base`` is the scope the task was spawned into (its task group's
    # scope); ``_outer`` the outermost scope the task entered itself; ``_scope`` the innermost.
    _base: CancelScope
    _outer: CancelScope | None
    _scope: CancelScope
    # Cached "is some visible enclosing scope cancelled": read at every checkpoint instead of
    # walking the scopes.
    _cancel_pending: bool
    _wait: Park | None
    _timer: tuple[float, int, Any] | None
    _waiters: list[Task] | None
    _child_groups: list[TaskGroup]
    _result: Any
    _error: BaseException | None

    def __init__(self) -> None:
        raise TypeError("tasks are created by TaskGroup.spawn(), not constructed directly")

    @property
    def _done(self) -> bool:
        return self._send is None

    # -- introspection -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The name given to ``spawn(name=...)``, else ``<function>-<n>`` (deterministic)."""
        name: str | None = getattr(self, "_name", None)
        if name is None:
            qualname = getattr(self.coro, "__name__", type(self.coro).__name__)
            name = self._name = qualname if self._id == 0 else f"{qualname}-{self._id}"
        return name

    @property
    def id(self) -> int:
        """A number unique within the run, in spawn order (the main task is 0); default names
        end with it."""
        return self._id

    @property
    def state(self) -> str:
        """``"running"``, ``"ready"``, ``"waiting"`` or ``"done"``."""
        if self._done:
            return "done"
        if self._wait is not None:
            return "waiting"
        if self._runner.current_task is self:
            return "running"
        return "ready"

    @property
    def wait_reason(self) -> str | None:
        """What a waiting task waits for (``"sleep until t=6"``, ``"Lock"``, ...), else None."""
        wait = self._wait
        if wait is None:
            return None
        reason = str(wait.reason)
        timer = self._timer
        if timer is not None:
            reason += f" until t={timer[0]:g}"
        return reason

    @property
    def parent_group(self) -> TaskGroup | None:
        """The task group this task belongs to (None for the main task)."""
        return self._group

    @property
    def child_groups(self) -> list[TaskGroup]:
        """Task groups currently open in this task."""
        return list(getattr(self, "_child_groups", ()))

    def __repr__(self) -> str:
        return f"<Task {self.name!r} {self.state}>"

    # -- outcome -------------------------------------------------------------------------------

    def done(self) -> bool:
        """True once the task has finished (returned, raised or was cancelled)."""
        return self._done

    def cancelled(self) -> bool:
        """True if the task finished by being cancelled."""
        return self._done and isinstance(self._error, Cancelled)

    def result(self) -> Any:
        """The task's return value; raises its error, or ``TaskCancelled``, or ``RuntimeError``
        if it has not finished yet."""
        if not self._done:
            raise RuntimeError(
                f"task {self.name!r} has not finished yet (`await task` waits for it; after its "
                "task group's `async with` block every task has finished)"
            )
        error = self._error
        if error is None:
            return self._result
        if isinstance(error, Cancelled):
            raise TaskCancelled(f"task {self.name!r} was cancelled") from error
        raise error

    def exception(self) -> BaseException | None:
        """The error the task raised (None if it returned); ``RuntimeError`` if not finished."""
        if not self._done:
            raise RuntimeError(f"task {self.name!r} has not finished yet")
        return self._error

    def cancel(self, reason: str | None = None) -> None:
        """Cancel this task alone (not a checkpoint). Its next checkpoint raises ``Cancelled``."""
        if self._done:
            return
        from ._cancel import _caller, own_scope

        own_scope(self)._cancel(reason or f"task {self.name!r} cancelled", _caller(1))

    def __await__(self) -> Generator[Any, Any, Any]:
        """Wait for the task to finish and return its result.

        Checkpoint: yes. Raises what the task raised, or ``TaskCancelled``. Cancelling the waiter
        stops the waiting only; the task itself carries on.
        """
        return self._wait_done().__await__()

    async def _wait_done(self) -> Any:
        from ._traps import checkpoint

        if self._done:
            await checkpoint()
        else:
            runner = self._runner
            waiter = runner.current_task
            if waiter is None or waiter is self:
                raise RuntimeError("a task cannot await itself")
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            await trap(Park(f"task {self.name!r}", self._abort_waiter))
        return self.result()

    def _deadline_expired(self) -> None:
        # Runner.deadline_wake and Runner.wake, inlined: this runs once per expired sleep.
        self._timer = None
        wait = self._wait
        assert wait is not None
        abort_fn = wait.abort_fn
        if abort_fn is None or abort_fn(self) is _SUCCEEDED:
            self._wait = None
            self._next = None
            self._runner.ready.append(self)

    def _abort_waiter(self, waiter: Task) -> Any:
        from ._traps import Abort

        if self._waiters is not None and waiter in self._waiters:
            self._waiters.remove(waiter)
        return Abort.SUCCEEDED
