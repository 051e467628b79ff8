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
