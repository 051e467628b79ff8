"""UDP sockets over loopback."""

import socket

import pytest

import trapline


async def test_sendto_recvfrom_and_async_for():
    async with await trapline.open_udp_socket() as server:
        port = server.local_address[1]
        async with await trapline.open_udp_socket(remote_addr=("127.0.0.1", port)) as client:
            for i in range(3):
                await client.send(b"ping %d" % i)
            got = []
            async for data, addr in server:
                got.append(data)
                await server.sendto(data.upper(), addr)
                if len(got) == 3:
                    break
            assert got == [b"ping 0", b"ping 1", b"ping 2"]
            replies = [await client.recv() for _ in range(3)]
            assert replies == [b"PING 0", b"PING 1", b"PING 2"]
            assert client.remote_address == ("127.0.0.1", port)


async def test_recvfrom_is_cancellable_and_consumes_nothing():
    async with await trapline.open_udp_socket() as sock:
        with trapline.move_on_after(0.02) as scope:
            await sock.recvfrom()
        assert scope.cancelled_caught
        await sock.sendto(b"self", sock.local_address)
        with trapline.fail_after(5):
            data, addr = await sock.recvfrom()
        assert (data, addr) == (b"self", sock.local_address)


async def test_ipv6_loopback():
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    async with await trapline.open_udp_socket(local_addr=("::1", 0)) as a:
        async with await trapline.open_udp_socket(remote_addr=a.local_address[:2]) as b:
            await b.send(b"six")
            with trapline.fail_after(5):
                assert (await a.recvfrom())[0] == b"six"


async def test_closing_wakes_a_blocked_receiver():
    sock = await trapline.open_udp_socket()
    errors = []

    async def reader():
        try:
            await sock.recvfrom()
        except trapline.ClosedResourceError as error:
            errors.append(error)

    async with trapline.TaskGroup() as tg:
        tg.spawn(reader)
        await trapline.sleep(0.01)
        sock.close()
    assert len(errors) == 1
