"""``trapline.to_thread.run_sync``: call blocking code without blocking the run loop."""

from ._threads import default_limiter, run_sync

__all__ = ["default_limiter", "run_sync"]
