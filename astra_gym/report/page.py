"""The report page: one HTML file with inline CSS, inline SVG figures and no outside resource.

A short inline script (the page reads fine without it) marks every figure the
browser laid out with a non-empty box (``data-rendered``), and counts them on
``<body>`` (``data-figures``, ``data-figures-rendered``): what the headless
browser test reads back.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .figures import Figure

__all__ = ["Page", "Section", "table"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1d1d1f; background: #ffffff; }
header { background: #10324a; color: #ffffff; padding: 20px 32px; }
header h1 { margin: 0 0 6px 0; font-size: 22px; }
header p { margin: 2px 0; opacity: 0.85; font-size: 14px; }
main { padding: 8px 32px 40px 32px; max-width: 1400px; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 4px; margin-top: 32px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr));
        gap: 16px; }
figure.astra-figure { margin: 0; border: 1px solid #e1e4e8; border-radius: 6px;
                      padding: 8px 12px; background: #fcfcfd; }
figure.astra-figure h3 { margin: 4px 0 6px 0; font-size: 15px; }
figure.astra-figure svg { width: 100%; height: auto; display: block; }
figcaption { font-size: 12px; color: #57606a; margin-top: 4px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0 16px 0; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f6f8fa; }
.note { color: #57606a; font-size: 13px; }
"""

_SCRIPT = """
(function () {
  var figures = document.querySelectorAll("figure.astra-figure");
  var rendered = 0;
  figures.forEach(function (figure) {
    var svg = figure.querySelector("svg");
    var box = svg ? svg.getBoundingClientRect() : null;
    if (box && box.width > 50 && box.height > 50) {
      figure.setAttribute("data-rendered", "true");
      rendered += 1;
    }
  });
  document.body.setAttribute("data-figures", String(figures.length));
  document.body.setAttribute("data-figures-rendered", String(rendered));
})();
"""


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return html.escape(str(value))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An HTML table; floats with 3 decimals, text escaped."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclass
class Section:
    """A heading with HTML blocks (tables, notes) and figures (in a grid)."""

    title: str
    blocks: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    figures_first: bool = True


@dataclass
class Page:
    """The whole report."""

    title: str
    subtitle: list[str]
    sections: list[Section]

    @property
    def figures(self) -> list[Figure]:
        """Every figure, in page order."""
        return [figure for section in self.sections for figure in section.figures]

    def render(self) -> str:
        """The page as one self-contained HTML document."""
        parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
                 '<meta name="viewport" content="width=device-width, initial-scale=1">',
                 f"<title>{html.escape(self.title)}</title>", f"<style>{_CSS}</style>",
                 "</head><body>", f"<header><h1>{html.escape(self.title)}</h1>"]
        parts.extend(f"<p>{html.escape(line)}</p>" for line in self.subtitle)
        parts.append("</header><main>")
        for section in self.sections:
            parts.append(f"<section><h2>{html.escape(section.title)}</h2>")
            grid = []
            if section.figures:
                grid.append('<div class="grid">')
                for figure in section.figures:
                    caption = (f"<figcaption>{html.escape(figure.caption)}</figcaption>"
                               if figure.caption else "")
                    grid.append(f'<figure class="astra-figure" data-figure="{figure.name}">'
                                f"<h3>{html.escape(figure.title)}</h3>{figure.svg}{caption}"
                                "</figure>")
                grid.append("</div>")
            ordered = [grid, section.blocks] if section.figures_first else [section.blocks, grid]
            for chunk in ordered:
                parts.extend(chunk)
            parts.append("</section>")
        parts.append(f"</main><script>{_SCRIPT}</script></body></html>")
        return "\n".join(parts)
