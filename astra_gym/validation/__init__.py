"""Property-based validation of astra envs (``astra-gym validate``).

A synthesized env is only useful if it is provably sound: its gold path reaches
full reward, doing nothing does not, it is deterministic, it leaks no answer,
and no agent input can crash it. Each property is a small named check
(:data:`CHECKS`); :func:`validate` runs them over every task of an env or pack.

Example:
    >>> from astra_gym.validation import validate
    >>> report = validate("astra/demo-v0", ["gold", "leakage"], task_ids=["demo-weather-001"])
    >>> report.ok
    True
"""

from .checks import CHECKS, CheckFailed, CheckOptions, TaskContext, episode_digest
from .runner import CheckResult, ValidationReport, resolve_target, run_checks, validate

__all__ = [
    "CHECKS",
    "CheckFailed",
    "CheckOptions",
    "CheckResult",
    "TaskContext",
    "ValidationReport",
    "episode_digest",
    "resolve_target",
    "run_checks",
    "validate",
]
