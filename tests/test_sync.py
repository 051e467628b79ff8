"""Event, Lock, Semaphore, Condition and CapacityLimiter: FIFO hand-off, cancellation, accounting.

Every blocking test runs on the virtual clock and asserts the exact time things happen; tasks
are sequenced with sleeps so the order of arrival at a primitive is known.
"""

import dataclasses
import math
import random

import pytest

import trapline
from trapline._sync import (
    CapacityLimiter,
    CapacityLimiterStatistics,
    Condition,
    ConditionStatistics,
    Event,
    EventStatistics,
    Lock,
    LockStatistics,
    Semaphore,
    SemaphoreStatistics,
)
from trapline.lowlevel import current_task


async def _hold(lock, seconds, log, name):
    """Acquire ``lock``, note when, hold it for ``seconds``."""
    async with lock:
        log.append((name, trapline.current_time()))
        await trapline.sleep(seconds)


# -- Event -------------------------------------------------------------------------------------


async def test_event_wakes_every_waiter_when_set(virtual_clock):
    event = Event()
    woken = []

    async def waiter(name):
        await event.wait()
        woken.append((name, trapline.current_time()))

    async def setter():
        await trapline.sleep(3)
        assert event.statistics() == EventStatistics(tasks_waiting=3)
        event.set()
        assert event.statistics() == EventStatistics(tasks_waiting=0)

    assert not event.is_set()
    async with trapline.TaskGroup() as tg:
        for name in "abc":
            tg.spawn(waiter, name)
        tg.spawn(setter)
    assert event.is_set()
    assert woken == [("a", 3.0), ("b", 3.0), ("c", 3.0)]


async def test_event_set_is_idempotent_and_wait_after_set_returns_at_once(virtual_clock):
    event = Event()
    event.set()
    event.set()
    assert event.is_set()
    await event.wait()
    assert trapline.current_time() == 0.0
    assert "set" in repr(event)


async def test_event_wait_is_a_checkpoint_even_when_set():
    event = Event()
    event.set()
    with trapline.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trapline.Cancelled):
            await event.wait()
    assert scope.cancel_called


async def test_cancelled_event_waiter_leaves_and_others_still_wake(virtual_clock):
    event = Event()
    log = []

    async def waiter(name, timeout):
        with trapline.move_on_after(timeout):
            await event.wait()
            log.append((name, "woken", trapline.current_time()))
            return
        log.append((name, "gave up", trapline.current_time()))

    async with trapline.TaskGroup() as tg:
        tg.spawn(waiter, "short", 1)
        tg.spawn(waiter, "long", 10)
        await trapline.sleep(2)
        assert event.statistics().tasks_waiting == 1
        event.set()
    assert log == [("short", "gave up", 1.0), ("long", "woken", 2.0)]


# -- Lock --------------------------------------------------------------------------------------


async def test_lock_basics_and_statistics():
    lock = Lock()
    me = current_task()
    assert not lock.locked()
    assert lock.statistics() == LockStatistics(locked=False, owner=None, tasks_waiting=0)
    await lock.acquire()
    assert lock.locked()
    assert lock.statistics() == LockStatistics(locked=True, owner=me, tasks_waiting=0)
    assert "locked" in repr(lock)
    with pytest.raises(RuntimeError, match="re-entrant"):
        lock.acquire_nowait()
    with pytest.raises(RuntimeError, match="re-entrant"):
        await lock.acquire()
    lock.release()
    assert not lock.locked()
    lock.acquire_nowait()
    assert lock.statistics().owner is me
    lock.release()
    with pytest.raises(RuntimeError, match="only the task that holds"):
        lock.release()


async def test_statistics_are_frozen():
    lock = Lock()
    stats = lock.statistics()
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.locked = True
    with pytest.raises(dataclasses.FrozenInstanceError):
        Semaphore(1).statistics().value = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        CapacityLimiter(1).statistics().borrowed_tokens = 3


async def test_lock_release_by_a_non_owner_is_an_error(virtual_clock):
    lock = Lock()
    errors = []

    async def intruder():
        with pytest.raises(RuntimeError, match="only the task that holds"):
            lock.release()
        with pytest.raises(trapline.WouldBlock):
            lock.acquire_nowait()
        errors.append("checked")

    await lock.acquire()
    async with trapline.TaskGroup() as tg:
        tg.spawn(intruder)
    assert errors == ["checked"]
    assert lock.statistics().owner is current_task()
    lock.release()


async def test_lock_is_fifo_with_exact_times(virtual_clock):
    lock = Lock()
    log = []

    async def late(name, delay):
        await trapline.sleep(delay)
        await _hold(lock, 1, log, name)

    async with trapline.TaskGroup() as tg:
        tg.spawn(_hold, lock, 2, log, "first")
        # Arrive in the order d, b, c, a; acquire in exactly that order.
        tg.spawn(late, "a", 0.4)
        tg.spawn(late, "b", 0.2)
        tg.spawn(late, "c", 0.3)
        tg.spawn(late, "d", 0.1)
        await trapline.sleep(1)
        assert lock.statistics().tasks_waiting == 4
    assert log == [("first", 0.0), ("d", 2.0), ("b", 3.0), ("c", 4.0), ("a", 5.0)]
    assert not lock.locked()


async def test_lock_release_hands_ownership_to_the_waiter_before_it_runs(virtual_clock):
    lock = Lock()
    got = []

    async def waiter():
        await lock.acquire()
        got.append(trapline.current_time())
        lock.release()

    await lock.acquire()
    async with trapline.TaskGroup() as tg:
        task = tg.spawn(waiter)
        await trapline.sleep(1)
        lock.release()
        # The waiter has not run yet, but already owns the lock: nobody can barge in.
        assert got == []
        assert lock.statistics() == LockStatistics(locked=True, owner=task, tasks_waiting=0)
        with pytest.raises(trapline.WouldBlock):
            lock.acquire_nowait()
        # And the releaser queues behind it.
        await lock.acquire()
        assert got == [1.0]
        assert lock.statistics().owner is current_task()
        lock.release()


async def test_cancelled_lock_waiter_leaves_the_lock_consistent(virtual_clock):
    lock = Lock()
    me = current_task()
    await lock.acquire()
    with trapline.move_on_after(1) as scope:
        async with trapline.TaskGroup() as tg:
            # A waiter that is cancelled must not become the owner later either.
            tg.spawn(lock.acquire)
            await trapline.sleep(0.5)
            assert lock.statistics().tasks_waiting == 1
            await trapline.sleep(10)
    assert scope.cancelled_caught
    assert trapline.current_time() == 1.0
    assert lock.statistics() == LockStatistics(locked=True, owner=me, tasks_waiting=0)
    lock.release()
    assert lock.statistics() == LockStatistics(locked=False, owner=None, tasks_waiting=0)
    with trapline.move_on_after(1):
        await lock.acquire()
    assert lock.statistics().owner is me
    lock.release()


async def test_timed_out_acquire_while_held_by_another_task(virtual_clock):
    lock = Lock()
    log = []
    outcome = []

    async def impatient():
        await trapline.sleep(0.5)
        with trapline.move_on_after(1) as scope:
            await lock.acquire()
            outcome.append("acquired")
        outcome.append(("cancelled", scope.cancelled_caught, trapline.current_time()))
        assert lock.statistics().owner is not current_task()

    async with trapline.TaskGroup() as tg:
        tg.spawn(_hold, lock, 3, log, "holder")
        tg.spawn(impatient)
        tg.spawn(lambda: _later_hold(lock, 0.7, log, "patient"))
    assert outcome == [("cancelled", True, 1.5)]
    # The patient waiter queued behind the cancelled one and got the lock at release time.
    assert log == [("holder", 0.0), ("patient", 3.0)]
    assert lock.statistics() == LockStatistics(locked=False, owner=None, tasks_waiting=0)


async def _later_hold(lock, delay, log, name):
    await trapline.sleep(delay)
    await _hold(lock, 1, log, name)


async def test_fail_after_on_a_held_lock_raises_timeout_error(virtual_clock):
    lock = Lock()
    async with trapline.TaskGroup() as tg:
        tg.spawn(_hold, lock, 5, [], "holder")
        await trapline.checkpoint()
        with pytest.raises(TimeoutError):
            with trapline.fail_after(2):
                await lock.acquire()
        assert trapline.current_time() == 2.0
        assert lock.statistics().tasks_waiting == 0


async def test_lock_acquire_is_a_checkpoint_and_a_cancelled_task_does_not_take_it():
    lock = Lock()
    with trapline.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trapline.Cancelled):
            await lock.acquire()
        assert not lock.locked()
    assert not lock.locked()


async def test_lock_acquired_without_waiting_is_kept_if_cancelled_during_the_schedule_point():
    lock = Lock()
    scopes = []
    log = []

    async def taker():
        with trapline.CancelScope() as scope:
            scopes.append(scope)
            await lock.acquire()
            # The cancel arrived during acquire's final schedule point: it is delivered at
            # the next checkpoint, with the lock already ours.
            log.append(("acquired", lock.statistics().owner is current_task()))
            await trapline.checkpoint()
            log.append("not reached")
        log.append(("cancelled", scope.cancelled_caught))
        lock.release()

    async def canceller():
        scopes[0].cancel()

    async with trapline.TaskGroup() as tg:
        tg.spawn(taker)
        tg.spawn(canceller)
    assert log == [("acquired", True), ("cancelled", True)]
    assert not lock.locked()


async def test_lock_is_released_when_the_block_raises():
    lock = Lock()
    with pytest.raises(KeyError):
        async with lock:
            assert lock.locked()
            raise KeyError("boom")
    assert not lock.locked()


# -- Semaphore ---------------------------------------------------------------------------------


async def test_semaphore_counts_and_validates():
    with pytest.raises(ValueError):
        Semaphore(-1)
    with pytest.raises(TypeError):
        Semaphore(1.5)
    with pytest.raises(TypeError):
        Semaphore(1, max_value="2")
    with pytest.raises(ValueError):
        Semaphore(3, max_value=2)
    sem = Semaphore(2, max_value=2)
    assert (sem.value, sem.max_value) == (2, 2)
    await sem.acquire()
    sem.acquire_nowait()
    assert sem.value == 0
    with pytest.raises(trapline.WouldBlock):
        sem.acquire_nowait()
    assert sem.statistics() == SemaphoreStatistics(value=0, max_value=2, tasks_waiting=0)
    sem.release()
    sem.release()
    with pytest.raises(ValueError, match="too many"):
        sem.release()
    assert sem.value == 2
    unbounded = Semaphore(0)
    for _ in range(5):
        unbounded.release()
    assert unbounded.value == 5 and unbounded.max_value is None


async def test_semaphore_limits_concurrency_fifo_with_exact_times(virtual_clock):
    sem = Semaphore(2)
    log = []

    async def worker(name, delay):
        await trapline.sleep(delay)
        async with sem:
            log.append((name, trapline.current_time()))
            await trapline.sleep(1)

    async with trapline.TaskGroup() as tg:
        for i, name in enumerate("abcde"):
            tg.spawn(worker, name, i * 0.1)
    # a and b start at once; c, d, e queue and are handed units in arrival order.
    assert log == [("a", 0.0), ("b", 0.1), ("c", 1.0), ("d", 1.1), ("e", 2.0)]
    assert trapline.current_time() == 3.0
    assert sem.value == 2


async def test_semaphore_release_hands_the_unit_to_the_waiter(virtual_clock):
    sem = Semaphore(0, max_value=1)
    got = []

    async def waiter():
        await sem.acquire()
        got.append(trapline.current_time())

    async with trapline.TaskGroup() as tg:
        tg.spawn(waiter)
        await trapline.sleep(1)
        assert sem.statistics() == SemaphoreStatistics(value=0, max_value=1, tasks_waiting=1)
        sem.release()
        # Handed over: the value stays 0, so nobody else can take it first.
        assert sem.value == 0
        with pytest.raises(trapline.WouldBlock):
            sem.acquire_nowait()
    assert got == [1.0]
    # With no waiter, release is bounded by max_value again.
    sem.release()
    with pytest.raises(ValueError):
        sem.release()


async def test_cancelled_semaphore_waiter_takes_no_unit(virtual_clock):
    sem = Semaphore(0)
    got = []

    async def waiter(name, timeout):
        with trapline.move_on_after(timeout):
            await sem.acquire()
            got.append((name, trapline.current_time()))

    async with trapline.TaskGroup() as tg:
        tg.spawn(waiter, "quitter", 1)
        tg.spawn(waiter, "stayer", 10)
        await trapline.sleep(2)
        assert sem.statistics().tasks_waiting == 1
        sem.release()
    assert got == [("stayer", 2.0)]
    assert sem.value == 0
    sem.release()
    assert sem.value == 1


async def test_semaphore_acquire_is_a_checkpoint():
    sem = Semaphore(1)
    with trapline.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trapline.Cancelled):
            await sem.acquire()
    assert sem.value == 1


# -- Condition ---------------------------------------------------------------------------------


async def test_condition_requires_holding_the_lock():
    cond = Condition()
    with pytest.raises(RuntimeError, match="hold the Condition's lock to wait"):
        await cond.wait()
    with pytest.raises(RuntimeError, match="to notify"):
        cond.notify()
    with pytest.raises(RuntimeError, match="to notify"):
        cond.notify_all()
    with pytest.raises(TypeError):
        Condition(Semaphore(1))
    lock = Lock()
    shared = Condition(lock)
    assert shared.lock is lock
    async with shared:
        assert lock.locked() and shared.locked()
        with pytest.raises(RuntimeError, match="re-entrant"):
            Condition(lock).acquire_nowait()
    assert not lock.locked()
    shared.acquire_nowait()
    assert shared.statistics() == ConditionStatistics(
        tasks_waiting=0,
        lock_statistics=LockStatistics(locked=True, owner=current_task(), tasks_waiting=0),
    )
    shared.release()


async def test_condition_wait_releases_the_lock_and_notify_reacquires_it(virtual_clock):
    cond = Condition()
    log = []

    async def waiter():
        async with cond:
            log.append(("waiting", trapline.current_time()))
            await cond.wait()
            assert cond.statistics().lock_statistics.owner is current_task()
            log.append(("woken", trapline.current_time()))

    async with trapline.TaskGroup() as tg:
        task = tg.spawn(waiter)
        await trapline.sleep(1)
        # wait() released the lock.
        assert not cond.locked()
        assert cond.statistics().tasks_waiting == 1
        async with cond:
            cond.notify()
            # Moved to the lock's queue, not yet running: it needs the lock we hold.
            assert cond.statistics().tasks_waiting == 0
            assert cond.statistics().lock_statistics.tasks_waiting == 1
            await trapline.sleep(2)
            assert log == [("waiting", 0.0)]
        # Our release handed the lock to the waiter.
        assert cond.statistics().lock_statistics.owner is task
    assert log == [("waiting", 0.0), ("woken", 3.0)]
    assert not cond.locked()


async def test_condition_notify_n_and_notify_all_wake_in_fifo_order(virtual_clock):
    cond = Condition()
    woken = []

    async def waiter(name, delay):
        await trapline.sleep(delay)
        async with cond:
            await cond.wait()
            woken.append((name, trapline.current_time()))
            await trapline.sleep(1)  # holding the lock: the others wake one at a time

    async with trapline.TaskGroup() as tg:
        for i, name in enumerate("abcde"):
            tg.spawn(waiter, name, 0.1 * (5 - i))  # arrive e, d, c, b, a
        await trapline.sleep(1)
        async with cond:
            cond.notify(2)
        await trapline.sleep(5)
        assert woken == [("e", 1.0), ("d", 2.0)]
        async with cond:
            cond.notify()
            cond.notify_all()
            assert cond.statistics().tasks_waiting == 0
    assert woken == [("e", 1.0), ("d", 2.0), ("c", 6.0), ("b", 7.0), ("a", 8.0)]


async def test_condition_notify_without_waiters_is_not_remembered(virtual_clock):
    cond = Condition()
    async with cond:
        cond.notify()
        cond.notify_all()
    with trapline.move_on_after(5) as scope:
        async with cond:
            await cond.wait()
    assert scope.cancelled_caught
    assert trapline.current_time() == 5.0
    assert not cond.locked()


async def test_cancelled_condition_wait_reacquires_the_lock_before_raising(virtual_clock):
    cond = Condition()
    log = []

    async def waiter():
        async with cond:
            try:
                with trapline.fail_after(1):
                    await cond.wait()
            except TimeoutError:
                # Reached only once the lock is ours again, after the holder let go at t=4.
                log.append(("timed out", trapline.current_time(), cond.locked()))
                assert cond.statistics().lock_statistics.owner is current_task()
        log.append(("released", trapline.current_time(), cond.locked()))

    async def holder():
        await trapline.sleep(0.5)
        async with cond:
            await trapline.sleep(3.5)
            # The cancelled waiter left the condition's queue and waits for the lock.
            assert cond.statistics().tasks_waiting == 0
            assert cond.statistics().lock_statistics.tasks_waiting == 1
            cond.notify_all()  # nobody to wake any more
        log.append(("holder out", trapline.current_time()))

    async with trapline.TaskGroup() as tg:
        tg.spawn(waiter)
        tg.spawn(holder)
    assert log == [("holder out", 4.0), ("timed out", 4.0, True), ("released", 4.0, False)]


async def test_condition_waiter_cancelled_after_notify_still_gets_the_lock_back(virtual_clock):
    cond = Condition()
    log = []
    scopes = []

    async def waiter():
        async with cond:
            with trapline.CancelScope() as scope:
                scopes.append(scope)
                await cond.wait()
            log.append(("out", trapline.current_time(), scope.cancelled_caught, cond.locked()))
            assert cond.statistics().lock_statistics.owner is current_task()
        log.append(("released", cond.locked()))

    async with trapline.TaskGroup() as tg:
        tg.spawn(waiter)
        await trapline.sleep(1)
        async with cond:
            cond.notify()
            # The waiter sits in the lock's queue now; cancel it there.
            scopes[0].cancel()
            assert cond.statistics().lock_statistics.tasks_waiting == 0
            await trapline.sleep(1)
            assert log == []
    assert log == [("out", 2.0, True, True), ("released", False)]


# -- CapacityLimiter ---------------------------------------------------------------------------


async def test_capacity_limiter_accounting():
    limiter = CapacityLimiter(2)
    me = current_task()
    assert (limiter.total_tokens, limiter.borrowed_tokens, limiter.available_tokens) == (2, 0, 2)
    await limiter.acquire()
    assert (limiter.borrowed_tokens, limiter.available_tokens) == (1, 1)
    with pytest.raises(RuntimeError, match="already holds"):
        await limiter.acquire()
    with pytest.raises(RuntimeError, match="already holds"):
        limiter.acquire_nowait()
    other = object()
    limiter.acquire_on_behalf_of_nowait(other)
    with pytest.raises(trapline.WouldBlock):
        limiter.acquire_on_behalf_of_nowait("third")
    assert limiter.statistics() == CapacityLimiterStatistics(
        borrowed_tokens=2, total_tokens=2, borrowers=(me, other), tasks_waiting=0
    )
    with pytest.raises(RuntimeError, match="holds no token"):
        limiter.release_on_behalf_of("third")
    limiter.release_on_behalf_of(other)
    with pytest.raises(RuntimeError, match="holds no token"):
        limiter.release_on_behalf_of(other)
    limiter.release()
    with pytest.raises(RuntimeError, match="holds no token"):
        limiter.release()
    assert (limiter.borrowed_tokens, limiter.available_tokens) == (0, 2)
    async with limiter:
        assert limiter.statistics().borrowers == (me,)
    assert limiter.borrowed_tokens == 0


async def test_capacity_limiter_total_tokens_validation():
    for bad in (1.5, "3", None, True):
        with pytest.raises(TypeError):
            CapacityLimiter(bad)
    with pytest.raises(ValueError):
        CapacityLimiter(-1)
    limiter = CapacityLimiter(math.inf)
    for i in range(100):
        limiter.acquire_on_behalf_of_nowait(i)
    assert limiter.available_tokens == math.inf
    limiter.total_tokens = 0
    assert limiter.available_tokens == -100
    with pytest.raises(TypeError):
        limiter.total_tokens = 2.5
    with pytest.raises(ValueError):
        limiter.total_tokens = -3
    assert limiter.total_tokens == 0


async def test_capacity_limiter_bounds_concurrency_with_exact_times(virtual_clock):
    limiter = CapacityLimiter(3)
    running = []
    peak = []
    done = []

    async def job(i):
        async with limiter:
            running.append(i)
            peak.append(len(running))
            await trapline.sleep(1)
            running.remove(i)
        done.append((i, trapline.current_time()))

    async with trapline.TaskGroup() as tg:
        for i in range(10):
            tg.spawn(job, i)
    assert max(peak) == 3
    assert trapline.current_time() == 4.0
    assert done == [(i, float(i // 3 + 1)) for i in range(10)]
    assert limiter.statistics() == CapacityLimiterStatistics(
        borrowed_tokens=0, total_tokens=3, borrowers=(), tasks_waiting=0
    )


async def test_raising_total_tokens_wakes_exactly_that_many_waiters(virtual_clock):
    limiter = CapacityLimiter(1)
    got = []

    async def borrower(name):
        await limiter.acquire_on_behalf_of(name)
        got.append((name, trapline.current_time()))

    limiter.acquire_on_behalf_of_nowait("holder")
    async with trapline.TaskGroup() as tg:
        for name in "abcd":
            tg.spawn(borrower, name)
        await trapline.sleep(1)
        assert limiter.statistics().tasks_waiting == 4
        limiter.total_tokens = 3  # two more tokens: a and b get them at once
        assert limiter.statistics().borrowers == ("holder", "a", "b")
        await trapline.sleep(1)
        assert got == [("a", 1.0), ("b", 1.0)]
        # Lowering the total takes nothing back; a release does not free a slot either.
        limiter.total_tokens = 2
        limiter.release_on_behalf_of("holder")
        await trapline.sleep(1)
        assert limiter.statistics().tasks_waiting == 2
        assert limiter.available_tokens == 0
        limiter.total_tokens = math.inf
        assert limiter.statistics().tasks_waiting == 0
    assert got == [("a", 1.0), ("b", 1.0), ("c", 3.0), ("d", 3.0)]
    assert limiter.statistics().borrowers == ("a", "b", "c", "d")


async def test_cancelled_capacity_limiter_waiter_borrows_nothing(virtual_clock):
    limiter = CapacityLimiter(1)
    got = []

    async def waiter(name, timeout):
        with trapline.move_on_after(timeout):
            await limiter.acquire_on_behalf_of(name)
            got.append((name, trapline.current_time()))

    limiter.acquire_on_behalf_of_nowait("holder")
    async with trapline.TaskGroup() as tg:
        tg.spawn(waiter, "quitter", 1)
        tg.spawn(waiter, "stayer", 10)
        await trapline.sleep(2)
        assert limiter.statistics().tasks_waiting == 1
        limiter.release_on_behalf_of("holder")
        assert limiter.statistics().borrowers == ("stayer",)
    assert got == [("stayer", 2.0)]
    assert limiter._pending == {}  # the quitter's pending entry went with it
    limiter.release_on_behalf_of("stayer")
    assert limiter.borrowed_tokens == 0
    # The quitter may borrow again later: it was never recorded as a borrower.
    limiter.acquire_on_behalf_of_nowait("quitter")
    assert limiter.statistics().borrowers == ("quitter",)


async def test_capacity_limiter_acquire_is_a_checkpoint():
    limiter = CapacityLimiter(1)
    with trapline.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trapline.Cancelled):
            await limiter.acquire()
    assert limiter.borrowed_tokens == 0


# -- randomised: exclusion and accounting survive random timeouts ---------------------------------


@pytest.mark.parametrize("seed", range(10))
async def test_random_timeouts_keep_lock_and_limiter_consistent(virtual_clock, seed):
    rng = random.Random(seed)
    lock = Lock()
    limiter = CapacityLimiter(2)
    sem = Semaphore(3)
    inside_lock = []
    inside_limiter = []
    inside_sem = []
    acquired = []

    async def worker(primitive, inside, cap):
        for _ in range(10):
            await trapline.sleep(rng.choice([0, 0.1, 0.3]))
            with trapline.move_on_after(rng.choice([0, 0.1, 0.5, 2])):
                async with primitive:
                    inside.append(current_task())
                    assert len(inside) <= cap
                    acquired.append(primitive)
                    try:
                        await trapline.sleep(rng.choice([0, 0.2, 0.6]))
                    finally:
                        inside.remove(current_task())

    async with trapline.TaskGroup() as tg:
        for _ in range(4):
            tg.spawn(worker, lock, inside_lock, 1)
            tg.spawn(worker, limiter, inside_limiter, 2)
            tg.spawn(worker, sem, inside_sem, 3)
    assert lock.statistics() == LockStatistics(locked=False, owner=None, tasks_waiting=0)
    assert limiter.statistics() == CapacityLimiterStatistics(
        borrowed_tokens=0, total_tokens=2, borrowers=(), tasks_waiting=0
    )
    assert limiter._pending == {}
    assert sem.statistics() == SemaphoreStatistics(value=3, max_value=None, tasks_waiting=0)
    # Some acquisitions timed out, and every primitive was contended.
    assert 0 < acquired.count(lock) < 40
    assert 0 < acquired.count(limiter) < 40
