"""MEMORY, LATENCY and a subset of DEBUG, answering as Redis 7.0.15 does.

Memory figures are estimates: Redis reports what its allocator (jemalloc) holds, which has no
counterpart in a Python process, so MEMORY USAGE adds up sizes modelled on Redis's structures
(of the same order as Redis's numbers, never equal) and MEMORY STATS has Redis's fields with the
process's resident size standing in for the allocator's figures.

The latency monitor records the events Redis records for commands ("command" and
"fast-command", from ``_cmd_monitor.trace``) once ``latency-monitor-threshold`` is set. DEBUG is
refused as Redis refuses it unless ``enable-debug-command`` is ``yes`` (or ``local``, for
loopback clients); then SLEEP, OBJECT, POPULATE, ERROR, LOG and HELP work.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from . import _cmd_info
from ._cmd_keys import object_encoding
from ._cmd_pubsub import help_reply
from ._commands import command, parse_int_arg, syntax_error
from ._db import CommandError, ZSet
from ._resp import Double, Map, Simple, Verbatim

if TYPE_CHECKING:
    from ._server import Client, Server

OK = Simple("OK")
logger = logging.getLogger("trapline.kv")

# -- MEMORY ------------------------------------------------------------------------------------

# Sizes modelled on Redis's structures on a 64-bit build: a dict entry and its key's sds
# header, a robj, and per-element overheads of the encodings.
_ENTRY = 24 + 16 + 8
_ELEMENT = 16


def _round8(n: int) -> int:
    return (n + 7) & ~7


def _item(data: bytes) -> int:
    return _round8(len(data) + 3)


def memory_usage(key: bytes, value: Any, samples: int = 5) -> int:
    """An estimate of the bytes ``key`` and its value take (MEMORY USAGE); ``samples`` elements
    of a collection are measured and the rest assumed alike (0 measures all)."""
    size = _ENTRY + _item(key)
    if type(value) is bytes:
        return size + _item(value)
    items: list[bytes]
    if isinstance(value, dict):
        items = [f + v for f, v in value.items()]
    elif isinstance(value, ZSet):
        items = [m + b"12345678" for m in value.scores]
    else:
        try:
            items = list(value)
        except TypeError:
            return size + 64
    count = len(items)
    if not count:
        return size + 64
    measured = items if samples == 0 else items[:samples]
    average = sum(_item(item) + _ELEMENT for item in measured) / len(measured)
    return size + 64 + int(average * count)


@command("memory|usage", -3, "readonly", keys=(2, 2, 1))
def memory_usage_command(client: Client, argv: list[bytes]) -> Any:
    samples = 5
    if len(argv) == 5 and argv[3].lower() == b"samples":
        samples = parse_int_arg(argv[4])
        if samples < 0:
            raise syntax_error()
    elif len(argv) != 3:
        raise syntax_error()
    value = client.db.get(argv[2])
    if value is None:
        return None
    return memory_usage(argv[2], value, samples)


@command("memory|stats", 2, "", keys=(0, 0, 0))
def memory_stats(client: Client, argv: list[bytes]) -> Any:
    server = client.server
    rss = _cmd_info._rss()
    startup = min(rss, 1 << 20)
    keys = sum(len(db) for db in server.dbs)
    overhead = startup
    pairs: list[tuple[bytes, Any]] = [
        (b"peak.allocated", rss),
        (b"total.allocated", rss),
        (b"startup.allocated", startup),
        (b"replication.backlog", 0),
        (b"clients.slaves", 0),
        (b"clients.normal", sum(len(c.pushes) + 1024 for c in server.clients.values())),
        (b"cluster.links", 0),
        (b"aof.buffer", 0),
        (b"lua.caches", 0),
        (b"functions.caches", 0),
    ]
    for db in server.dbs:
        if len(db):
            main = _round8(len(db) * 8) + 8 * len(db)
            expires = _round8(len(db.expires) * 8) + 8 * len(db.expires)
            overhead += main + expires
            pairs.append(
                (
                    b"db.%d" % db.id,
                    Map(
                        [
                            (b"overhead.hashtable.main", main),
                            (b"overhead.hashtable.expires", expires),
                            (b"overhead.hashtable.slot-to-keys", 0),
                        ]
                    ),
                )
            )
    dataset = max(rss - overhead, 0)
    pairs += [
        (b"overhead.total", overhead),
        (b"keys.count", keys),
        (b"keys.bytes-per-key", (rss - startup) // keys if keys else 0),
        (b"dataset.bytes", dataset),
        (b"dataset.percentage", Double(dataset * 100 / max(rss - startup, 1))),
        (b"peak.percentage", Double(100.0)),
        (b"allocator.allocated", rss),
        (b"allocator.active", rss),
        (b"allocator.resident", rss),
        (b"allocator-fragmentation.ratio", Double(1.0)),
        (b"allocator-fragmentation.bytes", 0),
        (b"allocator-rss.ratio", Double(1.0)),
        (b"allocator-rss.bytes", 0),
        (b"rss-overhead.ratio", Double(1.0)),
        (b"rss-overhead.bytes", 0),
        (b"fragmentation", Double(1.0)),
        (b"fragmentation.bytes", 0),
    ]
    return Map(pairs)


_DOCTOR_EMPTY = (
    b"Hi Sam, this instance is empty or is using very little memory, my issues detector can't "
    b"be used in these conditions. Please, leave for your mission on Earth and fill it with "
    b"some data. The new Sam and I will be back to our programming as soon as I finished "
    b"rebooting.\n"
)
_DOCTOR_FINE = (
    b"Hi Sam, I can't find any memory issue in your instance. I can only account for what "
    b"occurs on this base.\n"
)


@command("memory|doctor", 2, "", keys=(0, 0, 0))
def memory_doctor(client: Client, argv: list[bytes]) -> Any:
    # Redis says the first below 5 MB of allocations (an empty instance); a Python process is
    # never that small, so the keys decide here.
    empty = not any(len(db) for db in client.server.dbs)
    return Verbatim(_DOCTOR_EMPTY if empty else _DOCTOR_FINE)


@command("memory|malloc-stats", 2, "", keys=(0, 0, 0))
def memory_malloc_stats(client: Client, argv: list[bytes]) -> Any:
    # What Redis replies when built without jemalloc.
    return Verbatim(b"Stats not supported for the current allocator")


@command("memory|purge", 2, "", keys=(0, 0, 0))
def memory_purge(client: Client, argv: list[bytes]) -> Any:
    return OK


_MEMORY_HELP = [
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
]


@command("memory|help", 2, "loading stale", keys=(0, 0, 0))
def memory_help(client: Client, argv: list[bytes]) -> Any:
    return help_reply(argv, _MEMORY_HELP)


# -- LATENCY -----------------------------------------------------------------------------------

_LATENCY_SAMPLES = 160  # Redis's LATENCY_TS_LEN


class _Series:
    __slots__ = ("max", "samples")

    def __init__(self) -> None:
        self.samples: deque[tuple[int, int]] = deque(maxlen=_LATENCY_SAMPLES)
        self.max = 0


def _latency(server: Server) -> dict[bytes, _Series]:
    events = server.__dict__.get("_latency_events")
    if events is None:
        events = server.__dict__["_latency_events"] = {}
    assert isinstance(events, dict)
    return events


def latency_sample(server: Server, event: bytes, millis: int) -> None:
    """Redis ``latencyAddSampleIfNeeded``: record ``millis`` for ``event`` if the monitor is on
    and it reached the threshold; samples in the same second keep the worst."""
    threshold = int(server.config.values.get("latency-monitor-threshold", "0"))
    if not threshold or millis < threshold:
        return
    series = _latency(server).setdefault(event, _Series())
    now = server.now_ms() // 1000
    if series.samples and series.samples[-1][0] == now:
        last = series.samples[-1]
        series.samples[-1] = (now, max(last[1], millis))
    else:
        series.samples.append((now, millis))
    series.max = max(series.max, millis)


@command("latency|latest", 2, "admin noscript loading stale", keys=(0, 0, 0))
def latency_latest(client: Client, argv: list[bytes]) -> Any:
    return [
        [event, *series.samples[-1], series.max]
        for event, series in _latency(client.server).items()
        if series.samples
    ]


@command("latency|history", 3, "admin noscript loading stale", keys=(0, 0, 0))
def latency_history(client: Client, argv: list[bytes]) -> Any:
    series = _latency(client.server).get(argv[2])
    return [] if series is None else [list(sample) for sample in series.samples]


@command("latency|reset", -2, "admin noscript loading stale", keys=(0, 0, 0))
def latency_reset(client: Client, argv: list[bytes]) -> Any:
    events = _latency(client.server)
    if len(argv) == 2:
        count = len(events)
        events.clear()
        return count
    return sum(events.pop(event, None) is not None for event in dict.fromkeys(argv[2:]))


@command("latency|graph", 3, "admin noscript loading stale", keys=(0, 0, 0))
def latency_graph(client: Client, argv: list[bytes]) -> Any:
    series = _latency(client.server).get(argv[2])
    if series is None or not series.samples:
        name = argv[2].decode("utf-8", "replace")
        raise CommandError(f"ERR No samples available for event '{name}'")
    # Not Redis's ASCII-art graph: the samples, one per line, with the event's extremes.
    now = client.server.now_ms() // 1000
    high = max(ms for _, ms in series.samples)
    low = min(ms for _, ms in series.samples)
    name = argv[2].decode("utf-8", "replace")
    lines = [f"{name} - high {high} ms, low {low} ms (all time high {series.max} ms)"]
    lines += [f"{now - at}s ago: {ms} ms" for at, ms in series.samples]
    return Verbatim(("\n".join(lines) + "\n").encode())


_DOCTOR_DISABLED = (
    b"I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. "
    b'You may use "CONFIG SET latency-monitor-threshold <milliseconds>." in order to enable it. '
    b"If we weren't in a deep space mission I'd suggest to take a look at "
    b"https://redis.io/topics/latency-monitor.\n"
)
_DOCTOR_QUIET = (
    b"Dave, no latency spike was observed during the lifetime of this Redis instance, not in "
    b"the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and "
    b"think things over.\n"
)


@command("latency|doctor", 2, "admin noscript loading stale", keys=(0, 0, 0))
def latency_doctor(client: Client, argv: list[bytes]) -> Any:
    server = client.server
    events = _latency(server)
    if not events and server.config.values.get("latency-monitor-threshold", "0") == "0":
        return Verbatim(_DOCTOR_DISABLED)
    if not events:
        return Verbatim(_DOCTOR_QUIET)
    report = [
        "Dave, I have observed latency spikes in this Redis instance. You don't mind talking "
        "about it, do you Dave?\n"
    ]
    for number, (event, series) in enumerate(events.items(), 1):
        values = [ms for _, ms in series.samples]
        average = sum(values) // len(values) if values else 0
        report.append(
            f"{number}. {event.decode('utf-8', 'replace')}: {len(values)} latency spikes "
            f"(average {average}ms). Worst all time event {series.max}ms."
        )
    return Verbatim(("\n".join(report) + "\n").encode())


_LATENCY_HELP = [
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the "
    "specified command names.",
    "    If no commands are specified then all histograms are replied.",
]


@command("latency|help", 2, "loading stale", keys=(0, 0, 0))
def latency_help(client: Client, argv: list[bytes]) -> Any:
    return help_reply(argv, _LATENCY_HELP)


# -- DEBUG -------------------------------------------------------------------------------------


def _debug_allowed(client: Client) -> bool:
    setting = client.server.config.values.get("enable-debug-command", "no")
    if setting == "yes":
        return True
    host = client.address.rsplit(":", 1)[0]
    return setting == "local" and host in ("127.0.0.1", "::1", "[::1]")


_DEBUG_HELP = [
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
]


@command("debug", -2, "admin noscript loading stale protected", keys=(0, 0, 0))
def debug(client: Client, argv: list[bytes]) -> Any:
    if not _debug_allowed(client):
        raise CommandError(
            'ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", '
            "you can run it from a local connection, otherwise you need to set this option in "
            "the configuration file, and then restart the server."
        )
    sub = argv[1].lower()
    if sub == b"help" and len(argv) == 2:
        return help_reply(argv, _DEBUG_HELP)
    if sub == b"sleep" and len(argv) == 3:
        try:
            seconds = float(argv[2])
        except ValueError:
            seconds = 0.0  # Redis reads it with strtod: what is not a number is 0
        # As in Redis, the whole server stops (that is what tests of client timeouts want).
        time.sleep(max(seconds, 0.0))
        return OK
    if sub == b"object" and len(argv) == 3:
        value = client.db.get(argv[2])
        if value is None:
            raise CommandError("ERR no such key")
        encoding = object_encoding(client.db, argv[2], value)
        size = memory_usage(argv[2], value, 0) - _ENTRY - _item(argv[2])
        return Simple(
            f"Value at:0x{id(value):x} refcount:1 encoding:{encoding} "
            f"serializedlength:{max(size - 16, 1)} lru:0 lru_seconds_idle:0"
        )
    if sub == b"populate" and 3 <= len(argv) <= 5:
        count = parse_int_arg(argv[2], "ERR value is out of range")
        if count < 0:
            raise CommandError("ERR value is out of range")
        prefix = argv[3] if len(argv) > 3 else b"key"
        size = parse_int_arg(argv[4]) if len(argv) > 4 else 0
        db = client.db
        for i in range(count):
            key = b"%s:%d" % (prefix, i)
            if db.get(key) is not None:
                continue
            value = b"value:%d" % i
            if size:
                value = value[:size].ljust(size, b"\0")
            db.set(key, value)
        return OK
    if sub == b"error" and len(argv) == 3:
        message = argv[2].decode("utf-8", "replace")  # Redis ``addReplyError``
        raise CommandError(message[1:] if message.startswith("-") else "ERR " + message)
    if sub == b"log" and len(argv) == 3:
        logger.warning("DEBUG LOG: %s", argv[2].decode("utf-8", "replace"))
        return OK
    name = argv[1].decode("utf-8", "replace")[:128]
    raise CommandError(
        f"ERR unknown subcommand or wrong number of arguments for '{name}'. Try DEBUG HELP."
    )
