"""Cancel scopes, shielding, deadlines and timeouts: level-triggered cancellation, exactly timed.

Every test asserts exact virtual times and a deterministic outcome, including when a deadline and
the work it guards finish at the same virtual instant.
"""

import math
import time

import pytest

import trapline
from trapline._core._run import current_runner
from trapline.lowlevel import Instrument, ParkingLot, current_task
from trapline.testing import VirtualClock

HERE = __file__


def _line_of(marker):
    with open(HERE) as source:
        for number, text in enumerate(source, 1):
            if marker in text and "_line_of" not in text:
                return number
    raise AssertionError(marker)


# -- basic level-triggered behaviour -----------------------------------------------------------


async def test_cancel_is_level_triggered_until_the_scope_exits(virtual_clock):
    seen = []
    with trapline.CancelScope() as scope:
        scope.cancel()
        for _ in range(3):
            try:
                await trapline.checkpoint()
            except trapline.Cancelled:
                seen.append("cancelled")
        try:
            await trapline.sleep(5)
        except trapline.Cancelled:
            seen.append("sleep cancelled")
        await trapline.sleep_forever()
    assert seen == ["cancelled"] * 3 + ["sleep cancelled"]
    assert scope.cancel_called and scope.cancelled_caught
    assert trapline.current_time() == 0.0
    # Outside the scope the task is no longer cancelled.
    await trapline.sleep(1)
    assert trapline.current_time() == 1.0


async def test_cancel_without_a_checkpoint_is_not_caught():
    with trapline.CancelScope() as scope:
        scope.cancel()
        assert current_task()._cancel_pending
    assert scope.cancel_called
    assert not scope.cancelled_caught
    await trapline.checkpoint()  # no longer cancelled


async def test_cancelled_is_not_an_exception():
    assert not issubclass(trapline.Cancelled, Exception)
    caught_by_except_exception = False
    with trapline.CancelScope() as scope:
        scope.cancel()
        try:
            await trapline.checkpoint()
        except Exception:
            caught_by_except_exception = True
    assert not caught_by_except_exception
    assert scope.cancelled_caught


async def test_cancel_before_enter_and_after_exit():
    scope = trapline.CancelScope()
    scope.cancel("early")
    with scope:
        with pytest.raises(trapline.Cancelled, match="early"):
            await trapline.checkpoint()
        await trapline.checkpoint()
    assert scope.cancelled_caught
    with pytest.raises(RuntimeError, match="entered only once"):
        with scope:
            pass
    # cancel() after exit changes nothing for the task.
    other = trapline.CancelScope()
    with other:
        await trapline.checkpoint()
    other.cancel()
    await trapline.checkpoint()
    assert other.cancel_called and not other.cancelled_caught


async def test_cancel_is_idempotent_and_keeps_the_first_reason():
    with trapline.CancelScope() as scope:
        scope.cancel("first")
        scope.cancel("second")
        with pytest.raises(trapline.Cancelled) as info:
            await trapline.checkpoint()
        assert info.value.reason == "first"
    assert scope.reason == "first"


def test_scope_outside_a_run_is_an_error():
    with pytest.raises(RuntimeError):
        with trapline.CancelScope():
            pass


async def test_scopes_exited_out_of_order_are_refused():
    outer = trapline.CancelScope()
    inner = trapline.CancelScope()
    outer.__enter__()
    inner.__enter__()
    with pytest.raises(RuntimeError, match="out of order"):
        outer.__exit__(None, None, None)
    inner.__exit__(None, None, None)
    outer.__exit__(None, None, None)


async def test_checkpoint_if_cancelled_and_cancel_shielded_checkpoint():
    order = []

    async def other():
        order.append("other")

    async with trapline.TaskGroup() as tg:
        tg.spawn(other)
        await trapline.lowlevel.checkpoint_if_cancelled()  # not cancelled: does not yield
        order.append("main")
    assert order == ["main", "other"]
    with trapline.CancelScope() as scope:
        scope.cancel()
        await trapline.lowlevel.cancel_shielded_checkpoint()
        order.append("shielded checkpoint passed")
        with pytest.raises(trapline.Cancelled):
            await trapline.lowlevel.checkpoint_if_cancelled()
    assert order[-1] == "shielded checkpoint passed"


# -- cancellation at every checkpoint ----------------------------------------------------------


class CancelAtStep(Instrument):
    """Cancels ``scope`` right before the ``k``-th task step (counting every task's steps)."""

    def __init__(self, k, scope):
        self.k = k
        self.scope = scope
        self.steps = 0
        self.spawned = []
        self.exited = []

    def before_task_step(self, task):
        if self.steps == self.k:
            self.scope.cancel(f"step {self.k}")
        self.steps += 1

    def task_spawned(self, task):
        self.spawned.append(task)

    def task_exited(self, task):
        self.exited.append(task)


N_LINEAR = 12


def test_cancel_lands_on_exactly_the_kth_checkpoint():
    def one_run(k):
        scope = trapline.CancelScope()
        passed = []
        cleaned = []

        async def main():
            with scope:
                try:
                    for i in range(N_LINEAR):
                        await trapline.checkpoint()
                        passed.append(i)
                finally:
                    cleaned.append(True)
            return scope.cancelled_caught

        instrument = CancelAtStep(k, scope)
        caught = trapline.run(main, clock=VirtualClock(), instruments=[instrument])
        return caught, passed, cleaned, instrument

    for k in range(N_LINEAR + 1):
        caught, passed, cleaned, instrument = one_run(k)
        # Step k resumes from checkpoint k-1 (already decided) and stops at checkpoint k,
        # which is therefore the first to raise.
        if k < N_LINEAR:
            assert caught, k
            assert passed == list(range(k)), k
        else:
            # Cancelled during the last step: no checkpoint left, the work completed.
            assert not caught
            assert passed == list(range(N_LINEAR))
        assert cleaned == [True]
        assert instrument.steps == min(k + 2, N_LINEAR + 1)


async def _mixed_workload(log):
    """Tasks, sleeps, a parking lot, a nested group, tg.start, await task, shielded cleanup."""
    lot = ParkingLot("gate")

    async def worker(name, delay, rounds):
        log.append(("enter", name))
        try:
            for _ in range(rounds):
                await trapline.sleep(delay)
                await trapline.checkpoint()
        finally:
            with trapline.CancelScope(shield=True):
                await trapline.sleep(0.25)  # cleanup that must wait even when cancelled
            log.append(("exit", name))

    async def waiter():
        log.append(("enter", "waiter"))
        try:
            return await lot.park()
        finally:
            log.append(("exit", "waiter"))

    async def service(task_status=trapline.TASK_STATUS_IGNORED):
        log.append(("enter", "service"))
        try:
            # The scope works around a kernel bug: a task with no scope of its own when it
            # calls started() is not cancelled by its new group (see the test report).
            with trapline.CancelScope():
                await trapline.sleep(0.5)
                task_status.started("ready")
                await trapline.sleep(1)
        finally:
            log.append(("exit", "service"))

    async def nested():
        log.append(("enter", "nested"))
        try:
            async with trapline.TaskGroup() as inner:
                inner.spawn(worker, "n1", 0.5, 2)
                inner.spawn(worker, "n2", 1.0, 1)
                await trapline.sleep(0.75)
                lot.unpark(value="opened")
        finally:
            log.append(("exit", "nested"))

    log.append(("enter", "main"))
    try:
        async with trapline.TaskGroup() as tg:
            tg.spawn(worker, "w1", 1.0, 3)
            tg.spawn(worker, "w2", 0.5, 2)
            parked = tg.spawn(waiter)
            assert await tg.start(service) == "ready"
            tg.spawn(nested)
            assert await parked == "opened"
        await trapline.sleep(1)
    finally:
        log.append(("exit", "main"))


def _balanced(log):
    entered = [name for kind, name in log if kind == "enter"]
    exited = [name for kind, name in log if kind == "exit"]
    return sorted(entered) == sorted(exited) and len(set(entered)) == len(entered)


def test_cancel_at_every_step_of_a_mixed_workload():
    # First a clean run, to learn how many steps the workload takes and when it ends.
    log = []
    counter = CancelAtStep(-1, trapline.CancelScope())

    async def clean_main():
        await _mixed_workload(log)
        return trapline.current_time()

    end = trapline.run(clean_main, clock=VirtualClock(), instruments=[counter])
    total = counter.steps
    assert end == 4.25
    assert _balanced(log)
    assert len(log) == 2 * 8
    assert total > 30

    outcomes = set()
    for k in range(total):
        log = []
        scope = trapline.CancelScope()

        async def main(scope=scope, log=log):
            with scope:
                await _mixed_workload(log)
            return scope.cancelled_caught, trapline.current_time()

        instrument = CancelAtStep(k, scope)
        caught, when = trapline.run(main, clock=VirtualClock(), instruments=[instrument])
        # No task left running, every finally ran, nothing raised out of run().
        assert len(instrument.spawned) == len(instrument.exited), k
        assert all(task.done() for task in instrument.spawned), k
        assert _balanced(log), (k, log)
        assert ("exit", "main") in log
        # A cancelled workload stops early; one cancelled at its very last step completes.
        if caught:
            assert when < end, k
        else:
            assert when == end, k
        outcomes.add(caught)
    assert outcomes == {True, False}


def test_deadline_at_every_instant_of_a_mixed_workload():
    instants = sorted({i * 0.25 for i in range(19)})  # 0.0 ... 4.5, every event time and more
    for deadline in instants:
        log = []

        async def main(deadline=deadline, log=log):
            with trapline.move_on_at(deadline) as scope:
                await _mixed_workload(log)
            return scope.cancelled_caught, trapline.current_time()

        caught, when = trapline.run(main, clock=VirtualClock())
        assert _balanced(log), (deadline, log)
        if deadline <= 4.25:
            # At the same instant as the workload's last sleep, the deadline (registered
            # first) wins. Shielded cleanups take 0.25 s after the deadline.
            assert caught, deadline
            assert deadline <= when <= deadline + 0.25, deadline
        else:
            assert not caught
            assert when == 4.25


def test_error_raised_during_cancellation_is_never_lost():
    """A child whose cleanup raises: for every cancellation step the error surfaces."""

    def one_run(k):
        scope = trapline.CancelScope()
        raised = []

        async def fragile():
            try:
                await trapline.sleep(1)
                await trapline.checkpoint()
                await trapline.sleep(1)
            finally:
                raised.append(True)
                raise KeyError("cleanup failed")

        async def main():
            with scope:
                async with trapline.TaskGroup() as tg:
                    tg.spawn(fragile)
                    tg.spawn(trapline.sleep, 3)
                    await trapline.sleep(0.5)

        instrument = CancelAtStep(k, scope)
        came_out = False
        try:
            trapline.run(main, clock=VirtualClock(), instruments=[instrument])
        except BaseExceptionGroup as group:
            matched, rest = group.split(KeyError)
            assert rest is None
            assert matched is not None
            came_out = True
        return raised, came_out, instrument

    k = 0
    while True:
        raised, came_out, instrument = one_run(k)
        # fragile always runs its finally, so the KeyError always comes out of run().
        assert raised == [True], k
        assert came_out, k
        if instrument.steps <= k:
            break
        k += 1
    assert k > 5


def test_linear_sleeps_cut_by_a_deadline_at_each_instant():
    # Sleep i runs from t=i to t=i+1. With move_on_at(k) entered at t=0, the deadline entry
    # precedes every sleep's entry, so a sleep ending exactly at k is cancelled.
    for k in range(8):
        done = []

        async def main(k=k, done=done):
            with trapline.move_on_at(k) as scope:
                for i in range(6):
                    await trapline.sleep(1)
                    done.append(i)
            return scope.cancelled_caught, trapline.current_time()

        caught, when = trapline.run(main, clock=VirtualClock())
        if k <= 6:
            assert caught
            assert done == list(range(max(k - 1, 0)))
            assert when == k
        else:
            assert not caught and done == list(range(6)) and when == 6.0
    # Half-way deadlines: exactly k sleeps complete.
    for k in range(6):
        done = []

        async def main2(k=k, done=done):
            with trapline.move_on_at(k + 0.5) as scope:
                for i in range(6):
                    await trapline.sleep(1)
                    done.append(i)
            return scope.cancelled_caught, trapline.current_time()

        assert trapline.run(main2, clock=VirtualClock()) == (True, k + 0.5)
        assert done == list(range(k))


# -- nested scopes -----------------------------------------------------------------------------


async def test_inner_cancel_is_absorbed_by_the_inner_scope(virtual_clock):
    with trapline.CancelScope() as outer:
        with trapline.CancelScope() as inner:
            inner.cancel()
            await trapline.sleep(1)
        await trapline.sleep(1)
    assert inner.cancelled_caught and not outer.cancelled_caught
    assert not outer.cancel_called
    assert trapline.current_time() == 1.0


async def test_outer_cancel_passes_through_the_inner_scope(virtual_clock):
    reached = []
    with trapline.CancelScope() as outer:
        with trapline.CancelScope() as inner:
            outer.cancel("outer")
            await trapline.sleep(1)
        reached.append("after inner")
    assert not reached
    assert outer.cancelled_caught and not inner.cancelled_caught
    assert not inner.cancel_called
    assert trapline.current_time() == 0.0


async def test_both_cancelled_the_outermost_catches_and_names_the_reason(virtual_clock):
    with trapline.CancelScope() as outer:
        with trapline.CancelScope() as inner:
            inner.cancel("inner")
            outer.cancel("outer")
            with pytest.raises(trapline.Cancelled) as info:
                await trapline.checkpoint()
            assert info.value.reason == "outer"
            await trapline.checkpoint()
    assert outer.cancelled_caught and not inner.cancelled_caught


async def test_inner_deadline_then_outer_deadline(virtual_clock):
    with trapline.move_on_after(10) as outer:
        with trapline.move_on_after(2) as inner:
            await trapline.sleep(5)
        assert trapline.current_time() == 2.0
        await trapline.sleep(20)
    assert trapline.current_time() == 10.0
    assert inner.cancelled_caught and outer.cancelled_caught


async def test_cancelled_inside_a_finally_cleanup_of_inner_scope(virtual_clock):
    # Inner cancelled; while its Cancelled propagates, a shielded cleanup sleeps and the outer
    # scope is cancelled meanwhile: the Cancelled then belongs to the outer scope.
    async def cancel_outer_later(scope):
        await trapline.sleep(1)
        scope.cancel()

    async with trapline.TaskGroup() as tg:
        with trapline.CancelScope() as outer:
            tg.spawn(cancel_outer_later, outer)
            with trapline.CancelScope() as inner:
                inner.cancel()
                try:
                    await trapline.checkpoint()
                finally:
                    with trapline.CancelScope(shield=True):
                        await trapline.sleep(2)
    assert not inner.cancelled_caught
    assert outer.cancelled_caught
    assert trapline.current_time() == 2.0


# -- shielding ---------------------------------------------------------------------------------


async def test_shield_runs_to_its_end_then_outer_cancel_is_seen(virtual_clock):
    log = []
    with trapline.CancelScope() as outer:
        outer.cancel()
        with trapline.CancelScope(shield=True) as shield:
            await trapline.sleep(3)
            await trapline.checkpoint()
            log.append(("shield done", trapline.current_time()))
        log.append("after shield, no checkpoint yet")
        try:
            await trapline.checkpoint()
        except trapline.Cancelled:
            log.append("cancelled at next checkpoint")
            raise
    assert log == [
        ("shield done", 3.0),
        "after shield, no checkpoint yet",
        "cancelled at next checkpoint",
    ]
    assert outer.cancelled_caught and not shield.cancelled_caught


async def test_shield_protects_against_outer_cancel_arriving_later(virtual_clock):
    async def canceller(scope):
        await trapline.sleep(1)
        scope.cancel()

    async with trapline.TaskGroup() as tg:
        with trapline.CancelScope() as outer:
            tg.spawn(canceller, outer)
            with trapline.CancelScope(shield=True):
                await trapline.sleep(5)
                assert trapline.current_time() == 5.0
            await trapline.sleep(100)
    assert outer.cancelled_caught
    assert trapline.current_time() == 5.0


async def test_shielded_scope_own_deadline_still_fires(virtual_clock):
    with trapline.CancelScope() as outer:
        outer.cancel()
        with trapline.move_on_after(2, shield=True) as shield:
            await trapline.sleep(10)
        assert trapline.current_time() == 2.0
        assert shield.cancelled_caught
        with pytest.raises(TimeoutError):
            with trapline.fail_after(1, shield=True):
                await trapline.sleep(10)
        assert trapline.current_time() == 3.0
        await trapline.checkpoint()
    assert outer.cancelled_caught


async def test_unshielding_a_parked_task_delivers_the_cancel_at_once(virtual_clock):
    async def unshield(scope):
        await trapline.sleep(2)
        scope.shield = False

    async with trapline.TaskGroup() as tg:
        with trapline.CancelScope() as outer:
            outer.cancel()
            with trapline.CancelScope(shield=True) as shield:
                tg.spawn(unshield, shield)
                await trapline.sleep(10)
    assert trapline.current_time() == 2.0
    assert outer.cancelled_caught and not shield.cancelled_caught
    assert not shield.shield


async def test_shielding_later_hides_a_cancel_from_then_on(virtual_clock):
    with trapline.CancelScope() as outer:
        with trapline.CancelScope() as inner:
            inner.shield = True
            outer.cancel()
            await trapline.sleep(1)
            inner.shield = False
            with pytest.raises(trapline.Cancelled):
                await trapline.checkpoint()
            inner.shield = True
            await trapline.sleep(1)
    assert not outer.cancelled_caught  # the body completed without a Cancelled escaping
    assert trapline.current_time() == 2.0


async def test_shield_covers_child_tasks_of_a_group_inside_it(virtual_clock):
    finished = []

    async def child():
        await trapline.sleep(3)
        finished.append(trapline.current_time())

    with trapline.CancelScope() as outer:
        outer.cancel()
        with trapline.CancelScope(shield=True):
            async with trapline.TaskGroup() as tg:
                tg.spawn(child)
                tg.spawn(child)
        await trapline.checkpoint()
    assert finished == [3.0, 3.0]
    assert outer.cancelled_caught


# -- deadlines ---------------------------------------------------------------------------------


async def test_move_on_after_exact_time_and_body_result(virtual_clock):
    await trapline.sleep(1.5)
    with trapline.move_on_after(2) as scope:
        assert scope.deadline == 3.5
        await trapline.sleep(2.5)
    assert scope.cancelled_caught and trapline.current_time() == 3.5
    with trapline.move_on_after(2) as scope:
        await trapline.sleep(1)
    assert not scope.cancelled_caught and not scope.cancel_called
    assert trapline.current_time() == 4.5


async def test_move_on_after_zero_and_past_deadlines(virtual_clock):
    await trapline.sleep(10)
    with trapline.move_on_after(0) as scope:
        assert scope.cancel_called  # immediate: the deadline is now
        await trapline.checkpoint()
    assert scope.cancelled_caught
    with trapline.move_on_at(3) as scope:
        assert scope.cancel_called
        assert trapline.current_effective_deadline() == -math.inf
    assert not scope.cancelled_caught  # no checkpoint in the block
    with trapline.CancelScope(deadline=-math.inf) as scope:
        await trapline.sleep(1)
    assert scope.cancelled_caught
    assert trapline.current_time() == 10.0


async def test_bad_timeouts_are_value_errors():
    with pytest.raises(ValueError):
        trapline.move_on_after(-1)
    with pytest.raises(ValueError):
        trapline.move_on_after(math.nan)
    with pytest.raises(ValueError):
        trapline.CancelScope(deadline=math.nan)
    with pytest.raises(ValueError):
        with trapline.fail_after(-0.5):
            pass
    scope = trapline.CancelScope()
    with pytest.raises(ValueError):
        scope.deadline = math.nan
    assert scope.deadline == math.inf


async def test_deadline_moved_earlier_while_parked(virtual_clock):
    async def mover(scope):
        await trapline.sleep(1)
        scope.deadline = 2.5

    async with trapline.TaskGroup() as tg:
        with trapline.move_on_at(100) as scope:
            tg.spawn(mover, scope)
            await trapline.sleep(50)
    assert scope.cancelled_caught
    assert trapline.current_time() == 2.5
    assert scope.deadline == 2.5


async def test_deadline_moved_later_and_to_infinity(virtual_clock):
    async def mover(scope, when, new):
        await trapline.sleep(when)
        scope.deadline = new

    async with trapline.TaskGroup() as tg:
        with trapline.move_on_at(2) as scope:
            tg.spawn(mover, scope, 1, 7)
            await trapline.sleep(50)
    assert scope.cancelled_caught and trapline.current_time() == 7.0

    async with trapline.TaskGroup() as tg:
        with trapline.move_on_at(9) as scope:
            tg.spawn(mover, scope, 1, math.inf)
            await trapline.sleep(5)
            assert trapline.current_time() == 12.0
    assert not scope.cancel_called and not scope.cancelled_caught
    assert scope.deadline == math.inf


async def test_deadline_moved_into_the_past_cancels_synchronously(virtual_clock):
    await trapline.sleep(5)
    with trapline.move_on_after(10) as scope:
        scope.deadline = 5.0  # == now
        assert scope.cancel_called
        assert scope.reason == "deadline expired"
        # Moving it again after the cancel does not un-cancel.
        scope.deadline = math.inf
        assert scope.cancel_called
        await trapline.checkpoint()
    assert scope.cancelled_caught and trapline.current_time() == 5.0


async def test_deadline_set_before_entering_counts_from_entry(virtual_clock):
    scope = trapline.CancelScope()
    scope.deadline = 4
    await trapline.sleep(1)
    with scope:
        await trapline.sleep(10)
    assert scope.cancelled_caught and trapline.current_time() == 4.0
    # Setting a deadline on an exited scope does nothing.
    scope.deadline = 0
    await trapline.sleep(1)


async def test_deadline_of_cancelled_scope_changes_nothing(virtual_clock):
    with trapline.move_on_after(3) as scope:
        scope.cancel()
        scope.deadline = 1
        await trapline.sleep(5)
    assert trapline.current_time() == 0.0
    assert scope.reason is None
    assert scope.cancelled_caught


async def test_many_scopes_same_deadline_fire_together(virtual_clock):
    times = []

    async def sleeper(i):
        with trapline.move_on_at(3):
            await trapline.sleep_forever()
        times.append((i, trapline.current_time()))

    async with trapline.TaskGroup() as tg:
        for i in range(5):
            tg.spawn(sleeper, i)
    assert times == [(i, 3.0) for i in range(5)]


# -- fail_after / fail_at ----------------------------------------------------------------------


async def test_fail_after_raises_timeout_error_at_its_deadline(virtual_clock):
    with pytest.raises(TimeoutError) as info:
        with trapline.fail_after(3):
            await trapline.sleep(10)
    assert type(info.value) is TimeoutError
    assert trapline.current_time() == 3.0
    with pytest.raises(TimeoutError):
        with trapline.fail_at(5):
            await trapline.sleep_forever()
    assert trapline.current_time() == 5.0
    with trapline.fail_after(3) as scope:
        await trapline.sleep(2)
    assert not scope.cancel_called
    assert trapline.current_time() == 7.0


async def test_fail_after_does_not_raise_when_an_outer_scope_cancelled(virtual_clock):
    with trapline.move_on_after(1) as outer:
        with trapline.fail_after(5) as inner:
            await trapline.sleep(10)
    assert outer.cancelled_caught and not inner.cancelled_caught
    assert trapline.current_time() == 1.0

    # Same instant: the outer deadline was registered first, so the outer scope catches it.
    with trapline.move_on_after(2) as outer:
        with trapline.fail_after(2) as inner:
            await trapline.sleep(10)
    assert outer.cancelled_caught and not inner.cancelled_caught
    assert inner.cancel_called
    assert trapline.current_time() == 3.0


async def test_fail_after_does_not_raise_when_cancelled_by_hand(virtual_clock):
    with trapline.fail_after(5) as scope:
        scope.cancel()
        await trapline.sleep(10)
    assert scope.cancelled_caught
    assert trapline.current_time() == 0.0


async def test_fail_after_without_a_checkpoint_after_expiry_does_not_raise(virtual_clock):
    async def expire(scope):
        scope.deadline = 0.0  # == now: cancels the other task's scope immediately

    async with trapline.TaskGroup() as tg:
        with trapline.fail_after(5) as scope:
            tg.spawn(expire, scope)
            await trapline.lowlevel.cancel_shielded_checkpoint()
            assert scope.cancel_called
    assert not scope.cancelled_caught


async def test_inner_fail_after_timeout_error_passes_outer_timeouts(virtual_clock):
    with trapline.fail_after(10) as outer:
        with pytest.raises(TimeoutError, match="after 2 s"):
            with trapline.fail_after(2):
                await trapline.sleep(5)
        await trapline.sleep(1)
    assert not outer.cancel_called
    assert trapline.current_time() == 3.0
    with pytest.raises(TimeoutError, match="after 1 s"):
        with trapline.fail_after(1):
            with trapline.fail_after(3):
                await trapline.sleep(5)
    assert trapline.current_time() == 4.0


async def test_fail_after_inside_a_child_task_fails_the_group(virtual_clock):
    async def slow():
        with trapline.fail_after(2):
            await trapline.sleep(5)

    with pytest.raises(ExceptionGroup) as info:
        async with trapline.TaskGroup() as tg:
            tg.spawn(slow)
            await trapline.sleep(100)
    assert [type(e) for e in info.value.exceptions] == [TimeoutError]
    assert trapline.current_time() == 2.0


# -- current_effective_deadline ----------------------------------------------------------------


async def test_current_effective_deadline(virtual_clock):
    ced = trapline.current_effective_deadline
    assert ced() == math.inf
    await trapline.sleep(1)
    with trapline.move_on_after(10):
        assert ced() == 11.0
        with trapline.move_on_at(20):
            assert ced() == 11.0
        with trapline.move_on_at(5) as inner:
            assert ced() == 5.0
            inner.deadline = 7
            assert ced() == 7.0
            inner.deadline = math.inf
            assert ced() == 11.0
        with trapline.CancelScope(shield=True):
            assert ced() == math.inf
            with trapline.move_on_at(30):
                assert ced() == 30.0
        with trapline.CancelScope() as cancelled:
            cancelled.cancel()
            assert ced() == -math.inf
            with trapline.CancelScope(shield=True, deadline=40):
                assert ced() == 40.0
        assert ced() == 11.0
    assert ced() == math.inf


async def test_current_effective_deadline_in_child_tasks(virtual_clock):
    seen = {}

    async def child(name):
        seen[name] = trapline.current_effective_deadline()
        with trapline.move_on_after(1):
            seen[name + " inner"] = trapline.current_effective_deadline()

    with trapline.move_on_at(8):
        async with trapline.TaskGroup() as tg:
            tg.spawn(child, "a")
            tg.cancel_scope.deadline = 6
            tg.spawn(child, "b")
    assert seen == {"a": 6.0, "a inner": 1.0, "b": 6.0, "b inner": 1.0}


def test_current_effective_deadline_outside_a_run_is_an_error():
    with pytest.raises(RuntimeError):
        trapline.current_effective_deadline()


# -- Cancelled.reason and .where ---------------------------------------------------------------


async def test_cancelled_reason_and_where_for_an_explicit_cancel():
    with trapline.CancelScope() as scope:
        scope.cancel("because")  # cancel-here
        with pytest.raises(trapline.Cancelled) as info:
            await trapline.checkpoint()
    error = info.value
    assert error.reason == "because" == scope.reason
    assert error.where == f"{HERE}:{_line_of('# cancel-here')}"
    assert str(error) == f"cancelled: because (requested at {error.where})"
    assert error.args == ("because",)


async def test_cancelled_reason_and_where_for_a_deadline(virtual_clock):
    with trapline.move_on_after(1):
        with pytest.raises(trapline.Cancelled) as info:
            await trapline.sleep(2)
    assert info.value.reason == "deadline expired"
    assert info.value.where == "deadline"
    assert str(info.value) == "cancelled: deadline expired (requested at deadline)"


async def test_cancelled_reason_for_a_sibling_failure(virtual_clock):
    caught = []

    async def boom():
        await trapline.sleep(1)
        raise ValueError("x")  # boom-line

    async def victim():
        try:
            await trapline.sleep(5)
        except trapline.Cancelled as error:
            caught.append(error)
            raise

    with pytest.raises(ExceptionGroup):
        async with trapline.TaskGroup() as tg:
            tg.spawn(boom, name="boomer")
            tg.spawn(victim)
    (error,) = caught
    assert error.reason == "task 'boomer' raised ValueError"
    assert error.where == f"{HERE}:{_line_of('# boom-line')}"


def test_cancelled_pickles_with_reason_and_where():
    import pickle

    error = pickle.loads(pickle.dumps(trapline.Cancelled("r", "w")))
    assert (error.reason, error.where) == ("r", "w")


# -- deadline versus completion at the same virtual instant ------------------------------------


async def test_deadline_and_sleep_ending_together_deadline_wins(virtual_clock):
    # The scope's deadline entry was registered before the sleep's: it fires first and the
    # parked sleeper is cancelled, although its own timer is due at the same instant.
    with trapline.move_on_at(5) as scope:
        await trapline.sleep_until(5)
        pytest.fail("the sleep must not complete")
    assert scope.cancelled_caught and trapline.current_time() == 5.0
    with pytest.raises(TimeoutError):
        with trapline.fail_after(5):
            await trapline.sleep(5)
    assert trapline.current_time() == 10.0


async def test_sleep_registered_first_completes_then_next_checkpoint_cancels(virtual_clock):
    # The sleep's timer entry precedes the deadline (moved to the same instant later): the
    # sleeper wakes normally; the cancellation is seen at its next checkpoint.
    log = []

    async def mover(scope):
        await trapline.sleep(1)
        scope.deadline = 5

    async with trapline.TaskGroup() as tg:
        with trapline.CancelScope() as scope:
            tg.spawn(mover, scope)
            await trapline.sleep_until(5)
            log.append(("woke", trapline.current_time(), scope.cancel_called))
            await trapline.checkpoint()
            log.append("not reached")
    assert log == [("woke", 5.0, True)]
    assert scope.cancelled_caught


async def test_awaited_task_finishing_at_the_deadline_instant(virtual_clock):
    async def job():
        await trapline.sleep(5)
        return "done"

    # Case 1: the job's sleep was registered before the waiter's deadline: the job finishes at
    # t=5, but deadlines are all processed before tasks run, so the waiter is cancelled.
    async with trapline.TaskGroup() as tg:
        task = tg.spawn(job)
        await trapline.checkpoint()  # job parks first
        with trapline.move_on_at(5) as scope:
            await task
    assert scope.cancelled_caught
    assert task.result() == "done"
    assert trapline.current_time() == 5.0

    # Case 2: the deadline is earlier by any amount: cancelled, job unaffected.
    async with trapline.TaskGroup() as tg:
        task = tg.spawn(job)
        with trapline.move_on_after(4.999) as scope:
            await task
        assert not task.done()
    assert scope.cancelled_caught and task.result() == "done"
    assert trapline.current_time() == 10.0


async def test_group_child_finishing_at_the_deadline_instant(virtual_clock):
    finished = []

    async def child(when):
        await trapline.sleep_until(when)
        finished.append(trapline.current_time())

    # move_on_at registered before the child's sleep: it fires first, the child is cancelled.
    with trapline.move_on_at(5) as scope:
        async with trapline.TaskGroup() as tg:
            tg.spawn(child, 5)
    assert scope.cancelled_caught and finished == []
    assert trapline.current_time() == 5.0

    # The child's sleep registered first (the deadline is moved there afterwards): the child
    # completes, and leaving the group is then a cancel point for the body.
    async def mover(scope):
        scope.deadline = 10

    with trapline.CancelScope() as scope:
        async with trapline.TaskGroup() as tg:
            tg.spawn(child, 10)
            await trapline.checkpoint()
            tg.spawn(mover, scope)
    assert finished == [10.0]
    assert scope.cancelled_caught
    assert trapline.current_time() == 10.0


# -- heap and timer scale ----------------------------------------------------------------------


async def test_a_million_cancelled_timeouts_keep_the_heap_bounded():
    deadlines = current_runner().deadlines
    biggest = 0
    for _ in range(1_000_000):
        with trapline.move_on_after(10):
            pass
        size = len(deadlines.heap)
        if size > biggest:
            biggest = size
    assert deadlines.live == 0
    assert biggest <= 2 * 1 + 64 + 1


async def test_moved_deadlines_with_many_live_scopes_keep_the_heap_bounded(virtual_clock):
    deadlines = current_runner().deadlines
    scopes = []
    biggest = 0

    async def holder(scope):
        with scope:
            await trapline.sleep_forever()

    async with trapline.TaskGroup() as tg:
        for i in range(500):
            scope = trapline.CancelScope(deadline=1000 + i)
            scopes.append(scope)
            tg.spawn(holder, scope)
        await trapline.checkpoint()
        live = deadlines.live
        assert live == 500
        for round_ in range(400):
            for i, scope in enumerate(scopes):
                scope.deadline = 1000 + round_ + i
            biggest = max(biggest, len(deadlines.heap))
        assert deadlines.live == 500
        assert biggest <= 2 * live + 64 + 1
        for scope in scopes:
            scope.deadline = math.inf  # disarm: the heap empties lazily but stays bounded
        assert deadlines.live == 0
        assert len(deadlines.heap) <= 64 + 1
        tg.cancel_scope.cancel()
    assert trapline.current_time() == 0.0


async def test_cancelled_sleeps_keep_the_heap_bounded(virtual_clock):
    deadlines = current_runner().deadlines
    biggest = 0
    for _ in range(20_000):
        with trapline.move_on_after(0.5):
            await trapline.sleep(1)  # sleep entry discarded when the deadline cancels it
        biggest = max(biggest, len(deadlines.heap))
    assert biggest <= 2 * 2 + 64 + 1
    assert trapline.current_time() == 10_000.0


def test_an_hour_of_timers_runs_fast_and_exact():
    ticks = {}

    async def ticker_until(name):
        count = 0
        for i in range(1, 36_001):
            await trapline.sleep_until(i / 10)
            count += 1
        ticks[name] = (count, trapline.current_time())

    async def ticker_relative(name):
        count = 0
        for _ in range(36_000):
            await trapline.sleep(0.1)
            count += 1
        ticks[name] = (count, trapline.current_time())

    async def main():
        async with trapline.TaskGroup() as tg:
            for i in range(3):
                tg.spawn(ticker_until, f"abs{i}")
            for i in range(2):
                tg.spawn(ticker_relative, f"rel{i}")
        return trapline.current_time()

    expected_relative = 0.0
    for _ in range(36_000):
        expected_relative += 0.1  # sleep(d) wakes at exactly now + d, so error accumulates

    started = time.perf_counter()
    end = trapline.run(main, clock=VirtualClock())
    elapsed = time.perf_counter() - started
    assert ticks == {
        **{f"abs{i}": (36_000, 3600.0) for i in range(3)},
        **{f"rel{i}": (36_000, expected_relative) for i in range(2)},
    }
    assert end == max(3600.0, expected_relative)
    assert elapsed < 5.0


# -- the cached cancel flags agree with the scope tree -----------------------------------------


def _visible_cancel(task):
    """Reference answer for ``task._cancel_pending``: walk the scopes outward."""
    scope = task._scope
    while scope is not None:
        if scope._cancel_called:
            return True
        if scope._shield:
            return False
        scope = scope._parent
    return False


class FlagChecker(Instrument):
    def __init__(self):
        self.tasks = []
        self.problems = []

    def task_spawned(self, task):
        self.tasks.append(task)

    def after_task_step(self, task):
        for each in self.tasks:
            if each.done():
                continue
            if each._cancel_pending != _visible_cancel(each):
                self.problems.append(("flag", each.name, each._cancel_pending))
            wait = each._wait
            if each._cancel_pending and wait is not None and wait.abort_fn is None:
                self.problems.append(("still parked although cancelled", each.name))


def _random_program(seed):
    import random

    rng = random.Random(seed)
    scopes = []
    tasks = []

    async def step():
        op = rng.random()
        if op < 0.3:
            await trapline.sleep(rng.choice([0, 0.5, 1, 2]))
        elif op < 0.45 and scopes:
            rng.choice(scopes).cancel()
        elif op < 0.6 and scopes:
            scope = rng.choice(scopes)
            scope.shield = not scope.shield
        elif op < 0.7 and tasks:
            rng.choice(tasks).cancel()
        elif op < 0.85 and scopes:
            scope = rng.choice(scopes)
            scope.deadline = trapline.current_time() + rng.choice([0.5, 1, math.inf])
        else:
            await trapline.checkpoint()

    async def script(depth):
        for _ in range(rng.randint(1, 6)):
            op = rng.random()
            if op < 0.25 and depth < 4:
                delay = rng.choice([math.inf, 1, 2, 3])
                with trapline.CancelScope(
                    shield=rng.random() < 0.3, deadline=trapline.current_time() + delay
                ) as scope:
                    scopes.append(scope)
                    await step()
                    await step()
            elif op < 0.45 and depth < 4:
                async with trapline.TaskGroup() as tg:
                    scopes.append(tg.cancel_scope)
                    for _ in range(rng.randint(1, 3)):
                        tasks.append(tg.spawn(script, depth + 1))
                    await step()
            else:
                await step()

    async def main():
        with trapline.move_on_after(50):
            await script(0)

    return main


def test_cached_cancel_flags_match_the_scope_tree_under_random_operations():
    total_tasks = 0
    for seed in range(400):
        checker = FlagChecker()
        trapline.run(_random_program(seed), clock=VirtualClock(), instruments=[checker])
        assert checker.problems == [], seed
        assert all(task.done() for task in checker.tasks)
        total_tasks += len(checker.tasks)
    assert total_tasks > 1000
