"""INFO: the server's state in Redis 7.0's text format, section by section.

The sections, their order, field names and formats follow Redis 7.0.15's ``genRedisInfoString``
so that tools which parse INFO (redis-cli, monitoring agents, client libraries reading
``redis_version`` or ``role``) work. Fields trapline.kv measures are real (clients, blocked
clients, keyspace, pub/sub, commands and connections, uptime, CPU, process memory); the rest
(replication offsets, fork statistics, allocator details...) report what an idle stand-alone
Redis without replicas reports.
"""

from __future__ import annotations

import os
import platform
import resource
import secrets
import sys
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trapline

from ._cmd_config import config_value
from ._commands import command
from ._resp import Verbatim

if TYPE_CHECKING:
    from ._server import Server

__all__ = ["REDIS_VERSION", "run_ids"]

REDIS_VERSION = "7.0.15"

_DEFAULT_SECTIONS = (
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "module_list",
    "errorstats",
    "cluster",
    "keyspace",
)

_ids: weakref.WeakKeyDictionary[Server, tuple[str, str]] = weakref.WeakKeyDictionary()
_peak_memory: weakref.WeakKeyDictionary[Server, int] = weakref.WeakKeyDictionary()


def run_ids(server: Server) -> tuple[str, str]:
    """The server's ``run_id`` and ``master_replid`` (random, fixed for its lifetime)."""
    ids = _ids.get(server)
    if ids is None:
        ids = _ids[server] = (secrets.token_hex(20), secrets.token_hex(20))
    return ids


def _human(n: int) -> str:
    """Redis ``bytesToHuman``."""
    for power, unit in ((5, "P"), (4, "T"), (3, "G"), (2, "M"), (1, "K")):
        if n >= 1024**power and n < 1024 ** (power + 1):
            return f"{n / 1024**power:.2f}{unit}"
    return f"{n}B"


def _rss() -> int:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _total_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError):
        return 0


def _lines(title: str, fields: list[tuple[str, Any]]) -> str:
    return f"# {title}\r\n" + "".join(f"{name}:{value}\r\n" for name, value in fields)


def _server(server: Server) -> str:
    uname = platform.uname()
    now_us = server.now_us()
    uptime = int(now_us // 1_000_000 - server.started)
    return _lines(
        "Server",
        [
            ("redis_version", REDIS_VERSION),
            ("redis_git_sha1", "00000000"),
            ("redis_git_dirty", 0),
            ("redis_build_id", "747261706c696e65"),
            ("redis_mode", "standalone"),
            ("os", f"{uname.system} {uname.release} {uname.machine}"),
            ("arch_bits", 64 if sys.maxsize > 2**32 else 32),
            ("monotonic_clock", "POSIX clock_gettime"),
            ("multiplexing_api", "epoll" if sys.platform.startswith("linux") else "select"),
            ("atomicvar_api", "c11-builtin"),
            ("gcc_version", "0.0.0"),
            ("process_id", os.getpid()),
            ("process_supervised", "no"),
            ("run_id", run_ids(server)[0]),
            ("tcp_port", config_value(server, "port")),
            ("server_time_usec", now_us),
            ("uptime_in_seconds", uptime),
            ("uptime_in_days", uptime // 86400),
            ("hz", config_value(server, "hz")),
            ("configured_hz", config_value(server, "hz")),
            ("lru_clock", now_us // 1_000_000 & 0xFFFFFF),
            ("executable", sys.executable),
            ("config_file", ""),
            ("io_threads_active", 0),
        ],
    )


def _clients(server: Server) -> str:
    clients = server.clients.values()
    return _lines(
        "Clients",
        [
            ("connected_clients", len(server.clients)),
            ("cluster_connections", 0),
            ("maxclients", config_value(server, "maxclients")),
            ("client_recent_max_input_buffer", 0),
            ("client_recent_max_output_buffer", max((len(c.pushes) for c in clients), default=0)),
            ("blocked_clients", sum(1 for c in clients if c.blocked)),
            ("tracking_clients", 0),
            ("clients_in_timeout_table", 0),
        ],
    )


def _memory(server: Server) -> str:
    used = _rss()
    peak = max(used, _peak_memory.get(server, 0))
    _peak_memory[server] = peak
    total = _total_memory()
    maxmemory = int(config_value(server, "maxmemory"))
    return _lines(
        "Memory",
        [
            ("used_memory", used),
            ("used_memory_human", _human(used)),
            ("used_memory_rss", used),
            ("used_memory_rss_human", _human(used)),
            ("used_memory_peak", peak),
            ("used_memory_peak_human", _human(peak)),
            ("used_memory_peak_perc", f"{used * 100 / peak:.2f}%"),
            ("used_memory_overhead", 0),
            ("used_memory_startup", 0),
            ("used_memory_dataset", used),
            ("used_memory_dataset_perc", "100.00%"),
            ("allocator_allocated", used),
            ("allocator_active", used),
            ("allocator_resident", used),
            ("total_system_memory", total),
            ("total_system_memory_human", _human(total)),
            ("used_memory_lua", 0),
            ("used_memory_vm_eval", 0),
            ("used_memory_lua_human", "0B"),
            ("used_memory_scripts_eval", 0),
            ("number_of_cached_scripts", 0),
            ("number_of_functions", 0),
            ("number_of_libraries", 0),
            ("used_memory_vm_functions", 0),
            ("used_memory_vm_total", 0),
            ("used_memory_vm_total_human", "0B"),
            ("used_memory_functions", 0),
            ("used_memory_scripts", 0),
            ("used_memory_scripts_human", "0B"),
            ("maxmemory", maxmemory),
            ("maxmemory_human", _human(maxmemory)),
            ("maxmemory_policy", config_value(server, "maxmemory-policy")),
            ("allocator_frag_ratio", "1.00"),
            ("allocator_frag_bytes", 0),
            ("allocator_rss_ratio", "1.00"),
            ("allocator_rss_bytes", 0),
            ("rss_overhead_ratio", "1.00"),
            ("rss_overhead_bytes", 0),
            ("mem_fragmentation_ratio", "1.00"),
            ("mem_fragmentation_bytes", 0),
            ("mem_not_counted_for_evict", 0),
            ("mem_replication_backlog", 0),
            ("mem_total_replication_buffers", 0),
            ("mem_clients_slaves", 0),
            ("mem_clients_normal", sum(len(c.pushes) for c in server.clients.values())),
            ("mem_cluster_links", 0),
            ("mem_aof_buffer", 0),
            ("mem_allocator", "libc"),
            ("active_defrag_running", 0),
            ("lazyfree_pending_objects", 0),
            ("lazyfreed_objects", 0),
        ],
    )


def _persistence(server: Server) -> str:
    aof = getattr(server, "aof", None)  # the append-only file (open if fd >= 0)
    rewrites = getattr(aof, "rewrites", 0)
    if getattr(aof, "fd", -1) < 0:
        aof = None
    from ._rdbfile import snapshots_of  # imports this module

    rdb = snapshots_of(server)
    bgsave_seconds = -1
    if rdb.bgsave_running:
        bgsave_seconds = int(trapline.current_time() - rdb.bgsave_started_at)
    text = _lines(
        "Persistence",
        [
            ("loading", 0),
            ("async_loading", 0),
            ("current_cow_peak", 0),
            ("current_cow_size", 0),
            ("current_cow_size_age", 0),
            ("current_fork_perc", "0.00"),
            ("current_save_keys_processed", 0),
            ("current_save_keys_total", 0),
            ("rdb_changes_since_last_save", rdb.dirty),
            ("rdb_bgsave_in_progress", int(rdb.bgsave_running)),
            ("rdb_last_save_time", server.lastsave),
            ("rdb_last_bgsave_status", "ok" if rdb.last_bgsave_ok else "err"),
            ("rdb_last_bgsave_time_sec", rdb.last_bgsave_seconds),
            ("rdb_current_bgsave_time_sec", bgsave_seconds),
            ("rdb_saves", rdb.saves),
            ("rdb_last_cow_size", 0),
            ("rdb_last_load_keys_expired", rdb.expired_at_load),
            ("rdb_last_load_keys_loaded", rdb.loaded),
            ("aof_enabled", int(aof is not None)),
            ("aof_rewrite_in_progress", int(getattr(aof, "rewrite_buffer", None) is not None)),
            ("aof_rewrite_scheduled", 0),
            ("aof_last_rewrite_time_sec", -1),
            ("aof_current_rewrite_time_sec", -1),
            ("aof_last_bgrewrite_status", "ok"),
            ("aof_rewrites", rewrites),
            ("aof_rewrites_consecutive_failures", 0),
            ("aof_last_write_status", "ok"),
            ("aof_last_cow_size", 0),
            ("module_fork_in_progress", 0),
            ("module_fork_last_cow_size", 0),
        ],
    )
    if aof is not None:
        try:
            size = os.path.getsize(aof.path)
        except (OSError, AttributeError, TypeError):
            size = 0
        buffered = len(getattr(aof, "buffer", b""))
        text += (
            f"aof_current_size:{size}\r\naof_base_size:{size}\r\naof_pending_rewrite:0\r\n"
            f"aof_buffer_length:{buffered}\r\naof_pending_bio_fsync:0\r\naof_delayed_fsync:0\r\n"
        )
    return text


def _stats(server: Server) -> str:
    stats = server.stats
    pubsub = server.pubsub
    zero = 0
    return _lines(
        "Stats",
        [
            ("total_connections_received", stats["total_connections_received"]),
            ("total_commands_processed", stats["total_commands_processed"]),
            ("instantaneous_ops_per_sec", zero),
            ("total_net_input_bytes", zero),
            ("total_net_output_bytes", zero),
            ("total_net_repl_input_bytes", zero),
            ("total_net_repl_output_bytes", zero),
            ("instantaneous_input_kbps", "0.00"),
            ("instantaneous_output_kbps", "0.00"),
            ("instantaneous_input_repl_kbps", "0.00"),
            ("instantaneous_output_repl_kbps", "0.00"),
            ("rejected_connections", stats["rejected_connections"]),
            ("sync_full", zero),
            ("sync_partial_ok", zero),
            ("sync_partial_err", zero),
            ("expired_keys", stats["expired_keys"]),
            ("expired_stale_perc", "0.00"),
            ("expired_time_cap_reached_count", zero),
            ("expire_cycle_cpu_milliseconds", zero),
            ("evicted_keys", zero),
            ("evicted_clients", zero),
            ("total_eviction_exceeded_time", zero),
            ("current_eviction_exceeded_time", zero),
            ("keyspace_hits", stats.get("keyspace_hits", zero)),
            ("keyspace_misses", stats.get("keyspace_misses", zero)),
            ("pubsub_channels", len(pubsub.channels)),
            ("pubsub_patterns", len(pubsub.patterns)),
            ("pubsubshard_channels", len(pubsub.shard_channels)),
            ("latest_fork_usec", zero),
            ("total_forks", zero),
            ("migrate_cached_sockets", zero),
            ("slave_expires_tracked_keys", zero),
            ("active_defrag_hits", zero),
            ("active_defrag_misses", zero),
            ("active_defrag_key_hits", zero),
            ("active_defrag_key_misses", zero),
            ("total_active_defrag_time", zero),
            ("current_active_defrag_time", zero),
            ("tracking_total_keys", zero),
            ("tracking_total_items", zero),
            ("tracking_total_prefixes", zero),
            ("unexpected_error_replies", zero),
            ("total_error_replies", stats.get("total_error_replies", zero)),
            ("dump_payload_sanitizations", zero),
            ("total_reads_processed", zero),
            ("total_writes_processed", zero),
            ("io_threaded_reads_processed", zero),
            ("io_threaded_writes_processed", zero),
            ("reply_buffer_shrinks", zero),
            ("reply_buffer_expands", zero),
        ],
    )


def _replication(server: Server) -> str:
    return _lines(
        "Replication",
        [
            ("role", "master"),
            ("connected_slaves", 0),
            ("master_failover_state", "no-failover"),
            ("master_replid", run_ids(server)[1]),
            ("master_replid2", "0" * 40),
            ("master_repl_offset", 0),
            ("second_repl_offset", -1),
            ("repl_backlog_active", 0),
            ("repl_backlog_size", config_value(server, "repl-backlog-size")),
            ("repl_backlog_first_byte_offset", 0),
            ("repl_backlog_histlen", 0),
        ],
    )


def _seconds(value: float) -> str:
    return f"{int(value)}.{int(value * 1_000_000) % 1_000_000:06d}"


def _cpu(server: Server) -> str:
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    fields = [
        ("used_cpu_sys", _seconds(me.ru_stime)),
        ("used_cpu_user", _seconds(me.ru_utime)),
        ("used_cpu_sys_children", _seconds(children.ru_stime)),
        ("used_cpu_user_children", _seconds(children.ru_utime)),
    ]
    thread = getattr(resource, "RUSAGE_THREAD", None)
    if thread is not None:
        main = resource.getrusage(thread)
        fields += [
            ("used_cpu_sys_main_thread", _seconds(main.ru_stime)),
            ("used_cpu_user_main_thread", _seconds(main.ru_utime)),
        ]
    return _lines("CPU", fields)


def _keyspace(server: Server) -> str:
    now = server.now_ms()
    fields = []
    for db in server.dbs:
        if db.data or db.expires:
            ttls = [when - now for when in db.expires.values() if when > now]
            avg_ttl = sum(ttls) // len(ttls) if ttls else 0
            fields.append(
                (f"db{db.id}", f"keys={len(db.data)},expires={len(db.expires)},avg_ttl={avg_ttl}")
            )
    return _lines("Keyspace", fields)


_SECTIONS: list[tuple[str, Callable[[Server], str]]] = [
    ("server", _server),
    ("clients", _clients),
    ("memory", _memory),
    ("persistence", _persistence),
    ("stats", _stats),
    ("replication", _replication),
    ("cpu", _cpu),
    ("module_list", lambda server: "# Modules\r\n"),
    ("commandstats", lambda server: "# Commandstats\r\n"),
    ("errorstats", lambda server: "# Errorstats\r\n"),
    ("latencystats", lambda server: "# Latencystats\r\n"),
    ("cluster", lambda server: "# Cluster\r\ncluster_enabled:0\r\n"),
    ("keyspace", _keyspace),
]


def info_text(server: Server, args: list[bytes]) -> str:
    """The INFO reply for section arguments ``args`` (Redis's ``genInfoSectionDict`` rules)."""
    wanted: set[str] = set()
    everything = not args
    if not args:
        wanted.update(_DEFAULT_SECTIONS)
        everything = False
    for arg in args:
        name = arg.decode("latin-1").lower()
        if name == "default":
            wanted.update(_DEFAULT_SECTIONS)
        elif name in ("all", "everything"):
            everything = True
        else:
            wanted.add(name)
    if "modules" in wanted:
        wanted.add("module_list")
    return "\r\n".join(build(server) for name, build in _SECTIONS if everything or name in wanted)


@command("info", -1, "loading stale sentinel", keys=(0, 0, 0))
def info(client: Any, argv: list[bytes]) -> Any:
    return Verbatim(info_text(client.server, argv[1:]).encode())
