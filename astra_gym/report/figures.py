"""The report's figures: matplotlib charts rendered to inline SVG text.

matplotlib draws with its non-interactive Agg backend (no display needed);
each figure is saved as SVG with its text kept as text, a fixed hash salt and
no date, so the same data gives the same bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["INSTALL_HINT", "Figure", "bars", "histogram", "lines", "stacked_bars"]

INSTALL_HINT = 'astra-gym report needs matplotlib: pip install "astra-gym[report]"'
_BLUE, _ORANGE, _GREEN, _RED, _GREY = "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#7f7f7f"
_SIZE = (6.4, 3.6)


class Figure:
    """One chart of the report.

    Attributes:
        name: A stable id (``reward-distribution``), used in the page.
        title: The heading shown above it.
        svg: The chart as inline SVG markup.
        caption: One sentence under it.
    """

    def __init__(self, name: str, title: str, svg: str, caption: str = "") -> None:
        self.name = name
        self.title = title
        self.svg = svg
        self.caption = caption


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _svg(fig: Any, salt: str) -> str:
    import matplotlib

    plt = _pyplot()
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _axes(title_x: str, title_y: str) -> tuple[Any, Any]:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=_SIZE)
    ax.set_xlabel(title_x)
    ax.set_ylabel(title_y)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return fig, ax


def histogram(name: str, title: str, values: Sequence[float], *, xlabel: str,
              integer: bool = False, bins: int = 20, caption: str = "",
              color: str = _BLUE, ylabel: str = "episodes") -> Figure:
    """A histogram of ``values`` (integer bins centred on whole numbers when ``integer``)."""
    fig, ax = _axes(xlabel, ylabel)
    if values:
        if integer:
            low, high = math.floor(min(values)), math.ceil(max(values))
            edges = [x - 0.5 for x in range(int(low), int(high) + 2)]
            ax.hist(values, bins=edges, color=color, edgecolor="white")
            if high - low <= 30:
                ax.set_xticks(range(int(low), int(high) + 1))
        else:
            low, high = min(values), max(values)
            if high - low < 1e-9:
                low, high = low - 0.5, high + 0.5
            ax.hist(values, bins=bins, range=(low, high), color=color, edgecolor="white")
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    return Figure(name, title, _svg(fig, name), caption)


def bars(name: str, title: str, labels: Sequence[str], values: Sequence[float | None], *,
         ylabel: str, errors: Sequence[tuple[float, float] | None] | None = None,
         counts: Sequence[int] | None = None, ylim: tuple[float, float] | None = None,
         caption: str = "", color: str = _BLUE) -> Figure:
    """Bars, with optional ``(low, high)`` error bars and ``n=`` labels."""
    fig, ax = _axes("", ylabel)
    heights = [0.0 if v is None else float(v) for v in values]
    positions = list(range(len(labels)))
    ax.bar(positions, heights, color=color, width=0.7)
    if errors is not None:
        for x, height, interval in zip(positions, heights, errors, strict=True):
            if interval is not None:
                low, high = interval
                ax.errorbar([x], [height], yerr=[[max(0.0, height - low)],
                                                 [max(0.0, high - height)]],
                            fmt="none", ecolor="black", capsize=4, linewidth=1)
    if counts is not None:
        for x, height, count in zip(positions, heights, counts, strict=True):
            ax.annotate(f"n={count}", (x, height), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8, color=_GREY)
    ax.set_xticks(positions, [str(label) for label in labels],
                  rotation=30 if len(labels) > 6 else 0,
                  ha="right" if len(labels) > 6 else "center")
    if ylim is not None:
        ax.set_ylim(*ylim)
    if not labels:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    return Figure(name, title, _svg(fig, name), caption)


def stacked_bars(name: str, title: str, labels: Sequence[str],
                 series: Mapping[str, Sequence[float]], *, ylabel: str,
                 caption: str = "") -> Figure:
    """Bars stacked from several named series (in order, with a legend)."""
    fig, ax = _axes("", ylabel)
    positions = list(range(len(labels)))
    bottom = [0.0] * len(labels)
    palette = [_BLUE, _ORANGE, _GREEN, _RED, _GREY]
    for index, (label, values) in enumerate(series.items()):
        heights = [float(v) for v in values]
        ax.bar(positions, heights, bottom=bottom, label=label, width=0.7,
               color=palette[index % len(palette)])
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_xticks(positions, [str(label) for label in labels],
                  rotation=30 if len(labels) > 6 else 0,
                  ha="right" if len(labels) > 6 else "center")
    if series:
        ax.legend(frameon=False, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0),
                  ncol=len(series))
    if not labels:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    return Figure(name, title, _svg(fig, name), caption)


def lines(name: str, title: str, x: Sequence[float], series: Mapping[str, Sequence[float]],
          *, xlabel: str, ylabel: str, caption: str = "") -> Figure:
    """Lines with markers, one per named series, over the same ``x``."""
    fig, ax = _axes(xlabel, ylabel)
    palette = [_BLUE, _ORANGE, _GREEN, _RED]
    for index, (label, values) in enumerate(series.items()):
        ax.plot(list(x), [float(v) for v in values], marker="o", label=label,
                color=palette[index % len(palette)])
    ax.set_ylim(0, 1.05)
    ax.set_xticks(list(x))
    if series:
        ax.legend(frameon=False, fontsize=8)
    return Figure(name, title, _svg(fig, name), caption)
