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

from collections.abc import Awaitable, Callable
from typing import Any

from synth.executors import (
    Executor,
    LocalExecutor,
    Outcome,
    RayExecutor,
    StageSpec,
    make_executor,
)

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


STAGE_FUNCTIONS = ("graph", "verify", "tasks", "augment", "score")
"""The SFT stages that run per record with an LLM."""


async def run_sft_record(spec: StageSpec, record: dict[str, Any], client: Any,
                         sandbox: Any = None) -> Outcome:
    """Run one SFT stage over one record and classify the result.

    Args:
        spec: The stage (``spec.options``: its keyword arguments).
        record: The input record.
        client: The :class:`~synth.llm.LLMClient`.
        sandbox: Not used (the executors' shared :data:`~synth.executors.RecordRunner`
            signature; no SFT stage runs tool code).

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


class SftLocalExecutor(LocalExecutor):
    """Every record as an asyncio task in this process, sharing the driver's client."""

    run_one = staticmethod(run_sft_record)
    sandbox_stages = ()


class SftRayExecutor(RayExecutor):
    """Every record as a Ray task (one CPU each), running the same SFT stage functions.

    Args:
        address: The Ray cluster to join; ``None`` starts a local one, unless
            Ray is already initialized in this process (then that one is used).
        num_cpus: CPUs of a local cluster this executor starts (``None``: all).

    Raises:
        ImportError: On first use, when ray is not installed.
    """

    run_one = staticmethod(run_sft_record)
    sandbox_stages = ()
    missing_ray = '--executor ray needs ray: pip install "astra-gym[ray]"'


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
    return make_executor(kind, address=address, num_cpus=num_cpus, local=SftLocalExecutor,
                         ray=SftRayExecutor)
