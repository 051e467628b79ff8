"""The seed tutorial's examples, as tests."""

import trapline
from trapline.testing import VirtualClock

log: list[str] = []


async def square(x: int) -> int:
    log.append(f"start square {x}")
    await trapline.sleep(3)
    log.append(f"finish square {x}")
    return x * x


async def cube(x: int) -> int:
    log.append(f"start cube {x}")
    await trapline.sleep(3)
    y = await square(x)
    log.append(f"finish cube {x}")
    return x * y


async def test_gather_three_cubes_takes_six_virtual_seconds(virtual_clock):
    start = trapline.current_time()
    results = await trapline.gather(cube(3), cube(4), cube(5))
    assert results == [27, 64, 125]
    assert trapline.current_time() - start == 6.0


def test_run_accepts_a_coroutine_object_and_returns_its_value():
    assert trapline.run(cube(3), clock=VirtualClock()) == 27


def test_sequential_cubes_take_eighteen_virtual_seconds():
    async def main():
        return [await cube(x) for x in (3, 4, 5)], trapline.current_time()

    assert trapline.run(main, clock=VirtualClock()) == ([27, 64, 125], 18.0)


def test_gather_interleaves_in_argument_order():
    log.clear()
    trapline.run(trapline.gather, cube(1), cube(2), clock=VirtualClock())
    assert log == [
        "start cube 1",
        "start cube 2",
        "start square 1",
        "start square 2",
        "finish square 1",
        "finish cube 1",
        "finish square 2",
        "finish cube 2",
    ]
