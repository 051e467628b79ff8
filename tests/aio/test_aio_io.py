"""asyncio I/O on trapline's readiness waits: streams, sockets, datagrams, Unix sockets, TLS,
subprocesses and raw add_reader/add_writer, all over loopback."""

import asyncio
import socket
import ssl
import sys

import pytest

import trapline
import trapline.aio
from trapline.aio import run_asyncio


def run(main):
    return trapline.aio.run(main)


async def _echo(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()


def test_streams_echo_over_loopback_with_concurrent_clients_and_a_large_payload():
    async def client(port, payload):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(payload)
        await writer.drain()
        writer.write_eof()
        received = await reader.read()
        writer.close()
        await writer.wait_closed()
        return received

    async def main():
        server = await asyncio.start_server(_echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            big = bytes(range(256)) * 8192  # 2 MiB: the writer's flow control kicks in
            payloads = [b"line %d\n" % i * 100 for i in range(10)] + [big]
            results = await asyncio.gather(*(client(port, p) for p in payloads))
        return results == payloads

    assert run(main())


def test_readline_readexactly_and_eof():
    async def handler(reader, writer):
        writer.write(b"hello\nworld!rest")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main():
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            line = await reader.readline()
            exact = await reader.readexactly(6)
            with pytest.raises(asyncio.IncompleteReadError):
                await reader.readexactly(100)
            writer.close()
            await writer.wait_closed()
        return line, exact

    assert run(main()) == (b"hello\n", b"world!")


def test_add_reader_add_writer_and_remove():
    async def main():
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        try:
            got = []
            readable = asyncio.Event()

            def on_readable():
                got.append(b.recv(100))
                readable.set()

            loop.add_reader(b, on_readable)
            writable = loop.create_future()
            loop.add_writer(a, lambda: writable.done() or writable.set_result(True))
            await writable
            assert loop.remove_writer(a)
            a.send(b"ping")
            await readable.wait()
            readable.clear()
            a.send(b"pong")
            await readable.wait()
            assert loop.remove_reader(b)
            assert not loop.remove_reader(b)
            a.send(b"unseen")
            await asyncio.sleep(0.01)
            return got
        finally:
            a.close()
            b.close()

    assert run(main()) == [b"ping", b"pong"]


def test_sock_methods():
    async def main():
        loop = asyncio.get_running_loop()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        client = socket.socket()
        client.setblocking(False)
        with listener, client:
            accept = asyncio.create_task(loop.sock_accept(listener))
            await loop.sock_connect(client, listener.getsockname())
            conn, _ = await accept
            with conn:
                conn.setblocking(False)
                data = b"x" * 3_000_000
                send = asyncio.create_task(loop.sock_sendall(client, data))
                received = bytearray()
                while len(received) < len(data):
                    received += await loop.sock_recv(conn, 65536)
                await send
                buf = bytearray(10)
                await loop.sock_sendall(conn, b"into")
                n = await loop.sock_recv_into(client, buf)
                return len(received), bytes(buf[:n])

    assert run(main()) == (3_000_000, b"into")


def test_datagram_endpoint_echo():
    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            self.transport.sendto(data.upper(), addr)

    class Client(asyncio.DatagramProtocol):
        def __init__(self):
            self.replies = asyncio.Queue()

        def datagram_received(self, data, addr):
            self.replies.put_nowait(data)

    async def main():
        loop = asyncio.get_running_loop()
        server, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
        address = server.get_extra_info("sockname")
        client, protocol = await loop.create_datagram_endpoint(Client, remote_addr=address)
        try:
            client.sendto(b"hello")
            client.sendto(b"again")
            return [await protocol.replies.get(), await protocol.replies.get()]
        finally:
            client.close()
            server.close()
            await asyncio.sleep(0)

    assert run(main()) == [b"HELLO", b"AGAIN"]


def test_unix_server_and_connection(tmp_path):
    path = str(tmp_path / "echo.sock")

    async def main():
        server = await asyncio.start_unix_server(_echo, path)
        async with server:
            reader, writer = await asyncio.open_unix_connection(path)
            writer.write(b"over a unix socket\n")
            line = await reader.readline()
            writer.close()
            await writer.wait_closed()
        return line

    assert run(main()) == b"over a unix socket\n"


def test_tls_and_start_tls():
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)

    async def tls_handler(reader, writer):
        line = await reader.readline()
        writer.write(b"tls:" + line)
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def starttls_handler(reader, writer):
        assert await reader.readline() == b"STARTTLS\n"
        writer.write(b"OK\n")
        await writer.drain()
        await writer.start_tls(server_ctx)
        line = await reader.readline()
        writer.write(b"upgraded:" + line)
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main():
        results = []
        server = await asyncio.start_server(tls_handler, "127.0.0.1", 0, ssl=server_ctx)
        async with server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=client_ctx, server_hostname="localhost"
            )
            writer.write(b"hi\n")
            results.append(await reader.readline())
            writer.close()
            await writer.wait_closed()
        server = await asyncio.start_server(starttls_handler, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"STARTTLS\n")
            assert await reader.readline() == b"OK\n"
            await writer.start_tls(client_ctx, server_hostname="localhost")
            writer.write(b"secret\n")
            results.append(await reader.readline())
            writer.close()
            await writer.wait_closed()
        return results

    assert run(main()) == [b"tls:hi\n", b"upgraded:secret\n"]


def test_subprocess_exec_and_shell():
    async def main():
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import sys; sys.stdout.write(sys.stdin.read().upper()); sys.exit(3)",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await process.communicate(b"through a pipe")
        shell = await asyncio.create_subprocess_shell("echo shell", stdout=asyncio.subprocess.PIPE)
        shell_out, _ = await shell.communicate()
        return out, process.returncode, shell_out, shell.returncode

    assert run(main()) == (b"THROUGH A PIPE", 3, b"shell\n", 0)


def test_getaddrinfo_and_getnameinfo():
    async def main():
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM)
        name = await loop.getnameinfo(("127.0.0.1", 80), socket.NI_NUMERICHOST)
        return infos[0][4], name[0]

    assert run(main()) == (("127.0.0.1", 80), "127.0.0.1")


async def test_asyncio_client_talks_to_a_trapline_server_in_the_same_run():
    async def handler(stream):
        async with stream:
            while data := await stream.recv():
                await stream.send_all(b"trapline:" + data)

    async with trapline.TaskGroup() as tg:
        listeners = await tg.start(trapline.serve_tcp, handler, 0)
        port = listeners[0].socket.getsockname()[1]

        async def client():
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"hello")
            await writer.drain()
            reply = await reader.readexactly(14)
            writer.close()
            await writer.wait_closed()
            return reply

        assert await run_asyncio(client()) == b"trapline:hello"
        tg.cancel_scope.cancel()


async def test_trapline_client_talks_to_an_asyncio_server_in_the_same_run():
    server = await run_asyncio(asyncio.start_server(_echo, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    stream = await trapline.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(b"asyncio echo")
        assert await stream.recv() == b"asyncio echo"
    server.close()
    await run_asyncio(server.wait_closed())


def test_connections_closed_at_eof_leave_no_registration_for_reused_fd_numbers():
    # A transport closed at the peer's EOF unregisters its fd while its watcher has just been
    # woken to wait again; that wait must not register the fd anew, or a later socket that
    # gets the same fd number would never be reported readable (it used to hang here).
    async def handler(reader, writer):
        while line := await reader.readline():
            writer.write(line)
        writer.close()

    async def main():
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server, asyncio.timeout(10):
            for round_ in range(5):
                for i in range(4):
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.write(b"%d %d\n" % (round_, i))
                    assert await reader.readline() == b"%d %d\n" % (round_, i)
                    writer.write_eof()
                    assert await reader.read() == b""
                    writer.close()
                    await writer.wait_closed()

    run(main())
