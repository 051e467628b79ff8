"""Client side of RESP, without I/O: encode commands, parse replies (RESP2 and RESP3), and the
client's exception types.

The parser is fed whatever bytes arrived and hands back one whole reply at a time, or
``NEED_MORE``. Error replies come back as ``ResponseError`` *instances* rather than being
raised, so a pipeline can keep every other reply in its place; the caller decides to raise.
Bytes that are not RESP raise ``ProtocolViolation``, after which the connection is useless.
"""

from __future__ import annotations

from typing import Any, final

__all__ = [
    "NEED_MORE",
    "ClusterError",
    "ConnectionLost",
    "KVError",
    "ProtocolViolation",
    "PushMessage",
    "ReplyParser",
    "ResponseError",
    "WatchError",
    "encode_command",
]


class KVError(Exception):
    """Base class of the trapline.kv client's errors."""


class ResponseError(KVError):
    """The server answered with an error reply.

    ``code`` is its first word (``ERR``, ``WRONGTYPE``, ``NOAUTH``, ``MOVED``...), ``message``
    the whole text. The connection is still in step: the next command works.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = message.split(" ", 1)[0]


class ConnectionLost(KVError, ConnectionError):
    """The connection dropped (or was found broken) while a command was in flight.

    The command may or may not have run; it is not retried. The client opens a new connection
    for the next command.
    """


class ProtocolViolation(KVError):
    """The server sent bytes that are not RESP. The connection is closed."""


class WatchError(KVError):
    """A WATCHed key changed before EXEC, so the transaction did not run."""


class ClusterError(KVError):
    """A Redis Cluster problem the client cannot route around: no node reachable, no node
    serving a slot, or too many redirections."""


@final
class PushMessage(list[Any]):
    """An out-of-band RESP3 push (``>``): pub/sub messages and confirmations, invalidations."""


NEED_MORE: Any = object()

_ENCODED_INTS = [b"$%d\r\n%d\r\n" % (len(str(i)), i) for i in range(256)]


def encode_command(args: tuple[Any, ...] | list[Any], out: bytearray) -> None:
    """Append ``args`` as a RESP array of bulk strings to ``out``.

    str is encoded as UTF-8, int and float in decimal (``repr``, so floats round-trip); anything
    else but bytes-like raises ``TypeError`` (bool too: ``True`` is not a Redis value)."""
    out += b"*%d\r\n" % len(args)
    for arg in args:
        kind = type(arg)
        if kind is bytes:
            data = arg
        elif kind is str:
            data = arg.encode()
        elif kind is int:
            if 0 <= arg < 256:
                out += _ENCODED_INTS[arg]
                continue
            data = b"%d" % arg
        elif kind is float:
            data = repr(arg).encode()
        elif isinstance(arg, (bytes, bytearray, memoryview)):
            data = bytes(arg)
        elif isinstance(arg, str):
            data = str(arg).encode()
        elif isinstance(arg, int) and not isinstance(arg, bool):
            data = b"%d" % arg
        elif isinstance(arg, float):
            data = repr(float(arg)).encode()
        else:
            raise TypeError(
                f"command arguments must be str, bytes, int or float, not {type(arg).__name__}"
            )
        out += b"$%d\r\n" % len(data)
        out += data
        out += b"\r\n"


class _Incomplete(Exception):
    pass


_INCOMPLETE = _Incomplete()


@final
class ReplyParser:
    """Feed bytes with ``feed()``; ``next()`` returns one reply or ``NEED_MORE``.

    With ``decode=True`` bulk and simple strings come back as ``str`` (UTF-8; a reply that is
    not valid UTF-8 raises ``UnicodeDecodeError``). RESP3 maps become ``dict``, sets ``set``
    (``list`` if an element is unhashable), doubles ``float``, booleans ``bool``, nulls
    ``None``, pushes ``PushMessage``; attributes are skipped.
    """

    __slots__ = ("_buffer", "_pos", "decode")

    def __init__(self, decode: bool = False) -> None:
        self._buffer = bytearray()
        self._pos = 0
        self.decode = decode

    def feed(self, data: bytes) -> None:
        if self._pos:
            if self._pos == len(self._buffer):
                self._buffer.clear()
                self._pos = 0
            elif self._pos > 65536:
                del self._buffer[: self._pos]
                self._pos = 0
        self._buffer += data

    def buffered(self) -> int:
        """How many bytes are waiting to be parsed."""
        return len(self._buffer) - self._pos

    def next(self) -> Any:
        buffer = self._buffer
        pos = self._pos
        if pos >= len(buffer):
            return NEED_MORE
        # Fast path for the commonest replies: one line, complete in the buffer.
        kind = buffer[pos]
        if kind in (0x2B, 0x3A):  # + simple string, : integer
            end = buffer.find(b"\r\n", pos)
            if end == -1:
                return NEED_MORE
            self._pos = end + 2
            if kind == 0x3A:
                return _int(buffer[pos + 1 : end])
            line = bytes(buffer[pos + 1 : end])
            return line.decode() if self.decode else line
        try:
            value, self._pos = self._parse(pos)
        except _Incomplete:
            return NEED_MORE
        return value

    def _parse(self, pos: int) -> tuple[Any, int]:
        buffer = self._buffer
        if pos >= len(buffer):
            raise _INCOMPLETE
        kind = buffer[pos]
        end = buffer.find(b"\r\n", pos)
        if end == -1:
            raise _INCOMPLETE
        if kind in (0x24, 0x3D):  # $ bulk string, = verbatim string
            length = _int(buffer[pos + 1 : end])
            start = end + 2
            if length < 0:
                return None, start
            stop = start + length
            if len(buffer) < stop + 2:
                raise _INCOMPLETE
            if kind == 0x3D:
                start += 4  # "txt:" or "mkd:"
            data = bytes(buffer[start:stop])
            return (data.decode() if self.decode else data), stop + 2
        if kind in (0x2A, 0x7E, 0x3E):  # * array, ~ set, > push
            count = _int(buffer[pos + 1 : end])
            pos = end + 2
            if count < 0:
                return None, pos
            items = []
            for _ in range(count):
                item, pos = self._parse(pos)
                items.append(item)
            if kind == 0x7E:
                return _as_set(items), pos
            if kind == 0x3E:
                return PushMessage(items), pos
            return items, pos
        if kind == 0x2B:  # + simple string
            line = bytes(buffer[pos + 1 : end])
            return (line.decode() if self.decode else line), end + 2
        if kind in (0x3A, 0x28):  # : integer, ( big number
            return _int(buffer[pos + 1 : end]), end + 2
        if kind in (0x25, 0x7C):  # % map, | attribute
            count = _int(buffer[pos + 1 : end])
            pos = end + 2
            result: dict[Any, Any] = {}
            for _ in range(count):
                key, pos = self._parse(pos)
                value, pos = self._parse(pos)
                result[_hashable(key)] = value
            if kind == 0x7C:  # an attribute precedes the real reply: skip it
                return self._parse(pos)
            return result, pos
        if kind == 0x2D:  # - error
            return ResponseError(buffer[pos + 1 : end].decode("utf-8", "replace")), end + 2
        if kind == 0x21:  # ! blob error
            length = _int(buffer[pos + 1 : end])
            start = end + 2
            if len(buffer) < start + length + 2:
                raise _INCOMPLETE
            text = buffer[start : start + length].decode("utf-8", "replace")
            return ResponseError(text), start + length + 2
        if kind == 0x5F:  # _ null
            return None, end + 2
        if kind == 0x2C:  # , double
            try:
                return float(buffer[pos + 1 : end]), end + 2
            except ValueError:
                raise ProtocolViolation(f"bad double {bytes(buffer[pos:end])!r}") from None
        if kind == 0x23:  # # boolean
            return buffer[pos + 1 : end] == b"t", end + 2
        raise ProtocolViolation(f"unexpected reply type byte {chr(kind)!r}")


def _int(data: bytes | bytearray) -> int:
    try:
        return int(data)
    except ValueError:
        raise ProtocolViolation(f"expected an integer, got {bytes(data)!r}") from None


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, dict):
        return tuple((k, _hashable(v)) for k, v in value.items())
    return value


def _as_set(items: list[Any]) -> Any:
    try:
        return set(items)
    except TypeError:
        return items
