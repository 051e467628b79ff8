"""CONFIG GET, SET, RESETSTAT, REWRITE and HELP, with Redis 7.0's parameter table.

Every parameter Redis 7.0.15 has (``_config_table``) can be read and set, with Redis's parsing
(memory units, percentages, octal, enums, yes/no), bounds and error messages; values live in
``server.config.values`` by their Redis names, normalised the way CONFIG GET prints them. The
server reads what it uses from there (``timeout``, ``maxclients``, ``requirepass``,
``client-output-buffer-limit``...); the other parameters are accepted and reported but change
nothing here. Like Redis without ``enable-protected-configs``, ``dir`` and ``dbfilename`` cannot
be changed at run time.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

from ._cmd_pubsub import help_reply
from ._commands import command, syntax_error
from ._config_table import ALIASES, CONFIGS
from ._db import CommandError
from ._glob import compile_glob
from ._resp import Error, Map, Simple

if TYPE_CHECKING:
    from ._server import Client, Server

__all__ = ["config_value", "parse_memory"]

OK = Simple("OK")
_U64 = 1 << 64
_CLIENT_CLASSES = {"normal": 0, "slave": 1, "replica": 1, "pubsub": 2}
_CLASS_NAMES = ("normal", "slave", "pubsub")
_SHUTDOWN_FLAGS = {"default": 0, "save": 1, "nosave": 2, "now": 4, "force": 8}
# notify-keyspace-events classes, in the order Redis prints them.
_EVENT_CLASSES = "g$lshzxetdn"
_EVENTS_ALL = set("g$lshzxetd")


class _Invalid(Exception):
    """A value CONFIG SET refuses; the message is Redis's."""


def parse_memory(text: str) -> int | None:
    """Redis ``memtoull``: digits then an optional unit (b, k, kb, m, mb, g, gb), as an
    unsigned 64-bit number (saturating, then wrapping on the multiplication); None if bad."""
    digits = len(text) - len(text.lstrip("0123456789"))
    unit = text[digits:].lower()
    multiplier = {
        "": 1,
        "b": 1,
        "k": 1000,
        "kb": 1024,
        "m": 1000**2,
        "mb": 1024**2,
        "g": 1000**3,
        "gb": 1024**3,
    }.get(unit)
    if multiplier is None or digits >= 128:
        return None
    value = min(int(text[:digits] or "0"), _U64 - 1)
    return value * multiplier % _U64


def _strtoll(text: str) -> int | None:
    """C ``strtoll(text, &end, 10)`` that must consume everything: spaces, a sign, digits."""
    if not text:
        return 0
    body = text.lstrip(" \t\n\v\f\r")
    digits = body[1:] if body[:1] in ("+", "-") else body
    if not digits.isdigit() or not digits.isascii():
        return None
    value = int(body)
    return max(-(1 << 63), min(value, (1 << 63) - 1))


def _string2ll(text: str) -> int | None:
    if text == "0":
        return 0
    body = text[1:] if text.startswith("-") else text
    if not body or not body.isascii() or not body.isdigit() or body[0] == "0":
        return None
    value = int(text)
    return value if -(1 << 63) <= value < (1 << 63) else None


# -- values ------------------------------------------------------------------------------------


def _parse_number(name: str, spec: tuple[Any, ...], text: str) -> str:
    kind, details = spec[0], spec[3]
    lower, upper, number_format = details
    value: int | None = None
    if "memory" in number_format:
        value = parse_memory(text)
        if value is not None and kind == "int" and value >= 1 << 63:
            value -= _U64
    if value is None and "percent" in number_format and len(text) > 1 and text[-1] == "%":
        percent = _string2ll(text[:-1])
        if percent is not None and percent >= 0:
            value = -percent
    if value is None and "octal" in number_format:
        try:
            value = int(text, 8)
        except ValueError:
            value = None
    if value is None and not number_format:
        value = _string2ll(text)
    if value is None:
        if "memory" in number_format and "percent" in number_format:
            raise _Invalid("argument must be a memory or percent value")
        if "memory" in number_format:
            raise _Invalid("argument must be a memory value")
        if "octal" in number_format:
            raise _Invalid("argument couldn't be parsed as an octal number")
        raise _Invalid("argument couldn't be parsed into an integer")
    if kind == "uint":
        if not lower <= value % _U64 <= upper:
            if "octal" in number_format:
                raise _Invalid(f"argument must be between {lower:o} and {upper:o} inclusive")
            raise _Invalid(f"argument must be between {lower} and {upper} inclusive")
        value %= _U64
    elif "percent" in number_format and value < 0:
        if value < lower:
            raise _Invalid(f"percentage argument must be less or equal to {-lower}")
    elif not lower <= value <= upper:
        raise _Invalid(f"argument must be between {lower} and {upper} inclusive")
    if name == "hz":
        value = max(1, min(value, 500))
    if value < 0 and "percent" in number_format:
        return f"{-value}%"
    return f"{value:o}" if "octal" in number_format else str(value)


def _parse_enum(name: str, spec: tuple[Any, ...], text: str) -> str:
    names: tuple[str, ...] = spec[3]
    words = text.split(" ") if "multi" in spec[1] else [text]
    lowered = [word.lower() for word in words]
    if not words or any(word not in names for word in lowered):
        raise _Invalid("argument(s) must be one of the following: " + ", ".join(names))
    if name.startswith("shutdown-on-sig"):
        flags = 0
        for word in lowered:
            flags |= _SHUTDOWN_FLAGS[word]
        if flags & 1 and flags & 2:
            raise _Invalid("shutdown options SAVE and NOSAVE can't be used simultaneously")
        return " ".join(w for w, bit in _SHUTDOWN_FLAGS.items() if bit & flags) or "default"
    if name == "oom-score-adj" and lowered[0] == "relative":
        return "yes"
    return lowered[0]


def _parse_special(name: str, words: list[str], text: str, current: str) -> str:
    if name == "save":
        if words == [""]:
            words = []
        numbers = [_strtoll(word) for word in words]
        if len(words) % 2 or any(
            value is None or value < (0 if i % 2 else 1) for i, value in enumerate(numbers)
        ):
            raise _Invalid("Invalid save parameters")
        return " ".join(str(value) for value in numbers)
    if name == "client-output-buffer-limit":
        if len(words) % 4:
            raise _Invalid("Wrong number of arguments in buffer limit configuration.")
        classes = [current.split()[i * 4 + 1 : i * 4 + 4] for i in range(3)]
        for i in range(0, len(words), 4):
            kind = _CLIENT_CLASSES.get(words[i].lower())
            if kind is None:
                raise _Invalid("Invalid client class specified in buffer limit configuration.")
            hard, soft = parse_memory(words[i + 1]), parse_memory(words[i + 2])
            seconds = _strtoll(words[i + 3])
            if hard is None or soft is None or seconds is None or seconds < 0:
                raise _Invalid(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                )
            classes[kind] = [str(hard), str(soft), str(seconds)]
        return " ".join(f"{n} {' '.join(v)}" for n, v in zip(_CLASS_NAMES, classes, strict=True))
    if name == "oom-score-adj-values":
        if len(words) != 3:
            raise _Invalid("wrong number of arguments")
        values = [_strtoll(word) for word in words]
        if any(value is None or not -2000 <= value <= 2000 for value in values):
            raise _Invalid("Invalid oom-score-adj-values, elements must be between -2000 and 2000.")
        return " ".join(str(value) for value in values)
    if name == "notify-keyspace-events":
        if any(c not in _EVENT_CLASSES + "AKEm" for c in text):
            raise _Invalid("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
        events = set(text.replace("A", "".join(_EVENTS_ALL)))
        out = "A" if events >= _EVENTS_ALL else "".join(c for c in _EVENT_CLASSES if c in events)
        return out + "".join(c for c in "KEm" if c in events)
    if name == "bind":
        if len(words) > 16:
            raise _Invalid("Too many bind addresses specified.")
        return "" if words == [""] else " ".join(words)
    if name == "latency-tracking-info-percentiles":
        if words == [""]:
            return ""
        percentiles = []
        for word in words:
            try:
                value = float(word)
            except ValueError:
                value = math.nan
            if math.isnan(value) or word != word.strip() or not word:
                raise _Invalid("Invalid latency-tracking-info-percentiles parameters")
            if not 0.0 <= value <= 100.0:
                raise _Invalid(
                    "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                )
            percentiles.append(f"{value:f}".rstrip("0").rstrip("."))
        return " ".join(percentiles)
    return text


def _parse(server: Server, name: str, text: str) -> str:
    """The value CONFIG GET will show after ``CONFIG SET name text``; raises ``_Invalid``."""
    spec = CONFIGS[name]
    kind = spec[0]
    if kind == "bool":
        if text.lower() not in ("yes", "no"):
            raise _Invalid("argument must be 'yes' or 'no'")
        return text.lower()
    if kind == "enum":
        return _parse_enum(name, spec, text)
    if kind in ("int", "uint"):
        return _parse_number(name, spec, text)
    if kind == "special":
        words = text.split(" ") if "multi" in spec[1] else [text]
        return _parse_special(name, words, text, config_value(server, name))
    return text


def config_value(server: Server, name: str) -> str:
    """A parameter's value as CONFIG GET shows it (``name`` is the canonical name)."""
    raw = server.config.values.get(name)
    if raw is None:
        return CONFIGS[name][2]
    if name == "dir":
        return os.path.abspath(raw)
    if CONFIGS[name][0] in ("int", "uint", "bool"):
        try:
            return _parse(server, name, raw)
        except _Invalid:
            return raw
    return raw


# -- commands ----------------------------------------------------------------------------------


def _canonical(name: str) -> str | None:
    name = name.lower()
    if name in CONFIGS:
        return name
    return ALIASES.get(name)


@command("config|get", -3, "admin noscript loading stale", keys=(0, 0, 0))
def config_get(client: Client, argv: list[bytes]) -> Any:
    server = client.server
    matches: dict[str, tuple[str, str]] = {}  # lowercased shown name -> (shown, canonical)
    for arg in argv[2:]:
        pattern = arg.decode("latin-1")
        if not any(c in pattern for c in "[*?"):
            canonical = _canonical(pattern)
            if canonical is not None and pattern.lower() not in matches:
                matches[pattern.lower()] = (pattern, canonical)
            continue
        matcher = compile_glob(arg, True)
        for name in (*CONFIGS, *ALIASES):
            canonical = ALIASES.get(name, name)
            if "hidden" in CONFIGS[canonical][1] or name in matches:
                continue
            if matcher(name.encode()):
                matches[name] = (name, canonical)
    return Map(
        (_to_bytes(shown), _to_bytes(config_value(server, canonical)))
        for shown, canonical in matches.values()
    )


def _to_bytes(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")


@command("config|set", -4, "admin noscript loading stale", keys=(0, 0, 0))
def config_set(client: Client, argv: list[bytes]) -> Any:
    if len(argv) % 2:
        raise syntax_error()
    server = client.server
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()  # names (an alias is a parameter of its own here, as in Redis)
    unknown: str | None = None
    failure: tuple[str, str] | None = None
    for i in range(2, len(argv), 2):
        shown = argv[i].decode("latin-1")
        canonical = _canonical(shown)
        if canonical is None:
            if unknown is None and failure is None:
                unknown = shown
            continue
        if unknown is not None or failure is not None:
            continue
        flags = CONFIGS[canonical][1]
        if "immutable" in flags or "protected" in flags:
            kind = "immutable" if "immutable" in flags else "protected"
            failure = (shown, f"can't set {kind} config")
        elif shown.lower() in seen:
            failure = (shown, "duplicate parameter")
        seen.add(shown.lower())
        pairs.append((canonical, argv[i + 1].decode("latin-1")))
    if unknown is not None:
        raise CommandError(
            f"ERR Unknown option or number of arguments for CONFIG SET - '{unknown}'"
        )
    if failure is not None:
        raise _failed(*failure)
    new_values = {}
    for canonical, text in pairs:
        try:
            new_values[canonical] = _parse(server, canonical, text)
        except _Invalid as error:
            raise _failed(canonical, str(error)) from None
    server.config.values.update(new_values)
    return OK


def _failed(name: str, reason: str) -> CommandError:
    return CommandError(f"ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")


@command("config|resetstat", 2, "admin noscript loading stale", keys=(0, 0, 0))
def config_resetstat(client: Client, argv: list[bytes]) -> Any:
    stats = client.server.stats
    for name in stats:
        stats[name] = 0
    return OK


@command("config|rewrite", 2, "admin noscript loading stale", keys=(0, 0, 0))
def config_rewrite(client: Client, argv: list[bytes]) -> Any:
    return Error("ERR The server is running without a config file")


_CONFIG_HELP = [
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
]


@command("config|help", 2, "loading stale", keys=(0, 0, 0))
def config_help(client: Client, argv: list[bytes]) -> Any:
    return help_reply(argv, _CONFIG_HELP)
