"""``fuzz``, ``gameability`` and the gold replay's seed, called directly (issue 19).

The mutation run of ``astra_gym/validation/checks.py`` found these reached only by the
whole-report tests of ``test_validation.py`` (too slow to run per mutant) or not at all:
each test here names one rule of a check and fails when that rule is removed. The
packs are :mod:`broken_packs`' sound pack, its broken variants, and runtimes that break
one promise of the env each.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import types

import gymnasium as gym
import pytest
from broken_packs import BROKEN, GenerousEnv, _task, write_broken_pack
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import FlakyFailure

from astra_gym.env import AstraEnv
from astra_gym.pack import GoldCall, SubTask, Task, TaskSource, Tool, write_pack
from astra_gym.runtime import ToolRuntime
from astra_gym.validation import checks
from astra_gym.validation.adversaries import ADVERSARIES
from astra_gym.validation.checks import CheckFailed, CheckOptions, CheckWarning, TaskContext

FEW = CheckOptions(max_examples=5)


class _AcceptsAnything:
    """A validator that lets every argument object through (a broken runtime's)."""

    def is_valid(self, arguments):
        return True

    def error(self, arguments):  # pragma: no cover - never asked: everything is valid
        return ""


class PermissiveEnv(AstraEnv):
    """A broken runtime: schema-invalid arguments reach the tool."""

    def listed_tool(self, name):
        tool = super().listed_tool(name)
        if tool is None:
            return None
        loose = ToolRuntime(tool.tool)
        loose.__dict__["validator"] = _AcceptsAnything()
        return loose


class OverpayingEnv(AstraEnv):
    """A broken runtime: a turn with calls pays more than the reward range allows."""

    def step(self, action):
        observation, reward, terminated, truncated, info = super().step(action)
        return observation, reward + (2.0 if info["calls"] else 0.0), terminated, truncated, info


class MuteEnv(AstraEnv):
    """A broken runtime: a call's tool message goes missing."""

    def step(self, action):
        observation, reward, terminated, truncated, info = super().step(action)
        return observation[1:], reward, terminated, truncated, info


class CountingEnv(AstraEnv):
    """The sound runtime, counting every step taken by any instance."""

    steps = 0

    def step(self, action):
        CountingEnv.steps += 1
        return super().step(action)


TICKET_SOURCE = '''import random
def draw_ticket(name: str) -> dict:
    """Mock lottery desk: draws a ticket number for a name."""
    return {"name": name, "ticket": "T-" + str(random.randint(10**8, 10**9))}
'''
TICKET_SCHEMA = {"type": "object", "properties": {
    "name": {"type": "string", "description": "Ticket holder"}}, "required": ["name"]}


def _ticket_task(answer: str) -> Task:
    """A task whose answer is drawn from the sandbox's seeded RNG: right under one seed."""
    tool = Tool("draw_ticket", "Draw a lottery ticket for a name.", TICKET_SCHEMA,
                TICKET_SOURCE, "draw_ticket")
    return Task(
        task_id="ticket", source=TaskSource("ticket.jsonl", 1, "ticket"), domain="lottery",
        language="en", prompt=({"role": "user", "content": "Which ticket does Ada get?"},),
        final_answer=answer,
        subtasks=(SubTask("1", "Ada's ticket?", answer, (), 1, True, "draw_ticket",
                          GoldCall("draw_ticket", {"name": "Ada"})),),
        tools=(tool,), scenario_type="Single-Hop")


def _ticket_under(pack, seed: int) -> str:
    env = AstraEnv(pack=str(pack))
    try:
        env.reset(seed=seed)
        call = {"id": "c0", "type": "function",
                "function": {"name": "draw_ticket", "arguments": json.dumps({"name": "Ada"})}}
        observation, *_ = env.step({"role": "assistant", "content": None, "tool_calls": [call]})
    finally:
        env.close()
    return json.loads(observation[0]["content"])["ticket"]


@pytest.fixture(scope="module")
def env_ids(tmp_path_factory):
    """The sound pack, the broken ``fuzz``/``gameability`` packs, twin tasks, runtimes."""
    root = tmp_path_factory.mktemp("fuzz-packs")
    ids = {}

    def register(key, pack, entry_point="astra_gym.env:AstraEnv", **kwargs):
        ids[key] = f"astra-fdf/{key.replace('_', '-').lower()}-v0"
        gym.register(id=ids[key], entry_point=entry_point, kwargs={"pack": str(pack), **kwargs})

    for defect in (None, "fuzz", "gameability"):
        register(str(defect), write_broken_pack(root / str(defect), defect))
    sound = root / "None"
    for runtime in (PermissiveEnv, OverpayingEnv, MuteEnv, CountingEnv, GenerousEnv):
        register(runtime.__name__, sound, runtime)
    # Injected failures and another reward mode on the env: gameability must set both aside.
    register("noisy", sound, failures={"p": 1.0}, reward="outcome")
    for key, task in (("twins", _task()), ("crashing_twins", BROKEN["fuzz"]())):
        write_pack(root / key, key.replace("_", "-"), 0,
                   [task, dataclasses.replace(task, task_id="temps2")],
                   validation={"rows": 2, "compiled": 2, "rejected": 0})
        register(key, root / key, CountingEnv)
    # The ticket pack: its answer is the ticket the seeded RNG draws under seed 7.
    draft = root / "ticket-draft"
    write_pack(draft, "ticket", 0, [_ticket_task("T-0")],
               validation={"rows": 1, "compiled": 1, "rejected": 0})
    ticket = _ticket_under(draft, 7)
    write_pack(root / "ticket", "ticket", 0, [_ticket_task(ticket)],
               validation={"rows": 1, "compiled": 1, "rejected": 0})
    register("ticket", root / "ticket")
    yield ids
    for env_id in ids.values():
        del gym.registry[env_id]


@pytest.fixture(autouse=True)
def forget_fuzzed_tools(monkeypatch):
    monkeypatch.setattr(checks, "_TOOL_FUZZ", {})  # no outcome remembered across tests


def ctx(env_ids, key, options=FEW, task_id="temps"):
    return TaskContext(env_ids[key], task_id, options)


# -- fuzz --------------------------------------------------------------------------------

def test_fuzz_passes_the_sound_pack(env_ids):
    checks.check_fuzz(ctx(env_ids, "None"))


def test_fuzz_fails_on_a_tool_that_crashes_on_schema_valid_arguments(env_ids):
    with pytest.raises(CheckFailed) as failed:
        checks.check_fuzz(ctx(env_ids, "fuzz"))
    message = str(failed.value)
    assert message.startswith("tool 'get_city_temp' with {'city': ")
    assert "-> exception: Error: KeyError" in message
    assert "valid_arguments_do_not_crash" in message


def test_fuzz_fails_when_schema_invalid_arguments_reach_the_tool(env_ids):
    with pytest.raises(CheckFailed) as failed:
        checks.check_fuzz(ctx(env_ids, "PermissiveEnv"))
    assert str(failed.value).startswith(
        "tool 'get_city_temp' accepted schema-invalid arguments ")


def test_fuzz_fails_when_a_turn_pays_outside_the_reward_range(env_ids):
    with pytest.raises(CheckFailed) as failed:
        checks.check_fuzz(ctx(env_ids, "OverpayingEnv"))
    message = str(failed.value)
    assert message.startswith("the turn ") and "any_turn_is_handled" in message
    assert re.search(r"\.\.\. paid 2\.\d+, outside \[-1, 1\] \[", message)  # turn clipped


def test_fuzz_fails_when_a_call_gets_no_tool_message(env_ids):
    with pytest.raises(CheckFailed) as failed:
        checks.check_fuzz(ctx(env_ids, "MuteEnv"))
    assert str(failed.value).startswith(
        "tool 'get_city_temp' with {'city': 'Paris'}: one call gave [], not one tool message "
        "[Failing test case: valid_arguments_do_not_crash(")


def test_fuzz_warns_at_its_time_box_naming_each_property_stopped(env_ids):
    # the tool's two properties (valid and invalid arguments), then the generated turns
    with pytest.raises(CheckWarning) as warned:
        checks.check_fuzz(ctx(env_ids, "None", CheckOptions(max_examples=5, fuzz_seconds=0)))
    slow = warned.value.details["slow"]
    assert [entry.split(":")[0] for entry in slow] == [
        "tool 'get_city_temp'", "tool 'get_city_temp'", "generated turns"]
    assert all(" 0 examples in 0 s " in entry for entry in slow)
    assert str(warned.value).startswith("fuzzing stopped at the 0 s time box for: tool "
                                        "'get_city_temp': 0 examples")
    assert warned.value.details["unsteady"] == []


def test_a_tool_shared_by_two_tasks_is_fuzzed_once(env_ids):
    CountingEnv.steps = 0
    checks.check_fuzz(ctx(env_ids, "twins"))
    first = CountingEnv.steps
    CountingEnv.steps = 0
    checks.check_fuzz(ctx(env_ids, "twins", task_id="temps2"))
    second = CountingEnv.steps
    assert len(checks._TOOL_FUZZ) == 1
    assert 0 < second < first  # the second task runs its generated turns only
    CountingEnv.steps = 0
    checks.check_fuzz(ctx(env_ids, "twins", CheckOptions(max_examples=6)))
    assert CountingEnv.steps > second  # other options: the tool is fuzzed again
    assert len(checks._TOOL_FUZZ) == 2


def test_a_remembered_crash_fails_the_next_task_without_running_the_tool_again(env_ids):
    with pytest.raises(CheckFailed) as first:
        checks.check_fuzz(ctx(env_ids, "crashing_twins"))
    CountingEnv.steps = 0
    with pytest.raises(CheckFailed) as second:
        checks.check_fuzz(ctx(env_ids, "crashing_twins", task_id="temps2"))
    assert str(second.value) == str(first.value)
    assert CountingEnv.steps == 0


def test_a_remembered_time_box_still_warns_for_the_next_task(env_ids):
    boxed = CheckOptions(max_examples=5, fuzz_seconds=0)
    with pytest.raises(CheckWarning):
        checks.check_fuzz(ctx(env_ids, "twins", boxed))
    with pytest.raises(CheckWarning) as warned:
        checks.check_fuzz(ctx(env_ids, "twins", boxed, task_id="temps2"))
    assert [entry.split(":")[0] for entry in warned.value.details["slow"]] == [
        "tool 'get_city_temp'", "tool 'get_city_temp'", "generated turns"]


# -- gameability -------------------------------------------------------------------------

def test_gameability_passes_the_sound_pack_and_reports_every_adversary(env_ids):
    details = checks.check_gameability(ctx(env_ids, "None"))
    assert set(details["scores"]) == set(ADVERSARIES)
    assert details["gap"] == round(1.0 - max(details["scores"].values()), 6) == 0.6


def test_gameability_counts_only_the_f1_of_spam_which_replays_the_gold_path(env_ids):
    # spam succeeds (it replays the gold calls, four times each); its F1 is what counts
    details = checks.check_gameability(ctx(env_ids, "None"))
    assert details["scores"]["spam"] == 0.4


def test_gameability_fails_when_an_adversary_reaches_the_gold_return(env_ids):
    with pytest.raises(CheckFailed) as failed:
        checks.check_gameability(ctx(env_ids, "gameability"))
    message = str(failed.value)
    assert message.startswith("the 'echo' adversary scores 1.000 against the gold return 1.0 "
                              "(gap 0.000 < margin 0.5); scores: spam 0.400, guess 0.800, "
                              "echo 1.000, dump 0.800, question 0.000. ")
    assert message.endswith(checks._GAMING_HINTS["echo"])
    assert failed.value.details == {"gap": 0.0, "scores": {
        "spam": 0.4, "guess": 0.8, "echo": 1.0, "dump": 0.8, "question": 0.0}}


def test_gameability_counts_an_adversarys_success_as_the_full_return(env_ids):
    with pytest.raises(CheckFailed) as failed:
        checks.check_gameability(ctx(env_ids, "GenerousEnv"))
    assert failed.value.details["scores"]["question"] == 1.0
    assert str(failed.value).endswith(checks._GAMING_HINTS["question"])


@pytest.mark.parametrize(("margin", "fails"), [(0.6, False), (0.600001, True)])
def test_gameability_fails_only_below_the_margin(env_ids, margin, fails):
    context = ctx(env_ids, "None", CheckOptions(gameability_margin=margin))
    if fails:
        with pytest.raises(CheckFailed):
            checks.check_gameability(context)
    else:
        assert checks.check_gameability(context)["gap"] == 0.6


def test_gameability_measures_f1_without_the_envs_injected_failures(env_ids):
    assert checks.check_gameability(ctx(env_ids, "noisy")) == checks.check_gameability(
        ctx(env_ids, "None"))


# -- the gold replay's seed --------------------------------------------------------------

def test_gold_replays_under_the_episode_seed_it_names(env_ids):
    """The ticket's answer is what the seeded RNG draws under seed 7, and only then."""
    checks.check_gold(ctx(env_ids, "ticket", CheckOptions(seed=7, gold_seeds=1),
                          task_id="ticket"))
    with pytest.raises(CheckFailed) as failed:
        checks.check_gold(ctx(env_ids, "ticket", CheckOptions(seed=7, gold_seeds=2),
                              task_id="ticket"))
    assert str(failed.value).startswith("under episode seed 8 (reset(seed=8)), the gold calls "
                                        "leave sub-task(s) unsolved: 1 (answer 'T-")


# -- fuzz: its settings, clock and messages ----------------------------------------------

ROLL_SOURCE = '''import random
def get_city_temp(city: str) -> dict:
    """Mock temperature desk that crashes on half of the sandbox RNG's first draws."""
    if random.random() < 0.5:
        raise KeyError(city)
    return {"city": city, "temperature": "18.5 °C"}
'''


def _first_call_crashes(pack, seed: int) -> bool:
    env = AstraEnv(pack=str(pack))
    try:
        env.reset(seed=seed)
        _, _, _, _, info = env.step(checks._call_message("get_city_temp", {"city": "Paris"}))
    finally:
        env.close()
    return info["calls"][0]["error_kind"] == "exception"


@pytest.fixture(scope="module")
def roll(tmp_path_factory):
    """A pack whose tool crashes or not by the episode seed; a seed where it does not."""
    pack = tmp_path_factory.mktemp("roll") / "roll"
    write_pack(pack, "roll", 0, [_task(source=ROLL_SOURCE)],
               validation={"rows": 1, "compiled": 1, "rejected": 0})
    crashes = {seed: _first_call_crashes(pack, seed) for seed in range(12)}
    assert set(crashes.values()) == {True, False}  # the seed decides
    env_id = "astra-fdf/roll-v0"
    gym.register(id=env_id, entry_point="astra_gym.env:AstraEnv", kwargs={"pack": str(pack)})
    yield env_id, min(seed for seed, crashed in crashes.items() if not crashed)
    del gym.registry[env_id]


def test_fuzz_runs_every_generated_call_under_the_checks_seed(roll):
    env_id, calm_seed = roll
    checks.check_fuzz(TaskContext(env_id, "temps", CheckOptions(seed=calm_seed,
                                                                max_examples=8)))


def test_fuzz_runs_at_most_max_examples_calls_per_property(env_ids):
    CountingEnv.steps = 0
    checks.check_fuzz(ctx(env_ids, "CountingEnv", CheckOptions(max_examples=4)))
    # Valid and invalid arguments, turns: each two Hypothesis examples of a batch of 4
    # (the first example is the simplest one, whose batch repeats one input).
    assert 0 < CountingEnv.steps <= 3 * 2 * 4


def test_fuzz_says_how_many_calls_each_property_made_before_its_time_box(env_ids,
                                                                          monkeypatch):
    ticks = iter(range(1, 10_000))
    monkeypatch.setattr(checks, "time", types.SimpleNamespace(monotonic=lambda: next(ticks)))
    with pytest.raises(CheckWarning) as warned:
        checks.check_fuzz(ctx(env_ids, "None", CheckOptions(max_examples=5, fuzz_seconds=2.5)))
    # each property: start at t, calls at t+1 and t+2, refused at t+3 and again when
    # hypothesis replays that example (t+4), stopped at t+5
    assert warned.value.details["slow"] == [
        "tool 'get_city_temp': 2 examples in 5 s (2.50 s each)",
        "tool 'get_city_temp': 2 examples in 5 s (2.50 s each)",
        "generated turns: 2 examples in 5 s (2.50 s each)"]
    assert str(warned.value) == (
        "fuzzing stopped at the 2.5 s time box for: "
        + "; ".join(warned.value.details["slow"])
        + ". Slow tools make every episode slow; a call near the sandbox's time limit "
        "usually loops over its input")


def _is_fuzz_call(action) -> bool:
    """A call of a tool property (``checks._call_message``), not a generated turn."""
    return isinstance(action, dict) and action.get("tool_calls", [{}])[0].get("id") == "fuzz"


class OverpayOnceEnv(AstraEnv):
    """A turn (not a tool call) pays out of range once: a failure that does not repeat."""

    paid = False

    def step(self, action):
        observation, reward, terminated, truncated, info = super().step(action)
        if not _is_fuzz_call(action) and not OverpayOnceEnv.paid:
            OverpayOnceEnv.paid = True
            reward = 5.0
        return observation, reward, terminated, truncated, info


def test_a_property_stopped_before_its_first_call_reports_the_whole_time_per_call(
        env_ids, monkeypatch):
    ticks = iter(range(1, 10_000))
    monkeypatch.setattr(checks, "time", types.SimpleNamespace(monotonic=lambda: next(ticks)))
    with pytest.raises(CheckWarning) as warned:
        checks.check_fuzz(ctx(env_ids, "None", CheckOptions(max_examples=5, fuzz_seconds=0.5)))
    # start at t, refused at t+1 and on hypothesis's replay at t+2, stopped at t+3
    assert warned.value.details["slow"][0] == (
        "tool 'get_city_temp': 0 examples in 3 s (3.00 s each)")


def test_a_call_exactly_at_the_time_box_still_runs(env_ids, monkeypatch):
    ticks = iter(range(1, 10_000))
    monkeypatch.setattr(checks, "time", types.SimpleNamespace(monotonic=lambda: next(ticks)))
    with pytest.raises(CheckWarning) as warned:
        checks.check_fuzz(ctx(env_ids, "None", CheckOptions(max_examples=5, fuzz_seconds=2)))
    # calls at t+1 and t+2 (exactly the 2 s box) run; t+3 is past it
    assert warned.value.details["slow"][0].startswith("tool 'get_city_temp': 2 examples in ")


def test_a_turn_that_fails_once_is_a_warning_naming_the_generated_turns(env_ids, tmp_path):
    OverpayOnceEnv.paid = False
    env_id = "astra-fdf/overpay-once-v0"
    gym.register(id=env_id, entry_point=OverpayOnceEnv,
                 kwargs=gym.spec(env_ids["None"]).kwargs)
    try:
        with pytest.raises(CheckWarning) as warned:
            checks.check_fuzz(TaskContext(env_id, "temps", FEW))
    finally:
        del gym.registry[env_id]
    assert OverpayOnceEnv.paid
    [note] = warned.value.details["unsteady"]
    assert re.fullmatch(r"generated turns: a generated call failed once and passed when "
                        r"repeated \(the turn .+ paid 5\.0, outside \[-1, 1\]\)", note)
    assert str(warned.value) == (
        note + ". A failure that does not repeat comes from the machine (load, memory) or "
        "from state the tool keeps; the determinism and isolation checks judge the tool's "
        "repeatability")
    assert warned.value.details["slow"] == []


def test_fuzz_says_what_to_install_without_hypothesis(env_ids, monkeypatch):
    monkeypatch.setitem(sys.modules, "hypothesis", None)  # import hypothesis -> ImportError
    with pytest.raises(RuntimeError, match=r"^the fuzz check needs hypothesis: pip install "
                                           r"hypothesis \("):
        checks.check_fuzz(ctx(env_ids, "None"))


@pytest.fixture
def users_profile():
    """Hypothesis's default profile, as ``astra-gym validate`` runs (CI loads ``ci``)."""
    current = settings._current_profile
    settings.load_profile("default")
    yield
    settings.load_profile(current)


def test_fuzz_finds_the_same_failure_on_every_run_with_the_users_profile(env_ids,
                                                                          users_profile,
                                                                          monkeypatch):
    found = []
    for _ in range(3):
        monkeypatch.setattr(checks, "_TOOL_FUZZ", {})
        with pytest.raises(CheckFailed) as failed:
            checks.check_fuzz(ctx(env_ids, "fuzz"))
        found.append(str(failed.value))
    assert found[0] == found[1] == found[2]


def test_fuzz_never_saves_to_or_replays_from_the_users_example_database(env_ids, tmp_path):
    current = settings._current_profile
    settings.register_profile("astra-test-db", database=DirectoryBasedExampleDatabase(
        str(tmp_path / "db")))
    settings.load_profile("astra-test-db")
    try:
        with pytest.raises(CheckFailed):
            checks.check_fuzz(ctx(env_ids, "fuzz"))
    finally:
        settings.load_profile(current)
    assert not (tmp_path / "db").exists()  # the failure found was not saved


def test_the_fuzz_memo_tells_tools_apart_by_their_schema(tmp_path):
    """One source, two schemas: only the open one lets a crashing city through."""
    crashing = BROKEN["fuzz"]()
    closed = {"type": "object", "properties": {"city": {
        "type": "string", "enum": ["Paris", "Oslo"], "description": "City name"}},
        "required": ["city"]}
    first = dataclasses.replace(crashing, task_id="closed", tools=(
        dataclasses.replace(crashing.tools[0], parameters=closed),))
    write_pack(tmp_path / "schemas", "schemas", 0, [first, crashing],
               validation={"rows": 2, "compiled": 2, "rejected": 0})
    env_id = "astra-fdf/schemas-v0"
    gym.register(id=env_id, entry_point="astra_gym.env:AstraEnv",
                 kwargs={"pack": str(tmp_path / "schemas")})
    try:
        checks.check_fuzz(TaskContext(env_id, "closed", FEW))
        with pytest.raises(CheckFailed, match="KeyError"):
            checks.check_fuzz(TaskContext(env_id, "temps", FEW))
    finally:
        del gym.registry[env_id]


# -- the text of a failure hypothesis could not repeat ----------------------------------

def test_an_unsteady_failure_quotes_the_first_assertion_with_its_notes():
    inner = AssertionError("tool 'x' with {}\n->   timeout")
    inner.add_note("Falsifying example: prop(args={})")
    inner.add_note("You can reproduce this example by temporarily adding @reproduce_failure")
    group = FlakyFailure("Hypothesis prop produces unreliable results", [inner, ValueError()])
    assert checks._unsteady_text(group) == (
        "a generated call failed once and passed when repeated (tool 'x' with {} -> timeout "
        "[Falsifying example: prop(args={})])")


def test_an_unsteady_failure_shows_other_errors_by_their_repr_clipped_to_300_characters():
    group = FlakyFailure("unreliable", [ValueError("v" * 400)])
    text = checks._unsteady_text(group)
    assert text == ("a generated call failed once and passed when repeated ("
                    + repr(ValueError("v" * 400))[:300] + ")")
    assert checks._unsteady_text(KeyError("k")) == (
        "a generated call failed once and passed when repeated (KeyError('k'))")


def test_scores_and_gap_are_rounded_to_six_digits(env_ids, monkeypatch):
    third = types.SimpleNamespace(components={"f1": 1 / 3}, success=False)
    monkeypatch.setattr(checks, "run_episode", lambda *args, **kwargs: third)
    details = checks.check_gameability(ctx(env_ids, "None"))
    assert set(details["scores"].values()) == {0.333333}
    assert details["gap"] == 0.666667


def test_gameability_plays_each_adversary_under_the_checks_seed(env_ids):
    # spam replays the gold call; the ticket it draws is the answer under seed 7 only
    # (any call draws the ticket, so the guessing adversaries find it too: not gameable-safe)
    with pytest.raises(CheckFailed) as failed:
        checks.check_gameability(ctx(env_ids, "ticket", CheckOptions(seed=7), task_id="ticket"))
    assert failed.value.details["scores"]["spam"] == 0.4


def test_unsteady_failures_and_time_boxes_are_reported_together(env_ids, monkeypatch):
    """A tool call that fails once, a turn that fails once, a property out of time."""
    OverpayOnceEnv.paid = False
    failed_once = []
    real_step = OverpayOnceEnv.step

    def step(self, action):
        observation, reward, terminated, truncated, info = real_step(self, action)
        if _is_fuzz_call(action) and not failed_once:  # the first generated tool call
            failed_once.append(action)
            info["calls"][0].update(ok=False, error_kind="exception")
            observation = [{**observation[0], "content": "Error: KeyError: 'x'"}]
        return observation, reward, terminated, truncated, info

    monkeypatch.setattr(OverpayOnceEnv, "step", step)
    ticks = iter(range(1, 10_000))
    monkeypatch.setattr(checks, "time", types.SimpleNamespace(monotonic=lambda: next(ticks)))
    env_id = "astra-fdf/unsteady-v0"
    gym.register(id=env_id, entry_point=OverpayOnceEnv, kwargs=gym.spec(env_ids["None"]).kwargs)
    try:
        with pytest.raises(CheckWarning) as warned:
            checks.check_fuzz(TaskContext(env_id, "temps", CheckOptions(max_examples=5,
                                                                        fuzz_seconds=2.5)))
    finally:
        del gym.registry[env_id]
    slow, unsteady = warned.value.details["slow"], warned.value.details["unsteady"]
    # valid arguments: fail, then pass on the replay (unsteady, within the time box);
    # invalid arguments run into the time box; the turns fail once, then replay fine
    assert [entry.split(":")[0] for entry in unsteady] == ["tool 'get_city_temp'",
                                                           "generated turns"]
    assert [entry.split(":")[0] for entry in slow] == ["tool 'get_city_temp'"]
    assert str(warned.value) == (
        f"fuzzing stopped at the 2.5 s time box for: {slow[0]}. Slow tools make every "
        "episode slow; a call near the sandbox's time limit usually loops over its input. "
        f"{unsteady[0]}; {unsteady[1]}. A failure that does not repeat comes from the machine "
        "(load, memory) or from state the tool keeps; the determinism and isolation checks "
        "judge the tool's repeatability")


def test_a_turn_is_quoted_up_to_120_characters():
    assert checks._clip_repr("x" * 10) == repr("x" * 10)
    assert checks._clip_repr("x" * 118) == repr("x" * 118)  # 120 with the quotes
    clipped = checks._clip_repr("x" * 119)
    assert len(clipped) == 120 and clipped.endswith("xxx...")
