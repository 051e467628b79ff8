"""``python -m benchmarks``: run the kernel suite and write ``docs/benchmarks.md``.

Examples (from the repository root)::

    .venv/bin/python -m benchmarks                  # 5 repeats, all jobs, writes the report
    .venv/bin/python -m benchmarks --repeats 3
    .venv/bin/python -m benchmarks --quick          # smoke test: small N, 1 repeat, prints it
    .venv/bin/python -m benchmarks --jobs switch --frameworks trapline,asyncio --output -
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shlex
import sys
import tempfile
from pathlib import Path

from . import BASELINE, FRAMEWORKS
from .kernel_jobs import JOBS
from .report import JOBS as JOB_INFO
from .report import environment, render, summarise, targets
from .runner import ROOT, Measurement, plan_cases, run_suite
from .source import trapline_at

DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"


def _names(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {', '.join(unknown) or '(none)'}; choose from {', '.join(allowed)}"
        )
    return [name for name in allowed if name in names]  # canonical order


def _other_sections(path: Path) -> str:
    """Sections other suites keep in the same file, between ``<!-- name:begin -->`` and
    ``<!-- name:end -->`` markers (the echo and trapline.kv benchmarks): carried over."""
    if not path.exists():
        return ""
    kept = []
    text = path.read_text()
    for begin in re.finditer(r"<!-- ([\w.-]+):begin -->", text):
        end_marker = f"<!-- {begin.group(1)}:end -->"
        end = text.find(end_marker, begin.end())
        if end != -1:
            kept.append(text[begin.start() : end + len(end_marker)])
    return "".join("\n" + section + "\n" for section in kept)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run trapline's kernel benchmarks against asyncio, uvloop and trio.",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="repeats per measurement (default 5; quick 1)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke mode: small N; prints the report unless -o"
    )
    parser.add_argument(
        "--frameworks",
        type=lambda s: _names(s, FRAMEWORKS, "framework"),
        default=list(FRAMEWORKS),
        help=f"comma-separated subset of {','.join(FRAMEWORKS)}",
    )
    parser.add_argument(
        "--jobs",
        type=lambda s: _names(s, JOBS, "job"),
        default=list(JOBS),
        help=f"comma-separated subset of {','.join(JOBS)}",
    )
    parser.add_argument(
        "-o",
        "--output",
        default=None,
        help="where to write the Markdown report ('-' for stdout; default docs/benchmarks.md, "
        "or stdout with --quick)",
    )
    parser.add_argument("--json", default=None, help="also write every raw measurement here")
    parser.add_argument(
        "--trapline-rev",
        default=None,
        metavar="REV",
        help="measure trapline's src/ as committed at git REV (exported to a temporary "
        "directory) instead of the working tree, which others may be editing",
    )
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 5
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.output is None:
        args.output = "-" if args.quick else str(DEFAULT_OUTPUT)
    return args


def _command(argv: list[str]) -> str:
    exe = Path(sys.executable)
    try:
        shown = str(exe.relative_to(Path.cwd()))
    except ValueError:
        shown = str(exe)
    return shlex.join([shown, "-m", "benchmarks", *argv])


def _progress(done: int, total: int, m: Measurement) -> None:
    info = JOB_INFO[m.case.job]
    if m.result is None:
        text = f"FAILED: {m.error}"
    else:
        text = f"{info.fmt(m.result['value'])} {info.metric}"
    print(
        f"[{done:>3}/{total}] repeat {m.repeat + 1} {m.case.label:<16} {m.framework:<8} "
        f"{text}  ({m.wall_seconds:.1f} s)",
        file=sys.stderr,
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    args = parse_args(argv)
    frameworks: list[str] = []
    for fw in args.frameworks:
        if importlib.util.find_spec(fw) is not None:
            frameworks.append(fw)
        else:
            print(f"skipping {fw}: not installed (pip install -e '.[bench]')", file=sys.stderr)
    if BASELINE not in frameworks:
        print("note: without asyncio there are no ratios or targets", file=sys.stderr)
    cases = plan_cases(args.jobs, frameworks, args.quick)
    with tempfile.TemporaryDirectory(prefix="trapline-bench-") as tmp:
        env, source = trapline_at(args.trapline_rev, Path(tmp))
        if source is not None:
            print(f"measuring trapline from {source}", file=sys.stderr)
        measurements = run_suite(cases, frameworks, args.repeats, _progress, env)
    loaded = {
        m.result["trapline_file"] for m in measurements if m.result and "trapline_file" in m.result
    }
    for path in sorted(loaded):
        print(f"trapline was imported from {path}", file=sys.stderr)
    table = summarise(measurements, cases, frameworks)
    env_info = environment(_command(argv), args.repeats, args.quick, source)
    text = render(env_info, cases, frameworks, table)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + _other_sections(out))
        print(f"wrote {os.path.relpath(out)}", file=sys.stderr)
    if args.json:
        raw = [
            {"case": m.case.key, "framework": m.framework, "repeat": m.repeat}
            | ({"result": m.result} if m.result is not None else {"error": m.error})
            for m in measurements
        ]
        Path(args.json).write_text(json.dumps(raw, indent=1) + "\n")
    for target, r, status in targets(table):
        shown = "-" if r is None else f"{r:.3f}x"
        print(f"target: {target.text}: {shown} ({target.shown}) {status}", file=sys.stderr)
    failed = sum(m.result is None for m in measurements)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
