"""trapline's kernel benchmark suite: the same jobs on trapline, asyncio, uvloop and trio.

Run it from the repository root::

    .venv/bin/python -m benchmarks              # full run, writes docs/benchmarks.md
    .venv/bin/python -m benchmarks --quick      # smoke run with small N, prints the report

Layout:

* ``kernel_jobs``: each job written once per framework, as the idiomatic equivalent;
* ``one``: runs one (framework, job) measurement and prints it as JSON (one fresh process each);
* ``runner``: plans the measurements (repeats, round-robin over frameworks), runs them in
  subprocesses and collects the results;
* ``report``: medians, ratios to asyncio, the targets, and the Markdown for ``docs/benchmarks.md``.

The machine is shared and noisy, so only ratios within one run mean anything.
"""

FRAMEWORKS = ("trapline", "asyncio", "uvloop", "trio")
BASELINE = "asyncio"
