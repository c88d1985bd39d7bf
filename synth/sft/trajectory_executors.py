"""Where the part-2 records (``rollout``, ``judge``) run: local asyncio tasks or Ray tasks.

The same :class:`~synth.executors.Executor` interface and outcome classes as
:mod:`synth.sft.executors`, dispatching to :func:`~synth.sft.rollout.rollout_stage`
and :func:`~synth.sft.judges.judge_stage`, so the runner journals local and
Ray outcomes alike. :func:`trajectory_executor` picks the twin of the run's
part-1 executor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from synth.executors import Executor, LocalExecutor, Outcome, RayExecutor, StageSpec

from .executors import SftRayExecutor

__all__ = ["TRAJECTORY_STAGES", "TrajectoryLocalExecutor", "TrajectoryRayExecutor",
           "run_trajectory_record", "trajectory_executor"]

TRAJECTORY_STAGES = ("rollout", "judge")
"""The part-2 stages that run per record."""


def _functions() -> dict[str, Callable[..., Any]]:
    from .judges import judge_stage
    from .rollout import rollout_stage

    return {"rollout": rollout_stage, "judge": judge_stage}


async def run_trajectory_record(spec: StageSpec, record: dict[str, Any], client: Any,
                                sandbox: Any = None) -> Outcome:
    """Run one part-2 stage over one record and classify the result.

    Args:
        spec: The stage (``spec.options``: its keyword arguments).
        record: The input record.
        client: The :class:`~synth.llm.LLMClient`.
        sandbox: Not used (the shared :data:`~synth.executors.RecordRunner` signature;
            a rollout makes its own env).

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


class TrajectoryLocalExecutor(LocalExecutor):
    """Every record as an asyncio task in this process, sharing the driver's client."""

    records_per_request = 1
    run_one = staticmethod(run_trajectory_record)
    sandbox_stages = ()


class TrajectoryRayExecutor(SftRayExecutor):
    """Every part-2 record as a Ray task (see :class:`~synth.sft.executors.SftRayExecutor`)."""

    run_one = staticmethod(run_trajectory_record)


def trajectory_executor(executor: Executor) -> Executor:
    """The part-2 twin of a part-1 executor (Ray for Ray, else local).

    Args:
        executor: The run's executor.

    Returns:
        The executor of the rollout and judge records.
    """
    if isinstance(executor, RayExecutor):
        return TrajectoryRayExecutor(address=executor.address, num_cpus=executor.num_cpus)
    return TrajectoryLocalExecutor()
