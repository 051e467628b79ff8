"""The base of the typed command methods, and the reply transforms they share.

A command method builds the arguments and names a transform from the raw reply to a Python
value, then hands both to ``_run``. What ``_run`` does is the subclass's business: a client sends
the command and awaits the reply, a pipeline queues it. So every method is a plain function
returning an ``Awaitable``: ``await db.get(k)`` on a client, ``p.get(k)`` in a pipeline.

Transforms also smooth over RESP2 and RESP3: a hash is a ``dict`` whether it came as a flat
array or a map, a score is a ``float`` whether it came as a bulk string or a double.
"""

from __future__ import annotations

import builtins
import datetime
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

__all__ = ["CommandsBase", "Key", "S", "Value"]

S = TypeVar("S", bytes, str)
T = TypeVar("T")

Key = str | bytes
"""A key, field, channel or member name: ``str`` (sent as UTF-8) or ``bytes``."""

Value = str | bytes | int | float
"""A value to store: ints and floats are sent in decimal, as Redis expects."""

Seconds = float | datetime.timedelta
Moment = float | datetime.datetime


class CommandsBase(Generic[S]):
    """The typed commands. Subclasses implement ``_run(args, transform)``.

    Every command method returns an awaitable; awaiting it is a checkpoint (one round trip, or
    one queued command in a pipeline). Raises ``ResponseError`` for an error reply from the
    server, ``ConnectionLost`` when the connection drops during the command (the command may
    or may not have run; nothing is retried), ``ProtocolViolation`` for a reply that is not
    RESP. Cancellation: the connection the command used is closed rather than reused (its reply
    would arrive for nobody), so the command may or may not have run on the server.
    """

    __slots__ = ()

    def _run(self, args: tuple[Any, ...], transform: Callable[[Any], T]) -> Awaitable[T]:
        raise NotImplementedError  # pragma: no cover


# -- argument helpers ------------------------------------------------------------------------


def flatten(mapping: Mapping[Any, Any] | Iterable[tuple[Any, Any]]) -> list[Any]:
    items = mapping.items() if isinstance(mapping, Mapping) else mapping
    return [item for pair in items for item in pair]


def seconds(value: Seconds) -> float:
    return value.total_seconds() if isinstance(value, datetime.timedelta) else value


def expiry_args(
    ex: Seconds | None = None,
    px: int | None = None,
    exat: Moment | None = None,
    pxat: int | None = None,
) -> list[Any]:
    """EX/PX/EXAT/PXAT arguments: whole seconds go as EX/EXAT, fractions as milliseconds."""
    args: list[Any] = []
    if ex is not None:
        ex = seconds(ex)
        args += ["EX", int(ex)] if ex == int(ex) else ["PX", round(ex * 1000)]
    if px is not None:
        args += ["PX", px]
    if exat is not None:
        when = exat.timestamp() if isinstance(exat, datetime.datetime) else exat
        args += ["EXAT", int(when)] if when == int(when) else ["PXAT", round(when * 1000)]
    if pxat is not None:
        args += ["PXAT", pxat]
    return args


def flags(**named: bool) -> list[str]:
    """``flags(nx=True, ch=False)`` -> ``["NX"]``."""
    return [name.upper() for name, wanted in named.items() if wanted]


def option(name: str, value: Any) -> list[Any]:
    return [] if value is None else [name, value]


def timeout_arg(timeout: Seconds) -> int | float:
    value = seconds(timeout)
    if value < 0:
        raise ValueError("timeout must be >= 0 (0 waits forever)")
    return int(value) if value == int(value) else value


# -- reply transforms ------------------------------------------------------------------------


def identity(reply: Any) -> Any:
    return reply


def to_bool(reply: Any) -> bool:
    return bool(reply)


def to_int(reply: Any) -> int:
    return int(reply)


def ok(reply: Any) -> bool:
    """``+OK`` -> True; a null reply (NX/XX not met) -> False."""
    return reply is not None


def to_float(reply: Any) -> float:
    return float(reply)


def opt_float(reply: Any) -> float | None:
    return None if reply is None else float(reply)


def floats(reply: Any) -> list[float | None]:
    return [None if item is None else float(item) for item in reply]


def bools(reply: Any) -> list[bool]:
    return [bool(item) for item in reply]


def to_dict(reply: Any) -> dict[Any, Any]:
    """A RESP3 map, or a RESP2 flat array of alternating keys and values."""
    if isinstance(reply, dict):
        return reply
    if reply is None:
        return {}
    return dict(zip(reply[::2], reply[1::2], strict=True))


def to_set(reply: Any) -> builtins.set[Any]:
    return reply if isinstance(reply, builtins.set) else builtins.set(reply)


def to_list(reply: Any) -> list[Any]:
    return list(reply) if reply is not None else []


def pairs(reply: Any) -> list[tuple[Any, Any]]:
    """A RESP3 array of pairs or a RESP2 flat array -> ``[(a, b), ...]``."""
    if not reply:
        return []
    if isinstance(reply[0], list):
        return [(a, b) for a, b in reply]
    return list(zip(reply[::2], reply[1::2], strict=True))


def scored(reply: Any) -> list[tuple[Any, float]]:
    """Members with scores -> ``[(member, score), ...]`` with float scores."""
    return [(member, float(score)) for member, score in pairs(reply)]


def maybe_scored(withscores: bool) -> Callable[[Any], Any]:
    return scored if withscores else to_list


def key_and_value(reply: Any) -> tuple[Any, Any] | None:
    return None if reply is None else (reply[0], reply[1])


def key_member_score(reply: Any) -> tuple[Any, Any, float] | None:
    return None if reply is None else (reply[0], reply[1], float(reply[2]))


def key_and_list(reply: Any) -> tuple[Any, list[Any]] | None:
    return None if reply is None else (reply[0], list(reply[1]))


def key_and_scored(reply: Any) -> tuple[Any, list[tuple[Any, float]]] | None:
    return None if reply is None else (reply[0], scored(reply[1]))


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def info_dict(reply: Any) -> dict[str, Any]:
    """INFO text -> ``{"redis_version": "7.0.15", "connected_clients": 1, "db0": {...}}``:
    numbers as int or float, ``k=v,k=v`` values as dicts."""
    result: dict[str, Any] = {}
    for line in text(reply).splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition(":")
        result[name] = _info_value(value)
    return result


def _info_value(value: str) -> Any:
    if ("=" in value and "," in value) or value.startswith(("keys=", "ip=")):
        return {
            k: _info_value(v) for k, _, v in (part.partition("=") for part in value.split(",")) if k
        }
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def client_list(reply: Any) -> list[dict[str, str]]:
    """CLIENT LIST text -> one dict per client."""
    return [client_info(line) for line in text(reply).splitlines() if line.strip()]


def client_info(reply: Any) -> dict[str, str]:
    fields = {}
    for part in text(reply).strip().split(" "):
        name, _, value = part.partition("=")
        fields[name] = value
    return fields
