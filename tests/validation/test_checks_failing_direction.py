"""Every validation check, called directly, fails on the defect it exists for (issue 19).

``test_validation.py`` runs whole reports; these tests call one check at a time on the
sound pack and on one broken variant, so each check's failing direction (and its
boundary) is pinned by a fast test that names the rule: the mutation runs of
``astra_gym/validation/checks.py`` use them (docs/testing.md).
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import re

import gymnasium as gym
import pytest
from broken_packs import (
    DESCRIPTION,
    SCHEMA,
    GenerousEnv,
    LeakyEnv,
    NoFpsEnv,
    _task,
    write_broken_pack,
)

from astra_gym.env import AstraEnv
from astra_gym.pack import UserTurn, write_pack
from astra_gym.validation import checks
from astra_gym.validation.checks import (
    CheckFailed,
    CheckOptions,
    NotApplicable,
    TaskContext,
    episode_digest,
)

QUICK = CheckOptions(floor_episodes=2, gold_seeds=2, max_examples=5)


class SilentEnv(AstraEnv):
    """A broken runtime: a turn without calls does not end the episode."""

    def step(self, action):
        observation, reward, _, truncated, info = super().step(action)
        return observation, reward, False, truncated, info


class PayingEnv(AstraEnv):
    """A broken runtime: an answer without calls earns reward, though not a success."""

    def step(self, action):
        observation, reward, terminated, truncated, info = super().step(action)
        return observation, 0.5 if terminated else reward, terminated, truncated, info


@pytest.fixture(scope="module")
def env_ids(tmp_path_factory):
    """Register the sound pack, some broken variants and some broken runtimes."""
    root = tmp_path_factory.mktemp("packs")
    ids = {}
    for defect in (None, "gold", "final_answer", "gameability", "leakage",
                   "leaky_description", "schema_agreement", "seed_dependence"):
        pack = write_broken_pack(root / str(defect), defect)
        ids[defect] = f"astra-fd/{str(defect).replace('_', '-')}-v0"
        gym.register(id=ids[defect], entry_point="astra_gym.env:AstraEnv",
                     kwargs={"pack": str(pack)})
    # answers given away in the parameters schema only, and everywhere at once
    hint = {**SCHEMA, "properties": {"city": {"type": "string",
                                              "description": "City name, e.g. Oslo (4.0 °C)"}}}
    everything = " Paris 18.5 °C, Oslo 4.0 °C, so 14.5 degrees."
    everywhere = {**SCHEMA, "properties": {"city": {"type": "string",
                                                    "description": everything}}}
    def described(text):
        return {**SCHEMA, "properties": {"city": {"type": "string", "description": text}}}

    five = _task(schema=described("Paris: 18.5 °C"), description=DESCRIPTION + everything)
    six = _task(schema=described("Paris: 18.5 °C, Oslo: 4.0 °C"),
                description=DESCRIPTION + everything)
    twins = [_task(), dataclasses.replace(_task(), task_id="temps2")]
    write_pack(root / "two_tasks", "two-tasks", 0, twins,
               validation={"rows": 2, "compiled": 2, "rejected": 0})
    ids["two_tasks"] = "astra-fd/two-tasks-v0"
    gym.register(id=ids["two_tasks"], entry_point="astra_gym.env:AstraEnv",
                 kwargs={"pack": str(root / "two_tasks")})
    for key, task in (("leaky_parameters", _task(schema=hint)),
                      ("leaky_five", five), ("leaky_six", six),
                      ("leaky_final", _task(final_answer="Paris")),
                      ("leaky_everywhere", _task(schema=everywhere,
                                                 description=DESCRIPTION + everything))):
        write_pack(root / key, key.replace("_", "-"), 0, [task],
                   validation={"rows": 1, "compiled": 1, "rejected": 0})
        ids[key] = f"astra-fd/{key.replace('_', '-')}-v0"
        gym.register(id=ids[key], entry_point="astra_gym.env:AstraEnv",
                     kwargs={"pack": str(root / key)})
    sound = root / "None"
    for runtime in (GenerousEnv, LeakyEnv, NoFpsEnv, SilentEnv, PayingEnv):
        ids[runtime.__name__] = f"astra-fd/{runtime.__name__.lower()}-v0"
        gym.register(id=ids[runtime.__name__], entry_point=runtime, kwargs={"pack": str(sound)})
    yield ids
    for env_id in ids.values():
        del gym.registry[env_id]


def ctx(env_ids, key, options=QUICK, reference_digest=None):
    return TaskContext(env_ids[key], "temps", options, reference_digest)


# -- gold --------------------------------------------------------------------------------

def test_gold_passes_the_sound_pack_under_each_seed(env_ids):
    checks.check_gold(ctx(env_ids, None))


def test_gold_names_the_unsolved_subtask_and_the_seed(env_ids):
    with pytest.raises(CheckFailed) as failed:
        checks.check_gold(ctx(env_ids, "gold", CheckOptions(seed=3, gold_seeds=1)))
    message = str(failed.value)
    assert message.startswith("under episode seed 3 (reset(seed=3)), the gold calls leave "
                              "sub-task(s) unsolved: 2 (answer '5.5 °C', gold call "
                              "get_city_temp)")


def test_gold_fails_when_every_subtask_is_solved_but_the_final_answer_is_refused(env_ids):
    with pytest.raises(CheckFailed) as failed:
        checks.check_gold(ctx(env_ids, "final_answer"))
    assert "solved every sub-task but is not a success" in str(failed.value)
    assert "'<think>18.5 - 4.0</think>14.5 degrees' was not accepted" in str(failed.value)


def test_gold_is_not_applicable_without_gold_calls(env_ids, monkeypatch):
    env = ctx(env_ids, None).make()
    task = env.pack.task("temps")
    env.close()
    stripped = task.__class__(**{**task.__dict__, "subtasks": tuple(
        sub.__class__(**{**sub.__dict__, "gold_call": None}) for sub in task.subtasks)})
    monkeypatch.setattr(type(env.pack), "task", lambda self, task_id: stripped)
    with pytest.raises(NotApplicable) as skipped:
        checks.check_gold(ctx(env_ids, None))
    assert str(skipped.value) == (
        "sub-task(s) 1, 2 have answers but no gold call (a released RL row): there are no "
        "calls to replay. The other checks still run; `astra-gym run --agent openai` or your "
        "own agent shows whether the task can be solved")


def gold_result(reward, f1, success=True):
    return type("Result", (), {"reward": reward, "success": success,
                               "components": {"f1": f1, "solved": ["1", "2", "3"]}})()


@pytest.mark.parametrize("reward, f1", [(0.5, 1.0), (1.0, 0.5), (0.999, 0.999)])
def test_gold_fails_when_the_replay_pays_less_than_one(env_ids, monkeypatch, reward, f1):
    monkeypatch.setattr(checks, "run_episode", lambda *args, **kwargs: gold_result(reward, f1))
    with pytest.raises(CheckFailed) as failed:
        checks.check_gold(ctx(env_ids, None, CheckOptions(gold_seeds=1)))
    assert str(failed.value) == (f"under episode seed 0 (reset(seed=0)), the gold replay "
                                 f"returned {reward:.6f} (F1 {f1:.6f}), not 1.0")


def test_gold_accepts_a_return_within_rounding_of_one(env_ids, monkeypatch):
    monkeypatch.setattr(checks, "run_episode",
                        lambda *args, **kwargs: gold_result(1.0 - 1e-12, 1.0 + 1e-12))
    checks.check_gold(ctx(env_ids, None, CheckOptions(gold_seeds=1)))


def test_gold_message_says_how_to_replay_and_what_a_solving_result_is(env_ids):
    with pytest.raises(CheckFailed) as failed:
        checks.check_gold(ctx(env_ids, "gold", CheckOptions(gold_seeds=1)))
    assert str(failed.value) == (
        "under episode seed 0 (reset(seed=0)), the gold calls leave sub-task(s) unsolved: "
        "2 (answer '5.5 °C', gold call get_city_temp). Replay them with `astra-gym run "
        "--agent oracle` and read the tool results: the answer must appear in a successful, "
        "not error-shaped result, and not only where the result repeats the call's "
        "arguments (docs/env.md)")


def test_a_check_failure_always_has_details():
    assert CheckFailed("x").details == {}
    assert CheckFailed("x", {"gap": 0.1}).details == {"gap": 0.1}


def test_a_task_context_makes_an_env_of_its_task_only_with_the_options_given(env_ids):
    env = TaskContext(env_ids["two_tasks"], "temps2").make(reward="outcome")
    try:
        assert env.task_ids == ("temps2",) and env.reward_mode == "outcome"
    finally:
        env.close()


def test_a_seeded_tool_is_deterministic_and_isolated_under_the_same_seed(env_ids):
    # its results change with the episode seed, but never between runs of one seed
    context = ctx(env_ids, "seed_dependence")
    checks.check_determinism(context)
    checks.check_isolation(context)
    assert episode_digest(context.make, "temps", 5) == episode_digest(context.make, "temps", 5)


# -- noop --------------------------------------------------------------------------------

def test_noop_passes_the_sound_pack(env_ids):
    checks.check_noop(ctx(env_ids, None))


def test_noop_fails_when_an_answer_without_calls_is_paid(env_ids):
    with pytest.raises(CheckFailed, match=r"answering at once with \"I don't know.\" earned "
                                          r"reward 1.0 \(success True\)"):
        checks.check_noop(ctx(env_ids, "GenerousEnv"))


def test_noop_fails_on_reward_alone_and_says_a_task_must_need_its_tools(env_ids):
    with pytest.raises(CheckFailed) as failed:
        checks.check_noop(ctx(env_ids, "PayingEnv"))
    assert str(failed.value) == ("answering at once with \"I don't know.\" earned reward 0.5 "
                                 "(success False); a task must need its tools")


def test_noop_fails_when_a_turn_without_calls_does_not_end_the_episode(env_ids):
    with pytest.raises(CheckFailed, match=r"a turn without tool calls \(\"I don't know.\"\) "
                                          r"did not end the episode"):
        checks.check_noop(ctx(env_ids, "SilentEnv"))


class EarlyPayingEnv(AstraEnv):
    """A broken runtime: a user turn answered without calls that does not end pays 0.5."""

    def step(self, action):
        observation, reward, terminated, truncated, info = super().step(action)
        return observation, reward if terminated else 0.5, terminated, truncated, info


@pytest.fixture
def two_turn_ids(tmp_path):
    """The sound task with a second user turn, as the sound runtime and two broken ones."""
    task = dataclasses.replace(_task(), turns=(
        UserTurn(({"role": "user", "content": "And how warm is Lima?"},)),))
    write_pack(tmp_path / "two_turns", "two-turns", 0, [task],
               validation={"rows": 1, "compiled": 1, "rejected": 0})
    ids = {}
    for runtime in (AstraEnv, SilentEnv, EarlyPayingEnv):
        ids[runtime.__name__] = f"astra-fd/two-turns-{runtime.__name__.lower()}-v0"
        gym.register(id=ids[runtime.__name__], entry_point=runtime,
                     kwargs={"pack": str(tmp_path / "two_turns")})
    yield ids
    for env_id in ids.values():
        del gym.registry[env_id]


def test_noop_answers_every_user_turn_of_a_multi_turn_task(two_turn_ids):
    checks.check_noop(TaskContext(two_turn_ids["AstraEnv"], "temps", QUICK))


def test_noop_adds_up_the_reward_of_every_user_turn(two_turn_ids):
    with pytest.raises(CheckFailed, match=r"earned reward 0.5 \(success False\)"):
        checks.check_noop(TaskContext(two_turn_ids["EarlyPayingEnv"], "temps", QUICK))


def test_noop_names_the_user_turns_when_a_multi_turn_episode_does_not_end(two_turn_ids):
    with pytest.raises(CheckFailed) as failed:
        checks.check_noop(TaskContext(two_turn_ids["SilentEnv"], "temps", QUICK))
    assert str(failed.value) == ("2 user turns each answered without tool calls "
                                 "(\"I don't know.\") did not end the episode")


# -- floor -------------------------------------------------------------------------------

def test_floor_passes_the_sound_pack(env_ids):
    checks.check_floor(ctx(env_ids, None))


def test_floor_fails_when_random_calls_find_the_answers(env_ids):
    with pytest.raises(CheckFailed, match=r"a random agent averages 0\.\d+ over 2 episodes "
                                          r"\(>= 0.5 of the gold return 1.0\)"):
        checks.check_floor(ctx(env_ids, "gameability"))


def test_floor_says_the_task_rewards_luck(env_ids):
    with pytest.raises(CheckFailed) as failed:
        checks.check_floor(ctx(env_ids, "gameability"))
    assert str(failed.value).endswith(" of the gold return 1.0): random calls find the answers, "
                                      "so the task rewards luck")


def test_floor_fails_when_the_mean_reaches_the_ratio_exactly(env_ids, monkeypatch):
    rewards = iter([0.25, 0.75, 0.25, 0.75])

    class Result:
        def __init__(self):
            self.reward = next(rewards)

    monkeypatch.setattr(checks, "run_episode", lambda *args, **kwargs: Result())
    with pytest.raises(CheckFailed, match=r"averages 0.500 over 2 episodes \(>= 0.5 "):
        checks.check_floor(ctx(env_ids, None, CheckOptions(floor_episodes=2, floor_ratio=0.5)))
    checks.check_floor(ctx(env_ids, None, CheckOptions(floor_episodes=2, floor_ratio=0.5001)))


# -- determinism -------------------------------------------------------------------------

def reference(env_ids, key, seed=0):
    context = ctx(env_ids, key)
    return hashlib.sha256(episode_digest(context.make, "temps", seed).encode()).hexdigest()


def test_determinism_passes_with_the_same_digest_from_another_process(env_ids):
    checks.check_determinism(ctx(env_ids, None, reference_digest=reference(env_ids, None)))
    checks.check_determinism(ctx(env_ids, None, reference_digest=None))


def test_determinism_fails_when_another_process_digested_something_else(env_ids):
    other = hashlib.sha256(b"another transcript").hexdigest()
    with pytest.raises(CheckFailed, match="in a process with another PYTHONHASHSEED"):
        checks.check_determinism(ctx(env_ids, None, reference_digest=other))


def test_determinism_fails_when_two_runs_here_differ(env_ids, monkeypatch):
    digests = iter(["first", "second"])
    monkeypatch.setattr(checks, "episode_digest", lambda *args: next(digests))
    with pytest.raises(CheckFailed, match="different transcripts in this process"):
        checks.check_determinism(ctx(env_ids, None))


def test_the_episode_digest_covers_both_agents_messages_and_rewards(env_ids):
    import json
    record = json.loads(episode_digest(ctx(env_ids, None).make, "temps", 0))
    assert len(record) == 2  # random agent, then oracle
    assert all(set(part) == {"messages", "rewards"} for part in record)
    assert record[0]["messages"] != record[1]["messages"]
    assert sum(record[1]["rewards"]) == pytest.approx(1.0)  # the oracle solves the task


# -- seed dependence, leakage, schema agreement, isolation, check_env ---------------------

def test_seed_dependence_names_the_gold_call_whose_result_changes(env_ids):
    checks.check_seed_dependence(ctx(env_ids, None))
    with pytest.raises(CheckFailed) as failed:
        checks.check_seed_dependence(ctx(env_ids, "seed_dependence"))
    message = str(failed.value)
    match = re.fullmatch(
        r"gold call 1 returns different results under different episode seeds \((.*) vs "
        r"(.*)\): the tool draws from the sandbox's seeded random generator\. That is "
        r"legitimate \(the `gold` check runs the gold path under several seeds\), but it makes "
        r"transcripts seed-specific; make the tool a function of its arguments if it need not "
        r"be random", message)
    assert match, message
    first, second = (ast.literal_eval(text) for text in match.groups())
    assert first != second  # the result under each seed, in order, each clipped to 80 chars
    assert len(first) == len(second) == 80


def test_leakage_names_each_answer_and_where_it_appears(env_ids):
    checks.check_leakage(ctx(env_ids, None))
    with pytest.raises(CheckFailed) as failed:
        checks.check_leakage(ctx(env_ids, "leaky_description"))
    assert str(failed.value) == ("sub-task 1 '18.5 °C' appears in the tool 'get_city_temp' "
                                 "(name and description)")
    with pytest.raises(CheckFailed, match=re.escape(
            "sub-task 2's gold call get_city_temp passes its own answer '4.0 °C' as an argument")):
        checks.check_leakage(ctx(env_ids, "leakage"))


def test_leakage_reads_the_parameters_schema_as_the_agent_sees_it(env_ids):
    # the schema is read as JSON text with non-ASCII kept: "4.0 °C", not "4.0 \\u00b0C"
    with pytest.raises(CheckFailed) as failed:
        checks.check_leakage(ctx(env_ids, "leaky_parameters"))
    assert str(failed.value) == ("sub-task 2 '4.0 °C' appears in the tool 'get_city_temp' "
                                 "(parameters)")


def test_leakage_checks_the_final_answer_and_lists_at_most_five_leaks(env_ids):
    with pytest.raises(CheckFailed) as failed:
        checks.check_leakage(ctx(env_ids, "leaky_everywhere"))
    message = str(failed.value)
    # answers in order, each in every place: 3 sub-tasks and the final answer, twice each
    assert message.split("; ") == [
        "sub-task 1 '18.5 °C' appears in the tool 'get_city_temp' (name and description)",
        "sub-task 1 '18.5 °C' appears in the tool 'get_city_temp' (parameters)",
        "sub-task 2 '4.0 °C' appears in the tool 'get_city_temp' (name and description)",
        "sub-task 2 '4.0 °C' appears in the tool 'get_city_temp' (parameters)",
        "sub-task 3 '14.5 degrees' appears in the tool 'get_city_temp' (name and description)"
        " (and 3 more)"]
    # a final answer that only the prompt gives away
    with pytest.raises(CheckFailed) as failed:
        checks.check_leakage(ctx(env_ids, "leaky_final"))
    assert str(failed.value) == "the final answer 'Paris' appears in the user message"


@pytest.mark.parametrize("key, suffix", [("leaky_five", ""), ("leaky_six", " (and 1 more)")])
def test_leakage_lists_five_leaks_and_counts_only_the_rest(env_ids, key, suffix):
    with pytest.raises(CheckFailed) as failed:
        checks.check_leakage(ctx(env_ids, key))
    message = str(failed.value)
    assert len(message.split("; ")) == 5
    assert message.endswith("(name and description)" + suffix)


def test_schema_agreement_names_the_tool_and_the_disagreement(env_ids):
    checks.check_schema_agreement(ctx(env_ids, None))
    with pytest.raises(CheckFailed, match=r"^tool 'get_city_temp': .*units"):
        checks.check_schema_agreement(ctx(env_ids, "schema_agreement"))


def test_isolation_fails_when_state_survives_a_reset(env_ids):
    checks.check_isolation(ctx(env_ids, None))
    with pytest.raises(CheckFailed) as failed:
        checks.check_isolation(ctx(env_ids, "LeakyEnv"))
    assert str(failed.value) == ("replaying the same episodes after a reset gave different "
                                 "transcripts: state from an earlier episode (tool mock data, "
                                 "module globals) leaked into the next one")


def test_schema_agreement_reports_every_problem_of_every_tool(env_ids, monkeypatch):
    env = ctx(env_ids, None).make()
    task = env.pack.task("temps")
    env.close()
    (tool,) = task.tools
    bad_schema = tool.__class__(**{**tool.__dict__, "name": "bad_schema", "parameters": {
        **SCHEMA, "type": "objekt", "properties": {**SCHEMA["properties"], "units": {
            "type": "string"}}}})
    unparsable = tool.__class__(**{**tool.__dict__, "name": "unparsable", "source": "def ("})
    missing = tool.__class__(**{**tool.__dict__, "name": "missing", "function": "nowhere"})
    shown = tool.__class__(**{**tool.__dict__, "name": "last", "parameters": {
        **SCHEMA, "properties": {**SCHEMA["properties"], "units": {"type": "string"}}}})
    many = task.__class__(**{**task.__dict__, "tools": (bad_schema, unparsable, missing, shown)})
    monkeypatch.setattr(type(env.pack), "task", lambda self, task_id: many)
    with pytest.raises(CheckFailed) as failed:
        checks.check_schema_agreement(ctx(env_ids, None))
    problems = str(failed.value).split("; ")
    by_tool = [p.split(":")[0] for p in problems]
    assert by_tool[0] == "tool 'bad_schema'" and "tool 'last'" in by_tool
    assert by_tool.count("tool 'bad_schema'") >= 2  # a schema problem and a signature problem
    assert "tool 'unparsable': the source does not parse (invalid syntax)" in problems or any(
        p.startswith("tool 'unparsable': the source does not parse (") for p in problems)
    assert "tool 'missing': the source defines no function 'nowhere'" in problems


def test_check_env_fails_on_any_gymnasium_warning_without_colour_codes(env_ids):
    checks.check_gymnasium(ctx(env_ids, None))
    with pytest.raises(CheckFailed) as failed:
        checks.check_gymnasium(ctx(env_ids, "NoFpsEnv"))
    # gymnasium colours the text ("\x1b[33mWARN: ...\x1b[0m"): the message is the plain text
    assert str(failed.value) == (
        "check_env warned: WARN: No render fps was declared in the environment "
        "(env.metadata['render_fps'] is None or not defined), rendering may occur at "
        "inconsistent fps.")


# -- fuzz helpers ------------------------------------------------------------------------

def record(ok=False, kind=None):
    return {"ok": ok, "error_kind": kind}


@pytest.mark.parametrize("outcome, message", [
    (record(ok=True), "whatever"),
    (record(kind="bad_arguments"), "Error: missing argument"),
    (record(kind=checks.INJECTED_FAILURE), "Error: service unavailable"),
    (record(kind="exception"), "Error: ValueError: city must be a non-empty string"),
    (record(kind="exception"), "Error: ValueError (line 4)"),
    (record(kind="exception"), "Error: ValueError: expected one of: a, b (line 3)"),
])
def test_fuzz_accepts_successes_deliberate_value_errors_and_accepted_failures(outcome, message):
    assert checks._crash(outcome, message) is None


@pytest.mark.parametrize("outcome, message", [
    (record(kind="exception"), "Error: KeyError: 'berlin'"),
    (record(kind="exception"), "Error: ValueErrorish: no"),
    (record(kind="timeout"), "Error: the call took too long"),
])
def test_fuzz_calls_any_other_failure_a_crash_and_quotes_200_characters(outcome, message):
    assert checks._crash(outcome, message) == f"{outcome['error_kind']}: {message}"
    long = "Error: KeyError: " + "k" * 300
    assert checks._crash(record(kind="exception"), long) == "exception: " + long[:200]


def test_fuzz_failure_text_keeps_notes_but_not_the_reproduce_hint():
    exc = AssertionError("tool 'f' crashed")
    assert checks._failure_text(exc) == "tool 'f' crashed"
    exc.add_note("Falsifying example: f(x=1)")
    exc.add_note("You can reproduce this example by ...")
    exc.add_note("second note")
    assert checks._failure_text(exc) == ("tool 'f' crashed [Falsifying example: f(x=1); "
                                         "second note]")


def test_the_fuzz_memo_forgets_its_oldest_entry_when_full(monkeypatch):
    monkeypatch.setattr(checks, "_TOOL_FUZZ", {("a",): (None, ()), ("b",): ("x", ())})
    monkeypatch.setattr(checks, "_TOOL_FUZZ_SIZE", 2)
    checks._remember_tool_fuzz(("c",), (None, ("slow",)))
    assert list(checks._TOOL_FUZZ) == [("b",), ("c",)]
    assert checks._TOOL_FUZZ[("c",)] == (None, ("slow",))
    monkeypatch.setattr(checks, "_TOOL_FUZZ_SIZE", 3)
    checks._remember_tool_fuzz(("d",), ("y", ()))
    assert list(checks._TOOL_FUZZ) == [("b",), ("c",), ("d",)]


def test_a_fuzz_call_message_is_one_openai_tool_call_with_json_arguments():
    message = checks._call_message("get_city_temp", {"city": "Zürich"})
    assert message == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "fuzz", "type": "function",
         "function": {"name": "get_city_temp", "arguments": '{"city": "Zürich"}'}}]}
