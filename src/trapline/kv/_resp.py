"""RESP, the Redis protocol, without I/O: a request parser and a reply encoder.

The parser follows Redis 7's ``processMultibulkBuffer``/``processInlineBuffer`` rule for rule,
including its error strings, so a client sees the same ``-ERR Protocol error: ...`` from
trapline.kv as from Redis. A declared bulk length over the limit is refused before anything is
allocated; the buffer only grows with bytes actually received.

Replies are plain Python values plus a few marker types, encoded for RESP2 or RESP3 (after
``HELLO 3``): ``bytes`` is a bulk string, ``int`` an integer, ``None`` a null, ``list``/``tuple``
an array, and ``Simple``, ``Error``, ``Map``, ``SetReply``, ``Double``, ``Bool``, ``Push``,
``Verbatim``, ``BigNumber``, ``NullArray`` the rest.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any, final

__all__ = [
    "PROTO_INLINE_MAX_SIZE",
    "BigNumber",
    "Bool",
    "Double",
    "Error",
    "Map",
    "NoReply",
    "NullArray",
    "ProtocolError",
    "Push",
    "RequestParser",
    "SetReply",
    "Simple",
    "Verbatim",
    "encode",
    "format_double",
    "parse_int",
    "split_args",
]

PROTO_INLINE_MAX_SIZE = 64 * 1024
_INT_MAX = 2**31 - 1
_LLONG_MIN = -(2**63)
_LLONG_MAX = 2**63 - 1

# The pipeline fast path recognises canonical headers by lookup instead of parsing them:
# ``*<count>`` for commands of up to _SPLIT_MAX_ARGS words; the ``$<len>`` an argument of up to
# _SPLIT_MAX_ARG bytes must have. Anything else (longer, non-canonical, malformed) is the general
# parser's, which also owns every error message.
_SPLIT_MAX_ARGS = 1024
_SPLIT_MAX_ARG = 4096
_SPLIT_COUNTS = {b"*%d" % n: n for n in range(1, _SPLIT_MAX_ARGS + 1)}
_SPLIT_HEADERS = {n: b"$%d" % n for n in range(_SPLIT_MAX_ARG + 1)}


class ProtocolError(Exception):
    """The client broke the protocol: reply ``-ERR <message>`` and close the connection."""


def parse_int(data: bytes | bytearray) -> int | None:
    """Redis ``string2ll``: a canonical signed 64-bit decimal (no '+', no leading zeros, no
    spaces), else None."""
    length = len(data)
    if 0 < length < 19 and data.isdigit() and (data[0] != 48 or length == 1):
        return int(data)  # the common case: a small non-negative number, canonical
    if length == 0 or length >= 21:
        return None
    text = bytes(data)
    if text == b"0":
        return 0
    start = 1 if text[0] == 45 else 0  # '-'
    if start == length or not 49 <= text[start] <= 57:  # first digit 1-9
        return None
    if not text[start:].isdigit():
        return None
    value = int(text)
    if value < _LLONG_MIN or value > _LLONG_MAX:
        return None
    return value


def split_args(line: bytes) -> list[bytes] | None:
    """Redis ``sdssplitargs``: split an inline command; None on unbalanced quotes."""
    if b'"' not in line and b"'" not in line and b"\v" not in line and b"\f" not in line:
        # No quoting: words end at space, tab, CR or LF, which is what bytes.split() does
        # once \v and \f (separators for split() only between words here) are absent.
        return line.split()
    args: list[bytes] = []
    i, n = 0, len(line)
    spaces = b" \n\r\t\v\f"
    while True:
        while i < n and line[i] in spaces:
            i += 1
        if i >= n:
            return args
        current = bytearray()
        in_double = in_single = False
        while True:
            c = line[i] if i < n else 0
            if in_double:
                if (
                    c == 0x5C  # backslash
                    and i + 3 < n + 0
                    and line[i + 1] == 0x78  # x
                    and _is_hex(line[i + 2])
                    and _is_hex(line[i + 3])
                ):
                    current.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 0x5C and i + 1 < n:
                    i += 1
                    escaped = line[i]
                    current.append(
                        {0x6E: 10, 0x72: 13, 0x74: 9, 0x62: 8, 0x61: 7}.get(escaped, escaped)
                    )
                elif c == 0x22:  # closing "
                    if i + 1 < n and line[i + 1] not in spaces:
                        return None
                    i += 1
                    break
                elif i >= n:
                    return None
                else:
                    current.append(c)
            elif in_single:
                if c == 0x5C and i + 1 < n and line[i + 1] == 0x27:
                    i += 1
                    current.append(0x27)
                elif c == 0x27:
                    if i + 1 < n and line[i + 1] not in spaces:
                        return None
                    i += 1
                    break
                elif i >= n:
                    return None
                else:
                    current.append(c)
            elif i >= n or c in b" \n\r\t":
                break
            elif c == 0x22:
                in_double = True
            elif c == 0x27:
                in_single = True
            else:
                current.append(c)
            i += 1
        args.append(bytes(current))


def _is_hex(c: int) -> bool:
    return 48 <= c <= 57 or 65 <= c <= 70 or 97 <= c <= 102


@final
class RequestParser:
    """Feed bytes in; take complete commands (lists of bytes) out.

    ``next_command()`` returns None when more input is needed, ``[]`` for an empty command
    (which Redis ignores), and raises ``ProtocolError`` (with Redis's message) on bad input.
    ``take()`` returns every complete command at once (the server runs them as one batch).
    ``auth_required`` applies Redis's tighter limits to clients that have not authenticated.
    """

    __slots__ = (
        "_args",
        "_batch",
        "_batch_sizes",
        "_buffer",
        "_bulk_len",
        "_error",
        "_given_back",
        "_mark",
        "_multibulk_len",
        "_pos",
        "auth_required",
        "max_bulk_len",
    )

    def __init__(self, *, max_bulk_len: int = 512 * 1024 * 1024) -> None:
        self._buffer = bytearray()
        self._pos = 0
        self._multibulk_len = 0
        self._bulk_len = -1
        self._args: list[bytes] = []
        self._batch: deque[list[bytes]] = deque()
        self._batch_sizes: deque[int] = deque()  # bytes of each batched command
        # A protocol error that take() found after complete commands: the next call raises it.
        self._error: ProtocolError | None = None
        self._given_back = False
        # What give_back() replays from: where the last take() began (a command boundary), how
        # many commands it had returned by then, and whether it parsed with auth_required.
        self._mark = (0, 0, False)
        self.max_bulk_len = max_bulk_len
        self.auth_required = False

    def feed(self, data: bytes) -> None:
        buffer = self._buffer
        pos = self._pos
        if pos:
            if pos >= len(buffer):
                buffer.clear()
                self._pos = 0
            elif pos > 65536 and pos * 2 > len(buffer):
                del buffer[:pos]
                self._pos = 0
        buffer += data

    def buffered(self) -> int:
        """Bytes received and not yet returned as commands (the client's query buffer)."""
        return len(self._buffer) - self._pos + sum(self._batch_sizes)

    def has_pending(self) -> bool:
        """True if a command has started arriving but is not complete."""
        return self._multibulk_len > 0 or self._pos < len(self._buffer)

    def next_command(self) -> list[bytes] | None:
        batch = self._batch
        if batch:
            self._batch_sizes.popleft()
            return batch.popleft()
        buffer = self._buffer
        pos = self._pos
        if self._multibulk_len == 0:
            if pos >= len(buffer):
                if pos:
                    buffer.clear()
                    self._pos = 0
                return None
            if (
                len(buffer) - pos > 64
                and buffer[pos] == 0x2A
                and not self.auth_required
                and self.max_bulk_len >= _SPLIT_MAX_ARG
            ):
                commands: list[list[bytes]] = []
                sizes: list[int] = []
                self._pos = self._split(pos, commands, sizes)
                if commands:
                    batch.extend(commands)
                    self._batch_sizes.extend(sizes)
                    self._batch_sizes.popleft()
                    return batch.popleft()
        return self._parse_one()

    def has_more(self) -> bool:
        """True if ``take()`` has something to return or raise before more input comes: commands
        given back, or bad input found after the last batch."""
        return self._given_back or self._error is not None

    def take(self) -> list[list[bytes]]:
        """Every complete command received so far, in order (empty commands are dropped).

        Bad input after complete commands is raised as ``ProtocolError`` by the next call, so
        the commands before it still run (as in Redis); it is raised at once when it comes
        first. ``give_back()`` returns commands that were not run to the input.
        """
        self._given_back = False
        error = self._error
        if error is not None:
            self._error = None
            raise error
        commands: list[list[bytes]] = []
        buffer = self._buffer
        batch = self._batch
        auth_required = self.auth_required
        if batch:  # left over from next_command(): they directly precede the position
            self._mark = (self._pos - sum(self._batch_sizes), 0, auth_required)
            commands.extend(batch)
            batch.clear()
            self._batch_sizes.clear()
        else:
            self._mark = (self._pos, 0, auth_required)
        split = not auth_required and self.max_bulk_len >= _SPLIT_MAX_ARG
        mid_command = self._multibulk_len > 0
        while True:
            pos = self._pos
            if self._multibulk_len == 0 and pos < len(buffer):
                if buffer[pos] != 0x2A:  # inline commands (as typed in telnet)
                    newline = buffer.find(b"\n", pos)
                    if newline != -1 and newline + 1 < len(buffer):  # more than one line
                        self._pos = self._split_inline(pos, commands)
                elif split:
                    self._pos = self._split(pos, commands, None)
            try:
                argv = self._parse_one()
            except ProtocolError as error:
                if not commands:
                    raise
                self._error = error
                return commands
            if argv is None:
                return commands
            if argv:
                commands.append(argv)
            if mid_command:
                # The first command began before this call: a replay starts after it.
                self._mark = (self._pos, len(commands), auth_required)
                mid_command = False

    def give_back(self, done: int) -> None:
        """Return the commands of the last ``take()`` after its first ``done`` to the input, to
        be taken again: a command changed how the rest must be parsed (RESET can make a client
        unauthenticated, with tighter limits). Valid only before the next ``feed()``."""
        start, before, auth_required = self._mark
        if done < before:
            raise ValueError("cannot give back a command that began before the last take()")
        # Parse the same bytes again, as the last take() did, to find where command `done`
        # ended. This is rare, so it may be slow.
        replay = RequestParser(max_bulk_len=self.max_bulk_len)
        replay.auth_required = auth_required
        replay.feed(bytes(self._buffer[start:]))
        total = len(replay._buffer)
        while before < done:
            argv = replay.next_command()
            if argv is None:
                raise ValueError("give_back() after feed(), or more than take() returned")
            if argv:
                before += 1
        self._pos = start + total - replay.buffered()
        self._multibulk_len = 0
        self._bulk_len = -1
        self._args = []
        self._error = None
        self._given_back = True
        self._mark = (self._pos, 0, auth_required)

    def _parse_one(self) -> list[bytes] | None:
        """The general parser: one command (or None for more input), every rule and error."""
        buffer = self._buffer
        pos = self._pos
        if self._multibulk_len == 0:
            if pos >= len(buffer):
                return None
            if buffer[pos] != 0x2A:  # '*'
                return self._inline()
            newline = buffer.find(b"\r", pos)
            if newline == -1:
                if len(buffer) - pos > PROTO_INLINE_MAX_SIZE:
                    raise ProtocolError("Protocol error: too big mbulk count string")
                return None
            if newline + 1 >= len(buffer):
                return None
            count = parse_int(buffer[pos + 1 : newline])
            if count is None or count > _INT_MAX:
                raise ProtocolError("Protocol error: invalid multibulk length")
            if count > 10 and self.auth_required:
                raise ProtocolError("Protocol error: unauthenticated multibulk length")
            self._pos = pos = newline + 2
            if count <= 0:
                return []
            self._multibulk_len = count
            self._args = []
        # The hot loop: locals instead of attributes, state written back once at the end.
        args = self._args
        remaining = self._multibulk_len
        bulk_len = self._bulk_len
        size = len(buffer)
        find = buffer.find
        append = args.append
        while remaining:
            if bulk_len == -1:
                newline = find(b"\r", pos)
                if newline == -1:
                    if size - pos > PROTO_INLINE_MAX_SIZE:
                        raise ProtocolError("Protocol error: too big bulk count string")
                    break
                if newline + 1 >= size:
                    break
                if buffer[pos] != 0x24:  # '$'
                    raise ProtocolError(f"Protocol error: expected '$', got '{chr(buffer[pos])}'")
                header = buffer[pos + 1 : newline]
                if (
                    0 < len(header) < 12
                    and header.isdigit()
                    and (header[0] != 48 or len(header) == 1)
                ):
                    declared: int | None = int(header)
                else:
                    declared = parse_int(header)
                if declared is None or declared < 0 or declared > self.max_bulk_len:
                    raise ProtocolError("Protocol error: invalid bulk length")
                if declared > 16384 and self.auth_required:
                    raise ProtocolError("Protocol error: unauthenticated bulk length")
                bulk_len = declared
                pos = newline + 2
            end = pos + bulk_len
            if size < end + 2:
                break
            append(bytes(buffer[pos:end]))
            pos = end + 2
            bulk_len = -1
            remaining -= 1
        self._pos = pos
        self._bulk_len = bulk_len
        self._multibulk_len = remaining
        if remaining:
            return None
        self._args = []
        return args

    def _split(self, pos: int, out: list[list[bytes]], sizes: list[int] | None) -> int:
        """Fast path for pipelines: parse every complete, plain command from ``pos`` at once
        into ``out`` (and, if given, the bytes of each into ``sizes``); returns the position
        after them.

        Splitting on CRLF turns ``*3 $3 SET $1 k $1 v`` into tokens in one C call; a command is
        taken only if its count token is canonical ``*<n>`` and every bulk length token is
        exactly ``$<len(arg)>`` (canonical, and no CRLF inside the argument). The first command
        that is not that simple, or not complete, stops the batch and the general parser takes
        over from there, errors included. The checks run in C over many tokens at a time
        (``map`` over table lookups), not in a Python loop per argument.
        """
        with memoryview(self._buffer) as view:
            data = bytes(view[pos:])
        tokens = data.split(b"\r\n")
        complete = len(tokens) - 1  # the last piece has no CRLF after it yet
        counts = _SPLIT_COUNTS
        header_of = _SPLIT_HEADERS.get
        i = 0
        head = tokens[0]
        count = counts.get(head)
        if count is not None and count <= 8 and sizes is None:
            # A run of commands of one shape (benchmarks, bulk loads): if every command has
            # the same count token, command k starts at token k * period, and each argument
            # position is a column of the token list, checked in one step. (For commands of
            # many words the per-command loop below is quicker: a step per column costs more
            # than a step per command.)
            period = 2 * count + 1
            whole = complete // period
            if whole > 1:
                stop = whole * period
                if tokens[0:stop:period].count(head) == whole:
                    for k in range(1, period, 2):
                        column = tokens[k + 1 : stop : period]
                        if tokens[k:stop:period] != list(map(header_of, map(len, column))):
                            break
                    else:
                        columns = [tokens[k:stop:period] for k in range(2, period, 2)]
                        out.extend(map(list, zip(*columns, strict=True)))
                        i = stop
        # Then command by command, with the lengths of all of them compared at the end.
        first = i
        taken = len(out)
        declared: list[bytes] = []
        while i < complete:
            count = counts.get(tokens[i])
            if count is None:
                break
            end = i + 1 + 2 * count
            if end > complete:
                break
            out.append(tokens[i + 2 : end : 2])
            declared += tokens[i + 1 : end : 2]
            if sizes is not None:
                sizes.append(sum(map(len, tokens[i:end])) + 2 * (end - i))
            i = end
        if declared and declared != list(
            map(header_of, map(len, itertools.chain.from_iterable(out[taken:])))
        ):
            # An argument is not what its header says: keep only the commands before it.
            i = first
            while True:
                end = i + 1 + 2 * counts[tokens[i]]
                if tokens[i + 1 : end : 2] != list(
                    map(header_of, map(len, tokens[i + 2 : end : 2]))
                ):
                    break
                taken += 1
                i = end
            del out[taken:]
            if sizes is not None:
                del sizes[taken:]
        # What is left is usually the last, incomplete piece alone.
        return pos + len(data) - sum(map(len, tokens[i:])) - 2 * (complete - i)

    def _split_inline(self, pos: int, out: list[list[bytes]]) -> int:
        """Every complete inline command from ``pos`` on, up to the next multibulk one (a line
        starting with ``*``) or a line the general parser must refuse; returns the position
        after them. The same rules as ``_inline``, a line at a time."""
        with memoryview(self._buffer) as view:
            data = bytes(view[pos:])
        lines = data.split(b"\n")
        # Without quotes, \v, \f or NUL anywhere, every line splits as bytes.split() does
        # (see split_args; a CR is a separator like a space).
        plain = not (
            b'"' in data or b"'" in data or b"\v" in data or b"\f" in data or b"\0" in data
        )
        consumed = 0
        for index in range(len(lines) - 1):  # the last piece has no LF after it yet
            line = lines[index]
            if line[:1] == b"*":
                break
            if plain:
                consumed += len(line) + 1
                words = line.split()
                if words:
                    out.append(words)
                continue
            text = line[:-1] if line[-1:] == b"\r" else line
            if b"\0" in text:
                text = text.split(b"\0", 1)[0]
            args = split_args(text)
            if args is None:
                break
            consumed += len(line) + 1
            if args:
                out.append(args)
        return pos + consumed

    def _inline(self) -> list[bytes] | None:
        buffer = self._buffer
        pos = self._pos
        newline = buffer.find(b"\n", pos)
        if newline == -1:
            if len(buffer) - pos > PROTO_INLINE_MAX_SIZE:
                raise ProtocolError("Protocol error: too big inline request")
            return None
        end = newline - 1 if newline > pos and buffer[newline - 1] == 0x0D else newline
        # A NUL ends the line for sdssplitargs (it works on C strings).
        line = bytes(buffer[pos:end]).split(b"\0", 1)[0]
        args = split_args(line)
        if args is None:
            raise ProtocolError("Protocol error: unbalanced quotes in request")
        self._pos = newline + 1
        return args


# -- replies ---------------------------------------------------------------------------------


@final
class Simple(str):
    """A status reply: ``+OK``."""

    __slots__ = ()


@final
class Error(str):
    """An error reply. The text includes its code: ``Error("ERR syntax error")``."""

    __slots__ = ()


@final
class Map:
    """RESP3 map (``%``); a flat array in RESP2."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        self.pairs = list(pairs)


@final
class SetReply:
    """RESP3 set (``~``); an array in RESP2."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = list(items)


@final
class Push:
    """RESP3 push (``>``, pub/sub messages); an array in RESP2."""

    __slots__ = ("items",)

    def __init__(self, items: Sequence[Any]) -> None:
        self.items = items


@final
class Double:
    """RESP3 double (``,``); a bulk string in RESP2."""

    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value = value


@final
class Bool:
    """RESP3 boolean (``#t``/``#f``); the integer 1/0 in RESP2."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value


@final
class Verbatim:
    """RESP3 verbatim string (``=``, with a 3-letter format); a bulk string in RESP2."""

    __slots__ = ("format", "text")

    def __init__(self, text: bytes, format: str = "txt") -> None:
        self.text = text
        self.format = format


@final
class BigNumber:
    """RESP3 big number (``(``); a bulk string in RESP2."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value


@final
class _NullArray:
    __slots__ = ()


#: A null array: ``*-1`` in RESP2 (for example EXEC after a failed WATCH), ``_`` in RESP3.
NullArray: Any = _NullArray()


@final
class _NoReply:
    __slots__ = ()


#: No reply at all (CLIENT REPLY OFF/SKIP, a second MONITOR): encodes to nothing.
NoReply: Any = _NoReply()


def format_double(value: float) -> bytes:
    """How Redis 7.0 prints a double reply (``%.17g``, ``inf``/``-inf``)."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    if math.isnan(value):
        return b"nan"
    return b"%.17g" % value


def encode(reply: Any, out: bytearray, resp3: bool = False) -> None:
    """Append the encoding of ``reply`` to ``out``."""
    kind = type(reply)
    if kind is bytes:
        out += b"$%d\r\n%s\r\n" % (len(reply), reply)
    elif kind is int:
        out += b":%d\r\n" % reply
    elif kind is Simple:
        out += b"+%s\r\n" % reply.encode()
    elif reply is None:
        out += b"_\r\n" if resp3 else b"$-1\r\n"
    elif kind is list or kind is tuple:
        out += b"*%d\r\n" % len(reply)
        for item in reply:
            encode(item, out, resp3)
    elif kind is Error:
        out += b"-%s\r\n" % reply.encode()
    elif kind is Map:
        if resp3:
            out += b"%%%d\r\n" % len(reply.pairs)
        else:
            out += b"*%d\r\n" % (2 * len(reply.pairs))
        for key, value in reply.pairs:
            encode(key, out, resp3)
            encode(value, out, resp3)
    elif kind is SetReply:
        out += b"~%d\r\n" % len(reply.items) if resp3 else b"*%d\r\n" % len(reply.items)
        for item in reply.items:
            encode(item, out, resp3)
    elif kind is Double:
        text = format_double(reply.value)
        if resp3:
            out += b",%s\r\n" % text
        else:
            out += b"$%d\r\n%s\r\n" % (len(text), text)
    elif kind is Push:
        out += b">%d\r\n" % len(reply.items) if resp3 else b"*%d\r\n" % len(reply.items)
        for item in reply.items:
            encode(item, out, resp3)
    elif kind is Bool:
        if resp3:
            out += b"#t\r\n" if reply.value else b"#f\r\n"
        else:
            out += b":1\r\n" if reply.value else b":0\r\n"
    elif kind is _NullArray:
        out += b"_\r\n" if resp3 else b"*-1\r\n"
    elif kind is Verbatim:
        if resp3:
            body = reply.format.encode() + b":" + reply.text
            out += b"=%d\r\n%s\r\n" % (len(body), body)
        else:
            out += b"$%d\r\n%s\r\n" % (len(reply.text), reply.text)
    elif kind is BigNumber:
        text = b"%d" % reply.value
        out += b"(%s\r\n" % text if resp3 else b"$%d\r\n%s\r\n" % (len(text), text)
    elif kind is bool:
        out += b":1\r\n" if reply else b":0\r\n"
    elif kind is str:
        data = reply.encode()
        out += b"$%d\r\n%s\r\n" % (len(data), data)
    elif kind is _NoReply:
        pass
    else:
        raise TypeError(f"cannot encode a reply of type {kind.__name__}")
