"""Run CPython's own ``test.test_asyncio`` suite with trapline's loop as the event loop.

Not part of the pytest run (the file name does not match ``test_*.py``); run it by hand::

    .venv/bin/python tests/aio/cpython_test_asyncio.py            # every module, summary
    .venv/bin/python tests/aio/cpython_test_asyncio.py test_tasks -v   # one module, verbose
    .venv/bin/python tests/aio/cpython_test_asyncio.py --markdown docs/asyncio.md

``--markdown FILE`` writes the results section into FILE between the ``cpython-suite:begin``
and ``cpython-suite:end`` markers, so the published numbers are never edited by hand;
``--save rows.json`` keeps the raw results and ``--load rows.json`` renders them again (after a
change to the explanations) without rerunning the suite.

How trapline's loop is put in: the default policy's loop factory becomes ``TraplineEventLoop``
(so ``asyncio.new_event_loop()``, ``asyncio.run``, ``asyncio.Runner`` and
``IsolatedAsyncioTestCase`` all get it, even after a test resets the policy);
``asyncio.SelectorEventLoop`` is replaced by it (tests that name the selector loop); the bare
``BaseEventLoop`` with a mocked selector that test_runners, test_pep492 and test_base_events'
``BaseEventLoopTests`` use as a stand-in becomes ours (the last keep their mocked selector);
the Future, Task and subprocess-transport tests written for asyncio's ``TestLoop``
(test_futures, test_tasks, test_subprocess) get ours on a ``VirtualClock``; and the test
classes that build a specific loop in ``create_event_loop`` (the ``EventLoopTestsMixin``
family) build ours instead. Those classes come in one copy per selector (epoll, poll, select,
kqueue); the epoll copy is run and the others are counted as duplicates, since with our loop
they are the same tests.

Each module runs in its own process with a per-test time limit. A test *used trapline* when it
created at least one ``TraplineEventLoop``; the others exercise asyncio pieces that never touch
an event loop implementation (mocked loops, abstract classes), and are reported apart so the
pass rate is not inflated by them.
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
    "test_unix_events",
    "test_waitfor",
]

#: Modules not run, and why.
NOT_RUN = {
    "test_selector_events": "unit tests of asyncio's BaseSelectorEventLoop and its transports "
    "with a mocked selector, mocked sockets and a mocked loop; every test builds asyncio's own "
    "class (a subclass of BaseSelectorEventLoop), none builds an event loop by a name we could "
    "point at trapline's, so run here they would all count as not using trapline's loop",
    "test_proactor_events": "Windows proactor loop",
    "test_windows_events": "Windows only",
    "test_windows_utils": "Windows only",
}

#: Test classes not run inside modules that are, and why. Each test in them is counted as
#: "not run" in its module's row.
NOT_RUN_CLASSES = {
    "test_unix_events.SelectorEventLoopSignalTests": "replaces the `signal` module inside "
    "asyncio.unix_events with a mock and checks how _UnixSelectorEventLoop drives it "
    "(set_wakeup_fd, siginterrupt, errors injected through the mock); trapline's loop installs "
    "its handlers through the real `signal` module and no self-pipe, so the mock is never "
    "called (the real-signal tests in test_events and tests/aio/test_aio_loop.py cover it)",
}

#: Why each remaining failure on trapline's loop is not a bug of the loop, by test id (without
#: the ``test.test_asyncio.`` prefix). A failure not listed here is printed with its error.
KNOWN_FAILURES: dict[str, str] = {
    "test_base_events.BaseEventLoopTests.test_not_implemented": "checks that a bare "
    "BaseEventLoop leaves the transport factories (`_make_socket_transport`, ...) "
    "unimplemented; trapline's loop is a selector loop and implements them",
    "test_base_events.BaseEventLoopTests.test__run_once": "checks the timeout asyncio's "
    "`_run_once` passes to `selector.select()` (10 s to the next live timer); trapline's loop "
    "waits in the kernel, so it calls `select()` only once the wait is over, with a timeout "
    "of about 0",
    "test_base_events.BaseEventLoopTests.test__run_once_cancelled_event_cleanup": "calls "
    "`_run_once()` with a live timer 3,000 s away and a mocked selector that returns at once, "
    "expecting the iteration not to wait; on trapline's loop the wait is the kernel's, not "
    "the selector's, so the iteration waits for the timer (stopped by the 30 s limit)",
    "test_base_events.BaseEventLoopTests.test_asyncgen_finalization_by_gc_in_other_thread": (
        "replaces `_write_to_self` with a mock (see test_check_thread), so the thread that "
        "shuts the default executor down at cleanup cannot wake the loop; it passes or hangs "
        "depending on whether that thread finishes before the loop parks"
    ),
    "test_base_events.BaseEventLoopTests.test_check_thread": "replaces `_write_to_self` "
    "(the self-pipe write that wakes a loop from another thread, which trapline's loop "
    "turns into a `Token.run_sync_soon`) with a mock, so the thread's "
    "`call_soon_threadsafe` never wakes the loop (stopped by the 30 s limit)",
    **{
        f"test_tasks.{variant}.test_stop_while_run_in_complete": "written for TestLoop, whose "
        "generator moves the clock by 0.1 s in the extra iteration after `stop()` although "
        "that iteration does not wait; a real loop does not wait there, so `loop.time()` is "
        "0.2, not the 0.3 asserted (asyncio's default loop also ends at 0.2)"
        for variant in (
            "CTaskSubclass_PyFuture_Tests",
            "CTask_CFuture_SubclassTests",
            "CTask_CFuture_Tests",
            "CTask_PyFuture_Tests",
            "PyTask_CFutureSubclass_Tests",
            "PyTask_CFuture_Tests",
            "PyTask_PyFuture_SubclassTests",
            "PyTask_PyFuture_Tests",
        )
    },
    "test_events.EPollEventLoopTests.test_internal_fds": "checks that the loop owns exactly "
    "one internal fd (asyncio's self-pipe); trapline's loop has no self-pipe "
    "(`call_soon_threadsafe` and signals come in through the run's `Token`), so it owns 0",
}

#: What a skip reason means here, when the reason alone does not say why it does not matter.
SKIP_EXPLAINED: dict[str, str] = {
    "bpo-38323: MultiLoopChildWatcher has a race condition and these tests can hang the test "
    "suite": "CPython skips this child-watcher variant of test_subprocess on every loop; the same "
    "tests run with the other watchers (ThreadedChildWatcher, SafeChildWatcher, "
    "PidfdChildWatcher, ...)",
    "Windows only": "the proactor-loop variants of these modules",
    "object <module 'sys' (built-in)> has no attribute 'gettotalrefcount'": "a reference-leak "
    "check that needs a debug build of CPython",
}

#: What the tests that never create a loop of ours test, by module (counted apart).
NO_LOOP_EXPLAINED = {
    "test_base_events": "the `_ipaddr_info` and `_set_nodelay` helpers (no loop), and the "
    "sendfile fallback on asyncio's BaseSelectorEventLoop, chosen because it has no native "
    "sendfile (trapline's loop, a Unix loop, has)",
    "test_events": "Handle, TimerHandle, AbstractEventLoop and AbstractServer stubs, the "
    "event loop policy API",
    "test_protocols": "the abstract protocol classes",
    "test_runners": "a Runner whose loop factory is a mock",
    "test_tasks": "the task introspection helpers (`_register_task`, `_enter_task`, ...) and "
    "generic-alias checks, which need no loop",
    "test_transports": "the abstract transport classes",
    "test_unix_events": "the pipe transports on TestLoop with mocked os functions (they check "
    "TestLoop's own reader/writer bookkeeping, `assert_reader`), the child watchers with "
    "mocks, the event loop policy",
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

    class AnySelectorLoop(TraplineEventLoop):
        """``asyncio.SelectorEventLoop(selector=None)`` as the suite spells it."""

        def __init__(self, selector: object = None) -> None:
            super().__init__()

    asyncio.SelectorEventLoop = AnySelectorLoop  # type: ignore[misc, assignment]
    asyncio.unix_events._UnixDefaultEventLoopPolicy._loop_factory = TraplineEventLoop  # type: ignore[attr-defined]
    return created


_DUPLICATE = re.compile(r"^(Kqueue|Poll|Select(?!or))")
#: Modules whose ``new_loop()`` builds asyncio's selector loop by name (elsewhere it is a
#: mocked BaseEventLoop on purpose, or ``new_event_loop()`` which is ours already).
_NEW_LOOP_MODULES = {"test_buffered_proto", "test_server", "test_sslproto"}


#: Modules whose Future, Task and subprocess-transport tests CPython runs on its ``TestLoop``
#: (a fake loop with a clock that a generator in each test moves): they run on trapline's loop
#: with a virtual clock instead. (test_unix_events' pipe-transport tests are left on TestLoop:
#: they check its own reader/writer bookkeeping.)
_TEST_LOOP_MODULES = {"test_futures", "test_subprocess", "test_tasks"}


def _retarget(name: str, module: Any, loop_class: type) -> None:
    """Modules whose base class builds asyncio's bare ``BaseEventLoop`` with a mocked selector
    (a stand-in for a real loop, not the thing under test) build trapline's loop instead."""
    if name == "test_runners":

        def new_loop(self: object) -> Any:
            loop = loop_class()
            loop.shutdown_ag_run = False
            shutdown = loop.shutdown_asyncgens

            async def shutdown_asyncgens() -> None:
                # The suite checks that asyncio.run shut the generators down; the real
                # shutdown still runs (the suite's stand-in only set the flag).
                loop.shutdown_ag_run = True
                await shutdown()

            loop.shutdown_asyncgens = shutdown_asyncgens
            return loop

        module.BaseTest.new_loop = new_loop
    elif name in _TEST_LOOP_MODULES:
        from test.test_asyncio import utils

        from trapline.testing import VirtualClock

        class VirtualTestLoop(loop_class):  # type: ignore[misc, valid-type]
            """Stands in for asyncio's TestLoop: exact virtual time; the time-advancing
            generator a test passes is not consulted (see the section in docs/asyncio.md)."""

            def __init__(self, gen: object = None) -> None:
                self._virtual = VirtualClock()
                super().__init__(clock=self._virtual)

            def advance_time(self, advance: float) -> None:
                if advance:
                    self._virtual.jump(advance)

        def new_test_loop(self: Any, gen: object = None) -> Any:
            loop = VirtualTestLoop(gen)
            self.set_event_loop(loop)
            return loop

        utils.TestCase.new_test_loop = new_test_loop
    elif name == "test_base_events":
        from unittest import mock

        loop_tests = module.BaseEventLoopTests

        def set_up_base(self: Any) -> None:
            super(loop_tests, self).setUp()
            self.loop = loop_class()
            # As the original: a selector that never reports I/O (trapline's loop does not
            # wait in it anyway).
            self.loop._selector = mock.Mock()
            self.loop._selector.select.return_value = ()
            self.set_event_loop(self.loop)

        loop_tests.setUp = set_up_base
    elif name == "test_pep492":
        base = module.BaseTest

        def set_up(self: Any) -> None:
            super(base, self).setUp()
            self.loop = loop_class()
            self.set_event_loop(self.loop)

        base.setUp = set_up


def _prepare(
    suite: unittest.TestSuite, module: str, loop_class: type, not_run: dict[str, int]
) -> int:
    """Point loop-building tests at ``loop_class``; drop duplicate selector variants and the
    classes in ``NOT_RUN_CLASSES`` (counted in ``not_run``)."""
    dropped = 0
    kept: list[unittest.TestCase | unittest.TestSuite] = []
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            dropped += _prepare(item, module, loop_class, not_run)
            kept.append(item)
            continue
        cls = type(item)
        group = f"{module}.{cls.__name__}"
        if group in NOT_RUN_CLASSES:
            not_run[group] = not_run.get(group, 0) + 1
            continue
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
    """Classifies each test: passed, failed, error, skipped; on trapline's loop or not."""

    def __init__(self, created: dict[str, int], verbose: bool) -> None:
        super().__init__()
        self.created = created
        self.verbose = verbose
        self.counts = dict.fromkeys(
            ("passed", "failed", "errors", "skipped", "no_loop", "no_loop_failed"), 0
        )
        self.skip_reasons: dict[str, int] = {}
        self.failures_seen: list[dict[str, str]] = []
        self.no_loop_failures: list[dict[str, str]] = []
        self._before = 0
        self._bad: list[tuple[str, str]] = []  # (kind, traceback)
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
        self._note(test, "error", self.errors[-1][1])

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addFailure(test, err)
        self._note(test, "failure", self.failures[-1][1])

    def addSubTest(self, test: unittest.TestCase, subtest: Any, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            kind = "failure" if issubclass(err[0], test.failureException) else "error"
            self._bad.append((kind, f"subtest {subtest}: {err[0].__name__}: {err[1]}"))

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        super().addUnexpectedSuccess(test)
        self._bad.append(("failure", "unexpected success"))

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        self._skipped = True
        self._skip_reason = reason

    def _note(self, test: unittest.TestCase, kind: str, trace: str) -> None:
        if isinstance(test, unittest.TestCase):
            self._bad.append((kind, trace))
        else:  # a class or module fixture failed: no test of ours ran
            self.counts["no_loop_failed"] += 1
            self.no_loop_failures.append(
                {"id": f"{test} (fixture)", "kind": kind, "line": _last_line(trace)}
            )
            if self.verbose:
                print(f"{test} ... FIXTURE ERROR\n{trace}", flush=True)

    def stopTest(self, test: unittest.TestCase) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        used = self.created["loops"] > self._before
        if self._skipped and not self._bad:
            self.counts["skipped"] += 1
            self.skip_reasons[self._skip_reason] = self.skip_reasons.get(self._skip_reason, 0) + 1
            outcome = f"skip: {self._skip_reason}"
        elif not used:
            self.counts["no_loop"] += 1
            if self._bad:
                self.counts["no_loop_failed"] += 1
                kind, trace = self._bad[0]
                self.no_loop_failures.append(
                    {"id": test.id(), "kind": kind, "line": _last_line(trace)}
                )
            outcome = "FAIL (no trapline loop)" if self._bad else "ok (no trapline loop)"
        elif self._bad:
            kinds = {kind for kind, _ in self._bad}
            kind = "error" if "error" in kinds else "failure"
            self.counts["errors" if kind == "error" else "failed"] += 1
            trace = next(trace for k, trace in self._bad if k == kind)
            self.failures_seen.append({"id": test.id(), "kind": kind, "line": _last_line(trace)})
            outcome = "ERROR" if kind == "error" else "FAIL"
        else:
            self.counts["passed"] += 1
            outcome = "ok"
        if self.verbose:
            seconds = time.monotonic() - self._started
            print(f"{test.id()} ... {outcome} ({seconds:.2f}s)", flush=True)
            for _, trace in self._bad:
                print(trace, flush=True)
        super().stopTest(test)


def _last_line(trace: str) -> str:
    """The exception line of a traceback, shortened to fit a table."""
    lines = [line.strip() for line in trace.strip().splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= 160 else line[:157] + "..."


def run_module(name: str, verbose: bool) -> dict[str, object]:
    """Run one test_asyncio module in this process; return its counts."""
    created = _install()
    import importlib

    from trapline.aio import TraplineEventLoop

    module = importlib.import_module(f"test.test_asyncio.{name}")
    _retarget(name, module, TraplineEventLoop)
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    not_run: dict[str, int] = {}
    duplicates = _prepare(suite, name, TraplineEventLoop, not_run)
    signal.signal(signal.SIGALRM, _alarm)
    result = _Recorder(created, verbose)
    suite.run(result)
    return {
        "module": name,
        **result.counts,
        "duplicates": duplicates,
        "not_run": not_run,
        "skip_reasons": result.skip_reasons,
        "failures": result.failures_seen,
        "no_loop_failures": result.no_loop_failures,
    }


def _option(flag: str) -> str | None:
    """The value after ``flag`` on the command line, if given."""
    if flag in sys.argv:
        index = sys.argv.index(flag)
        if index + 1 < len(sys.argv):
            return sys.argv[index + 1]
    return None


def main() -> int:
    values = {_option(flag) for flag in ("--markdown", "--save", "--load")} - {None}
    args = [a for a in sys.argv[1:] if not a.startswith("-") and a not in values]
    verbose = "-v" in sys.argv
    if "--child" in sys.argv:
        name, out = args
        with open(out, "w") as file:
            json.dump(run_module(name, verbose), file)
        # Leaked process-pool workers (from failing tests) would hang interpreter exit.
        os._exit(0)
    load = _option("--load")
    if load is not None:
        with open(load) as file:
            saved = json.load(file)
        rows, when, python = saved["rows"], saved["when"], saved["python"]
    else:
        when = time.strftime("%Y-%m-%d", time.gmtime())
        python = sys.version.split()[0]
        rows = [_run_child(name, verbose) for name in (args or MODULES)]
    save = _option("--save")
    if save is not None:
        with open(save, "w") as file:
            json.dump({"when": when, "python": python, "rows": rows}, file, indent=1)
    text = _markdown(rows, when, python)
    print()
    print(text)
    target = _option("--markdown")
    if target is not None:
        _write_section(target, text)
    return 0


def _run_child(name: str, verbose: bool) -> dict[str, Any]:
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
    row: dict[str, Any] = json.loads(text) if text.startswith("{") else {"crashed": True}
    row["module"] = name
    row["seconds"] = round(time.monotonic() - started, 1)
    if not verbose:
        print(json.dumps(row), flush=True)
    return row


BEGIN = "<!-- cpython-suite:begin -->"
END = "<!-- cpython-suite:end -->"


def _markdown(rows: list[dict[str, Any]], when: str, python: str) -> str:
    """The results as the Markdown section of docs/asyncio.md."""
    keys = ("passed", "failed", "errors", "skipped", "duplicates", "no_loop", "no_loop_failed")
    total = {key: sum(int(row.get(key, 0)) for row in rows) for key in keys}
    not_run_total = sum(sum(row.get("not_run", {}).values()) for row in rows)
    out = [
        BEGIN,
        "<!-- Written by tests/aio/cpython_test_asyncio.py --markdown; not edited by hand. -->",
        "",
        f"Run on {when} with CPython {python} ({sys.platform}), the "
        "`test.test_asyncio` package of the same version, every module in its own process, "
        f"{PER_TEST_SECONDS} s limit per test:",
        "",
        "```sh",
        ".venv/bin/python tests/aio/cpython_test_asyncio.py --markdown docs/asyncio.md",
        "```",
        "",
        "*run* counts the tests that created a `TraplineEventLoop` (run = passed + failed + "
        "errors). Tests that never created one (mocked loops, asyncio's TestLoop in the modules "
        "named below, abstract classes) are counted apart under *no trapline loop*, with their "
        "failures in brackets; *duplicates* are the poll/select/kqueue copies of the epoll test "
        "classes; *not run* are the tests of the classes listed below.",
        "",
        "| module | run | passed | failed | errors | skipped | no trapline loop (failed) "
        "| duplicates | not run |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        if row.get("crashed"):
            out.append(f"| {row['module']} | crashed or timed out | | | | | | | |")
            continue
        ran = row["passed"] + row["failed"] + row["errors"]
        out.append(
            f"| {row['module']} | {ran} | {row['passed']} | {row['failed']} | {row['errors']} | "
            f"{row['skipped']} | {row['no_loop']} ({row['no_loop_failed']}) | "
            f"{row['duplicates']} | {sum(row.get('not_run', {}).values())} |"
        )
    ran = total["passed"] + total["failed"] + total["errors"]
    rate = 100.0 * total["passed"] / ran if ran else 0.0
    out.append(
        f"| **total** | **{ran}** | **{total['passed']}** | {total['failed']} | "
        f"{total['errors']} | {total['skipped']} | {total['no_loop']} "
        f"({total['no_loop_failed']}) | {total['duplicates']} | {not_run_total} |"
    )
    out += ["", f"**Pass rate on trapline's loop: {total['passed']}/{ran} = {rate:.1f}%.**", ""]
    crashed = [row["module"] for row in rows if row.get("crashed")]
    if crashed:
        out += [f"Crashed or timed out (not counted): {', '.join(crashed)}.", ""]
    out += ["**Modules not run:**", ""]
    out += [f"- `{name}`: {reason}." for name, reason in NOT_RUN.items()]
    out += ["", "**Test classes not run** (inside modules that are):", ""]
    for group, reason in NOT_RUN_CLASSES.items():
        count = sum(row.get("not_run", {}).get(group, 0) for row in rows)
        out.append(f"- `{group}` ({count} tests): {reason}.")
    out += ["", "**Tests that did not use trapline's loop**, by module:", ""]
    for row in rows:
        if row.get("no_loop"):
            why = NO_LOOP_EXPLAINED.get(row["module"], "not described")
            out.append(f"- {row['module']} ({row['no_loop']}): {why}.")
    out += ["", "**Skipped** (by the tests themselves), grouped by reason:", ""]
    out += _skip_lines(rows)
    failures = [(row["module"], f) for row in rows for f in row.get("failures", [])]
    out += ["", f"**Remaining failures and errors on trapline's loop** ({len(failures)}):", ""]
    out += _failure_lines([failure for _, failure in failures]) or ["- none"]
    others = [f for row in rows for f in row.get("no_loop_failures", [])]
    if others:
        out += ["", "**Failures in tests that did not use trapline's loop:**", ""]
        out += _failure_lines(others)
    out += ["", END]
    return "\n".join(out)


def _skip_lines(rows: list[dict[str, Any]]) -> list[str]:
    groups: dict[str, dict[str, int]] = {}
    for row in rows:
        for raw, count in row.get("skip_reasons", {}).items():
            reason = " ".join(raw.split())
            where = groups.setdefault(reason, {})
            where[row["module"]] = where.get(row["module"], 0) + count
    lines = []
    for reason, where in sorted(groups.items(), key=lambda item: -sum(item[1].values())):
        places = ", ".join(f"{module} {count}" for module, count in where.items())
        why = SKIP_EXPLAINED.get(reason)
        text = reason.strip().rstrip(".").replace("|", "\\|")
        lines.append(f'- "{text}" ({places})' + (f": {why}." if why else "."))
    return lines or ["- none"]


def _failure_lines(failures: list[dict[str, str]]) -> list[str]:
    """One line per failing test, or per test method when its variants (the C/Python
    Task/Future classes) fail for the same reason."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for failure in failures:
        short = failure["id"].removeprefix("test.test_asyncio.")
        cause = KNOWN_FAILURES.get(short)
        if cause is None:
            line = failure["line"].replace("|", "\\|").replace("`", "'")
            cause = f"not yet analysed; {failure['kind']}: `{line}`"
        module, _, rest = short.partition(".")
        cls, _, method = rest.rpartition(".")
        groups.setdefault((module, method, cause), []).append(cls)
    lines = []
    for (module, method, cause), classes in groups.items():
        if len(classes) == 1:
            lines.append(f"- `{module}.{classes[0]}.{method}`: {cause}.")
        else:
            variants = ", ".join(classes)
            lines.append(f"- `{module}.*.{method}` ({len(classes)} variants: {variants}): {cause}.")
    return lines


def _write_section(path: str, text: str) -> None:
    """Replace the text between the markers in ``path`` (or append it) with ``text``."""
    with open(path) as file:
        doc = file.read()
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        doc = head + text + tail
    else:
        doc = doc.rstrip("\n") + "\n\n" + text + "\n"
    with open(path, "w") as file:
        file.write(doc)


if __name__ == "__main__":
    sys.exit(main())
