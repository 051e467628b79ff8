"""Schedule exploration: the kernel's Schedule hook, trapline.testing.explore/replay, and the
pytest marker."""

from __future__ import annotations

import functools

import pytest

import trapline
from trapline.lowlevel import Schedule, Stepper, checkpoint_if_cancelled
from trapline.testing import (
    ExplorationFailure,
    ExplorationSummary,
    RandomSchedule,
    VirtualClock,
    explore,
    replay,
)

pytest_plugins = ["pytester"]


def trace(events):
    return [(event.task.name, event.kind, event.wait_reason) for event in events]


# -- a race: check-then-act across a checkpoint -------------------------------------------------


async def withdraw(account, amount):
    if account["balance"] >= amount:
        await trapline.sleep(0)  # e.g. writing an audit record
        account["balance"] -= amount


async def look_up_then_withdraw(account, amount):
    await trapline.sleep(0)  # e.g. looking up the amount first
    await withdraw(account, amount)


async def two_withdrawals():
    account = {"balance": 100}
    async with trapline.TaskGroup() as tg:
        tg.spawn(withdraw, account, 80)
        tg.spawn(look_up_then_withdraw, account, 50)
    assert account["balance"] >= 0, f"overdrawn: {account['balance']}"
    return account["balance"]


async def locked_withdraw(lock, account, amount):
    async with lock:
        await withdraw(account, amount)


async def two_locked_withdrawals():
    account = {"balance": 100}
    lock = trapline.Lock()
    async with trapline.TaskGroup() as tg:
        tg.spawn(locked_withdraw, lock, account, 80)
        tg.spawn(trapline.sleep, 0)
        tg.spawn(locked_withdraw, lock, account, 50)
    assert account["balance"] in (20, 50)


def test_the_race_passes_in_the_default_order():
    assert trapline.run(two_withdrawals, clock=VirtualClock()) == 20


def test_explore_finds_the_race_and_replay_reproduces_it_step_for_step():
    with pytest.raises(ExplorationFailure) as caught:
        explore(two_withdrawals, runs=200, seed=1000)
    failure = caught.value
    error = failure.__cause__
    assert isinstance(error, AssertionError)
    assert str(error).startswith("overdrawn: -30")
    assert 1 <= failure.run <= 200
    assert failure.runs == 200
    assert failure.seed == 1000 + failure.run - 1
    message = str(failure)
    assert f"two_withdrawals failed on run {failure.run} of 200 (seed {failure.seed})" in message
    assert "AssertionError: overdrawn: -30" in message
    assert f"trapline.testing.replay(two_withdrawals, {failure.seed}, on_step=print)" in message
    assert failure.reproduced  # explore ran the seed again and got the same steps and error
    assert "did not fail the same way" not in message

    steps = []
    with pytest.raises(AssertionError, match="overdrawn: -30"):
        replay(two_withdrawals, failure.seed, on_step=steps.append)
    assert trace(steps) == trace(failure.steps)
    assert [str(step) for step in steps] == [str(step) for step in failure.steps]
    assert steps[-1].kind == "failed"
    assert steps[-1].task.name == "two_withdrawals"


def test_the_same_seed_gives_the_same_steps_and_other_seeds_other_steps():
    def steps_of(seed):
        steps = []
        try:
            replay(two_locked_withdrawals, seed, on_step=steps.append)
        except AssertionError:  # pragma: no cover (the locked version never fails)
            raise
        return trace(steps)

    first = steps_of(7)
    assert steps_of(7) == first
    assert any(steps_of(seed) != first for seed in range(8, 20))
    # Every step is recorded with the task that ran it.
    assert first[0] == ("two_locked_withdrawals", "park", "task group: 3 tasks")
    assert first[-1] == ("two_locked_withdrawals", "finished", None)


def test_replay_steps_equal_a_stepper_with_the_same_schedule():
    with pytest.raises(ExplorationFailure) as caught:
        explore(two_withdrawals, seed=1)
    seed = caught.value.seed
    with Stepper(two_withdrawals, schedule=RandomSchedule(seed)) as stepper:
        with pytest.raises(AssertionError, match="overdrawn"):
            stepper.run()
        assert [str(e) for e in stepper.events] == [str(e) for e in caught.value.steps]


def test_the_locked_version_passes_every_run():
    summary = explore(two_locked_withdrawals, runs=200, seed=5)
    assert summary == ExplorationSummary(seed=5, runs=200, schedules=summary.schedules)
    assert summary.schedules > 20


def test_a_random_first_seed_is_reported():
    summary = explore(two_locked_withdrawals, runs=3)
    assert isinstance(summary.seed, int)
    assert summary.runs == 3


def test_explore_gives_each_run_a_fresh_virtual_clock():
    times = []

    async def sleepy():
        async with trapline.TaskGroup() as tg:
            tg.spawn(trapline.sleep, 2)
            tg.spawn(trapline.sleep, 3)
        times.append(trapline.current_time())

    explore(sleepy, runs=10, seed=0)
    assert times == [3.0] * 10


def test_explore_reports_an_order_dependent_deadlock():
    async def lock_order_inversion():
        first, second = trapline.Lock(), trapline.Lock()

        async def forwards():
            async with first, second:
                pass

        async def backwards():
            await trapline.sleep(0)
            async with second, first:
                pass

        async with trapline.TaskGroup() as tg:
            tg.spawn(forwards)
            tg.spawn(backwards)

    trapline.run(lock_order_inversion, clock=VirtualClock())  # FIFO: no deadlock
    with pytest.raises(ExplorationFailure, match="DeadlockError") as caught:
        explore(lock_order_inversion, seed=0)
    assert isinstance(caught.value.__cause__, trapline.DeadlockError)
    with pytest.raises(trapline.DeadlockError):
        replay(lock_order_inversion, caught.value.seed)


async def two_increments():
    """A lost update: read, checkpoint, write back. The second increment starts a step later,
    so in FIFO order the first one has written before the second reads."""
    counter = {"n": 0}

    async def increment():
        n = counter["n"]
        await trapline.sleep(0)
        counter["n"] = n + 1

    async with trapline.TaskGroup() as tg:
        tg.spawn(increment)
        await trapline.sleep(0)  # the second request arrives a moment later
        tg.spawn(increment)
    assert counter["n"] == 2, f"lost an update: {counter['n']}"


def test_explore_finds_a_lost_update_that_fifo_order_hides():
    trapline.run(two_increments, clock=VirtualClock())
    with pytest.raises(ExplorationFailure, match="lost an update: 1") as caught:
        explore(two_increments, runs=200, seed=0)
    steps = []
    with pytest.raises(AssertionError, match="lost an update: 1"):
        replay(two_increments, caught.value.seed, on_step=steps.append)
    assert trace(steps) == trace(caught.value.steps)


def test_a_failure_that_does_not_reproduce_is_flagged():
    runs = []

    async def fails_on_its_third_call():
        runs.append(None)  # state kept from run to run: the seed is not the whole story
        await trapline.sleep(0)
        assert len(runs) != 3

    with pytest.raises(ExplorationFailure) as caught:
        explore(fails_on_its_third_call, runs=10, seed=0)
    assert caught.value.run == 3
    assert len(runs) == 4  # the check ran seed 2 again, and it passed
    assert not caught.value.reproduced
    assert (
        "But running seed 2 again did not fail the same way: the test depends on something "
        "besides its schedule"
    ) in str(caught.value)


def test_explore_takes_arguments_through_partial():
    async def needs(x):
        assert x == 3

    explore(functools.partial(needs, 3), runs=2, seed=0)
    with pytest.raises(ExplorationFailure, match=r"^needs failed on run 1 of 2 \(seed 0\)"):
        explore(functools.partial(needs, 4), runs=2, seed=0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="runs must be at least 1"):
        explore(two_withdrawals, runs=0)
    coro = two_withdrawals()
    with pytest.raises(TypeError, match="async test function"):
        explore(coro, runs=1)  # type: ignore[arg-type]
    coro.close()
    with pytest.raises(ValueError, match="extra_checkpoints"):
        replay(two_withdrawals, 1, extra_checkpoints=2)
    with pytest.raises(ValueError, match="extra_checkpoints"):
        RandomSchedule(1, extra_checkpoints=-0.1)


# -- extra checkpoints --------------------------------------------------------------------------


async def announce_then_lock():
    """'announced' must imply that the lock is taken (or already released): true only if the
    worker announces and takes the lock in one step, with no switch between."""
    lock = trapline.Lock()
    announced, released = [], []

    async def worker():
        announced.append(True)
        async with lock:  # free: acquire does not switch before taking it
            await trapline.sleep(0)
        released.append(True)

    async def observer():
        while not announced:
            await trapline.checkpoint()
        assert lock.locked() or released, "announced but not locked"

    async with trapline.TaskGroup() as tg:
        tg.spawn(observer)
        tg.spawn(worker)


def test_without_extra_checkpoints_a_fast_path_never_switches():
    explore(announce_then_lock, runs=200, seed=0, extra_checkpoints=0.0)


def test_extra_checkpoints_switch_before_a_fast_path():
    with pytest.raises(ExplorationFailure) as caught:
        explore(announce_then_lock, runs=200, seed=0, extra_checkpoints=0.5)
    assert (
        "ExceptionGroup: a task in the TaskGroup failed (1 sub-exception): "
        "AssertionError: announced but not locked"
    ) in str(caught.value)
    assert ", extra_checkpoints" not in str(caught.value)  # the default needs no mention
    with pytest.raises(ExplorationFailure) as caught:
        explore(announce_then_lock, runs=200, seed=0, extra_checkpoints=1.0)
    assert "extra_checkpoints=1.0, on_step=print)" in str(caught.value)
    with pytest.RaisesGroup(pytest.RaisesExc(AssertionError, match="announced but not locked")):
        replay(announce_then_lock, caught.value.seed, extra_checkpoints=1.0)


def test_an_extra_checkpoint_is_a_full_checkpoint():
    """Cancelled while switched away at checkpoint_if_cancelled: raises Cancelled there."""
    log = []

    async def victim(scope_box):
        with trapline.CancelScope() as scope:
            scope_box.append(scope)
            await checkpoint_if_cancelled()
            log.append("not reached")
        log.append(("cancelled", scope.cancelled_caught))

    async def main():
        box = []
        async with trapline.TaskGroup() as tg:
            tg.spawn(victim, box)
            await trapline.sleep(0)  # victim runs up to its extra checkpoint
            box[0].cancel()

    class Always(Schedule):
        def extra_checkpoint(self, task):
            return True

    trapline.run(main, clock=VirtualClock(), schedule=Always())
    assert log == [("cancelled", True)]


# -- the kernel hook ----------------------------------------------------------------------------


async def three_workers(log):
    async def worker(name):
        for step in range(2):
            log.append((name, step))
            await trapline.checkpoint()

    async with trapline.TaskGroup() as tg:
        for name in "abc":
            tg.spawn(worker, name, name=name)


def test_the_base_schedule_is_fifo():
    fifo, based = [], []
    trapline.run(three_workers, fifo)
    trapline.run(three_workers, based, schedule=Schedule())
    assert based == fifo == [("a", 0), ("b", 0), ("c", 0), ("a", 1), ("b", 1), ("c", 1)]


def test_a_schedule_picks_the_next_task():
    class Newest(Schedule):
        def __init__(self):
            self.seen = []

        def pick(self, ready):
            self.seen.append([task.name for task in ready])
            return len(ready) - 1

    log = []
    schedule = Newest()
    trapline.run(three_workers, log, schedule=schedule)
    # The newest ready task always goes first: "c" runs to the end, then "b", then "a".
    assert log == [("c", 0), ("c", 1), ("b", 0), ("b", 1), ("a", 0), ("a", 1)]
    assert schedule.seen[:3] == [["three_workers"], ["a", "b", "c"], ["a", "b", "c"]]


def test_a_stepper_with_a_schedule_matches_run():
    def events_of(seed):
        with Stepper(three_workers, [], schedule=RandomSchedule(seed)) as stepper:
            stepper.run()
            return [str(event) for event in stepper.events]

    steps = []
    replay(functools.partial(three_workers, []), 3, on_step=steps.append)
    assert events_of(3) == [str(event) for event in steps]


# -- the pytest marker --------------------------------------------------------------------------

MARKED_TESTS = """
import pytest
import trapline
import trapline.lowlevel

async def withdraw(account, amount):
    if account["balance"] >= amount:
        await trapline.sleep(0)
        account["balance"] -= amount

async def look_up_then_withdraw(account, amount):
    await trapline.sleep(0)
    await withdraw(account, amount)

@pytest.mark.trapline_explore(runs=100, seed=SEED)
async def test_racy():
    account = {"balance": 100}
    async with trapline.TaskGroup() as tg:
        tg.spawn(withdraw, account, 80)
        tg.spawn(look_up_then_withdraw, account, 50)
    assert account["balance"] >= 0

@pytest.mark.trapline_explore(runs=50)
async def test_sleeps_on_a_fresh_virtual_clock_each_run(virtual_clock):
    assert trapline.lowlevel.current_clock() is virtual_clock
    async with trapline.TaskGroup() as tg:
        tg.spawn(trapline.sleep, 2)
        tg.spawn(trapline.sleep, 1)
    assert trapline.current_time() == 2.0
"""


def test_the_marker_explores_and_reports_the_seed(pytester):
    pytester.makepyfile(MARKED_TESTS.replace("SEED", "4000"))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "E *ExplorationFailure: test_racy failed on run * of 100 (seed 40??) after * steps: "
            "AssertionError: assert -30 >= 0",
            "*trapline.testing.replay(test_racy, 40??, on_step=print)",
            "*@pytest.mark.trapline_explore(replay=40??) replays it and prints its steps.",
        ]
    )


def test_the_marker_replays_a_seed_and_prints_its_steps(pytester):
    with pytest.raises(ExplorationFailure) as caught:
        explore(two_withdrawals, runs=100, seed=4000)
    seed = caught.value.seed
    pytester.makepyfile(
        MARKED_TESTS.replace("runs=100, seed=SEED", f"replay={seed}, runs=100, seed=4000")
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "racy")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E       assert -30 >= 0",
            "*Captured stdout call*",
            f"replaying the schedule of seed {seed}:",
            "step   1  t=0      test_racy  waits: task group: 2 tasks",
            "step * t=0      test_racy  failed: AssertionError(*",
        ]
    )
    assert "ExplorationFailure" not in result.stdout.str()


def test_the_marker_is_for_async_tests(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.trapline_explore(runs=3)
        def test_sync():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*TypeError: @pytest.mark.trapline_explore is for async*"])
