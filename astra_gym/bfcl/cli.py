"""``astra-gym import bfcl``: its options and handler (the CLI module only hooks it in)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .source import CATEGORIES

__all__ = ["add_import_command"]


def _categories(text: str) -> list[str]:
    names = [name.strip().replace("-", "_") for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in CATEGORIES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown category {', '.join(unknown) or '(none)'}; choose from "
            f"{', '.join(CATEGORIES)} (comma separated)")
    return names


def _import_bfcl(args: argparse.Namespace) -> int:
    from .envs import bfcl_env_id
    from .importer import import_bfcl
    from .source import BfclMissingError

    def report(category: str, directory: Any, count: int) -> None:
        if not args.quiet:
            print(f"{bfcl_env_id(category)}: {count} tasks -> {directory}")

    try:
        if args.out is None:  # the user cache: the env ids then name these packs
            if args.limit is not None:
                print("astra-gym import bfcl: error: --limit needs --out (the cache holds "
                      "whole categories)", file=sys.stderr)
                return 2
            from ..pack import Pack
            from .envs import ensure_pack, register_bfcl_envs

            for category in args.categories:
                path = ensure_pack(category)
                report(category, path, len(Pack(path)))
            register_bfcl_envs()
            return 0
        import_bfcl(args.out, args.categories, limit=args.limit, on_pack=report)
    except BfclMissingError as exc:
        print(f"astra-gym import bfcl: error: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"register a pack with astra_gym.register_pack(<dir>), or validate it with "
              f"`astra-gym validate {args.out}/<pack>`")
    return 0


def add_import_command(commands: Any) -> None:
    """Add ``import`` (with its ``bfcl`` source) to the CLI's subcommands."""
    import_ = commands.add_parser("import", help="import a benchmark as env packs")
    sources = import_.add_subparsers(dest="import_source", required=True)
    bfcl = sources.add_parser(
        "bfcl", help="BFCL multi-turn categories from the installed bfcl-eval wheel",
        description="Write one env pack per BFCL multi-turn category (bfcl-mt-<category>) "
                    "from the data shipped in the bfcl-eval wheel. The tools run on BFCL's "
                    "own classes as trusted backends and every user turn is judged as "
                    "BFCL's multi_turn_checker judges it (docs/bfcl.md). Needs: python -m "
                    "pip install --no-deps \"bfcl-eval==2026.3.23\" mpmath")
    bfcl.add_argument("--categories", type=_categories, default=list(CATEGORIES),
                      help=f"comma separated, from {','.join(CATEGORIES)} (default: all)")
    bfcl.add_argument("--out", default=None,
                      help="output directory (a pack per category); default: the user cache "
                           "the env ids astra/bfcl-mt-<category>-v0 read")
    bfcl.add_argument("--limit", type=int, default=None,
                      help="only the first N entries of each category (a quick look)")
    bfcl.add_argument("--quiet", action="store_true", help="print nothing on success")
    bfcl.set_defaults(handler=_import_bfcl)
