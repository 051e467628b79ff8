"""Typed methods for hashes, lists (with the blocking pops) and sets."""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Mapping
from typing import Any, Literal, overload

from ._client_cmds_base import (
    CommandsBase,
    Key,
    S,
    Seconds,
    Value,
    bools,
    flatten,
    identity,
    key_and_list,
    key_and_value,
    ok,
    option,
    pairs,
    timeout_arg,
    to_bool,
    to_dict,
    to_float,
    to_list,
    to_set,
)

__all__ = ["HashCommands", "ListCommands", "SetCommands"]

End = Literal["LEFT", "RIGHT"]


class HashCommands(CommandsBase[S]):
    """Hashes: fields and values under one key."""

    __slots__ = ()

    def hset(
        self,
        key: Key,
        field: Key | None = None,
        value: Value | None = None,
        *,
        mapping: Mapping[Key, Value] | None = None,
    ) -> Awaitable[int]:
        """HSET ``field`` to ``value`` and/or every item of ``mapping``: how many fields are
        new."""
        args: list[Any] = [] if mapping is None else flatten(mapping)
        if field is not None:
            if value is None:
                raise TypeError("hset(key, field, value): value is missing")
            args = [field, value, *args]
        if not args:
            raise TypeError("hset needs a field and value, or a mapping")
        return self._run(("HSET", key, *args), identity)

    def hsetnx(self, key: Key, field: Key, value: Value) -> Awaitable[bool]:
        return self._run(("HSETNX", key, field, value), to_bool)

    def hget(self, key: Key, field: Key) -> Awaitable[S | None]:
        return self._run(("HGET", key, field), identity)

    def hmget(self, key: Key, *fields: Key) -> Awaitable[list[S | None]]:
        return self._run(("HMGET", key, *fields), to_list)

    def hdel(self, key: Key, *fields: Key) -> Awaitable[int]:
        return self._run(("HDEL", key, *fields), identity)

    def hgetall(self, key: Key) -> Awaitable[dict[S, S]]:
        """HGETALL as a dict (empty if the key does not exist)."""
        return self._run(("HGETALL", key), to_dict)

    def hlen(self, key: Key) -> Awaitable[int]:
        return self._run(("HLEN", key), identity)

    def hexists(self, key: Key, field: Key) -> Awaitable[bool]:
        return self._run(("HEXISTS", key, field), to_bool)

    def hincrby(self, key: Key, field: Key, amount: int = 1) -> Awaitable[int]:
        return self._run(("HINCRBY", key, field, amount), identity)

    def hincrbyfloat(self, key: Key, field: Key, amount: float) -> Awaitable[float]:
        return self._run(("HINCRBYFLOAT", key, field, amount), to_float)

    def hkeys(self, key: Key) -> Awaitable[list[S]]:
        return self._run(("HKEYS", key), to_list)

    def hvals(self, key: Key) -> Awaitable[list[S]]:
        return self._run(("HVALS", key), to_list)

    def hstrlen(self, key: Key, field: Key) -> Awaitable[int]:
        return self._run(("HSTRLEN", key, field), identity)

    @overload
    def hrandfield(self, key: Key) -> Awaitable[S | None]: ...
    @overload
    def hrandfield(self, key: Key, count: int) -> Awaitable[list[S]]: ...
    @overload
    def hrandfield(
        self, key: Key, count: int, *, withvalues: Literal[True]
    ) -> Awaitable[list[tuple[S, S]]]: ...
    def hrandfield(
        self, key: Key, count: int | None = None, *, withvalues: bool = False
    ) -> Awaitable[Any]:
        """HRANDFIELD: one random field; with ``count``, a list (negative: repeats allowed);
        with ``withvalues``, ``(field, value)`` pairs."""
        if count is None:
            return self._run(("HRANDFIELD", key), identity)
        if withvalues:
            return self._run(("HRANDFIELD", key, count, "WITHVALUES"), pairs)
        return self._run(("HRANDFIELD", key, count), to_list)


class ListCommands(CommandsBase[S]):
    """Lists, including the blocking pops.

    A blocking pop waits on the server, holding a pooled connection, up to ``timeout`` seconds
    (0 waits forever) and returns None when the time runs out. It obeys cancel scopes: when
    cancelled, the connection it waits on is closed, so the server forgets the wait rather than
    popping an element for nobody; the next command uses a fresh connection."""

    __slots__ = ()

    def lpush(self, key: Key, *values: Value) -> Awaitable[int]:
        """LPUSH: the list's new length."""
        return self._run(("LPUSH", key, *values), identity)

    def rpush(self, key: Key, *values: Value) -> Awaitable[int]:
        return self._run(("RPUSH", key, *values), identity)

    def lpushx(self, key: Key, *values: Value) -> Awaitable[int]:
        return self._run(("LPUSHX", key, *values), identity)

    def rpushx(self, key: Key, *values: Value) -> Awaitable[int]:
        return self._run(("RPUSHX", key, *values), identity)

    @overload
    def lpop(self, key: Key) -> Awaitable[S | None]: ...
    @overload
    def lpop(self, key: Key, count: int) -> Awaitable[list[S] | None]: ...
    def lpop(self, key: Key, count: int | None = None) -> Awaitable[Any]:
        """LPOP: the first element (None if none); with ``count``, a list of up to that many."""
        return self._run(("LPOP", key, *([] if count is None else [count])), identity)

    @overload
    def rpop(self, key: Key) -> Awaitable[S | None]: ...
    @overload
    def rpop(self, key: Key, count: int) -> Awaitable[list[S] | None]: ...
    def rpop(self, key: Key, count: int | None = None) -> Awaitable[Any]:
        return self._run(("RPOP", key, *([] if count is None else [count])), identity)

    def lrange(self, key: Key, start: int = 0, stop: int = -1) -> Awaitable[list[S]]:
        """LRANGE, ``stop`` inclusive (the default is the whole list)."""
        return self._run(("LRANGE", key, start, stop), to_list)

    def llen(self, key: Key) -> Awaitable[int]:
        return self._run(("LLEN", key), identity)

    def lindex(self, key: Key, index: int) -> Awaitable[S | None]:
        return self._run(("LINDEX", key, index), identity)

    def lset(self, key: Key, index: int, value: Value) -> Awaitable[bool]:
        return self._run(("LSET", key, index, value), ok)

    def linsert(
        self, key: Key, where: Literal["BEFORE", "AFTER"], pivot: Value, value: Value
    ) -> Awaitable[int]:
        """LINSERT: the new length, -1 if ``pivot`` was not found, 0 if no such key."""
        return self._run(("LINSERT", key, where, pivot, value), identity)

    def lrem(self, key: Key, count: int, value: Value) -> Awaitable[int]:
        return self._run(("LREM", key, count, value), identity)

    def ltrim(self, key: Key, start: int, stop: int) -> Awaitable[bool]:
        return self._run(("LTRIM", key, start, stop), ok)

    def lpos(
        self,
        key: Key,
        value: Value,
        *,
        rank: int | None = None,
        count: int | None = None,
        maxlen: int | None = None,
    ) -> Awaitable[Any]:
        """LPOS: the index of ``value`` (None if absent); with ``count``, a list of indexes."""
        args: tuple[Any, ...] = ("LPOS", key, value, *option("RANK", rank), *option("COUNT", count))
        return self._run((*args, *option("MAXLEN", maxlen)), identity)

    def lmove(
        self, source: Key, destination: Key, wherefrom: End = "LEFT", whereto: End = "RIGHT"
    ) -> Awaitable[S | None]:
        return self._run(("LMOVE", source, destination, wherefrom, whereto), identity)

    def rpoplpush(self, source: Key, destination: Key) -> Awaitable[S | None]:
        return self._run(("RPOPLPUSH", source, destination), identity)

    def lmpop(
        self, *keys: Key, direction: End = "LEFT", count: int | None = None
    ) -> Awaitable[tuple[S, list[S]] | None]:
        """LMPOP: ``(key, elements)`` from the first non-empty list, or None."""
        args: tuple[Any, ...] = ("LMPOP", len(keys), *keys, direction, *option("COUNT", count))
        return self._run(args, key_and_list)

    def blpop(self, *keys: Key, timeout: Seconds = 0) -> Awaitable[tuple[S, S] | None]:
        """BLPOP: ``(key, element)`` from the first non-empty list, waiting up to ``timeout``
        seconds (0: forever); None on timeout. Cancellation closes the waiting connection."""
        return self._run(("BLPOP", *keys, timeout_arg(timeout)), key_and_value)

    def brpop(self, *keys: Key, timeout: Seconds = 0) -> Awaitable[tuple[S, S] | None]:
        """BRPOP: as ``blpop`` from the tail."""
        return self._run(("BRPOP", *keys, timeout_arg(timeout)), key_and_value)

    def blmove(
        self,
        source: Key,
        destination: Key,
        wherefrom: End = "LEFT",
        whereto: End = "RIGHT",
        *,
        timeout: Seconds = 0,
    ) -> Awaitable[S | None]:
        """BLMOVE: the element moved, waiting as ``blpop`` does."""
        args: tuple[Any, ...] = (
            "BLMOVE",
            source,
            destination,
            wherefrom,
            whereto,
            timeout_arg(timeout),
        )
        return self._run(args, identity)

    def brpoplpush(
        self, source: Key, destination: Key, *, timeout: Seconds = 0
    ) -> Awaitable[S | None]:
        return self._run(("BRPOPLPUSH", source, destination, timeout_arg(timeout)), identity)

    def blmpop(
        self,
        *keys: Key,
        direction: End = "LEFT",
        count: int | None = None,
        timeout: Seconds = 0,
    ) -> Awaitable[tuple[S, list[S]] | None]:
        """BLMPOP: as ``lmpop``, waiting as ``blpop`` does."""
        args: tuple[Any, ...] = ("BLMPOP", timeout_arg(timeout), len(keys), *keys, direction)
        return self._run((*args, *option("COUNT", count)), key_and_list)


class SetCommands(CommandsBase[S]):
    """Sets: unordered unique members; replies come back as Python ``set``."""

    __slots__ = ()

    def sadd(self, key: Key, *members: Value) -> Awaitable[int]:
        """SADD: how many members were new."""
        return self._run(("SADD", key, *members), identity)

    def srem(self, key: Key, *members: Value) -> Awaitable[int]:
        return self._run(("SREM", key, *members), identity)

    def smembers(self, key: Key) -> Awaitable[builtins.set[S]]:
        return self._run(("SMEMBERS", key), to_set)

    def sismember(self, key: Key, member: Value) -> Awaitable[bool]:
        return self._run(("SISMEMBER", key, member), to_bool)

    def smismember(self, key: Key, *members: Value) -> Awaitable[list[bool]]:
        return self._run(("SMISMEMBER", key, *members), bools)

    def scard(self, key: Key) -> Awaitable[int]:
        return self._run(("SCARD", key), identity)

    @overload
    def spop(self, key: Key) -> Awaitable[S | None]: ...
    @overload
    def spop(self, key: Key, count: int) -> Awaitable[list[S]]: ...
    def spop(self, key: Key, count: int | None = None) -> Awaitable[Any]:
        """SPOP: one random member removed (None if empty); with ``count``, a list."""
        if count is None:
            return self._run(("SPOP", key), identity)
        return self._run(("SPOP", key, count), to_list)

    @overload
    def srandmember(self, key: Key) -> Awaitable[S | None]: ...
    @overload
    def srandmember(self, key: Key, count: int) -> Awaitable[list[S]]: ...
    def srandmember(self, key: Key, count: int | None = None) -> Awaitable[Any]:
        """SRANDMEMBER: one random member; with ``count``, a list (negative: repeats)."""
        if count is None:
            return self._run(("SRANDMEMBER", key), identity)
        return self._run(("SRANDMEMBER", key, count), to_list)

    def smove(self, source: Key, destination: Key, member: Value) -> Awaitable[bool]:
        return self._run(("SMOVE", source, destination, member), to_bool)

    def sinter(self, *keys: Key) -> Awaitable[builtins.set[S]]:
        return self._run(("SINTER", *keys), to_set)

    def sunion(self, *keys: Key) -> Awaitable[builtins.set[S]]:
        return self._run(("SUNION", *keys), to_set)

    def sdiff(self, *keys: Key) -> Awaitable[builtins.set[S]]:
        return self._run(("SDIFF", *keys), to_set)

    def sinterstore(self, destination: Key, *keys: Key) -> Awaitable[int]:
        return self._run(("SINTERSTORE", destination, *keys), identity)

    def sunionstore(self, destination: Key, *keys: Key) -> Awaitable[int]:
        return self._run(("SUNIONSTORE", destination, *keys), identity)

    def sdiffstore(self, destination: Key, *keys: Key) -> Awaitable[int]:
        return self._run(("SDIFFSTORE", destination, *keys), identity)

    def sintercard(self, *keys: Key, limit: int | None = None) -> Awaitable[int]:
        return self._run(("SINTERCARD", len(keys), *keys, *option("LIMIT", limit)), identity)
