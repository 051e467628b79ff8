"""Worker threads: to_thread.run_sync and calling back with from_thread."""

import contextvars
import threading
import time

import pytest

import trapline
import trapline.from_thread
import trapline.to_thread

var = contextvars.ContextVar("var", default="unset")


async def test_run_sync_returns_result_in_another_thread_with_context():
    var.set("caller")
    main = threading.get_ident()

    def work(x):
        return x * 2, threading.get_ident() != main, var.get()

    assert await trapline.to_thread.run_sync(work, 21) == (42, True, "caller")


async def test_run_sync_raises_the_threads_error():
    def fail():
        raise KeyError("in thread")

    with pytest.raises(KeyError, match="in thread"):
        await trapline.to_thread.run_sync(fail)


async def test_cancellation_waits_for_the_thread_by_default():
    finished = []

    def slow():
        time.sleep(0.2)
        finished.append(True)
        return "done"

    with trapline.move_on_after(0.05) as scope:
        result = await trapline.to_thread.run_sync(slow)
        await trapline.checkpoint()  # the cancellation lands at the next checkpoint
    assert scope.cancelled_caught
    assert result == "done" and finished == [True]


async def test_abandon_on_cancel_returns_at_once():
    release = threading.Event()

    def blocked():
        release.wait(5)

    with trapline.move_on_after(0.05) as scope:
        await trapline.to_thread.run_sync(blocked, abandon_on_cancel=True)
    assert scope.cancelled_caught
    release.set()


async def test_from_thread_run_and_run_sync():
    lot_values = []

    async def in_the_loop(x):
        await trapline.sleep(0.01)
        lot_values.append(x)
        return x + 1

    def worker():
        a = trapline.from_thread.run(in_the_loop, 1)
        b = trapline.from_thread.run_sync(lambda: trapline.current_time() >= 0)
        return a, b

    assert await trapline.to_thread.run_sync(worker) == (2, True)
    assert lot_values == [1]


def test_from_thread_outside_a_worker_needs_a_token():
    with pytest.raises(RuntimeError, match="not started by trapline.to_thread"):
        trapline.from_thread.run_sync(print)


async def test_from_thread_errors_propagate_to_the_thread():
    async def boom():
        raise ValueError("in loop")

    def worker():
        try:
            trapline.from_thread.run(boom)
        except ValueError as error:
            return str(error)

    assert await trapline.to_thread.run_sync(worker) == "in loop"


async def test_limiter_bounds_concurrent_threads():
    limiter = trapline.CapacityLimiter(2)
    running = []
    peak = []
    lock = threading.Lock()

    def work():
        with lock:
            running.append(1)
            peak.append(len(running))
        time.sleep(0.02)
        with lock:
            running.pop()

    async with trapline.TaskGroup() as tg:
        for _ in range(6):
            tg.spawn(trapline.to_thread.run_sync, work)  # default limiter: plenty
    async with trapline.TaskGroup() as tg:
        peak.clear()
        for _ in range(6):

            async def limited():
                await trapline.to_thread.run_sync(work, limiter=limiter)

            tg.spawn(limited)
    assert max(peak) <= 2
    assert limiter.borrowed_tokens == 0
    assert trapline.to_thread.default_limiter().total_tokens == 40


async def test_abandoned_thread_keeps_its_token_until_it_finishes():
    limiter = trapline.CapacityLimiter(1)
    release = threading.Event()
    with trapline.move_on_after(0.05):
        await trapline.to_thread.run_sync(release.wait, 5, abandon_on_cancel=True, limiter=limiter)
    assert limiter.borrowed_tokens == 1  # the thread still runs
    release.set()
    with trapline.fail_after(5):
        await trapline.to_thread.run_sync(lambda: None, limiter=limiter)
    assert limiter.borrowed_tokens == 0


async def test_run_sync_of_an_async_function_is_a_type_error():
    async def work():
        return 1

    with pytest.raises(TypeError) as caught:
        await trapline.to_thread.run_sync(work)
    assert str(caught.value) == (
        "trapline.to_thread.run_sync() calls plain functions in a thread, but work() returned "
        "a coroutine: await it directly instead"
    )  # and the coroutine was closed: no "never awaited" warning (warnings are errors here)


async def test_from_thread_in_the_runs_own_thread_refuses_instead_of_hanging():
    async def work():
        return 1

    token = trapline.lowlevel.current_token()
    for call in [
        lambda: trapline.from_thread.run(work),
        lambda: trapline.from_thread.run(work, token=token),
        lambda: trapline.from_thread.run_sync(print, token=token),
    ]:
        with pytest.raises(RuntimeError, match="called from the trapline run's own thread"):
            call()


def test_from_thread_into_another_run_from_a_run_of_its_own():
    async def inner(token):
        return trapline.from_thread.run_sync(lambda: "from the outer run", token=token)

    async def outer():
        token = trapline.lowlevel.current_token()
        return await trapline.to_thread.run_sync(trapline.run, inner, token)

    assert trapline.run(outer) == "from the outer run"
