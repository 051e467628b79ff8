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


class PassCounter(trapline.lowlevel.Instrument):
    def __init__(self):
        self.io_waits = 0

    def before_io_wait(self, timeout):
        self.io_waits += 1


async def test_registered_once_and_an_unread_socket_does_not_spin_the_loop(pair):
    a, b = pair
    for _ in range(3):
        b.send(b"x")
        await wait_readable(a)
        assert a.recv(10) == b"x"
        assert io_statistics().registered_fds == 1
    # Data arrives while nobody waits. The loop must not spin on the readable socket.
    counter = PassCounter()
    trapline.lowlevel.add_instrument(counter)
    b.send(b"y")
    await trapline.sleep(0.05)
    trapline.lowlevel.remove_instrument(counter)
    assert counter.io_waits <= 3
    # The edge that nobody waited for is not lost: the next wait sees the data at once.
    with trapline.fail_after(5):
        await wait_readable(a)
    assert a.recv(10) == b"y"


async def test_a_stale_readiness_hint_costs_one_extra_wait_and_no_lost_wakeup(pair):
    a, b = pair
    b.send(b"0")
    await wait_readable(a)  # registers interest in a
    assert a.recv(10) == b"0"
    b.send(b"1")
    await trapline.sleep(0.01)  # reported while nobody waits: a hint
    assert a.recv(10) == b"1"  # read without waiting: the hint is now stale
    await wait_readable(a)  # returns at once (stale hint), the caller's recv would say EAGAIN
    with trapline.move_on_after(0.05) as scope:
        await wait_readable(a)  # now it really waits
    assert scope.cancelled_caught
    b.send(b"2")
    with trapline.fail_after(5):
        await wait_readable(a)
    assert a.recv(10) == b"2"


async def test_a_wait_in_a_cancelled_task_registers_nothing(pair):
    # Between notify_closing and close, a cancelled task's wait must not register the fd again:
    # the registration would outlive the socket and hide a new socket with the same fd number.
    a, b = pair
    with trapline.CancelScope() as scope:
        scope.cancel()
        await wait_readable(a)
    assert scope.cancelled_caught
    assert io_statistics().registered_fds == 0
    # A later wait registers as usual and is woken.
    b.send(b"x")
    with trapline.fail_after(5):
        await wait_readable(a)
    assert io_statistics().registered_fds == 1


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


def test_fake_backend_makes_fd_waits_deterministic():
    from trapline.testing import FakeBackend, VirtualClock

    backend = FakeBackend()
    order = []

    async def reader(fd):
        await wait_readable(fd)
        order.append((fd, trapline.current_time()))

    async def main():
        async with trapline.TaskGroup() as tg:
            tg.spawn(reader, 100)
            tg.spawn(reader, 200)
            await trapline.sleep(5)
            backend.set_readable(200)
            await trapline.sleep(1)
            backend.set_readable(100)

    trapline.run(main, clock=VirtualClock(), backend=backend)
    assert order == [(200, 5.0), (100, 6.0)]


def test_fake_backend_refuses_to_wait_forever():
    from trapline.testing import FakeBackend

    async def main():
        await wait_readable(7)

    with pytest.raises(RuntimeError, match="wait on fds 7 and nothing is pending"):
        trapline.run(main, backend=FakeBackend())
