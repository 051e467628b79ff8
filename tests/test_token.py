"""Reaching a run from other threads: Token.run_sync_soon."""

import threading

import pytest

import trapline
from trapline.lowlevel import ParkingLot, current_token


async def test_flood_from_several_threads_runs_everything_in_order_per_thread():
    token = current_token()
    seen: dict[int, list[int]] = {0: [], 1: [], 2: [], 3: []}
    done = trapline.lowlevel.ParkingLot("flood")
    finished = []
    per_thread = 25_000

    def record(thread_id, i):
        seen[thread_id].append(i)

    def flood(thread_id):
        for i in range(per_thread):
            token.run_sync_soon(record, thread_id, i)
        token.run_sync_soon(finished.append, thread_id)
        token.run_sync_soon(done.unpark_all)

    ticks = 0
    threads = [threading.Thread(target=flood, args=(n,)) for n in seen]
    for thread in threads:
        thread.start()
    # The loop stays responsive: a ticking task keeps running while the flood comes in.
    while len(finished) < len(threads):
        with trapline.move_on_after(0.01):
            await done.park()
        ticks += 1
    for thread in threads:
        thread.join()
    assert all(values == list(range(per_thread)) for values in seen.values())
    assert ticks >= 1


def test_raising_callback_ends_the_run_with_its_error():
    async def main():
        current_token().run_sync_soon(int, "not a number")
        await trapline.sleep(10)

    with pytest.raises(ValueError, match="invalid literal"):
        trapline.run(main)


def test_token_after_the_run_raises_run_finished():
    async def main():
        return current_token()

    token = trapline.run(main)
    with pytest.raises(trapline.RunFinishedError):
        token.run_sync_soon(print)


async def test_wakes_a_loop_blocked_waiting():
    token = current_token()
    lot = ParkingLot("thread")
    thread = threading.Timer(0.05, token.run_sync_soon, (lot.unpark_all,))
    thread.start()
    with trapline.fail_after(10):
        await lot.park()
    thread.join()
    assert token == current_token() and hash(token) == hash(current_token())
