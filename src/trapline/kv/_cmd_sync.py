"""SYNC and REPLCONF: enough of Redis's replication handshake for ``redis-cli --rdb FILE``.

redis-cli sends ``REPLCONF capa eof``, ``REPLCONF rdb-only 1`` and an inline ``SYNC``, then
reads ``$<length>\\r\\n`` and that many bytes of RDB file (no CRLF after them) and closes. SYNC
here encodes the snapshot on the loop (as SAVE does), sends it that way and closes the
connection: this server has no replication, so a replica that asked would get the data as of
that moment and nothing after.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._commands import command, syntax_error
from ._db import CommandError
from ._rdbfile import encode_rdb, snapshot
from ._resp import NoReply, Simple

if TYPE_CHECKING:
    from ._server import Client

_OPTIONS = {b"listening-port", b"ip-address", b"capa", b"rdb-only", b"rdb-filter-only"}


@command("replconf", -1, "admin noscript loading stale allow_busy", keys=(0, 0, 0))
def replconf(client: Client, argv: list[bytes]) -> Any:
    if len(argv) % 2 == 0:
        raise syntax_error()
    for option in argv[1::2]:
        if option.lower() in (b"ack", b"getack"):
            return NoReply  # replicas' offsets: Redis never answers them
        if option.lower() not in _OPTIONS:
            text = option.decode("utf-8", "replace")
            raise CommandError(f"ERR Unrecognized REPLCONF option: {text}")
    return Simple("OK")


@command("sync", 1, "no_async_loading admin no_multi noscript", keys=(0, 0, 0))
def sync(client: Client, argv: list[bytes]) -> Any:
    server = client.server
    payload = b"".join(encode_rdb(server, snapshot(server, copy=False), server.now_ms() // 1000))
    # Raw bytes, not a RESP reply: pushes go out before (here: instead of) the reply.
    client.pushes += b"$%d\r\n" % len(payload)
    client.pushes += payload
    client.closing = True
    return NoReply
