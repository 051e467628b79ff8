"""Subprocesses: ``run_process`` and ``open_process``, with cancellation that always cleans up.

A child's stdin/stdout/stderr pipes are ``FdStream``s (``async for line in proc.stdout.lines()``).
Waiting uses a pidfd on Linux (readable when the child exits, no SIGCHLD handler, no thread);
elsewhere a worker thread waits. Cancelling ``run_process`` (or leaving ``async with`` on an
unfinished process) terminates the child, kills it after a grace period, and reaps it, so no
zombie or orphan is left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from typing import IO

from ._core import CancelScope, TaskGroup, move_on_after
from ._fdstream import FdStream
from ._threads import run_sync
from .lowlevel import checkpoint, wait_readable

__all__ = ["CalledProcessError", "CompletedProcess", "Process", "open_process", "run_process"]

CompletedProcess = subprocess.CompletedProcess
CalledProcessError = subprocess.CalledProcessError

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
STDOUT = subprocess.STDOUT

#: Seconds between SIGTERM and SIGKILL when a process is cancelled.
GRACE_PERIOD = 5.0


class Process:
    """A running child process. ``returncode`` is None until it has been waited for."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self.args = popen.args
        self.pid = popen.pid
        self.stdin = self._adopt(popen.stdin)
        self.stdout = self._adopt(popen.stdout)
        self.stderr = self._adopt(popen.stderr)
        self._pidfd: int | None = None
        if hasattr(os, "pidfd_open"):
            try:
                self._pidfd = os.pidfd_open(popen.pid)
            except OSError:
                self._pidfd = None

    @staticmethod
    def _adopt(pipe: IO[bytes] | None) -> FdStream | None:
        if pipe is None:
            return None
        # Take the fd away from the file object so only the stream closes it.
        fd = os.dup(pipe.fileno())
        pipe.close()
        return FdStream(fd)

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode

    def __repr__(self) -> str:
        state = "running" if self.returncode is None else f"exited {self.returncode}"
        return f"<trapline Process {self.pid} {state}: {self.args!r}>"

    def poll(self) -> int | None:
        """The exit status if the child has exited (reaping it), else None."""
        return self._popen.poll()

    async def wait(self) -> int:
        """Wait for the child to exit and return its status. Checkpoint: yes. Cancellation:
        stops waiting (the child keeps running)."""
        if self.returncode is not None:
            await checkpoint()
            return self.returncode
        if self._pidfd is not None:
            while self._popen.poll() is None:
                await wait_readable(self._pidfd)
            self._close_pidfd()
        else:
            await run_sync(self._popen.wait, abandon_on_cancel=True)
        returncode = self._popen.returncode
        assert returncode is not None
        return returncode

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` if the child has not been reaped yet (safe against pid reuse)."""
        if self._pidfd is not None and hasattr(signal, "pidfd_send_signal"):
            try:
                signal.pidfd_send_signal(self._pidfd, signum)
            except ProcessLookupError:
                pass
        else:
            self._popen.send_signal(signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _close_pidfd(self) -> None:
        if self._pidfd is not None:
            from .lowlevel import notify_closing

            notify_closing(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None

    async def aclose(self) -> None:
        """Close the pipes; if the child still runs, terminate it (SIGKILL after the grace
        period) and reap it. Checkpoint: yes; it completes even when cancelled."""
        with CancelScope(shield=True):
            for stream in (self.stdin, self.stdout, self.stderr):
                if stream is not None:
                    await stream.aclose()
            if self.returncode is None:
                self.terminate()
                with move_on_after(GRACE_PERIOD):
                    await self.wait()
                if self.returncode is None:
                    self.kill()
                    await self.wait()
            self._close_pidfd()

    async def __aenter__(self) -> Process:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def open_process(
    command: str | Sequence[str],
    *,
    stdin: int | None = None,
    stdout: int | None = None,
    stderr: int | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    shell: bool = False,
) -> Process:
    """Start ``command``; pass ``subprocess.PIPE`` for stdio you want as streams. Use
    ``async with await open_process(...) as proc`` so it is always cleaned up. Checkpoint: yes.
    """
    await checkpoint()
    popen = subprocess.Popen(
        command, stdin=stdin, stdout=stdout, stderr=stderr, cwd=cwd, env=env, shell=shell
    )
    return Process(popen)


async def run_process(
    command: str | Sequence[str],
    *,
    input: bytes | None = None,
    capture_stdout: bool = False,
    capture_stderr: bool = False,
    check: bool = True,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    shell: bool = False,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``command`` to completion; returns a ``subprocess.CompletedProcess``.

    Checkpoint: yes. ``input`` is fed to stdin (otherwise stdin is /dev/null). With ``check``,
    a non-zero exit raises ``subprocess.CalledProcessError``. Cancellation: the child is
    terminated, killed after ``GRACE_PERIOD`` seconds if needed, and reaped, then ``Cancelled``
    propagates.
    """
    process = await open_process(
        command,
        stdin=PIPE if input is not None else DEVNULL,
        stdout=PIPE if capture_stdout else None,
        stderr=PIPE if capture_stderr else None,
        cwd=cwd,
        env=env,
        shell=shell,
    )
    output: dict[str, bytes] = {}

    async def feed() -> None:
        assert process.stdin is not None and input is not None
        try:
            await process.stdin.send_all(input)
        except Exception:
            pass  # the child stopped reading; its exit status tells the story
        await process.stdin.aclose()

    async def collect(name: str, stream: FdStream) -> None:
        chunks = []
        async for chunk in stream:
            chunks.append(chunk)
        output[name] = b"".join(chunks)

    async with process, TaskGroup() as tg:
        if input is not None:
            tg.spawn(feed)
        if process.stdout is not None:
            tg.spawn(collect, "stdout", process.stdout)
        if process.stderr is not None:
            tg.spawn(collect, "stderr", process.stderr)
        await process.wait()
    returncode = process.returncode
    assert returncode is not None
    result: subprocess.CompletedProcess[bytes] = subprocess.CompletedProcess(
        process.args, returncode, output.get("stdout"), output.get("stderr")
    )
    if check and returncode:
        raise CalledProcessError(returncode, process.args, result.stdout, result.stderr)
    return result
