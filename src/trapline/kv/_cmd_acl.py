"""ACL, read-only, for the one user this server has: ``default``, with the ``requirepass``
password (Redis's view of a server configured only with requirepass). Commands that would
change users, or the ACL file, answer as Redis does when the change cannot be made.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from ._cmd_command import _CATEGORIES, _all_commands, _categories
from ._cmd_pubsub import help_reply
from ._commands import command
from ._db import CommandError
from ._resp import Map

if TYPE_CHECKING:
    from ._server import Client

_FLAGS = "admin noscript loading stale sentinel"


def _password(client: Client) -> str:
    return client.server.config.values.get("requirepass", "")


def _user_rule(client: Client) -> bytes:
    password = _password(client)
    secret = "#" + hashlib.sha256(password.encode("latin-1")).hexdigest() if password else "nopass"
    return f"user default on {secret} ~* &* +@all".encode()


@command("acl|whoami", 2, "noscript loading stale sentinel", keys=(0, 0, 0))
def acl_whoami(client: Client, argv: list[bytes]) -> Any:
    return b"default"


@command("acl|users", 2, _FLAGS, keys=(0, 0, 0))
def acl_users(client: Client, argv: list[bytes]) -> Any:
    return [b"default"]


@command("acl|list", 2, _FLAGS, keys=(0, 0, 0))
def acl_list(client: Client, argv: list[bytes]) -> Any:
    return [_user_rule(client)]


@command("acl|getuser", 3, _FLAGS, keys=(0, 0, 0))
def acl_getuser(client: Client, argv: list[bytes]) -> Any:
    if argv[2] != b"default":
        return None
    password = _password(client)
    passwords = [hashlib.sha256(password.encode("latin-1")).hexdigest().encode()]
    return Map(
        [
            (b"flags", [b"on"] if password else [b"on", b"nopass"]),
            (b"passwords", passwords if password else []),
            (b"commands", b"+@all"),
            (b"keys", b"~*"),
            (b"channels", b"&*"),
            (b"selectors", []),
        ]
    )


@command("acl|cat", -2, "noscript loading stale sentinel", keys=(0, 0, 0))
def acl_cat(client: Client, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        sub = argv[1].decode("utf-8", "replace")
        raise CommandError(
            f"ERR unknown subcommand or wrong number of arguments for '{sub}'. Try ACL HELP."
        )
    if len(argv) == 2:
        return [name.encode() for name in _CATEGORIES]
    wanted = argv[2].decode("latin-1").lower()
    if wanted not in _CATEGORIES:
        raise CommandError(f"ERR Unknown category '{argv[2].decode('utf-8', 'replace')}'")
    # Containers are listed by their subcommands ("config|get"), as in Redis.
    return [
        cmd.name.encode()
        for cmd in _all_commands()
        if cmd.handler is not None and wanted in _categories(cmd)
    ]


_ACL_HELP = [
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
]


@command("acl|help", 2, "loading stale sentinel", keys=(0, 0, 0))
def acl_help(client: Client, argv: list[bytes]) -> Any:
    return help_reply(argv, _ACL_HELP)
