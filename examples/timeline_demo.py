"""A small program with a bit of everything a timeline shows, to trace:

python -m trapline trace examples/timeline_demo.py -o trace.html

Three producers take turns with a lock and sleep; a consumer takes their items from a queue and
sends each one to an echo server on loopback, waiting for the reply on the socket; a timeout
cancels whatever is still running at the end.
"""

import trapline


async def shout(stream: trapline.Stream) -> None:
    async for line in stream.lines():
        await trapline.sleep(0.006)  # the server thinks for a moment
        await stream.send_all(line.upper())


async def producer(n: int, lock: trapline.Lock, queue: trapline.Queue[str]) -> None:
    async with lock:
        await trapline.sleep(0.02)
    await queue.put(f"item {n}")


async def consumer(port: int, queue: trapline.Queue[str]) -> None:
    async with await trapline.open_tcp_stream("127.0.0.1", port) as stream:
        while True:
            item = await queue.get()
            await stream.send_all(item.encode() + b"\n")
            print((await stream.readline()).decode().strip())


async def main() -> None:
    lock, queue = trapline.Lock(), trapline.Queue[str](10)
    with trapline.move_on_after(0.12):
        async with trapline.TaskGroup() as tg:
            listeners = await tg.start(trapline.serve_tcp, shout, 0)
            port = listeners[0].socket.getsockname()[1]
            tg.spawn(consumer, port, queue, name="consumer")
            for n in (1, 2, 3):
                tg.spawn(producer, n, lock, queue, name=f"producer-{n}")


if __name__ == "__main__":
    trapline.run(main)
