"""trapline's kernel: scheduling, cancellation, time and waiting. Nothing here knows about sockets.

The rest of trapline is built only on what ``trapline.lowlevel`` re-exports from here (a test
enforces it). See ``docs/design.md`` for the tour.
"""

from ._cancel import (
    CancelScope,
    current_effective_deadline,
    fail_after,
    fail_at,
    move_on_after,
    move_on_at,
)
from ._clock import Clock, SystemClock, VirtualClock
from ._entry import Token, current_token
from ._exceptions import (
    BrokenResourceError,
    BusyResourceError,
    Cancelled,
    ClosedResourceError,
    DeadlockError,
    EndOfChannel,
    RunFinishedError,
    TaskCancelled,
    WouldBlock,
)
from ._instrument import (
    Instrument,
    add_default_instrument,
    default_instruments,
    remove_default_instrument,
)
from ._introspect import TaskNode, await_chain, format_task_tree, print_task_tree, task_tree
from ._io import FakeBackend
from ._parking_lot import ParkingLot, ParkingLotStatistics
from ._run import (
    add_instrument,
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    current_clock,
    current_root_task,
    current_task,
    current_time,
    park,
    remove_instrument,
    reschedule,
    run,
    sleep,
    sleep_forever,
    sleep_until,
    spawn_system_task,
)
from ._schedule import RandomSchedule, Schedule
from ._stepper import StepEvent, Stepper
from ._task import Task
from ._taskgroup import TASK_STATUS_IGNORED, TaskGroup, TaskStatus, gather
from ._traps import Abort
from ._waits import io_statistics, notify_closing, wait_readable, wait_writable

__all__ = [
    "TASK_STATUS_IGNORED",
    "Abort",
    "BrokenResourceError",
    "BusyResourceError",
    "CancelScope",
    "Cancelled",
    "Clock",
    "ClosedResourceError",
    "DeadlockError",
    "EndOfChannel",
    "FakeBackend",
    "Instrument",
    "ParkingLot",
    "ParkingLotStatistics",
    "RandomSchedule",
    "RunFinishedError",
    "Schedule",
    "StepEvent",
    "Stepper",
    "SystemClock",
    "Task",
    "TaskCancelled",
    "TaskGroup",
    "TaskNode",
    "TaskStatus",
    "Token",
    "VirtualClock",
    "WouldBlock",
    "add_default_instrument",
    "add_instrument",
    "cancel_shielded_checkpoint",
    "checkpoint",
    "checkpoint_if_cancelled",
    "current_clock",
    "current_effective_deadline",
    "current_root_task",
    "current_task",
    "current_time",
    "current_token",
    "default_instruments",
    "await_chain",
    "format_task_tree",
    "print_task_tree",
    "task_tree",
    "fail_after",
    "fail_at",
    "gather",
    "io_statistics",
    "move_on_after",
    "move_on_at",
    "notify_closing",
    "park",
    "remove_default_instrument",
    "remove_instrument",
    "reschedule",
    "run",
    "sleep",
    "sleep_forever",
    "sleep_until",
    "spawn_system_task",
    "wait_readable",
    "wait_writable",
]
