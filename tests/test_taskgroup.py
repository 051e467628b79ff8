"""Task groups, tasks, tg.start, gather, contextvars and trapline.run: structured concurrency.

Failures are always grouped, siblings and the body are cancelled, nothing is lost, and every
outcome happens at an exact virtual time.
"""

import contextvars
import gc

import pytest

import trapline
from trapline.lowlevel import current_task
from trapline.testing import VirtualClock


async def _sleep_then(delay, value=None, log=None, name=None):
    try:
        await trapline.sleep(delay)
    finally:
        if log is not None:
            log.append((name, trapline.current_time()))
    return value


async def _fail_after_sleeping(delay, error):
    await trapline.sleep(delay)
    raise error


# -- spawning and results ----------------------------------------------------------------------


async def test_spawn_returns_tasks_with_results_and_names(virtual_clock):
    async with trapline.TaskGroup() as tg:
        a = tg.spawn(_sleep_then, 2, "a")
        b = tg.spawn(_sleep_then, 1, "b", name="bee")
        assert not a.done() and not b.done()
        assert tg.tasks == [a, b]
        assert a.parent_group is tg and b.parent_group is tg
        assert b.name == "bee"
        assert a.name.startswith("_sleep_then")
        with pytest.raises(RuntimeError, match="not finished"):
            a.result()
        with pytest.raises(RuntimeError, match="not finished"):
            a.exception()
    assert trapline.current_time() == 2.0
    assert (a.result(), b.result()) == ("a", "b")
    assert a.exception() is None and not a.cancelled() and a.done()
    assert tg.tasks == []


async def test_tasks_run_in_spawn_order_at_the_callers_next_checkpoint():
    order = []

    async def note(i):
        order.append(i)

    async with trapline.TaskGroup() as tg:
        for i in range(5):
            tg.spawn(note, i)
        order.append("body")  # spawn is not a checkpoint
    assert order == ["body", 0, 1, 2, 3, 4]


async def test_spawn_rejects_non_async_things():
    def plain():
        return 3

    async with trapline.TaskGroup() as tg:
        with pytest.raises(TypeError, match="async def"):
            tg.spawn(plain)
        with pytest.raises(TypeError, match="got 5 of type int"):
            tg.spawn(5)
        assert tg.tasks == []


async def test_spawn_and_start_after_close_raise_runtime_error():
    async with trapline.TaskGroup() as tg:
        pass
    with pytest.raises(RuntimeError, match="not open"):
        tg.spawn(trapline.sleep, 1)
    with pytest.raises(RuntimeError, match="not open"):
        await tg.start(trapline.sleep, 1)
    new = trapline.TaskGroup()
    with pytest.raises(RuntimeError, match="not open"):
        new.spawn(trapline.sleep, 1)
    with pytest.raises(RuntimeError, match="only once"):
        async with tg:
            pass
    gc.collect()


async def test_spawning_from_a_child_into_the_parent_group_while_it_exits(virtual_clock):
    log = []
    spawned = []

    async def parent_child(tg):
        await trapline.sleep(1)
        spawned.append(tg.spawn(_sleep_then, 5, "late", log, "late"))
        log.append(("spawned late", trapline.current_time()))

    async with trapline.TaskGroup() as tg:
        tg.spawn(parent_child, tg)
        # The body ends at once; the group is exiting when the child spawns into it.
    assert trapline.current_time() == 6.0
    assert log == [("spawned late", 1.0), ("late", 6.0)]
    assert spawned[0].result() == "late"
    with pytest.raises(RuntimeError):
        tg.spawn(_sleep_then, 1)


async def test_nested_groups_wait_for_grandchildren(virtual_clock):
    log = []

    async def middle():
        async with trapline.TaskGroup() as inner:
            inner.spawn(_sleep_then, 3, None, log, "grandchild")
        log.append(("middle", trapline.current_time()))

    async with trapline.TaskGroup() as tg:
        tg.spawn(middle)
        tg.spawn(_sleep_then, 1, None, log, "child")
    assert log == [("child", 1.0), ("grandchild", 3.0), ("middle", 3.0)]
    assert current_task().child_groups == []


# -- failures ----------------------------------------------------------------------------------


async def test_child_failure_cancels_siblings_and_body(virtual_clock):
    log = []
    body = []
    with pytest.raises(ExceptionGroup) as info:
        async with trapline.TaskGroup() as tg:
            tg.spawn(_sleep_then, 10, None, log, "sibling")
            tg.spawn(_fail_after_sleeping, 2, ValueError("boom"))
            try:
                await trapline.sleep(10)
            except trapline.Cancelled:
                body.append(("body cancelled", trapline.current_time()))
                raise
            body.append("not reached")
    group = info.value
    assert type(group) is ExceptionGroup
    assert [type(e) for e in group.exceptions] == [ValueError]
    assert str(group.exceptions[0]) == "boom"
    assert log == [("sibling", 2.0)]
    assert body == [("body cancelled", 2.0)]
    assert trapline.current_time() == 2.0
    assert tg.cancel_scope.cancel_called


async def test_single_failure_is_still_grouped_and_except_star_works(virtual_clock):
    caught = []
    try:
        async with trapline.TaskGroup() as tg:
            tg.spawn(_fail_after_sleeping, 1, KeyError("k"))
    except* KeyError as group:
        caught.append(group)
    assert len(caught) == 1 and isinstance(caught[0].exceptions[0], KeyError)


async def test_multiple_errors_in_one_group_deterministic_order(virtual_clock):
    with pytest.raises(ExceptionGroup) as info:
        async with trapline.TaskGroup() as tg:
            tg.spawn(_fail_after_sleeping, 1, ValueError("a"))
            tg.spawn(_fail_after_sleeping, 1, KeyError("b"))
            tg.spawn(_fail_after_sleeping, 2, OSError("never"))
    errors = info.value.exceptions
    # Both woke at t=1 before either ran, so both raised, in wake (FIFO) order.
    assert [type(e) for e in errors] == [ValueError, KeyError]
    assert "2 tasks" in str(info.value)
    assert trapline.current_time() == 1.0


async def test_errors_raised_in_cleanup_after_cancellation_are_all_kept(virtual_clock):
    async def cleanup_fails(error):
        try:
            await trapline.sleep_forever()
        finally:
            raise error

    with pytest.raises(ExceptionGroup) as info:
        async with trapline.TaskGroup() as tg:
            tg.spawn(cleanup_fails, KeyError("first cleanup"))
            tg.spawn(_fail_after_sleeping, 3, ValueError("trigger"))
            tg.spawn(cleanup_fails, OSError("second cleanup"))
    types = sorted(type(e).__name__ for e in info.value.exceptions)
    assert types == ["KeyError", "OSError", "ValueError"]
    assert type(info.value.exceptions[0]) is ValueError  # the trigger came first
    assert trapline.current_time() == 3.0


async def test_body_error_plus_child_errors_body_first(virtual_clock):
    async def cleanup_fails():
        try:
            await trapline.sleep_forever()
        finally:
            raise KeyError("child cleanup")

    log = []
    with pytest.raises(ExceptionGroup) as info:
        async with trapline.TaskGroup() as tg:
            tg.spawn(cleanup_fails)
            tg.spawn(_sleep_then, 10, None, log, "sleeper")
            await trapline.sleep(1)
            raise RuntimeError("body")
    assert [type(e) for e in info.value.exceptions] == [RuntimeError, KeyError]
    assert log == [("sleeper", 1.0)]
    assert trapline.current_time() == 1.0


async def test_body_error_without_children_is_grouped():
    with pytest.raises(ExceptionGroup) as info:
        async with trapline.TaskGroup():
            raise ValueError("alone")
    (error,) = info.value.exceptions
    assert str(error) == "alone"


async def test_child_error_while_body_blocked_in_a_shield(virtual_clock):
    log = []
    with pytest.raises(ExceptionGroup):
        async with trapline.TaskGroup() as tg:
            tg.spawn(_fail_after_sleeping, 1, ValueError())
            with trapline.CancelScope(shield=True):
                await trapline.sleep(4)
                log.append(("shielded body done", trapline.current_time()))
            await trapline.checkpoint()
            log.append("not reached")
    assert log == [("shielded body done", 4.0)]


async def test_child_error_while_body_waits_in_exit(virtual_clock):
    log = []
    with pytest.raises(ExceptionGroup) as info:
        async with trapline.TaskGroup() as tg:
            tg.spawn(_sleep_then, 100, None, log, "long")
            tg.spawn(_fail_after_sleeping, 3, ValueError("late"))
    assert log == [("long", 3.0)]
    assert [str(e) for e in info.value.exceptions] == ["late"]


async def test_failing_group_nested_in_group(virtual_clock):
    with pytest.raises(ExceptionGroup) as info:
        async with trapline.TaskGroup() as outer:

            async def middle():
                async with trapline.TaskGroup() as inner:
                    inner.spawn(_fail_after_sleeping, 1, ValueError("deep"))

            outer.spawn(middle)
            outer.spawn(_sleep_then, 50)
    (inner_group,) = info.value.exceptions
    assert isinstance(inner_group, ExceptionGroup)
    assert [str(e) for e in inner_group.exceptions] == ["deep"]
    assert trapline.current_time() == 1.0


async def test_base_exception_in_child_is_grouped(virtual_clock):
    async def exits():
        await trapline.sleep(1)
        raise SystemExit(3)

    with pytest.raises(BaseExceptionGroup) as info:
        async with trapline.TaskGroup() as tg:
            tg.spawn(exits)
            tg.spawn(_sleep_then, 9)
    assert type(info.value) is BaseExceptionGroup
    assert [type(e) for e in info.value.exceptions] == [SystemExit]


# -- cancellation and groups -------------------------------------------------------------------


async def test_pure_cancellation_propagates_as_bare_cancelled(virtual_clock):
    log = []
    with trapline.move_on_after(2) as outer:
        try:
            async with trapline.TaskGroup() as tg:
                tg.spawn(_sleep_then, 10, None, log, "a")
                tg.spawn(_sleep_then, 10, None, log, "b")
        except BaseException as error:
            log.append(type(error))
            raise
    assert sorted(log[:2]) == [("a", 2.0), ("b", 2.0)]
    assert log[2] is trapline.Cancelled
    assert outer.cancelled_caught
    assert not tg.cancel_scope.cancelled_caught


async def test_cancelling_the_group_scope_is_absorbed_by_the_group(virtual_clock):
    log = []

    async def canceller(tg):
        await trapline.sleep(1)
        tg.cancel_scope.cancel()

    async with trapline.TaskGroup() as tg:
        tg.spawn(canceller, tg)
        tg.spawn(_sleep_then, 10, None, log, "sleeper")
        await trapline.sleep(10)
        log.append("not reached")
    assert log == [("sleeper", 1.0)]
    assert tg.cancel_scope.cancelled_caught
    assert trapline.current_time() == 1.0
    # The task is not cancelled any more afterwards.
    await trapline.sleep(1)
    assert trapline.current_time() == 2.0


async def test_group_scope_cancelled_after_body_finished(virtual_clock):
    async def canceller(tg):
        await trapline.sleep(1)
        tg.cancel_scope.cancel()

    async with trapline.TaskGroup() as tg:
        tg.spawn(canceller, tg)
        tg.spawn(_sleep_then, 10)
    assert trapline.current_time() == 1.0
    assert not tg.cancel_scope.cancelled_caught  # the body itself never saw a Cancelled


async def test_leaving_a_group_whose_children_were_cancelled_from_outside_is_a_cancel_point(
    virtual_clock,
):
    reached = []
    with trapline.move_on_after(1) as outer:
        async with trapline.TaskGroup() as tg:
            tg.spawn(_sleep_then, 5)
        reached.append("after group")
    assert reached == []
    assert outer.cancelled_caught
    assert trapline.current_time() == 1.0


async def test_group_group_deadline(virtual_clock):
    log = []
    async with trapline.TaskGroup() as tg:
        tg.cancel_scope.deadline = 3
        tg.spawn(_sleep_then, 5, None, log, "a")
        tg.spawn(_sleep_then, 2, None, log, "b")
    assert log == [("b", 2.0), ("a", 3.0)]
    assert trapline.current_time() == 3.0


async def test_spawn_into_a_cancelled_group_runs_until_first_checkpoint(virtual_clock):
    log = []

    async def child():
        log.append("started")
        try:
            await trapline.checkpoint()
        except trapline.Cancelled:
            log.append("cancelled")
            raise

    async with trapline.TaskGroup() as tg:
        tg.cancel_scope.cancel()
        task = tg.spawn(child)
    assert log == ["started", "cancelled"]
    assert task.cancelled()


# -- Task.cancel and await task ----------------------------------------------------------------


async def test_task_cancel_cancels_only_that_task(virtual_clock):
    log = []
    async with trapline.TaskGroup() as tg:
        victim = tg.spawn(_sleep_then, 10, "v", log, "victim")
        other = tg.spawn(_sleep_then, 5, "o", log, "other")
        await trapline.sleep(1)
        victim.cancel()
        assert not victim.done()  # cancel() is not a checkpoint
        await trapline.sleep(1)
        assert victim.done() and victim.cancelled()
        log.append(("body still running", trapline.current_time()))
    assert log == [("victim", 1.0), ("body still running", 2.0), ("other", 5.0)]
    assert other.result() == "o"
    assert not tg.cancel_scope.cancel_called
    assert isinstance(victim.exception(), trapline.Cancelled)
    with pytest.raises(trapline.TaskCancelled, match="cancelled") as info:
        victim.result()
    assert isinstance(info.value.__cause__, trapline.Cancelled)
    victim.cancel()  # a finished task: nothing happens


async def test_task_cancel_reason_and_its_nested_children(virtual_clock):
    log = []

    async def parent():
        async with trapline.TaskGroup() as inner:
            inner.spawn(_sleep_then, 10, None, log, "grandchild")
            with trapline.CancelScope():
                await trapline.sleep(10)

    async with trapline.TaskGroup() as tg:
        task = tg.spawn(parent, name="parent")
        await trapline.sleep(1)
        task.cancel("enough")
    assert log == [("grandchild", 1.0)]
    assert task.cancelled()
    assert task.exception().reason == "enough"
    assert trapline.current_time() == 1.0


async def test_task_cancel_default_reason_and_before_first_step(virtual_clock):
    log = []

    async def child():
        log.append("ran")
        await trapline.checkpoint()
        log.append("not reached")

    async with trapline.TaskGroup() as tg:
        task = tg.spawn(child, name="c")
        task.cancel()
    assert log == ["ran"]
    assert task.exception().reason == "task 'c' cancelled"


async def test_task_cancel_respects_shields_in_the_task(virtual_clock):
    log = []

    async def stubborn():
        with trapline.CancelScope(shield=True):
            await trapline.sleep(3)
            log.append(("shield done", trapline.current_time()))
        await trapline.checkpoint()
        log.append("not reached")

    async with trapline.TaskGroup() as tg:
        task = tg.spawn(stubborn)
        await trapline.sleep(1)
        task.cancel()
    assert log == [("shield done", 3.0)]
    assert task.cancelled()


async def test_await_task_result_error_and_cancelled(virtual_clock):
    async def fails():
        await trapline.sleep(2)
        raise KeyError("k")

    with pytest.raises(ExceptionGroup) as info:
        async with trapline.TaskGroup() as outer:
            async with trapline.TaskGroup() as tg:
                ok = tg.spawn(_sleep_then, 1, "value")
                bad = outer.spawn(fails)
                gone = tg.spawn(trapline.sleep_forever)
                assert await ok == "value"
                assert trapline.current_time() == 1.0
                with pytest.raises(KeyError):
                    await bad  # the error is raised to the waiter...
                assert trapline.current_time() == 2.0
                gone.cancel()
                with pytest.raises(trapline.TaskCancelled):
                    await gone
                # Awaiting a finished task again returns the same outcome.
                assert await ok == "value"
    # ...and also reaches the task's own group.
    assert [type(e) for e in info.value.exceptions] == [KeyError]


async def test_cancelling_the_waiter_does_not_cancel_the_task(virtual_clock):
    async with trapline.TaskGroup() as tg:
        task = tg.spawn(_sleep_then, 5, "done")
        with trapline.move_on_after(1) as scope:
            await task
        assert scope.cancelled_caught
        assert not task.done()
        assert await task == "done"
    assert trapline.current_time() == 5.0


async def test_await_finished_task_is_still_a_checkpoint():
    async with trapline.TaskGroup() as tg:
        task = tg.spawn(_sleep_then, 0, 1)
    with trapline.CancelScope() as scope:
        scope.cancel()
        await task
        pytest.fail("not reached")
    assert scope.cancelled_caught


async def test_many_waiters_on_one_task(virtual_clock):
    results = []

    async def waiter(task, i):
        results.append((i, await task, trapline.current_time()))

    async with trapline.TaskGroup() as tg:
        target = tg.spawn(_sleep_then, 3, "x")
        for i in range(4):
            tg.spawn(waiter, target, i)
    assert results == [(i, "x", 3.0) for i in range(4)]


async def test_task_cannot_await_itself():
    async def selfish():
        await current_task()

    with pytest.raises(ExceptionGroup) as info:
        async with trapline.TaskGroup() as tg:
            tg.spawn(selfish)
    assert "cannot await itself" in str(info.value.exceptions[0])


def test_tasks_cannot_be_constructed_directly():
    with pytest.raises(TypeError):
        trapline.Task()


# -- tg.start ----------------------------------------------------------------------------------


async def test_start_returns_the_value_and_the_task_joins_the_group(virtual_clock):
    seen = {}

    async def service(arg, task_status=trapline.TASK_STATUS_IGNORED):
        me = current_task()
        seen["before"] = me.parent_group
        await trapline.sleep(1)
        task_status.started(arg * 2)
        seen["after"] = me.parent_group
        await trapline.sleep(2)
        return "served"

    async with trapline.TaskGroup() as tg:
        value = await tg.start(service, 21, name="svc")
        assert value == 42
        assert trapline.current_time() == 1.0
        (task,) = tg.tasks
        assert task.name == "svc"
    assert seen["after"] is tg and seen["before"] is not tg
    assert task.result() == "served"
    assert trapline.current_time() == 3.0


async def test_start_without_task_status_usage_via_spawn():
    async def service(task_status=trapline.TASK_STATUS_IGNORED):
        task_status.started("ignored")
        return "ok"

    async with trapline.TaskGroup() as tg:
        task = tg.spawn(service)
    assert task.result() == "ok"


async def test_start_error_before_started(virtual_clock):
    async def broken(task_status=trapline.TASK_STATUS_IGNORED):
        await trapline.sleep(1)
        raise ValueError("setup failed")

    log = []
    async with trapline.TaskGroup() as tg:
        tg.spawn(_sleep_then, 3, None, log, "sibling")
        with pytest.raises(ExceptionGroup) as info:
            await tg.start(broken)
        assert [str(e) for e in info.value.exceptions] == ["setup failed"]
        assert trapline.current_time() == 1.0
    # The failure was the caller's to handle: the group itself was not cancelled.
    assert log == [("sibling", 3.0)]
    assert not tg.cancel_scope.cancel_called


async def test_start_returning_without_started(virtual_clock):
    async def lazy(task_status=trapline.TASK_STATUS_IGNORED):
        await trapline.sleep(1)

    async with trapline.TaskGroup() as tg:
        with pytest.raises(RuntimeError, match="without calling task_status.started"):
            await tg.start(lazy, name="lazy")
    assert trapline.current_time() == 1.0


async def test_started_twice_is_an_error(virtual_clock):
    errors = []

    async def twice(task_status=trapline.TASK_STATUS_IGNORED):
        task_status.started(1)
        try:
            task_status.started(2)
        except RuntimeError as error:
            errors.append(str(error))

    async with trapline.TaskGroup() as tg:
        assert await tg.start(twice) == 1
    assert errors == ["task_status.started() called twice"]


async def test_start_caller_cancelled_before_started(virtual_clock):
    log = []

    async def slow_setup(task_status=trapline.TASK_STATUS_IGNORED):
        try:
            await trapline.sleep(5)
            task_status.started()
            await trapline.sleep(5)
        finally:
            log.append(("setup cleanup", trapline.current_time()))

    async with trapline.TaskGroup() as tg:
        with trapline.move_on_after(2) as scope:
            await tg.start(slow_setup)
            log.append("not reached")
        assert tg.tasks == []
    assert scope.cancelled_caught
    assert log == [("setup cleanup", 2.0)]
    assert trapline.current_time() == 2.0


async def test_start_runs_under_callers_scopes_until_started(virtual_clock):
    seen = []

    async def service(task_status=trapline.TASK_STATUS_IGNORED):
        seen.append(trapline.current_effective_deadline())
        with trapline.CancelScope():
            seen.append(trapline.current_effective_deadline())
            task_status.started()
            seen.append(trapline.current_effective_deadline())
            await trapline.sleep(1)

    async with trapline.TaskGroup() as tg:
        tg.cancel_scope.deadline = 100
        with trapline.move_on_at(7):
            await tg.start(service)
    assert seen == [7.0, 7.0, 100.0]
    assert trapline.current_time() == 1.0


async def test_started_task_failing_later_fails_the_target_group(virtual_clock):
    async def flaky(task_status=trapline.TASK_STATUS_IGNORED):
        task_status.started("up")
        with trapline.CancelScope():
            await trapline.sleep(2)
            raise KeyError("later")

    log = []
    with pytest.raises(ExceptionGroup) as info:
        async with trapline.TaskGroup() as tg:
            assert await tg.start(flaky) == "up"
            await _sleep_then(10, None, log, "body")
    assert [type(e) for e in info.value.exceptions] == [KeyError]
    assert log == [("body", 2.0)]


async def test_started_task_with_own_scope_is_cancelled_with_its_new_group(virtual_clock):
    log = []

    async def service(task_status=trapline.TASK_STATUS_IGNORED):
        with trapline.CancelScope():
            task_status.started()
            await _sleep_then(100, None, log, "service")

    async with trapline.TaskGroup() as tg:
        await tg.start(service)
        await trapline.sleep(1)
        tg.cancel_scope.cancel()
    assert log == [("service", 1.0)]


# -- gather ------------------------------------------------------------------------------------


async def test_gather_results_in_argument_order(virtual_clock):
    async with trapline.TaskGroup() as tg:
        task = tg.spawn(_sleep_then, 0.5, "task")
    results = await trapline.gather(
        _sleep_then(3, "slow"), _sleep_then(1, "fast"), _sleep_then(2, "mid"), task
    )
    assert results == ["slow", "fast", "mid", "task"]
    assert trapline.current_time() == 3.5
    assert await trapline.gather() == []


async def test_gather_first_error_raised_as_itself_others_cancelled(virtual_clock):
    log = []
    error = ValueError("first")
    with pytest.raises(ValueError) as info:
        await trapline.gather(
            _sleep_then(10, None, log, "a"),
            _fail_after_sleeping(2, error),
            _sleep_then(1, "done", log, "b"),
            _sleep_then(10, None, log, "c"),
        )
    assert info.value is error
    # (The order in which simultaneously cancelled tasks clean up is not asserted here.)
    assert log[0] == ("b", 1.0)
    assert sorted(log[1:]) == [("a", 2.0), ("c", 2.0)]
    assert trapline.current_time() == 2.0


async def test_gather_simultaneous_errors_first_in_argument_order_wins(virtual_clock):
    with pytest.raises(KeyError):
        await trapline.gather(
            _fail_after_sleeping(1, KeyError("arg0")),
            _fail_after_sleeping(1, OSError("arg1")),
        )
    assert trapline.current_time() == 1.0


async def test_gather_waits_for_cancelled_cleanup_before_raising(virtual_clock):
    log = []

    async def slow_cleanup():
        try:
            await trapline.sleep_forever()
        finally:
            with trapline.CancelScope(shield=True):
                await trapline.sleep(3)
            log.append(("cleanup", trapline.current_time()))

    with pytest.raises(KeyError):
        await trapline.gather(slow_cleanup(), _fail_after_sleeping(1, KeyError()))
    assert log == [("cleanup", 4.0)]
    assert trapline.current_time() == 4.0


async def test_gather_return_exceptions(virtual_clock):
    async with trapline.TaskGroup() as tg:
        cancelled = tg.spawn(trapline.sleep_forever)
        await trapline.checkpoint()
        cancelled.cancel()
    error = KeyError("k")
    results = await trapline.gather(
        _sleep_then(2, "ok"),
        _fail_after_sleeping(1, error),
        cancelled,
        return_exceptions=True,
    )
    assert results[0] == "ok" and results[1] is error
    assert isinstance(results[2], trapline.TaskCancelled)
    assert trapline.current_time() == 2.0


async def test_gather_type_error_for_non_awaitables_closes_the_coroutines():
    with pytest.raises(TypeError, match=r"argument 1 is 5 of type int") as info:
        await trapline.gather(_sleep_then(1), 5, _sleep_then(2))
    assert "awaitables" in str(info.value)
    with pytest.raises(TypeError, match="argument 0 is <function"):
        await trapline.gather(_sleep_then)
    gc.collect()  # an unclosed coroutine would warn "never awaited" (an error under pytest)


async def test_gather_cancelled_cancels_everything(virtual_clock):
    log = []
    with trapline.move_on_after(2) as scope:
        await trapline.gather(
            _sleep_then(5, None, log, "a"),
            _sleep_then(1, "b", log, "b"),
            _sleep_then(9, None, log, "c"),
        )
    assert scope.cancelled_caught
    # (The order in which simultaneously cancelled tasks clean up is not asserted here.)
    assert log[0] == ("b", 1.0)
    assert sorted(log[1:]) == [("a", 2.0), ("c", 2.0)]


async def test_gather_in_a_task_cancelled_by_task_cancel(virtual_clock):
    log = []

    async def gatherer():
        await trapline.gather(_sleep_then(5, None, log, "x"), _sleep_then(5, None, log, "y"))

    async with trapline.TaskGroup() as tg:
        task = tg.spawn(gatherer)
        await trapline.sleep(1)
        task.cancel()
    assert task.cancelled()
    assert sorted(log) == [("x", 1.0), ("y", 1.0)]


# -- contextvars -------------------------------------------------------------------------------

cv = contextvars.ContextVar("cv", default="default")


async def test_contextvars_are_isolated_between_tasks(virtual_clock):
    cv.set("parent")
    seen = {}

    async def child(name, delay):
        seen[name, "start"] = cv.get()
        cv.set(name)
        await trapline.sleep(delay)
        seen[name, "end"] = cv.get()

    async with trapline.TaskGroup() as tg:
        tg.spawn(child, "a", 2)
        tg.spawn(child, "b", 1)
        await trapline.sleep(0.5)
        cv.set("parent later")
        tg.spawn(child, "c", 1)
    assert seen == {
        ("a", "start"): "parent",
        ("b", "start"): "parent",
        ("c", "start"): "parent later",
        ("a", "end"): "a",
        ("b", "end"): "b",
        ("c", "end"): "c",
    }
    assert cv.get() == "parent later"

    async def setter(value):
        cv.set(value)
        return cv.get()

    assert await trapline.gather(setter("g1"), setter("g2")) == ["g1", "g2"]
    assert cv.get() == "parent later"

    async def started(task_status=trapline.TASK_STATUS_IGNORED):
        cv.set("started")
        task_status.started(cv.get())

    async with trapline.TaskGroup() as tg:
        assert await tg.start(started) == "started"
    assert cv.get() == "parent later"


# -- trapline.run ------------------------------------------------------------------------------


@pytest.mark.parametrize("thing", [42, "text", None, lambda: None, print])
def test_run_rejects_non_async_things(thing):
    with pytest.raises(TypeError):
        trapline.run(thing)


def test_run_rejects_an_async_generator():
    async def agen():
        yield 1

    with pytest.raises(TypeError):
        trapline.run(agen)


def test_nested_run_is_refused_and_the_outer_run_continues():
    async def inner():
        return 1

    async def main():
        with pytest.raises(RuntimeError, match="inside trapline.run"):
            trapline.run(inner)
        coro = inner()
        with pytest.raises(RuntimeError):
            trapline.run(coro)
        coro.close()
        await trapline.sleep(1)
        return "outer ok"

    assert trapline.run(main, clock=VirtualClock()) == "outer ok"


@pytest.mark.parametrize(
    "error", [ValueError("v"), KeyError("k"), TimeoutError("t"), SystemExit(2), GeneratorExit()]
)
def test_exceptions_leave_run_as_themselves(error):
    async def main():
        await trapline.sleep(1)
        raise error

    with pytest.raises(type(error)) as info:
        trapline.run(main, clock=VirtualClock())
    assert info.value is error


def test_group_errors_leave_run_as_exception_groups():
    async def main():
        async with trapline.TaskGroup() as tg:
            tg.spawn(_fail_after_sleeping, 1, ValueError("in child"))

    with pytest.raises(ExceptionGroup) as info:
        trapline.run(main, clock=VirtualClock())
    assert [str(e) for e in info.value.exceptions] == ["in child"]


def test_fail_after_timeout_leaves_run_as_builtin_timeout_error():
    async def main():
        with trapline.fail_after(1):
            await trapline.sleep_forever()

    with pytest.raises(TimeoutError):
        trapline.run(main, clock=VirtualClock())


def test_run_can_be_called_again_after_an_error():
    async def bad():
        raise ValueError

    with pytest.raises(ValueError):
        trapline.run(bad, clock=VirtualClock())

    async def good():
        await trapline.sleep(1)
        return trapline.current_time()

    assert trapline.run(good, clock=VirtualClock()) == 1.0
