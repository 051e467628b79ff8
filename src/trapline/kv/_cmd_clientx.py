"""CLIENT PAUSE, UNPAUSE and UNBLOCK, as Redis 7.0 does them.

A pause holds commands where Redis does (``processCommand``): in ALL mode every command from
every client (CLIENT UNPAUSE from another connection included, as in Redis), in WRITE mode
commands that write or may replicate (an EXEC whose transaction writes). The server asks
``hold()`` before each command of its full path (``Server.gate``); a held command waits, off the
loop, until the pause ends or is lifted, then runs. The batch loop's fast path is left while a
pause is set (``_cmd_monitor.tracing``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trapline
from trapline.lowlevel import ParkingLot, reschedule

from ._commands import Blocked, Command, command, parse_int_arg
from ._db import CommandError
from ._resp import Error, Simple

if TYPE_CHECKING:
    from ._server import Client, Server

OK = Simple("OK")
_FLAGS = "admin noscript loading stale sentinel"


class Pause:
    """A server's client pause: until ``end_ms`` (server time), in mode "all" or "write"."""

    def __init__(self, server: Server, end_ms: int, mode: str) -> None:
        self.server = server
        self.end_ms = end_ms
        self.mode = mode
        self.lifted = ParkingLot("kv: CLIENT PAUSE")

    def active(self) -> bool:
        return self.server.now_ms() < self.end_ms

    def holds(self, client: Client, cmd: Command) -> bool:
        if not self.active():
            return False
        if self.mode == "all":
            return True
        flags = cmd.flags
        if "write" in flags or "may_replicate" in flags:
            return True
        if cmd.name == "exec" and client.multi:
            return any(queued.is_write for queued, _ in client.multi)
        return False


def pause_of(server: Server) -> Pause | None:
    pause = server.__dict__.get("_client_pause")
    if pause is not None and not pause.active():
        server.__dict__["_client_pause"] = None
        pause.lifted.unpark_all()
        server.gate = None
        return None
    return pause


def hold(client: Client, cmd: Command, argv: list[bytes]) -> Any:
    """``Server.gate``: None to run the command now, or a ``Blocked`` that runs it after the
    pause."""
    server = client.server
    pause = pause_of(server)
    if pause is None or not pause.holds(client, cmd):
        return None

    async def wait_then_run() -> Any:
        while True:
            current = pause_of(server)
            if current is None or not current.holds(client, cmd):
                break
            deadline = trapline.current_time() + (current.end_ms - server.now_ms()) / 1000
            with trapline.move_on_at(deadline):
                await current.lifted.park()
        reply = server.call(client, cmd, argv)
        if type(reply) is Blocked:
            reply = await server.block(client, reply, argv)
        if server._ready:
            server.serve_blocked()
        return reply

    return Blocked((), 0, lambda: None, None, wait_then_run)


@command("client|pause", -3, _FLAGS, keys=(0, 0, 0))
def client_pause(client: Client, argv: list[bytes]) -> Any:
    if len(argv) > 4:
        sub = argv[1].decode("utf-8", "replace")
        raise CommandError(
            f"ERR unknown subcommand or wrong number of arguments for '{sub}'. Try CLIENT HELP."
        )
    mode = "all"
    if len(argv) == 4:
        mode = argv[3].decode("latin-1").lower()
        if mode not in ("write", "all"):
            raise CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL")
    timeout = parse_int_arg(argv[2], "ERR timeout is not an integer or out of range")
    if timeout < 0:
        raise CommandError("ERR timeout is negative")
    server = client.server
    end_ms = server.now_ms() + timeout
    pause = server.__dict__.get("_client_pause")
    if pause is not None and pause.active():
        # Redis keeps the later end and the stricter mode of overlapping pauses.
        pause.end_ms = max(pause.end_ms, end_ms)
        if mode == "all":
            pause.mode = "all"
    else:
        server.__dict__["_client_pause"] = Pause(server, end_ms, mode)
        server.gate = hold
    return OK


@command("client|unpause", 2, _FLAGS, keys=(0, 0, 0))
def client_unpause(client: Client, argv: list[bytes]) -> Any:
    server = client.server
    pause = server.__dict__.get("_client_pause")
    if pause is not None:
        pause.end_ms = 0
        pause_of(server)
    return OK


@command("client|unblock", -3, _FLAGS, keys=(0, 0, 0))
def client_unblock(client: Client, argv: list[bytes]) -> Any:
    if len(argv) > 4:
        sub = argv[1].decode("utf-8", "replace")
        raise CommandError(
            f"ERR unknown subcommand or wrong number of arguments for '{sub}'. Try CLIENT HELP."
        )
    error = False
    if len(argv) == 4:
        reason = argv[3].lower()
        if reason not in (b"timeout", b"error"):
            raise CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
        error = reason == b"error"
    target_id = parse_int_arg(argv[2])
    server = client.server
    for waiters in list(server.blocked_on.values()):
        for waiter in list(waiters):
            if waiter.client.id != target_id or waiter.task is None:
                continue
            task = waiter.task
            waiter.task = None
            server._unblock(waiter)
            if error:
                reply: Any = Error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
            else:
                reply = waiter.blocked.on_timeout
            reschedule(task, reply)
            return 1
    return 0
