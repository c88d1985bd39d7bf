"""What an evaluation run is: :class:`EvalConfig`, and which of its fields fix the results."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["IDENTITY_FIELDS", "MODES", "EvalConfig", "episode_seed"]

MODES = ("native", "text")
"""``native``: the API's tool calling; ``text``: calls as text, read by the env's parsers."""

IDENTITY_FIELDS = ("env_id", "pack_hash", "model", "mode", "call_format", "temperature",
                   "max_tokens", "env_kwargs", "seed")
"""Fields that change what an episode is: a results directory holds one value of each.

The others (the endpoint's URL, concurrency, timeout, retries, task selection,
rollouts) only change where, how or how much is run, so a rerun may change them
and still resume.
"""


@dataclass
class EvalConfig:
    """One evaluation: a model on an env, episodes planned as tasks x rollouts.

    Attributes:
        env_id: The registered env id (``astra/demo-v0``).
        model: The model name the endpoint serves.
        base_url: The OpenAI-compatible endpoint (``http://host:8000/v1``);
            ``None``: the OpenAI API.
        api_key: The key (never written to the results directory).
        mode: One of :data:`MODES`.
        call_format: Text mode: the format the model is asked to write calls
            in (one of :data:`astra_gym.parsers.CALL_FORMATS`); ``None``: the
            env's default prompt, parsed with ``action_format="auto"``.
        concurrency: Episodes (so requests) in flight at once.
        rollouts: Rollouts per task (G).
        task_ids: The tasks to play (``None``: every task of the pack, in order).
        limit: Play only the first ``limit`` tasks (of ``task_ids`` or the pack).
        temperature: Sampling temperature (``None``: the server's default).
        max_tokens: Completion cap per request (``None``: the server's default).
        timeout: Seconds per request.
        max_retries: Retries of a request after a transient failure (timeouts,
            connection errors, HTTP 408/409/429/5xx, bodies that are not a chat
            completion), with exponential backoff.
        backoff: The first retry's delay in seconds (doubled each retry, jittered).
        env_kwargs: Extra ``gym.make`` keyword arguments (they win over the
            mode's defaults).
        seed: The base of every episode's reset seed (:func:`episode_seed`).
        abort_after: Consecutive failed episodes (endpoint errors) that stop the run.
        pack_hash: The pack's content hash (filled in by the runner).
        ray_address: Run the envs in Ray actors on this cluster (``local``,
            ``auto`` or an address, :func:`astra_gym.eval.ray_envs.connect`);
            ``None``: in this process. The model client stays here either way.
        ray_actors: With ``ray_address``: the env actors, each holding several
            envs (``None``: one per CPU of the cluster, at most ``concurrency``).
    """

    env_id: str
    model: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    mode: str = "native"
    call_format: str | None = None
    concurrency: int = 8
    rollouts: int = 1
    task_ids: list[str] | None = None
    limit: int | None = None
    temperature: float | None = 0.0
    max_tokens: int | None = None
    timeout: float = 60.0
    max_retries: int = 2
    backoff: float = 0.5
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    abort_after: int = 5
    pack_hash: str | None = None
    ray_address: str | None = None
    ray_actors: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.call_format is not None:
            from ..parsers import CALL_FORMATS

            if self.mode != "text":
                raise ValueError("--call-format is for text mode (--mode text); in native mode "
                                 "the server parses the calls")
            if self.call_format not in CALL_FORMATS:
                raise ValueError(f"unknown call format {self.call_format!r}; choose one of "
                                 f"{', '.join(CALL_FORMATS)}")
        for name in ("concurrency", "rollouts", "abort_after"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.ray_actors is not None:
            if self.ray_address is None:
                raise ValueError("ray_actors (--ray-actors) needs ray_address (--ray-address)")
            if (not isinstance(self.ray_actors, int) or isinstance(self.ray_actors, bool)
                    or self.ray_actors < 1):
                raise ValueError(f"ray_actors must be a positive integer, got "
                                 f"{self.ray_actors!r}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be a positive integer, got {self.limit!r}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be at least 0, got {self.max_retries!r}")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be positive, got {self.timeout!r}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"max_tokens must be positive, got {self.max_tokens!r}")
        if not isinstance(self.env_kwargs, dict):
            raise ValueError("env_kwargs must be a JSON object (a dict)")

    def identity(self) -> dict[str, Any]:
        """The fields that fix what an episode is (:data:`IDENTITY_FIELDS`)."""
        data = asdict(self)
        return {name: data[name] for name in IDENTITY_FIELDS}

    def public(self) -> dict[str, Any]:
        """Every field but the API key, for ``run.json`` and ``summary.json``."""
        data = asdict(self)
        data.pop("api_key")
        return data


def episode_seed(seed: int, task_id: str, rollout: int) -> int:
    """The reset seed of one episode: a stable hash of the base seed, task and rollout.

    It does not depend on which other tasks are selected, so growing a run
    (``--limit``, more rollouts) never changes an episode already played.

    Example:
        >>> episode_seed(0, "t1", 0) == episode_seed(0, "t1", 0) != episode_seed(0, "t1", 1)
        True
    """
    digest = hashlib.sha256(f"{seed}\0{task_id}\0{rollout}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF
