"""Tools for testing trapline programs: the virtual clock, the step-by-step scheduler, in-memory
streams, and schedule exploration (``explore`` runs a test under many seeded schedules,
``replay`` runs one of them again)."""

from ._core import FakeBackend, RandomSchedule, Stepper, VirtualClock
from ._explore import ExplorationFailure, ExplorationSummary, explore, replay
from ._memory import MemoryStream, memory_stream_pair

__all__ = [
    "ExplorationFailure",
    "ExplorationSummary",
    "FakeBackend",
    "MemoryStream",
    "RandomSchedule",
    "Stepper",
    "VirtualClock",
    "explore",
    "memory_stream_pair",
    "replay",
]
