"""Parse cost of one assistant turn, per native tool-call format, and of plain final answers.

``env.step`` parses every turn, so this is on the hot path of every rollout. In one run:

* a typical turn in each format: reasoning, one sentence, two parallel calls
  (as :func:`~astra_gym.parsers.render_calls` writes them), parsed with the
  format forced and with ``auto`` (the env's default), and the ratio: the
  price of detecting the format by its markers;
* plain prose final answers (a short answer, a sentence that mentions
  ``f(x)``, a long markdown answer), parsed under ``auto`` as the env does,
  next to what one :func:`ast.parse` of the same text costs: the cheap
  pre-check in front of Python-call parsing means a final answer never pays it.

The env passes its tool names and schemas, so this does too. Each figure is the
median over rounds of 1,000 calls each.

Usage:
    python benchmarks/bench_parsers.py [--quick] [--json OUT]
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import statistics
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sandbox import machine

from astra_gym.parsers import CALL_FORMATS, parse_action, render_calls

TOOLS = ("get_weather", "get_time", "search_products", "convert_currency")
SCHEMAS = {
    "get_weather": {"type": "object", "properties": {"city": {"type": "string"},
                                                     "days": {"type": "integer"}}},
    "get_time": {"type": "object", "properties": {"city": {"type": "string"}}},
}
CALLS = [("get_weather", {"city": "Paris", "days": 3}), ("get_time", {"city": "Paris"})]
READER = {"mistral_v3": "mistral", "deepseek_v3": "deepseek", "deepseek_v32": "deepseek"}
#: How each family writes its reasoning before the calls (gpt-oss: the analysis channel).
REASONING = {"mistral": "[THINK]Weather and time in Paris.[/THINK]",
             "harmony": "<|channel|>analysis<|message|>Weather and time in Paris.<|end|>"
                        "<|start|>assistant"}
PROSE = {
    "short answer": "Paris.",
    "sentence with f(x)": "The answer is f(x) = 2x + 1, so at x = 3 it is 7 (see get_weather).",
    "long markdown answer": ("# Summary\n\nThe **Lumen Desk Lamp** costs 89.50 USD and the "
                             "*Halo Floor Lamp* 164.00 USD; both ship from Reno, NV.\n\n"
                             "- Lumen: 4.6/5 (1,204 reviews)\n- Halo: 4.3/5 (611 reviews)\n\n"
                             "Overall, I would pick the Lumen lamp. ") * 3,
}


def typical_turn(call_format: str) -> str:
    reader = READER.get(call_format, call_format)
    content = "" if call_format in ("json", "python") else "I'll check both."
    text = render_calls(CALLS, call_format, content=content)
    if call_format in ("json", "python"):
        return text
    return REASONING.get(reader, "<think>Weather and time in Paris.</think>\n") + text


def paired_us(first, second, number: int, repeat: int) -> tuple[list[float], list[float]]:
    """Per-call µs of two functions, timed in alternating rounds.

    A shared machine's load then weighs on both alike, and the ratio of each round
    (second / first) is a fair price of the difference.
    """
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for func, out in zip((first, second), times, strict=True):
            out.append(timeit.timeit(func, number=number) / number * 1e6)
    return times


def run(quick: bool) -> dict:
    number, repeat = (300, 3) if quick else (1000, 15)
    rows = []
    for call_format in CALL_FORMATS:
        text = typical_turn(call_format)
        reader = READER.get(call_format, call_format)
        for action_format in (reader, "auto"):
            turn = parse_action(text, action_format, TOOLS, tool_schemas=SCHEMAS)
            got = [(call.name, call.arguments) for call in turn.calls]
            assert got == CALLS and not turn.errors, (call_format, action_format, turn)
        forced, auto = paired_us(
            lambda text=text, reader=reader: parse_action(text, reader, TOOLS,
                                                          tool_schemas=SCHEMAS),
            lambda text=text: parse_action(text, "auto", TOOLS, tool_schemas=SCHEMAS),
            number, repeat)
        rows.append({"format": call_format, "chars": len(text),
                     "forced_us": statistics.median(forced), "auto_us": statistics.median(auto),
                     "ratio": statistics.median(a / f for f, a in zip(forced, auto,
                                                                       strict=True))})
    prose = []
    for name, text in PROSE.items():
        assert parse_action(text, "auto", TOOLS).is_final

        def parse_only(text: str = text) -> None:
            with contextlib.suppress(SyntaxError):
                ast.parse(text)

        auto, ast_parse = paired_us(
            lambda text=text: parse_action(text, "auto", TOOLS, tool_schemas=SCHEMAS),
            parse_only, number, repeat)
        prose.append({"answer": name, "chars": len(text), "auto_us": statistics.median(auto),
                      "ast_parse_us": statistics.median(ast_parse)})
    return {"turns": rows, "prose": prose}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    r = run(args.quick)
    print(f"machine: {machine()}\n")
    print("| format | turn chars | forced | auto | auto / forced |")
    print("|---|---|---|---|---|")
    for row in r["turns"]:
        print(f"| `{row['format']}` | {row['chars']} | {row['forced_us']:.1f} µs | "
              f"{row['auto_us']:.1f} µs | {row['ratio']:.2f} |")
    print("\n| final answer (prose) | chars | `auto` parse | one `ast.parse` of it |")
    print("|---|---|---|---|")
    for row in r["prose"]:
        print(f"| {row['answer']} | {row['chars']} | {row['auto_us']:.2f} µs | "
              f"{row['ast_parse_us']:.1f} µs |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine(), "results": r}, indent=2))


if __name__ == "__main__":
    main()
