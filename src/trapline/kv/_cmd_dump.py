"""DUMP, RESTORE, MIGRATE and WAIT.

DUMP and RESTORE speak Redis 7.0's payload format (``_rdb``), so values move between
trapline.kv and redis-server in both directions. RESTORE checks IDLETIME and FREQ as Redis does,
but they change nothing here: trapline.kv tracks neither access times nor frequencies.

MIGRATE connects to the target with trapline's own networking and sends what Redis sends (AUTH,
SELECT, one RESTORE per key); unlike Redis, which blocks the whole server for the transfer, only
the migrating client waits, and it opens a fresh connection each time instead of caching one
for ten seconds. A key is deleted after the target acknowledged it, unless it was overwritten
meanwhile by another client (a different value object). Inside EXEC, where nothing may wait,
MIGRATE does the same I/O with a blocking socket, as Redis does.

WAIT has no replicas to wait for: it answers 0 at once when asked for none (or inside EXEC),
and otherwise after its timeout, as a Redis master without replicas does.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import trapline

from ._commands import Blocked, command, parse_int_arg, syntax_error
from ._db import CommandError, Database
from ._rdb import BadPayload, dump, load, verify
from ._resp import Error, Simple, parse_int

if TYPE_CHECKING:
    from ._server import Client

__all__: list[str] = []

OK = Simple("OK")
_CHUNK = 64 * 1024
_LINE_MAX = 1024


# -- DUMP and RESTORE --------------------------------------------------------------------------


@command("dump", 2, "readonly")
def dump_(client: Client, argv: list[bytes]) -> Any:
    value = client.db.get(argv[1])
    return None if value is None else dump(client.db, argv[1], value)


@command("restore", -4, "write denyoom")
@command("restore-asking", -4, "write denyoom asking")  # without a cluster, RESTORE itself
def restore(client: Client, argv: list[bytes]) -> Any:
    replace = absttl = False
    idle = freq = -1
    j = 4
    while j < len(argv):
        opt = argv[j].lower()
        more = len(argv) - j - 1
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        elif opt == b"idletime" and more >= 1 and freq == -1:
            idle = parse_int_arg(argv[j + 1])
            if idle < 0:
                raise CommandError("ERR Invalid IDLETIME value, must be >= 0")
            j += 1
        elif opt == b"freq" and more >= 1 and idle == -1:
            freq = parse_int_arg(argv[j + 1])
            if not 0 <= freq <= 255:
                raise CommandError("ERR Invalid FREQ value, must be >= 0 and <= 255")
            j += 1
        else:
            raise syntax_error()
        j += 1
    db = client.db
    key = argv[1]
    if not replace and db.get(key) is not None:
        raise CommandError("BUSYKEY Target key name already exists.")
    ttl = parse_int_arg(argv[2])
    if ttl < 0:
        raise CommandError("ERR Invalid TTL value, must be >= 0")
    payload = argv[3]
    if not verify(payload):
        raise CommandError("ERR DUMP payload version or checksum are wrong")
    try:
        value = load(payload)
    except BadPayload:
        raise CommandError("ERR Bad data format") from None
    deleted = db.delete(key) if replace else False
    now = client.server.now_ms()
    if ttl and not absttl:
        ttl += now
        if ttl >= 2**63:
            ttl -= 2**64  # Redis's long long addition wraps: such a TTL is already past
    if ttl and ttl <= now:
        # Already expired: nothing is created. The log (AOF) gets what Redis propagates.
        argv[:] = [b"DEL", key] if deleted else [b"PING"]
        return OK
    db.set(key, value)
    if ttl:
        db.set_expire(key, ttl)
        if not absttl:
            # Logged with an absolute time, so that replaying the log restores the same TTL.
            argv[2] = b"%d" % ttl
            argv.append(b"ABSTTL")
    return OK


# -- WAIT --------------------------------------------------------------------------------------


@command("wait", 3, "noscript", keys=(0, 0, 0))
def wait(client: Client, argv: list[bytes]) -> Any:
    replicas = parse_int_arg(argv[1])
    timeout = parse_int(argv[2])
    if timeout is None:
        raise CommandError("ERR timeout is not an integer or out of range")
    if timeout < 0:
        raise CommandError("ERR timeout is negative")
    if replicas <= 0 or client.in_exec:
        return 0
    deadline = client.server.now_ms() + timeout if timeout else 0
    return Blocked((), deadline, _nothing, on_timeout=0)


def _nothing() -> None:
    return None


# -- MIGRATE -----------------------------------------------------------------------------------


class _IOFailure(Exception):
    def __init__(self, timed_out: bool) -> None:
        super().__init__("timed out" if timed_out else "connection failed")
        self.timed_out = timed_out


# What connecting gave. Like Redis, only a failure to even start connecting (an unknown host)
# is a connect error: a refused or timed out connection shows up as a failed first write.
_CONNECTED, _UNRESOLVED, _REFUSED, _TIMED_OUT = "connected", "unresolved", "refused", "timeout"


def _connect_failure(error: OSError) -> str:
    if isinstance(error, socket.gaierror):
        return _UNRESOLVED
    return _TIMED_OUT if isinstance(error, TimeoutError) else _REFUSED


class _Connection(Protocol):
    async def connect(self) -> str: ...
    async def send(self, data: bytes) -> None: ...
    async def readline(self) -> bytes: ...
    async def close(self) -> None: ...


class _StreamConnection:
    """The target, over a trapline stream; every operation has the MIGRATE timeout."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.stream: trapline.Stream | None = None

    async def connect(self) -> str:
        try:
            with trapline.fail_after(self.timeout):
                self.stream = await trapline.open_tcp_stream(self.host, self.port)
        except OSError as error:  # TimeoutError is an OSError
            cause = error.__cause__
            if isinstance(cause, BaseExceptionGroup) and isinstance(cause.exceptions[0], OSError):
                error = cause.exceptions[0]  # every address failed: the first one's reason
            return _connect_failure(error)
        return _CONNECTED

    async def send(self, data: bytes) -> None:
        assert self.stream is not None
        try:
            with trapline.fail_after(self.timeout):
                await self.stream.send_all(data)
        except TimeoutError:
            raise _IOFailure(True) from None
        except (OSError, trapline.BrokenResourceError, trapline.ClosedResourceError):
            raise _IOFailure(False) from None

    async def readline(self) -> bytes:
        assert self.stream is not None
        try:
            with trapline.fail_after(self.timeout):
                line = await self.stream.readline(_LINE_MAX)
        except TimeoutError:
            raise _IOFailure(True) from None
        except (OSError, trapline.BrokenResourceError, trapline.LimitOverrunError):
            raise _IOFailure(False) from None
        if not line.endswith(b"\n"):
            raise _IOFailure(False)
        return line.rstrip(b"\r\n")

    async def close(self) -> None:
        if self.stream is not None:
            stream, self.stream = self.stream, None
            await stream.aclose()


class _SocketConnection:
    """The same with a blocking socket (inside EXEC): its coroutines never suspend."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: socket.socket | None = None
        self.buffer = b""

    async def connect(self) -> str:
        try:
            self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as error:
            return _connect_failure(error)
        return _CONNECTED

    async def send(self, data: bytes) -> None:
        assert self.sock is not None
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise _IOFailure(True) from None
        except OSError:
            raise _IOFailure(False) from None

    async def readline(self) -> bytes:
        assert self.sock is not None
        while b"\n" not in self.buffer:
            if len(self.buffer) > _LINE_MAX:
                raise _IOFailure(False)
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                raise _IOFailure(True) from None
            except OSError:
                raise _IOFailure(False) from None
            if not data:
                raise _IOFailure(False)
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.rstrip(b"\r")

    async def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _bulk(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


class _Migration:
    """One MIGRATE: the request (built when the command ran) and the transfer."""

    def __init__(
        self,
        client: Client,
        db: Database,
        host: str,
        port: int,
        timeout: float,
        *,
        copy: bool,
        auth: bool,
        moved: list[tuple[bytes, Any]],
        request: bytes,
    ) -> None:
        self.client = client
        self.db = db
        self.host, self.port, self.timeout = host, port & 0xFFFF if port >= 0 else port, timeout
        self.copy = copy
        self.auth = auth
        self.moved = moved
        self.request = request

    async def run(self, connection_type: Callable[[str, int, float], _Connection]) -> Any:
        """Redis ``migrateCommand`` from its connect on: one retry if the connection broke
        before the target answered anything (and not by a timeout)."""
        may_retry = True
        while True:
            conn = connection_type(self.host, self.port, self.timeout)
            # Redis gives getaddrinfo the port as text: a negative one fails to resolve (a
            # connect error), a big one is cut to 16 bits.
            status = await conn.connect() if self.port >= 0 else _UNRESOLVED
            if status == _UNRESOLVED:
                return Error("IOERR error or timeout connecting to the client")
            try:
                if status == _CONNECTED:
                    reply, failure = await self._transfer(conn, may_retry)
                else:
                    reply, failure = None, (True, status == _TIMED_OUT)
            finally:
                await conn.close()
            if failure is None:
                return reply
            writing, timed_out = failure
            if may_retry and not timed_out:
                may_retry = False
                continue
            where = "writing" if writing else "reading"
            return Error(f"IOERR error or timeout {where} to target instance")

    async def _transfer(
        self, conn: _Connection, may_retry: bool
    ) -> tuple[Any, tuple[bool, bool] | None]:
        """``(reply, None)`` when done, or ``(None, (writing, timed_out))`` to fail or retry."""
        try:
            for start in range(0, len(self.request), _CHUNK):
                await conn.send(self.request[start : start + _CHUNK])
        except _IOFailure as failure:
            return None, (True, failure.timed_out)
        try:
            auth_line = await conn.readline() if self.auth else b""
            select_line = await conn.readline()
        except _IOFailure as failure:
            return None, (False, failure.timed_out)
        error: Error | None = None
        deleted: list[bytes] = []
        broken: _IOFailure | None = None
        answered = 0
        for key, value in self.moved:
            try:
                line = await conn.readline()
            except _IOFailure as failure:
                broken = failure
                break
            answered += 1
            failed = next(
                (text for text in (auth_line, select_line, line) if text[:1] == b"-"), None
            )
            if failed is not None:
                if error is None:
                    text = failed[1:].decode("utf-8", "replace")
                    error = Error(f"ERR Target instance replied with error: {text}")
            elif not self.copy and self.db.data.get(key) is value:
                self.db.delete(key)
                deleted.append(key)
        retry = error is None and broken is not None and not answered and may_retry
        if retry and broken is not None and not broken.timed_out:
            return None, (False, False)  # nothing was processed yet: worth a retry
        if deleted:
            self._log_deletes(deleted)
        if error is None and broken is not None:
            return None, (False, broken.timed_out)
        return (error if error is not None else OK), None

    def _log_deletes(self, keys: list[bytes]) -> None:
        """The migration is logged as the DEL of the moved keys, as Redis propagates it."""
        server = self.client.server
        argv = [b"DEL", *keys]
        for hook in server.write_hooks:
            hook(self.client, "del", argv, len(keys))


def _atoi(arg: bytes) -> int:
    """C ``atoi``, which Redis reads the port with: leading digits count, the rest is ignored."""
    text = arg.lstrip(b" \t\n\v\f\r")
    sign = -1 if text[:1] == b"-" else 1
    if text[:1] in (b"+", b"-"):
        text = text[1:]
    digits = len(text) - len(text.lstrip(b"0123456789"))
    return sign * int(text[:digits]) if digits else 0


def _run_to_completion(coroutine: Any) -> Any:
    """Run a coroutine that never suspends (the blocking-socket MIGRATE) to its result."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("a blocking MIGRATE suspended")


@command("migrate", -6, "write", keys=(3, 3, 1))
def migrate(client: Client, argv: list[bytes]) -> Any:
    copy = replace = False
    username: bytes | None = None
    password: bytes | None = None
    first_key, num_keys = 3, 1
    argc = len(argv)
    j = 6
    while j < argc:
        opt = argv[j].lower()
        more = argc - 1 - j
        if opt == b"copy":
            copy = True
        elif opt == b"replace":
            replace = True
        elif opt == b"auth":
            if not more:
                raise syntax_error()
            j += 1
            password = argv[j]
        elif opt == b"auth2":
            if more < 2:
                raise syntax_error()
            username, password = argv[j + 1], argv[j + 2]
            j += 2
        elif opt == b"keys":
            if argv[3]:
                raise CommandError(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the "
                    "empty string"
                )
            first_key, num_keys = j + 1, argc - j - 1
            break
        else:
            raise syntax_error()
        j += 1
    timeout_ms = parse_int_arg(argv[5])
    dbid = parse_int_arg(argv[4])
    if timeout_ms <= 0:
        timeout_ms = 1000
    db = client.db
    found = [(key, db.get(key)) for key in argv[first_key : first_key + num_keys]]
    found = [(key, value) for key, value in found if value is not None]
    if not found:
        return Simple("NOKEY")

    request = b""
    if password is not None:
        request += _bulk(b"AUTH", username, password) if username else _bulk(b"AUTH", password)
    request += _bulk(b"SELECT", b"%d" % dbid)
    now = client.server.now_ms()
    moved: list[tuple[bytes, Any]] = []
    for key, value in found:
        ttl = 0
        when = db.expires.get(key)
        if when is not None:
            ttl = when - now
            if ttl < 0:
                continue
            ttl = max(ttl, 1)
        moved.append((key, value))
        args = [b"RESTORE", key, b"%d" % ttl, dump(db, key, value)]
        if replace:
            args.append(b"REPLACE")
        request += _bulk(*args)
    host = argv[1].decode("utf-8", "replace")
    job = _Migration(
        client,
        db,
        host,
        _atoi(argv[2]),
        timeout_ms / 1000,
        copy=copy,
        auth=password is not None,
        moved=moved,
        request=request,
    )
    if client.in_exec:
        return _run_to_completion(job.run(_SocketConnection))

    async def transfer() -> Any:
        return await job.run(_StreamConnection)

    return Blocked((), 0, _nothing, run=transfer)
