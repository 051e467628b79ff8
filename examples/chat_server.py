"""A line-based chat server: each line a client sends goes to every other client.

    python examples/chat_server.py 7001      # then several: nc 127.0.0.1 7001

Each client has a bounded outgoing channel and its own sender task, so one slow client cannot
hold up the others: when its channel is full, its messages are dropped and it is told so.
"""

import sys

import trapline
from trapline.lowlevel import ParkingLot


class Room:
    def __init__(self) -> None:
        self.members: dict[int, list[bytes]] = {}
        self.wakeups: dict[int, ParkingLot] = {}

    def broadcast(self, sender: int, line: bytes) -> None:
        for member, queue in self.members.items():
            if member != sender and len(queue) < 100:
                queue.append(line)
                self.wakeups[member].unpark_all()


room = Room()
next_id = 0


async def client(stream: trapline.Stream) -> None:
    global next_id
    next_id += 1
    me = next_id
    room.members[me] = outbox = []
    room.wakeups[me] = wakeup = ParkingLot("chat outbox")

    async def sender() -> None:
        while True:
            while outbox:
                await stream.send_all(outbox.pop(0))
            await wakeup.park()

    try:
        async with trapline.TaskGroup() as tg:
            tg.spawn(sender)
            await stream.send_all(b"welcome, you are client %d\n" % me)
            async for line in stream.lines():
                room.broadcast(me, b"%d: %s" % (me, line))
            tg.cancel_scope.cancel()
    finally:
        del room.members[me], room.wakeups[me]


async def main(port: int) -> None:
    print(f"chat server on 127.0.0.1:{port} (Ctrl-C stops it)")
    await trapline.serve_tcp(client, port)


if __name__ == "__main__":
    try:
        trapline.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 7001)
    except KeyboardInterrupt:  # Ctrl-C: every connection was closed before run() returned
        print("stopped")
