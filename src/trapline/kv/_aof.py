"""Append-only-file persistence: every write is logged as the command that makes it, replayed
at start.

Durability follows ``appendfsync``: with ``always`` the log is written *and fsynced* before any
reply that acknowledges the write leaves the server (the server runs the flush hooks before
sending), so no acknowledged write is lost even to ``kill -9`` or a power cut; with ``everysec``
it is written before the reply and fsynced once a second in a worker thread, off the loop; with
``no`` the OS decides when.

Commands are logged so that replaying them is deterministic: a blocking pop is logged as the
plain pop it turned into, SPOP as the SREM of what it popped, a relative TTL (``SET ... EX``,
``EXPIRE``) is followed by the absolute ``PEXPIREAT`` it resolved to, and the writes of one EXEC
are wrapped in MULTI/EXEC so a crash cannot leave half a transaction. A truncated last record (a
crash in the middle of a write) is dropped with a warning at start, as is an unfinished
transaction; anything else malformed refuses to start rather than guess.

``BGREWRITEAOF`` compacts the log without stopping service: the dataset is copied in memory (a
quick C-speed copy of each container), written out as commands in a worker thread while new
writes go to both the old log and a rewrite buffer, and then swapped in atomically.
"""

from __future__ import annotations

import functools
import logging
import os
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trapline
import trapline.to_thread
from trapline.lowlevel import spawn_system_task

from ._commands import command
from ._db import CommandError, ZSet
from ._resp import ProtocolError, RequestParser, SetReply, Simple, format_double

if TYPE_CHECKING:
    from ._server import Client, Server

__all__ = ["AppendOnlyFile", "start_aof"]

Snapshot = list[tuple[int, list[tuple[bytes, Any, int | None]]]]

logger = logging.getLogger("trapline.kv.aof")

# Commands whose TTL argument is relative: logged with the absolute expiry they produced.
_RELATIVE_TTL = {"set", "setex", "psetex", "getex", "expire", "pexpire"}
_CHUNK = 64


def _encode(args: list[bytes] | tuple[bytes, ...], out: bytearray) -> None:
    out += b"*%d\r\n" % len(args)
    for arg in args:
        out += b"$%d\r\n%s\r\n" % (len(arg), arg)


class AppendOnlyFile:
    """The log of one server. ``feed`` records writes; ``flush`` makes them durable."""

    def __init__(self, server: Server, path: str, fsync: str = "everysec") -> None:
        if fsync not in ("always", "everysec", "no"):
            raise ValueError(f"appendfsync must be always, everysec or no, not {fsync!r}")
        self.server = server
        self.path = path
        self.policy = fsync
        self.buffer = bytearray()
        self.fd = -1
        self.selected = -1  # the database the log's command stream has SELECTed
        self.tx_client: Client | None = None
        self.rewrite_buffer: bytearray | None = None
        self.unsynced = False
        self.rewrites = 0
        #: Called after ``close`` (snapshots save and the data-directory lock is released).
        self.close_hooks: list[Callable[[], None]] = []

    # -- startup -------------------------------------------------------------------------------

    def load(self) -> int:
        """Replay the log into the server; returns the number of commands replayed."""
        if not os.path.exists(self.path):
            return 0
        from ._server import Client

        client = Client(self.server, 0, "aof")
        client.authenticated = True
        parser = RequestParser(max_bulk_len=2**62)
        consumed = 0  # bytes of complete commands
        tx_start = -1  # offset of an open MULTI
        fed = 0
        count = 0
        with open(self.path, "rb") as file:
            while chunk := file.read(1 << 20):
                parser.feed(chunk)
                fed += len(chunk)
                while True:
                    try:
                        argv = parser.next_command()
                    except ProtocolError as error:
                        raise RuntimeError(
                            f"bad append-only file {self.path!r} near byte {consumed}: {error}; "
                            "refusing to start (move the file away to start empty)"
                        ) from None
                    if argv is None:
                        break
                    name = argv[0].lower() if argv else b""
                    if name == b"multi":
                        tx_start = consumed
                    consumed = fed - parser.buffered()
                    if name == b"exec":
                        tx_start = -1
                    if argv:
                        self.server.execute(client, argv)
                        count += 1
        end = consumed
        if tx_start >= 0:
            logger.warning("append-only file ends inside a transaction; dropping it")
            end = tx_start
        elif parser.has_pending():
            logger.warning(
                "append-only file %r ends with a truncated command (%d bytes); dropping it",
                self.path,
                fed - consumed,
            )
        if end < fed:
            with open(self.path, "r+b") as file:
                file.truncate(end)
        client.multi = None
        return count

    def open(self) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.selected = -1

    # -- logging -------------------------------------------------------------------------------

    def feed(self, client: Client, name: str, argv: list[bytes], reply: Any) -> None:
        """Record one successful write (a ``Server.write_hooks`` hook)."""
        out = self.buffer
        start = len(out)
        if client.in_exec and self.tx_client is not client:
            self.tx_client = client
            _encode((b"MULTI",), out)
        db = client.db
        if db.id != self.selected:
            self.selected = db.id
            _encode((b"SELECT", b"%d" % db.id), out)
        for args in _deterministic(name, argv, reply):
            _encode(args, out)
        if name in _RELATIVE_TTL:
            key = argv[1]
            when = db.expires.get(key)
            if when is not None:
                _encode((b"PEXPIREAT", key, b"%d" % when), out)
        if self.rewrite_buffer is not None:
            self.rewrite_buffer += out[start:]

    def exec_done(self, client: Client) -> None:
        """Close the MULTI opened for this client's EXEC (a ``Server.exec_hooks`` hook)."""
        if self.tx_client is client:
            self.tx_client = None
            _encode((b"EXEC",), self.buffer)
            if self.rewrite_buffer is not None:
                _encode((b"EXEC",), self.rewrite_buffer)

    def flush(self) -> None:
        """Write what was logged; fsync too under ``always`` (a ``Server.flush_hooks`` hook)."""
        buffer = self.buffer
        if not buffer or self.fd < 0:
            return
        view = memoryview(buffer)
        written = 0
        try:
            while written < len(view):
                written += os.write(self.fd, view[written:])
        finally:
            view.release()
            del buffer[:written]
        if self.policy == "always":
            os.fsync(self.fd)
        else:
            self.unsynced = True

    async def fsync_every_second(self) -> None:
        """The ``everysec`` policy: fsync in a worker thread, so the loop never waits on disk."""
        while True:
            await trapline.sleep(1)
            if self.unsynced and self.fd >= 0:
                self.unsynced = False
                await trapline.to_thread.run_sync(os.fsync, self.fd)

    def close(self) -> None:
        """Flush, fsync and close (on shutdown); then run ``close_hooks``."""
        try:
            if self.fd >= 0:
                self.flush()
                os.fsync(self.fd)
                os.close(self.fd)
                self.fd = -1
        finally:
            hooks, self.close_hooks = self.close_hooks, []
            for hook in hooks:
                hook()

    # -- rewriting -----------------------------------------------------------------------------

    def start_rewrite(self) -> bool:
        """Begin a background rewrite; False if one is already running."""
        if self.rewrite_buffer is not None:
            return False
        snapshot = _snapshot(self.server)
        self.rewrite_buffer = bytearray()
        self.selected = -1  # the next write re-SELECTs, in both streams
        spawn_system_task(self._rewrite, snapshot, name="kv aof rewrite")
        return True

    async def _rewrite(
        self, snapshot: list[tuple[int, list[tuple[bytes, Any, int | None]]]]
    ) -> None:
        temp = f"{self.path}.rewrite-{os.getpid()}"
        try:
            await trapline.to_thread.run_sync(_write_snapshot, temp, snapshot)
            # Swap in: add what was written meanwhile, make it durable, rename over the log.
            self.flush()
            pending = self.rewrite_buffer or bytearray()
            with open(temp, "ab") as file:
                file.write(pending)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, self.path)
            old = self.fd
            if old >= 0:  # appending: continue in the new file
                self.open()
                os.close(old)
            self.rewrites += 1
            self.server.lastsave = int(self.server.now_ms() // 1000)
            logger.info("append-only file rewritten (%s)", self.path)
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise
        finally:
            self.rewrite_buffer = None


def _deterministic(
    name: str, argv: list[bytes], reply: Any
) -> list[list[bytes] | tuple[bytes, ...]]:
    """The command(s) that replay this write exactly."""
    if name == "spop":
        if isinstance(reply, SetReply):
            members = list(reply.items)
        elif isinstance(reply, list):
            members = reply
        else:
            members = [reply]
        members = [m for m in members if type(m) is bytes]
        return [(b"SREM", argv[1], *members)] if members else []
    if name in ("blpop", "brpop"):
        return [(b"LPOP" if name == "blpop" else b"RPOP", reply[0])]
    if name == "blmove":
        return [(b"LMOVE", *argv[1:5])]
    if name == "brpoplpush":
        return [(b"RPOPLPUSH", argv[1], argv[2])]
    if name in ("bzpopmin", "bzpopmax"):
        return [(b"ZPOPMIN" if name == "bzpopmin" else b"ZPOPMAX", reply[0])]
    if name == "blmpop":
        where = next(a for a in argv if a.upper() in (b"LEFT", b"RIGHT"))
        return [(b"LMPOP", b"1", reply[0], where, b"COUNT", b"%d" % len(reply[1]))]
    if name == "bzmpop":
        where = next(a for a in argv if a.upper() in (b"MIN", b"MAX"))
        return [(b"ZMPOP", b"1", reply[0], where, b"COUNT", b"%d" % len(reply[1]))]
    return [argv]


def _snapshot(server: Server) -> Snapshot:
    """Copy every database's contents (containers copied, so later writes cannot change it)."""
    result = []
    for db in server.dbs:
        if not db.data:
            continue
        now = server.now_ms()
        items: list[tuple[bytes, Any, int | None]] = []
        expires = db.expires
        for key, value in db.data.items():
            when = expires.get(key)
            if when is not None and when <= now:
                continue
            kind = type(value)
            copy: Any = value
            if kind is deque:
                copy = list(value)
            elif kind is dict:
                copy = dict(value)
            elif kind is set:
                copy = set(value)
            elif isinstance(value, ZSet):
                copy = list(value.order)
            items.append((key, copy, when))
        result.append((db.id, items))
    return result


def _write_snapshot(
    path: str, snapshot: list[tuple[int, list[tuple[bytes, Any, int | None]]]]
) -> None:
    """Write the snapshot as commands (runs in a worker thread)."""
    out = bytearray()
    with open(path, "wb") as file:
        for db_id, items in snapshot:
            _encode((b"SELECT", b"%d" % db_id), out)
            for key, value, when in items:
                if type(value) is bytes:
                    _encode((b"SET", key, value), out)
                elif type(value) is dict:
                    pairs = [x for pair in value.items() for x in pair]
                    for i in range(0, len(pairs), 2 * _CHUNK):
                        _encode((b"HSET", key, *pairs[i : i + 2 * _CHUNK]), out)
                elif type(value) is set:
                    members = list(value)
                    for i in range(0, len(members), _CHUNK):
                        _encode((b"SADD", key, *members[i : i + _CHUNK]), out)
                elif value and type(value[0]) is tuple:  # sorted set: (score, member) pairs
                    flat = [x for score, member in value for x in (format_double(score), member)]
                    for i in range(0, len(flat), 2 * _CHUNK):
                        _encode((b"ZADD", key, *flat[i : i + 2 * _CHUNK]), out)
                else:
                    for i in range(0, len(value), _CHUNK):
                        _encode((b"RPUSH", key, *value[i : i + _CHUNK]), out)
                if when is not None:
                    _encode((b"PEXPIREAT", key, b"%d" % when), out)
                if len(out) > 1 << 20:
                    file.write(out)
                    out.clear()
        file.write(out)
        file.flush()
        os.fsync(file.fileno())


async def start_aof(server: Server, tg: trapline.TaskGroup) -> AppendOnlyFile | None:
    """Load and open the log if ``appendonly yes``; hook it into the server."""
    from ._rdbfile import start_persistence, stop_persistence

    config = server.config
    path = os.path.join(config.get("dir"), config.get("appendfilename"))
    aof = AppendOnlyFile(server, path, config.get("appendfsync"))
    server.aof = aof  # the server closes it when it stops, even if starting fails below
    aof.close_hooks.append(functools.partial(stop_persistence, server))
    start_persistence(server, tg)  # the data-directory lock, dump.rdb, save points
    if config.get("appendonly") != "yes":
        return None
    count = aof.load()  # before serving: replay runs commands, so it runs on the loop
    if count:
        logger.info("replayed %d commands from %s", count, path)
    aof.open()
    server.write_hooks.append(aof.feed)
    server.exec_hooks.append(aof.exec_done)
    server.flush_hooks.append(aof.flush)
    server.shutdown_hooks.append(aof.flush)
    if aof.policy == "everysec":
        tg.spawn(aof.fsync_every_second, name="kv aof fsync")
    return aof


@command("bgrewriteaof", 1, "admin noscript no_async_loading", keys=(0, 0, 0))
def bgrewriteaof(client: Client, argv: list[bytes]) -> Any:
    """Compact the log in the background (with ``appendonly no``: write a fresh one)."""
    server = client.server
    aof = server.aof
    if aof is None:
        config = server.config
        path = os.path.join(config.get("dir"), config.get("appendfilename"))
        aof = server.aof = AppendOnlyFile(server, path, config.get("appendfsync"))
    if not aof.start_rewrite():
        raise CommandError("ERR Background append only file rewriting already in progress")
    return Simple("Background append only file rewriting started")
