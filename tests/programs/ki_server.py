"""A small server that a test interrupts with SIGINT at a random moment.

It runs an echo server with an open client connection, a worker thread and a child process,
prints "ready", and waits. On KeyboardInterrupt it reports, as one JSON line on stdout, whether
cleanup ran and what is left behind (file descriptors, threads, child processes).
"""

import json
import os
import sys
import threading

import trapline
import trapline.to_thread

cleanup = []


async def echo(stream):
    async for chunk in stream:
        await stream.send_all(chunk)


def worker(stop):
    while not stop.wait(0.01):
        pass


async def stopper(stop):
    try:
        await trapline.sleep_forever()
    finally:
        stop.set()
        cleanup.append("stopper")


async def pinger(stream):
    try:
        while True:
            await stream.send_all(b"ping\n")
            await stream.readline()
            await trapline.sleep(0.01)
    finally:
        await stream.aclose()
        cleanup.append("client")


async def child(proc):
    try:
        async with proc:
            await proc.wait()
    finally:
        cleanup.append("child" if proc.returncode is not None else "child not reaped")


async def main():
    stop = threading.Event()
    async with trapline.TaskGroup() as tg:
        listeners = await tg.start(trapline.serve_tcp, echo, 0)
        port = listeners[0].socket.getsockname()[1]
        stream = await trapline.open_tcp_stream("127.0.0.1", port)
        tg.spawn(pinger, stream)
        tg.spawn(stopper, stop)
        tg.spawn(trapline.to_thread.run_sync, worker, stop)
        proc = await trapline.open_process(["sleep", "60"])
        tg.spawn(child, proc)
        print("ready", flush=True)


if __name__ == "__main__":
    fds_before = len(os.listdir("/proc/self/fd"))
    outcome = "returned"
    try:
        trapline.run(main)
    except KeyboardInterrupt:
        outcome = "KeyboardInterrupt"
    try:
        os.waitpid(-1, os.WNOHANG)
        children = "unreaped"
    except ChildProcessError:
        children = "none"
    non_daemon = [
        t.name for t in threading.enumerate() if not t.daemon and t is not threading.main_thread()
    ]
    busy = sum(1 for t in threading.enumerate() if t.name == "trapline worker" and t.is_alive())
    print(
        json.dumps(
            {
                "outcome": outcome,
                "cleanup": sorted(cleanup),
                "fds_leaked": len(os.listdir("/proc/self/fd")) - fds_before,
                "children": children,
                "non_daemon_threads": non_daemon,
                "worker_threads": busy,
            }
        ),
        flush=True,
    )
    sys.exit(0)
