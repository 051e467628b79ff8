"""The command table: every command is a function registered with its Redis metadata.

``@command("get", 2, "readonly fast")`` registers ``get``; ``arity`` follows Redis (``n`` means
exactly ``n`` words including the name, ``-n`` at least ``n``); ``keys`` is Redis's
``(first, last, step)``. A name with a ``|`` registers a subcommand of a container command
(``config|get``). Handlers take ``(client, argv)`` with ``argv[0]`` the command name as sent and
return a reply value (see ``_resp.py``), raise ``CommandError``, or return ``Blocked`` to wait.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._db import CommandError
from ._resp import parse_int

if TYPE_CHECKING:
    from ._server import Client

__all__ = [
    "COMMANDS",
    "Blocked",
    "Command",
    "command",
    "parse_int_arg",
    "syntax_error",
]

Handler = Callable[["Client", list[bytes]], Any]


@dataclass
class Command:
    name: str
    handler: Handler | None
    arity: int
    flags: frozenset[str]
    first_key: int = 0
    last_key: int = 0
    step: int = 0
    subcommands: dict[bytes, Command] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.name_bytes = self.name.encode()

    @property
    def fullname(self) -> str:
        return self.name

    @property
    def is_write(self) -> bool:
        return "write" in self.flags


COMMANDS: dict[bytes, Command] = {}


def command(
    name: str, arity: int, flags: str = "", keys: tuple[int, int, int] = (1, 1, 1)
) -> Callable[[Handler], Handler]:
    """Register the decorated handler as Redis command ``name``."""

    def register(handler: Handler) -> Handler:
        flag_set = frozenset(flags.split())
        first, last, step = keys if "nokeys" not in flag_set else (0, 0, 0)
        entry = Command(name, handler, arity, flag_set, first, last, step)
        if "|" in name:
            parent_name, sub = name.split("|", 1)
            parent = COMMANDS.get(parent_name.encode())
            if parent is None:
                parent = COMMANDS[parent_name.encode()] = Command(
                    parent_name, None, -2, frozenset()
                )
            parent.subcommands[sub.encode()] = entry
        else:
            if name.encode() in COMMANDS:
                raise RuntimeError(f"command {name!r} registered twice")
            COMMANDS[name.encode()] = entry
        return handler

    return register


@dataclass
class Blocked:
    """Returned by a blocking command that found nothing to do yet.

    The server parks the client until one of ``keys`` is touched (then calls ``retry()``; a
    non-None result is the reply) or ``deadline_ms`` (absolute server time; 0 means forever)
    passes, when it replies ``on_timeout``. With ``run`` (MIGRATE's network I/O), the server
    instead awaits ``run()`` for the reply.
    """

    keys: Sequence[bytes]
    deadline_ms: int
    retry: Callable[[], Any]
    on_timeout: Any = None
    run: Callable[[], Awaitable[Any]] | None = None


def syntax_error() -> CommandError:
    return CommandError("ERR syntax error")


def parse_int_arg(arg: bytes, message: str = "ERR value is not an integer or out of range") -> int:
    value = parse_int(arg)
    if value is None:
        raise CommandError(message)
    return value
