"""``astra-gym distractors build``: precompute band indices for packs.

Building embeds the pool once and bands every in-scope tool (about 0.2 s for
the demo pack with the default embedder; minutes for a large pool behind an
embedding endpoint), so do it ahead of training. The env finds the index by
its key (pack, pool, embedder, thresholds) beside the pack or in the cache
directory; ``--out FILE`` writes one file to pass as ``distractors={"index":
FILE, ...}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "build_command"]


def add_parser(commands: Any) -> None:
    """Add ``distractors build`` to the ``astra-gym`` subcommands.

    Args:
        commands: The top-level subparsers object.
    """
    distractors = commands.add_parser(
        "distractors", help="banded irrelevant tools: precompute the band index",
        description="Irrelevant-tool mixing (gym.make(..., distractors={...})); see "
                    "docs/training.md.")
    sub = distractors.add_subparsers(dest="distractors_command", required=True)
    build = sub.add_parser(
        "build", help="embed a pool and write the band index of each pack",
        description="For each PACK (a pack directory or an astra env id), embed the pool's "
                    "tools and band every tool the pack's tasks need (high > 0.85, medium "
                    "0.4-0.85, low < 0.4 after min-max normalisation), then store the index "
                    "where gym.make(..., distractors=...) finds it. The pool is --pool, or "
                    "every PACK given. Exits 0 on success, 2 for unusable input, 1 when the "
                    "embedding endpoint fails.")
    build.add_argument("packs", nargs="+", metavar="PACK")
    build.add_argument("--pool", nargs="+", metavar="PACK",
                       help="packs the distractors come from (default: the PACKs given)")
    where = build.add_mutually_exclusive_group()
    where.add_argument("--out", help="write the index to this file (one PACK only)")
    where.add_argument("--cache-dir", help="cache root (default: $ASTRA_GYM_CACHE_DIR, else "
                                           "~/.cache/astra-gym)")
    where.add_argument("--beside-pack", action="store_true",
                       help="store the index in <pack>/distractors/ (ship it with the pack)")
    build.add_argument("--embedder", choices=["tfidf", "openai"], default="tfidf",
                       help="tfidf (default, offline) or an OpenAI-compatible /v1/embeddings "
                            "endpoint")
    build.add_argument("--model", help="embedding model (with --embedder openai)")
    build.add_argument("--base-url", help="endpoint (default: OPENAI_BASE_URL)")
    build.add_argument("--api-key", help="key (default: OPENAI_API_KEY)")
    build.add_argument("--high", type=float, default=0.85, help="high band: above (0.85)")
    build.add_argument("--low", type=float, default=0.4, help="low band: below (0.4)")
    build.add_argument("--json", action="store_true", help="one JSON line per pack")
    build.set_defaults(handler=build_command)


def _embedder_option(args: argparse.Namespace) -> Any:
    if args.embedder == "tfidf":
        return "tfidf"
    if not args.model:
        raise ValueError("--embedder openai needs --model")
    option = {"type": "openai", "model": args.model}
    if args.base_url:
        option["base_url"] = args.base_url
    if args.api_key:
        option["api_key"] = args.api_key
    return option


def build_command(args: argparse.Namespace) -> int:
    """Run ``astra-gym distractors build``.

    Args:
        args: The parsed arguments.

    Returns:
        The exit status.
    """
    from . import Thresholds, build_index, embedder_from_options, index_path, pool_packs
    from .embedders import default_cache_dir
    from .pool import resolve_pack

    try:
        packs = [resolve_pack(entry) for entry in args.packs]
        pool_entries = args.pool or args.packs
        if args.out and len(packs) > 1:
            raise ValueError("--out takes one PACK; use --cache-dir for several")
        thresholds = Thresholds(high=args.high, low=args.low)
        embedder_option = _embedder_option(args)
        embedder = embedder_from_options(embedder_option, args.cache_dir)
        pool = pool_packs(pool_entries, packs[0])
    except (ValueError, FileNotFoundError) as exc:
        print(f"astra-gym distractors build: error: {exc}", file=sys.stderr)
        return 2
    pool_option = [str(item.path) for item in pool]
    for pack in packs:
        start = time.perf_counter()
        try:
            index = build_index(pack, pool, embedder, thresholds)
        except Exception as exc:  # an endpoint that fails: one line, not a traceback
            print(f"astra-gym distractors build: error: {pack.name}: {type(exc).__name__}: "
                  f"{exc}", file=sys.stderr)
            return 1
        if args.out:
            path = index.save(args.out)
        else:
            root = pack.path if args.beside_pack else Path(args.cache_dir or default_cache_dir())
            path = index.save(index_path(root, pack, index.key))
        seconds = time.perf_counter() - start
        counts = [[len(band) for band in index.task_candidates(task)] for task in pack]
        means = {band: round(sum(row[i] for row in counts) / max(1, len(counts)), 2)
                 for i, band in enumerate(("high", "medium", "low"))}
        option: dict[str, Any] = {"k": 3}
        if pool_option != [str(pack.path)]:  # the default pool is the pack itself
            option["pool"] = pool_option
        if embedder_option != "tfidf":  # the key stays out of the output (OPENAI_API_KEY)
            option["embedder"] = {k: v for k, v in embedder_option.items() if k != "api_key"}
        if (args.high, args.low) != (0.85, 0.4):
            option["thresholds"] = thresholds.to_dict()
        if args.out:
            option["index"] = str(path)
        elif args.cache_dir:
            option["cache_dir"] = args.cache_dir
        record = {"pack": pack.name, "index": str(path), "key": index.key[:20],
                  "pool_tools": len(index.pool), "in_scope_tools": len(index.bands),
                  "tasks": len(counts), "mean_candidates_per_task": means,
                  "seconds": round(seconds, 3), "distractors": option}
        if args.json:
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(f"{pack.name}: {len(index.pool)} pool tools, {len(index.bands)} in-scope "
                  f"tools, {len(counts)} tasks; candidates per task (mean) high "
                  f"{means['high']}, medium {means['medium']}, low {means['low']}; "
                  f"{seconds:.2f} s -> {path}")
            print(f"  use: gym.make(..., distractors={json.dumps(option)})")
    return 0
