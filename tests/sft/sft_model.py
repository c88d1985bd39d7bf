"""A scripted model for the SFT stages: answers each prompt by its first sentence.

``ScriptedModel(...)`` is a callable for :class:`llm_server.ScriptedLLMServer`.
Its answers are deterministic functions of the request, so two runs (or a
killed and resumed one) get the same replies. Hooks let a test break one
kind of answer (``overrides``: prompt kind -> callable returning a reply or
``None`` for the default).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

CHAINS: dict[str, list[list[str]]] = {
    "mcp-git": [["git_status", "git_add", "git_commit"], ["git_branch", "git_checkout"],
                ["git_log", "git_show"], ["git_status", "git_diff_unstaged"]],
    "notes": [["list_notebooks", "list_notes", "get_note"], ["search_notes", "get_note"],
              ["create_note", "tag_note"], ["list_notes", "tag_note"]],
    "weather": [["find_city", "get_forecast"], ["find_city", "get_alerts"]],
    "天气": [["find_city", "get_forecast"], ["find_city", "get_alerts"]],
}
"""The dependent chains the scripted model proposes per server name."""

KINDS = {
    "You map the dependencies": "graph",
    "You review a tool chain": "vote",
    "You write the request a user of a service would send": "to_query",
    "You plan which tools": "to_chain",
    "You write a realistic task that a user of a service asks an assistant to carry out, "
    "where": "task_chain",
    "You write a realistic task that a user of a service asks an assistant to carry out with":
        "task_server",
    "You rewrite a user's task for a different context": "diverse",
    "You make a user's task more demanding": "complicate",
    "You rewrite a user's task as a particular person": "persona",
    "You rate a task": "score",
}


def kind_of(text: str) -> str:
    """The prompt kind of a rendered SFT prompt."""
    for marker, kind in KINDS.items():
        if text.startswith(marker):
            return kind
    raise AssertionError(f"unexpected prompt: {text[:120]!r}")


def server_of(text: str) -> dict[str, Any]:
    """The ``Service (JSON)`` object of a prompt."""
    match = re.search(r"Service \(JSON\):\n(\{.*\})\n", text)
    assert match, text[:300]
    return json.loads(match.group(1))


def numbered(text: str, header: str) -> list[str]:
    """The tool names of a numbered list that follows ``header`` (``1. name`` lines)."""
    block = text.split(header, 1)[1].split("\n\n", 1)[0]
    names = []
    for line in block.splitlines():
        match = re.match(r"\d+\. ([A-Za-z0-9_-]+)", line)
        if match:
            names.append(match.group(1))
    return names


def zh(text: str) -> bool:
    return "write it in Chinese" in text


def question_for(text: str, names: list[str]) -> str:
    server = server_of(text)["name"]
    if zh(text):
        return f"请帮我处理{len(names)}个步骤的事情：先查一下城市，然后告诉我结果。"
    return (f"Please take care of my {server} request with {len(names)} step(s): start from "
            f"the item I gave you and finish what it leads to.")


def answer(text: str, body: dict[str, Any]) -> Any:
    """The default reply value of a prompt."""
    kind = kind_of(text)
    seed = body.get("seed", 0) or 0
    if kind == "graph":
        chains = CHAINS.get(server_of(text)["name"], [])
        chosen = chains if seed == 0 else chains[: max(1, len(chains) - seed)]
        return {"chains": [{"verdict": "yes", "chain": chain, "task": "a task"}
                           for chain in chosen]
                + [{"verdict": "not sure", "chain": chains[0][::-1] if chains else [],
                    "task": "unsure"}]}
    if kind == "vote":
        return {"coherent": True, "arguments_satisfiable": True, "reason": "fine"}
    if kind == "to_query":
        chain = numbered(text, "Chain, in calling order:")
        return {"query": f"Please do this for me [plan:{'>'.join(chain)}]"}
    if kind == "to_chain":
        match = re.search(r"\[plan:([^\]]*)\]", text)
        return {"plan": "p", "chain": match.group(1).split(">") if match else []}
    if kind == "task_chain":
        chain = numbered(text, "Tool execution chain")
        return {"analysis": "a", "target_tools": chain, "question": question_for(text, chain)}
    if kind == "task_server":
        k = int(re.search(r"with\nexactly (\d+) of", text).group(1))
        tools = numbered(text, "The service's tools:")[:k]
        return {"analysis": "a", "target_tools": tools, "question": question_for(text, tools)}
    if kind in ("diverse", "complicate", "persona"):
        original = text.split("Original task:\n", 1)[1].split("\n\n", 1)[0]
        suffix = {"diverse": "另一种情况" if zh(text) else " In another setting.",
                  "complicate": "预算有限。" if zh(text) else " Keep it under budget.",
                  "persona": "我是护士。" if zh(text) else " I am a busy nurse."}[kind]
        return {"context": kind, "question": original + suffix}
    assert kind == "score"
    return {name: {"reasoning": "r", "score": 5 if name != "tool_selection_difficulty" else 3}
            for name in ("question_quality", "scenario_realism", "tool_use_necessity",
                         "tool_selection_difficulty", "tool_selection_uniqueness")}


class ScriptedModel:
    """The callable script: the default answers, with optional per-kind overrides and delay.

    Args:
        overrides: ``{kind: f(text, body) -> reply | None}``; a reply is what
            :class:`llm_server.ScriptedLLMServer` takes (``None``: the default).
        delay: Seconds to wait before each answer of ``delay_kinds``.
        delay_kinds: The prompt kinds that wait.
    """

    def __init__(self, overrides: dict[str, Callable[[str, dict[str, Any]], Any]] | None = None,
                 *, delay: float = 0.0, delay_kinds: tuple[str, ...] = ()) -> None:
        self.overrides = overrides or {}
        self.delay = delay
        self.delay_kinds = delay_kinds
        self.kinds: list[str] = []

    def __call__(self, body: dict[str, Any]) -> Any:
        text = body["messages"][0]["content"]
        kind = kind_of(text)
        self.kinds.append(kind)
        reply = None
        if kind in self.overrides:
            reply = self.overrides[kind](text, body)
        if reply is None:
            reply = {"content": json.dumps(answer(text, body), ensure_ascii=False)}
        if self.delay and kind in self.delay_kinds:
            reply = {**reply, "delay": self.delay}
        return reply
