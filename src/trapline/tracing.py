"""Seeing what a program did: a Chrome/Perfetto timeline, and reports of slow steps.

``trapline.run(main, instruments=[ChromeTrace("trace.json")])`` writes a trace you can open in
``chrome://tracing`` or https://ui.perfetto.dev: one track per task, each step a slice, each wait
a slice labelled with its reason (a lock, a queue, a socket read, a sleep...), spawns,
cancellations and wake-ups (from the task that released the lock, put into the queue...) drawn as
flow arrows, and two kernel tracks: its I/O waits and its timer firings, with arrows to the tasks
they wake. ``ChromeTrace("trace.html")`` writes the same timeline as a
self-contained web page instead, and ``trapline trace script.py -o trace.html`` traces every
``trapline.run`` of a script.

``SlowStepDetector(threshold=0.1)`` reports any task step that keeps the loop busy longer than
``threshold`` seconds, with the stack where that task was stuck (a watchdog thread samples it),
because a step that does not yield stalls every other task.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import sys
import threading
import time
import traceback
from typing import Any, TextIO

from ._timeline_html import render_html
from .lowlevel import Instrument, Task

__all__ = ["ChromeTrace", "SlowStepDetector", "wait_kind"]

logger = logging.getLogger("trapline.tracing")

# Each run's two kernel tracks; tasks get thread ids from _FIRST_TASK_TID on, in spawn order.
_IO_TID = 0
_TIMER_TID = 1
_FIRST_TASK_TID = 2
# Kernel events are instants, but a flow arrow must start inside a slice: they get this width.
_MARK_US = 1.0

_KINDS = (
    ("sleep", "sleep"),
    ("fd ", "io"),
    ("Lock", "lock"),
    ("Semaphore", "lock"),
    ("CapacityLimiter", "lock"),
    ("Condition", "lock"),
    ("Queue", "queue"),
    ("channel", "queue"),
    ("memory stream", "queue"),
    ("Event", "event"),
    ("task", "task"),
    ("waiting for task_status", "task"),
    ("thread", "thread"),
)


def wait_kind(reason: str) -> str:
    """Classify a task's wait reason for colouring: ``"sleep"``, ``"io"`` (a socket or fd read
    or write), ``"lock"`` (locks, semaphores, limiters, conditions), ``"queue"`` (queues and
    channels), ``"event"``, ``"task"`` (a task or task group), ``"thread"``, else ``"other"``."""
    for prefix, kind in _KINDS:
        if reason.startswith(prefix):
            return kind
    return "other"


def _now_us() -> float:
    return time.perf_counter() * 1e6


class _Run:
    """What the trace knows about the run going on in one thread."""

    __slots__ = ("io_end", "io_start", "pid", "running", "tids")

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.tids = itertools.count(_FIRST_TASK_TID)
        self.running: Task | None = None  # the task in its step, to draw spawns from
        self.io_start = 0.0
        self.io_end = -1.0  # end of the last I/O wait, to draw I/O wake-ups from


class ChromeTrace(Instrument):
    """Record a Chrome-trace (Trace Event Format) timeline of every run it instruments.

    ``path`` is written when each run ends: ``*.html`` as a self-contained page that draws the
    timeline (``write``), anything else (or an open text file) as JSON. With ``path=None``
    nothing is written until you call ``write``. One instance may trace several runs, one after
    another or at once in different threads: each run is a "process" of its own in the trace.
    """

    def __init__(self, path: str | os.PathLike[str] | TextIO | None = None) -> None:
        self.path = path
        #: The Trace Event Format events recorded so far (``"ts"`` in microseconds).
        self.events: list[dict[str, Any]] = []
        self._local = threading.local()
        self._pids = itertools.count(1)
        self._flow_ids = itertools.count(1)
        self._ids: dict[Task, tuple[int, int]] = {}
        self._waiting: dict[Task, tuple[float, str]] = {}
        self._step_start: dict[Task, float] = {}
        # Flow arrows ending at a task's next step: (name, category, flow id).
        self._arrows: dict[Task, list[tuple[str, str, int]]] = {}

    # -- bookkeeping ---------------------------------------------------------------------------

    def _run(self) -> _Run:
        run: _Run | None = getattr(self._local, "run", None)
        if run is None:
            run = self._local.run = _Run(next(self._pids))
            thread = threading.current_thread()
            name = f"trapline.run #{run.pid}"
            if thread is not threading.main_thread():
                name += f" (thread {thread.name})"
            self._meta("process_name", run.pid, 0, name)
            self._meta("thread_name", run.pid, _IO_TID, "kernel: I/O waits")
            self._meta("thread_name", run.pid, _TIMER_TID, "kernel: timers, cancels")
        return run

    def _meta(self, name: str, pid: int, tid: int, value: str) -> None:
        self.events.append(
            {"name": name, "ph": "M", "pid": pid, "tid": tid, "args": {"name": value}}
        )

    def _where(self, task: Task) -> tuple[int, int]:
        where = self._ids.get(task)
        if where is None:
            run = self._run()
            where = self._ids[task] = (run.pid, next(run.tids))
            self._meta("thread_name", *where, task.name)
        return where

    def _add(self, event: dict[str, Any], where: tuple[int, int]) -> None:
        event["pid"], event["tid"] = where
        self.events.append(event)

    def _flow_from(
        self, where: tuple[int, int], ts: float, name: str, task: Task, **args: str
    ) -> None:
        """Start an arrow at ``ts`` (inside a slice on ``where``) to ``task``'s next step."""
        flow = next(self._flow_ids)
        event = {"name": name, "cat": name, "ph": "s", "id": flow, "ts": ts}
        if args:
            event["args"] = args
        self._add(event, where)
        self._arrows.setdefault(task, []).append((name, name, flow))

    def _mark(self, name: str, ts: float, args: dict[str, Any]) -> tuple[int, int]:
        where = (self._run().pid, _TIMER_TID)
        event = {"name": name, "cat": "kernel", "ph": "X", "ts": ts, "dur": _MARK_US}
        event["args"] = args
        self._add(event, where)
        return where

    # -- hooks ---------------------------------------------------------------------------------

    def before_run(self) -> None:
        self._run()

    def task_spawned(self, task: Task) -> None:
        self._where(task)  # tracks are numbered in spawn order
        parent = self._run().running
        if parent is not None:
            self._flow_from(self._where(parent), _now_us(), "spawn", task)

    def task_cancelled(self, task: Task, by: Task | None, reason: str) -> None:
        now = _now_us()
        if by is not None:
            where = self._where(by)
        else:
            where = self._mark("cancel", now, {"task": task.name, "reason": reason})
            now += _MARK_US / 2
        self._flow_from(where, now, "cancel", task, reason=reason)

    def task_woken(self, task: Task, by: Task | None) -> None:
        if task in self._arrows:
            return  # a cancellation or a timer ended this wait, and has its arrow already
        reason = self._waiting.get(task, (0.0, ""))[1]
        run = self._run()
        if by is not None:
            self._flow_from(self._where(by), _now_us(), "wake", task, reason=reason)
        elif wait_kind(reason) == "io" and run.io_end >= 0:
            # Woken by the I/O wait that just returned: the arrow starts inside it.
            ts = run.io_end - min(_MARK_US / 2, (run.io_end - run.io_start) / 2)
            self._flow_from((run.pid, _IO_TID), ts, "I/O ready", task, reason=reason)
        else:  # from outside any task: another thread's result, a task's end seen by the kernel
            now = _now_us()
            where = self._mark(f"wake {task.name}", now, {"task": task.name, "reason": reason})
            self._flow_from(where, now + _MARK_US / 2, "wake", task, reason=reason)

    def timer_fired(self, deadline: float, task: Task | None) -> None:
        if task is not None:
            now = _now_us()
            args = {"task": task.name, "deadline": deadline}
            where = self._mark(f"timer: wake {task.name}", now, args)
            self._flow_from(where, now + _MARK_US / 2, "timer", task)

    def before_task_step(self, task: Task) -> None:
        now = _now_us()
        run = self._run()
        waiting = self._waiting.pop(task, None)
        if waiting is not None:
            self._wait_slice(task, waiting[0], now, waiting[1])
        self._step_start[task] = now
        run.running = task

    def _wait_slice(self, task: Task, start: float, end: float, reason: str) -> None:
        args = {"reason": reason, "kind": wait_kind(reason)}
        event = {"name": f"wait: {reason}", "cat": "wait", "ph": "X", "ts": start}
        event.update(dur=end - start, args=args)
        self._add(event, self._where(task))

    def after_task_step(self, task: Task) -> None:
        now = _now_us()
        start = self._step_start.pop(task, now)
        self._run().running = None
        where = self._where(task)
        self._add(
            {"name": "step", "cat": "step", "ph": "X", "ts": start, "dur": now - start}, where
        )
        # Arrows end just inside the step (binding point "e": the enclosing slice).
        ts = start + min(_MARK_US / 2, (now - start) / 2)
        for name, cat, flow in self._arrows.pop(task, ()):
            self._add({"name": name, "cat": cat, "ph": "f", "bp": "e", "id": flow, "ts": ts}, where)
        if task.state == "waiting":
            self._waiting[task] = (now, task.wait_reason or "?")
        elif task.state == "done":
            error = task.exception()
            if error is None:
                name = "exited"
            elif task.cancelled():
                name = "cancelled"
            else:
                name = f"raised {type(error).__name__}"
            self._add({"name": name, "cat": "exit", "ph": "i", "s": "t", "ts": now}, where)

    def before_io_wait(self, timeout: float) -> None:
        self._run().io_start = _now_us()

    def after_io_wait(self, timeout: float) -> None:
        now = _now_us()
        run = self._run()
        run.io_end = now
        event = {"name": "I/O wait", "cat": "io", "ph": "X", "ts": run.io_start}
        event.update(
            dur=now - run.io_start, args={"timeout": timeout if timeout != float("inf") else "inf"}
        )
        self._add(event, (run.pid, _IO_TID))

    def after_run(self) -> None:
        run = self._run()
        now = _now_us()
        for task, (start, reason) in list(self._waiting.items()):
            if self._ids.get(task, (0, 0))[0] == run.pid:  # still waiting when the run ended
                del self._waiting[task]
                self._wait_slice(task, start, now, reason)
        for task in [task for task in self._arrows if self._ids[task][0] == run.pid]:
            del self._arrows[task]  # arrows to tasks that never stepped again
        self._local.run = None
        if self.path is not None:
            self.write(self.path)

    # -- output --------------------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        """The trace as a Trace Event Format document (what the JSON file holds)."""
        return {"traceEvents": list(self.events), "displayTimeUnit": "ms"}

    def write(
        self, path: str | os.PathLike[str] | TextIO, *, title: str = "trapline timeline"
    ) -> None:
        """Write the trace: a ``*.html`` path gets the self-contained page (the trace embedded,
        no network needed to view it), anything else JSON; an open file gets JSON."""
        if not isinstance(path, (str, os.PathLike)):
            json.dump(self.document(), path)
            return
        with open(path, "w", encoding="utf-8") as file:
            if os.fspath(path).lower().endswith((".html", ".htm")):
                file.write(render_html(self.document(), title=title))
            else:
                json.dump(self.document(), file)


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
