"""The trapline.kv server: clients, command dispatch, blocking, expiry, connection handling.

One task per connection reads requests, runs each command to completion (commands are plain
functions on in-memory data, so they never interleave), and writes the replies of everything
it received in one batch, which is what makes pipelining cheap. A blocking command (BLPOP...)
parks its client on the keys it waits for; any write to such a key wakes the waiters, which retry
in the order they blocked. Bad input gets Redis's error and closes only that client.
"""

from __future__ import annotations

import functools
import itertools
import logging
import socket
import time
from collections.abc import Callable
from typing import Any, final

import trapline
from trapline.lowlevel import (
    Abort,
    ParkingLot,
    Task,
    current_task,
    park,
    reschedule,
)

from . import _registry  # noqa: F401 - registers the commands
from ._cmd_monitor import keyspace_refused, trace, tracing
from ._cmd_pubsub import PubSub
from ._commands import COMMANDS, Blocked, Command
from ._db import CommandError, Database
from ._resp import Error, ProtocolError, RequestParser, Simple, encode

__all__ = ["Client", "Server", "ServerConfig"]

_MSG_PEEK = socket.MSG_PEEK

logger = logging.getLogger("trapline.kv")

_MULTI_PASSTHROUGH = {b"exec", b"discard", b"multi", b"watch", b"quit", b"reset"}
_PUBSUB_ALLOWED = {
    b"ping",
    b"subscribe",
    b"ssubscribe",
    b"unsubscribe",
    b"sunsubscribe",
    b"psubscribe",
    b"punsubscribe",
    b"quit",
    b"reset",
}

QUEUED = Simple("QUEUED")
# Encoded status replies ("+OK\r\n"), by their text: most replies of writes are one of a few.
_SIMPLE_REPLIES: dict[str, bytes] = {}
# Integer replies 0-1023 encoded ahead (counts, 0/1 answers): an index instead of formatting.
_SMALL_INT_REPLIES = [b":%d\r\n" % n for n in range(1024)]


class ServerConfig:
    """Settings, by their Redis names (``CONFIG GET``/``SET`` read and write these)."""

    def __init__(self, **settings: Any) -> None:
        self.values: dict[str, str] = {
            "bind": "127.0.0.1",
            "port": "6379",
            "dir": ".",
            "appendonly": "no",
            "appendfsync": "everysec",
            "appendfilename": "appendonly.aof",
            "requirepass": "",
            "maxclients": "10000",
            "timeout": "0",
            "databases": "16",
            "proto-max-bulk-len": str(512 * 1024 * 1024),
            "client-query-buffer-limit": str(1024 * 1024 * 1024),
            "client-output-buffer-limit": "normal 0 0 0 slave 268435456 67108864 60 "
            "pubsub 33554432 8388608 60",
            "save": "",
            "maxmemory": "0",
            "maxmemory-policy": "noeviction",
            "hz": "10",
            "loglevel": "notice",
        }
        for name, value in settings.items():
            self.values[name.replace("_", "-")] = str(value)

    def get(self, name: str) -> str:
        return self.values[name]

    def get_int(self, name: str) -> int:
        return int(self.values[name])


class Client:
    """One connection's state."""

    def __init__(self, server: Server, client_id: int, address: str) -> None:
        self.server = server
        self.id = client_id
        self.address = address
        self.name = b""
        self.db: Database = server.dbs[0]
        self.resp3 = False
        self.authenticated = not server.config.get("requirepass")
        self.multi: list[tuple[Command, list[bytes]]] | None = None
        self.multi_failed = False
        self.watched: set[tuple[int, bytes]] = set()
        self.watch_dirty = False
        # Pub/sub subscriptions, as ordered sets (see _cmd_pubsub).
        self.channels: dict[bytes, None] = {}
        self.patterns: dict[bytes, None] = {}
        self.shard_channels: dict[bytes, None] = {}
        #: The server side of the connection ("ip:port") and its file descriptor (CLIENT LIST).
        self.local_address = "?:0"
        self.fd = -1
        self.closing = False
        self.created = time.time()
        self.last_interaction = time.time()
        self.last_command = b"NULL"
        self.blocked = False
        #: True while EXEC runs this client's queued commands (blocking commands do not block).
        self.in_exec = False
        #: Out-of-band replies (pub/sub messages) waiting to be written, and who writes them.
        self.pushes = bytearray()
        self.push_waiters = ParkingLot("kv client output")
        # Writes to the connection are serialised: one sender at a time, in order.
        self.sending = False
        self.send_waiters = 0
        self.send_done = ParkingLot("kv client: waiting to write")
        #: Cancels this client's connection (set while it is being served).
        self.scope: trapline.CancelScope | None = None
        #: The connection's task group and socket (while served): a blocked client's hang-up
        #: is watched for from a task of that group (see ``Server.block``).
        self.group: trapline.TaskGroup | None = None
        self.sock: Any = None

    @property
    def in_pubsub(self) -> bool:
        return bool(self.channels or self.patterns or self.shard_channels)

    def push(self, reply: Any) -> None:
        """Queue an out-of-band reply (a pub/sub message) for this client."""
        encode(reply, self.pushes, self.resp3)
        self.push_waiters.unpark_all()

    def kill(self) -> None:
        """Close this client's connection (from any task; not a checkpoint)."""
        self.closing = True
        if self.scope is not None:
            self.scope.cancel("client killed")

    async def send(self, stream: trapline.Stream, data: bytes | bytearray) -> None:
        """Write ``data`` (then any queued pushes) to the client, one writer at a time.
        Checkpoint: yes. Raises the stream's errors."""
        while self.sending:
            self.send_waiters += 1
            try:
                await self.send_done.park()
            finally:
                self.send_waiters -= 1
        self.sending = True
        try:
            if data:
                await stream.send_all(data)
            while self.pushes:
                pending = bytes(self.pushes)
                self.pushes.clear()
                await stream.send_all(pending)
        finally:
            self.sending = False
            if self.send_waiters:
                self.send_done.unpark(count=1)


class Server:
    """A trapline.kv server: the keyspace, the clients, and the serving loop."""

    def __init__(self, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        self.dbs = [Database(self, i) for i in range(self.config.get_int("databases"))]
        self.clients: dict[int, Client] = {}
        self._ids = itertools.count(1)
        self._epoch = time.time()
        self._clock_start: float | None = None
        #: Clients blocked on each (db, key), in the order they blocked.
        self.blocked_on: dict[tuple[int, bytes], dict[_Waiter, None]] = {}
        # Keys with blocked clients that a command touched: served after the command.
        self._ready: dict[tuple[int, bytes], None] = {}
        self.watchers: dict[tuple[int, bytes], set[Client]] = {}
        self.stats: dict[str, int] = {
            "total_connections_received": 0,
            "total_commands_processed": 0,
            "rejected_connections": 0,
            "expired_keys": 0,
        }
        #: Called with (db, argv) after every successful write command (the AOF hooks in).
        #: Called as ``hook(client, name, argv, reply)`` after every write command that
        #: succeeded (for a blocking command, when it finally got its data): the AOF hooks in.
        self.write_hooks: list[Callable[[Client, str, list[bytes], Any], None]] = []
        #: Called with the client when an EXEC finishes (the AOF closes its transaction).
        self.exec_hooks: list[Callable[[Client], None]] = []
        #: Called before replies go out to clients (the AOF writes and, if asked, fsyncs).
        self.flush_hooks: list[Callable[[], None]] = []
        #: Called with each client that disconnects (pub/sub and blocking clean up here).
        self.disconnect_hooks: list[Callable[[Client], None]] = []
        # -- pub/sub, SHUTDOWN, LASTSAVE (see _cmd_pubsub.py and _cmd_server.py) --
        self.pubsub = PubSub(self)
        #: Called by ``shutdown()`` before the server stops (the AOF flushes here).
        self.shutdown_hooks: list[Callable[[], None]] = []
        #: Unix time (seconds) of the last successful save (LASTSAVE, INFO persistence).
        self.lastsave = int(self._epoch)
        self._serve_scope: trapline.CancelScope | None = None
        #: The append-only file, once ``serve()`` started it (or BGREWRITEAOF made one).
        self.aof: Any = None
        # Plain commands (no subcommands) by their names as clients send them ("GET", "get"):
        # one dict lookup instead of lower() and a lookup, filled as names are first seen.
        self._fast_commands: dict[bytes, _FastEntry] = {}
        #: Clients in MONITOR mode (see _cmd_monitor).
        self.monitors: dict[Client, None] = {}
        #: Asked before a command of the full path runs; a result other than None is its
        #: reply instead (CLIENT PAUSE holds commands this way: see _cmd_clientx).
        self.gate: Callable[[Client, Command, list[bytes]], Any] | None = None
        #: Must every command go through ``call`` (a client monitors, the slow log logs every
        #: command, the latency monitor is on, a gate is set)? Then the batch loop's fast path
        #: is left. Kept up to date by _cmd_monitor's ``refresh_tracing`` (a plain attribute:
        #: the batch loop reads it often).
        self.tracing = tracing(self)

    # -- time ----------------------------------------------------------------------------------

    def now_ms(self) -> int:
        """Unix time in milliseconds, moving with the kernel's clock (exact on virtual time)."""
        now = trapline.current_time()
        if self._clock_start is None:
            self._clock_start = now
        return int((self._epoch + (now - self._clock_start)) * 1000)

    def now_us(self) -> int:
        """Unix time in microseconds on the same clock as ``now_ms`` (TIME, INFO)."""
        now = trapline.current_time()
        if self._clock_start is None:
            self._clock_start = now
        return int((self._epoch + (now - self._clock_start)) * 1_000_000)

    @property
    def started(self) -> float:
        """Unix time (seconds) at which this server was created (uptime, client ages)."""
        return self._epoch

    def shutdown(self) -> None:
        """SHUTDOWN: run the shutdown hooks, then make ``serve()`` return (not a checkpoint)."""
        for hook in self.shutdown_hooks:
            hook()
        if self._serve_scope is not None:
            self._serve_scope.cancel("SHUTDOWN")

    # -- keyspace events -----------------------------------------------------------------------

    def key_touched(self, db: Database, key: bytes) -> None:
        slot = (db.id, key)
        watchers = self.watchers.get(slot)
        if watchers:
            for client in watchers:
                client.watch_dirty = True
        if slot in self.blocked_on:
            self._ready[slot] = None

    def key_expired(self, db: Database, key: bytes) -> None:
        self.stats["expired_keys"] += 1
        self.key_touched(db, key)

    # -- dispatch ------------------------------------------------------------------------------

    def lookup(self, argv: list[bytes]) -> Command | Error:
        name = argv[0].lower()
        cmd = COMMANDS.get(name)
        if cmd is None:
            args = ""
            for arg in argv[1:]:
                if len(args) >= 128:
                    break
                args += "'" + arg.decode("utf-8", "replace")[: 128 - len(args)] + "' "
            text = f"ERR unknown command '{argv[0].decode('utf-8', 'replace')[:128]}', with args "
            return Error((text + f"beginning with: {args}").replace("\r", " ").replace("\n", " "))
        if cmd.subcommands and len(argv) > 1:
            # Alone, a container runs itself (COMMAND) or fails its arity check (CONFIG).
            sub = cmd.subcommands.get(argv[1].lower())
            if sub is None:
                text = argv[1].decode("utf-8", "replace")[:128]
                return Error(
                    f"ERR unknown subcommand '{text}'. Try {cmd.name.upper()} HELP.".replace(
                        "\r", " "
                    ).replace("\n", " ")
                )
            cmd = sub
        arity = cmd.arity
        if (arity > 0 and arity != len(argv)) or len(argv) < -arity:
            return Error(f"ERR wrong number of arguments for '{cmd.name}' command")
        return cmd

    def execute(self, client: Client, argv: list[bytes]) -> Any:
        """Run one command for ``client``; returns the reply (or ``Blocked``)."""
        # The fast path: a known plain command with the right arity from an ordinary client
        # (authenticated, not in MULTI, not subscribed). Everything else takes the full path.
        cmd = COMMANDS.get(argv[0].lower())
        if (
            cmd is not None
            and not cmd.subcommands
            and client.authenticated
            and client.multi is None
            and not client.channels
            and not client.patterns
            and not client.shard_channels
            and not self.tracing
        ):
            arity = cmd.arity
            if arity == len(argv) or (arity < 0 and len(argv) >= -arity):
                reply = self.call(client, cmd, argv)
                if self._ready:
                    self.serve_blocked()
                return reply
        return self._execute(client, argv)

    def _execute(self, client: Client, argv: list[bytes]) -> Any:
        cmd = self.lookup(argv)
        if type(cmd) is Error:
            if client.multi is not None:
                client.multi_failed = True
            return cmd
        assert isinstance(cmd, Command)
        if not client.authenticated and "no_auth" not in cmd.flags:
            if client.multi is not None:
                client.multi_failed = True
            return Error("NOAUTH Authentication required.")
        name = argv[0].lower()
        if client.multi is not None and name not in _MULTI_PASSTHROUGH:
            if "no_multi" in cmd.flags:
                client.multi_failed = True
                return Error("ERR Command not allowed inside a transaction")
            client.multi.append((cmd, argv))
            return QUEUED
        if self.monitors and client in self.monitors:
            refused = keyspace_refused(client, cmd)
            if refused is not None:
                return refused.reply
        if self.gate is not None:
            held = self.gate(client, cmd, argv)
            if held is not None:
                return held
        if client.in_pubsub and not client.resp3 and name not in _PUBSUB_ALLOWED:
            return Error(
                f"ERR Can't execute '{cmd.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                "PING / QUIT / RESET are allowed in this context"
            )
        reply = self.call(client, cmd, argv)
        if self._ready:
            self.serve_blocked()
        return reply

    def call(self, client: Client, cmd: Command, argv: list[bytes]) -> Any:
        """Run an already validated command (also used by EXEC)."""
        self.stats["total_commands_processed"] += 1
        client.last_command = cmd.name_bytes
        handler = cmd.handler
        assert handler is not None
        started = trapline.current_time()
        try:
            reply = handler(client, argv)
        except CommandError as error:
            reply = error.reply
        else:
            if self.write_hooks and "write" in cmd.flags:
                kind = type(reply)
                if kind is not Error and kind is not Blocked:
                    for hook in self.write_hooks:
                        hook(client, cmd.name, argv, reply)
        # MONITOR and SLOWLOG (the fast path in _run_batch is left while they need every
        # command: see ``tracing``).
        trace(client, cmd, argv, trapline.current_time() - started)
        return reply

    # -- blocking ------------------------------------------------------------------------------

    async def block(self, client: Client, blocked: Blocked, argv: list[bytes] | None = None) -> Any:
        """Park ``client`` until it is served (see ``serve_blocked``) or the deadline passes.

        ``argv`` is the blocking command; when it is served, the write hooks see it.
        Checkpoint: yes. Cancellation: the client stops waiting and is served no value."""
        if blocked.run is not None:  # not a wait for keys: I/O that makes the reply
            return await blocked.run()
        waiter = _Waiter(client, blocked, argv, current_task())
        db_id = client.db.id
        waiter.slots = list(dict.fromkeys((db_id, key) for key in blocked.keys))
        for slot in waiter.slots:
            self.blocked_on.setdefault(slot, {})[waiter] = None
        client.blocked = True

        def abort(task: Task) -> Abort:
            # Timed out or hung up: from now on nothing may be served to this waiter (an
            # element popped for it would be lost), even later in this same loop pass.
            waiter.task = None
            self._unblock(waiter)
            return Abort.SUCCEEDED

        watch = None
        try:
            # The client's earlier replies were flushed before it got here, which is a
            # checkpoint: a key may have been filled meanwhile, so look once more.
            reply = blocked.retry()
            if reply is not None:
                self._served(waiter, reply)
                return reply
            deadline = trapline.current_time() + (
                (blocked.deadline_ms - self.now_ms()) / 1000 if blocked.deadline_ms else 1e18
            )
            with trapline.move_on_at(deadline) as wait:
                if client.group is not None and client.sock is not None:
                    watch = trapline.CancelScope()
                    client.group.spawn(
                        self._watch_hangup, client, watch, wait, name=f"kv client {client.id}"
                    )
                return await park(_BlockedReason(blocked.keys), abort)
            return blocked.on_timeout
        finally:
            if watch is not None:
                watch.cancel()  # its wait is undone at once: the socket is free for our reads
            client.blocked = False
            self._unblock(waiter)

    async def _watch_hangup(
        self, client: Client, watch: trapline.CancelScope, wait: trapline.CancelScope
    ) -> None:
        """While ``client`` is blocked, notice if it hangs up, as Redis does (it keeps reading a
        blocked client's socket): the wait ends at once, so no element is popped for nobody.
        Bytes waiting behind the blocking command (a pipeline) are left for the client's own
        loop; the watch then stops, since the socket stays readable."""
        with watch:
            try:
                data = await client.sock.recv(1, _MSG_PEEK)  # trapline's socket: waits for it
            except OSError:
                data = b""  # reset by the peer: gone as well
            if not data:
                client.closing = True
                wait.cancel()

    def _unblock(self, waiter: _Waiter) -> None:
        for slot in waiter.slots:
            waiters = self.blocked_on.get(slot)
            if waiters is not None:
                waiters.pop(waiter, None)
                if not waiters:
                    del self.blocked_on[slot]

    def _served(self, waiter: _Waiter, reply: Any) -> None:
        argv = waiter.argv
        if argv is not None and self.write_hooks and type(reply) is not Error:
            name = argv[0].decode("ascii", "replace").lower()
            for hook in self.write_hooks:
                hook(waiter.client, name, argv, reply)

    def serve_blocked(self) -> None:
        """Serve clients blocked on keys that commands just touched, as Redis does after each
        command: in the order they blocked, each getting the data before anything else runs."""
        ready = self._ready
        while ready:
            slot = next(iter(ready))
            del ready[slot]
            waiters = self.blocked_on.get(slot)
            if not waiters:
                continue
            for waiter in list(waiters):
                task = waiter.task
                if task is None:
                    continue
                reply = waiter.blocked.retry()
                if reply is None:
                    continue
                waiter.task = None
                self._unblock(waiter)
                self._served(waiter, reply)
                reschedule(task, reply)

    # -- serving -------------------------------------------------------------------------------

    def new_client(self, address: str) -> Client:
        client = Client(self, next(self._ids), address)
        self.clients[client.id] = client
        self.stats["total_connections_received"] += 1
        return client

    def drop_client(self, client: Client) -> None:
        self.clients.pop(client.id, None)
        for slot in client.watched:
            watchers = self.watchers.get(slot)
            if watchers is not None:
                watchers.discard(client)
                if not watchers:
                    del self.watchers[slot]
        client.watched.clear()
        for hook in self.disconnect_hooks:
            hook(client)

    async def handle(self, stream: trapline.Stream) -> None:
        """Serve one connection until it closes (the ``serve_tcp`` handler). Checkpoint: yes.
        Cancellation closes the connection."""
        try:
            peer = stream.getpeername()  # type: ignore[attr-defined]
            address = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        except (AttributeError, OSError):
            address = "?"
        maxclients = self.config.get_int("maxclients")
        if len(self.clients) >= maxclients:
            self.stats["rejected_connections"] += 1
            await stream.send_all(b"-ERR max number of clients reached\r\n")
            return
        client = self.new_client(address)
        try:
            sock = client.sock = stream.socket  # type: ignore[attr-defined]
            client.fd = sock.fileno()
            local = sock.getsockname()
            client.local_address = f"{local[0]}:{local[1]}" if isinstance(local, tuple) else "?:0"
        except (AttributeError, OSError):
            pass
        try:
            async with trapline.TaskGroup() as tg:
                client.scope = tg.cancel_scope
                client.group = tg
                tg.spawn(self._pusher, client, stream, name=f"kv pusher {client.id}")
                await self._serve(client, stream)
                tg.cancel_scope.cancel()
        except* (trapline.BrokenResourceError, trapline.ClosedResourceError):
            pass  # the client hung up or reset the connection: a normal disconnect
        finally:
            client.scope = client.group = client.sock = None
            self.drop_client(client)

    async def _pusher(self, client: Client, stream: trapline.Stream) -> None:
        """Writes pub/sub messages that arrive while the client's own loop is reading."""
        while True:
            if client.pushes:
                await client.send(stream, b"")
            else:
                await client.push_waiters.park()

    async def _serve(self, client: Client, stream: trapline.Stream) -> None:
        parser = RequestParser(max_bulk_len=self.config.get_int("proto-max-bulk-len"))
        query_limit = self.config.get_int("client-query-buffer-limit")
        out = bytearray()
        timeout = self.config.get_int("timeout")
        while not client.closing:
            parser.auth_required = not client.authenticated
            if timeout and not client.in_pubsub:
                # Redis's idle timeout: close silently (pub/sub clients are exempt).
                data = None
                with trapline.move_on_after(timeout):
                    data = await stream.recv(65536)
                if data is None:
                    return
            else:
                data = await stream.recv(65536)
            if not data:
                return
            client.last_interaction = time.time()
            parser.feed(data)
            if parser.buffered() > query_limit:
                logger.warning("client %s exceeded the query buffer limit; closing", client.id)
                return
            # Everything this read completed runs as one batch whose replies go out in one
            # send: at most 64 KiB of input per turn, so a deep pipeline cannot starve the
            # other clients (the recv above waits for the loop's next poll).
            while True:
                try:
                    commands = parser.take()
                except ProtocolError as error:
                    encode(Error(f"ERR {error}"), out)
                    if self.flush_hooks:
                        self.run_flush_hooks()
                    await client.send(stream, out)
                    return
                if commands and not await self._run_batch(client, stream, parser, commands, out):
                    return
                if client.closing or not parser.has_more():
                    break
            if out:
                if self.flush_hooks:
                    self.run_flush_hooks()
                await client.send(stream, out)
                out.clear()

    async def _run_batch(
        self,
        client: Client,
        stream: trapline.Stream,
        parser: RequestParser,
        commands: list[list[bytes]],
        out: bytearray,
    ) -> bool:
        """Run ``commands`` in order, encoding their replies into ``out``; False means close
        the connection at once. Not a checkpoint unless a command blocks (BLPOP...)."""
        # The fast path, per command, is ``execute()``'s with its checks hoisted: a plain
        # command (looked up by its name as sent) from an ordinary client, run and encoded
        # without further calls for the common reply types. Whether the client is ordinary
        # (authenticated, not in MULTI, not subscribed), closing, or needs the rest parsed
        # again is looked at once, and again only after a command that may change it: one
        # that is neither "write" nor "readonly" (in Redis's command table those flags mark
        # keyspace commands; MULTI, AUTH, SUBSCRIBE, QUIT, CLIENT... have neither) or that
        # blocked (other clients ran meanwhile).
        fast = self._fast_commands
        simple_replies = _SIMPLE_REPLIES
        small_ints = _SMALL_INT_REPLIES
        stats = self.stats
        ordinary = _is_ordinary(client)
        for done, argv in enumerate(commands, 1):
            entry = fast.get(argv[0])
            if entry is not None and ordinary and entry.min_args <= len(argv) <= entry.max_args:
                stats["total_commands_processed"] += 1
                client.last_command = entry.name
                try:
                    reply = entry.handler(client, argv)
                except CommandError as error:
                    reply = error.reply
                else:
                    if entry.write and self.write_hooks:
                        kind = type(reply)
                        if kind is not Error and kind is not Blocked:
                            for hook in self.write_hooks:
                                hook(client, entry.command.name, argv, reply)
                if self._ready:
                    self.serve_blocked()
                settled = entry.keyspace
            else:
                if entry is None:
                    name = argv[0]
                    if len(name) in (4, 5) and name.lower() in (b"post", b"host:"):
                        logger.warning("possible security attack (HTTP to the kv port); closing")
                        return False
                    known = COMMANDS.get(name.lower())
                    if (
                        known is not None
                        and known.handler is not None
                        and not known.subcommands
                        and len(name) <= 32
                        and len(fast) < 4096
                    ):
                        fast[name] = _FastEntry(known, known.handler)
                reply = self._execute(client, argv)
                settled = False
            if client.pushes:
                # Pushes the command made (pub/sub confirmations, a message to itself)
                # precede its reply, as in Redis's single output buffer.
                out += client.pushes
                client.pushes.clear()
            kind = type(reply)
            if kind is Simple:
                encoded = simple_replies.get(reply)
                if encoded is None:
                    encoded = b"+%s\r\n" % reply.encode()
                    if len(simple_replies) < 256:
                        simple_replies[reply] = encoded
                out += encoded
            elif kind is bytes:
                out += b"$%d\r\n%s\r\n" % (len(reply), reply)
            elif kind is int:
                out += small_ints[reply] if 0 <= reply < 1024 else b":%d\r\n" % reply
            else:
                if kind is Blocked:
                    if out:
                        if self.flush_hooks:
                            self.run_flush_hooks()
                        await client.send(stream, out)
                        out.clear()
                    reply = await self.block(client, reply, argv)
                    settled = False
                encode(reply, out, client.resp3)
            if not settled:
                if client.closing:
                    break
                if client.authenticated == parser.auth_required:
                    # AUTH or HELLO authenticated the client, or RESET made it
                    # unauthenticated: the rest of the batch was parsed with the other
                    # limits; parse it again.
                    parser.auth_required = not client.authenticated
                    parser.give_back(done)
                    break
                ordinary = _is_ordinary(client)
        return True

    def run_flush_hooks(self) -> None:
        """Make every write acknowledged so far durable as configured (before replying)."""
        for hook in self.flush_hooks:
            hook()

    async def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 6379,
        *,
        task_status: trapline.TaskStatus[Any] = trapline.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve until cancelled; ``task_status.started()`` gets the listeners. Checkpoint:
        yes. Cancellation closes the listeners and every connection, then flushes the AOF."""
        from ._aof import start_aof

        try:
            async with trapline.TaskGroup() as tg:
                self._serve_scope = tg.cancel_scope
                await start_aof(self, tg)
                tg.spawn(self._active_expire, name="kv active expire")
                listeners = await tg.start(
                    functools.partial(trapline.serve_tcp, self.handle, port, host=host)
                )
                task_status.started(listeners)
        finally:
            if self.aof is not None:
                self.aof.close()  # everything acknowledged is on disk before we return

    async def _active_expire(self) -> None:
        hz = max(1, self.config.get_int("hz"))
        while True:
            await trapline.sleep(1 / hz)
            for db in self.dbs:
                if db.expires:
                    while db.active_expire() >= 20:
                        await trapline.checkpoint()


class _Waiter:
    """A client blocked on keys: what to retry, and the task to hand the reply to."""

    __slots__ = ("argv", "blocked", "client", "slots", "task")

    def __init__(
        self, client: Client, blocked: Blocked, argv: list[bytes] | None, task: Task
    ) -> None:
        self.client = client
        self.blocked = blocked
        self.argv = argv
        self.task: Task | None = task
        self.slots: list[tuple[int, bytes]] = []


class _BlockedReason:
    __slots__ = ("keys",)

    def __init__(self, keys: Any) -> None:
        self.keys = keys

    def __str__(self) -> str:
        names = " ".join(key.decode("utf-8", "replace") for key in self.keys)
        return f"kv client blocked on {names}"


def _is_ordinary(client: Client) -> bool:
    """May ``client``'s commands take the fast path (authenticated, not in MULTI, no
    subscriptions)?"""
    return (
        client.multi is None
        and client.authenticated
        and not client.channels
        and not client.patterns
        and not client.shard_channels
        and not client.server.tracing
    )


@final
class _FastEntry:
    """What the batch loop needs of a plain command, in slots (one lookup per field)."""

    __slots__ = ("command", "handler", "keyspace", "max_args", "min_args", "name", "write")

    def __init__(self, command: Command, handler: Callable[[Client, list[bytes]], Any]) -> None:
        self.command = command
        self.handler = handler
        arity = command.arity
        self.min_args = arity if arity > 0 else -arity
        self.max_args = arity if arity > 0 else 1 << 62
        self.name = command.name_bytes
        self.write = "write" in command.flags
        # Keyspace commands leave the connection's state alone (see Server._run_batch).
        self.keyspace = self.write or "readonly" in command.flags
