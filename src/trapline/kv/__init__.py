"""trapline.kv: the seed tutorial's key-value database, for real.

A Redis-protocol server (``trapline kv serve``) that redis-cli, redis-benchmark and Redis client
libraries use unchanged, and an async client for it and for real Redis::

    async with trapline.kv.connect("redis://127.0.0.1:6379") as db:
        await db.set("cow", "Moo!")
        async for key in db.scan():
            ...

Both are built only on trapline's public API.
"""

from ._client import KV, Pipeline, Subscription, Transaction, connect
from ._client_resp import ConnectionLost, KVError, ProtocolViolation, ResponseError, WatchError
from ._rdbfile import DataDirLocked, PersistenceError
from ._server import Client, Server, ServerConfig

__all__ = [
    "KV",
    "Client",
    "ConnectionLost",
    "DataDirLocked",
    "KVError",
    "PersistenceError",
    "Pipeline",
    "ProtocolViolation",
    "ResponseError",
    "Server",
    "ServerConfig",
    "Subscription",
    "Transaction",
    "WatchError",
    "connect",
]

# Tracebacks name the errors as users catch them: "trapline.kv.ResponseError".
for _error in (
    ConnectionLost,
    DataDirLocked,
    KVError,
    PersistenceError,
    ProtocolViolation,
    ResponseError,
    WatchError,
):
    _error.__module__ = __name__
del _error
