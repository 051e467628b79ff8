"""CLIENT PAUSE, UNPAUSE, UNBLOCK and REPLY, as Redis 7.0 does them.

A pause holds commands where Redis does (``processCommand``): in ALL mode every command from
every client (CLIENT UNPAUSE from another connection included, as in Redis), in WRITE mode
commands that write or may replicate (an EXEC whose transaction writes). The server asks
``hold()`` before each command of its full path (``Server.gate``); a held command waits, off the
loop, until the pause ends or is lifted, then runs. The batch loop's fast path is left while a
pause is set (``_cmd_monitor.tracing``).

CLIENT REPLY OFF/SKIP go through the same gate: the commands of a client that turned its
replies off run there, and their replies become ``NoReply``. (Pub/sub messages still reach such
a client; Redis drops them too.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trapline
from trapline.lowlevel import ParkingLot, reschedule

from ._cmd_monitor import refresh_tracing
from ._commands import Blocked, Command, command, parse_int_arg
from ._db import CommandError
from ._resp import Error, NoReply, Simple

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
        _update_gate(server)
        return None
    return pause


def _reply_modes(server: Server) -> dict[Client, str]:
    """Clients whose replies are off ("off") or skip the next command's ("skip")."""
    modes = server.__dict__.get("_reply_modes")
    if modes is None:
        modes = server.__dict__["_reply_modes"] = {}
        server.disconnect_hooks.append(lambda client: modes.pop(client, None))
    assert isinstance(modes, dict)
    return modes


def _update_gate(server: Server) -> None:
    paused = server.__dict__.get("_client_pause") is not None
    server.gate = hold if paused or _reply_modes(server) else None
    refresh_tracing(server)


def _filtered(client: Client, before: str | None, reply: Any) -> Any:
    """The reply as the client's CLIENT REPLY mode lets it out (``before``: the mode when the
    command started)."""
    modes = _reply_modes(client.server)
    after = modes.get(client)
    if before is None or after != before:
        return reply  # no mode, or the command changed it (CLIENT REPLY, RESET)
    if before == "skip":
        del modes[client]
        _update_gate(client.server)
    return NoReply


def hold(client: Client, cmd: Command, argv: list[bytes]) -> Any:
    """``Server.gate``: None to run the command now, or its reply (CLIENT REPLY), or a
    ``Blocked`` that runs it after the pause."""
    server = client.server
    modes = _reply_modes(server)
    if cmd.name == "reset" and client in modes:
        del modes[client]  # RESET turns replies back on (and is answered)
        _update_gate(server)
    before = modes.get(client)
    pause = pause_of(server)
    if pause is None or not pause.holds(client, cmd):
        if before is None:
            return None
        reply = server.call(client, cmd, argv)
        if type(reply) is Blocked:
            blocked = reply

            async def block() -> Any:
                return _filtered(client, before, await server.block(client, blocked, argv))

            return Blocked((), 0, lambda: None, None, block)
        if server._ready:
            server.serve_blocked()
        return _filtered(client, before, reply)

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
        return _filtered(client, before, reply)

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
        _update_gate(server)
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


@command("client|reply", 3, "noscript loading stale sentinel", keys=(0, 0, 0))
def client_reply(client: Client, argv: list[bytes]) -> Any:
    option = argv[2].lower()
    modes = _reply_modes(client.server)
    if option == b"on":
        modes.pop(client, None)
        reply: Any = OK
    elif option == b"off":
        modes[client] = "off"
        reply = NoReply
    elif option == b"skip":
        if modes.get(client) != "off":
            modes[client] = "skip"
        reply = NoReply
    else:
        raise CommandError("ERR syntax error")
    _update_gate(client.server)
    return reply
