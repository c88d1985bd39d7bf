"""The on-disk index of big packs: reused while the file is unchanged, never trusted after."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from astra_gym.pack import Pack, PackFormatError, demo_pack_path, index_cache
from astra_gym.pack.store import Pack as StorePack


@pytest.fixture
def cached(tmp_path, monkeypatch):
    """A copy of the demo pack, counted as big, and a private cache directory."""
    monkeypatch.setenv("ASTRA_GYM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ASTRA_GYM_PACK_INDEX_CACHE", raising=False)
    monkeypatch.setattr(index_cache, "MIN_BYTES", 0)
    pack = tmp_path / "pack"
    shutil.copytree(demo_pack_path(), pack)
    return pack


@pytest.fixture
def reads(monkeypatch):
    """How many times a Pack read and hashed its whole task file."""
    count = [0]
    original = StorePack._read_index

    def counting(self):
        count[0] += 1
        return original(self)

    monkeypatch.setattr(StorePack, "_read_index", counting)
    return count


def entries(tmp_path):
    return sorted((tmp_path / "cache" / "pack-index").glob("*.idx"))


def tamper_keeping_size(pack, *, keep_mtime: bool) -> None:
    """Change one character of a task (same size); optionally put the old mtime back."""
    path = pack / "tasks.jsonl"
    stat = os.stat(path)
    data = path.read_bytes()
    at = data.index(b'"final_answer":"') + len(b'"final_answer":"')
    replacement = b"Z" if data[at:at + 1] != b"Z" else b"Y"
    path.write_bytes(data[:at] + replacement + data[at + 1:])
    if keep_mtime:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    else:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


def test_a_second_open_reads_the_index_from_the_cache(cached, reads, tmp_path):
    first = Pack(cached)
    ids = first.task_ids
    assert reads[0] == 1 and len(entries(tmp_path)) == 1
    second = Pack(cached)
    assert second.task_ids == ids and reads[0] == 1  # not read again
    assert [second.task(i).to_dict() for i in ids] == [first.task(i).to_dict() for i in ids]


def test_an_edited_file_is_read_again_and_refused(cached, reads):
    assert Pack(cached).task_ids
    tamper_keeping_size(cached, keep_mtime=False)
    with pytest.raises(PackFormatError, match="content_hash"):
        assert Pack(cached).task_ids
    assert reads[0] == 2


def test_a_file_replaced_by_another_is_read_again(cached, reads):
    assert Pack(cached).task_ids
    path = cached / "tasks.jsonl"
    stat = os.stat(path)
    replacement = cached / "tasks.new"
    shutil.copyfile(path, replacement)
    os.replace(replacement, path)  # same bytes, a new inode
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert Pack(cached).task_ids and reads[0] == 2


def test_the_documented_limit_and_what_still_catches_it(cached):
    """Same size and the old mtime put back: opening trusts the cache (documented), but
    verify(), index_cache=False and astra-gym validate hash the bytes again."""
    assert Pack(cached).task_ids
    tamper_keeping_size(cached, keep_mtime=True)
    assert Pack(cached).task_ids  # the cache describes what was verified
    with pytest.raises(PackFormatError, match="content_hash"):
        Pack(cached).verify()
    with pytest.raises(PackFormatError, match="content_hash"):
        assert Pack(cached, index_cache=False).task_ids
    from astra_gym.validation import validate

    with pytest.raises(PackFormatError, match="content_hash"):
        validate(cached, ["gold"], task_ids=["demo-weather-001"], progress=False)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "other_key"])
def test_a_damaged_cache_entry_falls_back_to_reading_the_file(cached, reads, tmp_path,
                                                              damage):
    ids = Pack(cached).task_ids
    (entry,) = entries(tmp_path)
    data = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(data[:len(data) // 2])
    elif damage == "garbage":
        entry.write_bytes(b"\x00garbage")
    else:  # a valid entry for another file, under this file's name
        header, _, rest = data.partition(b"\n")
        meta = json.loads(header)
        meta["key"]["path"] = "/elsewhere/tasks.jsonl"
        entry.write_bytes(json.dumps(meta).encode() + b"\n" + rest)
    assert Pack(cached).task_ids == ids and reads[0] == 2


def test_switched_off_or_small_files_write_nothing(cached, reads, tmp_path, monkeypatch):
    monkeypatch.setenv("ASTRA_GYM_PACK_INDEX_CACHE", "0")
    assert Pack(cached).task_ids
    assert Pack(cached).task_ids
    assert reads[0] == 2 and entries(tmp_path) == []
    monkeypatch.delenv("ASTRA_GYM_PACK_INDEX_CACHE")
    monkeypatch.setattr(index_cache, "MIN_BYTES", os.stat(cached / "tasks.jsonl").st_size + 1)
    assert Pack(cached).task_ids
    assert entries(tmp_path) == []


def test_an_unwritable_cache_directory_only_costs_the_cache(cached, reads, tmp_path,
                                                            monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("ASTRA_GYM_CACHE_DIR", str(blocker))
    ids = Pack(cached).task_ids
    assert Pack(cached).task_ids == ids and reads[0] == 2


def test_write_pack_leaves_the_index_of_what_it_wrote(cached, reads, tmp_path):
    from astra_gym.pack import write_pack

    demo = Pack(cached)
    tasks = [demo.task(task_id) for task_id in demo.task_ids]
    reads[0] = 0
    write_pack(tmp_path / "written", "written", 0, tasks, prevalidated=True,
               validation={"rows": len(tasks), "compiled": len(tasks), "rejected": 0})
    opened = Pack(tmp_path / "written")
    assert opened.task_ids == demo.task_ids and reads[0] == 0  # from write_pack's entry
    # The offsets it recorded are the file's own.
    assert [opened.task(i).to_dict() for i in opened.task_ids] == [t.to_dict() for t in tasks]
    fresh = Pack(tmp_path / "written", index_cache=False)
    assert fresh._index() == opened._index()
