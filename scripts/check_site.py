"""Look at the built documentation site in headless Chromium, as a reader would.

    .venv/bin/python scripts/check_site.py [--out DIR]

Builds the site (``mkdocs build --strict``) into a temporary directory, serves it on loopback,
drives Debian's ``chromium`` through the DevTools protocol and checks that the home page, a
tutorial page and a reference page render (title, navigation, content), that following the
"next" link of the tutorial lands on the next page, and that search finds pages. Screenshots
of each go to ``--out`` (default ``site-check/``) for a person to look at. Exits non-zero with
the failed checks listed.

Not part of CI: it needs Chromium (``apt-get install chromium``), which the tests do not. The
DevTools client is a few lines of stdlib WebSocket so the check needs no extra package.
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.server
import json
import os
import pathlib
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent


class DevTools:
    """One page's DevTools WebSocket: ``call(method, **params)`` returns the result."""

    def __init__(self, url: str) -> None:
        host_port, path = url.removeprefix("ws://").split("/", 1)
        host, port = host_port.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        status, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        if b" 101 " not in status.split(b"\r\n")[0]:
            raise RuntimeError(f"DevTools refused the WebSocket: {status[:80]!r}")
        self.next_id = 0

    def _recv(self) -> bytes:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("DevTools closed the connection")
        return chunk

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self.buffer += self._recv()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            header = struct.pack(">BB", 0x81, 0x80 | n)
        elif n < 1 << 16:
            header = struct.pack(">BBH", 0x81, 0x80 | 126, n)
        else:
            header = struct.pack(">BBQ", 0x81, 0x80 | 127, n)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))
        self.sock.sendall(header + mask + masked)

    def _message(self) -> dict[str, Any]:
        payload = b""
        while True:
            first, second = self._read(2)
            n = second & 0x7F
            if n == 126:
                (n,) = struct.unpack(">H", self._read(2))
            elif n == 127:
                (n,) = struct.unpack(">Q", self._read(8))
            payload += self._read(n)
            if first & 0x80:
                result: dict[str, Any] = json.loads(payload)
                return result

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self._send({"id": self.next_id, "method": method, "params": params})
        while True:
            message = self._message()
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def evaluate(self, expression: str) -> Any:
        reply = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return reply.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 15.0) -> Any:
        """Poll ``expression`` until it is truthy (pages and search load asynchronously)."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value or time.monotonic() > deadline:
                return value
            time.sleep(0.2)

    def screenshot(self, path: pathlib.Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(directory: str) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def check(base: str, out: pathlib.Path, browser: DevTools) -> list[str]:
    failures: list[str] = []

    def expect(what: str, ok: object) -> None:
        print(f"{'ok  ' if ok else 'FAIL'} {what}")
        if not ok:
            failures.append(what)

    def visit(path: str) -> None:
        browser.call("Page.navigate", url=base + path)
        browser.wait_for("document.readyState === 'complete' && !!document.querySelector('h1')")

    visit("/")
    expect("home page has the title", browser.evaluate("document.title").startswith("trapline"))
    expect(
        "home page shows the gather example's result",
        browser.evaluate("document.body.innerText.includes('[27, 64, 125]')"),
    )
    tabs = browser.evaluate(
        "Array.from(document.querySelectorAll('.md-tabs__link'), a => a.textContent.trim())"
    )
    expect(f"navigation tabs {tabs}", tabs and "Tutorial" in str(tabs) and "Reference" in str(tabs))
    browser.screenshot(out / "home.png")

    visit("/tutorial/stepper/")
    expect("tutorial page renders", "Stepper" in browser.evaluate("document.title"))
    following = browser.evaluate("(document.querySelector('.md-footer__link--next') || {}).href")
    expect(f"tutorial has a next link ({following})", bool(following))
    browser.screenshot(out / "tutorial.png")
    if following:
        browser.call("Page.navigate", url=following)
        title = browser.wait_for(
            "document.readyState === 'complete' && document.querySelector('h1') && document.title"
        )
        expect(f"following it lands on the next page ({title})", "gather" in str(title))

    visit("/reference/trapline/")
    expect(
        "reference page documents trapline.run",
        browser.evaluate("!!document.getElementById('trapline.run')"),
    )
    expect(
        "reference page's table of contents is filled",
        browser.evaluate("document.querySelectorAll('.md-nav--secondary .md-nav__link').length")
        > 20,
    )
    browser.screenshot(out / "reference.png")

    visit("/?q=cancel")
    # The search index loads in a web worker after the page: wait for it to answer.
    browser.wait_for("document.querySelectorAll('.md-search-result__item').length > 0")
    found = browser.evaluate(
        "(document.querySelector('.md-search-result__meta') || {}).textContent.trim()"
    )
    results = browser.evaluate("document.querySelectorAll('.md-search-result__item').length")
    expect(f"search for 'cancel' finds pages ({found!r}, {results} shown)", results > 0)
    browser.screenshot(out / "search.png")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "site-check")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as site:
        subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", site],
            cwd=ROOT,
            check=True,
            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        )
        server, base = _serve(site)
        port = _free_port()
        profile = tempfile.mkdtemp(prefix="chromium-")
        browser_process = subprocess.Popen(
            [
                chromium,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--remote-debugging-port={port}",
                "--window-size=1300,900",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            pages: list[dict[str, Any]] = []
            for _ in range(150):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json") as reply:
                        pages = json.load(reply)
                    break
                except OSError:
                    time.sleep(0.2)
            page = next(p for p in pages if p["type"] == "page")
            browser = DevTools(page["webSocketDebuggerUrl"])
            browser.call("Page.enable")
            failures = check(base, args.out, browser)
            browser.sock.close()
        finally:
            browser_process.terminate()
            browser_process.wait()
            server.shutdown()
            server.server_close()
            shutil.rmtree(profile, ignore_errors=True)
    print(f"screenshots in {args.out}")
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
