"""The console (``python -m trapline``): top-level await, ps/tree/step over a paused program,
errors that leave it usable, a failing task group replaced, EOF cancelling every task."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from trapline._repl import TraplineConsole
from trapline.testing import VirtualClock


@pytest.fixture
def console():
    console = TraplineConsole(clock=VirtualClock(autojump=False))
    yield console
    console.close()


def type_(console, text):
    """Type ``text`` (several lines, as at the prompt, ending with a blank line)."""
    more = False
    for line in textwrap.dedent(text).strip("\n").splitlines() + [""]:
        more = console.push(line)
    assert not more


def test_await_works_at_the_top_level(console, capsys):
    type_(console, "await trapline.sleep(0)")
    type_(console, "await trapline.sleep(2.5)")
    type_(console, "trapline.current_time()")
    type_(console, "x = await trapline.gather(trapline.sleep(1), trapline.sleep(2))")
    type_(console, "trapline.current_time(), x")
    assert capsys.readouterr() == ("2.5\n(4.5, [None, None])\n", "")


WORKER = """
async def worker(n):
    await trapline.sleep(0)
    await trapline.sleep(n)
    return n * 10
"""


def test_spawned_tasks_wait_for_step_or_await_and_show_in_ps(console, capsys):
    type_(console, WORKER)
    type_(console, "t = spawn(worker, 5, name='w')")
    type_(console, "ps")
    type_(console, "ps")  # nothing moves between prompts
    ps = "  ID  NAME                 STATE    WAITING FOR\n   1  w                    ready    \n"
    assert capsys.readouterr().out == ps + ps
    type_(console, "step")
    assert capsys.readouterr().out.split()[2:] == ["t=0", "w", "checkpoint", "(ready", "again)"]
    type_(console, "step")
    assert capsys.readouterr().out.split()[2:] == ["t=0", "w", "waits:", "sleep", "until", "t=5"]
    type_(console, "trapline.current_time()")  # time holds still between prompts too
    assert capsys.readouterr().out == "0.0\n"
    type_(console, "ps")
    assert capsys.readouterr().out.splitlines()[1].split() == [
        "1",
        "w",
        "waiting",
        "sleep",
        "until",
        "t=5",
    ]
    type_(console, "step")
    assert capsys.readouterr().out.split()[2:] == ["t=5", "w", "finished,", "returned", "50"]
    type_(console, "t.result(), trapline.current_time()")
    type_(console, "ps")
    assert capsys.readouterr().out == "(50, 5.0)\n  ID  NAME                 STATE    WAITING FOR\n"


def test_step_n_and_tree(console, capsys):
    type_(console, WORKER)
    type_(console, "a = spawn(worker, 1); b = tg.spawn(worker, 2)")
    type_(console, "step 2")
    assert [line.split()[3] for line in capsys.readouterr().out.splitlines()] == [
        "worker-1",
        "worker-2",
    ]
    type_(console, "tree")
    assert capsys.readouterr().out == (
        "repl [waiting: the next line typed at the prompt]\n"
        "  task group (2 tasks)\n"
        "    worker-1 [ready]\n"
        "    worker-2 [ready]\n"
    )
    type_(console, "await b")  # the other task runs meanwhile
    type_(console, "a.done(), trapline.current_time()")
    assert capsys.readouterr().out == "20\n(True, 2.0)\n"


def test_errors_are_printed_and_the_console_carries_on(console, capsys):
    type_(console, "1/0")
    type_(console, "await trapline.sleep(-1)")
    type_(console, "undefined_name")
    type_(console, "await trapline.Event().wait()")
    type_(console, "1 +")
    type_(console, "await trapline.sleep(1)")
    type_(console, "trapline.current_time()")
    out, err = capsys.readouterr()
    assert out == "1.0\n"
    assert "ZeroDivisionError: division by zero\n" in err
    assert "ValueError: sleep() needs a non-negative number of seconds, not -1\n" in err
    assert "NameError: name 'undefined_name' is not defined\n" in err
    assert "RuntimeError: this line can never finish: no task can run" in err
    assert "SyntaxError" in err
    assert "_repl.py" not in err  # tracebacks start at the typed line


def test_a_failing_task_fails_tg_which_is_replaced(console, capsys):
    type_(console, WORKER)
    type_(
        console,
        """
        async def bad():
            raise ValueError("boom")
        """,
    )
    type_(console, "old = tg; w = spawn(worker, 5); spawn(bad)")
    type_(console, "await trapline.sleep(1)")
    out, err = capsys.readouterr()
    assert "ValueError: boom" in err
    assert "this line was cancelled: task 'bad-2' raised ValueError" in err
    assert (
        "the task group tg failed and its tasks were cancelled; tg is now a new task group" in err
    )
    type_(console, "w.cancelled(), tg is old")
    type_(console, "await spawn(worker, 1)")
    assert capsys.readouterr() == ("(True, False)\n10\n", "")


def test_close_cancels_every_task_and_runs_its_cleanup(capsys):
    console = TraplineConsole(clock=VirtualClock(autojump=False))
    type_(
        console,
        """
        async def careful():
            try:
                await trapline.sleep_forever()
            finally:
                print("cleaned up")
        """,
    )
    type_(console, "t = spawn(careful)")
    type_(console, "step")
    capsys.readouterr()
    console.close()
    assert capsys.readouterr().out == "cleaned up\n"
    assert console.stepper.done


def run_console(stdin, *args):
    return subprocess.run(
        [sys.executable, "-m", "trapline", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_python_m_trapline_opens_the_console_and_eof_exits_cleanly():
    stdin = textwrap.dedent(
        """
        import trapline
        async def careful():
            try:
                await trapline.sleep_forever()
            finally:
                print("cleaned up")

        t = spawn(careful, name="careful")
        step
        ps
        await trapline.sleep(0)
        1/0
        print("still here")
        """
    )
    done = run_console(stdin)
    assert done.returncode == 0
    lines = done.stdout.replace(">>> ", "").replace("... ", "").splitlines()
    assert lines[0].startswith("step ") and lines[0].endswith(" careful    waits: sleep_forever")
    assert lines[1:] == [
        "  ID  NAME                 STATE    WAITING FOR",
        "   1  careful              waiting  sleep_forever",
        "still here",
        "cleaned up",
    ]
    assert done.stderr.startswith("trapline 0.1.0 console on Python ")
    assert "ZeroDivisionError: division by zero" in done.stderr


def test_exit_leaves_with_its_status():
    done = run_console("spawn(trapline.sleep_forever)\nexit(3)\n", "repl", "--virtual")
    assert done.returncode == 3


def test_help_is_still_there():
    done = run_console("", "--help")
    assert done.returncode == 0
    assert "monitor" in done.stdout and "repl" in done.stdout


def test_ctrl_c_cancels_the_awaiting_line_only():
    console = subprocess.Popen(
        [sys.executable, "-u", "-m", "trapline"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert console.stdin is not None and console.stdout is not None
        console.stdin.write("t = spawn(trapline.sleep_forever)\n")
        console.stdin.write('print("sleeping"); await trapline.sleep(3600)\n')
        console.stdin.flush()
        seen = ""
        while not seen.endswith("sleeping\n"):
            seen += console.stdout.read(1)
        console.send_signal(signal.SIGINT)
        out, err = console.communicate('print("after", t.done())\n', timeout=30)
    finally:
        if console.poll() is None:
            console.kill()
    assert console.returncode == 0
    assert out.replace(">>> ", "") == "after False\n"
    assert err.endswith("\nKeyboardInterrupt\n\n")
