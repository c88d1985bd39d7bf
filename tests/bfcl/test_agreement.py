"""Acceptance: the env's verdict agrees with BFCL's ``multi_turn_checker`` on perturbed runs.

Hypothesis perturbs the ground truth of random entries of the four categories
(dropped, altered, renamed, extra, misplaced and swapped calls, skipped turns,
calls split over steps), plays the result through the env, and asks BFCL's own
checker about the same calls. The agreement rate must be at least 99%; the
disagreements found are explained in docs/bfcl.md. Set
``ASTRA_BFCL_AGREEMENT_REPORT=<file>`` to write the counts and every disagreement as JSON.
"""

from __future__ import annotations

import pytest

pytest.importorskip("bfcl_eval", reason='needs: python -m pip install --no-deps '
                    '"bfcl-eval==2026.3.23" mpmath')

import copy
import itertools
import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from official import call_string, official_verdict

from astra_gym.bfcl.judge import ground_truth_by_turn
from astra_gym.bfcl.source import CATEGORIES
from astra_gym.env import AstraEnv

OPS = ("drop", "alter", "rename", "extra", "misplace", "swap", "skip_turn", "no_op_call")
#: Examples per run (derandomized: the same sample every run); more with
#: ``ASTRA_BFCL_AGREEMENT_EXAMPLES`` (docs/bfcl.md reports a 4,000-example run).
EXAMPLES = int(os.environ.get("ASTRA_BFCL_AGREEMENT_EXAMPLES", "400"))

Call = tuple[str, dict[str, Any]]


def _altered(data: st.DataObject, value: Any, pool: list[Any]) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return data.draw(st.sampled_from([value + 1, value * 2, -value, str(value)]))
    if isinstance(value, str):
        return data.draw(st.sampled_from([value + "_x", "", value.upper(), *pool[:3]]))
    if isinstance(value, list):
        return data.draw(st.sampled_from([value[:-1], [], [*value, *value[:1]]]))
    if isinstance(value, dict):
        return {}
    return "x"


def _perturb(data: st.DataObject, turns: list[list[Call]], tools: list[str]) -> list[list[Call]]:
    turns = copy.deepcopy(turns)
    strings = [v for calls in turns for _, args in calls for v in args.values()
               if isinstance(v, str)]
    for op in data.draw(st.lists(st.sampled_from(OPS), min_size=1, max_size=3), label="ops"):
        filled = [index for index, calls in enumerate(turns) if calls]
        if op == "skip_turn" and filled:
            turns[data.draw(st.sampled_from(filled))] = []
        elif op in ("drop", "alter", "rename", "misplace", "swap") and filled:
            turn = data.draw(st.sampled_from(filled))
            index = data.draw(st.integers(0, len(turns[turn]) - 1))
            name, args = turns[turn][index]
            if op == "drop":
                del turns[turn][index]
            elif op == "alter" and args:
                key = data.draw(st.sampled_from(sorted(args)))
                how = data.draw(st.sampled_from(["value", "value", "missing", "unknown"]))
                if how == "missing":
                    args = {k: v for k, v in args.items() if k != key}
                elif how == "unknown":
                    args = {**args, "bogus_argument": 1}
                else:
                    args = {**args, key: _altered(data, args[key], strings)}
                turns[turn][index] = (name, args)
            elif op == "rename":
                turns[turn][index] = (data.draw(st.sampled_from(tools)), args)
            elif op == "misplace":
                call = turns[turn].pop(index)
                target = data.draw(st.integers(0, len(turns) - 1))
                turns[target].insert(data.draw(st.integers(0, len(turns[target]))), call)
            elif op == "swap" and len(turns[turn]) > 1:
                other = data.draw(st.integers(0, len(turns[turn]) - 1))
                turns[turn][index], turns[turn][other] = turns[turn][other], turns[turn][index]
        elif op == "extra":
            every = [call for calls in turns for call in calls] or [("ls", {})]
            call = data.draw(st.sampled_from(every))
            target = data.draw(st.integers(0, len(turns) - 1))
            turns[target].insert(data.draw(st.integers(0, len(turns[target]))), call)
        elif op == "no_op_call":  # a call with no arguments: often harmless, sometimes not
            target = data.draw(st.integers(0, len(turns) - 1))
            turns[target].append((data.draw(st.sampled_from(tools)), {}))
    return turns


def _steps(data: st.DataObject, calls: list[Call]) -> list[list[Call]]:
    """Split a turn's calls into steps: all at once, one per step, or random cuts."""
    if not calls:
        return []
    how = data.draw(st.sampled_from(["one", "one", "each", "cuts"]), label="split")
    if how == "one":
        return [calls]
    if how == "each":
        return [[call] for call in calls]
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(1, len(calls) - 1)), max_size=3))))
    bounds = [0, *[cut for cut in cuts if cut < len(calls)], len(calls)]
    return [calls[a:b] for a, b in itertools.pairwise(bounds) if calls[a:b]]


def _play(env: AstraEnv, task_id: str, steps: list[list[list[Call]]]) -> dict[str, Any]:
    env.reset(seed=0, options={"task_id": task_id})
    info: dict[str, Any] = {}
    for turn in steps:
        for step in turn:
            action = {"role": "assistant", "content": None, "tool_calls": [
                {"id": f"c{index}", "type": "function",
                 "function": {"name": name, "arguments": json.dumps(args)}}
                for index, (name, args) in enumerate(step)]}
            _, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                return info["bfcl"]
        _, _, terminated, truncated, info = env.step("Done.")
        if terminated or truncated:
            return info["bfcl"]
    raise AssertionError("the episode did not end after its last user turn")


@pytest.mark.slow
def test_env_verdict_agrees_with_multi_turn_checker(bfcl_packs):
    envs = {category: AstraEnv(path, max_calls_per_turn=64)
            for category, path in bfcl_packs.items()}
    outcomes: list[dict[str, Any]] = []

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data: st.DataObject) -> None:
        category = data.draw(st.sampled_from(list(CATEGORIES)), label="category")
        env = envs[category]
        task_id = data.draw(st.sampled_from(env.task_ids), label="entry")
        task = env.pack.task(task_id)
        truth = [[(name, args) for _, name, args in calls]
                 for calls in ground_truth_by_turn(task)]
        turns = _perturb(data, truth, sorted(tool.name for tool in task.tools))
        steps = [_steps(data, calls) for calls in turns]
        mine = _play(env, task_id, steps)
        theirs = official_verdict(category, task_id, [[[call_string(n, a) for n, a in step]
                                                       for step in turn] for turn in steps])
        outcomes.append({"category": category, "entry": task_id, "env": mine, "bfcl": theirs,
                         "steps": steps})

    run()
    for env in envs.values():
        env.close()
    agree = [o for o in outcomes if o["env"]["valid"] == o["bfcl"]["valid"]]
    same_error = [o for o in agree if o["env"]["error_type"] == o["bfcl"]["error_type"]]
    disagreements = [o for o in outcomes if o not in agree]
    report = os.environ.get("ASTRA_BFCL_AGREEMENT_REPORT")
    if report:
        with open(report, "w", encoding="utf-8") as handle:
            json.dump({"examples": len(outcomes), "agree": len(agree),
                       "same_error_type": len(same_error),
                       "valid_by_bfcl": sum(o["bfcl"]["valid"] for o in outcomes),
                       "disagreements": disagreements}, handle, indent=1)
    assert len(outcomes) >= EXAMPLES * 0.9
    # Both verdicts occur often enough for the rate to mean something.
    assert 0.05 < sum(o["bfcl"]["valid"] for o in outcomes) / len(outcomes) < 0.95
    assert len(agree) / len(outcomes) >= 0.99, disagreements[:3]
    assert len(same_error) / len(outcomes) >= 0.99
