"""Thread-backed files and paths."""

import pytest

import trapline


async def test_open_file_write_read_and_iterate_lines(tmp_path):
    path = tmp_path / "f.txt"
    async with await trapline.open_file(path, "w") as f:
        assert await f.write("one\ntwo\n") == 8
        await f.writelines(["three\n"])
        await f.fsync()
    async with await trapline.open_file(path) as f:
        assert [line async for line in f] == ["one\n", "two\n", "three\n"]
        assert await f.seek(0) == 0
        assert await f.read(3) == "one"
        assert await f.tell() == 3
    assert f.closed


async def test_path_methods(tmp_path):
    base = trapline.Path(tmp_path)
    sub = base / "dir" / "x"
    await sub.mkdir(parents=True)
    assert await sub.is_dir() and not await sub.is_file()
    target = sub / "data.bin"
    assert await target.write_bytes(b"\x00\x01") == 2
    assert await target.read_bytes() == b"\x00\x01"
    assert (await target.stat()).st_size == 2
    assert [p.name for p in await sub.iterdir()] == ["data.bin"]
    assert [p.name for p in await base.glob("dir/x/*.bin")] == ["data.bin"]
    moved = await target.rename(sub / "moved.bin")
    assert moved.name == "moved.bin" and not await target.exists()
    await moved.unlink()
    await sub.rmdir()
    assert target.parent == sub and target.suffix == ".bin"
    assert str(sub).endswith("dir/x")


async def test_open_file_errors_come_from_the_thread(tmp_path):
    with pytest.raises(FileNotFoundError):
        await trapline.open_file(tmp_path / "missing")
