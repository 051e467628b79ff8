"""The two layers: the kernel (trapline/_core) and everything built on its public API."""

import ast
import pathlib

import trapline
import trapline._core
import trapline.lowlevel
from trapline._core._cancel import CancelScope
from trapline._core._task import Task

SRC = pathlib.Path(trapline.__file__).parent
CORE = SRC / "_core"

# Private kernel attributes that code outside the kernel must never touch.
KERNEL_PRIVATE_ATTRS = {
    name
    for cls in (Task, CancelScope)
    for name in cls.__slots__
    if name.startswith("_") and not name.startswith("__")
} - {"_name", "_state", "_parent", "_group"}  # names common enough to be used for other things


def _modules(root):
    return sorted(p for p in root.rglob("*.py"))


def _imports(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            yield node, node.module or "", node.level, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, 0, []


def _resolve(path, module, level):
    """Absolute dotted name of an import made in ``path``."""
    if level == 0:
        return module
    package = path.relative_to(SRC.parent).with_suffix("").parts[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join((*base, module)) if module else ".".join(base)


def test_outside_modules_use_only_the_public_kernel_api():
    public = set(trapline._core.__all__)
    problems = []
    for path in _modules(SRC):
        if CORE in path.parents:
            continue
        for node, module, level, names in _imports(path):
            target = _resolve(path, module, level)
            if not target.startswith("trapline._core"):
                continue
            where = f"{path.relative_to(SRC)}:{node.lineno}"
            if target != "trapline._core":
                problems.append(f"{where} imports the private module {target}")
            for name in names:
                if name not in public:
                    problems.append(f"{where} imports non-public kernel name {name}")
    assert problems == []


def test_outside_modules_do_not_touch_private_kernel_attributes():
    problems = []
    for path in _modules(SRC):
        if CORE in path.parents:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in KERNEL_PRIVATE_ATTRS
                and not (isinstance(node.value, ast.Name) and node.value.id == "self")
            ):
                problems.append(f"{path.relative_to(SRC)}:{node.lineno} uses .{node.attr}")
    assert problems == []


def test_kernel_imports_nothing_above_it():
    problems = []
    for path in _modules(CORE):
        for node, module, level, _names in _imports(path):
            target = _resolve(path, module, level)
            if target.startswith("trapline") and not target.startswith("trapline._core"):
                problems.append(f"{path.relative_to(SRC)}:{node.lineno} imports {target}")
    assert problems == []


def test_kernel_has_exactly_one_bare_yield():
    yields = []
    for path in _modules(SRC):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Yield):
                yields.append(path.relative_to(SRC).as_posix())
    # The trap helper, plus the run loop's own ``events = yield timeout`` (a generator, not an
    # awaitable), plus contextmanager-based helpers that yield scopes.
    assert yields.count("_core/_traps.py") == 1
    awaitable_yields = [p for p in yields if p not in ("_core/_traps.py",)]
    for path in set(awaitable_yields):
        text = (SRC / path).read_text()
        assert "@types.coroutine" not in text, f"{path} defines a second trap"


def test_public_names_exist_and_are_documented():
    for module in (trapline, trapline.lowlevel):
        for name in module.__all__:
            obj = getattr(module, name)
            if callable(obj):
                assert obj.__doc__, f"{module.__name__}.{name} has no docstring"


def test_layering_check_catches_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from trapline._core._run import current_runner\nx.task._cancel_pending\n")
    found = [(m, lvl) for _n, m, lvl, _ in _imports(bad)]
    assert found == [("trapline._core._run", 0)]
    attrs = [n.attr for n in ast.walk(ast.parse(bad.read_text())) if isinstance(n, ast.Attribute)]
    assert "_cancel_pending" in attrs and "_cancel_pending" in KERNEL_PRIVATE_ATTRS
