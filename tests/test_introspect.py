"""The task tree: every task under its group, with state, wait reason and await chain."""

import trapline
from trapline.lowlevel import format_task_tree, task_tree


async def test_task_tree_shows_groups_waits_and_await_chains(virtual_clock):
    lock = trapline.Lock()
    seen = {}

    async def holder():
        async with lock:
            await trapline.sleep(10)

    async def waiter():
        await lock.acquire()
        lock.release()

    async def inspector():
        await trapline.sleep(1)
        seen["tree"] = task_tree()
        seen["text"] = format_task_tree()

    async with trapline.TaskGroup() as tg:
        tg.spawn(holder, name="holder")
        tg.spawn(waiter, name="waiter")
        tg.spawn(inspector, name="inspector")

    (main,) = seen["tree"]
    assert main.state == "waiting" and main.wait_reason == "task group: 3 tasks"
    (group,) = main.groups
    by_name = {node.name: node for node in group}
    assert by_name["holder"].wait_reason == "sleep until t=10"
    assert by_name["waiter"].wait_reason == "Lock held by holder"
    assert by_name["inspector"].state == "running"
    assert any("in holder" in frame for frame in by_name["holder"].stack)
    assert any("in waiter" in frame for frame in by_name["waiter"].stack)
    text = seen["text"]
    assert "  task group (3 tasks)" in text
    assert "holder [waiting: sleep until t=10]" in text
    assert "waiter [waiting: Lock held by holder]" in text
