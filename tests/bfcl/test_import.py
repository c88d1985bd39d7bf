"""The importer, the CLI command and the lazily built env ids."""

from __future__ import annotations

import pytest

pytest.importorskip("bfcl_eval", reason='needs: python -m pip install --no-deps '
                    '"bfcl-eval==2026.3.23" mpmath')

import importlib.metadata
import json

import gymnasium as gym

import astra_gym
from astra_gym.bfcl import envs as bfcl_envs
from astra_gym.bfcl.importer import (
    IMPORTER_VERSION,
    build_task,
    convert_schema,
    pack_name,
    signature_stub,
)
from astra_gym.bfcl.source import INSTALL_COMMAND, BfclMissingError, load_category, require_bfcl
from astra_gym.cli import main
from astra_gym.pack import Pack


def test_bfcl_type_names_become_json_schema():
    doc = {"type": "dict", "properties": {
        "type": {"type": "string", "description": "a parameter called type"},
        "rate": {"type": "float"}, "pair": {"type": "tuple", "items": {"type": "float"}},
        "extra": {"type": "dict", "properties": {"x": {"type": "integer"}}}},
        "required": ["type"]}
    assert convert_schema(doc) == {"type": "object", "properties": {
        "type": {"type": "string", "description": "a parameter called type"},
        "rate": {"type": "number"}, "pair": {"type": "array", "items": {"type": "number"}},
        "extra": {"type": "object", "properties": {"x": {"type": "integer"}}}},
        "required": ["type"]}
    with pytest.raises(ValueError, match="unknown BFCL type"):
        convert_schema({"type": "matrix"})


def test_stub_follows_the_method_not_the_doc():
    from bfcl_eval.eval_checker.multi_turn_eval.func_source_code.travel_booking import TravelAPI

    stub = signature_stub(TravelAPI, "purchase_insurance")
    assert stub.startswith("def purchase_insurance(access_token, insurance_type, booking_id, "
                           "insurance_cost, card_id):")
    assert "def cd(folder):" in signature_stub(
        __import__("bfcl_eval.eval_checker.multi_turn_eval.func_source_code."
                   "gorilla_file_system", fromlist=["x"]).GorillaFileSystem, "cd")


def test_a_pack_per_category_with_every_entry(bfcl_packs):
    for category, path in bfcl_packs.items():
        pack = Pack(path)
        assert pack.name == pack_name(category) == f"bfcl-mt-{category.replace('_', '-')}"
        assert len(pack) == 200
        assert pack.manifest["compiler"]["bfcl_eval"] == require_bfcl()
        task = pack.task(pack.task_ids[0])
        assert task.backend is not None and task.final_answer is None
        assert task.backend.long_context == (category == "long_context")
        for tool in task.tools:  # valid JSON Schema types only, no BFCL type names left
            assert schema_types(tool.parameters) <= {"object", "string", "number", "integer",
                                                     "boolean", "array"}


def schema_types(node) -> set:
    """Every ``type`` of a JSON Schema (walking properties by value)."""
    if not isinstance(node, dict):
        return set()
    found = {node["type"]} if isinstance(node.get("type"), str) else set()
    for sub in [*node.get("properties", {}).values(), node.get("items")]:
        found |= schema_types(sub)
    return found


def test_import_checks_every_task_and_tool_against_the_schema(bfcl_packs):
    import dataclasses

    from astra_gym.bfcl.importer import _check_tasks
    from astra_gym.pack import PackFormatError

    task = Pack(bfcl_packs["base"]).task("multi_turn_base_0")
    _check_tasks([task])
    bad_tool = dataclasses.replace(task.tools[0], name="not a name!")
    with pytest.raises(PackFormatError, match="not a name"):
        _check_tasks([dataclasses.replace(task, tools=(bad_tool, *task.tools[1:]))])
    with pytest.raises(PackFormatError, match="language"):
        _check_tasks([dataclasses.replace(task, language="")])


def test_a_pack_holding_a_bfcl_id_keeps_it(bfcl_packs, lazy_bfcl_ids):
    from astra_gym.registration import register_pack

    assert register_pack(bfcl_packs["base"]) == "astra/bfcl-mt-base-v0"
    assert "astra/bfcl-mt-base-v0" not in bfcl_envs.register_bfcl_envs()
    assert gym.spec("astra/bfcl-mt-base-v0").entry_point == "astra_gym.env:AstraEnv"


def test_miss_func_turn_gets_bfcls_message_and_reveals_the_function():
    entry, truth = load_category("miss_func")[0]
    task = build_task(entry, truth, "miss_func", 1)
    holdout = task.turns[2]  # BFCL's turn 3
    assert holdout.reveal_tools == ("sort",)
    assert holdout.messages[0]["content"].startswith("I have updated some more functions")
    assert task.hidden_tools == frozenset({"sort"})
    assert [sub.turn for sub in task.subtasks if sub.tool == "sort"] == [3]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda e, t: t.pop(), "ground-truth turns"),
    (lambda e, t: e["question"][3].append({"role": "user", "content": "x"}), "holdout turn"),
    (lambda e, t: e["question"][1].clear(), "no user message"),
    (lambda e, t: e["question"][0].clear(), "first turn"),
    (lambda e, t: e["question"][1].__setitem__(0, {"role": "system", "content": "x"}),
     "only user messages"),
    (lambda e, t: e["missed_function"].__setitem__("3", ["nope"]), "not tools"),
    (lambda e, t: t[0].__setitem__(0, "nope(x=1)"), "names no tool"),
])
def test_entries_that_do_not_fit_are_refused(edit, message):
    entry, truth = load_category("miss_func")[0]
    entry, truth = json.loads(json.dumps(entry)), json.loads(json.dumps(truth))
    edit(entry, truth)
    with pytest.raises(ValueError, match=message):
        build_task(entry, truth, "miss_func", 1)


def test_cli_imports_chosen_categories(tmp_path, capsys):
    assert main(["import", "bfcl", "--categories", "miss_param,base", "--limit", "2",
                 "--out", str(tmp_path)]) == 0
    assert "astra/bfcl-mt-miss-param-v0: 2 tasks" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bfcl-mt-base", "bfcl-mt-miss-param"]
    assert (tmp_path / "bfcl-mt-base" / "pyproject.toml").is_file()  # pip-installable
    with pytest.raises(SystemExit):
        main(["import", "bfcl", "--categories", "irrelevance", "--out", str(tmp_path)])


@pytest.fixture()
def no_bfcl(monkeypatch):
    real = importlib.metadata.version

    def version(name):
        if name == "bfcl-eval":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)


def test_missing_bfcl_is_a_clear_error(no_bfcl, tmp_path, capsys, monkeypatch, lazy_bfcl_ids):
    with pytest.raises(BfclMissingError, match="--no-deps"):
        require_bfcl()
    assert main(["import", "bfcl", "--out", str(tmp_path)]) == 2
    assert INSTALL_COMMAND in capsys.readouterr().err
    monkeypatch.setenv("ASTRA_GYM_CACHE_DIR", str(tmp_path))
    with pytest.raises(BfclMissingError, match="bfcl-eval"):
        gym.make("astra/bfcl-mt-base-v0", pack=None)  # nothing cached: it would build


def test_env_ids_are_registered_and_build_into_the_cache_once(tmp_path, monkeypatch,
                                                             lazy_bfcl_ids):
    assert {bfcl_envs.bfcl_env_id(c) for c in bfcl_envs.ENV_CATEGORIES} <= set(gym.registry)
    assert "astra/bfcl-mt-long-context-v0" in astra_gym.registration.astra_env_ids()
    monkeypatch.setenv("ASTRA_GYM_CACHE_DIR", str(tmp_path))
    env = gym.make("astra/bfcl-mt-miss-param-v0")
    path = env.unwrapped.pack.path
    assert path.parent.parent == tmp_path / "bfcl"
    assert path.parent.name == f"{require_bfcl()}-i{IMPORTER_VERSION}"
    assert path.name == "bfcl-mt-miss-param"
    _, info = env.reset(seed=0)
    assert info["task_id"].startswith("multi_turn_miss_param_") and info["user_turns"] > 1
    env.close()
    stamp = (path / "tasks.jsonl").stat().st_mtime_ns
    gym.make("astra/bfcl-mt-miss-param-v0").close()
    assert (path / "tasks.jsonl").stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert [p.name for p in path.parent.iterdir()] == ["bfcl-mt-miss-param"]  # no leftovers
    bfcl_envs.register_bfcl_envs()  # now the id names the pack: eval and validate take it
    assert gym.spec("astra/bfcl-mt-miss-param-v0").kwargs["pack"] == str(path)
    from astra_gym.validation import resolve_target

    assert resolve_target("astra/bfcl-mt-miss-param-v0") == ("astra/bfcl-mt-miss-param-v0", path)


def test_import_without_out_fills_the_cache(tmp_path, monkeypatch, capsys, lazy_bfcl_ids):
    monkeypatch.setenv("ASTRA_GYM_CACHE_DIR", str(tmp_path))
    assert main(["import", "bfcl", "--categories", "base"]) == 0
    assert "astra/bfcl-mt-base-v0: 200 tasks" in capsys.readouterr().out
    assert gym.spec("astra/bfcl-mt-base-v0").kwargs["pack"].startswith(str(tmp_path))
    assert main(["import", "bfcl", "--limit", "2"]) == 2


def test_unknown_category_names_the_choices():
    with pytest.raises(ValueError, match="long_context"):
        bfcl_envs.bfcl_env_id("long-context")
    with pytest.raises(ValueError, match="choose from"):
        pack_name("irrelevance")
