"""Where the SFT stages' records run: local asyncio tasks or Ray tasks.

The same shapes as :mod:`synth.executors` (its :class:`~synth.executors.Executor`
interface, :class:`~synth.executors.StageSpec` and
:class:`~synth.executors.ClientSettings`), with the SFT stage functions:
``spec.name`` picks the stage and ``spec.options`` are its keyword arguments.
:func:`run_sft_record` classifies each record's result as
:data:`~synth.executors.Outcome`, so the runner journals local and Ray
outcomes alike and both write byte-identical views.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from synth.executors import ClientSettings, Executor, Outcome, StageSpec

__all__ = ["STAGE_FUNCTIONS", "SftLocalExecutor", "SftRayExecutor", "make_sft_executor",
           "run_sft_record"]


def _stage_functions() -> dict[str, Callable[..., Awaitable[dict[str, Any]]]]:
    from .augment import augment_stage
    from .graph import graph_stage
    from .score import score_stage
    from .tasks import tasks_stage
    from .verify import verify_stage

    return {"graph": graph_stage, "verify": verify_stage, "tasks": tasks_stage,
            "augment": augment_stage, "score": score_stage}


Done = Callable[[int, Outcome], None]
"""What :meth:`Executor.map` calls once per finished record: ``done(index, outcome)``."""

STAGE_FUNCTIONS = ("graph", "verify", "tasks", "augment", "score")
"""The SFT stages that run per record with an LLM."""


async def run_sft_record(spec: StageSpec, record: dict[str, Any], client: Any) -> Outcome:
    """Run one SFT stage over one record and classify the result.

    Args:
        spec: The stage (``spec.options``: its keyword arguments).
        record: The input record.
        client: The :class:`~synth.llm.LLMClient`.

    Returns:
        ``("ok", row)``, ``("failure", {"stage", "code", "reason"})`` or
        ``("miss", None)``; an unexpected exception is a failure with code
        ``unexpected_error``, so a bug does not stop the other records.
    """
    from synth.llm import OfflineMiss
    from synth.stages.base import StageFailure

    from .common import SftFailure

    try:
        function = _stage_functions()[spec.name]
        row = await function(record, client, **dict(spec.options))
    except OfflineMiss:
        return ("miss", None)
    except SftFailure as failure:
        return ("failure", failure.as_dict())
    except StageFailure as failure:
        return ("failure", {"stage": failure.stage, "code": "bad_reply",
                            "reason": failure.reason})
    except Exception as exc:
        return ("failure", {"stage": spec.name, "code": "unexpected_error",
                            "reason": f"unexpected error: {type(exc).__name__}: {exc}"})
    return ("ok", row)


class SftLocalExecutor(Executor):
    """Every record as an asyncio task in this process, sharing the driver's client."""

    records_per_request = 2

    async def map(self, spec: StageSpec, records: Sequence[dict[str, Any]], *, client: Any,
                  sandbox: Callable[[], Any], limit: int, done: Done) -> None:
        """See :meth:`synth.executors.Executor.map` (``sandbox`` is not used)."""
        semaphore = asyncio.Semaphore(max(1, limit))

        async def one(index: int, record: dict[str, Any]) -> None:
            async with semaphore:
                outcome = await run_sft_record(spec, record, client)
            done(index, outcome)

        await asyncio.gather(*(one(index, record) for index, record in enumerate(records)))


def _remote_sft_record(spec: StageSpec, settings: ClientSettings,
                       record: dict[str, Any]) -> Outcome:
    """The body of one Ray task: rebuild the client, run the record."""

    async def main() -> Outcome:
        client = settings.build()
        async with client:
            return await run_sft_record(spec, record, client)

    return asyncio.run(main())


class SftRayExecutor(Executor):
    """Every record as a Ray task (one CPU each), running the same SFT stage functions.

    Args:
        address: The Ray cluster to join; ``None`` starts a local one, unless
            Ray is already initialized in this process (then that one is used).
        num_cpus: CPUs of a local cluster this executor starts (``None``: all).

    Raises:
        ImportError: On first use, when ray is not installed.
    """

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self._started = False
        self._task: Any = None

    def ray(self) -> Any:
        """The ``ray`` module, initialized (started here when needed).

        Returns:
            The module.

        Raises:
            ImportError: ray is not installed.
        """
        try:
            import ray
        except ImportError as exc:
            raise ImportError('--executor ray needs ray: pip install "astra-gym[ray]"') from exc
        if not ray.is_initialized():
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            kwargs: dict[str, Any] = {"include_dashboard": False}
            if self.address is not None:
                kwargs["address"] = self.address
            elif self.num_cpus is not None:
                kwargs["num_cpus"] = self.num_cpus
            ray.init(**kwargs)
            self._started = True
        if self._task is None:
            self._task = ray.remote(num_cpus=1)(_remote_sft_record)
        return ray

    async def map(self, spec: StageSpec, records: Sequence[dict[str, Any]], *, client: Any,
                  sandbox: Callable[[], Any], limit: int, done: Done) -> None:
        """See :meth:`synth.executors.Executor.map` (``sandbox`` is not used)."""
        if not records:
            return
        settings = ClientSettings.from_client(client)
        ray = self.ray()
        settings_ref = ray.put(settings)
        semaphore = asyncio.Semaphore(max(1, limit))

        async def one(index: int, record: dict[str, Any]) -> None:
            async with semaphore:
                ref = self._task.remote(spec, settings_ref, record)
                outcome = await asyncio.wrap_future(ref.future())
            done(index, outcome)

        await asyncio.gather(*(one(index, record) for index, record in enumerate(records)))

    def close(self) -> None:
        """Shut Ray down if this executor started it."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False
        self._task = None


def make_sft_executor(kind: str = "local", *, address: str | None = None,
                      num_cpus: int | None = None) -> Executor:
    """An SFT executor by name.

    Args:
        kind: ``"local"`` or ``"ray"``.
        address: The Ray cluster address (``ray`` only).
        num_cpus: CPUs of a local Ray cluster (``ray`` only).

    Returns:
        The executor.

    Raises:
        ValueError: An unknown kind, or a Ray address with ``local``.

    Example:
        >>> type(make_sft_executor("local")).__name__
        'SftLocalExecutor'
    """
    if kind == "local":
        if address is not None:
            raise ValueError("--ray-address needs --executor ray")
        return SftLocalExecutor()
    if kind == "ray":
        return SftRayExecutor(address=address, num_cpus=num_cpus)
    raise ValueError(f"unknown executor {kind!r} (local or ray)")
