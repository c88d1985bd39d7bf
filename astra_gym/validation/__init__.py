"""Property-based validation of astra envs (``astra-gym validate``).

A synthesized env is only useful if it is provably sound: its gold path reaches
full reward, doing nothing (or gaming the reward) does not, it is
deterministic, it leaks no answer, and no agent input can crash it. Each
property is a small named check (:data:`CHECKS`) with an id and a severity in
a versioned policy (:data:`POLICY`); :func:`validate` runs them over every
task of an env or pack.

Example:
    >>> from astra_gym.validation import validate
    >>> report = validate("astra/demo-v0", ["gold", "leakage"], task_ids=["demo-weather-001"])
    >>> report.ok
    True
"""

from .checks import (
    CHECKS,
    CheckFailed,
    CheckOptions,
    CheckWarning,
    NotApplicable,
    TaskContext,
    episode_digest,
)
from .policy import POLICY, POLICY_VERSION, CheckSpec
from .runner import (
    CheckResult,
    ValidationReport,
    installed_location,
    resolve_target,
    run_checks,
    validate,
    write_manifest_summary,
)

__all__ = [
    "CHECKS",
    "POLICY",
    "POLICY_VERSION",
    "CheckFailed",
    "CheckOptions",
    "CheckResult",
    "CheckSpec",
    "CheckWarning",
    "NotApplicable",
    "TaskContext",
    "ValidationReport",
    "episode_digest",
    "installed_location",
    "resolve_target",
    "run_checks",
    "validate",
    "write_manifest_summary",
]
