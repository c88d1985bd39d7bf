"""Replaying a draft's gold calls in the sandbox.

Tool code in a trace is fresh from an LLM, so the compiler replays it in
``process`` isolation (a separate interpreter with rlimits and a watchdog).
A gold call passes only when it returns normally *and* its result solves its
sub-task under the env's own rule (:mod:`astra_gym.evidence`): it contains the
gold answer, is not error-shaped, and does not merely repeat the call's
arguments. An error whose message happens to contain the answer never counts,
and a row whose gold call passes the answer *as an argument* cannot compile:
the env would never pay an agent for that call either.
"""

from __future__ import annotations

from astra_gym.evidence import unsolved_reason
from astra_gym.sandbox import ErrorKind, Sandbox

from .rows import Draft, Reason

__all__ = ["REPLAY_SEED", "check_compiles", "replay_gold_calls"]

#: The episode seed gold calls are replayed with (tools should not depend on it).
REPLAY_SEED = 0
_SHOWN = 160


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def check_compiles(draft: Draft) -> list[Reason]:
    """Every tool of the task (distractors included) must compile under the sandbox policy."""
    reasons = []
    seen: set[str] = set()
    for tool in draft.task.all_tools:
        if tool.source in seen:
            continue
        seen.add(tool.source)
        errors = Sandbox.check(tool.source)
        if errors:
            reasons.append(Reason("compile", f"tool {tool.name!r} is rejected by the sandbox "
                                             f"policy: {'; '.join(errors[:3])}"))
    return reasons


def replay_gold_calls(draft: Draft, sandbox: Sandbox) -> list[Reason]:
    """Load every tool, then run every gold call hop by hop, in one episode's session.

    Args:
        draft: A statically checked draft.
        sandbox: The sandbox to run in (``process`` isolation for LLM code).

    Returns:
        One reason per tool that fails to load, else one per gold call that
        failed or whose result lacks its answer; empty when all pass.
    """
    reasons = []
    with sandbox.session(seed=REPLAY_SEED) as session:
        loaded: set[str] = set()
        for tool in draft.task.all_tools:
            if tool.source in loaded:
                continue
            loaded.add(tool.source)
            # A name starting with "_" is never called: this only runs the
            # module body (imports, mock data), which distractors and
            # answer-only tools would otherwise never have checked.
            probe = session.call(tool.source, "_astra_load_probe")
            if probe.error_kind != ErrorKind.NOT_FOUND:
                detail = _short(probe.error or "")
                reasons.append(Reason("replay", f"tool {tool.name!r} fails to load "
                                                f"({probe.error_kind}): {detail}"))
        if reasons:
            return reasons
        for replay in draft.replays:
            tool = draft.task.tool(replay.tool)
            assert tool is not None, replay.tool  # drafts only reference their own tools
            result = session.call(tool.source, tool.function, replay.arguments)
            where = f"sub-question {replay.subtask_id}: gold call {replay.call_text()}"
            if not result.ok:
                reasons.append(Reason("replay", f"{where} failed ({result.error_kind}): "
                                                f"{_short(result.error or '')}"))
            elif (problem := unsolved_reason(result.output, replay.answer,
                                             replay.arguments)) is not None:
                problem = problem.replace("answer", "gold answer", 1)
                reasons.append(Reason("answer", f"{where} returned {_short(result.output)!r}, "
                                                f"which {problem}"))
    return reasons
