"""Typed methods for sorted sets.

Scores come back as ``float`` (RESP2 sends them as strings, RESP3 as doubles). With
``withscores=True`` a range is a list of ``(member, score)`` tuples, otherwise of members. A score
bound is a number or a string in Redis's syntax (``"(1.5"`` exclusive, ``"-inf"``, ``"+inf"``); a
lex bound is ``"[a"``, ``"(a"``, ``"-"`` or ``"+"``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping
from typing import Any, Literal, overload

from ._client_cmds_base import (
    CommandsBase,
    Key,
    S,
    Seconds,
    Value,
    flags,
    floats,
    identity,
    key_and_scored,
    key_member_score,
    maybe_scored,
    opt_float,
    option,
    scored,
    timeout_arg,
    to_float,
    to_list,
)

__all__ = ["SortedSetCommands"]

Bound = float | int | str | bytes
Aggregate = Literal["SUM", "MIN", "MAX"]


def _limit(offset: int | None, count: int | None) -> list[Any]:
    if offset is None and count is None:
        return []
    if offset is None or count is None:
        raise ValueError("give both offset and count, or neither")
    return ["LIMIT", offset, count]


def _combine(
    keys: tuple[Key, ...], weights: Iterable[float] | None, aggregate: Aggregate | None
) -> list[Any]:
    args: list[Any] = [len(keys), *keys]
    if weights is not None:
        args += ["WEIGHTS", *weights]
    return args + option("AGGREGATE", aggregate)


class SortedSetCommands(CommandsBase[S]):
    """Sorted sets: members ordered by a float score."""

    __slots__ = ()

    def zadd(
        self,
        key: Key,
        mapping: Mapping[Key, float],
        *,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
        ch: bool = False,
    ) -> Awaitable[int]:
        """ZADD ``{member: score}``: how many members were added (with ``ch``, changed)."""
        scores: list[Any] = [item for member, score in mapping.items() for item in (score, member)]
        args: tuple[Any, ...] = ("ZADD", key, *flags(nx=nx, xx=xx, gt=gt, lt=lt, ch=ch), *scores)
        return self._run(args, identity)

    def zadd_incr(
        self,
        key: Key,
        member: Key,
        amount: float,
        *,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> Awaitable[float | None]:
        """ZADD ... INCR: the new score, or None if a condition prevented the change."""
        args: tuple[Any, ...] = (
            "ZADD",
            key,
            *flags(nx=nx, xx=xx, gt=gt, lt=lt),
            "INCR",
            amount,
            member,
        )
        return self._run(args, opt_float)

    def zrem(self, key: Key, *members: Value) -> Awaitable[int]:
        return self._run(("ZREM", key, *members), identity)

    def zscore(self, key: Key, member: Value) -> Awaitable[float | None]:
        return self._run(("ZSCORE", key, member), opt_float)

    def zmscore(self, key: Key, *members: Value) -> Awaitable[list[float | None]]:
        return self._run(("ZMSCORE", key, *members), floats)

    def zincrby(self, key: Key, amount: float, member: Value) -> Awaitable[float]:
        return self._run(("ZINCRBY", key, amount, member), to_float)

    def zcard(self, key: Key) -> Awaitable[int]:
        return self._run(("ZCARD", key), identity)

    def zcount(self, key: Key, min: Bound, max: Bound) -> Awaitable[int]:
        return self._run(("ZCOUNT", key, min, max), identity)

    def zlexcount(self, key: Key, min: Bound, max: Bound) -> Awaitable[int]:
        return self._run(("ZLEXCOUNT", key, min, max), identity)

    def zrank(self, key: Key, member: Value) -> Awaitable[int | None]:
        """ZRANK: 0-based rank by ascending score, None if not a member."""
        return self._run(("ZRANK", key, member), identity)

    def zrevrank(self, key: Key, member: Value) -> Awaitable[int | None]:
        return self._run(("ZREVRANK", key, member), identity)

    @overload
    def zrange(
        self,
        key: Key,
        start: Bound = 0,
        stop: Bound = -1,
        *,
        byscore: bool = False,
        bylex: bool = False,
        rev: bool = False,
        offset: int | None = None,
        count: int | None = None,
        withscores: Literal[False] = False,
    ) -> Awaitable[list[S]]: ...
    @overload
    def zrange(
        self,
        key: Key,
        start: Bound = 0,
        stop: Bound = -1,
        *,
        byscore: bool = False,
        bylex: bool = False,
        rev: bool = False,
        offset: int | None = None,
        count: int | None = None,
        withscores: Literal[True],
    ) -> Awaitable[list[tuple[S, float]]]: ...
    def zrange(
        self,
        key: Key,
        start: Bound = 0,
        stop: Bound = -1,
        *,
        byscore: bool = False,
        bylex: bool = False,
        rev: bool = False,
        offset: int | None = None,
        count: int | None = None,
        withscores: bool = False,
    ) -> Awaitable[Any]:
        """ZRANGE by rank (the default: the whole set), ``byscore`` or ``bylex``, optionally
        ``rev``ersed and paged with ``offset``/``count``."""
        args: tuple[Any, ...] = (
            "ZRANGE",
            key,
            start,
            stop,
            *flags(byscore=byscore, bylex=bylex, rev=rev),
        )
        args += (*_limit(offset, count), *flags(withscores=withscores))
        return self._run(args, maybe_scored(withscores))

    def zrevrange(
        self, key: Key, start: int = 0, stop: int = -1, *, withscores: bool = False
    ) -> Awaitable[list[Any]]:
        args: tuple[Any, ...] = ("ZREVRANGE", key, start, stop, *flags(withscores=withscores))
        return self._run(args, maybe_scored(withscores))

    def zrangebyscore(
        self,
        key: Key,
        min: Bound,
        max: Bound,
        *,
        offset: int | None = None,
        count: int | None = None,
        withscores: bool = False,
    ) -> Awaitable[list[Any]]:
        args: tuple[Any, ...] = ("ZRANGEBYSCORE", key, min, max, *flags(withscores=withscores))
        return self._run((*args, *_limit(offset, count)), maybe_scored(withscores))

    def zrevrangebyscore(
        self,
        key: Key,
        max: Bound,
        min: Bound,
        *,
        offset: int | None = None,
        count: int | None = None,
        withscores: bool = False,
    ) -> Awaitable[list[Any]]:
        args: tuple[Any, ...] = ("ZREVRANGEBYSCORE", key, max, min, *flags(withscores=withscores))
        return self._run((*args, *_limit(offset, count)), maybe_scored(withscores))

    def zrangebylex(
        self,
        key: Key,
        min: Bound,
        max: Bound,
        *,
        offset: int | None = None,
        count: int | None = None,
    ) -> Awaitable[list[S]]:
        return self._run(("ZRANGEBYLEX", key, min, max, *_limit(offset, count)), to_list)

    def zrevrangebylex(
        self,
        key: Key,
        max: Bound,
        min: Bound,
        *,
        offset: int | None = None,
        count: int | None = None,
    ) -> Awaitable[list[S]]:
        return self._run(("ZREVRANGEBYLEX", key, max, min, *_limit(offset, count)), to_list)

    def zrangestore(
        self,
        destination: Key,
        source: Key,
        start: Bound,
        stop: Bound,
        *,
        byscore: bool = False,
        bylex: bool = False,
        rev: bool = False,
        offset: int | None = None,
        count: int | None = None,
    ) -> Awaitable[int]:
        args: tuple[Any, ...] = ("ZRANGESTORE", destination, source, start, stop)
        args += (*flags(byscore=byscore, bylex=bylex, rev=rev), *_limit(offset, count))
        return self._run(args, identity)

    def zremrangebyrank(self, key: Key, start: int, stop: int) -> Awaitable[int]:
        return self._run(("ZREMRANGEBYRANK", key, start, stop), identity)

    def zremrangebyscore(self, key: Key, min: Bound, max: Bound) -> Awaitable[int]:
        return self._run(("ZREMRANGEBYSCORE", key, min, max), identity)

    def zremrangebylex(self, key: Key, min: Bound, max: Bound) -> Awaitable[int]:
        return self._run(("ZREMRANGEBYLEX", key, min, max), identity)

    def zpopmin(self, key: Key, count: int | None = None) -> Awaitable[list[tuple[S, float]]]:
        """ZPOPMIN: ``[(member, score), ...]``, the lowest first (empty if none)."""
        return self._run(("ZPOPMIN", key, *([] if count is None else [count])), scored)

    def zpopmax(self, key: Key, count: int | None = None) -> Awaitable[list[tuple[S, float]]]:
        return self._run(("ZPOPMAX", key, *([] if count is None else [count])), scored)

    def bzpopmin(self, *keys: Key, timeout: Seconds = 0) -> Awaitable[tuple[S, S, float] | None]:
        """BZPOPMIN: ``(key, member, score)``, waiting up to ``timeout`` seconds (0: forever);
        None on timeout. Cancellation closes the waiting connection (see ``blpop``)."""
        return self._run(("BZPOPMIN", *keys, timeout_arg(timeout)), key_member_score)

    def bzpopmax(self, *keys: Key, timeout: Seconds = 0) -> Awaitable[tuple[S, S, float] | None]:
        return self._run(("BZPOPMAX", *keys, timeout_arg(timeout)), key_member_score)

    def zmpop(
        self, *keys: Key, order: Literal["MIN", "MAX"] = "MIN", count: int | None = None
    ) -> Awaitable[tuple[S, list[tuple[S, float]]] | None]:
        """ZMPOP: ``(key, [(member, score), ...])`` from the first non-empty set, or None."""
        args: tuple[Any, ...] = ("ZMPOP", len(keys), *keys, order, *option("COUNT", count))
        return self._run(args, key_and_scored)

    def bzmpop(
        self,
        *keys: Key,
        order: Literal["MIN", "MAX"] = "MIN",
        count: int | None = None,
        timeout: Seconds = 0,
    ) -> Awaitable[tuple[S, list[tuple[S, float]]] | None]:
        """BZMPOP: as ``zmpop``, waiting as ``bzpopmin`` does."""
        args: tuple[Any, ...] = ("BZMPOP", timeout_arg(timeout), len(keys), *keys, order)
        return self._run((*args, *option("COUNT", count)), key_and_scored)

    def zrandmember(
        self, key: Key, count: int | None = None, *, withscores: bool = False
    ) -> Awaitable[Any]:
        """ZRANDMEMBER: one member (None if empty); with ``count`` a list, with
        ``withscores`` of ``(member, score)``."""
        if count is None:
            return self._run(("ZRANDMEMBER", key), identity)
        args: tuple[Any, ...] = ("ZRANDMEMBER", key, count, *flags(withscores=withscores))
        return self._run(args, maybe_scored(withscores))

    def zunion(
        self,
        *keys: Key,
        weights: Iterable[float] | None = None,
        aggregate: Aggregate | None = None,
        withscores: bool = False,
    ) -> Awaitable[list[Any]]:
        args: tuple[Any, ...] = (
            "ZUNION",
            *_combine(keys, weights, aggregate),
            *flags(withscores=withscores),
        )
        return self._run(args, maybe_scored(withscores))

    def zinter(
        self,
        *keys: Key,
        weights: Iterable[float] | None = None,
        aggregate: Aggregate | None = None,
        withscores: bool = False,
    ) -> Awaitable[list[Any]]:
        args: tuple[Any, ...] = (
            "ZINTER",
            *_combine(keys, weights, aggregate),
            *flags(withscores=withscores),
        )
        return self._run(args, maybe_scored(withscores))

    def zdiff(self, *keys: Key, withscores: bool = False) -> Awaitable[list[Any]]:
        args: tuple[Any, ...] = ("ZDIFF", len(keys), *keys, *flags(withscores=withscores))
        return self._run(args, maybe_scored(withscores))

    def zunionstore(
        self,
        destination: Key,
        *keys: Key,
        weights: Iterable[float] | None = None,
        aggregate: Aggregate | None = None,
    ) -> Awaitable[int]:
        args: tuple[Any, ...] = ("ZUNIONSTORE", destination, *_combine(keys, weights, aggregate))
        return self._run(args, identity)

    def zinterstore(
        self,
        destination: Key,
        *keys: Key,
        weights: Iterable[float] | None = None,
        aggregate: Aggregate | None = None,
    ) -> Awaitable[int]:
        args: tuple[Any, ...] = ("ZINTERSTORE", destination, *_combine(keys, weights, aggregate))
        return self._run(args, identity)

    def zdiffstore(self, destination: Key, *keys: Key) -> Awaitable[int]:
        return self._run(("ZDIFFSTORE", destination, len(keys), *keys), identity)

    def zintercard(self, *keys: Key, limit: int | None = None) -> Awaitable[int]:
        return self._run(("ZINTERCARD", len(keys), *keys, *option("LIMIT", limit)), identity)
