"""Aggregate the measurements (medians, ratios to asyncio, targets) and render the Markdown."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import statistics
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import BASELINE
from .runner import ROOT, Case, Measurement

__all__ = ["Summary", "environment", "render", "summarise", "targets"]


@dataclass(frozen=True)
class JobInfo:
    title: str
    metric: str
    higher_is_better: bool
    fmt: Callable[[float], str]
    about: str


def _count(v: float) -> str:
    return f"{v:,.0f}"


def _seconds(v: float) -> str:
    return f"{v:.3f}"


JOBS = {
    "switch": JobInfo(
        "Switch rate",
        "switches/s",
        True,
        _count,
        "N tasks each loop on the cheapest checkpoint (trapline `await trapline.checkpoint()`, "
        "asyncio/uvloop `await asyncio.sleep(0)`, trio `await trio.lowlevel.checkpoint()`) in one "
        "task group. Timed from the first task's first step to the end of the group; "
        "switches = N x iterations. Each framework gets its own checkpoint budget so that a "
        "measurement takes about 0.3-1 s; the rate is per switch.",
    ),
    "spawn": JobInfo(
        "Spawn and join",
        "seconds",
        False,
        _seconds,
        "Spawn N no-op tasks in a task group and leave the group (trapline `tg.spawn(noop)`, "
        "asyncio/uvloop `asyncio.TaskGroup` + `create_task(noop())`, trio `start_soon(noop)`). "
        "Timed from before entering the group to after leaving it.",
    ),
    "memory": JobInfo(
        "Memory per parked task",
        "bytes/task",
        False,
        _count,
        "N tasks parked in `sleep(3600)` (spawned directly: `tg.spawn(trapline.sleep, 3600)`, "
        "`create_task(asyncio.sleep(3600))`, `start_soon(trio.sleep, 3600)`). Resident set size "
        "from `/proc/self/statm` before spawning and once all are parked (after `sleep(0.1)` and "
        "3 checkpoints), divided by N; then the tasks are cancelled so the run ends.",
    ),
    "timers": JobInfo(
        "Timer overhead",
        "seconds",
        False,
        _seconds,
        "N tasks each do one sleep of a seeded random length in [0, {max_delay}] s (the same "
        "sequence for every framework). Overhead = elapsed time of the whole task group "
        "(spawn included) minus the longest sleep.",
    ),
}


@dataclass
class Summary:
    """The repeats of one case on one framework."""

    case: Case
    framework: str
    values: list[float]
    extras: dict[str, list[float]]
    errors: list[str]

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    def extra_median(self, name: str) -> float | None:
        values = self.extras.get(name)
        return statistics.median(values) if values else None


def summarise(
    measurements: Sequence[Measurement], cases: Sequence[Case], frameworks: Sequence[str]
) -> dict[tuple[str, str], Summary]:
    """Group the measurements by (case key, framework)."""
    table = {(case.key, fw): Summary(case, fw, [], {}, []) for case in cases for fw in frameworks}
    for m in measurements:
        s = table[m.case.key, m.framework]
        if m.result is None:
            s.errors.append(m.error or "failed")
            continue
        s.values.append(float(m.result["value"]))
        for name, value in m.result.items():
            if name != "value" and isinstance(value, int | float):
                s.extras.setdefault(name, []).append(float(value))
    return table


def ratio(table: dict[tuple[str, str], Summary], key: str, framework: str) -> float | None:
    """Median of ``framework`` over median of asyncio, for one case; None if either is missing."""
    mine = table.get((key, framework))
    base = table.get((key, BASELINE))
    if mine is None or base is None or mine.median is None or not base.median:
        return None
    return mine.median / base.median


@dataclass(frozen=True)
class Target:
    key: str
    name: str
    text: str
    shown: str
    check: Callable[[float], bool]
    invert: bool = False


TARGETS = (
    Target(
        "switch-100",
        "switch rate N=100",
        "switch rate at N=100 at least 3x asyncio's",
        ">= 3x",
        lambda r: r >= 3,
    ),
    Target(
        "spawn",
        "spawn+join speedup",
        "spawn+join at least 2x as fast as asyncio (asyncio time / trapline time)",
        ">= 2x",
        lambda r: r >= 2,
        invert=True,
    ),
    Target(
        "memory",
        "memory per task",
        "memory per parked task at most 0.7x asyncio's",
        "<= 0.7x",
        lambda r: r <= 0.7,
    ),
    Target(
        "timers",
        "timer overhead",
        "timer overhead at most 0.35x asyncio's",
        "<= 0.35x",
        lambda r: r <= 0.35,
    ),
)


def targets(table: dict[tuple[str, str], Summary]) -> list[tuple[Target, float | None, str]]:
    """Each target with trapline's measured ratio and "met" / "not met" / "not measured"."""
    out = []
    for target in TARGETS:
        r = ratio(table, target.key, "trapline")
        if r is not None and target.invert:
            r = 1 / r if r else None
        if r is None:
            out.append((target, None, "not measured"))
        else:
            out.append((target, r, "met" if target.check(r) else "not met"))
    return out


def _git(*args: str) -> str:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
        )
    except OSError:
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def environment(
    command: str, repeats: int, quick: bool, trapline_source: str | None = None
) -> dict[str, str]:
    """Facts about this run for the report's header."""
    if trapline_source is None:
        trapline_source = "git " + (_git("rev-parse", "--short=10", "HEAD") or "unknown")
        if _git("status", "--porcelain", "--", "src"):
            trapline_source += " + uncommitted changes in src/"
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    nproc = str(affinity or os.cpu_count())
    return {
        "command": command,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "machine": f"nproc {nproc}, {_cpu_model()}",
        "versions": (
            f"trapline {_version('trapline')} ({trapline_source}), trio {_version('trio')}, "
            f"uvloop {_version('uvloop')}"
        ),
        "repeats": str(repeats),
        "mode": "quick (smoke test, small N)" if quick else "full",
    }


def _ratio_text(r: float | None, digits: int = 2) -> str:
    return "-" if r is None else f"{r:.{digits}f}x"


def _job_table(
    job: str,
    cases: Sequence[Case],
    frameworks: Sequence[str],
    table: dict[tuple[str, str], Summary],
) -> list[str]:
    info = JOBS[job]
    better = "higher is better" if info.higher_is_better else "lower is better"
    head = ["framework", f"median ({info.metric}, {better})", "min - max", "ratio vs asyncio"]
    if job == "switch":
        head[1:1] = ["N", "switches per run"]
    elif job == "spawn":
        head += ["speedup vs asyncio (asyncio time / time)", "tasks/s (median)"]
    elif job == "timers":
        head += ["elapsed (median, s)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for case in cases:
        for fw in frameworks:
            s = table[case.key, fw]
            med = s.median
            r = ratio(table, case.key, fw)
            if med is None:
                cells = [fw, "failed: " + (s.errors[0] if s.errors else "no data"), "-", "-"]
            else:
                spread = f"{info.fmt(min(s.values))} - {info.fmt(max(s.values))}"
                if s.errors:
                    spread += f" ({len(s.errors)} failed)"
                cells = [fw, info.fmt(med), spread, _ratio_text(r)]
            if job == "switch":
                switches = s.extra_median("switches")
                cells[1:1] = [f"{case.tasks:,}", "-" if switches is None else _count(switches)]
            elif job == "spawn":
                speedup = None if not r else 1 / r
                rate = s.extra_median("tasks_per_second")
                cells += [_ratio_text(speedup), "-" if rate is None else _count(rate)]
            elif job == "timers":
                elapsed = s.extra_median("elapsed")
                cells += ["-" if elapsed is None else _seconds(elapsed)]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def render(
    env: dict[str, str],
    cases: Sequence[Case],
    frameworks: Sequence[str],
    table: dict[tuple[str, str], Summary],
) -> str:
    """The whole ``docs/benchmarks.md``."""
    out = [
        "# Benchmarks",
        "",
        "trapline's kernel against asyncio, uvloop and trio, running the same jobs. This file is "
        "written by `python -m benchmarks` (the code is in `benchmarks/`); rerun it rather than "
        "editing the numbers.",
        "",
        f"- Command: `{env['command']}` (from the repository root)",
        f"- Date: {env['date']}",
        f"- Python: {env['python']} on {env['platform']}",
        f"- Machine: {env['machine']} (shared and noisy)",
        f"- Versions: {env['versions']}",
        f"- Mode: {env['mode']}, repeats: {env['repeats']}",
        "",
        "Every (framework, job) measurement runs in its own fresh subprocess. Each repeat runs "
        "every job on all frameworks back to back, and the frameworks' order rotates by one each "
        "repeat, so machine noise falls on all of them alike. Tables show the median over the "
        "repeats, the spread, and the ratio of medians to asyncio's from this same run. Absolute "
        "numbers vary from run to run on this machine; only ratios within one run mean anything.",
        "",
    ]
    results = targets(table)
    summary = "; ".join(
        f"{t.name} {_ratio_text(r, 3)} ({t.shown}): {status}" for t, r, status in results
    )
    out += [f"**Targets:** {summary}.", "", "## Targets", ""]
    out += ["| target | needed | trapline measured | status |", "|---|---|---|---|"]
    for t, r, status in results:
        out.append(f"| {t.text} | {t.shown} | {_ratio_text(r, 3)} | **{status}** |")
    out.append("")
    jobs_in_order: list[str] = []
    for case in cases:
        if case.job not in jobs_in_order:
            jobs_in_order.append(case.job)
    for number, job in enumerate(jobs_in_order, 1):
        info = JOBS[job]
        job_cases = [c for c in cases if c.job == job]
        n_text = ", ".join(f"{c.tasks:,}" for c in job_cases)
        better = "Higher" if info.higher_is_better else "Lower"
        out += [
            f"## {number}. {info.title}",
            "",
            f"{info.about.format(max_delay=job_cases[0].max_delay)} N = {n_text}.",
            "",
            f"{better} is better, for the median and for the ratio to asyncio.",
            "",
        ]
        out += _job_table(job, job_cases, frameworks, table)
        out.append("")
    out += [
        "## Notes",
        "",
        "- Method: medians of independent fresh-process runs; the garbage collector is left at "
        "its defaults and trapline runs with its full feature set (plain `trapline.run(main)`).",
        "- Timing is `time.perf_counter()` inside the program, so interpreter start-up and "
        "imports are not counted; memory is resident-set growth, so it includes each "
        "framework's per-task bookkeeping (queues, sets, timer heaps) as well as the tasks.",
        "",
        "### What got trapline here (and what did not)",
        "",
        "- The cheapest checkpoint is the bare trap: `checkpoint()` returns the trap generator "
        "itself, no `async def` frame around it (an extra frame cost about 30% of switch rate).",
        "- A resumed-from-checkpoint task carries the `CHECKPOINT` marker as its next value, so "
        "cancellation is checked at resume time from one cached per-task flag; scopes are never "
        "walked at a checkpoint.",
        "- `sleep` is a small awaitable yielding a `Delay` float message instead of an "
        "`async def` plus a `Park` object, and a spawned awaitable's `__await__` generator runs "
        "as the task itself: a parked sleeper is the task, the trap frame and a heap entry "
        "(1,031 -> about 820 bytes).",
        "- Task slots that are rarely set (name, own scope, child groups, result and error until "
        "the end) are left unset at spawn; `done` is derived from the finished coroutine.",
        "- The instrument test is a C-level dict truth test; the timer wake path is inlined.",
        "- Tried and kept out: dropping the cached bound `coro.send` saves about 70 bytes per "
        "task but costs about 17% of switch rate; skipping the driver round trip when tasks are "
        "ready made everything about 30% slower (the loop generator stopped being specialised).",
        "- The cyclic garbage collector is a large share of spawn and timer time with 100,000 "
        "live tasks; the settings are left alone, the number of tracked objects per task is "
        "what was reduced.",
        "",
    ]
    return "\n".join(out) + "\n"
