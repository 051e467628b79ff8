"""Typed command methods: ``CommandsMixin`` gathers every group, plus server, connection and
pub/sub commands.

Each method is a plain function returning an ``Awaitable``: on a client, ``await db.get(k)``
sends the command and returns the reply as a Python value; in a pipeline or a transaction after
``multi()``, ``p.get(k)`` queues it. On a client every command method is a checkpoint; it raises
``ResponseError`` for an error reply and ``ConnectionLost`` if the connection dropped during the
command (which may or may not have run, and is never retried). Cancellation closes the
connection the command was using; the command may or may not have run.

Values come back as ``bytes`` (``str`` with ``decode_responses=True``); anything without a method
is ``await db.execute("CMD", *args)``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from ._client_cmds_base import (
    CommandsBase,
    Key,
    S,
    Value,
    client_info,
    client_list,
    identity,
    info_dict,
    ok,
    option,
    pairs,
    to_dict,
    to_list,
)
from ._client_cmds_coll import HashCommands, ListCommands, SetCommands
from ._client_cmds_keys import KeyCommands, StringCommands
from ._client_cmds_zset import SortedSetCommands

__all__ = ["CommandsMixin"]


def _pong(reply: Any) -> bool:
    return reply in (b"PONG", "PONG") or (isinstance(reply, list) and reply[0] in (b"pong", "pong"))


def _time(reply: Any) -> tuple[int, int]:
    return int(reply[0]), int(reply[1])


def _numsub(reply: Any) -> list[tuple[Any, int]]:
    if isinstance(reply, dict):
        return [(channel, int(count)) for channel, count in reply.items()]
    return [(channel, int(count)) for channel, count in pairs(reply)]


class ServerCommands(CommandsBase[S]):
    """Connection, server and pub/sub publishing commands."""

    __slots__ = ()

    def ping(self) -> Awaitable[bool]:
        """PING: True when the server answers PONG."""
        return self._run(("PING",), _pong)

    def echo(self, value: Value) -> Awaitable[S]:
        return self._run(("ECHO", value), identity)

    def time(self) -> Awaitable[tuple[int, int]]:
        """TIME: ``(unix_seconds, microseconds)`` on the server's clock."""
        return self._run(("TIME",), _time)

    def info(self, *sections: str) -> Awaitable[dict[str, Any]]:
        """INFO as a dict: numbers as int/float, ``db0`` and friends as dicts."""
        return self._run(("INFO", *sections), info_dict)

    def lastsave(self) -> Awaitable[int]:
        return self._run(("LASTSAVE",), identity)

    def config_get(self, *patterns: str) -> Awaitable[dict[S, S]]:
        """CONFIG GET: ``{name: value}`` for the parameters matching ``patterns``."""
        return self._run(("CONFIG", "GET", *(patterns or ("*",))), to_dict)

    def config_set(self, name: str, value: Value, *more: Value) -> Awaitable[bool]:
        """CONFIG SET name value [name value ...]."""
        return self._run(("CONFIG", "SET", name, value, *more), ok)

    def config_resetstat(self) -> Awaitable[bool]:
        return self._run(("CONFIG", "RESETSTAT"), ok)

    def client_id(self) -> Awaitable[int]:
        """CLIENT ID of the pooled connection that ran the command."""
        return self._run(("CLIENT", "ID"), identity)

    def client_info(self) -> Awaitable[dict[str, str]]:
        """CLIENT INFO of the pooled connection that ran the command, as a dict."""
        return self._run(("CLIENT", "INFO"), client_info)

    def client_list(self, *, type: str | None = None) -> Awaitable[list[dict[str, str]]]:
        """CLIENT LIST: one dict per connected client (``id``, ``addr``, ``cmd``, ``flags``...)."""
        return self._run(("CLIENT", "LIST", *option("TYPE", type)), client_list)

    def client_kill(
        self,
        *,
        id: int | None = None,
        addr: str | None = None,
        laddr: str | None = None,
        skipme: bool | None = None,
    ) -> Awaitable[int]:
        """CLIENT KILL with filters: how many clients were closed."""
        args = ["CLIENT", "KILL", *option("ID", id), *option("ADDR", addr)]
        args += option("LADDR", laddr)
        if skipme is not None:
            args += ["SKIPME", "yes" if skipme else "no"]
        return self._run(tuple(args), identity)

    def command_count(self) -> Awaitable[int]:
        return self._run(("COMMAND", "COUNT"), identity)

    def publish(self, channel: Key, message: Value) -> Awaitable[int]:
        """PUBLISH: how many subscribers received the message (on this node)."""
        return self._run(("PUBLISH", channel, message), identity)

    def pubsub_channels(self, pattern: Key | None = None) -> Awaitable[list[S]]:
        return self._run(("PUBSUB", "CHANNELS", *([] if pattern is None else [pattern])), to_list)

    def pubsub_numsub(self, *channels: Key) -> Awaitable[list[tuple[S, int]]]:
        return self._run(("PUBSUB", "NUMSUB", *channels), _numsub)

    def pubsub_numpat(self) -> Awaitable[int]:
        return self._run(("PUBSUB", "NUMPAT"), identity)


class CommandsMixin(
    StringCommands[S],
    ServerCommands[S],
    KeyCommands[S],
    HashCommands[S],
    ListCommands[S],
    SetCommands[S],
    SortedSetCommands[S],
):
    """Every typed command; subclasses implement ``_run(args, transform)``."""

    __slots__ = ()
