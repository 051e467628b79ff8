"""Redis Cluster: ``trapline.kv.connect("redis+cluster://host:port,host:port")``.

Some facts about Redis Cluster that shape this module:

- The key space is cut into 16384 hash slots: ``CRC16(key) % 16384``, where only the part
  inside the first ``{...}`` counts if there is one (a "hash tag"), so ``{user:1}.name`` and
  ``{user:1}.mail`` share a slot. Each slot is served by one master. A multi-key command must
  keep to one slot (else ``CROSSSLOT``); so must a transaction.
- A node asked about a slot it does not serve answers ``MOVED slot host:port``: the slot lives
  there now. The command did not run, so sending it there is not a retry of a write. During a
  resharding the source node answers ``ASK slot host:port`` for keys it no longer has: send
  ``ASKING`` and the command to the target, once, without updating the map. ``TRYAGAIN`` means
  a multi-key command caught a slot half-migrated: wait a moment and send it again (it did not
  run either).
- ``CLUSTER SLOTS`` (any node) gives the whole slot map. It is loaded on ``async with``, patched
  per slot on MOVED, and reloaded before the next command after a MOVED, a CLUSTERDOWN or a
  lost connection.

Routing: the client finds the keys of a command from a table of the commands it knows, or from
the server's ``COMMAND INFO`` (cached) and ``COMMAND GETKEYS``. Keyless commands go to any node,
except a few that are answered by every master (DBSIZE adds up, KEYS concatenates, FLUSHALL and
FLUSHDB run everywhere; ``scan()`` walks each master in turn). MGET, MSET, DEL, UNLINK, EXISTS
and TOUCH spanning several slots are split per slot (so they are not atomic across slots).
Each node has its own bounded pool. A pipeline is split by node, each part sent on its own
connection concurrently, redirected commands are followed one by one, and the replies are put
back in the order the commands were queued.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Final, TypeVar, final

import trapline
from trapline.lowlevel import checkpoint_if_cancelled

from ._client import KV, KVStatistics, exec_transaction
from ._client import _command_name as _name
from ._client_cmds_base import Key, S, option, text
from ._client_conn import Address, Connection, Options, Pool
from ._client_resp import ClusterError, ConnectionLost, KVError, ResponseError

__all__ = ["SLOTS", "ClusterKV", "crc16", "key_slot"]

T = TypeVar("T")

SLOTS: Final = 16384
MAX_REDIRECTIONS: Final = 8
TRYAGAIN_DELAY: Final = 0.05


def _crc16_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_TABLE: Final = _crc16_table()


def crc16(data: bytes) -> int:
    """CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc


def key_slot(key: Key | int | float) -> int:
    """The hash slot of ``key``, honouring a ``{hash tag}``."""
    data = key if isinstance(key, bytes) else str(key).encode()
    start = data.find(b"{")
    if start != -1:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1 : end]
    return crc16(data) & (SLOTS - 1)


# -- where the keys of a command are ---------------------------------------------------------

KeyFinder = Callable[[Sequence[Any]], list[Any]]


def _positions(first: int, last: int, step: int) -> KeyFinder:
    def find(args: Sequence[Any]) -> list[Any]:
        stop = len(args) + last + 1 if last < 0 else last + 1
        return list(args[first:stop:step])

    return find


def _numkeys(at: int) -> KeyFinder:
    """``numkeys`` at ``args[at]``, then that many keys (and, for *STORE, a key before it)."""

    def find(args: Sequence[Any]) -> list[Any]:
        count = int(args[at])
        return [*args[1:at], *args[at + 1 : at + 1 + count]]

    return find


def _numkeys_after(at: int) -> KeyFinder:
    """``numkeys`` at ``args[at]`` after a non-key argument (a timeout, a script)."""

    def find(args: Sequence[Any]) -> list[Any]:
        count = int(args[at])
        return list(args[at + 1 : at + 1 + count])

    return find


def _keyless(args: Sequence[Any]) -> list[Any]:
    return []


def _names(words: str) -> list[str]:
    return words.split()


_ONE = _positions(1, 1, 1)
_TWO = _positions(1, 2, 1)
_ALL = _positions(1, -1, 1)
_FINDERS: dict[str, KeyFinder] = {
    **dict.fromkeys(
        _names(
            "GET SET SETNX SETEX PSETEX GETEX GETDEL GETSET INCR INCRBY DECR DECRBY INCRBYFLOAT "
            "APPEND STRLEN GETRANGE SETRANGE EXPIRE PEXPIRE EXPIREAT PEXPIREAT EXPIRETIME "
            "PEXPIRETIME TTL PTTL PERSIST TYPE MOVE DUMP RESTORE SORT SORT_RO "
            "HSET HSETNX HGET HMGET HMSET HDEL HGETALL HLEN HEXISTS HINCRBY HINCRBYFLOAT HKEYS "
            "HVALS HSTRLEN HRANDFIELD HSCAN LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LRANGE LLEN "
            "LINDEX LSET LINSERT LREM LTRIM LPOS SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD "
            "SPOP SRANDMEMBER "
            "SSCAN ZADD ZREM ZSCORE ZMSCORE ZINCRBY ZCARD ZCOUNT ZLEXCOUNT ZRANK ZREVRANK ZRANGE "
            "ZREVRANGE ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZREMRANGEBYRANK "
            "ZREMRANGEBYSCORE ZREMRANGEBYLEX ZPOPMIN ZPOPMAX ZRANDMEMBER ZSCAN"
        ),
        _ONE,
    ),
    **dict.fromkeys(
        _names("RENAME RENAMENX COPY LMOVE BLMOVE RPOPLPUSH BRPOPLPUSH SMOVE LCS ZRANGESTORE"),
        _TWO,
    ),
    **dict.fromkeys(
        _names(
            "MGET DEL UNLINK EXISTS TOUCH WATCH SINTER SUNION SDIFF SINTERSTORE SUNIONSTORE "
            "SDIFFSTORE"
        ),
        _ALL,
    ),
    **dict.fromkeys(_names("MSET MSETNX"), _positions(1, -1, 2)),
    **dict.fromkeys(_names("BLPOP BRPOP BZPOPMIN BZPOPMAX"), _positions(1, -2, 1)),
    **dict.fromkeys(_names("LMPOP ZMPOP SINTERCARD ZINTERCARD ZUNION ZINTER ZDIFF"), _numkeys(1)),
    **dict.fromkeys(_names("ZUNIONSTORE ZINTERSTORE ZDIFFSTORE"), _numkeys(2)),
    **dict.fromkeys(
        _names("BLMPOP BZMPOP EVAL EVALSHA EVAL_RO EVALSHA_RO FCALL"), _numkeys_after(2)
    ),
    "OBJECT": _positions(2, 2, 1),
    **dict.fromkeys(
        _names(
            "PING ECHO INFO TIME DBSIZE KEYS SCAN RANDOMKEY FLUSHDB FLUSHALL PUBLISH PUBSUB CONFIG "
            "CLIENT COMMAND LASTSAVE CLUSTER MULTI EXEC DISCARD UNWATCH SCRIPT FUNCTION"
        ),
        _keyless,
    ),
}
_ASK_EACH_TIME = _positions(0, 0, 1)  # marker: this command's keys move, ask COMMAND GETKEYS

# Keyless commands every master must answer, and how to combine the answers.
_FANOUT: dict[str, Callable[[list[Any]], Any]] = {
    "DBSIZE": sum,
    "KEYS": lambda replies: [key for reply in replies for key in reply],
    "FLUSHALL": lambda replies: replies[0],
    "FLUSHDB": lambda replies: replies[0],
}
# Multi-key commands that are split per slot when their keys span several.
_SPLIT = frozenset({"MGET", "MSET", "DEL", "UNLINK", "EXISTS", "TOUCH"})
_REDIRECTS = frozenset({"MOVED", "ASK", "TRYAGAIN"})


def _one_slot(name: str, slots: list[int]) -> int | None:
    if not slots:
        return None
    if len(set(slots)) > 1:
        raise ClusterError(
            f"the keys of {name} hash to different slots (CROSSSLOT): give them a common "
            "{hash tag}"
        )
    return slots[0]


def _target(error: ResponseError, current: Address) -> tuple[int, Address]:
    """``MOVED 3999 127.0.0.1:6381`` -> (3999, Address). An empty host means the same host."""
    try:
        _, slot, where = error.message.split(" ")
        host, _, port = where.rpartition(":")
        return int(slot), Address(host or current.host, int(port), tls=current.tls)
    except ValueError:
        raise ClusterError(f"cannot parse the redirection {error.message!r}") from error


@final
class ClusterKV(KV[S]):
    """A client of a Redis Cluster: routes each command to the master serving its keys' slot.

    Get one from ``connect("redis+cluster://host:port,...")``. Any reachable node among those
    given is enough: the others are found in the slot map."""

    __slots__ = (
        "_asked",
        "_closed",
        "_masters",
        "_max_connections",
        "_moved",
        "_next_node",
        "_pools",
        "_refresh_lock",
        "_refreshes",
        "_slots",
        "_specs",
        "_stale",
        "_startup",
    )

    def __init__(
        self, startup: Sequence[Address], options: Options, max_connections: int = 32
    ) -> None:
        super().__init__(options)
        if not startup:
            raise ValueError("give at least one cluster node")
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._startup = list(startup)
        self._max_connections = max_connections
        self._pools: dict[Address, Pool] = {}
        self._slots: list[Address | None] = [None] * SLOTS
        self._masters: list[Address] = []
        self._refresh_lock = trapline.Lock()
        self._stale = True
        self._specs: dict[str, KeyFinder] = {}
        self._next_node = itertools.count()
        self._moved = self._asked = self._refreshes = 0
        self._closed = False

    def __repr__(self) -> str:
        return f"<trapline.kv.ClusterKV masters={[str(a) for a in self._masters]}>"

    # -- nodes and the slot map ----------------------------------------------------------------

    def _pool(self, address: Address) -> Pool:
        pool = self._pools.get(address)
        if pool is None:
            if self._closed:
                raise trapline.ClosedResourceError("this client was closed")
            pool = self._pools[address] = Pool(address, self.options, self._max_connections)
        return pool

    def _any_node(self) -> Address:
        nodes = self._masters or self._startup
        return nodes[next(self._next_node) % len(nodes)]

    def _node_for(self, slot: int | None) -> Address:
        if slot is None:
            return self._any_node()
        address = self._slots[slot]
        if address is None:
            raise ClusterError(f"no cluster node serves slot {slot}")
        return address

    async def _send_to(self, address: Address, args: tuple[Any, ...]) -> Any:
        """One command to one node, no redirections; the reply (errors returned)."""
        pool = self._pool(address)
        conn = await pool.acquire()
        try:
            return await conn.call(args)
        finally:
            pool.release(conn)

    async def refresh_slots(self) -> None:
        """Reload the slot map from the first node that answers CLUSTER SLOTS.

        Checkpoint: yes. Raises ``ClusterError`` if no known node answers."""
        self._stale = True
        await self._refresh()

    async def _refresh(self) -> None:
        async with self._refresh_lock:
            if not self._stale:
                return  # another task refreshed while this one waited for the lock
            errors: list[BaseException] = []
            candidates = dict.fromkeys([*self._masters, *self._startup])
            for address in candidates:
                try:
                    reply = await self._send_to(address, ("CLUSTER", "SLOTS"))
                except (OSError, KVError) as error:
                    errors.append(error)
                    continue
                if isinstance(reply, ResponseError):
                    errors.append(reply)
                    continue
                self._apply_slots(reply, address)
                return
            raise ClusterError(f"no cluster node answered CLUSTER SLOTS: {errors!r}")

    def _apply_slots(self, reply: Any, source: Address) -> None:
        slots: list[Address | None] = [None] * SLOTS
        masters: dict[Address, None] = {}
        for entry in reply:
            start, end, master = int(entry[0]), int(entry[1]), entry[2]
            host = text(master[0]) if master[0] else ""
            if host in ("", "?"):
                host = source.host
            address = Address(host, int(master[1]), tls=source.tls)
            masters[address] = None
            slots[start : end + 1] = [address] * (end - start + 1)
        self._slots = slots
        self._masters = sorted(masters, key=lambda a: (a.host, a.port))
        self._stale = False
        self._refreshes += 1

    def _note_error(self, error: ResponseError) -> None:
        cause = error.__cause__
        codes = {error.code, cause.code if isinstance(cause, ResponseError) else ""}
        if codes & {"MOVED", "ASK", "CLUSTERDOWN", "TRYAGAIN"}:
            self._stale = True

    # -- keys and slots ------------------------------------------------------------------------

    async def _keys_of(self, name: str, args: tuple[Any, ...]) -> list[Any]:
        finder = _FINDERS.get(name) or self._specs.get(name)
        if finder is None:
            finder = self._specs[name] = await self._lookup(name)
        if finder is _ASK_EACH_TIME:
            reply = await self._send_to(self._any_node(), ("COMMAND", "GETKEYS", *args))
            return [] if isinstance(reply, ResponseError) else list(reply)
        return finder(args)

    async def _lookup(self, name: str) -> KeyFinder:
        """Where ``name``'s keys are, from COMMAND INFO (unknown commands are keyless: the
        server will refuse them)."""
        reply = await self._send_to(self._any_node(), ("COMMAND", "INFO", name))
        entry = None if isinstance(reply, ResponseError) or not reply else reply[0]
        if not entry:
            return _keyless
        command_flags = {text(flag) for flag in entry[2]}
        first, last, step = int(entry[3]), int(entry[4]), int(entry[5])
        subcommands = entry[9] if len(entry) > 9 else None
        if "movablekeys" in command_flags or (first == 0 and subcommands):
            return _ASK_EACH_TIME
        return _keyless if first == 0 else _positions(first, last, step)

    async def _slot_of(self, args: tuple[Any, ...]) -> int | None:
        name = _name(args[0])
        return _one_slot(name, [key_slot(key) for key in await self._keys_of(name, args)])

    # -- sending, following redirections -------------------------------------------------------

    async def _send(
        self, args: tuple[Any, ...], slot: int | None, redirect: ResponseError | None = None
    ) -> Any:
        """Send ``args`` to the node serving ``slot``, following MOVED/ASK/TRYAGAIN; the final
        reply (an error reply is returned). ``redirect`` is one already received for it."""
        # As StandaloneKV._call: a cancel check first, then an idle connection taken and the
        # command written without a schedule point; waiting for the reply is the checkpoint.
        await checkpoint_if_cancelled()
        address = self._node_for(slot)
        for _ in range(MAX_REDIRECTIONS):
            asking = False
            if redirect is not None:
                if redirect.code == "TRYAGAIN":
                    await trapline.sleep(TRYAGAIN_DELAY)
                else:
                    moved_slot, address = _target(redirect, address)
                    if redirect.code == "MOVED":
                        self._moved += 1
                        self._slots[moved_slot] = address
                        self._stale = True  # more slots probably moved: reload before long
                    else:
                        self._asked += 1
                        asking = True
            pool = self._pool(address)
            try:
                conn = pool.acquire_nowait() or await pool.acquire()
            except OSError:
                # The command was not sent: find out who serves the slot now, then try there.
                self._stale = True
                await self._refresh()
                moved = self._node_for(slot)
                if moved == address:
                    raise
                address, redirect = moved, None
                continue
            try:
                if asking:
                    await conn.write((("ASKING",), args))
                    await conn.read()
                else:
                    await conn.write((args,))
                reply = await conn.read()
            except ConnectionLost:
                self._stale = True
                raise
            finally:
                pool.release(conn)
            if type(reply) is ResponseError:
                if reply.code in _REDIRECTS:
                    redirect = reply
                    continue
                if reply.code == "CLUSTERDOWN":
                    self._stale = True
            return reply
        raise ClusterError(f"{_name(args[0])}: more than {MAX_REDIRECTIONS} redirections")

    async def _call(self, args: tuple[Any, ...], transform: Callable[[Any], T]) -> T:
        if self._stale:
            await self._refresh()
        name = _name(args[0])
        fanout = _FANOUT.get(name)
        if fanout is not None:
            replies = await trapline.gather(*(self._send_to(a, args) for a in self._masters))
            for reply in replies:
                if isinstance(reply, ResponseError):
                    raise reply
            return transform(fanout(replies))
        slots = [key_slot(key) for key in await self._keys_of(name, args)]
        if name in _SPLIT and len(set(slots)) > 1:
            reply = await self._split(name, args, slots)
        else:
            reply = await self._send(args, _one_slot(name, slots))
        if type(reply) is ResponseError:
            raise reply
        return transform(reply)

    async def _split(self, name: str, args: tuple[Any, ...], slots: list[int]) -> Any:
        """A multi-key command whose keys span slots, as one command per slot."""
        width = 2 if name == "MSET" else 1
        groups: dict[int, list[int]] = {}
        for index, slot in enumerate(slots):
            groups.setdefault(slot, []).append(index)
        parts = list(groups.items())

        def part(indexes: list[int]) -> tuple[Any, ...]:
            pieces: list[tuple[Any, ...]] = [
                args[1 + i * width : 1 + (i + 1) * width] for i in indexes
            ]
            return (args[0], *(item for piece in pieces for item in piece))

        replies = await trapline.gather(*(self._send(part(ix), slot) for slot, ix in parts))
        for reply in replies:
            if isinstance(reply, ResponseError):
                return reply
        if name == "MGET":
            values: list[Any] = [None] * len(slots)
            for (_, indexes), reply in zip(parts, replies, strict=True):
                for index, value in zip(indexes, reply, strict=True):
                    values[index] = value
            return values
        if name == "MSET":
            return replies[0]
        return sum(replies)

    # -- batches, transactions, subscriptions ---------------------------------------------------

    async def _run_batch(self, commands: list[tuple[Any, ...]], transaction: bool) -> list[Any]:
        if self._stale:
            await self._refresh()
        slots = [await self._slot_of(args) for args in commands]
        if transaction:
            used = {slot for slot in slots if slot is not None}
            if len(used) > 1:
                raise ClusterError("a transaction's keys must all hash to one slot")
            pool = self._pool(self._node_for(used.pop() if used else None))
            conn = await pool.acquire()
            try:
                return await exec_transaction(conn, commands)
            except ResponseError as error:
                self._note_error(error)
                raise
            finally:
                pool.release(conn)
        groups: dict[Address, list[int]] = {}
        for index, slot in enumerate(slots):
            groups.setdefault(self._node_for(slot), []).append(index)
        results: list[Any] = [None] * len(commands)

        async def run_group(address: Address, indexes: list[int]) -> None:
            pool = self._pool(address)
            conn = await pool.acquire()
            try:
                await conn.send([commands[i] for i in indexes])
                for i in indexes:
                    results[i] = await conn.read()
            except ConnectionLost:
                self._stale = True
                raise
            finally:
                pool.release(conn)

        outcomes = await trapline.gather(
            *(run_group(address, indexes) for address, indexes in groups.items()),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        # Commands redirected did not run: follow each, in queue order.
        for index, reply in enumerate(results):
            if type(reply) is ResponseError and reply.code in _REDIRECTS:
                results[index] = await self._send(commands[index], slots[index], reply)
        return results

    async def _lend(self, keys: tuple[Key, ...]) -> tuple[Pool, Connection]:
        if self._stale:
            await self._refresh()
        slot = await self._slot_of(("WATCH", *keys)) if keys else None
        pool = self._pool(self._node_for(slot))
        return pool, await pool.acquire()

    async def _dedicated(self) -> Connection:
        if self._stale:
            await self._refresh()
        return await Connection.open(self._any_node(), self.options)

    # -- whole-cluster operations --------------------------------------------------------------

    def nodes(self) -> list[str]:
        """The masters in the current slot map, as ``host:port``. Not a checkpoint."""
        return [str(address) for address in self._masters]

    async def execute_on_nodes(self, *args: Any) -> dict[str, Any]:
        """Run a command on every master; ``{"host:port": reply}`` with error replies in place.
        Checkpoint: yes. Raises ``ConnectionLost`` if a node's connection dropped."""
        if self._stale:
            await self._refresh()
        masters = list(self._masters)
        replies = await trapline.gather(*(self._send_to(a, args) for a in masters))
        return {str(a): reply for a, reply in zip(masters, replies, strict=True)}

    async def _scan_all(self, options: list[Any]) -> AsyncIterator[S]:
        if self._stale:
            await self._refresh()
        for address in list(self._masters):
            cursor: Any = 0
            while True:
                reply = await self._send_to(address, ("SCAN", cursor, *options))
                if isinstance(reply, ResponseError):
                    raise reply
                cursor = reply[0]
                for key in reply[1]:
                    yield key
                if int(cursor) == 0:
                    break

    def scan(
        self, *, match: Key | None = None, count: int | None = None, type: str | None = None
    ) -> AsyncIterator[S]:
        """Every key of every master (one master after the other); see ``KV.scan``."""
        return self._scan_all(
            [*option("MATCH", match), *option("COUNT", count), *option("TYPE", type)]
        )

    # -- lifecycle -----------------------------------------------------------------------------

    async def _open(self) -> None:
        self._stale = True
        await self._refresh()

    def statistics(self) -> KVStatistics:
        """Per-node pool statistics, redirections followed and slot-map reloads."""
        return KVStatistics(
            pools={str(a): pool.statistics() for a, pool in self._pools.items()},
            moved=self._moved,
            asked=self._asked,
            slot_map_refreshes=self._refreshes,
            nodes=tuple(self.nodes()),
        )

    async def aclose(self) -> None:
        self._closed = True
        pools = list(self._pools.values())
        for pool in pools:
            await pool.aclose()
        if not pools:
            await trapline.checkpoint()
