"""Channels (open_channel) and Queue: hand-off, FIFO order, closing, cloning, cancellation.

Blocking tests run on the virtual clock and assert the exact time each item moves.
"""

import dataclasses
import math
import random

import pytest

import trapline
from trapline._channel import (
    ChannelStatistics,
    Queue,
    QueueStatistics,
    ReceiveChannel,
    SendChannel,
    open_channel,
)


def _stats(send_or_receive):
    s = send_or_receive.statistics()
    return (
        s.current_buffer_used,
        s.open_send_channels,
        s.open_receive_channels,
        s.tasks_waiting_send,
        s.tasks_waiting_receive,
    )


# -- open_channel ------------------------------------------------------------------------------


async def test_open_channel_validates_max_buffer():
    for bad in (1.5, "1", None, True):
        with pytest.raises(TypeError):
            open_channel(bad)
    with pytest.raises(ValueError):
        open_channel(-1)
    send, receive = open_channel[int](math.inf)
    assert isinstance(send, SendChannel) and isinstance(receive, ReceiveChannel)
    for i in range(1000):
        send.send_nowait(i)
    assert send.statistics() == ChannelStatistics(
        current_buffer_used=1000,
        max_buffer=math.inf,
        open_send_channels=1,
        open_receive_channels=1,
        tasks_waiting_send=0,
        tasks_waiting_receive=0,
    )
    assert [receive.receive_nowait() for _ in range(1000)] == list(range(1000))


async def test_rendezvous_send_waits_for_a_receiver(virtual_clock):
    send, receive = open_channel(0)
    log = []

    async def sender():
        for item in "ab":
            await send.send(item)
            log.append(("sent", item, trapline.current_time()))

    async with trapline.TaskGroup() as tg:
        tg.spawn(sender)
        await trapline.sleep(2)
        with pytest.raises(trapline.WouldBlock):
            send.send_nowait("x")
        assert _stats(receive) == (0, 1, 1, 1, 0)
        assert await receive.receive() == "a"
        assert trapline.current_time() == 2.0
        await trapline.sleep(3)
        assert receive.receive_nowait() == "b"
    assert log == [("sent", "a", 2.0), ("sent", "b", 5.0)]
    with pytest.raises(trapline.WouldBlock):
        receive.receive_nowait()


async def test_receiver_waiting_gets_the_value_handed_over(virtual_clock):
    send, receive = open_channel(0)
    got = []

    async def receiver(name):
        got.append((name, await receive.receive(), trapline.current_time()))

    async with trapline.TaskGroup() as tg:
        for name in "abc":
            tg.spawn(receiver, name)
        await trapline.sleep(1)
        assert receive.statistics().tasks_waiting_receive == 3
        # With receivers waiting, even a rendezvous channel accepts send_nowait.
        send.send_nowait(1)
        await trapline.sleep(1)
        await send.send(2)
        await trapline.sleep(1)
        send.send_nowait(3)
    assert got == [("a", 1, 1.0), ("b", 2, 2.0), ("c", 3, 3.0)]


async def test_buffered_channel_blocks_senders_only_when_full_and_keeps_order(virtual_clock):
    send, receive = open_channel(2)
    log = []

    async def sender(name, delay):
        await trapline.sleep(delay)
        await send.send(name)
        log.append((name, trapline.current_time()))

    send.send_nowait(0)
    send.send_nowait(1)
    with pytest.raises(trapline.WouldBlock):
        send.send_nowait(2)
    async with trapline.TaskGroup() as tg:
        tg.spawn(sender, "late", 0.2)
        tg.spawn(sender, "early", 0.1)
        await trapline.sleep(1)
        assert _stats(send) == (2, 1, 1, 2, 0)
        items = []
        for _ in range(4):
            items.append(await receive.receive())
            await trapline.sleep(1)
        # Buffered items first, then the parked senders' items in arrival order.
        assert items == [0, 1, "early", "late"]
    assert log == [("early", 1.0), ("late", 2.0)]
    assert _stats(send) == (0, 1, 1, 0, 0)


async def test_async_for_ends_when_every_sender_is_closed(virtual_clock):
    send, receive = open_channel(1)

    async def producer(send, name, count):
        async with send:
            for i in range(count):
                await send.send((name, i))
                await trapline.sleep(1)

    got = []
    async with trapline.TaskGroup() as tg:
        tg.spawn(producer, send.clone(), "a", 2)
        tg.spawn(producer, send, "b", 3)
        async for item in receive:
            got.append((item, trapline.current_time()))
    assert sorted(item for item, _ in got) == [("a", 0), ("a", 1), ("b", 0), ("b", 1), ("b", 2)]
    assert trapline.current_time() == 3.0
    assert got[-1] == (("b", 2), 2.0)
    with pytest.raises(trapline.EndOfChannel):
        await receive.receive()
    with pytest.raises(trapline.EndOfChannel):
        receive.receive_nowait()


async def test_closing_the_last_send_handle_lets_receivers_drain_then_end(virtual_clock):
    send, receive = open_channel(5)
    clone = send.clone()
    for i in range(3):
        send.send_nowait(i)
    send.close()
    assert send.closed
    assert _stats(receive) == (3, 1, 1, 0, 0)
    clone.send_nowait(3)  # the clone is still open
    clone.close()
    assert _stats(receive) == (4, 0, 1, 0, 0)
    assert [await receive.receive() for _ in range(4)] == [0, 1, 2, 3]
    with pytest.raises(trapline.EndOfChannel):
        await receive.receive()


async def test_blocked_receivers_get_end_of_channel_when_senders_close(virtual_clock):
    send, receive = open_channel(0)
    clone = send.clone()
    ended = []

    async def receiver(handle, name):
        with pytest.raises(trapline.EndOfChannel):
            await handle.receive()
        ended.append((name, trapline.current_time()))

    async with trapline.TaskGroup() as tg:
        tg.spawn(receiver, receive, "a")
        tg.spawn(receiver, receive.clone(), "b")
        await trapline.sleep(1)
        send.close()
        await trapline.sleep(1)
        assert ended == []  # the clone keeps the channel open
        await clone.aclose()
    assert ended == [("a", 2.0), ("b", 2.0)]
    assert receive.statistics().tasks_waiting_receive == 0


async def test_sending_after_every_receiver_closed_is_broken(virtual_clock):
    send, receive = open_channel(3)
    send.send_nowait("dropped")
    clone = receive.clone()
    receive.close()
    send.send_nowait("still fine")  # the clone is open
    assert clone.receive_nowait() == "dropped"
    clone.close()
    assert _stats(send) == (0, 1, 0, 0, 0)  # the buffer is dropped with the last receiver
    with pytest.raises(trapline.BrokenResourceError):
        send.send_nowait(1)
    with pytest.raises(trapline.BrokenResourceError):
        await send.send(1)


async def test_blocked_senders_get_broken_resource_error_when_receivers_close(virtual_clock):
    send, receive = open_channel(0)
    broken = []

    async def sender(handle, item):
        with pytest.raises(trapline.BrokenResourceError):
            await handle.send(item)
        broken.append((item, trapline.current_time()))

    async with trapline.TaskGroup() as tg:
        tg.spawn(sender, send, 1)
        tg.spawn(sender, send.clone(), 2)
        await trapline.sleep(1)
        assert receive.statistics().tasks_waiting_send == 2
        await receive.aclose()
    assert broken == [(1, 1.0), (2, 1.0)]
    assert send.statistics().tasks_waiting_send == 0


async def test_using_a_closed_handle_raises_closed_resource_error():
    send, receive = open_channel(1)
    send.close()
    receive.close()
    send.close()  # idempotent
    receive.close()
    for op in (
        lambda: send.send_nowait(1),
        send.clone,
        receive.receive_nowait,
        receive.clone,
    ):
        with pytest.raises(trapline.ClosedResourceError):
            op()
    with pytest.raises(trapline.ClosedResourceError):
        await send.send(1)
    with pytest.raises(trapline.ClosedResourceError):
        await receive.receive()
    assert "closed" in repr(send) and "closed" in repr(receive)


async def test_tasks_blocked_on_a_handle_closed_by_another_task_get_closed_resource_error(
    virtual_clock,
):
    send, receive = open_channel(0)
    other_send = send.clone()
    other_receive = receive.clone()
    log = []

    async def blocked(name, fn, *args):
        try:
            await fn(*args)
        except trapline.ClosedResourceError:
            log.append((name, "closed", trapline.current_time()))

    async with trapline.TaskGroup() as tg:
        tg.spawn(blocked, "send", send.send, "lost")
        tg.spawn(blocked, "other send", other_send.send, "kept")
        await trapline.sleep(1)
        send.close()
        await trapline.sleep(1)
        # Only the task blocked on the closed handle was woken; its item is gone.
        assert receive.statistics().tasks_waiting_send == 1
        assert receive.receive_nowait() == "kept"
        tg.spawn(blocked, "receive", receive.receive)
        tg.spawn(blocked, "other receive", other_receive.receive)
        await trapline.sleep(1)
        receive.close()
        await trapline.sleep(1)
        assert other_receive.statistics().tasks_waiting_receive == 1
        other_send.send_nowait("for the other receiver")
    assert log == [("send", "closed", 1.0), ("receive", "closed", 3.0)]


async def test_cancelled_sender_does_not_deliver_its_item(virtual_clock):
    send, receive = open_channel(0)

    async def sender(item, timeout):
        with trapline.move_on_after(timeout):
            await send.send(item)

    async with trapline.TaskGroup() as tg:
        tg.spawn(sender, "withdrawn", 1)
        tg.spawn(sender, "delivered", 10)
        await trapline.sleep(2)
        assert receive.statistics().tasks_waiting_send == 1
        assert await receive.receive() == "delivered"
    with pytest.raises(trapline.WouldBlock):
        receive.receive_nowait()


async def test_cancelled_receiver_does_not_consume_an_item(virtual_clock):
    send, receive = open_channel(0)
    got = []

    async def receiver(name, timeout):
        with trapline.move_on_after(timeout):
            got.append((name, await receive.receive(), trapline.current_time()))

    async with trapline.TaskGroup() as tg:
        tg.spawn(receiver, "quitter", 1)
        tg.spawn(receiver, "stayer", 10)
        await trapline.sleep(2)
        assert receive.statistics().tasks_waiting_receive == 1
        send.send_nowait("item")
    assert got == [("stayer", "item", 2.0)]


async def test_send_and_receive_are_checkpoints_and_do_nothing_when_cancelled():
    send, receive = open_channel(1)
    with trapline.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trapline.Cancelled):
            await send.send("not sent")
        assert send.statistics().current_buffer_used == 0
        send.send_nowait("buffered")
        with pytest.raises(trapline.Cancelled):
            await receive.receive()
        assert send.statistics().current_buffer_used == 1
        # aclose closes even though it then raises Cancelled.
        with pytest.raises(trapline.Cancelled):
            await send.aclose()
        assert send.closed
    assert receive.receive_nowait() == "buffered"


async def test_with_and_async_with_close_the_handle():
    send, receive = open_channel(1)
    with send.clone() as clone:
        clone.send_nowait(1)
    assert clone.closed
    async with receive.clone() as rclone:
        assert rclone.receive_nowait() == 1
    assert rclone.closed
    assert _stats(send) == (0, 1, 1, 0, 0)


async def test_async_with_does_not_replace_an_error_with_cancelled():
    send, receive = open_channel(1)
    steps = []
    with trapline.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(KeyError):
            async with send:
                raise KeyError("kept")
        steps.append(("send closed", send.closed))
        try:
            async with receive:
                pass
        except trapline.Cancelled:
            # Without an error leaving the block, closing is an ordinary checkpoint.
            steps.append(("receive closed", receive.closed))
            raise
    assert scope.cancelled_caught
    assert steps == [("send closed", True), ("receive closed", True)]


async def test_statistics_are_frozen_and_shared_by_every_handle():
    send, receive = open_channel(3)
    clone = receive.clone()
    assert send.statistics() == receive.statistics() == clone.statistics()
    assert clone.statistics().open_receive_channels == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        send.statistics().current_buffer_used = 1


# -- Queue -------------------------------------------------------------------------------------


async def test_queue_basics_unbounded_by_default():
    q = Queue()
    assert q.maxsize == 0 and q.empty() and not q.full() and q.qsize() == 0
    for i in range(100):
        q.put_nowait(i)
    assert not q.full() and q.qsize() == 100
    assert [q.get_nowait() for _ in range(100)] == list(range(100))
    with pytest.raises(trapline.WouldBlock):
        q.get_nowait()
    assert Queue(-1).maxsize == -1 and not Queue(-1).full()
    with pytest.raises(TypeError):
        Queue(2.0)
    with pytest.raises(TypeError):
        Queue(None)


async def test_bounded_queue_put_waits_while_full_fifo(virtual_clock):
    q = Queue(2)
    log = []

    async def putter(item, delay):
        await trapline.sleep(delay)
        await q.put(item)
        log.append((item, trapline.current_time()))

    await q.put("a")
    q.put_nowait("b")
    assert q.full()
    with pytest.raises(trapline.WouldBlock):
        q.put_nowait("x")
    async with trapline.TaskGroup() as tg:
        tg.spawn(putter, "d", 0.2)
        tg.spawn(putter, "c", 0.1)
        await trapline.sleep(1)
        assert q.statistics().tasks_waiting_put == 2
        got = []
        for _ in range(4):
            got.append(q.get_nowait())
            # The freed slot went straight to the longest-waiting putter.
            assert q.qsize() == min(2, 3 - len(got) + 1)
            await trapline.sleep(1)
    assert got == ["a", "b", "c", "d"]
    assert log == [("c", 1.0), ("d", 2.0)]
    assert q.empty()


async def test_queue_get_waits_and_is_handed_items_fifo(virtual_clock):
    q = Queue()
    got = []

    async def getter(name):
        got.append((name, await q.get(), trapline.current_time()))

    async with trapline.TaskGroup() as tg:
        for name in "ab":
            tg.spawn(getter, name)
        await trapline.sleep(1)
        assert q.statistics().tasks_waiting_get == 2
        q.put_nowait(1)
        assert q.qsize() == 0  # handed over, not queued
        await trapline.sleep(1)
        await q.put(2)
    assert got == [("a", 1, 1.0), ("b", 2, 2.0)]


async def test_queue_close_drains_then_ends(virtual_clock):
    q = Queue(3)
    for i in range(3):
        q.put_nowait(i)
    q.close()
    q.close()
    assert q.closed
    with pytest.raises(trapline.ClosedResourceError):
        q.put_nowait(9)
    with pytest.raises(trapline.ClosedResourceError):
        await q.put(9)
    assert await q.get() == 0
    assert [item async for item in q] == [1, 2]
    with pytest.raises(trapline.EndOfChannel):
        q.get_nowait()
    with pytest.raises(trapline.EndOfChannel):
        await q.get()
    assert "closed" in repr(q)


async def test_queue_close_wakes_blocked_getters_and_putters(virtual_clock):
    log = []

    async def expect(name, error, fn, *args):
        with pytest.raises(error):
            await fn(*args)
        log.append((name, trapline.current_time()))

    empty = Queue()
    full = Queue(1)
    full.put_nowait("kept")
    async with trapline.TaskGroup() as tg:
        tg.spawn(expect, "getter", trapline.EndOfChannel, empty.get)
        tg.spawn(expect, "putter", trapline.ClosedResourceError, full.put, "refused")
        await trapline.sleep(1)
        empty.close()
        full.close()
    assert log == [("getter", 1.0), ("putter", 1.0)]
    assert [item async for item in full] == ["kept"]  # the refused item was not added


async def test_async_for_over_a_queue_ends_after_close_and_drain(virtual_clock):
    q = Queue(1)

    async def producer():
        for i in range(3):
            await q.put(i)
            await trapline.sleep(1)
        q.close()

    got = []
    async with trapline.TaskGroup() as tg:
        tg.spawn(producer)
        async for item in q:
            got.append((item, trapline.current_time()))
    assert got == [(0, 0.0), (1, 1.0), (2, 2.0)]
    assert trapline.current_time() == 3.0


async def test_cancelled_queue_waiters_take_and_put_nothing(virtual_clock):
    q = Queue(1)
    got = []

    async def getter(name, timeout):
        with trapline.move_on_after(timeout):
            got.append((name, await q.get()))

    async def putter(item, timeout):
        with trapline.move_on_after(timeout):
            await q.put(item)

    async with trapline.TaskGroup() as tg:
        tg.spawn(getter, "quitter", 1)
        tg.spawn(getter, "stayer", 10)
        await trapline.sleep(2)
        q.put_nowait("x")
        await trapline.sleep(1)
        assert got == [("stayer", "x")]
        q.put_nowait("full")
        tg.spawn(putter, "withdrawn", 1)
        tg.spawn(putter, "queued", 10)
        await trapline.sleep(2)
        assert q.statistics().tasks_waiting_put == 1
        assert q.get_nowait() == "full"
        assert q.get_nowait() == "queued"
    assert q.empty()
    assert q.statistics().unfinished_tasks == 3  # x, full, queued; never the withdrawn one


async def test_queue_get_and_put_are_checkpoints():
    q = Queue()
    q.put_nowait(1)
    with trapline.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trapline.Cancelled):
            await q.get()
        with pytest.raises(trapline.Cancelled):
            await q.put(2)
        with pytest.raises(trapline.Cancelled):
            await q.join()
    assert q.qsize() == 1 and q.get_nowait() == 1


async def test_queue_task_done_and_join(virtual_clock):
    q = Queue()
    with pytest.raises(ValueError):
        q.task_done()
    await q.join()  # nothing unfinished
    joined = []

    async def joiner():
        await q.join()
        joined.append(trapline.current_time())

    async def worker():
        async for _item in q:
            await trapline.sleep(1)
            q.task_done()

    async with trapline.TaskGroup() as tg:
        for i in range(3):
            q.put_nowait(i)
        tg.spawn(joiner)
        tg.spawn(worker)
        await trapline.sleep(0.5)
        assert q.statistics() == QueueStatistics(
            qsize=2,
            maxsize=0,
            closed=False,
            tasks_waiting_put=0,
            tasks_waiting_get=0,
            unfinished_tasks=3,
        )
        await q.join()
        assert trapline.current_time() == 3.0
        q.close()
    assert joined == [3.0]
    with pytest.raises(ValueError):
        q.task_done()


# -- randomised: nothing lost, nothing duplicated, per-sender order kept --------------------------


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("max_buffer", [0, 1, 3, math.inf])
async def test_random_cancellations_never_lose_or_duplicate_items(virtual_clock, seed, max_buffer):
    rng = random.Random(seed)
    send, receive = open_channel(max_buffer)
    sent = []
    received = []

    async def producer(handle, name):
        with handle:
            for i in range(20):
                await trapline.sleep(rng.choice([0, 0.1, 0.5]))
                with trapline.move_on_after(rng.choice([0, 0.2, 1, 5])):
                    await handle.send((name, i))
                    sent.append((name, i))

    async def consumer(handle):
        with handle:
            while True:
                with trapline.move_on_after(rng.choice([0, 0.3, 2])):
                    try:
                        item = await handle.receive()
                    except trapline.EndOfChannel:
                        return
                    received.append(item)
                await trapline.sleep(rng.choice([0, 0.1, 0.4]))

    async with trapline.TaskGroup() as tg:
        for name in "abc":
            tg.spawn(producer, send.clone(), name)
        for _ in range(3):
            tg.spawn(consumer, receive.clone())
        send.close()
        receive.close()
    assert sorted(received) == sorted(sent)
    assert len(set(received)) == len(received)
    for name in "abc":
        assert [i for n, i in received if n == name] == [i for n, i in sent if n == name]
    assert len(sent) < 60  # some sends really were cancelled
    assert _stats(send) == (0, 0, 0, 0, 0)


@pytest.mark.parametrize("seed", range(8))
async def test_random_cancellations_on_a_bounded_queue(virtual_clock, seed):
    rng = random.Random(seed)
    q = Queue(2)
    put = []
    got = []

    async def producer(name):
        for i in range(15):
            await trapline.sleep(rng.choice([0, 0.1, 0.5]))
            with trapline.move_on_after(rng.choice([0, 0.2, 1])):
                await q.put((name, i))
                put.append((name, i))

    async def consumer():
        while True:
            with trapline.move_on_after(rng.choice([0, 0.3, 2])):
                try:
                    item = await q.get()
                except trapline.EndOfChannel:
                    return
                got.append(item)
            await trapline.sleep(rng.choice([0, 0.1, 0.4]))

    async with trapline.TaskGroup() as tg:
        for _ in range(3):
            tg.spawn(consumer)
        async with trapline.TaskGroup() as producers:
            for name in "ab":
                producers.spawn(producer, name)
        q.close()
    assert got == put  # one queue: the global order is kept too
    assert q.statistics().unfinished_tasks == len(put)
