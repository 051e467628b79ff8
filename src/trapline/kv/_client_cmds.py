"""Typed command methods shared by ``KV``, ``Pipeline`` and ``Transaction``.

Each method builds the command's arguments and says how to turn the raw reply into a Python
value; ``_run`` does the rest (send now, or queue in a pipeline). Anything without a method is
available as ``await db.execute("CMD", *args)``.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

Key = str | bytes
Value = str | bytes | int | float

__all__ = ["CommandsMixin"]


def _pairs_to_dict(reply: Any) -> Any:
    if isinstance(reply, dict) or reply is None:
        return reply
    return dict(zip(reply[::2], reply[1::2], strict=True))


def _to_set(reply: Any) -> Any:
    return reply if isinstance(reply, set) else set(reply)


def _to_bool(reply: Any) -> bool:
    return bool(reply)


def _ok(reply: Any) -> bool:
    return reply in (b"OK", "OK")


def _to_float(reply: Any) -> float | None:
    return None if reply is None else float(reply)


def _scored(reply: Any) -> list[tuple[Any, float]]:
    if reply and isinstance(reply[0], list):  # RESP3: [[member, score], ...]
        return [(member, float(score)) for member, score in reply]
    return [(reply[i], float(reply[i + 1])) for i in range(0, len(reply), 2)]


class CommandsMixin:
    """Typed methods; subclasses provide ``execute(*args)`` and may override ``_run``."""

    async def execute(self, *args: Any) -> Any:  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    async def _run(self, args: tuple[Any, ...], transform: Callable[[Any], Any] | None) -> Any:
        reply = await self.execute(*args)
        if transform is None or reply is self:
            return reply
        return transform(reply)

    # -- connection --------------------------------------------------------------------------

    async def ping(self) -> bool:
        return await self._run(("PING",), lambda reply: reply in (b"PONG", "PONG"))  # type: ignore[no-any-return]

    async def echo(self, value: Value) -> Any:
        return await self._run(("ECHO", value), None)

    # -- strings -----------------------------------------------------------------------------

    async def get(self, key: Key) -> Any:
        return await self._run(("GET", key), None)

    async def set(
        self,
        key: Key,
        value: Value,
        *,
        ex: float | None = None,
        px: int | None = None,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
        get: bool = False,
    ) -> Any:
        """SET; returns True when set (False when NX/XX prevented it), or the old value with
        ``get=True``."""
        args: list[Any] = ["SET", key, value]
        if ex is not None:
            args += ["PX", int(ex * 1000)]
        if px is not None:
            args += ["PX", px]
        if nx:
            args.append("NX")
        if xx:
            args.append("XX")
        if keepttl:
            args.append("KEEPTTL")
        if get:
            args.append("GET")
            return await self._run(tuple(args), None)
        return await self._run(tuple(args), lambda reply: reply is not None)

    async def mget(self, *keys: Key) -> list[Any]:
        return await self._run(("MGET", *keys), None)  # type: ignore[no-any-return]

    async def mset(self, mapping: Mapping[Key, Value]) -> bool:
        args = [item for pair in mapping.items() for item in pair]
        return await self._run(("MSET", *args), _ok)  # type: ignore[no-any-return]

    async def incr(self, key: Key, amount: int = 1) -> int:
        return await self._run(("INCRBY", key, amount), None)  # type: ignore[no-any-return]

    async def decr(self, key: Key, amount: int = 1) -> int:
        return await self._run(("DECRBY", key, amount), None)  # type: ignore[no-any-return]

    async def incrbyfloat(self, key: Key, amount: float) -> float:
        return await self._run(("INCRBYFLOAT", key, amount), float)  # type: ignore[no-any-return]

    async def append(self, key: Key, value: Value) -> int:
        return await self._run(("APPEND", key, value), None)  # type: ignore[no-any-return]

    async def strlen(self, key: Key) -> int:
        return await self._run(("STRLEN", key), None)  # type: ignore[no-any-return]

    # -- keys --------------------------------------------------------------------------------

    async def delete(self, *keys: Key) -> int:
        return await self._run(("DEL", *keys), None)  # type: ignore[no-any-return]

    async def exists(self, *keys: Key) -> int:
        return await self._run(("EXISTS", *keys), None)  # type: ignore[no-any-return]

    async def expire(self, key: Key, seconds: float) -> bool:
        return await self._run(("PEXPIRE", key, int(seconds * 1000)), _to_bool)  # type: ignore[no-any-return]

    async def ttl(self, key: Key) -> int:
        return await self._run(("TTL", key), None)  # type: ignore[no-any-return]

    async def pttl(self, key: Key) -> int:
        return await self._run(("PTTL", key), None)  # type: ignore[no-any-return]

    async def persist(self, key: Key) -> bool:
        return await self._run(("PERSIST", key), _to_bool)  # type: ignore[no-any-return]

    async def type(self, key: Key) -> Any:
        return await self._run(("TYPE", key), None)

    async def keys(self, pattern: Key = "*") -> list[Any]:
        return await self._run(("KEYS", pattern), None)  # type: ignore[no-any-return]

    async def rename(self, key: Key, new: Key) -> bool:
        return await self._run(("RENAME", key, new), _ok)  # type: ignore[no-any-return]

    async def dbsize(self) -> int:
        return await self._run(("DBSIZE",), None)  # type: ignore[no-any-return]

    async def flushdb(self) -> bool:
        return await self._run(("FLUSHDB",), _ok)  # type: ignore[no-any-return]

    async def flushall(self) -> bool:
        return await self._run(("FLUSHALL",), _ok)  # type: ignore[no-any-return]

    # -- hashes ------------------------------------------------------------------------------

    async def hset(self, key: Key, mapping: Mapping[Key, Value]) -> int:
        args = [item for pair in mapping.items() for item in pair]
        return await self._run(("HSET", key, *args), None)  # type: ignore[no-any-return]

    async def hget(self, key: Key, field: Key) -> Any:
        return await self._run(("HGET", key, field), None)

    async def hgetall(self, key: Key) -> dict[Any, Any]:
        return await self._run(("HGETALL", key), _pairs_to_dict)  # type: ignore[no-any-return]

    async def hdel(self, key: Key, *fields: Key) -> int:
        return await self._run(("HDEL", key, *fields), None)  # type: ignore[no-any-return]

    async def hincrby(self, key: Key, field: Key, amount: int = 1) -> int:
        return await self._run(("HINCRBY", key, field, amount), None)  # type: ignore[no-any-return]

    async def hlen(self, key: Key) -> int:
        return await self._run(("HLEN", key), None)  # type: ignore[no-any-return]

    # -- lists -------------------------------------------------------------------------------

    async def lpush(self, key: Key, *values: Value) -> int:
        return await self._run(("LPUSH", key, *values), None)  # type: ignore[no-any-return]

    async def rpush(self, key: Key, *values: Value) -> int:
        return await self._run(("RPUSH", key, *values), None)  # type: ignore[no-any-return]

    async def lpop(self, key: Key) -> Any:
        return await self._run(("LPOP", key), None)

    async def rpop(self, key: Key) -> Any:
        return await self._run(("RPOP", key), None)

    async def lrange(self, key: Key, start: int = 0, stop: int = -1) -> list[Any]:
        return await self._run(("LRANGE", key, start, stop), None)  # type: ignore[no-any-return]

    async def llen(self, key: Key) -> int:
        return await self._run(("LLEN", key), None)  # type: ignore[no-any-return]

    async def blpop(self, *keys: Key, timeout: float = 0) -> tuple[Any, Any] | None:
        """Pop from the first non-empty list, waiting up to ``timeout`` seconds (0: forever).
        Cancellation: the connection is closed, so the server forgets the wait."""
        reply = await self._run(("BLPOP", *keys, timeout), None)
        return None if reply is None or reply is self else (reply[0], reply[1])

    async def brpop(self, *keys: Key, timeout: float = 0) -> tuple[Any, Any] | None:
        reply = await self._run(("BRPOP", *keys, timeout), None)
        return None if reply is None or reply is self else (reply[0], reply[1])

    # -- sets --------------------------------------------------------------------------------

    async def sadd(self, key: Key, *members: Value) -> int:
        return await self._run(("SADD", key, *members), None)  # type: ignore[no-any-return]

    async def srem(self, key: Key, *members: Value) -> int:
        return await self._run(("SREM", key, *members), None)  # type: ignore[no-any-return]

    async def smembers(self, key: Key) -> builtins.set[Any]:
        return await self._run(("SMEMBERS", key), _to_set)  # type: ignore[no-any-return]

    async def sismember(self, key: Key, member: Value) -> bool:
        return await self._run(("SISMEMBER", key, member), _to_bool)  # type: ignore[no-any-return]

    async def scard(self, key: Key) -> int:
        return await self._run(("SCARD", key), None)  # type: ignore[no-any-return]

    # -- sorted sets -------------------------------------------------------------------------

    async def zadd(self, key: Key, mapping: Mapping[Key, float]) -> int:
        args = [item for member, score in mapping.items() for item in (score, member)]
        return await self._run(("ZADD", key, *args), None)  # type: ignore[no-any-return]

    async def zscore(self, key: Key, member: Key) -> float | None:
        return await self._run(("ZSCORE", key, member), _to_float)  # type: ignore[no-any-return]

    async def zrange(self, key: Key, start: int = 0, stop: int = -1) -> list[Any]:
        return await self._run(("ZRANGE", key, start, stop), None)  # type: ignore[no-any-return]

    async def zrange_withscores(self, key: Key, start: int = 0, stop: int = -1) -> list[Any]:
        return await self._run(("ZRANGE", key, start, stop, "WITHSCORES"), _scored)  # type: ignore[no-any-return]

    async def zcard(self, key: Key) -> int:
        return await self._run(("ZCARD", key), None)  # type: ignore[no-any-return]

    # -- pub/sub -----------------------------------------------------------------------------

    async def publish(self, channel: Key, message: Value) -> int:
        return await self._run(("PUBLISH", channel, message), None)  # type: ignore[no-any-return]

    # -- iteration ---------------------------------------------------------------------------

    async def _cursor(self, command: tuple[Any, ...], options: list[Any]) -> AsyncIterator[Any]:
        cursor: Any = 0
        while True:
            reply = await self.execute(*command[:1], *command[1:], cursor, *options)
            cursor, items = reply
            for item in items:
                yield item
            if cursor in (b"0", "0", 0):
                return

    def scan(
        self, *, match: Key | None = None, count: int | None = None, type: str | None = None
    ) -> AsyncIterator[Any]:
        """``async for key in db.scan(match="user:*")``: every key, a batch per round trip.
        Each step is a checkpoint; a key present for the whole scan is seen at least once."""
        options: list[Any] = []
        if match is not None:
            options += ["MATCH", match]
        if count is not None:
            options += ["COUNT", count]
        if type is not None:
            options += ["TYPE", type]
        return self._cursor(("SCAN",), options)

    async def _pairs(self, command: str, key: Key, options: list[Any]) -> AsyncIterator[Any]:
        flat: list[Any] = []
        async for item in self._cursor((command, key), options):
            flat.append(item)
            if len(flat) == 2:
                yield (flat[0], flat[1])
                flat = []

    def hscan(
        self, key: Key, *, match: Key | None = None, count: int | None = None
    ) -> AsyncIterator[Any]:
        """``async for field, value in db.hscan(key)``."""
        return self._pairs("HSCAN", key, _scan_options(match, count))

    def sscan(
        self, key: Key, *, match: Key | None = None, count: int | None = None
    ) -> AsyncIterator[Any]:
        """``async for member in db.sscan(key)``."""
        return self._cursor(("SSCAN", key), _scan_options(match, count))

    def zscan(
        self, key: Key, *, match: Key | None = None, count: int | None = None
    ) -> AsyncIterator[Any]:
        """``async for member, score in db.zscan(key)`` (scores as the server sent them)."""
        return self._pairs("ZSCAN", key, _scan_options(match, count))


def _scan_options(match: Key | None, count: int | None) -> list[Any]:
    options: list[Any] = []
    if match is not None:
        options += ["MATCH", match]
    if count is not None:
        options += ["COUNT", count]
    return options
