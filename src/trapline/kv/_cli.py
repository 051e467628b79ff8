"""``trapline kv serve``: run the trapline.kv server from the command line.

Options mirror redis-server's (``--port 6380``, ``--appendonly yes``...), and a Redis-style config
file (``name value`` per line, ``#`` comments) may be given first. The server binds to loopback
unless told otherwise, logs one readable start line, and stops cleanly on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import trapline
from trapline.lowlevel import current_token

from ._rdbfile import PersistenceError, snapshots_of
from ._server import Server, ServerConfig

logger = logging.getLogger("trapline.kv")

_OPTIONS = {
    "host": "bind",
    "port": "port",
    "dir": "dir",
    "appendonly": "appendonly",
    "appendfsync": "appendfsync",
    "requirepass": "requirepass",
    "maxclients": "maxclients",
    "timeout": "timeout",
    "save": "save",
}

#: redis-server's default save points (used unless --save or the config file says otherwise;
#: an embedded ``Server`` has none unless given).
DEFAULT_SAVE = "3600 1 300 100 60 10000"


def read_config_file(path: str) -> dict[str, str]:
    """Parse a Redis-style config file into ``{name: value}``; names the server does not know
    are logged and kept (a redis.conf has many that do not apply here)."""
    settings: dict[str, str] = {}
    # The server's own settings, and Redis's that it reads when present.
    known = {*ServerConfig().values, "dbfilename", "shutdown-on-sigint", "shutdown-on-sigterm"}
    with open(path, encoding="utf-8") as file:
        for number, raw in enumerate(file, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            name, _, value = line.partition(" ")
            if not value:
                raise SystemExit(f"{path}:{number}: expected 'name value', got {line!r}")
            if name.lower() not in known:
                logger.warning(
                    "%s:%d: %r is not a trapline.kv setting; ignored", path, number, name
                )
            value = value.strip().strip('"')
            if name.lower() == "save" and value and settings.get("save"):
                # As in redis.conf, each save line adds a save point ('save ""' clears them).
                value = f"{settings['save']} {value}"
            settings[name.lower()] = value
    return settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trapline kv serve", description="Run the trapline.kv Redis-protocol server."
    )
    parser.add_argument("config", nargs="?", help="a Redis-style config file")
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="TCP port (default 6379)")
    parser.add_argument("--dir", help="data directory: append-only file, dump.rdb (default .)")
    parser.add_argument("--appendonly", choices=["yes", "no"], help="log writes to disk")
    parser.add_argument("--appendfsync", choices=["always", "everysec", "no"])
    parser.add_argument("--requirepass", help="password clients must AUTH with")
    parser.add_argument("--maxclients", type=int, help="maximum simultaneous clients")
    parser.add_argument("--timeout", type=int, help="close clients idle this many seconds")
    parser.add_argument(
        "--save",
        metavar="'SECONDS CHANGES ...'",
        help="RDB save points: snapshot to dump.rdb after CHANGES writes in SECONDS "
        f"(default '{DEFAULT_SAVE}'; '' disables)",
    )
    return parser


def config_from_args(argv: Sequence[str] | None) -> ServerConfig:
    args = build_parser().parse_args(argv)
    settings: dict[str, Any] = {}
    if args.config:
        settings.update(read_config_file(args.config))
    for option, name in _OPTIONS.items():
        value = getattr(args, option)
        if value is not None:
            settings[name] = value
    config = ServerConfig(save=DEFAULT_SAVE)
    if "save" in settings:
        from ._cmd_config import _Invalid, _parse_special

        text = str(settings["save"])
        try:
            settings["save"] = _parse_special("save", text.split(" "), text, "")
        except _Invalid:
            raise SystemExit(
                f"trapline kv serve: save must be pairs of seconds and changes, not {text!r}"
            ) from None
    for name, value in settings.items():
        # The server reads these with int(): a wrong one would fail deep inside the run.
        if config.values.get(name, "x").isdigit() and not str(value).isdigit():
            raise SystemExit(f"trapline kv serve: {name} must be a whole number, not {value!r}")
        if name == "port" and not 0 <= int(value) <= 65535:  # bind() would silently wrap it
            raise SystemExit(f"trapline kv serve: port must be from 0 to 65535, not {value}")
        config.values[name] = str(value)
    return config


async def serve(server: Server) -> None:
    """Serve until SIGTERM, SIGINT or cancellation; then stop cleanly."""
    config = server.config
    # Stopping other than by SIGTERM or SHUTDOWN is Ctrl-C: Redis's shutdown-on-sigint.
    state = snapshots_of(server)
    state.stop_mode = config.values.get("shutdown-on-sigint", "default")

    def on_sigterm() -> None:
        state.stop_mode = config.values.get("shutdown-on-sigterm", "default")
        scope.cancel("SIGTERM")

    with trapline.CancelScope() as scope:
        token = current_token()
        previous = None
        if threading_is_main():
            previous = signal.signal(signal.SIGTERM, lambda *_: token.run_sync_soon(on_sigterm))
        try:
            async with trapline.TaskGroup() as tg:
                listeners = await tg.start(
                    server.serve, config.get("bind").split()[0], config.get_int("port")
                )
                addresses = ", ".join(str(listener.socket.getsockname()) for listener in listeners)
                save = config.get("save")
                if config.get("appendonly") == "yes":
                    persistence = f"append-only file, fsync {config.get('appendfsync')}"
                elif save:
                    persistence = f"RDB snapshots (save {save})"
                else:
                    persistence = "in memory only"
                logger.info(
                    "trapline.kv ready on %s; data dir %s; %s",
                    addresses,
                    os.path.abspath(config.get("dir")),
                    persistence,
                )
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
    logger.info("trapline.kv stopped")


def threading_is_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    config = config_from_args(argv)
    server = Server(config)
    try:
        trapline.run(serve, server)
    except KeyboardInterrupt:
        logger.info("trapline.kv stopped (Ctrl-C)")
    except BaseExceptionGroup as group:
        # An OSError (the port is taken, the data directory is not writable) is the user's to
        # fix, not a bug: say it in one line instead of four nested task-group tracebacks.
        leaves = list(_leaves(group))
        if len(leaves) == 1 and isinstance(leaves[0], PersistenceError):
            # A damaged dump.rdb or a data directory in use: one line, what to do.
            logger.error("trapline.kv could not start: %s", leaves[0])
            return 1
        if len(leaves) != 1 or not isinstance(leaves[0], OSError):
            raise
        address = f"{config.get('bind').split()[0]}:{config.get('port')}"
        logger.error("trapline.kv could not serve on %s: %s", address, leaves[0])
        return 1
    return 0


def _leaves(error: BaseException) -> Iterator[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from _leaves(inner)
    else:
        yield error
