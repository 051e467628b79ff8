"""Task groups (structured concurrency) and ``gather``.

Every task belongs to a task group, and a group's ``async with`` block does not end until all its
tasks have. When a task fails, its siblings are cancelled and the failures come out of the
``async with`` as a ``BaseExceptionGroup``, always grouped, so ``except*`` works the same whether
one task failed or five. A pure cancellation (no failure) propagates as a bare ``Cancelled``, to
be absorbed by the scope that was cancelled. Nothing is ever unowned, lost, or only logged.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar, final, overload

from ._cancel import CancelScope, cancelled_error_for, reparent
from ._coerce import coerce_coroutine
from ._exceptions import Cancelled
from ._run import Runner, current_runner
from ._task import Task
from ._traps import Abort, Park, trap

__all__ = ["TASK_STATUS_IGNORED", "TaskGroup", "TaskStatus", "gather"]

T = TypeVar("T")

_NEW, _OPEN, _EXITING, _CLOSED = range(4)


def _keep_waiting(task: Task) -> Abort:
    # Children see the cancellation through the scope tree; the parent keeps waiting for them.
    return Abort.FAILED


@final
class TaskGroup:
    """``async with trapline.TaskGroup() as tg:`` runs tasks spawned with ``tg.spawn``.

    The block waits for all of them. ``tg.cancel_scope`` cancels the body and every task.
    Entering is not a checkpoint; leaving waits for the children and raises ``Cancelled`` if an
    enclosing scope was cancelled meanwhile.
    """

    __slots__ = ("_children", "_errors", "_host", "_runner", "_state", "_waiting", "cancel_scope")

    def __init__(self) -> None:
        self.cancel_scope = CancelScope()
        self.cancel_scope._group = self
        # Insertion-ordered, so cancellation and cleanup reach tasks in spawn order.
        self._children: dict[Task, None] = {}
        self._errors: list[BaseException] = []
        self._host: Task | None = None
        self._runner: Runner  # set on entry
        self._state = _NEW
        self._waiting = False

    def __repr__(self) -> str:
        state = ("new", "open", "exiting", "closed")[self._state]
        return f"<TaskGroup {state}, {len(self._children)} tasks>"

    @property
    def tasks(self) -> list[Task]:
        """The group's running tasks, in spawn order."""
        return list(self._children)

    async def __aenter__(self) -> TaskGroup:
        runner = current_runner()
        task = runner.current_task
        if task is None:
            raise RuntimeError("a TaskGroup must be entered from inside a task")
        if self._state != _NEW:
            raise RuntimeError("a TaskGroup can be entered only once")
        self.cancel_scope._enter(runner, task)
        self._runner = runner
        self._host = task
        self._state = _OPEN
        groups = getattr(task, "_child_groups", None)
        if groups is None:
            groups = task._child_groups = []
        groups.append(self)
        return self

    @overload
    def spawn(
        self, fn: Callable[..., Awaitable[T]], *args: Any, name: str | None = None
    ) -> Task: ...
    @overload
    def spawn(self, fn: Awaitable[T], *, name: str | None = None) -> Task: ...
    def spawn(self, fn: Any, *args: Any, name: str | None = None) -> Task:
        """Start ``fn(*args)`` (or a coroutine object) as a new task in this group.

        Not a checkpoint: the task first runs at the caller's next checkpoint. Returns the
        ``Task``. ``RuntimeError`` once the group has closed; ``TypeError`` if ``fn`` is not an
        async function.
        """
        if self._state not in (_OPEN, _EXITING):
            raise RuntimeError(
                "this TaskGroup is not open: spawn tasks inside its 'async with' block or from "
                "its running tasks"
            )
        coro = coerce_coroutine(fn, args, "TaskGroup.spawn()")
        return self._runner.spawn(coro, self, self.cancel_scope, name)

    async def start(
        self, fn: Callable[..., Awaitable[Any]], *args: Any, name: str | None = None
    ) -> Any:
        """Start ``fn(*args, task_status=...)`` and wait until it calls ``task_status.started(v)``.

        Returns ``v``. Until then the new task runs under the caller's cancel scopes; afterwards
        it belongs to this group. Checkpoint: yes. If the task fails before it started, its
        error is raised here (grouped); if it returns without calling ``started()``,
        ``RuntimeError``. Cancelling the caller cancels the task if it has not started yet.
        """
        if self._state not in (_OPEN, _EXITING):
            raise RuntimeError("this TaskGroup is not open")
        status: TaskStatus[Any] = TaskStatus(self)
        async with TaskGroup() as staging:
            coro = coerce_coroutine(lambda: fn(*args, task_status=status), (), "TaskGroup.start()")
            task = staging._runner.spawn(coro, staging, staging.cancel_scope, name)
            status._task = task
            status._staging = staging
            # Woken by started(), or by the staging group emptying (the task ended).
            staging._waiting = True
            try:
                await trap(Park("waiting for task_status.started()"))
            finally:
                staging._waiting = False
        if not status._started:
            raise RuntimeError(f"{task.name!r} returned without calling task_status.started()")
        return status._value

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is not None and not isinstance(exc, Cancelled):
            self._errors.insert(0, exc)
            self.cancel_scope._cancel(
                f"the task group body raised {type(exc).__name__}", _where(exc)
            )
        self._state = _EXITING
        host = self._host
        assert host is not None
        while self._children:
            self._waiting = True
            try:
                count = len(self._children)
                what = f"task group: {count} task{'' if count == 1 else 's'}"
                await trap(Park(what, _keep_waiting))
            finally:
                self._waiting = False
        self._state = _CLOSED
        host._child_groups.remove(self)
        errors = self._errors
        self._errors = []
        if errors:
            self.cancel_scope._exit(None)
            group = BaseExceptionGroup(_describe(errors), errors)
            try:
                raise group from None
            finally:
                del group, errors, exc
        remaining = self.cancel_scope._exit(exc)
        if remaining is None:
            if exc is None and host._cancel_pending:
                # Children were cancelled from outside; leaving is a cancel point.
                error = cancelled_error_for(host).error
                try:
                    raise error
                finally:
                    del error
            return exc is not None
        return False

    def _child_exited(self, task: Task) -> None:
        self._children.pop(task, None)
        error = task._error
        if error is not None and not isinstance(error, Cancelled):
            self._errors.append(error)
            self.cancel_scope._cancel(
                f"task {task.name!r} raised {type(error).__name__}", _where(error)
            )
        if not self._children and self._waiting:
            host = self._host
            if host is not None and host._wait is not None:
                self._runner.wake(host, None)


def _where(error: BaseException) -> str:
    tb = error.__traceback__
    if tb is None:
        return "unknown"
    while tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"


def _describe(errors: list[BaseException]) -> str:
    if len(errors) == 1:
        return "a task in the TaskGroup failed"
    return f"{len(errors)} tasks in the TaskGroup failed"


@final
class TaskStatus(Generic[T]):
    """Passed as ``task_status`` to a function started with ``TaskGroup.start``."""

    __slots__ = ("_staging", "_started", "_target", "_task", "_value")

    def __init__(self, target: TaskGroup | None) -> None:
        self._target = target
        self._task: Task | None = None
        self._staging: TaskGroup | None = None
        self._started = False
        self._value: Any = None

    def started(self, value: T | None = None) -> None:
        """Report readiness: ``start()`` returns ``value`` and the task moves to its group."""
        if self._target is None:
            return
        if self._started:
            raise RuntimeError("task_status.started() called twice")
        target, task, staging = self._target, self._task, self._staging
        assert task is not None and staging is not None
        if target._state not in (_OPEN, _EXITING):
            raise RuntimeError("the TaskGroup this task was started in has closed")
        self._started = True
        self._value = value
        if staging.cancel_scope._eff:
            # The caller of start() was cancelled: the task stays in the staging group and is
            # cancelled with it instead of escaping into the target group (as in trio).
            return
        staging._children.pop(task, None)
        task._group = target
        target._children[task] = None
        reparent(task, target.cancel_scope)
        host = staging._host
        if host is not None and host._wait is not None:
            staging._runner.wake(host, None)


#: Default for ``task_status`` parameters: ``started()`` does nothing when not run by ``start``.
TASK_STATUS_IGNORED: TaskStatus[Any] = TaskStatus(None)


async def gather(*awaitables: Awaitable[Any], return_exceptions: bool = False) -> list[Any]:
    """Run the awaitables concurrently and return their results in argument order.

    Checkpoint: yes. If one raises (and ``return_exceptions`` is false), the others are cancelled
    and awaited, then the first error is raised as itself. With ``return_exceptions=True``
    exceptions take their place in the list. Cancelling ``gather`` cancels all of them.
    ``TypeError`` if an argument is not awaitable.
    """
    for index, aw in enumerate(awaitables):
        if not hasattr(aw, "__await__"):
            for other in awaitables:
                if inspect.iscoroutine(other):
                    other.close()
                elif hasattr(other, "_seconds"):
                    other._seconds = None  # a trapline.sleep: it will not be awaited now
            raise TypeError(
                f"gather() takes awaitables (coroutine objects, tasks); argument {index} is "
                f"{aw!r} of type {type(aw).__name__}"
            )
    results: list[Any] = [None] * len(awaitables)
    first_error: list[BaseException] = []

    async def one(index: int, aw: Awaitable[Any]) -> None:
        try:
            results[index] = await aw
        except Cancelled:
            raise
        except BaseException as error:
            if return_exceptions and isinstance(error, Exception):
                results[index] = error
            elif not first_error:
                first_error.append(error)
                group.cancel_scope._cancel(f"gather(): argument {index} raised", _where(error))

    try:
        async with TaskGroup() as group:
            for index, aw in enumerate(awaitables):
                group._runner.spawn(one(index, aw), group, group.cancel_scope, _name_of(aw, index))
    except Cancelled:
        # Cancelled from outside after a child failed: the failure must not be lost.
        if first_error:
            error = first_error.pop()
            try:
                raise error from None
            finally:
                del error
        raise
    if first_error:
        error = first_error.pop()
        try:
            raise error
        finally:
            del error
    return results


def _name_of(aw: Any, index: int) -> str | None:
    name = getattr(aw, "__qualname__", None)
    return None if name is None else f"{name}-{index + 1}"
