"""Chrome traces, the timeline page, ``trapline trace``, default instruments, slow-step reports."""

import html.parser
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

import trapline
from trapline.__main__ import main as cli
from trapline.lowlevel import (
    Instrument,
    add_default_instrument,
    default_instruments,
    remove_default_instrument,
    wait_readable,
)
from trapline.testing import VirtualClock
from trapline.tracing import ChromeTrace, SlowStepDetector, wait_kind


def tracks(events):
    """{(pid, tid): track name}"""
    return {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e["name"] == "thread_name"}


def on(events, name):
    """The events on the track called ``name``."""
    where = {key for key, value in tracks(events).items() if value == name}
    assert len(where) == 1, (name, where)
    return [e for e in events if e["ph"] != "M" and (e["pid"], e["tid"]) in where]


def flows(events, cat):
    """[(start event, finish event)] of the flow arrows of category ``cat``."""
    starts = {e["id"]: e for e in events if e["ph"] == "s" and e["cat"] == cat}
    ends = {e["id"]: e for e in events if e["ph"] == "f" and e["cat"] == cat}
    assert starts.keys() == ends.keys()
    return [(starts[i], ends[i]) for i in sorted(starts)]


def test_chrome_trace_has_a_track_per_task_with_steps_waits_and_spawns(tmp_path):
    path = tmp_path / "trace.json"
    lock = trapline.Lock()

    async def worker(n):
        async with lock:
            await trapline.sleep(0.01 * n)

    async def main():
        async with trapline.TaskGroup() as tg:
            tg.spawn(worker, 1, name="w1")
            tg.spawn(worker, 2, name="w2")

    trapline.run(main, instruments=[ChromeTrace(path)])
    events = json.loads(path.read_text())["traceEvents"]
    names = {e["args"]["name"] for e in events if e["ph"] == "M"}
    assert {"main", "w1", "w2", "kernel: I/O waits", "kernel: timers, cancels"} <= names
    waits = [e["name"] for e in events if e.get("cat") == "wait"]
    assert "wait: sleep until" in " ".join(waits)
    assert any(name.startswith("wait: Lock held by w1") for name in waits)
    spawns = flows(events, "spawn")  # main spawned w1 and w2
    names = tracks(events)
    assert [(names[s["pid"], s["tid"]], names[f["pid"], f["tid"]]) for s, f in spawns] == [
        ("main", "w1"),
        ("main", "w2"),
    ]
    assert all(e["dur"] >= 0 for e in events if e["ph"] == "X")


def test_slow_step_is_reported_with_the_stack_where_it_was_stuck():
    detector = SlowStepDetector(threshold=0.05, report=lambda *args: None)

    def crunch():
        time.sleep(0.3)  # stands in for CPU-bound work that never checkpoints

    async def busy():
        crunch()

    async def main():
        async with trapline.TaskGroup() as tg:
            tg.spawn(busy)
            tg.spawn(trapline.sleep, 0.01)

    trapline.run(main, instruments=[detector])
    assert len(detector.reports) == 1
    name, seconds, stack = detector.reports[0]
    assert name == "busy-1" and seconds > 0.05
    assert "in crunch" in stack


def trace_instruments():
    return [i for i in default_instruments() if isinstance(i, ChromeTrace)]


def traced(main, **kwargs):
    trace = ChromeTrace()
    trapline.run(main, instruments=[trace], **kwargs)
    return trace.events


def test_waits_are_labelled_with_their_reason_and_kind():
    a, b = socket.socketpair()
    a.setblocking(False)

    async def reader():
        await wait_readable(a)  # a socket read
        assert a.recv(10) == b"x"

    async def writer(lock, queue):
        async with lock:
            await trapline.sleep(0.01)
        await queue.put(1)
        b.send(b"x")

    async def locker(lock):
        async with lock:
            pass

    async def main():
        lock, queue = trapline.Lock(), trapline.Queue(1)
        async with trapline.TaskGroup() as tg:
            tg.spawn(reader, name="reader")
            tg.spawn(writer, lock, queue, name="writer")
            tg.spawn(locker, lock, name="locker")
            await queue.get()

    with a, b:
        events = traced(main)
    waits = {
        (e["args"]["kind"], re.sub(r"\d+(\.\d+)?", "N", e["args"]["reason"]))
        for e in events
        if e.get("cat") == "wait"
    }
    assert waits == {
        ("io", "fd N readable"),
        ("sleep", "sleep until t=N"),
        ("lock", "Lock held by writer"),
        ("queue", "Queue.get"),
        ("task", "task group: N tasks"),
    }
    assert all(
        e["name"] == f"wait: {e['args']['reason']}" for e in events if e.get("cat") == "wait"
    )


def test_wait_kinds():
    assert [
        wait_kind(reason)
        for reason in (
            "sleep until t=3",
            "sleep_forever",
            "fd 7 writable",
            "Semaphore",
            "CapacityLimiter",
            "Condition",
            "channel receive",
            "memory stream: waiting for data",
            "Event",
            "task 'x'",
            "thread running f()",
            "waiting for a signal",
        )
    ] == [
        "sleep",
        "sleep",
        "io",
        "lock",
        "lock",
        "lock",
        "queue",
        "queue",
        "event",
        "task",
        "thread",
        "other",
    ]


def test_cancel_by_a_task_is_an_arrow_from_its_step_to_the_cancelled_tasks_next_step():
    async def main():
        async with trapline.TaskGroup() as tg:
            victim = tg.spawn(trapline.sleep_forever, name="victim")
            await trapline.sleep(0)
            victim.cancel("enough")

    events = traced(main)
    [(start, end)] = flows(events, "cancel")
    names = tracks(events)
    assert names[start["pid"], start["tid"]] == "main"
    assert names[end["pid"], end["tid"]] == "victim"
    assert start["args"]["reason"].startswith("cancelled: enough (requested at ")
    # each end of the arrow lies inside a step of its task (where viewers bind it)
    for point in (start, end):
        steps = [e for e in on(events, names[point["pid"], point["tid"]]) if e.get("cat") == "step"]
        assert any(s["ts"] <= point["ts"] <= s["ts"] + s["dur"] for s in steps)
    [exit_mark] = [e for e in on(events, "victim") if e["ph"] == "i"]
    assert exit_mark["name"] == "cancelled"


def test_deadline_cancel_and_timer_firings_come_from_the_kernel_track():
    async def main():
        async with trapline.TaskGroup() as tg:
            tg.spawn(trapline.sleep, 0.01, name="sleeper")
            with trapline.move_on_after(0.02):
                await trapline.sleep_forever()

    events = traced(main)
    names = tracks(events)
    marks = [e for e in on(events, "kernel: timers, cancels") if e["ph"] == "X"]
    assert [m["name"] for m in marks] == ["timer: wake sleeper", "cancel"]
    assert marks[1]["args"]["task"] == "main"
    assert marks[1]["args"]["reason"] == "cancelled: deadline expired (requested at deadline)"
    [(t_start, t_end)] = flows(events, "timer")
    [(c_start, c_end)] = flows(events, "cancel")
    assert names[t_end["pid"], t_end["tid"]] == "sleeper"
    assert names[c_end["pid"], c_end["tid"]] == "main"
    for mark, start in ((marks[0], t_start), (marks[1], c_start)):
        assert mark["ts"] <= start["ts"] <= mark["ts"] + mark["dur"]


def test_io_waits_are_slices_on_the_kernel_track_with_arrows_to_the_tasks_they_wake():
    a, b = socket.socketpair()

    async def reader():
        await wait_readable(a)

    async def main():
        async with trapline.TaskGroup() as tg:
            tg.spawn(reader, name="reader")
            await trapline.sleep(0.01)
            b.send(b"x")

    with a, b:
        events = traced(main)
    io = [e for e in on(events, "kernel: I/O waits") if e["ph"] == "X"]
    assert io and all(e["name"] == "I/O wait" and e["dur"] >= 0 for e in io)
    [(start, end)] = flows(events, "I/O ready")
    assert tracks(events)[end["pid"], end["tid"]] == "reader"
    assert any(e["ts"] <= start["ts"] <= e["ts"] + e["dur"] for e in io)


def test_instrument_hooks_for_cancellation_and_timers_at_exact_virtual_times():
    calls = []

    class Recorder(Instrument):
        def task_cancelled(self, task, by, reason):
            calls.append(("cancelled", task.name, by.name if by else None, reason))

        def timer_fired(self, deadline, task):
            calls.append(("timer", deadline, task.name if task else None))

    async def main():
        async with trapline.TaskGroup() as tg:
            tg.spawn(trapline.sleep, 2, name="sleeper")
            victim = tg.spawn(trapline.sleep_forever, name="victim")
            with trapline.move_on_after(5):
                await trapline.sleep(3)
                victim.cancel("done")
                victim.cancel("twice")  # already cancelled: not reported again
                await trapline.sleep_forever()

    trapline.run(main, clock=VirtualClock(), instruments=[Recorder()])
    assert [call[:3] for call in calls] == [
        ("timer", 2.0, "sleeper"),
        ("timer", 3.0, "main"),
        ("cancelled", "victim", "main"),
        ("timer", 5.0, None),
        ("cancelled", "main", None),
    ]
    assert calls[2][3].startswith("cancelled: done (requested at ")
    assert calls[4][3] == "cancelled: deadline expired (requested at deadline)"


def test_default_instruments_join_every_new_run_in_any_thread():
    trace = ChromeTrace()

    async def main():
        await trapline.sleep(0)

    before = default_instruments()  # the monitor's, if TRAPLINE_MONITOR is set
    add_default_instrument(trace)
    add_default_instrument(trace)  # once is enough
    try:
        assert default_instruments() == [*before, trace]
        trapline.run(main)
        thread = threading.Thread(target=trapline.run, args=(main,), name="worker")
        thread.start()
        thread.join()
    finally:
        remove_default_instrument(trace)
    trapline.run(main)  # not traced any more
    assert default_instruments() == before
    processes = [e["args"]["name"] for e in trace.events if e["name"] == "process_name"]
    assert processes == ["trapline.run #1", "trapline.run #2 (thread worker)"]
    assert sorted(tracks(trace.events).values()).count("main") == 2
    with pytest.raises(KeyError):
        remove_default_instrument(trace)
    with pytest.raises(TypeError):
        add_default_instrument(object())


class _Page(html.parser.HTMLParser):
    """Collects what a page would fetch and its embedded trace."""

    def __init__(self):
        super().__init__()
        self.references = []
        self.scripts = []
        self._in_data = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "href", "srcset", "action", "data", "poster"):
            if attrs.get(name):
                self.references.append((tag, name, attrs[name]))
        if tag == "link":
            self.references.append((tag, "link", attrs))
        self._in_data = tag == "script" and attrs.get("id") == "trace-data"

    def handle_data(self, data):
        if self._in_data:
            self.scripts.append(data)

    def handle_endtag(self, tag):
        self._in_data = False


def test_html_page_embeds_the_trace_and_fetches_nothing(tmp_path):
    async def main():
        async with trapline.TaskGroup() as tg:
            tg.spawn(trapline.sleep, 0.001, name="</script><script>alert(1)</script>")

    path = tmp_path / "trace.html"
    trace = ChromeTrace(path)
    trapline.run(main, instruments=[trace])
    text = path.read_text()
    page = _Page()
    page.feed(text)
    assert page.references == []
    [data] = page.scripts
    assert json.loads(data) == json.loads(json.dumps(trace.document()))
    assert text.count("</script>") == 2  # the data block and the code block, nothing else
    # no URL anywhere: no CSS url(), @import, fetch or XHR, no http(s) link
    for needle in ("url(", "@import", "fetch(", "XMLHttpRequest", "http:", "https:", "//cdn"):
        assert needle not in text


def test_trace_command_writes_json_and_html_for_every_run_of_a_script(tmp_path, capsys):
    script = tmp_path / "prog.py"
    script.write_text(
        "import sys, trapline\n"
        "async def main(word):\n"
        "    await trapline.sleep(0)\n"
        "    print(word)\n"
        "trapline.run(main, sys.argv[1])\n"
        "trapline.run(main, sys.argv[2])\n"
    )
    out = tmp_path / "trace.json"
    assert cli(["trace", str(script), "-o", str(out), "a", "--", "-o"]) == 0
    assert capsys.readouterr().out == "a\n-o\n"
    events = json.loads(out.read_text())["traceEvents"]
    assert [e["args"]["name"] for e in events if e["name"] == "process_name"] == [
        "trapline.run #1",
        "trapline.run #2",
    ]
    page = tmp_path / "trace.html"
    assert cli(["trace", "--output", str(page), str(script), "b", "c"]) == 0
    assert "b\nc\n" == capsys.readouterr().out
    assert page.read_text().startswith("<!DOCTYPE html>")
    assert trace_instruments() == []


def test_trace_command_writes_the_trace_when_the_script_fails_or_exits(tmp_path, capsys):
    out = tmp_path / "trace.json"
    failing = tmp_path / "failing.py"
    failing.write_text(
        "import trapline\nasync def main():\n    raise ValueError('boom')\ntrapline.run(main)\n"
    )
    assert cli(["trace", "-o", str(out), str(failing)]) == 1
    assert "ValueError: boom" in capsys.readouterr().err
    exits = [e["name"] for e in json.loads(out.read_text())["traceEvents"] if e["ph"] == "i"]
    assert exits == ["raised ValueError"]
    exiting = tmp_path / "exiting.py"
    exiting.write_text("import sys\nsys.exit(3)\n")
    assert cli(["trace", "-o", str(out), str(exiting)]) == 3
    assert json.loads(out.read_text())["traceEvents"] == []
    assert trace_instruments() == []


def test_trace_command_usage(capsys):
    assert cli(["trace"]) == 2
    assert "which script" in capsys.readouterr().err
    assert cli(["trace", "--bogus", "x.py"]) == 2
    assert "unknown option --bogus" in capsys.readouterr().err
    assert cli(["trace", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: trapline trace")


def test_python_dash_m_trapline_trace_runs_a_module(tmp_path):
    (tmp_path / "tracedmod.py").write_text(
        "import trapline\nasync def main():\n    await trapline.sleep(0)\ntrapline.run(main)\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "trapline", "trace", "-m", "tracedmod", "-o", "t.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stderr.endswith("written to t.json\n")
    names = tracks(json.loads((tmp_path / "t.json").read_text())["traceEvents"])
    assert sorted(names.values()) == ["kernel: I/O waits", "kernel: timers, cancels", "main"]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium (Debian package)")
def test_html_page_draws_in_headless_chromium(tmp_path):
    async def main():
        async with trapline.TaskGroup() as tg:
            tg.spawn(trapline.sleep, 0.001, name="sleeper")

    path = tmp_path / "trace.html"
    trapline.run(main, instruments=[ChromeTrace(path)])
    result = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # the script ran to the end: it filled in the summary and the legend
    assert re.search(r'<span id="summary">1 run, 2 tasks, [\d.]+ ms</span>', result.stdout)
    assert "timer wakes" in result.stdout


def test_wake_ups_are_arrows_from_the_task_that_woke_the_waiter():
    async def holder(lock):
        async with lock:
            await trapline.sleep(0.001)

    async def waiter(lock):
        async with lock:
            pass

    async def producer(queue):
        await trapline.sleep(0.001)
        await queue.put(1)

    async def main():
        lock, queue = trapline.Lock(), trapline.Queue(1)
        async with trapline.TaskGroup() as tg:
            tg.spawn(holder, lock, name="holder")
            tg.spawn(waiter, lock, name="waiter")
            tg.spawn(producer, queue, name="producer")
            await queue.get()
        await trapline.to_thread.run_sync(time.sleep, 0)

    events = traced(main)
    names = tracks(events)
    wakes = [
        (names[s["pid"], s["tid"]], names[f["pid"], f["tid"]], s["args"]["reason"])
        for s, f in flows(events, "wake")
    ]
    assert wakes == [  # the holder's first step also took a checkpoint: its sleep ends second
        ("producer", "main", "Queue.get"),
        ("holder", "waiter", "Lock held by holder"),
        ("waiter", "main", "task group: 2 tasks"),  # the last child to end wakes the host
        ("kernel: timers, cancels", "main", "thread running sleep()"),
    ]
    # each arrow starts inside a step of the waker (or the kernel's marker) and ends in one of
    # the woken task's steps
    slices = [e for e in events if e["ph"] == "X"]
    for start, end in flows(events, "wake"):
        for point in (start, end):
            assert any(
                (e["pid"], e["tid"]) == (point["pid"], point["tid"])
                and e["ts"] <= point["ts"] <= e["ts"] + e["dur"]
                for e in slices
            )
