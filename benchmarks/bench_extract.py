"""JSON extraction from LLM replies: a typical reply, and hostile input at growing sizes.

``synth.llm.extract.extract_json`` scans every reply the synthesis client
validates. A reply is untrusted text, so its cost must grow linearly with its
length, whatever it holds. This measures, in one run:

* a typical reply: a ``<think>`` block, prose and a fenced JSON object;
* hostile input that fails: ``{[`` repeated, then an unterminated string
  full of backslashes, at 10x steps in size. Linear cost shows as a ~10x
  time ratio per step; quadratic would show ~100x.

Each figure is the median over rounds of one call.

Usage:
    python benchmarks/bench_extract.py [--quick] [--json OUT]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sandbox import machine

from synth.llm.extract import ExtractionError, extract_json

TYPICAL = ("<think>The user wants a city. Paris fits; {not json} here.</think>\n"
           "Here is the answer:\n```json\n"
           + json.dumps({"name": "Paris", "country": "FR", "facts": list(range(20))})
           + "\n```\nAnything else?")


def hostile(units: int) -> str:
    """``{[`` * units + an unterminated string of backslashes (about 4 * units chars)."""
    return "{[" * units + '"' + "\\" * (2 * units + 1)


def _fails(text: str) -> None:
    try:
        extract_json(text)
    except ExtractionError:
        return
    raise AssertionError("hostile input was accepted")


def median_s(func, number: int, repeat: int) -> float:
    return statistics.median(timeit.repeat(func, number=number, repeat=repeat)) / number


def run(quick: bool) -> dict:
    repeat = 3 if quick else 7
    assert extract_json(TYPICAL)["name"] == "Paris"
    typical = median_s(lambda: extract_json(TYPICAL), 200 if quick else 2000, repeat)
    sizes = [2_500, 25_000, 250_000] if quick else [2_500, 25_000, 250_000, 2_500_000]
    rows = []
    for units in sizes:
        text = hostile(units)
        seconds = median_s(lambda text=text: _fails(text), 1, repeat)
        rows.append({"chars": len(text), "seconds": seconds})
    for previous, row in itertools.pairwise(rows):
        row["ratio"] = row["seconds"] / previous["seconds"]
    return {"typical_us": typical * 1e6, "typical_chars": len(TYPICAL), "hostile": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, smaller inputs")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    r = run(args.quick)
    print(f"machine: {machine()}\n")
    print(f"typical reply ({r['typical_chars']} chars): {r['typical_us']:.1f} µs\n")
    print("| hostile input | median | vs 10x smaller |")
    print("|---|---|---|")
    for row in r["hostile"]:
        ratio = f"{row['ratio']:.1f}x" if "ratio" in row else ""
        print(f"| {row['chars']:,} chars | {row['seconds'] * 1e3:.2f} ms | {ratio} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine(), "results": r}, indent=2))


if __name__ == "__main__":
    main()
