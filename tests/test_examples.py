"""The examples in examples/ run as documented."""

import importlib.util
import pathlib

import trapline

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_echo_server_with_line_client():
    echo, client = load("echo_server"), load("line_client")
    async with trapline.TaskGroup() as tg:
        listeners = await tg.start(trapline.serve_tcp, echo.echo, 0)
        port = listeners[0].socket.getsockname()[1]
        with trapline.fail_after(10):
            assert await client.main(port, ["hello", "world"]) == [b"hello\n", b"world\n"]
        tg.cancel_scope.cancel()


async def test_chat_server_relays_lines_between_clients():
    chat = load("chat_server")
    async with trapline.TaskGroup() as tg:
        listeners = await tg.start(trapline.serve_tcp, chat.client, 0)
        port = listeners[0].socket.getsockname()[1]
        with trapline.fail_after(10):
            alice = await trapline.open_tcp_stream("127.0.0.1", port)
            bob = await trapline.open_tcp_stream("127.0.0.1", port)
            assert (await alice.readline()).startswith(b"welcome")
            assert (await bob.readline()).startswith(b"welcome")
            await alice.send_all(b"hi bob\n")
            assert (await bob.readline()).endswith(b": hi bob\n")
            await bob.aclose()
            await alice.aclose()
        tg.cancel_scope.cancel()
