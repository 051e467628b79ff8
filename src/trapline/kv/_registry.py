"""Importing this module registers every command (each ``_cmd_*`` module registers its own)."""

from . import (  # noqa: F401
    _aof,
    _cmd_acl,
    _cmd_clientx,
    _cmd_connection,
    _cmd_debug,
    _cmd_dump,
    _cmd_hashes,
    _cmd_keys,
    _cmd_lists,
    _cmd_monitor,
    _cmd_pubsub,
    _cmd_server,
    _cmd_sets,
    _cmd_sort,
    _cmd_strings,
    _cmd_tx,
    _cmd_zsets,
)
