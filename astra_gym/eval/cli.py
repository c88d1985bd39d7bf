"""``astra-gym eval``: its options, and the handler that runs and reports an evaluation.

Exit status: 0 when every planned episode finished; 1 when the endpoint
failed (refused, timed out, HTTP errors, garbage) and some episodes are not
finished (the finished ones are kept: run the same command again to resume);
2 for unusable arguments; 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_eval_command", "format_summary"]

_COMMAND = "astra-gym eval"


def add_eval_command(commands: Any) -> argparse.ArgumentParser:
    """Add the ``eval`` subcommand to ``astra-gym``'s subparsers."""
    parser = commands.add_parser(
        "eval", help="evaluate a model on every task of an env, concurrently and resumably",
        description="Play a model behind an OpenAI-compatible endpoint over the tasks of an "
                    "env or pack, --rollouts-per-task times each, --concurrency episodes at "
                    "once. Writes one JSON line per episode to RESULTS_DIR/episodes.jsonl as "
                    "it ends and RESULTS_DIR/summary.json at the end; rerunning the command "
                    "skips the finished episodes. Exits 0 when every episode finished, 1 "
                    "when the endpoint failed (the finished episodes are kept; rerun to "
                    "resume), 2 for unusable arguments.")
    parser.add_argument("target", metavar="ENV_ID|PACK_DIR",
                        help="a registered env id (astra/demo-v0) or a pack directory")
    parser.add_argument("--model", required=True, help="model name the endpoint serves")
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. "
                                           "http://localhost:8000/v1 (or OPENAI_BASE_URL)")
    parser.add_argument("--api-key-env", metavar="VAR",
                        help="environment variable holding the API key (default "
                             "OPENAI_API_KEY; local servers need none)")
    parser.add_argument("--out", required=True, metavar="RESULTS_DIR",
                        help="results directory (created; a rerun resumes it)")
    parser.add_argument("--mode", choices=["native", "text"], default="native",
                        help="native tool calling (default), or calls written as text and "
                             "read by the env's parsers")
    parser.add_argument("--call-format", metavar="FORMAT",
                        help="text mode: ask for calls in this family's format (hermes, "
                             "mistral, llama3, ...; astra_gym.parsers.CALL_FORMATS) and "
                             "parse them with its parser (default: the env's prompt, "
                             "parsed with auto detection)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="episodes (so requests) in flight (default 8)")
    parser.add_argument("--rollouts-per-task", type=int, default=1, metavar="G",
                        help="episodes per task, for pass@k (default 1)")
    select = parser.add_mutually_exclusive_group()
    select.add_argument("--tasks", metavar="IDS",
                        help="task ids, comma separated, or @FILE with one id per line")
    select.add_argument("--limit", type=int, metavar="N", help="only the first N tasks")
    parser.add_argument("--temperature", type=float, default=0.0,
                        help="sampling temperature (default 0; raise it for rollouts > 1)")
    parser.add_argument("--max-tokens", type=int, help="completion cap per request")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds per request (default 60)")
    parser.add_argument("--max-retries", type=int, default=2,
                        help="retries after a timeout, connection error, HTTP 408/409/429/5xx "
                             "or a body that is not a chat completion (default 2)")
    parser.add_argument("--env-kwargs", default="{}", metavar="JSON",
                        help="gym.make keyword arguments as a JSON object, e.g. "
                             "'{\"max_turns\": 16, \"reward\": \"outcome\"}'")
    parser.add_argument("--seed", type=int, default=0, help="base of the episodes' reset seeds")
    parser.add_argument("--ray-address", metavar="ADDRESS",
                        help="run the envs in Ray actors: 'local' (start Ray here), 'auto' "
                        "(this machine's cluster) or an address such as ray://head:10001; "
                        "the model client stays here (needs astra-gym[ray])")
    parser.add_argument("--ray-actors", type=int, metavar="N",
                        help="with --ray-address: env actors, each holding several envs "
                        "(default: one per CPU of the cluster, at most --concurrency)")
    parser.add_argument("--json", action="store_true",
                        help="print summary.json to stdout instead of the table")
    parser.add_argument("--quiet", action="store_true", help="no progress (it goes to stderr)")
    parser.set_defaults(handler=run_eval_command)
    return parser


def _task_ids(text: str | None) -> list[str] | None:
    if text is None:
        return None
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ValueError(f"--tasks: cannot read {path}: {exc}") from exc
        ids = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    else:
        ids = [part.strip() for part in text.replace(",", " ").split() if part.strip()]
    if not ids:
        raise ValueError("--tasks names no task")
    return ids


def _api_key(args: argparse.Namespace, base_url: str | None) -> str | None:
    if args.api_key_env:
        value = os.environ.get(args.api_key_env)
        if not value:
            raise ValueError(f"--api-key-env {args.api_key_env}: that environment variable is "
                             "not set")
        return value
    key = os.environ.get("OPENAI_API_KEY") or None
    if key is None and base_url is None:
        raise ValueError("no endpoint: give --base-url URL (or set OPENAI_BASE_URL) for a "
                         "local server, or set OPENAI_API_KEY for the OpenAI API")
    return key


def _config(args: argparse.Namespace) -> Any:
    from .config import EvalConfig

    try:
        env_kwargs = json.loads(args.env_kwargs)
    except ValueError as exc:
        raise ValueError(f"--env-kwargs is not JSON: {exc}") from exc
    if not isinstance(env_kwargs, dict):
        raise ValueError("--env-kwargs must be a JSON object")
    base_url = args.base_url or os.environ.get("OPENAI_BASE_URL") or None
    return EvalConfig(
        args.target, args.model, base_url=base_url, api_key=_api_key(args, base_url),
        mode=args.mode, call_format=args.call_format, concurrency=args.concurrency,
        rollouts=args.rollouts_per_task, task_ids=_task_ids(args.tasks), limit=args.limit,
        temperature=args.temperature, max_tokens=args.max_tokens, timeout=args.timeout,
        max_retries=args.max_retries, env_kwargs=env_kwargs, seed=args.seed,
        ray_address=args.ray_address, ray_actors=args.ray_actors)


def _ci(metric: dict[str, Any], fmt: str = "{:.3f}") -> str:
    if metric.get("mean") is None:
        return "-"
    text = fmt.format(metric["mean"])
    if metric.get("ci"):
        low, high = metric["ci"]
        text += f" [{fmt.format(low)}, {fmt.format(high)}]"
    return text


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a few lines of text (what ``astra-gym eval`` prints)."""
    episodes = summary["episodes"]
    metrics = summary["metrics"]
    lines = [
        f"{summary.get('model')} on {summary.get('env_id')} ({summary.get('mode')}): "
        f"{episodes['finished']}/{episodes['planned']} episodes finished, "
        f"{episodes['errored']} failed, {summary['tasks']} tasks x up to "
        f"{summary['rollouts_per_task']} rollouts",
        f"  success {_ci(metrics['success'])}   reward {_ci(metrics['reward'])}   "
        f"F1 {_ci(metrics['f1'])}   ({summary['ci_level']:.0%} CI over tasks)",
        "  " + "   ".join(f"pass@{k} {v:.3f}" for k, v in summary["pass_at_k"].items()
                          if v is not None)
        + "   " + "   ".join(f"pass^{k} {v:.3f}" for k, v in summary["pass_hat_k"].items()
                             if v is not None and k != "1"),
        f"  turns {_ci(metrics['turns'], '{:.2f}')}   calls {_ci(metrics['calls'], '{:.2f}')}"
        f"   tokens {summary['usage']['total_tokens']:,} (prompt "
        f"{summary['usage']['prompt_tokens']:,}, completion "
        f"{summary['usage']['completion_tokens']:,}), {summary['usage']['requests']:,} "
        "requests",
    ]
    for key, title in (("by_domain", "domain"), ("by_hops", "hops"),
                       ("by_language", "language")):
        parts = [f"{value} {row['success']['mean']:.2f} (n={row['episodes']})"
                 for value, row in summary[key].items()]
        if parts:
            lines.append(f"  success by {title}: " + ", ".join(parts))
    run = summary.get("run") or {}
    if run.get("episodes_run"):
        lines.append(f"  this run: {run['episodes_run']} episodes in {run['wall_s']:.1f} s "
                     f"({run['episodes_per_s']:.2f}/s)")
    return "\n".join(lines)


def run_eval_command(args: argparse.Namespace) -> int:
    """The handler of ``astra-gym eval``."""
    from .runner import evaluate
    from .store import EPISODES_FILE, SUMMARY_FILE, ResultsError

    try:
        config = _config(args)
        if config.rollouts > 1 and config.temperature == 0:
            print(f"{_COMMAND}: warning: {config.rollouts} rollouts per task at temperature 0 "
                  "are usually identical; pass --temperature for pass@k to mean anything",
                  file=sys.stderr)
        outcome = evaluate(config, args.out, progress=False if args.quiet else None)
    except KeyboardInterrupt:
        print(f"{_COMMAND}: interrupted; the finished episodes are kept in {args.out} (run "
              "the same command again to resume)", file=sys.stderr)
        return 130
    except (ResultsError, ValueError, KeyError, ImportError, FileNotFoundError) as exc:
        text = " ".join(str(exc).split())
        print(f"{_COMMAND}: error: {text}", file=sys.stderr)
        return 2
    for warning in outcome.warnings:
        print(f"{_COMMAND}: warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(outcome.summary, ensure_ascii=False))
    else:
        print(format_summary(outcome.summary))
        print(f"  results: {outcome.directory / EPISODES_FILE}, "
              f"{outcome.directory / SUMMARY_FILE}")
    if outcome.complete:
        return 0
    missing = outcome.planned - outcome.finished
    cause = outcome.aborted or (f"{outcome.errored} episode(s) ended in errors (the \"error\" "
                                f"of their lines in {EPISODES_FILE} says why)")
    print(f"{_COMMAND}: error: {missing} of {outcome.planned} episodes are not finished: "
          f"{cause}. The {outcome.finished} finished are kept in {outcome.directory}; run "
          "the same command again to resume", file=sys.stderr)
    return 1
