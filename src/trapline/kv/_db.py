"""The keyspace: 16 databases of typed values with millisecond expiry.

Values are Python objects: ``bytes`` (string), ``collections.deque`` (list), ``dict`` (hash),
``set`` (set) and ``ZSet`` (sorted set). Every mutation goes through ``Database`` so that WATCH
and blocked clients hear about it (``touch``), and an emptied container disappears as in Redis.
Expiry is lazy (a key is checked whenever it is looked up) and active (the server samples keys
with a TTL ten times a second); time comes from the kernel's clock, so TTLs are exact on the
virtual clock.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, final

from ._resp import Error

if TYPE_CHECKING:
    from ._server import Server

__all__ = ["WRONGTYPE", "CommandError", "Database", "ZSet", "type_name"]


class CommandError(Exception):
    """Raised by a command to reply with an error (``str(error)`` is the whole reply text)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.reply = Error(message)


WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


@final
class ZSet:
    """A sorted set: ``scores`` maps member to score; ``order`` is sorted by (score, member)."""

    __slots__ = ("order", "scores")

    def __init__(self) -> None:
        self.scores: dict[bytes, float] = {}
        self.order: list[tuple[float, bytes]] = []

    def __len__(self) -> int:
        return len(self.scores)

    def add(self, member: bytes, score: float) -> bool:
        """Set ``member``'s score; True if it is new."""
        old = self.scores.get(member)
        if old is not None:
            if old == score:
                return False
            del self.order[bisect.bisect_left(self.order, (old, member))]
        self.scores[member] = score
        bisect.insort(self.order, (score, member))
        return old is None

    def remove(self, member: bytes) -> bool:
        score = self.scores.pop(member, None)
        if score is None:
            return False
        del self.order[bisect.bisect_left(self.order, (score, member))]
        return True

    def rank(self, member: bytes) -> int | None:
        score = self.scores.get(member)
        if score is None:
            return None
        return bisect.bisect_left(self.order, (score, member))


_TYPE_NAMES: dict[type, str] = {
    bytes: "string",
    deque: "list",
    dict: "hash",
    set: "set",
    ZSet: "zset",
}


def type_name(value: object) -> str:
    return _TYPE_NAMES[type(value)]


@final
class Database:
    """One numbered database."""

    __slots__ = ("data", "expires", "id", "server")

    def __init__(self, server: Server, index: int) -> None:
        self.server = server
        self.id = index
        self.data: dict[bytes, Any] = {}
        self.expires: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self.data)

    # -- reading -------------------------------------------------------------------------------

    def _expired(self, key: bytes) -> bool:
        when = self.expires.get(key)
        if when is not None and when <= self.server.now_ms():
            self._remove(key)
            self.server.key_expired(self, key)
            return True
        return False

    def get(self, key: bytes) -> Any:
        """The value at ``key``, or None (an expired key is removed first)."""
        if key in self.expires and self._expired(key):
            return None
        return self.data.get(key)

    def get_typed(self, key: bytes, kind: type) -> Any:
        """The value at ``key`` if it has type ``kind``; None if missing; WRONGTYPE otherwise."""
        if key in self.expires and self._expired(key):  # get(), inlined: every typed read
            return None
        value = self.data.get(key)
        if value is not None and type(value) is not kind:
            raise CommandError(WRONGTYPE)
        return value

    def get_or_create(self, key: bytes, kind: Callable[[], Any]) -> Any:
        """For writes: the container at ``key`` (created empty if missing), already touched."""
        value = self.get(key)
        if value is None:
            value = self.data[key] = kind()
        elif type(value) is not kind:
            raise CommandError(WRONGTYPE)
        self.touch(key)
        return value

    def exists(self, key: bytes) -> bool:
        return self.get(key) is not None

    def ttl_ms(self, key: bytes) -> int | None:
        """Milliseconds left, or None without a TTL (the caller checks existence first)."""
        when = self.expires.get(key)
        return None if when is None else max(0, when - self.server.now_ms())

    def keys(self) -> Iterator[bytes]:
        """Live keys (expired ones are skipped, and removed)."""
        now = self.server.now_ms()
        for key in list(self.data):
            when = self.expires.get(key)
            if when is not None and when <= now:
                self._remove(key)
                self.server.key_expired(self, key)
                continue
            yield key

    # -- writing -------------------------------------------------------------------------------

    def touch(self, key: bytes) -> None:
        """Tell WATCH and blocked clients that ``key`` changed."""
        server = self.server
        # Nobody to tell is the common case: skip the call (key_touched only serves these two).
        if server.watchers or server.blocked_on:
            server.key_touched(self, key)

    def set(self, key: bytes, value: Any, *, keep_ttl: bool = False) -> None:
        self.data[key] = value
        if not keep_ttl and self.expires:
            self.expires.pop(key, None)
        server = self.server
        if server.watchers or server.blocked_on:  # touch(), inlined: every write comes here
            server.key_touched(self, key)

    def set_many(self, keys: list[bytes], values: list[bytes]) -> None:
        """``set(key, value)`` for each pair in order (MSET), with the per-key work in C."""
        self.data.update(zip(keys, values, strict=True))
        expires = self.expires
        if expires:
            for key in keys:
                expires.pop(key, None)
        server = self.server
        if server.watchers or server.blocked_on:
            for key in keys:
                server.key_touched(self, key)

    def delete(self, key: bytes) -> bool:
        if key in self.expires and self._expired(key):
            return False
        if key not in self.data:
            return False
        self._remove(key)
        self.touch(key)
        return True

    def _remove(self, key: bytes) -> None:
        del self.data[key]
        self.expires.pop(key, None)

    def drop_if_empty(self, key: bytes, container: Any) -> None:
        """Remove ``key`` if its container became empty (Redis never keeps empty ones)."""
        if not container:
            self._remove(key)

    def set_expire(self, key: bytes, when_ms: int) -> None:
        """Set an absolute expiry; a time already past deletes the key (as Redis does)."""
        if when_ms <= self.server.now_ms():
            self._remove(key)
            self.server.key_expired(self, key)
        else:
            self.expires[key] = when_ms
        self.touch(key)

    def persist(self, key: bytes) -> bool:
        if self.expires.pop(key, None) is None:
            return False
        self.touch(key)
        return True

    def flush(self) -> None:
        for key in list(self.data):
            self.touch(key)
        self.data.clear()
        self.expires.clear()

    def active_expire(self, budget: int = 20) -> int:
        """Remove up to ``budget`` expired keys among those with a TTL; returns how many."""
        now = self.server.now_ms()
        removed = 0
        for key, when in list(self.expires.items())[: budget * 5]:
            if when <= now:
                self._remove(key)
                self.server.key_expired(self, key)
                removed += 1
                if removed >= budget:
                    break
        return removed
