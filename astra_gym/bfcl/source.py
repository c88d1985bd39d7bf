"""Reading BFCL's multi-turn data from the installed ``bfcl-eval`` wheel.

Only files are read (``importlib.resources``) and only the multi-turn
backend modules are imported: ``bfcl_eval.constants.eval_config`` (which
creates directories inside site-packages) and the CLI (which needs the heavy
dependencies) are never touched.
"""

from __future__ import annotations

import importlib
import json
from importlib import metadata, resources
from typing import Any

__all__ = ["BFCL_DISTRIBUTION", "CATEGORIES", "INSTALL_COMMAND", "BfclMissingError",
           "backend_module", "category_files", "holdout_prompt", "is_stateless",
           "load_category", "load_func_docs", "require_bfcl", "step_limit"]

BFCL_DISTRIBUTION = "bfcl-eval"
#: How to install it without its 6 GB of dependencies (torch, CUDA, pinned numpy, ...).
INSTALL_COMMAND = 'python -m pip install --no-deps "bfcl-eval==2026.3.23" mpmath'
#: Our category name -> BFCL's file stem (``BFCL_v4_<stem>.json``).
CATEGORIES = {
    "base": "multi_turn_base",
    "long_context": "multi_turn_long_context",
    "miss_func": "multi_turn_miss_func",
    "miss_param": "multi_turn_miss_param",
}
_BACKEND_CONFIG = "bfcl_eval.constants.executable_backend_config"


class BfclMissingError(ImportError):
    """``bfcl-eval`` (or mpmath, which its MathAPI needs) is not installed."""


def require_bfcl() -> str:
    """Check that ``bfcl-eval`` and mpmath are importable.

    Returns:
        The installed ``bfcl-eval`` version.

    Raises:
        BfclMissingError: Naming the install command.
    """
    try:
        version = metadata.version(BFCL_DISTRIBUTION)
        importlib.import_module("bfcl_eval")
        importlib.import_module("mpmath")
    except (metadata.PackageNotFoundError, ImportError) as exc:
        raise BfclMissingError(
            f"BFCL multi-turn envs need the bfcl-eval package and mpmath ({exc}). Install "
            f"them without bfcl-eval's heavy dependencies: {INSTALL_COMMAND}  (or "
            "`pip install astra-gym[bfcl]` for mpmath, then the --no-deps install)") from None
    return version


def _data_dir() -> Any:
    return resources.files("bfcl_eval") / "data"


def _json_lines(path: Any) -> list[dict[str, Any]]:
    # BFCL's .json files are JSON Lines, despite the extension.
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def category_files(category: str) -> tuple[str, str]:
    """The entry file and the ground-truth file of a category, relative to ``bfcl_eval/data``.

    Raises:
        ValueError: For an unknown category.
    """
    if category not in CATEGORIES:
        raise ValueError(f"unknown BFCL multi-turn category {category!r}; choose from "
                         f"{', '.join(CATEGORIES)}")
    name = f"BFCL_v4_{CATEGORIES[category]}.json"
    return name, f"possible_answer/{name}"


def load_category(category: str) -> list[tuple[dict[str, Any], list[list[str]]]]:
    """Every entry of a category with its ground truth, in file order.

    Args:
        category: One of :data:`CATEGORIES`.

    Returns:
        ``(entry, ground_truth)`` pairs; the ground truth is a list of call
        strings per user turn.

    Raises:
        BfclMissingError: When bfcl-eval is not installed.
        ValueError: For an unknown category or entries without ground truth.
    """
    require_bfcl()
    entries_name, answers_name = category_files(category)
    entries = _json_lines(_data_dir() / entries_name)
    answers = {row["id"]: row["ground_truth"] for row in _json_lines(_data_dir() / answers_name)}
    missing = [entry["id"] for entry in entries if entry["id"] not in answers]
    if missing:
        raise ValueError(f"BFCL entries without ground truth: {missing[:5]}")
    return [(entry, answers[entry["id"]]) for entry in entries]


def load_func_docs(class_name: str) -> list[dict[str, Any]]:
    """BFCL's function docs of one backend class (its own type names, unconverted)."""
    config = importlib.import_module(_BACKEND_CONFIG)
    file_name = config.MULTI_TURN_FUNC_DOC_FILE_MAPPING[class_name]
    return _json_lines(_data_dir() / "multi_turn_func_doc" / file_name)


def backend_module(class_name: str) -> str:
    """The module that defines a BFCL backend class."""
    config = importlib.import_module(_BACKEND_CONFIG)
    return config.CLASS_FILE_PATH_MAPPING[class_name]


def is_stateless(class_name: str) -> bool:
    """Whether BFCL skips ``_load_scenario`` for this class (``MathAPI``)."""
    config = importlib.import_module(_BACKEND_CONFIG)
    return class_name in config.STATELESS_CLASSES


def step_limit() -> int:
    """BFCL's ``MAXIMUM_STEP_LIMIT`` (steps with calls in one user turn before force-quit)."""
    prompts = importlib.import_module("bfcl_eval.constants.default_prompts")
    return int(prompts.MAXIMUM_STEP_LIMIT)


def holdout_prompt() -> str:
    """The user message BFCL sends when a missing function is revealed (FC mode)."""
    prompts = importlib.import_module("bfcl_eval.constants.default_prompts")
    return str(prompts.DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC)
