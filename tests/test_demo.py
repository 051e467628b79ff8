"""``python -m trapline demo`` (the README's main command) runs and tells the tutorial's story."""

import subprocess
import sys


def run_demo(cwd):
    result = subprocess.run(
        [sys.executable, "-m", "trapline", "demo", "--virtual"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_demo_runs_on_the_virtual_clock(tmp_path):
    out = run_demo(tmp_path)
    assert "StopIteration: 16" in out
    assert "<trapline trap: sleep for 3 s; run me in trapline.run>" in out
    assert "StopIteration: 27" in out
    assert "step   8  t=6      two_cubes  finished, returned [125, 1000]" in out
    assert "gather(cube(3), cube(4), cube(5)) = [27, 64, 125]" in out
    assert "took 6.0 s, not 18" in out


def test_demo_serves_the_database_from_a_data_dir_under_the_current_directory(tmp_path):
    out = run_demo(tmp_path)
    assert "data in .trapline/kv (append-only file)" in out
    assert "await db.get('cow')  ->  'Moo!'" in out
    for animal in ("cow", "duck", "sheep", "cat"):
        assert f"{animal:<6} says" in out
    assert "await db.incr('demo:runs')  ->  1 " in out
    assert (tmp_path / ".trapline" / "kv" / "appendonly.aof").is_file()
    assert "-m trapline kv serve --dir .trapline/kv --appendonly yes" in out
    # A second run finds the first one's data on disk.
    assert "await db.incr('demo:runs')  ->  2 " in run_demo(tmp_path)
