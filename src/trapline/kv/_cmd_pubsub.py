"""Pub/sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB, and the shard
variants SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH (which Redis 7.0 serves without cluster mode too).

``Server.pubsub`` (a ``PubSub``) maps each channel and pattern to its subscribers in subscription
order; each ``Client`` keeps its own channels and patterns (``client.channels``...) as ordered
sets. A message is encoded once per protocol version and appended to every subscriber's push
buffer (``Client.pushes``), which the connection writes between replies; a (un)subscribe command
answers one confirmation per channel, all but the last as pushes, which the server writes ahead
of the command's reply. A subscriber that stops reading is disconnected when its queued messages
pass Redis's ``client-output-buffer-limit pubsub`` (32mb at once, or 8mb for 60 seconds), as in
Redis; nobody else notices. Patterns are matched by ``_glob`` (Redis's ``stringmatchlen``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._commands import command
from ._db import CommandError
from ._glob import Matcher, compile_glob
from ._resp import Push, Simple

if TYPE_CHECKING:
    from ._server import Client, Server

__all__ = ["PubSub", "output_buffer_limits"]

logger = logging.getLogger("trapline.kv")

_Subscribers = dict["Client", None]


def _header(kind: bytes, count: int) -> tuple[bytes, bytes]:
    """The start of a message array for RESP2 and RESP3 (``kind`` is message, pmessage...)."""
    tail = b"\r\n$%d\r\n%s\r\n" % (len(kind), kind)
    return b"*%d" % count + tail, b">%d" % count + tail


_MESSAGE = _header(b"message", 3)
_PMESSAGE = _header(b"pmessage", 4)
_SMESSAGE = _header(b"smessage", 3)


def _bulk(data: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(data), data)


def output_buffer_limits(config_value: str, kind: str = "pubsub") -> tuple[int, int, int]:
    """``(hard bytes, soft bytes, soft seconds)`` for one client class of
    ``client-output-buffer-limit`` (stored as "normal h s t slave h s t pubsub h s t")."""
    from ._cmd_config import parse_memory

    words = config_value.split()
    for i in range(0, len(words) - 3, 4):
        if words[i] == kind:
            hard, soft = parse_memory(words[i + 1]), parse_memory(words[i + 2])
            seconds = int(words[i + 3]) if words[i + 3].isdigit() else 0
            return hard or 0, soft or 0, seconds
    return 0, 0, 0


class PubSub:
    """The server's subscriptions: who listens to which channel or pattern."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.channels: dict[bytes, _Subscribers] = {}
        self.patterns: dict[bytes, _Subscribers] = {}
        self.shard_channels: dict[bytes, _Subscribers] = {}
        self._matchers: dict[bytes, Matcher] = {}
        #: Subscribers over the soft output limit, and since when (server milliseconds).
        self._soft_since: dict[Client, int] = {}
        self._limits_source = ""
        self._limits = (0, 0, 0)
        self._check_from = 0
        server.disconnect_hooks.append(self.forget)

    # -- subscriptions -------------------------------------------------------------------------

    def subscribe(self, client: Client, channel: bytes, shard: bool = False) -> None:
        mine = client.shard_channels if shard else client.channels
        if channel not in mine:
            mine[channel] = None
            table = self.shard_channels if shard else self.channels
            subscribers = table.get(channel)
            if subscribers is None:
                subscribers = table[channel] = {}
            subscribers[client] = None

    def unsubscribe(self, client: Client, channel: bytes, shard: bool = False) -> bool:
        mine = client.shard_channels if shard else client.channels
        if channel not in mine:
            return False
        del mine[channel]
        table = self.shard_channels if shard else self.channels
        subscribers = table[channel]
        del subscribers[client]
        if not subscribers:
            del table[channel]
        return True

    def psubscribe(self, client: Client, pattern: bytes) -> None:
        if pattern not in client.patterns:
            client.patterns[pattern] = None
            subscribers = self.patterns.get(pattern)
            if subscribers is None:
                subscribers = self.patterns[pattern] = {}
                self._matchers[pattern] = compile_glob(pattern)
            subscribers[client] = None

    def punsubscribe(self, client: Client, pattern: bytes) -> bool:
        if pattern not in client.patterns:
            return False
        del client.patterns[pattern]
        subscribers = self.patterns[pattern]
        del subscribers[client]
        if not subscribers:
            del self.patterns[pattern]
            del self._matchers[pattern]
        return True

    def forget(self, client: Client) -> None:
        """Drop every subscription of ``client`` (it disconnected, or sent RESET)."""
        for channel in list(client.channels):
            self.unsubscribe(client, channel)
        for channel in list(client.shard_channels):
            self.unsubscribe(client, channel, shard=True)
        for pattern in list(client.patterns):
            self.punsubscribe(client, pattern)
        self._soft_since.pop(client, None)

    # -- publishing ----------------------------------------------------------------------------

    def publish(self, channel: bytes, message: bytes, shard: bool = False) -> int:
        """Queue ``message`` for every subscriber; returns how many received it."""
        receivers = 0
        table = self.shard_channels if shard else self.channels
        subscribers = table.get(channel)
        if subscribers:
            header = _SMESSAGE if shard else _MESSAGE
            body = _bulk(channel) + _bulk(message)
            self._deliver(subscribers, header[0] + body, header[1] + body)
            receivers = len(subscribers)
        if shard or not self.patterns:
            return receivers
        body = b""
        for pattern, matches in self._matchers.items():
            if matches(channel):
                if not body:
                    body = _bulk(channel) + _bulk(message)
                subscribers = self.patterns[pattern]
                pattern_body = _bulk(pattern) + body
                self._deliver(subscribers, _PMESSAGE[0] + pattern_body, _PMESSAGE[1] + pattern_body)
                receivers += len(subscribers)
        return receivers

    def _deliver(self, subscribers: Iterable[Client], resp2: bytes, resp3: bytes) -> None:
        source = self.server.config.values.get("client-output-buffer-limit", "")
        if source is not self._limits_source:
            self._set_limits(source)
        check_from = self._check_from
        soft_since = self._soft_since
        for client in subscribers:
            if client.closing:
                continue
            pushes = client.pushes
            pushes += resp3 if client.resp3 else resp2
            client.push_waiters.unpark_all()
            if (check_from and len(pushes) >= check_from) or (soft_since and client in soft_since):
                self._check_output_limit(client, len(pushes))

    def _set_limits(self, source: str) -> None:
        self._limits_source = source
        self._limits = hard, soft, _ = output_buffer_limits(source)
        self._check_from = min(hard or soft, soft or hard)

    def _check_output_limit(self, client: Client, used: int) -> None:
        """Redis's ``checkClientOutputBufferLimits`` for a subscriber with ``used`` bytes queued:
        over the hard limit, or over the soft limit for longer than its seconds, and it goes."""
        hard, soft, soft_seconds = self._limits
        over = bool(hard) and used >= hard
        if not over and soft and used >= soft:
            now = self.server.now_ms()
            since = self._soft_since.setdefault(client, now)
            over = now - since > soft_seconds * 1000
        else:
            self._soft_since.pop(client, None)
        if over:
            logger.warning(
                "client id=%d addr=%s closed for overcoming of output buffer limits (%d bytes)",
                client.id,
                client.address,
                used,
            )
            self._soft_since.pop(client, None)
            client.kill()


# -- replies -----------------------------------------------------------------------------------


def _confirm(client: Client, replies: list[Push]) -> Any:
    """Send all confirmations but the last as pushes; the last is the command's reply."""
    for reply in replies[:-1]:
        client.push(reply)
    return replies[-1]


def _count(client: Client) -> int:
    return len(client.channels) + len(client.patterns)


def _deny_blocking(client: Client, name: str) -> None:
    if client.in_exec:
        raise CommandError(f"ERR {name} isn't allowed for a DENY BLOCKING client")


@command("subscribe", -2, "pubsub noscript loading stale sentinel", keys=(0, 0, 0))
def subscribe(client: Client, argv: list[bytes]) -> Any:
    pubsub = client.server.pubsub
    replies = []
    for channel in argv[1:]:
        pubsub.subscribe(client, channel)
        replies.append(Push([b"subscribe", channel, _count(client)]))
    return _confirm(client, replies)


@command("unsubscribe", -1, "pubsub noscript loading stale sentinel", keys=(0, 0, 0))
def unsubscribe(client: Client, argv: list[bytes]) -> Any:
    pubsub = client.server.pubsub
    channels = argv[1:] if len(argv) > 1 else list(client.channels)
    replies = []
    for channel in channels:
        pubsub.unsubscribe(client, channel)
        replies.append(Push([b"unsubscribe", channel, _count(client)]))
    if not replies:
        replies.append(Push([b"unsubscribe", None, _count(client)]))
    return _confirm(client, replies)


@command("psubscribe", -2, "pubsub noscript loading stale sentinel", keys=(0, 0, 0))
def psubscribe(client: Client, argv: list[bytes]) -> Any:
    pubsub = client.server.pubsub
    replies = []
    for pattern in argv[1:]:
        pubsub.psubscribe(client, pattern)
        replies.append(Push([b"psubscribe", pattern, _count(client)]))
    return _confirm(client, replies)


@command("punsubscribe", -1, "pubsub noscript loading stale sentinel", keys=(0, 0, 0))
def punsubscribe(client: Client, argv: list[bytes]) -> Any:
    pubsub = client.server.pubsub
    patterns = argv[1:] if len(argv) > 1 else list(client.patterns)
    replies = []
    for pattern in patterns:
        pubsub.punsubscribe(client, pattern)
        replies.append(Push([b"punsubscribe", pattern, _count(client)]))
    if not replies:
        replies.append(Push([b"punsubscribe", None, _count(client)]))
    return _confirm(client, replies)


@command("ssubscribe", -2, "pubsub noscript loading stale", keys=(1, -1, 1))
def ssubscribe(client: Client, argv: list[bytes]) -> Any:
    _deny_blocking(client, "SSUBSCRIBE")
    pubsub = client.server.pubsub
    replies = []
    for channel in argv[1:]:
        pubsub.subscribe(client, channel, shard=True)
        replies.append(Push([b"ssubscribe", channel, len(client.shard_channels)]))
    return _confirm(client, replies)


@command("sunsubscribe", -1, "pubsub noscript loading stale", keys=(1, -1, 1))
def sunsubscribe(client: Client, argv: list[bytes]) -> Any:
    pubsub = client.server.pubsub
    channels = argv[1:] if len(argv) > 1 else list(client.shard_channels)
    replies = []
    for channel in channels:
        pubsub.unsubscribe(client, channel, shard=True)
        replies.append(Push([b"sunsubscribe", channel, len(client.shard_channels)]))
    if not replies:
        replies.append(Push([b"sunsubscribe", None, 0]))
    return _confirm(client, replies)


@command("publish", 3, "pubsub loading stale fast may_replicate sentinel", keys=(0, 0, 0))
def publish(client: Client, argv: list[bytes]) -> Any:
    return client.server.pubsub.publish(argv[1], argv[2])


@command("spublish", 3, "pubsub loading stale fast may_replicate", keys=(1, 1, 1))
def spublish(client: Client, argv: list[bytes]) -> Any:
    return client.server.pubsub.publish(argv[1], argv[2], shard=True)


# -- PUBSUB introspection ----------------------------------------------------------------------


def _channel_list(table: dict[bytes, _Subscribers], argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise _subcommand_error(argv)
    if len(argv) == 2:
        return list(table)
    matches = compile_glob(argv[2])
    return [channel for channel in table if matches(channel)]


def _subcommand_error(argv: list[bytes]) -> CommandError:
    name = argv[1].decode("utf-8", "replace")[:128]
    return CommandError(
        f"ERR unknown subcommand or wrong number of arguments for '{name}'. "
        f"Try {argv[0].decode('utf-8', 'replace').upper()} HELP."
    )


@command("pubsub|channels", -2, "pubsub loading stale", keys=(0, 0, 0))
def pubsub_channels(client: Client, argv: list[bytes]) -> Any:
    return _channel_list(client.server.pubsub.channels, argv)


@command("pubsub|shardchannels", -2, "pubsub loading stale", keys=(0, 0, 0))
def pubsub_shardchannels(client: Client, argv: list[bytes]) -> Any:
    return _channel_list(client.server.pubsub.shard_channels, argv)


@command("pubsub|numsub", -2, "pubsub loading stale", keys=(0, 0, 0))
def pubsub_numsub(client: Client, argv: list[bytes]) -> Any:
    table = client.server.pubsub.channels
    reply: list[Any] = []
    for channel in argv[2:]:
        reply += (channel, len(table.get(channel, ())))
    return reply


@command("pubsub|shardnumsub", -2, "pubsub loading stale", keys=(0, 0, 0))
def pubsub_shardnumsub(client: Client, argv: list[bytes]) -> Any:
    table = client.server.pubsub.shard_channels
    reply: list[Any] = []
    for channel in argv[2:]:
        reply += (channel, len(table.get(channel, ())))
    return reply


@command("pubsub|numpat", 2, "pubsub loading stale", keys=(0, 0, 0))
def pubsub_numpat(client: Client, argv: list[bytes]) -> Any:
    return len(client.server.pubsub.patterns)


_PUBSUB_HELP = [
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
]


def help_reply(argv: list[bytes], lines: list[str]) -> list[Any]:
    """Redis's ``addReplyHelp``: a header, the lines, and HELP, as status replies."""
    name = argv[0].decode("utf-8", "replace").upper()
    return [
        Simple(f"{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"),
        *(Simple(line) for line in lines),
        Simple("HELP"),
        Simple("    Prints this help."),
    ]


@command("pubsub|help", 2, "loading stale", keys=(0, 0, 0))
def pubsub_help(client: Client, argv: list[bytes]) -> Any:
    return help_reply(argv, _PUBSUB_HELP)
