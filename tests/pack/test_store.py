"""The pack format: writing, lazy loading, validation on load, discovery."""

from __future__ import annotations

import json
from importlib import metadata

import pytest

import astra_gym.pack.store as store
from astra_gym.pack import (
    GoldCall,
    Pack,
    PackFormatError,
    SubTask,
    Task,
    TaskSource,
    Tool,
    dump_task_line,
    installed_packs,
    write_pack,
)
from astra_gym.pack.store import content_hash

TOOL = Tool("lookup", "Look a key up.", {"type": "object", "properties": {"key": {
    "type": "string"}}, "required": ["key"]}, "def lookup(key):\n    return {'v': key}\n",
    "lookup")


def make_task(task_id: str = "t1", answer: str = "value-1") -> Task:
    return Task(
        task_id=task_id, source=TaskSource("src.jsonl", 3, task_id), domain="test",
        language="en", prompt=({"role": "user", "content": "Find it."},), final_answer=answer,
        subtasks=(SubTask("1", "Find it?", answer, (), 1, True, "lookup",
                          GoldCall("lookup", {"key": answer})),
                  SubTask("2", "Say it.", answer, ("1",), 2, False, None, None)),
        tools=(TOOL,), scenario_type="Multi-Hop")


def write(tmp_path, tasks, name="unit"):
    return write_pack(tmp_path, name, 1, tasks, validation={"rows": len(tasks),
                                                            "compiled": len(tasks),
                                                            "rejected": 0})


def test_round_trip_preserves_every_field(tmp_path):
    tasks = [make_task("t1"), make_task("t2", "value-2")]
    manifest = write(tmp_path, tasks)
    assert manifest["task_count"] == 2 and manifest["hop_histogram"] == {"2": 2}
    pack = Pack(tmp_path)
    assert pack.task_ids == ("t1", "t2") and len(pack) == 2 and "t2" in pack
    assert list(pack) == tasks
    assert pack.task("t1").tool("lookup") == TOOL
    assert pack.task("t1").tools[0].openai() == {"type": "function", "function": {
        "name": "lookup", "description": "Look a key up.", "parameters": TOOL.parameters}}


def test_lines_are_canonical_with_task_id_first():
    line = dump_task_line(make_task())
    assert line.startswith('{"task_id":"t1","distractor_tools":[]')
    assert json.loads(line) == make_task().to_dict()
    assert dump_task_line(make_task()) == line


def test_listing_a_large_pack_parses_and_compiles_no_task(tmp_path, monkeypatch):
    tasks = [make_task(f"task-{n:05d}") for n in range(20_000)]
    # Clones of a task the schema accepts (test_round_trip_preserves_every_field): writing
    # 20,000 of them without re-checking each keeps this test about listing.
    write_pack(tmp_path, "unit", 1, tasks, prevalidated=True,
               validation={"rows": len(tasks), "compiled": len(tasks), "rejected": 0})

    def forbidden(*args, **kwargs):
        raise AssertionError("listing must not build or validate tasks")

    monkeypatch.setattr(Task, "from_dict", classmethod(forbidden))
    monkeypatch.setattr(store, "validate_task", forbidden)
    import astra_gym.sandbox.policy as policy
    monkeypatch.setattr(policy, "compile_tool", forbidden)
    pack = Pack(tmp_path)
    assert len(pack.task_ids) == 20_000 and pack.task_ids[-1] == "task-19999"


def test_a_task_that_breaks_its_schema_fails_on_load_with_its_id(tmp_path):
    bad = make_task().to_dict()
    bad["subtasks"][0]["answer"] = ""
    payload = ('{"task_id":"t1",' + json.dumps({k: v for k, v in bad.items()
                                                 if k != "task_id"})[1:] + "\n").encode()
    write(tmp_path, [make_task()])
    (tmp_path / "tasks.jsonl").write_bytes(payload)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["content_hash"] = content_hash(payload)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    pack = Pack(tmp_path)
    assert pack.task_ids == ("t1",)
    with pytest.raises(PackFormatError, match=r"task 't1'.*subtasks/0/answer"):
        pack.task("t1")


def test_manifest_problems(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"manifest\.json is missing"):
        Pack(tmp_path)
    write(tmp_path, [make_task()])
    path = tmp_path / "manifest.json"
    good = json.loads(path.read_text())
    path.write_text("{oops")
    with pytest.raises(PackFormatError, match="not valid JSON"):
        Pack(tmp_path)
    path.write_text(json.dumps({**good, "format_version": 2}))
    with pytest.raises(PackFormatError, match=r"format_version 2.*Upgrade astra-gym"):
        Pack(tmp_path)
    path.write_text(json.dumps({k: v for k, v in good.items() if k != "content_hash"}))
    with pytest.raises(PackFormatError, match="'content_hash' is a required property"):
        Pack(tmp_path)


def test_task_count_and_line_format_are_checked(tmp_path):
    write(tmp_path, [make_task()])
    path = tmp_path / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "task_count": 5}))
    with pytest.raises(PackFormatError, match="has 1 tasks but the manifest says 5"):
        _ = Pack(tmp_path).task_ids
    payload = b'{"domain":"x","task_id":"t1"}\n'
    (tmp_path / "tasks.jsonl").write_bytes(payload)
    path.write_text(json.dumps({**manifest, "content_hash": content_hash(payload)}))
    with pytest.raises(PackFormatError, match="does not start with"):
        _ = Pack(tmp_path).task_ids


def test_unknown_task_id_names_some_real_ones(tmp_path):
    write(tmp_path, [make_task("alpha")])
    with pytest.raises(KeyError, match="ids look like: alpha"):
        Pack(tmp_path).task("beta")


def test_write_pack_rejects_bad_names_and_duplicate_ids(tmp_path):
    with pytest.raises(ValueError, match="invalid pack name"):
        write(tmp_path, [make_task()], name="Has Space")
    with pytest.raises(ValueError, match="duplicate task_id 't1'"):
        write(tmp_path, [make_task(), make_task()])
    assert not (tmp_path / "tasks.jsonl").exists()


def test_broken_installed_pack_is_skipped_with_a_warning(monkeypatch, tmp_path):
    good = metadata.EntryPoint("good", "pathlib:Path.cwd", "astra_gym.packs")
    broken = metadata.EntryPoint("broken", "no_such_module_xyz:pack_path", "astra_gym.packs")
    monkeypatch.setattr(metadata, "entry_points",
                        lambda group: [broken, good] if group == "astra_gym.packs" else [])
    with pytest.warns(RuntimeWarning, match="skipping astra-gym pack entry point 'broken'"):
        found = installed_packs()
    assert list(found) == ["good"]


def test_write_pack_checks_each_task_against_the_schema_once(tmp_path, monkeypatch):
    bad = make_task("bad")
    object.__setattr__(bad.subtasks[0], "answer", "")
    with pytest.raises(PackFormatError, match=r"task 'bad'.*subtasks/0/answer"):
        write(tmp_path, [make_task(), bad])
    assert not (tmp_path / "tasks.jsonl").exists()

    manifest = write(tmp_path, [make_task()])
    assert manifest["schema_checked"] == manifest["content_hash"]

    def forbidden(*args, **kwargs):
        raise AssertionError("a task written by write_pack is not checked again on load")

    monkeypatch.setattr(store, "validate_task", forbidden)
    assert Pack(tmp_path).task("t1") == make_task()


def test_the_task_cache_is_bounded_and_keeps_serving(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "TASK_CACHE_SIZE", 3)
    tasks = [make_task(f"t{n}", f"value-{n}") for n in range(10)]
    write(tmp_path, tasks)
    pack = Pack(tmp_path)
    first = pack.task("t0")
    for task in tasks[1:]:
        assert pack.task(task.task_id) == task
        assert len(pack._cache) <= 3
    assert list(pack._cache) == ["t7", "t8", "t9"]
    assert pack.task("t8") is pack.task("t8")  # a hit refreshes, not rebuilds
    assert list(pack._cache) == ["t7", "t9", "t8"]
    again = pack.task("t0")
    assert again == first and again is not first


def test_the_index_reads_long_and_non_ascii_ids_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "_INDEX_CHUNK", 1000)  # lines straddle chunk boundaries
    ids = ["t1", "é" * 300, "x" * 700, "日本-" + "ü" * 255, "t5"]  # heads cut mid-id/mid-char
    tasks = [make_task(task_id, f"value-{n}") for n, task_id in enumerate(ids)]
    write(tmp_path, tasks)
    pack = Pack(tmp_path)
    assert pack.task_ids == tuple(ids)
    for task in tasks:
        assert pack.task(task.task_id) == task


def test_tasks_longer_than_one_read_and_the_last_line_without_newline_load_whole(
        tmp_path, monkeypatch):
    monkeypatch.setattr(store, "_LINE_READ", 64)  # far shorter than any task line
    long_answer = "x" * 5000
    tasks = [make_task("t1", long_answer), make_task("t2"), make_task("t3", "é" * 300)]
    write(tmp_path, tasks)
    pack = Pack(tmp_path)
    assert [pack.task(i) for i in ("t3", "t1", "t2")] == [tasks[2], tasks[0], tasks[1]]
    # The same file without its final newline: a valid pack whose last line still loads.
    path = tmp_path / "tasks.jsonl"
    data = path.read_bytes().rstrip(b"\n")
    path.write_bytes(data)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["content_hash"] = manifest["schema_checked"] = content_hash(data)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert Pack(tmp_path).task("t3") == tasks[2]


def test_a_pack_reads_tasks_from_threads_and_after_pickling(tmp_path):
    import pickle
    from concurrent.futures import ThreadPoolExecutor

    tasks = [make_task(f"t{n}", f"value-{n}") for n in range(40)]
    write(tmp_path, tasks)
    pack = Pack(tmp_path)
    pack.task("t0")  # opens the descriptor
    copy = pickle.loads(pickle.dumps(pack))
    store.TASK_CACHE_SIZE, saved = 1, store.TASK_CACHE_SIZE  # every read goes to the file
    try:
        with ThreadPoolExecutor(8) as pool:
            got = list(pool.map(lambda n: pack.task(f"t{n % 40}"), range(400)))
        assert got == [tasks[n % 40] for n in range(400)]
        assert [copy.task(f"t{n}") for n in range(40)] == tasks
    finally:
        store.TASK_CACHE_SIZE = saved


def test_validation_waivers_are_written_checked_and_read(tmp_path):
    from astra_gym.validation.runner import CheckResult, apply_waiver, pack_waivers

    tasks = [make_task("t1"), make_task("t2")]
    waiver = {"task_id": "t2", "check": "gameability", "reason": "known data quirk"}
    manifest = write_pack(tmp_path / "p", "unit", 1, tasks, validation_waivers=[waiver],
                          validation={"rows": 2, "compiled": 2, "rejected": 0})
    assert Pack(tmp_path / "p").manifest["validation_waivers"] == [waiver]
    waivers = pack_waivers(manifest)
    failed = CheckResult("t2", "gameability", "failed", "an adversary scored 0.7", 0.1)
    assert apply_waiver(failed, waivers).status == "warning"
    assert apply_waiver(failed, waivers).message == (
        "waived by the pack (known data quirk): an adversary scored 0.7")
    # Only that task's failure of that check; an errored check is never waived.
    for other in (CheckResult("t1", "gameability", "failed", "x", 0.1),
                  CheckResult("t2", "gold", "failed", "x", 0.1),
                  CheckResult("t2", "gameability", "errored", "x", 0.1)):
        assert apply_waiver(other, waivers) is other
    # Without waivers the manifest has no such field (older packs stay byte-identical).
    assert "validation_waivers" not in write(tmp_path / "q", tasks)
    with pytest.raises(ValueError, match="does not have"):
        write_pack(tmp_path / "r", "unit", 1, tasks,
                   validation_waivers=[{**waiver, "task_id": "t9"}],
                   validation={"rows": 2, "compiled": 2, "rejected": 0})
    with pytest.raises(PackFormatError):
        write_pack(tmp_path / "s", "unit", 1, tasks,
                   validation_waivers=[{"task_id": "t1", "check": "gold"}],
                   validation={"rows": 2, "compiled": 2, "rejected": 0})
