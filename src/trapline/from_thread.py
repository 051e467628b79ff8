"""``trapline.from_thread``: call back into the trapline run from a worker thread.

In a thread started by ``trapline.to_thread.run_sync``, ``run(async_fn, *args)`` runs an async
function in the run (as a system task) and ``run_sync(fn, *args)`` calls a plain function in the
run's thread; both block the worker thread until done and return the result. From any other
thread, pass ``token=trapline.lowlevel.current_token()`` obtained in the run.
"""

from ._threads import from_thread_run as run
from ._threads import from_thread_run_sync as run_sync

__all__ = ["run", "run_sync"]
