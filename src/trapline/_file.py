"""Files without blocking the loop: ``await trapline.open_file(path)`` and ``trapline.Path``.

Disk I/O has no readiness to wait for, so every blocking call runs in a worker thread
(``to_thread.run_sync``). ``AsyncFile`` wraps a regular file object; ``Path`` wraps
``pathlib.Path``, keeping its pure (non-I/O) operations synchronous and making the I/O ones
checkpoints.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import AsyncIterator, Callable, Iterable
from functools import partial
from typing import IO, Any, final

from ._core import CancelScope
from ._threads import run_sync

__all__ = ["AsyncFile", "Path", "open_file", "wrap_file"]


@final
class AsyncFile:
    """An open file whose I/O methods are checkpoints that run in a worker thread.

    ``async for line in f`` iterates lines; ``async with`` closes it. Cancellation: the
    operation in the thread completes (a read or write cannot be interrupted), then the task
    sees ``Cancelled`` at its next checkpoint.
    """

    __slots__ = ("_file",)

    def __init__(self, file: IO[Any]) -> None:
        self._file = file

    @property
    def wrapped(self) -> IO[Any]:
        """The underlying file object."""
        return self._file

    @property
    def name(self) -> Any:
        return self._file.name

    @property
    def mode(self) -> str:
        return self._file.mode

    @property
    def closed(self) -> bool:
        return self._file.closed

    def fileno(self) -> int:
        return self._file.fileno()

    def __repr__(self) -> str:
        return f"<trapline.AsyncFile {self._file!r}>"

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await run_sync(fn, *args)

    async def read(self, size: int = -1) -> Any:
        """Read up to ``size`` (all by default). Checkpoint: yes."""
        return await self._call(self._file.read, size)

    async def readline(self, size: int = -1) -> Any:
        """Read one line (at most ``size``). Checkpoint: yes."""
        return await self._call(self._file.readline, size)

    async def readlines(self, hint: int = -1) -> list[Any]:
        """Read all remaining lines. Checkpoint: yes."""
        result: list[Any] = await self._call(self._file.readlines, hint)
        return result

    async def readinto(self, buffer: Any) -> int:
        """Read into ``buffer``; returns the byte count. Checkpoint: yes."""
        result: int = await self._call(self._file.readinto, buffer)  # type: ignore[attr-defined]
        return result

    async def write(self, data: Any) -> int:
        """Write ``data``; returns what the file object's ``write`` returns. Checkpoint: yes."""
        result: int = await self._call(self._file.write, data)
        return result

    async def writelines(self, lines: Iterable[Any]) -> None:
        """Write each item of ``lines``. Checkpoint: yes."""
        await self._call(self._file.writelines, list(lines))

    async def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move the file position; returns the new one. Checkpoint: yes."""
        result: int = await self._call(self._file.seek, offset, whence)
        return result

    async def tell(self) -> int:
        """The file position. Checkpoint: yes."""
        result: int = await self._call(self._file.tell)
        return result

    async def truncate(self, size: int | None = None) -> int:
        """Resize the file to ``size`` (the position by default). Checkpoint: yes."""
        result: int = await self._call(self._file.truncate, size)
        return result

    async def flush(self) -> None:
        """Flush Python's buffer to the OS (not to disk: see ``fsync``). Checkpoint: yes."""
        await self._call(self._file.flush)

    async def fsync(self) -> None:
        """Flush and ``os.fsync`` the file: on disk when this returns. Checkpoint: yes."""

        def sync() -> None:
            self._file.flush()
            os.fsync(self._file.fileno())

        await self._call(sync)

    async def aclose(self) -> None:
        """Close the file (flushing it). Checkpoint: yes; completes even if cancelled."""
        with CancelScope(shield=True):
            await self._call(self._file.close)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[Any]:
        while line := await self.readline():
            yield line

    async def __aenter__(self) -> AsyncFile:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def wrap_file(file: IO[Any]) -> AsyncFile:
    """Wrap an already open file object."""
    return AsyncFile(file)


async def open_file(
    file: str | os.PathLike[str] | int,
    mode: str = "r",
    buffering: int = -1,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    closefd: bool = True,
) -> AsyncFile:
    """Open a file like the builtin ``open`` (in a worker thread) and return an ``AsyncFile``.
    Checkpoint: yes."""
    opened = await run_sync(
        partial(open, file, mode, buffering, encoding, errors, newline, closefd)
    )
    return AsyncFile(opened)


@final
class Path:
    """``pathlib.Path`` with its filesystem operations as checkpoints run in worker threads.

    Pure path operations (``/``, ``name``, ``parent``, ``suffix``, ``with_name``...) stay
    synchronous; ``exists()``, ``read_text()``, ``mkdir()``, ``iterdir()``... are awaited.
    They raise what ``pathlib`` raises (``OSError`` and its subclasses). Cancellation: the
    operation in the thread completes, then the task sees ``Cancelled`` at its next checkpoint.
    """

    __slots__ = ("_path",)

    def __init__(self, *parts: str | os.PathLike[str]) -> None:
        self._path = pathlib.Path(*parts)

    def __fspath__(self) -> str:
        return os.fspath(self._path)

    def __str__(self) -> str:
        return str(self._path)

    def __repr__(self) -> str:
        return f"trapline.Path({str(self._path)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Path):
            return self._path == other._path
        return self._path == other

    def __hash__(self) -> int:
        return hash(self._path)

    def __truediv__(self, other: str | os.PathLike[str]) -> Path:
        return Path(self._path / other)

    def __rtruediv__(self, other: str | os.PathLike[str]) -> Path:
        return Path(other / self._path)

    @property
    def name(self) -> str:
        return self._path.name

    @property
    def stem(self) -> str:
        return self._path.stem

    @property
    def suffix(self) -> str:
        return self._path.suffix

    @property
    def parent(self) -> Path:
        return Path(self._path.parent)

    @property
    def parts(self) -> tuple[str, ...]:
        return self._path.parts

    def joinpath(self, *others: str | os.PathLike[str]) -> Path:
        return Path(self._path.joinpath(*others))

    def with_name(self, name: str) -> Path:
        return Path(self._path.with_name(name))

    def with_suffix(self, suffix: str) -> Path:
        return Path(self._path.with_suffix(suffix))

    def is_absolute(self) -> bool:
        return self._path.is_absolute()

    def as_pathlib(self) -> pathlib.Path:
        """The plain ``pathlib.Path``."""
        return self._path

    # -- I/O, in threads -----------------------------------------------------------------------

    async def exists(self) -> bool:
        """Whether the path exists. Checkpoint: yes."""
        return await run_sync(self._path.exists)

    async def is_file(self) -> bool:
        """Whether the path is a regular file. Checkpoint: yes."""
        return await run_sync(self._path.is_file)

    async def is_dir(self) -> bool:
        """Whether the path is a directory. Checkpoint: yes."""
        return await run_sync(self._path.is_dir)

    async def stat(self) -> os.stat_result:
        """``os.stat`` of the path. Checkpoint: yes."""
        return await run_sync(self._path.stat)

    async def read_text(self, encoding: str | None = None, errors: str | None = None) -> str:
        """The file's contents as text. Checkpoint: yes."""
        return await run_sync(self._path.read_text, encoding, errors)

    async def read_bytes(self) -> bytes:
        """The file's contents as bytes. Checkpoint: yes."""
        return await run_sync(self._path.read_bytes)

    async def write_text(
        self, data: str, encoding: str | None = None, errors: str | None = None
    ) -> int:
        """Replace the file's contents with ``data``. Checkpoint: yes."""
        return await run_sync(self._path.write_text, data, encoding, errors)

    async def write_bytes(self, data: bytes) -> int:
        """Replace the file's contents with ``data``. Checkpoint: yes."""
        return await run_sync(self._path.write_bytes, data)

    async def mkdir(self, mode: int = 0o777, parents: bool = False, exist_ok: bool = False) -> None:
        """Create the directory. Checkpoint: yes."""
        await run_sync(self._path.mkdir, mode, parents, exist_ok)

    async def touch(self, mode: int = 0o666, exist_ok: bool = True) -> None:
        """Create the file or update its modification time. Checkpoint: yes."""
        await run_sync(self._path.touch, mode, exist_ok)

    async def unlink(self, missing_ok: bool = False) -> None:
        """Remove the file. Checkpoint: yes."""
        await run_sync(self._path.unlink, missing_ok)

    async def rmdir(self) -> None:
        """Remove the empty directory. Checkpoint: yes."""
        await run_sync(self._path.rmdir)

    async def rename(self, target: str | os.PathLike[str]) -> Path:
        """Rename to ``target``; returns the new path. Checkpoint: yes."""
        return Path(await run_sync(self._path.rename, os.fspath(target)))

    async def replace(self, target: str | os.PathLike[str]) -> Path:
        """Rename to ``target``, replacing any file there; returns the new path. Checkpoint: yes."""
        return Path(await run_sync(self._path.replace, os.fspath(target)))

    async def resolve(self) -> Path:
        """The absolute path with symlinks resolved. Checkpoint: yes."""
        return Path(await run_sync(self._path.resolve))

    async def iterdir(self) -> list[Path]:
        """The directory's entries (read in one go). Checkpoint: yes."""
        entries = await run_sync(lambda: list(self._path.iterdir()))
        return [Path(entry) for entry in entries]

    async def glob(self, pattern: str) -> list[Path]:
        """The paths matching ``pattern`` under this one (read in one go). Checkpoint: yes."""
        entries = await run_sync(lambda: list(self._path.glob(pattern)))
        return [Path(entry) for entry in entries]

    async def open(
        self,
        mode: str = "r",
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> AsyncFile:
        """Open the file like ``open_file``. Checkpoint: yes."""
        return await open_file(self._path, mode, buffering, encoding, errors, newline)
