"""trapline code hosting asyncio code and back, with cancellation translated at the crossings.

These are trapline tests (the pytest plugin runs them under ``trapline.run``), on the virtual
clock, so every time below is exact.
"""

import asyncio
import contextvars

import pytest

import trapline
import trapline.aio
from trapline.aio import TraplineEventLoop, current_loop, run_asyncio, run_trapline

pytestmark = pytest.mark.trapline(virtual_clock=True)


async def test_the_run_has_one_asyncio_loop_visible_from_trapline_tasks():
    loop = current_loop()
    assert isinstance(loop, TraplineEventLoop)
    assert asyncio.get_running_loop() is loop
    assert current_loop() is loop
    seen = []

    async def child():
        seen.append(asyncio.get_running_loop())

    async with trapline.TaskGroup() as tg:
        tg.spawn(child)
    assert seen == [loop]
    assert loop.is_running()


async def test_run_asyncio_returns_results_and_raises_errors():
    async def add(a, b):
        await asyncio.sleep(1)
        return a + b

    async def fail():
        await asyncio.sleep(1)
        raise KeyError("asyncio side")

    assert await run_asyncio(add(1, 2)) == 3
    assert trapline.current_time() == 1.0
    with pytest.raises(KeyError, match="asyncio side"):
        await run_asyncio(fail())
    loop = current_loop()
    future = loop.create_future()
    loop.call_later(3, future.set_result, "future")
    assert await run_asyncio(future) == "future"
    task = loop.create_task(add(2, 3))
    assert await run_asyncio(task) == 5
    assert trapline.current_time() == 6.0


async def test_asyncio_code_cannot_block_the_loop_with_run_asyncio():
    async def misuse():
        await run_asyncio(asyncio.sleep(0))

    with pytest.raises(RuntimeError, match="asyncio code awaits directly"):
        await run_asyncio(misuse())


async def test_trapline_cancel_scope_cancels_the_asyncio_task_once():
    log = []

    async def slow():
        task = asyncio.current_task()
        try:
            await asyncio.sleep(100)
        except asyncio.CancelledError as error:
            log.append(("cancelled", asyncio.get_running_loop().time(), task.cancelling()))
            log.append(("message", error.args))
            await asyncio.sleep(1)  # cleanup that takes time: the trapline side waits for it
            log.append(("cleaned up", asyncio.get_running_loop().time()))
            raise

    with trapline.move_on_after(3) as scope:
        await run_asyncio(slow())
    assert scope.cancelled_caught
    assert trapline.current_time() == 4.0
    assert log == [
        ("cancelled", 3.0, 1),
        ("message", ("cancelled by a trapline cancel scope",)),
        ("cleaned up", 4.0),
    ]


async def test_asyncio_timeout_inside_lets_the_trapline_cancellation_through():
    # asyncio.timeout decides with uncancel() whether a CancelledError is its own; ours counts
    # in cancelling(), so it must not become a TimeoutError inside.
    seen = []

    async def guarded():
        try:
            async with asyncio.timeout(10):
                await asyncio.sleep(100)
        except TimeoutError:
            seen.append("TimeoutError")
            raise
        except asyncio.CancelledError:
            seen.append(("CancelledError", asyncio.current_task().cancelling()))
            raise

    with trapline.move_on_after(2) as scope:
        await run_asyncio(guarded())
    assert scope.cancelled_caught
    assert seen == [("CancelledError", 1)]


async def test_fail_after_around_run_asyncio_raises_timeout_error_at_the_deadline():
    with pytest.raises(TimeoutError):
        with trapline.fail_after(1.5):
            await run_asyncio(asyncio.sleep(10))
    assert trapline.current_time() == 1.5


async def test_an_asyncio_task_that_swallows_the_cancel_returns_and_the_next_checkpoint_raises():
    async def stubborn():
        try:
            await asyncio.sleep(100)
        except asyncio.CancelledError:
            return "finished anyway"

    with trapline.move_on_after(1) as scope:
        result = await run_asyncio(stubborn())
        assert result == "finished anyway"
        await trapline.checkpoint()
        pytest.fail("the scope is still cancelled: the checkpoint must raise")
    assert scope.cancelled_caught


async def test_asyncio_cancel_becomes_a_trapline_cancellation():
    log = []

    async def trapline_work():
        try:
            await trapline.sleep(100)
        except trapline.Cancelled:
            log.append(("trapline Cancelled", trapline.current_time()))
            with trapline.CancelScope(shield=True):
                await trapline.sleep(1)  # unwinding takes time; asyncio waits for it
            log.append(("unwound", trapline.current_time()))
            raise

    async def asyncio_side():
        task = asyncio.current_task()
        try:
            async with asyncio.timeout(2):
                await run_trapline(trapline_work)
        except TimeoutError:
            log.append(("asyncio TimeoutError", asyncio.get_running_loop().time()))
        return task.cancelling()

    assert await run_asyncio(asyncio_side()) == 0  # asyncio.timeout uncancelled its own cancel
    assert log == [
        ("trapline Cancelled", 2.0),
        ("unwound", 3.0),
        ("asyncio TimeoutError", 3.0),
    ]


async def test_repeated_asyncio_cancels_while_trapline_unwinds_are_one_cancellation():
    events = trapline.Event()

    async def trapline_work():
        try:
            await trapline.sleep_forever()
        finally:
            with trapline.CancelScope(shield=True):
                events.set()
                await trapline.sleep(5)

    async def asyncio_side():
        task = asyncio.create_task(run_trapline(trapline_work))
        await asyncio.sleep(1)
        task.cancel()
        await asyncio.sleep(1)
        task.cancel()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelling(), asyncio.get_running_loop().time()

    assert await run_asyncio(asyncio_side()) == (3, 6.0)
    assert events.is_set()


async def test_run_trapline_errors_propagate_and_an_error_while_unwinding_wins():
    async def boom():
        await trapline.sleep(1)
        raise ValueError("trapline side")

    async def bad_cleanup():
        try:
            await trapline.sleep_forever()
        finally:
            raise OSError("cleanup failed")

    async def asyncio_side():
        with pytest.raises(ValueError, match="trapline side"):
            await run_trapline(boom)
        task = asyncio.create_task(run_trapline(bad_cleanup))
        await asyncio.sleep(1)
        task.cancel()
        with pytest.raises(OSError, match="cleanup failed"):
            await task
        return "ok"

    assert await run_asyncio(asyncio_side()) == "ok"


async def test_nested_crossings_unwind_from_the_outermost_trapline_scope():
    log = []

    async def innermost():
        try:
            await asyncio.sleep(100)
        except asyncio.CancelledError:
            log.append(("asyncio", asyncio.get_running_loop().time()))
            raise

    async def middle_trapline():
        try:
            await run_asyncio(innermost())
        except trapline.Cancelled:
            log.append(("trapline", trapline.current_time()))
            raise

    async def outer_asyncio():
        try:
            await run_trapline(middle_trapline)
        except asyncio.CancelledError:
            log.append(("outer asyncio", asyncio.get_running_loop().time()))
            raise

    with trapline.move_on_after(4) as scope:
        await run_asyncio(outer_asyncio())
    assert scope.cancelled_caught
    assert log == [("asyncio", 4.0), ("trapline", 4.0), ("outer asyncio", 4.0)]


async def test_trapline_tasks_can_set_asyncio_events_and_feed_asyncio_queues():
    # call_soon from a trapline task while the loop's driver sleeps must wake it.
    loop = current_loop()
    event = asyncio.Event()
    queue: asyncio.Queue[int] = asyncio.Queue()
    got = []

    async def consumer():
        await event.wait()
        got.append(("event", loop.time()))
        for _ in range(3):
            got.append((await queue.get(), loop.time()))

    task = loop.create_task(consumer())
    await trapline.sleep(2)
    event.set()
    for i in range(3):
        await trapline.sleep(1)
        queue.put_nowait(i)
    await run_asyncio(task)
    assert got == [("event", 2.0), (0, 3.0), (1, 4.0), (2, 5.0)]


async def test_contextvars_flow_from_trapline_into_asyncio():
    var = contextvars.ContextVar("var", default="unset")
    var.set("trapline")

    async def read():
        return var.get()

    assert await run_asyncio(read()) == "trapline"


async def test_run_trapline_needs_a_trapline_loop():
    async def noop():
        pass

    async def on_default_loop():
        await run_trapline(noop)

    def in_thread():
        with pytest.raises(RuntimeError, match="trapline.aio event loop"):
            asyncio.run(on_default_loop())

    await trapline.to_thread.run_sync(in_thread)


async def test_task_tree_shows_the_loop_and_trapline_work_started_by_asyncio():
    async def trapline_work():
        await trapline.sleep(5)

    async def asyncio_side():
        task = asyncio.create_task(run_trapline(trapline_work))
        await asyncio.sleep(1)
        text = trapline.lowlevel.format_task_tree()
        await task
        return text

    text = await run_asyncio(asyncio_side())
    assert "asyncio-loop [running]" in text
    assert "trapline_work [waiting: sleep until t=5]" in text


def test_leftover_asyncio_tasks_are_cancelled_when_the_main_task_ends():
    log = []

    async def background():
        try:
            await asyncio.sleep(1000)
        finally:
            await asyncio.sleep(1)  # cleanup still gets the loop
            log.append(("background cleaned up", asyncio.get_running_loop().time()))

    async def agen():
        try:
            yield 1
            yield 2
        finally:
            log.append("async generator closed")

    async def start_generator():
        gen = agen()
        await gen.__anext__()
        start_generator.gen = gen

    async def main():
        loop = current_loop()
        loop.create_task(background())
        await run_asyncio(start_generator())
        await trapline.sleep(2)
        main.loop = loop

    trapline.run(main, clock=trapline.testing.VirtualClock())
    assert log == [("background cleaned up", 3.0), "async generator closed"]
    assert main.loop.is_closed()
    assert asyncio._get_running_loop() is None
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


def test_each_run_gets_its_own_loop():
    async def main():
        return current_loop()

    first = trapline.run(main)
    second = trapline.run(main)
    assert first is not second
    assert first.is_closed() and second.is_closed()
