"""trapline.run, sleeping, checkpoints, contextvars, instruments, misuse errors, Ctrl-C."""

import asyncio
import contextvars
import logging
import os
import signal
import threading
import traceback

import pytest

import trapline
from trapline.lowlevel import Instrument, current_task
from trapline.testing import VirtualClock


def test_run_returns_value_and_passes_args():
    async def add(a, b):
        await trapline.checkpoint()
        return a + b

    assert trapline.run(add, 2, 3) == 5


def test_error_propagates_with_traceback_starting_in_the_task():
    async def inner():
        raise KeyError("boom")

    async def main():
        await inner()

    with pytest.raises(KeyError, match="boom") as info:
        trapline.run(main)
    names = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert names[-2:] == ["main", "inner"]
    assert "loop" not in names


@pytest.mark.parametrize(
    ("thing", "message"),
    [
        (5, "expected an async function .* got 5 of type int"),
        (lambda: 3, "returned int .*async def"),
        (None, "got None"),
    ],
)
def test_run_rejects_non_async_things(thing, message):
    with pytest.raises(TypeError, match=message):
        trapline.run(thing)


def test_run_rejects_coroutine_plus_args():
    async def f(x):
        return x

    coro = f(1)
    with pytest.raises(TypeError, match="coroutine object and arguments"):
        trapline.run(coro, 2)
    coro.close()


def test_nested_run_is_refused():
    async def inner():
        return 1

    async def main():
        with pytest.raises(RuntimeError, match="cannot be called from inside"):
            trapline.run(inner)

    trapline.run(main)


def test_trapline_awaitable_outside_run_fails_clearly():
    with pytest.raises(RuntimeError, match="inside trapline.run"):
        trapline.current_time()

    async def under_asyncio():
        await trapline.sleep(1)

    with pytest.raises(RuntimeError, match=r"bad yield.*trapline trap.*run me in trapline.run"):
        asyncio.run(under_asyncio())


async def test_foreign_awaitable_inside_run_fails_clearly():
    with pytest.raises(RuntimeError, match="only understands trapline's own awaitables"):
        await asyncio.sleep(0)


async def test_sleep_zero_is_a_checkpoint_that_lets_others_run():
    order = []

    async def other():
        order.append("other")

    async with trapline.TaskGroup() as tg:
        tg.spawn(other)
        order.append("before")
        await trapline.sleep(0)
        order.append("after")
    assert order == ["before", "other", "after"]


@pytest.mark.parametrize("bad", [-1, float("nan")])
async def test_sleep_rejects_negative_and_nan(bad):
    with pytest.raises(ValueError, match="non-negative"):
        await trapline.sleep(bad)


async def test_sleeps_wake_in_deadline_order_then_fifo(virtual_clock):
    woke = []

    async def sleeper(name, seconds):
        await trapline.sleep(seconds)
        woke.append((name, trapline.current_time()))

    async with trapline.TaskGroup() as tg:
        tg.spawn(sleeper, "c", 2)
        tg.spawn(sleeper, "a", 1)
        tg.spawn(sleeper, "b", 1)
        tg.spawn(sleeper, "d", 1.5)
    assert woke == [("a", 1.0), ("b", 1.0), ("d", 1.5), ("c", 2.0)]


async def test_sleep_until_and_sleep_forever(virtual_clock):
    await trapline.sleep_until(4.5)
    assert trapline.current_time() == 4.5
    await trapline.sleep_until(1.0)  # in the past: still a checkpoint, no time passes
    assert trapline.current_time() == 4.5
    with trapline.move_on_after(10) as scope:
        await trapline.sleep_forever()
    assert scope.cancelled_caught and trapline.current_time() == 14.5


def test_virtual_clock_hour_of_sleep_is_instant_and_exact():
    async def main():
        for _ in range(3600):
            await trapline.sleep(1)
        return trapline.current_time()

    assert trapline.run(main, clock=VirtualClock()) == 3600.0


def test_virtual_clock_start_and_manual_jump():
    clock = VirtualClock(autojump=False, start=100.0)
    assert clock.current_time() == 100.0
    clock.jump(2.5)
    assert clock.current_time() == 102.5
    with pytest.raises(ValueError):
        clock.jump(-1)


var = contextvars.ContextVar("var", default="unset")


async def test_each_task_runs_in_a_copy_of_its_spawners_context():
    var.set("parent")
    seen = {}

    async def child(name):
        seen[name] = var.get()
        var.set(name)
        await trapline.checkpoint()
        seen[name + " after"] = var.get()

    async with trapline.TaskGroup() as tg:
        tg.spawn(child, "a")
        var.set("parent-changed")
        tg.spawn(child, "b")
    assert seen == {"a": "parent", "b": "parent-changed", "a after": "a", "b after": "b"}
    assert var.get() == "parent-changed"


def test_run_does_not_leak_context_changes_to_the_caller():
    async def main():
        var.set("inside")

    trapline.run(main)
    assert var.get() == "unset"


class Recorder(Instrument):
    def __init__(self):
        self.calls = []

    def before_run(self):
        self.calls.append(("before_run",))

    def after_run(self):
        self.calls.append(("after_run",))

    def task_spawned(self, task):
        self.calls.append(("spawned", task.name))

    def before_task_step(self, task):
        self.calls.append(("before", task.name))

    def after_task_step(self, task):
        self.calls.append(("after", task.name, task.state))

    def task_exited(self, task):
        self.calls.append(("exited", task.name))


def test_instrument_hooks_see_every_step_in_order():
    async def child():
        await trapline.checkpoint()

    async def main():
        async with trapline.TaskGroup() as tg:
            tg.spawn(child)

    recorder = Recorder()
    trapline.run(main, instruments=[recorder])
    assert recorder.calls == [
        ("spawned", "main"),
        ("before_run",),
        ("before", "main"),
        ("spawned", "child-1"),
        ("after", "main", "waiting"),
        ("before", "child-1"),
        ("after", "child-1", "ready"),
        ("before", "child-1"),
        ("exited", "child-1"),
        ("after", "child-1", "done"),
        ("before", "main"),
        ("exited", "main"),
        ("after", "main", "done"),
        ("after_run",),
    ]


def test_broken_instrument_is_removed_and_logged(caplog):
    class Broken(Instrument):
        calls = 0

        def before_task_step(self, task):
            Broken.calls += 1
            raise ValueError("instrument bug")

    async def main():
        for _ in range(5):
            await trapline.checkpoint()
        return "fine"

    with caplog.at_level(logging.ERROR, logger="trapline.instrument"):
        assert trapline.run(main, instruments=[Broken()]) == "fine"
    assert Broken.calls == 1
    assert "removing it" in caplog.text


async def test_add_and_remove_instrument_at_runtime():
    recorder = Recorder()
    trapline.lowlevel.add_instrument(recorder)
    await trapline.checkpoint()
    trapline.lowlevel.remove_instrument(recorder)
    await trapline.checkpoint()
    # Instruments added or removed mid-pass take effect from the next pass of the loop.
    assert [c[0] for c in recorder.calls] == ["before"]
    with pytest.raises(KeyError):
        trapline.lowlevel.remove_instrument(recorder)
    with pytest.raises(TypeError, match="Instrument instances"):
        trapline.lowlevel.add_instrument(object())


async def test_current_task_and_names():
    task = current_task()
    assert task.name == "test_current_task_and_names" or "partial" in task.name
    assert task.state == "running"

    async def named():
        return current_task().name

    async with trapline.TaskGroup() as tg:
        a = tg.spawn(named)
        b = tg.spawn(named, name="custom")
    assert a.result().startswith("named-")
    assert b.result() == "custom"


def test_ctrl_c_cancels_main_runs_cleanup_and_raises_keyboard_interrupt():
    cleaned = []

    async def main():
        try:
            signal.raise_signal(signal.SIGINT)
            await trapline.sleep(1000)
        finally:
            cleaned.append(trapline.current_time())

    with pytest.raises(KeyboardInterrupt):
        trapline.run(main, clock=VirtualClock(autojump=False))
    assert cleaned == [0.0]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_wakes_a_run_blocked_in_real_time():
    """Real-time smoke test: the loop is blocked in the selector when SIGINT arrives."""
    children_cleaned = []

    async def child():
        try:
            await trapline.sleep(30)
        finally:
            children_cleaned.append(True)

    async def main():
        async with trapline.TaskGroup() as tg:
            tg.spawn(child)
            tg.spawn(child)

    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            trapline.run(main)
    finally:
        timer.cancel()
    assert children_cleaned == [True, True]


def test_unawaited_sleep_warns_like_a_coroutine():
    with pytest.warns(RuntimeWarning, match=r"trapline.sleep\(5\) was never awaited"):
        trapline.sleep(5)
        import gc

        gc.collect()


async def test_sleep_awaitable_can_be_awaited_once(virtual_clock):
    pending = trapline.sleep(2)
    await pending
    assert trapline.current_time() == 2.0
    with pytest.raises(RuntimeError, match="already been awaited"):
        await pending


async def test_spawn_accepts_awaitables_that_are_not_coroutines(virtual_clock):
    async with trapline.TaskGroup() as tg:
        task = tg.spawn(trapline.sleep, 3)
    assert task.name == "sleep-1" and task.result() is None
    assert trapline.current_time() == 3.0


def test_sleep_by_hand_shows_the_instruction():
    """The tutorial's human scheduler: trapline.sleep yields a readable instruction."""

    async def nap():
        await trapline.sleep(3)
        return "rested"

    coro = nap()
    assert repr(coro.send(None)) == "<trapline trap: sleep for 3 s; run me in trapline.run>"
    with pytest.raises(StopIteration) as stop:
        coro.send(None)
    assert stop.value.value == "rested"


def test_ctrl_c_interrupts_a_task_stuck_in_a_cpu_loop(monkeypatch):
    """Real-time smoke test: the first SIGINT cannot be delivered at a checkpoint, so after the
    patience period KeyboardInterrupt is raised inside the stuck task."""
    import trapline._core._run as run_module

    monkeypatch.setattr(run_module, "KI_PATIENCE", 0.1)
    cleaned = []

    async def spinner():
        try:
            while True:
                pass
        finally:
            cleaned.append("spinner")

    async def bystander():
        try:
            await trapline.sleep(30)
        finally:
            cleaned.append("bystander")

    async def main():
        async with trapline.TaskGroup() as tg:
            tg.spawn(bystander)
            tg.spawn(spinner)

    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            trapline.run(main)
    finally:
        timer.cancel()
    assert sorted(cleaned) == ["bystander", "spinner"]
