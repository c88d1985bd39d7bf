"""One evaluation episode: the model's turns against an env, recorded as one JSON line.

The conversation sent to the model is built from the env's own transcript
(``env.unwrapped.messages``), so the tool-call ids the API sees are always
the ones the env answered. Native mode sends the env's tools and steps the
env with the assistant message; text mode sends no tools, steps the env with
the text (the env's parsers read the calls, :func:`astra_gym.parsers.parse_action`)
and sends tool results back as ``<tool_response>`` blocks in a user message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..agents.openai_agent import text_mode_messages, to_api_message
from .client import ChatClient, EndpointError, ModelReply
from .envs import EnvPool

__all__ = ["EpisodeFailure", "PlannedEpisode", "RenderError", "play_episode"]


@dataclass(frozen=True)
class PlannedEpisode:
    """One episode of the plan.

    Attributes:
        task_id: The task.
        rollout: The rollout index (0 .. G-1).
        seed: The reset seed (:func:`~astra_gym.eval.config.episode_seed`).
    """

    task_id: str
    rollout: int
    seed: int


class RenderError(ValueError):
    """Text mode: calls a server-side parser returned cannot be written in the call format."""


class EpisodeFailure(Exception):
    """An episode could not be finished; ``record`` is its error line (partial transcript)."""

    def __init__(self, record: dict[str, Any], cause: BaseException) -> None:
        super().__init__(str(cause))
        self.record = record
        self.cause = cause


def _api_messages(messages: list[dict[str, Any]], mode: str) -> list[dict[str, Any]]:
    if mode == "text":
        return text_mode_messages(messages)
    return [to_api_message(message) for message in messages]


def _action(reply: ModelReply, mode: str, call_format: str | None) -> str | dict[str, Any]:
    """What the env is stepped with: the message (native) or the turn's text.

    In text mode a server-side tool parser may still have taken calls out of
    the text; with a ``call_format`` they are written back in that format
    (:func:`~astra_gym.parsers.render_calls`) so the env reads them.

    Raises:
        RenderError: Those calls cannot be written in ``call_format``.
    """
    message = reply.message
    if mode == "native":
        return message
    calls = message.get("tool_calls")
    if calls and call_format is not None:
        from ..parsers import render_calls

        try:
            return render_calls(calls, call_format, content=message.get("content") or "")
        except (TypeError, ValueError) as exc:
            raise RenderError(f"cannot write the model's tool calls in {call_format}: "
                              f"{exc}") from exc
    return message.get("content") or ""


async def play_episode(item: PlannedEpisode, envs: EnvPool, client: ChatClient, *,
                       mode: str, call_format: str | None = None) -> dict[str, Any]:
    """Play one episode and return its record (``status: ok``).

    Args:
        item: The planned episode.
        envs: The env pool.
        client: The chat client.
        mode: ``native`` or ``text``.
        call_format: Text mode's call format, or ``None``.

    Returns:
        The episode's record: see ``docs/eval.md`` for every field.

    Raises:
        EpisodeFailure: The endpoint failed for good, or the env or the
            call rendering raised; its ``record`` is the error line.
    """
    started_at = time.time()
    start = time.perf_counter()
    env = await envs.acquire()
    steps: list[dict[str, Any]] = []
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "requests": 0}
    timings = {"model_s": 0.0, "env_s": 0.0}
    record: dict[str, Any] = {"task_id": item.task_id, "rollout": item.rollout,
                              "seed": item.seed, "status": "ok"}
    unwrapped = env.unwrapped
    reset_ok = False
    try:
        (_observation, info), env_s = await envs.run(
            env.reset, seed=item.seed, options={"task_id": item.task_id})
        reset_ok = True
        timings["env_s"] += env_s
        task = unwrapped.task
        record.update({"domain": info.get("domain"), "language": info.get("language"),
                       "hops": task.hops, "subtasks": sum(s.needs_tool for s in task.subtasks),
                       "tools": [tool["function"]["name"] for tool in info["tools"]]})
        tools = info["tools"] if mode == "native" else None
        conversation = _api_messages(list(unwrapped.messages), mode)
        rewards: list[float] = []
        while True:
            reply = await client.complete(conversation, tools)
            timings["model_s"] += reply.total_s
            usage["requests"] += reply.attempts
            for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
                usage[key] += reply.usage[key]
            action = _action(reply, mode, call_format)
            before = len(unwrapped.messages)
            (_obs, reward, terminated, truncated, info), env_s = await envs.run(env.step, action)
            timings["env_s"] += env_s
            rewards.append(float(reward))
            steps.append({"turn": info["turn"], "reward": float(reward),
                          "latency_s": reply.latency_s, "request_s": reply.total_s,
                          "attempts": reply.attempts, "retries": reply.retry_reasons,
                          "finish_reason": reply.finish_reason, "usage": reply.usage,
                          "env_s": env_s, "action_format": info.get("action_format"),
                          "calls": info.get("calls", []),
                          "parse_errors": info.get("parse_errors", []),
                          "dropped_calls": info.get("dropped_calls", 0)})
            conversation.extend(_api_messages(list(unwrapped.messages[before:]), mode))
            if mode == "native" and "tools" in info:  # a user turn revealed tools
                tools = info["tools"]
            if terminated or truncated:
                break
        components = dict(info["reward_components"])
        record.update({
            "reward": sum(rewards), "success": bool(info["success"]),
            "terminated": bool(terminated), "truncated": bool(truncated),
            "turns": len(rewards), "components": components, "rewards": rewards,
            "final_answer": info.get("final_answer"), "hedged": info.get("hedged", False),
        })
    except Exception as exc:  # not CancelledError: a cancelled env may be mid-step, kept out
        if isinstance(exc, EndpointError):
            error = exc.as_dict()
            usage["requests"] += exc.attempts
        else:  # a bug in the env, or calls the call format cannot write
            kind = "render" if isinstance(exc, RenderError) else "env"
            error = {"kind": kind, "message": f"{type(exc).__name__}: {exc}",
                     "status_code": None, "attempts": None}
        record.update({"status": "error", "error": error, "turns": len(steps)})
        _finish(record, unwrapped if reset_ok else None, steps, usage, timings, started_at,
                start)
        envs.release(env)
        raise EpisodeFailure(record, exc) from exc
    _finish(record, unwrapped, steps, usage, timings, started_at, start)
    envs.release(env)
    return record


def _finish(record: dict[str, Any], unwrapped: Any, steps: list[dict[str, Any]],
            usage: dict[str, int], timings: dict[str, float], started_at: float,
            start: float) -> None:
    """Add the transcript, steps, usage and timings to ``record``."""
    record["usage"] = usage
    record["timings"] = {"started_at": started_at, "episode_s": time.perf_counter() - start,
                         **timings}
    record["steps"] = steps
    record["messages"] = [dict(m) for m in unwrapped.messages] if unwrapped is not None else []
    record.setdefault("error", None)
