"""MONITOR and SLOWLOG: what the server sees of every command it runs.

``trace()`` is called by ``Server.call`` after each command with the time it took on the
server's clock (the kernel clock, so exact on virtual time). It feeds MONITOR clients (Redis's
``replicationFeedMonitors``: ``+<unix time> [<db> <addr>] "ARG" ...``, each argument quoted as
``sdscatrepr`` does, AUTH and HELLO/MIGRATE passwords redacted, admin commands left out) and
pushes slow commands to the slow log (``slowlogPushEntryIfNeeded``). The batch loop's fast path
does not call ``Server.call``: ``Server.tracing`` says when it must be left, which is while a client
monitors, while ``slowlog-log-slower-than`` is 0 (every command is logged) or while the latency
monitor is on, so the fast path costs nothing when none of them is asked for. With the default
threshold, commands on the fast path (keyspace commands from ordinary clients) are not timed.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from trapline.lowlevel import current_token

from ._cmd_command import command_entry
from ._cmd_debug import latency_sample
from ._cmd_pubsub import help_reply
from ._commands import Command, command, parse_int_arg
from ._db import CommandError
from ._resp import NoReply, Simple

if TYPE_CHECKING:
    from ._server import Client, Server

OK = Simple("OK")

# Redis's SLOWLOG_ENTRY_MAX_ARGC and SLOWLOG_ENTRY_MAX_STRING.
_MAX_ARGC = 32
_MAX_STRING = 128

_REPR_ESCAPES = {
    ord("\\"): b"\\\\",
    ord('"'): b'\\"',
    ord("\n"): b"\\n",
    ord("\r"): b"\\r",
    ord("\t"): b"\\t",
    ord("\a"): b"\\a",
    ord("\b"): b"\\b",
}
_REPR = [
    _REPR_ESCAPES.get(c, bytes([c]) if 0x20 <= c <= 0x7E else b"\\x%02x" % c) for c in range(256)
]


def sds_repr(data: bytes) -> bytes:
    """Redis ``sdscatrepr``: ``data`` in double quotes, C escapes for the unprintable."""
    return b'"' + b"".join([_REPR[c] for c in data]) + b'"'


_REDACTED = b"(redacted)"


def redacted(argv: list[bytes]) -> list[bytes]:
    """``argv`` as MONITOR and SLOWLOG show it: passwords replaced as Redis's
    ``redactClientCommandArgument`` does (AUTH, HELLO ... AUTH, MIGRATE ... AUTH/AUTH2)."""
    name = argv[0].lower()
    if name == b"auth":
        return [argv[0], *([_REDACTED] * (len(argv) - 1))]
    if name == b"hello":
        shown = list(argv)
        i = 2
        while i < len(argv):
            if argv[i].lower() == b"auth" and i + 2 < len(argv):
                shown[i + 1] = shown[i + 2] = _REDACTED
                i += 3
            else:
                i += 2
        return shown
    if name == b"migrate":
        shown = list(argv)
        for i in range(6, len(argv)):
            option = argv[i].lower()
            if option == b"auth" and i + 1 < len(argv):
                shown[i + 1] = _REDACTED
            elif option == b"auth2" and i + 2 < len(argv):
                shown[i + 1] = shown[i + 2] = _REDACTED
            elif option == b"keys":
                break
        return shown
    return argv


# Per command: (shown to monitors, may be slow-logged), from Redis's flags for it.
_visibility: dict[int, tuple[bool, bool]] = {}


def _visible(cmd: Command) -> tuple[bool, bool]:
    seen = _visibility.get(id(cmd))
    if seen is None:
        flags = set(command_entry(cmd).get("flags", ())) | set(cmd.flags)
        seen = _visibility[id(cmd)] = (
            not flags & {"admin", "skip_monitor"},
            "skip_slowlog" not in flags,
        )
    return seen


class SlowLog:
    """The slow log: newest entry first, at most ``slowlog-max-len`` entries."""

    def __init__(self) -> None:
        self.entries: deque[list[Any]] = deque()
        self.next_id = 0


def slowlog_of(server: Server) -> SlowLog:
    log = server.__dict__.get("_slowlog")
    if log is None:
        log = server.__dict__["_slowlog"] = SlowLog()
    assert isinstance(log, SlowLog)
    return log


def tracing(server: Server) -> bool:
    """Must every command be timed and shown (see the module docstring)?"""
    values = server.config.values
    return (
        bool(server.monitors)
        or server.gate is not None
        or values.get("slowlog-log-slower-than") == "0"
        or values.get("latency-monitor-threshold", "0") != "0"
    )


def refresh_tracing(server: Server) -> None:
    """Recompute ``server.tracing`` (after a monitor, gate or setting changed)."""
    server.tracing = tracing(server)


def trace(client: Client, cmd: Command, argv: list[bytes], seconds: float) -> None:
    """Show a command that ran to the monitors and the slow log (see the module docstring)."""
    server = client.server
    monitor, slowlog = _visible(cmd)
    name = cmd.name
    if name == "reset":
        server.monitors.pop(client, None)  # RESET ends MONITOR mode (and is not shown)
        refresh_tracing(server)
    elif name == "config|set":
        refresh_tracing(server)  # slowlog-log-slower-than or latency-monitor-threshold
    if monitor and server.monitors:
        micros = server.now_us()
        line = b"+%d.%06d [%d %s] %s\r\n" % (
            micros // 1_000_000,
            micros % 1_000_000,
            client.db.id,
            client.address.encode("latin-1"),
            b" ".join([sds_repr(arg) for arg in redacted(argv)]),
        )
        for watcher in server.monitors:
            if watcher is client:
                # A monitor's own command is shown after its reply, which the batch loop
                # has not encoded yet: add the line once the batch is done.
                current_token().run_sync_soon(_show, watcher, line)
            else:
                _show(watcher, line)
    values = server.config.values
    duration = int(seconds * 1_000_000)
    if values.get("latency-monitor-threshold", "0") != "0":
        event = b"fast-command" if "fast" in cmd.flags else b"command"
        latency_sample(server, event, duration // 1000)
    if not slowlog:
        return
    threshold = int(values.get("slowlog-log-slower-than", "10000"))
    if threshold < 0 or duration < threshold:
        return
    log = slowlog_of(server)
    shown = redacted(argv)
    args: list[bytes] = []
    count = min(len(shown), _MAX_ARGC)
    for i in range(count):
        if count != len(shown) and i == count - 1:
            args.append(b"... (%d more arguments)" % (len(shown) - count + 1))
        elif len(shown[i]) > _MAX_STRING:
            extra = len(shown[i]) - _MAX_STRING
            args.append(shown[i][:_MAX_STRING] + b"... (%d more bytes)" % extra)
        else:
            args.append(shown[i])
    entry = [
        log.next_id,
        server.now_ms() // 1000,
        duration,
        args,
        client.address.encode("latin-1"),
        client.name,
    ]
    log.next_id += 1
    log.entries.appendleft(entry)
    max_len = int(values.get("slowlog-max-len", "128"))
    while len(log.entries) > max_len:
        log.entries.pop()


def _show(watcher: Client, line: bytes) -> None:
    watcher.pushes += line
    watcher.push_waiters.unpark_all()


# -- MONITOR -----------------------------------------------------------------------------------


@command("monitor", 1, "admin noscript loading stale", keys=(0, 0, 0))
def monitor(client: Client, argv: list[bytes]) -> Any:
    if client.in_exec:
        raise CommandError("ERR MONITOR isn't allowed for DENY BLOCKING client")
    server = client.server
    if client in server.monitors:
        return NoReply  # Redis ignores a second MONITOR, without a reply
    server.monitors[client] = None
    refresh_tracing(server)
    if _forget not in server.disconnect_hooks:
        server.disconnect_hooks.append(_forget)
    return OK


def _forget(client: Client) -> None:
    if client.server.monitors.pop(client, 0) is None:
        refresh_tracing(client.server)


def keyspace_refused(client: Client, cmd: Command) -> CommandError | None:
    """Redis refuses keyspace commands from a monitoring client (it is a replica to Redis)."""
    flags = cmd.flags
    if "write" in flags or "readonly" in flags or "may_replicate" in flags:
        return CommandError("ERR Replica can't interact with the keyspace")
    return None


# -- SLOWLOG -----------------------------------------------------------------------------------


@command("slowlog|get", -2, "admin loading stale", keys=(0, 0, 0))
def slowlog_get(client: Client, argv: list[bytes]) -> Any:
    log = slowlog_of(client.server)
    count = 10
    if len(argv) > 3:
        sub = argv[1].decode("utf-8", "replace")[:128]
        raise CommandError(
            f"ERR unknown subcommand or wrong number of arguments for '{sub}'. Try SLOWLOG HELP."
        )
    if len(argv) == 3:
        count = parse_int_arg(argv[2], "ERR count should be greater than or equal to -1")
        if count < -1:
            raise CommandError("ERR count should be greater than or equal to -1")
        if count == -1:
            count = len(log.entries)
    return list(log.entries)[:count]


@command("slowlog|len", 2, "admin loading stale", keys=(0, 0, 0))
def slowlog_len(client: Client, argv: list[bytes]) -> Any:
    return len(slowlog_of(client.server).entries)


@command("slowlog|reset", 2, "admin loading stale", keys=(0, 0, 0))
def slowlog_reset(client: Client, argv: list[bytes]) -> Any:
    slowlog_of(client.server).entries.clear()
    return OK


_SLOWLOG_HELP = [
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
]


@command("slowlog|help", 2, "loading stale", keys=(0, 0, 0))
def slowlog_help(client: Client, argv: list[bytes]) -> Any:
    return help_reply(argv, _SLOWLOG_HELP)
