"""The asyncio loop's selector, fed by trapline's poll instead of its own.

asyncio's selector event loop asks a ``selectors.BaseSelector`` which registered file descriptors
are ready. Here the answer comes from trapline's kernel: every registered fd and direction is
watched with ``trapline.lowlevel.add_reader``/``add_writer``, whose callback, run by the kernel
right after its poll, posts the event and wakes the loop's driver task. ``select()`` never
blocks: the driver parks in trapline *before* calling asyncio's ``_run_once``, which then finds
the posted events.

So there is one poll for the whole program, trapline's, and asyncio's transports, ``sock_*``
methods, servers and pipes run unmodified on top of it. Watches are level-triggered, as
asyncio's selectors are: an fd that a callback has not drained yet is reported again at the next
poll (posting is idempotent until ``select`` takes the events). No task per fd: an event costs
one callback, not a task's wake-up, post and re-wait (that design cost a quarter of aiohttp's
throughput per CPU-second).

Some facts this relies on:

* asyncio removes a reader and writer before closing a socket, so a full ``unregister`` is the
  moment to tell the kernel (``notify_closing``) that the fd may be reused.
* An fd may be reported spuriously (an event that the callback already consumed); asyncio's
  callbacks retry on ``BlockingIOError``, as they must with any selector.
"""

from __future__ import annotations

import selectors
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, final

from trapline import TaskGroup
from trapline.lowlevel import add_reader, add_writer, notify_closing, remove_reader, remove_writer

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

__all__ = ["TraplineSelector"]

EVENT_READ = selectors.EVENT_READ
EVENT_WRITE = selectors.EVENT_WRITE
_BOTH = EVENT_READ | EVENT_WRITE


def _fileno(fileobj: Any) -> int:
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"Invalid file object: {fileobj!r}") from None
    if fd < 0:
        raise ValueError(f"Invalid file descriptor: {fd}")
    return fd


@final
class _KeyMap(Mapping[Any, selectors.SelectorKey]):
    """``get_map()``: registered file objects (or fds) to their keys."""

    __slots__ = ("_selector",)

    def __init__(self, selector: TraplineSelector) -> None:
        self._selector = selector

    def __len__(self) -> int:
        return len(self._selector._keys)

    def __getitem__(self, fileobj: Any) -> selectors.SelectorKey:
        try:
            return self._selector._keys[self._selector._lookup(fileobj)]
        except (KeyError, ValueError):
            raise KeyError(f"{fileobj!r} is not registered") from None

    def __iter__(self) -> Iterator[Any]:
        return iter(self._selector._keys)


@final
class TraplineSelector(selectors.BaseSelector):
    """A selector whose readiness comes from trapline's poll (see the module essay).

    While the loop is attached to a trapline run (``attach()``), each registered fd and
    direction is watched by the kernel; ``detach()`` drops the watches and ``attach`` makes them
    again, so registrations outlive one ``run_forever`` call as they do with a real selector.
    """

    def __init__(self, wake: Callable[[], None], report: Callable[[dict[str, Any]], None]) -> None:
        self._keys: dict[int, selectors.SelectorKey] = {}
        self._map = _KeyMap(self)
        self._pending: dict[int, int] = {}
        self._watched: set[tuple[int, int]] = set()
        self._attached = False
        self._wake = wake
        self._report = report
        self._closed = False

    # -- selectors.BaseSelector ----------------------------------------------------------------

    def _lookup(self, fileobj: Any) -> int:
        try:
            return _fileno(fileobj)
        except ValueError:
            # A closed socket has fileno() -1: find it by identity, as selectors does.
            for key in self._keys.values():
                if key.fileobj is fileobj:
                    return key.fd
            raise

    def register(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        if not events or events & ~_BOTH:
            raise ValueError(f"Invalid events: {events!r}")
        fd = _fileno(fileobj)
        if fd in self._keys:
            raise KeyError(f"{fileobj!r} (FD {fd}) is already registered")
        key = selectors.SelectorKey(fileobj, fd, events, data)
        self._keys[fd] = key
        self._watch(fd, events)
        return key

    def unregister(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        try:
            fd = self._lookup(fileobj)
            key = self._keys.pop(fd)
        except (KeyError, ValueError):
            raise KeyError(f"{fileobj!r} is not registered") from None
        self._pending.pop(fd, None)
        self._unwatch(fd, key.events)
        if self._attached:
            # asyncio is about to close it, or may: the kernel must forget the fd first.
            notify_closing(fd)
        return key

    def modify(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        try:
            fd = self._lookup(fileobj)
            key = self._keys[fd]
        except (KeyError, ValueError):
            raise KeyError(f"{fileobj!r} is not registered") from None
        if not events or events & ~_BOTH:
            raise ValueError(f"Invalid events: {events!r}")
        if events != key.events:
            self._unwatch(fd, key.events & ~events)
            self._watch(fd, events & ~key.events)
        key = self._keys[fd] = key._replace(events=events, data=data)
        return key

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        """The events the watchers posted since the last call. Never blocks (see the essay)."""
        pending = self._pending
        if not pending:
            return []
        self._pending = {}
        keys = self._keys
        ready = []
        for fd, mask in pending.items():
            key = keys.get(fd)
            if key is not None and mask & key.events:
                ready.append((key, mask & key.events))
        return ready

    def close(self) -> None:
        self.detach()
        self._keys.clear()
        self._closed = True

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._map

    # -- the trapline side ---------------------------------------------------------------------

    @property
    def has_events(self) -> bool:
        """True when the kernel posted an event that ``select`` has not returned yet."""
        return bool(self._pending)

    def attach(self, group: TaskGroup) -> None:
        """Watch every registered fd with the current run's kernel (``group``: the loop's task
        group in this run, kept for symmetry with ``detach``)."""
        self._attached = True
        for fd, key in self._keys.items():
            self._watch(fd, key.events)

    def detach(self) -> None:
        """Drop every watch; registrations stay."""
        if self._attached:
            for fd, bit in self._watched:
                (remove_reader if bit == EVENT_READ else remove_writer)(fd)
        self._attached = False
        self._watched.clear()
        self._pending.clear()

    def _watch(self, fd: int, events: int) -> None:
        if not self._attached:
            return
        for bit in (EVENT_READ, EVENT_WRITE):
            if events & bit and (fd, bit) not in self._watched:
                add = add_reader if bit == EVENT_READ else add_writer
                try:
                    add(fd, partial(self._post, fd, bit))
                except OSError:
                    # The fd cannot be polled (closed under asyncio, say): let the callback
                    # make its system call and see the error itself.
                    self._post(fd, bit)
                    continue
                except Exception as error:
                    # A trapline task waits on the same fd in the same direction: asyncio
                    # cannot be told which of them gets the readiness.
                    self._report(
                        {
                            "message": f"trapline cannot watch fd {fd} for asyncio",
                            "exception": error,
                        }
                    )
                    continue
                self._watched.add((fd, bit))

    def _unwatch(self, fd: int, events: int) -> None:
        for bit in (EVENT_READ, EVENT_WRITE):
            if events & bit and (fd, bit) in self._watched:
                self._watched.discard((fd, bit))
                (remove_reader if bit == EVENT_READ else remove_writer)(fd)

    def _post(self, fd: int, bit: int) -> None:
        pending = self._pending
        pending[fd] = pending.get(fd, 0) | bit
        self._wake()
