"""The kernel's expert API: what the rest of trapline (and your own primitives) is built on.

Parking and rescheduling tasks, the wait queue, instrument hooks, the step-by-step ``Stepper``,
and accessors for the running task and clock. Nothing in trapline outside ``trapline._core`` uses
anything else from the kernel.
"""

from ._core import (
    Abort,
    Clock,
    Instrument,
    ParkingLot,
    ParkingLotStatistics,
    StepEvent,
    Stepper,
    Task,
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    current_clock,
    current_root_task,
    current_task,
    park,
    reschedule,
)
from ._core._instrument import Instruments as _Instruments
from ._core._run import current_runner as _current_runner

__all__ = [
    "Abort",
    "Clock",
    "Instrument",
    "ParkingLot",
    "ParkingLotStatistics",
    "StepEvent",
    "Stepper",
    "Task",
    "add_instrument",
    "cancel_shielded_checkpoint",
    "checkpoint",
    "checkpoint_if_cancelled",
    "current_clock",
    "current_root_task",
    "current_task",
    "park",
    "remove_instrument",
    "reschedule",
]


def add_instrument(instrument: Instrument) -> None:
    """Register an instrument on the running loop (not a checkpoint)."""
    instruments: _Instruments = _current_runner().instruments
    instruments.add(instrument)


def remove_instrument(instrument: Instrument) -> None:
    """Unregister an instrument from the running loop; ``KeyError`` if it is not registered."""
    instruments: _Instruments = _current_runner().instruments
    instruments.remove(instrument)
