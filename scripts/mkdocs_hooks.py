"""MkDocs hooks (mkdocs.yml ``hooks:``): benchmark charts, drawn from docs/benchmarks.md.

benchmarks.md is written by ``python -m benchmarks`` and is not edited by hand, so the charts are
added at build time: ``on_files`` renders one PNG per section with a ratio table (through
scripts/benchmark_charts.py, in memory, never written into docs/) and ``on_page_markdown`` puts
each image under its section's last table. A new benchmark run gives new charts on the next build.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from typing import Any

_HERE = pathlib.Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("benchmark_charts", _HERE / "benchmark_charts.py")
assert _spec is not None and _spec.loader is not None
charts_module = importlib.util.module_from_spec(_spec)
sys.modules["benchmark_charts"] = charts_module  # dataclasses look their module up there
_spec.loader.exec_module(charts_module)

PAGE = "benchmarks.md"
ASSETS = "assets/benchmarks"


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    page = files.get_file_from_path(PAGE)
    if page is None:
        return files
    charts, _ = charts_module.parse(pathlib.Path(page.abs_src_path).read_text(encoding="utf-8"))
    for chart in charts:
        uri = f"{ASSETS}/{chart.filename}"
        if files.get_file_from_path(uri) is None:
            files.append(File.generated(config, uri, content=charts_module.render(chart)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    charts, sections = charts_module.parse(markdown)
    lines = markdown.splitlines()
    # Insert from the bottom up so earlier line numbers stay valid.
    for chart, section in sorted(
        zip(charts, sections, strict=True), key=lambda pair: -pair[1].last_table_line
    ):
        image = f"![{chart.title}: ratios, drawn from the table above]({ASSETS}/{chart.filename})"
        lines[section.last_table_line + 1 : section.last_table_line + 1] = ["", image, ""]
    return "\n".join(lines) + "\n"


def on_nav(nav: Any, config: Any, files: Any) -> Any:
    """Pages that exist in docs/ but are not in mkdocs.yml's nav go at the end of the last
    section (Explanation), so a page someone adds is published and reachable at once."""
    from mkdocs.structure.nav import Section

    listed = {page.file.src_uri for page in nav.pages}
    extra = [
        file.page
        for file in files.documentation_pages()
        if file.src_uri not in listed and file.page is not None
    ]
    sections = [item for item in nav.items if isinstance(item, Section)]
    if not extra or not sections:
        return nav
    section = sections[-1]
    for page in sorted(extra, key=lambda page: page.file.src_uri):
        page.parent = section
        section.children.append(page)
        nav.pages.append(page)
    return nav
