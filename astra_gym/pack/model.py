"""Typed records of a pack: :class:`Task`, :class:`SubTask`, :class:`Tool`, :class:`GoldCall`.

These are the in-memory form of one ``tasks.jsonl`` line. They are frozen so
an env can hand the same task to many episodes without defensive copies, and
they convert to and from the plain JSON dicts that the pack's JSON Schema
describes (``astra_gym/schemas/task.schema.json``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GoldCall", "SubTask", "Task", "TaskSource", "Tool"]


@dataclass(frozen=True)
class GoldCall:
    """The reference call that answers a sub-task.

    Attributes:
        name: The tool name as the agent sees it.
        arguments: Keyword arguments, JSON data (positional arguments of the
            source call statement are already mapped to parameter names).
    """

    name: str
    arguments: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GoldCall:
        return cls(name=data["name"], arguments=dict(data["arguments"]))


@dataclass(frozen=True)
class Tool:
    """A tool of a task: what the agent sees, and the code that runs.

    Attributes:
        name: The tool name in the OpenAI tool list (unique within a task).
        description: The tool description shown to the agent.
        parameters: The JSON Schema (type ``object``) of the arguments.
        source: Python source defining the function.
        function: The function to call in ``source``. Equal to ``name``
            unless the compiler renamed the tool to resolve a name clash.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    source: str
    function: str

    def openai(self) -> dict[str, Any]:
        """The tool in OpenAI chat-completions format (``tools=[...]``)."""
        return {"type": "function", "function": {
            "name": self.name, "description": self.description, "parameters": self.parameters}}

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "parameters": self.parameters, "source": self.source, "function": self.function}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tool:
        return cls(name=data["name"], description=data["description"],
                   parameters=dict(data["parameters"]), source=data["source"],
                   function=data["function"])


@dataclass(frozen=True)
class SubTask:
    """One node of the task's decomposition DAG.

    Attributes:
        id: The sub-question id (ASTRA's ``_uuid`` as text; ``tool#k`` for
            answer-only sub-tasks of released RL rows).
        question: The sub-question, or None when the source has none.
        answer: The gold sub-answer a tool result must contain.
        depends_on: Ids of the sub-tasks this one directly depends on.
        hop_level: The DAG layer (1 = no dependencies).
        needs_tool: Whether solving it takes a tool call. Only these count
            in the reward.
        tool: The name of the tool that answers it, if any.
        gold_call: The reference call, or None for answer-only sub-tasks
            (solved by any call whose result contains the answer).
    """

    id: str
    question: str | None
    answer: str
    depends_on: tuple[str, ...] = ()
    hop_level: int = 1
    needs_tool: bool = True
    tool: str | None = None
    gold_call: GoldCall | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "question": self.question, "answer": self.answer,
                "depends_on": list(self.depends_on), "hop_level": self.hop_level,
                "needs_tool": self.needs_tool, "tool": self.tool,
                "gold_call": None if self.gold_call is None else self.gold_call.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SubTask:
        gold = data.get("gold_call")
        return cls(id=data["id"], question=data.get("question"), answer=data["answer"],
                   depends_on=tuple(data.get("depends_on", ())),
                   hop_level=data.get("hop_level", 1), needs_tool=data.get("needs_tool", True),
                   tool=data.get("tool"),
                   gold_call=None if gold is None else GoldCall.from_dict(gold))


@dataclass(frozen=True)
class TaskSource:
    """Where a task came from: input file (base name), 1-based line, row uuid."""

    file: str
    line: int
    uuid: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "uuid": self.uuid}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskSource:
        return cls(file=data["file"], line=data["line"], uuid=data.get("uuid"))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Task:
    """One episode's worth of data: prompt, tools, gold sub-tasks.

    Attributes:
        task_id: Unique within the pack; the source row's ``uuid`` when it has one.
        source: The input row it was compiled from.
        domain: Topic label (``weather``, ``finance``, …).
        language: ``en``, ``zh``, …
        prompt: Chat messages (``role``/``content`` dicts) that start the episode.
        final_answer: The gold final answer, or None when the source has none.
        subtasks: The decomposition DAG in source order.
        tools: The tools the task needs, in first-use order.
        distractor_tools: Extra tools offered to the agent that no sub-task needs.
        scenario_type: ASTRA's label (``Multi-Hop``, …), when known.
    """

    task_id: str
    source: TaskSource
    domain: str
    language: str
    prompt: tuple[dict[str, str], ...]
    final_answer: str | None
    subtasks: tuple[SubTask, ...]
    tools: tuple[Tool, ...]
    distractor_tools: tuple[Tool, ...] = ()
    scenario_type: str | None = None
    _tool_index: dict[str, Tool] = field(default=None, init=False, repr=False,  # type: ignore[assignment]
                                         compare=False)

    @property
    def hops(self) -> int:
        """The depth of the decomposition DAG (its highest hop level)."""
        return max((sub.hop_level for sub in self.subtasks), default=0)

    @property
    def all_tools(self) -> tuple[Tool, ...]:
        """Needed tools followed by distractors: the agent's tool list."""
        return self.tools + self.distractor_tools

    def tool(self, name: str) -> Tool | None:
        """The tool called ``name`` (needed or distractor), or None."""
        index = self._tool_index
        if index is None:
            index = {tool.name: tool for tool in self.all_tools}
            object.__setattr__(self, "_tool_index", index)
        return index.get(name)

    def to_dict(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "source": self.source.to_dict(),
                "domain": self.domain, "language": self.language,
                "prompt": [dict(message) for message in self.prompt],
                "final_answer": self.final_answer,
                "subtasks": [sub.to_dict() for sub in self.subtasks],
                "tools": [tool.to_dict() for tool in self.tools],
                "distractor_tools": [tool.to_dict() for tool in self.distractor_tools],
                "scenario_type": self.scenario_type}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Task:
        return cls(task_id=data["task_id"], source=TaskSource.from_dict(data["source"]),
                   domain=data["domain"], language=data["language"],
                   prompt=tuple(dict(message) for message in data["prompt"]),
                   final_answer=data.get("final_answer"),
                   subtasks=tuple(SubTask.from_dict(sub) for sub in data["subtasks"]),
                   tools=tuple(Tool.from_dict(tool) for tool in data["tools"]),
                   distractor_tools=tuple(Tool.from_dict(tool)
                                          for tool in data.get("distractor_tools", ())),
                   scenario_type=data.get("scenario_type"))
