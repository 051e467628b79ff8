"""Looking inside a running program: the task tree with states, wait reasons and await chains.

``task_tree()`` returns every task under its task group, each with what it waits for and the
chain of ``await``s it is suspended in (file:line of each frame), which answers "what is each
task waiting on?" without a debugger. ``print_task_tree()`` prints it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from ._run import current_runner

if TYPE_CHECKING:
    from ._task import Task

__all__ = ["TaskNode", "await_chain", "format_task_tree", "print_task_tree", "task_tree"]


@dataclass(frozen=True)
class TaskNode:
    """One task in the tree: its name, state, wait reason, await chain and task groups."""

    task: Task
    name: str
    state: str
    wait_reason: str | None
    stack: tuple[str, ...]
    groups: tuple[tuple[TaskNode, ...], ...] = field(default=())


def await_chain(coro: Any) -> tuple[str, ...]:
    """``file:line in function`` for each frame of a suspended coroutine's await chain,
    outermost first."""
    frames = []
    obj = coro
    while obj is not None:
        frame = (
            getattr(obj, "cr_frame", None)
            or getattr(obj, "gi_frame", None)
            or getattr(obj, "ag_frame", None)
        )
        if frame is not None:
            code = frame.f_code
            frames.append(f"{code.co_filename}:{frame.f_lineno} in {code.co_name}")
        obj = (
            getattr(obj, "cr_await", None)
            or getattr(obj, "gi_yieldfrom", None)
            or getattr(obj, "ag_await", None)
        )
    return tuple(frames)


def _node(task: Task) -> TaskNode:
    groups = tuple(
        tuple(_node(child) for child in group._children)
        for group in getattr(task, "_child_groups", ())
    )
    return TaskNode(task, task.name, task.state, task.wait_reason, await_chain(task.coro), groups)


def task_tree() -> list[TaskNode]:
    """The current run's tasks as trees: the main task first, then system tasks. Not a
    checkpoint."""
    runner = current_runner()
    roots = [runner.main_task] if runner.main_task is not None else []
    roots += list(runner.system_group._children)
    return [_node(task) for task in roots if not task._done]


def format_task_tree(nodes: list[TaskNode] | None = None, *, stacks: bool = True) -> str:
    """The tree as text, one task per line (indented by nesting), with await chains."""
    lines: list[str] = []

    def emit(node: TaskNode, depth: int) -> None:
        pad = "  " * depth
        what = node.state if node.wait_reason is None else f"{node.state}: {node.wait_reason}"
        lines.append(f"{pad}{node.name} [{what}]")
        if stacks:
            for frame in node.stack:
                lines.append(f"{pad}    at {frame}")
        for group in node.groups:
            lines.append(f"{pad}  task group ({len(group)} task{'' if len(group) == 1 else 's'})")
            for child in group:
                emit(child, depth + 2)

    for node in task_tree() if nodes is None else nodes:
        emit(node, 0)
    return "\n".join(lines)


def print_task_tree(file: TextIO | None = None, *, stacks: bool = True) -> None:
    """Print the task tree (to stderr by default). Not a checkpoint."""
    print(format_task_tree(stacks=stacks), file=file or sys.stderr)
