"""``python -m trapline``: an interactive console where ``await`` works at the top level.

Like ``python -m asyncio``, but the program is paused between prompts. The console drives one
``trapline.lowlevel.Stepper`` from its own thread (no background loop thread): a line with a
top-level ``await`` runs in the Stepper's main task (the ``repl`` task) and the console steps
the scheduler until that line is done, so tasks you spawned run meanwhile; any other line runs
at once, inside the run but outside any task, and nothing else moves. ``step`` runs exactly one
task step and says what it did, ``ps`` and ``tree`` show the tasks. So what you see at the
prompt stays true until you type something, which is what makes ``ps`` and ``step`` useful:
this is the tutorial's "human scheduler" with a Python prompt.

The namespace has ``trapline``, ``tg`` (a task group owned by the ``repl`` task) and
``spawn(fn, *args, name=None)`` (``tg.spawn``). A failing task fails ``tg`` as anywhere else (its
siblings are cancelled); the console prints the error and opens a new ``tg``. Ctrl-C during an
``await`` cancels that line (a second Ctrl-C interrupts whatever runs). EOF or ``exit()``
cancels every task, lets it clean up, and leaves.
"""

from __future__ import annotations

import ast
import code
import inspect
import re
import signal
import sys
import threading
import traceback
import types
from typing import Any

from ._core import (
    Cancelled,
    CancelScope,
    Clock,
    SystemClock,
    TaskGroup,
    VirtualClock,
    format_task_tree,
)
from .lowlevel import Stepper, Task, Token, current_task, current_token, park, reschedule

__all__ = ["TraplineConsole", "main"]

_PROMPT_WAIT = "the next line typed at the prompt"
_COMMAND = re.compile(r"^\s*(ps|tree|step(?:\s+(\d+))?)\s*$")


class TraplineConsole(code.InteractiveConsole):
    """The console: ``code.InteractiveConsole`` compiling with top-level ``await``, over a
    ``Stepper`` on ``clock`` (the system clock by default; a ``VirtualClock`` should not
    autojump, since the Stepper moves it). Call ``close()`` when done (``interact()`` does)."""

    def __init__(self, *, clock: Clock | None = None, filename: str = "<console>") -> None:
        import trapline

        self.namespace: dict[str, Any] = {
            "__name__": "__console__",
            "__doc__": None,
            "trapline": trapline,
            "spawn": self._spawn,
        }
        super().__init__(self.namespace, filename)
        self.compile.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        self._closing = False
        self._host: Task | None = None
        self._token: Token | None = None
        self._job: Any = None  # the awaiting line's coroutine, handed to the repl task
        self._job_done = False
        self._job_error: BaseException | None = None
        self._job_scope: CancelScope | None = None
        self._interrupted = False
        self._stop_reason: BaseException | None = None  # why the console cancelled the line
        self._reports: list[str] = []  # what the repl task has to say (a failed task group)
        host: Any = self._repl()
        host.__name__ = "repl"  # the main task's name
        clock = SystemClock() if clock is None else clock
        # history: a session may run for hours; keep the recent steps, not every one.
        self.stepper = Stepper(host, clock=clock, history=100)
        self._settle()

    # -- the repl task -------------------------------------------------------------------------

    async def _repl(self) -> None:
        self._host = current_task()
        self._token = current_token()  # so that Ctrl-C can wake a blocked step
        while True:
            try:
                async with TaskGroup() as tg:
                    self.namespace["tg"] = tg
                    while True:
                        job = await park(_PROMPT_WAIT)
                        await self._run_job(job)
            except BaseException as error:
                if self._closing:
                    raise
                lines = traceback.format_exception(error)
                self._reports.append(
                    "".join(lines) + "the task group tg failed and its tasks were cancelled; "
                    "tg is now a new task group\n"
                )

    async def _run_job(self, job: Any) -> None:
        try:
            with CancelScope() as scope:
                self._job_scope = scope
                if self._interrupted:
                    scope.cancel("Ctrl-C")
                await job
            if scope.cancelled_caught:
                self._job_error = self._stop_reason or KeyboardInterrupt()
        except BaseException as error:
            self._job_error = error
        finally:
            self._job_scope = None
            self._job_done = True

    def _spawn(self, fn: Any, *args: Any, name: str | None = None) -> Task:
        """spawn(fn, *args, name=None): start fn(*args) as a task in ``tg``; it runs when you
        ``await`` something or ``step``."""
        tg: TaskGroup = self.namespace["tg"]
        return self.stepper.call(lambda: tg.spawn(fn, *args, name=name))

    # -- driving -------------------------------------------------------------------------------

    def _settle(self) -> None:
        """Step until the repl task waits at the prompt (at start, or after it reopened tg)."""
        while self._host is None or self._host.wait_reason != _PROMPT_WAIT:
            self.stepper.step()

    def _await(self, coro: Any) -> None:
        """Run an awaiting line's coroutine in the repl task, stepping until it is done."""
        self._settle()
        assert self._host is not None
        self._job_done, self._job_error, self._interrupted = False, None, False
        self._stop_reason = None
        reschedule(self._host, coro)
        old = None
        if threading.current_thread() is threading.main_thread():
            old = signal.signal(signal.SIGINT, self._on_sigint)
        try:
            while not self._job_done:
                try:
                    self.stepper.step()
                except RuntimeError as error:  # every task waits and nothing can wake one
                    if self._job_scope is None:
                        raise
                    self._stop_reason = RuntimeError(f"this line can never finish: {error}")
                    self._job_scope.cancel("it could never finish")
            self._settle()  # if tg failed meanwhile, let the repl task report it and reopen
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
        failure = self._job_error
        self._job_error = None
        if isinstance(failure, SystemExit):
            raise failure
        if isinstance(failure, Cancelled):  # tg failed: its report says why
            self.write(f"this line was {failure}\n")
        elif failure is not None:
            self._show(failure)

    def _on_sigint(self, signum: int, frame: types.FrameType | None) -> None:
        if self._interrupted:
            raise KeyboardInterrupt  # a second Ctrl-C: the line does not reach a checkpoint
        self._interrupted = True
        if self._token is not None:
            # Cancel the line from inside the run: that also wakes a step blocked in a wait.
            self._token.run_sync_soon(self._cancel_job)

    def _cancel_job(self) -> None:
        if self._job_scope is not None:
            self._job_scope.cancel("Ctrl-C")

    def _show(self, error: BaseException) -> None:
        # Start the traceback at the typed line, not in the console's machinery.
        tb = error.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != self.filename:
            tb = tb.tb_next
        self.write("".join(traceback.format_exception(type(error), error, tb or None)))

    def _flush_reports(self) -> None:
        while self._reports:
            self.write(self._reports.pop(0))

    # -- the console ---------------------------------------------------------------------------

    def runsource(self, source: str, filename: str = "<input>", symbol: str = "single") -> bool:
        match = _COMMAND.match(source)
        if match is None:
            return super().runsource(source, filename, symbol)
        try:
            if match[1] == "ps":
                self._ps()
            elif match[1] == "tree":
                print(self.stepper.call(lambda: format_task_tree(stacks=False)))
            else:
                for _ in range(int(match[2] or 1)):
                    print(self.stepper.step())
                    self._flush_reports()
        except Exception as error:
            self.write(f"{type(error).__name__}: {error}\n")
        self._flush_reports()
        return False

    def _ps(self) -> None:
        tasks = [task for task in self.stepper.tasks() if task is not self._host]
        print(f"{'ID':>4}  {'NAME':<20} {'STATE':<8} WAITING FOR")
        for task in tasks:
            print(f"{task.id:>4}  {task.name:<20} {task.state:<8} {task.wait_reason or ''}")

    def runcode(self, code: types.CodeType) -> None:
        func = types.FunctionType(code, self.namespace)
        try:
            result = self.stepper.call(func)
            if inspect.iscoroutine(result):
                self._await(result)
        except SystemExit:
            raise
        except BaseException as error:
            self._show(error)
        self._flush_reports()

    def close(self) -> None:
        """Cancel every task, let it clean up, and end the run."""
        self._closing = True
        self.stepper.close()
        self._flush_reports()

    def interact(self, banner: str | None = None, exitmsg: str | None = None) -> None:
        try:
            super().interact(banner, "" if exitmsg is None else exitmsg)
        finally:
            self.close()


BANNER = """trapline {version} console on Python {python}
await works at the top level; between prompts the program is paused.
  tg, spawn(fn, *args)   a task group to start tasks in (they run while you await or step)
  ps, tree, step [N]     show the tasks, run N task steps (one by default)
Ctrl-D (EOF) cancels every task and leaves."""


def main(*, virtual: bool = False) -> int:
    """Run the console on stdin/stdout until EOF; 0 on a clean exit."""
    import trapline

    try:
        import readline  # noqa: F401  (line editing and history, when the terminal has it)
    except ImportError:  # pragma: no cover
        pass
    # Not autojump: the Stepper moves time itself, when a step finds nothing ready; autojump
    # would move it as the loop computes its next wait, before the prompt is even back.
    clock = VirtualClock(autojump=False) if virtual else None
    console = TraplineConsole(clock=clock)
    python = sys.version.split()[0]
    try:
        console.interact(BANNER.format(version=trapline.__version__, python=python))
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 0
    return 0
