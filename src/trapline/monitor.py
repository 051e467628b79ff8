"""The monitor: attach to a running program and see (and cancel) its tasks.

Start a program with ``TRAPLINE_MONITOR=1`` in its environment and every ``trapline.run`` in it
serves the monitor on ``127.0.0.1:48802`` (``TRAPLINE_MONITOR=127.0.0.1:PORT``, ``=PORT`` or
``=unix:/path`` choose the address; only loopback and Unix sockets are accepted, since whoever
connects can cancel tasks, and a Unix socket is made owner-only). ``python -m trapline
monitor`` connects to it and offers ``ps``, ``tree``, ``where TASK``, ``cancel TASK``, ``help``
and ``quit``.

The server is a system task started by a default instrument's ``before_run`` hook, so it is
cancelled when the main task finishes and never keeps the program alive, and an error in it
(the address is taken, a client misbehaves) is reported on stderr, never raised into the
program. The instrument is registered only when the variable is set when trapline is imported:
unset, the monitor costs nothing. It also disables the deadlock detector for that run (a
listening socket could always wake a task), which is what you want: a hung program stays up to
be looked at.

The protocol is lines of UTF-8 text. The client sends one command per line; every reply (and a
greeting on connect) is a header line ``ok N`` or ``error N`` followed by ``N`` lines. With
``nc`` or ``socat`` it reads well enough by hand.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO, final

from ._core import BrokenResourceError, Cancelled, ClosedResourceError, current_time
from ._streams import LimitOverrunError, Stream
from ._tcp import SocketListener, open_tcp_listeners, open_unix_listener, serve_listeners
from .lowlevel import (
    Instrument,
    Task,
    TaskNode,
    add_default_instrument,
    add_instrument,
    await_chain,
    current_task,
    remove_instrument,
    spawn_system_task,
    task_tree,
)

__all__ = ["DEFAULT_ADDRESS", "ENV_VAR", "MonitorAddress", "parse_address", "serve_monitor"]

#: The environment variable that turns the monitor on.
ENV_VAR = "TRAPLINE_MONITOR"
#: Where ``TRAPLINE_MONITOR=1`` serves.
DEFAULT_ADDRESS = "127.0.0.1:48802"

_MAX_LINE = 4096
_HELP = (
    "ps             every task: id, name, state, for how long, what it waits for",
    "tree           the tasks under the task groups that own them",
    "where TASK     TASK's await chain, file:line of each frame (TASK: an id or a name)",
    "cancel TASK    cancel TASK (it raises Cancelled at its next checkpoint)",
    "help           this list",
    "quit           close this connection (the program carries on)",
)


@final
@dataclass(frozen=True)
class MonitorAddress:
    """Where a monitor listens: ``host``/``port`` on loopback, or a Unix socket ``path``."""

    host: str = "127.0.0.1"
    port: int = 48802
    path: str | None = None

    def __str__(self) -> str:
        if self.path is not None:
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_address(text: str) -> MonitorAddress:
    """Parse a ``TRAPLINE_MONITOR`` value: ``1`` (the default address), ``PORT``,
    ``HOST:PORT`` (a loopback host), or ``unix:PATH``. ``ValueError`` for anything else, notably
    a host that is not loopback."""
    text = text.strip()
    if text.lower() in ("1", "yes", "on", "true"):
        text = DEFAULT_ADDRESS
    if text.startswith("unix:"):
        path = text[5:]
        if not path:
            raise ValueError("unix: needs a path, as in unix:/tmp/monitor.sock")
        return MonitorAddress(path=path)
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "127.0.0.1", text
    host = host.strip("[]")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"not a monitor address: {text!r} (try 127.0.0.1:48802)") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port out of range: {port}")
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"the monitor listens on loopback or a Unix socket only, not {host!r}")
    return MonitorAddress(host=host, port=port)


# -- the server --------------------------------------------------------------------------------


class _Ages(Instrument):
    """Remembers when each task last stepped, which for a waiting task is when it began to
    wait: what ``ps`` shows as FOR."""

    def __init__(self) -> None:
        now = current_time()
        self.since: dict[Task, float] = {}
        for node in _walk(task_tree()):
            self.since[node.task] = now

    def task_spawned(self, task: Task) -> None:
        self.since[task] = current_time()

    def after_task_step(self, task: Task) -> None:
        self.since[task] = current_time()

    def task_exited(self, task: Task) -> None:
        self.since.pop(task, None)


def _walk(nodes: Sequence[TaskNode]) -> list[TaskNode]:
    found: list[TaskNode] = []
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        found.append(node)
        for group in reversed(node.groups):
            stack.extend(reversed(group))
    return found


class _Session:
    """One connection's command interpreter."""

    def __init__(self, ages: _Ages, root: Task) -> None:
        self.ages = ages
        self.root = root  # the monitor's own task: it and its children are not to be cancelled

    def run(self, line: str) -> tuple[bool, list[str]]:
        words = line.split()
        if not words:
            return True, []
        command, args = words[0].lower(), words[1:]
        if command == "ps" and not args:
            return True, self.ps()
        if command == "tree" and not args:
            return True, self.tree()
        if command in ("where", "cancel") and len(args) == 1:
            task = self.find(args[0])
            if isinstance(task, str):
                return False, [task]
            return (True, self.where(task)) if command == "where" else self.cancel(task)
        if command == "help" and not args:
            return True, list(_HELP)
        if command in ("ps", "tree", "where", "cancel", "help"):
            usage = {"where": "where TASK", "cancel": "cancel TASK"}.get(command, command)
            return False, [f"usage: {usage}"]
        return False, [f"unknown command {command[:40]!r}; try help"]

    def ps(self) -> list[str]:
        now = current_time()
        lines = [f"{'ID':>4}  {'NAME':<24} {'STATE':<8} {'FOR':>8}  WAITING FOR"]
        nodes = sorted(_walk(task_tree()), key=lambda node: node.task.id)
        for node in nodes:
            since = self.ages.since.get(node.task)
            age = "-" if since is None else f"{now - since:.1f}s"
            reason = node.wait_reason or ""
            lines.append(f"{node.task.id:>4}  {node.name:<24} {node.state:<8} {age:>8}  {reason}")
        return lines

    def tree(self) -> list[str]:
        lines: list[str] = []

        def emit(node: TaskNode, depth: int) -> None:
            pad = "  " * depth
            what = node.state if node.wait_reason is None else f"{node.state}: {node.wait_reason}"
            lines.append(f"{pad}#{node.task.id} {node.name} [{what}]")
            for group in node.groups:
                lines.append(f"{pad}  task group ({len(group)} tasks)")
                for child in group:
                    emit(child, depth + 2)

        for node in task_tree():
            emit(node, 0)
        return lines

    def where(self, task: Task) -> list[str]:
        what = task.state if task.wait_reason is None else f"{task.state}: {task.wait_reason}"
        return [f"#{task.id} {task.name} [{what}]"] + [
            f"  at {frame}" for frame in await_chain(task.coro)
        ]

    def cancel(self, task: Task) -> tuple[bool, list[str]]:
        mine = [node for node in _walk(task_tree()) if node.task is self.root]
        if task in {node.task for node in _walk(mine)}:
            return False, [f"#{task.id} {task.name} is the monitor itself; not cancelled"]
        task.cancel(f"cancelled from the trapline monitor (task {task.name!r})")
        return True, [f"cancelled #{task.id} {task.name}"]

    def find(self, key: str) -> Task | str:
        """The task ``key`` names (``3``, ``#3`` or a name), or an error message."""
        tasks = [node.task for node in _walk(task_tree())]
        number = key[1:] if key.startswith("#") else key
        if number.isdigit():
            for task in tasks:
                if task.id == int(number):
                    return task
            return f"no task #{number} (finished, or never was; see ps)"
        named = [task for task in tasks if task.name == key]
        if len(named) == 1:
            return named[0]
        if not named:
            return f"no task named {key[:60]!r} (see ps)"
        ids = ", ".join(f"#{task.id}" for task in named)
        return f"{len(named)} tasks are named {key!r}: {ids}; give an id"


def _reply(ok: bool, lines: list[str]) -> bytes:
    flat = [part for line in lines for part in line.splitlines() or [""]]
    head = f"{'ok' if ok else 'error'} {len(flat)}\n"
    return (head + "".join(f"{line}\n" for line in flat)).encode("utf-8", "replace")


async def _handle(stream: Stream, session: _Session) -> None:
    try:
        greeting = f"trapline monitor, pid {os.getpid()}: {' '.join(sys.argv)[:200]}"
        await stream.send_all(_reply(True, [greeting, "type help for the commands"]))
        skipping = False  # discarding the rest of an over-long line
        while True:
            try:
                raw = await stream.readline(_MAX_LINE)
            except LimitOverrunError as error:
                await stream.readexactly(error.consumed)
                if not skipping:
                    await stream.send_all(_reply(False, [f"line longer than {_MAX_LINE} bytes"]))
                skipping = True
                continue
            if not raw:
                return
            if skipping:
                skipping = False
                continue
            line = raw.decode("utf-8", "replace").strip()
            if line.lower() in ("quit", "exit"):
                await stream.send_all(_reply(True, ["bye"]))
                return
            try:
                ok, lines = session.run(line)
            except Exception as error:  # a bug here must not take the program down
                ok, lines = False, [f"internal error: {error!r}"]
            await stream.send_all(_reply(ok, lines))
    except (OSError, BrokenResourceError, ClosedResourceError):
        return  # the client went away: nothing to answer


async def serve_monitor(
    address: str | MonitorAddress = DEFAULT_ADDRESS,
    *,
    on_listening: Callable[[MonitorAddress], None] | None = None,
) -> None:
    """Serve the monitor on ``address`` (see ``parse_address``) from inside a running program,
    until cancelled; ``on_listening(address)`` is called once it listens (with the real port
    when ``port`` was 0). This is what ``TRAPLINE_MONITOR`` starts in every run; call it
    yourself to serve from a task group of your own.

    Checkpoint: yes; returns only by being cancelled, which closes the listener and every
    connection. Raises ``ValueError`` for a bad address and ``OSError`` if it cannot listen.
    """
    if isinstance(address, str):
        address = parse_address(address)
    listeners: list[SocketListener]
    if address.path is not None:
        listeners = [open_unix_listener(address.path)]
        os.chmod(address.path, 0o600)  # whoever can connect can cancel tasks: owner only
    else:
        listeners = await open_tcp_listeners(address.port, host=address.host)
        port = listeners[0].socket.getsockname()[1]
        address = MonitorAddress(host=address.host, port=port)
    ages = _Ages()
    add_instrument(ages)
    session = _Session(ages, current_task())
    try:
        if on_listening is not None:
            on_listening(address)

        async def handler(stream: Stream) -> None:
            await _handle(stream, session)

        await serve_listeners(handler, listeners)
    finally:
        remove_instrument(ages)
        if address.path is not None:
            try:
                os.unlink(address.path)
            except OSError:
                pass


# -- TRAPLINE_MONITOR --------------------------------------------------------------------------


def _announce(address: MonitorAddress) -> None:
    print(
        f"trapline: monitor listening on {address} (python -m trapline monitor {address})",
        file=sys.stderr,
        flush=True,
    )


async def _serve_from_environment(text: str) -> None:
    try:
        await serve_monitor(text, on_listening=_announce)
    except Cancelled:
        raise
    except Exception as error:
        # A system task's error would end the program: the monitor must never do that.
        print(f"trapline: monitor not started ({ENV_VAR}={text}): {error}", file=sys.stderr)


@final
class _EnvironmentMonitor(Instrument):
    """Starts the monitor in each run (a default instrument, registered only when the
    environment asks for it; ``before_run`` is its only hook, so steps pay nothing extra)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def before_run(self) -> None:
        spawn_system_task(_serve_from_environment, self.text, name="trapline.monitor")


def _install_from_environment() -> None:
    text = os.environ.get(ENV_VAR, "").strip()
    if text and text.lower() not in ("0", "no", "off", "false"):
        add_default_instrument(_EnvironmentMonitor(text))


# -- the client: python -m trapline monitor ----------------------------------------------------


def _connect(address: MonitorAddress, timeout: float) -> socket.socket:
    if address.path is not None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(address.path)
        except BaseException:
            sock.close()
            raise
        return sock
    return socket.create_connection((address.host, address.port), timeout=timeout)


def _read_reply(file: BinaryIO) -> tuple[bool, list[str]] | None:
    read = file.readline
    head = read().decode("utf-8", "replace")
    if not head:
        return None
    status, _, count = head.strip().partition(" ")
    lines = [read().decode("utf-8", "replace").rstrip("\n") for _ in range(int(count or 0))]
    return status == "ok", lines


def client_main(argv: Sequence[str] | None = None) -> int:
    """``python -m trapline monitor [ADDRESS] [-c COMMAND]...``: the monitor's client."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="trapline monitor",
        description="Attach to a program started with TRAPLINE_MONITOR=1 (or =ADDRESS).",
    )
    default = os.environ.get(ENV_VAR, "") or "1"
    parser.add_argument(
        "address",
        nargs="?",
        default=default,
        help=f"127.0.0.1:PORT, PORT or unix:PATH (default: ${ENV_VAR}, else {DEFAULT_ADDRESS})",
    )
    parser.add_argument(
        "-c", "--command", action="append", help="run this command and exit (repeatable)"
    )
    args = parser.parse_args(argv)
    try:
        address = parse_address(args.address)
    except ValueError as error:
        parser.error(str(error))
    try:
        sock = _connect(address, timeout=10.0)
    except OSError as error:
        print(
            f"cannot connect to the monitor at {address}: {error}\n"
            f"(was the program started with {ENV_VAR}={address}?)",
            file=sys.stderr,
        )
        return 1
    with sock, sock.makefile("rb") as file:
        sock.settimeout(None)
        greeting = _read_reply(file)
        if greeting is None:
            print("the program closed the connection", file=sys.stderr)
            return 1
        if not args.command:
            print("\n".join(greeting[1]))
        commands = iter(args.command) if args.command else _prompt()
        for command in commands:
            try:
                sock.sendall(command.encode() + b"\n")
                reply = _read_reply(file)
            except OSError:  # reset: the program ended with our command unread
                reply = None
            if reply is None:
                print("the program has finished (connection closed)", file=sys.stderr)
                return 1
            ok, lines = reply
            for line in lines:
                print(line if ok else f"error: {line}")
            if command.strip().lower() in ("quit", "exit"):
                break
    return 0


def _prompt() -> Iterator[str]:
    interactive = sys.stdin.isatty()
    if interactive:
        try:
            import readline  # noqa: F401  (line editing and history for input())
        except ImportError:  # pragma: no cover
            pass
    while True:
        try:
            line = input("monitor> " if interactive else "")
        except EOFError:
            yield "quit"
            return
        if line.strip():
            yield line
