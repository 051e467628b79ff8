"""TraplineEventLoop as asyncio's loop: scheduling, time, executors, signals, lifecycle.

Most tests run an asyncio program with ``trapline.aio.run(main(), clock=VirtualClock())`` and
assert exact virtual times: the loop's timers are trapline deadlines.
"""

import asyncio
import concurrent.futures
import contextvars
import multiprocessing
import os
import signal
import sys
import threading

import pytest

import trapline
import trapline.aio
from trapline.aio import TraplineEventLoop
from trapline.testing import VirtualClock


def run(main):
    return trapline.aio.run(main, clock=VirtualClock())


def test_running_loop_is_trapline_and_time_is_trapline_time():
    async def main():
        loop = asyncio.get_running_loop()
        assert isinstance(loop, TraplineEventLoop)
        await asyncio.sleep(2.5)
        return loop.time(), trapline.current_time(), trapline.lowlevel.current_task().name

    assert run(main()) == (2.5, 2.5, "_main")


def test_call_later_call_at_and_call_soon_run_in_order_at_exact_times():
    async def main():
        loop = asyncio.get_running_loop()
        seen = []

        def note(what):
            seen.append((what, loop.time()))

        loop.call_later(5, note, "later 5")
        loop.call_at(2, note, "at 2")
        loop.call_later(2.25, note, "later 2.25")
        cancelled = loop.call_later(1, note, "cancelled")
        loop.call_soon(note, "soon 1")
        loop.call_soon(note, "soon 2")
        loop.call_later(0, note, "later 0")
        cancelled.cancel()
        assert loop.call_later(3, note, "x").when() == 3.0
        await asyncio.sleep(10)
        return seen

    assert run(main()) == [
        ("soon 1", 0.0),
        ("soon 2", 0.0),
        ("later 0", 0.0),
        ("at 2", 2.0),
        ("later 2.25", 2.25),
        ("x", 3.0),
        ("later 5", 5.0),
    ]


def test_sleeping_tasks_wake_in_deadline_order():
    async def sleeper(delay, log):
        await asyncio.sleep(delay)
        log.append((delay, asyncio.get_running_loop().time()))

    async def main():
        log = []
        await asyncio.gather(*(sleeper(d, log) for d in (3, 1, 2, 1.5, 0)))
        return log

    assert run(main()) == [(0, 0.0), (1, 1.0), (1.5, 1.5), (2, 2.0), (3, 3.0)]


def test_task_group_cancels_siblings_when_one_fails():
    async def fail_at(t):
        await asyncio.sleep(t)
        raise ValueError(t)

    async def main():
        loop = asyncio.get_running_loop()
        stopped = []

        async def sibling():
            try:
                await asyncio.sleep(100)
            except asyncio.CancelledError:
                stopped.append(loop.time())
                raise

        with pytest.raises(ExceptionGroup) as info:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(sibling())
                tg.create_task(fail_at(4))
        assert [type(e) for e in info.value.exceptions] == [ValueError]
        return stopped, loop.time()

    assert run(main()) == ([4.0], 4.0)


def test_timeout_and_wait_for_expire_at_exact_times():
    async def main():
        loop = asyncio.get_running_loop()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.5):
                await asyncio.sleep(10)
        first = loop.time()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.sleep(10), 2)
        second = loop.time()
        async with asyncio.timeout_at(loop.time() + 1) as cm:
            await asyncio.sleep(0.5)
        assert not cm.expired()
        return first, second, loop.time(), asyncio.current_task().cancelling()

    assert run(main()) == (1.5, 3.5, 4.0, 0)


def test_queue_producer_consumer_on_virtual_time():
    async def main():
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=2)
        got = []

        async def producer():
            for i in range(5):
                await queue.put(i)  # blocks while two items wait
                await asyncio.sleep(1)
            await queue.join()

        async def consumer():
            while True:
                item = await queue.get()
                await asyncio.sleep(3)
                got.append((item, loop.time()))
                queue.task_done()

        consumer_task = asyncio.create_task(consumer())
        await producer()
        consumer_task.cancel()
        return got

    assert run(main()) == [(0, 3.0), (1, 6.0), (2, 9.0), (3, 12.0), (4, 15.0)]


def test_call_soon_threadsafe_from_another_thread_wakes_the_loop():
    async def main():
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def worker():
            loop.call_soon_threadsafe(future.set_result, threading.current_thread().name)

        thread = threading.Thread(target=worker, name="helper")
        thread.start()
        result = await future
        thread.join()
        return result

    assert trapline.aio.run(main()) == "helper"


def test_run_in_executor_uses_trapline_worker_threads():
    async def main():
        loop = asyncio.get_running_loop()
        name = await loop.run_in_executor(None, lambda: threading.current_thread().name)
        total = await loop.run_in_executor(None, sum, [1, 2, 3])
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="pool") as pool:
            pooled = await loop.run_in_executor(pool, lambda: threading.current_thread().name)
        to_thread = await asyncio.to_thread(lambda: 7)
        return name, total, pooled.startswith("pool"), to_thread

    assert trapline.aio.run(main()) == ("trapline worker", 6, True, 7)


def test_run_in_executor_error_and_cancellation():
    release = threading.Event()

    async def main():
        loop = asyncio.get_running_loop()
        with pytest.raises(ZeroDivisionError):
            await loop.run_in_executor(None, lambda: 1 / 0)
        future = loop.run_in_executor(None, release.wait)
        await asyncio.sleep(0)
        future.cancel()
        with pytest.raises(asyncio.CancelledError):
            await future
        release.set()  # the abandoned thread finishes on its own
        return "ok"

    assert trapline.aio.run(main()) == "ok"


def test_runner_with_loop_factory_keeps_state_between_runs():
    with asyncio.Runner(loop_factory=trapline.aio.loop_factory) as runner:
        loop = runner.get_loop()
        assert isinstance(loop, TraplineEventLoop)
        queue: asyncio.Queue[str] = asyncio.Queue()

        async def put_later():
            await asyncio.sleep(0.01)
            queue.put_nowait("from the first run")

        async def first():
            asyncio.get_running_loop().call_later(0.02, queue.put_nowait, "timer")
            return asyncio.create_task(put_later())

        task = runner.run(first())
        assert not task.done()  # pending tasks survive between run_until_complete calls

        async def second():
            return [await queue.get(), await queue.get()]

        assert runner.run(second()) == ["from the first run", "timer"]
    assert loop.is_closed()


def test_stop_and_run_forever_again():
    loop = TraplineEventLoop(clock=VirtualClock())
    try:
        seen = []
        loop.call_soon(seen.append, 1)
        loop.call_soon(loop.stop)
        loop.call_soon(seen.append, 2)  # the stopping iteration still runs what was ready
        loop.call_later(5, seen.append, 3)
        loop.run_forever()
        assert seen == [1, 2]
        assert not loop.is_running()
        loop.call_later(6, loop.stop)
        loop.run_forever()
        assert seen == [1, 2, 3]
        assert loop.time() == 6.0
        assert loop.run_until_complete(asyncio.sleep(1, "done")) == "done"
        assert loop.time() == 7.0
    finally:
        loop.close()
    assert loop.is_closed()
    with pytest.raises(RuntimeError, match="closed"):
        loop.call_soon(print)


def test_event_loop_policy_makes_new_loops_trapline_loops():
    asyncio.set_event_loop_policy(trapline.aio.EventLoopPolicy())
    try:
        loop = asyncio.new_event_loop()
        try:
            assert isinstance(loop, TraplineEventLoop)
        finally:
            loop.close()

        async def main():
            return type(asyncio.get_running_loop()).__name__

        assert asyncio.run(main()) == "TraplineEventLoop"
    finally:
        asyncio.set_event_loop_policy(None)


def test_callback_errors_go_to_the_exception_handler():
    async def main():
        loop = asyncio.get_running_loop()
        caught = []
        loop.set_exception_handler(lambda _loop, context: caught.append(context["exception"]))
        loop.call_soon(lambda: 1 / 0)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return [type(e) for e in caught]

    assert run(main()) == [ZeroDivisionError]


def test_nested_runs_are_refused():
    async def main():
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with pytest.raises(RuntimeError):
            loop.run_until_complete(future)
        coro = asyncio.sleep(0)
        with pytest.raises(RuntimeError):
            trapline.aio.run(coro)
        return "ok"

    assert run(main()) == "ok"


def test_async_generators_are_finalised_at_shutdown():
    closed = []

    async def agen():
        try:
            yield 1
            yield 2
        finally:
            await asyncio.sleep(1)
            closed.append(asyncio.get_running_loop().time())

    async def main():
        gen = agen()
        assert await gen.__anext__() == 1
        main.gen = gen  # keep it alive until shutdown_asyncgens
        return "ok"

    assert run(main()) == "ok"
    assert closed == [1.0]


def test_contextvars_follow_tasks_and_callbacks():
    var = contextvars.ContextVar("var", default="unset")

    async def child():
        return var.get()

    async def main():
        var.set("main")
        loop = asyncio.get_running_loop()
        seen = []
        loop.call_soon(lambda: seen.append(var.get()))
        task_value = await asyncio.create_task(child())
        await asyncio.sleep(0)
        return task_value, seen

    assert run(main()) == ("main", ["main"])


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals")
def test_signal_handlers_run_in_the_loop_and_restore_the_previous_handler():
    previous = signal.getsignal(signal.SIGUSR1)

    async def main():
        loop = asyncio.get_running_loop()
        got = loop.create_future()
        loop.add_signal_handler(signal.SIGUSR1, got.set_result, "SIGUSR1")
        assert signal.getsignal(signal.SIGUSR1) is not previous
        os.kill(os.getpid(), signal.SIGUSR1)
        result = await got
        assert loop.remove_signal_handler(signal.SIGUSR1)
        assert not loop.remove_signal_handler(signal.SIGUSR1)
        with pytest.raises(TypeError):
            loop.add_signal_handler(signal.SIGUSR1, main)
        with pytest.raises(ValueError):
            loop.add_signal_handler(100000, print)
        return result

    assert trapline.aio.run(main()) == "SIGUSR1"
    assert signal.getsignal(signal.SIGUSR1) == previous


def _in_forked_worker():
    # Runs in a process-pool worker forked while the parent's loop was running.
    async def main():
        await asyncio.sleep(2)
        return asyncio.get_running_loop().time()

    return trapline.aio.run(main(), clock=VirtualClock())


def test_a_process_pool_worker_forked_from_the_loop_runs_a_loop_of_its_own():
    # CPython's test_events.test_get_event_loop_new_process: the worker inherits the parent's
    # running trapline run and must still be able to start its own.
    async def main():
        context = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
            return await asyncio.get_running_loop().run_in_executor(pool, _in_forked_worker)

    assert run(main()) == 2.0


def test_runner_works_where_signal_handlers_cannot_be_installed(monkeypatch):
    # CPython's test_runners.test_signal_install_not_supported_ok (the main thread of an
    # interpreter without signal handling).
    def refuse(*args):
        raise ValueError("signal only works in main thread of the main interpreter")

    async def main():
        await asyncio.sleep(1)
        return asyncio.get_running_loop().time()

    with asyncio.Runner(loop_factory=lambda: TraplineEventLoop(clock=VirtualClock())) as runner:
        monkeypatch.setattr(signal, "signal", refuse)
        assert runner.run(main()) == 1.0
        monkeypatch.undo()
        assert runner.run(main()) == 2.0


def test_sys_exit_in_an_asyncio_task_leaves_the_loop_as_itself():
    # As on asyncio's loop: SystemExit from a task step goes straight out of run_until_complete
    # (so the interpreter exits with the code), not wrapped in an exception group.
    async def main():
        await asyncio.sleep(1)
        sys.exit(3)

    with pytest.raises(SystemExit) as caught:
        run(main())
    assert caught.value.code == 3


def test_a_base_exception_from_a_callback_leaves_run_forever_and_the_loop_goes_on():
    loop = TraplineEventLoop(clock=VirtualClock())
    try:
        loop.call_later(2, sys.exit, 4)
        with pytest.raises(SystemExit) as caught:
            loop.run_forever()
        assert (caught.value.code, loop.time(), loop.is_running()) == (4, 2.0, False)
        assert loop.run_until_complete(asyncio.sleep(1, "again")) == "again"
        assert loop.time() == 3.0
    finally:
        loop.close()


def test_run_once_called_directly_runs_one_iteration():
    # asyncio's own tests step a loop by hand with the internal loop._run_once().
    loop = TraplineEventLoop(clock=VirtualClock())
    try:
        seen = []
        loop.call_soon(seen.append, "first")
        loop.call_soon(lambda: loop.call_soon(seen.append, "next pass"))
        loop.call_later(5, seen.append, "timer")
        loop._run_once()
        assert (seen, loop.time()) == (["first"], 0.0)
        loop._run_once()
        assert (seen, loop.time()) == (["first", "next pass"], 0.0)
        loop._run_once()  # nothing ready: waits for the timer, as asyncio's select() would
        assert (seen, loop.time()) == (["first", "next pass", "timer"], 5.0)
    finally:
        loop.close()


def test_a_cancelled_timer_neither_wakes_the_loop_nor_moves_virtual_time():
    # asyncio drops cancelled timers at the head of its heap before it computes how long to
    # wait; so does the driver, or an autojumping clock would jump to the cancelled deadline.
    async def main():
        loop = asyncio.get_running_loop()
        loop.call_later(100, print).cancel()
        loop.call_later(50, print).cancel()
        await loop.run_in_executor(None, sum, [1, 2])  # a wait with no timer in it
        after_thread = loop.time()
        await asyncio.sleep(1)
        return after_thread, loop.time(), len(loop._scheduled)

    assert run(main()) == (0.0, 1.0, 0)
