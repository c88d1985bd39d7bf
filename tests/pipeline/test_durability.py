"""Durability off the event loop: the journal's group commit and the cache writer threads.

A record may be counted as done only once its journal line, and every cache
entry it was built from, are on disk: these tests watch the order of the
``fsync`` calls, and kill a run between a write and its ``fsync``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from llm_server import ScriptedLLMServer

from synth.llm import LLMClient
from synth.runner import Journal, run_pipeline

ROOT = Path(__file__).resolve().parents[2]
GENERATION = {
    "scenario_type": "Single-Hop Chain",
    "main_question": "What is the nightly rate of the cheapest hotel in Lisbon?",
    "final_answer": "EUR 87",
    "decomposition_trace": [
        {"_uuid": 1, "hop_level": 1, "sub_question": "Which hotel in Lisbon is cheapest?",
         "sub_answer": "Hotel Sol", "dependency": None, "is_parallel": False},
        {"_uuid": 2, "hop_level": 2, "sub_question": "What is the nightly rate of that hotel?",
         "sub_answer": "EUR 87", "dependency": [1], "is_parallel": False}],
}
VIEWS = ("01_generate.ok.jsonl", "01_generate.failed.jsonl")


def uuid_key(row: dict[str, Any]) -> str:
    return str(row["uuid"])


def answer(body: dict[str, Any]) -> dict[str, Any]:
    """A valid generation, except for the domains that ask for a refusal (a failed record)."""
    if "refuse" in body["messages"][0]["content"]:
        return {"content": "Sorry, I cannot help with that."}
    return {"content": json.dumps(GENERATION), "delay": 0.01}


def write_inputs(path: Path, count: int) -> None:
    path.write_text("".join(json.dumps({"domain": f"travel {i:03d}" + (" refuse" if i % 5 == 4
                                                                           else ""),
                                        "knowledge_corpus": ""}) + "\n"
                            for i in range(count)), encoding="utf-8")


def line_ends(path: Path) -> dict[str, int]:
    """Each journal line's key and the file offset where the line ends."""
    ends, offset = {}, 0
    for line in path.read_bytes().splitlines(keepends=True):
        offset += len(line)
        ends[uuid_key(json.loads(line))] = offset
    return ends


class FsyncLog:
    """Patches ``os.fsync`` and ``os.replace`` to log, in order, what became durable."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[tuple[str, str, int]] = []
        self.lock = threading.Lock()
        real_fsync, real_replace = os.fsync, os.replace

        def fsync(fd: int) -> None:
            real_fsync(fd)
            with self.lock:
                self.events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"),
                                    os.fstat(fd).st_size))

        def replace(src: Any, dst: Any) -> None:
            real_replace(src, dst)
            with self.lock:
                self.events.append(("replace", str(dst), 0))

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "replace", replace)


# -- the journal's group commit -----------------------------------------------------------

def test_a_submitted_line_counts_only_after_the_fsync_of_its_batch(tmp_path, monkeypatch):
    path = tmp_path / "j.jsonl"
    journal = Journal(path, uuid_key)
    log = FsyncLog(monkeypatch)
    reported: list[tuple[str, int]] = []  # (key, bytes fsynced when it was reported)

    def synced() -> int:
        sizes = [size for kind, name, size in log.events if kind == "fsync" and name == str(path)]
        return sizes[-1] if sizes else 0

    async def main() -> None:
        for i in range(60):
            key = str(i)
            journal.submit({"uuid": key}, lambda key=key: reported.append((key, synced())))
            assert key not in journal.rows  # never before its fsync
            if i % 7 == 0:
                await asyncio.sleep(0.001)  # let a batch start while others queue up
        await journal.drain()

    asyncio.run(main())
    ends = line_ends(path)
    assert sorted(ends, key=int) == [str(i) for i in range(60)]  # each line once
    assert sorted(key for key, _ in reported) == sorted(ends)
    for key, size in reported:
        assert ends[key] <= size, f"line {key} reported before its bytes were fsynced"
    fsyncs = [e for e in log.events if e[0] == "fsync" and e[1] == str(path)]
    assert len(fsyncs) == journal.batches < 60  # grouped: fewer fsyncs than lines
    assert set(journal.rows) == set(ends)


def test_a_failed_batch_is_never_counted_and_stops_the_journal(tmp_path, monkeypatch):
    path = tmp_path / "j.jsonl"
    journal = Journal(path, uuid_key)
    real_fsync, calls = os.fsync, []

    def failing(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing)
    reported: list[str] = []

    async def main() -> None:
        journal.submit({"uuid": "a"}, lambda: reported.append("a"))
        await journal.drain()
        journal.submit({"uuid": "b"}, lambda: reported.append("b"))
        journal.submit({"uuid": "c"}, lambda: reported.append("c"))
        with pytest.raises(OSError, match="No space"):
            await journal.drain()
        with pytest.raises(OSError, match="No space"):
            journal.submit({"uuid": "d"})

    asyncio.run(main())
    assert reported == ["a"] and list(journal.rows) == ["a"]


def test_drain_without_submissions_and_the_plain_append_still_work(tmp_path):
    journal = Journal(tmp_path / "j.jsonl", uuid_key)
    asyncio.run(journal.drain())
    journal.append({"uuid": "x"})
    assert Journal(tmp_path / "j.jsonl", uuid_key).rows == {"x": {"uuid": "x"}}


# -- the runner: cache entries before journal lines ------------------------------------------

def run_generate(inputs: Path, out: Path, server: ScriptedLLMServer, cache: Path,
                 concurrency: int = 8) -> Any:
    client = LLMClient("m", base_url=server.base_url, api_key="k", cache_dir=cache,
                       concurrency=concurrency, max_retries=0)

    async def main() -> Any:
        async with client:
            return await run_pipeline([inputs], out, client, stages=("generate",),
                                      min_hops=1, max_hops=3, progress=False)

    return asyncio.run(main())


def test_a_record_is_journaled_only_after_its_cache_entry_is_durable(tmp_path, monkeypatch):
    inputs, out, cache = tmp_path / "in.jsonl", tmp_path / "run", tmp_path / "cache"
    write_inputs(inputs, 40)
    log = FsyncLog(monkeypatch)
    with ScriptedLLMServer(answer) as server:
        summary = run_generate(inputs, out, server, cache)
    assert summary.stages["generate"] == {"input": 40, "skipped": 0, "ok": 32, "failed": 8}
    journal = out / "01_generate.jsonl"
    ends = line_ends(journal)
    rows = {uuid_key(row): row for row in map(json.loads, journal.read_text().splitlines())}
    entries = {}  # the input row a cache entry's prompt names -> the entry file
    for entry in cache.rglob("*.json"):
        prompt = json.loads(entry.read_text())["record"]["request"]["messages"][0]["content"]
        entries[re.search(r"travel \d{3}", prompt).group()] = str(entry)
    assert len(entries) == 40  # every request cached, the refusals as failures
    events = log.events
    journal_syncs = [(index, size) for index, (kind, name, size) in enumerate(events)
                     if kind == "fsync" and name == str(journal)]
    for key, end in ends.items():
        durable_at = next(index for index, size in journal_syncs if size >= end)
        domain = rows[key].get("_metadata", rows[key])["domain"]
        stored_at = events.index(("replace", entries[domain[:len("travel 000")]], 0))
        assert stored_at < durable_at, f"{domain}: journaled before its cache entry"
    assert len(journal_syncs) < 40  # the journal was group-committed


# -- kill between a write and its fsync, then resume ---------------------------------------

CHILD = textwrap.dedent("""
    import asyncio, os, signal, sys
    from pathlib import Path
    inputs, out, cache, base_url, target, kill_at = sys.argv[1:7]
    real_fsync, seen = os.fsync, [0]

    def fsync(fd):
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(target):
            seen[0] += 1
            if seen[0] == int(kill_at):  # written, not yet fsynced: die now
                os.kill(os.getpid(), signal.SIGKILL)
        real_fsync(fd)

    if kill_at != "0":
        os.fsync = fsync
    from synth.llm import LLMClient
    from synth.runner import run_pipeline

    async def main():
        async with LLMClient("m", base_url=base_url, api_key="k", cache_dir=cache,
                             concurrency=4, max_retries=0) as client:
            await run_pipeline([Path(inputs)], Path(out), client, stages=("generate",),
                               min_hops=1, max_hops=3, progress=False)

    asyncio.run(main())
""")


@pytest.mark.slow
@pytest.mark.parametrize("target", ["01_generate.jsonl", ".tmp-"],
                         ids=["journal-batch", "cache-entry"])
def test_kill_between_write_and_fsync_then_resume_loses_and_duplicates_nothing(tmp_path, target):
    inputs = tmp_path / "in.jsonl"
    write_inputs(inputs, 24)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
        str(ROOT), os.environ.get("PYTHONPATH")]))}

    def child(out: Path, cache: Path, server: ScriptedLLMServer, kill_at: int) -> int:
        return subprocess.run([sys.executable, "-c", CHILD, str(inputs), str(out), str(cache),
                               server.base_url, target, str(kill_at)], env=env,
                              capture_output=True, timeout=120).returncode

    with ScriptedLLMServer(answer) as server:
        assert child(tmp_path / "whole", tmp_path / "c0", server, 0) == 0
        killed = child(tmp_path / "run", tmp_path / "c1", server, 3)
        assert killed == -signal.SIGKILL
        journal = tmp_path / "run" / "01_generate.jsonl"
        before = journal.read_bytes().count(b"\n")
        assert before < 24  # it died mid-stage
        assert child(tmp_path / "run", tmp_path / "c1", server, 0) == 0  # resume
    keys = [uuid_key(json.loads(line)) for line in journal.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 24  # no lost, no duplicated rows
    for name in VIEWS:
        assert (tmp_path / "run" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()
