"""Pub/sub subscriptions: ``async with db.subscribe("news") as sub: async for message in sub``.

A subscription owns one dedicated connection (not a pooled one: a subscribed connection cannot
run ordinary commands). Everything that arrives on it is one of two things: a confirmation of a
(P)SUBSCRIBE/(P)UNSUBSCRIBE, which carries the number of subscriptions left, or a published
message, which is queued for ``get_message()``. Changing the subscriptions waits for the
server's confirmations, buffering the messages that arrive meanwhile, so once
``subscribe("x")`` returns every later PUBLISH to ``x`` reaches this subscription.

Cancelling a wait for a message loses nothing (a cancelled read consumes no bytes), so
``with trapline.move_on_after(1): await sub.get_message()`` is fine. RESP2 and RESP3 (where the
same data arrives as push messages) look the same from here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, final

import trapline

from ._client_cmds_base import Key, S, text
from ._client_conn import Connection
from ._client_resp import ResponseError

__all__ = ["Message", "Subscription"]


@final
@dataclass(frozen=True, slots=True)
class Message(Generic[S]):
    """A published message: its ``channel`` and ``data``, and the ``pattern`` it matched
    (None for a plain channel subscription)."""

    channel: S
    data: S
    pattern: S | None = None


@final
class Subscription(Generic[S]):
    """Messages from subscribed channels and patterns (see ``KV.subscribe``).

    ``channels`` and ``patterns`` are what the server has confirmed. Only one task at a time
    may read from a subscription (``BusyResourceError`` otherwise); change the subscriptions
    from that task, between messages."""

    __slots__ = ("_conn", "_count", "_initial", "_messages", "_opener", "channels", "patterns")

    def __init__(
        self,
        opener: Callable[[], Awaitable[Connection]],
        channels: tuple[Key, ...],
        patterns: tuple[Key, ...],
    ) -> None:
        self._opener = opener
        self._initial = (channels, patterns)
        self._conn: Connection | None = None
        self._messages: deque[Message[S]] = deque()
        self._count = 0
        self.channels: set[S] = set()
        self.patterns: set[S] = set()

    def __repr__(self) -> str:
        return f"<trapline.kv Subscription channels={self.channels} patterns={self.patterns}>"

    def _connection(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("use 'async with db.subscribe(...) as sub:' or 'async for'")
        return self._conn

    async def _open(self) -> None:
        if self._conn is not None:
            raise RuntimeError("this subscription is already open")
        self._conn = await self._opener()
        channels, patterns = self._initial
        try:
            if channels:
                await self.subscribe(*channels)
            if patterns:
                await self.psubscribe(*patterns)
        except BaseException:
            self._close_now()
            raise

    def _handle(self, raw: Any) -> str | None:
        """File one thing read from the connection; return its kind."""
        if isinstance(raw, ResponseError):
            raise raw
        if not isinstance(raw, list) or len(raw) < 3:
            return None
        kind = text(raw[0])
        if kind == "message":
            self._messages.append(Message(raw[1], raw[2]))
        elif kind == "pmessage" and len(raw) >= 4:
            self._messages.append(Message(raw[2], raw[3], raw[1]))
        elif kind in ("subscribe", "unsubscribe", "psubscribe", "punsubscribe"):
            names = self.patterns if kind[0] == "p" else self.channels
            if raw[1] is not None:
                if kind.endswith("unsubscribe"):
                    names.discard(raw[1])
                else:
                    names.add(raw[1])
            self._count = int(raw[2])
        return kind

    async def _command(self, command: str, names: tuple[Key, ...]) -> None:
        conn = self._connection()
        if names:
            expected = len(names)
        else:  # unsubscribe from all: one confirmation each, or a single one if there are none
            expected = max(len(self.patterns if command[0] == "P" else self.channels), 1)
        try:
            await conn.send(((command, *names),))
        except BaseException:
            self._close_now()  # part of the command may be on the wire: this is unrecoverable
            raise
        confirmation = command.lower()
        while expected:
            if self._handle(await conn.read_any()) == confirmation:
                expected -= 1

    async def subscribe(self, *channels: Key) -> None:
        """SUBSCRIBE to more channels; returns once the server confirmed. Checkpoint: yes.
        Cancellation: the subscription may or may not have been made."""
        if not channels:
            raise TypeError("subscribe() needs at least one channel")
        await self._command("SUBSCRIBE", channels)

    async def unsubscribe(self, *channels: Key) -> None:
        """UNSUBSCRIBE from ``channels`` (all channels if none given). Checkpoint: yes."""
        await self._command("UNSUBSCRIBE", channels)

    async def psubscribe(self, *patterns: Key) -> None:
        """PSUBSCRIBE to glob patterns (``news.*``); as ``subscribe``. Checkpoint: yes."""
        if not patterns:
            raise TypeError("psubscribe() needs at least one pattern")
        await self._command("PSUBSCRIBE", patterns)

    async def punsubscribe(self, *patterns: Key) -> None:
        """PUNSUBSCRIBE from ``patterns`` (all patterns if none given). Checkpoint: yes."""
        await self._command("PUNSUBSCRIBE", patterns)

    async def get_message(self) -> Message[S]:
        """Wait for the next message. Checkpoint: yes (unless one is already buffered).

        Raises ``EndOfChannel`` once no subscription is left and every message was delivered,
        ``ConnectionLost`` if the connection dropped. Cancellation loses no message."""
        conn = self._connection()
        messages = self._messages
        while not messages:
            if self._count == 0:
                raise trapline.EndOfChannel
            self._handle(await conn.read_any())
        return messages.popleft()

    def get_message_nowait(self) -> Message[S]:
        """A message already received, or ``WouldBlock``. Not a checkpoint."""
        if not self._messages:
            raise trapline.WouldBlock
        return self._messages.popleft()

    def __aiter__(self) -> AsyncIterator[Message[S]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message[S]]:
        owned = self._conn is None
        if owned:  # bare 'async for message in db.subscribe(...)': the loop owns the connection
            await self._open()
        try:
            while True:
                try:
                    message = await self.get_message()
                except trapline.EndOfChannel:
                    return
                yield message
        finally:
            if owned:
                # Synchronous: after 'break' this runs when the generator is dropped, where an
                # await could not suspend.
                self._close_now()

    def _close_now(self) -> None:
        if self._conn is not None:
            self._conn.close_now()
        self._count = 0

    async def aclose(self) -> None:
        """Close the connection (the server drops the subscriptions). Checkpoint: yes."""
        conn, self._conn = self._conn, None
        self._count = 0
        if conn is not None:
            await conn.aclose()

    async def __aenter__(self) -> Subscription[S]:
        await self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
