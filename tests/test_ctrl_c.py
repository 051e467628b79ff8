"""Ctrl-C at a random moment: 40 runs of a small server, each interrupted with SIGINT."""

import json
import pathlib
import random
import signal
import subprocess
import sys
import time

PROGRAM = pathlib.Path(__file__).parent / "programs" / "ki_server.py"


def _run_once(delay: float) -> tuple[dict, str]:
    process = subprocess.Popen(
        [sys.executable, str(PROGRAM)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "ready"
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return json.loads(out.strip().splitlines()[-1]), err


def test_forty_random_interrupts_always_clean_up():
    rng = random.Random(20261125)
    for run in range(40):
        delay = rng.uniform(0.0, 0.3)
        report, err = _run_once(delay)
        assert report["outcome"] == "KeyboardInterrupt", (run, delay, report, err)
        assert report["cleanup"] == ["child", "client", "stopper"], (run, delay, report, err)
        assert report["fds_leaked"] == 0, (run, delay, report)
        assert report["children"] == "none", (run, delay, report)
        assert report["non_daemon_threads"] == [], (run, delay, report)
        assert "Traceback" not in err, (run, delay, err)
