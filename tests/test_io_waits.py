"""Readiness waits on file descriptors (the kernel's I/O backend)."""

import socket

import pytest

import trapline
from trapline.lowlevel import io_statistics, notify_closing, wait_readable, wait_writable


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


async def test_wait_readable_wakes_when_data_arrives(pair):
    a, b = pair
    got = []

    async def reader():
        await wait_readable(a)
        got.append(a.recv(100))

    async with trapline.TaskGroup() as tg:
        tg.spawn(reader)
        await trapline.sleep(0.01)
        assert got == []
        b.send(b"hello")
    assert got == [b"hello"]


async def test_interest_stays_registered_between_waits_and_is_dropped_when_unwanted(pair):
    a, b = pair
    for i in range(3):
        b.send(b"x")
        await wait_readable(a)
        assert a.recv(10) == b"x"
        assert io_statistics().registered_fds == 1
    # Data arrives while nobody waits: the event is spurious and the interest is dropped,
    # so the loop does not spin on a readable socket.
    b.send(b"y")
    await trapline.sleep(0.01)
    assert io_statistics().registered_fds == 0
    await wait_readable(a)  # re-registers and sees the pending data at once
    assert a.recv(10) == b"y"


async def test_wait_writable_returns_for_a_writable_socket(pair):
    a, _ = pair
    with trapline.fail_after(5):
        await wait_writable(a)


async def test_two_readers_on_one_fd_is_an_error(pair):
    a, b = pair
    async with trapline.TaskGroup() as tg:
        tg.spawn(wait_readable, a)
        await trapline.sleep(0.01)
        with pytest.raises(trapline.BusyResourceError):
            await wait_readable(a)
        b.send(b"z")


async def test_notify_closing_wakes_waiters_with_closed_resource_error(pair):
    a, _ = pair
    errors = []

    async def reader():
        try:
            await wait_readable(a)
        except trapline.ClosedResourceError as error:
            errors.append(error)

    async with trapline.TaskGroup() as tg:
        tg.spawn(reader)
        await trapline.sleep(0.01)
        notify_closing(a)
    assert len(errors) == 1
    assert io_statistics().registered_fds == 0


async def test_cancelled_wait_leaves_no_waiter(pair):
    a, b = pair
    with trapline.move_on_after(0.01):
        await wait_readable(a)
    assert io_statistics().tasks_waiting == 0
    b.send(b"late")
    await wait_readable(a)
    assert a.recv(10) == b"late"


async def test_reused_fd_number_does_not_get_old_wakeups():
    a, b = socket.socketpair()
    a.setblocking(False)
    fd = a.fileno()
    with trapline.move_on_after(0.01):
        await wait_readable(a)
    notify_closing(a)
    a.close()
    b.close()
    c, d = socket.socketpair()
    try:
        c.setblocking(False)
        assert c.fileno() == fd or d.fileno() == fd
        new = c if c.fileno() == fd else d
        other = d if new is c else c
        with trapline.move_on_after(0.05) as scope:
            await wait_readable(new)
        assert scope.cancelled_caught  # nothing was sent: no stale wakeup
        other.send(b"fresh")
        with trapline.fail_after(5):
            await wait_readable(new)
        assert new.recv(10) == b"fresh"
    finally:
        c.close()
        d.close()
