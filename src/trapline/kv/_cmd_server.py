"""Server and connection commands: HELLO, AUTH, RESET, CLIENT, TIME, LASTSAVE, DBSIZE,
SHUTDOWN, SAVE, BGSAVE, ROLE (CONFIG, INFO and COMMAND live in _cmd_config, _cmd_info and
_cmd_command, imported from here).

HELLO answers like Redis 7.0.15 (``server`` "redis", ``version`` "7.0.15") so that client
libraries enable their Redis 7 features. Authentication is Redis's ``default`` user with the
``requirepass`` password (no other ACL users exist). SHUTDOWN runs ``server.shutdown_hooks`` and
stops ``Server.serve``; the client that asked gets no reply, as with Redis. SAVE, BGSAVE and
SHUTDOWN's SAVE/NOSAVE write RDB snapshots as Redis does (see _rdbfile).
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import TYPE_CHECKING, Any

from . import _cmd_command, _cmd_config, _cmd_info, _cmd_sync  # noqa: F401 - register their commands
from ._cmd_info import REDIS_VERSION
from ._cmd_pubsub import help_reply
from ._cmd_tx import unwatch_all
from ._commands import COMMANDS, command, parse_int_arg, syntax_error
from ._db import CommandError
from ._rdbfile import snapshots_of
from ._resp import Map, SetReply, Simple, Verbatim

if TYPE_CHECKING:
    from ._server import Client

OK = Simple("OK")

logger = logging.getLogger("trapline.kv")

#: Clients that asked CLIENT NO-EVICT ON (the 'e' flag of CLIENT LIST).
_no_evict: weakref.WeakSet[Client] = weakref.WeakSet()


# -- authentication ----------------------------------------------------------------------------


def _password_ok(client: Client, user: bytes, password: bytes) -> bool:
    """Redis ``ACLAuthenticateUser`` with only the ``default`` user (``requirepass``)."""
    if user != b"default":
        return False
    required = client.server.config.values.get("requirepass", "")
    return not required or password == required.encode("latin-1")


@command("auth", -2, "noscript loading stale fast no_auth sentinel allow_busy", keys=(0, 0, 0))
def auth(client: Client, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise syntax_error()
    if len(argv) == 2:
        if not client.server.config.values.get("requirepass"):
            raise CommandError(
                "ERR AUTH <password> called without any password configured for the default "
                "user. Are you sure your configuration is correct?"
            )
        user, password = b"default", argv[1]
    else:
        user, password = argv[1], argv[2]
    if not _password_ok(client, user, password):
        raise CommandError("WRONGPASS invalid username-password pair or user is disabled.")
    client.authenticated = True
    return OK


def _set_name(client: Client, name: bytes) -> None:
    if any(c < 0x21 or c > 0x7E for c in name):
        raise CommandError(
            "ERR Client names cannot contain spaces, newlines or special characters."
        )
    client.name = name


@command("hello", -1, "noscript loading stale fast no_auth sentinel allow_busy", keys=(0, 0, 0))
def hello(client: Client, argv: list[bytes]) -> Any:
    version = 0
    if len(argv) >= 2:
        version = parse_int_arg(argv[1], "ERR Protocol version is not an integer or out of range")
        if version not in (2, 3):
            raise CommandError("NOPROTO unsupported protocol version")
    i = 2
    while i < len(argv):
        option = argv[i].lower()
        more = len(argv) - 1 - i
        if option == b"auth" and more >= 2:
            if not _password_ok(client, argv[i + 1], argv[i + 2]):
                raise CommandError("WRONGPASS invalid username-password pair or user is disabled.")
            client.authenticated = True
            i += 3
        elif option == b"setname" and more:
            _set_name(client, argv[i + 1])
            i += 2
        else:
            text = argv[i].decode("utf-8", "replace")
            raise CommandError(f"ERR Syntax error in HELLO option '{text}'")
    if not client.authenticated:
        raise CommandError(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
            "HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
            "the RESP protocol version at the same time"
        )
    if version:
        client.resp3 = version == 3
    return Map(
        [
            (b"server", b"redis"),
            (b"version", REDIS_VERSION.encode()),
            (b"proto", 3 if client.resp3 else 2),
            (b"id", client.id),
            (b"mode", b"standalone"),
            (b"role", b"master"),
            (b"modules", []),
        ]
    )


@command("reset", 1, "noscript loading stale fast no_auth allow_busy", keys=(0, 0, 0))
def reset(client: Client, argv: list[bytes]) -> Any:
    server = client.server
    client.db = server.dbs[0]
    client.resp3 = False
    client.authenticated = not server.config.values.get("requirepass")
    client.multi = None
    client.multi_failed = False
    unwatch_all(client)
    server.pubsub.forget(client)
    client.name = b""
    return Simple("RESET")


# -- CLIENT ------------------------------------------------------------------------------------


def _client_type(client: Client) -> str:
    return "pubsub" if client.in_pubsub else "normal"


_CLIENT_TYPES = {"normal": "normal", "slave": "slave", "replica": "slave", "pubsub": "pubsub"}


def _parse_client_type(name: bytes) -> str:
    kind = _CLIENT_TYPES.get(name.decode("latin-1").lower())
    if kind is None and name.lower() != b"master":
        raise CommandError(f"ERR Unknown client type '{name.decode('utf-8', 'replace')}'")
    return kind or "master"


def client_info_line(client: Client, current: Client | None = None) -> str:
    """One line of CLIENT LIST, in Redis 7.0's format (``current`` is the client asking)."""
    flags = "O" if client in client.server.monitors else ""
    if client.in_pubsub:
        flags += "P"
    if client.multi is not None:
        flags += "x"
    if client.blocked:
        flags += "b"
    if client.watch_dirty:
        flags += "d"
    if client.closing:
        flags += "A" if client.scope is not None and client is not current else "c"
    if client in _no_evict:
        flags += "e"
    now = time.time()
    name = client.name.decode("latin-1")
    pending = len(client.pushes)
    multi = len(client.multi) if client.multi is not None else -1
    return (
        f"id={client.id} addr={client.address} laddr={client.local_address} fd={client.fd} "
        f"name={name} age={int(now - client.created)} idle={int(now - client.last_interaction)} "
        f"flags={flags or 'N'} db={client.db.id} sub={len(client.channels)} "
        f"psub={len(client.patterns)} ssub={len(client.shard_channels)} multi={multi} "
        f"qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 "
        f"omem={pending} tot-mem={pending + 1024} events=r "
        f"cmd={client.last_command.decode('latin-1')} user=default redir=-1 "
        f"resp={3 if client.resp3 else 2}"
    )


@command("client|id", 2, "noscript loading stale sentinel", keys=(0, 0, 0))
def client_id(client: Client, argv: list[bytes]) -> Any:
    return client.id


@command("client|info", 2, "noscript loading stale sentinel", keys=(0, 0, 0))
def client_info(client: Client, argv: list[bytes]) -> Any:
    return Verbatim((client_info_line(client, client) + "\n").encode("latin-1"))


@command("client|list", -2, "admin noscript loading stale sentinel", keys=(0, 0, 0))
def client_list(client: Client, argv: list[bytes]) -> Any:
    clients = list(client.server.clients.values())
    if len(argv) == 4 and argv[2].lower() == b"type":
        kind = _parse_client_type(argv[3])
        clients = [other for other in clients if _client_type(other) == kind]
    elif len(argv) > 3 and argv[2].lower() == b"id":
        ids = [parse_int_arg(arg, "ERR Invalid client ID") for arg in argv[3:]]
        table = client.server.clients
        clients = [table[i] for i in ids if i in table]
    elif len(argv) != 2:
        raise syntax_error()
    text = "".join(client_info_line(other, client) + "\n" for other in clients)
    return Verbatim(text.encode("latin-1"))


@command("client|setname", 3, "noscript loading stale sentinel", keys=(0, 0, 0))
def client_setname(client: Client, argv: list[bytes]) -> Any:
    _set_name(client, argv[2])
    return OK


@command("client|getname", 2, "noscript loading stale sentinel", keys=(0, 0, 0))
def client_getname(client: Client, argv: list[bytes]) -> Any:
    return client.name or None


@command("client|no-evict", 3, "admin noscript loading stale sentinel", keys=(0, 0, 0))
def client_no_evict(client: Client, argv: list[bytes]) -> Any:
    option = argv[2].lower()
    if option == b"on":
        _no_evict.add(client)
    elif option == b"off":
        _no_evict.discard(client)
    else:
        raise syntax_error()
    return OK


@command("client|kill", -3, "admin noscript loading stale sentinel", keys=(0, 0, 0))
def client_kill(client: Client, argv: list[bytes]) -> Any:
    addr = laddr = kind = None
    client_id = 0
    skipme = True
    if len(argv) == 3:
        addr, skipme = argv[2], False
    else:
        i = 2
        while i < len(argv):
            option = argv[i].lower()
            if i + 1 >= len(argv):
                raise syntax_error()
            value = argv[i + 1]
            if option == b"id":
                client_id = parse_int_arg(value, "ERR client-id should be greater than 0")
                if client_id <= 0:
                    raise CommandError("ERR client-id should be greater than 0")
            elif option == b"type":
                kind = _parse_client_type(value)
            elif option == b"addr":
                addr = value
            elif option == b"laddr":
                laddr = value
            elif option == b"user":
                if value != b"default":
                    raise CommandError(f"ERR No such user '{value.decode('utf-8', 'replace')}'")
            elif option == b"skipme":
                if value.lower() not in (b"yes", b"no"):
                    raise syntax_error()
                skipme = value.lower() == b"yes"
            else:
                raise syntax_error()
            i += 2
    killed = 0
    for other in list(client.server.clients.values()):
        if addr is not None and other.address.encode("latin-1") != addr:
            continue
        if laddr is not None and other.local_address.encode("latin-1") != laddr:
            continue
        if kind is not None and _client_type(other) != kind:
            continue
        if client_id and other.id != client_id:
            continue
        if other is client:
            if skipme:
                continue
            client.closing = True  # after this reply
        else:
            other.kill()
        killed += 1
    if len(argv) == 3:
        if not killed:
            raise CommandError("ERR No such client")
        return OK
    return killed


@command("client|getredir", 2, "noscript loading stale sentinel", keys=(0, 0, 0))
def client_getredir(client: Client, argv: list[bytes]) -> Any:
    return -1


@command("client|trackinginfo", 2, "noscript loading stale sentinel", keys=(0, 0, 0))
def client_trackinginfo(client: Client, argv: list[bytes]) -> Any:
    return Map([(b"flags", SetReply([b"off"])), (b"redirect", -1), (b"prefixes", [])])


_CLIENT_HELP = [
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
]


@command("client|help", 2, "loading stale sentinel", keys=(0, 0, 0))
def client_help(client: Client, argv: list[bytes]) -> Any:
    return help_reply(argv, _CLIENT_HELP)


# -- server ------------------------------------------------------------------------------------


@command("time", 1, "loading stale fast", keys=(0, 0, 0))
def time_(client: Client, argv: list[bytes]) -> Any:
    seconds, micros = divmod(client.server.now_us(), 1_000_000)
    return [b"%d" % seconds, b"%d" % micros]


@command("lastsave", 1, "loading stale fast", keys=(0, 0, 0))
def lastsave(client: Client, argv: list[bytes]) -> Any:
    return client.server.lastsave


if b"dbsize" not in COMMANDS:  # the keyspace module may have registered it

    @command("dbsize", 1, "readonly fast", keys=(0, 0, 0))
    def dbsize(client: Client, argv: list[bytes]) -> Any:
        return len(client.db)


@command("role", 1, "noscript loading stale fast sentinel", keys=(0, 0, 0))
def role(client: Client, argv: list[bytes]) -> Any:
    return [b"master", 0, []]


@command("save", 1, "no_async_loading admin noscript no_multi", keys=(0, 0, 0))
def save(client: Client, argv: list[bytes]) -> Any:
    state = snapshots_of(client.server)
    if state.bgsave_running:
        raise CommandError("ERR Background save already in progress")
    try:
        state.save()
    except OSError:
        logger.exception("SAVE failed")
        raise CommandError("ERR") from None  # what Redis replies when rdbSave fails
    return OK


@command("bgsave", -1, "no_async_loading admin noscript", keys=(0, 0, 0))
def bgsave(client: Client, argv: list[bytes]) -> Any:
    schedule = False
    if len(argv) > 1:
        if len(argv) != 2 or argv[1].lower() != b"schedule":
            raise syntax_error()
        schedule = True
    state = snapshots_of(client.server)
    if state.bgsave_running:
        raise CommandError("ERR Background save already in progress")
    if state.busy() or client.in_exec:
        if schedule or client.in_exec:
            state.bgsave_scheduled = True
            return Simple("Background saving scheduled")
        raise CommandError(
            "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE "
            "SCHEDULE in order to schedule a BGSAVE whenever possible."
        )
    state.start_bgsave()
    return Simple("Background saving started")


_SHUTDOWN_FLAGS = {b"nosave": 1, b"save": 2, b"now": 4, b"force": 8, b"abort": 16}


@command(
    "shutdown", -1, "admin noscript loading stale no_multi sentinel allow_busy", keys=(0, 0, 0)
)
def shutdown(client: Client, argv: list[bytes]) -> Any:
    flags = 0
    for arg in argv[1:]:
        flag = _SHUTDOWN_FLAGS.get(arg.lower())
        if flag is None:
            raise syntax_error()
        flags |= flag
    if (flags & 16 and flags != 16) or (flags & 3 == 3):
        raise syntax_error()
    if flags & 16:
        raise CommandError("ERR No shutdown in progress.")
    server = client.server
    state = snapshots_of(server)
    # As Redis: SAVE saves, NOSAVE does not, neither saves if save points are configured.
    if flags & 2 or (not flags & 1 and server.config.values.get("save", "").strip()):
        try:
            state.save()
        except OSError:
            logger.exception("SHUTDOWN could not save the DB")
            if not flags & 8:  # FORCE stops anyway
                raise CommandError("ERR Errors trying to SHUTDOWN. Check logs.") from None
    state.stop_decided = True
    server.shutdown()
    # Redis exits without replying; the cancelled connection never sends this.
    client.closing = True
    return None
