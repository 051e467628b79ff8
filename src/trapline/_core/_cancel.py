"""Cancel scopes: native, level-triggered cancellation (trio's model).

Once a scope is cancelled, every checkpoint inside it raises ``Cancelled`` until the scope exits,
where the ``Cancelled`` is absorbed. Scopes form a tree. Within one task the scopes it entered
are a chain (``scope._child`` is the next one in); a task group's scope also has the group's child
tasks below it, each starting its own chain. Every scope keeps ``_eff``, "effectively cancelled"
(cancelled itself, or its parent is and it is not shielded), and every task caches its innermost
scope's value in ``task._cancel_pending``, so a checkpoint reads one attribute instead of walking
scopes. Flags are updated eagerly, and only on the rare events that change them: ``cancel()``, a
deadline expiring, ``shield`` changing, and entering or leaving a scope.

A scope's deadline is an entry in the kernel's deadline heap; moving or dropping it is O(1) (the old
entry is left behind and skipped later).
"""

from __future__ import annotations

import math
import sys
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, final

from ._exceptions import Cancelled
from ._traps import Raise

if TYPE_CHECKING:
    from ._run import Runner
    from ._task import Task
    from ._taskgroup import TaskGroup

__all__ = [
    "CancelScope",
    "current_effective_deadline",
    "fail_after",
    "fail_at",
    "move_on_after",
    "move_on_at",
]

_NEW, _ACTIVE, _EXITED = 0, 1, 2


def _caller(depth: int) -> str:
    frame = sys._getframe(depth + 1)
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


@final
class CancelScope:
    """A region of code that can be cancelled, by ``cancel()`` or by a deadline.

    ``with CancelScope(deadline=..., shield=False) as scope:``. ``deadline`` is an absolute time on
    the run's clock and may be changed while the scope is active; ``shield=True`` hides
    cancellation of enclosing scopes. After the block, ``cancelled_caught`` tells whether the scope
    absorbed a ``Cancelled``. A scope is entered at most once.
    """

    __slots__ = (
        "_cancel_called",
        "_child",
        "_deadline",
        "_eff",
        "_group",
        "_host",
        "_parent",
        "_reason",
        "_runner",
        "_shield",
        "_state",
        "_timer",
        "_where",
        "cancelled_caught",
    )

    def __init__(self, *, deadline: float = math.inf, shield: bool = False) -> None:
        if math.isnan(deadline):
            raise ValueError("deadline must not be NaN")
        self._deadline = float(deadline)
        self._shield = shield
        self._cancel_called = False
        self.cancelled_caught = False
        self._reason: str | None = None
        self._where: str | None = None
        self._parent: CancelScope | None = None
        self._child: CancelScope | None = None
        self._group: TaskGroup | None = None
        self._host: Task | None = None
        self._runner: Runner | None = None
        self._eff = False
        self._state = _NEW
        self._timer: tuple[float, int, Any] | None = None

    def __repr__(self) -> str:
        state = ("new", "active", "exited")[self._state]
        extra = ", cancelled" if self._cancel_called else ""
        if self._deadline != math.inf:
            extra += f", deadline={self._deadline:g}"
        return f"<CancelScope {state}{extra}>"

    # -- public properties ---------------------------------------------------------------------

    @property
    def cancel_called(self) -> bool:
        """True once ``cancel()`` was called or the deadline expired."""
        return self._cancel_called

    @property
    def deadline(self) -> float:
        """Absolute deadline on the run's clock (``math.inf`` for none); settable."""
        return self._deadline

    @deadline.setter
    def deadline(self, value: float) -> None:
        if math.isnan(value):
            raise ValueError("deadline must not be NaN")
        self._deadline = float(value)
        if self._state == _ACTIVE:
            self._arm_deadline()

    @property
    def shield(self) -> bool:
        """While True, cancellation of enclosing scopes does not reach inside; settable."""
        return self._shield

    @shield.setter
    def shield(self, value: bool) -> None:
        self._shield = bool(value)
        if self._state == _ACTIVE:
            _update(self)

    @property
    def reason(self) -> str | None:
        """Why the scope was cancelled, once it has been."""
        return self._reason

    # -- cancelling ----------------------------------------------------------------------------

    def cancel(self, reason: str | None = None) -> None:
        """Cancel the scope; checkpoints inside then raise ``Cancelled``. Not a checkpoint."""
        self._cancel(reason, _caller(1))

    def _cancel(self, reason: str | None, where: str) -> None:
        if self._cancel_called:
            return
        self._cancel_called = True
        self._reason = reason
        self._where = where
        self._disarm_deadline()
        if self._state == _ACTIVE:
            _update(self)

    def _deadline_expired(self) -> None:
        self._timer = None
        self._cancel("deadline expired", "deadline")

    def _make_cancelled(self) -> Cancelled:
        return Cancelled(self._reason, self._where)

    # -- deadline registration -----------------------------------------------------------------

    def _arm_deadline(self) -> None:
        self._disarm_deadline()
        if self._deadline != math.inf and not self._cancel_called:
            runner = self._runner
            assert runner is not None
            if self._deadline <= runner.clock.current_time():
                self._cancel("deadline expired", "deadline")
            else:
                self._timer = runner.deadlines.add(self._deadline, self)

    def _disarm_deadline(self) -> None:
        timer = self._timer
        if timer is not None:
            self._timer = None
            assert self._runner is not None
            self._runner.deadlines.discard()

    # -- entering and leaving ------------------------------------------------------------------

    def __enter__(self) -> CancelScope:
        from ._run import current_runner

        runner = current_runner()
        task = runner.current_task
        if task is None:
            raise RuntimeError("a CancelScope must be entered from inside a task")
        if self._state != _NEW:
            raise RuntimeError("a CancelScope can be entered only once")
        self._enter(runner, task)
        return self

    def _enter(self, runner: Runner, task: Task) -> None:
        self._state = _ACTIVE
        self._runner = runner
        self._host = task
        parent = task._scope
        self._parent = parent
        if parent._host is task:
            parent._child = self
        else:
            task._outer = self
        task._scope = self
        self._eff = eff = self._cancel_called or (parent._eff and not self._shield)
        task._cancel_pending = eff
        if self._deadline != math.inf:
            self._arm_deadline()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        remaining = self._exit(exc)
        if remaining is exc:
            return False
        if remaining is None:
            return True
        try:
            raise remaining
        finally:
            del remaining, exc

    def _exit(self, exc: BaseException | None) -> BaseException | None:
        """Leave the scope; return what should propagate (``exc``, a part of it, or None)."""
        task = self._host
        if self._state != _ACTIVE or task is None:
            raise RuntimeError("this CancelScope is not active")
        if task._scope is not self:
            raise RuntimeError(
                "cancel scopes exited out of order (a scope must be exited in the task that "
                "entered it, innermost first)"
            )
        self._state = _EXITED
        self._disarm_deadline()
        parent = self._parent
        assert parent is not None
        if parent._child is self:
            parent._child = None
        if task._outer is self:
            task._outer = None
        task._scope = parent
        task._cancel_pending = parent._eff
        if exc is None or not self._cancel_called or (parent._eff and not self._shield):
            return exc
        if isinstance(exc, Cancelled):
            self.cancelled_caught = True
            return None
        if isinstance(exc, BaseExceptionGroup):
            matched, rest = exc.split(Cancelled)
            if matched is not None:
                self.cancelled_caught = True
            return rest
        return exc


def _update(scope: CancelScope) -> None:
    """Recompute ``_eff`` for ``scope`` and everything below it, waking parked tasks."""
    stack = [scope]
    while stack:
        node = stack.pop()
        parent = node._parent
        eff = node._cancel_called or (parent is not None and parent._eff and not node._shield)
        if eff == node._eff and node is not scope:
            continue
        node._eff = eff
        child = node._child
        if child is not None:
            stack.append(child)
        else:
            host = node._host
            if host is not None and host._scope is node:
                _set_task_flag(host, eff)
        group = node._group
        if group is not None:
            for task in group._children:
                if task._outer is not None:
                    stack.append(task._outer)
                elif task._scope is node:
                    _set_task_flag(task, eff)


def _set_task_flag(task: Task, eff: bool) -> None:
    if eff and not task._cancel_pending:
        runner = task._runner
        if runner.instruments:
            reason = str(cancelled_error_for(task).error)
            runner.instruments.call("task_cancelled", task, runner.current_task, reason)
    task._cancel_pending = eff
    if eff and task._wait is not None:
        task._runner.try_abort(task)


def cancelled_error_for(task: Task) -> Raise:
    """The ``Cancelled`` to deliver to ``task``: from the outermost visible cancelled scope."""
    scope: CancelScope | None = task._scope
    source = None
    while scope is not None and scope._eff:
        if scope._cancel_called:
            source = scope
        if scope._shield:
            break
        scope = scope._parent
    if source is None:
        return Raise(Cancelled("cancelled"))
    return Raise(source._make_cancelled())


class _OwnMarker:
    __slots__ = ("_children",)

    def __init__(self) -> None:
        self._children: tuple[()] = ()


_OWN: Any = _OwnMarker()


def own_scope(task: Task) -> CancelScope:
    """The task's private outermost scope (made on first use), for ``Task.cancel()``."""
    scope = task._outer
    if scope is None or scope._group is not _OWN:
        scope = CancelScope()
        scope._group = _OWN  # marks a task's own scope; it is always the task's outermost
        scope._state = _ACTIVE
        scope._runner = task._runner
        scope._host = task
        scope._parent = task._base
        scope._eff = task._base._eff
        outer = task._outer
        if outer is not None:
            outer._parent = scope
            scope._child = outer
        else:
            task._scope = scope
        task._outer = scope
    return scope


def reparent(task: Task, base: CancelScope) -> None:
    """Move ``task`` (and its scope chain) under ``base``, recomputing cancellation flags."""
    task._base = base
    outer = task._outer
    if outer is not None:
        outer._parent = base
        _update(outer)
    else:
        task._scope = base
        _set_task_flag(task, base._eff)


def current_effective_deadline() -> float:
    """The earliest deadline that applies here (``-inf`` if already cancelled, ``inf`` if none).

    Not a checkpoint.
    """
    from ._run import current_runner

    task = current_runner().current_task
    if task is None:
        raise RuntimeError("must be called from inside a task")
    scope: CancelScope | None = task._scope
    deadline = math.inf
    while scope is not None:
        if scope._cancel_called:
            return -math.inf
        deadline = min(deadline, scope._deadline)
        if scope._shield:
            break
        scope = scope._parent
    return deadline


def move_on_at(deadline: float, *, shield: bool = False) -> CancelScope:
    """A scope that is cancelled at ``deadline``: the block is abandoned silently at that time."""
    return CancelScope(deadline=deadline, shield=shield)


def move_on_after(seconds: float, *, shield: bool = False) -> CancelScope:
    """A scope that is cancelled ``seconds`` from now (``seconds`` must be >= 0)."""
    from ._run import current_runner

    if seconds < 0 or math.isnan(seconds):
        raise ValueError(f"timeout must be a non-negative number, not {seconds!r}")
    return CancelScope(deadline=current_runner().clock.current_time() + seconds, shield=shield)


@final
class _FailScope(AbstractContextManager["CancelScope"]):
    """``fail_at``/``fail_after``: a ``move_on`` scope that turns its own deadline into the
    builtin ``TimeoutError`` when the block ends. A class rather than a generator context
    manager so that ``async with fail_after(1)`` says what is wrong, not that a
    ``_GeneratorContextManager`` lacks ``__aenter__``."""

    __slots__ = ("_message", "_scope")

    def __init__(self, scope: CancelScope, message: str) -> None:
        self._scope = scope
        self._message = message

    def __enter__(self) -> CancelScope:
        return self._scope.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        scope = self._scope
        handled = scope.__exit__(exc_type, exc, tb)
        if scope.cancelled_caught and scope._where == "deadline":
            raise TimeoutError(self._message) from exc  # as asyncio.timeout: shows where it waited
        return handled

    async def __aenter__(self) -> NoReturn:
        raise TypeError(
            "fail_after()/fail_at() are used with a plain 'with' (entering a cancel scope does "
            "not wait for anything): 'with trapline.fail_after(...):'"
        )

    async def __aexit__(self, *exc: object) -> None:  # pragma: no cover - never entered
        pass


def fail_at(deadline: float, *, shield: bool = False) -> AbstractContextManager[CancelScope]:
    """Like ``move_on_at``, but raises the builtin ``TimeoutError`` if the deadline cancelled
    the block. ``with fail_at(t) as scope:`` gives the ``CancelScope``."""
    return _FailScope(move_on_at(deadline, shield=shield), f"deadline t={deadline:g} expired")


def fail_after(seconds: float, *, shield: bool = False) -> AbstractContextManager[CancelScope]:
    """Like ``move_on_after``, but raises the builtin ``TimeoutError`` if the time ran out.
    ``with fail_after(s) as scope:`` gives the ``CancelScope``."""
    return _FailScope(move_on_after(seconds, shield=shield), f"timed out after {seconds:g} s")
