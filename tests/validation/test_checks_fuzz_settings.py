"""``fuzz``'s hypothesis settings, and the episode seed ``fuzz`` and ``leakage`` judge.

The mutation run of ``astra_gym/validation/checks.py`` left these rules untested:

* ``deadline=None``: hypothesis's default 200 ms deadline per example would turn a
  slow call into an error (or, when the replay is quicker, an "unsteady" warning);
  slowness is what the ``fuzz_seconds`` time box is for.
* ``suppress_health_check``: a schema the generator can only meet by filtering (here
  ``multipleOf: 1000``) trips ``HealthCheck.filter_too_much``, which is no defect of
  the tool.
* the first ``reset`` of ``fuzz`` and of ``leakage`` runs under the check's seed: with
  sampled distractors (``distractors=``) the tool list depends on that seed, and a
  verdict must be about the episode it names, the same on every run.

``report_multiple_bugs=False`` has no test here: with shrinking off
(``phases=(explicit, generate)``), no example database and no explicit examples,
hypothesis stops generating at the first failure, so there is never a second one to
report, whichever way the setting is.
"""

from __future__ import annotations

import time
from typing import ClassVar

import gymnasium as gym
import numpy as np
import pytest
from broken_packs import write_broken_pack
from hypothesis import Phase, given, settings
from hypothesis.errors import FailedHealthCheck

from astra_gym.env import AstraEnv
from astra_gym.pack import GoldCall, SubTask, Task, TaskSource, Tool, write_pack
from astra_gym.testing.strategies import arguments
from astra_gym.validation import checks
from astra_gym.validation.checks import CheckFailed, CheckOptions, TaskContext

VALIDATION = {"rows": 1, "compiled": 1, "rejected": 0}
INPROCESS = {"isolation": "inprocess"}


@pytest.fixture(autouse=True)
def forget_fuzzed_tools(monkeypatch):
    monkeypatch.setattr(checks, "_TOOL_FUZZ", {})  # no outcome remembered across tests


@pytest.fixture(autouse=True)
def users_profile():
    """Hypothesis's default profile, as ``astra-gym validate`` runs: whatever the check
    does not set itself falls back to it (a 200 ms deadline, every health check on)."""
    current = settings._current_profile
    settings.load_profile("default")
    yield
    settings.load_profile(current)


def _register(env_id: str, pack, entry_point="astra_gym.env:AstraEnv", **kwargs) -> str:
    gym.register(id=env_id, entry_point=entry_point, kwargs={"pack": str(pack), **kwargs})
    return env_id


# -- deadline=None -----------------------------------------------------------------------

#: Seconds each step takes: past hypothesis's default deadline (200 ms, and the 250 ms it
#: allows while generating), as a tool call within the sandbox's 0.8 s limit may take.
SLOW_STEP = 0.3


class SlowEnv(AstraEnv):
    """The sound runtime, with every step as slow as a tool near its time limit."""

    steps: ClassVar[list[float]] = []  # every instance's steps, read by the test

    def step(self, action):
        start = time.monotonic()
        time.sleep(SLOW_STEP)
        result = super().step(action)
        SlowEnv.steps.append(time.monotonic() - start)
        return result


def test_fuzz_has_no_deadline_per_generated_call(tmp_path):
    """A call slower than hypothesis's 200 ms default deadline is no defect.

    Slow tools get the ``fuzz_seconds`` time box and its warning; a per-example
    deadline would instead end the check in a ``DeadlineExceeded`` error (or an
    "unsteady" warning when the replay happens to be quicker), judging the machine.
    """
    env_id = _register("astra-fs/slow-v0", write_broken_pack(tmp_path / "sound", None),
                       SlowEnv, sandbox=INPROCESS)
    SlowEnv.steps = []
    try:
        assert checks.check_fuzz(TaskContext(env_id, "temps", CheckOptions(max_examples=1))) \
            is None
    finally:
        del gym.registry[env_id]
    assert SlowEnv.steps and min(SlowEnv.steps) >= SLOW_STEP  # every example was slow


# -- suppress_health_check ---------------------------------------------------------------

DEPOSIT_SOURCE = '''def book_deposit(amount: int) -> dict:
    """Mock bank desk: books a fixed deposit, in whole thousands of CNY only."""
    if amount % 1000:
        raise ValueError("amount must be whole thousands")
    return {"booked": amount, "currency": "CNY", "term": "12 months"}
'''
THOUSANDS = {"type": "object", "properties": {"amount": {
    "type": "integer", "multipleOf": 1000, "description": "Amount in CNY, whole thousands"}},
    "required": ["amount"]}


def _deposit_task() -> Task:
    tool = Tool("book_deposit", "Book a 12-month fixed deposit.", THOUSANDS, DEPOSIT_SOURCE,
                "book_deposit")
    return Task(
        task_id="deposit", source=TaskSource("deposit.jsonl", 1, "deposit"), domain="bank",
        language="en", prompt=({"role": "user", "content": "Book 3000 CNY for a year: term?"},),
        final_answer="12 months",
        subtasks=(SubTask("1", "Term?", "12 months", (), 1, True, "book_deposit",
                          GoldCall("book_deposit", {"amount": 3000})),),
        tools=(tool,), scenario_type="Single-Hop")


def test_fuzz_suppresses_hypothesis_health_checks(tmp_path):
    """A schema the generator meets only by filtering is no defect of the tool.

    ``multipleOf: 1000`` is valid JSON Schema and the tool handles every valid amount,
    but most generated integers are filtered out: unsuppressed, hypothesis stops with
    ``FailedHealthCheck`` (filter_too_much) and ``fuzz`` errors on a sound tool.
    """
    # The premise: this schema's strategy does trip the health check when it is on.
    @settings(max_examples=5, deadline=None, database=None, derandomize=True,
              phases=(Phase.explicit, Phase.generate))
    @given(arguments(THOUSANDS))
    def generated(args):
        assert args["amount"] % 1000 == 0

    with pytest.raises(FailedHealthCheck, match="filtering out a lot of inputs"):
        generated()

    write_pack(tmp_path / "deposit", "deposit", 0, [_deposit_task()], validation=VALIDATION)
    env_id = _register("astra-fs/deposit-v0", tmp_path / "deposit", sandbox=INPROCESS)
    try:
        assert checks.check_fuzz(TaskContext(env_id, "deposit",
                                             CheckOptions(max_examples=5))) is None
    finally:
        del gym.registry[env_id]


# -- the episode seed of the first reset (sampled distractors) ---------------------------

EMPTY = {"type": "object", "properties": {}}
PAGES = 20
LEAKY, CRASHING = "archive_page_07", "archive_page_11"


def _page(number: int) -> Tool:
    name = f"archive_page_{number:02d}"
    description = f"Page {number:02d} of the shipping archive."
    body = f"    return 'page {number:02d}: nothing on record'\n"
    if name == LEAKY:  # its description gives the weather task's sub-task 1 answer away
        description += " The hold was at 18.5 °C that day."
    if name == CRASHING:  # crashes on every call, schema-valid ones included
        body = f"    raise KeyError('page {number:02d}')\n"
    return Tool(name, description, EMPTY, f"def {name}() -> str:\n{body}", name)


class Unrelated:
    """An embedder that finds every pool tool equally (un)related to every task tool.

    All similarities are equal, so every page falls in the low band, and each episode
    draws one of the ``PAGES`` pages uniformly (``k={"low": 1}``).
    """

    fingerprint = "fuzz-settings:unrelated"

    def embed(self, documents):
        return np.ones((len(documents), 1), dtype=np.float32)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """The sound weather task with one archive page drawn per episode as a distractor.

    Yields the env id and, per page, the episode seeds (of 0..299) whose tool list has it.
    """
    root = tmp_path_factory.mktemp("archive")
    write_broken_pack(root / "weather", None)
    pool = Task(
        task_id="pages", source=TaskSource("pages.jsonl", 1, "pages"), domain="shipping",
        language="en", prompt=({"role": "user", "content": "What is on page 00?"},),
        final_answer=None,
        subtasks=(SubTask("1", "Page 00?", "nothing on record", (), 1, True,
                          "archive_page_00", GoldCall("archive_page_00", {})),),
        tools=tuple(_page(number) for number in range(PAGES)))
    write_pack(root / "pool", "pages", 0, [pool], validation=VALIDATION)
    distractors = {"k": {"low": 1}, "pool": [str(root / "pool")], "embedder": Unrelated(),
                   "cache_dir": str(root / "cache")}
    env_id = _register("astra-fs/archive-v0", root / "weather", sandbox=INPROCESS,
                       distractors=distractors)
    env = gym.make(env_id).unwrapped
    drawn: dict[str, list[int]] = {}
    try:
        for seed in range(300):
            _, info = env.reset(seed=seed, options={"task_id": "temps"})
            [page] = info["distractor_tools"]
            drawn.setdefault(page, []).append(seed)
    finally:
        env.close()
    assert len(drawn) == PAGES  # one page per episode, every page drawn by some seed
    yield env_id, drawn
    del gym.registry[env_id]


def test_leakage_reads_every_distractor_an_episode_can_list(archive):
    """``leakage`` reads the tools listed under ``reset(seed=options.seed)`` as the agent
    sees them, and then every other distractor an episode of the task can list.

    The leaky page is listed under some seeds only. Under those the check names it as a
    listed tool; under every other seed it still fails, naming it as a distractor other
    episodes list: a policy trained over many seeds reads it sooner or later. (Judged
    only by the seed's tool list, the leak passed validation 19 seeds in 20; an unseeded
    first reset would name the page as listed or not at random.)
    """
    env_id, drawn = archive
    leaky_seeds = drawn[LEAKY][:3]
    other_seeds = [seed for seed in range(300) if seed not in drawn[LEAKY]][:3]
    for seeds, where in ((leaky_seeds, f"the tool {LEAKY!r} (name and description)"),
                         (other_seeds, f"the distractor tool {LEAKY!r} (listed in other "
                                       "episodes; name and description)")):
        for seed in seeds:
            with pytest.raises(CheckFailed) as failed:
                checks.check_leakage(TaskContext(env_id, "temps", CheckOptions(seed=seed)))
            assert str(failed.value) == f"sub-task 1 '18.5 °C' appears in {where}", seed


def test_fuzz_fuzzes_the_tools_listed_under_the_checks_episode_seed(archive, monkeypatch):
    """``fuzz`` takes its tool list from ``reset(seed=options.seed)``, the episode every
    generated call then runs in.

    Under a seed that lists the crashing page, the check fails on that page's
    ``KeyError``; under seeds that list a sound page, it passes. Unseeded, the first
    reset lists a random page (19 times in 20 not the seeded one): the crash would be
    missed, and a page the seeded episode does not list would be "fuzzed" into
    ``unknown tool`` errors.
    """
    env_id, drawn = archive
    options = {"max_examples": 3}
    crash_seed = drawn[CRASHING][0]
    with pytest.raises(CheckFailed) as failed:
        checks.check_fuzz(TaskContext(env_id, "temps", CheckOptions(seed=crash_seed,
                                                                     **options)))
    assert str(failed.value).startswith(
        f"tool {CRASHING!r} with {{}} -> exception: Error: KeyError")
    sound_seeds = [seed for seed in range(300)
                   if seed not in drawn[CRASHING] and seed not in drawn[LEAKY]][:2]
    for seed in sound_seeds:
        monkeypatch.setattr(checks, "_TOOL_FUZZ", {})
        assert checks.check_fuzz(TaskContext(env_id, "temps", CheckOptions(seed=seed,
                                                                           **options))) is None


# -- batches of generated inputs ---------------------------------------------------------

def test_fuzz_draws_its_inputs_in_batches_of_five_plus_one_example():
    """Hypothesis's own work per example is paid once per batch of five inputs; one more
    example than needed, since the first (the simplest one) repeats a single input."""
    assert [checks._fuzz_examples(n) for n in (1, 2, 4, 5, 6, 25)] == [1, 2, 2, 2, 3, 6]


def test_a_batch_drops_repeated_inputs_by_repr():
    """A repeated input replays a step already judged; ``1``, ``1.0`` and ``True`` are
    different arguments to a tool and all stay."""
    drawn = [{"a": 1}, {"a": 1.0}, {"a": True}, {"a": 1}, {"a": 1.0}, "x", "x"]
    assert checks._distinct(drawn) == [{"a": 1}, {"a": 1.0}, {"a": True}, "x"]


class RecordingEnv(AstraEnv):
    """The sound runtime, recording every action it is stepped with."""

    actions: ClassVar[list[str]] = []

    def step(self, action):
        RecordingEnv.actions.append(repr(action))
        return super().step(action)


def test_fuzz_steps_no_input_twice_within_a_batch(tmp_path):
    """With ``max_examples=5`` each property runs two examples of five inputs, and the
    first (Hypothesis's simplest example) repeats one input five times: it is stepped
    once. Three properties (valid and invalid arguments of the one tool, turns) make at
    most 3 x (1 + 5) steps; stepping every drawn input would make 3 x 10."""
    pack = write_broken_pack(tmp_path, None)
    env_id = _register("astra-fuzzbatch/sound-v0", pack, entry_point=RecordingEnv,
                       sandbox=INPROCESS)
    try:
        RecordingEnv.actions = []
        task_id = next(iter(gym.make(env_id).unwrapped.pack.task_ids))
        checks.check_fuzz(TaskContext(env_id, task_id, CheckOptions(max_examples=5)))
    finally:
        del gym.registry[env_id]
    assert 3 < len(RecordingEnv.actions) <= 3 * (1 + 5)


@pytest.mark.parametrize("count", [0, -3, 2.5, True, "5"])
def test_a_count_of_generated_calls_below_one_or_not_an_int_is_refused(count):
    """Refused when the options are made, not as an error of ``fuzz`` on every task."""
    with pytest.raises(ValueError, match="max_examples must be a positive int"):
        CheckOptions(max_examples=count)


def test_the_cli_refuses_max_examples_below_one(capsys):
    from astra_gym.cli import main

    assert main(["validate", "astra/demo-v0", "--checks", "fuzz", "--max-examples", "0",
                 "--jobs", "1", "--quiet"]) == 2
    assert "max_examples must be a positive int" in capsys.readouterr().err
