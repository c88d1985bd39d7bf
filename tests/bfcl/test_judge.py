"""Turn-by-turn judging of BFCL episodes in the env: verdicts, error types, step limits, rewards."""

from __future__ import annotations

import pytest

pytest.importorskip("bfcl_eval", reason='needs: python -m pip install --no-deps '
                    '"bfcl-eval==2026.3.23" mpmath')

import json

from official import call_string, official_verdict

from astra_gym.bfcl.agents import ScriptedTurnsAgent, ground_truth_script
from astra_gym.bfcl.judge import (
    EMPTY_TURN,
    FORCE_TERMINATED,
    RESPONSE_MISMATCH,
    STATE_MISMATCH,
    TurnJudge,
)
from astra_gym.env import AstraEnv
from astra_gym.runner import run_episode

ENTRY = "multi_turn_base_0"


def play(env, task_id, script):
    result = run_episode(env, ScriptedTurnsAgent(script), seed=0, task_id=task_id)
    return result


def last_info(env, script, task_id=ENTRY):
    env.reset(seed=0, options={"task_id": task_id})
    infos = []
    agent = ScriptedTurnsAgent(script)
    agent.reset([], {})
    while True:
        _, _, terminated, truncated, info = env.step(agent.act([], {}))
        infos.append(info)
        if terminated or truncated:
            return info, infos


@pytest.fixture()
def base(bfcl_packs):
    env = AstraEnv(bfcl_packs["base"])
    yield env
    env.close()


def truth(env, task_id=ENTRY):
    return ground_truth_script(env.pack.task(task_id))


def decoded(script):
    return [[[call_string(name, args) for name, args in step] for step in turn]
            for turn in script]


@pytest.mark.parametrize(("edit", "error"), [
    (lambda s: s[0][0].__setitem__(2, ("mv", {"source": "final_report.pdf",
                                              "destination": "tmp"})), STATE_MISMATCH),
    (lambda s: s[1][0].pop(), RESPONSE_MISMATCH),       # the grep dropped
    (lambda s: s[3].clear(), EMPTY_TURN),                # the last turn skipped
])
def test_failures_get_bfcls_error_type(base, edit, error):
    script = truth(base)
    edit(script)
    info, _ = last_info(base, script)
    assert info["bfcl"] == {"valid": False, "error_type": error}
    assert not info["success"]
    assert official_verdict("base", ENTRY, decoded(script))["error_type"] == error


def test_each_passed_turn_keeps_its_credit(base):
    info, infos = last_info(base, truth(base))
    ends = [i for i in infos if "turn_verdict" in i]
    assert [i["turn_verdict"]["valid"] for i in ends] == [True] * 4
    assert info["reward_components"]["n"] == 10
    assert info["reward_components"]["n_solved"] == 10
    assert info["success"] and info["bfcl"] == {"valid": True, "error_type": None}


def test_a_failed_turn_withdraws_its_credit_and_the_return_is_f1(base):
    script = truth(base)
    script[1][0].pop()  # grep missing: turn 1 fails; its cd was credited
    result = play(base, ENTRY, script)
    assert sum(result.rewards) == pytest.approx(result.components["f1"])
    assert "t1.c0" not in result.components["solved"]
    assert "t0.c0" in result.components["solved"]
    assert min(result.rewards) < 0  # the failed turn's end
    assert result.reward < 1.0 and not result.success


def test_a_call_made_turns_too_early_does_not_pay(base):
    script = truth(base)
    grep = script[1][0].pop()
    script[0][0].append(grep)  # the turn-1 grep made in turn 0
    env = base
    env.reset(seed=0, options={"task_id": ENTRY})
    _, _, _, _, info = env.step({"role": "assistant", "content": None, "tool_calls": [
        {"id": str(i), "type": "function",
         "function": {"name": name, "arguments": json.dumps(args)}}
        for i, (name, args) in enumerate(script[0][0])]})
    assert info["calls"][-1]["name"] == "grep" and info["calls"][-1]["solved"] == []


def test_more_than_bfcls_step_limit_in_one_turn_force_quits(base):
    limit = base.pack.task(ENTRY).backend.max_steps_per_turn
    assert limit == 20
    script = truth(base)
    script[0] = [[("pwd", {})]] * limit + script[0]  # 20 extra steps, then the real ones
    info, infos = last_info(base, script)
    assert len(infos) == limit + 1 and not infos[-1].get("turn_verdict")
    assert info["bfcl"] == {"valid": False, "error_type": FORCE_TERMINATED}
    assert official_verdict("base", ENTRY, decoded(script))["error_type"] == FORCE_TERMINATED
    script[0] = [[("pwd", {})]] * (limit - 1) + [script[0][-1]]  # exactly 20: still fine
    assert play(base, ENTRY, script).success


def test_running_out_of_max_turns_is_force_terminated(bfcl_packs):
    env = AstraEnv(bfcl_packs["base"], max_turns=2)
    script = truth(env)
    script[0] = [[call] for call in script[0][0]]  # three steps in turn 0
    info, _ = last_info(env, script)
    assert info["bfcl"] == {"valid": False, "error_type": FORCE_TERMINATED}
    env.close()


def test_miss_func_reveals_the_function_with_bfcls_message(bfcl_packs):
    env = AstraEnv(bfcl_packs["miss_func"])
    _, info = env.reset(seed=0, options={"task_id": "multi_turn_miss_func_0"})
    names = [tool["function"]["name"] for tool in info["tools"]]
    assert "sort" not in names and info["user_turns"] == 5
    for _ in range(3):
        observation, _, _, _, step_info = env.step("I cannot do that with these tools.")
    assert observation == [{"role": "user", "content": "I have updated some more functions "
                                                       "you can choose from. What about now?"}]
    assert step_info["tools_added"] == ["sort"]
    assert [tool["function"]["name"] for tool in step_info["tools"]] == [*names, "sort"]
    env.close()


def test_miss_param_turns_are_not_checked_but_their_calls_run(bfcl_packs):
    env = AstraEnv(bfcl_packs["miss_param"])
    task = env.pack.task("multi_turn_miss_param_0")
    script = ground_truth_script(task)
    empty = next(index for index, steps in enumerate(script) if not steps)
    script[empty] = [[("pwd", {})]]  # a harmless call where none is expected
    info, infos = last_info(env, script, task.task_id)
    verdicts = [i["turn_verdict"] for i in infos if "turn_verdict" in i]
    assert verdicts[empty]["checked"] is False and verdicts[empty]["valid"]
    assert info["success"] == official_verdict(
        "miss_param", task.task_id, decoded(script))["valid"] is True
    assert info["reward_components"]["precision"] < 1.0  # the extra call costs precision
    env.close()


def test_judge_needs_a_backend(bfcl_packs):
    from astra_gym.pack import Pack, Task

    task = Pack(bfcl_packs["base"]).task(ENTRY)
    plain = Task.from_dict({k: v for k, v in task.to_dict().items() if k != "backend"})
    with pytest.raises(ValueError, match="no backend"):
        TurnJudge(plain)


def test_a_pickled_env_continues_the_episode(base):
    import pickle

    script = truth(base)
    base.reset(seed=0, options={"task_id": ENTRY})
    agent = ScriptedTurnsAgent(script)
    agent.reset([], {})
    for _ in range(3):  # turn 0's calls and its end, then turn 1's calls
        base.step(agent.act([], {}))
    copy = pickle.loads(pickle.dumps(base))
    while True:
        _, _, terminated, truncated, info = copy.step(agent.act([], {}))
        if terminated or truncated:
            break
    assert info["success"] and info["reward_components"]["f1"] == pytest.approx(1.0)
    copy.close()
