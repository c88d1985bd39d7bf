"""synth.llm.cache: content-addressed, atomic, and a corrupt entry is a miss, not a crash."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest

from synth.llm import ResponseCache

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]


def test_miss_then_hit(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache")
    key = cache.key_for("m", MESSAGES, {"temperature": 0.0})
    assert cache.get(key) is None
    assert key not in cache
    record = {"text": "hello", "usage": {"prompt_tokens": 3}}
    cache.put(key, record)
    assert cache.get(key) == record
    assert key in cache
    path = cache.path_for(key)
    assert path == tmp_path / "cache" / key[:2] / f"{key}.json"
    assert json.loads(path.read_text())["key"] == key
    # a second cache object on the same folder sees it (a re-run resumes)
    assert ResponseCache(tmp_path / "cache").get(key) == record


def test_put_replaces(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    key = cache.key_for("m", MESSAGES, {})
    cache.put(key, {"text": "old"})
    cache.put(key, {"text": "new"})
    assert cache.get(key) == {"text": "new"}
    assert [p.name for p in cache.path_for(key).parent.iterdir()] == [f"{key}.json"]


def test_key_is_canonical() -> None:
    key = ResponseCache.key_for
    base = key("m", MESSAGES, {"temperature": 0.5, "seed": 1})
    assert len(base) == 64 and int(base, 16) >= 0
    assert base == key("m", MESSAGES, {"seed": 1, "temperature": 0.5})  # order
    assert base == key("m", MESSAGES, {"seed": 1, "temperature": 0.5, "top_p": None})  # None
    assert base == key("m", tuple(MESSAGES), {"temperature": 0.5, "seed": 1})
    reordered = [{"content": m["content"], "role": m["role"]} for m in MESSAGES]
    assert base == key("m", reordered, {"temperature": 0.5, "seed": 1})


@pytest.mark.parametrize("change", [
    {"model": "other"},
    {"messages": [*MESSAGES, {"role": "user", "content": "more"}]},
    {"params": {"temperature": 0.7, "seed": 1}},
    {"params": {"temperature": 0.5, "seed": 2}},
    {"params": {"temperature": 0.5, "seed": 1, "max_tokens": 10}},
    {"params": {"temperature": 0.5, "seed": 1, "top_p": 0.9}},
    {"params": {"temperature": 0.5, "seed": 1, "response_format": {"type": "json_object"}}},
    {"params": {"temperature": 0.5, "seed": 1, "tools": [{"type": "function"}]}},
    {"params": {"temperature": 0.5, "seed": 1, "extra_body": {"top_k": 20}}},
])
def test_anything_that_changes_the_output_changes_the_key(change: dict) -> None:
    request = {"model": "m", "messages": MESSAGES, "params": {"temperature": 0.5, "seed": 1}}
    base = ResponseCache.key_for(**request)
    assert ResponseCache.key_for(**{**request, **change}) != base


def test_key_rejects_non_json() -> None:
    with pytest.raises(TypeError):
        ResponseCache.key_for("m", MESSAGES, {"x": object()})
    with pytest.raises(ValueError):
        ResponseCache.key_for("m", MESSAGES, {"temperature": float("nan")})


@pytest.mark.parametrize("key", ["", "../../etc/passwd", "A" * 64, "0" * 63, None])
def test_bad_keys_are_refused(tmp_path: Path, key: object) -> None:
    cache = ResponseCache(tmp_path)
    with pytest.raises(ValueError, match="not a cache key"):
        cache.get(key)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a cache key"):
        cache.put(key, {})  # type: ignore[arg-type]
    assert key not in cache


@pytest.mark.parametrize(("content", "problem"), [
    (b'{"format": 1, "key": "', "not valid JSON"),  # torn by hand
    (b"", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[1, 2]", "not an object"),
    (b'{"format": 99, "key": "K", "record": {}}', "unknown format"),
    (b'{"format": 1, "key": "0000", "record": {}}', "holds key"),
    (b'{"format": 1, "key": "K", "record": "text"}', "record is not an object"),
])
def test_corrupt_entry_is_a_warned_miss(tmp_path: Path, content: bytes, problem: str) -> None:
    cache = ResponseCache(tmp_path)
    key = cache.key_for("m", MESSAGES, {})
    path = cache.path_for(key)
    path.parent.mkdir(parents=True)
    path.write_bytes(content.replace(b'"K"', f'"{key}"'.encode()))
    with pytest.warns(RuntimeWarning, match=problem):
        assert cache.get(key) is None
    cache.put(key, {"text": "fresh"})  # and the next put repairs it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.get(key) == {"text": "fresh"}


def test_unreadable_entry_is_a_warned_miss(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    key = cache.key_for("m", MESSAGES, {})
    cache.path_for(key).mkdir(parents=True)  # a directory where the file should be
    with pytest.warns(RuntimeWarning, match="cannot read"):
        assert cache.get(key) is None


def test_killed_write_leaves_no_torn_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ResponseCache(tmp_path)
    key = cache.key_for("m", MESSAGES, {})
    cache.put(key, {"text": "old"})

    def killed(src: str, dst: str) -> None:
        raise KeyboardInterrupt  # the process dies between writing and renaming

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        cache.put(key, {"text": "new " * 10_000})
    monkeypatch.undo()
    assert cache.get(key) == {"text": "old"}  # the old entry is whole
    assert sorted(p.name for p in cache.path_for(key).parent.iterdir()) == [f"{key}.json"]


def test_entries_are_written_via_a_temporary_file(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ResponseCache(tmp_path)
    key = cache.key_for("m", MESSAGES, {})
    moves = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        moves.append((Path(src), Path(dst)))
        assert json.loads(Path(src).read_text())["record"] == {"text": "x"}  # complete first
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    cache.put(key, {"text": "x"})
    assert len(moves) == 1
    src, dst = moves[0]
    assert dst == cache.path_for(key) and src.parent == dst.parent and src.name.startswith(".tmp-")


def test_non_json_record_leaves_nothing(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    key = cache.key_for("m", MESSAGES, {})
    with pytest.raises(TypeError):
        cache.put(key, {"text": object()})
    assert cache.get(key) is None
    assert not any(p.is_file() for p in tmp_path.rglob("*"))
