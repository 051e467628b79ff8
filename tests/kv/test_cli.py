"""``trapline kv serve`` as a process: start line, redis-cli, clean stop on SIGTERM."""

import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.stderr.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("server did not start")


@pytest.fixture
def kv_process(tmp_path):
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trapline",
            "kv",
            "serve",
            "--port",
            str(port),
            "--dir",
            str(tmp_path),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_port(port, process)
        yield port, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        process.stderr.close()


def test_start_line_redis_cli_and_sigterm(kv_process):
    port, process = kv_process
    if shutil.which("redis-cli"):
        out = subprocess.run(
            ["redis-cli", "-p", str(port), "PING"], capture_output=True, text=True, timeout=10
        )
        assert out.stdout.strip() == "PONG"
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0
    log = process.stderr.read()
    assert f"trapline.kv ready on ('127.0.0.1', {port})" in log
    assert "in memory only" in log
    assert "trapline.kv stopped" in log


def test_config_file(tmp_path):
    from trapline.kv._cli import config_from_args

    path = tmp_path / "kv.conf"
    path.write_text('# comment\nport 7777\nappendonly yes\nrequirepass "secret"\n')
    config = config_from_args([str(path), "--port", "7778"])
    assert config.get("port") == "7778"
    assert config.get("appendonly") == "yes"
    assert config.get("requirepass") == "secret"
