"""Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.

Commands sent after MULTI are checked (name, arity, auth) and queued; one that fails the check
poisons the transaction, and EXEC then answers ``EXECABORT``. WATCHed keys that change before
EXEC (a write, an expiry, a FLUSH) make EXEC answer a null array and run nothing. Commands in EXEC
run back to back with nothing in between, which is the whole isolation guarantee; a blocking
command there behaves as if its timeout had passed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._commands import Blocked, command
from ._db import CommandError
from ._resp import NullArray, Simple

if TYPE_CHECKING:
    from ._server import Client

OK = Simple("OK")


def unwatch_all(client: Client) -> None:
    watchers = client.server.watchers
    for slot in client.watched:
        clients = watchers.get(slot)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del watchers[slot]
    client.watched.clear()
    client.watch_dirty = False


def _discard(client: Client) -> None:
    client.multi = None
    client.multi_failed = False
    unwatch_all(client)


@command("multi", 1, "noscript loading stale fast allow_busy", keys=(0, 0, 0))
def multi(client: Client, argv: list[bytes]) -> Any:
    if client.multi is not None:
        raise CommandError("ERR MULTI calls can not be nested")
    client.multi = []
    client.multi_failed = False
    return OK


@command("discard", 1, "noscript loading stale fast allow_busy", keys=(0, 0, 0))
def discard(client: Client, argv: list[bytes]) -> Any:
    if client.multi is None:
        raise CommandError("ERR DISCARD without MULTI")
    _discard(client)
    return OK


@command("exec", 1, "noscript loading stale skip_slowlog", keys=(0, 0, 0))
def exec_(client: Client, argv: list[bytes]) -> Any:
    queued = client.multi
    if queued is None:
        raise CommandError("ERR EXEC without MULTI")
    # A watched key that expired since WATCH counts as changed: looking it up expires it,
    # which touches it.
    for db_id, key in list(client.watched):
        client.server.dbs[db_id].get(key)
    if client.multi_failed:
        _discard(client)
        raise CommandError("EXECABORT Transaction discarded because of previous errors.")
    if client.watch_dirty:
        _discard(client)
        return NullArray
    unwatch_all(client)
    client.multi = None
    server = client.server
    replies: list[Any] = []
    client.in_exec = True
    try:
        for cmd, args in queued:
            reply = server.call(client, cmd, args)
            if type(reply) is Blocked:
                reply = reply.on_timeout
            replies.append(reply)
    finally:
        client.in_exec = False
        for hook in server.exec_hooks:
            hook(client)
    return replies


@command("watch", -2, "noscript loading stale fast allow_busy", keys=(1, -1, 1))
def watch(client: Client, argv: list[bytes]) -> Any:
    if client.multi is not None:
        raise CommandError("ERR WATCH inside MULTI is not allowed")
    watchers = client.server.watchers
    db_id = client.db.id
    for key in argv[1:]:
        slot = (db_id, key)
        client.watched.add(slot)
        watchers.setdefault(slot, set()).add(client)
    return OK


@command("unwatch", 1, "noscript loading stale fast allow_busy", keys=(0, 0, 0))
def unwatch(client: Client, argv: list[bytes]) -> Any:
    unwatch_all(client)
    return OK
