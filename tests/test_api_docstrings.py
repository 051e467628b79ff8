"""Every public async function and method says in its docstring whether it is a checkpoint.

The rule from the design (docs/design.md): each public async function documents if it is a
checkpoint, what it raises, and what cancellation does. The word "checkpoint" is the part a
machine can check; the test lists the offenders so a new one names itself.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from typing import Any

from test_docs import REFERENCE_MODULES as PUBLIC_MODULES  # the modules the reference documents


def _is_async(obj: Any) -> bool:
    """An async function, or a function or awaitable class written for speed without ``async``
    (``checkpoint`` returns an awaitable, ``sleep`` is a class with ``__await__``)."""
    if inspect.iscoroutinefunction(obj) or inspect.isasyncgenfunction(obj):
        return True
    if inspect.isfunction(obj):
        return "Awaitable" in str(inspect.signature(obj).return_annotation)
    return False


def _public_async() -> Iterator[tuple[str, Any, Any]]:
    """(name, function, the class defining it or None) for each public awaitable API."""
    seen: set[int] = set()
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        names = getattr(module, "__all__", None) or [n for n in dir(module) if n[0] != "_"]
        for name in names:
            obj = getattr(module, name)
            candidates: list[tuple[str, Any, Any]] = []
            if _is_async(obj) or (inspect.isclass(obj) and "__await__" in vars(obj)):
                candidates.append((f"{module_name}.{name}", obj, None))
            elif inspect.isclass(obj):
                for attr, member in inspect.getmembers(obj):
                    function = getattr(member, "__func__", member)
                    # Dunders (``__aenter__``...) are documented by their class.
                    if attr.startswith("_") or not _is_async(function):
                        continue
                    # Methods inherited from asyncio's own classes are asyncio's to document.
                    if not getattr(function, "__module__", "").startswith("trapline"):
                        continue
                    owner = next(k for k in obj.__mro__ if attr in vars(k))
                    candidates.append((f"{module_name}.{name}.{attr}", function, owner))
            for qualname, function, owner in candidates:
                if id(function) not in seen:
                    seen.add(id(function))
                    yield qualname, function, owner


def _documented(function: Any, owner: Any) -> bool:
    """The function's docstring says it, or the docstring of the (trapline) class defining it or
    of one of its bases says it for all methods at once (the kv client's ~150 typed commands
    share one rule, stated on their base class)."""
    classes = [k for k in owner.__mro__ if k.__module__.startswith("trapline")] if owner else []
    docs = [inspect.getdoc(function), *(k.__doc__ for k in classes)]  # getdoc: overrides inherit
    return any(doc and "checkpoint" in doc.lower() for doc in docs)


def test_the_walk_finds_the_api() -> None:
    import trapline
    import trapline.kv

    found = {id(function) for _, function, _ in _public_async()}
    # One of each kind: an awaitable class, a function returning an awaitable, a coroutine
    # method, an async generator method, a typed kv command.
    for api in (
        trapline.sleep,
        trapline.checkpoint,
        trapline.Stream.recv,
        trapline.Stream.lines,
        trapline.kv.KV.get,
    ):
        assert id(api) in found, api
    assert len(found) > 150


def test_every_public_async_function_says_if_it_is_a_checkpoint() -> None:
    missing = [
        name for name, function, owner in _public_async() if not _documented(function, owner)
    ]
    assert missing == []
