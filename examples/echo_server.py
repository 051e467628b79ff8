"""An echo server: every connection gets back what it sends.

python examples/echo_server.py 7000      # then: nc 127.0.0.1 7000
"""

import sys

import trapline


async def echo(stream: trapline.Stream) -> None:
    async for chunk in stream:
        await stream.send_all(chunk)


async def main(port: int) -> None:
    print(f"echo server on 127.0.0.1:{port} (Ctrl-C stops it)")
    await trapline.serve_tcp(echo, port)


if __name__ == "__main__":
    try:
        trapline.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 7000)
    except KeyboardInterrupt:  # Ctrl-C: every connection was closed before run() returned
        print("stopped")
