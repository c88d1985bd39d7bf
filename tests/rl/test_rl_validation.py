"""`astra-gym validate` accepts envs made with distractors= and failures=."""

from __future__ import annotations

import json
import subprocess
import sys

import gymnasium as gym
import pytest

from astra_gym.pack import demo_pack_path
from astra_gym.validation import validate

OPTIONS = {"distractors": {"k": 3}, "failures": {"p": 0.2}, "sandbox": {"isolation": "inprocess"}}


def test_validate_an_env_id_registered_with_the_options():
    env_id = "astra/demo-rl-options-v0"
    gym.register(env_id, entry_point="astra_gym.env:AstraEnv",
                 kwargs={"pack": str(demo_pack_path()), **OPTIONS})
    try:
        # Tasks where failures once made seed_dependence warn (5+ gold calls) and the spam
        # adversary beat the margin, and a plain one.
        report = validate(env_id, jobs=1, progress=False, task_ids=[
            "demo-ecommerce-008", "demo-travel-010", "demo-weather-001"])
    finally:
        del gym.registry[env_id]
    problems = [(r.check, r.task_id, r.status, r.message[:200]) for r in report.results
                if r.status != "passed"]
    assert report.strict_ok, problems
    # The checks really ran on the env with distractors (fuzz reached their tools too).
    assert {r.check for r in report.results} >= {"determinism", "fuzz", "gold", "leakage"}


@pytest.mark.slow
def test_the_cli_takes_env_kwargs():
    command = [sys.executable, "-m", "astra_gym.cli", "validate", "astra/demo-v0", "--checks",
               "determinism,fuzz,seed_dependence,gameability", "--max-examples", "2",
               "--jobs", "2", "--quiet", "--json", "--env-kwargs", json.dumps(OPTIONS)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["ok"] and summary["summary"]["fuzz"]["passed"] == 66
    bad = subprocess.run([*command[:5], "--env-kwargs", "[1]"], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and "--env-kwargs must be a JSON object" in bad.stderr
