"""Connection commands: PING, ECHO, QUIT, SELECT (HELLO, AUTH, CLIENT... live in _cmd_server)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._commands import command, parse_int_arg
from ._db import CommandError
from ._resp import Simple

if TYPE_CHECKING:
    from ._server import Client

OK = Simple("OK")
PONG = Simple("PONG")


@command("ping", -1, "fast sentinel", keys=(0, 0, 0))
def ping(client: Client, argv: list[bytes]) -> Any:
    if len(argv) > 2:
        raise CommandError("ERR wrong number of arguments for 'ping' command")
    if (client.channels or client.patterns or client.shard_channels) and not client.resp3:
        # (client.in_pubsub, spelled out: PING is the benchmarks' first test)
        return [b"pong", argv[1] if len(argv) == 2 else b""]
    return argv[1] if len(argv) == 2 else PONG


@command("echo", 2, "loading stale fast", keys=(0, 0, 0))
def echo(client: Client, argv: list[bytes]) -> Any:
    return argv[1]


@command("quit", -1, "no_auth noscript loading stale fast allow_busy", keys=(0, 0, 0))
def quit_(client: Client, argv: list[bytes]) -> Any:
    client.closing = True
    return OK


@command("select", 2, "loading stale fast", keys=(0, 0, 0))
def select(client: Client, argv: list[bytes]) -> Any:
    index = parse_int_arg(argv[1])
    if index < -(2**31) or index > 2**31 - 1:
        raise CommandError("ERR value is out of range")
    if index < 0 or index >= len(client.server.dbs):
        raise CommandError("ERR DB index is out of range")
    client.db = client.server.dbs[index]
    return OK
