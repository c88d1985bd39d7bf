"""Astra packs over OpenEnv: a server (``astra-gym serve``) and its typed client.

OpenEnv (``openenv-core``, the env interface TRL's OpenEnv integration and
other trainers use across machines) serves an ``Environment`` over HTTP and
WebSocket sessions. :class:`AstraOpenEnvEnvironment` is one: every WebSocket
session gets its own :class:`~astra_gym.env.AstraEnv`, built with OpenEnv's
own ``create_app``, so any OpenEnv client speaks to it.

* ``reset(seed=..., task_id=...)`` returns the system and user messages, the
  OpenAI tool list and the task id;
* ``step(AstraAction(content=..., tool_calls=[...]))`` plays one assistant
  turn (text, parsed by the env's parsers, or OpenAI ``tool_calls``) and
  returns the tool messages, the env's reward, ``done`` (terminated or
  truncated) and ``info`` (``reward_components``, ``success``, ...).

Every session's env steps run in one thread (``REQUIRES_SINGLE_THREAD_EXECUTOR``):
the sandbox's worker pool then only ever sees one thread, as in ``astra-gym eval``.

Example (a server on a free port, then the client; needs ``openenv-core``)::

    astra-gym serve astra/demo-v0 --port 8100           # on the env machine

    from astra_gym.integrations.openenv import AstraAction, AstraEnvClient

    with AstraEnvClient(base_url="http://envhost:8100").sync() as client:
        result = client.reset(seed=0, task_id="demo-weather-001")
        result = client.step(AstraAction(content="I don't know."))
        print(result.done, result.reward, result.observation.info["success"])
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

try:
    from openenv.core.client_types import StepResult
    from openenv.core.env_client import EnvClient
    from openenv.core.env_server.http_server import create_app
    from openenv.core.env_server.interfaces import Environment
    from openenv.core.env_server.types import Action, Observation, State
    from pydantic import Field
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError('the OpenEnv adapter needs openenv-core: pip install '
                      '"astra-gym[openenv]"') from exc

__all__ = ["AstraAction", "AstraEnvClient", "AstraObservation", "AstraOpenEnvEnvironment",
           "AstraState", "make_app", "serve"]


class AstraAction(Action):
    """One assistant turn: text (tool calls in it are parsed), or OpenAI ``tool_calls``."""

    content: str | None = Field(default=None, description="the assistant's text")
    tool_calls: list[dict[str, Any]] | None = Field(
        default=None, description="OpenAI tool_calls: {id, type, function: {name, arguments}}")


class AstraObservation(Observation):
    """What reset and step return (``done`` and ``reward`` come from the base class)."""

    messages: list[dict[str, Any]] = Field(
        default_factory=list, description="reset: system and user messages; step: tool messages")
    tools: list[dict[str, Any]] = Field(default_factory=list,
                                        description="reset: the OpenAI tool list")
    task_id: str = Field(default="", description="the episode's task")
    truncated: bool = Field(default=False, description="ended by the turn limit")
    info: dict[str, Any] = Field(default_factory=dict,
                                 description="the env's info: reward_components, success, ...")


class AstraState(State):
    """The session's state: ``episode_id``, ``step_count``, and the task."""

    task_id: str | None = None


def _jsonable(info: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(info, default=str))


class AstraOpenEnvEnvironment(Environment[AstraAction, AstraObservation, AstraState]):
    """An OpenEnv environment over an astra env id (one per session).

    Args:
        env_id: A registered env id or a pack directory.
        env_kwargs: ``gym.make`` keyword arguments.
    """

    SUPPORTS_CONCURRENT_SESSIONS = True
    REQUIRES_SINGLE_THREAD_EXECUTOR = True

    def __init__(self, env_id: str = "astra/demo-v0",
                 env_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        import gymnasium as gym

        from ..validation import resolve_target

        self.env_id, _ = resolve_target(env_id)
        self.env = gym.make(self.env_id, **dict(env_kwargs or {}))
        self._state = AstraState(episode_id=str(uuid.uuid4()), step_count=0)

    def reset(self, seed: int | None = None, episode_id: str | None = None,
              task_id: str | None = None, **kwargs: Any) -> AstraObservation:
        """Start an episode (on ``task_id``, else a task drawn with ``seed``)."""
        options = {"task_id": task_id} if task_id is not None else None
        messages, info = self.env.reset(seed=seed, options=options)
        self._state = AstraState(episode_id=episode_id or str(uuid.uuid4()), step_count=0,
                                 task_id=info["task_id"])
        rest = {key: value for key, value in info.items() if key != "tools"}
        return AstraObservation(messages=[dict(m) for m in messages], tools=info["tools"],
                                task_id=info["task_id"], info=_jsonable(rest), done=False,
                                reward=0.0)

    def step(self, action: AstraAction, timeout_s: float | None = None,
             **kwargs: Any) -> AstraObservation:
        """Play one assistant turn."""
        turn: str | dict[str, Any]
        if action.tool_calls:
            turn = {"role": "assistant", "content": action.content,
                    "tool_calls": action.tool_calls}
        else:
            turn = action.content or ""
        messages, reward, terminated, truncated, info = self.env.step(turn)
        self._state.step_count += 1
        return AstraObservation(messages=[dict(m) for m in messages],
                                task_id=info["task_id"], truncated=bool(truncated),
                                info=_jsonable(info), done=bool(terminated or truncated),
                                reward=float(reward))

    @property
    def state(self) -> AstraState:
        """The session's state."""
        return self._state

    def close(self) -> None:
        """Close the env."""
        self.env.close()


def make_app(target: str, *, env_kwargs: dict[str, Any] | None = None,
             max_sessions: int = 64) -> Any:
    """The FastAPI app serving ``target`` (OpenEnv's ``create_app``).

    Args:
        target: An env id or a pack directory.
        env_kwargs: ``gym.make`` keyword arguments of every session's env.
        max_sessions: Concurrent WebSocket sessions (one env each).

    Raises:
        ValueError: An unknown target, or env kwargs the env refuses.
    """
    from ..validation import resolve_target

    env_id, _ = resolve_target(target)
    probe = AstraOpenEnvEnvironment(env_id, env_kwargs)  # unusable kwargs fail here
    probe.close()
    factory = functools.partial(AstraOpenEnvEnvironment, env_id=env_id, env_kwargs=env_kwargs)
    return create_app(factory, AstraAction, AstraObservation, env_name="astra",
                      max_concurrent_envs=max_sessions)


def serve(target: str, *, host: str = "127.0.0.1", port: int = 8000,
          env_kwargs: dict[str, Any] | None = None, max_sessions: int = 64) -> None:
    """Serve ``target`` with uvicorn until interrupted (``astra-gym serve``)."""
    import uvicorn

    app = make_app(target, env_kwargs=env_kwargs, max_sessions=max_sessions)
    uvicorn.run(app, host=host, port=port, log_level="warning")


class AstraEnvClient(EnvClient[AstraAction, AstraObservation, AstraState]):
    """The typed OpenEnv client of an astra server (WebSocket session; ``.sync()`` for loops)."""

    def _step_payload(self, action: AstraAction) -> dict[str, Any]:
        return action.model_dump(exclude={"metadata"}, exclude_none=True)

    def _parse_result(self, payload: dict[str, Any]) -> StepResult[AstraObservation]:
        data = dict(payload.get("observation") or {})
        observation = AstraObservation(**data, done=bool(payload.get("done")),
                                       reward=payload.get("reward"))
        return StepResult(observation=observation, reward=payload.get("reward"),
                          done=bool(payload.get("done")))

    def _parse_state(self, payload: dict[str, Any]) -> AstraState:
        return AstraState(**payload)
