"""A scripted model for the SFT part-2 stages: agent, tool emulator and the seven judges.

``TrajectoryModel(...)`` is a callable for :class:`llm_server.ScriptedLLMServer`;
its replies are deterministic functions of the request, so a run, a killed and
resumed run and an offline replay see the same conversation. Part-1 prompts
are passed on to :class:`sft_model.ScriptedModel`.

Agent policies:

* task rows (real or emulated tools): the first turn thinks (``<think>``) and
  calls the first two listed tools in parallel, arguments made up from the
  schema; a call answered with ``Error`` is retried once; then a final answer
  quoting the first result;
* env-pack tasks (the user message is a task of the demo pack): ``oracle``
  plays the gold calls hop by hop and answers the gold answer; ``redundant``
  makes every gold call twice.

Native mode answers with ``tool_calls``; text mode (no ``tools`` in the
request) writes ``<tool_call>`` markup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from sft_model import ScriptedModel

from astra_gym.pack import Pack, demo_pack_path

JUDGE = re.compile(r"\((QU|QP|TCU|TCP|TCS|TC|FA):")
ITEM = re.compile(r"^([BRTC]\d+)(?::|$)", re.MULTILINE)
LIST_KEY = {"TCU": "batches", "TCP": "rounds", "TCS": "results", "TC": "calls"}


def judge_kind(text: str) -> str | None:
    """The dimension of a judge prompt, or ``None`` when it is not one."""
    match = JUDGE.search(text.split("\n", 1)[0])
    return match.group(1) if text.startswith("You judge") and match else None


def items(text: str) -> list[str]:
    """The item ids a judge prompt lists."""
    return ITEM.findall(text)


def full_marks(kind: str, text: str) -> Any:
    """A judge reply with every score at the top of its scale."""
    if kind in ("QU", "QP"):
        return {"reason": "good", "score": 1}
    if kind == "FA":
        return {"correctness": {"reason": "solved", "score": 1},
                "summary": {"reason": "faithful", "score": 1}}
    field = "success" if kind == "TCS" else "score"
    return {LIST_KEY[kind]: [{"id": item, "reason": "ok", field: True if kind == "TCS" else 1}
                             for item in items(text)]}


def value_for(name: str, schema: dict[str, Any]) -> Any:
    """A made-up argument value."""
    if "timezone" in name:
        return "Europe/Lisbon"
    if name == "time":
        return "12:30"
    kind = schema.get("type")
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    return "x"


def arguments_for(function: dict[str, Any]) -> dict[str, Any]:
    parameters = function.get("parameters") or {}
    properties = parameters.get("properties") or {}
    return {name: value_for(name, properties.get(name) or {})
            for name in parameters.get("required") or []}


class TrajectoryModel:
    """The callable script (see the module docstring).

    Args:
        env_policy: ``oracle`` or ``redundant`` for env-pack tasks.
        judges: ``{dimension: f(text, body) -> reply | None}`` overrides.
        emulator: ``f(text, body) -> reply | None`` override of the emulator.
        agent_delay: Seconds each agent reply waits.
        part1: The part-1 model (default: :class:`sft_model.ScriptedModel`).
    """

    def __init__(self, *, env_policy: str = "oracle",
                 judges: dict[str, Callable[[str, dict[str, Any]], Any]] | None = None,
                 emulator: Callable[[str, dict[str, Any]], Any] | None = None,
                 agent_delay: float = 0.0, part1: Any = None) -> None:
        self.env_policy = env_policy
        self.judges = judges or {}
        self.emulator = emulator
        self.agent_delay = agent_delay
        self.part1 = part1 or ScriptedModel()
        self.pack = Pack(demo_pack_path())
        self.by_prompt = {self.pack.task(task_id).prompt[-1]["content"]: task_id
                          for task_id in self.pack.task_ids}
        self.kinds: list[str] = []

    def __call__(self, body: dict[str, Any]) -> Any:
        messages = body["messages"]
        if messages[0]["role"] == "system":
            self.kinds.append("agent")
            reply = self.agent(body)
            return {**reply, "delay": self.agent_delay} if self.agent_delay else reply
        text = messages[0]["content"]
        if text.startswith("You play a tool"):
            self.kinds.append("emulator")
            reply = self.emulator(text, body) if self.emulator else None
            return reply or {"content": json.dumps(self.emulate(text))}
        kind = judge_kind(text)
        if kind is not None:
            self.kinds.append(kind)
            reply = self.judges[kind](text, body) if kind in self.judges else None
            return reply or {"content": json.dumps(full_marks(kind, text))}
        return self.part1(body)

    @staticmethod
    def emulate(text: str) -> Any:
        tool = json.loads(text.split("The tool (JSON", 1)[1].split("\n", 2)[1])
        arguments = json.loads(text.split("The call's arguments (JSON):\n", 1)[1].split("\n")[0])
        return {"result": {"tool": tool["name"], "echo": arguments, "id": f"{tool['name']}-7"}}

    # -- the agent -----------------------------------------------------------------

    def agent(self, body: dict[str, Any]) -> Any:
        messages = body["messages"]
        native = "tools" in body
        tools = body["tools"] if native else self.text_tools(messages[0]["content"])
        user = next(m["content"] for m in messages if m["role"] == "user")
        if user in self.by_prompt:
            calls, final = self.env_turn(self.by_prompt[user], messages)
        else:
            calls, final = self.task_turn(tools, messages)
        first = not any(m["role"] == "assistant" for m in messages)
        thought = "<think>I plan the calls first.</think>" if first else ""
        if final is not None:
            return {"content": thought + final}
        if native:
            return {"content": thought + "Let me call the tools." if thought else None,
                    "tool_calls": [{"name": name, "arguments": args} for name, args in calls]}
        return {"content": thought + "".join(
            "<tool_call>" + json.dumps({"name": name, "arguments": args}) + "</tool_call>"
            for name, args in calls)}

    @staticmethod
    def text_tools(system: str) -> list[dict[str, Any]]:
        marker = "Available tools (OpenAI format):\n"
        return json.loads(system.split(marker, 1)[1].strip()) if marker in system else []

    @staticmethod
    def results(messages: list[dict[str, Any]]) -> list[str]:
        """Tool results so far (native tool messages, or text-mode tool responses)."""
        out = [m["content"] for m in messages if m["role"] == "tool"]
        for m in messages[2:]:
            if m["role"] == "user":
                out += re.findall(r"<tool_response>\n(.*?)\n</tool_response>", m["content"],
                                  re.DOTALL)
        return out

    def task_turn(self, tools: list[dict[str, Any]], messages: list[dict[str, Any]]
                  ) -> tuple[list[tuple[str, dict[str, Any]]], str | None]:
        turns = sum(m["role"] == "assistant" for m in messages)
        chosen = [(t["function"]["name"], arguments_for(t["function"])) for t in tools[:2]]
        results = self.results(messages)
        if turns == 0:
            return chosen, None
        last = results[-len(chosen):] if turns == 1 else []
        failed = [call for call, result in zip(chosen, last, strict=False)
                  if result.startswith("Error")]
        if turns == 1 and failed:
            return failed, None
        good = next((r for r in results if not r.startswith("Error")), "nothing")
        return [], f"Here is what I found: {good[:80]}"

    def env_turn(self, task_id: str, messages: list[dict[str, Any]]
                 ) -> tuple[list[tuple[str, dict[str, Any]]], str | None]:
        task = self.pack.task(task_id)
        hops: dict[int, list[tuple[str, dict[str, Any]]]] = {}
        for sub in task.subtasks:
            if sub.gold_call is not None:
                call = (sub.gold_call.name, dict(sub.gold_call.arguments))
                if call not in hops.setdefault(sub.hop_level, []):
                    hops[sub.hop_level].append(call)
        ordered = [hops[level] for level in sorted(hops)]
        turns = sum(m["role"] == "assistant" for m in messages)
        if turns < len(ordered):
            calls = ordered[turns]
            return (calls + calls if self.env_policy == "redundant" else calls), None
        return [], task.final_answer or "; ".join(sub.answer for sub in task.subtasks)
