"""The way in from other threads: ``Token.run_sync_soon``.

A foreign thread cannot touch the kernel's structures. It appends ``(fn, args)`` to the run's
entry queue (``deque.append`` is atomic) and writes a byte to the wake-up socket; the run loop
calls the queued functions at the start of its next pass, in order. That is all a worker thread
needs to hand a result back (``reschedule`` from inside such a function). Under a flood the loop
takes what was queued when the pass began and then runs tasks, so it stays responsive.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, final

from ._exceptions import RunFinishedError

if TYPE_CHECKING:
    from ._run import Runner

__all__ = ["Token", "current_token"]


@final
class Token:
    """A handle on a running ``trapline.run`` that any thread may use. Hashable, comparable."""

    __slots__ = ("__weakref__", "_runner")

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    def run_sync_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Call ``fn(*args)`` in the run's thread, soon. Safe from any thread, and from signal
        handlers. ``fn`` runs outside any task and must not block or raise: an exception from
        it ends the run, and ``trapline.run`` raises it. ``RunFinishedError`` if the run ended.
        """
        runner = self._runner
        if runner.finished:
            raise RunFinishedError("that trapline.run() has finished")
        runner.entries.append((fn, args))
        runner.backend.force_wakeup()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Token) and other._runner is self._runner

    def __hash__(self) -> int:
        return id(self._runner)

    def __repr__(self) -> str:
        return f"<trapline.lowlevel.Token {id(self._runner):#x}>"


def current_token() -> Token:
    """A ``Token`` for the current run, to reach it from other threads. Not a checkpoint.

    While any token is alive, another thread might wake a task, so the deadlock detector holds
    back; drop tokens you no longer need."""
    from ._run import current_runner

    runner = current_runner()
    ref = runner.token_ref
    token = ref() if ref is not None else None
    if token is None:
        token = Token(runner)
        runner.token_ref = weakref.ref(token)
    return token
