"""A line-based client: send each argument as a line, print each reply line.

python examples/line_client.py 7000 hello world
"""

import sys

import trapline


async def main(port: int, lines: list[str]) -> list[bytes]:
    replies = []
    async with await trapline.open_tcp_stream("127.0.0.1", port) as stream:
        for line in lines:
            await stream.send_all(line.encode() + b"\n")
            reply = await stream.readline()
            replies.append(reply)
            print(reply.decode().rstrip("\n"))
    return replies


if __name__ == "__main__":
    trapline.run(main, int(sys.argv[1]), sys.argv[2:])
