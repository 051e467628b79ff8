"""RDB snapshots (SAVE, BGSAVE, save points, loading ``dump.rdb``) and the data-directory lock.

The file is Redis 7.0's RDB version 10, byte for byte in its framing: ``REDIS0010``, the aux
fields Redis writes (redis-ver, redis-bits, ctime, used-mem: the process's peak resident size
here, aof-base), per non-empty database SELECTDB and RESIZEDB, each key with EXPIRETIME_MS when
it has a TTL, the EOF opcode and a CRC64 of everything before it. Values use the DUMP encoders
of ``_rdb``, so a real redis-server loads a file written here and this server loads one Redis
wrote.

A save is atomic: the file is written as ``temp-<pid>.rdb`` in the data directory, fsynced,
renamed over ``dump.rdb`` and the directory fsynced, so a crash leaves the old snapshot or the
new one. SAVE encodes on the loop (Redis's SAVE blocks too). BGSAVE does not stop service:
Redis forks and the child sees the memory as it was; here every container is copied at the
moment BGSAVE runs (one C-speed copy each; strings are immutable and shared), and the copy is
encoded and written in a worker thread while clients keep writing.

Save points (``save "3600 1 300 100 60 10000"``) are checked once a second on the kernel clock,
as Redis's cron does: a BGSAVE starts when at least N changes were made and more than M seconds
passed since the last successful save (after a failed one, retried every 5 seconds). Changes
are counted as Redis counts them for the common writes (elements pushed, keys deleted, members
added: see ``_REPLY_COUNTS``), one per command otherwise, and only while save points are set
(see ``Snapshots.count_changes``).

Two servers must never share a data directory: their append-only files would interleave and
their snapshots overwrite each other. A server with persistence (``appendonly yes`` or save
points) holds an ``flock`` on ``trapline-kv.lock`` there for its whole life; a second one
refuses to start, naming the directory and the pid holding it.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import resource
import struct
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import trapline
import trapline.to_thread
from trapline.lowlevel import spawn_system_task

from ._cmd_info import REDIS_VERSION
from ._db import ZSet
from ._rdb import (
    RDB_VERSION,
    BadPayload,
    _length,
    _Reader,
    _serialize,
    _string,
    crc64,
    read_value,
)

if TYPE_CHECKING:
    from ._db import Database
    from ._server import Client, Server

__all__ = ["DataDirLocked", "PersistenceError", "Snapshots", "load_rdb", "write_rdb"]

logger = logging.getLogger("trapline.kv.rdb")

LOCK_NAME = "trapline-kv.lock"

_AUX, _RESIZEDB, _EXPIRETIME_MS, _EXPIRETIME, _SELECTDB, _EOF = 250, 251, 252, 253, 254, 255
_IDLE, _FREQ = 248, 249
_BGSAVE_RETRY_DELAY = 5  # seconds after a failed BGSAVE before save points try again

#: A consistent copy of the keyspace: per database (its id), (key, value, expiry ms or None).
Snapshot = list[tuple[int, list[tuple[bytes, Any, int | None]]]]


class PersistenceError(Exception):
    """The server cannot start with the persistence it was given (a damaged ``dump.rdb``, a
    data directory in use); the message says what to do."""


class DataDirLocked(PersistenceError):
    """Another server holds the data directory (``directory``; ``pid`` holds it, if known)."""

    def __init__(self, directory: str, pid: int | None) -> None:
        by = f" (pid {pid})" if pid is not None else ""
        super().__init__(
            f"data directory {directory} is in use by another trapline.kv server{by}; "
            "stop it or give this one another --dir"
        )
        self.directory = directory
        self.pid = pid


# -- the data-directory lock -------------------------------------------------------------------


class DataDirLock:
    """An ``flock`` on ``<dir>/trapline-kv.lock`` holding the owner's pid, until ``release``."""

    def __init__(self, directory: str) -> None:
        self.directory = os.path.abspath(directory)
        self.path = os.path.join(self.directory, LOCK_NAME)
        self.fd = -1

    def acquire(self) -> None:
        """Take the lock; raises ``DataDirLocked`` if another server (in any process) has it."""
        os.makedirs(self.directory, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            # flock locks belong to the open file, so a second server in the same process
            # conflicts too (fcntl's POSIX locks would not see it).
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            raise DataDirLocked(self.directory, int(holder) if holder.isdigit() else None) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, b"%d\n" % os.getpid())
        self.fd = fd

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the file releases the flock
            self.fd = -1


# -- writing -----------------------------------------------------------------------------------


def snapshot(server: Server, *, copy: bool) -> Snapshot:
    """The keyspace without expired keys; with ``copy``, containers are copied so later writes
    cannot change the snapshot (BGSAVE), otherwise they are shared (SAVE, on the loop)."""
    now = server.now_ms()
    result: Snapshot = []
    for db in server.dbs:
        if not db.data:
            continue
        expires = db.expires
        items: list[tuple[bytes, Any, int | None]] = []
        for key, value in db.data.items():
            when = expires.get(key)
            if when is not None and when <= now:
                continue
            items.append((key, _copy(value) if copy else value, when))
        if items:
            result.append((db.id, items))
    return result


def _copy(value: Any) -> Any:
    kind = type(value)
    if kind is deque:
        return deque(value)
    if kind is dict:
        return dict(value)
    if kind is set:
        return set(value)
    if kind is ZSet:
        zset = ZSet()
        zset.scores = dict(value.scores)
        zset.order = list(value.order)
        return zset
    return value  # bytes: immutable


def _aux(name: bytes, value: bytes) -> bytes:
    # rdbSaveAuxField: both as strings, integers in their integer encoding, never compressed.
    return bytes([_AUX]) + _string(name, False) + _string(value, False)


def encode_rdb(server: Server, data: Snapshot, ctime: int) -> Iterator[bytes | bytearray]:
    """The RDB file of ``data``, in chunks of about 1 MiB (the last ends with the checksum).
    Safe in a worker thread: it reads only the snapshot and the server's config."""
    compress = server.config.values.get("rdbcompression", "yes") == "yes"
    out = bytearray(b"REDIS%04d" % RDB_VERSION)
    out += _aux(b"redis-ver", REDIS_VERSION.encode())
    out += _aux(b"redis-bits", b"64")
    out += _aux(b"ctime", b"%d" % ctime)
    out += _aux(b"used-mem", b"%d" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss << 10))
    out += _aux(b"aof-base", b"0")
    crc = 0
    for db_id, items in data:
        db: Database = server.dbs[db_id]
        out.append(_SELECTDB)
        out += _length(db_id)
        expiring = sum(1 for item in items if item[2] is not None)
        out.append(_RESIZEDB)
        out += _length(len(items)) + _length(expiring)
        for key, value, when in items:
            if when is not None:
                out.append(_EXPIRETIME_MS)
                out += struct.pack("<q", when)
            body = _serialize(db, key, value)
            out += body[:1]  # the type byte, then the key, then the value
            out += _string(key, compress)
            out += body[1:]
            if len(out) >= 1 << 20:
                crc = crc64(out, crc)
                yield out
                out = bytearray()
    out.append(_EOF)
    crc = crc64(out, crc)
    out += struct.pack("<Q", crc)
    yield out


def write_rdb(
    path: str,
    server: Server,
    data: Snapshot,
    ctime: int,
    *,
    temp_name: str = "",
    wanted: Callable[[], bool] | None = None,
    lock: threading.Lock | None = None,
) -> bool:
    """Write ``data`` as an RDB file at ``path`` atomically (safe in a worker thread, as
    ``encode_rdb``). With ``wanted``, the file replaces ``path`` only if ``wanted()`` still
    says so under ``lock`` (a newer SAVE made it obsolete); returns whether it did."""
    directory = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(directory, temp_name or f"temp-{os.getpid()}.rdb")
    try:
        with open(temp, "wb") as file:
            for chunk in encode_rdb(server, data, ctime):
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
        with lock or contextlib.nullcontext():
            if wanted is not None and not wanted():
                os.unlink(temp)
                return False
            os.replace(temp, path)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a crash
        finally:
            os.close(dir_fd)
        return True
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


# -- loading -----------------------------------------------------------------------------------


def load_rdb(server: Server, path: str) -> tuple[int, int]:
    """Load ``path`` into the server's (empty) databases; returns (keys loaded, keys skipped
    as expired). A missing file loads nothing; a damaged one raises ``PersistenceError``."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        return 0, 0
    try:
        return _load(server, data)
    except (BadPayload, struct.error, ValueError, IndexError) as error:
        raise PersistenceError(
            f"bad RDB file {path}: {error}; refusing to start (move it away to start empty)"
        ) from None


def _load(server: Server, data: bytes) -> tuple[int, int]:
    if len(data) < 9 or data[:5] != b"REDIS" or not data[5:9].isdigit():
        raise BadPayload("not an RDB file (wrong signature)")
    version = int(data[5:9])
    if not 1 <= version <= RDB_VERSION:
        raise BadPayload(f"RDB format version {version} is not supported")
    reader = _Reader(data)
    reader.pos = 9
    now = server.now_ms()
    db: Database = server.dbs[0]
    loaded = expired = 0
    expire: int | None = None
    while True:
        opcode = reader.byte()
        if opcode == _EXPIRETIME_MS:
            expire = struct.unpack("<q", reader.take(8))[0]
            continue
        if opcode == _EXPIRETIME:
            expire = struct.unpack("<i", reader.take(4))[0] * 1000
            continue
        if opcode == _IDLE:
            reader.count()
            continue
        if opcode == _FREQ:
            reader.byte()
            continue
        if opcode == _SELECTDB:
            index = reader.count()
            if index >= len(server.dbs):
                raise BadPayload(f"database {index} is out of range (databases {len(server.dbs)})")
            db = server.dbs[index]
            continue
        if opcode == _RESIZEDB:
            reader.count()
            reader.count()
            continue
        if opcode == _AUX:
            reader.string()
            reader.string()
            continue
        if opcode == _EOF:
            break
        if opcode >= 240:
            raise BadPayload(f"unsupported RDB opcode {opcode} (modules or functions)")
        key = reader.string()
        value = read_value(reader, opcode)
        if expire is not None and expire <= now:
            expired += 1
        else:
            if key in db.data:
                raise BadPayload(f"duplicate key {key!r}")
            db.data[key] = value
            if expire is not None:
                db.expires[key] = expire
            loaded += 1
        expire = None
    if version >= 5:
        stored = reader.take(8)
        checksum = struct.unpack("<Q", stored)[0]
        if checksum and checksum != crc64(memoryview(data)[: reader.pos - 8]):
            raise BadPayload("wrong checksum")
    return loaded, expired


# -- SAVE, BGSAVE, save points -----------------------------------------------------------------


def save_points(text: str) -> list[tuple[int, int]]:
    """``save`` as (seconds, changes) pairs."""
    numbers = [int(word) for word in text.split()]
    return list(zip(numbers[::2], numbers[1::2], strict=True))


# How Redis counts a write's changes (its ``server.dirty``). These count their integer reply
# (keys deleted, members added...: 0 when nothing changed):
_REPLY_COUNTS = frozenset(
    [
        "del",
        "unlink",
        "sadd",
        "srem",
        "hdel",
        "zrem",
        "lrem",
        "setnx",
        "hsetnx",
        "expire",
        "pexpire",
        "expireat",
        "pexpireat",
        "persist",
        "smove",
        "renamenx",
        "move",
        "copy",
        "zadd",
    ]
)
# These count their arguments after the first ``skip``, ``per`` to a change (HSET counts
# updated fields too); LPUSHX on a missing key and MSETNX that set nothing count none.
# Anything else counts 1.
_ARG_COUNTS = {
    **dict.fromkeys(["lpush", "rpush", "lpushx", "rpushx"], (2, 1)),
    **dict.fromkeys(["mset", "msetnx"], (1, 2)),
    **dict.fromkeys(["hset", "hmset"], (2, 2)),
}
_NONE_IF_ZERO = frozenset(["lpushx", "rpushx", "msetnx"])


class Snapshots:
    """A server's RDB state: changes since the last save, the BGSAVE in progress, history."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.dirty = 0
        self.saves = 0
        self.bgsave_running = False
        self.bgsave_scheduled = False
        self.bgsave_started_at = -1.0  # kernel clock
        self.last_bgsave_ok = True
        self.last_bgsave_seconds = -1
        self.last_try: float | None = None
        self.last_save_clock: float | None = None  # kernel clock of the last save (or start)
        self.loaded = 0
        self.expired_at_load = 0
        #: SHUTDOWN saved (or was told NOSAVE): stopping does not save again.
        self.stop_decided = False
        self.serving = False
        self.lock: DataDirLock | None = None
        #: What stopping does, in ``shutdown-on-sigterm``'s words: "default" (save if save
        #: points are configured), "save" or "nosave" (the command line sets it per signal).
        self.stop_mode = "default"
        # A SAVE (SHUTDOWN's too) makes a running BGSAVE's file obsolete: it is not renamed in.
        self.generation = 0
        self.rename_lock = threading.Lock()

    @property
    def path(self) -> str:
        values = self.server.config.values
        return os.path.join(values["dir"], values.get("dbfilename", "dump.rdb"))

    def changed(self, client: Client, name: str, argv: list[bytes], reply: Any) -> None:
        """Count the changes a write made, as Redis's ``server.dirty`` does for the common
        commands (a ``Server.write_hooks`` hook)."""
        if name in _REPLY_COUNTS:
            self.dirty += reply if type(reply) is int else 1
            return
        counts = _ARG_COUNTS.get(name)
        if counts is None:
            self.dirty += 1
        elif reply != 0 or name not in _NONE_IF_ZERO:
            skip, per = counts
            self.dirty += (len(argv) - skip) // per

    def count_changes(self) -> None:
        """Count changes (hook ``changed`` into the server) exactly while save points are set.
        A write hook costs every write a call (about 8% of SET's CPU time in the pipelined
        benchmark), which nothing needs without save points; so then, unlike Redis,
        ``rdb_changes_since_last_save`` stays 0."""
        hooks = self.server.write_hooks
        wanted = bool(self.server.config.values.get("save", "").strip())
        if wanted and self.changed not in hooks:
            hooks.append(self.changed)
        elif not wanted and self.changed in hooks:
            hooks.remove(self.changed)

    def _saved(self, dirty_before: int) -> None:
        server = self.server
        self.dirty -= dirty_before
        self.saves += 1
        server.lastsave = server.now_ms() // 1000
        self.last_save_clock = trapline.current_time()

    def save(self) -> None:
        """SAVE: write the snapshot now, on the loop; raises OSError."""
        dirty = self.dirty
        server = self.server
        with self.rename_lock:
            self.generation += 1
        write_rdb(self.path, server, snapshot(server, copy=False), server.now_ms() // 1000)
        self._saved(dirty)
        logger.info("DB saved on disk (%s)", self.path)

    def start_bgsave(self) -> None:
        """BGSAVE: copy the keyspace now, write it in a worker thread (the caller checked that
        none is running)."""
        server = self.server
        self.bgsave_running = True
        self.bgsave_scheduled = False
        self.bgsave_started_at = self.last_try = trapline.current_time()
        data = snapshot(server, copy=True)
        spawn_system_task(self._bgsave, data, self.dirty, name="kv bgsave")

    async def _bgsave(self, data: Snapshot, dirty: int) -> None:
        server = self.server
        started = trapline.current_time()
        generation = self.generation
        write = functools.partial(
            write_rdb,
            temp_name=f"temp-bg-{os.getpid()}.rdb",
            wanted=lambda: self.generation == generation,
            lock=self.rename_lock,
        )
        try:
            renamed = await trapline.to_thread.run_sync(
                write, self.path, server, data, server.now_ms() // 1000
            )
        except OSError as error:
            self.last_bgsave_ok = False
            logger.error("Background saving error: %s", error)
        else:
            self.last_bgsave_ok = True
            if renamed:
                self._saved(dirty)
                logger.info("Background saving terminated with success (%s)", self.path)
        finally:
            self.bgsave_running = False
            self.last_bgsave_seconds = int(trapline.current_time() - started)

    def busy(self) -> bool:
        """Is another background job (an AOF rewrite) running?"""
        return getattr(self.server.aof, "rewrite_buffer", None) is not None

    async def cron(self) -> None:
        """Start BGSAVE at the save points (checked once a second, as Redis's cron does)."""
        self.last_save_clock = trapline.current_time()
        while True:
            await trapline.sleep(1)
            self.count_changes()  # CONFIG SET save may have turned save points on or off
            if self.bgsave_running or self.busy():
                continue
            if self.bgsave_scheduled:
                self.start_bgsave()
                continue
            now = trapline.current_time()
            assert self.last_save_clock is not None
            for seconds, changes in save_points(self.server.config.values.get("save", "")):
                if (
                    self.dirty >= changes
                    and now - self.last_save_clock > seconds
                    and (
                        self.last_bgsave_ok
                        or self.last_try is None
                        or now - self.last_try > _BGSAVE_RETRY_DELAY
                    )
                ):
                    logger.info("%d changes in %d seconds. Saving...", changes, seconds)
                    self.start_bgsave()
                    break


_STATES: weakref.WeakKeyDictionary[Server, Snapshots] = weakref.WeakKeyDictionary()


def snapshots_of(server: Server) -> Snapshots:
    """The server's RDB state (made on first use: SAVE works on a server not serving yet)."""
    state = _STATES.get(server)
    if state is None:
        state = _STATES[server] = Snapshots(server)
    return state


def start_persistence(server: Server, tg: trapline.TaskGroup) -> None:
    """Lock the data directory if anything persists and load ``dump.rdb`` unless the AOF is
    on (``start_aof`` calls this first). Raises ``PersistenceError`` (before serving)."""
    config = server.config.values
    state = snapshots_of(server)
    if config.get("appendonly") == "yes" or config.get("save", "").strip():
        lock = DataDirLock(config["dir"])
        lock.acquire()
        state.lock = lock
    if config.get("appendonly") != "yes":
        state.loaded, state.expired_at_load = load_rdb(server, state.path)
        if state.loaded or state.expired_at_load:
            logger.info("DB loaded from %s: %d keys", state.path, state.loaded)
    state.count_changes()
    state.serving = True
    tg.spawn(state.cron, name="kv save points")


def stop_persistence(server: Server) -> None:
    """When the server stops (after the AOF closed): save as ``stop_mode`` says (by default if
    save points are configured, as Redis does on SIGTERM) unless SHUTDOWN decided already;
    release the lock."""
    state = snapshots_of(server)
    mode = state.stop_mode.split()
    try:
        if (
            state.serving
            and not state.stop_decided
            and "nosave" not in mode
            and ("save" in mode or server.config.values.get("save", "").strip())
        ):
            try:
                state.save()
            except OSError as error:
                logger.error("could not save the DB on stop: %s", error)
    finally:
        state.serving = False
        if state.lock is not None:
            state.lock.release()
            state.lock = None
