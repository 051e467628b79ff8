"""``python -m trapline`` (also the ``trapline`` command): demos and tools.

With no arguments (or ``trapline repl``), an interactive console where ``await`` works at the
top level and ``ps``, ``tree`` and ``step`` show and drive the tasks started from it.
``trapline monitor`` attaches to a program started with ``TRAPLINE_MONITOR=1``.
``trapline demo`` walks through the seed tutorial's program on trapline: coroutines, driving one by
hand with ``send(None)``, two interleaved by the step-by-step scheduler, then ``gather``.
``trapline trace script.py -o trace.html`` runs a script and writes a timeline of its runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from . import _demo


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="trapline", description=__doc__.splitlines()[0].replace("``", "")
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser("demo", help="walk through the tutorial's program, step by step")
    demo.add_argument(
        "--virtual", action="store_true", help="run the sleeps on the virtual clock (instant)"
    )
    kv = commands.add_parser("kv", help="the trapline.kv key-value server", add_help=False)
    kv.add_argument("kv_command", nargs="?", choices=["serve"], help="serve: run the server")
    kv.add_argument("kv_args", nargs=argparse.REMAINDER)
    repl = commands.add_parser("repl", help="the console (the default): await at the prompt")
    repl.add_argument("--virtual", action="store_true", help="run on the virtual clock")
    commands.add_parser("monitor", help="attach to a program run with TRAPLINE_MONITOR=1")
    commands.add_parser(
        "trace", help="run a script, write a timeline of its runs (-o trace.json or trace.html)"
    )
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["trace"]:  # its options may follow the script's name: parsed by hand
        from ._trace_cli import main as trace_main

        return trace_main(argv[1:])
    if argv[:1] == ["monitor"]:  # its options (-c ps) are its own: parsed by hand
        from .monitor import client_main

        return client_main(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "kv" and args.kv_command is None:
        print(
            "usage: trapline kv serve [options]   (trapline kv serve --help lists them)",
            file=sys.stderr,
        )
        return 2
    if args.command == "kv":
        from .kv._cli import main as kv_main

        return kv_main(args.kv_args)
    if args.command == "demo":
        started = time.monotonic()
        _demo.main(virtual=args.virtual)
        print(f"\n(the whole demo took {time.monotonic() - started:.1f} s of wall time)")
        return 0
    from ._repl import main as repl_main

    return repl_main(virtual=args.command == "repl" and args.virtual)


if __name__ == "__main__":
    sys.exit(main())
