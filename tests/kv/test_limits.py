"""Bad input and limits: clear errors, only the offending client is closed, memory bounded."""

import socket

from conftest import KVThread, RawClient

import trapline
import trapline.kv
from trapline.kv._resp import RequestParser
from trapline.testing import memory_stream_pair


def _raw_exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_protocol_errors_match_redis_and_close_only_that_client(redis_port, kv_port):
    bystander = RawClient(kv_port)
    try:
        for bad in [
            b"*1\r\n$600000000\r\n",  # over proto-max-bulk-len (512 MB)
            b"*1\r\n$-5\r\n",
            b"*abc\r\n",
            b"*1\r\n+PING\r\n",
            b'SET "unbalanced\r\n',
        ]:
            assert _raw_exchange(kv_port, bad) == _raw_exchange(redis_port, bad), bad
            assert bystander.call("PING") == b"+PONG\r\n"
    finally:
        bystander.close()


def test_http_request_is_dropped_like_redis(redis_port, kv_port):
    request = b"POST / HTTP/1.1\r\nHost: example\r\n\r\n"
    assert _raw_exchange(kv_port, request) == _raw_exchange(redis_port, request) == b""


def test_declared_bulk_length_allocates_nothing_until_bytes_arrive():
    parser = RequestParser()
    parser.feed(b"*2\r\n$3\r\nSET\r\n$500000000\r\nabc")
    assert parser.next_command() is None
    assert parser.buffered() < 100
    parser.feed(b"d" * 1000)
    assert parser.next_command() is None
    assert parser.buffered() < 2000


def test_maxclients_refuses_the_extra_client_only():
    server = KVThread(trapline.kv.ServerConfig(maxclients=2)).start()
    try:
        first, second = RawClient(server.port), RawClient(server.port)
        assert first.call("PING") == second.call("PING") == b"+PONG\r\n"
        assert _raw_exchange(server.port, b"") == b"-ERR max number of clients reached\r\n"
        assert first.call("PING") == b"+PONG\r\n"
        first.close()
        second.close()
    finally:
        server.stop()


def test_query_buffer_limit_closes_the_offender():
    config = trapline.kv.ServerConfig(**{"client-query-buffer-limit": 1024 * 1024})
    server = KVThread(config).start()
    try:
        bystander = RawClient(server.port)
        # An argument that never ends: 2 MB into a 100 MB bulk string.
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"*2\r\n$3\r\nSET\r\n$100000000\r\n")
            try:
                for _ in range(32):
                    sock.sendall(b"x" * 65536)
            except (BrokenPipeError, ConnectionResetError):
                pass
            try:
                assert sock.recv(100) == b""
            except ConnectionResetError:
                pass
        assert bystander.call("PING") == b"+PONG\r\n"
        bystander.close()
    finally:
        server.stop()


async def test_idle_timeout_on_the_virtual_clock(virtual_clock):
    server = trapline.kv.Server(trapline.kv.ServerConfig(timeout=300))
    client_end, server_end = memory_stream_pair()

    async def serve_one():
        try:
            await server.handle(server_end)
        finally:
            await server_end.aclose()  # as serve_tcp does after the handler returns

    async with trapline.TaskGroup() as tg:
        tg.spawn(serve_one)
        await trapline.sleep(299)
        await client_end.send_all(b"PING\r\n")
        assert await client_end.recv() == b"+PONG\r\n"
        start = trapline.current_time()
        assert await client_end.recv() == b""  # closed for idling
        assert trapline.current_time() - start == 300
    await client_end.aclose()


async def test_requirepass_gives_noauth_before_auth():
    server = trapline.kv.Server(trapline.kv.ServerConfig(requirepass="pw"))
    client = server.new_client("c")
    assert server.execute(client, [b"ECHO", b"x"]) == "NOAUTH Authentication required."
    # Unauthenticated clients get Redis's tighter protocol limits too.
    parser = RequestParser()
    parser.auth_required = True
    parser.feed(b"*11\r\n")
    try:
        parser.next_command()
    except Exception as error:
        assert "unauthenticated multibulk length" in str(error)
    else:
        raise AssertionError("expected a protocol error")
