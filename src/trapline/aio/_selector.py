"""The asyncio loop's selector, fed by trapline's readiness waits instead of its own poll.

asyncio's selector event loop asks a ``selectors.BaseSelector`` which registered file descriptors
are ready. Here the answer comes from trapline's kernel: for every registered fd and direction a
small *watcher* task waits in ``wait_readable``/``wait_writable``, and when the fd is ready it
posts the event, wakes the loop's driver and parks until the loop has taken the event (so a
level-triggered fd that the callback has not drained yet is not reported twice). ``select()``
never blocks: the driver parks in trapline *before* calling asyncio's ``_run_once``, which then
finds the posted events.

So there is one poll for the whole program, trapline's, and asyncio's transports, ``sock_*``
methods, servers and pipes run unmodified on top of it.

Some facts this relies on:

* asyncio removes a reader and writer before closing a socket, so a full ``unregister`` is the
  moment to tell the kernel (``notify_closing``) that the fd may be reused.
* A watcher may report an fd spuriously (an event that the callback already consumed);
  asyncio's callbacks retry on ``BlockingIOError``, as they must with any selector.
"""

from __future__ import annotations

import selectors
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, final

from trapline import CancelScope, ClosedResourceError, TaskGroup
from trapline.lowlevel import ParkingLot, notify_closing, wait_readable, wait_writable

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
    """A selector whose readiness comes from trapline watcher tasks (see the module essay).

    While the loop is attached to a trapline run (``attach(group)``), each registered fd and
    direction has a watcher task in ``group``; ``detach()`` ends them and ``attach`` starts them
    again, so registrations outlive one ``run_forever`` call as they do with a real selector.
    """

    def __init__(self, wake: Callable[[], None], report: Callable[[dict[str, Any]], None]) -> None:
        self._keys: dict[int, selectors.SelectorKey] = {}
        self._map = _KeyMap(self)
        self._pending: dict[int, int] = {}
        self._watchers: dict[tuple[int, int], CancelScope] = {}
        self._group: TaskGroup | None = None
        self._rearm = ParkingLot("asyncio: the loop to run the fd's callback")
        self._wake = wake
        self._report = report
        self._closed = False
        #: Watchers were started since the driver last looked (see ``take_fresh``).
        self._fresh = False

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
        if self._group is not None:
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
        # The callbacks run right after this, in the same step of the driver; the watchers run
        # later, so they wait again only once the callbacks have had their go.
        self._rearm.unpark_all()
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
        """True when a watcher posted an event that ``select`` has not returned yet."""
        return bool(self._pending)

    def take_fresh(self) -> bool:
        """True (once) if watchers were started since the last call: they must run once to
        register their interest before the kernel's next poll can report their fd."""
        fresh = self._fresh
        self._fresh = False
        return fresh

    def attach(self, group: TaskGroup) -> None:
        """Start watching every registered fd, in tasks of ``group``."""
        self._group = group
        for fd, key in self._keys.items():
            self._watch(fd, key.events)

    def detach(self) -> None:
        """Stop every watcher; registrations stay."""
        self._group = None
        for scope in self._watchers.values():
            scope.cancel()
        self._watchers.clear()
        self._pending.clear()

    def _watch(self, fd: int, events: int) -> None:
        group = self._group
        if group is None:
            return
        for bit in (EVENT_READ, EVENT_WRITE):
            if events & bit and (fd, bit) not in self._watchers:
                scope = self._watchers[fd, bit] = CancelScope()
                self._fresh = True
                kind = "reader" if bit == EVENT_READ else "writer"
                group.spawn(self._watcher, fd, bit, scope, name=f"asyncio fd {fd} {kind}")

    def _unwatch(self, fd: int, events: int) -> None:
        for bit in (EVENT_READ, EVENT_WRITE):
            if events & bit:
                scope = self._watchers.pop((fd, bit), None)
                if scope is not None:
                    scope.cancel()

    async def _watcher(self, fd: int, bit: int, scope: CancelScope) -> None:
        wait = wait_readable if bit == EVENT_READ else wait_writable
        with scope:
            while True:
                try:
                    await wait(fd)
                except ClosedResourceError:
                    return
                except OSError:
                    # The fd cannot be polled (closed under asyncio, say): let the callback
                    # make its system call and see the error itself.
                    self._post(fd, bit)
                    return
                except Exception as error:
                    # Another trapline task waits on the same fd in the same direction: asyncio
                    # cannot be told which of them gets the readiness.
                    self._report(
                        {
                            "message": f"trapline cannot watch fd {fd} for asyncio",
                            "exception": error,
                        }
                    )
                    return
                self._post(fd, bit)
                await self._rearm.park()

    def _post(self, fd: int, bit: int) -> None:
        pending = self._pending
        pending[fd] = pending.get(fd, 0) | bit
        self._wake()
