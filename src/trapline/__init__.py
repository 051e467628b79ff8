"""trapline: a pure-Python coroutine framework.

Tasks in task groups, level-triggered cancel scopes and timeouts, virtual time, a step-by-step
scheduler, and synchronisation primitives, on a small kernel whose one trap every awaitable goes
through. Start with ``trapline.run(main)``.
"""

import sys as _sys
from importlib import import_module as _import_module
from types import ModuleType as _ModuleType

from ._channel import (
    ChannelStatistics,
    Queue,
    QueueStatistics,
    ReceiveChannel,
    SendChannel,
    open_channel,
)
from ._core import (
    TASK_STATUS_IGNORED,
    BrokenResourceError,
    BusyResourceError,
    Cancelled,
    CancelScope,
    ClosedResourceError,
    DeadlockError,
    EndOfChannel,
    RunFinishedError,
    Task,
    TaskCancelled,
    TaskGroup,
    TaskStatus,
    WouldBlock,
    checkpoint,
    current_effective_deadline,
    current_time,
    fail_after,
    fail_at,
    gather,
    move_on_after,
    move_on_at,
    run,
    sleep,
    sleep_forever,
    sleep_until,
)
from ._fdstream import FdStream
from ._file import AsyncFile, Path, open_file, wrap_file
from ._signals import SignalReceiver, open_signal_receiver
from ._streams import IncompleteReadError, LimitOverrunError, SocketStream, Stream
from ._subprocess import Process, open_process, run_process
from ._sync import (
    CapacityLimiter,
    CapacityLimiterStatistics,
    Condition,
    ConditionStatistics,
    Event,
    EventStatistics,
    Lock,
    LockStatistics,
    Semaphore,
    SemaphoreStatistics,
)
from ._tcp import (
    SocketListener,
    open_tcp_listeners,
    open_tcp_stream,
    open_unix_listener,
    open_unix_stream,
    serve_listeners,
    serve_tcp,
    serve_unix,
)
from ._tls import TLSStream
from ._udp import UDPSocket, open_udp_socket
from .monitor import _install_from_environment

_install_from_environment()  # TRAPLINE_MONITOR set: serve the monitor in every run
del _install_from_environment

# Tracebacks name the public exceptions where they are imported from: "trapline.DeadlockError",
# not "trapline._core._exceptions.DeadlockError".
for _error in (
    BrokenResourceError,
    BusyResourceError,
    Cancelled,
    ClosedResourceError,
    DeadlockError,
    EndOfChannel,
    IncompleteReadError,
    LimitOverrunError,
    RunFinishedError,
    TaskCancelled,
    WouldBlock,
):
    _error.__module__ = __name__
del _error

__version__ = "0.1.0"

# Submodules reachable as attributes after a bare ``import trapline`` (the README writes
# ``trapline.testing.VirtualClock()`` and ``trapline.to_thread.run_sync``), imported on first use
# rather than up front: ``trapline.aio`` costs asyncio's import, ``trapline.kv`` a whole server.
# Each is a stand-in until then, not a module-level ``__getattr__``: on CPython 3.11 the mere
# presence of that function stops the interpreter specializing every ``trapline.<name>`` lookup,
# and ``await trapline.checkpoint()`` in a loop ran 8% slower for it.


class _Submodule(_ModuleType):
    """``trapline.<name>`` before its first use: any attribute imports the real module (which
    then replaces this stand-in on ``trapline``) and comes from it."""

    def __getattr__(self, attr: str) -> object:
        return getattr(_import_module(self.__name__), attr)

    def __dir__(self) -> list[str]:
        return dir(_import_module(self.__name__))


for _name in ("aio", "from_thread", "kv", "socket", "testing", "to_thread", "tracing"):
    if f"{__name__}.{_name}" not in _sys.modules:
        globals()[_name] = _Submodule(f"{__name__}.{_name}")
del _name


__all__ = [
    "TASK_STATUS_IGNORED",
    "AsyncFile",
    "BrokenResourceError",
    "BusyResourceError",
    "CancelScope",
    "Cancelled",
    "CapacityLimiter",
    "CapacityLimiterStatistics",
    "ChannelStatistics",
    "ClosedResourceError",
    "DeadlockError",
    "Condition",
    "ConditionStatistics",
    "EndOfChannel",
    "Event",
    "EventStatistics",
    "FdStream",
    "IncompleteReadError",
    "LimitOverrunError",
    "Lock",
    "LockStatistics",
    "Path",
    "Process",
    "Queue",
    "QueueStatistics",
    "ReceiveChannel",
    "RunFinishedError",
    "Semaphore",
    "SemaphoreStatistics",
    "SendChannel",
    "SignalReceiver",
    "SocketListener",
    "SocketStream",
    "Stream",
    "Task",
    "TaskCancelled",
    "TaskGroup",
    "TaskStatus",
    "TLSStream",
    "UDPSocket",
    "WouldBlock",
    "checkpoint",
    "current_effective_deadline",
    "current_time",
    "fail_after",
    "fail_at",
    "gather",
    "move_on_after",
    "move_on_at",
    "open_channel",
    "open_file",
    "open_process",
    "open_signal_receiver",
    "open_tcp_listeners",
    "open_tcp_stream",
    "open_udp_socket",
    "open_unix_listener",
    "open_unix_stream",
    "run",
    "run_process",
    "serve_listeners",
    "serve_tcp",
    "serve_unix",
    "sleep",
    "sleep_forever",
    "sleep_until",
    "wrap_file",
]
