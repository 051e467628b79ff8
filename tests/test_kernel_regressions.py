"""Regression tests for kernel bugs found by adversarial testing (each failed before its fix)."""

import os
import signal

import pytest

import trapline
import trapline.to_thread
from trapline.testing import VirtualClock


async def test_started_task_not_cancelled_with_its_new_group(virtual_clock):
    log = []

    async def service(task_status=trapline.TASK_STATUS_IGNORED):
        task_status.started()
        try:
            await trapline.sleep(100)
        finally:
            log.append(trapline.current_time())

    async with trapline.TaskGroup() as tg:
        await tg.start(service)
        await trapline.sleep(1)
        tg.cancel_scope.cancel()
    assert log == [1.0]


async def test_scope_entered_after_started_links_to_the_old_scopes(virtual_clock):
    seen = []

    async def service(task_status=trapline.TASK_STATUS_IGNORED):
        task_status.started()
        with trapline.CancelScope():
            seen.append(trapline.current_effective_deadline())

    async with trapline.TaskGroup() as tg:
        tg.cancel_scope.deadline = 100
        with trapline.move_on_at(7):
            await tg.start(service)
    assert seen == [100.0]


async def test_start_moves_task_although_caller_was_cancelled(virtual_clock):
    log = []

    async def service(task_status=trapline.TASK_STATUS_IGNORED):
        task_status.started()
        await trapline.sleep(10)
        log.append("service ran on")

    async with trapline.TaskGroup() as tg:
        with trapline.CancelScope() as scope:
            scope.cancel()
            await tg.start(service)
    assert scope.cancelled_caught
    assert log == []
    assert trapline.current_time() == 0.0


async def test_gather_loses_error_when_cancelled(virtual_clock):
    async def fail():
        await trapline.sleep(1)
        raise ValueError("lost")

    async def slow_cleanup():
        try:
            await trapline.sleep_forever()
        finally:
            with trapline.CancelScope(shield=True):
                await trapline.sleep(3)

    try:
        with trapline.move_on_after(2):
            await trapline.gather(fail(), slow_cleanup())
    except ValueError:
        return
    raise AssertionError("the ValueError raised at t=1 vanished")


async def test_cancellation_order_is_not_spawn_order(virtual_clock):
    order = []

    async def child(i):
        try:
            await trapline.sleep_forever()
        finally:
            order.append(i)

    junk = []
    async with trapline.TaskGroup() as tg:
        for i in range(40):
            junk.append([i] * (i % 7))
            tg.spawn(child, i)
        await trapline.sleep(1)
        tg.cancel_scope.cancel()
    assert order == list(range(40))


async def test_task_cancel_where_points_into_the_kernel():
    async with trapline.TaskGroup() as tg:
        task = tg.spawn(trapline.sleep_forever)
        await trapline.checkpoint()
        task.cancel()  # <- expected location
    assert task.exception().where.startswith(__file__)


async def test_gather_raises_a_base_exception_as_itself(virtual_clock):
    async def stop():
        raise SystemExit(3)

    async def slow():
        await trapline.sleep(10)

    try:
        await trapline.gather(stop(), slow())
    except SystemExit as error:
        assert error.code == 3
    assert trapline.current_time() == 0.0


def test_gather_type_error_does_not_leave_unawaited_sleeps():
    async def main():
        try:
            await trapline.gather(trapline.sleep(1), 5)
        except TypeError as error:
            return str(error)

    assert "argument 1" in trapline.run(main, clock=VirtualClock())


def test_int_deadline_becomes_a_float():
    assert type(trapline.CancelScope(deadline=5).deadline) is float


# Both found by running CPython's test_asyncio on trapline.aio (tests/aio/cpython_test_asyncio.py).


def test_run_in_a_main_thread_without_signal_handling(monkeypatch):
    # The main thread of a subinterpreter, or an embedding that disabled signals: installing
    # the Ctrl-C handler raises ValueError; the run goes on without it, as asyncio.Runner does.
    def refuse(*args):
        raise ValueError("signal only works in main thread of the main interpreter")

    monkeypatch.setattr(signal, "signal", refuse)

    async def main():
        await trapline.sleep(1)
        return trapline.current_time()

    assert trapline.run(main, clock=VirtualClock()) == 1.0


def test_a_child_forked_by_a_task_can_start_its_own_run():
    # multiprocessing's fork start method (a ProcessPoolExecutor worker) copies the parent's
    # thread state, its trapline run included; the child must still be able to call run().
    async def in_child():
        await trapline.sleep(2)
        return trapline.current_time()

    async def main():
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit code
            try:
                code = 0 if trapline.run(in_child, clock=VirtualClock()) == 2.0 else 1
            except BaseException:
                code = 2
            os._exit(code)
        _, status = await trapline.to_thread.run_sync(os.waitpid, pid, 0)
        return os.waitstatus_to_exitcode(status)

    assert trapline.run(main) == 0


def test_a_run_started_in_a_run_is_still_refused():
    async def main():
        with pytest.raises(RuntimeError, match="inside trapline.run"):
            trapline.run(trapline.sleep, 0)

    trapline.run(main)
