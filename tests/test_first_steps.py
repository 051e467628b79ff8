"""What a newcomer meets first: names the README uses work after a bare ``import trapline``, and
the command-line tools answer mistakes with one readable line instead of a traceback."""

import subprocess
import sys
import textwrap
import types

import pytest

import trapline
import trapline.kv


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    # A fresh interpreter: in this one every submodule is imported already.
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_submodules_are_attributes_after_a_bare_import():
    done = run_python(
        """
        import sys
        import trapline

        lazy = ["aio", "from_thread", "kv", "socket", "testing", "to_thread", "tracing"]
        print([f"trapline.{name}" in sys.modules for name in lazy], "asyncio" in sys.modules)
        clock = trapline.testing.VirtualClock()
        print(trapline.run(trapline.to_thread.run_sync, len, "abc", clock=clock))
        print(trapline.kv.connect.__module__, trapline.aio.run_asyncio.__name__)
        try:
            trapline.no_such_name
        except AttributeError as error:
            print(error)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "[False, False, False, False, False, False, False] False",
        "3",
        "trapline.kv._client run_asyncio",
        "module 'trapline' has no attribute 'no_such_name'",
    ]


def test_trace_of_a_missing_script_or_module_says_so_and_writes_nothing(
    tmp_path, monkeypatch, capsys
):
    from trapline.__main__ import main as cli

    monkeypatch.chdir(tmp_path)
    assert cli(["trace", "nosuch.py"]) == 2
    assert cli(["trace", "-o", "t.html", "-m", "nosuch.module"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "trapline trace: can't open file 'nosuch.py': no such file",
        "trapline trace: no module named 'nosuch.module'",
    ]
    assert list(tmp_path.iterdir()) == []


async def test_result_of_an_unfinished_task_says_how_to_wait_for_it():
    async def cube(x):
        await trapline.sleep(1)
        return x**3

    async with trapline.TaskGroup() as tg:
        task = tg.spawn(cube, 3)
        with pytest.raises(RuntimeError) as caught:
            task.result()
        assert str(caught.value) == (
            "task 'cube-1' has not finished yet (`await task` waits for it; after its task "
            "group's `async with` block every task has finished)"
        )
        assert await task == 27


def test_tracebacks_name_public_exceptions_as_users_import_them():
    import traceback

    public = [
        name
        for name in trapline.__all__
        if isinstance(getattr(trapline, name), type)
        and issubclass(getattr(trapline, name), BaseException)
    ]
    assert [getattr(trapline, name).__module__ for name in public] == ["trapline"] * len(public)
    assert len(public) == 11
    assert {trapline.kv.ResponseError.__module__, trapline.kv.WatchError.__module__} == {
        "trapline.kv"
    }
    with pytest.raises(trapline.DeadlockError) as caught:
        trapline.run(trapline.Event().wait)
    assert traceback.format_exception_only(caught.value)[0].startswith(
        "trapline.DeadlockError: every task is waiting and nothing can ever wake any of them:\n"
    )


def test_asyncio_used_without_trapline_aio_says_what_to_do():
    import asyncio

    async def main():
        await asyncio.sleep(1)

    with pytest.raises(RuntimeError) as caught:
        trapline.run(main)
    assert str(caught.value) == "no running event loop"
    assert caught.value.__notes__ == [
        "asyncio code does not run directly inside trapline.run(): await it through "
        "trapline.aio.run_asyncio(coro) (see docs/asyncio.md), or use trapline's own "
        "equivalent (trapline.sleep for asyncio.sleep)"
    ]

    async def gathered():  # the error leaves two tasks: still one note
        await trapline.gather(main())

    with pytest.raises(RuntimeError) as caught:
        trapline.run(gathered)
    assert len(caught.value.__notes__) == 1

    @types.coroutine
    def foreign_trap():  # what an asyncio Future's __await__ does: yield itself to its loop
        yield "a foreign loop's message"

    async def awaits_a_future():
        await foreign_trap()

    with pytest.raises(RuntimeError, match=r"through trapline\.aio\.run_asyncio\(coro\)\)$"):
        trapline.run(awaits_a_future)


def test_help_is_plain_text(capsys):
    from trapline.__main__ import main as cli

    with pytest.raises(SystemExit):
        cli(["--help"])
    out = capsys.readouterr().out
    assert "python -m trapline (also the trapline command): demos and tools." in out
    assert "``" not in out


async def test_async_with_a_timeout_says_to_use_plain_with(virtual_clock):
    for make in (lambda: trapline.fail_after(1), lambda: trapline.fail_at(5)):
        with pytest.raises(TypeError, match=r"plain 'with'"):
            async with make():
                pass  # pragma: no cover
    # ... and the plain 'with' works, raising TimeoutError from where the block was waiting.
    with pytest.raises(TimeoutError, match="timed out after 1 s") as caught:
        with trapline.fail_after(1) as scope:
            assert isinstance(scope, trapline.CancelScope)
            await trapline.sleep(10)
    assert isinstance(caught.value.__cause__, trapline.Cancelled)
    assert trapline.current_time() == 1.0


def test_a_forgotten_await_on_a_kv_command_names_the_command():
    db = trapline.kv.connect("redis://127.0.0.1:6379")  # nothing connects until a command runs
    for coro, name in ((db.get("cow"), "KV.get"), (db.set("cow", "Moo!"), "KV.set")):
        try:
            assert repr(coro).startswith(f"<coroutine object {name} at ")
        finally:
            coro.close()


def test_kv_without_a_subcommand_says_what_to_type(capsys):
    from trapline.__main__ import main as cli

    assert cli(["kv"]) == 2
    assert "trapline kv serve --help" in capsys.readouterr().err
