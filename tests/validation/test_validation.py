"""The validation checks: the demo pack passes all; each broken pack fails exactly its checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import gymnasium as gym
import pytest
from broken_packs import (
    BROKEN,
    EXPECTED_FAILURES,
    SOUND_SOURCE,
    WARNED,
    GenerousEnv,
    LeakyEnv,
    NoFpsEnv,
    ProcessBoundEnv,
    write_broken_pack,
)

from astra_gym.cli import main
from astra_gym.pack import SubTask, Task, TaskSource, Tool, write_pack
from astra_gym.validation import (
    CHECKS,
    POLICY,
    POLICY_VERSION,
    CheckOptions,
    installed_location,
    validate,
)

FAST = CheckOptions(max_examples=10)


def failing(report):
    assert not [r for r in report.results if r.status == "errored"], [
        (r.check, r.message) for r in report.results if r.status == "errored"]
    return {r.check for r in report.results if r.status == "failed"}


def test_the_sound_pack_passes_every_check(tmp_path):
    report = validate(write_broken_pack(tmp_path / "sound", None), options=FAST)
    assert failing(report) == set() and report.ok and report.strict_ok
    assert {r.check for r in report.results} == set(CHECKS)
    assert {r.status for r in report.results} == {"passed"}
    assert report.gaps()["temps"] >= 0.5


def test_every_check_has_a_policy_entry_with_a_severity():
    assert list(POLICY) == list(CHECKS)
    assert {spec.severity for spec in POLICY.values()} == {"error", "warning"}
    assert POLICY["seed_dependence"].severity == "warning"
    assert all(spec.summary for spec in POLICY.values())


MESSAGES = {
    "gold": "unsolved: 2 (answer '5.5 °C'",
    "leaky_description": "'18.5 °C' appears in the tool",
    "leakage": "sub-task 2's gold call get_city_temp passes its own answer '4.0 °C'",
    "gameability": "adversary scores",
    "seeded_answer": "under episode seed",
    "final_answer": "is not a success: the final answer",
    "fuzz": "KeyError",
    "schema_agreement": "schema property 'units' is not a parameter",
}


@pytest.mark.parametrize("defect", list(BROKEN))
def test_each_broken_pack_fails_exactly_its_checks(tmp_path, defect):
    report = validate(write_broken_pack(tmp_path / defect, defect), options=FAST)
    assert failing(report) == EXPECTED_FAILURES[defect], [
        (r.check, r.message) for r in report.results if r.status != "passed"]
    assert not report.ok
    check = {"leaky_description": "leakage", "seeded_answer": "gold",
             "final_answer": "gold"}.get(defect, defect)
    message = next(r.message for r in report.results if r.check == check)
    assert MESSAGES[defect] in message, message


def test_a_seed_dependent_tool_is_a_warning_not_a_failure(tmp_path):
    report = validate(write_broken_pack(tmp_path / "seeded", "seed_dependence"), options=FAST)
    statuses = {r.check: r.status for r in report.results}
    assert statuses["seed_dependence"] == "warning" and statuses["gold"] == "passed"
    assert {s for c, s in statuses.items() if c != "seed_dependence"} == {"passed"}
    assert report.ok and not report.strict_ok
    assert "passed with 1 warning(s)" in report.format_table()
    assert set(WARNED) == {"seed_dependence"}


def test_gameability_reports_every_adversary_and_the_gap(tmp_path):
    report = validate(write_broken_pack(tmp_path / "g", "gameability"), ["gameability"],
                      options=FAST)
    (result,) = report.results
    assert set(result.details["scores"]) == {"spam", "guess", "echo", "dump", "question"}
    assert result.details["gap"] < 0.5 and report.gaps() == {"temps": result.details["gap"]}
    assert "gameability gap (gold return - best adversary): smallest" in report.format_table()


def test_gameability_catches_an_env_that_pays_for_echoes(tmp_path, monkeypatch):
    """The failing direction of the echo adversary: an env without the echo rule is
    gameable by passing the answer in."""
    import astra_gym.rewards

    pack = write_broken_pack(tmp_path / "sound", None)
    assert validate(pack, ["gameability"], options=FAST).ok
    monkeypatch.setattr(astra_gym.rewards, "solves", lambda text, answer, echoed: True)
    monkeypatch.setattr(astra_gym.rewards, "is_error_shaped", lambda output: False)
    report = validate(pack, ["gameability"], options=FAST)
    (result,) = report.results
    assert result.status == "failed" and result.details["scores"]["echo"] == 1.0, result


def answer_only_pack(directory):
    tool = Tool("get_city_temp", "Current temperature of a city.", {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        SOUND_SOURCE, "get_city_temp")
    task = Task(task_id="rl-temps", source=TaskSource("rl.jsonl", 1, None), domain="weather",
                language="en", prompt=({"role": "user", "content": "How warm is Paris?"},),
                final_answer=None,
                subtasks=(SubTask("get_city_temp#1", None, "18.5 °C", (), 1, True,
                                  "get_city_temp", None),), tools=(tool,))
    write_pack(directory, "rl-temps", 0, [task], validation={"rows": 1, "compiled": 1,
                                                              "rejected": 0})
    return directory


def test_an_answer_only_task_is_not_applicable_for_gold_and_passes_the_rest(tmp_path):
    report = validate(answer_only_pack(tmp_path / "rl"), options=FAST)
    statuses = {r.check: r.status for r in report.results}
    assert statuses.pop("gold") == "not_applicable"
    assert set(statuses.values()) == {"passed"}, report.format_table()
    gold = next(r for r in report.results if r.check == "gold")
    assert "no gold call (a released RL row)" in gold.message
    assert "replay" not in gold.message.split(":")[0]  # no advice to replay missing calls
    assert report.ok


@pytest.mark.parametrize(("runtime", "expected"), [
    # noop and gameability's "question" adversary both see an unearned success
    (GenerousEnv, {"noop", "gameability"}),
    (NoFpsEnv, {"check_env"}),
])
def test_a_broken_runtime_fails_its_checks(tmp_path, runtime, expected):
    pack = write_broken_pack(tmp_path / runtime.__name__, None)
    env_id = f"astra-test/{runtime.__name__.lower()}-v0"
    gym.register(id=env_id, entry_point=runtime, kwargs={"pack": str(pack)})
    try:
        report = validate(env_id, options=FAST)
    finally:
        del gym.registry[env_id]
    assert failing(report) == expected, report.format_table()
    if runtime is NoFpsEnv:
        message = next(r.message for r in report.results if r.check == "check_env")
        assert "No render fps was declared" in message and "\x1b" not in message


def test_a_process_dependent_runtime_fails_determinism_only(tmp_path):
    pack = write_broken_pack(tmp_path / "pid", None)
    gym.register(id="astra-test/pid-v0", entry_point=ProcessBoundEnv, kwargs={"pack": str(pack)})
    try:
        report = validate("astra-test/pid-v0", options=FAST)
    finally:
        del gym.registry["astra-test/pid-v0"]
    assert failing(report) == {"determinism"}
    assert "another PYTHONHASHSEED" in next(r.message for r in report.results
                                            if r.check == "determinism")


def test_an_empty_pack_fails_validation(tmp_path, capsys):
    write_pack(tmp_path / "empty", "empty", 0, [], validation={"rows": 0, "compiled": 0,
                                                               "rejected": 0})
    report = validate(tmp_path / "empty")
    assert not report.ok and report.problems and "no tasks" in report.problems[0]
    assert main(["validate", str(tmp_path / "empty"), "--jobs", "1"]) == 1
    assert "PACK PROBLEM: the pack has no tasks" in capsys.readouterr().out


def test_a_slow_tool_is_time_boxed_and_named(tmp_path):
    slow = SOUND_SOURCE.replace('    VISITS.append(key)\n',
                                '    VISITS.append(key)\n') .replace(
        '    key = city.strip().lower()\n',
        '    key = city.strip().lower()\n    _ = sum(i for i in range(20000))\n')
    write_pack(tmp_path / "slow", "slow", 0, [_slow_task(slow)],
               validation={"rows": 1, "compiled": 1, "rejected": 0})
    options = CheckOptions(max_examples=1000, fuzz_seconds=0.5)
    report = validate(tmp_path / "slow", ["fuzz"], options=options)
    (result,) = report.results
    assert result.status == "warning", result
    assert "tool 'get_city_temp'" in result.message and "time box" in result.message
    assert result.seconds < 60  # the box held: 1000 examples per property would not


def _slow_task(source):
    from broken_packs import _task
    return _task(source=source)


def test_validate_leaves_no_hypothesis_directory_in_the_working_directory(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_STORAGE_DIRECTORY"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    work = tmp_path / "work"
    work.mkdir()
    pack = write_broken_pack(tmp_path / "pack", None)  # one sound task: fuzz runs hypothesis
    done = subprocess.run([sys.executable, "-m", "astra_gym.cli", "validate", str(pack),
                           "--checks", "fuzz", "--max-examples", "3", "--jobs", "1"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert list(work.iterdir()) == []
    assert (tmp_path / "cache" / "astra-gym" / "hypothesis").is_dir()


def test_state_leaking_across_resets_fails_isolation_only(tmp_path):
    pack = write_broken_pack(tmp_path / "leaky", None)
    gym.register(id="astra-test/leaky-v0", entry_point=LeakyEnv, kwargs={"pack": str(pack)})
    try:
        report = validate("astra-test/leaky-v0", options=FAST)
    finally:
        del gym.registry["astra-test/leaky-v0"]
    assert failing(report) == {"isolation"}
    message = next(r.message for r in report.results if r.check == "isolation")
    assert "leaked into the next one" in message


@pytest.mark.slow
def test_demo_pack_passes_every_check():
    report = validate("astra/demo-v0", jobs=2)
    assert failing(report) == set()
    assert len(report.results) == len(CHECKS) * 66


def test_cli_json_lines_exit_codes_and_manifest(tmp_path, capsys):
    sound = write_broken_pack(tmp_path / "sound", None)
    assert main(["validate", str(sound), "--checks", "gold,leakage", "noop", "--json",
                 "--jobs", "1", "--write-manifest"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["task_id"], line["check"], line["status"]) for line in lines[:-1]] == [
        ("temps", "gold", "passed"), ("temps", "leakage", "passed"), ("temps", "noop", "passed")]
    assert lines[0]["severity"] == "error"
    assert lines[-1]["ok"] is True and lines[-1]["summary"]["gold"]["passed"] == 1
    assert lines[-1]["policy"] == POLICY_VERSION
    manifest = json.loads((sound / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["validation"]["policy"] == POLICY_VERSION
    assert manifest["validation"]["checks"]["leakage"] == {
        "severity": "error", "passed": 1, "failed": 0, "warning": 0, "not_applicable": 0,
        "errored": 0}

    broken = write_broken_pack(tmp_path / "gold", "gold")
    assert main(["validate", str(broken), "--checks", "gold", "--jobs", "1"]) == 1
    out = capsys.readouterr().out
    assert "FAILED gold temps:" in out and "gold              error         0      1" in out

    warned = write_broken_pack(tmp_path / "warned", "seed_dependence")
    assert main(["validate", str(warned), "--checks", "seed_dependence", "--jobs", "1"]) == 0
    assert main(["validate", str(warned), "--checks", "seed_dependence", "--jobs", "1",
                 "--strict"]) == 1
    assert "WARNING seed_dependence temps" in capsys.readouterr().out
    assert main(["validate", "astra/nope-v0"]) == 2
    assert main(["validate", str(broken), "--checks", "bogus"]) == 2
    assert "unknown check" in capsys.readouterr().err


@pytest.mark.slow
def test_write_manifest_refuses_an_installed_pack(tmp_path, capsys):
    """A real pip install (offline, into a target directory): the installed copy's files
    belong to pip, so --write-manifest refuses before running any check."""
    from astra_gym.pack.packaging import write_packaging

    source = write_broken_pack(tmp_path / "src", None)
    write_packaging(source, "broken-none", 0, 1, "0.1")
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target),
                    str(source)], check=True, capture_output=True, text=True)
    (installed,) = [p for p in target.iterdir() if (p / "manifest.json").is_file()]
    assert installed_location(installed) is not None
    assert installed_location(source) is None
    before = (installed / "manifest.json").read_bytes()
    assert main(["validate", str(installed), "--checks", "leakage", "--jobs", "1",
                 "--write-manifest"]) == 2
    assert "never edits installed files" in capsys.readouterr().err
    assert (installed / "manifest.json").read_bytes() == before


def test_a_tool_shared_by_tasks_is_fuzzed_once_and_judged_for_each(tmp_path, monkeypatch):
    import dataclasses

    import astra_gym.validation.checks as checks

    monkeypatch.setattr(checks, "_TOOL_FUZZ", {})
    from broken_packs import _task

    broken = BROKEN["fuzz"]()
    sound = _task()
    tasks = [dataclasses.replace(broken, task_id="broken-a"),
             dataclasses.replace(broken, task_id="broken-b"),
             dataclasses.replace(sound, task_id="sound")]  # same tool name, other source
    write_pack(tmp_path / "shared", "shared", 0, tasks,
               validation={"rows": 3, "compiled": 3, "rejected": 0})
    runs = []
    real = checks._remember_tool_fuzz
    monkeypatch.setattr(checks, "_remember_tool_fuzz",
                        lambda key, outcome: (runs.append(key[2]), real(key, outcome)))
    report = validate(tmp_path / "shared", ["fuzz"], options=CheckOptions(max_examples=10))
    by_task = {result.task_id: result for result in report.results}
    assert runs == ["get_city_temp", "get_city_temp"]  # broken once, sound once
    assert by_task["broken-a"].status == by_task["broken-b"].status == "failed"
    assert by_task["broken-a"].message == by_task["broken-b"].message
    assert "KeyError" in by_task["broken-a"].message
    assert by_task["sound"].status == "passed"


@pytest.mark.parametrize(("target", "fragment"), [
    ("generated_envs/mypack", "no pack directory at 'generated_envs/mypack'"),
    ("mypack/", "no pack directory at 'mypack/'"),
    ("astra/dmeo-v0", "unknown env id 'astra/dmeo-v0'. Did you mean astra/demo-v0?"),
])
def test_a_wrong_target_says_what_is_wrong_in_our_words(target, fragment):
    with pytest.raises(ValueError) as caught:
        validate(target, ["noop"])
    assert fragment in str(caught.value)
    assert "Namespace" not in str(caught.value) and "Malformed" not in str(caught.value)


def test_validate_json_keeps_stdout_clean_and_quiet_is_accepted(capsys):
    assert main(["validate", "astra/demo-v0", "--checks", "noop", "--json", "--quiet",
                 "--jobs", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out and all(json.loads(line) for line in out)
