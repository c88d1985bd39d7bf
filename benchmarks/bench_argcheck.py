"""Argument validation cost: the compiled fast path against cached jsonschema, in one run.

The schema is a typical tool's ``parameters``: three properties (string,
string, string enum), two of them required, ``additionalProperties: false``.
Each figure is the median over rounds of the mean time of one ``is_valid``
call with valid arguments:

* fast path: ``ArgumentValidator.is_valid`` (the compiled closures);
* compiled check: the function from ``compile_schema`` called directly;
* jsonschema: a cached ``Draft202012Validator(schema).is_valid``.

Also the one-off cost of building an ``ArgumentValidator`` and the cost of
``error()`` on invalid arguments (which always goes through jsonschema).

Usage:
    python benchmarks/bench_argcheck.py [--quick] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import timeit
from importlib.metadata import version
from pathlib import Path

import jsonschema

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sandbox import machine

from astra_gym.argcheck import ArgumentValidator, compile_schema

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "City name, e.g. 'Oslo'"},
        "country": {"type": "string", "description": "ISO 3166 country code"},
        "units": {"type": "string", "enum": ["metric", "imperial"],
                  "description": "Unit system"},
    },
    "required": ["city", "units"],
    "additionalProperties": False,
}
VALID = {"city": "Oslo", "country": "NO", "units": "metric"}
INVALID = {"city": "Oslo", "units": "kelvin"}


def median_us(func, number: int, repeat: int) -> float:
    """Median over ``repeat`` rounds of the mean per-call time of ``number`` calls."""
    return statistics.median(timeit.repeat(func, number=number, repeat=repeat)) / number * 1e6


def run(quick: bool) -> dict:
    """Time every variant; returns the figures in microseconds."""
    n, repeat = (20_000, 5) if quick else (200_000, 9)
    slow_n = n // 10
    validator = ArgumentValidator(SCHEMA)
    check = compile_schema(SCHEMA)
    reference = jsonschema.Draft202012Validator(SCHEMA)
    assert validator.fast and check is not None
    assert validator.is_valid(VALID) and check(VALID) and reference.is_valid(VALID)
    assert not validator.is_valid(INVALID) and not reference.is_valid(INVALID)

    is_valid = validator.is_valid
    fast = median_us(lambda: is_valid(VALID), n, repeat)
    direct = median_us(lambda: check(VALID), n, repeat)
    baseline = median_us(lambda: reference.is_valid(VALID), slow_n, repeat)
    fast_invalid = median_us(lambda: is_valid(INVALID), n, repeat)
    baseline_invalid = median_us(lambda: reference.is_valid(INVALID), slow_n, repeat)
    error = median_us(lambda: validator.error(INVALID), slow_n // 4, repeat)
    build = median_us(lambda: ArgumentValidator(SCHEMA), slow_n // 4, repeat)
    return {
        "fast_us": fast, "compiled_us": direct, "jsonschema_us": baseline,
        "speedup": baseline / fast,
        "fast_invalid_us": fast_invalid, "jsonschema_invalid_us": baseline_invalid,
        "error_us": error, "build_us": build,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke run)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    r = run(args.quick)
    print(f"machine: {machine()}; jsonschema {version('jsonschema')}\n")
    print("3-property schema (string, string, enum; 2 required; additionalProperties false), "
          "median µs per call\n")
    print("| call | fast path | compiled check | cached jsonschema | speed-up |")
    print("|---|---|---|---|---|")
    print(f"| is_valid, valid args | {r['fast_us']:.2f} µs | {r['compiled_us']:.2f} µs "
          f"| {r['jsonschema_us']:.2f} µs | {r['speedup']:.0f}x |")
    print(f"| is_valid, invalid args | {r['fast_invalid_us']:.2f} µs | | "
          f"{r['jsonschema_invalid_us']:.2f} µs | "
          f"{r['jsonschema_invalid_us'] / r['fast_invalid_us']:.0f}x |")
    print(f"\nerror() on invalid args: {r['error_us']:.1f} µs; "
          f"building an ArgumentValidator: {r['build_us']:.1f} µs")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine(),
                                         "jsonschema": version("jsonschema"), "results": r},
                                        indent=2))


if __name__ == "__main__":
    main()
