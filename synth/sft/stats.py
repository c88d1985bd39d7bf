"""``astra-gym sft stats``: what an SFT run directory holds, from its files alone."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from synth.runner import Journal

from .runner import FILES, LLM_STAGES, read_jsonl
from .score import DIMENSIONS

__all__ = ["format_sft_stats", "sft_stats", "trajectory_stats"]


def _rows(root: Path, stage: str, kind: str) -> list[dict[str, Any]] | None:
    path = root / f"{FILES[stage]}.{kind}.jsonl"
    return read_jsonl(path) if path.exists() else None


def _spread(values: list[int]) -> dict[str, Any]:
    if not values:
        return {"min": 0, "mean": 0.0, "max": 0}
    return {"min": min(values), "mean": round(sum(values) / len(values), 2), "max": max(values)}


def _journal_key(stage: str) -> str:
    return {"graph": "server_id", "verify": "chain_id"}.get(stage, "task_id")


def _key_of(stage: str) -> Any:
    if stage in ("rollout", "judge"):
        return lambda row: str(row.get("trajectory_id")
                               or (row.get("rollout") or {}).get("trajectory_id"))
    return lambda row: str(row.get(_journal_key(stage)))


def _bins(values: list[float]) -> dict[str, int]:
    counts = Counter(min(int(value * 10), 9) for value in values)
    return {f"{b / 10:.1f}": counts.get(b, 0) for b in range(10)}


def trajectory_stats(root: Path) -> dict[str, Any] | None:
    """The part-2 figures of a run directory (``None`` before any rollout).

    Args:
        root: The run directory.

    Returns:
        ``{"backends": {backend: {"ok", "failed"}}, "failures": {code: n},
        "turns": {min, mean, max}, "calls": {min, mean, max}, "injected":
        {"failures", "executed_calls", "rate", "by_kind"}, "labels": {"n",
        "mean_f1", "mean_precision", "success_rate"} | None, "judged",
        "unscored", "scores": {dimension: {"mean", "n_a", "bins"}}, "kept",
        "keep_rate": {"of_judged", "of_rollouts"}}``.
    """
    ok, failed = _rows(root, "rollout", "ok"), _rows(root, "rollout", "failed")
    if ok is None and failed is None:
        return None
    ok, failed = ok or [], failed or []
    backends: dict[str, dict[str, int]] = {}
    for row in ok:
        backends.setdefault(row["backend"], {"ok": 0, "failed": 0})["ok"] += 1
    for row in failed:
        kind = (row.get("rollout") or {}).get("backend", "?")
        backends.setdefault(kind, {"ok": 0, "failed": 0})["failed"] += 1
    turns = [sum(m["role"] == "assistant" for m in row["messages"]) for row in ok]
    calls = [len(row.get("calls") or []) for row in ok]
    injected = [call for row in ok for call in row.get("calls") or [] if call.get("injected")]
    executed = sum(1 for row in ok for call in row.get("calls") or []
                   if call.get("outcome") != "invalid" and row["backend"] != "env")
    labelled = [row["labels"] for row in ok if row.get("labels")]
    labels = None
    if labelled:
        labels = {"n": len(labelled),
                  "mean_f1": round(sum(x["f1"] for x in labelled) / len(labelled), 4),
                  "mean_precision": round(sum(x["precision"] for x in labelled)
                                          / len(labelled), 4),
                  "success_rate": round(sum(bool(x["success"]) for x in labelled)
                                        / len(labelled), 4)}
    judged_ok, judged_failed = _rows(root, "judge", "ok"), _rows(root, "judge", "failed")
    judged = [row for row in (judged_ok or []) + (judged_failed or [])
              if isinstance((row.get("judgement") or {}).get("overall"), int | float)]
    unscored = sum(1 for row in judged_failed or []
                   if (row.get("failure") or {}).get("code") == "unscored")
    scores = {}
    from .judges import DIMENSIONS as JUDGE_DIMENSIONS

    for name in ("overall", *JUDGE_DIMENSIONS):
        values = [row["judgement"]["overall"] if name == "overall"
                  else row["judgement"]["scores"].get(name) for row in judged]
        present = [float(v) for v in values if isinstance(v, int | float)]
        scores[name] = {"mean": round(sum(present) / len(present), 4) if present else None,
                        "n_a": len(values) - len(present), "bins": _bins(present)}
    kept = len(judged_ok) if judged_ok is not None else None
    return {"backends": backends,
            "failures": dict(Counter(str((row.get("failure") or {}).get("code"))
                                     for row in failed).most_common()),
            "turns": _spread(turns), "calls": _spread(calls),
            "injected": {"failures": len(injected), "executed_calls": executed,
                         "rate": round(len(injected) / executed, 4) if executed else None,
                         "by_kind": dict(Counter(call["injected"] for call in injected))},
            "labels": labels, "judged": len(judged) if judged_ok is not None else None,
            "unscored": unscored, "scores": scores if judged else {}, "kept": kept,
            "keep_rate": {"of_judged": round(kept / len(judged), 4) if judged and kept
                          is not None else None,
                          "of_rollouts": round(kept / (len(ok) + len(failed)), 4)
                          if kept is not None and ok + failed else None}}


def sft_stats(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Counts, filters, graph sizes, histograms and tokens of an SFT run directory.

    Args:
        run_dir: The run directory.

    Returns:
        ``{"servers": {"in", "kept", "dropped", "failed_sources"}, "tools":
        {"in", "kept", "dropped"}, "filters": {code: n}, "graphs": {"servers",
        "nodes": {min, mean, max}, "edges": {...}, "weight": {...}},
        "chain_lengths": {length: n}, "stages": {stage: {"ok", "failed",
        "reasons": {code: n}}}, "tasks": {"chain": n, "server": n,
        "augmented": {axis: n}}, "scores": {dimension: {score: n}}, "kept": n |
        None, "tokens": {"prompt_tokens", "completion_tokens", "by_stage"},
        "trajectories": <:func:`trajectory_stats`> | None}``.
        ``stages`` counts each view's rows (``ok``/``failed``) and its failure
        codes; ``tasks`` and ``scores`` count the scored tasks (all of them,
        before thresholds), or the generated ones when nothing is scored yet.

    Raises:
        FileNotFoundError: ``run_dir`` is not a directory.
    """
    root = Path(run_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no run directory {root}")
    result: dict[str, Any] = {"servers": None, "tools": None, "filters": {}, "graphs": None,
                              "chain_lengths": {}, "stages": {}, "tasks": {}, "scores": {},
                              "kept": None, "tokens": {"prompt_tokens": 0,
                                                       "completion_tokens": 0, "by_stage": {}}}
    report_path = root / f"{FILES['harvest']}.report.json"
    if report_path.exists():
        report = json.loads(report_path.read_text(encoding="utf-8"))
        result["servers"] = {**report["servers"],
                             "failed_sources": len(report.get("failed_sources", []))}
        result["tools"] = report["tools"]
        result["filters"] = dict(report["reasons"])
    for stage in FILES:
        ok, failed = _rows(root, stage, "ok"), _rows(root, stage, "failed")
        if ok is None and failed is None:
            continue
        codes = Counter(str((row.get("failure") or {}).get("code")) for row in failed or [])
        result["stages"][stage] = {"ok": len(ok or []), "failed": len(failed or []),
                                   "reasons": dict(codes.most_common())}
    graphs = _rows(root, "graph", "ok")
    if graphs is not None:
        result["graphs"] = {
            "servers": len(graphs),
            "nodes": _spread([len(row["graph"]["nodes"]) for row in graphs]),
            "edges": _spread([len(row["graph"]["edges"]) for row in graphs]),
            "weight": _spread([edge["weight"] for row in graphs
                               for edge in row["graph"]["edges"]])}
    chains = _rows(root, "walks", "ok") or []
    lengths = Counter(len(row["chain"]) for row in chains)
    result["chain_lengths"] = {str(k): v for k, v in sorted(lengths.items())}
    scored_journal = root / f"{FILES['score']}.jsonl"
    scored = [row for row in Journal(scored_journal, lambda row: str(row["task_id"])
                                     ).rows.values() if "failure" not in row] \
        if scored_journal.exists() else []
    tasks = scored or (_rows(root, "tasks", "ok") or []) + (_rows(root, "augment", "ok") or [])
    modes: Counter[str] = Counter()
    axes: Counter[str] = Counter()
    for row in tasks:
        if row.get("augmentation"):
            axes[row["augmentation"]["axis"]] += 1
        else:
            modes[row["mode"]] += 1
    result["tasks"] = {"chain": modes["chain"], "server": modes["server"],
                       "augmented": dict(sorted(axes.items()))}
    result["scores"] = {name: {str(s): sum(1 for row in scored
                                           if row["scores"].get(name) == s)
                               for s in range(1, 6)} for name in DIMENSIONS} if scored else {}
    kept = _rows(root, "score", "ok")
    result["kept"] = len(kept) if kept is not None else None
    for stage in LLM_STAGES:
        path = root / f"{FILES[stage]}.jsonl"
        if not path.exists():
            continue
        tokens = {"prompt_tokens": 0, "completion_tokens": 0}
        for row in Journal(path, _key_of(stage)).rows.values():
            entries = [entry for entry in row.get("provenance") or []
                       if isinstance(entry, dict) and entry.get("stage") == stage]
            usage = (entries[-1].get("usage") if entries else None) or {}
            for name in tokens:
                tokens[name] += int(usage.get(name, 0) or 0)
        result["tokens"]["by_stage"][stage] = tokens
        for name in tokens:
            result["tokens"][name] += tokens[name]
    result["trajectories"] = trajectory_stats(root)
    return result


def format_sft_stats(data: Mapping[str, Any]) -> str:
    """:func:`sft_stats` as readable lines.

    Args:
        data: The output of :func:`sft_stats`.

    Returns:
        The text.
    """
    lines = []
    if data.get("servers"):
        servers, tools = data["servers"], data["tools"]
        lines.append(f"servers: {servers['in']} in, {servers['kept']} kept, "
                     f"{servers['dropped']} dropped, {servers['failed_sources']} source(s) "
                     "failed to harvest")
        lines.append(f"tools:   {tools['in']} in, {tools['kept']} kept, {tools['dropped']} "
                     "dropped")
        for code, count in data["filters"].items():
            lines.append(f"  filter {code}: {count}")
    if data.get("graphs"):
        graphs = data["graphs"]
        lines.append(f"graphs:  {graphs['servers']} server(s); nodes "
                     f"{graphs['nodes']['min']}..{graphs['nodes']['max']} (mean "
                     f"{graphs['nodes']['mean']}), edges {graphs['edges']['min']}.."
                     f"{graphs['edges']['max']} (mean {graphs['edges']['mean']})")
    if data.get("chain_lengths"):
        lines.append("chain lengths: " + ", ".join(f"{k}: {v}"
                                                   for k, v in data["chain_lengths"].items()))
    lines.append(f"{'stage':<8} {'ok':>6} {'failed':>7} {'prompt tok':>11} {'compl tok':>10}")
    for stage, counts in data["stages"].items():
        tokens = data["tokens"]["by_stage"].get(stage, {})
        lines.append(f"{stage:<8} {counts['ok']:>6} {counts['failed']:>7} "
                     f"{tokens.get('prompt_tokens', 0):>11} "
                     f"{tokens.get('completion_tokens', 0):>10}")
        for code, count in counts["reasons"].items():
            lines.append(f"  {stage} dropped x{count}: {code}")
    tasks = data.get("tasks") or {}
    if tasks and (tasks.get("chain") or tasks.get("server") or tasks.get("augmented")):
        augmented = ", ".join(f"{k} {v}" for k, v in tasks["augmented"].items()) or "none"
        lines.append(f"tasks: chain {tasks['chain']}, server {tasks['server']}, augmented "
                     f"{augmented}")
    for name, histogram in (data.get("scores") or {}).items():
        lines.append(f"  {name:<26} " + " ".join(f"{s}:{n}" for s, n in histogram.items()))
    if data.get("kept") is not None:
        lines.append(f"kept tasks: {data['kept']}")
    if data.get("trajectories"):
        lines.extend(_format_trajectories(data["trajectories"]))
    return "\n".join(lines)


def _format_trajectories(data: Mapping[str, Any]) -> list[str]:
    lines = ["trajectories: " + ", ".join(
        f"{name} {counts['ok']} ok / {counts['failed']} failed"
        for name, counts in sorted(data["backends"].items()))]
    for code, count in data["failures"].items():
        lines.append(f"  rollout failed x{count}: {code}")
    turns, calls = data["turns"], data["calls"]
    lines.append(f"  turns per trajectory {turns['min']}..{turns['max']} (mean {turns['mean']}), "
                 f"tool calls {calls['min']}..{calls['max']} (mean {calls['mean']})")
    injected = data["injected"]
    kinds = ", ".join(f"{k} {v}" for k, v in injected["by_kind"].items()) or "none"
    lines.append(f"  injected failures: {injected['failures']} of {injected['executed_calls']} "
                 f"valid calls on real/emulated tools (rate {injected['rate']}; {kinds})")
    if data.get("labels"):
        labels = data["labels"]
        lines.append(f"  env labels: {labels['n']} trajectories, mean F1 {labels['mean_f1']}, "
                     f"mean precision {labels['mean_precision']}, success rate "
                     f"{labels['success_rate']}")
    if data.get("judged") is not None:
        lines.append(f"  judged {data['judged']}, unscored {data['unscored']}, kept "
                     f"{data['kept']} (keep rate {data['keep_rate']['of_judged']} of judged, "
                     f"{data['keep_rate']['of_rollouts']} of rollouts)")
        for name, dist in data["scores"].items():
            lines.append(f"    {name:<8} mean {dist['mean']} n/a {dist['n_a']}  "
                         + " ".join(f"{b}:{n}" for b, n in dist["bins"].items()))
    return lines
