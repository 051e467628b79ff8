"""``python -m benchmarks.kv``: redis-benchmark against trapline.kv and a real redis-server.

Both servers run on free loopback ports in the same run; each redis-benchmark run alternates
between them (so machine noise hits both alike), unpipelined (``-P 1``) and pipelined
(``-P 16``). Writes the "trapline.kv" section of ``docs/benchmarks.md`` (between markers, so the
other suites' sections are kept) with requests/second and the ratio to Redis.

    .venv/bin/python -m benchmarks.kv                 # -n 200000 -c 50, 3 repeats
    .venv/bin/python -m benchmarks.kv --requests 50000 --repeats 1 --output -
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def start_servers(directory: str) -> dict[str, tuple[int, subprocess.Popen[bytes]]]:
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
    )
    servers["redis"] = (port, redis)
    port = free_port()
    kv = subprocess.Popen(
        [sys.executable, "-m", "trapline", "kv", "serve", "--port", str(port), "--dir", directory],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    servers["trapline.kv"] = (port, kv)
    for port, process in servers.values():
        wait_for(port, process)
    return servers


def run_benchmark(port: int, requests: int, clients: int, pipeline: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "redis-benchmark",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-t",
            TESTS,
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
    ).stdout
    result = {}
    for row in csv.reader(io.StringIO(out)):
        if row and row[0] != "test":
            result[row[0]] = float(row[1])
    return result


def render(results: dict[int, dict[str, dict[str, float]]], command: str) -> str:
    lines = [
        BEGIN,
        "## trapline.kv against Redis (redis-benchmark)",
        "",
        f"Command: `{command}` (redis-server {redis_version()} and trapline.kv on loopback, the "
        "same machine, the same run; medians of the repeats; higher is better).",
        "",
    ]
    verdicts = []
    for pipeline, by_test in results.items():
        lines += [
            f"### -P {pipeline}",
            "",
            "| test | redis rps | trapline.kv rps | ratio |",
            "|---|---:|---:|---:|",
        ]
        ratios = []
        for test, servers in by_test.items():
            redis, kv = servers["redis"], servers["trapline.kv"]
            ratio = kv / redis if redis else 0.0
            ratios.append(ratio)
            lines.append(f"| {test} | {redis:,.0f} | {kv:,.0f} | {ratio:.2f}x |")
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
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args(argv)
    for tool in ("redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed (apt-get install redis-server redis-tools)")
    command = (
        f"redis-benchmark -t {TESTS} -n {args.requests} -c {args.clients} -P 1|16 "
        f"(via python -m benchmarks.kv --requests {args.requests} --repeats {args.repeats})"
    )
    samples: dict[int, dict[str, dict[str, list[float]]]] = {}
    with tempfile.TemporaryDirectory() as directory:
        servers = start_servers(directory)
        try:
            for repeat in range(args.repeats):
                order = list(servers) if repeat % 2 == 0 else list(reversed(servers))
                for pipeline in TARGETS:
                    for name in order:
                        port = servers[name][0]
                        rates = run_benchmark(port, args.requests, args.clients, pipeline)
                        for test, rate in rates.items():
                            samples.setdefault(pipeline, {}).setdefault(test, {}).setdefault(
                                name, []
                            ).append(rate)
                        print(f"repeat {repeat + 1} -P {pipeline} {name}: {rates}", flush=True)
        finally:
            for _port, process in servers.values():
                process.send_signal(signal.SIGTERM)
                process.wait(30)
    results = {
        pipeline: {
            test: {name: statistics.median(values) for name, values in by_server.items()}
            for test, by_server in by_test.items()
        }
        for pipeline, by_test in samples.items()
    }
    section = render(results, command)
    if args.output == "-":
        print(section)
    else:
        write_section(Path(args.output), section)
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
