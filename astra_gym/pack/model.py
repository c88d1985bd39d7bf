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

__all__ = ["Backend", "BackendClass", "GoldCall", "SubTask", "Task", "TaskSource", "Tool",
           "UserTurn"]


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
        turn: The user turn it belongs to (0: the prompt; ``k``: the task's
            ``turns[k - 1]``). Single-turn tasks leave it 0.
    """

    id: str
    question: str | None
    answer: str
    depends_on: tuple[str, ...] = ()
    hop_level: int = 1
    needs_tool: bool = True
    tool: str | None = None
    gold_call: GoldCall | None = None
    turn: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = {"id": self.id, "question": self.question, "answer": self.answer,
                "depends_on": list(self.depends_on), "hop_level": self.hop_level,
                "needs_tool": self.needs_tool, "tool": self.tool,
                "gold_call": None if self.gold_call is None else self.gold_call.to_dict()}
        if self.turn:  # absent for single-turn tasks: their lines stay byte-identical
            data["turn"] = self.turn
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SubTask:
        gold = data.get("gold_call")
        return cls(id=data["id"], question=data.get("question"), answer=data["answer"],
                   depends_on=tuple(data.get("depends_on", ())),
                   hop_level=data.get("hop_level", 1), needs_tool=data.get("needs_tool", True),
                   tool=data.get("tool"),
                   gold_call=None if gold is None else GoldCall.from_dict(gold),
                   turn=data.get("turn", 0))


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
class UserTurn:
    """A further user turn of a multi-user-turn task (the prompt is turn 0).

    Attributes:
        messages: The user messages the env sends when the previous turn ends.
        reveal_tools: Names of the task's tools that stay hidden until this
            turn and are listed from it on.
    """

    messages: tuple[dict[str, str], ...]
    reveal_tools: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"messages": [dict(message) for message in self.messages]}
        if self.reveal_tools:
            data["reveal_tools"] = list(self.reveal_tools)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UserTurn:
        return cls(messages=tuple(dict(message) for message in data["messages"]),
                   reveal_tools=tuple(data.get("reveal_tools", ())))


@dataclass(frozen=True)
class BackendClass:
    """One class of a trusted backend.

    Attributes:
        name: The class name in ``module``.
        module: The module that defines it (must be on the allowlist of
            :mod:`astra_gym.bfcl.backend`).
        config: The state given to its ``_load_scenario`` as JSON text (parsed
            afresh for every instance), or None for a stateless class that is not
            loaded. Text, not an object: key order is part of the state (BFCL's
            file system takes the first key of ``root`` as the root), and pack
            lines are written with sorted keys.
    """

    name: str
    module: str
    config: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "module": self.module, "config": self.config}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BackendClass:
        return cls(name=data["name"], module=data["module"], config=data["config"])


@dataclass(frozen=True)
class Backend:
    """A trusted library backend that runs a task's tools instead of the sandbox.

    The task's tools are the public methods of these classes; their ``source``
    is a signature stub that never runs. See docs/bfcl.md.

    Attributes:
        classes: The classes, in dispatch order (a method name resolves to
            the last class that has it, as BFCL does).
        checker: How a user turn is judged (``bfcl-multi-turn``).
        long_context: Passed to ``_load_scenario``.
        max_steps_per_turn: Steps with tool calls one user turn may take;
            one more ends the episode as truncated (BFCL's force-quit).
        source_id: The id of the source entry (e.g. BFCL's ``multi_turn_base_0``).
    """

    classes: tuple[BackendClass, ...]
    checker: str = "bfcl-multi-turn"
    long_context: bool = False
    max_steps_per_turn: int | None = None
    source_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": "python-class",
                                "classes": [item.to_dict() for item in self.classes],
                                "checker": self.checker, "long_context": self.long_context}
        if self.max_steps_per_turn is not None:
            data["max_steps_per_turn"] = self.max_steps_per_turn
        if self.source_id is not None:
            data["source_id"] = self.source_id
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Backend:
        return cls(classes=tuple(BackendClass.from_dict(item) for item in data["classes"]),
                   checker=data["checker"], long_context=data.get("long_context", False),
                   max_steps_per_turn=data.get("max_steps_per_turn"),
                   source_id=data.get("source_id"))


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
        turns: Further user turns (multi-user-turn episodes; empty for one turn).
        backend: The trusted backend that runs the tools, or None (the sandbox).
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
    turns: tuple[UserTurn, ...] = ()
    backend: Backend | None = None
    _tool_index: dict[str, Tool] = field(default=None, init=False, repr=False,  # type: ignore[assignment]
                                         compare=False)

    def __post_init__(self) -> None:
        if not self.turns and not any(sub.turn for sub in self.subtasks):
            return  # a single-turn task: nothing to cross-check
        names = {tool.name for tool in self.all_tools}
        for index, turn in enumerate(self.turns, start=1):
            unknown = sorted(set(turn.reveal_tools) - names)
            if unknown:
                raise ValueError(f"task {self.task_id!r}: turn {index} reveals {unknown}, which "
                                 "are not tools of the task")
        late = [sub.id for sub in self.subtasks if sub.turn > len(self.turns)]
        if late:
            raise ValueError(f"task {self.task_id!r}: sub-task(s) {late[:3]} belong to a user "
                             f"turn the task does not have (it has {1 + len(self.turns)})")

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
                "scenario_type": self.scenario_type,
                # Absent unless used, so single-turn sandbox tasks keep their exact bytes.
                **({"turns": [turn.to_dict() for turn in self.turns]} if self.turns else {}),
                **({"backend": self.backend.to_dict()} if self.backend is not None else {})}

    @property
    def hidden_tools(self) -> frozenset[str]:
        """Names of tools a later user turn reveals (not listed before it)."""
        return frozenset(name for turn in self.turns for name in turn.reveal_tools)

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
                   scenario_type=data.get("scenario_type"),
                   turns=tuple(UserTurn.from_dict(turn) for turn in data.get("turns", ())),
                   backend=None if data.get("backend") is None
                   else Backend.from_dict(data["backend"]))
