"""Channels and queues for passing objects between tasks: ``open_channel`` and ``Queue``.

``open_channel(max_buffer)`` (trio's memory channels) gives a ``SendChannel`` and a
``ReceiveChannel`` sharing a buffer of ``max_buffer`` items (0 is a rendezvous, ``math.inf`` is
unbounded). Either end can be ``clone()``d; the channel's sending side is closed when every send
handle is, and then receivers drain the buffer and get ``EndOfChannel``; once every receive handle
is closed, senders get ``BrokenResourceError``. ``Queue`` is the same machinery in asyncio's shape
(``put``/``get``, ``maxsize=0`` unbounded, ``task_done``/``join``) with a ``close()``.

Waiting senders and receivers sit in insertion-ordered dicts (FIFO, O(1) removal of a cancelled
waiter), parked with ``trapline.lowlevel.park`` and an abort callback that removes them. Items
are handed over directly: a ``send`` that finds a parked receiver reschedules it with the item,
and a ``receive`` that finds a parked sender takes its item and reschedules it, so the order is
FIFO for both sides and an operation either completes or, if cancelled, leaves the channel
exactly as it was (a cancelled receiver is never handed an item; a cancelled sender's item is
never delivered).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, Self, TypeVar, final

from ._core import BrokenResourceError, ClosedResourceError, EndOfChannel, WouldBlock
from .lowlevel import (
    Abort,
    ParkingLot,
    Task,
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    current_task,
    park,
    reschedule,
)

__all__ = [
    "ChannelStatistics",
    "Queue",
    "QueueStatistics",
    "ReceiveChannel",
    "SendChannel",
    "open_channel",
]

T = TypeVar("T")


@dataclass(frozen=True)
class ChannelStatistics:
    """The state of a channel (shared by all its handles).

    ``current_buffer_used`` and ``max_buffer``; ``open_send_channels`` and
    ``open_receive_channels``, the handles not closed yet; ``tasks_waiting_send`` and
    ``tasks_waiting_receive``, over all handles.
    """

    current_buffer_used: int
    max_buffer: int | float
    open_send_channels: int
    open_receive_channels: int
    tasks_waiting_send: int
    tasks_waiting_receive: int


@final
class _ChannelState(Generic[T]):
    """What the handles of one channel share."""

    __slots__ = (
        "buffer",
        "max_buffer",
        "open_receive_channels",
        "open_send_channels",
        "receive_tasks",
        "send_tasks",
    )

    def __init__(self, max_buffer: int | float) -> None:
        self.max_buffer = max_buffer
        self.buffer: deque[T] = deque()
        self.open_send_channels = 0
        self.open_receive_channels = 0
        # Parked senders, oldest first: task -> (the handle it sends on, its item).
        self.send_tasks: dict[Task, tuple[SendChannel[T], T]] = {}
        # Parked receivers, oldest first: task -> the handle it receives on.
        self.receive_tasks: dict[Task, ReceiveChannel[T]] = {}

    def statistics(self) -> ChannelStatistics:
        return ChannelStatistics(
            current_buffer_used=len(self.buffer),
            max_buffer=self.max_buffer,
            open_send_channels=self.open_send_channels,
            open_receive_channels=self.open_receive_channels,
            tasks_waiting_send=len(self.send_tasks),
            tasks_waiting_receive=len(self.receive_tasks),
        )


# Written as a class so that it can be subscripted: ``open_channel[int](5)`` (trio's trick).
@final
class open_channel(tuple["SendChannel[T]", "ReceiveChannel[T]"]):
    """Open a channel: ``send, receive = open_channel(max_buffer)``; items flow left to right.

    ``max_buffer`` is how many items may wait in the channel before ``send`` blocks: 0 (the
    default) makes every ``send`` wait for a receiver, ``math.inf`` never blocks senders.
    ``TypeError`` unless it is an int or ``math.inf``; ``ValueError`` if negative. Not a
    checkpoint. For typed code: ``open_channel[int](0)``.
    """

    def __new__(  # type: ignore[misc]  # returns a plain tuple, not an instance
        cls, max_buffer: int | float = 0
    ) -> tuple[SendChannel[T], ReceiveChannel[T]]:
        if max_buffer != math.inf and (not isinstance(max_buffer, int) or type(max_buffer) is bool):
            raise TypeError(f"max_buffer must be an int or math.inf, not {max_buffer!r}")
        if max_buffer < 0:
            raise ValueError(f"max_buffer must be >= 0, not {max_buffer!r}")
        state: _ChannelState[T] = _ChannelState(max_buffer)
        return SendChannel(state), ReceiveChannel(state)

    def __init__(self, max_buffer: int | float = 0) -> None: ...


class _Handle:
    """What both ends of a channel share: closing, by hand or on leaving a ``with`` block."""

    __slots__ = ()

    def close(self) -> None:
        raise NotImplementedError  # pragma: no cover

    async def aclose(self) -> None:
        """Close this handle (see ``close``).

        Checkpoint: yes. The handle is closed even if the task is cancelled, in which case
        ``Cancelled`` is raised afterwards.
        """
        self.close()
        await checkpoint()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Closing is a checkpoint, but must not replace an error already leaving the block.
        self.close()
        if exc is None:
            await checkpoint()
        else:
            await cancel_shielded_checkpoint()


@final
class SendChannel(_Handle, Generic[T]):
    """The sending end of a channel made by ``open_channel`` (or a ``clone()`` of one).

    Several tasks may send at once; blocked senders complete in the order they started. Closing
    the handle (``close()``, ``aclose()``, ``with``/``async with``) is final for this handle; the
    channel's sending side closes when every clone has been closed. Entering ``async with`` is not
    a checkpoint; leaving it closes the handle and is one (only a schedule point, never raising
    ``Cancelled``, when an error is already leaving the block).
    """

    __slots__ = ("_closed", "_state", "_tasks")

    def __init__(self, state: _ChannelState[T]) -> None:
        # Created by open_channel() and clone(), not by hand.
        self._state = state
        self._closed = False
        # Tasks parked in send() on this handle (state.send_tasks has those of every clone).
        self._tasks: dict[Task, None] = {}
        state.open_send_channels += 1

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<SendChannel {state}, channel at {id(self._state):#x}>"

    @property
    def closed(self) -> bool:
        """True once this handle was closed."""
        return self._closed

    def send_nowait(self, value: T) -> None:
        """Send ``value`` if a receiver is waiting or the buffer has room. Not a checkpoint.

        Raises ``WouldBlock`` if the send would have to wait, ``ClosedResourceError`` if this
        handle is closed, ``BrokenResourceError`` if every receive handle is closed.
        """
        if self._closed:
            raise ClosedResourceError("this send channel was closed")
        state = self._state
        if not state.open_receive_channels:
            raise BrokenResourceError("every receive handle of this channel was closed")
        if state.receive_tasks:
            # A parked receiver means the buffer is empty: hand the value over directly.
            task = next(iter(state.receive_tasks))
            handle = state.receive_tasks.pop(task)
            del handle._tasks[task]
            reschedule(task, value)
        elif len(state.buffer) < state.max_buffer:
            state.buffer.append(value)
        else:
            raise WouldBlock

    async def send(self, value: T) -> None:
        """Send ``value``, waiting (FIFO) for a receiver or for room in the buffer.

        Checkpoint: yes. Raises ``ClosedResourceError`` if this handle is closed (also when
        another task closes it while we wait), ``BrokenResourceError`` if every receive handle
        is closed (also while we wait). If cancelled, raises ``Cancelled`` and the value was not
        sent: no receiver will ever get it.
        """
        await checkpoint_if_cancelled()
        try:
            self.send_nowait(value)
        except WouldBlock:
            pass
        else:
            await cancel_shielded_checkpoint()
            return
        task = current_task()
        self._tasks[task] = None
        self._state.send_tasks[task] = (self, value)
        # A receiver takes the value and reschedules us; close() reschedules us with an error.
        await park("channel send", self._abort_send)

    def _abort_send(self, task: Task) -> Abort:
        del self._tasks[task]
        del self._state.send_tasks[task]
        return Abort.SUCCEEDED

    def clone(self) -> SendChannel[T]:
        """Another send handle on the same channel. Not a checkpoint.

        ``ClosedResourceError`` if this handle is closed.
        """
        if self._closed:
            raise ClosedResourceError("this send channel was closed")
        return SendChannel(self._state)

    def close(self) -> None:
        """Close this handle. Not a checkpoint; idempotent.

        Tasks blocked in ``send`` on this handle get ``ClosedResourceError``. When it was the last
        open send handle, blocked receivers get ``EndOfChannel``; receivers still drain what is
        buffered first.
        """
        if self._closed:
            return
        self._closed = True
        state = self._state
        for task in self._tasks:
            del state.send_tasks[task]
            reschedule(task, error=ClosedResourceError("the send channel was closed"))
        self._tasks.clear()
        state.open_send_channels -= 1
        if not state.open_send_channels:
            # Receivers park only when the buffer is empty, so they have nothing left to drain.
            for task, handle in state.receive_tasks.items():
                del handle._tasks[task]
                reschedule(task, error=EndOfChannel())
            state.receive_tasks.clear()

    def statistics(self) -> ChannelStatistics:
        """The channel's ``ChannelStatistics`` (the same for every handle)."""
        return self._state.statistics()


@final
class ReceiveChannel(_Handle, Generic[T]):
    """The receiving end of a channel made by ``open_channel`` (or a ``clone()`` of one).

    Several tasks may receive at once: each item goes to exactly one of them, the longest-waiting
    first. ``async for item in receive:`` receives until the channel ends (every send handle
    closed and the buffer drained). ``with``/``async with`` close the handle on exit, as for
    ``SendChannel``.
    """

    __slots__ = ("_closed", "_state", "_tasks")

    def __init__(self, state: _ChannelState[T]) -> None:
        # Created by open_channel() and clone(), not by hand.
        self._state = state
        self._closed = False
        # Tasks parked in receive() on this handle (state.receive_tasks has every clone's).
        self._tasks: dict[Task, None] = {}
        state.open_receive_channels += 1

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<ReceiveChannel {state}, channel at {id(self._state):#x}>"

    @property
    def closed(self) -> bool:
        """True once this handle was closed."""
        return self._closed

    def receive_nowait(self) -> T:
        """Receive an item if one is buffered or a sender is waiting. Not a checkpoint.

        Raises ``WouldBlock`` if it would have to wait, ``EndOfChannel`` if every send handle is
        closed and the buffer is empty, ``ClosedResourceError`` if this handle is closed.
        """
        if self._closed:
            raise ClosedResourceError("this receive channel was closed")
        state = self._state
        if state.send_tasks:
            # Take the longest-waiting sender's value; it goes behind what is buffered already.
            task = next(iter(state.send_tasks))
            handle, value = state.send_tasks.pop(task)
            del handle._tasks[task]
            reschedule(task)
            state.buffer.append(value)
        if state.buffer:
            return state.buffer.popleft()
        if not state.open_send_channels:
            raise EndOfChannel
        raise WouldBlock

    async def receive(self) -> T:
        """Receive the next item, waiting (FIFO) until one is sent.

        Checkpoint: yes. Raises ``EndOfChannel`` once every send handle is closed and the buffer
        is drained (also while we wait), ``ClosedResourceError`` if this handle is closed (also
        by another task while we wait). If cancelled, raises ``Cancelled`` and takes nothing:
        the item goes to the next receiver.
        """
        await checkpoint_if_cancelled()
        try:
            value = self.receive_nowait()
        except WouldBlock:
            pass
        else:
            await cancel_shielded_checkpoint()
            return value
        task = current_task()
        self._tasks[task] = None
        self._state.receive_tasks[task] = self
        # A sender reschedules us with its value; close() reschedules us with an error.
        received: T = await park("channel receive", self._abort_receive)
        return received

    def _abort_receive(self, task: Task) -> Abort:
        del self._tasks[task]
        del self._state.receive_tasks[task]
        return Abort.SUCCEEDED

    def clone(self) -> ReceiveChannel[T]:
        """Another receive handle on the same channel (sharing its items, not copying them).

        Not a checkpoint. ``ClosedResourceError`` if this handle is closed.
        """
        if self._closed:
            raise ClosedResourceError("this receive channel was closed")
        return ReceiveChannel(self._state)

    def close(self) -> None:
        """Close this handle. Not a checkpoint; idempotent.

        Tasks blocked in ``receive`` on this handle get ``ClosedResourceError``. When it was the
        last open receive handle, the buffer is dropped and blocked senders get
        ``BrokenResourceError``, as do later sends.
        """
        if self._closed:
            return
        self._closed = True
        state = self._state
        for task in self._tasks:
            del state.receive_tasks[task]
            reschedule(task, error=ClosedResourceError("the receive channel was closed"))
        self._tasks.clear()
        state.open_receive_channels -= 1
        if not state.open_receive_channels:
            for task, (handle, _value) in state.send_tasks.items():
                del handle._tasks[task]
                reschedule(task, error=BrokenResourceError("the channel's receivers were closed"))
            state.send_tasks.clear()
            state.buffer.clear()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.receive()
        except EndOfChannel:
            raise StopAsyncIteration from None

    def statistics(self) -> ChannelStatistics:
        """The channel's ``ChannelStatistics`` (the same for every handle)."""
        return self._state.statistics()


# -- Queue -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueStatistics:
    """``qsize``; ``maxsize`` (0: unbounded); ``closed``; ``tasks_waiting_put`` and
    ``tasks_waiting_get``; ``unfinished_tasks`` (items put and not yet ``task_done()``)."""

    qsize: int
    maxsize: int
    closed: bool
    tasks_waiting_put: int
    tasks_waiting_get: int
    unfinished_tasks: int


@final
class Queue(Generic[T]):
    """A FIFO queue in asyncio's shape: ``put``/``get``, their ``_nowait`` forms, ``qsize()``,
    ``empty()``, ``full()``, ``task_done()``/``join()``; plus ``close()`` and ``async for``.

    ``maxsize <= 0`` (the default 0) means unbounded, as in asyncio. Where asyncio raises
    ``QueueFull``/``QueueEmpty``, ``put_nowait``/``get_nowait`` raise trapline's ``WouldBlock``
    (the one "would have to wait" error of every ``_nowait``). ``close()`` is asyncio's
    ``shutdown()`` with trapline's errors: later puts raise ``ClosedResourceError``; gets drain
    what is left, then raise ``EndOfChannel``; ``async for item in queue`` ends there.
    """

    __slots__ = (
        "_closed",
        "_getters",
        "_items",
        "_join_lot",
        "_maxsize",
        "_putters",
        "_unfinished",
    )

    def __init__(self, maxsize: int = 0) -> None:
        if not isinstance(maxsize, int) or type(maxsize) is bool:
            raise TypeError(f"maxsize must be an int, not {maxsize!r}")
        self._maxsize = maxsize
        self._items: deque[T] = deque()
        # Parked getters and putters (with their items), oldest first.
        self._getters: dict[Task, None] = {}
        self._putters: dict[Task, T] = {}
        self._closed = False
        self._unfinished = 0
        self._join_lot = ParkingLot("Queue.join")

    def __repr__(self) -> str:
        closed = ", closed" if self._closed else ""
        return f"<Queue {len(self._items)}/{self._maxsize or 'unbounded'}{closed}>"

    @property
    def maxsize(self) -> int:
        """The most items the queue holds (``<= 0``: no limit)."""
        return self._maxsize

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    def qsize(self) -> int:
        """How many items are in the queue."""
        return len(self._items)

    def empty(self) -> bool:
        """True if the queue holds no items."""
        return not self._items

    def full(self) -> bool:
        """True if the queue holds ``maxsize`` items (never, when unbounded)."""
        return 0 < self._maxsize <= len(self._items)

    def put_nowait(self, item: T) -> None:
        """Put ``item`` without waiting. Not a checkpoint.

        Raises ``WouldBlock`` if the queue is full (asyncio's ``QueueFull``) and
        ``ClosedResourceError`` once the queue is closed.
        """
        if self._closed:
            raise ClosedResourceError("the queue was closed")
        if self._getters:
            # A parked getter means the queue is empty: hand the item over directly.
            task = next(iter(self._getters))
            del self._getters[task]
            reschedule(task, item)
        elif self._maxsize <= 0 or len(self._items) < self._maxsize:
            self._items.append(item)
        else:
            raise WouldBlock
        self._unfinished += 1

    async def put(self, item: T) -> None:
        """Put ``item``, waiting (FIFO) while the queue is full.

        Checkpoint: yes. Raises ``ClosedResourceError`` if the queue is closed, also while we
        wait (the item is then not put). If cancelled, raises ``Cancelled`` and the item was not
        put.
        """
        await checkpoint_if_cancelled()
        try:
            self.put_nowait(item)
        except WouldBlock:
            pass
        else:
            await cancel_shielded_checkpoint()
            return
        task = current_task()
        self._putters[task] = item
        # get_nowait() moves our item into the queue and reschedules us.
        await park("Queue.put", self._abort_put)

    def _abort_put(self, task: Task) -> Abort:
        del self._putters[task]
        return Abort.SUCCEEDED

    def get_nowait(self) -> T:
        """Remove and return the oldest item without waiting. Not a checkpoint.

        Raises ``WouldBlock`` if the queue is empty (asyncio's ``QueueEmpty``), or
        ``EndOfChannel`` if it is empty and closed.
        """
        if self._items:
            item = self._items.popleft()
            if self._putters:
                # Room was made: the longest-waiting putter's item goes in now.
                task = next(iter(self._putters))
                self._items.append(self._putters.pop(task))
                self._unfinished += 1
                reschedule(task)
            return item
        if self._closed:
            raise EndOfChannel
        raise WouldBlock

    async def get(self) -> T:
        """Remove and return the oldest item, waiting (FIFO) while the queue is empty.

        Checkpoint: yes. Raises ``EndOfChannel`` once the queue is closed and empty (also while
        we wait). If cancelled, raises ``Cancelled`` and takes nothing: the item goes to the next
        getter.
        """
        await checkpoint_if_cancelled()
        try:
            item = self.get_nowait()
        except WouldBlock:
            pass
        else:
            await cancel_shielded_checkpoint()
            return item
        task = current_task()
        self._getters[task] = None
        # put_nowait() reschedules us with its item; close() with EndOfChannel.
        received: T = await park("Queue.get", self._abort_get)
        return received

    def _abort_get(self, task: Task) -> Abort:
        del self._getters[task]
        return Abort.SUCCEEDED

    def task_done(self) -> None:
        """Mark one item fetched by ``get`` as processed (asyncio's ``task_done``).

        Not a checkpoint. ``ValueError`` if called more times than items were put.
        """
        if self._unfinished <= 0:
            raise ValueError("task_done() called more times than items were put")
        self._unfinished -= 1
        if not self._unfinished:
            self._join_lot.unpark_all()

    async def join(self) -> None:
        """Wait until every item put has been marked with ``task_done()``.

        Checkpoint: yes, also when nothing is unfinished. Raises ``Cancelled`` if cancelled;
        cancellation only stops the waiting.
        """
        if self._unfinished:
            await self._join_lot.park()
        else:
            await checkpoint()

    def close(self) -> None:
        """Close the queue. Not a checkpoint; idempotent.

        Later puts, and puts blocked now, raise ``ClosedResourceError`` (blocked putters' items
        are not added). Items already in the queue can still be got; after them ``get`` raises
        ``EndOfChannel``, and getters blocked now (the queue is empty) get it at once.
        """
        if self._closed:
            return
        self._closed = True
        for task in self._putters:
            reschedule(task, error=ClosedResourceError("the queue was closed"))
        self._putters.clear()
        for task in self._getters:
            reschedule(task, error=EndOfChannel())
        self._getters.clear()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.get()
        except EndOfChannel:
            raise StopAsyncIteration from None

    def statistics(self) -> QueueStatistics:
        return QueueStatistics(
            qsize=len(self._items),
            maxsize=self._maxsize,
            closed=self._closed,
            tasks_waiting_put=len(self._putters),
            tasks_waiting_get=len(self._getters),
            unfinished_tasks=self._unfinished,
        )
