"""``trapline trace script.py [args...] -o trace.json``: run a script with its runs traced.

The script runs as ``__main__`` (as ``python script.py`` would run it; ``-m module`` runs a module
like ``python -m``) while a ``ChromeTrace`` is a default instrument
(``trapline.lowlevel.add_default_instrument``), so every ``trapline.run`` it makes, in any thread,
is recorded without the script changing. When the script ends, however it ends, the trace is
written: ``-o x.html`` as the self-contained timeline page, anything else as Chrome/Perfetto JSON.
"""

from __future__ import annotations

import importlib.util
import os
import runpy
import sys
import traceback
from collections.abc import Sequence

from .lowlevel import add_default_instrument, remove_default_instrument
from .tracing import ChromeTrace

USAGE = """\
usage: trapline trace [-o OUTPUT] SCRIPT [ARGS...]
       trapline trace [-o OUTPUT] -m MODULE [ARGS...]

Run a Python script (or module) and record every trapline.run it makes as a timeline.

  -o, --output OUTPUT  where to write the trace (default trace.json): *.html is a
                       self-contained page that draws the timeline offline, anything
                       else Chrome-trace JSON for chrome://tracing or ui.perfetto.dev
  -m MODULE            run a module, as python -m does
  --                   what follows goes to the script even if it looks like -o

Trace options may come before or after the script; its other arguments are passed on.
"""


class _UsageError(Exception):
    pass


def parse(argv: Sequence[str]) -> tuple[str, str | None, str | None, list[str]]:
    """Split ``argv`` into (output, script, module, the script's arguments)."""
    output = "trace.json"
    script: str | None = None
    module: str | None = None
    rest: list[str] = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            rest += args
            break
        if arg in ("-o", "--output"):
            if not args:
                raise _UsageError(f"{arg} needs a file name")
            output = args.pop(0)
        elif arg.startswith("--output="):
            output = arg.partition("=")[2]
        elif arg in ("-h", "--help") and script is None and module is None:
            raise _UsageError("")
        elif arg == "-m" and script is None and module is None:
            if not args:
                raise _UsageError("-m needs a module name")
            module = args.pop(0)
        elif script is None and module is None:
            if arg.startswith("-"):
                raise _UsageError(f"unknown option {arg}")
            script = arg
        else:
            rest.append(arg)
    if script is None and module is None:
        raise _UsageError("which script should run?")
    return output, script, module, rest


def main(argv: Sequence[str]) -> int:
    """Run ``trapline trace``; returns the exit status (the script's own, if it set one)."""
    try:
        output, script, module, rest = parse(argv)
    except _UsageError as error:
        print(USAGE, end="", file=sys.stderr if str(error) else sys.stdout)
        if str(error):
            print(f"trapline trace: {error}", file=sys.stderr)
            return 2
        return 0
    # As python itself says it, and before anything runs: no empty trace to clobber a good one.
    if script is not None and not os.path.isfile(script):
        print(f"trapline trace: can't open file {script!r}: no such file", file=sys.stderr)
        return 2
    if module is not None and not _module_exists(module):
        print(f"trapline trace: no module named {module!r}", file=sys.stderr)
        return 1
    trace = ChromeTrace()
    status = 0
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    add_default_instrument(trace)
    try:
        if module is not None:
            sys.argv = [module, *rest]
            sys.path.insert(0, os.getcwd())
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        else:
            assert script is not None
            sys.argv = [script, *rest]
            sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
            runpy.run_path(script, run_name="__main__")
    except SystemExit as exit:
        code = exit.code
        if code is not None and not isinstance(code, int):
            print(code, file=sys.stderr)
        status = code if isinstance(code, int) else (0 if code is None else 1)
    except BaseException:
        # Whatever the script raised, the trace of what happened until then is still wanted.
        traceback.print_exc()
        status = 1
    finally:
        remove_default_instrument(trace)
        sys.argv, sys.path[:] = saved_argv, saved_path
    trace.write(output, title=f"trapline trace: {module or os.path.basename(script or '')}")
    runs = len({event["pid"] for event in trace.events})
    print(
        f"trapline trace: {len(trace.events)} events from {runs} run{'s' * (runs != 1)} "
        f"written to {output}",
        file=sys.stderr,
    )
    return status


def _module_exists(name: str) -> bool:
    # find_spec imports the parent packages, as running the module would do anyway.
    saved_path = sys.path[:]
    sys.path.insert(0, os.getcwd())
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False
    finally:
        sys.path[:] = saved_path
