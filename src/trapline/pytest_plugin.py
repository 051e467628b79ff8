"""pytest plugin (registered through the ``pytest11`` entry point): ``async def`` tests.

Every ``async def test_*`` runs under ``trapline.run``. A test that asks for the ``virtual_clock``
fixture, or is marked ``@pytest.mark.trapline(virtual_clock=True)``, or runs in a session with the
ini option ``trapline_virtual_clock = true``, runs on a ``VirtualClock(autojump=True)``, so its
sleeps take no wall time and ``trapline.current_time()`` is exact.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import pytest

import trapline
from trapline.testing import VirtualClock


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "trapline_virtual_clock",
        "run every async test on trapline's virtual clock (autojump)",
        type="bool",
        default=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "trapline(virtual_clock=False): options for running this async test under trapline.run",
    )


@pytest.fixture
def virtual_clock() -> VirtualClock:
    """A ``VirtualClock(autojump=True)``; an async test that asks for it runs on it."""
    return VirtualClock(autojump=True)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    fn = pyfuncitem.obj
    if not inspect.iscoroutinefunction(fn):
        return None
    funcargs = pyfuncitem.funcargs
    kwargs = {name: funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    clock: Any = kwargs.get("virtual_clock")
    if clock is None:
        marker = pyfuncitem.get_closest_marker("trapline")
        wanted = pyfuncitem.config.getini("trapline_virtual_clock")
        if marker is not None:
            wanted = marker.kwargs.get("virtual_clock", wanted)
        if wanted:
            clock = VirtualClock(autojump=True)
    trapline.run(functools.partial(fn, **kwargs), clock=clock)
    return True
