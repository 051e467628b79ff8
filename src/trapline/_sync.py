"""Synchronisation primitives: Event, Lock, Semaphore, Condition and CapacityLimiter.

All of them are built on one wait queue, ``trapline.lowlevel.ParkingLot`` (FIFO and
cancellation-aware), and on nothing else of the kernel (trio ``_sync.py``). Waking is a hand-off:
``Lock.release`` makes the longest waiter the owner before it even runs, ``Semaphore.release``
and ``CapacityLimiter`` give their unit straight to the longest waiter, so a task that arrives
later can never barge in ahead of one that was already waiting, and a cancelled waiter has left
the lot before anything could be handed to it. Every ``async`` method is a checkpoint; when it
does not have to wait it still is one, in trio's shape: ``checkpoint_if_cancelled`` first (so a
cancelled task never takes anything), then the non-blocking attempt, then a
``cancel_shielded_checkpoint`` (so what was taken is never lost to a late ``Cancelled``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, final

from ._core import Cancelled, CancelScope, WouldBlock
from .lowlevel import (
    ParkingLot,
    Task,
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    current_task,
)

__all__ = [
    "CapacityLimiter",
    "CapacityLimiterStatistics",
    "Condition",
    "ConditionStatistics",
    "Event",
    "EventStatistics",
    "Lock",
    "LockStatistics",
    "Semaphore",
    "SemaphoreStatistics",
]


class _AcquireRelease(Protocol):
    async def acquire(self) -> None: ...
    def release(self) -> None: ...


class _AsyncContextManagerMixin:
    """``async with x:`` acquires on entry (a checkpoint) and releases on exit (not one)."""

    __slots__ = ()

    async def __aenter__(self: _AcquireRelease) -> None:
        await self.acquire()

    async def __aexit__(
        self: _AcquireRelease,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


# -- Event -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventStatistics:
    """``tasks_waiting``: tasks blocked in ``Event.wait``."""

    tasks_waiting: int


@final
class Event:
    """A flag that starts unset and, once ``set()``, stays set; ``wait()`` waits for it.

    There is no ``clear()`` (trio's reasoning: an event that happened cannot un-happen; make a new
    ``Event`` for the next one), so a waiter can never miss a ``set()``.
    """

    __slots__ = ("_flag", "_lot")

    def __init__(self) -> None:
        self._flag = False
        self._lot = ParkingLot("Event")

    def __repr__(self) -> str:
        state = "set" if self._flag else "unset"
        return f"<Event {state}, {len(self._lot)} waiting>"

    def is_set(self) -> bool:
        """True once ``set()`` was called."""
        return self._flag

    def set(self) -> None:
        """Set the flag and wake every waiter. Not a checkpoint; idempotent."""
        if not self._flag:
            self._flag = True
            self._lot.unpark_all()

    async def wait(self) -> None:
        """Wait until the flag is set (return at once if it already is).

        Checkpoint: yes, also when the flag is already set. Raises ``Cancelled`` if the task is
        cancelled before the flag is set; cancellation just stops the waiting.
        """
        if self._flag:
            await checkpoint()
        else:
            await self._lot.park()

    def statistics(self) -> EventStatistics:
        return EventStatistics(tasks_waiting=len(self._lot))


# -- Lock --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockStatistics:
    """``locked``; ``owner``, the task holding the lock (or None); ``tasks_waiting``."""

    locked: bool
    owner: Task | None
    tasks_waiting: int


@final
class _LockReason:
    """The wait reason of a task waiting for a Lock: names the holder (for deadlock reports)."""

    __slots__ = ("_lock",)

    def __init__(self, lock: Lock) -> None:
        self._lock = lock

    def __str__(self) -> str:
        owner = self._lock._owner
        return "Lock" if owner is None else f"Lock held by {owner.name}"


@final
class Lock(_AsyncContextManagerMixin):
    """A mutex owned by one task at a time; only the owner may release it. Not re-entrant.

    Fair: ``release()`` hands ownership directly to the task that has waited longest, so waiters
    acquire the lock in the order they asked for it. If the owner finishes without releasing,
    the lock stays held (there is no automatic breaking).
    """

    __slots__ = ("_lot", "_owner")

    def __init__(self) -> None:
        self._owner: Task | None = None
        self._lot = ParkingLot(_LockReason(self))

    def __repr__(self) -> str:
        if self._owner is None:
            return "<Lock unlocked>"
        return f"<Lock locked by {self._owner.name!r}, {len(self._lot)} waiting>"

    def locked(self) -> bool:
        """True while some task holds the lock."""
        return self._owner is not None

    def acquire_nowait(self) -> None:
        """Take the lock without waiting. Not a checkpoint.

        Raises ``WouldBlock`` if it is held (or others are already queued for it), and
        ``RuntimeError`` if the current task already holds it.
        """
        task = current_task()
        if self._owner is task:
            raise RuntimeError("this task already holds the Lock (it is not re-entrant)")
        if self._owner is None and not self._lot:
            self._owner = task
        else:
            raise WouldBlock

    async def acquire(self) -> None:
        """Take the lock, waiting in FIFO order while another task holds it.

        Checkpoint: yes. Raises ``RuntimeError`` if the current task already holds the lock, and
        ``Cancelled`` if cancelled first or while waiting; a cancelled waiter leaves the queue
        and never becomes the owner.
        """
        await checkpoint_if_cancelled()
        try:
            self.acquire_nowait()
        except WouldBlock:
            # release() makes us the owner before waking us.
            await self._lot.park()
        else:
            await cancel_shielded_checkpoint()

    def release(self) -> None:
        """Release the lock, handing it to the longest waiter if there is one. Not a checkpoint.

        Raises ``RuntimeError`` if the current task is not the owner.
        """
        if current_task() is not self._owner:
            raise RuntimeError("only the task that holds a Lock can release it")
        self._hand_off()

    def _hand_off(self) -> None:
        woken = self._lot.unpark()
        self._owner = woken[0] if woken else None

    def statistics(self) -> LockStatistics:
        return LockStatistics(
            locked=self._owner is not None, owner=self._owner, tasks_waiting=len(self._lot)
        )


# -- Semaphore ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SemaphoreStatistics:
    """``value``; ``max_value`` (None if unbounded); ``tasks_waiting`` in ``acquire``."""

    value: int
    max_value: int | None
    tasks_waiting: int


@final
class Semaphore(_AsyncContextManagerMixin):
    """A counter that ``acquire`` decrements (waiting while it is zero) and ``release`` increments.

    ``max_value`` makes it bounded: releasing past it raises ``ValueError``. Unlike a ``Lock``, any
    task may release. Fair: a release with waiters hands the unit straight to the longest waiter
    (the value stays 0). For "at most N tasks at once", ``CapacityLimiter`` checks more.
    """

    __slots__ = ("_lot", "_max_value", "_value")

    def __init__(self, initial_value: int, *, max_value: int | None = None) -> None:
        if not isinstance(initial_value, int):
            raise TypeError("initial_value must be an int")
        if initial_value < 0:
            raise ValueError("initial_value must be >= 0")
        if max_value is not None:
            if not isinstance(max_value, int):
                raise TypeError("max_value must be None or an int")
            if max_value < initial_value:
                raise ValueError("max_value must be >= initial_value")
        self._value = initial_value
        self._max_value = max_value
        self._lot = ParkingLot("Semaphore")

    def __repr__(self) -> str:
        bound = "" if self._max_value is None else f", max_value={self._max_value}"
        return f"<Semaphore value={self._value}{bound}, {len(self._lot)} waiting>"

    @property
    def value(self) -> int:
        """The current value."""
        return self._value

    @property
    def max_value(self) -> int | None:
        """The bound given to the constructor, or None."""
        return self._max_value

    def acquire_nowait(self) -> None:
        """Decrement the value without waiting. Not a checkpoint. ``WouldBlock`` if it is 0."""
        if self._value > 0:
            self._value -= 1
        else:
            raise WouldBlock

    async def acquire(self) -> None:
        """Decrement the value, waiting in FIFO order while it is 0.

        Checkpoint: yes. Raises ``Cancelled`` if cancelled first or while waiting; a cancelled
        waiter leaves the queue without taking a unit.
        """
        await checkpoint_if_cancelled()
        try:
            self.acquire_nowait()
        except WouldBlock:
            # release() hands us its unit directly (the value never goes up in between).
            await self._lot.park()
        else:
            await cancel_shielded_checkpoint()

    def release(self) -> None:
        """Increment the value, or hand the unit to the longest waiter. Not a checkpoint.

        Raises ``ValueError`` if that would take the value past ``max_value``.
        """
        if self._lot:
            self._lot.unpark()
        elif self._max_value is not None and self._value >= self._max_value:
            raise ValueError("Semaphore released too many times (past its max_value)")
        else:
            self._value += 1

    def statistics(self) -> SemaphoreStatistics:
        return SemaphoreStatistics(
            value=self._value, max_value=self._max_value, tasks_waiting=len(self._lot)
        )


# -- Condition ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConditionStatistics:
    """``tasks_waiting`` in ``Condition.wait``; ``lock_statistics`` of the underlying lock."""

    tasks_waiting: int
    lock_statistics: LockStatistics


@final
class Condition(_AsyncContextManagerMixin):
    """A condition variable over a ``Lock`` (a new one unless ``lock`` is given).

    ``async with cond:`` holds the lock; ``await cond.wait()`` releases it, waits for
    ``notify``, and holds it again before returning. ``notify`` does not wake the waiters: it moves
    them from the condition's queue to the back of the lock's queue (``ParkingLot.repark``), so
    they run one at a time, each as the lock's owner, after the notifier releases it.
    """

    __slots__ = ("_lock", "_lot")

    def __init__(self, lock: Lock | None = None) -> None:
        if lock is None:
            lock = Lock()
        elif type(lock) is not Lock:
            raise TypeError("lock must be a trapline Lock")
        self._lock = lock
        self._lot = ParkingLot("Condition")

    def __repr__(self) -> str:
        return f"<Condition {len(self._lot)} waiting, over {self._lock!r}>"

    @property
    def lock(self) -> Lock:
        """The underlying lock."""
        return self._lock

    def locked(self) -> bool:
        """True while some task holds the underlying lock."""
        return self._lock.locked()

    def acquire_nowait(self) -> None:
        """Take the underlying lock without waiting (``Lock.acquire_nowait``). Not a checkpoint."""
        self._lock.acquire_nowait()

    async def acquire(self) -> None:
        """Take the underlying lock (``Lock.acquire``).

        Checkpoint: yes. Raises ``RuntimeError`` if already held by this task and ``Cancelled``
        if cancelled; a cancelled waiter does not get the lock.
        """
        await self._lock.acquire()

    def release(self) -> None:
        """Release the underlying lock. Not a checkpoint; ``RuntimeError`` if not the owner."""
        self._lock.release()

    def _check_owner(self, what: str) -> None:
        if current_task() is not self._lock._owner:
            raise RuntimeError(f"a task must hold the Condition's lock to {what}")

    async def wait(self) -> None:
        """Release the lock, wait for ``notify``, then re-acquire the lock and return.

        Checkpoint: yes. Raises ``RuntimeError`` if the current task does not hold the lock.
        Raises ``Cancelled`` if cancelled while waiting, but only after re-acquiring the lock
        (waiting for it, shielded), so ``async with cond: await cond.wait()`` always exits as the
        lock's owner; a cancelled waiter is not woken by a later ``notify``.
        """
        self._check_owner("wait")
        self._lock.release()
        try:
            # notify() moves us to the lock's queue; the lock's release then wakes us as owner.
            await self._lot.park()
        except BaseException:
            # Only an abort (cancellation) raises here, and an aborted waiter is in neither
            # queue, so it does not hold the lock yet: get it back before letting the error out.
            if self._lock._owner is not current_task():
                with CancelScope(shield=True):
                    await self._lock.acquire()
            raise

    def notify(self, n: int = 1) -> None:
        """Wake up to ``n`` of the longest waiters (each resumes holding the lock, in turn).

        Not a checkpoint. ``RuntimeError`` if the current task does not hold the lock.
        """
        self._check_owner("notify")
        self._lot.repark(self._lock._lot, count=n)

    def notify_all(self) -> None:
        """Wake every waiter. Not a checkpoint. ``RuntimeError`` unless holding the lock."""
        self._check_owner("notify")
        self._lot.repark_all(self._lock._lot)

    def statistics(self) -> ConditionStatistics:
        return ConditionStatistics(
            tasks_waiting=len(self._lot), lock_statistics=self._lock.statistics()
        )


# -- CapacityLimiter ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CapacityLimiterStatistics:
    """``borrowed_tokens``; ``total_tokens`` (may be below ``borrowed_tokens`` just after being
    lowered); ``borrowers``, who holds the tokens; ``tasks_waiting`` for one."""

    borrowed_tokens: int
    total_tokens: int | float
    borrowers: tuple[object, ...]
    tasks_waiting: int


@final
class CapacityLimiter(_AsyncContextManagerMixin):
    """A sack of ``total_tokens`` tokens: at most that many borrowers at once.

    Each token is borrowed by someone (the current task, or any object through
    ``acquire_on_behalf_of``), who may hold at most one and must be the one to give it back, so
    mistakes show up as ``RuntimeError`` instead of a drifting count. Fair: a returned token goes
    straight to the longest waiter.
    """

    __slots__ = ("_borrowers", "_lot", "_pending", "_total_tokens")

    def __init__(self, total_tokens: int | float) -> None:
        self._lot = ParkingLot("CapacityLimiter")
        # Insertion-ordered so statistics list borrowers in the order they got their tokens.
        self._borrowers: dict[object, None] = {}
        # Parked task -> whom it borrows for; moved to _borrowers when it is handed a token.
        self._pending: dict[Task, object] = {}
        self._total_tokens: int | float = 0
        self.total_tokens = total_tokens

    def __repr__(self) -> str:
        return (
            f"<CapacityLimiter {len(self._borrowers)}/{self._total_tokens} borrowed, "
            f"{len(self._lot)} waiting>"
        )

    @property
    def total_tokens(self) -> int | float:
        """How many tokens the sack holds (an int >= 0 or ``math.inf``); settable.

        Raising it hands the new tokens to waiters at once. Lowering it below
        ``borrowed_tokens`` takes nothing back: new borrowers wait until enough are returned.
        """
        return self._total_tokens

    @total_tokens.setter
    def total_tokens(self, value: int | float) -> None:
        if not (isinstance(value, int) and not isinstance(value, bool)) and value != math.inf:
            raise TypeError("total_tokens must be an int or math.inf")
        if value < 0:
            raise ValueError("total_tokens must be >= 0")
        self._total_tokens = value
        self._wake_waiters()

    def _wake_waiters(self) -> None:
        available = self._total_tokens - len(self._borrowers)
        if available >= 1:
            count = len(self._lot) if available == math.inf else int(available)
            for task in self._lot.unpark(count=count):
                self._borrowers[self._pending.pop(task)] = None

    @property
    def borrowed_tokens(self) -> int:
        """How many tokens are borrowed now."""
        return len(self._borrowers)

    @property
    def available_tokens(self) -> int | float:
        """``total_tokens - borrowed_tokens`` (negative just after ``total_tokens`` was lowered)."""
        return self._total_tokens - len(self._borrowers)

    def acquire_nowait(self) -> None:
        """Borrow a token for the current task without waiting. Not a checkpoint.

        Raises ``WouldBlock`` if none is free (or others are queued), ``RuntimeError`` if the task
        already holds one.
        """
        self.acquire_on_behalf_of_nowait(current_task())

    def acquire_on_behalf_of_nowait(self, borrower: object) -> None:
        """Borrow a token for ``borrower`` (any hashable object) without waiting.

        Not a checkpoint. Raises ``WouldBlock`` if none is free (or others are queued),
        ``RuntimeError`` if ``borrower`` already holds one.
        """
        if borrower in self._borrowers:
            raise RuntimeError(f"{borrower!r} already holds a token of this CapacityLimiter")
        if len(self._borrowers) < self._total_tokens and not self._lot:
            self._borrowers[borrower] = None
        else:
            raise WouldBlock

    async def acquire(self) -> None:
        """Borrow a token for the current task, waiting in FIFO order if none is free.

        Checkpoint: yes. Raises ``RuntimeError`` if the task already holds a token and
        ``Cancelled`` if cancelled first or while waiting; a cancelled waiter borrows nothing.
        """
        await self.acquire_on_behalf_of(current_task())

    async def acquire_on_behalf_of(self, borrower: object) -> None:
        """Borrow a token for ``borrower``, waiting in FIFO order if none is free.

        Checkpoint: yes. Raises ``RuntimeError`` if ``borrower`` already holds a token and
        ``Cancelled`` if cancelled first or while waiting; a cancelled waiter borrows nothing.
        """
        await checkpoint_if_cancelled()
        try:
            self.acquire_on_behalf_of_nowait(borrower)
        except WouldBlock:
            task = current_task()
            self._pending[task] = borrower
            try:
                await self._lot.park()
            except Cancelled:
                # The lot's abort removed us before any token could be handed to us.
                del self._pending[task]
                raise
        else:
            await cancel_shielded_checkpoint()

    def release(self) -> None:
        """Return the current task's token. Not a checkpoint; ``RuntimeError`` if it has none."""
        self.release_on_behalf_of(current_task())

    def release_on_behalf_of(self, borrower: object) -> None:
        """Return ``borrower``'s token, waking the longest waiter if a token is now free.

        Not a checkpoint. ``RuntimeError`` if ``borrower`` holds no token.
        """
        if borrower not in self._borrowers:
            raise RuntimeError(f"{borrower!r} holds no token of this CapacityLimiter")
        del self._borrowers[borrower]
        self._wake_waiters()

    def statistics(self) -> CapacityLimiterStatistics:
        return CapacityLimiterStatistics(
            borrowed_tokens=len(self._borrowers),
            total_tokens=self._total_tokens,
            borrowers=tuple(self._borrowers),
            tasks_waiting=len(self._lot),
        )
