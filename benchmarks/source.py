"""Which trapline a benchmark measures: the working tree, or ``src/`` as committed at a git
revision (``--trapline-rev REV``), so a run measures exactly one commit however the working
tree changes meanwhile."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

from .runner import ROOT


def export_src(rev: str, dest: Path) -> str:
    """Extract ``src/`` as committed at ``rev`` into ``dest``; return the full commit id."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "archive", commit, "src"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return commit


def trapline_at(rev: str | None, dest: Path) -> tuple[dict[str, str] | None, str | None]:
    """``(env, source)`` for child processes: with ``rev``, ``src/`` at that commit exported
    into ``dest`` and put first on ``PYTHONPATH``, and a line saying so for the report; without
    it, ``(None, None)`` (the children import the working tree)."""
    if rev is None:
        return None, None
    commit = export_src(rev, dest)
    paths = [str(dest / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = os.environ | {"PYTHONPATH": os.pathsep.join(paths)}
    return env, f"git {commit[:10]}; src/ exported by --trapline-rev, not the working tree"
