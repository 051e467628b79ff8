"""Run CPython's own ``test.test_asyncio`` suite with trapline's loop as the event loop.

Not part of the pytest run (the file name does not match ``test_*.py``); run it by hand::

    .venv/bin/python tests/aio/cpython_test_asyncio.py            # every module, summary table
    .venv/bin/python tests/aio/cpython_test_asyncio.py test_tasks -v   # one module, verbose

How trapline's loop is put in: the default policy's loop factory becomes ``TraplineEventLoop``
(so ``asyncio.new_event_loop()``, ``asyncio.run``, ``asyncio.Runner`` and
``IsolatedAsyncioTestCase`` all get it, even after a test resets the policy), and the test
classes that build a specific loop in ``create_event_loop`` (the ``EventLoopTestsMixin``
family) build ours instead. Those classes come in one copy per selector (epoll, poll, select,
kqueue); the epoll copy is run and the others are counted as duplicates, since with our loop
they are the same tests.

Each module runs in its own process with a per-test time limit. A test *used trapline* when it
created at least one ``TraplineEventLoop``; the others exercise asyncio pieces that never touch
an event loop implementation (mocked loops, the pure-Python ``TestLoop``), and are reported
apart so the pass rate is not inflated by them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from typing import Any

MODULES = [
    "test_base_events",
    "test_buffered_proto",
    "test_context",
    "test_events",
    "test_futures",
    "test_futures2",
    "test_locks",
    "test_pep492",
    "test_protocols",
    "test_queues",
    "test_runners",
    "test_sendfile",
    "test_server",
    "test_sock_lowlevel",
    "test_ssl",
    "test_sslproto",
    "test_streams",
    "test_subprocess",
    "test_taskgroups",
    "test_tasks",
    "test_threads",
    "test_timeouts",
    "test_transports",
    "test_waitfor",
]

#: Modules not run, and why (they test other loop implementations in isolation).
NOT_RUN = {
    "test_selector_events": "unit tests of asyncio's BaseSelectorEventLoop and transports "
    "with a mocked selector and mocked sockets; they build asyncio's class, not a loop",
    "test_unix_events": "unit tests of _UnixSelectorEventLoop internals (signal handling via "
    "set_wakeup_fd, child watchers) with mocks; trapline's signal path is covered by "
    "tests/aio/test_aio_loop.py",
    "test_proactor_events": "Windows proactor loop",
    "test_windows_events": "Windows only",
    "test_windows_utils": "Windows only",
}

PER_TEST_SECONDS = 30


class _TestTimeout(BaseException):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _TestTimeout(f"test took more than {PER_TEST_SECONDS} s")


def _install() -> dict[str, int]:
    """Make trapline's loop the loop of the suite; count the loops created."""
    import asyncio
    import asyncio.unix_events

    from trapline.aio import TraplineEventLoop

    created = {"loops": 0}
    original_init = TraplineEventLoop.__init__

    def counting_init(self: TraplineEventLoop, *args: object, **kwargs: object) -> None:
        created["loops"] += 1
        original_init(self, *args, **kwargs)  # type: ignore[arg-type]

    TraplineEventLoop.__init__ = counting_init  # type: ignore[method-assign]
    asyncio.unix_events._UnixDefaultEventLoopPolicy._loop_factory = TraplineEventLoop  # type: ignore[attr-defined]
    return created


_DUPLICATE = re.compile(r"^(Kqueue|Poll|Select(?!or))")
#: Modules whose ``new_loop()`` builds asyncio's selector loop by name (elsewhere it is a
#: mocked BaseEventLoop on purpose, or ``new_event_loop()`` which is ours already).
_NEW_LOOP_MODULES = {"test_buffered_proto", "test_server", "test_sslproto"}


def _prepare(suite: unittest.TestSuite, module: str, loop_class: type) -> int:
    """Point loop-building tests at ``loop_class``; drop duplicate selector variants."""
    dropped = 0
    kept: list[unittest.TestCase | unittest.TestSuite] = []
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            dropped += _prepare(item, module, loop_class)
            kept.append(item)
            continue
        cls = type(item)
        builds = hasattr(item, "create_event_loop") or (
            module in _NEW_LOOP_MODULES and hasattr(item, "new_loop")
        )
        if builds and _DUPLICATE.match(cls.__name__):
            dropped += 1
            continue
        if hasattr(item, "create_event_loop"):
            item.create_event_loop = loop_class  # type: ignore[attr-defined]
        if module in _NEW_LOOP_MODULES and hasattr(item, "new_loop"):
            item.new_loop = loop_class  # type: ignore[attr-defined]
        kept.append(item)
    suite._tests = kept  # type: ignore[attr-defined]
    return dropped


class _Recorder(unittest.TestResult):
    """Classifies each test: passed, failed, skipped; on trapline's loop or not."""

    def __init__(self, created: dict[str, int], verbose: bool) -> None:
        super().__init__()
        self.created = created
        self.verbose = verbose
        self.counts = dict.fromkeys(("passed", "failed", "skipped", "no_loop", "no_loop_failed"), 0)
        self.failed_ids: list[str] = []
        self._before = 0
        self._bad: list[str] = []
        self._skipped = False
        self._skip_reason = ""
        self._started = 0.0

    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        self._before = self.created["loops"]
        self._bad = []
        self._skipped = False
        self._started = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, PER_TEST_SECONDS)

    def addError(self, test: unittest.TestCase, err: Any) -> None:
        super().addError(test, err)
        self._note(test, self.errors[-1][1])

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addFailure(test, err)
        self._note(test, self.failures[-1][1])

    def addSubTest(self, test: unittest.TestCase, subtest: Any, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._bad.append(f"subtest {subtest}: {err[1]!r}")

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        super().addUnexpectedSuccess(test)
        self._bad.append("unexpected success")

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        self._skipped = True
        self._skip_reason = reason

    def _note(self, test: unittest.TestCase, trace: str) -> None:
        if isinstance(test, unittest.TestCase):
            self._bad.append(trace)
        else:  # a class or module fixture failed: no test of ours ran
            self.counts["no_loop_failed"] += 1
            self.failed_ids.append(f"{test} (fixture)")
            if self.verbose:
                print(f"{test} ... FIXTURE ERROR\n{trace}", flush=True)

    def stopTest(self, test: unittest.TestCase) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        used = self.created["loops"] > self._before
        if self._skipped and not self._bad:
            self.counts["skipped"] += 1
            outcome = f"skip: {self._skip_reason}"
        elif not used:
            self.counts["no_loop"] += 1
            if self._bad:
                self.counts["no_loop_failed"] += 1
            outcome = "FAIL (no trapline loop)" if self._bad else "ok (no trapline loop)"
        elif self._bad:
            self.counts["failed"] += 1
            self.failed_ids.append(test.id())
            outcome = "FAIL"
        else:
            self.counts["passed"] += 1
            outcome = "ok"
        if self.verbose:
            seconds = time.monotonic() - self._started
            print(f"{test.id()} ... {outcome} ({seconds:.2f}s)", flush=True)
            for trace in self._bad:
                print(trace, flush=True)
        super().stopTest(test)


def run_module(name: str, verbose: bool) -> dict[str, object]:
    """Run one test_asyncio module in this process; return its counts."""
    created = _install()
    import importlib

    from trapline.aio import TraplineEventLoop

    module = importlib.import_module(f"test.test_asyncio.{name}")
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    duplicates = _prepare(suite, name, TraplineEventLoop)
    signal.signal(signal.SIGALRM, _alarm)
    result = _Recorder(created, verbose)
    suite.run(result)
    return {
        "module": name,
        **result.counts,
        "duplicates": duplicates,
        "failures": result.failed_ids,
    }


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    verbose = "-v" in sys.argv
    if "--child" in sys.argv:
        name, out = args
        with open(out, "w") as file:
            json.dump(run_module(name, verbose), file)
        # Leaked process-pool workers (from failing tests) would hang interpreter exit.
        os._exit(0)
    modules = args or MODULES
    rows = []
    for name in modules:
        started = time.monotonic()
        with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
            # Each module in its own session, so whatever it leaves behind (forked workers,
            # subprocesses) is killed with it.
            child = subprocess.Popen(
                [sys.executable, __file__, name, out.name, "--child", *(["-v"] * verbose)],
                stdout=None if verbose else subprocess.DEVNULL,
                stderr=None if verbose else subprocess.DEVNULL,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
                start_new_session=True,
            )
            try:
                child.wait(timeout=900)
            except subprocess.TimeoutExpired:
                pass
            finally:
                try:
                    os.killpg(child.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                child.wait()
            text = out.read()
        row = json.loads(text) if text.startswith("{") else None
        if row is None:
            row = {"module": name, "crashed": True}
        row["seconds"] = round(time.monotonic() - started, 1)
        rows.append(row)
        if not verbose:
            print(json.dumps(row), flush=True)
    _summary(rows)
    return 0


def _summary(rows: list[dict[str, object]]) -> None:
    keys = ("passed", "failed", "skipped", "duplicates", "no_loop", "no_loop_failed")
    total = {key: sum(int(row.get(key, 0)) for row in rows) for key in keys}  # type: ignore[call-overload]
    print()
    print("| module | passed | failed | skipped | duplicates | no loop (failed) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        if row.get("crashed"):
            print(f"| {row['module']} | crashed or timed out | | | | |")
            continue
        print(
            f"| {row['module']} | {row['passed']} | {row['failed']} | {row['skipped']} | "
            f"{row['duplicates']} | {row['no_loop']} ({row['no_loop_failed']}) |"
        )
    ran = total["passed"] + total["failed"]
    rate = 100.0 * total["passed"] / ran if ran else 0.0
    print(
        f"| **total** | {total['passed']} | {total['failed']} | {total['skipped']} | "
        f"{total['duplicates']} | {total['no_loop']} ({total['no_loop_failed']}) |"
    )
    print()
    print(f"pass rate on trapline's loop: {total['passed']}/{ran} = {rate:.1f}%")
    for row in rows:
        for failure in row.get("failures", []):  # type: ignore[attr-defined]
            print(f"FAILED {failure}")


if __name__ == "__main__":
    sys.exit(main())
