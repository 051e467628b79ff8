"""Tools for testing trapline programs: the virtual clock, the step-by-step scheduler, and
in-memory streams."""

from ._core import FakeBackend, Stepper, VirtualClock
from ._memory import MemoryStream, memory_stream_pair

__all__ = ["FakeBackend", "MemoryStream", "Stepper", "VirtualClock", "memory_stream_pair"]
