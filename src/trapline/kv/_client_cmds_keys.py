"""Typed methods for string and generic key commands (SET family, counters, expiry, renames)."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping
from typing import Any

from ._client_cmds_base import (
    CommandsBase,
    Key,
    Moment,
    S,
    Seconds,
    Value,
    expiry_args,
    flags,
    flatten,
    identity,
    ok,
    option,
    seconds,
    to_bool,
    to_float,
    to_list,
)

__all__ = ["KeyCommands", "StringCommands"]


class StringCommands(CommandsBase[S]):
    """Strings: GET/SET and friends, counters, ranges, LCS."""

    __slots__ = ()

    def get(self, key: Key) -> Awaitable[S | None]:
        """GET: the value, or None if the key does not exist."""
        return self._run(("GET", key), identity)

    def set(
        self,
        key: Key,
        value: Value,
        *,
        ex: Seconds | None = None,
        px: int | None = None,
        exat: Moment | None = None,
        pxat: int | None = None,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
    ) -> Awaitable[bool]:
        """SET: True if the value was set, False if ``nx``/``xx`` prevented it. ``ex`` in
        seconds (float or timedelta; fractions go as PX), ``exat`` a Unix time or datetime."""
        args: tuple[Any, ...] = ("SET", key, value, *expiry_args(ex, px, exat, pxat))
        return self._run((*args, *flags(nx=nx, xx=xx, keepttl=keepttl)), ok)

    def set_get(
        self,
        key: Key,
        value: Value,
        *,
        ex: Seconds | None = None,
        px: int | None = None,
        exat: Moment | None = None,
        pxat: int | None = None,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
    ) -> Awaitable[S | None]:
        """SET ... GET: set and return the old value (None if there was none)."""
        args: tuple[Any, ...] = ("SET", key, value, *expiry_args(ex, px, exat, pxat))
        return self._run((*args, *flags(nx=nx, xx=xx, keepttl=keepttl), "GET"), identity)

    def setnx(self, key: Key, value: Value) -> Awaitable[bool]:
        return self._run(("SETNX", key, value), to_bool)

    def setex(self, key: Key, time: int, value: Value) -> Awaitable[bool]:
        return self._run(("SETEX", key, time, value), ok)

    def psetex(self, key: Key, milliseconds: int, value: Value) -> Awaitable[bool]:
        return self._run(("PSETEX", key, milliseconds, value), ok)

    def getex(
        self,
        key: Key,
        *,
        ex: Seconds | None = None,
        px: int | None = None,
        exat: Moment | None = None,
        pxat: int | None = None,
        persist: bool = False,
    ) -> Awaitable[S | None]:
        """GETEX: the value, setting (or with ``persist``, removing) its expiry."""
        args: tuple[Any, ...] = (
            "GETEX",
            key,
            *expiry_args(ex, px, exat, pxat),
            *flags(persist=persist),
        )
        return self._run(args, identity)

    def getdel(self, key: Key) -> Awaitable[S | None]:
        return self._run(("GETDEL", key), identity)

    def getset(self, key: Key, value: Value) -> Awaitable[S | None]:
        return self._run(("GETSET", key, value), identity)

    def mget(self, *keys: Key) -> Awaitable[list[S | None]]:
        """MGET: the values in key order (None for a missing key)."""
        return self._run(("MGET", *keys), to_list)

    def mset(self, mapping: Mapping[Key, Value]) -> Awaitable[bool]:
        return self._run(("MSET", *flatten(mapping)), ok)

    def msetnx(self, mapping: Mapping[Key, Value]) -> Awaitable[bool]:
        """MSETNX: True if every key was set, False (nothing set) if any existed."""
        return self._run(("MSETNX", *flatten(mapping)), to_bool)

    def incr(self, key: Key, amount: int = 1) -> Awaitable[int]:
        """INCR (INCRBY when ``amount`` is not 1): the new value."""
        args: tuple[Any, ...] = ("INCR", key) if amount == 1 else ("INCRBY", key, amount)
        return self._run(args, identity)

    def incrby(self, key: Key, amount: int) -> Awaitable[int]:
        return self._run(("INCRBY", key, amount), identity)

    def decr(self, key: Key, amount: int = 1) -> Awaitable[int]:
        args: tuple[Any, ...] = ("DECR", key) if amount == 1 else ("DECRBY", key, amount)
        return self._run(args, identity)

    def decrby(self, key: Key, amount: int) -> Awaitable[int]:
        return self._run(("DECRBY", key, amount), identity)

    def incrbyfloat(self, key: Key, amount: float) -> Awaitable[float]:
        return self._run(("INCRBYFLOAT", key, amount), to_float)

    def append(self, key: Key, value: Value) -> Awaitable[int]:
        """APPEND: the new length."""
        return self._run(("APPEND", key, value), identity)

    def strlen(self, key: Key) -> Awaitable[int]:
        return self._run(("STRLEN", key), identity)

    def getrange(self, key: Key, start: int, end: int) -> Awaitable[S]:
        return self._run(("GETRANGE", key, start, end), identity)

    def setrange(self, key: Key, offset: int, value: Value) -> Awaitable[int]:
        return self._run(("SETRANGE", key, offset, value), identity)

    def lcs(self, key1: Key, key2: Key) -> Awaitable[S]:
        """LCS: the longest common subsequence (``execute("LCS", ...)`` for LEN/IDX)."""
        return self._run(("LCS", key1, key2), identity)

    def lcs_len(self, key1: Key, key2: Key) -> Awaitable[int]:
        return self._run(("LCS", key1, key2, "LEN"), identity)


class KeyCommands(CommandsBase[S]):
    """Generic key commands: existence, expiry, renames, databases."""

    __slots__ = ()

    def delete(self, *keys: Key) -> Awaitable[int]:
        """DEL: how many of ``keys`` existed (and are now gone)."""
        return self._run(("DEL", *keys), identity)

    def unlink(self, *keys: Key) -> Awaitable[int]:
        return self._run(("UNLINK", *keys), identity)

    def exists(self, *keys: Key) -> Awaitable[int]:
        """EXISTS: how many of ``keys`` exist (a key named twice counts twice)."""
        return self._run(("EXISTS", *keys), identity)

    def touch(self, *keys: Key) -> Awaitable[int]:
        return self._run(("TOUCH", *keys), identity)

    def expire(
        self,
        key: Key,
        time: Seconds,
        *,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> Awaitable[bool]:
        """EXPIRE (PEXPIRE for fractions of a second): True if the timeout was set."""
        value = seconds(time)
        opts: list[str] = flags(nx=nx, xx=xx, gt=gt, lt=lt)
        if value == int(value):
            return self._run(("EXPIRE", key, int(value), *opts), to_bool)
        return self._run(("PEXPIRE", key, round(value * 1000), *opts), to_bool)

    def pexpire(
        self,
        key: Key,
        milliseconds: int,
        *,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> Awaitable[bool]:
        opts: list[str] = flags(nx=nx, xx=xx, gt=gt, lt=lt)
        return self._run(("PEXPIRE", key, milliseconds, *opts), to_bool)

    def expireat(
        self,
        key: Key,
        when: Moment,
        *,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> Awaitable[bool]:
        """EXPIREAT (PEXPIREAT for fractions): ``when`` is a Unix time or a datetime."""
        moment = when.timestamp() if not isinstance(when, (int, float)) else when
        opts: list[str] = flags(nx=nx, xx=xx, gt=gt, lt=lt)
        if moment == int(moment):
            return self._run(("EXPIREAT", key, int(moment), *opts), to_bool)
        return self._run(("PEXPIREAT", key, round(moment * 1000), *opts), to_bool)

    def pexpireat(
        self,
        key: Key,
        unix_ms: int,
        *,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> Awaitable[bool]:
        opts: list[str] = flags(nx=nx, xx=xx, gt=gt, lt=lt)
        return self._run(("PEXPIREAT", key, unix_ms, *opts), to_bool)

    def expiretime(self, key: Key) -> Awaitable[int]:
        """EXPIRETIME: Unix time in seconds; -1 no expiry, -2 no such key."""
        return self._run(("EXPIRETIME", key), identity)

    def pexpiretime(self, key: Key) -> Awaitable[int]:
        return self._run(("PEXPIRETIME", key), identity)

    def ttl(self, key: Key) -> Awaitable[int]:
        """TTL in seconds; -1 no expiry, -2 no such key."""
        return self._run(("TTL", key), identity)

    def pttl(self, key: Key) -> Awaitable[int]:
        return self._run(("PTTL", key), identity)

    def persist(self, key: Key) -> Awaitable[bool]:
        return self._run(("PERSIST", key), to_bool)

    def type(self, key: Key) -> Awaitable[S]:
        """TYPE: ``string``, ``list``, ``set``, ``zset``, ``hash`` or ``none``."""
        return self._run(("TYPE", key), identity)

    def keys(self, pattern: Key = "*") -> Awaitable[list[S]]:
        """KEYS: every key matching the glob ``pattern`` (blocks the server: prefer scan)."""
        return self._run(("KEYS", pattern), to_list)

    def randomkey(self) -> Awaitable[S | None]:
        return self._run(("RANDOMKEY",), identity)

    def rename(self, key: Key, new: Key) -> Awaitable[bool]:
        return self._run(("RENAME", key, new), ok)

    def renamenx(self, key: Key, new: Key) -> Awaitable[bool]:
        return self._run(("RENAMENX", key, new), to_bool)

    def copy(
        self, source: Key, destination: Key, *, db: int | None = None, replace: bool = False
    ) -> Awaitable[bool]:
        args: tuple[Any, ...] = (
            "COPY",
            source,
            destination,
            *option("DB", db),
            *flags(replace=replace),
        )
        return self._run(args, to_bool)

    def move(self, key: Key, db: int) -> Awaitable[bool]:
        return self._run(("MOVE", key, db), to_bool)

    def swapdb(self, first: int, second: int) -> Awaitable[bool]:
        return self._run(("SWAPDB", first, second), ok)

    def dbsize(self) -> Awaitable[int]:
        return self._run(("DBSIZE",), identity)

    def flushdb(self, *, asynchronous: bool = False) -> Awaitable[bool]:
        return self._run(("FLUSHDB", *(["ASYNC"] if asynchronous else [])), ok)

    def flushall(self, *, asynchronous: bool = False) -> Awaitable[bool]:
        return self._run(("FLUSHALL", *(["ASYNC"] if asynchronous else [])), ok)

    def object_encoding(self, key: Key) -> Awaitable[S | None]:
        return self._run(("OBJECT", "ENCODING", key), identity)

    def sort(
        self,
        key: Key,
        *,
        by: Key | None = None,
        limit: tuple[int, int] | None = None,
        get: Iterable[Key] = (),
        desc: bool = False,
        alpha: bool = False,
        store: Key | None = None,
    ) -> Awaitable[Any]:
        """SORT: the sorted elements (with ``store``, how many were stored).

        ``by`` is a pattern such as ``weight_*`` or ``h_*->field`` (``nosort`` keeps the
        order), ``get`` patterns fetch other keys per element (``#`` is the element itself),
        ``limit`` is ``(offset, count)``."""
        return self._run(_sort_args("SORT", key, by, limit, get, desc, alpha, store), identity)

    def sort_ro(
        self,
        key: Key,
        *,
        by: Key | None = None,
        limit: tuple[int, int] | None = None,
        get: Iterable[Key] = (),
        desc: bool = False,
        alpha: bool = False,
    ) -> Awaitable[list[S | None]]:
        """SORT_RO: ``sort`` without ``store``, allowed on read-only replicas."""
        args = _sort_args("SORT_RO", key, by, limit, get, desc, alpha, None)
        return self._run(args, to_list)

    def dump(self, key: Key) -> Awaitable[bytes | None]:
        """DUMP: the key's value serialized as Redis does (RDB encoding with a checksum), for
        ``restore``; None if the key does not exist. The payload is binary: a client made
        with ``decode_responses=True`` raises ``TypeError`` (use one without it)."""
        client = getattr(self, "_kv", self)  # pipelines and transactions decode as their client
        if getattr(client, "decode_responses", False):
            raise TypeError("dump() returns binary data: use a client without decode_responses")
        return self._run(("DUMP", key), identity)

    def restore(
        self,
        key: Key,
        ttl: Seconds,
        payload: bytes,
        *,
        replace: bool = False,
        absttl: bool = False,
        idletime: int | None = None,
        freq: int | None = None,
    ) -> Awaitable[bool]:
        """RESTORE: create ``key`` from a ``dump`` payload, expiring after ``ttl`` seconds (0:
        never; with ``absttl``, ``ttl`` is a Unix time). ``ResponseError`` (``BUSYKEY``) if the
        key exists and ``replace`` is not set, or if the payload is damaged."""
        args: tuple[Any, ...] = (
            "RESTORE",
            key,
            round(seconds(ttl) * 1000),
            payload,
            *flags(replace=replace, absttl=absttl),
            *option("IDLETIME", idletime),
            *option("FREQ", freq),
        )
        return self._run(args, ok)

    def migrate(
        self,
        host: str,
        port: int,
        keys: Key | Iterable[Key],
        db: int,
        timeout: Seconds,
        *,
        copy: bool = False,
        replace: bool = False,
        auth: str | tuple[str, str] | None = None,
    ) -> Awaitable[bool]:
        """MIGRATE ``keys`` to another server (it connects there itself): True when moved,
        False when none of the keys existed (``NOKEY``). ``copy`` keeps them here, ``replace``
        overwrites there, ``auth`` is a password or ``(username, password)``."""
        key_list: list[Key]
        if isinstance(keys, (str, bytes)):
            key_list, many = [keys], False
        else:
            key_list, many = list(keys), True
        args: list[Any] = ["MIGRATE", host, port, "" if many else key_list[0], db]
        args += [round(seconds(timeout) * 1000), *flags(copy=copy, replace=replace)]
        if isinstance(auth, tuple):
            args += ["AUTH2", auth[0], auth[1]]
        elif auth is not None:
            args += ["AUTH", auth]
        if many:
            args += ["KEYS", *key_list]
        return self._run(tuple(args), _migrated)

    def wait(self, replicas: int, timeout: Seconds) -> Awaitable[int]:
        """WAIT until ``replicas`` replicas acknowledged this connection's writes, or
        ``timeout`` seconds (0: forever); how many did."""
        return self._run(("WAIT", replicas, round(seconds(timeout) * 1000)), identity)


def _sort_args(
    name: str,
    key: Key,
    by: Key | None,
    limit: tuple[int, int] | None,
    get: Iterable[Key],
    desc: bool,
    alpha: bool,
    store: Key | None,
) -> tuple[Any, ...]:
    args: list[Any] = [name, key, *option("BY", by)]
    if limit is not None:
        args += ["LIMIT", limit[0], limit[1]]
    for pattern in get:
        args += ["GET", pattern]
    args += [*flags(desc=desc, alpha=alpha), *option("STORE", store)]
    return tuple(args)


def _migrated(reply: Any) -> bool:
    return reply in (b"OK", "OK")
