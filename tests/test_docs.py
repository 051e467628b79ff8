"""Every code block in the documentation (docs/**/*.md) and the README runs, so examples cannot rot.

One test per Markdown file. Its fenced blocks run top to bottom in one namespace (``__name__`` is
``"__main__"``), like a reader pasting them into one script or one interactive session:

* ```` ```python ```` blocks are executed;
* ```` ```pycon ```` blocks are interactive sessions (``>>>`` and ``...`` lines): each statement
  runs as the REPL would run it (an expression's value is printed with its ``repr``) and what it
  prints, including a final ``Traceback ... / Error: message``, must match the lines below it;
* other languages (``sh``, ``text``, ...) are not run unless a directive says so.

A directive is an HTML comment on the line just before a fence (invisible on the site):

``<!-- test: output -->``
    before a ``text`` block: it is exactly what the previous executed ``python`` block printed.
``<!-- test: program -->``
    before a ``python`` block: a complete program, run on its own in a fresh namespace as
    ``__main__`` and checked to be under 100 lines (the "build your own kernel" ladder).
``<!-- test: fragment -->``
    only compiled (top-level ``await`` allowed): a signature, or a piece of a larger program.
``<!-- test: excerpt src/trapline/_core/_run.py -->``
    a quotation of trapline's source: every line of it (after stripping, ``...`` lines and blank
    lines excepted) must occur in that file in the same order, so quoted kernel code cannot drift.
``<!-- test: skip -->``
    not run at all (say why in the text; prefer ``fragment``).

In expected output, ``...`` matches anything (``<coroutine object square at 0x...>``), trailing
spaces are ignored, and a traceback's stack lines may be left out or written as ``...``.

A page-level ``<!-- test: allow-warning coroutine 'square' was never awaited -->`` lets the
page's code emit warnings whose message contains that text (any other warning fails the page).

A page-level ``<!-- test: requires redis-server -->`` skips the whole page when that program is
not on ``PATH`` (a page that compares trapline.kv with a real Redis; ``.ci/run`` installs it).

A page containing the line ``<!-- test: virtual-time -->`` runs with time virtualised: its
``time.sleep``, ``time.monotonic`` and ``time.perf_counter`` are a fake clock that sleeping moves
forward, and ``trapline.run`` without a ``clock=`` uses ``trapline.testing.VirtualClock()``. The
code is unchanged and prints the same times; the suite just does not wait 18 seconds for
``cube(1)``, ``cube(2)``, ``cube(3)``.

Files this suite does not own the conventions of are listed in ``FILE_MODES``.

``python tests/test_docs.py docs/tutorial/traps.md`` prints what each block of a page prints,
which is how the expected outputs were written.
"""

from __future__ import annotations

import ast
import contextlib
import doctest
import functools
import gc
import io
import pathlib
import re
import shutil
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# Pages written without this suite's directives, whose blocks are fragments that need a network
# or a larger program around them: compiled, not run (their authors may mark blocks one by one
# and drop the entry). README.md's example sleeps 8 s of real time.
FILE_MODES: dict[str, dict[str, str]] = {
    "docs/design.md": {"default": "fragment"},
    "docs/networking.md": {"default": "fragment"},
    "docs/threads-processes-signals.md": {"default": "fragment"},
    "docs/asyncio.md": {"default": "fragment"},
    "README.md": {"virtual-time": "yes"},
}

PROGRAM_MAX_LINES = 100

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)(?P<rest>.*)$")
_PAGE_DIRECTIVES = ("virtual-time", "allow-warning", "requires")
_DIRECTIVE = re.compile(r"^\s*<!--\s*test:\s*(?P<what>[\w-]+)\s*(?P<arg>[^>]*?)\s*-->\s*$")


@dataclass
class Block:
    path: str
    line: int  # 1-based line of the first code line
    lang: str
    code: str
    directive: str = ""
    arg: str = ""


@dataclass
class Page:
    path: str
    blocks: list[Block] = field(default_factory=list)
    virtual_time: bool = False
    allowed_warnings: list[str] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)


def parse(path: pathlib.Path) -> Page:
    rel = path.relative_to(ROOT).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    modes = FILE_MODES.get(rel, {})
    page = Page(rel, virtual_time=modes.get("virtual-time") == "yes")
    default = modes.get("default", "")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == "<!-- test: virtual-time -->":
            page.virtual_time = True
        if (d := _DIRECTIVE.match(line)) and d["what"] == "allow-warning":
            page.allowed_warnings.append(d["arg"])
        if d and d["what"] == "requires":
            page.requires.append(d["arg"])
        match = _FENCE.match(line)
        if not match:
            i += 1
            continue
        indent, fence, lang = match["indent"], match["fence"], match["lang"].lower()
        directive = arg = ""
        j = i - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        d = _DIRECTIVE.match(lines[j]) if j >= 0 else None
        if d and d["what"] not in _PAGE_DIRECTIVES:
            directive, arg = d["what"], d["arg"]
        body: list[str] = []
        i += 1
        start = i + 1
        while i < len(lines) and lines[i].strip() != fence:
            text = lines[i]
            body.append(text[len(indent) :] if text.startswith(indent) else text.lstrip())
            i += 1
        i += 1  # the closing fence
        if not directive and lang in ("python", "py") and default:
            directive = default
        page.blocks.append(Block(rel, start, lang, "\n".join(body) + "\n", directive, arg))
    return page


def doc_files() -> list[pathlib.Path]:
    files = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
    return [f for f in files if f.exists()]


# -- running ---------------------------------------------------------------------------------------


class DocsError(AssertionError):
    pass


def _where(block: Block) -> str:
    return f"{block.path}:{block.line}"


def _compile(block: Block, mode: str = "exec", flags: int = 0) -> object:
    # Pad with newlines so tracebacks and syntax errors name the Markdown file's own line numbers.
    source = "\n" * (block.line - 1) + block.code
    return compile(source, block.path, mode, flags=flags, dont_inherit=True)


_TRACEBACK_HEADER = "Traceback (most recent call last):"


def _normalise(text: str) -> str:
    """Trailing spaces and blank lines off; a traceback's stack lines dropped."""
    out: list[str] = []
    in_traceback = False
    for line in text.rstrip().splitlines():
        line = line.rstrip()
        if line == _TRACEBACK_HEADER:
            in_traceback = True
            out.append(line)
            continue
        if in_traceback:
            if line.startswith((" ", "\t")) or line.strip() == "...":
                continue
            in_traceback = False
        out.append(line)
    return "\n".join(out) + "\n"


def _matches(want: str, got: str) -> bool:
    checker = doctest.OutputChecker()
    return checker.check_output(_normalise(want), _normalise(got), doctest.ELLIPSIS)


def _mismatch(block: Block, what: str, want: str, got: str) -> DocsError:
    return DocsError(
        f"{_where(block)}: {what} differs\n--- expected\n{_normalise(want)}--- got\n"
        f"{_normalise(got)}"
    )


def _exec(block: Block, namespace: dict[str, object]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            exec(_compile(block), namespace)
        except BaseException as error:
            printed = out.getvalue()
            raise DocsError(
                f"{_where(block)}: the block raised {type(error).__name__}: {error}\n"
                f"it printed:\n{printed}\n{''.join(traceback.format_exception(error))}"
            ) from error
    return out.getvalue()


def _pycon_examples(block: Block) -> list[tuple[int, str, str]]:
    """(line, source, expected output) for each ``>>>`` statement of a pycon block."""
    examples: list[tuple[int, str, str]] = []
    lines = block.code.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith(">>>"):
            if line.strip():
                raise DocsError(f"{block.path}:{block.line + i}: pycon output before any '>>>'")
            i += 1
            continue
        first = block.line + i
        source = [line[4:]]
        i += 1
        while i < len(lines) and (lines[i].startswith("... ") or lines[i] == "..."):
            source.append(lines[i][4:])
            i += 1
        want: list[str] = []
        while i < len(lines) and not lines[i].startswith(">>>"):
            want.append(lines[i])
            i += 1
        examples.append((first, "\n".join(source) + "\n", "\n".join(want)))
    return examples


def _displayhook(namespace: dict[str, object], value: object) -> None:
    """The REPL's: print the repr of an expression's value, keep it as ``_`` (in the page)."""
    if value is not None:
        namespace["_"] = value
        print(repr(value))


def _run_pycon(block: Block, namespace: dict[str, object]) -> None:
    for line, source, want in _pycon_examples(block):
        statement = Block(block.path, line, "python", source)
        code = _compile(statement, "single")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            saved_hook = sys.displayhook
            sys.displayhook = functools.partial(_displayhook, namespace)
            try:
                exec(code, namespace)
            except BaseException as error:
                print(_TRACEBACK_HEADER)
                print("".join(traceback.format_exception_only(error)), end="")
                del error
            finally:
                sys.displayhook = saved_hook
        got = out.getvalue()
        if not _matches(want, got):
            raise _mismatch(statement, f"the output of >>> {source.strip()!r}", want, got)


def _check_excerpt(block: Block) -> None:
    source_path = ROOT / block.arg
    if not source_path.is_file():
        raise DocsError(f"{_where(block)}: excerpt of {block.arg}, which does not exist")
    source = [line.strip() for line in source_path.read_text(encoding="utf-8").splitlines()]
    position = 0
    for offset, line in enumerate(block.code.splitlines()):
        wanted = line.strip()
        if not wanted or wanted in ("...", "# ..."):
            continue
        try:
            position = source.index(wanted, position) + 1
        except ValueError:
            raise DocsError(
                f"{block.path}:{block.line + offset}: this line of the excerpt is not in "
                f"{block.arg} (after the previous excerpt line): {wanted!r}"
            ) from None


class _FakeTime:
    """time.sleep / monotonic / perf_counter for a virtual-time page: sleeping moves the clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


@contextlib.contextmanager
def _virtual_time(enabled: bool):
    if not enabled:
        yield
        return
    import trapline
    from trapline.testing import VirtualClock

    fake = _FakeTime()
    real_run = trapline.run

    def run(*args, **kwargs):
        if kwargs.get("clock") is None:
            kwargs["clock"] = VirtualClock()
        return real_run(*args, **kwargs)

    saved = (time.sleep, time.monotonic, time.perf_counter)
    time.sleep, time.monotonic, time.perf_counter = fake.sleep, fake.monotonic, fake.monotonic
    trapline.run = run
    try:
        yield
    finally:
        time.sleep, time.monotonic, time.perf_counter = saved
        trapline.run = real_run


def run_page(page: Page, *, show: bool = False) -> int:
    """Run every block of ``page``; return how many blocks were executed or checked."""
    namespace: dict[str, object] = {"__name__": "__main__"}
    last_output: tuple[Block, str] | None = None
    checked = 0
    with _virtual_time(page.virtual_time):
        for block in page.blocks:
            kind = block.directive
            if kind == "skip":
                continue
            if kind == "output":
                if last_output is None:
                    raise DocsError(f"{_where(block)}: an output block with no python block before")
                source_block, printed = last_output
                if not _matches(block.code, printed):
                    raise _mismatch(source_block, "what the block printed", block.code, printed)
                checked += 1
                continue
            if block.lang not in ("python", "py", "pycon"):
                if kind:
                    raise DocsError(f"{_where(block)}: directive {kind!r} on a {block.lang} block")
                continue
            checked += 1
            if kind == "excerpt":
                _check_excerpt(block)
            elif kind == "fragment":
                _compile(block, flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            elif kind == "program":
                length = len(block.code.rstrip().splitlines())
                if length >= PROGRAM_MAX_LINES:
                    raise DocsError(f"{_where(block)}: a program of {length} lines (keep it < 100)")
                printed = _exec(block, {"__name__": "__main__"})
                last_output = (block, printed)
            elif kind:
                raise DocsError(f"{_where(block)}: unknown directive {kind!r}")
            elif block.lang == "pycon":
                _run_pycon(block, namespace)
            else:
                printed = _exec(block, namespace)
                last_output = (block, printed)
            if show and last_output is not None and last_output[0] is block:
                print(f"--- {_where(block)}\n{last_output[1]}", end="")
    return checked


# -- the tests -------------------------------------------------------------------------------------


PAGES = [parse(path) for path in doc_files()]


@pytest.mark.parametrize("page", PAGES, ids=[page.path for page in PAGES])
def test_code_blocks_run(page: Page) -> None:
    missing = [program for program in page.requires if shutil.which(program) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (.ci/run installs it)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gc.collect()  # what an earlier failure left behind is not this page's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_page(page)
        gc.collect()
    problems = [
        f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}"
        for w in caught
        if not any(allowed in str(w.message) for allowed in page.allowed_warnings)
    ]
    assert not problems, "the page's code warned:\n" + "\n".join(problems)


def test_there_is_something_to_run() -> None:
    runnable = [b for page in PAGES for b in page.blocks if b.lang in ("python", "py", "pycon")]
    assert len(runnable) > 50


def test_directives_are_spelled_right() -> None:
    known = {"output", "program", "fragment", "excerpt", "skip", "virtual-time", "allow-warning"}
    known.add("requires")
    for path in doc_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "<!-- test:" in line:
                match = _DIRECTIVE.match(line)
                assert match and match["what"] in known, f"{path}:{number}: {line.strip()}"


if __name__ == "__main__":
    for name in sys.argv[1:]:
        count = run_page(parse((pathlib.Path.cwd() / name).resolve()), show=True)
        print(f"=== {name}: {count} blocks")


REFERENCE_MODULES = [
    "trapline",
    "trapline.lowlevel",
    "trapline.testing",
    "trapline.to_thread",
    "trapline.from_thread",
    "trapline.tracing",
    "trapline.monitor",
    "trapline.kv",
    "trapline.aio",
    "trapline.socket",
]


def test_reference_covers_every_public_name() -> None:
    """docs/reference/ renders each module whole (``::: trapline.kv``) or each of its public
    names (``::: trapline.sleep``): a name added to an ``__all__`` cannot be left out."""
    import importlib

    directives = set()
    for path in (DOCS / "reference").glob("*.md"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("::: "):
                directives.add(line[4:].strip())
    missing = []
    for name in REFERENCE_MODULES:
        module = importlib.import_module(name)
        if name in directives and name != "trapline":
            continue
        missing += [
            f"{name}.{member}" for member in module.__all__ if f"{name}.{member}" not in directives
        ]
    assert not missing, f"add these to docs/reference/ (a '::: name' line each): {missing}"


def _charts_module():
    import importlib.util

    path = ROOT / "scripts" / "benchmark_charts.py"
    spec = importlib.util.spec_from_file_location("benchmark_charts", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["benchmark_charts"] = module
    spec.loader.exec_module(module)
    return module


def test_benchmark_charts_come_from_the_tables() -> None:
    """The site's benchmark charts are drawn at build time from docs/benchmarks.md's ratio
    tables (scripts/mkdocs_hooks.py); each section with ratios gets one, placed after its
    last table."""
    charts_module = _charts_module()
    markdown = (DOCS / "benchmarks.md").read_text(encoding="utf-8")
    charts, sections = charts_module.parse(markdown)
    titles = [chart.title for chart in charts]
    assert "1. Switch rate" in titles, titles
    lines = markdown.splitlines()
    for chart, section in zip(charts, sections, strict=True):
        assert all(points for points in chart.series.values())
        assert lines[section.last_table_line].startswith("|")
    switch = charts[titles.index("1. Switch rate")]
    ratios = {(group, label): value for group, label, value in switch.series["ratio"]}
    assert ratios[("N = 100", "asyncio")] == 1.0
    pytest.importorskip("matplotlib")
    assert charts_module.render(switch).startswith(b"\x89PNG")
