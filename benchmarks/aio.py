"""``python -m benchmarks.aio``: asyncio servers on asyncio's loop, uvloop and ``trapline.aio``.

The same asyncio code on three event loops, as an asyncio user would switch them with
``asyncio.Runner(loop_factory=...)``: asyncio's default loop, uvloop, and trapline's asyncio loop
(``trapline.aio.loop_factory``). Three jobs:

* TCP echo with asyncio streams (``start_server``, ``read``/``write``/``drain``) and with a
  ``Protocol`` (``data_received`` calls ``transport.write``), 1 KiB and 64 KiB ping-pong on 10
  connections, driven by the echo benchmark's C load generator (``benchmarks/echo_client.c``);
  the same servers as ``benchmarks.echo`` (``benchmarks/echo_server.py``);
* HTTP: an aiohttp application answering ``GET /`` with ``Hello, World!``
  (``benchmarks/http_server.py``), driven by ``wrk`` (HTTP/1.1 keep-alive, one thread, 10
  connections; Debian package ``wrk``).

Every server runs in a fresh process; servers are interleaved within each repeat and their order
rotates. Tables show medians and ratios to asyncio's default loop in the same run. Writes its
section of ``docs/benchmarks.md`` (between ``<!-- aio:begin -->`` and ``<!-- aio:end -->``).

    .venv/bin/python -m benchmarks.aio                 # 5 repeats x 3 s, writes the report
    .venv/bin/python -m benchmarks.aio --quick         # 1 repeat x 1 s, prints the section
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import re
import resource
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

from . import echo, http_server
from .report import environment
from .source import trapline_at

BEGIN, END = "<!-- aio:begin -->", "<!-- aio:end -->"
LOOPS = ("asyncio", "uvloop", "trapline")
LOOP_LABELS = {
    "asyncio": "asyncio (default loop)",
    "uvloop": "uvloop",
    "trapline": "trapline.aio",
}
BASELINE = "asyncio"
SIZES = (1024, 65536)

#: job -> loop -> server name (echo jobs: ``benchmarks.echo_server``; http: ``http_server``)
ECHO_JOBS = {
    "streams": {
        "asyncio": "asyncio-streams",
        "uvloop": "uvloop-streams",
        "trapline": "trapline-aio-streams",
    },
    "protocols": {
        "asyncio": "asyncio-protocols",
        "uvloop": "uvloop-protocols",
        "trapline": "trapline-aio-protocols",
    },
}
HTTP_SERVERS = {
    "asyncio": "aiohttp-asyncio",
    "uvloop": "aiohttp-uvloop",
    "trapline": "aiohttp-trapline",
}
ECHO_LABELS = {"streams": "asyncio streams", "protocols": "asyncio protocols"}


@dataclass(frozen=True)
class Case:
    """One job for one loop. ``api`` is ``streams``/``protocols`` (echo) or ``http``."""

    api: str
    size: int  # echo message size; 0 for http
    loop: str

    @property
    def key(self) -> str:
        return f"http-{self.loop}" if self.api == "http" else f"{self.api}-{self.size}-{self.loop}"

    @property
    def label(self) -> str:
        if self.api == "http":
            return f"aiohttp HTTP, {LOOP_LABELS[self.loop]}"
        size = echo._size_text(self.size)
        return f"echo {size} {ECHO_LABELS[self.api]}, {LOOP_LABELS[self.loop]}"


@dataclass
class Measurement:
    case: Case
    repeat: int
    result: dict[str, Any] | None
    error: str | None
    wall_seconds: float


# -- HTTP with wrk ------------------------------------------------------------------------------

WRK_THREADS = 1


def _proc_cpu(pid: int) -> float:
    """utime + stime of ``pid`` in seconds (all its threads), from ``/proc/PID/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(wrk: str, port: int, seconds: float, load: echo.Load) -> dict[str, Any]:
    """Run ``wrk`` against ``port`` for whole ``seconds``; parse what it prints."""
    argv = [wrk, f"-t{WRK_THREADS}", f"-c{load.connections}", f"-d{max(1, round(seconds))}s"]
    argv += [f"http://{http_server.HOST}:{port}/"]
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        preexec_fn=echo._pinned(load.pin[0] if load.pin else None),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
    out = proc.stdout
    found = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if found is None:
        raise RuntimeError(f"unexpected wrk output: {out[-300:]}")
    elapsed = float(found.group(2)) / (1000 if found.group(3) == "ms" else 1)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "requests": int(found.group(1)),
        "seconds": elapsed,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1).strip() if errors else "",
    }


def measure_http(server: str, wrk: str, load: echo.Load, env: dict[str, str] | None) -> Any:
    proc = echo.Server(
        server, Path(), env, load.pin[1] if load.pin else None, "benchmarks.http_server"
    )
    try:
        run_wrk(wrk, proc.port, load.warmup, load)  # warm-up (wrk's least: 1 s)
        cpu0, client0 = _proc_cpu(proc.proc.pid), _children_cpu()
        r = run_wrk(wrk, proc.port, load.duration, load)
        cpu1, client1 = _proc_cpu(proc.proc.pid), _children_cpu()
        alive = proc.proc.poll() is None
    finally:
        proc.stop()
    if not alive:
        raise RuntimeError(f"server died: {proc.errors()[-300:]}")
    if r["non_2xx"] or r["socket_errors"]:
        raise RuntimeError(f"{r['non_2xx']} non-2xx answers, socket errors: {r['socket_errors']}")
    return {
        "operations": r["requests"],
        "seconds": r["seconds"],
        "rate": r["requests"] / r["seconds"],
        # Both CPU readings span wrk's whole run, a little longer than its measured window.
        "server_cpu_seconds": cpu1 - cpu0,
        "client_cpu_seconds": client1 - client0,
    }


# -- measuring ---------------------------------------------------------------------------------


def measure(case: Case, repeat: int, tools: dict[str, Path], load: echo.Load, env: Any) -> Any:
    t0 = time.perf_counter()
    try:
        if case.api == "http":
            result = measure_http(HTTP_SERVERS[case.loop], str(tools["wrk"]), load, env)
        else:
            m = echo.measure(
                ECHO_JOBS[case.api][case.loop], case.size, repeat, tools["client"], load, env
            )
            if m.result is None:
                raise RuntimeError(m.error)
            r = m.result
            result = {
                "operations": r["round_trips"],
                "seconds": r["seconds"],
                "rate": r["round_trips_per_second"],
                "server_cpu_seconds": r["server_cpu_seconds"],
                "client_cpu_seconds": r["client_cpu_seconds"],
            }
    except (OSError, RuntimeError, ValueError, subprocess.SubprocessError) as error:
        return Measurement(case, repeat, None, str(error), time.perf_counter() - t0)
    return Measurement(case, repeat, result, None, time.perf_counter() - t0)


def plan(apis: Sequence[str], sizes: Sequence[int], loops: Sequence[str]) -> list[list[Case]]:
    """Groups of cases whose loops are compared (interleaved and rotated together)."""
    groups = [
        [Case(api, size, loop) for loop in loops] for api in apis if api != "http" for size in sizes
    ]
    if "http" in apis:
        groups.append([Case("http", 0, loop) for loop in loops])
    return groups


def run_all(
    groups: list[list[Case]], repeats: int, tools: dict[str, Path], load: echo.Load, env: Any
) -> list[Measurement]:
    total = repeats * sum(len(group) for group in groups)
    done: list[Measurement] = []
    for repeat in range(repeats):
        for group in groups:
            k = repeat % len(group)
            for case in [*group[k:], *group[:k]]:
                m = measure(case, repeat, tools, load, env)
                done.append(m)
                if m.result is None:
                    text = f"FAILED: {m.error}"
                else:
                    r = m.result
                    server_cpu = r["server_cpu_seconds"] / r["seconds"]
                    client_cpu = r["client_cpu_seconds"] / r["seconds"]
                    text = (
                        f"{r['rate']:>9,.0f}/s  server CPU {server_cpu:4.0%}  "
                        f"client CPU {client_cpu:4.0%}"
                    )
                print(
                    f"[{len(done):>3}/{total}] repeat {repeat + 1} {case.label:<52} {text}"
                    f"  ({m.wall_seconds:.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    return done


# -- summary and report ------------------------------------------------------------------------


@dataclass
class Summary:
    rates: list[float]
    server_cpu: list[float]  # share of one CPU over the measured window
    client_cpu: list[float]
    per_cpu: list[float]  # operations per server CPU-second
    errors: list[str]


def _med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarise(measurements: Sequence[Measurement]) -> dict[str, Summary]:
    table: dict[str, Summary] = {}
    for m in measurements:
        s = table.setdefault(m.case.key, Summary([], [], [], [], []))
        if m.result is None:
            s.errors.append(m.error or "failed")
            continue
        r = m.result
        s.rates.append(r["rate"])
        s.client_cpu.append(r["client_cpu_seconds"] / r["seconds"])
        if r["server_cpu_seconds"] > 0:
            s.server_cpu.append(r["server_cpu_seconds"] / r["seconds"])
            s.per_cpu.append(r["operations"] / r["server_cpu_seconds"])
    return table


def ratio(table: dict[str, Summary], case: Case, base: str = BASELINE, cpu: bool = False) -> Any:
    mine = table.get(case.key)
    other = table.get(dataclasses.replace(case, loop=base).key)
    if mine is None or other is None:
        return None
    a = _med(mine.per_cpu if cpu else mine.rates)
    b = _med(other.per_cpu if cpu else other.rates)
    return None if a is None or not b else a / b


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _table(table: dict[str, Summary], cases: Sequence[Case], unit: str, client: str) -> list[str]:
    lines = [
        f"| server | {unit}/s (median) | min - max | ratio vs asyncio's loop | server CPU | "
        f"{client} CPU | {unit} per server CPU-s | ratio (per CPU-s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in cases:
        s = table.get(case.key)
        name = LOOP_LABELS[case.loop]
        if s is None or not s.rates:
            why = s.errors[0] if s and s.errors else "not measured"
            lines.append(f"| {name} | failed: {why} |" + " - |" * 6)
            continue
        spread = f"{min(s.rates):,.0f} - {max(s.rates):,.0f}"
        if s.errors:
            spread += f" ({len(s.errors)} failed)"
        cells = [
            name,
            _count(_med(s.rates)),
            spread,
            _x(ratio(table, case)),
            _pct(_med(s.server_cpu)),
            _pct(_med(s.client_cpu)),
            _count(_med(s.per_cpu)),
            _x(ratio(table, case, cpu=True)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def render(
    env_info: dict[str, str], table: dict[str, Summary], groups: list[list[Case]], load: echo.Load
) -> str:
    lines = [
        BEGIN,
        "## asyncio servers on three event loops",
        "",
        "Written by `python -m benchmarks.aio` (`benchmarks/aio.py`, `echo_server.py`, "
        "`http_server.py`, `echo_client.c`); rerun it rather than editing the numbers.",
        "",
        f"- Command: `{env_info['command']}` (from the repository root)",
        f"- Date: {env_info['date']}",
        f"- Python: {env_info['python']} on {env_info['platform']}",
        f"- Machine: {env_info['machine']} (shared and noisy; client and server share it)",
        f"- Versions: {env_info['versions']}",
        f"- Load: {load.connections} connections, {load.duration:g} s measured after a warm-up, "
        f"repeats: {env_info['repeats']}",
        "- CPUs: "
        + (
            f"load generator pinned to CPU {load.pin[0]}, server to CPU {load.pin[1]}"
            if load.pin
            else "not pinned"
        ),
        "",
        "The same asyncio code on three event loops, chosen with `asyncio.Runner(loop_factory="
        "...)`: asyncio's default loop, `uvloop.new_event_loop` and `trapline.aio.loop_factory`. "
        "Echo: the echo benchmark's servers (asyncio streams: `start_server` + `reader.read"
        "(65536)` / `writer.write` + `await writer.drain()`; protocols: `data_received` calls "
        "`transport.write`), driven by its C epoll load generator, ping-pong (one message in "
        "flight per connection). HTTP: an aiohttp application whose `GET /` answers `Hello, "
        "World!` (`text/plain`, no access log), driven by `wrk` (Debian package; HTTP/1.1 "
        "keep-alive, "
        f"{WRK_THREADS} thread, {load.connections} connections; its warm-up is its least, "
        "1 s). Each server runs in a fresh process; servers are interleaved (the order rotates "
        "each repeat); tables show medians, the spread, and ratios of medians to asyncio's "
        "default loop in this same run. CPU columns are shares of one CPU over the measured "
        "window; operations per server CPU-second is less sensitive to other load on the "
        "machine than the rate.",
        "",
    ]
    for group in groups:
        first = group[0]
        if first.api == "http":
            lines += ["### HTTP", ""]
            lines += _table(table, group, "requests", "wrk")
        else:
            size = echo._size_text(first.size)
            lines += [f"### Echo {size}, {first.api}", ""]
            lines += _table(table, group, "round trips", "client")
    shares = [c for s in table.values() if (c := _med(s.server_cpu)) is not None]
    lines += echo.starved_note(shares)
    lines += _summary(table, groups)
    return "\n".join([*lines, "", END])


def _summary(table: dict[str, Summary], groups: list[list[Case]]) -> list[str]:
    parts = []
    for group in groups:
        for case in group:
            if case.loop != "trapline":
                continue
            what = (
                "HTTP"
                if case.api == "http"
                else f"echo {ECHO_LABELS[case.api]} {echo._size_text(case.size)}"
            )
            uvloop = ratio(table, dataclasses.replace(case, loop="uvloop"))
            vs_uv = ratio(table, case, base="uvloop")
            parts.append(
                f"{what} {_x(ratio(table, case))} (uvloop {_x(uvloop)}; "
                f"trapline.aio / uvloop {_x(vs_uv)})"
            )
    return ["**trapline.aio vs asyncio's default loop:** " + "; ".join(parts) + "."]


# -- command line ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.aio",
        description="asyncio echo and aiohttp servers on asyncio's loop, uvloop and trapline.aio.",
    )
    parser.add_argument("--repeats", type=int, default=None, help="default 5 (quick: 1)")
    parser.add_argument("--duration", type=float, default=None, help="seconds (default 3)")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds (default 0.5)")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--no-pin", action="store_true", help="do not pin client and server")
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(size) for size in text.split(",")],
        default=list(SIZES),
        help="echo message sizes in bytes (default 1024,65536)",
    )
    parser.add_argument(
        "--jobs",
        type=lambda text: [job.strip() for job in text.split(",")],
        default=["streams", "protocols", "http"],
        help="comma-separated subset of streams,protocols,http",
    )
    parser.add_argument("--loops", type=lambda text: text.split(","), default=list(LOOPS))
    parser.add_argument("--quick", action="store_true", help="1 repeat of 1 s; prints the section")
    parser.add_argument(
        "-o", "--output", default=None, help="default docs/benchmarks.md ('-': stdout)"
    )
    parser.add_argument("--json", default=None, help="also write every raw measurement here")
    parser.add_argument("--from-json", default=None, metavar="FILE", help="render from --json")
    parser.add_argument(
        "--trapline-rev", default=None, metavar="REV", help="src/ as committed at REV"
    )
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 5
    if args.duration is None:
        args.duration = 1.0 if args.quick else 3.0
    if args.output is None:
        args.output = "-" if args.quick else str(echo.DEFAULT_OUTPUT)
    unknown = [j for j in args.jobs if j not in ("streams", "protocols", "http")]
    unknown += [loop for loop in args.loops if loop not in LOOPS]
    if unknown or BASELINE not in args.loops:
        parser.error(f"unknown jobs or loops: {unknown} (asyncio's loop is the baseline)")
    return args


def _available(loop: str) -> bool:
    needed = {"asyncio": [], "uvloop": ["uvloop"], "trapline": ["trapline"]}[loop]
    return all(importlib.util.find_spec(name) is not None for name in needed)


def measure_all(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    loops = [loop for loop in args.loops if _available(loop)]
    apis = list(args.jobs)
    tools: dict[str, Path] = {}
    if "http" in apis:
        wrk = shutil.which("wrk")
        if wrk is None or importlib.util.find_spec("aiohttp") is None:
            print("skipping http: needs wrk (apt-get install wrk) and aiohttp", file=sys.stderr)
            apis.remove("http")
        else:
            tools["wrk"] = Path(wrk)
    tools["client"] = echo.compile_client()
    groups = plan(apis, args.sizes, loops)
    load = echo.Load(
        args.connections, args.duration, args.warmup, None if args.no_pin else echo.pin_cpus()
    )
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="trapline-aio-") as tmp:
        env, source = trapline_at(args.trapline_rev, Path(tmp))
        measurements = run_all(groups, args.repeats, tools, load, env)
    print(f"total {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    info = environment(
        echo._command(argv).replace("benchmarks.echo", "benchmarks.aio"),
        args.repeats,
        args.quick,
        source,
    )
    info["versions"] += f", aiohttp {_version('aiohttp')}, {_wrk_version(tools.get('wrk'))}"
    return {
        "environment": info,
        "load": dataclasses.asdict(load),
        "groups": [[dataclasses.asdict(case) for case in group] for group in groups],
        "measurements": [dataclasses.asdict(m) for m in measurements],
    }


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _wrk_version(wrk: Path | None) -> str:
    if wrk is None:
        return "wrk not used"
    out = subprocess.run([str(wrk), "-v"], capture_output=True, text=True).stdout
    found = re.search(r"wrk (\S+)", out)
    return f"wrk {found.group(1) if found else 'unknown'}"


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    args = parse_args(argv)
    if args.from_json:
        raw = json.loads(Path(args.from_json).read_text())
    else:
        raw = measure_all(args, argv)
        if args.json:
            Path(args.json).write_text(json.dumps(raw, indent=1) + "\n")
    load = echo.Load(**{k: tuple(v) if k == "pin" and v else v for k, v in raw["load"].items()})
    groups = [[Case(**case) for case in group] for group in raw["groups"]]
    measurements = [Measurement(**(m | {"case": Case(**m["case"])})) for m in raw["measurements"]]
    table = summarise(measurements)
    section = render(raw["environment"], table, groups, load)
    if args.output == "-":
        print(section)
    else:
        echo.write_section(Path(args.output), section, BEGIN, END)
        print(f"wrote {os.path.relpath(args.output)}", file=sys.stderr)
    print(_summary(table, groups)[0], file=sys.stderr)
    return 1 if any(m.result is None for m in measurements) else 0


if __name__ == "__main__":
    sys.exit(main())
