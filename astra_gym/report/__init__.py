"""``astra-gym report``: one self-contained HTML page of plots, for eval results or a pack.

The figures are drawn with matplotlib (the ``report`` extra) and inlined as
SVG, so the page needs no network, no JavaScript library and no files beside
it: it opens the same from a CI artifact, a mail attachment or a laptop
offline. See ``docs/eval.md``.

Example (needs matplotlib)::

    from astra_gym.report import write_report

    write_report("results/qwen3-8b", "report.html")     # an eval results directory
    write_report("astra/demo-v0", "demo.html")          # a pack (or its env id)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .page import Page

__all__ = ["Page", "build_page", "target_kind", "write_report"]


def target_kind(target: str | os.PathLike[str]) -> str:
    """``results`` for an eval results directory, ``pack`` for a pack directory or env id.

    Raises:
        ValueError: It is neither (the message says what was looked for).
    """
    from ..eval.store import EPISODES_FILE, RUN_FILE, SUMMARY_FILE
    from ..pack import MANIFEST_FILE

    path = Path(target)
    if path.is_dir():
        if any((path / name).exists() for name in (EPISODES_FILE, SUMMARY_FILE, RUN_FILE)):
            return "results"
        if (path / MANIFEST_FILE).exists():
            return "pack"
        raise ValueError(f"{path} is neither an eval results directory ({EPISODES_FILE}, "
                         f"{SUMMARY_FILE}) nor a pack ({MANIFEST_FILE})")
    return "pack"  # an env id; resolved (or refused) by build_page


def build_page(target: str | os.PathLike[str], *, validate: bool = False,
               checks: list[str] | None = None, jobs: int = 1) -> Page:
    """The report page of a results directory, a pack directory or an env id.

    Args:
        target: What to report on.
        validate: For a pack: run the validation checks now and show them.
        checks: The checks to run with ``validate`` (default: all).
        jobs: Worker processes for ``validate``.

    Returns:
        The page (``page.render()`` is the HTML).

    Raises:
        ValueError: An unknown target.
        ImportError: matplotlib is missing (the message says how to install it).
    """
    from .figures import _pyplot

    _pyplot()  # fail before any work when the extra is missing
    kind = target_kind(target)
    if kind == "results":
        from .results import results_page

        return results_page(Path(target))
    from ..validation import resolve_target
    from .pack import pack_page

    env_id, pack_dir = resolve_target(target)
    summary: dict[str, Any] | None = None
    if validate:
        from ..validation import validate as run_checks

        report = run_checks(pack_dir, checks, jobs=jobs, progress=None)
        summary = report.manifest_summary()
    return pack_page(Path(pack_dir), env_id, summary)


def write_report(target: str | os.PathLike[str], out: str | os.PathLike[str],
                 **options: Any) -> Path:
    """Write the report of ``target`` to ``out`` (see :func:`build_page`); returns the path."""
    page = build_page(target, **options)
    path = Path(out)
    if path.parent != Path():
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page.render(), encoding="utf-8")
    return path
