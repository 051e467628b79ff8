"""Tools for testing trapline programs: the virtual clock and the step-by-step scheduler."""

from ._core import Stepper, VirtualClock

__all__ = ["Stepper", "VirtualClock"]
