"""Networking under stress and failure, on loopback: fd leaks, fd reuse, connect bursts, running
out of file descriptors, failing handlers, shutdown, refused connections and Happy Eyeballs.

Counts and times are bounded so the whole file runs in well under 30 seconds.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import random
import resource
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import trapline
import trapline._tcp
import trapline.socket
from trapline import SocketStream, Stream
from trapline.lowlevel import Instrument, add_instrument, io_statistics, remove_instrument


def open_fds() -> set[int]:
    """The fds open in this process (without the one listing them)."""
    names = os.listdir("/proc/self/fd")
    fds = set()
    for name in names:
        try:
            os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # the directory fd os.listdir used, closed by now
        fds.add(int(name))
    return fds


@contextmanager
def soft_fd_limit(limit: int) -> Iterator[None]:
    """Set the soft RLIMIT_NOFILE (within the hard limit) and restore it afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and limit > hard:
        pytest.skip(f"needs {limit} file descriptors; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@contextmanager
def at_least_fds(needed: int) -> Iterator[None]:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        yield
        return
    with soft_fd_limit(needed):
        yield


def limit_leaving_free(free: int) -> int:
    """The soft fd limit under which exactly ``free`` more fds can be opened."""
    used = open_fds()
    limit = 0
    while limit - sum(1 for fd in used if fd < limit) < free:
        limit += 1
    return limit


class LoopCounter(Instrument):
    """Counts run-loop passes that block for I/O (a spinning loop makes thousands a second)."""

    def __init__(self) -> None:
        self.passes = 0

    def before_io_wait(self, timeout: float) -> None:
        self.passes += 1


async def echo(stream: Stream) -> None:
    async for chunk in stream:
        await stream.send_all(chunk)


def port_of(listeners: list[trapline.SocketListener]) -> int:
    port: int = listeners[0].socket.getsockname()[1]
    return port


# -- fd leaks ----------------------------------------------------------------------------------


@contextmanager
def blackhole() -> Iterator[tuple[str, int]]:
    """An address whose SYNs go unanswered: a listener with a full accept queue (of one)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        with socket.create_connection(listener.getsockname()):
            yield listener.getsockname()


async def test_3000_cancelled_connections_leak_no_fds():
    rng = random.Random(1234)
    served = 0
    outcomes = {"connected": 0, "cancelled": 0}

    async def handler(stream: Stream) -> None:
        nonlocal served
        served += 1
        # Sometimes the server side is the one cancelled mid-read.
        with trapline.move_on_after(rng.choice([0, 0.0005, 10])):
            try:
                await stream.readexactly(1 << 20)
            except (trapline.BrokenResourceError, trapline.IncompleteReadError):
                pass  # the client hung up first

    async def connect_then_cancel(port: int) -> None:
        """Cancelled after 0-7 of our checkpoints: before, during or after the connect."""
        streams: list[Stream] = []

        async def connect() -> None:
            streams.append(await trapline.open_tcp_stream("127.0.0.1", port))

        async with trapline.TaskGroup() as tg:
            tg.spawn(connect)
            for _ in range(rng.randrange(8)):
                await trapline.checkpoint()
            tg.cancel_scope.cancel()
        outcomes["connected" if streams else "cancelled"] += 1
        for stream in streams:
            await stream.aclose()

    async def cancel_mid_read(port: int) -> None:
        stream = await trapline.open_tcp_stream("127.0.0.1", port)
        async with stream:
            with trapline.move_on_after(rng.random() * 0.002):
                try:
                    await stream.send_all(b"partial")
                    await stream.readexactly(100)
                except (trapline.BrokenResourceError, trapline.IncompleteReadError):
                    pass  # the server closed first (with our bytes unread: a reset)

    async def cancel_mid_connect(address: tuple[str, int]) -> None:
        with trapline.move_on_after(rng.random() * 0.002) as scope:
            await trapline.open_tcp_stream(*address)
        assert scope.cancelled_caught

    with blackhole() as silent, trapline.fail_after(40):
        before = open_fds()
        async with trapline.TaskGroup() as server_tg:
            listeners = await server_tg.start(trapline.serve_tcp, handler, 0)
            port = port_of(listeners)
            for batch in range(30):
                async with trapline.TaskGroup() as tg:
                    for i in range(100):
                        kind = (batch * 100 + i) % 3
                        if kind == 0:
                            tg.spawn(connect_then_cancel, port)
                        elif kind == 1:
                            tg.spawn(cancel_mid_read, port)
                        else:
                            tg.spawn(cancel_mid_connect, silent)
            # Let the server accept every connection that got through (one accept per
            # scheduler pass, so it lags behind) and see its EOF, then stop it.
            while served < 1000 + outcomes["connected"]:
                await trapline.sleep(0.01)
            with trapline.move_on_after(2):
                while io_statistics().tasks_waiting > len(listeners):
                    await trapline.sleep(0.01)
            server_tg.cancel_scope.cancel()
        assert open_fds() == before
    assert outcomes["connected"] > 0
    assert outcomes["cancelled"] > 0
    assert served >= 1000


async def test_connects_to_a_silent_address_cancelled_leak_no_fds():
    """Mid-connect for sure: the listener's accept queue is full, so the SYN goes unanswered."""
    with blackhole() as silent:
        before = open_fds()
        for _ in range(50):
            with trapline.move_on_after(0.002) as scope:
                await trapline.open_tcp_stream(*silent)
            assert scope.cancelled_caught
        assert open_fds() == before


async def test_cancel_as_the_connection_completes_leaks_nothing():
    """Deadlines that expire around the moment connect succeeds: whoever wins, the socket is
    either returned or closed."""
    before = open_fds()
    listeners = await trapline.open_tcp_listeners(0, backlog=4096)
    port = port_of(listeners)
    got = 0
    try:
        for attempt in range(600):
            with trapline.move_on_after((attempt % 20) * 0.00002):
                stream = await trapline.open_tcp_stream("127.0.0.1", port)
                got += 1
                await stream.aclose()
            if attempt % 100 == 99:
                # Drain the accept queue (the accepted sockets are closed right away).
                while True:
                    try:
                        conn, _ = listeners[0].socket._sock.accept()
                    except BlockingIOError:
                        break
                    conn.close()
    finally:
        for listener in listeners:
            await listener.aclose()
    assert 0 < got < 600  # both outcomes happened
    assert open_fds() == before


# -- fd reuse --------------------------------------------------------------------------------------


def stream_pair_on_fd(number: int) -> tuple[SocketStream, SocketStream]:
    """A connected pair whose first socket gets fd ``number`` (which must be free): fill every
    lower free fd first, since the kernel hands out the lowest one."""
    fillers = []
    try:
        while True:
            filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            if filler.fileno() == number:
                filler.close()
                a, b = socket.socketpair()
                break
            fillers.append(filler)
            assert len(fillers) < 1000
    finally:
        for filler in fillers:
            filler.close()
    assert a.fileno() == number
    return (
        SocketStream(trapline.socket.from_stdlib_socket(a)),
        SocketStream(trapline.socket.from_stdlib_socket(b)),
    )


@pytest.mark.parametrize("state", ["reader-waiting", "writer-waiting", "interest-left-registered"])
async def test_a_reused_fd_never_gets_the_old_sockets_wakeups(state):
    a, b = socket.socketpair()
    old = SocketStream(trapline.socket.from_stdlib_socket(a))
    old_peer = SocketStream(trapline.socket.from_stdlib_socket(b))
    fd = old.socket.fileno()
    errors = []

    async def blocked_reader() -> None:
        try:
            await old.recv()
        except trapline.ClosedResourceError as error:
            errors.append(error)

    async def blocked_writer() -> None:
        try:
            await old.send_all(b"w" * (16 << 20))
        except trapline.ClosedResourceError as error:
            errors.append(error)

    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            if state == "reader-waiting":
                tg.spawn(blocked_reader)
            elif state == "writer-waiting":
                tg.spawn(blocked_writer)
            else:
                # A completed wait leaves the read interest registered with epoll, on purpose.
                async with trapline.TaskGroup() as inner:
                    inner.spawn(old.recv)
                    await trapline.sleep(0.01)
                    await old_peer.send_all(b"x")
            await trapline.sleep(0.01)
            assert io_statistics().registered_fds >= 1
            await old.aclose()
        assert len(errors) == (state != "interest-left-registered")

        # Right away, a new connection gets the same fd number.
        new, new_peer = stream_pair_on_fd(fd)
        async with new, new_peer, old_peer:
            woke = []

            async def new_reader() -> None:
                woke.append(await new.recv())

            async with trapline.TaskGroup() as tg:
                tg.spawn(new_reader)
                await trapline.sleep(0.01)
                # The old connection's peer talks and hangs up: nothing for the new socket.
                try:
                    await old_peer.send_all(b"for the old socket")
                except trapline.BrokenResourceError:
                    pass  # the old socket is gone, and says so
                await old_peer.aclose()
                await trapline.sleep(0.1)
                assert woke == []
                await new_peer.send_all(b"for the new socket")
            assert woke == [b"for the new socket"]
            # The new socket's own waits work both ways, including a blocked writer.
            async with trapline.TaskGroup() as tg:
                tg.spawn(new.send_all, b"n" * (4 << 20))
                await trapline.sleep(0.01)
                assert len(await new_peer.readexactly(4 << 20)) == 4 << 20
            await new_peer.send_all(b"again")
            assert await new.recv() == b"again"


async def test_fd_churn_leaves_no_stale_records_in_the_backend():
    """Many tasks open, use, cancel and close connections at once, so fd numbers are reused
    all the time: no wakeup is lost (everything finishes), and the backend forgets every fd."""
    rng = random.Random(99)
    before = open_fds()

    async def worker(n: int) -> None:
        for i in range(100):
            a, b = socket.socketpair()
            left = SocketStream(trapline.socket.from_stdlib_socket(a))
            right = SocketStream(trapline.socket.from_stdlib_socket(b))
            async with left, right:
                message = b"%d-%d\n" % (n, i)
                choice = rng.randrange(4)
                if choice == 0:  # a plain exchange
                    await left.send_all(message)
                    assert await right.readline() == message
                elif choice == 1:  # a reader cancelled while waiting
                    with trapline.move_on_after(rng.random() * 0.001):
                        await right.recv()
                    await left.send_all(message)
                    assert await right.readline() == message
                elif choice == 2:  # a reader woken by its socket being closed
                    async with trapline.TaskGroup() as tg:
                        tg.spawn(expect_closed, right)
                        await trapline.checkpoint()
                        await right.aclose()
                else:  # a writer blocked on a full buffer, released by the reader
                    async with trapline.TaskGroup() as tg:
                        tg.spawn(left.send_all, message * 20000)
                        assert await right.readexactly(len(message) * 20000)

    async def expect_closed(stream: Stream) -> None:
        with pytest.raises(trapline.ClosedResourceError):
            await stream.recv()

    with trapline.fail_after(20):
        async with trapline.TaskGroup() as tg:
            for n in range(50):
                tg.spawn(worker, n)
    stats = io_statistics()
    assert (stats.registered_fds, stats.tasks_waiting) == (0, 0)
    assert open_fds() == before


# -- load ------------------------------------------------------------------------------------------


async def test_a_burst_of_2000_simultaneous_connects_is_served():
    count = 2000
    with at_least_fds(2 * count + 200):
        before = open_fds()
        served = 0

        async def handler(stream: Stream) -> None:
            nonlocal served
            line = await stream.readline()
            await stream.send_all(line.upper())
            served += 1

        async def client(i: int, port: int, replies: dict[int, bytes]) -> None:
            async with await trapline.open_tcp_stream("127.0.0.1", port) as stream:
                await stream.send_all(b"hello %d\n" % i)
                replies[i] = await stream.readline()

        replies: dict[int, bytes] = {}
        with trapline.fail_after(30):
            async with trapline.TaskGroup() as server_tg:
                listeners = await server_tg.start(trapline.serve_tcp, handler, 0)
                port = port_of(listeners)
                async with trapline.TaskGroup() as tg:
                    for i in range(count):
                        tg.spawn(client, i, port, replies)
                # Still serving after the burst.
                late: dict[int, bytes] = {}
                await client(-1, port, late)
                assert late == {-1: b"HELLO -1\n"}
                server_tg.cancel_scope.cancel()
        assert replies == {i: b"HELLO %d\n" % i for i in range(count)}
        assert served == count + 1
        assert open_fds() == before


async def test_accept_is_a_checkpoint_when_connections_are_waiting():
    """Under a flood of connections the accept loop must still let other tasks run."""
    listeners = await trapline.open_tcp_listeners(0)
    clients = []
    try:
        for _ in range(50):
            sock = socket.socket()
            sock.connect(listeners[0].socket.getsockname())  # completes in the backlog
            clients.append(sock)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await trapline.checkpoint()

        accepted = []
        async with trapline.TaskGroup() as tg:
            tg.spawn(ticker)
            await trapline.checkpoint()
            start = ticks
            for _ in range(50):
                accepted.append(await listeners[0].accept())
            assert ticks - start >= 40, "accept() ran 50 times without letting others run"
            tg.cancel_scope.cancel()
        # And an already-cancelled accept takes nothing from the queue.
        extra = socket.socket()
        extra.connect(listeners[0].socket.getsockname())
        clients.append(extra)
        with trapline.CancelScope() as scope:
            scope.cancel()
            with pytest.raises(trapline.Cancelled):
                await listeners[0].accept()
        with trapline.fail_after(5):
            accepted.append(await listeners[0].accept())
        for stream in accepted:
            await stream.aclose()
    finally:
        for sock in clients:
            sock.close()
        for listener in listeners:
            await listener.aclose()


# -- out of file descriptors -----------------------------------------------------------------------


async def test_out_of_fds_accept_pauses_without_spinning_and_recovers(caplog):
    caplog.set_level(logging.WARNING, logger="trapline.server")
    accepted = []

    async def handler(stream: Stream) -> None:
        accepted.append(stream)
        await echo(stream)

    with trapline.fail_after(20):
        async with trapline.TaskGroup() as server_tg:
            listeners = await server_tg.start(trapline.serve_tcp, handler, 0)
            address = listeners[0].socket.getsockname()
            # The clients' sockets exist before the limit drops; connecting needs no new fd.
            clients = [SocketStream(trapline.socket.socket()) for _ in range(6)]
            try:
                with soft_fd_limit(limit_leaving_free(2)):
                    for client in clients:
                        await client.socket.connect(address)
                    while not any("accept() failed" in r.message for r in caplog.records):
                        await trapline.sleep(0.01)
                    assert len(accepted) == 2

                    # Stalled: the listener is readable but accepting fails with EMFILE.
                    counter = LoopCounter()
                    add_instrument(counter)
                    cpu = time.process_time()
                    await trapline.sleep(0.5)
                    cpu = time.process_time() - cpu
                    remove_instrument(counter)
                    assert counter.passes < 50, f"{counter.passes} loop passes in 0.5 s"
                    assert cpu < 0.25, f"{cpu:.2f} s of CPU in 0.5 s stalled"
                    assert len(accepted) == 2
                    errors = [r for r in caplog.records if "accept() failed" in r.message]
                    assert "Too many open files" in errors[0].getMessage()

                    # Connecting out fails with a plain OSError too (no fd for the socket).
                    with pytest.raises(OSError) as info:
                        await trapline.open_tcp_stream(*address)
                    assert not isinstance(info.value, BaseExceptionGroup)
                    assert errno.EMFILE in [e.errno for e in info.value.__cause__.exceptions]

                    # One connection ends: its two fds (ours and the server's) come back, and
                    # the server takes two more connections.
                    await clients[0].aclose()
                    while len(accepted) < 4:
                        await trapline.sleep(0.01)
                    for client in clients[1:4]:
                        await client.send_all(b"ping")
                        assert await client.readexactly(4) == b"ping"
                    assert len(accepted) == 4
                # With the limit back up, the rest are served too.
                for client in clients[4:]:
                    await client.send_all(b"pong")
                    assert await client.readexactly(4) == b"pong"
                assert len(accepted) == 6
            finally:
                for client in clients:
                    await client.aclose()
            server_tg.cancel_scope.cancel()


# -- handlers, shutdown ----------------------------------------------------------------------------


async def test_a_failing_handler_is_logged_and_closes_only_its_own_connection(caplog):
    caplog.set_level(logging.ERROR, logger="trapline.server")

    async def handler(stream: Stream) -> None:
        async for line in stream.lines():
            if line == b"boom\n":
                raise ValueError("handler blew up")
            await stream.send_all(line)

    with trapline.fail_after(10):
        async with trapline.TaskGroup() as server_tg:
            listeners = await server_tg.start(trapline.serve_tcp, handler, 0)
            port = port_of(listeners)
            others = [await trapline.open_tcp_stream("127.0.0.1", port) for _ in range(5)]
            victim = await trapline.open_tcp_stream("127.0.0.1", port)
            for stream in others:
                await stream.send_all(b"before\n")
                assert await stream.readline() == b"before\n"
            await victim.send_all(b"boom\n")
            assert await victim.recv() == b""  # its connection, and only it, was closed
            for stream in others:
                await stream.send_all(b"after\n")
                assert await stream.readline() == b"after\n"
            async with await trapline.open_tcp_stream("127.0.0.1", port) as fresh:
                await fresh.send_all(b"new\n")
                assert await fresh.readline() == b"new\n"
            for stream in [*others, victim]:
                await stream.aclose()
            server_tg.cancel_scope.cancel()
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 1
    assert failures[0].exc_info is not None
    assert isinstance(failures[0].exc_info[1], ValueError)


async def test_cancelling_serve_tcp_closes_the_listener_and_every_connection():
    started = 0
    cleaned_up = 0

    async def handler(stream: Stream) -> None:
        nonlocal started, cleaned_up
        started += 1
        try:
            await stream.send_all(b"hi")
            await trapline.sleep_forever()
        finally:
            cleaned_up += 1

    before = open_fds()
    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            listeners = await tg.start(trapline.serve_tcp, handler, 0)
            address = listeners[0].socket.getsockname()
            clients = [await trapline.open_tcp_stream(*address) for _ in range(20)]
            for client in clients:
                assert await client.readexactly(2) == b"hi"
            assert started == 20
            tg.cancel_scope.cancel()
        assert cleaned_up == 20
        assert all(listener.socket.closed for listener in listeners)
        for client in clients:
            assert await client.recv() == b""  # the server closed its end
            await client.aclose()
        with pytest.raises(OSError):
            await trapline.open_tcp_stream(*address)
    assert open_fds() == before


async def test_serve_tcp_on_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback (::1) on this machine")
    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            listeners = await tg.start(functools.partial(trapline.serve_tcp, host="::1"), echo, 0)
            assert listeners[0].socket.family == socket.AF_INET6
            async with await trapline.open_tcp_stream("::1", port_of(listeners)) as stream:
                await stream.send_all(b"six")
                assert await stream.readexactly(3) == b"six"
            tg.cancel_scope.cancel()


async def test_serve_unix_serves_and_removes_its_socket_file():
    with tempfile.TemporaryDirectory(prefix="tl-") as directory:
        path = os.path.join(directory, "server.sock")
        with trapline.fail_after(10):
            async with trapline.TaskGroup() as tg:
                await tg.start(trapline.serve_unix, echo, path)
                streams = [await trapline.open_unix_stream(path) for _ in range(10)]
                for i, stream in enumerate(streams):
                    await stream.send_all(b"unix %d" % i)
                for i, stream in enumerate(streams):
                    assert await stream.readexactly(6) == b"unix %d" % i
                    await stream.aclose()
                tg.cancel_scope.cancel()
        assert not os.path.exists(path)
        with pytest.raises(OSError):
            await trapline.open_unix_stream(path)


class FlakyAccept:
    """Stands in for a listening socket whose first accept() reports a connection that died in
    the queue (Linux hands such pending errors to accept(); see accept(2))."""

    def __init__(self, sock: socket.socket, error: int) -> None:
        self.sock = sock
        self.errors = [error]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)

    def accept(self) -> tuple[socket.socket, Any]:
        if self.errors:
            code = self.errors.pop()
            raise OSError(code, os.strerror(code))
        return self.sock.accept()


@pytest.mark.parametrize("code", [errno.ECONNABORTED, errno.EPROTO, errno.ECONNRESET])
async def test_a_connection_that_died_in_the_accept_queue_does_not_stop_the_server(code):
    listener = (await trapline.open_tcp_listeners(0))[0]
    address = listener.socket.getsockname()
    listener.socket._sock = FlakyAccept(listener.socket._sock, code)
    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            await tg.start(trapline.serve_listeners, echo, [listener])
            for _ in range(2):
                async with await trapline.open_tcp_stream(*address) as stream:
                    await stream.send_all(b"still here")
                    assert await stream.readexactly(10) == b"still here"
            tg.cancel_scope.cancel()
    assert listener.socket.closed


# -- connecting ------------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_open_tcp_stream_to_a_closed_port_raises_oserror():
    before = open_fds()
    with trapline.fail_after(10):
        with pytest.raises(OSError) as info:
            await trapline.open_tcp_stream("127.0.0.1", closed_port())
    assert not isinstance(info.value, BaseExceptionGroup)
    assert [e.errno for e in info.value.__cause__.exceptions] == [errno.ECONNREFUSED]
    with pytest.raises(OSError):
        await trapline.open_unix_stream("/nonexistent/trapline.sock")
    assert open_fds() == before


def fake_getaddrinfo(monkeypatch: pytest.MonkeyPatch, addresses: list[tuple[str, int]]) -> None:
    async def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        await trapline.checkpoint()
        return [
            (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", address)
            for address in addresses
        ]

    monkeypatch.setattr(trapline._tcp, "getaddrinfo", getaddrinfo)


async def test_happy_eyeballs_the_second_address_wins_when_the_first_never_answers(monkeypatch):
    with blackhole() as silent, trapline.fail_after(10):
        before = open_fds()
        async with trapline.TaskGroup() as tg:
            listeners = await tg.start(trapline.serve_tcp, echo, 0)
            live = listeners[0].socket.getsockname()
            fake_getaddrinfo(monkeypatch, [silent, live])
            start = trapline.current_time()
            stream = await trapline.open_tcp_stream("example.invalid", 80, happy_eyeballs_delay=0.2)
            elapsed = trapline.current_time() - start
            async with stream:
                assert stream.getpeername() == live
                await stream.send_all(b"eyeballs")
                assert await stream.readexactly(8) == b"eyeballs"
            # The second attempt started after the delay, not after a connect timeout.
            assert 0.19 <= elapsed < 1.0
            tg.cancel_scope.cancel()
        assert open_fds() == before  # the losing attempt's socket was closed


async def test_happy_eyeballs_moves_on_at_once_when_an_attempt_fails(monkeypatch):
    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            listeners = await tg.start(trapline.serve_tcp, echo, 0)
            live = listeners[0].socket.getsockname()
            fake_getaddrinfo(monkeypatch, [("127.0.0.1", closed_port()), live])
            start = trapline.current_time()
            stream = await trapline.open_tcp_stream("example.invalid", 80, happy_eyeballs_delay=5)
            assert trapline.current_time() - start < 1.0  # did not wait out the 5 s delay
            async with stream:
                assert stream.getpeername() == live
            tg.cancel_scope.cancel()


async def test_happy_eyeballs_every_address_failing_raises_one_oserror(monkeypatch):
    fake_getaddrinfo(monkeypatch, [("127.0.0.1", closed_port()), ("127.0.0.1", closed_port())])
    with trapline.fail_after(10):
        with pytest.raises(OSError) as info:
            await trapline.open_tcp_stream("example.invalid", 80)
    assert not isinstance(info.value, BaseExceptionGroup)
    assert [e.errno for e in info.value.__cause__.exceptions] == [errno.ECONNREFUSED] * 2


async def test_happy_eyeballs_cancelled_while_attempts_hang_leaks_nothing(monkeypatch):
    with blackhole() as silent:
        before = open_fds()
        fake_getaddrinfo(monkeypatch, [silent, silent, silent])
        with trapline.move_on_after(0.3) as scope:
            await trapline.open_tcp_stream("example.invalid", 80, happy_eyeballs_delay=0.05)
        assert scope.cancelled_caught
        assert open_fds() == before
