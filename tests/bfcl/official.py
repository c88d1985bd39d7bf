"""BFCL's own verdict, for comparison: ``multi_turn_checker`` on call strings.

Only for trajectories the tests generate themselves: BFCL's checker runs each
call string with ``eval()`` in this process. Never feed it model output.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

from astra_gym.bfcl.importer import call_string
from astra_gym.bfcl.source import CATEGORIES, load_category

__all__ = ["call_string", "entries", "official_replay", "official_verdict",
           "pristine_defaults"]

_counter = itertools.count()
_entries: dict[str, dict[str, tuple[dict[str, Any], list[list[str]]]]] = {}


def entries(category: str) -> dict[str, tuple[dict[str, Any], list[list[str]]]]:
    """Entry id -> (entry, ground truth) of a category (read once)."""
    if category not in _entries:
        _entries[category] = {entry["id"]: (entry, truth)
                              for entry, truth in load_category(category)}
    return _entries[category]


def pristine_defaults() -> None:
    """Give BFCL's methods back their written mutable defaults.

    BFCL's own execution changes them (``post_tweet``'s ``mentions=[]`` is kept in
    the tweet and extended by ``mention``), so its verdicts would otherwise depend
    on the checks run before in this process. The env never shares them
    (:func:`astra_gym.bfcl.backend.fresh_defaults`).
    """
    import inspect

    from astra_gym.bfcl.backend import fresh_defaults
    from astra_gym.bfcl.source import backend_module

    for class_name in ("GorillaFileSystem", "MathAPI", "MessageAPI", "TwitterAPI", "TicketAPI",
                       "TradingBot", "TravelAPI", "VehicleControlAPI"):
        module = __import__(backend_module(class_name), fromlist=[class_name])
        cls = getattr(module, class_name)
        for name, function in inspect.getmembers(cls, inspect.isfunction):
            if name.startswith("_") or not function.__defaults__:
                continue
            fresh = dict(fresh_defaults(cls, name))
            if not fresh:
                continue
            names = [p.name for p in inspect.signature(function).parameters.values()
                     if p.default is not p.empty and p.kind != p.KEYWORD_ONLY]
            function.__defaults__ = tuple(copy.deepcopy(fresh[n]) if n in fresh else value
                                          for n, value in zip(names, function.__defaults__,
                                                              strict=True))


def official_verdict(category: str, entry_id: str,
                     decoded: list[list[list[str]]]) -> dict[str, Any]:
    """BFCL's verdict on a trajectory, as its eval runner computes it.

    Args:
        category: Our category name.
        entry_id: The BFCL entry id.
        decoded: Per user turn, the steps with calls, each a list of call strings.
            A trajectory that stopped early has fewer turns (force-terminated).

    Returns:
        ``{"valid": bool, "error_type": str | None}``.
    """
    from bfcl_eval.constants.default_prompts import MAXIMUM_STEP_LIMIT
    from bfcl_eval.eval_checker.multi_turn_eval import multi_turn_utils
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker import multi_turn_checker

    assert category in CATEGORIES
    entry, truth = entries(category)[entry_id]
    # BFCL's inference stops a turn after more than MAXIMUM_STEP_LIMIT steps with calls and
    # then quits the entry: fewer turns than the ground truth, force-terminated.
    played = next((index for index, turn in enumerate(decoded)
                   if sum(bool(step) for step in turn) > MAXIMUM_STEP_LIMIT), None)
    if played is not None or len(decoded) != len(truth):
        return {"valid": False, "error_type": "multi_turn:force_terminated"}
    # A fresh model name per check: BFCL caches instances in module globals by name.
    model = f"agreement_{next(_counter)}"
    pristine_defaults()
    try:
        result = multi_turn_checker([[list(step) for step in turn if step] for turn in decoded],
                                    truth, entry, CATEGORIES[category], model)
    finally:
        for key in [key for key in vars(multi_turn_utils) if key.startswith(model)]:
            del vars(multi_turn_utils)[key]
    return {"valid": bool(result["valid"]), "error_type": result.get("error_type")}


def official_replay(category: str, entry_id: str) -> list[tuple[list[str], dict[str, Any]]]:
    """BFCL executing its own ground truth: per turn, the results and the instances after it."""
    from bfcl_eval.eval_checker.multi_turn_eval import multi_turn_utils

    entry, truth = entries(category)[entry_id]
    model = f"replay_{next(_counter)}"
    pristine_defaults()
    turns = []
    try:
        for calls in truth:
            results, instances = multi_turn_utils.execute_multi_turn_func_call(
                calls, entry["initial_config"], entry["involved_classes"], model, entry_id,
                long_context=category == "long_context", is_evaL_run=True)
            turns.append((results, copy.deepcopy(instances)))  # later turns change them
    finally:
        for key in [key for key in vars(multi_turn_utils) if key.startswith(model)]:
            del vars(multi_turn_utils)[key]
    return turns
