"""Chrome traces and slow-step reports."""

import json
import time

import trapline
from trapline.tracing import ChromeTrace, SlowStepDetector


def test_chrome_trace_has_a_track_per_task_with_steps_waits_and_spawns(tmp_path):
    path = tmp_path / "trace.json"
    lock = trapline.Lock()

    async def worker(n):
        async with lock:
            await trapline.sleep(0.01 * n)

    async def main():
        async with trapline.TaskGroup() as tg:
            tg.spawn(worker, 1, name="w1")
            tg.spawn(worker, 2, name="w2")

    trapline.run(main, instruments=[ChromeTrace(path)])
    events = json.loads(path.read_text())["traceEvents"]
    names = {e["args"]["name"] for e in events if e["ph"] == "M"}
    assert {"main", "w1", "w2", "kernel (I/O waits)"} <= names
    waits = [e["name"] for e in events if e.get("cat") == "wait"]
    assert "wait: sleep until" in " ".join(waits)
    assert any(name.startswith("wait: Lock held by w1") for name in waits)
    assert sum(1 for e in events if e["ph"] == "s") == 2  # main spawned w1 and w2
    assert all(e["dur"] >= 0 for e in events if e["ph"] == "X")


def test_slow_step_is_reported_with_the_stack_where_it_was_stuck():
    detector = SlowStepDetector(threshold=0.05, report=lambda *args: None)

    def crunch():
        time.sleep(0.3)  # stands in for CPU-bound work that never checkpoints

    async def busy():
        crunch()

    async def main():
        async with trapline.TaskGroup() as tg:
            tg.spawn(busy)
            tg.spawn(trapline.sleep, 0.01)

    trapline.run(main, instruments=[detector])
    assert len(detector.reports) == 1
    name, seconds, stack = detector.reports[0]
    assert name == "busy-1" and seconds > 0.05
    assert "in crunch" in stack
