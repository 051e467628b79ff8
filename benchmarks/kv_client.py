"""``python -m benchmarks.kv_client``: trapline.kv's client against redis-py's asyncio client.

Both clients talk to the same real ``redis-server``, started here on a free 127.0.0.1 port with a
temporary directory (no persistence), in the same run. Every (client, job) measurement is a fresh
process (``benchmarks/kv_client_jobs.py``, which describes the jobs): ``sequential`` SET/GET
from one task, ``pipeline`` batches of 100 commands, and ``concurrent``: 100 tasks sharing a
pool of 20 connections. Repeats interleave the clients (the order rotates each repeat); the
tables show medians, the spread, and ratios of medians to redis-py from this same run, both of
operations per second and of operations per client CPU-second (less sensitive to what else the
shared machine is doing). ``redis-benchmark`` (C, one epoll thread) runs the same pattern as a
reference: roughly what the server and loopback allow any client.

Writes the ``kv-client`` section of ``docs/benchmarks.md`` (between ``<!-- kv-client:begin -->``
and ``<!-- kv-client:end -->``; the other suites keep it when they rewrite the file).

    .venv/bin/python -m benchmarks.kv_client                # 5 repeats x 2 s, writes the report
    .venv/bin/python -m benchmarks.kv_client --quick        # 1 repeat x 1 s, prints the section
    .venv/bin/python -m benchmarks.kv_client --jobs sequential --output -
    .venv/bin/python -m benchmarks.kv_client --trapline-rev HEAD   # src/ as committed
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import importlib.metadata
import io
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .kv import free_port, redis_version, wait_for
from .kv_client_jobs import BATCH, CLIENTS, JOBS, POOL, TASKS
from .report import environment
from .runner import ROOT, rotated
from .source import trapline_at

BEGIN, END = "<!-- kv-client:begin -->", "<!-- kv-client:end -->"
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"
BASELINE = "redis-py"
REFERENCE = "redis-benchmark"
LABELS = {
    "trapline": "trapline.kv",
    "redis-py": "redis.asyncio",
    REFERENCE: "redis-benchmark (C)",
}
#: The sequential job again with the client pinned to the server's CPU: a round trip then
#: costs the client's CPU time plus the server's, with no cross-CPU wake-ups in between.
SHARED = "sequential-shared-cpu"
ALL_JOBS = (JOBS[0], SHARED, *JOBS[1:])
#: trapline's operations/s over redis-py's, per job (the client issue's targets: sequential
#: SET/GET and pipelined batches at least 2x; the sequential one in both CPU placements).
TARGETS = {"sequential": 2.0, SHARED: 2.0, "pipeline": 2.0}
TARGET_TEXT = {
    "sequential": "sequential SET/GET, client and server on separate CPUs",
    SHARED: "sequential SET/GET, client on the server's CPU",
    "pipeline": f"pipelined batches of {BATCH}",
}
#: Each job's heading (short: it names a series in the chart) and what it does.
JOB_TEXT = {
    "sequential": (
        "Sequential",
        "SET then GET from one task, each command awaited before the next; client and server "
        "on separate CPUs.",
    ),
    SHARED: (
        "Sequential, one CPU",
        "The same, with the client pinned to redis-server's CPU.",
    ),
    "pipeline": (
        f"Pipeline of {BATCH}",
        f"Batches of {BATCH} commands (SET and GET alternating, no MULTI), each sent and read "
        "as one pipeline.",
    ),
    "concurrent": (
        f"{TASKS} tasks, {POOL} connections",
        f"{TASKS} tasks doing sequential SET/GET on one shared client whose pool holds at "
        f"most {POOL} connections.",
    ),
}
#: redis-benchmark arguments for the same pattern: (connections, pipeline depth, requests).
REFERENCE_ARGS = {
    "sequential": (1, 1, 40_000),
    SHARED: (1, 1, 100_000),
    "pipeline": (1, BATCH, 2_000_000),
    "concurrent": (POOL, 1, 400_000),
}


def pin_cpus() -> tuple[int, int] | None:
    """The first and last CPU this process may use (client, server), if there are two."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return (cpus[0], cpus[-1]) if len(cpus) >= 2 else None


def start_redis(directory: str, cpu: int | None) -> tuple[int, subprocess.Popen[bytes]]:
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--appendonly", "no", "--dir", directory, "--loglevel", "warning"]
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu), *argv]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    wait_for(port, process)
    return port, process


@dataclass
class Measurement:
    client: str
    job: str
    repeat: int
    result: dict[str, Any] | None
    error: str | None


def run_job(
    client: str, job: str, port: int, args: argparse.Namespace, env: dict[str, str] | None
) -> dict[str, Any]:
    cpu = None if not args.pin else args.pin[1] if job == SHARED else args.pin[0]
    if client == REFERENCE:
        connections, depth, requests = REFERENCE_ARGS[job]
        if args.quick:
            requests //= 4
        argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", "set,get"]
        argv += ["-c", str(connections), "-P", str(depth), "-n", str(requests), "-d", "100"]
        argv += ["--csv"]
        if cpu is not None:
            argv = ["taskset", "-c", str(cpu), *argv]
        usage0 = os.times()
        out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=600)
        usage1 = os.times()
        rates = [float(row[1]) for row in csv.reader(io.StringIO(out.stdout)) if row[0] != "test"]
        cpu_seconds = (usage1.children_user - usage0.children_user) + (
            usage1.children_system - usage0.children_system
        )
        # redis-benchmark reports each test's own rate; CPU is for the whole process.
        return {"rate": statistics.mean(rates), "per_cpu": 2 * requests / cpu_seconds}
    base = "sequential" if job == SHARED else job
    argv = [sys.executable, "-m", "benchmarks.kv_client_jobs", client, base, str(port)]
    argv += [str(args.duration), str(args.warmup)]
    if cpu is not None:
        argv.append(str(cpu))
    proc = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120 + args.duration
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["rate"] = result["ops"] / result["seconds"]
    result["per_cpu"] = result["ops"] / result["cpu"] if result["cpu"] else 0.0
    result["cpu_share"] = result["cpu"] / result["seconds"]
    return result


def measure_all(
    args: argparse.Namespace, env: dict[str, str] | None
) -> tuple[list[Measurement], str]:
    measurements: list[Measurement] = []
    total = args.repeats * len(args.jobs) * len(args.clients)
    with tempfile.TemporaryDirectory(prefix="trapline-kv-client-") as directory:
        port, server = start_redis(directory, args.pin[1] if args.pin else None)
        try:
            for repeat in range(args.repeats):
                for job in args.jobs:
                    for client in rotated(args.clients, repeat):
                        try:
                            result = run_job(client, job, port, args, env)
                            m = Measurement(client, job, repeat, result, None)
                        except (OSError, RuntimeError, ValueError, subprocess.SubprocessError) as e:
                            m = Measurement(client, job, repeat, None, str(e))
                        measurements.append(m)
                        shown = f"{m.result['rate']:,.0f} ops/s" if m.result else m.error
                        print(
                            f"[{len(measurements):>3}/{total}] repeat {repeat + 1} {job:<10} "
                            f"{client:<15} {shown}",
                            file=sys.stderr,
                            flush=True,
                        )
        finally:
            server.terminate()
            server.wait(30)
    return measurements, redis_version()


# -- the report --------------------------------------------------------------------------------


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarise(
    measurements: Sequence[Measurement],
) -> dict[tuple[str, str], dict[str, list[float]]]:
    """``(job, client) -> {"rate": [...], "per_cpu": [...], "cpu_share": [...], "errors"}``."""
    table: dict[tuple[str, str], dict[str, list[Any]]] = {}
    for m in measurements:
        row = table.setdefault((m.job, m.client), {"errors": []})
        if m.result is None:
            row["errors"].append(m.error)
            continue
        for name in ("rate", "per_cpu", "cpu_share"):
            if name in m.result:
                row.setdefault(name, []).append(float(m.result[name]))
    return table


def paired(measurements: Sequence[Measurement], job: str, client: str) -> list[float]:
    """``client``'s rate over redis-py's within each repeat (the two ran back to back)."""
    rates: dict[tuple[str, int], float] = {
        (m.client, m.repeat): float(m.result["rate"])
        for m in measurements
        if m.job == job and m.result is not None
    }
    return sorted(
        rates[client, r] / rates[BASELINE, r]
        for (name, r) in rates
        if name == client and rates.get((BASELINE, r))
    )


def ratio(table: dict[tuple[str, str], Any], job: str, client: str, what: str) -> float | None:
    mine = _median(table.get((job, client), {}).get(what, []))
    base = _median(table.get((job, BASELINE), {}).get(what, []))
    return mine / base if mine is not None and base else None


def targets(table: dict[tuple[str, str], Any]) -> list[tuple[str, float, float | None, str]]:
    out = []
    for job, needed in TARGETS.items():
        r = ratio(table, job, "trapline", "rate")
        status = "not measured" if r is None else ("met" if r >= needed else "not met")
        out.append((job, needed, r, status))
    return out


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _n(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def render(raw: dict[str, Any]) -> str:
    env = raw["environment"]
    measurements = [Measurement(**m) for m in raw["measurements"]]
    table = summarise(measurements)
    pin = raw["pin"]
    lines = [
        BEGIN,
        "## trapline.kv client against redis.asyncio, on a real Redis",
        "",
        "Written by `python -m benchmarks.kv_client` (`benchmarks/kv_client.py`, "
        "`kv_client_jobs.py`); rerun it rather than editing the numbers.",
        "",
        f"- Command: `{env['command']}` (from the repository root)",
        f"- Date: {env['date']}",
        f"- Python: {env['python']} on {env['platform']}",
        f"- Machine: {env['machine']} (shared and noisy; client and server share it)",
        f"- Versions: {env['versions']}, redis-server {raw['redis_version']}, "
        f"redis-py {raw['redis_py']} (pure-Python parser: {raw['parser']})",
        f"- Load: {raw['warmup']:g} s warm-up then {raw['duration']:g} s measured per "
        f"measurement, repeats: {env['repeats']}; values of 100 bytes",
        "- CPUs: "
        + (f"client pinned to CPU {pin[0]}, redis-server to CPU {pin[1]}" if pin else "not pinned"),
        "",
        "One redis-server (no persistence) on 127.0.0.1 serves every measurement. Each client "
        "measurement is a fresh process: trapline with `trapline.kv.connect(url)` under "
        "`trapline.run`, redis-py with `redis.asyncio.Redis` under `asyncio.run` (the default "
        "event loop). Sequential: `await db.set(k, v)` then `await db.get(k)`, one at a time; "
        "it runs twice, with the client on its own CPU (as in every other job) and with the "
        "client pinned to redis-server's CPU. "
        f"Pipeline: {BATCH // 2} SETs and {BATCH // 2} GETs queued, then sent and read as one "
        "batch (`db.pipeline()` / `pipeline(transaction=False)`). Concurrent: "
        f"{TASKS} tasks each doing sequential SET/GET on one shared client whose pool holds at "
        f"most {POOL} connections (redis-py: `BlockingConnectionPool(max_connections={POOL})`). "
        "redis-benchmark runs the same patterns (`-t set,get -d 100`, sequential `-c 1 -P 1`, "
        f"pipeline `-c 1 -P {BATCH}`, concurrent `-c {POOL} -P 1`) as a reference for what the "
        "server and loopback allow. Repeats interleave the clients (the order rotates each "
        "repeat); tables show medians, the spread, and ratios of medians to redis-py's; the "
        "targets table also shows the ratio within each repeat, whose spread says how much "
        "the machine's other load moved the result. Client "
        "CPU is the client process's user + system time over the measured window "
        "(`getrusage`), as a share of one CPU; operations per client CPU-second measure the "
        "client's own cost and vary less with other load on the machine than operations/s.",
        "",
        "### Targets",
        "",
        "| target | needed | measured (ops/s) | status | per-repeat ratios (min, median, max) "
        "| per client CPU-s (not the target) |",
        "|---|---|---|---|---|---|",
    ]
    verdicts = targets(table)
    for job, needed, r, status in verdicts:
        pairs = paired(measurements, job, "trapline")
        spread = (
            f"{_x(pairs[0])}, {_x(statistics.median(pairs))}, {_x(pairs[-1])}" if pairs else "-"
        )
        lines.append(
            f"| {TARGET_TEXT[job]}: ops/s vs redis.asyncio | >= {needed:g}x | {_x(r)} | "
            f"**{status}** | {spread} | {_x(ratio(table, job, 'trapline', 'per_cpu'))} |"
        )
    lines.append("")
    for job in raw["jobs"]:
        lines += [
            f"### {JOB_TEXT[job][0]}",
            "",
            JOB_TEXT[job][1],
            "",
            "| client | ops/s (median) | min - max | ratio vs redis-py | client CPU | ops per "
            "client CPU-s | ratio (per CPU-s) |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for client in raw["clients"]:
            row = table.get((job, client), {"errors": ["not run"]})
            rates = row.get("rate", [])
            if not rates:
                errors = row["errors"]
                lines.append(f"| {LABELS[client]} | failed: {errors[0] if errors else '?'} |")
                continue
            spread = f"{min(rates):,.0f} - {max(rates):,.0f}"
            if row["errors"]:
                spread += f" ({len(row['errors'])} failed)"
            share = _median(row.get("cpu_share", []))
            cells = [
                LABELS[client],
                _n(_median(rates)),
                spread,
                _x(ratio(table, job, client, "rate")),
                "-" if share is None else f"{share:.0%}",
                _n(_median(row.get("per_cpu", []))),
                _x(ratio(table, job, client, "per_cpu")),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += _notes(table, raw["jobs"])
    summary = "; ".join(f"{job} {_x(r)} (>= {n:g}x): {status}" for job, n, r, status in verdicts)
    lines += [f"**Targets (trapline.kv client vs redis.asyncio, ops/s):** {summary}.", "", END]
    return "\n".join(lines)


def _notes(table: dict[tuple[str, str], Any], jobs: Sequence[str]) -> list[str]:
    notes = ["### Reading the numbers", ""]
    ceiling = ratio(table, "sequential", REFERENCE, "rate")
    if "sequential" in jobs and ceiling is not None:
        notes.append(
            "- Sequential, separate CPUs: every operation is a full round trip, and most of its "
            "time is not the client's (redis-server's work, the loopback, and waking a process "
            f"on another CPU). redis-benchmark, a C client whose own cost is small, reached "
            f"{ceiling:.2f}x redis-py's rate there in this run: about what the round trip "
            "leaves to win, so a Python client's rate ratio above it is noise in its favour, "
            "and operations per client CPU-second show the client's own cost better. With "
            "the client on the server's CPU the round trip is mostly CPU time, the client's "
            "included, and its cost shows in the rate."
        )
    notes += [
        "- What the trapline client does per command: take an idle pooled connection without "
        "a checkpoint (a `CapacityLimiter` token, `acquire_on_behalf_of_nowait`), encode the "
        "command straight into one buffer, one `write(2)` on the socket, then park in "
        "`wait_readable` until the reply is there and `read(2)` it: one pass of the run loop "
        "per command. The first version went through the stream's `send_all` and `recv` and "
        "the limiter's `acquire`, each a checkpoint: three passes of the run loop (and three "
        "epoll polls) per command.",
        "- Pipelines encode every command into one buffer and parse the replies from one "
        "read; redis-py packs and parses each command with more Python code per command.",
        "",
    ]
    return notes


def write_section(path: Path, section: str) -> None:
    """Replace the kv-client section of ``path`` (or append it), leaving the rest as it is."""
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


# -- command line ------------------------------------------------------------------------------


def _names(allowed: Sequence[str]) -> Any:
    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(allowed)}")
        return [name for name in allowed if name in names]

    return parse


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kv_client", description=__doc__)
    parser.add_argument("--repeats", type=int, default=None, help="default 5 (quick: 1)")
    parser.add_argument("--duration", type=float, default=None, help="seconds (default 2)")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds (default 0.5)")
    parser.add_argument("--jobs", type=_names(ALL_JOBS), default=list(ALL_JOBS))
    clients = (*CLIENTS, REFERENCE)
    parser.add_argument("--clients", type=_names(clients), default=list(clients))
    parser.add_argument("--no-pin", action="store_true", help="do not pin client and server")
    parser.add_argument("--quick", action="store_true", help="1 repeat of 1 s; prints it")
    parser.add_argument("-o", "--output", default=None, help="default docs/benchmarks.md")
    parser.add_argument("--json", default=None, help="also write the raw measurements here")
    parser.add_argument("--from-json", default=None, metavar="FILE", help="render FILE only")
    parser.add_argument(
        "--trapline-rev",
        default=None,
        metavar="REV",
        help="run trapline's src/ as committed at git REV instead of the working tree",
    )
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 5
    if args.duration is None:
        args.duration = 1.0 if args.quick else 2.0
    if args.output is None:
        args.output = "-" if args.quick else str(DEFAULT_OUTPUT)
    args.pin = None if args.no_pin else pin_cpus()
    if args.pin is None and SHARED in args.jobs:
        args.jobs.remove(SHARED)  # without pinning it is the sequential job again
    for tool in ("redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed (apt-get install redis-server redis-tools)")
    return args


def _redis_py() -> tuple[str, str]:
    try:
        version = importlib.metadata.version("redis")
    except importlib.metadata.PackageNotFoundError:
        return "not installed", "-"
    try:
        importlib.metadata.version("hiredis")
    except importlib.metadata.PackageNotFoundError:
        return version, "yes, hiredis is not installed"
    return version, "no, hiredis is installed"


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    args = parse_args(argv)
    if args.from_json:
        raw = json.loads(Path(args.from_json).read_text())
    else:
        with tempfile.TemporaryDirectory(prefix="trapline-src-") as tmp:
            env, source = trapline_at(args.trapline_rev, Path(tmp))
            t0 = time.perf_counter()
            measurements, version = measure_all(args, env)
        print(f"total {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        files = {m.result.get("trapline_file") for m in measurements if m.result}
        for path in sorted(filter(None, files)):
            print(f"trapline was imported from {path}", file=sys.stderr)
        redis_py, parser = _redis_py()
        shown = shlex.join([os.path.relpath(sys.executable), "-m", "benchmarks.kv_client", *argv])
        raw = {
            "environment": environment(shown, args.repeats, args.quick, source),
            "redis_version": version,
            "redis_py": redis_py,
            "parser": parser,
            "pin": args.pin,
            "duration": args.duration,
            "warmup": args.warmup,
            "jobs": args.jobs,
            "clients": args.clients,
            "measurements": [dataclasses.asdict(m) for m in measurements],
        }
        if args.json:
            Path(args.json).write_text(json.dumps(raw, indent=1) + "\n")
    section = render(raw)
    if args.output == "-":
        print(section)
    else:
        write_section(Path(args.output), section)
        print(f"wrote {os.path.relpath(args.output)}", file=sys.stderr)
    for job, needed, r, status in targets(
        summarise([Measurement(**m) for m in raw["measurements"]])
    ):
        print(
            f"target: {job} trapline vs redis.asyncio {_x(r)} (>= {needed:g}x) {status}",
            file=sys.stderr,
        )
    return 1 if any(m["result"] is None for m in raw["measurements"]) else 0


if __name__ == "__main__":
    sys.exit(main())
