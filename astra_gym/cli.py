"""The ``astra-gym`` command line.

Subcommands:
    sandbox-demo   Run a realistic tool and a few hostile ones in both isolation
                   modes and print what happened (the README's main job until
                   the demo env lands).
    sandbox run    Call one function of a tool file in the sandbox.
    compile        Compile ASTRA rows (step 4, step 5 or RL) into an env pack.
    run            Run an agent (oracle, random, openai) over an astra env.
    validate       Run the soundness checks over every task of an env or pack.
    synth run      Run the environment-synthesis pipeline (generate..compile).
    synth STAGE    One stage (generate, necessity, verify, tools, merge, compile).
    synth stats    Counts, failure reasons, histograms and tokens of a synth run.
    sft run        SFT trajectories, part 1: tool sources to scored tasks (synth.sft).
    sft STAGE      One SFT stage (harvest, graph, walks, verify, tasks, augment, score).
    sft stats      Servers, filters, graphs, chains, tasks and scores of an SFT run.
    distractors build  Precompute the band index of irrelevant-tool mixing for packs.
    eval           Evaluate a model on an env, concurrently and resumably (astra_gym.eval).
    report         One self-contained HTML page of plots for eval results or a pack.
    serve          Serve an env or pack over OpenEnv (astra_gym.integrations.openenv).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .rewards import REWARD_MODES
from .sandbox import Limits, Sandbox

_DEMO_TOOL = '''
FLIGHTS = {
    ("PEK", "JFK"): [{"id": "CA981", "price": 5230.0}, {"id": "UA88", "price": 4810.5}],
    ("PVG", "LAX"): [{"id": "MU583", "price": 3990.0}],
}
def search_flights(origin: str, destination: str, currency: str = "CNY") -> dict:
    """Cheapest mock flight between two airports."""
    rates = {"CNY": 1.0, "USD": 0.138}
    key = (origin.strip().upper(), destination.strip().upper())
    if key not in FLIGHTS:
        return {"error": f"no flights from {key[0]} to {key[1]}"}
    if currency not in rates:
        return {"error": f"unsupported currency {currency!r}"}
    best = min(FLIGHTS[key], key=lambda f: f["price"])
    return {"flight": best["id"], "price": round(best["price"] * rates[currency], 2),
            "currency": currency}
'''

_DEMO_CASES: tuple[tuple[str, str, str, dict], ...] = (
    ("mock-data lookup", _DEMO_TOOL, "search_flights",
     {"origin": "pek", "destination": "jfk", "currency": "USD"}),
    ("validation branch", _DEMO_TOOL, "search_flights",
     {"origin": "AAA", "destination": "BBB"}),
    ("endless loop", "def tool():\n    while True:\n        pass\n", "tool", {}),
    ("memory bomb", "def tool():\n    return 'x' * 10**10\n", "tool", {}),
    ("width bomb", "def tool():\n    return f'{1:>1000000000}'\n", "tool", {}),
    ("escape attempt", "def tool():\n    return ().__class__.__bases__[0].__subclasses__()\n",
     "tool", {}),
    ("forbidden import", "import os\ndef tool():\n    return os.listdir('/')\n", "tool", {}),
    ("frozen clock", "from datetime import datetime\ndef tool():\n"
     "    return datetime.now().isoformat()\n", "tool", {}),
)


def _short(text: str, width: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _sandbox_demo(args: argparse.Namespace) -> int:
    modes = ["inprocess", "process"] if args.isolation == "both" else [args.isolation]
    print(f"astra-gym {__version__} sandbox demo: each tool call runs under the sandbox policy")
    for mode in modes:
        print(f"\n== isolation: {mode} ==")
        print(f"{'case':<18} {'ok':<5} {'ms':>8}  result")
        with Sandbox(isolation=mode) as sandbox:
            session = sandbox.session(seed=args.seed)
            if mode == "process":
                session.call("def warm():\n    return 1\n", "warm")  # start the worker
            for label, source, func, kwargs in _DEMO_CASES:
                start = time.perf_counter()
                result = session.call(source, func, kwargs)
                ms = (time.perf_counter() - start) * 1000
                shown = result.output if result.ok else f"[{result.error_kind}] {result.error}"
                print(f"{label:<18} {result.ok!s:<5} {ms:>8.2f}  {_short(shown, 90)}")
    print("\nEvery hostile call ended as a clean error result; the host process is untouched.")
    return 0


def _sandbox_run(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    try:
        kwargs = json.loads(args.kwargs)
    except json.JSONDecodeError as exc:
        print(f"error: --kwargs is not valid JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(kwargs, dict):
        print("error: --kwargs must be a JSON object", file=sys.stderr)
        return 2
    limits = Limits(ops=args.ops, timeout=args.timeout)
    with Sandbox(isolation=args.isolation, limits=limits) as sandbox:
        result = sandbox.run(source, args.function, kwargs, seed=args.seed)
    if args.json:
        print(json.dumps(result._asdict(), ensure_ascii=False))
    else:
        print(result.text)
    return 0 if result.ok else 1


def _sandbox_allowlist(args: argparse.Namespace) -> int:
    from .sandbox.allowlist import markdown_table

    print(markdown_table())
    return 0


def _sandbox_doctor(args: argparse.Namespace) -> int:
    from .sandbox import WorkerPool
    from .sandbox.confine import format_report

    with WorkerPool(1, confine=not args.no_confine) as pool:
        report = pool.doctor()
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(f"astra-gym {__version__}: the sandbox worker's OS confinement, probed live "
              "from inside a worker\n")
        print(format_report(report))
    layers = report.get("layers", {})
    weak = [name for name, status in layers.items() if not str(status).startswith("active")]
    allowed = [name for name, outcome in report.get("probes", {}).items()
               if str(outcome).startswith("ALLOWED")]
    if args.strict and (weak or allowed):
        print(f"\nnot fully confined: layers {weak or 'all active'}, allowed probes "
              f"{allowed or 'none'}", file=sys.stderr)
        return 1
    return 0


def _compile(args: argparse.Namespace) -> int:
    from synth.compiler import InputError, compile_files  # the runtime does not need it

    try:
        result = compile_files(args.inputs, args.name, args.out, version=args.version,
                               jobs=args.jobs, progress=None if not args.quiet else False,
                               description=args.description)
    except (InputError, ValueError) as exc:  # unusable input or an invalid pack name
        print(f"astra-gym compile: error: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(result.summary())
    reasons = _top_rejections(result.outcomes)
    if result.compiled == 0:
        print(f"astra-gym compile: error: no row compiled ({result.rejected} rejected); the "
              f"main reasons (all of them in {result.out / 'report.json'}):", file=sys.stderr)
        print("\n".join(reasons), file=sys.stderr)
        return 1
    if reasons and not args.quiet:
        print("main rejection reasons:\n" + "\n".join(reasons))
    return 0


def _top_rejections(outcomes: Sequence[Any], top: int = 5) -> list[str]:
    """The most common rejection codes, each with a count and one example message.

    A code alone (``answer: 3``) does not tell a new user what to fix; one
    message per code does, without flooding the screen with every row.
    """
    from collections import Counter

    counts: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for outcome in outcomes:
        first = {}  # code -> its first message in this row; a row counts once per code
        for reason in outcome.reasons:
            first.setdefault(reason.code, reason.message)
        for code, message in first.items():
            counts[code] += 1
            examples.setdefault(code, f"{outcome.source}: {message}")
    return [f"  {code} x{count}: e.g. {_short(examples[code], 200)}"
            for code, count in counts.most_common(top)]


AGENTS = ("oracle", "random", "openai")
"""The agents ``astra-gym run --agent`` knows."""


class RunAborted(Exception):
    """An agent stopped a run (its endpoint failed); the episodes finished before are kept.

    Attributes:
        agent: The agent that stopped.
        summary: The summary of the episodes it finished.
        reason: One line saying why.
    """

    def __init__(self, agent: str, summary: dict[str, Any], reason: str) -> None:
        super().__init__(reason)
        self.agent = agent
        self.summary = summary
        self.reason = reason


def _one_line(text: str, width: int = 400) -> str:
    """``text`` on one line (an error message must never spill into a traceback-like block)."""
    return _short(" ".join(str(text).split()), width)


def _split_agents(args: argparse.Namespace) -> tuple[list[str], str | None]:
    """The agents of ``--agent`` and the env id, which ``--agent``'s list may have taken.

    ``--agent`` takes one or more names, so ``run --agent oracle random astra/demo-v0``
    hands the env id to ``--agent``; a last name that is no agent is the env id when
    none was given otherwise.

    Raises:
        ValueError: An unknown agent name (the message lists the agents).
    """
    tokens = [part.strip() for value in args.agent or ["oracle"] for part in value.split(",")
              if part.strip()]
    env_id = args.env_id
    unknown = [token for token in tokens if token not in AGENTS]
    if unknown == tokens[-1:] and env_id is None and args.pack is None:
        env_id, tokens = tokens[-1], tokens[:-1]
        unknown = []
    if unknown or not tokens:
        raise ValueError(f"--agent: unknown agent {unknown[0]!r}; choose from "
                         f"{', '.join(AGENTS)} (give the env id before --agent, or after "
                         "the agent names)" if unknown else "--agent needs an agent name")
    return list(dict.fromkeys(tokens)), env_id


def _make_agent(name: str, args: argparse.Namespace, env: Any) -> Any:
    from .agents.oracle import OracleAgent
    from .agents.random_agent import RandomAgent

    if name == "oracle":
        return OracleAgent(env.unwrapped.pack)
    if name == "random":
        return RandomAgent(seed=args.seed)
    from .agents.openai_agent import AgentError, OpenAIAgent

    if not args.model:
        raise ValueError("--agent openai needs --model (and usually --base-url)")
    if not (args.base_url or os.environ.get("OPENAI_BASE_URL") or args.api_key
            or os.environ.get("OPENAI_API_KEY")):
        raise ValueError("--agent openai has no endpoint: give --base-url URL (or set "
                         "OPENAI_BASE_URL) for a local server, or --api-key / OPENAI_API_KEY "
                         "for the OpenAI API")
    try:
        return OpenAIAgent(args.model, base_url=args.base_url, api_key=args.api_key,
                           mode=args.mode, temperature=args.temperature, timeout=args.timeout,
                           max_retries=args.max_retries, call_format=args.call_format)
    except AgentError as exc:
        raise ValueError(str(exc)) from exc


def _env_kwargs(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """``gym.make`` options: an OpenAI agent in native mode gets a prompt without text calls."""
    kwargs: dict[str, Any] = {"reward": args.reward, "max_turns": args.max_turns}
    if name == "openai":
        if args.mode == "native":
            from .agents.openai_agent import NATIVE_SYSTEM_PROMPT

            kwargs.update(tools_in_prompt=False, system_prompt=NATIVE_SYSTEM_PROMPT)
        else:  # the same prompt and parser as ``astra-gym eval --mode text``
            from .eval.runner import mode_env_kwargs

            kwargs.update(mode_env_kwargs("text", args.call_format))
    return kwargs


def _run_agent(name: str, env_id: str, args: argparse.Namespace) -> dict[str, Any]:
    """Play the episodes of one agent and summarize them.

    Raises:
        RunAborted: The agent's endpoint failed; the finished episodes' summary
            travels with it (their JSON lines are already printed).
    """
    import gymnasium as gym

    from .agents.openai_agent import AgentError  # the endpoint failed (no openai import)
    from .progress import Progress
    from .runner import run_episodes, summarize

    episodes: int | str = args.episodes if args.episodes == "all" else int(args.episodes)
    env = gym.make(env_id, **_env_kwargs(name, args))
    finished: list[Any] = []
    try:
        agent = _make_agent(name, args, env)
        total = len(env.unwrapped.task_ids) if episodes == "all" else int(episodes)
        with Progress(total, f"{name} on {env_id}", enabled=False if args.quiet else None) as bar:
            def on_episode(result: Any) -> None:
                finished.append(result)
                bar.update()
                if args.json:
                    print(json.dumps({"agent": name, "task_id": result.task_id,
                                      "reward": result.reward, "success": result.success,
                                      "turns": result.turns, **result.components},
                                     ensure_ascii=False), flush=True)

            try:
                run_episodes(env, agent, episodes, seed=args.seed, on_episode=on_episode)
            except AgentError as exc:
                raise RunAborted(name, summarize(finished), _one_line(str(exc))) from exc
    finally:
        env.close()
    return summarize(finished)


def _resolve_env(args: argparse.Namespace, env_id: str | None) -> str:
    """The env id to run: the given one (checked, with close matches), or the ``--pack``'s."""
    from .registration import register_pack, unknown_env_message

    if env_id is None:
        return register_pack(args.pack)
    if Path(env_id).is_dir():  # a pack directory where the env id goes, as validate takes it
        return register_pack(env_id)
    problem = unknown_env_message(env_id)
    if problem is not None:
        raise ValueError(problem)
    return env_id


def _run(args: argparse.Namespace) -> int:
    import gymnasium as gym

    from .runner import format_summary

    summaries: dict[str, dict[str, Any]] = {}
    try:
        agents, env_id = _split_agents(args)
        if (env_id is None) == (args.pack is None):
            raise ValueError("give an ENV_ID or --pack DIR (not both)")
        env_id = _resolve_env(args, env_id)
        for name in agents:
            summaries[name] = _run_agent(name, env_id, args)
    except RunAborted as aborted:
        summaries[aborted.agent] = aborted.summary
        if any(summary.get("episodes") for summary in summaries.values()):
            _print_summaries(summaries, env_id, args, format_summary)
        done = aborted.summary.get("episodes", 0)
        kept = (f"after {done} finished episode{'s' if done != 1 else ''} (reported above)"
                if done else "before finishing an episode")
        print(f"astra-gym run: error: the {aborted.agent} agent stopped {kept}: "
              f"{aborted.reason}", file=sys.stderr)
        return 1
    except (gym.error.Error, ValueError, FileNotFoundError, KeyError, ImportError) as exc:
        print(f"astra-gym run: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    _print_summaries(summaries, env_id, args, format_summary)
    return 0


def _print_summaries(summaries: dict[str, dict[str, Any]], env_id: str,
                     args: argparse.Namespace, format_summary: Any) -> None:
    """The summary JSON lines (``--json``) and the table (stderr with ``--json``)."""
    if args.json:
        for name, summary in summaries.items():
            print(json.dumps({"summary": True, "agent": name, "env_id": env_id, **summary}))
    print(format_summary(summaries), file=sys.stderr if args.json else sys.stdout)


def _policy_specs() -> list[Any]:
    from .validation.policy import POLICY

    return list(POLICY.values())


def _target_problem(target: str) -> str | None:
    """For a target that is neither a directory nor a known env id: what exists, what was meant."""
    from .registration import unknown_env_message

    return None if Path(target).exists() else unknown_env_message(target)


def _with_env_kwargs(target: str, text: str) -> str:
    """Register the target's env id again, in this process, with extra ``gym.make`` options."""
    import gymnasium as gym

    from .validation import resolve_target

    kwargs = json.loads(text)
    if not isinstance(kwargs, dict) or "pack" in kwargs:
        raise ValueError("--env-kwargs must be a JSON object of gym.make options (not 'pack')")
    env_id, _ = resolve_target(target)
    spec = gym.spec(env_id)
    del gym.registry[env_id]
    gym.register(id=env_id, entry_point=spec.entry_point,
                 vector_entry_point=spec.vector_entry_point,
                 kwargs={**(spec.kwargs or {}), **kwargs})
    return env_id


def _validate(args: argparse.Namespace) -> int:
    from .validation import (
        CHECKS,
        CheckOptions,
        installed_location,
        resolve_target,
        validate,
        write_manifest_summary,
    )

    checks = list(CHECKS) if not args.checks else [
        name.strip() for value in args.checks for name in value.split(",") if name.strip()]

    def on_result(result: Any) -> None:
        if args.json:
            print(json.dumps(result.as_dict(), ensure_ascii=False), flush=True)

    try:
        if args.write_manifest:  # refuse before minutes of checks, not after
            where = installed_location(resolve_target(args.target)[1])
            if where is not None:
                raise PermissionError(f"{args.target} is part of an installed package (in "
                                      f"{where}); --write-manifest never edits installed "
                                      "files. Validate the pack's source directory instead "
                                      "and reinstall it")
        target = args.target
        if args.env_kwargs:
            target = _with_env_kwargs(target, args.env_kwargs)
        report = validate(target, checks, jobs=args.jobs,
                          progress=False if args.quiet else None, on_result=on_result,
                          options=CheckOptions(seed=args.seed, max_examples=args.max_examples,
                                               fuzz_seconds=args.fuzz_seconds))
    except (ValueError, FileNotFoundError, PermissionError) as exc:
        print(f"astra-gym validate: error: {_target_problem(args.target) or exc}",
              file=sys.stderr)
        return 2
    ok = report.strict_ok if args.strict else report.ok
    if args.json:
        print(json.dumps({"summary": report.summary(), "ok": ok, "env_id": report.env_id,
                          "policy": report.policy_version, "problems": report.problems,
                          "gaps": report.gaps(), "seconds": report.seconds}))
    print(report.format_table(), file=sys.stderr if args.json else sys.stdout)
    if not args.json:
        for result in report.results:
            if result.status != "passed":
                print(f"  {result.status.upper()} {result.check} {result.task_id}: "
                      f"{result.message[:300]}")
    if args.write_manifest:
        write_manifest_summary(report)
    return 0 if ok else 1


def _stage_options(temperatures: list[str] | None,
                   max_tokens: list[str] | None) -> dict[str, dict[str, Any]]:
    """``--temperature STAGE=VALUE`` and ``--max-tokens STAGE=N`` as per-stage options.

    Args:
        temperatures: The ``--temperature`` values.
        max_tokens: The ``--max-tokens`` values.

    Returns:
        ``{stage: {"temperature": float, "max_tokens": int}}``.

    Raises:
        ValueError: A value not of the form STAGE=VALUE, an unknown stage or a bad number.
    """
    from synth.runner import STAGES

    llm_stages = STAGES[:-1]
    options: dict[str, dict[str, Any]] = {}
    for flag, key, values, convert in (("--temperature", "temperature", temperatures, float),
                                       ("--max-tokens", "max_tokens", max_tokens, int)):
        for text in values or []:
            stage, sep, value = text.partition("=")
            stage = stage.strip()
            if not sep or not stage:
                raise ValueError(f"{flag} wants STAGE=VALUE, not {text!r}")
            if stage not in llm_stages:
                raise ValueError(f"{flag}: unknown stage {stage!r} (stages: "
                                 f"{', '.join(llm_stages)})")
            try:
                number = convert(value.strip())
            except ValueError:
                raise ValueError(f"{flag} {text!r}: {value.strip()!r} is not "
                                 f"{'a number' if convert is float else 'an integer'}") from None
            if number < 0 or (convert is int and number == 0):
                raise ValueError(f"{flag} {text!r}: the value must be positive")
            options.setdefault(stage, {})[key] = number
    return options


def _synth_client(args: argparse.Namespace, stages: Sequence[str], out: Path) -> Any:
    """The LLM client of a synth run, checked before any record is processed.

    ``None`` when only the compile stage runs (it needs no model). Online, the
    openai extra and the endpoint are checked first: a missing package or a
    wrong URL must stop the run at once, not fail every record after retries.

    Raises:
        RunInputError: No ``--model`` for the LLM stages, the openai package is
            missing, or the endpoint cannot be used.
    """
    import asyncio

    from synth.llm import LLMClient, LLMError
    from synth.runner import RunInputError

    if all(stage == "compile" for stage in stages):
        return None
    if not args.model:
        llm_stages = ", ".join(stage for stage in stages if stage != "compile")
        raise RunInputError(f"--model is needed for the {llm_stages} stage(s)")
    client = LLMClient(args.model, base_url=args.base_url, api_key=args.api_key,
                       cache_dir=args.cache_dir or out / "cache", offline=args.offline,
                       concurrency=args.concurrency, timeout=args.timeout,
                       max_retries=args.max_retries)
    if args.offline:
        return client
    try:
        import openai  # noqa: F401 - the extra the online stages need
    except ImportError:
        raise RunInputError('the LLM stages need the openai package: pip install '
                            '"astra-gym[openai]"') from None

    async def check() -> list[str]:
        async with client:
            return await client.check_endpoint()

    try:
        warnings = asyncio.run(check())
    except LLMError as exc:
        raise RunInputError(f"{exc.reason} (check --base-url, --api-key or OPENAI_API_KEY; "
                            "nothing was processed)") from None
    for warning in warnings:
        print(f"astra-gym synth: warning: {warning}", file=sys.stderr)
    return client


def _synth_run(args: argparse.Namespace) -> int:
    import asyncio
    import contextlib

    from synth.executors import make_executor
    from synth.runner import RunInputError, parse_stages, run_pipeline

    command = f"astra-gym synth {getattr(args, 'synth_command', 'run')}"
    try:
        stages = parse_stages(args.stages)
        stage_options = _stage_options(args.temperature, args.max_tokens)
        if "generate" in stages and not args.inputs:
            raise RunInputError("--input is needed when the generate stage runs")
        if "generate" in stages:  # a mistyped path fails before the endpoint is probed
            missing = [path for path in args.inputs if not Path(path).is_file()]
            if missing:
                raise RunInputError(f"cannot read {missing[0]}: no such file")
        out = Path(args.out)
        client = _synth_client(args, stages, out)
        executor = make_executor(args.executor, address=args.ray_address)

        async def main() -> Any:
            async with client if client is not None else contextlib.nullcontext():
                return await run_pipeline(
                    [Path(p) for p in args.inputs or []], out, client, stages=stages,
                    min_hops=args.min_hops, max_hops=args.max_hops, threshold=args.threshold,
                    keep_percentile=args.keep_percentile, pack_name=args.name, jobs=args.jobs,
                    progress=False if args.quiet else None, executor=executor,
                    mode=args.mode, stage_options=stage_options,
                    retry_failed=args.retry_failed)

        try:
            summary = asyncio.run(main())
        finally:
            executor.close()
    except (RunInputError, ValueError, ImportError) as exc:
        print(f"{command}: error: {_one_line(str(exc), 600)}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(summary.format())
    if not summary.complete:
        print(f"{command}: the offline cache lacks replies for some records",
              file=sys.stderr)
        return 1
    return _report_failures(command, summary, quiet=args.quiet)


def _report_failures(command: str, summary: Any, *, quiet: bool) -> int:
    """The run's top failure reasons and the ``--retry-failed`` hint; 1 when nothing survived.

    A run in which every record failed (a dead endpoint, a model that cannot
    follow the prompt) produced nothing, so it must not exit 0.
    """
    top = summary.top_reasons()
    dead_end = summary.dead_end
    if dead_end is not None:
        counts = summary.stages[dead_end]
        print(f"{command}: error: every record failed at the {dead_end} stage "
              f"({counts.get('input', 0)} of {counts.get('input', 0)}); nothing was produced",
              file=sys.stderr)
    if top and (dead_end is not None or not quiet):
        stream = sys.stderr if dead_end is not None else sys.stdout
        print("top failure reasons:", file=stream)
        for stage, reason, count in top:
            print(f"  {count:>4} x {stage}: {_short(reason, 240)}", file=stream)
        print("when the cause is fixed (the endpoint is back, a setting changed), run the same "
              "command with --retry-failed to run the failed records again", file=stream)
    return 1 if dead_end is not None else 0


def _synth_stats(args: argparse.Namespace) -> int:
    from synth.runner import format_stats, stats

    try:
        data = stats(args.run_dir)
    except (FileNotFoundError, ValueError) as exc:
        print(f"astra-gym synth stats: error: {exc}", file=sys.stderr)
        return 2
    if not data["stages"] and data["pack"] is None:
        print(f"astra-gym synth stats: error: {args.run_dir} holds no synth stage output "
              "(no stage journal such as 01_generate.jsonl): is it the --out directory of "
              "`astra-gym synth run`?", file=sys.stderr)
        return 2
    print(json.dumps(data, ensure_ascii=False, indent=2) if args.json else format_stats(data))
    return 0


def _add_run_options(run: argparse.ArgumentParser, *, stages: bool) -> None:
    """The options of ``synth run`` and of its one-stage aliases.

    Args:
        run: The parser.
        stages: Whether to add ``--stages`` (the aliases fix it).
    """
    run.add_argument("--input", dest="inputs", nargs="+", metavar="FILE",
                     help="input JSONL files (domain/knowledge_corpus or question rows), or "
                          ".json taxonomy trees (one row per leaf example)")
    run.add_argument("--mode", choices=["auto", "knowledge", "question", "taxonomy"],
                     default="auto",
                     help="generate mode (default auto: from each row's keys)")
    run.add_argument("--temperature", action="append", metavar="STAGE=VALUE",
                     help="sampling temperature of one stage (repeatable), e.g. "
                          "generate=1.0")
    run.add_argument("--max-tokens", action="append", metavar="STAGE=N",
                     help="completion length cap of one stage (repeatable)")
    run.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory")
    run.add_argument("--model", help="model name (needed by every stage but compile)")
    run.add_argument("--base-url", help="OpenAI-compatible endpoint (or OPENAI_BASE_URL)")
    run.add_argument("--api-key", help="API key (default: OPENAI_API_KEY)")
    run.add_argument("--offline", action="store_true",
                     help="answer only from the response cache (replay a finished run)")
    run.add_argument("--cache-dir", help="response cache (default: RUN_DIR/cache)")
    run.add_argument("--retry-failed", action="store_true",
                     help="run again the records RUN_DIR holds as failed (their failed LLM "
                          "calls are asked again; successful ones come from the cache)")
    run.add_argument("--concurrency", type=int, default=8,
                     help="requests and records in flight (default 8)")
    run.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    run.add_argument("--max-retries", type=int, default=3, help="retries per request")
    if stages:
        run.add_argument("--stages", default="generate..compile",
                         help="a range (generate..compile) or a comma list")
    run.add_argument("--min-hops", type=int, default=1)
    run.add_argument("--max-hops", type=int, default=5)
    keep = run.add_mutually_exclusive_group()
    keep.add_argument("--threshold", type=float, help="keep verified rows scoring at least X")
    keep.add_argument("--keep-percentile", type=float,
                      help="keep verified rows at or above this percentile of the run")
    run.add_argument("--name", default="synth", help="pack name (default synth)")
    run.add_argument("--jobs", type=int, default=1, help="compiler worker processes")
    run.add_argument("--executor", choices=["local", "ray"], default="local",
                     help="where records run: local asyncio tasks (default) or Ray tasks "
                          '(needs pip install "astra-gym[ray]")')
    run.add_argument("--ray-address", metavar="ADDR",
                     help="Ray cluster to join with --executor ray (default: a local one)")
    run.add_argument("--quiet", action="store_true", help="no progress bars or summary")


def _add_synth(commands: Any) -> None:
    synth = commands.add_parser("synth", help="synthesize tool-use environments with an LLM")
    synth_commands = synth.add_subparsers(dest="synth_command", required=True)
    run = synth_commands.add_parser(
        "run", help="run the synthesis pipeline",
        description="Run generate, necessity, verify, tools, merge and compile over input rows "
                    "with any OpenAI-compatible model. Resumable: a rerun with the same "
                    "arguments skips what RUN_DIR already holds. Checks the endpoint "
                    "before processing anything. Exits 0 when the run produced rows (the "
                    "top failure reasons are printed), 1 when every record of a stage "
                    "failed or the offline cache missed replies, 2 for unusable input or "
                    "an unusable endpoint.")
    _add_run_options(run, stages=True)
    run.set_defaults(handler=_synth_run)
    from synth.runner import STAGES

    for stage in STAGES:
        alias = synth_commands.add_parser(
            stage, help=f"run only the {stage} stage (synth run --stages {stage})",
            description=f"The same as synth run --stages {stage}, with the same options.")
        _add_run_options(alias, stages=False)
        alias.set_defaults(handler=_synth_run, stages=stage)
    stats_ = synth_commands.add_parser("stats", help="summarize a synth run directory")
    stats_.add_argument("run_dir", metavar="RUN_DIR")
    stats_.add_argument("--json", action="store_true", help="print JSON")
    stats_.set_defaults(handler=_synth_stats)


def _add_eval_and_report(commands: Any) -> None:
    """``eval``, ``report`` and ``serve``: their options and handlers live in their packages."""
    from .eval.cli import add_eval_command
    from .integrations.cli import add_serve_command
    from .report.cli import add_report_command

    add_eval_command(commands)
    add_report_command(commands)
    add_serve_command(commands)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="astra-gym", description="Gymnasium environments for tool-using LLM agents.")
    parser.add_argument("--version", action="version", version=f"astra-gym {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("sandbox-demo", help="show the sandbox on benign and hostile tools")
    demo.add_argument("--isolation", choices=["inprocess", "process", "both"], default="both")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(handler=_sandbox_demo)

    sandbox = commands.add_parser("sandbox", help="run tool code in the sandbox")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    run = sandbox_commands.add_parser("run", help="call one function of a tool file")
    run.add_argument("file", help="Python file defining the tool")
    run.add_argument("function", help="name of the function to call")
    run.add_argument("--kwargs", default="{}", help="keyword arguments as a JSON object")
    run.add_argument("--isolation", choices=["inprocess", "process"], default="process",
                     help="process (default here: the file may be untrusted) or inprocess")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--ops", type=int, default=Limits().ops, help="operation budget")
    run.add_argument("--timeout", type=float, default=Limits().timeout,
                     help="wall-clock seconds (process isolation)")
    run.add_argument("--json", action="store_true", help="print the result as JSON")
    run.set_defaults(handler=_sandbox_run)
    doctor = sandbox_commands.add_parser(
        "doctor", help="report which OS confinement layers the worker runs under",
        description="Start one sandbox worker and report, from inside it, which OS layers are "
                    "active (network namespace, rlimits, no_new_privs, capabilities, Landlock, "
                    "seccomp) and what live probes (sockets, file writes, fork, exec, signals, "
                    "raising limits) are blocked.")
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.add_argument("--strict", action="store_true",
                        help="exit 1 unless every layer is active and every probe blocked")
    doctor.add_argument("--no-confine", action="store_true",
                        help="probe an unconfined worker (to see what the layers stop)")
    doctor.set_defaults(handler=_sandbox_doctor)
    allowlist = sandbox_commands.add_parser(
        "allowlist", help="print every stdlib name a tool can reach, as a Markdown table")
    allowlist.set_defaults(handler=_sandbox_allowlist)

    compile_ = commands.add_parser(
        "compile", help="compile ASTRA rows into an env pack",
        description="Compile ASTRA step-4, step-5 or RL rows (JSONL or JSON, detected per row) "
                    "into a pip-installable env pack, replaying every gold call in the sandbox. "
                    "Writes tasks.jsonl, manifest.json, report.json, pyproject.toml and "
                    "__init__.py into --out. Exits 0 when at least one row compiled (the "
                    "rejections, every reason in report.json), 1 when none did (the main "
                    "reasons on screen), 2 when the input is unusable.")
    compile_.add_argument("inputs", nargs="+", metavar="INPUT", help="JSONL or JSON files")
    compile_.add_argument("--name", required=True, help="pack name (env id astra/<name>-v<N>)")
    compile_.add_argument("--out", required=True, help="output directory")
    compile_.add_argument("--version", type=int, default=0, help="pack major version (default 0)")
    compile_.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                          help="worker processes for the sandbox replays (default: all cores)")
    compile_.add_argument("--description", default=None, help="one-line pack description")
    compile_.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    compile_.set_defaults(handler=_compile)

    run_ = commands.add_parser(
        "run", help="run an agent over an astra env",
        description="Play episodes of an agent in an astra env and print the mean reward, "
                    "success rate, calls and turns. --json prints one JSON line per episode "
                    "and a summary line.")
    run_.add_argument("env_id", nargs="?", help="env id, e.g. astra/demo-v0")
    run_.add_argument("--pack", help="a pack directory instead of an env id")
    run_.add_argument("--agent", nargs="+", metavar="AGENT",
                      help=f"one or more agents, a table row each: {', '.join(AGENTS)} "
                           "(default oracle; space or comma separated)")
    run_.add_argument("--episodes", default="all", help="a number, or 'all' (every task once)")
    run_.add_argument("--seed", type=int, default=0)
    run_.add_argument("--reward", choices=REWARD_MODES, default="f1", metavar="MODE",
                      help=f"reward mode, one of: {', '.join(REWARD_MODES)} (default f1: "
                           "dense, each step pays the change in running F1; docs/env.md "
                           "describes every mode)")
    run_.add_argument("--max-turns", type=int, default=32)
    run_.add_argument("--json", action="store_true", help="JSON lines on stdout")
    run_.add_argument("--quiet", action="store_true",
                      help="no progress (it goes to stderr, so --json output stays clean)")
    openai_options = run_.add_argument_group("openai agent")
    openai_options.add_argument("--model", help="model name")
    openai_options.add_argument("--base-url", help="OpenAI-compatible endpoint (or "
                                                   "OPENAI_BASE_URL)")
    openai_options.add_argument("--api-key", help="API key (default: OPENAI_API_KEY)")
    openai_options.add_argument("--mode", choices=["native", "text"], default="native",
                                help="native tool calls, or tool calls written as text")
    openai_options.add_argument("--call-format", metavar="FORMAT",
                                help="text mode: ask for calls in this family's format "
                                     "(hermes, mistral, llama3, ...; "
                                     "astra_gym.parsers.CALL_FORMATS) and parse them with its "
                                     "parser (default: the env's prompt, auto detection)")
    openai_options.add_argument("--temperature", type=float, default=0.0)
    openai_options.add_argument("--timeout", type=float, default=60.0,
                                help="seconds per request (default 60)")
    openai_options.add_argument("--max-retries", type=int, default=2,
                                help="retries on connection errors, 429 and 5xx (default 2)")
    run_.set_defaults(handler=_run)

    validate_ = commands.add_parser(
        "validate", help="check that every task of an env or pack is sound",
        description="Run the validation checks over every task, under the versioned "
                    "policy (check: severity): "
                    + ", ".join(f"{c.id}: {c.severity}" for c in _policy_specs())
                    + ". Exits 1 when an error-severity check fails or any check errors (or, "
                    "with --strict, on a warning), 2 for unusable input.")
    validate_.add_argument("target", metavar="ENV_ID|PACK_DIR")
    validate_.add_argument("--checks", nargs="+", help="check names (comma or space separated)")
    validate_.add_argument("--max-examples", type=int, default=25,
                           help="generated calls per tool and property in the fuzz check, drawn "
                                "five per hypothesis example (default 25)")
    validate_.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                           help="worker processes (default: all cores)")
    validate_.add_argument("--seed", type=int, default=0)
    validate_.add_argument("--json", action="store_true",
                           help="one JSON line per task x check, then a summary line")
    validate_.add_argument("--quiet", action="store_true",
                           help="no progress (it goes to stderr, so --json output stays clean)")
    validate_.add_argument("--strict", action="store_true",
                           help="fail on warnings too (warning-severity checks, time boxes)")
    validate_.add_argument("--fuzz-seconds", type=float, default=60.0, metavar="S",
                           help="time box of one tool's generated calls in the fuzz check; "
                                "past it the check warns and names the tool (default 60)")
    validate_.add_argument("--write-manifest", action="store_true",
                           help="store the per-check summary in the pack's manifest.json")
    validate_.add_argument("--env-kwargs", metavar="JSON", default=None,
                           help="gym.make options of the env to validate, as a JSON object, "
                                "e.g. '{\"distractors\": {\"k\": 3}, \"failures\": {\"p\": "
                                "0.2}}'")
    validate_.set_defaults(handler=_validate)
    _add_synth(commands)
    from synth.sft.cli import add_sft_commands  # the SFT pipeline's own module

    add_sft_commands(commands)
    from .distractors.command import add_parser as add_distractors_command

    add_distractors_command(commands)
    from .bfcl.cli import add_import_command  # `astra-gym import bfcl`

    add_import_command(commands)
    _add_eval_and_report(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``astra-gym`` console script."""
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
