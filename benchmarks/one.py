"""Run one (framework, job) measurement in this process and print it as one line of JSON.

    python -m benchmarks.one FRAMEWORK JOB --tasks N [--iterations K] [--seed S] [--max-delay D]

The runner starts a fresh process for every measurement, so no run inherits another's heap,
caches or imported frameworks.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

from . import FRAMEWORKS
from .kernel_jobs import JOBS, run_job


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.one", description=__doc__)
    parser.add_argument("framework", choices=FRAMEWORKS)
    parser.add_argument("job", choices=JOBS)
    parser.add_argument("--tasks", type=int, required=True, help="number of tasks (N)")
    parser.add_argument(
        "--iterations", type=int, default=0, help="switch job: checkpoints per task"
    )
    parser.add_argument("--seed", type=int, default=0, help="timers job: random seed")
    parser.add_argument(
        "--max-delay", type=float, default=0.5, help="timers job: longest possible sleep (s)"
    )
    args = parser.parse_args(argv)
    if args.tasks < 1:
        parser.error("--tasks must be at least 1")
    if args.job == "switch" and args.iterations < 1:
        parser.error("the switch job needs --iterations >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    result = run_job(
        args.framework,
        args.job,
        tasks=args.tasks,
        iterations=args.iterations,
        seed=args.seed,
        max_delay=args.max_delay,
    )
    result.update(
        framework=args.framework,
        job=args.job,
        tasks=args.tasks,
        run_seconds=time.perf_counter() - t0,
        max_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    )
    module = sys.modules.get("trapline")
    if module is not None:
        result["trapline_file"] = module.__file__
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
