"""Plan the measurements and run each one in its own fresh subprocess.

A *case* is one job with its parameters (the switch job is three cases, one per N). The suite runs
every case on every framework ``repeats`` times. Frameworks are interleaved: within one repeat,
each case runs on all frameworks back to back, and the order of the frameworks rotates by one
each repeat, so slow phases of a shared, noisy machine fall on every framework alike.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Case", "Measurement", "plan_cases", "run_suite"]

ROOT = Path(__file__).resolve().parent.parent

#: Switch job: checkpoints per measurement, per framework, so that each measurement takes about
#: 0.3-1 s on the reference machine (rates measured there: trapline ~2-3.5 M/s, uvloop ~1-1.6 M/s,
#: asyncio ~0.4-0.8 M/s, trio ~0.25-0.45 M/s). The rate is per switch, so budgets may differ.
SWITCH_BUDGET = {
    "trapline": 1_500_000,
    "uvloop": 750_000,
    "asyncio": 400_000,
    "trio": 200_000,
}
SWITCH_TASKS = (1, 100, 10_000)
TASKS = 100_000
TIMER_SEED = 20_260_525
TIMER_MAX_DELAY = 0.5

QUICK_DIVISOR = 20
QUICK_SWITCH_TASKS = (1, 100, 1_000)
QUICK_TASKS = 10_000
QUICK_TIMER_MAX_DELAY = 0.1

#: A measurement that takes longer than this is killed and recorded as failed.
TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class Case:
    """One job with fixed parameters; ``iterations`` is per framework (switch job only)."""

    job: str
    tasks: int
    iterations: dict[str, int] = field(default_factory=dict)
    seed: int = 0
    max_delay: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.job}-{self.tasks}" if self.job == "switch" else self.job

    @property
    def label(self) -> str:
        return (
            f"switch N={self.tasks:,}" if self.job == "switch" else f"{self.job} N={self.tasks:,}"
        )

    def argv(self, framework: str) -> list[str]:
        args = [sys.executable, "-m", "benchmarks.one", framework, self.job]
        args += ["--tasks", str(self.tasks)]
        if self.job == "switch":
            args += ["--iterations", str(self.iterations[framework])]
        if self.job == "timers":
            args += ["--seed", str(self.seed), "--max-delay", repr(self.max_delay)]
        return args


@dataclass
class Measurement:
    """One subprocess's outcome: its JSON result, or why it failed."""

    case: Case
    framework: str
    repeat: int
    result: dict[str, Any] | None
    error: str | None
    wall_seconds: float


def plan_cases(jobs: Sequence[str], frameworks: Sequence[str], quick: bool) -> list[Case]:
    """The cases to run, in report order."""
    divisor = QUICK_DIVISOR if quick else 1
    tasks = QUICK_TASKS if quick else TASKS
    cases: list[Case] = []
    for job in jobs:
        if job == "switch":
            for n in QUICK_SWITCH_TASKS if quick else SWITCH_TASKS:
                iterations = {fw: max(1, SWITCH_BUDGET[fw] // divisor // n) for fw in frameworks}
                cases.append(Case("switch", n, iterations))
        elif job == "timers":
            max_delay = QUICK_TIMER_MAX_DELAY if quick else TIMER_MAX_DELAY
            cases.append(Case("timers", tasks, seed=TIMER_SEED, max_delay=max_delay))
        else:
            cases.append(Case(job, tasks))
    return cases


def rotated(frameworks: Sequence[str], repeat: int) -> list[str]:
    """Round-robin order for one repeat: repeat r starts with framework r (mod count)."""
    k = repeat % len(frameworks)
    return [*frameworks[k:], *frameworks[:k]]


def error_summary(stderr: str, returncode: int) -> str:
    """The exception line of a failed measurement's traceback (plus a group's first member)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    top = [line for line in lines if not line[0].isspace() and line[0] not in "+|"]
    if not top:
        return f"exit status {returncode}"
    summary = top[-1]
    members = [line.strip(" |") for line in lines if re.match(r"\s+\| \w[\w.]*: ", line)]
    if members:
        summary += f" (first: {members[0]})"
    return summary


def measure(
    case: Case, framework: str, repeat: int, env: dict[str, str] | None = None
) -> Measurement:
    """Run one measurement in a fresh interpreter and parse the JSON it prints."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            case.argv(framework),
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        wall = time.perf_counter() - t0
        return Measurement(case, framework, repeat, None, f"timed out after {wall:.0f} s", wall)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        error = error_summary(proc.stderr, proc.returncode)
        return Measurement(case, framework, repeat, None, error, wall)
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError) as error:
        return Measurement(case, framework, repeat, None, f"bad output: {error}", wall)
    return Measurement(case, framework, repeat, result, None, wall)


def run_suite(
    cases: Sequence[Case],
    frameworks: Sequence[str],
    repeats: int,
    progress: Callable[[int, int, Measurement], None] | None = None,
    env: dict[str, str] | None = None,
) -> list[Measurement]:
    """Run every case on every framework ``repeats`` times, interleaved; return all outcomes."""
    total = repeats * len(cases) * len(frameworks)
    done: list[Measurement] = []
    for repeat in range(repeats):
        order = rotated(frameworks, repeat)
        for case in cases:
            for framework in order:
                m = measure(case, framework, repeat, env)
                done.append(m)
                if progress is not None:
                    progress(len(done), total, m)
    return done
