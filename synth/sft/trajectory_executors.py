"""Where the part-2 records (``rollout``, ``judge``) run: local asyncio tasks or Ray tasks.

The same :class:`~synth.executors.Executor` interface and outcome classes as
:mod:`synth.sft.executors`, dispatching to :func:`~synth.sft.rollout.rollout_stage`
and :func:`~synth.sft.judges.judge_stage`, so the runner journals local and
Ray outcomes alike. :func:`trajectory_executor` picks the twin of the run's
part-1 executor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from synth.executors import ClientSettings, Executor, Outcome, StageSpec

from .executors import Done, SftRayExecutor

__all__ = ["TRAJECTORY_STAGES", "TrajectoryLocalExecutor", "TrajectoryRayExecutor",
           "run_trajectory_record", "trajectory_executor"]

TRAJECTORY_STAGES = ("rollout", "judge")
"""The part-2 stages that run per record."""


def _functions() -> dict[str, Callable[..., Any]]:
    from .judges import judge_stage
    from .rollout import rollout_stage

    return {"rollout": rollout_stage, "judge": judge_stage}


async def run_trajectory_record(spec: StageSpec, record: dict[str, Any], client: Any) -> Outcome:
    """Run one part-2 stage over one record and classify the result.

    Args:
        spec: The stage (``spec.options``: its keyword arguments).
        record: The input record.
        client: The :class:`~synth.llm.LLMClient`.

    Returns:
        ``("ok", row)``, ``("failure", {"stage", "code", "reason"})`` or
        ``("miss", None)``; an unexpected exception is a failure with code
        ``unexpected_error``.
    """
    from synth.llm import OfflineMiss

    from .common import SftFailure

    try:
        row = await _functions()[spec.name](record, client, **dict(spec.options))
    except OfflineMiss:
        return ("miss", None)
    except SftFailure as failure:
        return ("failure", failure.as_dict())
    except Exception as exc:
        return ("failure", {"stage": spec.name, "code": "unexpected_error",
                            "reason": f"unexpected error: {type(exc).__name__}: {exc}"})
    return ("ok", row)


class TrajectoryLocalExecutor(Executor):
    """Every record as an asyncio task in this process, sharing the driver's client."""

    records_per_request = 1

    async def map(self, spec: StageSpec, records: Sequence[dict[str, Any]], *, client: Any,
                  sandbox: Callable[[], Any], limit: int, done: Done) -> None:
        """See :meth:`synth.executors.Executor.map` (``sandbox`` is not used)."""
        semaphore = asyncio.Semaphore(max(1, limit))

        async def one(index: int, record: dict[str, Any]) -> None:
            async with semaphore:
                outcome = await run_trajectory_record(spec, record, client)
            done(index, outcome)

        await asyncio.gather(*(one(index, record) for index, record in enumerate(records)))


def _remote_trajectory_record(spec: StageSpec, settings: ClientSettings,
                              record: dict[str, Any]) -> Outcome:
    """The body of one Ray task: rebuild the client, run the record."""

    async def main() -> Outcome:
        client = settings.build()
        async with client:
            return await run_trajectory_record(spec, record, client)

    return asyncio.run(main())


class TrajectoryRayExecutor(SftRayExecutor):
    """Every part-2 record as a Ray task (see :class:`~synth.sft.executors.SftRayExecutor`)."""

    def ray(self) -> Any:
        """The ``ray`` module, initialized, with this executor's task function.

        Returns:
            The module.
        """
        module = super().ray()
        if not getattr(self, "_trajectory", False):
            self._task = module.remote(num_cpus=1)(_remote_trajectory_record)
            self._trajectory = True
        return module

    def close(self) -> None:
        """Shut Ray down if this executor started it."""
        super().close()
        self._trajectory = False


def trajectory_executor(executor: Executor) -> Executor:
    """The part-2 twin of a part-1 executor (Ray for Ray, else local).

    Args:
        executor: The run's executor.

    Returns:
        The executor of the rollout and judge records.
    """
    if isinstance(executor, SftRayExecutor):
        return TrajectoryRayExecutor(address=executor.address, num_cpus=executor.num_cpus)
    return TrajectoryLocalExecutor()
