"""The step-by-step scheduler: the tutorial's human scheduler as a tool."""

import pytest

import trapline
from trapline.lowlevel import Stepper
from trapline.testing import VirtualClock


async def square(x):
    await trapline.sleep(3)
    return x * x


async def cube(x):
    await trapline.sleep(3)
    return x * await square(x)


async def two_cubes():
    async with trapline.TaskGroup() as tg:
        a = tg.spawn(cube, 5)
        b = tg.spawn(cube, 10)
    return [a.result(), b.result()]


def _trace(stepper):
    return [str(event) for event in iter(lambda: None if stepper.done else stepper.step(), None)]


def test_two_cubes_step_by_step():
    with Stepper(two_cubes) as stepper:
        events = []
        while not stepper.done:
            events.append(stepper.step())
        assert stepper.result() == [125, 1000]
    summary = [(e.index, e.time, e.task.name, e.kind, e.wait_reason) for e in events]
    assert summary == [
        (1, 0.0, "two_cubes", "park", "task group: 2 tasks"),
        (2, 0.0, "cube-1", "park", "sleep until t=3"),
        (3, 0.0, "cube-2", "park", "sleep until t=3"),
        (4, 3.0, "cube-1", "park", "sleep until t=6"),
        (5, 3.0, "cube-2", "park", "sleep until t=6"),
        (6, 6.0, "cube-1", "finished", None),
        (7, 6.0, "cube-2", "finished", None),
        (8, 6.0, "two_cubes", "finished", None),
    ]
    assert events[5].result == 125
    assert "cube-1" in str(events[5]) and "returned 125" in str(events[5])


def test_same_program_gives_the_same_steps_every_time():
    def trace():
        with Stepper(two_cubes) as stepper:
            return _trace(stepper)

    first = trace()
    assert len(first) == 8
    assert trace() == first


def test_checkpoint_steps_and_fifo_order():
    async def worker(n):
        for _ in range(n):
            await trapline.checkpoint()

    async def main():
        async with trapline.TaskGroup() as tg:
            tg.spawn(worker, 2, name="a")
            tg.spawn(worker, 1, name="b")

    with Stepper(main) as stepper:
        steps = [(e.task.name, e.kind) for e in stepper.run_until_idle()]
    assert steps == [
        ("main", "park"),
        ("a", "checkpoint"),
        ("b", "checkpoint"),
        ("a", "checkpoint"),
        ("b", "finished"),
        ("a", "finished"),
        ("main", "finished"),
    ]


def test_run_until_idle_does_not_move_the_clock_and_advance_does():
    with Stepper(two_cubes) as stepper:
        first = stepper.run_until_idle()
        assert [e.task.name for e in first] == ["two_cubes", "cube-1", "cube-2"]
        assert stepper.clock.current_time() == 0.0
        assert stepper.run_until_idle() == []
        tasks = {t.name: (t.state, t.wait_reason) for t in stepper.tasks()}
        assert tasks == {
            "two_cubes": ("waiting", "task group: 2 tasks"),
            "cube-1": ("waiting", "sleep until t=3"),
            "cube-2": ("waiting", "sleep until t=3"),
        }
        moved = stepper.advance(2)
        assert moved == [] and stepper.clock.current_time() == 2.0
        moved = stepper.advance(10)
        # Each deadline fires at its own time: the squares started at t=3, not at t=12.
        assert [(e.task.name, e.time) for e in moved] == [
            ("cube-1", 3.0),
            ("cube-2", 3.0),
            ("cube-1", 6.0),
            ("cube-2", 6.0),
            ("two_cubes", 6.0),
        ]
        assert stepper.clock.current_time() == 12.0
        assert stepper.done and stepper.tasks() == []


def test_step_after_finish_and_result_before_finish_are_errors():
    with Stepper(cube, 2) as stepper:
        with pytest.raises(RuntimeError, match="not finished"):
            stepper.result()
        assert stepper.run() == 8
        with pytest.raises(RuntimeError, match="has finished"):
            stepper.step()


def test_failed_task_event_and_result_raises():
    async def boom():
        await trapline.checkpoint()
        raise ValueError("bad")

    with Stepper(boom) as stepper:
        stepper.step()
        event = stepper.step()
        assert event.kind == "failed" and isinstance(event.error, ValueError)
        with pytest.raises(ValueError, match="bad"):
            stepper.result()


def test_stuck_program_raises_instead_of_hanging():
    async def main():
        event = trapline.lowlevel.ParkingLot("nothing")
        await event.park()

    with Stepper(main) as stepper:
        stepper.step()
        with pytest.raises(RuntimeError, match=r"no task can run.*main \(nothing\)"):
            stepper.step()


def test_close_cancels_the_rest_and_runs_cleanup():
    cleaned = []

    async def main():
        try:
            await trapline.sleep(100)
        finally:
            cleaned.append("yes")

    stepper = Stepper(main)
    stepper.step()
    stepper.close()
    assert cleaned == ["yes"]
    assert stepper.done
    with pytest.raises(trapline.Cancelled):
        stepper.result()


def test_stepper_works_with_a_custom_clock_and_inside_a_run():
    async def main():
        await trapline.sleep(1)
        return trapline.current_time()

    with Stepper(main, clock=VirtualClock(autojump=False, start=10.0)) as stepper:
        assert stepper.run() == 11.0

    async def outer():
        with Stepper(main) as stepper:
            return stepper.run()

    assert trapline.run(outer) == 1.0


def test_tasks_lists_states():
    async def main():
        async with trapline.TaskGroup() as tg:
            tg.spawn(trapline.sleep, 5, name="sleeper")
            tg.spawn(trapline.checkpoint, name="ckpt")
            await trapline.checkpoint()

    with Stepper(main) as stepper:
        stepper.step()  # main spawns both and checkpoints
        states = [(t.name, t.state) for t in stepper.tasks()]
        assert states == [("main", "ready"), ("sleeper", "ready"), ("ckpt", "ready")]
        stepper.step()  # sleeper parks
        assert stepper.tasks()[1].wait_reason == "sleep until t=5"
        stepper.run()


def test_call_runs_inside_the_run_without_taking_a_step():
    async def sleeper():
        await trapline.sleep(5)

    async def main():
        async with trapline.TaskGroup() as tg:
            tg.spawn(sleeper, name="first")
            await trapline.sleep(1)

    with Stepper(main) as stepper:
        stepper.step()
        stepper.step()
        steps = len(stepper.events)
        tree = stepper.call(trapline.lowlevel.format_task_tree, None)
        assert tree.splitlines()[0] == "main [waiting: sleep until t=1]"
        assert stepper.call(trapline.current_time) == 0.0
        assert [task.id for task in stepper.tasks()] == [0, 1]
        assert len(stepper.events) == steps  # nothing ran
        with pytest.raises(RuntimeError, match="must be called inside trapline.run"):
            trapline.current_time()


def test_history_keeps_only_the_last_steps():
    async def main():
        for _ in range(10):
            await trapline.sleep(0)
        return "done"

    with Stepper(main, history=3) as stepper:
        assert stepper.run() == "done"
        assert [event.index for event in stepper.events] == [9, 10, 11]
        assert str(stepper.events[-1]).split()[-2:] == ["returned", "'done'"]
    with pytest.raises(ValueError, match="history must be at least 1"):
        Stepper(main, history=0)
