"""trapline: a pure-Python coroutine framework.

Tasks in task groups, level-triggered cancel scopes and timeouts, virtual time, a step-by-step
scheduler, and synchronisation primitives, on a small kernel whose one trap every awaitable goes
through. Start with ``trapline.run(main)``.
"""

from ._core import (
    TASK_STATUS_IGNORED,
    BrokenResourceError,
    BusyResourceError,
    Cancelled,
    CancelScope,
    ClosedResourceError,
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
from ._udp import UDPSocket, open_udp_socket

__version__ = "0.1.0"

__all__ = [
    "TASK_STATUS_IGNORED",
    "AsyncFile",
    "BrokenResourceError",
    "BusyResourceError",
    "CancelScope",
    "Cancelled",
    "ClosedResourceError",
    "EndOfChannel",
    "FdStream",
    "IncompleteReadError",
    "LimitOverrunError",
    "Path",
    "Process",
    "RunFinishedError",
    "SignalReceiver",
    "SocketListener",
    "SocketStream",
    "Stream",
    "Task",
    "TaskCancelled",
    "TaskGroup",
    "TaskStatus",
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
