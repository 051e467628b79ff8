"""pytest plugin (registered through the ``pytest11`` entry point): ``async def`` tests.

Every ``async def test_*`` runs under ``trapline.run``. A test that asks for the ``virtual_clock``
fixture, or is marked ``@pytest.mark.trapline(virtual_clock=True)``, or runs in a session with the
ini option ``trapline_virtual_clock = true``, runs on a ``VirtualClock(autojump=True)``, so its
sleeps take no wall time and ``trapline.current_time()`` is exact.

``@pytest.mark.trapline_explore(runs=200, seed=None)`` runs an async test under
``trapline.testing.explore``: ``runs`` runs, each under another seeded schedule on a fresh virtual
clock; a failing run fails the test with its seed. ``@pytest.mark.trapline_explore(replay=SEED)``
runs that one schedule again, printing each step (pytest shows them with the failure).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import pytest

import trapline
from trapline.lowlevel import current_clock
from trapline.testing import ExplorationFailure, VirtualClock, explore, replay


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
    config.addinivalue_line(
        "markers",
        "trapline_explore(runs=200, seed=None, extra_checkpoints=0.5, replay=None): run this "
        "async test under many seeded schedules (trapline.testing.explore), or replay=SEED one",
    )


@pytest.fixture
def virtual_clock() -> VirtualClock:
    """A ``VirtualClock(autojump=True)``; an async test that asks for it runs on it."""
    return VirtualClock(autojump=True)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    fn = pyfuncitem.obj
    explore_marker = pyfuncitem.get_closest_marker("trapline_explore")
    if not inspect.iscoroutinefunction(fn):
        if explore_marker is not None:
            raise TypeError("@pytest.mark.trapline_explore is for async def tests")
        return None
    funcargs = pyfuncitem.funcargs
    kwargs = {name: funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    if explore_marker is not None:
        __tracebackhide__ = True
        _explore(fn, kwargs, explore_marker)
        return True
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


def _explore(fn: Any, kwargs: dict[str, Any], marker: pytest.Mark) -> None:
    """Run the test under ``explore`` (or ``replay``): each run has a virtual clock of its own,
    which a ``virtual_clock`` argument is swapped for. Other fixtures are shared by all runs."""
    __tracebackhide__ = True
    if marker.args:
        raise TypeError("@pytest.mark.trapline_explore takes keyword arguments only")
    options = dict(marker.kwargs)
    seed = options.pop("replay", None)

    @functools.wraps(fn)
    async def test() -> Any:
        if "virtual_clock" in kwargs:
            return await fn(**{**kwargs, "virtual_clock": current_clock()})
        return await fn(**kwargs)

    if seed is not None:
        options.pop("runs", None)
        options.pop("seed", None)
        print(f"replaying the schedule of seed {seed}:")
        replay(test, seed, on_step=print, **options)
        return
    try:
        explore(test, **options)
    except ExplorationFailure as failure:
        failure.add_note(
            f"Under pytest: @pytest.mark.trapline_explore(replay={failure.seed}) replays it and "
            "prints its steps."
        )
        raise
