"""Tools for testing trapline programs: the virtual clock, the step-by-step scheduler, and
in-memory streams."""

from ._core import Stepper, VirtualClock
from ._memory import MemoryStream, memory_stream_pair

__all__ = ["MemoryStream", "Stepper", "VirtualClock", "memory_stream_pair"]
