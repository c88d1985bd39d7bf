"""Acceptance: BFCL's ground truth, replayed through the env, succeeds wherever BFCL says valid."""

from __future__ import annotations

import pytest

pytest.importorskip("bfcl_eval", reason='needs: python -m pip install --no-deps '
                    '"bfcl-eval==2026.3.23" mpmath')

from official import entries, official_replay, official_verdict

from astra_gym.bfcl.agents import GroundTruthAgent, ground_truth_script
from astra_gym.bfcl.source import CATEGORIES
from astra_gym.env import AstraEnv
from astra_gym.pack import Pack
from astra_gym.runner import run_episode


@pytest.mark.slow
@pytest.mark.parametrize("category", list(CATEGORIES))
def test_ground_truth_replay_succeeds_on_every_entry_bfcl_marks_valid(bfcl_packs, category):
    env = AstraEnv(bfcl_packs[category], max_calls_per_turn=64)
    agent = GroundTruthAgent(env.pack)
    rows = entries(category)
    assert list(env.task_ids) == list(rows)  # every entry imported, in BFCL's order
    failures = []
    checked = 0
    for task_id, (_, truth) in rows.items():
        if not official_verdict(category, task_id, [[turn] for turn in truth])["valid"]:
            continue
        checked += 1
        result = run_episode(env, agent, seed=0, task_id=task_id)
        if not (result.success and result.terminated and abs(result.reward - 1.0) < 1e-9):
            failures.append((task_id, result.components))
    env.close()
    assert checked == len(rows)  # BFCL marks all of its own ground truth valid
    assert not failures, failures[:3]


def test_ground_truth_in_one_call_per_step_also_succeeds(bfcl_packs):
    env = AstraEnv(bfcl_packs["miss_func"])
    task = env.pack.task("multi_turn_miss_func_0")
    from astra_gym.bfcl.agents import ScriptedTurnsAgent

    script = ground_truth_script(task, calls_per_step=1)
    result = run_episode(env, ScriptedTurnsAgent(script), seed=3, task_id=task.task_id)
    assert result.success and result.reward == pytest.approx(1.0)
    assert result.turns == sum(len(steps) + 1 for steps in script)


@pytest.mark.slow
@pytest.mark.parametrize("category", list(CATEGORIES))
def test_backend_replays_ground_truth_exactly_as_bfcl_executes_it(bfcl_packs, category):
    """Same initial state, same result texts and same state after every turn as BFCL's eval."""
    from types import SimpleNamespace

    from astra_gym.bfcl.backend import BackendInstances
    from astra_gym.bfcl.judge import ground_truth_by_turn

    pack = Pack(bfcl_packs[category])
    mismatches = []
    for task in pack:
        ours = BackendInstances(task.backend)
        for turn, ((results, instances), calls) in enumerate(
                zip(official_replay(category, task.task_id), ground_truth_by_turn(task),
                    strict=True)):
            mine = [ours.call(name, arguments)[1] for _, name, arguments in calls]
            theirs = SimpleNamespace(instances=instances)
            where = ours.state_mismatch(theirs)  # type: ignore[arg-type]
            if mine != results or where is not None:
                mismatches.append((task.task_id, turn, where))
    assert not mismatches, mismatches[:5]
