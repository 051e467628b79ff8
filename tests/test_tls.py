"""TLSStream: TLS over TCP and memory streams, STARTTLS, handshake failures and cancellation,
ALPN, close semantics; then the stream conformance suite (tests/test_streams.py) over TLS.

Certificates come from ``trustme`` (a throwaway CA, no network). Everything runs on loopback or
in memory, with bounded sizes and deadlines.
"""

from __future__ import annotations

import functools
import hashlib
import ssl
from collections.abc import Iterator

import pytest
import trustme

import test_streams as conformance
import trapline
from trapline import Stream
from trapline._tls import TLSStream
from trapline.testing import memory_stream_pair

# -- certificates and contexts ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("localhost", "127.0.0.1")


@pytest.fixture
def server_ctx(server_cert: trustme.LeafCert) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(ctx)
    return ctx


@pytest.fixture
def client_ctx(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


# -- helpers ---------------------------------------------------------------------------------------


async def tls_pair(
    client_ctx: ssl.SSLContext,
    server_ctx: ssl.SSLContext,
    transports: tuple[Stream, Stream] | None = None,
    *,
    hostname: str = "localhost",
) -> tuple[TLSStream, TLSStream]:
    """A (client, server) pair of TLS streams, handshake done, over a memory pair by default."""
    a, b = transports if transports is not None else memory_stream_pair()
    client = TLSStream(a, client_ctx, server_hostname=hostname)
    server = TLSStream(b, server_ctx, server_side=True)
    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            tg.spawn(client.do_handshake)
            tg.spawn(server.do_handshake)
    return client, server


async def start_server(
    tg: trapline.TaskGroup, handler, ssl_context: ssl.SSLContext | None = None
) -> int:
    """Start ``serve_tcp`` on a free loopback port in ``tg``; return the port."""
    serve = functools.partial(trapline.serve_tcp, ssl_context=ssl_context)
    listeners = await tg.start(serve, handler, 0)
    return listeners[0].socket.getsockname()[1]


async def read_all(stream: Stream) -> bytes:
    chunks = []
    while data := await stream.recv():
        chunks.append(data)
    return b"".join(chunks)


async def echo_lines(stream: Stream) -> None:
    async for line in stream.lines():
        await stream.send_all(line)


# -- over TCP --------------------------------------------------------------------------------------


async def test_echo_over_tcp_with_serve_tcp_and_open_tcp_stream(server_ctx, client_ctx):
    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            port = await start_server(tg, echo_lines, server_ctx)
            stream = await trapline.open_tcp_stream(
                "127.0.0.1", port, ssl_context=client_ctx, server_hostname="localhost"
            )
            async with stream:
                assert isinstance(stream, TLSStream)
                assert isinstance(stream.transport_stream, trapline.SocketStream)
                assert stream.version() == "TLSv1.3"
                name, version, bits = stream.cipher()
                assert version == "TLSv1.3" and bits >= 128
                assert ("DNS", "localhost") in stream.getpeercert()["subjectAltName"]
                assert stream.getpeercert(binary_form=True)[:1] == b"\x30"  # DER
                for i in range(50):
                    await stream.send_all(b"line %d\n" % i)
                    assert await stream.readline() == b"line %d\n" % i
            tg.cancel_scope.cancel()


async def test_open_tcp_stream_checks_the_ip_address_when_no_hostname_is_given(
    server_ctx, client_ctx
):
    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            port = await start_server(tg, echo_lines, server_ctx)
            async with await trapline.open_tcp_stream(
                "127.0.0.1", port, ssl_context=client_ctx
            ) as stream:
                await stream.send_all(b"by address\n")
                assert await stream.readline() == b"by address\n"
            tg.cancel_scope.cancel()


async def test_start_tls_upgrades_a_plain_tcp_connection(server_ctx, client_ctx):
    """A STARTTLS exchange: a plain line each way, then both sides call start_tls."""

    async def handler(plain):
        assert await plain.readline() == b"STARTTLS\n"
        await plain.send_all(b"GO AHEAD\n")
        tls = await plain.start_tls(server_ctx, server_side=True)
        assert isinstance(tls, TLSStream) and tls.transport_stream is plain
        await echo_lines(tls)
        await tls.aclose()

    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            port = await start_server(tg, handler)
            plain = await trapline.open_tcp_stream("127.0.0.1", port)
            await plain.send_all(b"STARTTLS\n")
            assert await plain.readline() == b"GO AHEAD\n"
            tls = await plain.start_tls(client_ctx, server_hostname="localhost")
            async with tls:
                await tls.send_all(b"secret\n")
                assert await tls.readline() == b"secret\n"
            assert plain.socket.fileno() == -1  # closing the TLS stream closed the transport
            tg.cancel_scope.cancel()


async def test_start_tls_uses_bytes_the_transport_already_buffered(server_ctx, client_ctx):
    """The client starts TLS without waiting for an answer, so the server's readline pulls the
    start of the ClientHello into the plain stream's buffer; the TLS stream must read it from
    there (through ``recv``), not from the wire."""
    a, b = memory_stream_pair()
    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:

            async def client():
                await a.send_all(b"STARTTLS\n")
                tls = await a.start_tls(client_ctx, server_hostname="localhost")
                await tls.send_all(b"over TLS\n")
                await tls.aclose()

            tg.spawn(client)
            while len(b._incoming.data) <= len(b"STARTTLS\n"):  # the ClientHello is queued too
                await trapline.sleep(0)
            assert await b.readline() == b"STARTTLS\n"
            assert len(b._buffer) > 0  # part of the ClientHello sits in the plain buffer
            tls = await b.start_tls(server_ctx, server_side=True)
            assert await tls.readline() == b"over TLS\n"
            assert await tls.recv() == b""
            await tls.aclose()


async def test_large_transfers_in_both_directions_at_once_over_tcp(server_ctx, client_ctx):
    """Each side writes 8 MB while reading the other's 8 MB: one reader and one writer share
    each TLS stream; neither direction waits for the other."""
    size = 8 * 1024 * 1024
    up = bytes(range(251)) * (size // 251)
    down = bytes(range(250, -1, -1)) * (size // 251)
    results = {}

    async def pump(stream, payload, name):
        async def send():
            await stream.send_all(payload)
            await stream.send_eof()

        async with trapline.TaskGroup() as tg:
            tg.spawn(send)
            digest = hashlib.sha256()
            total = 0
            while data := await stream.recv():
                digest.update(data)
                total += len(data)
            results[name] = (total, digest.hexdigest())

    async def handler(stream):
        await pump(stream, down, "server")

    with trapline.fail_after(30):
        async with trapline.TaskGroup() as tg:
            port = await start_server(tg, handler, server_ctx)
            async with await trapline.open_tcp_stream(
                "127.0.0.1", port, ssl_context=client_ctx, server_hostname="localhost"
            ) as stream:
                await pump(stream, up, "client")
                while "server" not in results:
                    await trapline.sleep(0.001)
            tg.cancel_scope.cancel()
    assert results["server"] == (len(up), hashlib.sha256(up).hexdigest())
    assert results["client"] == (len(down), hashlib.sha256(down).hexdigest())


@pytest.mark.parametrize("max_buffer", [1, 100, 5000])
async def test_both_directions_at_once_over_a_tiny_pipe(server_ctx, client_ctx, max_buffer):
    """Every transport call blocks here, so the reader and the writer of each TLS stream keep
    meeting on the shared SSLObject and the transport locks."""
    client, server = await tls_pair(client_ctx, server_ctx, memory_stream_pair(max_buffer))
    size = 20_000 if max_buffer == 1 else 300_000
    up, down = b"u" * size, bytes(range(256)) * (size // 256)
    got = {}

    async def side(stream, payload, name):
        async def send():
            for start in range(0, len(payload), 7000):
                await stream.send_all(payload[start : start + 7000])
            await stream.send_eof()

        async with trapline.TaskGroup() as tg:
            tg.spawn(send)
            got[name] = await read_all(stream)

    with trapline.fail_after(30):
        async with trapline.TaskGroup() as tg:
            tg.spawn(side, client, up, "client")
            tg.spawn(side, server, down, "server")
    assert got == {"server": up, "client": down}
    await client.aclose()
    await server.aclose()


# -- reading helpers over TLS ----------------------------------------------------------------------


async def test_readline_readexactly_readuntil_and_lines_across_records(server_ctx, client_ctx):
    client, server = await tls_pair(client_ctx, server_ctx)
    # Every send_all makes at least one record, so lines and blocks straddle record boundaries.
    pieces = [b"first li", b"ne\nsecond line\nbin", b"\x00" * 40000, b"ary", b"--E", b"ND--tail"]
    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:

            async def send():
                for piece in pieces:
                    await client.send_all(piece)
                await client.send_all(b"\nlast\nno newline")
                await client.aclose()

            tg.spawn(send)
            assert await server.readline() == b"first line\n"
            assert await server.readline() == b"second line\n"
            assert await server.readexactly(3) == b"bin"
            assert await server.readexactly(40003) == b"\x00" * 40000 + b"ary"
            assert await server.readuntil(b"--END--") == b"--END--"
            lines = [line async for line in server.lines()]
    assert lines == [b"tail\n", b"last\n", b"no newline"]
    await server.aclose()


async def test_recv_honours_max_bytes(server_ctx, client_ctx):
    client, server = await tls_pair(client_ctx, server_ctx)
    with trapline.fail_after(10):
        await client.send_all(b"abcdefghij")
        assert await server.recv(3) == b"abc"
        assert await server.recv(100) == b"defghij"
    await client.aclose()
    await server.aclose()


# -- handshake -------------------------------------------------------------------------------------


async def test_wrong_hostname_fails_the_handshake_on_both_sides(server_ctx, client_ctx):
    """The client raises BrokenResourceError caused by ssl.SSLCertVerificationError; its
    aclose() delivers OpenSSL's alert, so the server learns why instead of seeing a bare EOF."""
    a, b = memory_stream_pair()
    client = TLSStream(a, client_ctx, server_hostname="example.org")
    server = TLSStream(b, server_ctx, server_side=True)

    async def client_side():
        try:
            await client.do_handshake()
        finally:
            await client.aclose()

    with trapline.fail_after(10):
        client_error, server_error = await trapline.gather(
            client_side(), server.do_handshake(), return_exceptions=True
        )
    assert isinstance(client_error, trapline.BrokenResourceError)
    assert isinstance(client_error.__cause__, ssl.SSLCertVerificationError)
    assert "example.org" in str(client_error)
    assert isinstance(server_error, trapline.BrokenResourceError)
    assert isinstance(server_error.__cause__, ssl.SSLError)
    assert "alert" in str(server_error)
    with pytest.raises(trapline.BrokenResourceError):
        await server.send_all(b"x")  # broken for good
    await server.aclose()
    assert a._closed and b._closed


async def test_wrong_hostname_through_open_tcp_stream_leaks_nothing(server_ctx, client_ctx):
    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            port = await start_server(tg, echo_lines, server_ctx)
            with pytest.raises(trapline.BrokenResourceError) as info:
                await trapline.open_tcp_stream(
                    "127.0.0.1", port, ssl_context=client_ctx, server_hostname="example.org"
                )
            assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
            tg.cancel_scope.cancel()


async def test_untrusted_certificate_fails_the_handshake(server_ctx):
    client_ctx = ssl.create_default_context()
    trustme.CA().configure_trust(client_ctx)  # some other CA
    a, b = memory_stream_pair()
    client = TLSStream(a, client_ctx, server_hostname="localhost")
    server = TLSStream(b, server_ctx, server_side=True)

    async def client_side():
        try:
            await client.do_handshake()
        finally:
            await client.aclose()  # sends the alert the server is waiting for

    with trapline.fail_after(10):
        results = await trapline.gather(
            client_side(), server.do_handshake(), return_exceptions=True
        )
    assert isinstance(results[0], trapline.BrokenResourceError)
    assert results[0].__cause__.verify_code == 20  # unable to get local issuer certificate
    assert "unknown ca" in str(results[1])
    await server.aclose()


async def test_cancelled_handshake_breaks_the_stream_and_aclose_closes_the_socket(client_ctx):
    """The server accepts and reads but never answers; the client gives up after 0.1 s."""
    received = []

    async def silent(stream):
        received.append(await read_all(stream))  # the ClientHello, then EOF when we close

    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            port = await start_server(tg, silent)
            plain = await trapline.open_tcp_stream("127.0.0.1", port)
            tls = TLSStream(plain, client_ctx, server_hostname="localhost")
            with trapline.move_on_after(0.1) as scope:
                await tls.do_handshake()
            assert scope.cancelled_caught
            for call in (tls.do_handshake, tls.recv, lambda: tls.send_all(b"x")):
                with pytest.raises(trapline.BrokenResourceError, match="handshake"):
                    await call()
            await tls.aclose()
            assert plain.socket.fileno() == -1
            with pytest.raises(trapline.ClosedResourceError):
                await tls.recv()
            while not received:
                await trapline.sleep(0.001)
            tg.cancel_scope.cancel()
    assert received[0][:1] == b"\x16"  # a TLS handshake record, then EOF (no alert, no more)


async def test_cancelled_open_tcp_stream_handshake_leaks_no_socket(client_ctx):
    async def silent(stream):
        await read_all(stream)

    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            port = await start_server(tg, silent)
            with trapline.move_on_after(0.1) as scope:
                await trapline.open_tcp_stream(
                    "127.0.0.1", port, ssl_context=client_ctx, server_hostname="localhost"
                )
            assert scope.cancelled_caught
            tg.cancel_scope.cancel()


async def test_handshake_runs_once_for_concurrent_and_implicit_callers(server_ctx, client_ctx):
    a, b = memory_stream_pair()
    client = TLSStream(a, client_ctx, server_hostname="localhost")
    server = TLSStream(b, server_ctx, server_side=True)
    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            tg.spawn(client.do_handshake)
            tg.spawn(client.do_handshake)  # waits for the first
            tg.spawn(client.send_all, b"implicit\n")  # waits too, then sends
            assert await server.readline() == b"implicit\n"  # recv runs the server's handshake
        await client.do_handshake()  # done already: just a checkpoint
        assert client.version() == server.version() == "TLSv1.3"
    await client.aclose()
    await server.aclose()


async def test_tls_1_3_server_holds_session_tickets_until_its_first_write(server_ctx, client_ctx):
    a, b = memory_stream_pair()
    client, server = await tls_pair(client_ctx, server_ctx, (a, b))
    assert len(a._incoming.data) == 0  # nothing waits for a client that may never read
    with trapline.fail_after(10):
        await server.send_all(b"hello")
        assert len(a._incoming.data) > 200  # tickets and the record
        assert await client.recv() == b"hello"
    await client.aclose()
    await server.aclose()


# -- ALPN ------------------------------------------------------------------------------------------


async def test_alpn_negotiation(server_ctx, client_ctx):
    server_ctx.set_alpn_protocols(["h2", "http/1.1"])
    client_ctx.set_alpn_protocols(["http/1.1"])
    client, server = await tls_pair(client_ctx, server_ctx)
    assert client.selected_alpn_protocol() == server.selected_alpn_protocol() == "http/1.1"
    await client.aclose()
    await server.aclose()


async def test_no_alpn_when_one_side_does_not_offer_it(server_ctx, client_ctx):
    client_ctx.set_alpn_protocols(["h2"])
    client, server = await tls_pair(client_ctx, server_ctx)
    assert client.selected_alpn_protocol() is None
    assert server.selected_alpn_protocol() is None
    await client.aclose()
    await server.aclose()


def test_information_before_the_handshake(client_ctx):
    a, _ = memory_stream_pair()
    tls = TLSStream(a, client_ctx, server_hostname="localhost")
    assert tls.version() is None and tls.cipher() is None
    assert tls.selected_alpn_protocol() is None
    assert "client" in repr(tls)
    with pytest.raises(ValueError):
        tls.getpeercert()
    with pytest.raises(ValueError, match="server_hostname"):
        TLSStream(a, client_ctx)  # check_hostname needs a name (wrap_bio would not check it)
    with pytest.raises(ValueError, match="server_hostname"):
        TLSStream(a, client_ctx, server_hostname="localhost", server_side=True)


# -- closing ---------------------------------------------------------------------------------------


async def test_clean_close_reads_as_end_of_stream(server_ctx, client_ctx):
    client, server = await tls_pair(client_ctx, server_ctx)
    with trapline.fail_after(10):
        await client.send_all(b"all of it")
        await client.aclose()  # close_notify, then the transport
        assert await read_all(server) == b"all of it"
        assert await server.recv() == b""
    await server.aclose()


async def test_abrupt_close_is_a_broken_resource_error(server_ctx, client_ctx):
    """A transport EOF without close_notify may be a truncation attack: not a clean end."""
    client, server = await tls_pair(client_ctx, server_ctx)
    with trapline.fail_after(10):
        await client.send_all(b"partial")
        await client.transport_stream.aclose()  # no close_notify
        assert await server.recv() == b"partial"
        with pytest.raises(trapline.BrokenResourceError, match="close_notify") as info:
            await server.recv()
        assert isinstance(info.value.__cause__, ssl.SSLEOFError)
        with pytest.raises(trapline.BrokenResourceError):
            await server.recv()
    await server.aclose()
    await client.aclose()  # its transport is closed already: still fine


async def test_abrupt_close_over_tcp(server_ctx, client_ctx):
    errors = []

    async def handler(stream):
        try:
            await read_all(stream)
        except trapline.BrokenResourceError as error:
            errors.append(error)

    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            port = await start_server(tg, handler, server_ctx)
            stream = await trapline.open_tcp_stream(
                "127.0.0.1", port, ssl_context=client_ctx, server_hostname="localhost"
            )
            await stream.send_all(b"cut short")
            await stream.transport_stream.aclose()
            await stream.aclose()
            while not errors:
                await trapline.sleep(0.001)
            tg.cancel_scope.cancel()
    assert "close_notify" in str(errors[0])


async def test_send_eof_is_a_tls_1_3_half_close(server_ctx, client_ctx):
    client, server = await tls_pair(client_ctx, server_ctx)
    with trapline.fail_after(10):
        await client.send_all(b"question")
        await client.send_eof()
        await client.send_eof()  # harmless
        with pytest.raises(trapline.ClosedResourceError, match="send_eof"):
            await client.send_all(b"more")
        assert await read_all(server) == b"question"
        await server.send_all(b"answer")  # the other direction still works
        await server.aclose()
        assert await read_all(client) == b"answer"
    await client.aclose()


async def test_send_eof_keeps_records_that_arrived_but_were_not_read_yet(server_ctx, client_ctx):
    """``ssl.SSLObject.unwrap()`` looks for the peer's close_notify among the received records
    and would fail on application data it meets there."""
    client, server = await tls_pair(client_ctx, server_ctx)
    with trapline.fail_after(10):
        await server.send_all(b"a" * 100)
        await server.send_all(b"b" * 100)
        assert await client.recv(100) == b"a" * 100  # the "b" record waits in the TLS buffer
        await client.send_eof()
        assert await client.recv() == b"b" * 100
        assert await server.recv() == b""
        await server.aclose()
        assert await client.recv() == b""
    await client.aclose()


async def test_send_eof_refuses_on_tls_1_2(server_ctx, client_ctx):
    client_ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    client, server = await tls_pair(client_ctx, server_ctx)
    assert client.version() == "TLSv1.2"
    with pytest.raises(NotImplementedError, match=r"TLS 1\.3"):
        await client.send_eof()
    with trapline.fail_after(10):
        await client.send_all(b"still usable")  # the refusal broke nothing
        assert await server.recv() == b"still usable"
        await client.aclose()
        assert await server.recv() == b""
    await server.aclose()


async def test_tls_1_2_works_end_to_end(server_ctx, client_ctx):
    server_ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    client, server = await tls_pair(client_ctx, server_ctx)
    assert client.version() == server.version() == "TLSv1.2"
    payload = bytes(range(256)) * 1000
    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            tg.spawn(client.send_all, payload)
            assert await server.readexactly(len(payload)) == payload
    await client.aclose()
    await server.aclose()


async def test_aclose_gives_up_on_close_notify_when_the_transport_is_stuck(
    server_ctx, client_ctx, virtual_clock
):
    """The peer stopped reading and the pipe is full: aclose waits CLOSE_NOTIFY_TIMEOUT for room
    for the close_notify, then closes anyway, even when called from a cancelled scope."""
    from trapline._tls import CLOSE_NOTIFY_TIMEOUT

    a, b = memory_stream_pair(max_buffer=1024)
    client, server = await tls_pair(client_ctx, server_ctx, (a, b))
    await a.send_all(b"\0" * 1024)  # fill the pipe behind the TLS stream's back
    start = trapline.current_time()
    with trapline.CancelScope() as scope:
        scope.cancel()
        await client.aclose()
    assert trapline.current_time() - start == CLOSE_NOTIFY_TIMEOUT
    assert a._closed
    await server.aclose()


# -- concurrency and cancellation ------------------------------------------------------------------


async def test_cancelled_send_while_the_transport_is_sending_breaks_the_stream(
    server_ctx, client_ctx
):
    client, server = await tls_pair(client_ctx, server_ctx)
    with trapline.move_on_after(0.05) as scope:
        await client.send_all(b"x" * (1024 * 1024))  # nobody reads: blocks in the transport
    assert scope.cancelled_caught
    with pytest.raises(trapline.BrokenResourceError, match="cancelled"):
        await client.send_all(b"more")
    with pytest.raises(trapline.BrokenResourceError):
        await client.recv()
    await client.aclose()  # no close_notify after a cut record: just closes
    with trapline.fail_after(10), pytest.raises(trapline.BrokenResourceError):
        await read_all(server)  # a prefix, then an EOF without close_notify
    await server.aclose()


async def test_send_cancelled_before_it_starts_leaves_the_stream_usable(server_ctx, client_ctx):
    client, server = await tls_pair(client_ctx, server_ctx)
    with trapline.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trapline.Cancelled):
            await client.send_all(b"never")
    with trapline.fail_after(10):
        await client.send_all(b"after")
        await client.aclose()
        assert await read_all(server) == b"after"
    await server.aclose()


async def test_concurrent_senders_and_receivers_are_refused(server_ctx, client_ctx):
    client, server = await tls_pair(client_ctx, server_ctx)
    with trapline.fail_after(10):
        async with trapline.TaskGroup() as tg:
            tg.spawn(client.send_all, b"y" * (1024 * 1024))
            tg.spawn(client.recv)
            await trapline.sleep(0.01)
            with pytest.raises(trapline.BusyResourceError):
                await client.send_all(b"second")
            with pytest.raises(trapline.BusyResourceError):
                await client.send_eof()
            with pytest.raises(trapline.BusyResourceError):
                await client.recv()
            assert len(await server.readexactly(1024 * 1024)) == 1024 * 1024
            await server.send_all(b"wake the reader")
    await client.aclose()
    await server.aclose()


async def test_tls_inside_tls(server_ctx, client_ctx):
    """The transport can be any Stream, including another TLS stream."""
    outer = await tls_pair(client_ctx, server_ctx)
    client, server = await tls_pair(client_ctx, server_ctx, outer)
    with trapline.fail_after(10):
        await client.send_all(b"nested\n")
        assert await server.readline() == b"nested\n"
        await client.aclose()  # closes the outer client too
        assert await server.recv() == b""
        assert await outer[1].recv() == b""
    await server.aclose()


# -- the stream conformance suite, over TLS --------------------------------------------------------

_NOT_FOR_TLS = {
    # A send cancelled while the transport is sending breaks a TLS stream (a record may be cut):
    # see test_cancelled_send_while_the_transport_is_sending_breaks_the_stream.
    "test_send_all_blocks_when_the_peer_stops_reading",
}
for _name in dir(conformance):
    if _name.startswith("test_") and _name not in _NOT_FOR_TLS:
        globals()[_name] = getattr(conformance, _name)


async def _tls_over(kind: str) -> tuple[Stream, Stream]:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    transports = await (conformance.tcp4_pair() if kind == "tcp" else conformance.memory_pair())
    return await tls_pair(client_ctx, server_ctx, transports)


@pytest.fixture(params=["tcp", "memory"], ids=["tls-over-tcp", "tls-over-memory"])
def stream_pair(request: pytest.FixtureRequest) -> Iterator[tuple[Stream, Stream]]:
    """A connected TLS ``(client, server)`` pair; both closed afterwards."""
    client, server = trapline.run(_tls_over, request.param)
    try:
        yield client, server
    finally:

        async def close_both() -> None:
            await client.aclose()
            await server.aclose()

        trapline.run(close_both)
