"""Running an evaluation: the plan, episodes in flight, resuming, stopping, the summary.

:func:`evaluate` plays every planned episode (tasks x rollouts) that the
results directory does not hold yet, ``concurrency`` at a time on one event
loop, writes each as it ends, and writes ``summary.json``. The endpoint is
checked once before any episode runs. The run stops early, keeping what is
done, when the endpoint fails in a way every request will share (connection
refused, HTTP 401/403/404) or when ``abort_after`` episodes in a row fail on
endpoint errors; a rerun of the same command resumes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .client import ChatClient, EndpointError
from .config import EvalConfig, episode_seed
from .envs import EnvPool
from .episode import EpisodeFailure, PlannedEpisode, play_episode
from .stats import CI_LEVEL, summarize_episodes
from .store import EPISODES_FILE, RUN_FILE, ResultsStore, episode_key, read_lines

__all__ = ["EvalOutcome", "evaluate", "evaluate_async", "mode_env_kwargs", "plan_episodes",
           "summarize_dir"]

CI_METHOD = ("Student t over per-task means (the rollouts of one task are not independent "
             "samples)")


@dataclass
class EvalOutcome:
    """What a call of :func:`evaluate` did.

    Attributes:
        directory: The results directory.
        summary: The ``summary.json`` written.
        planned: Episodes of this call's plan.
        already_done: Of those, finished before this call (skipped).
        finished: Of those, finished now or before.
        errored: Of those, whose last attempt ended in an error.
        aborted: Why the run stopped early (``None``: it did not).
        warnings: Endpoint warnings (an unlisted model, no ``/models`` route).
    """

    directory: Path
    summary: dict[str, Any]
    planned: int
    already_done: int
    finished: int
    errored: int
    aborted: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every planned episode finished."""
        return self.finished == self.planned

    @property
    def exit_code(self) -> int:
        """0 when complete, else 1 (endpoint failures; the finished episodes are kept)."""
        return 0 if self.complete else 1


def mode_env_kwargs(mode: str, call_format: str | None) -> dict[str, Any]:
    """The ``gym.make`` defaults of a mode (``--env-kwargs`` wins over them).

    Native mode: a system prompt without a text-calling format
    (:data:`~astra_gym.agents.openai_agent.NATIVE_SYSTEM_PROMPT`) and
    ``action_format="openai"`` (calls only from ``tool_calls``). Text mode: the
    tools in the system prompt, and the env parser of ``call_format`` (its
    prompt shows the format), else ``auto``.

    Example:
        >>> mode_env_kwargs("text", None)
        {'tools_in_prompt': True, 'action_format': 'auto'}
    """
    from ..agents.openai_agent import NATIVE_SYSTEM_PROMPT, OpenAIAgent, text_system_prompt

    if mode == "native":
        return {"system_prompt": NATIVE_SYSTEM_PROMPT, "action_format": "openai"}
    # The agent knows which env parser reads each rendered format; it needs no client here.
    reader = OpenAIAgent("-", client=object(), mode="text", call_format=call_format)
    kwargs: dict[str, Any] = {"tools_in_prompt": True, "action_format": reader.action_format}
    if call_format is not None:
        kwargs["system_prompt"] = text_system_prompt(call_format)
    return kwargs


def plan_episodes(task_ids: list[str], config: EvalConfig) -> list[PlannedEpisode]:
    """The episodes of a run: each selected task's rollouts, task by task.

    A task's rollouts are adjacent, so they run close together (a server's
    prefix cache serves the shared prompt) and its pass@k is complete early.

    Raises:
        ValueError: An unknown task id, or nothing selected.
    """
    selected = task_ids
    if config.task_ids is not None:
        known = set(task_ids)
        unknown = [task_id for task_id in config.task_ids if task_id not in known]
        if unknown:
            raise ValueError(f"the pack has no task(s) {', '.join(map(repr, unknown[:5]))}")
        selected = list(dict.fromkeys(config.task_ids))
    if config.limit is not None:
        selected = selected[:config.limit]
    if not selected:
        raise ValueError("no task selected")
    return [PlannedEpisode(task_id, rollout, episode_seed(config.seed, task_id, rollout))
            for task_id in selected for rollout in range(config.rollouts)]


def summarize_dir(directory: str | Path, *, plan: list[str] | None = None,
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The summary of a results directory: statistics over every finished episode there.

    Args:
        directory: ``RESULTS_DIR``.
        plan: Keys of the planned episodes (``task#rollout``), for the counts;
            ``None``: every episode in the directory.
        extra: Fields to add (``run``: timing and the abort reason).

    Returns:
        The ``summary.json`` dict.
    """
    directory = Path(directory)
    try:
        config = json.loads((directory / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    latest: dict[str, dict[str, Any]] = {}
    for record in read_lines(directory / EPISODES_FILE):
        key = episode_key(record["task_id"], int(record["rollout"]))
        if latest.get(key, {}).get("status") != "ok":
            latest[key] = record
    ok = [record for record in latest.values() if record.get("status") == "ok"]
    keys = list(latest) if plan is None else plan
    finished = sum(latest.get(key, {}).get("status") == "ok" for key in keys)
    errored = [latest[key] for key in keys if latest.get(key, {}).get("status") == "error"]
    per_task = Counter(record["task_id"] for record in ok)
    rollouts = max(per_task.values(), default=1)
    summary: dict[str, Any] = {
        "env_id": config.get("env_id"), "model": config.get("model"),
        "mode": config.get("mode"), "call_format": config.get("call_format"),
        "pack_hash": config.get("pack_hash"),
        "episodes": {"planned": len(keys), "finished": finished, "errored": len(errored),
                     "missing": len(keys) - finished - len(errored), "in_directory": len(ok)},
        "complete": finished == len(keys),
        "rollouts_per_task": rollouts,
        "ci_level": CI_LEVEL, "ci_method": CI_METHOD,
        **summarize_episodes(ok, rollouts=rollouts),
        "errors": dict(Counter(record["error"]["kind"] for record in errored)),
        "config": config,
    }
    if extra:
        summary.update(extra)
    return summary


async def evaluate_async(config: EvalConfig, out: str | Path, *, progress: bool | None = None,
                         client: ChatClient | None = None) -> EvalOutcome:
    """Play the planned episodes the results directory lacks, and summarize.

    Args:
        config: The run.
        out: ``RESULTS_DIR``.
        progress: ``False``: no progress; ``None``: a bar on a terminal, sparse
            lines elsewhere (:class:`~astra_gym.progress.Progress`).
        client: A ready :class:`ChatClient` (tests); default: one from ``config``.

    Returns:
        The outcome; ``summary.json`` is written in every case but a usage error.

    Raises:
        ValueError: An unknown env or task, unusable env keyword arguments, or a
            results directory of another configuration or in use
            (:class:`~astra_gym.eval.store.ResultsError`).
        ImportError: The openai package is missing.
    """
    from ..pack import Pack
    from ..progress import Progress
    from ..validation import resolve_target

    env_id, pack_dir = resolve_target(config.env_id)
    config.env_id = env_id
    pack = Pack(pack_dir)
    config.pack_hash = pack.manifest["content_hash"]
    plan = plan_episodes(list(pack.task_ids), config)
    env_kwargs = {**mode_env_kwargs(config.mode, config.call_format), **config.env_kwargs}
    store = ResultsStore(out)
    store.open(config.identity(), config.public())
    envs: Any = None
    ray_started = False
    own_client = client is None
    started = time.perf_counter()
    outcome_extra: dict[str, Any] = {"aborted": None, "warnings": []}
    ran = 0
    try:
        done = store.finished
        pending = [item for item in plan if episode_key(item.task_id, item.rollout) not in done]
        already = len(plan) - len(pending)
        if pending:
            if config.ray_address is not None:
                from .ray_envs import connect

                ray_started = connect(config.ray_address)
            try:
                envs = _env_pool(config, env_id, str(pack_dir), env_kwargs)
                envs.release(await envs.acquire())  # unusable env kwargs fail here, at once
            except (TypeError, ValueError, KeyError) as exc:
                raise ValueError(f"cannot make {env_id} with env kwargs {env_kwargs!r}: "
                                 f"{exc}") from exc
            if client is None:
                client = ChatClient(config.model, base_url=config.base_url,
                                    api_key=config.api_key, timeout=config.timeout,
                                    max_retries=config.max_retries, backoff=config.backoff,
                                    temperature=config.temperature,
                                    max_tokens=config.max_tokens, seed=config.seed)
            try:
                outcome_extra["warnings"] = await client.check()
            except EndpointError as exc:
                outcome_extra["aborted"] = f"{exc} (nothing was run)"
            if outcome_extra["aborted"] is None:
                ran = await _run_pending(pending, envs, client, config, store, progress,
                                         outcome_extra, Progress)
    finally:
        if own_client and client is not None:
            await client.aclose()
        if envs is not None:
            envs.close()
        if ray_started:
            import ray

            ray.shutdown()
        wall = time.perf_counter() - started
        keys = [episode_key(item.task_id, item.rollout) for item in plan]
        run_info = {"wall_s": wall, "episodes_run": ran,
                    "episodes_per_s": ran / wall if wall > 0 else None,
                    "aborted": outcome_extra["aborted"], "finished_at": time.time()}
        summary = summarize_dir(store.directory, plan=keys, extra={"run": run_info})
        store.write_summary(summary)
        store.close()
    counts = summary["episodes"]
    return EvalOutcome(store.directory, summary, len(plan), already, counts["finished"],
                       counts["errored"], outcome_extra["aborted"], outcome_extra["warnings"])


def _env_pool(config: EvalConfig, env_id: str, pack_dir: str,
              env_kwargs: dict[str, Any]) -> Any:
    """The envs of a run: in this process, or in Ray actors (``config.ray_address``,
    already connected)."""
    if config.ray_address is None:
        return EnvPool(env_id, env_kwargs)
    from .ray_envs import RayEnvPool, default_actor_count

    actors = config.ray_actors or default_actor_count(config.concurrency)
    return RayEnvPool(env_id, pack_dir, env_kwargs, actors, config.concurrency)


async def _run_pending(pending: list[PlannedEpisode], envs: EnvPool, client: ChatClient,
                       config: EvalConfig, store: ResultsStore, progress: bool | None,
                       state: dict[str, Any], progress_class: Any) -> int:
    """Play ``pending`` with ``config.concurrency`` workers; returns episodes finished ok."""
    queue = list(reversed(pending))
    failures_in_a_row = 0
    finished = 0
    workers: list[asyncio.Task[None]] = []
    label = f"eval {config.model} on {config.env_id}"

    with progress_class(len(pending), label, enabled=progress) as bar:
        async def worker() -> None:
            nonlocal failures_in_a_row, finished
            while queue and state["aborted"] is None:
                item = queue.pop()
                try:
                    record = await play_episode(item, envs, client, mode=config.mode,
                                                call_format=config.call_format)
                except EpisodeFailure as failure:
                    store.append(failure.record)
                    bar.update()
                    cause = failure.cause
                    if isinstance(cause, EndpointError):
                        failures_in_a_row += 1
                        if cause.fatal or failures_in_a_row >= config.abort_after:
                            state["aborted"] = (
                                f"{cause}" if cause.fatal else
                                f"{failures_in_a_row} episodes in a row failed; the last: "
                                f"{cause}")
                            for other in workers:
                                if other is not asyncio.current_task():
                                    other.cancel()
                            return
                    continue
                store.append(record)
                finished += 1
                failures_in_a_row = 0
                bar.update()

        workers.extend(asyncio.create_task(worker())
                       for _ in range(min(config.concurrency, len(pending))))
        results = await asyncio.gather(*workers, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result
    return finished


def evaluate(config: EvalConfig, out: str | Path, *, progress: bool | None = None
             ) -> EvalOutcome:
    """:func:`evaluate_async` on a new event loop (see it for the arguments)."""
    return asyncio.run(evaluate_async(config, out, progress=progress))
