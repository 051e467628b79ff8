"""Regenerate docs/images/timeline.png: trace examples/timeline_demo.py, screenshot the page.

python scripts/timeline_screenshot.py [--output docs/images/timeline.png] [--chromium chromium]

Runs ``python -m trapline trace examples/timeline_demo.py -o trace.html`` in a temporary
directory, then has headless Chromium (Debian: ``apt-get install chromium``) draw the page and
save a screenshot. The page is self-contained, so nothing is fetched. Times are real, so each
run gives a slightly different picture.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "timeline_demo.py"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(ROOT / "docs" / "images" / "timeline.png"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    # Narrow enough to be read in the documentation's text column, drawn at twice the pixels.
    parser.add_argument("--size", default="960,420", help="window size WIDTH,HEIGHT in CSS px")
    parser.add_argument("--scale", default="2", help="device pixels per CSS pixel")
    args = parser.parse_args()
    output = pathlib.Path(args.output).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        page = pathlib.Path(tmp) / "trace.html"
        subprocess.run(
            [sys.executable, "-m", "trapline", "trace", str(EXAMPLE), "-o", str(page)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(
            [
                args.chromium,
                "--headless",
                "--no-sandbox",  # running as root in a container
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={tmp}/profile",
                f"--window-size={args.size}",
                f"--force-device-scale-factor={args.scale}",
                f"--screenshot={output}",
                page.as_uri(),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )
    print(f"wrote {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
