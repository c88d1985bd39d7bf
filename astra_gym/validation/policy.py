"""The validation policy: every check's id, severity and lane, versioned.

Like OpenEnv's severity policies (``validation/policies/severity-v2.json``), a
check has a stable id and a severity. An ``error`` check that fails makes
``astra-gym validate`` fail; a ``warning`` check that fails is reported and
counted, and fails the run only under ``--strict``. A check can also end
``not_applicable`` (with the reason: a released RL row has no gold calls to
replay) or ``errored`` (the check itself could not run, which always fails).

The policy is versioned: a pack's manifest records the version its
validation summary was computed under, so a summary from an older, weaker
policy is recognisable.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["POLICY", "POLICY_VERSION", "SEVERITIES", "STATUSES", "CheckSpec"]

#: Bumped whenever a check is added, removed, changes severity or gets stricter.
POLICY_VERSION = "astra-validate-2"

#: ``error``: a failure fails validation. ``warning``: reported, fails only under --strict.
SEVERITIES = ("error", "warning")

#: Every status a check result can have.
STATUSES = ("passed", "failed", "warning", "not_applicable", "errored")


@dataclass(frozen=True)
class CheckSpec:
    """One check of the policy.

    Attributes:
        id: The stable id (``--checks`` takes it; reports and manifests use it).
        severity: ``error`` or ``warning``.
        lane: ``semantic`` (rewards and answers), ``runtime`` (the env's
            behaviour) or ``static`` (what can be read without running).
        summary: What a pass guarantees.
    """

    id: str
    severity: str
    lane: str
    summary: str


_SPECS = (
    CheckSpec("gold", "error", "semantic",
              "the gold calls, hop by hop, solve every sub-task under several episode seeds: "
              "success and an F1 return of 1"),
    CheckSpec("noop", "error", "semantic",
              "answering at once, or repeating the question, earns nothing"),
    CheckSpec("floor", "error", "semantic",
              "a seeded random agent stays far below the gold return"),
    CheckSpec("gameability", "error", "semantic",
              "scripted adversaries (call spam, guessed arguments, answers passed as "
              "arguments, answer dumps, the question repeated) stay a clear margin below the "
              "gold return"),
    CheckSpec("determinism", "error", "runtime",
              "the same seed and actions give the same transcript, also in another process "
              "with another PYTHONHASHSEED"),
    CheckSpec("seed_dependence", "warning", "runtime",
              "tool results do not depend on the episode seed (a tool that draws from the "
              "sandbox's seeded RNG is legitimate; gold must then still pass under every "
              "seed it is run with)"),
    CheckSpec("leakage", "error", "static",
              "no gold answer in the prompt, the system prompt or any tool doc, and no gold "
              "call that passes its own answer as an argument"),
    CheckSpec("schema_agreement", "error", "static",
              "every tool's JSON Schema is valid and agrees with its function's signature"),
    CheckSpec("fuzz", "error", "runtime",
              "schema-valid arguments never crash a tool, invalid ones never reach it, and "
              "arbitrary or malformed turns never break the env (time-boxed per tool)"),
    CheckSpec("isolation", "error", "runtime",
              "an episode leaves no state behind for the next reset"),
    CheckSpec("check_env", "error", "runtime",
              "Gymnasium's own env checker passes without warnings"),
)

#: The checks by id, in the order they run.
POLICY: dict[str, CheckSpec] = {spec.id: spec for spec in _SPECS}
