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
    # redis-server's default save points, so SIGTERM saves (as Redis does).
    assert "RDB snapshots (save 3600 1 300 100 60 10000)" in log
    assert "trapline.kv stopped" in log
    assert "DB saved on disk" in log


def test_config_file(tmp_path):
    from trapline.kv._cli import config_from_args

    path = tmp_path / "kv.conf"
    path.write_text('# comment\nport 7777\nappendonly yes\nrequirepass "secret"\n')
    config = config_from_args([str(path), "--port", "7778"])
    assert config.get("port") == "7778"
    assert config.get("appendonly") == "yes"
    assert config.get("requirepass") == "secret"
    assert config.get("save") == "3600 1 300 100 60 10000"  # redis-server's default


def test_save_points_from_the_command_line_and_config_file(tmp_path):
    from trapline.kv._cli import config_from_args

    assert config_from_args(["--save", ""]).get("save") == ""
    assert config_from_args(["--save", "60 +10"]).get("save") == "60 10"
    path = tmp_path / "kv.conf"
    path.write_text("save 900 1\nsave 300 10\n")  # each line adds a save point, as redis.conf
    assert config_from_args([str(path)]).get("save") == "900 1 300 10"
    path.write_text('save 900 1\nsave ""\n')
    assert config_from_args([str(path)]).get("save") == ""
    with pytest.raises(SystemExit, match="save must be pairs of seconds and changes, not '60'"):
        config_from_args(["--save", "60"])


def test_a_data_directory_in_use_is_one_line_and_status_1(kv_process, tmp_path):
    port, process = kv_process
    done = _serve("--port", "0", "--dir", str(tmp_path), "--appendonly", "yes", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.endswith(
        f"ERROR trapline.kv could not start: data directory {tmp_path} is in use by another "
        f"trapline.kv server (pid {process.pid}); stop it or give this one another --dir\n"
    )
    assert "Traceback" not in done.stderr


def _serve(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trapline", "kv", "serve", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=cwd,
        check=False,
    )


def test_a_taken_port_is_one_line_and_status_1(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _serve("--port", str(port), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.endswith(
        f"ERROR trapline.kv could not serve on 127.0.0.1:{port}: "
        "[Errno 98] Address already in use\n"
    )
    assert "Traceback" not in done.stderr


def test_wrong_numbers_are_refused_before_starting(tmp_path):
    (tmp_path / "kv.conf").write_text("port six\n")
    done = _serve("kv.conf", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        1,
        "trapline kv serve: port must be a whole number, not 'six'\n",
    )
    # bind() would take 99999 as 34463: a typo must not serve on another port.
    done = _serve("--port", "99999", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        1,
        "trapline kv serve: port must be from 0 to 65535, not 99999\n",
    )


def test_unknown_config_names_are_logged_and_ignored(tmp_path, caplog):
    from trapline.kv._cli import config_from_args

    path = tmp_path / "kv.conf"
    path.write_text("daemonize no\nport 7777\n")
    config = config_from_args([str(path)])
    assert config.get("port") == "7777"
    assert [record.getMessage() for record in caplog.records] == [
        f"{path}:1: 'daemonize' is not a trapline.kv setting; ignored"
    ]


@pytest.mark.parametrize(
    ("settings", "saved"),
    [("", True), ("shutdown-on-sigterm nosave\n", False), ('save ""\n', False)]
    + [('save ""\nshutdown-on-sigterm save\n', True)],
)
def test_sigterm_saves_as_shutdown_on_sigterm_says(tmp_path, settings, saved):
    (tmp_path / "kv.conf").write_text(settings)
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "trapline", "kv", "serve", "kv.conf", "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        _wait_for_port(port, process)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"SET k v\r\n")
            assert sock.recv(100) == b"+OK\r\n"
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        process.stderr.close()
    assert (tmp_path / "dump.rdb").exists() == saved
