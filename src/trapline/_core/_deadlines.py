"""Deadlines in one heap with lazy deletion (trio ``Deadlines``, curio ``timequeue.py``).

An entry is ``(deadline, seq, target)``; ``seq`` keeps equal deadlines in FIFO order and means the
target is never compared. A target (a parked ``Task`` or a ``CancelScope``) points back at its live
entry through ``target._timer``; an entry whose target points elsewhere is dead. Cancelling a
timeout is therefore O(1): the target forgets its entry and the heap keeps a corpse until it reaches
the top or until corpses outnumber the living, when the heap is rebuilt (so its size stays at most
about twice the live timers plus a constant, and rebuilding is amortised O(1) per discard).
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from ._instrument import Instruments

__all__ = ["Deadlines"]

_SLACK = 64


@final
class Deadlines:
    __slots__ = ("_count", "heap", "live")

    def __init__(self) -> None:
        self.heap: list[tuple[float, int, Any]] = []
        self.live = 0
        self._count = itertools.count()

    def add(self, deadline: float, target: Any) -> tuple[float, int, Any]:
        """Register ``deadline`` for ``target``; the caller keeps the entry in ``target._timer``."""
        entry = (deadline, next(self._count), target)
        heapq.heappush(self.heap, entry)
        self.live += 1
        return entry

    def discard(self) -> None:
        """Note that one entry died (its target has already forgotten it)."""
        self.live -= 1
        heap = self.heap
        if len(heap) > 2 * self.live + _SLACK:
            self.heap = [entry for entry in heap if entry[2]._timer is entry]
            heapq.heapify(self.heap)

    def next_deadline(self) -> float:
        heap = self.heap
        while heap:
            entry = heap[0]
            if entry[2]._timer is entry:
                deadline: float = entry[0]
                return deadline
            heapq.heappop(heap)
        return math.inf

    def expire(self, now: float, instruments: Instruments | None = None) -> None:
        """Fire every live entry whose deadline is at or before ``now``, earliest first;
        ``instruments`` hear of each (``timer_fired``) just before it fires."""
        fired = instruments.timer_hook() if instruments else None
        heap = self.heap
        pop = heapq.heappop
        while heap and heap[0][0] <= now:
            entry = pop(heap)
            target = entry[2]
            if target._timer is entry:
                self.live -= 1
                if fired is not None:
                    fired(entry[0], target)
                target._deadline_expired()
