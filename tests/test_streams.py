"""The stream conformance suite: every stream type passes the same tests.

Each test takes the ``stream_pair`` fixture, a connected ``(client, server)`` pair made by one of
the factories in ``STREAM_PAIR_FACTORIES``. To cover a new stream type (TLS, say), write an
``async def`` factory that returns a connected pair and register it with ``@stream_pair_factory``;
every test below then runs over it too.

A transport without half-close (``send_eof``) registers with ``half_close=False``; only the tests
marked ``@needs_half_close`` are then skipped for it (the others end a stream with ``aclose()``).

The fixture builds the pair in a short ``trapline.run`` of its own (pytest fixtures are
synchronous), the test runs in another, and a third closes both ends: streams hold no state tied to
a run (closing through trapline forgets each fd in the backend of the run that closes it).
"""

from __future__ import annotations

import fcntl
import socket
import struct
import tempfile
import termios
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import trapline
from trapline import SocketStream, Stream
from trapline.testing import MemoryStream, memory_stream_pair

PairFactory = Callable[[], Awaitable[tuple[Stream, Stream]]]

#: name -> async factory returning a connected (client, server) pair; see the module docstring.
STREAM_PAIR_FACTORIES: dict[str, PairFactory] = {}
#: names of the registered kinds whose streams cannot half-close
WITHOUT_HALF_CLOSE: set[str] = set()


def stream_pair_factory(
    name: str, *, half_close: bool = True
) -> Callable[[PairFactory], PairFactory]:
    """Register an async ``() -> (client, server)`` factory under ``name``."""

    def register(factory: PairFactory) -> PairFactory:
        STREAM_PAIR_FACTORIES[name] = factory
        if not half_close:
            WITHOUT_HALF_CLOSE.add(name)
        return factory

    return register


def needs_half_close(test: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a test that uses ``send_eof``: skipped for kinds registered with half_close=False."""
    test.needs_half_close = True  # type: ignore[attr-defined]
    return test


def _ipv6_loopback_works() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


async def _tcp_pair(host: str) -> tuple[Stream, Stream]:
    listeners = await trapline.open_tcp_listeners(0, host=host)
    try:
        port = listeners[0].socket.getsockname()[1]
        accepted: list[Stream] = []

        async def accept() -> None:
            accepted.append(await listeners[0].accept())

        with trapline.fail_after(10):
            async with trapline.TaskGroup() as tg:
                tg.spawn(accept)
                client = await trapline.open_tcp_stream(host, port)
    finally:
        for listener in listeners:
            await listener.aclose()
    return client, accepted[0]


@stream_pair_factory("tcp4")
async def tcp4_pair() -> tuple[Stream, Stream]:
    return await _tcp_pair("127.0.0.1")


@stream_pair_factory("tcp6")
async def tcp6_pair() -> tuple[Stream, Stream]:
    if not _ipv6_loopback_works():
        pytest.skip("no IPv6 loopback (::1) on this machine")
    return await _tcp_pair("::1")


@stream_pair_factory("unix")
async def unix_pair() -> tuple[Stream, Stream]:
    # A short directory of our own: tmp_path can exceed the 108-byte limit of a socket path.
    with tempfile.TemporaryDirectory(prefix="tl-") as directory:
        path = Path(directory) / "s"
        async with trapline.open_unix_listener(path) as listener:
            accepted: list[Stream] = []

            async def accept() -> None:
                accepted.append(await listener.accept())

            with trapline.fail_after(10):
                async with trapline.TaskGroup() as tg:
                    tg.spawn(accept)
                    client = await trapline.open_unix_stream(path)
    return client, accepted[0]


@stream_pair_factory("memory")
async def memory_pair() -> tuple[Stream, Stream]:
    return memory_stream_pair()


@pytest.fixture(params=list(STREAM_PAIR_FACTORIES))
def stream_pair(request: pytest.FixtureRequest) -> Iterator[tuple[Stream, Stream]]:
    """A connected ``(client, server)`` pair of each registered kind; both closed afterwards."""
    if request.param == "tcp6" and not _ipv6_loopback_works():
        pytest.skip("no IPv6 loopback (::1) on this machine")
    if getattr(request.function, "needs_half_close", False) and request.param in WITHOUT_HALF_CLOSE:
        pytest.skip(f"{request.param} streams cannot half-close")
    client, server = trapline.run(STREAM_PAIR_FACTORIES[request.param])
    try:
        yield client, server
    finally:

        async def close_both() -> None:
            await client.aclose()
            await server.aclose()

        trapline.run(close_both)


# -- helpers ---------------------------------------------------------------------------------------


async def read_all(stream: Stream) -> bytes:
    chunks = []
    while data := await stream.recv():
        chunks.append(data)
    return b"".join(chunks)


async def settle() -> None:
    """Let bytes in flight cross a loopback connection (real time, a few ms)."""
    await trapline.sleep(0.02)


def kernel_queued(stream: Stream) -> int | None:
    """Bytes the transport holds for this end (kernel queues, memory pipe one way), or None when
    this test does not know the stream type."""
    if isinstance(stream, MemoryStream):
        return len(stream._incoming.data)
    if isinstance(stream, SocketStream):
        total = 0
        for request in (termios.FIONREAD, termios.TIOCOUTQ):  # SIOCINQ, SIOCOUTQ
            raw = fcntl.ioctl(stream.socket.fileno(), request, b"\0\0\0\0")
            total += struct.unpack("i", raw)[0]
        return total
    return None


# -- round trips and recv --------------------------------------------------------------------------


async def test_round_trip_both_ways(stream_pair):
    client, server = stream_pair
    with trapline.fail_after(10):
        await client.send_all(b"ping")
        assert await server.readexactly(4) == b"ping"
        await server.send_all(bytearray(b"pong"))
        assert await client.readexactly(4) == b"pong"
        await client.send_all(memoryview(b"xxmvxx")[2:4])
        assert await server.readexactly(2) == b"mv"
        await client.send_all(b"")  # nothing to send is fine
        await client.send_all(b"!")
        assert await server.recv() == b"!"


async def test_recv_returns_what_is_available_then_empty_at_eof(stream_pair):
    client, server = stream_pair
    with trapline.fail_after(10):
        await client.send_all(b"hello")
        await settle()
        # Returns the five bytes at once: it does not wait to fill max_bytes.
        assert await server.recv(100) == b"hello"
        await client.send_all(b"abcdef")
        await settle()
        assert await server.recv(4) == b"abcd"
        assert await server.recv(4) == b"ef"
        await client.aclose()
        assert await server.recv() == b""
        assert await server.recv() == b""  # and stays at EOF
        with pytest.raises(ValueError):
            await server.recv(0)


async def test_recv_waits_for_data(stream_pair):
    client, server = stream_pair
    got = []

    async def reader():
        got.append(await server.recv())

    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            tg.spawn(reader)
            await settle()
            assert got == []
            await client.send_all(b"late")
    assert got == [b"late"]


# -- readline, readuntil, readexactly -------------------------------------------------------------


async def test_readline_and_readuntil_with_separators_split_across_chunks(stream_pair):
    client, server = stream_pair
    pieces = [b"one\r", b"\ntwo\r\n\r", b"\nthr", b"ee", b"|END|", b"four|E", b"N", b"D|\n"]

    async def sender():
        for piece in pieces:
            await client.send_all(piece)
            await settle()  # so each piece arrives as its own chunk

    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            tg.spawn(sender)
            assert await server.readuntil(b"\r\n") == b"one\r\n"
            assert await server.readuntil(b"\r\n\r\n") == b"two\r\n\r\n"
            assert await server.readuntil(b"|END|") == b"three|END|"
            assert await server.readuntil(b"|END|") == b"four|END|"
            assert await server.readline() == b"\n"


async def test_readuntil_finds_overlapping_and_repeated_separators(stream_pair):
    client, server = stream_pair
    with trapline.fail_after(10):
        await client.send_all(b"a\r\r\nb\r\n\r\nc\n\nd")
        await client.aclose()
        assert await server.readuntil(b"\r\n") == b"a\r\r\n"
        assert await server.readuntil(b"\r\n") == b"b\r\n"
        assert await server.readuntil(b"\r\n") == b"\r\n"
        assert await server.readline() == b"c\n"
        assert await server.readline() == b"\n"
        assert await server.readline() == b"d"  # what trails the last newline
        assert await server.readline() == b""
        with pytest.raises(ValueError):
            await server.readuntil(b"")


async def test_readexactly_across_many_chunks(stream_pair):
    client, server = stream_pair
    payload = bytes(range(256)) * 1000

    async def sender():
        for i in range(0, len(payload), 999):
            await client.send_all(payload[i : i + 999])

    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            tg.spawn(sender)
            assert await server.readexactly(0) == b""
            assert await server.readexactly(3) == payload[:3]
            assert await server.readexactly(len(payload) - 3) == payload[3:]
        with pytest.raises(ValueError):
            await server.readexactly(-1)


async def test_readexactly_at_eof_raises_incomplete_read_error_with_the_partial_data(stream_pair):
    client, server = stream_pair
    with trapline.fail_after(10):
        await client.send_all(b"1234")
        await client.aclose()
        with pytest.raises(trapline.IncompleteReadError) as info:
            await server.readexactly(10)
        assert info.value.partial == b"1234"
        assert info.value.expected == 10
        assert isinstance(info.value, EOFError)
        assert await server.recv() == b""
        with pytest.raises(trapline.IncompleteReadError) as info:
            await server.readexactly(1)
        assert info.value.partial == b""


async def test_readuntil_at_eof_raises_incomplete_read_error_with_the_partial_data(stream_pair):
    client, server = stream_pair
    with trapline.fail_after(10):
        await client.send_all(b"no newline here")
        await client.aclose()
        with pytest.raises(trapline.IncompleteReadError) as info:
            await server.readuntil(b"\r\n")
        assert info.value.partial == b"no newline here"
        assert info.value.expected is None
        assert await server.readline() == b""


async def test_limit_overrun_keeps_memory_bounded(stream_pair):
    client, server = stream_pair
    total = 10 * 1024 * 1024
    max_size = 64 * 1024
    chunk = 64 * 1024  # the most one read into the buffer asks for
    block = b"x" * (1024 * 1024)

    async def sender():
        for _ in range(total // len(block)):
            await client.send_all(block)
        await client.send_all(b"tail\n")

    with trapline.fail_after(20):
        async with trapline.TaskGroup() as tg:
            tg.spawn(sender)
            with pytest.raises(trapline.LimitOverrunError) as info:
                await server.readuntil(b"\n", max_size)
            assert info.value.consumed <= max_size + chunk
            assert len(server._buffer) <= max_size + chunk
            # Asking again does not read further: the buffer stays where it was.
            with pytest.raises(trapline.LimitOverrunError):
                await server.readline(max_size)
            assert len(server._buffer) <= max_size + chunk
            # The sender is held back by the transport, not by a buffer of ours.
            await settle()
            assert len(server._buffer) <= max_size + chunk
            # Nothing was lost: the overrun bytes are still there to read.
            received = 0
            while received < total:
                data = await server.recv(min(total - received, 65536))
                assert data == b"x" * len(data)
                received += len(data)
                assert len(server._buffer) <= max_size + chunk
            assert await server.readline() == b"tail\n"


async def test_limit_overrun_when_the_separator_lies_past_max_size(stream_pair):
    client, server = stream_pair
    with trapline.fail_after(10):
        await client.send_all(b"abcdefgh\n")
        await settle()
        with pytest.raises(trapline.LimitOverrunError):
            await server.readuntil(b"\n", max_size=4)
        # A larger limit then finds it, with nothing lost.
        assert await server.readuntil(b"\n", max_size=100) == b"abcdefgh\n"


# -- iteration -------------------------------------------------------------------------------------


async def test_async_for_yields_chunks_until_eof(stream_pair):
    client, server = stream_pair
    payload = bytes(range(256)) * 2000

    async def sender():
        await client.send_all(payload)
        await client.aclose()

    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            tg.spawn(sender)
            chunks = [chunk async for chunk in server]
    assert all(chunks)
    assert b"".join(chunks) == payload


async def test_lines_yields_each_line_then_the_tail(stream_pair):
    client, server = stream_pair
    with trapline.fail_after(10):
        await client.send_all(b"a\nbb\n\nccc")
        await client.aclose()
        lines = [line async for line in server.lines()]
    assert lines == [b"a\n", b"bb\n", b"\n", b"ccc"]


# -- half-close ------------------------------------------------------------------------------------


@needs_half_close
@pytest.mark.parametrize("direction", ["client-first", "server-first"])
async def test_half_close_then_the_peer_can_still_send(stream_pair, direction):
    a, b = stream_pair if direction == "client-first" else reversed(stream_pair)
    with trapline.fail_after(10):
        await a.send_all(b"request")
        await a.send_eof()
        assert await read_all(b) == b"request"  # b sees EOF...
        await b.send_all(b"response")  # ...and can still answer
        await b.send_all(b" in two parts")
        await b.send_eof()
        assert await read_all(a) == b"response in two parts"


# -- misuse: concurrency and closed streams --------------------------------------------------------


@pytest.mark.parametrize("second", ["recv", "readline", "readexactly"])
async def test_concurrent_readers_raise_busy_resource_error(stream_pair, second):
    client, server = stream_pair
    got = []

    async def reader():
        got.append(await server.recv())

    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            tg.spawn(reader)
            await settle()
            with pytest.raises(trapline.BusyResourceError):
                if second == "recv":
                    await server.recv()
                elif second == "readline":
                    await server.readline()
                else:
                    await server.readexactly(1)
            await client.send_all(b"first")
    assert got == [b"first"]


async def test_concurrent_senders_raise_busy_resource_error(stream_pair):
    client, server = stream_pair
    payload = b"s" * (16 * 1024 * 1024)  # more than any buffer: the first sender blocks

    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            tg.spawn(client.send_all, payload)
            await settle()
            with pytest.raises(trapline.BusyResourceError):
                await client.send_all(b"second")
            assert len(await server.readexactly(len(payload))) == len(payload)


async def test_send_and_recv_on_a_closed_stream_raise_closed_resource_error(stream_pair):
    client, server = stream_pair
    await client.aclose()
    await client.aclose()  # idempotent
    with pytest.raises(trapline.ClosedResourceError):
        await client.send_all(b"x")
    with pytest.raises(trapline.ClosedResourceError):
        await client.send_eof()
    with pytest.raises(trapline.ClosedResourceError):
        await client.recv()
    with trapline.fail_after(10):
        assert await server.recv() == b""  # the peer sees EOF


async def test_reading_a_closed_stream_raises_even_with_data_or_eof_buffered(stream_pair):
    client, server = stream_pair
    with trapline.fail_after(10):
        await client.send_all(b"left\nover")
        await settle()
        assert await server.readexactly(1) == b"l"  # the rest sits in the stream's buffer
        await server.aclose()
        for read in (server.recv, server.readline, lambda: server.readexactly(1)):
            with pytest.raises(trapline.ClosedResourceError):
                await read()


async def test_reading_a_closed_stream_at_eof_raises(stream_pair):
    """A closed stream must not look like a peer that finished cleanly."""
    client, server = stream_pair
    with trapline.fail_after(10):
        await client.aclose()
        assert await server.recv() == b""
        await server.aclose()
        with pytest.raises(trapline.ClosedResourceError):
            await server.recv()


@needs_half_close
async def test_send_after_send_eof_raises_closed_resource_error(stream_pair):
    client, server = stream_pair
    with trapline.fail_after(10):
        await client.send_eof()
        await client.send_eof()  # a second EOF is harmless
        with pytest.raises(trapline.ClosedResourceError):
            await client.send_all(b"too late")
        assert await server.recv() == b""


async def test_closing_wakes_a_task_blocked_in_recv(stream_pair):
    _, server = stream_pair
    errors = []

    async def reader():
        try:
            await server.recv()
        except trapline.ClosedResourceError as error:
            errors.append(error)

    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            tg.spawn(reader)
            await settle()
            await server.aclose()
    assert len(errors) == 1


async def test_closing_wakes_a_task_blocked_in_readline(stream_pair):
    client, server = stream_pair
    errors = []

    async def reader():
        try:
            await server.readline()
        except trapline.ClosedResourceError as error:
            errors.append(error)

    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            tg.spawn(reader)
            await client.send_all(b"half a li")
            await settle()
            await server.aclose()
    assert len(errors) == 1


async def test_closing_wakes_a_task_blocked_in_send_all(stream_pair):
    client, _ = stream_pair
    errors = []

    async def sender():
        try:
            await client.send_all(b"z" * (16 * 1024 * 1024))
        except trapline.ClosedResourceError as error:
            errors.append(error)

    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            tg.spawn(sender)
            await settle()
            await client.aclose()
    assert len(errors) == 1


async def test_send_after_the_peer_closed_raises_broken_resource_error(stream_pair):
    client, server = stream_pair
    await server.aclose()
    with trapline.fail_after(10):
        with pytest.raises(trapline.BrokenResourceError):
            # A socket may take a first write before the peer's reset comes back.
            for _ in range(100):
                await client.send_all(b"into the void" * 1000)
                await settle()


async def test_peer_closing_wakes_a_blocked_send_all_with_broken_resource_error(stream_pair):
    client, server = stream_pair
    errors = []

    async def sender():
        try:
            await client.send_all(b"q" * (16 * 1024 * 1024))
        except trapline.BrokenResourceError as error:
            errors.append(error)

    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            tg.spawn(sender)
            await settle()
            assert errors == []
            await server.aclose()
    assert len(errors) == 1


# -- backpressure and volume -----------------------------------------------------------------------


async def test_send_all_blocks_when_the_peer_stops_reading(stream_pair):
    client, server = stream_pair
    # 64 MiB, far more than any transport buffer; its bytes say where they were in the payload.
    payload = bytes(range(251)) * (64 * 1024 * 1024 // 251)
    queued_before = kernel_queued(client)

    with trapline.move_on_after(0.5) as scope:
        await client.send_all(payload)
    assert scope.cancelled_caught, "send_all returned although nobody was reading"
    # Nothing unbounded was copied into user space: the reader has read nothing, the sender keeps
    # no write buffer, and the transport holds only what fits in its own (bounded) buffers.
    assert len(server._buffer) == 0
    assert len(client._buffer) == 0
    if isinstance(client, MemoryStream):
        # The pipe is full and holds no more than its limit.
        assert len(client._outgoing.data) == client._outgoing.limit
    queued = kernel_queued(client)
    if queued is not None:
        assert queued_before == 0
        in_flight = queued + kernel_queued(server)
        assert 0 < in_flight < len(payload) // 2

    # Everything that was sent arrives, as a prefix of the payload, and the stream still works.
    async def finish():
        await client.send_all(b"END\n")
        await client.aclose()

    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            tg.spawn(finish)
            received = await read_all(server)
    assert received.endswith(b"END\n")
    prefix = received[: -len(b"END\n")]
    assert 0 < len(prefix) < len(payload)
    assert payload.startswith(prefix)


async def test_a_slow_reader_gets_everything_in_order(stream_pair):
    client, server = stream_pair
    payload = bytes(range(251)) * 20000  # about 5 MB, not a multiple of any buffer size

    async def sender():
        await client.send_all(payload)
        await client.aclose()

    with trapline.fail_after(20):
        async with trapline.TaskGroup() as tg:
            tg.spawn(sender)
            received = bytearray()
            while data := await server.recv(7919):
                received += data
                if len(received) % 13 == 0:
                    await trapline.sleep(0)
    assert received == payload


async def test_100k_pipelined_lines_arrive_intact_and_in_order(stream_pair):
    client, server = stream_pair
    count = 100_000

    async def sender():
        for i in range(count):
            await client.send_all(b"%d\n" % i)
        await client.aclose()

    with trapline.fail_after(50):
        async with trapline.TaskGroup() as tg:
            tg.spawn(sender)
            expected = 0
            async for line in server.lines():
                assert line == b"%d\n" % expected
                expected += 1
    assert expected == count


# -- cancellation ----------------------------------------------------------------------------------


async def test_cancelled_recv_consumes_nothing(stream_pair):
    client, server = stream_pair
    with trapline.move_on_after(0.05) as scope:
        await server.recv()
    assert scope.cancelled_caught
    with trapline.fail_after(10):
        await client.send_all(b"after")
        assert await server.readexactly(5) == b"after"


async def test_cancelled_reads_keep_what_they_read_buffered(stream_pair):
    client, server = stream_pair
    with trapline.fail_after(10):
        await client.send_all(b"12345")
        await settle()
        with trapline.move_on_after(0.05) as scope:
            await server.readexactly(10)
        assert scope.cancelled_caught
        await client.send_all(b"67890abc")
        with trapline.move_on_after(0.05) as scope:
            await server.readuntil(b"\n")
        assert scope.cancelled_caught
        assert await server.readexactly(10) == b"1234567890"
        await client.send_all(b"def\n")
        assert await server.readline() == b"abcdef\n"


async def test_already_cancelled_reads_consume_nothing(stream_pair):
    client, server = stream_pair
    with trapline.fail_after(10):
        await client.send_all(b"xabc\ndef")
        await settle()
        assert await server.readexactly(1) == b"x"  # the rest is now in the stream's buffer
        reads = [server.recv, server.readline, lambda: server.readuntil(b"d"), server.readexactly]
        with trapline.CancelScope() as scope:
            scope.cancel()
            for read in reads:
                with pytest.raises(trapline.Cancelled):
                    await (read(2) if read == server.readexactly else read())
        assert await server.readline() == b"abc\n"
        assert await server.recv() == b"def"
        await client.send_all(b"more\n" * 4)
        await settle()
        with trapline.CancelScope() as scope:
            scope.cancel()
            for read in reads:  # now with an empty buffer: the transport is not read either
                with pytest.raises(trapline.Cancelled):
                    await (read(2) if read == server.readexactly else read())
        await client.aclose()
        assert await read_all(server) == b"more\n" * 4


async def test_cancel_racing_data_arrival_loses_nothing(stream_pair):
    """Many short deadlines against a steady trickle: whatever each cancelled call had already
    taken from the transport must come out of a later call."""
    client, server = stream_pair
    count = 2000

    async def sender():
        for i in range(count):
            await client.send_all(b"%05d\n" % i)
            if i % 50 == 0:
                await trapline.sleep(0.001)
        await client.aclose()

    received = bytearray()
    with trapline.fail_after(20):
        async with trapline.TaskGroup() as tg:
            tg.spawn(sender)
            turn = 0
            done = False
            while not done:
                turn += 1
                with trapline.move_on_after(0.0005 * (turn % 3)):
                    try:
                        data = await (server.readexactly(3) if turn % 2 else server.readline())
                    except trapline.IncompleteReadError as error:
                        data = error.partial
                        done = True
                    received += data
                    done = done or not data
    assert received == b"".join(b"%05d\n" % i for i in range(count))


# -- memory streams only ---------------------------------------------------------------------------


@pytest.mark.parametrize("max_buffer", [1, 2, 3, 7])
async def test_tiny_memory_pipes_split_every_separator(max_buffer, virtual_clock):
    """Pipes of a few bytes deliver everything in pieces: each separator, each line, each
    exact read is split at every possible place."""
    client, server = memory_stream_pair(max_buffer=max_buffer)
    lines = [b"%d:" % i + b"x" * (i % 11) + b"\r\n" for i in range(300)]

    async def sender():
        for line in lines:
            await client.send_all(line)
        await client.send_all(b"tail-without-separator")
        await client.aclose()

    got = []
    async with trapline.TaskGroup() as tg:
        tg.spawn(sender)
        for i, line in enumerate(lines):
            if i % 3 == 0:
                got.append(await server.readuntil(b"\r\n"))
            elif i % 3 == 1:
                got.append(await server.readexactly(len(line)))
            else:
                got.append(await server.readline())
        with pytest.raises(trapline.IncompleteReadError) as info:
            await server.readuntil(b"\r\n")
    assert got == lines
    assert info.value.partial == b"tail-without-separator"
    assert len(server._incoming.data) == 0
    await server.aclose()
