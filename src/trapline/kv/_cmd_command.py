"""COMMAND, COMMAND COUNT/INFO/DOCS/LIST/GETKEYS/GETKEYSANDFLAGS/HELP: the command table as
Redis 7.0 describes it.

Names, arities and flags come from trapline.kv's own registry (what it actually enforces); ACL
categories, tips, key specs and documentation (summary, since, group, complexity, history,
arguments) come from Redis 7.0.15's command metadata (``_command_table``), so the replies have
Redis's shape and content and redis-cli's help and hints work. COMMAND GETKEYS follows the key
specs (Redis's special key-extraction functions for a few commands are not reproduced; such
commands report the keys their specs find).
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

from ._cmd_pubsub import help_reply
from ._command_table import TABLE
from ._commands import COMMANDS, Command, command, syntax_error
from ._db import CommandError
from ._glob import compile_glob
from ._resp import Map, SetReply, Simple

if TYPE_CHECKING:
    from ._server import Client

__all__ = ["command_entry", "lookup_command"]

# Flags COMMAND shows, in Redis's order (may_replicate, sentinel... are hidden on purpose).
_SHOWN_FLAGS = (
    "write",
    "readonly",
    "denyoom",
    "module",
    "admin",
    "pubsub",
    "noscript",
    "blocking",
    "loading",
    "stale",
    "skip_monitor",
    "skip_slowlog",
    "asking",
    "fast",
    "no_auth",
    "no_mandatory_keys",
    "no_async_loading",
    "no_multi",
    "movablekeys",
    "allow_busy",
)
_CATEGORIES = (
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
)
_KEY_FLAGS = (
    "RO",
    "RW",
    "OW",
    "RM",
    "access",
    "update",
    "insert",
    "delete",
    "not_key",
    "incomplete",
    "variable_flags",
)
# For commands Redis does not have: a group and an ACL category from the registering module.
_MODULE_GROUPS = {
    "_cmd_strings": ("string", "string"),
    "_cmd_lists": ("list", "list"),
    "_cmd_hashes": ("hash", "hash"),
    "_cmd_sets": ("set", "set"),
    "_cmd_zsets": ("sorted_set", "sortedset"),
    "_cmd_keys": ("generic", "keyspace"),
    "_cmd_tx": ("transactions", "transaction"),
    "_cmd_pubsub": ("pubsub", "pubsub"),
    "_cmd_connection": ("connection", "connection"),
}


@functools.cache
def _table() -> dict[str, dict[str, Any]]:
    entries = (json.loads(line) for line in TABLE.splitlines() if line)
    return {entry["name"]: entry for entry in entries}


def command_entry(cmd: Command) -> dict[str, Any]:
    """Redis's metadata for ``cmd``, or a plausible stand-in for a command Redis lacks."""
    entry = _table().get(cmd.name)
    if entry is not None:
        return entry
    handler = cmd.handler
    module = handler.__module__.rsplit(".", 1)[-1] if handler is not None else ""
    group, category = _MODULE_GROUPS.get(module, ("server", ""))
    return {
        "name": cmd.name,
        "summary": f"The {cmd.name.replace('|', ' ').upper()} command",
        "group": group,
        "acl": [category] if category else [],
        "tips": [],
        "key_specs": [],
        "doc_flags": [],
        "range": [cmd.first_key, cmd.last_key, cmd.step],
        "movablekeys": False,
    }


def lookup_command(name: bytes) -> Command | None:
    """Redis ``lookupCommandBySds``: ``name`` or ``container|sub``."""
    parts = name.lower().split(b"|")
    if len(parts) > 2:
        return None
    cmd = COMMANDS.get(parts[0])
    if cmd is None or len(parts) == 1:
        return cmd
    return cmd.subcommands.get(parts[1])


def _flags(cmd: Command, entry: dict[str, Any]) -> set[str]:
    flags = set(cmd.flags) if cmd.handler is not None else set(entry.get("flags", ()))
    if entry.get("movablekeys"):
        flags.add("movablekeys")
    return flags


def _info(cmd: Command) -> list[Any]:
    entry = command_entry(cmd)
    flags = _flags(cmd, entry)
    categories = set(entry["acl"])
    for flag, implied in (
        ("write", ("write",)),
        ("readonly", ("read",)),
        ("admin", ("admin", "dangerous")),
        ("pubsub", ("pubsub",)),
        ("fast", ("fast",)),
        ("blocking", ("blocking",)),
    ):
        if flag in flags:
            categories.update(implied)
    if "scripting" in categories and "readonly" in flags and "read" not in entry["acl"]:
        categories.discard("read")
    if "fast" not in categories:
        categories.add("slow")
    first, last, step = entry["range"]
    subcommands = [_info(sub) for sub in cmd.subcommands.values()]
    return [
        cmd.name.encode(),
        cmd.arity,
        SetReply(Simple(flag) for flag in _SHOWN_FLAGS if flag in flags),
        first,
        last,
        step,
        SetReply(Simple("@" + name) for name in _CATEGORIES if name in categories),
        SetReply(tip.encode() for tip in entry["tips"]),
        SetReply(_key_spec(spec) for spec in entry["key_specs"]),
        subcommands if cmd.subcommands else SetReply(()),
    ]


def _key_spec(spec: dict[str, Any]) -> Map:
    pairs: list[tuple[bytes, Any]] = []
    if "notes" in spec:
        pairs.append((b"notes", spec["notes"].encode()))
    flags = {flag.upper() for flag in spec["flags"]}
    pairs.append((b"flags", SetReply(Simple(f) for f in _KEY_FLAGS if f.upper() in flags)))
    ((search_type, search),) = spec["begin_search"].items()
    if search_type == "index":
        search_spec = Map([(b"index", search["pos"])])
    elif search_type == "keyword":
        search_spec = Map(
            [(b"keyword", search["keyword"].encode()), (b"startfrom", search["startfrom"])]
        )
    else:
        search_spec = Map([])
    pairs.append((b"begin_search", Map([(b"type", search_type.encode()), (b"spec", search_spec)])))
    ((find_type, find),) = spec["find_keys"].items()
    if find_type == "range":
        find_spec = Map(
            [(b"lastkey", find["lastkey"]), (b"keystep", find["step"]), (b"limit", find["limit"])]
        )
    elif find_type == "keynum":
        find_spec = Map(
            [
                (b"keynumidx", find["keynumidx"]),
                (b"firstkey", find["firstkey"]),
                (b"keystep", find["step"]),
            ]
        )
    else:
        find_spec = Map([])
    pairs.append((b"find_keys", Map([(b"type", find_type.encode()), (b"spec", find_spec)])))
    return Map(pairs)


def _arguments(args: list[dict[str, Any]]) -> list[Any]:
    reply = []
    for arg in args:
        pairs: list[tuple[bytes, Any]] = [
            (b"name", arg["name"].encode()),
            (b"type", arg["type"].encode()),
        ]
        if "key_spec_index" in arg:
            pairs.append((b"key_spec_index", arg["key_spec_index"]))
        if "token" in arg:
            pairs.append((b"token", arg["token"].upper().encode()))
        for field in ("summary", "since", "deprecated_since"):
            if arg.get(field):
                pairs.append((field.encode(), arg[field].encode()))
        flags = [f for f in ("optional", "multiple", "multiple_token") if arg.get(f)]
        if flags:
            pairs.append((b"flags", SetReply(Simple(f) for f in flags)))
        if arg["type"] in ("oneof", "block"):
            pairs.append((b"arguments", _arguments(arg.get("arguments", []))))
        reply.append(Map(pairs))
    return reply


def _docs(cmd: Command) -> Map:
    entry = command_entry(cmd)
    pairs: list[tuple[bytes, Any]] = []
    for field in ("summary", "since"):
        if field in entry:
            pairs.append((field.encode(), entry[field].encode()))
    pairs.append((b"group", entry["group"].replace("_", "-").encode()))
    if "complexity" in entry:
        pairs.append((b"complexity", entry["complexity"].encode()))
    if entry["doc_flags"]:
        pairs.append((b"doc_flags", SetReply(Simple(f) for f in entry["doc_flags"])))
    for field in ("deprecated_since", "replaced_by"):
        if field in entry:
            pairs.append((field.encode(), entry[field].encode()))
    if entry.get("history"):
        history = SetReply([since.encode(), change.encode()] for since, change in entry["history"])
        pairs.append((b"history", history))
    if "arguments" in entry:
        pairs.append((b"arguments", _arguments(entry["arguments"])))
    if cmd.subcommands:
        subcommands = Map((sub.name.encode(), _docs(sub)) for sub in cmd.subcommands.values())
        pairs.append((b"subcommands", subcommands))
    return Map(pairs)


# -- commands ----------------------------------------------------------------------------------

_FLAGS = "loading stale sentinel"


@command("command", -1, _FLAGS, keys=(0, 0, 0))
def command_(client: Client, argv: list[bytes]) -> Any:
    # Alone (with arguments, the server dispatches to the subcommands registered below).
    return [_info(cmd) for cmd in COMMANDS.values()]


@command("command|count", 2, _FLAGS, keys=(0, 0, 0))
def command_count(client: Client, argv: list[bytes]) -> Any:
    return len(COMMANDS)


@command("command|info", -2, _FLAGS, keys=(0, 0, 0))
def command_info(client: Client, argv: list[bytes]) -> Any:
    if len(argv) == 2:
        return [_info(cmd) for cmd in COMMANDS.values()]
    reply: list[Any] = []
    for name in argv[2:]:
        cmd = lookup_command(name)
        reply.append(None if cmd is None else _info(cmd))
    return reply


@command("command|docs", -2, _FLAGS, keys=(0, 0, 0))
def command_docs(client: Client, argv: list[bytes]) -> Any:
    if len(argv) == 2:
        return Map((cmd.name.encode(), _docs(cmd)) for cmd in COMMANDS.values())
    pairs = []
    for name in argv[2:]:
        cmd = lookup_command(name)
        if cmd is not None:
            pairs.append((cmd.name.encode(), _docs(cmd)))
    return Map(pairs)


def _all_commands() -> list[Command]:
    found = []
    for cmd in COMMANDS.values():
        found.append(cmd)
        found.extend(cmd.subcommands.values())
    return found


@command("command|list", -2, _FLAGS, keys=(0, 0, 0))
def command_list(client: Client, argv: list[bytes]) -> Any:
    kind = b""
    value = b""
    i = 2
    while i < len(argv):
        if argv[i].lower() == b"filterby" and len(argv) - 1 - i == 2:
            kind = argv[i + 1].lower()
            if kind not in (b"module", b"aclcat", b"pattern"):
                raise syntax_error()
            value = argv[i + 2]
            i += 3
        else:
            raise syntax_error()
    commands = _all_commands()
    if kind == b"module":
        commands = []
    elif kind == b"aclcat":
        wanted = value.decode("latin-1").lower()
        commands = [cmd for cmd in commands if wanted in _categories(cmd)]
    elif kind == b"pattern":
        matches = compile_glob(value, True)
        commands = [cmd for cmd in commands if matches(cmd.name.encode())]
    return [cmd.name.encode() for cmd in commands]


def _categories(cmd: Command) -> set[str]:
    return {str(category)[1:] for category in _info(cmd)[6].items}


def _keys_from_specs(cmd: Command, args: list[bytes]) -> list[tuple[int, list[str]]] | None:
    """Redis ``getKeysUsingKeySpecs``: the positions (in ``args``, the whole command) of the
    keys the key specs find, with their flags; None when a spec cannot be applied."""
    found: list[tuple[int, list[str]]] = []
    argc = len(args)
    for spec in command_entry(cmd)["key_specs"]:
        spec_flags = {flag.upper() for flag in spec["flags"]}
        if "NOT_KEY" in spec_flags:
            continue
        ((search_type, search),) = spec["begin_search"].items()
        if search_type == "index":
            first = search["pos"]
        elif search_type == "keyword":
            start = search["startfrom"]
            i = start if start > 0 else argc + start
            end = argc - 1 if start > 0 else 1
            keyword = search["keyword"].lower().encode()
            first = 0
            while i != end and 1 <= i < argc:
                if args[i].lower() == keyword:
                    first = i + 1
                    break
                i += 1 if start > 0 else -1
            if not first:
                continue
        else:
            return None
        ((find_type, find),) = spec["find_keys"].items()
        step = find.get("step", 1) if find else 1
        if find_type == "range":
            if find["lastkey"] >= 0:
                last = first + find["lastkey"]
            elif not find["limit"]:
                last = argc + find["lastkey"]
            else:
                last = first + (argc - first) // find["limit"] + find["lastkey"]
        elif find_type == "keynum":
            index = first + find["keynumidx"]
            numkeys = _parse_count(args[index]) if index < argc else None
            if numkeys is None:
                return None
            first += find["firstkey"]
            last = first + numkeys - 1
        else:
            return None
        if last >= argc or last < first or first >= argc:
            return None
        flags = [flag for flag in _KEY_FLAGS if flag.upper() in spec_flags]
        found.extend((i, flags) for i in range(first, last + 1, step))
        if "INCOMPLETE" in spec_flags:
            return None
    return found


def _parse_count(arg: bytes) -> int | None:
    if not arg.isdigit() or (arg[:1] == b"0" and arg != b"0"):
        return None
    return int(arg)


def _sort_keys(args: list[bytes]) -> list[tuple[int, list[str]]]:
    """Redis ``sortGetKeys``: the sorted key, and the last STORE's key (options that take
    arguments are skipped the way Redis skips them)."""
    keys = [(1, ["RO", "access"])]
    store: tuple[int, list[str]] | None = None
    skips = {b"limit": 2, b"get": 1, b"by": 1}
    i = 2
    while i < len(args):
        word = args[i].lower()
        if word in skips:
            i += skips[word]
        elif word == b"store" and i + 1 < len(args):
            store = (i + 1, ["OW", "update"])
        i += 1
    return [*keys, store] if store is not None else keys


def _migrate_keys(args: list[bytes]) -> list[tuple[int, list[str]]]:
    """Redis ``migrateGetKeys``: the key argument, or every key after KEYS."""
    first, count = 3, 1
    skips = {b"copy": 0, b"replace": 0, b"auth": 1, b"auth2": 2}
    i = 6
    while i < len(args):
        word = args[i].lower()
        if word == b"keys":
            first, count = (i + 1, len(args) - i - 1) if not args[3] else (0, 0)
            break
        i += skips.get(word, 0) + 1
    return [(first + n, ["RW", "access", "delete"]) for n in range(count)]


# Redis's key-extraction functions, for commands whose key specs cannot find every key.
_GETKEYS_PROCS = {
    "sort": _sort_keys,
    "sort_ro": lambda args: [(1, ["RO", "access"])],
    "migrate": _migrate_keys,
}


def _getkeys(argv: list[bytes], with_flags: bool) -> Any:
    args = argv[2:]
    cmd = COMMANDS.get(args[0].lower())
    if cmd is not None and cmd.subcommands and len(args) > 1:
        cmd = cmd.subcommands.get(args[1].lower())
    if cmd is None:
        raise CommandError("ERR Invalid command specified")
    entry = command_entry(cmd)
    if all("NOT_KEY" in {f.upper() for f in spec["flags"]} for spec in entry["key_specs"]):
        raise CommandError("ERR The command has no key arguments")
    if (cmd.arity > 0 and cmd.arity != len(args)) or len(args) < -cmd.arity:
        raise CommandError("ERR Invalid number of arguments specified for command")
    keys = _keys_from_specs(cmd, args)
    if keys is None and cmd.name in _GETKEYS_PROCS:
        keys = _GETKEYS_PROCS[cmd.name](args)
    if not keys:
        if "no_mandatory_keys" in _flags(cmd, entry):
            return []
        raise CommandError("ERR Invalid arguments specified for command")
    if with_flags:
        return [[args[i], SetReply(Simple(f) for f in flags)] for i, flags in keys]
    return [args[i] for i, _ in keys]


@command("command|getkeys", -4, _FLAGS, keys=(0, 0, 0))
def command_getkeys(client: Client, argv: list[bytes]) -> Any:
    return _getkeys(argv, with_flags=False)


@command("command|getkeysandflags", -4, _FLAGS, keys=(0, 0, 0))
def command_getkeysandflags(client: Client, argv: list[bytes]) -> Any:
    return _getkeys(argv, with_flags=True)


_COMMAND_HELP = [
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
]


@command("command|help", 2, _FLAGS, keys=(0, 0, 0))
def command_help(client: Client, argv: list[bytes]) -> Any:
    return help_reply(argv, _COMMAND_HELP)
