"""``astra-gym eval`` over a BFCL pack, against the scripted server on 127.0.0.1.

The script plays like a model that knows BFCL's ground truth (for a chosen set
of entries) and answers the others without calls, so the expected accuracy is
known exactly, and it must equal BFCL's own verdicts on the same calls.
"""

from __future__ import annotations

import pytest

pytest.importorskip("bfcl_eval", reason='needs: python -m pip install --no-deps '
                    '"bfcl-eval==2026.3.23" mpmath')

import json
from typing import Any

from llm_server import ScriptedLLMServer
from official import call_string, official_verdict

from astra_gym.bfcl.agents import ground_truth_script
from astra_gym.cli import main
from astra_gym.pack import Pack


def bfcl_script(pack: Pack, solved: set[str]):
    """A server script: the ground truth for ``solved`` entries, plain answers for the rest."""
    tasks = {task.prompt[0]["content"]: task for task in pack}

    def script(body: dict[str, Any]) -> Any:
        messages = body["messages"]
        users = [i for i, m in enumerate(messages) if m["role"] == "user"]
        task = tasks[messages[users[0]]["content"]]
        turn = len(users) - 1
        done = sum(m["role"] == "assistant" for m in messages[users[-1]:])
        steps = ground_truth_script(task)[turn] if task.task_id in solved else []
        if done < len(steps):
            return {"content": None, "tool_calls": [{"name": name, "arguments": args}
                                                    for name, args in steps[done]]}
        return "Done."

    return script


@pytest.mark.slow
def test_eval_reports_bfcls_accuracy_on_a_bfcl_pack(bfcl_packs, tmp_path, monkeypatch, capsys,
                                                   lazy_bfcl_ids):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    pack = Pack(bfcl_packs["base"])
    ids = list(pack.task_ids[:6])
    solved = set(ids[:4])
    with ScriptedLLMServer(bfcl_script(pack, solved)) as server:
        assert main(["eval", str(pack.path), "--model", "m", "--base-url", server.base_url,
                     "--tasks", ",".join(ids), "--out", str(tmp_path / "res"),
                     "--concurrency", "3", "--quiet"]) == 0
    records = [json.loads(line) for line in
               (tmp_path / "res" / "episodes.jsonl").read_text().splitlines()]
    assert sorted(r["task_id"] for r in records) == sorted(ids)
    for record in records:
        # BFCL's verdict on exactly the calls the model made, turn by turn.
        turns: list[list[list[str]]] = [[]]
        for message in record["messages"][2:]:
            if message["role"] == "user":
                turns.append([])
            elif message.get("tool_calls"):
                turns[-1].append([call_string(c["function"]["name"],
                                              json.loads(c["function"]["arguments"]))
                                  for c in message["tool_calls"]])
        assert record["success"] == official_verdict("base", record["task_id"], turns)["valid"]
        assert record["success"] == (record["task_id"] in solved)
    assert "pass@1 0.667" in capsys.readouterr().out


def test_eval_takes_the_env_id_once_the_category_is_cached(bfcl_packs, tmp_path, monkeypatch,
                                                           capsys, lazy_bfcl_ids):
    import gymnasium as gym

    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ASTRA_GYM_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["import", "bfcl", "--categories", "miss_param", "--quiet"]) == 0
    pack = Pack(gym.spec("astra/bfcl-mt-miss-param-v0").kwargs["pack"])
    ids = list(pack.task_ids[:2])
    with ScriptedLLMServer(bfcl_script(pack, set(ids))) as server:
        assert main(["eval", "astra/bfcl-mt-miss-param-v0", "--model", "m",
                     "--base-url", server.base_url, "--tasks", ",".join(ids),
                     "--out", str(tmp_path / "res"), "--quiet"]) == 0
    assert "pass@1 1.000" in capsys.readouterr().out


def test_native_eval_sends_a_function_revealed_at_a_later_turn(bfcl_packs, tmp_path,
                                                              monkeypatch):
    """miss_func: the held-out function is not in the first request's tools, and is in
    the requests after the user turn that reveals it (what the model is told it can call)."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    pack = Pack(bfcl_packs["miss_func"])
    task = next(t for t in pack if t.hidden_tools)
    (hidden,) = sorted(task.hidden_tools)[:1]
    with ScriptedLLMServer(bfcl_script(pack, {task.task_id})) as server:
        assert main(["eval", str(pack.path), "--model", "m", "--base-url", server.base_url,
                     "--tasks", task.task_id, "--out", str(tmp_path / "res"),
                     "--quiet"]) == 0
        requests = [r.body for r in server.chat_requests]
    offered = [{tool["function"]["name"] for tool in body["tools"]} for body in requests]
    users = [sum(m["role"] == "user" for m in body["messages"]) for body in requests]
    assert hidden not in offered[0]
    revealed_at = next(turn for turn in task.turns if hidden in turn.reveal_tools)
    later = [names for names, count in zip(offered, users, strict=True)
             if count > 1 + task.turns.index(revealed_at)]
    assert later and all(hidden in names for names in later)
    record = json.loads((tmp_path / "res" / "episodes.jsonl").read_text().splitlines()[0])
    assert record["success"]
