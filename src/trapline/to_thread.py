"""``trapline.to_thread.run_sync``: call blocking code without blocking the run loop."""

from ._threads import run_sync

__all__ = ["run_sync"]
