"""``astra-gym report``: its options and handler."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

__all__ = ["add_report_command"]


def add_report_command(commands: Any) -> argparse.ArgumentParser:
    """Add the ``report`` subcommand to ``astra-gym``'s subparsers."""
    parser = commands.add_parser(
        "report", help="write one self-contained HTML page of plots for eval results or a pack",
        description="Write an HTML report: for an astra-gym eval RESULTS_DIR, the summary "
                    "with confidence intervals, pass@k, reward, turn and call distributions "
                    "and success by domain, hops and language; for a pack (a directory or an "
                    "env id), its domains, hops, tools per task and validation results. The "
                    "page has no outside resource (figures are inline SVG). Needs matplotlib "
                    '(pip install "astra-gym[report]"). Exits 2 for an unusable target.')
    parser.add_argument("target", metavar="RESULTS_DIR|PACK_DIR|ENV_ID")
    parser.add_argument("--out", required=True, metavar="FILE", help="the HTML file to write")
    parser.add_argument("--validate", action="store_true",
                        help="for a pack: run the validation checks now and show them")
    parser.add_argument("--checks", nargs="+", help="the checks --validate runs (default all)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="worker processes for --validate (default: all cores)")
    parser.set_defaults(handler=run_report_command)
    return parser


def run_report_command(args: argparse.Namespace) -> int:
    """The handler of ``astra-gym report``."""
    from . import build_page

    checks = None if not args.checks else [
        name.strip() for value in args.checks for name in value.split(",") if name.strip()]
    try:
        page = build_page(args.target, validate=args.validate, checks=checks, jobs=args.jobs)
        html = page.render()
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(html)
    except (ValueError, ImportError, FileNotFoundError, OSError) as exc:
        print(f"astra-gym report: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {len(page.figures)} figures, {len(html) / 1024:.0f} KiB")
    return 0
