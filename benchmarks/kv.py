"""``python -m benchmarks.kv``: redis-benchmark against trapline.kv and a real redis-server.

Both servers run on free loopback ports in the same run; each redis-benchmark run alternates
between them (so machine noise hits both alike), unpipelined (``-P 1``) and pipelined
(``-P 16``). With two or more CPUs the servers run on the last one and redis-benchmark on the
first (``--no-pin`` leaves placement to the kernel). Writes the "trapline.kv" section of
``docs/benchmarks.md`` (between markers, so the other suites' sections are kept) with
requests/second, the ratio to Redis, and each server's CPU time per request (less sensitive to
other load on the machine than the rate).

    .venv/bin/python -m benchmarks.kv                 # -n 200000 -c 50, 3 repeats
    .venv/bin/python -m benchmarks.kv --trapline-rev HEAD   # trapline.kv's src/ as committed
    .venv/bin/python -m benchmarks.kv --requests 50000 --repeats 1 --output -
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .source import trapline_at

ROOT = Path(__file__).resolve().parent.parent
TESTS = "ping,set,get,incr,lpush,lpop,sadd,hset,zadd,mset"
BEGIN, END = "<!-- kv:begin -->", "<!-- kv:end -->"
TARGETS = {1: 0.5, 16: 0.25}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


def pinned(cpu: int | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that runs the child on ``cpu`` only (None: anywhere)."""
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a running process, from /proc (0.0 where unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_servers(
    directory: str, cpu: int | None, env: dict[str, str] | None = None
) -> dict[str, tuple[int, subprocess.Popen[bytes]]]:
    servers = {}
    port = free_port()
    redis = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            directory,
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        preexec_fn=pinned(cpu),
    )
    servers["redis"] = (port, redis)
    port = free_port()
    kv = subprocess.Popen(
        # No save points, as redis-server above (the command line's default has them).
        [
            sys.executable,
            "-m",
            "trapline",
            "kv",
            "serve",
            "--port",
            str(port),
            "--dir",
            directory,
            "--save",
            "",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=pinned(cpu),
        env=env,
    )
    servers["trapline.kv"] = (port, kv)
    for port, process in servers.values():
        wait_for(port, process)
    return servers


def run_benchmark(
    port: int, tests: str, requests: int, clients: int, pipeline: int, cpu: int | None
) -> dict[str, float]:
    out = subprocess.run(
        [
            "redis-benchmark",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-t",
            tests,
            "-n",
            str(requests),
            "-c",
            str(clients),
            "-P",
            str(pipeline),
            "--csv",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
        preexec_fn=pinned(cpu),
    ).stdout
    result = {}
    for row in csv.reader(io.StringIO(out)):
        if row and row[0] != "test":
            result[row[0]] = float(row[1])
    return result


#: Per pipeline depth, test and server: (requests/s, server CPU microseconds per request).
Results = dict[int, dict[str, dict[str, tuple[float, float]]]]


def render(results: Results, command: str, placement: str) -> str:
    lines = [
        BEGIN,
        "## trapline.kv against Redis (redis-benchmark)",
        "",
        f"Command: `{command}` (redis-server {redis_version()} and trapline.kv on loopback, the "
        f"same machine, the same run, one redis-benchmark run per test, alternating between the "
        f"servers; {placement}; medians of the repeats; higher rps is better). CPU is the "
        "server's user+system time per request over its run (less sensitive to other load on "
        "the machine than the rate; lower is better).",
        "",
        "How trapline.kv serves a pipeline: each read (up to 64 KiB) is parsed in one pass "
        "(split on CRLF, canonical headers checked by table lookups in C, column by column "
        "when the commands have one shape), the commands run back to back with the dispatch "
        "checks hoisted out of the loop, and all their replies go out in one send. A client "
        "gets one read per turn, so a deep pipeline does not starve the others; with "
        "`appendfsync always` the log is written and fsynced before that send.",
        "",
    ]
    verdicts = []
    for pipeline, by_test in results.items():
        lines += [
            f"### -P {pipeline}",
            "",
            "| test | redis rps | trapline.kv rps | ratio | redis CPU µs/req "
            "| trapline.kv CPU µs/req |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        ratios = []
        for test, servers in by_test.items():
            (redis, redis_cpu), (kv, kv_cpu) = servers["redis"], servers["trapline.kv"]
            ratio = kv / redis if redis else 0.0
            ratios.append(ratio)
            lines.append(
                f"| {test} | {redis:,.0f} | {kv:,.0f} | {ratio:.2f}x "
                f"| {redis_cpu:.2f} | {kv_cpu:.2f} |"
            )
        worst = min(ratios)
        target = TARGETS[pipeline]
        verdicts.append(
            f"-P {pipeline}: lowest ratio {worst:.2f}x, target at least {target}x: "
            f"{'met' if worst >= target else 'not met'}"
        )
        lines.append("")
    lines += ["**Targets:** " + "; ".join(verdicts) + ".", "", END]
    return "\n".join(lines)


def redis_version() -> str:
    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
    for part in out.split():
        if part.startswith("v="):
            return part[2:]
    return "?"


def write_section(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kv", description=__doc__)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tests", default=TESTS, help="redis-benchmark -t names, comma-separated")
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin the servers and the client to CPUs"
    )
    parser.add_argument(
        "--trapline-rev",
        default=None,
        metavar="REV",
        help="run trapline.kv from src/ as committed at git REV instead of the working tree",
    )
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args(argv)
    for tool in ("redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed (apt-get install redis-server redis-tools)")
    cpus = sorted(os.sched_getaffinity(0))
    if args.no_pin or len(cpus) < 2:
        server_cpu = client_cpu = None
        placement = "placement left to the kernel"
    else:
        server_cpu, client_cpu = cpus[-1], cpus[0]
        placement = f"each server pinned to CPU {server_cpu}, redis-benchmark to CPU {client_cpu}"
    options = f"--requests {args.requests} --repeats {args.repeats}"
    if args.no_pin:
        options += " --no-pin"
    if args.trapline_rev is not None:
        options += f" --trapline-rev {args.trapline_rev}"
    command = (
        f"redis-benchmark -t {args.tests} -n {args.requests} -c {args.clients} -P 1|16 "
        f"(via python -m benchmarks.kv {options})"
    )
    # Per pipeline depth, test and server: the rates and CPU costs of the repeats.
    samples: dict[int, dict[str, dict[str, list[tuple[float, float]]]]] = {}
    with tempfile.TemporaryDirectory() as directory:
        env, exported = trapline_at(args.trapline_rev, Path(directory) / "export")
        source = exported or "the working tree"
        servers = start_servers(directory, server_cpu, env)
        try:
            for repeat in range(args.repeats):
                order = list(servers) if repeat % 2 == 0 else list(reversed(servers))
                for pipeline in TARGETS:
                    for tests in args.tests.split(","):
                        for name in order:
                            port, process = servers[name]
                            before = cpu_seconds(process.pid)
                            rates = run_benchmark(
                                port, tests, args.requests, args.clients, pipeline, client_cpu
                            )
                            used = cpu_seconds(process.pid) - before
                            per_request = used * 1e6 / (args.requests * max(1, len(rates)))
                            for test, rate in rates.items():
                                samples.setdefault(pipeline, {}).setdefault(test, {}).setdefault(
                                    name, []
                                ).append((rate, per_request))
                            print(
                                f"repeat {repeat + 1} -P {pipeline} {name}: {rates} "
                                f"({per_request:.2f} CPU us/request)",
                                flush=True,
                            )
        finally:
            for _port, process in servers.values():
                process.send_signal(signal.SIGTERM)
                process.wait(30)
    results: Results = {
        pipeline: {
            test: {
                name: (
                    statistics.median(rate for rate, _ in values),
                    statistics.median(cpu for _, cpu in values),
                )
                for name, values in by_server.items()
            }
            for test, by_server in by_test.items()
        }
        for pipeline, by_test in samples.items()
    }
    section = render(results, command, f"{placement}; trapline.kv from {source}")
    if args.output == "-":
        print(section)
    else:
        write_section(Path(args.output), section)
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
