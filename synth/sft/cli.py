"""The ``astra-gym sft`` subcommands: ``run``, one command per stage, ``export`` and ``stats``.

:func:`add_sft_commands` adds them to the ``astra-gym`` parser. Exit status of
``run`` and the stage commands: ``0`` when the run produced rows (the top
failure reasons are printed); ``1`` when the model endpoint is unusable, an
extra is missing (``openai``, ``mcp``, ``ray``; both checked before any record
is processed), every record of a stage failed, or the offline cache lacked
answers; ``2`` for unusable arguments or input.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_sft_commands", "main_export", "main_run", "main_stats"]


_RETRYABLE = ("llm_error", "harvest_failed", "unexpected_error", "unscored", "emulator_error",
              "mcp_unavailable", "rollout_timeout")
"""Failure codes that a rerun with ``--retry-failed`` may cure (the others are verdicts)."""


class _Exit(Exception):
    """Stop the command with a message and a status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _int_list(text: str, flag: str) -> tuple[int, ...]:
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise _Exit(2, f"{flag} wants comma-separated integers, not {text!r}") from None


def _axes(text: str) -> tuple[str, ...]:
    from .augment import AXES

    if text.strip().lower() in ("", "none"):
        return ()
    if text.strip().lower() == "all":
        return AXES
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _stage_options(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    from . import LLM_STAGES

    options: dict[str, dict[str, Any]] = {}
    for flag, key, values, convert in (("--temperature", "temperature", args.temperature, float),
                                       ("--max-tokens", "max_tokens", args.max_tokens, int)):
        for text in values or []:
            stage, sep, value = text.partition("=")
            stage = stage.strip()
            if not sep or stage not in LLM_STAGES:
                raise _Exit(2, f"{flag} wants STAGE=VALUE with STAGE one of "
                               f"{', '.join(LLM_STAGES)}, not {text!r}")
            try:
                number = convert(value.strip())
            except ValueError:
                raise _Exit(2, f"{flag} {text!r}: not a number") from None
            if number < 0 or (convert is int and number == 0):
                raise _Exit(2, f"{flag} {text!r}: the value must be positive")
            options.setdefault(stage, {})[key] = number
    return options


def _options(args: argparse.Namespace) -> Any:
    from .personas import PersonaError, load_personas
    from .runner import SftOptions

    personas = None
    if args.personas:
        try:
            personas = tuple(load_personas(args.personas))
        except PersonaError as exc:
            raise _Exit(2, str(exc)) from None
    thresholds = {"question_quality": args.min_quality, "scenario_realism": args.min_realism,
                  "tool_use_necessity": args.min_necessity}
    backend_for = {}
    for text in args.backend_for or []:
        server, sep, kind = text.partition("=")
        if not sep or not server.strip():
            raise _Exit(2, f"--backend-for wants SERVER=BACKEND, not {text!r}")
        backend_for[server.strip()] = kind.strip()
    kinds = tuple(part.strip() for part in args.inject_kinds.split(",") if part.strip())
    options = SftOptions(
        backend=args.backend, backend_for=backend_for, env=tuple(args.env or ()),
        env_tasks=args.env_tasks, samples=args.samples, rollout_mode=args.rollout_mode,
        max_llm_calls=args.max_llm_calls, task_timeout=args.task_timeout,
        rollout_concurrency=args.rollout_concurrency, injection_p=args.inject_p,
        injection_kinds=kinds, emulator_history=args.emulator_history, query_p=args.query_p,
        emulator_temperature=args.emulator_temperature, env_sandbox=args.env_sandbox,
        min_score=args.min_score, require_success=args.require_success, min_f1=args.min_f1,
        min_tools=args.min_tools, mcp_timeout=args.mcp_timeout,
        graph_samples=args.graph_samples, seed=args.seed, min_length=args.min_length,
        max_length=args.max_length, max_walks=args.max_walks, acyclic=not args.allow_cycles,
        votes=args.votes, vote=not args.no_vote, back_translation=not args.no_back_translation,
        task_samples=args.task_samples,
        server_tools=_int_list(args.server_tools, "--server-tools"),
        chain_tasks=not args.no_chain_tasks, augment=_axes(args.augment),
        variations=args.variations, personas=personas, thresholds=thresholds,
        stage_options=_stage_options(args))
    try:
        options.check()
    except ValueError as exc:
        raise _Exit(2, str(exc)) from None
    return options


def _client(args: argparse.Namespace, stages: tuple[str, ...], out: Path) -> Any:
    """The checked LLM client (``None`` when no LLM stage runs)."""
    from synth.llm import LLMClient, LLMError

    from .runner import LLM_STAGES

    wanted = [stage for stage in stages if stage in LLM_STAGES]
    if not wanted:
        return None
    if not args.model:
        raise _Exit(2, f"--model is needed for the {', '.join(wanted)} stage(s)")
    try:
        client = LLMClient(args.model, base_url=args.base_url, api_key=args.api_key,
                           cache_dir=args.cache_dir or out / "cache", offline=args.offline,
                           concurrency=args.concurrency, timeout=args.timeout,
                           max_retries=args.max_retries)
    except ValueError as exc:
        raise _Exit(2, str(exc)) from None
    if args.offline:
        return client
    try:
        import openai  # noqa: F401 - the extra the online stages need
    except ImportError:
        raise _Exit(1, 'the LLM stages need the openai package: pip install '
                       '"astra-gym[openai]"') from None

    async def check() -> list[str]:
        async with client:
            return await client.check_endpoint()

    try:
        warnings = asyncio.run(check())
    except LLMError as exc:
        raise _Exit(1, f"{exc.reason} (check --base-url, --api-key or OPENAI_API_KEY; "
                       "nothing was processed)") from None
    for warning in warnings:
        print(f"astra-gym sft: warning: {warning}", file=sys.stderr)
    return client


def _prepare(args: argparse.Namespace) -> tuple[Any, ...]:
    """Everything checked before a record is processed: stages, sources, options, extras."""
    from .mcp_harvest import require_mcp
    from .runner import SftSources, parse_sft_stages

    try:
        stages = parse_sft_stages(args.stages)
    except ValueError as exc:
        raise _Exit(2, str(exc)) from None
    sources = SftSources(tools=tuple(args.tools or ()), mcp_stdio=tuple(args.mcp_stdio or ()),
                         mcp_url=tuple(args.mcp_url or ()))
    if "harvest" in stages:
        if not (sources.tools or sources.mcp_stdio or sources.mcp_url):
            raise _Exit(2, "the harvest stage needs --tools, --mcp-stdio or --mcp-url")
        missing = [path for path in sources.tools if not Path(path).is_file()]
        if missing:
            raise _Exit(2, f"cannot read {missing[0]}: no such file")
    options = _options(args)
    if "harvest" in stages and (sources.mcp_stdio or sources.mcp_url) and not args.offline:
        try:
            require_mcp()
        except ImportError as exc:
            raise _Exit(1, str(exc)) from None
    if "rollout" in stages and not args.offline and args.backend != "emulated":
        live = Path(args.out) / "07_score.ok.jsonl"
        if live.exists() and '"transport"' in live.read_text(encoding="utf-8"):
            try:
                require_mcp()
            except ImportError as exc:
                raise _Exit(1, str(exc)) from None
    if args.executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise _Exit(1, '--executor ray needs ray: pip install "astra-gym[ray]"') from None
    return stages, sources, options


def _report(command: str, summary: Any, quiet: bool) -> int:
    from astra_gym.parsers.text import clip

    if not quiet:
        print(summary.format())
    if not summary.complete:
        print(f"{command}: the offline cache lacks answers for some records (rerun online, "
              "or with the cache of the original run)", file=sys.stderr)
        return 1
    top = summary.top_reasons()
    dead_end = summary.dead_end
    if dead_end is not None:
        print(f"{command}: error: every record failed at the {dead_end} stage; nothing was "
              "produced", file=sys.stderr)
    if top and (dead_end is not None or not quiet):
        stream = sys.stderr if dead_end is not None else sys.stdout
        print("top failure reasons:", file=stream)
        for stage, reason, count in top:
            print(f"  {count:>4} x {stage}: {clip(reason, 240)}", file=stream)
        if any(reason.startswith(_RETRYABLE) for _, reason, _ in top):
            print("when the cause is fixed (the endpoint is back, a setting changed), run the "
                  "same command with --retry-failed to run the failed records again",
                  file=stream)
    return 1 if dead_end is not None else 0


def main_run(args: argparse.Namespace) -> int:
    """``astra-gym sft run`` (and the one-stage commands).

    Args:
        args: The parsed arguments.

    Returns:
        The exit status (see the module docstring).
    """
    from .executors import make_sft_executor
    from .runner import SftInputError, run_sft

    command = f"astra-gym sft {args.sft_command}"
    out = Path(args.out)
    try:
        stages, sources, options = _prepare(args)
        client = _client(args, stages, out)
        try:
            executor = make_sft_executor(args.executor, address=args.ray_address)
        except ValueError as exc:
            raise _Exit(2, str(exc)) from None

        async def main() -> Any:
            async with client if client is not None else contextlib.nullcontext():
                return await run_sft(out, client, sources=sources, stages=stages,
                                     options=options, cache_dir=args.cache_dir or out / "cache",
                                     offline=args.offline, executor=executor,
                                     progress=False if args.quiet else None,
                                     retry_failed=args.retry_failed)

        try:
            summary = asyncio.run(main())
        except (SftInputError, ValueError, KeyError) as exc:
            raise _Exit(2, str(exc).strip("'\"")) from None
        finally:
            executor.close()
    except _Exit as stop:
        print(f"{command}: error: {stop}", file=sys.stderr)
        return stop.status
    return _report(command, summary, args.quiet)


def main_stats(args: argparse.Namespace) -> int:
    """``astra-gym sft stats RUN_DIR [--json]``.

    Args:
        args: The parsed arguments.

    Returns:
        0, or 2 when the run directory does not exist.
    """
    from .stats import format_sft_stats, sft_stats

    try:
        data = sft_stats(args.run_dir)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        print(f"astra-gym sft stats: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(data, ensure_ascii=False, indent=2) if args.json else format_sft_stats(data))
    return 0


def main_export(args: argparse.Namespace) -> int:
    """``astra-gym sft export RUN_DIR --out DIR [--min-score X] [--split F] [--format openai]``.

    Args:
        args: The parsed arguments.

    Returns:
        0 when lines were exported, 1 when no trajectory was kept, 2 for
        unusable arguments or a run directory without judged trajectories.
    """
    from .export import ExportError, export_run

    try:
        summary = export_run(args.run_dir, args.out, min_score=args.min_score,
                             split=args.split, export_format=args.format,
                             require_success=args.require_success, min_f1=args.min_f1)
    except ExportError as exc:
        print(f"astra-gym sft export: error: {exc}", file=sys.stderr)
        return 2
    print(summary.format())
    if not summary.kept:
        print("astra-gym sft export: error: no trajectory was kept (see the reasons above)",
              file=sys.stderr)
        return 1
    return 0


def _add_run_options(parser: argparse.ArgumentParser, *, stages: bool) -> None:
    sources = parser.add_argument_group("tool sources (harvest)")
    sources.add_argument("--tools", action="extend", nargs="+", metavar="FILE",
                         help="JSONL files: ASTRA mcp_servers.jsonl rows or "
                              '{"server": {...}, "tools": [OpenAI tools]} rows')
    sources.add_argument("--mcp-stdio", action="append", metavar='"CMD ARGS"',
                         help="a command starting a stdio MCP server (repeatable); needs "
                              'pip install "astra-gym[mcp]"')
    sources.add_argument("--mcp-url", action="append", metavar="URL",
                         help="a streamable-HTTP MCP server (repeatable)")
    sources.add_argument("--min-tools", type=int, default=3,
                         help="drop servers with fewer usable tools (default 3)")
    sources.add_argument("--mcp-timeout", type=float, default=30.0,
                         help="seconds to harvest one MCP server; in rollouts, to start "
                              "one and per call (default 30)")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory")
    if stages:
        parser.add_argument("--stages", default="harvest..score",
                            help="a range (harvest..score, the default) or a comma list")
    model = parser.add_argument_group("model")
    model.add_argument("--model", help="model name (needed by the LLM stages)")
    model.add_argument("--base-url", help="OpenAI-compatible endpoint (or OPENAI_BASE_URL)")
    model.add_argument("--api-key", help="API key (default: OPENAI_API_KEY)")
    model.add_argument("--offline", action="store_true",
                       help="answer from the response cache and the harvest snapshots only")
    model.add_argument("--cache-dir", help="response cache (default: RUN_DIR/cache)")
    model.add_argument("--retry-failed", action="store_true",
                       help="run again the records RUN_DIR holds as failed")
    model.add_argument("--concurrency", type=int, default=8,
                       help="requests in flight (default 8)")
    model.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    model.add_argument("--max-retries", type=int, default=3, help="retries per request")
    model.add_argument("--temperature", action="append", metavar="STAGE=VALUE",
                       help="sampling temperature of one LLM stage (repeatable)")
    model.add_argument("--max-tokens", action="append", metavar="STAGE=N",
                       help="completion length cap of one LLM stage (repeatable)")
    chains = parser.add_argument_group("graph, walks, verification")
    chains.add_argument("--graph-samples", type=int, default=3,
                        help="graph requests per server (default 3)")
    chains.add_argument("--seed", type=int, default=0, help="walk and persona seed (default 0)")
    chains.add_argument("--min-length", type=int, default=2, help="fewest tools on a walk")
    chains.add_argument("--max-length", type=int, default=5, help="most tools on a walk")
    chains.add_argument("--max-walks", type=int, default=20, help="walks per server (cap)")
    chains.add_argument("--allow-cycles", action="store_true",
                        help="let a walk revisit a tool (default: acyclic)")
    chains.add_argument("--votes", type=int, default=3, help="verification votes (default 3)")
    chains.add_argument("--no-vote", action="store_true", help="skip the vote filter")
    chains.add_argument("--no-back-translation", action="store_true",
                        help="skip the back-translation filter")
    tasks = parser.add_argument_group("tasks, augmentation, scoring")
    tasks.add_argument("--task-samples", type=int, default=2,
                       help="tasks per chain and per (server, k) (default 2)")
    tasks.add_argument("--server-tools", default="1,2,3", metavar="K,K",
                       help="k of the server-only tasks (default 1,2,3; none: no such tasks)")
    tasks.add_argument("--no-chain-tasks", action="store_true",
                       help="no chain-conditioned tasks")
    tasks.add_argument("--augment", default="all", metavar="AXES",
                       help="augmentation axes: all (default), none, or a comma list of "
                            "diverse, complicate, persona")
    tasks.add_argument("--variations", type=int, default=1,
                       help="variations per task and axis (default 1)")
    tasks.add_argument("--personas", metavar="FILE",
                       help="persona JSONL for the persona axis (default: a built-in set)")
    tasks.add_argument("--min-quality", type=int, default=4,
                       help="keep tasks whose question_quality is at least this (default 4)")
    tasks.add_argument("--min-realism", type=int, default=4,
                       help="... scenario_realism at least this (default 4)")
    tasks.add_argument("--min-necessity", type=int, default=4,
                       help="... tool_use_necessity at least this (default 4)")
    part2 = parser.add_argument_group("rollouts and judging (part 2; docs/sft_rollouts.md)")
    part2.add_argument("--backend", default="auto", choices=["auto", "mcp", "emulated"],
                       help="tools of the task rows: auto (default: the real MCP server when "
                            "the row has one, else emulated), mcp or emulated")
    part2.add_argument("--backend-for", action="append", metavar="SERVER=BACKEND",
                       help="the backend of one server (name or server_id; repeatable)")
    part2.add_argument("--env", action="append", metavar="ENV_ID|PACK_DIR",
                       help="also roll out the tasks of an astra env pack (backend 3; "
                            "repeatable), e.g. astra/demo-v0")
    part2.add_argument("--env-tasks", type=int, metavar="N",
                       help="the first N tasks of each env pack (default: all)")
    part2.add_argument("--samples", type=int, default=1, help="trajectories per task (default 1)")
    part2.add_argument("--rollout-mode", choices=["native", "text"], default="native",
                       help="native OpenAI tool calling (default) or calls parsed from text")
    part2.add_argument("--max-llm-calls", type=int, default=20,
                       help="agent calls per trajectory (default 20)")
    part2.add_argument("--task-timeout", type=float, default=240.0,
                       help="seconds per trajectory (default 240)")
    part2.add_argument("--rollout-concurrency", type=int, metavar="N",
                       help="trajectories in flight (default: --concurrency)")
    part2.add_argument("--inject-p", type=float, default=0.2,
                       help="probability that a valid call on real or emulated tools fails on "
                            "purpose (default 0.2; 0: off)")
    part2.add_argument("--inject-kinds", default="timeout,connection_refused,service_unavailable",
                       help="failure kinds drawn (default timeout,connection_refused,"
                            "service_unavailable; also rate_limited, bad_gateway)")
    part2.add_argument("--emulator-history", type=int, default=5,
                       help="(call, result) pairs the emulator sees (default 5)")
    part2.add_argument("--query-p", type=float, default=0.5,
                       help="probability that the emulator sees the user query (default 0.5)")
    part2.add_argument("--emulator-temperature", type=float, default=1.0,
                       help="the emulator's temperature (default 1.0)")
    part2.add_argument("--env-sandbox", choices=["process", "inprocess"], default="process",
                       help="sandbox isolation of env-pack tools (default process)")
    part2.add_argument("--min-score", type=float, default=0.75,
                       help="keep trajectories whose overall judge score is at least this "
                            "(default 0.75)")
    part2.add_argument("--require-success", action="store_true",
                       help="keep env-pack trajectories only when the env verified success")
    part2.add_argument("--min-f1", type=float, metavar="F1",
                       help="keep env-pack trajectories only with at least this F1")
    parser.add_argument("--executor", choices=["local", "ray"], default="local",
                        help='where LLM records run (ray: pip install "astra-gym[ray]")')
    parser.add_argument("--ray-address", metavar="ADDR",
                        help="Ray cluster to join with --executor ray")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or summary")


def add_sft_commands(commands: Any) -> None:
    """Add ``sft run``, ``sft STAGE`` and ``sft stats`` to the ``astra-gym`` subparsers.

    Args:
        commands: The top-level ``add_subparsers()`` object.
    """
    from . import SFT_STAGES

    sft = commands.add_parser(
        "sft", help="SFT trajectories: tool sources to tasks, rollouts, judgements, export",
        description="Tool sources (ASTRA mcp_servers.jsonl, plain JSON, live MCP servers) to "
                    "a tool graph, chains, verified chains and scored tasks (part 1), then "
                    "rollouts against real, emulated or env-pack tools, seven judges and an "
                    "export (part 2), with any OpenAI-compatible model. Resumable; replays "
                    "offline. See docs/sft.md and docs/sft_rollouts.md.")
    sft_commands = sft.add_subparsers(dest="sft_command", required=True)
    run = sft_commands.add_parser(
        "run", help="run the SFT stages (default harvest..score; part 2: rollout..judge)",
        description="Run harvest, graph, walks, verify, tasks, augment and score (the "
                    "default), and with --stages harvest..judge or rollout..judge the "
                    "rollouts and judges of part 2 (docs/sft_rollouts.md). A rerun "
                    "with the same arguments skips what RUN_DIR already holds. Exits 0 when "
                    "the run produced rows, 1 when the endpoint or an extra is missing "
                    "(checked before any record), every record of a stage failed or the "
                    "offline cache missed answers, 2 for unusable arguments or input.")
    _add_run_options(run, stages=True)
    run.set_defaults(handler=main_run)
    for stage in SFT_STAGES:
        alias = sft_commands.add_parser(
            stage, help=f"run only the {stage} stage (sft run --stages {stage})",
            description=f"The same as sft run --stages {stage}, with the same options.")
        _add_run_options(alias, stages=False)
        alias.set_defaults(handler=main_run, stages=stage)
    export = sft_commands.add_parser(
        "export", help="write the kept trajectories as SFT data (JSONL + card)",
        description="Write the judged trajectories of RUN_DIR that reach --min-score as JSONL "
                    'lines {"messages", "tools", "metadata"} (OpenAI format; message grammar '
                    "checked; deduplicated by content hash), split into train.jsonl and "
                    "test.jsonl, with a README.md card. See docs/sft_rollouts.md.")
    export.add_argument("run_dir", metavar="RUN_DIR")
    export.add_argument("--out", required=True, metavar="DIR", help="output folder")
    export.add_argument("--min-score", type=float, default=0.75,
                        help="least overall judge score (default 0.75)")
    export.add_argument("--split", type=float, default=0.95,
                        help="train fraction, by content hash (default 0.95; 1: train only)")
    export.add_argument("--format", choices=["openai"], default="openai",
                        help="line format (default openai)")
    export.add_argument("--require-success", action="store_true",
                        help="env-pack trajectories only when the env verified success")
    export.add_argument("--min-f1", type=float, metavar="F1",
                        help="env-pack trajectories only with at least this F1")
    export.set_defaults(handler=main_export)
    stats = sft_commands.add_parser("stats", help="summarize an SFT run directory")
    stats.add_argument("run_dir", metavar="RUN_DIR")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(handler=main_stats)
