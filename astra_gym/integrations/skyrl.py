"""Astra packs as a SkyRL-gym environment (``env_class: "astra"``).

SkyRL (NovaSky-AI/SkyRL) drives text envs through ``skyrl_gym``: the trainer
makes one env per dataset row with ``skyrl_gym.make(env_class, env_config=...,
extras=row)``, calls ``init(prompt)`` for the first chat messages, then
``step(llm_text)`` until ``done``. :class:`AstraSkyRLEnv` wraps an
:class:`~astra_gym.env.AstraEnv` for that loop:

* ``init`` resets the env on the row's task (``extra_info.task_id``) and seed,
  and returns the env's system and user messages (the tool list is in the
  system prompt: SkyRL generates text, so ``tools_in_prompt=True``);
* ``step`` takes the model's text (the env's parsers read the calls: hermes
  ``<tool_call>`` blocks, JSON, Python calls, or any family's format, see
  :mod:`astra_gym.parsers`), and returns the tool results as one ``user``
  message of ``<tool_response>`` blocks, the env's reward (dense F1 by
  default), ``done`` (a final answer or the turn limit) and the reward
  components and ``success`` in ``metadata``;
* ``get_metrics`` gives the episode's success, F1, recall, precision, calls and turns.

Importing this module registers the class in ``skyrl_gym`` as ``"astra"``.
:func:`skyrl_rows` makes the dataset rows (write them to parquet for SkyRL).

Example:
    >>> import skyrl_gym
    >>> from astra_gym.integrations.skyrl import skyrl_rows
    >>> row = skyrl_rows("astra/demo-v0", task_ids=["demo-weather-001"])[0]
    >>> env = skyrl_gym.make("astra", extras=row)
    >>> messages, info = env.init(row["prompt"])
    >>> [m["role"] for m in messages], info["task_id"]
    (['system', 'user'], 'demo-weather-001')
    >>> out = env.step("I don't know.")
    >>> out["done"], out["reward"], out["metadata"]["success"]
    (True, 0.0, False)
    >>> env.close()
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

try:
    import skyrl_gym
    from skyrl_gym.envs.base_text_env import BaseTextEnv, BaseTextEnvStepOutput
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError('the SkyRL adapter needs skyrl-gym: pip install "astra-gym[skyrl]"') from exc

__all__ = ["DEFAULT_ENV_KWARGS", "ENV_CLASS", "AstraSkyRLEnv", "register", "skyrl_rows"]

ENV_CLASS = "astra"
"""The ``env_class`` of astra rows in a SkyRL dataset."""
DEFAULT_ENV_KWARGS: dict[str, Any] = {"tools_in_prompt": True}
"""``gym.make`` defaults of the adapter: SkyRL generates text, so the tools go in the prompt."""


def _options(env_config: Any, extras: Mapping[str, Any] | None) -> dict[str, Any]:
    """The row's astra options: ``env_config`` defaults, then ``extras``, then ``extra_info``."""
    options: dict[str, Any] = {}
    if env_config is not None:
        items = env_config.items() if hasattr(env_config, "items") else []
        options.update({key: value for key, value in items})
    extras = dict(extras or {})
    info = extras.pop("extra_info", None) or {}
    options.update({k: v for k, v in extras.items() if k in ("env_id", "task_id", "seed",
                                                            "env_kwargs")})
    options.update(info)
    return options


class AstraSkyRLEnv(BaseTextEnv):
    """A SkyRL text env over one task of an astra pack.

    Args:
        env_config: SkyRL's per-class config (``environment.skyrl_gym.astra``):
            defaults for ``env_id`` and ``env_kwargs``.
        extras: The dataset row: ``extra_info`` holds ``env_id`` (an env id or
            a pack directory), ``task_id``, ``seed`` and ``env_kwargs``
            (``gym.make`` keyword arguments over :data:`DEFAULT_ENV_KWARGS`).

    Raises:
        ValueError: The row names no env.
    """

    def __init__(self, env_config: Any = None, extras: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        import gymnasium as gym

        from ..validation import resolve_target

        options = _options(env_config, extras)
        target = options.get("env_id")
        if not target:
            raise ValueError("an astra SkyRL row needs extra_info.env_id (an env id such as "
                             "astra/demo-v0, or a pack directory)")
        env_id, _ = resolve_target(str(target))
        kwargs = {**DEFAULT_ENV_KWARGS, **dict(options.get("env_kwargs") or {})}
        self.env = gym.make(env_id, **kwargs)
        self.task_id: str | None = options.get("task_id")
        self.seed: int | None = options.get("seed")
        self.max_turns = self.env.unwrapped.max_turns
        self.last_info: dict[str, Any] = {}
        self._return = 0.0

    def init(self, prompt: Any = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Reset on the row's task; the env's system and user messages.

        Args:
            prompt: The row's prompt (the env's own messages are returned: they
                hold the tool list in this episode's order).

        Returns:
            The chat messages, and the reset info (``task_id``, ``tools``, ...).
        """
        options = {"task_id": self.task_id} if self.task_id is not None else None
        messages, info = self.env.reset(seed=self.seed, options=options)
        self.turns = 0
        self._return = 0.0
        self.last_info = dict(info)
        return [dict(message) for message in messages], dict(info)

    def step(self, action: str) -> BaseTextEnvStepOutput:
        """Play one assistant turn (text).

        Returns:
            ``observations`` (one ``user`` message of ``<tool_response>``
            blocks; none when the episode ended), ``reward``, ``done`` and
            ``metadata`` (``reward_components``, ``success``, ``turn``,
            ``calls``, ``parse_errors``, ``action_format``).
        """
        from ..agents.openai_agent import text_mode_messages

        tool_messages, reward, terminated, truncated, info = self.env.step(action)
        self.turns += 1
        self._return += float(reward)
        self.last_info = dict(info)
        done = bool(terminated or truncated)
        observations = [] if done else text_mode_messages(tool_messages)
        metadata = {key: info[key] for key in ("reward_components", "success", "turn",
                                               "calls", "parse_errors", "action_format")
                    if key in info}
        metadata["truncated"] = bool(truncated)
        return BaseTextEnvStepOutput(observations=observations, reward=float(reward),
                                     done=done, metadata=metadata)

    def get_metrics(self) -> dict[str, Any]:
        """The episode's success, return, F1, recall, precision, calls and turns."""
        components = self.last_info.get("reward_components") or {}
        return {"success": float(bool(self.last_info.get("success"))), "return": self._return,
                **{key: components[key] for key in ("f1", "recall", "precision", "calls",
                                                    "invalid_calls") if key in components},
                "turns": self.turns}

    def close(self) -> None:
        """Close the env (its sandbox session)."""
        self.env.close()


def register() -> None:
    """Register :class:`AstraSkyRLEnv` in ``skyrl_gym`` as :data:`ENV_CLASS` (idempotent)."""
    if ENV_CLASS not in skyrl_gym.registry:
        skyrl_gym.register(id=ENV_CLASS, entry_point=f"{__name__}:AstraSkyRLEnv")


def skyrl_rows(target: str, *, task_ids: Iterable[str] | None = None, seed: int = 0,
               env_kwargs: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """SkyRL dataset rows, one per task: ``prompt``, ``env_class``, ``reward_spec``, ``extra_info``.

    Args:
        target: An env id or a pack directory.
        task_ids: The tasks (default: every task of the pack, in order).
        seed: Each row's reset seed is ``seed + index``.
        env_kwargs: ``gym.make`` keyword arguments stored in every row.

    Returns:
        The rows; ``prompt`` is the env's reset messages for the row's task and seed.
    """
    import gymnasium as gym

    from ..validation import resolve_target

    env_id, _ = resolve_target(target)
    kwargs = {**DEFAULT_ENV_KWARGS, **dict(env_kwargs or {})}
    env = gym.make(env_id, **kwargs)
    try:
        ids = list(task_ids) if task_ids is not None else list(env.unwrapped.task_ids)
        stored = dict(env_kwargs or {})
        rows = []
        for index, task_id in enumerate(ids):
            messages, _info = env.reset(seed=seed + index, options={"task_id": task_id})
            task = env.unwrapped.task
            rows.append({"data_source": f"astra:{env_id}", "prompt": messages,
                         "env_class": ENV_CLASS,
                         "reward_spec": {"method": "rule", "ground_truth": task.final_answer},
                         "extra_info": {"env_id": env_id, "task_id": task_id,
                                        "seed": seed + index, "env_kwargs": stored}})
        return rows
    finally:
        env.close()


register()
