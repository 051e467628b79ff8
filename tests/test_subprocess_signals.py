"""Subprocesses and signals."""

import os
import signal
import subprocess
import sys

import pytest

import trapline
from trapline._signals import open_signal_receiver
from trapline._subprocess import open_process, run_process


async def test_run_process_captures_output_and_feeds_input():
    result = await run_process(
        [
            sys.executable,
            "-c",
            "import sys; d = sys.stdin.read(); print(d.upper()); print('err', file=sys.stderr)",
        ],
        input=b"hello",
        capture_stdout=True,
        capture_stderr=True,
    )
    assert result.returncode == 0
    assert result.stdout == b"HELLO\n"
    assert result.stderr == b"err\n"


async def test_run_process_check_raises_on_failure():
    with pytest.raises(subprocess.CalledProcessError) as info:
        await run_process([sys.executable, "-c", "raise SystemExit(3)"])
    assert info.value.returncode == 3
    result = await run_process([sys.executable, "-c", "raise SystemExit(3)"], check=False)
    assert result.returncode == 3


def _our_children() -> list[tuple[str, str]]:
    """(state, cmdline) of every process whose parent is this one."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                fields = file.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as file:
                cmdline = file.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            found.append((fields[0], cmdline))
    return found


async def test_cancelling_run_process_terminates_and_reaps_the_child():
    marker = "trapline-reap-test-marker"
    with trapline.move_on_after(0.5) as scope:
        await run_process([sys.executable, "-c", f"import time; time.sleep(60)  # {marker}"])
    assert scope.cancelled_caught
    # Neither still running nor a zombie (a zombie is state Z, with an empty command line).
    children = _our_children()
    assert not [c for c in children if marker in c[1] or c[0] == "Z"], children


async def test_open_process_streams_lines():
    script = "import sys\nfor i in range(3): print('line', i, flush=True)\n"
    async with await open_process([sys.executable, "-c", script], stdout=subprocess.PIPE) as proc:
        lines = [line async for line in proc.stdout.lines()]
        assert await proc.wait() == 0
    assert lines == [b"line 0\n", b"line 1\n", b"line 2\n"]


async def test_child_that_ignores_sigterm_is_killed_after_the_grace_period(monkeypatch):
    import trapline._subprocess as sp

    monkeypatch.setattr(sp, "GRACE_PERIOD", 0.2)
    script = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    proc = await open_process([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert await proc.stdout.readline() == b"ready\n"
    await proc.aclose()
    assert proc.returncode == -signal.SIGKILL


async def test_signal_receiver_gets_signals_and_coalesces():
    with open_signal_receiver(signal.SIGUSR1, signal.SIGUSR2) as receiver:
        os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR2)
        with trapline.fail_after(5):
            first = await receiver.receive()
            second = await receiver.receive()
        assert (first, second) == (signal.SIGUSR1, signal.SIGUSR2)
        with trapline.move_on_after(0.05) as scope:
            await receiver.receive()
        assert scope.cancelled_caught
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL
