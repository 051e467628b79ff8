"""Fixtures for trapline.kv tests: a real redis-server and a trapline.kv server side by side.

``differ.check(*command)`` sends the same command to both and asserts the raw reply bytes are
identical (the differential test the issue asks for). Both servers run on free loopback ports;
redis-server gets a temporary directory and no persistence. Each test starts from FLUSHALL.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time

import pytest

import trapline
import trapline.kv
from trapline.lowlevel import current_token


def encode_command(*args: bytes | str | int) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class RawClient:
    """A blocking RESP client that returns each reply's raw bytes."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buffer += data

    def _line(self, pos: int) -> int:
        while True:
            end = self.buffer.find(b"\r\n", pos)
            if end != -1:
                return end
            self._fill()

    def _skip(self, pos: int) -> int:
        """Position right after the reply starting at ``pos``."""
        end = self._line(pos)
        kind = self.buffer[pos : pos + 1]
        header = self.buffer[pos + 1 : end]
        pos = end + 2
        if kind in (b"$", b"=", b"!"):
            length = int(header)
            if length < 0:
                return pos
            while len(self.buffer) < pos + length + 2:
                self._fill()
            return pos + length + 2
        if kind in (b"*", b"~", b">", b"%", b"|"):
            count = int(header)
            if kind in (b"%", b"|"):
                count *= 2
            for _ in range(max(count, 0)):
                pos = self._skip(pos)
            return pos
        return pos

    def read_reply(self) -> bytes:
        end = self._skip(0)
        reply, self.buffer = self.buffer[:end], self.buffer[end:]
        return reply

    def call(self, *args: bytes | str | int) -> bytes:
        self.send(encode_command(*args))
        return self.read_reply()

    def inline(self, line: bytes) -> bytes:
        self.send(line + b"\r\n")
        return self.read_reply()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def redis_port(tmp_path_factory: pytest.TempPathFactory):
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (.ci/run installs it)")
    port = _free_port()
    directory = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            client = RawClient(port)
            if client.call("PING") == b"+PONG\r\n":
                client.close()
                break
            client.close()
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                process.wait()
                raise
            time.sleep(0.05)
    yield port
    process.terminate()
    process.wait(10)


class KVThread:
    """A trapline.kv server running its own trapline.run in a background thread."""

    def __init__(self, config: trapline.kv.ServerConfig | None = None) -> None:
        self.server = trapline.kv.Server(config)
        self.port = 0
        self._ready = threading.Event()
        self._token = None
        self._scope: trapline.CancelScope | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="trapline.kv test server")

    def _main(self) -> None:
        async def main() -> None:
            with trapline.CancelScope() as scope:
                self._scope = scope
                self._token = current_token()
                async with trapline.TaskGroup() as tg:
                    listeners = await tg.start(self.server.serve, "127.0.0.1", 0)
                    self.port = listeners[0].socket.getsockname()[1]
                    self._ready.set()

        try:
            trapline.run(main)
        except BaseException as error:  # reported by stop()
            self.error = error
            self._ready.set()

    def start(self) -> KVThread:
        self._thread.start()
        self._ready.wait(10)
        if self.error is not None:
            raise self.error
        return self

    def flush(self) -> None:
        """Empty every database, on the server's own thread (FLUSHALL without a client)."""
        done = threading.Event()

        def flush() -> None:
            for db in self.server.dbs:
                db.flush()
            done.set()

        assert self._token is not None
        self._token.run_sync_soon(flush)
        assert done.wait(5)

    def stop(self) -> None:
        if self._token is not None and self._scope is not None:
            self._token.run_sync_soon(self._scope.cancel)
        self._thread.join(10)
        if self.error is not None:
            raise self.error


def own_server_fixtures() -> tuple[object, object, object]:
    """Fixtures for a test module with a trapline.kv server of its own, emptied before each test,
    so tests can reach into the server directly. In the module::

        kv_server, kv_port, _empty_keyspace = own_server_fixtures()

    ``kv_port`` overrides the session-wide one, so ``differ`` and ``kv_client`` use this server.
    """

    @pytest.fixture(scope="module")
    def kv_server(tmp_path_factory):
        # Its own data directory: SAVE and BGSAVE write dump.rdb there.
        directory = tmp_path_factory.mktemp("kv")
        server = KVThread(trapline.kv.ServerConfig(dir=str(directory))).start()
        yield server
        server.stop()

    @pytest.fixture(scope="module")
    def kv_port(kv_server):
        return kv_server.port

    @pytest.fixture(autouse=True)
    def _empty_keyspace(kv_server):
        kv_server.flush()

    return kv_server, kv_port, _empty_keyspace


@pytest.fixture(scope="session")
def kv_port(tmp_path_factory):
    # Its own data directory: SAVE and BGSAVE write dump.rdb there.
    directory = tmp_path_factory.mktemp("kv")
    server = KVThread(trapline.kv.ServerConfig(dir=str(directory))).start()
    yield server.port
    server.stop()


class Differ:
    """Runs the same commands against real Redis and trapline.kv and compares raw replies."""

    def __init__(self, redis_port: int, kv_port: int) -> None:
        self.ports = (redis_port, kv_port)
        self._clients: list[tuple[RawClient, RawClient]] = []
        self.main = self.connection()

    def connection(self) -> tuple[RawClient, RawClient]:
        pair = (RawClient(self.ports[0]), RawClient(self.ports[1]))
        self._clients.append(pair)
        return pair

    def check(
        self, *args: bytes | str | int, on: tuple[RawClient, RawClient] | None = None
    ) -> bytes:
        """Send one command to both; assert identical raw replies; return the reply."""
        redis, kv = on or self.main
        expected = redis.call(*args)
        actual = kv.call(*args)
        assert actual == expected, f"{args!r}: redis {expected!r} != trapline.kv {actual!r}"
        return actual

    def check_many(self, *commands: tuple[bytes | str | int, ...]) -> list[bytes]:
        return [self.check(*command) for command in commands]

    def check_inline(self, line: bytes) -> bytes:
        redis, kv = self.main
        expected = redis.inline(line)
        actual = kv.inline(line)
        assert actual == expected, f"{line!r}: redis {expected!r} != trapline.kv {actual!r}"
        return actual

    def close(self) -> None:
        for redis, kv in self._clients:
            redis.close()
            kv.close()


@pytest.fixture
def differ(redis_port: int, kv_port: int):
    d = Differ(redis_port, kv_port)
    for client in d.main:
        client.call("FLUSHALL")
    yield d
    d.close()


@pytest.fixture
def kv_client(kv_port: int):
    client = RawClient(kv_port)
    yield client
    client.close()
