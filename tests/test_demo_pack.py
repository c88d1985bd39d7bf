"""The embedded demo pack: compiled from its source with no drift, and as specified."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from astra_gym.pack import Pack, demo_pack_path
from synth.compiler import compile_files

ROOT = Path(__file__).resolve().parent.parent
TWIN = ROOT / "generated_envs" / "demo"
SOURCES = sorted((TWIN / "source").glob("*.jsonl"))


@pytest.fixture(scope="module")
def recompiled(tmp_path_factory):
    shipped = json.loads((demo_pack_path() / "manifest.json").read_text(encoding="utf-8"))
    out = tmp_path_factory.mktemp("demo")
    result = compile_files(SOURCES, "demo", out, jobs=2, progress=False,
                           description=shipped.get("description"))
    return result, out


@pytest.mark.slow
def test_shipped_pack_and_twin_equal_a_fresh_compile(recompiled):
    result, out = recompiled
    assert result.rejected == 0, [(o.source, o.reasons) for o in result.outcomes if o.reasons]
    for name in ("tasks.jsonl", "manifest.json"):
        fresh = (out / name).read_bytes()
        assert (demo_pack_path() / name).read_bytes() == fresh, f"astra_gym/packs/demo/{name}"
        assert (TWIN / name).read_bytes() == fresh, f"generated_envs/demo/{name}"
    for name in ("pyproject.toml", "__init__.py", "report.json"):
        assert (TWIN / name).read_bytes() == (out / name).read_bytes(), name


def test_demo_pack_meets_its_specification():
    pack = Pack(demo_pack_path())
    tasks = list(pack)
    assert len(tasks) >= 60
    domains = Counter(task.domain for task in tasks)
    assert len(domains) >= 6 and min(domains.values()) >= 5, domains
    assert {task.hops for task in tasks} == {1, 2, 3, 4, 5}
    assert sum(task.language == "zh" for task in tasks) >= 0.1 * len(tasks)
    # Real dependencies and parallel branches.
    assert sum(any(sub.depends_on for sub in task.subtasks) for task in tasks) >= 30
    parallel = sum(
        any(count >= 2 for count in Counter(s.hop_level for s in task.subtasks
                                            if s.needs_tool).values()) for task in tasks)
    assert parallel >= 12
    # Merged tools: one tool answering several sub-questions of a task.
    merged = sum(any(count >= 2 for count in Counter(s.tool for s in task.subtasks
                                                     if s.tool).values()) for task in tasks)
    assert merged >= 12
    for task in tasks:
        assert all(sub.gold_call is not None for sub in task.subtasks if sub.needs_tool)
        assert task.final_answer and task.prompt[0]["role"] == "user"
