"""Charts of the ratios in docs/benchmarks.md, drawn with matplotlib from the tables themselves.

``python scripts/benchmark_charts.py [docs/benchmarks.md] [OUTDIR]`` writes one PNG per section
that has a ratio column (default OUTDIR: docs/assets/benchmarks). The documentation build does the
same in memory (scripts/mkdocs_hooks.py), so the site's charts always show the numbers on the page:
benchmarks.md is written by ``python -m benchmarks``, and nobody draws or edits a chart by hand.

A table counts when it has a ``framework``, ``test``, ``server`` or ``client`` column and a
column whose header starts with ``ratio`` (the first such); a ``N`` column groups the bars;
``###`` subsections (redis-benchmark's ``-P 1`` and ``-P 16``, the echo's message sizes, the KV
client's jobs) become series side by side.
"""

from __future__ import annotations

import io
import pathlib
import re
import sys
from dataclasses import dataclass, field

ROOT = pathlib.Path(__file__).resolve().parent.parent


@dataclass
class Chart:
    slug: str  # file name without .png
    title: str
    higher_is_better: bool
    baseline: str  # what 1.0x means
    # series name -> [(group, label, ratio)]
    series: dict[str, list[tuple[str, str, float]]] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        return f"{self.slug}.png"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _ratio(text: str) -> float | None:
    match = re.fullmatch(r"([0-9.]+)x", text.replace("*", "").strip())
    return float(match.group(1)) if match else None


@dataclass
class Section:
    title: str
    start: int  # index of the heading line
    end: int  # index after the section's last line
    last_table_line: int = -1  # index of the last line of its last chart-worthy table


def parse(markdown: str) -> tuple[list[Chart], list[Section]]:
    """The charts in ``markdown``, and where each chart's section is (for placing the image)."""
    lines = markdown.splitlines()
    charts: list[Chart] = []
    sections: list[Section] = []
    heads = [i for i, line in enumerate(lines) if line.startswith("## ")]
    for k, start in enumerate(heads):
        end = heads[k + 1] if k + 1 < len(heads) else len(lines)
        title = lines[start][3:].strip()
        body = "\n".join(lines[start:end]).lower()
        baseline = "redis" if "redis" in title.lower() else "asyncio"
        higher = "lower is better" not in body
        chart = Chart(_slug(title), title, higher, baseline)
        section = Section(title, start, end)
        subsection = ""
        i = start + 1
        while i < end:
            line = lines[i]
            if line.startswith("### "):
                subsection = line[4:].strip()
            if line.startswith("|") and i + 1 < end and set(lines[i + 1].strip()) <= set("|-: "):
                header = [h.lower() for h in _cells(line)]
                i += 2
                rows = []
                while i < end and lines[i].startswith("|"):
                    rows.append(_cells(lines[i]))
                    i += 1
                label_col = next(
                    (
                        c
                        for c, h in enumerate(header)
                        if h in ("framework", "test", "server", "client")
                    ),
                    -1,
                )
                ratio_col = next((c for c, h in enumerate(header) if h.startswith("ratio")), -1)
                if label_col < 0 or ratio_col < 0:
                    continue
                against = re.fullmatch(r"ratio vs (.+)", header[ratio_col])
                if against:
                    chart.baseline = against.group(1)
                group_col = header.index("n") if "n" in header else -1
                points = []
                for row in rows:
                    value = _ratio(row[ratio_col]) if ratio_col < len(row) else None
                    if value is not None:
                        group = f"N = {row[group_col]}" if group_col >= 0 else ""
                        points.append((group, row[label_col], value))
                if points:
                    chart.series.setdefault(subsection or "ratio", []).extend(points)
                    section.last_table_line = i - 1
                continue
            i += 1
        if chart.series:
            charts.append(chart)
            sections.append(section)
    return charts, sections


_COLOURS = {"trapline": "#5e35b1", "asyncio": "#9e9e9e", "uvloop": "#26a69a", "trio": "#ef6c00"}
_SERIES_COLOURS = ["#5e35b1", "#ffb300", "#26a69a", "#ef6c00"]


def render(chart: Chart) -> bytes:
    """The chart as PNG bytes (deterministic for the same numbers and matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(chart.series)
    multi_series = len(names) > 1
    first = chart.series[names[0]]
    groups = list(dict.fromkeys(group for group, _, _ in first))
    labels = list(dict.fromkeys(label for _, label, _ in first))
    horizontal = multi_series or len(labels) > 6
    better = "higher is better" if chart.higher_is_better else "lower is better"

    if horizontal:
        # One row per label, one bar per series (redis-benchmark tests, -P 1 and -P 16).
        fig, ax = plt.subplots(figsize=(8, 0.3 * len(labels) * max(1, len(names)) + 1.4))
        height = 0.8 / len(names)
        for s, name in enumerate(names):
            values = {label: value for _, label, value in chart.series[name]}
            ys = [n + s * height for n in range(len(labels))]
            xs = [values.get(label, 0.0) for label in labels]
            bars = ax.barh(ys, xs, height, label=name, color=_SERIES_COLOURS[s % 4])
            ax.bar_label(bars, fmt="%.2fx", padding=3, fontsize=8)
        ax.set_yticks([n + height * (len(names) - 1) / 2 for n in range(len(labels))], labels)
        ax.invert_yaxis()
        ax.axvline(1.0, color="#424242", linestyle="--", linewidth=1)
        ax.set_xlabel(f"ratio to {chart.baseline} (1.0x = {chart.baseline}; {better})")
        ax.set_xlim(0, max(1.15, max(v for pts in chart.series.values() for *_, v in pts) * 1.2))
        if len(names) > 2:  # a row of them above the axes would run into the title
            ax.legend(loc="best", fontsize=8)
        elif multi_series:
            ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=len(names), fontsize=8)
    else:
        # Groups (N = 1, 100, 10,000) along x, one bar per framework in each.
        fig, ax = plt.subplots(figsize=(8, 4.2))
        width = 0.8 / len(labels)
        values = {(group, label): value for group, label, value in first}
        for n, label in enumerate(labels):
            xs = [g + n * width for g in range(len(groups))]
            ys = [values.get((group, label), 0.0) for group in groups]
            colour = _COLOURS.get(label, _SERIES_COLOURS[n % 4])
            bars = ax.bar(xs, ys, width, label=label, color=colour)
            ax.bar_label(bars, fmt="%.2fx", padding=2, fontsize=8)
        if groups != [""]:
            ax.set_xticks([g + width * (len(labels) - 1) / 2 for g in range(len(groups))], groups)
            ax.legend(loc="upper right", ncols=len(labels), fontsize=8)
        else:
            ax.set_xticks([n * width for n in range(len(labels))], labels)
        ax.axhline(1.0, color="#424242", linestyle="--", linewidth=1)
        ax.set_ylabel(f"ratio to {chart.baseline} ({better})")
        ax.set_ylim(0, max(v for *_, v in first) * 1.25)
    ax.set_title(chart.title, loc="left", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def main(argv: list[str]) -> int:
    source = pathlib.Path(argv[0]) if argv else ROOT / "docs" / "benchmarks.md"
    outdir = pathlib.Path(argv[1]) if len(argv) > 1 else ROOT / "docs" / "assets" / "benchmarks"
    charts, _ = parse(source.read_text(encoding="utf-8"))
    outdir.mkdir(parents=True, exist_ok=True)
    for chart in charts:
        (outdir / chart.filename).write_bytes(render(chart))
        print(f"wrote {outdir / chart.filename}: {chart.title}")
    return 0 if charts else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
