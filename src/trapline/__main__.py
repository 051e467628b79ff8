"""``python -m trapline`` (also the ``trapline`` command): demos and tools.

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
    parser = argparse.ArgumentParser(prog="trapline", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser("demo", help="walk through the tutorial's program, step by step")
    demo.add_argument(
        "--virtual", action="store_true", help="run the sleeps on the virtual clock (instant)"
    )
    kv = commands.add_parser("kv", help="the trapline.kv key-value server", add_help=False)
    kv.add_argument("kv_command", choices=["serve"], help="serve: run the server")
    kv.add_argument("kv_args", nargs=argparse.REMAINDER)
    commands.add_parser(
        "trace", help="run a script, write a timeline of its runs (-o trace.json or trace.html)"
    )
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["trace"]:  # its options may follow the script's name: parsed by hand
        from ._trace_cli import main as trace_main

        return trace_main(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "kv":
        from .kv._cli import main as kv_main

        return kv_main(args.kv_args)
    if args.command == "demo":
        started = time.monotonic()
        _demo.main(virtual=args.virtual)
        print(f"\n(the whole demo took {time.monotonic() - started:.1f} s of wall time)")
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
