"""What users pass to ``run``, ``spawn`` and ``start`` (an async function and its arguments, a
coroutine object, or a function returning another awaitable), turned into the coroutine a task
runs, or a ``TypeError`` that says what was wrong."""

from __future__ import annotations

import inspect
import types
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

__all__ = ["coerce_coroutine"]

T = TypeVar("T")

_CO_ITERABLE_COROUTINE = inspect.CO_ITERABLE_COROUTINE


def coerce_coroutine(fn: Any, args: tuple[Any, ...], where: str) -> Coroutine[Any, Any, Any]:
    """Turn ``fn, *args`` (or a coroutine object) into a coroutine, or raise a clear TypeError.

    An awaitable that is not a coroutine (``trapline.sleep(1)``, a ``Task``) is wrapped in one.
    """
    if callable(fn) and type(fn) is not types.CoroutineType:
        coro = fn(*args)
        if type(coro) is types.CoroutineType:
            return coro  # the common case, kept short: spawning is a hot path
        if _is_coroutine(coro):
            return coro  # type: ignore[no-any-return]
        if hasattr(type(coro), "__await__"):
            # An awaitable that is not a coroutine (``trapline.sleep(5)``, a Task): when its
            # ``__await__`` is a generator, run that directly (no wrapper frame per task).
            name = getattr(fn, "__name__", None)
            iterator = coro.__await__()
            wrapped: Any = iterator if type(iterator) is types.GeneratorType else _await(coro)
            if isinstance(name, str):
                wrapped.__name__ = name
            return wrapped  # type: ignore[no-any-return]
        raise TypeError(
            f"{where} expected an async function, but {getattr(fn, '__name__', fn)!r}() "
            f"returned {type(coro).__name__} (is it defined with 'async def'?)"
        )
    if _is_coroutine(fn):
        if args:
            raise TypeError(f"{where} got a coroutine object and arguments; pass fn, *args instead")
        return fn  # type: ignore[no-any-return]
    raise TypeError(
        f"{where} expected an async function (or a coroutine object), but got {fn!r} of "
        f"type {type(fn).__name__}"
    )


def _is_coroutine(obj: object) -> bool:
    return type(obj) is types.CoroutineType or (
        isinstance(obj, types.GeneratorType) and bool(obj.gi_code.co_flags & _CO_ITERABLE_COROUTINE)
    )


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable
