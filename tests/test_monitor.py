"""The monitor (trapline.monitor): its commands in-process over loopback on a virtual clock, and
end to end: a program started with TRAPLINE_MONITOR and ``python -m trapline monitor``."""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import subprocess
import sys
import textwrap

import pytest

import trapline
from trapline.lowlevel import default_instruments
from trapline.monitor import MonitorAddress, parse_address, serve_monitor
from trapline.testing import VirtualClock

HERE = os.path.basename(__file__)


async def worker(lock: trapline.Lock) -> None:
    async with lock:
        await trapline.sleep_forever()


async def ask(stream: trapline.SocketStream, command: bytes | str) -> tuple[str, list[str]]:
    if command is not None:
        data = command if isinstance(command, bytes) else command.encode()
        await stream.send_all(data + b"\n")
    return await read_reply(stream)


async def read_reply(stream: trapline.SocketStream) -> tuple[str, list[str]]:
    status, count = (await stream.readline()).decode().split()
    lines = [(await stream.readline()).decode().rstrip("\n") for _ in range(int(count))]
    return status, lines


def ps_rows(lines: list[str]) -> dict[str, list[str]]:
    """ps output as {name: [id, state, for, waiting for]}."""
    assert lines[0].split() == ["ID", "NAME", "STATE", "FOR", "WAITING", "FOR"]
    rows = {}
    for line in lines[1:]:
        id_, name, state, age, *reason = line.split(None, 4)
        rows[name] = [id_, state, age, *(reason or [""])]
    return rows


def run_with_monitor(test, clock=None):
    """Run ``test(stream, tasks)`` against a program with a holder and a waiter on a lock and a
    monitor on a free loopback port; the program then ends by cancelling its task group."""
    clock = clock or VirtualClock(autojump=False)

    async def main():
        lock = trapline.Lock()
        listening: list[MonitorAddress] = []
        async with trapline.TaskGroup() as tg:
            tasks = {
                "holder": tg.spawn(worker, lock, name="holder"),
                "waiter": tg.spawn(worker, lock, name="waiter"),
                "monitor": tg.spawn(
                    functools.partial(serve_monitor, "127.0.0.1:0", on_listening=listening.append)
                ),
            }
            while not listening:
                await trapline.sleep(0)
            clock.jump(2.5)
            stream = await trapline.open_tcp_stream("127.0.0.1", listening[0].port)
            async with stream:
                status, greeting = await read_reply(stream)
                assert status == "ok" and greeting[0].startswith("trapline monitor, pid ")
                await test(stream, tasks)
            tg.cancel_scope.cancel()
        return tasks

    return trapline.run(main, clock=clock)


def test_ps_names_each_task_its_state_wait_and_time_in_state():
    async def test(stream, tasks):
        status, lines = await ask(stream, "ps")
        assert status == "ok"
        rows = ps_rows(lines)
        assert rows["holder"] == [str(tasks["holder"].id), "waiting", "2.5s", "sleep_forever"]
        assert rows["waiter"] == [
            str(tasks["waiter"].id),
            "waiting",
            "2.5s",
            "Lock held by holder",
        ]
        assert rows["main"][:2] == ["0", "waiting"]
        assert rows["connection"][1] == "running"  # the monitor's own task answering

    run_with_monitor(test)


def test_tree_nests_tasks_under_their_task_groups():
    async def test(stream, tasks):
        status, lines = await ask(stream, "tree")
        assert status == "ok"
        h, w, m = (tasks[name].id for name in ("holder", "waiter", "monitor"))
        assert lines[0].startswith("#0 main [waiting: fd ")  # main is the client here
        assert lines[1:5] == [
            "  task group (3 tasks)",
            f"    #{h} holder [waiting: sleep_forever]",
            f"    #{w} waiter [waiting: Lock held by holder]",
            f"    #{m} serve_monitor-{m} [waiting: task group: 1 task]",
        ]
        assert lines[-1].strip().endswith("connection [running]")

    run_with_monitor(test)


def test_where_shows_the_await_chain_with_file_and_line():
    async def test(stream, tasks):
        for key in ("waiter", str(tasks["waiter"].id), f"#{tasks['waiter'].id}"):
            status, lines = await ask(stream, f"where {key}")
            assert status == "ok"
            assert lines[0] == f"#{tasks['waiter'].id} waiter [waiting: Lock held by holder]"
            assert f"{HERE}:" in lines[1] and lines[1].endswith(" in worker")
            assert any("_sync.py:" in line and line.endswith(" in acquire") for line in lines)
            assert lines[-1].endswith(" in trap_iter")

    run_with_monitor(test)


def test_cancel_cancels_that_task_only():
    async def test(stream, tasks):
        status, lines = await ask(stream, "cancel holder")
        assert (status, lines) == ("ok", [f"cancelled #{tasks['holder'].id} holder"])
        status, lines = await ask(stream, "ps")  # the waiter got the lock meanwhile
        rows = ps_rows(lines)
        assert "holder" not in rows
        assert rows["waiter"][1:] == ["waiting", "0.0s", "sleep_forever"]
        assert tasks["holder"].cancelled() and not tasks["waiter"].done()

    tasks = run_with_monitor(test)
    assert tasks["holder"].cancelled()


def test_bad_input_gets_an_error_and_the_connection_keeps_working():
    async def test(stream, tasks):
        monitor = tasks["monitor"].id
        cases = [
            ("bogus", "unknown command 'bogus'; try help"),
            ("where", "usage: where TASK"),
            ("cancel a b", "usage: cancel TASK"),
            ("ps now", "usage: ps"),
            ("where nosuch", "no task named 'nosuch' (see ps)"),
            ("cancel 999", "no task #999 (finished, or never was; see ps)"),
            (f"cancel {monitor}", f"#{monitor} serve_monitor-{monitor} is the monitor itself; "),
            (b"\xff\xfe", "unknown command '\ufffd\ufffd'; try help"),
            ("x" * 5000, "line longer than 4096 bytes"),
        ]
        for command, error in cases:
            status, lines = await ask(stream, command)
            assert status == "error" and lines[0].startswith(error), (command, lines)
            status, lines = await ask(stream, "ps")
            assert status == "ok" and "waiter" in ps_rows(lines)
        assert await ask(stream, "") == ("ok", [])
        status, lines = await ask(stream, "help")
        assert status == "ok" and [line.split()[0] for line in lines] == [
            "ps",
            "tree",
            "where",
            "cancel",
            "help",
            "quit",
        ]
        assert not tasks["holder"].done()
        assert await ask(stream, "quit") == ("ok", ["bye"])
        assert await stream.readline() == b""  # the server closed this connection

    run_with_monitor(test)


def test_a_client_that_vanishes_does_not_disturb_the_program():
    async def test(stream, tasks):
        await stream.send_all(b"ps\ntree\nwhere waiter\n")
        stream.close()  # without reading the replies
        for _ in range(10):
            await trapline.sleep(0)
        assert not tasks["monitor"].done()

    run_with_monitor(test)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("1", MonitorAddress("127.0.0.1", 48802)),
        ("9000", MonitorAddress("127.0.0.1", 9000)),
        ("127.0.0.2:9000", MonitorAddress("127.0.0.2", 9000)),
        ("[::1]:9000", MonitorAddress("::1", 9000)),
        ("localhost:0", MonitorAddress("localhost", 0)),
        ("unix:/tmp/m.sock", MonitorAddress(path="/tmp/m.sock")),
    ],
)
def test_parse_address(text, address):
    assert parse_address(text) == address
    assert parse_address(str(address)) == address


@pytest.mark.parametrize("text", ["0.0.0.0:9000", "10.0.0.1:1", "example.com:80", "x", "1:99999"])
def test_parse_address_refuses_anything_but_loopback(text):
    with pytest.raises(ValueError):
        parse_address(text)


def test_unset_the_monitor_costs_nothing():
    assert "TRAPLINE_MONITOR" not in os.environ
    assert not [i for i in default_instruments() if type(i).__module__ == "trapline.monitor"]


@pytest.mark.parametrize(("value", "hooks"), [("1", "['before_run']"), ("0", "[]"), ("", "[]")])
def test_the_variable_is_read_when_trapline_is_imported(value, hooks):
    # Set, it registers one default instrument whose only hook is before_run: task steps pay
    # nothing for it beyond what any instrument costs.
    code = (
        "import trapline.lowlevel as low, trapline.monitor as m\n"
        "print([h for i in low.default_instruments() if type(i).__module__ == m.__name__\n"
        "       for h in ('before_run', 'task_spawned', 'before_task_step', 'after_task_step')\n"
        "       if getattr(type(i), h) is not getattr(low.Instrument, h)])"
    )
    env = {**os.environ, "TRAPLINE_MONITOR": value}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30
    )
    assert (done.stdout, done.stderr) == (hooks + "\n", "")


# -- end to end: TRAPLINE_MONITOR and python -m trapline monitor --------------------------------

PROGRAM = textwrap.dedent(
    """
    import trapline

    async def worker(lock):
        async with lock:
            await trapline.sleep_forever()

    async def main():
        lock = trapline.Lock()
        async with trapline.TaskGroup() as tg:
            tg.spawn(worker, lock, name="holder")
            tg.spawn(worker, lock, name="waiter")
        print("main done")

    trapline.run(main)
    """
)


def start(tmp_path, monitor):
    script = tmp_path / "program.py"
    script.write_text(PROGRAM)
    env = {**os.environ, "TRAPLINE_MONITOR": monitor}
    return subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextlib.contextmanager
def killed_at_exit(program):
    try:
        yield
    finally:
        if program.poll() is None:
            program.kill()


def client(*args):
    return subprocess.run(
        [sys.executable, "-m", "trapline", "monitor", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_a_program_started_with_trapline_monitor_can_be_attached_to(tmp_path):
    address = f"unix:{tmp_path}/monitor.sock"
    with start(tmp_path, address) as program, killed_at_exit(program):
        assert program.stderr is not None and program.stdout is not None
        line = program.stderr.readline()
        assert (
            line
            == f"trapline: monitor listening on {address} (python -m trapline monitor {address})\n"
        )
        assert (tmp_path / "monitor.sock").stat().st_mode & 0o777 == 0o600  # owner only

        done = client(address, "-c", "ps", "-c", "where waiter", "-c", "bogus")
        assert done.returncode == 0, done.stderr
        out = done.stdout.splitlines()
        where = out.index("#3 waiter [waiting: Lock held by holder]")
        rows = ps_rows(out[:where])
        assert rows["waiter"][1::2] == ["waiting", "Lock held by holder"]
        assert rows["trapline.monitor"][1] == "waiting"
        assert out[where + 1].endswith("program.py:5 in worker")
        assert out[-1] == "error: unknown command 'bogus'; try help"

        # Interactive use, commands on stdin: cancelling both workers ends the program, and
        # the monitor does not keep it alive, not even with a client still connected.
        idle = socket.socket(socket.AF_UNIX)
        idle.connect(str(tmp_path / "monitor.sock"))
        done = subprocess.run(
            [sys.executable, "-m", "trapline", "monitor", address],
            input="tree\ncancel holder\ncancel waiter\n",
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert "  task group (2 tasks)" in done.stdout
        assert "cancelled #2 holder\ncancelled #3 waiter\n" in done.stdout
        assert program.wait(timeout=30) == 0
        with idle, idle.makefile("rb") as file:
            # The greeting, then the end of the stream: the program closed the connection.
            lines = file.read().decode().splitlines()
            assert lines[0] == "ok 2" and len(lines) == 3
        assert program.stdout.read() == "main done\n"
        assert program.stderr.read() == ""
    assert not (tmp_path / "monitor.sock").exists()


def test_a_refused_address_is_reported_and_the_program_runs_on(tmp_path):
    with start(tmp_path, "0.0.0.0:48802") as program:
        program.stdin = None
        out, err = program.communicate(timeout=30)
    # The workers wait forever with nothing to wake them: without a monitor, a deadlock.
    assert program.returncode == 1
    assert err.startswith(
        "trapline: monitor not started (TRAPLINE_MONITOR=0.0.0.0:48802): the monitor listens on "
        "loopback or a Unix socket only, not '0.0.0.0'\n"
    )
    assert "DeadlockError: every task is waiting" in err


def test_the_client_says_when_nothing_listens(tmp_path, monkeypatch):
    done = client(f"unix:{tmp_path}/nothing.sock", "-c", "ps")
    assert done.returncode == 1
    assert done.stderr.startswith(f"cannot connect to the monitor at unix:{tmp_path}/nothing.sock")
    # Without an address, the client uses $TRAPLINE_MONITOR, as the program does.
    monkeypatch.setenv("TRAPLINE_MONITOR", f"unix:{tmp_path}/other.sock")
    done = client("-c", "ps")
    assert done.returncode == 1
    assert done.stderr.startswith(f"cannot connect to the monitor at unix:{tmp_path}/other.sock")
