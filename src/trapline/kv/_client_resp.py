"""Client side of RESP: encode commands, parse replies (RESP2 and RESP3), without I/O."""

from __future__ import annotations

from typing import Any, final

__all__ = [
    "NEED_MORE",
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
    """Base class of trapline.kv client errors."""


class ResponseError(KVError):
    """The server answered with an error. ``code`` is its first word (``ERR``, ``WRONGTYPE``...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.code = message.split(" ", 1)[0]


class ConnectionLost(KVError, ConnectionError):
    """The connection dropped while a command was in flight; it may or may not have run."""


class ProtocolViolation(KVError):
    """The server sent something that is not RESP."""


class WatchError(KVError):
    """A WATCHed key changed, so the transaction did not run."""


@final
class PushMessage(list[Any]):
    """An out-of-band message (RESP3 push, or a pub/sub message in RESP2)."""


NEED_MORE: Any = object()


def encode_command(args: tuple[Any, ...] | list[Any], out: bytearray) -> None:
    out += b"*%d\r\n" % len(args)
    for arg in args:
        if type(arg) is bytes:
            data = arg
        elif type(arg) is str:
            data = arg.encode()
        elif type(arg) is int or type(arg) is float:
            data = repr(arg).encode()
        elif isinstance(arg, (bytes, bytearray, memoryview)):
            data = bytes(arg)
        else:
            raise TypeError(
                f"command arguments must be str, bytes, int or float, not {type(arg).__name__}"
            )
        out += b"$%d\r\n%s\r\n" % (len(data), data)


@final
class ReplyParser:
    """Feed bytes; ``next()`` returns one reply or ``NEED_MORE``. Error replies come back as
    ``ResponseError`` instances (not raised), so a pipeline keeps its other replies."""

    __slots__ = ("_buffer", "_pos", "decode")

    def __init__(self, decode: bool = False) -> None:
        self._buffer = bytearray()
        self._pos = 0
        self.decode = decode

    def feed(self, data: bytes) -> None:
        if self._pos and self._pos == len(self._buffer):
            self._buffer.clear()
            self._pos = 0
        self._buffer += data

    def next(self) -> Any:
        try:
            value, pos = self._parse(self._pos)
        except _Incomplete:
            return NEED_MORE
        self._pos = pos
        if pos > 65536 and pos * 2 > len(self._buffer):
            del self._buffer[:pos]
            self._pos = 0
        return value

    def _line(self, pos: int) -> tuple[bytes, int]:
        end = self._buffer.find(b"\r\n", pos)
        if end == -1:
            raise _Incomplete
        return bytes(self._buffer[pos:end]), end + 2

    def _parse(self, pos: int) -> tuple[Any, int]:
        buffer = self._buffer
        if pos >= len(buffer):
            raise _Incomplete
        kind = buffer[pos]
        line, pos = self._line(pos + 1)
        if kind in (0x24, 0x3D):  # $ bulk, = verbatim
            length = int(line)
            if length < 0:
                return None, pos
            if len(buffer) < pos + length + 2:
                raise _Incomplete
            data = bytes(buffer[pos : pos + length])
            if kind == 0x3D:
                data = data[4:]
            return (data.decode() if self.decode else data), pos + length + 2
        if kind == 0x2B:  # + simple
            return (line.decode() if self.decode else line), pos
        if kind == 0x3A:  # : integer
            return int(line), pos
        if kind in (0x2A, 0x7E, 0x3E):  # * array, ~ set, > push
            count = int(line)
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
        if kind in (0x25, 0x7C):  # % map, | attribute
            count = int(line)
            result: dict[Any, Any] = {}
            for _ in range(count):
                key, pos = self._parse(pos)
                value, pos = self._parse(pos)
                result[_hashable(key)] = value
            if kind == 0x7C:  # attributes precede the real reply: skip them
                return self._parse(pos)
            return result, pos
        if kind in (0x2D, 0x21):  # - error, ! blob error
            if kind == 0x21:
                length = int(line)
                if len(buffer) < pos + length + 2:
                    raise _Incomplete
                line = bytes(buffer[pos : pos + length])
                pos += length + 2
            return ResponseError(line.decode("utf-8", "replace")), pos
        if kind == 0x5F:  # _ null
            return None, pos
        if kind == 0x2C:  # , double
            return float(line), pos
        if kind == 0x23:  # # boolean
            return line == b"t", pos
        if kind == 0x28:  # ( big number
            return int(line), pos
        raise ProtocolViolation(f"unexpected reply type byte {chr(kind)!r}")


class _Incomplete(Exception):
    pass


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _as_set(items: list[Any]) -> Any:
    try:
        return set(items)
    except TypeError:
        return items
