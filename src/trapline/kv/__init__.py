"""trapline.kv: the seed tutorial's key-value database, for real.

A Redis-protocol server (``trapline kv serve``) that redis-cli, redis-benchmark and Redis client
libraries use unchanged, built only on trapline's public API.
"""

from ._server import Client, Server, ServerConfig

__all__ = ["Client", "Server", "ServerConfig"]
