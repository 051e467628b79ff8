"""Seeing what a program did: a Chrome/Perfetto timeline, and reports of slow steps.

``trapline.run(main, instruments=[ChromeTrace("trace.json")])`` writes a trace you can open in
``chrome://tracing`` or https://ui.perfetto.dev: one track per task, each step a slice, each wait
a slice labelled with its reason (a lock, a queue, a socket read, a sleep...), spawns drawn as
flow arrows from parent to child, and the kernel's I/O waits on their own track.

``SlowStepDetector(threshold=0.1)`` reports any task step that keeps the loop busy longer than
``threshold`` seconds, with the stack where that task was stuck (a watchdog thread samples it),
because a step that does not yield stalls every other task.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import traceback
from typing import Any, TextIO

from .lowlevel import Instrument, Task

__all__ = ["ChromeTrace", "SlowStepDetector"]

logger = logging.getLogger("trapline.tracing")


def _now_us() -> float:
    return time.perf_counter() * 1e6


class ChromeTrace(Instrument):
    """Record a Chrome-trace (Trace Event Format) timeline; written when the run ends."""

    def __init__(self, path: str | os.PathLike[str] | TextIO) -> None:
        self.path = path
        self.events: list[dict[str, Any]] = []
        self._ids: dict[Task, int] = {}
        self._waiting: dict[Task, tuple[float, str]] = {}
        self._step_start: dict[Task, float] = {}
        self._io_start = 0.0
        self._pid = os.getpid()
        self._spawner: Task | None = None

    def _tid(self, task: Task) -> int:
        tid = self._ids.get(task)
        if tid is None:
            tid = self._ids[task] = len(self._ids) + 1
            self.events.append(
                {
                    "name": "thread_name",
                    "ph": "M",
                    "pid": self._pid,
                    "tid": tid,
                    "args": {"name": task.name},
                }
            )
        return tid

    def before_run(self) -> None:
        self.events.append(
            {
                "name": "thread_name",
                "ph": "M",
                "pid": self._pid,
                "tid": 0,
                "args": {"name": "kernel (I/O waits)"},
            }
        )

    def task_spawned(self, task: Task) -> None:
        tid = self._tid(task)
        parent = self._spawner
        if parent is not None:
            flow = len(self.events)
            now = _now_us()
            self.events.append(
                {
                    "name": "spawn",
                    "cat": "spawn",
                    "ph": "s",
                    "id": flow,
                    "ts": now,
                    "pid": self._pid,
                    "tid": self._tid(parent),
                }
            )
            self.events.append(
                {
                    "name": "spawn",
                    "cat": "spawn",
                    "ph": "f",
                    "bp": "e",
                    "id": flow,
                    "ts": now + 1,
                    "pid": self._pid,
                    "tid": tid,
                }
            )

    def before_task_step(self, task: Task) -> None:
        now = _now_us()
        waiting = self._waiting.pop(task, None)
        if waiting is not None:
            start, reason = waiting
            self.events.append(
                {
                    "name": f"wait: {reason}",
                    "cat": "wait",
                    "ph": "X",
                    "ts": start,
                    "dur": now - start,
                    "pid": self._pid,
                    "tid": self._tid(task),
                }
            )
        self._step_start[task] = now
        self._spawner = task

    def after_task_step(self, task: Task) -> None:
        now = _now_us()
        start = self._step_start.pop(task, now)
        self._spawner = None
        self.events.append(
            {
                "name": "step",
                "cat": "step",
                "ph": "X",
                "ts": start,
                "dur": now - start,
                "pid": self._pid,
                "tid": self._tid(task),
            }
        )
        if task.state == "waiting":
            self._waiting[task] = (now, task.wait_reason or "?")
        elif task.state == "done":
            error = task.exception()
            self.events.append(
                {
                    "name": "exited" if error is None else f"raised {type(error).__name__}",
                    "ph": "i",
                    "s": "t",
                    "ts": now,
                    "pid": self._pid,
                    "tid": self._tid(task),
                }
            )

    def before_io_wait(self, timeout: float) -> None:
        self._io_start = _now_us()

    def after_io_wait(self, timeout: float) -> None:
        now = _now_us()
        self.events.append(
            {
                "name": "I/O wait",
                "cat": "io",
                "ph": "X",
                "ts": self._io_start,
                "dur": now - self._io_start,
                "pid": self._pid,
                "tid": 0,
                "args": {"timeout": timeout if timeout != float("inf") else "inf"},
            }
        )

    def after_run(self) -> None:
        document = {"traceEvents": self.events, "displayTimeUnit": "ms"}
        if isinstance(self.path, (str, os.PathLike)):
            with open(self.path, "w", encoding="utf-8") as file:
                json.dump(document, file)
        else:
            json.dump(document, self.path)


class SlowStepDetector(Instrument):
    """Report task steps longer than ``threshold`` seconds, with where the task was stuck."""

    def __init__(self, threshold: float = 0.1, *, report: Any = None) -> None:
        if threshold <= 0:
            raise ValueError("threshold must be positive")
        self.threshold = threshold
        self.reports: list[tuple[str, float, str]] = []
        self._report = report or self._log
        self._lock = threading.Lock()
        self._current: tuple[Task, float, int] | None = None
        self._step = 0
        self._reported = -1
        self._stop = threading.Event()
        self._thread_id = 0
        self._watchdog: threading.Thread | None = None

    def _log(self, name: str, seconds: float, stack: str) -> None:
        logger.warning(
            "task %r kept the loop busy for %.3f s without a checkpoint, at:\n%s",
            name,
            seconds,
            stack,
        )

    def before_run(self) -> None:
        self._thread_id = threading.get_ident()
        self._stop.clear()
        self._watchdog = threading.Thread(
            target=self._watch, name="trapline slow-step watchdog", daemon=True
        )
        self._watchdog.start()

    def after_run(self) -> None:
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join()

    def before_task_step(self, task: Task) -> None:
        with self._lock:
            self._step += 1
            self._current = (task, time.perf_counter(), self._step)

    def after_task_step(self, task: Task) -> None:
        with self._lock:
            current = self._current
            self._current = None
        if current is not None:
            elapsed = time.perf_counter() - current[1]
            if elapsed > self.threshold and self._reported != current[2]:
                self._emit(task.name, elapsed, "(the step ended before it could be sampled)")

    def _emit(self, name: str, seconds: float, stack: str) -> None:
        self.reports.append((name, seconds, stack))
        self._report(name, seconds, stack)

    def _watch(self) -> None:
        interval = self.threshold / 2
        while not self._stop.wait(interval):
            with self._lock:
                current = self._current
            if current is None:
                continue
            task, started, step = current
            elapsed = time.perf_counter() - started
            if elapsed > self.threshold and self._reported != step:
                frame = sys._current_frames().get(self._thread_id)
                stack = "".join(traceback.format_stack(frame)) if frame is not None else "?"
                self._reported = step
                self._emit(task.name, elapsed, stack)
