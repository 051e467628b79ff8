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
    add_instrument,
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    current_clock,
    current_root_task,
    current_task,
    io_statistics,
    notify_closing,
    park,
    remove_instrument,
    reschedule,
    wait_readable,
    wait_writable,
)

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
    "io_statistics",
    "notify_closing",
    "park",
    "remove_instrument",
    "reschedule",
    "wait_readable",
    "wait_writable",
]
