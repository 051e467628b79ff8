"""Deadlock diagnosis: a program that can never make progress raises instead of hanging."""

import threading

import pytest

import trapline
from trapline.lowlevel import current_token


def test_lock_cycle_raises_deadlock_error_with_the_wait_for_graph():
    cleaned = []

    async def worker(first, second, name):
        async with first:
            await trapline.sleep(1)
            try:
                async with second:
                    pass
            finally:
                cleaned.append(name)

    async def main():
        a, b = trapline.Lock(), trapline.Lock()
        async with trapline.TaskGroup() as tg:
            tg.spawn(worker, a, b, "left", name="left")
            tg.spawn(worker, b, a, "right", name="right")

    with pytest.raises(trapline.DeadlockError) as info:
        trapline.run(main, clock=trapline.testing.VirtualClock())
    message = str(info.value)
    assert "left                     waits for Lock held by right" in message
    assert "right                    waits for Lock held by left" in message
    assert "main                     waits for task group: 2 tasks" in message
    assert sorted(cleaned) == ["left", "right"]  # cleanup ran before the error surfaced


def test_waiting_on_an_event_nobody_sets():
    async def main():
        await trapline.Event().wait()

    with pytest.raises(trapline.DeadlockError, match="main +waits for Event"):
        trapline.run(main)


def test_no_false_alarm_while_a_thread_or_token_can_still_wake_us():
    async def main():
        lot = trapline.lowlevel.ParkingLot("woken by a thread")
        token = current_token()
        threading.Timer(0.05, token.run_sync_soon, (lot.unpark_all,)).start()
        del token
        await lot.park()
        return "woken"

    assert trapline.run(main) == "woken"


def test_no_false_alarm_with_a_deadline_pending():
    async def main():
        with trapline.move_on_after(1):
            await trapline.Event().wait()
        return trapline.current_time()

    assert trapline.run(main, clock=trapline.testing.VirtualClock()) == 1.0
