"""The report of an ``astra-gym eval`` results directory."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from . import figures as fig
from .page import Page, Section, table

__all__ = ["results_page"]


def _interval(metric: dict[str, Any]) -> tuple[float, float] | None:
    ci = metric.get("ci")
    return (ci[0], ci[1]) if ci else None


def _breakdown_figure(name: str, title: str, rows: dict[str, Any], caption: str) -> fig.Figure:
    labels = list(rows)
    return fig.bars(name, title, labels, [rows[k]["success"]["mean"] for k in labels],
                    ylabel="success rate", errors=[_interval(rows[k]["success"]) for k in labels],
                    counts=[rows[k]["episodes"] for k in labels], ylim=(0, 1.1),
                    caption=caption)


def _breakdown_table(rows: dict[str, Any], title: str) -> str:
    body = []
    for value, row in rows.items():
        ci = row["success"].get("ci")
        body.append([value, row["episodes"], row["tasks"], row["success"]["mean"],
                     f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "-", row["reward"]["mean"],
                     row["f1"], row["turns"], row["calls"]])
    return table([title, "episodes", "tasks", "success", "95% CI", "reward", "F1", "turns",
                  "calls"], body)


def results_page(directory: Path) -> Page:
    """The page for ``RESULTS_DIR``: summary tables and the distributions of its episodes.

    Args:
        directory: A results directory of ``astra-gym eval``.

    Returns:
        The page.
    """
    from ..eval.runner import summarize_dir
    from ..eval.store import SUMMARY_FILE, load_episodes

    episodes = load_episodes(directory)
    summary_path = directory / SUMMARY_FILE
    if summary_path.exists():
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    else:  # a run killed before its end: the episodes are there, the summary is not
        summary = summarize_dir(directory)
    counts = summary["episodes"]
    metrics = summary["metrics"]
    subtitle = [f"model {summary.get('model')} on {summary.get('env_id')} "
                f"({summary.get('mode')} tool calls)",
                f"{counts['finished']} of {counts['planned']} planned episodes finished, "
                f"{counts['errored']} failed; {summary['tasks']} tasks, up to "
                f"{summary['rollouts_per_task']} rollouts each",
                f"results: {directory}"]

    rows = [[name, m["mean"], f"[{m['ci'][0]:.3f}, {m['ci'][1]:.3f}]" if m.get("ci") else "-",
             m["n"]] for name, m in metrics.items()]
    overview = Section("Summary", figures_first=False, blocks=[
        table(["metric", "mean", f"{summary['ci_level']:.0%} CI", "tasks"], rows),
        f'<p class="note">Intervals: {summary["ci_method"]}.</p>',
        table(["k", "pass@k", "pass^k", "tasks with k rollouts"],
              [[k, summary["pass_at_k"][k], summary["pass_hat_k"].get(k),
                summary["tasks_with_k"].get(k)] for k in summary["pass_at_k"]]),
    ])
    rewards = [float(e["reward"]) for e in episodes]
    turns = [float(e["turns"]) for e in episodes]
    calls = [float(e["components"]["calls"]) for e in episodes]
    invalid = [float(e["components"]["invalid_calls"]) for e in episodes]
    latencies = [float(s["latency_s"]) for e in episodes for s in e.get("steps", ())]
    distributions = Section("Distributions", figures=[
        fig.histogram("reward-distribution", "Reward per episode", rewards,
                      xlabel="episode return", caption="The sum of step rewards (with the "
                      "default f1 mode: the trajectory F1)."),
        fig.histogram("turn-distribution", "Turns per episode", turns, xlabel="turns",
                      integer=True, caption="Assistant turns until the final answer or the "
                      "turn limit."),
        fig.histogram("calls-per-episode", "Tool calls per episode", calls,
                      xlabel="tool calls", integer=True,
                      caption=f"Call attempts, invalid ones included (mean "
                              f"{statistics.fmean(invalid) if invalid else 0:.2f} invalid)."),
        fig.histogram("request-latency", "Request latency", latencies, xlabel="seconds",
                      color="#7f7f7f", caption="Seconds per successful chat request."),
    ])
    breakdowns = Section("Success by domain, hops and language", figures=[
        _breakdown_figure("success-by-domain", "Success by domain", summary["by_domain"],
                          "Success rate per domain, 95% CI over tasks."),
        _breakdown_figure("success-by-hops", "Success by hop count", summary["by_hops"],
                          "Hops: the depth of the task's sub-question DAG."),
        _breakdown_figure("success-by-language", "Success by language",
                          summary["by_language"], "Success rate per task language."),
    ], blocks=[_breakdown_table(summary["by_domain"], "domain"),
               _breakdown_table(summary["by_hops"], "hops"),
               _breakdown_table(summary["by_language"], "language")])
    ks = [int(k) for k, v in summary["pass_at_k"].items() if v is not None]
    if len(ks) > 1:
        distributions.figures.append(fig.lines(
            "pass-at-k", "pass@k and pass^k over rollouts", ks,
            {"pass@k": [summary["pass_at_k"][str(k)] for k in ks],
             "pass^k": [summary["pass_hat_k"][str(k)] for k in ks]},
            xlabel="k", ylabel="rate", caption="Unbiased estimates from each task's rollouts."))
    sections = [overview, distributions, breakdowns, _hardest(episodes)]
    errors = load_episodes(directory, errors=True)
    if errors:
        kinds: dict[str, list[str]] = defaultdict(list)
        for record in errors:
            kinds[record["error"]["kind"]].append(record["error"]["message"])
        sections.append(Section("Errors", [table(
            ["kind", "episodes", "first message"],
            [[kind, len(messages), messages[0][:300]] for kind, messages in kinds.items()])]))
    title = f"astra-gym eval: {summary.get('model')} on {summary.get('env_id')}"
    return Page(title, subtitle, sections)


def _hardest(episodes: list[dict[str, Any]], top: int = 15) -> Section:
    tasks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for episode in episodes:
        tasks[episode["task_id"]].append(episode)
    rows = []
    for task_id, group in tasks.items():
        rows.append([task_id, group[0].get("domain"), group[0].get("hops"), len(group),
                     statistics.fmean(float(e["success"]) for e in group),
                     statistics.fmean(float(e["reward"]) for e in group),
                     statistics.fmean(float(e["turns"]) for e in group)])
    rows.sort(key=lambda row: (row[4], row[5], row[0]))
    return Section(f"Hardest tasks (lowest success, up to {top})", [
        table(["task", "domain", "hops", "rollouts", "success", "reward", "turns"], rows[:top])])
