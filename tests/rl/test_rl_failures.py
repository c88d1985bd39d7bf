"""Tool-failure injection: rate, messages, seeding, the tool not running, precision, the oracle."""

from __future__ import annotations

import json
import math
from collections import Counter

import gymnasium as gym
import pytest
from rl_packs import write_env_pack

from astra_gym.agents import OracleAgent
from astra_gym.env import AstraEnv
from astra_gym.failures import FAILURE_KINDS, INJECTED_FAILURE, FailureInjector
from astra_gym.rewards import components
from astra_gym.runner import run_episodes, summarize

INPROCESS = {"isolation": "inprocess"}


def calls(name: str, count: int, arguments: dict | None = None) -> dict:
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"c{i}", "type": "function",
         "function": {"name": name, "arguments": json.dumps(arguments or {})}}
        for i in range(count)]}


@pytest.fixture(scope="module")
def env_pack(tmp_path_factory):
    return write_env_pack(tmp_path_factory.mktemp("failures") / "env")


def test_rate_is_within_binomial_bounds_and_kinds_are_uniform(env_pack):
    p, per_turn, episodes = 0.2, 20, 150
    env = AstraEnv(env_pack, sandbox=INPROCESS, failures={"p": p})
    kinds: Counter[str] = Counter()
    total = 0
    try:
        for seed in range(episodes):
            env.reset(seed=seed, options={"task_id": "ticks"})
            _, _, _, _, info = env.step(calls("tick", per_turn))
            total += per_turn
            kinds.update(r["failure"] for r in info["calls"]
                         if r["error_kind"] == INJECTED_FAILURE)
            assert info["reward_components"]["injected_failures"] == sum(
                r["error_kind"] == INJECTED_FAILURE for r in info["calls"])
    finally:
        env.close()
    failed = sum(kinds.values())
    sigma = math.sqrt(total * p * (1 - p))
    assert abs(failed - total * p) < 4.5 * sigma, (failed, total)
    assert set(kinds) == {"timeout", "connection_refused", "service_unavailable"}
    share = total * p / 3
    for count in kinds.values():
        assert abs(count - share) < 4.5 * math.sqrt(share), kinds


def test_p_zero_never_and_p_one_always(env_pack):
    for p, expected in ((0.0, 0), (1.0, 10)):
        env = AstraEnv(env_pack, sandbox=INPROCESS, failures={"p": p})
        env.reset(seed=0, options={"task_id": "ticks"})
        _, _, _, _, info = env.step(calls("tick", 10))
        assert info["reward_components"]["injected_failures"] == expected
        env.close()


def test_a_failed_call_does_not_run_the_tool_and_reads_like_a_real_failure(env_pack):
    env = AstraEnv(env_pack, sandbox=INPROCESS,
                   failures={"p": 0.5, "kinds": list(FAILURE_KINDS)})
    seen = set()
    try:
        for seed in range(5):
            env.reset(seed=seed, options={"task_id": "ticks"})
            ticks = []
            for _ in range(8):
                observation, _, _, _, info = env.step(calls("tick", 1))
                record, content = info["calls"][0], observation[0]["content"]
                if record["error_kind"] == INJECTED_FAILURE:
                    seen.add(record["failure"])
                    assert not record["ok"] and record["solved"] == []
                    assert content == FAILURE_KINDS[record["failure"]].format(tool="tick")
                    assert content.startswith("Error: ") and "tick" in content
                else:
                    ticks.append(json.loads(content)["ticks"])
            # Only the calls that were not failed ran: the counter went 1, 2, 3, ...
            assert ticks == list(range(1, len(ticks) + 1))
    finally:
        env.close()
    assert seen == set(FAILURE_KINDS)
    assert "timed out" in FAILURE_KINDS["timeout"]
    assert "Connection refused" in FAILURE_KINDS["connection_refused"]
    assert "503" in FAILURE_KINDS["service_unavailable"]


def test_draws_are_seeded_per_episode(env_pack):
    env = AstraEnv(env_pack, sandbox=INPROCESS, failures={"p": 0.3})

    def pattern(seed: int) -> list[bool]:
        env.reset(seed=seed, options={"task_id": "ticks"})
        info = env.step(calls("tick", 16))[4]
        return [r["error_kind"] == INJECTED_FAILURE for r in info["calls"]]

    try:
        assert pattern(5) == pattern(5)
        assert len({tuple(pattern(seed)) for seed in range(10)}) >= 8
    finally:
        env.close()


def test_invalid_calls_are_never_injected_failures(env_pack):
    env = AstraEnv(env_pack, sandbox=INPROCESS, failures={"p": 1.0})
    try:
        env.reset(seed=0, options={"task_id": "ticks"})
        info = env.step(calls("nope", 1))[4]
        assert info["calls"][0]["error_kind"] == "unknown_tool"
        info = env.step(calls("tick", 1, {"extra": 1}))[4]
        assert info["calls"][0]["error_kind"] == "invalid_arguments"
        assert info["reward_components"]["injected_failures"] == 0
        assert info["reward_components"]["invalid_calls"] == 2
    finally:
        env.close()


def test_injected_failures_do_not_count_against_precision(env_pack):
    assert components(1, ["a"], 3, 0, injected_failures=2).precision == 1.0
    assert components(1, ["a"], 3, 0).precision == pytest.approx(1 / 3)
    env = AstraEnv(env_pack, sandbox=INPROCESS, failures={"p": 0.5})
    try:
        env.reset(seed=4, options={"task_id": "finance"})
        info = env.step(calls("get_quote", 1))[4]
        assert info["calls"][0]["error_kind"] == INJECTED_FAILURE  # seed 4 fails this call
        while not info["calls"][0]["ok"]:  # retry until the service answers
            info = env.step(calls("get_quote", 1))[4]
        components_ = info["reward_components"]
        assert components_["calls"] == 1 + components_["injected_failures"] >= 2
        assert components_["precision"] == 1.0 and components_["f1"] == 1.0
    finally:
        env.close()


def test_the_oracle_retries_and_reaches_f1_one_on_every_demo_task():
    env = gym.make("astra/demo-v0", failures={"p": 0.3}, distractors={"k": 3},
                   sandbox=INPROCESS)
    try:
        results = run_episodes(env, OracleAgent(env.unwrapped.pack), "all", seed=0)
    finally:
        env.close()
    summary = summarize(results)
    assert summary["mean_f1"] == 1.0 and summary["success_rate"] == 1.0
    assert summary["mean_reward"] == pytest.approx(1.0)
    assert sum(r.components["injected_failures"] for r in results) > 20


def test_options_are_checked():
    assert FailureInjector.from_options(None) is None
    injector = FailureInjector.from_options({"p": 0.1, "kinds": ["timeout"]})
    assert injector.to_dict() == {"p": 0.1, "kinds": ["timeout"]}
    with pytest.raises(ValueError, match="probability"):
        FailureInjector(p=1.5)
    with pytest.raises(ValueError, match="unknown kind"):
        FailureInjector(kinds=("explode",))
    with pytest.raises(ValueError, match="unknown failures option"):
        FailureInjector.from_options({"rate": 0.1})
    with pytest.raises(TypeError):
        FailureInjector.from_options(0.2)  # type: ignore[arg-type]
