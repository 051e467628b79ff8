"""``python -m benchmarks.echo``: TCP echo over loopback, trapline against asyncio, uvloop, trio.

Every server (``benchmarks/echo_server.py``) runs in its own fresh process on a free
127.0.0.1 port. One load generator drives them all: ``benchmarks/echo_client.c``, compiled here
with ``gcc -O2`` (into a cache directory, keyed by the source's hash), one epoll thread, N
connections, each sending a message, waiting until the whole echo is back and repeating. After a
warm-up, it counts round trips for a fixed duration and reports its own and the server's CPU
time over that window. A plain C epoll echo server ("C epoll (reference)") shows what the client
can drive, so it is visibly not the bottleneck.

Servers are interleaved: within a repeat, each message size runs on every server back to back,
and the servers' order rotates each repeat. Tables show medians and the ratio to asyncio streams
from the same run. Writes the echo section of ``docs/benchmarks.md`` (between ``<!-- echo:begin
-->`` and ``<!-- echo:end -->``; the kernel suite keeps it when it rewrites the file).

    .venv/bin/python -m benchmarks.echo                    # 5 repeats x 3 s, writes the report
    .venv/bin/python -m benchmarks.echo --quick            # 1 repeat x 1 s, prints the section
    .venv/bin/python -m benchmarks.echo --servers trapline-streams,asyncio-streams --output -
    .venv/bin/python -m benchmarks.echo --trapline-rev HEAD   # src/ as committed, not the tree
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.util
import json
import os
import selectors
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .echo_server import REQUIRES, SERVERS
from .report import environment
from .runner import ROOT, rotated
from .source import trapline_at

BEGIN, END = "<!-- echo:begin -->", "<!-- echo:end -->"
CLIENT_SOURCE = Path(__file__).resolve().parent / "echo_client.c"
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"

BASELINE = "asyncio-streams"
REFERENCE = "c-epoll"
LABELS = {
    "trapline-streams": "trapline streams",
    "asyncio-streams": "asyncio streams",
    "asyncio-protocols": "asyncio protocols",
    "uvloop-streams": "uvloop streams",
    "uvloop-protocols": "uvloop protocols",
    "trio-streams": "trio streams",
    "trapline-aio-streams": "asyncio streams on trapline.aio",
    "trapline-aio-protocols": "asyncio protocols on trapline.aio",
    REFERENCE: "C epoll (reference)",
}
#: What this suite runs by default (the networking issue's list; ``benchmarks.aio`` runs the
#: asyncio servers on trapline's asyncio loop).
DEFAULT_SERVERS = [
    "trapline-streams",
    "asyncio-streams",
    "asyncio-protocols",
    "uvloop-streams",
    "uvloop-protocols",
    "trio-streams",
    REFERENCE,
]
SIZES = (1024, 65536)

#: trapline streams' round trips/s over asyncio streams', per message size (the networking
#: issue's targets), and what uvloop protocols reach there, as the issue quotes it.
TARGETS = {1024: 1.35, 65536: 1.8}
UVLOOP_QUOTED = {1024: "about 1.8x", 65536: "about 2x"}

SERVER_START_TIMEOUT = 30.0
TRAPLINE = "trapline-streams"
#: A median client CPU share from which the client may be what limits a server's rate.
CLIENT_BUSY = 0.85


def _size_text(size: int) -> str:
    return f"{size // 1024} KiB" if size % 1024 == 0 else f"{size} B"


# -- the client --------------------------------------------------------------------------------


def compile_client() -> Path:
    """Compile ``echo_client.c`` with ``gcc -O2`` unless a build of this exact source exists."""
    source = CLIENT_SOURCE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "trapline-bench"
    binary = cache / f"echo_client-{digest}"
    if binary.exists():
        return binary
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f".echo_client-{digest}-{os.getpid()}"
    subprocess.run(
        ["gcc", "-O2", "-Wall", "-Wextra", "-o", str(partial), str(CLIENT_SOURCE)], check=True
    )
    partial.replace(binary)
    return binary


@dataclass(frozen=True)
class Load:
    connections: int
    duration: float
    warmup: float
    #: (client CPU, server CPU) to pin the two processes to, or None to let the kernel place them
    pin: tuple[int, int] | None = None


def _pinned(cpu: int | None) -> Any:
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def pin_cpus() -> tuple[int, int] | None:
    """The first and last CPU this process may use, if there are two or more."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return (cpus[0], cpus[-1]) if len(cpus) >= 2 else None


def run_client(binary: Path, port: int, size: int, load: Load, server_pid: int) -> dict[str, Any]:
    argv = [str(binary), "client", str(port), str(load.connections), str(size)]
    argv += [repr(load.duration), repr(load.warmup), str(server_pid)]
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=load.duration + load.warmup + 30,
        preexec_fn=_pinned(load.pin[0] if load.pin else None),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"client exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["mismatches"]:
        raise RuntimeError(f"{result['mismatches']} echoes came back different")
    return result


# -- the servers -------------------------------------------------------------------------------


class Server:
    """One server process; ``port`` once it listens. Its stderr goes to a temporary file."""

    def __init__(
        self,
        name: str,
        client: Path,
        env: dict[str, str] | None,
        cpu: int | None,
        module: str = "benchmarks.echo_server",
    ) -> None:
        if name == REFERENCE:
            argv = [str(client), "server"]
        else:
            argv = [sys.executable, "-m", module, name]
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            preexec_fn=_pinned(cpu),
        )
        self.info = self._wait_listening()
        self.port = int(self.info["port"])

    def _wait_listening(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(SERVER_START_TIMEOUT):
                self.stop()
                raise RuntimeError(f"no port from the server within {SERVER_START_TIMEOUT} s")
        line = self.proc.stdout.readline().decode().strip()
        if not line:
            self.stop()
            raise RuntimeError(f"server exited: {self.errors()[-300:] or 'no output'}")
        info: dict[str, Any] = json.loads(line) if line.startswith("{") else {"port": line}
        return info

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def errors(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace").strip()


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Measurement:
    server: str
    size: int
    repeat: int
    result: dict[str, Any] | None
    error: str | None
    wall_seconds: float


def measure(
    server: str, size: int, repeat: int, client: Path, load: Load, env: dict[str, str] | None
) -> Measurement:
    t0 = time.perf_counter()
    proc: Server | None = None
    try:
        proc = Server(server, client, env, load.pin[1] if load.pin else None)
        result = run_client(client, proc.port, size, load, proc.proc.pid)
        alive = proc.proc.poll() is None
        proc.stop()
        complaints = proc.errors()
        if not alive:
            raise RuntimeError(f"server died: {complaints[-300:]}")
        result["server_stderr_lines"] = len(complaints.splitlines())
        for key in ("trapline_file",):
            if key in proc.info:
                result[key] = proc.info[key]
    except (OSError, RuntimeError, ValueError, subprocess.SubprocessError) as error:
        if proc is not None:
            proc.stop()
        return Measurement(server, size, repeat, None, str(error), time.perf_counter() - t0)
    return Measurement(server, size, repeat, result, None, time.perf_counter() - t0)


def run_all(
    servers: Sequence[str],
    sizes: Sequence[int],
    repeats: int,
    client: Path,
    load: Load,
    env: dict[str, str] | None,
) -> list[Measurement]:
    total = repeats * len(sizes) * len(servers)
    done: list[Measurement] = []
    for repeat in range(repeats):
        order = rotated(servers, repeat)
        for size in sizes:
            for server in order:
                m = measure(server, size, repeat, client, load, env)
                done.append(m)
                if m.result is None:
                    text = f"FAILED: {m.error}"
                else:
                    r = m.result
                    cpu = r["server_cpu_seconds"] / r["seconds"]
                    text = (
                        f"{r['round_trips_per_second']:>9,.0f} round trips/s  server CPU "
                        f"{cpu:4.0%}  client CPU {r['client_cpu_seconds'] / r['seconds']:4.0%}"
                    )
                print(
                    f"[{len(done):>3}/{total}] repeat {repeat + 1} {_size_text(size):>6} "
                    f"{LABELS[server]:<20} {text}  ({m.wall_seconds:.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    return done


# -- summary and report ------------------------------------------------------------------------


@dataclass
class Summary:
    server: str
    size: int
    rates: list[float]
    server_cpu: list[float]  # fraction of one CPU over the measured window
    client_cpu: list[float]
    per_cpu: list[float]  # round trips per server CPU-second
    errors: list[str]

    @property
    def median(self) -> float | None:
        return statistics.median(self.rates) if self.rates else None

    @staticmethod
    def med(values: list[float]) -> float | None:
        return statistics.median(values) if values else None


def summarise(
    measurements: Sequence[Measurement], servers: Sequence[str], sizes: Sequence[int]
) -> dict[tuple[int, str], Summary]:
    table = {(size, s): Summary(s, size, [], [], [], [], []) for size in sizes for s in servers}
    for m in measurements:
        summary = table[m.size, m.server]
        if m.result is None:
            summary.errors.append(m.error or "failed")
            continue
        r = m.result
        summary.rates.append(r["round_trips_per_second"])
        summary.client_cpu.append(r["client_cpu_seconds"] / r["seconds"])
        if r["server_cpu_seconds"] > 0:
            summary.server_cpu.append(r["server_cpu_seconds"] / r["seconds"])
            summary.per_cpu.append(r["round_trips"] / r["server_cpu_seconds"])
    return table


def ratio(table: dict[tuple[int, str], Summary], size: int, server: str) -> float | None:
    mine, base = table.get((size, server)), table.get((size, BASELINE))
    if mine is None or base is None or mine.median is None or not base.median:
        return None
    return mine.median / base.median


def cpu_ratio(table: dict[tuple[int, str], Summary], size: int, server: str) -> float | None:
    mine, base = table.get((size, server)), table.get((size, BASELINE))
    if mine is None or base is None:
        return None
    a, b = Summary.med(mine.per_cpu), Summary.med(base.per_cpu)
    return None if a is None or not b else a / b


def targets(table: dict[tuple[int, str], Summary]) -> list[tuple[int, float, float | None, str]]:
    out = []
    for size, needed in TARGETS.items():
        r = ratio(table, size, TRAPLINE)
        status = "not measured" if r is None else ("met" if r >= needed else "not met")
        out.append((size, needed, r, status))
    return out


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def render(
    env_info: dict[str, str],
    table: dict[tuple[int, str], Summary],
    servers: Sequence[str],
    sizes: Sequence[int],
    load: Load,
) -> str:
    lines = [
        BEGIN,
        "## TCP echo over loopback",
        "",
        "Written by `python -m benchmarks.echo` (`benchmarks/echo.py`, `echo_server.py`, "
        "`echo_client.c`); rerun it rather than editing the numbers.",
        "",
        f"- Command: `{env_info['command']}` (from the repository root)",
        f"- Date: {env_info['date']}",
        f"- Python: {env_info['python']} on {env_info['platform']}",
        f"- Machine: {env_info['machine']} (shared and noisy; client and server share it)",
        f"- Versions: {env_info['versions']}",
        f"- Load: {load.connections} connections, ping-pong (one message in flight per "
        f"connection), {load.warmup:g} s warm-up then {load.duration:g} s measured, "
        f"repeats: {env_info['repeats']}",
        "- CPUs: "
        + (
            f"client pinned to CPU {load.pin[0]}, server to CPU {load.pin[1]}"
            if load.pin
            else "not pinned"
        ),
        "",
        "Each server runs in a fresh process on 127.0.0.1; the load generator is one C epoll "
        "thread (`benchmarks/echo_client.c`, built with `gcc -O2`) that sends a message on each "
        "connection, waits until all of it has come back (and compares it), and sends the next. "
        "A round trip is one whole message echoed. Servers: trapline `serve_tcp` + `async for "
        "chunk in stream: await stream.send_all(chunk)`; asyncio/uvloop streams "
        "`start_server` + `reader.read(65536)` / `writer.write` + `await writer.drain()`; "
        "asyncio/uvloop protocols: a `Protocol` whose `data_received` calls `transport.write`; "
        "trio `serve_tcp` + `receive_some(65536)` / `send_all`. Repeats interleave the servers "
        "(the order rotates each repeat); tables show medians, the spread, and ratios of "
        "medians to asyncio streams in this same run. CPU columns are the share of one CPU "
        "over the measured window (`/proc/PID/stat` for the server, `getrusage` for the "
        "client); round trips per server CPU-second is less sensitive to other load on the "
        "machine than the rate.",
        "",
    ]
    verdicts = targets(table)
    lines += ["### Targets", ""]
    lines += [
        "| target | needed | trapline streams measured | status | trapline per server "
        "CPU-s (not the target) | uvloop protocols measured |",
        "|---|---|---|---|---|---|",
    ]
    for size, needed, r, status in verdicts:
        uv = ratio(table, size, "uvloop-protocols")
        lines.append(
            f"| trapline streams round trips/s vs asyncio streams, {_size_text(size)} | "
            f">= {needed}x | {_x(r)} | **{status}** | {_x(cpu_ratio(table, size, TRAPLINE))} | "
            f"{_x(uv)} (issue: {UVLOOP_QUOTED[size]}) |"
        )
    lines.append("")
    for size in sizes:
        lines += [
            f"### {_size_text(size)} messages",
            "",
            "| server | round trips/s (median) | min - max | MiB/s each way | ratio vs asyncio "
            "streams | server CPU | client CPU | round trips per server CPU-s | ratio (per "
            "CPU-s) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for server in servers:
            s = table[size, server]
            med = s.median
            if med is None:
                cells = [LABELS[server], "failed: " + (s.errors[0] if s.errors else "no data")]
                cells += ["-"] * 7
            else:
                spread = f"{min(s.rates):,.0f} - {max(s.rates):,.0f}"
                if s.errors:
                    spread += f" ({len(s.errors)} failed)"
                cells = [
                    LABELS[server],
                    f"{med:,.0f}",
                    spread,
                    f"{med * size / 2**20:,.0f}",
                    _x(ratio(table, size, server)),
                    _pct(Summary.med(s.server_cpu)),
                    _pct(Summary.med(s.client_cpu)),
                    _count(Summary.med(s.per_cpu)),
                    _x(cpu_ratio(table, size, server)),
                ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += _client_notes(table, servers, sizes)
    shares = [c for s in table.values() if (c := Summary.med(s.server_cpu)) is not None]
    lines += starved_note(shares)
    summary = "; ".join(
        f"{_size_text(size)} {_x(r)} (>= {needed}x): {status}"
        for size, needed, r, status in verdicts
    )
    lines += [f"**Targets (trapline streams vs asyncio streams):** {summary}.", "", END]
    return "\n".join(lines)


def _client_notes(
    table: dict[tuple[int, str], Summary], servers: Sequence[str], sizes: Sequence[int]
) -> list[str]:
    """Say how close each size came to the load generator's own ceiling."""
    notes = []
    for size in sizes:
        ceiling = table.get((size, REFERENCE))
        busy = [
            LABELS[server]
            for server in servers
            if server != REFERENCE
            and (c := Summary.med(table[size, server].client_cpu)) is not None
            and c >= CLIENT_BUSY
        ]
        text = f"- {_size_text(size)}: "
        if ceiling is not None and ceiling.median is not None:
            text += (
                f"the client drove the C reference server at {ceiling.median:,.0f} round "
                f"trips/s (client CPU {_pct(Summary.med(ceiling.client_cpu))}). "
            )
        if busy:
            text += (
                f"Client CPU reached {CLIENT_BUSY:.0%} or more for {', '.join(busy)}: those "
                "rates are near the client's ceiling on this machine, so their ratios are lower "
                "bounds."
            )
        else:
            text += f"No Python server kept the client {CLIENT_BUSY:.0%} busy."
        notes.append(text)
    head = [
        "Is the load generator the bottleneck? A server using about 100% of its CPU while the "
        "client has CPU to spare is the bottleneck itself. Each round trip costs the client "
        "about as much kernel work (a send, a receive, the loopback delivery) as the server, so "
        "the C reference server is the most any server can get out of this client:",
        "",
    ]
    return [*head, *notes, ""]


#: Below this median server CPU share, other load on the machine starved the servers.
STARVED = 0.8


def starved_note(shares: Sequence[float]) -> list[str]:
    """A warning for the report when the servers did not get a CPU to themselves."""
    if not shares or statistics.median(shares) >= STARVED:
        return []
    return [
        f"**This run was starved:** the median server used {statistics.median(shares):.0%} of "
        "a CPU (a server limited only by itself uses about 100%): other work on the machine "
        "took the rest, which pulls every rate, and so every ratio of rates, towards the "
        "machine's own limits. The per-server-CPU-second ratios compare the servers' own "
        "costs and are the better guide for this run.",
        "",
    ]


def write_section(path: Path, section: str, begin: str = BEGIN, end: str = END) -> None:
    """Replace the section between ``begin`` and ``end`` in ``path`` (or append it), leaving
    the rest as it is."""
    text = path.read_text() if path.exists() else ""
    if begin in text and end in text:
        before, rest = text.split(begin, 1)
        after = rest.split(end, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


# -- command line ------------------------------------------------------------------------------


def _names(text: str) -> list[str]:
    allowed = [*SERVERS, REFERENCE]
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown server {', '.join(unknown) or '(none)'}; choose from {', '.join(allowed)}"
        )
    return [name for name in allowed if name in names]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.echo",
        description="TCP echo over loopback: trapline against asyncio, uvloop and trio.",
    )
    parser.add_argument("--repeats", type=int, default=None, help="default 5 (quick: 1)")
    parser.add_argument("--duration", type=float, default=None, help="seconds (default 3)")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds (default 0.5)")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="do not pin the client and the server to separate CPUs (first and last allowed)",
    )
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(size) for size in text.split(",")],
        default=list(SIZES),
        help="message sizes in bytes, comma-separated (default 1024,65536)",
    )
    parser.add_argument(
        "--servers",
        type=_names,
        default=DEFAULT_SERVERS,
        help=f"comma-separated subset of {','.join([*SERVERS, REFERENCE])}",
    )
    parser.add_argument("--quick", action="store_true", help="1 repeat of 1 s; prints the section")
    parser.add_argument(
        "-o", "--output", default=None, help="default docs/benchmarks.md ('-' for stdout)"
    )
    parser.add_argument("--json", default=None, help="also write every raw measurement here")
    parser.add_argument(
        "--from-json",
        default=None,
        metavar="FILE",
        help="measure nothing: render the report from a file written by --json",
    )
    parser.add_argument(
        "--trapline-rev",
        default=None,
        metavar="REV",
        help="serve with trapline's src/ as committed at git REV instead of the working tree",
    )
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 5
    if args.duration is None:
        args.duration = 1.0 if args.quick else 3.0
    if args.output is None:
        args.output = "-" if args.quick else str(DEFAULT_OUTPUT)
    if args.repeats < 1 or args.duration <= 0 or args.connections < 1 or min(args.sizes) < 1:
        parser.error("repeats, duration, connections and sizes must be positive")
    return args


def _command(argv: list[str]) -> str:
    exe = Path(sys.executable)
    try:
        shown = str(exe.relative_to(Path.cwd()))
    except ValueError:
        shown = str(exe)
    return shlex.join([shown, "-m", "benchmarks.echo", *argv])


def measure_all(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """Run the measurements; return them with what the report needs (the ``--json`` format)."""
    servers = []
    for name in args.servers:
        if name == REFERENCE or importlib.util.find_spec(REQUIRES[name]) is not None:
            servers.append(name)
        else:
            print(f"skipping {name}: {REQUIRES[name]} is not installed", file=sys.stderr)
    client = compile_client()
    load = Load(args.connections, args.duration, args.warmup, None if args.no_pin else pin_cpus())
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="trapline-echo-") as tmp:
        env, source = trapline_at(args.trapline_rev, Path(tmp))
        if source is not None:
            print(f"serving trapline from {source}", file=sys.stderr)
        measurements = run_all(servers, args.sizes, args.repeats, client, load, env)
    print(f"total {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    files = {m.result.get("trapline_file") for m in measurements if m.result}
    for path in sorted(filter(None, files)):
        print(f"trapline was imported from {path}", file=sys.stderr)
    noisy = {LABELS[m.server] for m in measurements if m.result and m.result["server_stderr_lines"]}
    if noisy:
        print(f"note: these servers wrote to stderr: {', '.join(sorted(noisy))}", file=sys.stderr)
    return {
        "environment": environment(_command(argv), args.repeats, args.quick, source),
        "load": dataclasses.asdict(load),
        "servers": servers,
        "sizes": args.sizes,
        "measurements": [dataclasses.asdict(m) for m in measurements],
    }


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
    load = Load(**{k: tuple(v) if k == "pin" and v else v for k, v in raw["load"].items()})
    measurements = [Measurement(**m) for m in raw["measurements"]]
    table = summarise(measurements, raw["servers"], raw["sizes"])
    section = render(raw["environment"], table, raw["servers"], raw["sizes"], load)
    if args.output == "-":
        print(section)
    else:
        write_section(Path(args.output), section)
        print(f"wrote {os.path.relpath(args.output)}", file=sys.stderr)
    for size, needed, r, status in targets(table):
        print(
            f"target: trapline streams vs asyncio streams at {_size_text(size)}: {_x(r)} "
            f"(>= {needed}x) {status}",
            file=sys.stderr,
        )
    return 1 if any(m.result is None for m in measurements) else 0


if __name__ == "__main__":
    sys.exit(main())
