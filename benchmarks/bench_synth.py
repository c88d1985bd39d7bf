"""Synthesis against a slow endpoint: what the client side adds to the endpoint's latency.

The endpoint is a real OpenAI-compatible HTTP server on 127.0.0.1
(``tests/llm_server.py``'s :class:`ScriptedLLMServer`, one thread per
connection) running in its **own process**, so its CPU is not spent on the
client's event loop (on 2 cores it still shares the machine). Every chat
request sleeps a fixed latency in the server, read from the model name
(``bench-200ms``), then answers a valid 2-hop generation.

The client side is the real synthesis path: :func:`synth.runner.run_pipeline`
with ``stages=("generate",)`` over N synthetic input rows, through the default
``LocalExecutor``, with an :class:`~synth.llm.LLMClient` that has a cache
folder (one cache entry written per request) and the stage journal (one line
appended per record), then the final views. Each run starts from an empty
cache and run folder, so every row is one request.

Per latency L (200 ms, 50 ms) and concurrency C (1, 16, 64), with N = C x R
rows, R = ``--seconds`` / L rounds (every row is one request; the ideal run
takes ``--seconds``, 2 s by default, so one-off costs such as the SDK
client's TLS setup weigh the same at both latencies):

* ``ideal wall`` = ceil(N / C) x L: the endpoint's latency alone;
* ``req/s`` = N / measured wall; ``ideal req/s`` = C / L;
* ``overhead`` = (measured wall - ideal wall) / ideal wall, in percent;
* ``cpu/req`` = the process CPU time (all threads) over the run, per request.

A ``floor`` row per setting measures the same requests from a bare asyncio
socket client (no SDK, no cache, no journal): what the server and the
loopback cost by themselves.

``--baseline DIR`` runs the client side of the same benchmark against another
checkout (a git worktree of an older commit) in a subprocess (``PYTHONPATH``
and cwd = DIR), against the same server, in the same run, and prints ratios.
The variants of a setting run back to back in each repeat (baseline, now and
the floors), so load that drifts over minutes hits them alike.
``--profile`` runs one setting under cProfile and prints the top functions.

Usage:
    python benchmarks/bench_synth.py [--quick] [--seconds S] [--baseline DIR] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LATENCIES_MS = (200, 50)
CONCURRENCY = (1, 16, 64)

GENERATION = {
    "scenario_type": "Single-Hop Chain",
    "main_question": "What is the nightly rate of the cheapest hotel in Lisbon?",
    "final_answer": "EUR 87",
    "decomposition_trace": [
        {"_uuid": 1, "hop_level": 1, "sub_question": "Which hotel in Lisbon is cheapest?",
         "sub_answer": "Hotel Sol", "dependency": None, "is_parallel": False},
        {"_uuid": 2, "hop_level": 2, "sub_question": "What is the nightly rate of that hotel?",
         "sub_answer": "EUR 87", "dependency": [1], "is_parallel": False}],
}
CORPUS = ("The user lives in Lisbon, travels for work twice a month, prefers cheap hotels "
          "close to the station and pays in euros. ") * 3


# -- the server (its own process) ------------------------------------------------------

def _completion(body: dict[str, Any], number: int, content: str) -> bytes:
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or []
                 if isinstance(m, dict))
    completion = len(content.split())
    return json.dumps({
        "id": f"chatcmpl_{number}", "object": "chat.completion", "created": int(time.time()),
        "model": body.get("model"),
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": content, "refusal": None}}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion}}).encode()


async def _serve_async() -> None:
    """A lean asyncio HTTP/1.1 (keep-alive) OpenAI-compatible chat server."""
    content = json.dumps(GENERATION)
    served = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                length = 0
                for line in lines:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                raw = await reader.readexactly(length) if length else b""
                status, payload = 200, b""
                if method == "POST" and path.rstrip("/") == "/v1/chat/completions":
                    body = json.loads(raw)
                    model = str(body.get("model", ""))
                    await asyncio.sleep(float(model.removeprefix("bench-").removesuffix("ms"))
                                        / 1000)
                    served += 1
                    payload = _completion(body, served, content)
                elif method == "GET" and path.rstrip("/") == "/v1/models":
                    payload = json.dumps({"object": "list", "data": [
                        {"id": "bench-200ms", "object": "model", "created": 0,
                         "owned_by": "bench"}]}).encode()
                else:
                    status, payload = 404, json.dumps({"error": {
                        "message": f"no route {method} {path}", "type": "not_found",
                        "code": 404}}).encode()
                writer.write(f"HTTP/1.1 {status} {'OK' if status == 200 else 'Not Found'}\r\n"
                             "Content-Type: application/json\r\n"
                             f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}/v1", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # serve until stdin closes
    server.close()


def serve(kind: str) -> int:
    """Run a server until stdin closes; print its base URL first."""
    if kind == "asyncio":
        asyncio.run(_serve_async())
        return 0
    sys.path.insert(0, str(HERE.parent / "tests"))
    from llm_server import ScriptedLLMServer

    content = json.dumps(GENERATION)

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        model = str(body.get("model", ""))
        delay = float(model.removeprefix("bench-").removesuffix("ms")) / 1000
        return {"content": content, "delay": delay}

    with ScriptedLLMServer(answer, model="bench-200ms") as server:
        server.requests = _Discard()  # do not keep thousands of recorded requests
        print(server.base_url, flush=True)
        sys.stdin.read()
    return 0


class _Discard(list):
    def append(self, item: Any) -> None:
        pass


def start_server(kind: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()),
                                f"--serve={kind}"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                               cwd=str(HERE.parent))
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


# -- the measurement ------------------------------------------------------------------

def _inputs(path: Path, count: int, tag: str) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            handle.write(json.dumps({"domain": f"travel {tag} {index}",
                                     "knowledge_corpus": f"Row {index}. {CORPUS}"}) + "\n")


def rounds_for(args: argparse.Namespace, latency_ms: int) -> int:
    return max(1, round(args.seconds * 1000 / latency_ms))


def one_run(base_url: str, latency_ms: int, concurrency: int, rounds: int, workdir: Path,
            tag: str) -> dict[str, float]:
    """One generate stage over N = concurrency x rounds fresh rows; wall and CPU."""
    from synth.llm import LLMClient
    from synth.runner import run_pipeline

    root = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
    try:
        count = concurrency * rounds
        inputs = root / "inputs.jsonl"
        _inputs(inputs, count, tag)
        client = LLMClient(f"bench-{latency_ms}ms", base_url=base_url, api_key="k",
                           cache_dir=root / "cache", concurrency=concurrency, max_retries=0,
                           timeout=30.0)

        async def main() -> tuple[float, float, float, Any]:
            async with client:
                cpu, loop_cpu = time.process_time(), time.thread_time()
                start = time.perf_counter()
                summary = await run_pipeline([inputs], root / "out", client,
                                             stages=("generate",), min_hops=1, max_hops=3,
                                             progress=False)
                return (time.perf_counter() - start, time.process_time() - cpu,
                        time.thread_time() - loop_cpu, summary)

        wall, cpu, loop_cpu, summary = asyncio.run(main())
        counts = summary.stages["generate"]
        if counts["ok"] != count or client.stats["requests"] != count:
            raise RuntimeError(f"expected {count} rows from {count} requests, got {counts} "
                               f"and {client.stats}")
        return {"wall_s": wall, "cpu_ms_per_req": cpu / count * 1000,
                "loop_cpu_ms_per_req": loop_cpu / count * 1000, "requests": count}
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def _floor(base_url: str, latency_ms: int, concurrency: int, rounds: int) -> float:
    """The same requests from bare asyncio sockets (keep-alive, one connection per slot)."""
    host, port = base_url.split("//", 1)[1].split("/", 1)[0].split(":")
    body = json.dumps({"model": f"bench-{latency_ms}ms", "temperature": 1.0,
                       "messages": [{"role": "user", "content": CORPUS}]}).encode()
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
               "Content-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        for _ in range(rounds):
            writer.write(request)
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            json.loads(await reader.readexactly(length))
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


def _sdk_only(base_url: str, latency_ms: int, concurrency: int, rounds: int) -> float:
    """The same requests through ``LLMClient.complete`` alone (no cache, schema, stage, journal)."""
    from synth.llm import LLMClient

    client = LLMClient(f"bench-{latency_ms}ms", base_url=base_url, api_key="k",
                       concurrency=concurrency, max_retries=0, timeout=30.0)

    async def main() -> float:
        async with client:
            async def worker(slot: int) -> None:
                for index in range(rounds):
                    await client.complete([{"role": "user", "content": f"{slot} {index} {CORPUS}"}],
                                          temperature=1.0)

            start = time.perf_counter()
            await asyncio.gather(*(worker(slot) for slot in range(concurrency)))
            return time.perf_counter() - start

    return asyncio.run(main())


def warm_up(base_url: str, workdir: Path) -> None:
    import openai  # noqa: F401 - imported once up front, not inside the first timed run

    workdir.mkdir(parents=True, exist_ok=True)
    one_run(base_url, 10, 4, 2, workdir, f"warm-up-{os.getpid()}")  # prompts, first connections


def child_run(args: argparse.Namespace, base_url: str, latency: int, concurrency: int
              ) -> dict[str, Any]:
    """One run of the baseline checkout, in its own process (``PYTHONPATH`` and cwd = DIR)."""
    child = [sys.executable, str(Path(__file__).resolve()), "--json", "--base-url", base_url,
             "--seconds", str(args.seconds), f"--latency={latency}",
             f"--concurrency={concurrency}", "--workdir", str(Path(args.workdir) / "baseline")]
    env = {**os.environ, "PYTHONPATH": str(Path(args.baseline).resolve())}
    done = subprocess.run(child, env=env, capture_output=True, text=True, cwd=args.baseline,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the baseline run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(args: argparse.Namespace, base_url: str) -> dict[str, dict[str, list[Any]]]:
    """Every setting ``repeats`` times, interleaved: baseline, now, socket and SDK floors.

    The machine's load drifts over minutes, so each repeat measures every
    variant of a setting back to back (the baseline first on even repeats,
    last on odd ones) rather than one variant after the other.
    """
    workdir = Path(args.workdir)
    warm_up(base_url, workdir)
    results: dict[str, dict[str, list[Any]]] = {}
    for repeat in range(args.repeats):
        for latency in args.latencies:
            for concurrency in args.concurrency:
                rounds = rounds_for(args, latency)
                got = results.setdefault(f"{latency}/{concurrency}", {
                    "base": [], "now": [], "socket": [], "sdk": []})
                if args.baseline and repeat % 2 == 0:
                    got["base"].append(child_run(args, base_url, latency, concurrency))
                got["now"].append(one_run(base_url, latency, concurrency, rounds, workdir,
                                          f"{os.getpid()}-{repeat}"))
                got["socket"].append(asyncio.run(_floor(base_url, latency, concurrency,
                                                        rounds)))
                got["sdk"].append(_sdk_only(base_url, latency, concurrency, rounds))
                if args.baseline and repeat % 2 == 1:
                    got["base"].append(child_run(args, base_url, latency, concurrency))
    return results


def _median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    return {name: statistics.median(run[name] for run in runs)
            for name in ("wall_s", "cpu_ms_per_req", "loop_cpu_ms_per_req", "requests")}


def profile(args: argparse.Namespace, base_url: str) -> None:
    import cProfile
    import pstats

    import openai  # noqa: F401

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    latency, concurrency = args.latencies[-1], args.concurrency[-1]
    one_run(base_url, 10, 4, 2, workdir, "warm-up")
    profiler = cProfile.Profile(time.thread_time)  # CPU time of the loop thread
    profiler.enable()
    run = one_run(base_url, latency, concurrency, rounds_for(args, latency), workdir,
                  "profile")
    profiler.disable()
    print(f"# profile: {latency} ms, concurrency {concurrency}: {run}")
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(45)


# -- the report -----------------------------------------------------------------------

def _row(key: str, result: dict[str, Any]) -> tuple[float, float, float, float]:
    latency, concurrency = (int(part) for part in key.split("/"))
    ideal = math.ceil(result["requests"] / concurrency) * latency / 1000
    wall = result["wall_s"]
    return (result["requests"] / wall, concurrency / (latency / 1000),
            (wall - ideal) / ideal * 100, result["cpu_ms_per_req"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and repeats")
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="the ideal wall of one run (N = concurrency x seconds / latency)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per setting (median)")
    parser.add_argument("--latency", type=int, action="append", dest="latencies",
                        help="endpoint latency in ms (repeatable; default 200 and 50)")
    parser.add_argument("--concurrency", type=int, action="append",
                        help="concurrency (repeatable; default 1, 16, 64)")
    parser.add_argument("--baseline", help="another checkout to measure in the same run")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the last latency at the highest concurrency")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "astra-bench-synth"))
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--save", help="also write every run's figures to this JSON file")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--server", choices=("asyncio", "scripted"), default="asyncio",
                        help="the endpoint: a lean asyncio server (default) or "
                             "tests/llm_server.py's threaded ScriptedLLMServer")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    args.latencies = args.latencies or list(LATENCIES_MS)
    args.concurrency = sorted(args.concurrency or CONCURRENCY)
    if args.quick:
        args.seconds, args.repeats = min(args.seconds, 1.0), 1

    server = None
    base_url = args.base_url
    if base_url is None:
        server, base_url = start_server(args.server)
    try:
        if args.json:  # one run of the baseline child
            warm_up(base_url, Path(args.workdir))
            latency, concurrency = args.latencies[0], args.concurrency[0]
            print(json.dumps(one_run(base_url, latency, concurrency,
                                     rounds_for(args, latency), Path(args.workdir),
                                     f"{os.getpid()}")))
            return 0
        if args.profile:
            profile(args, base_url)
            return 0
        measured = measure(args, base_url)
    finally:
        if server is not None:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(timeout=30)
    current = {key: _median_run(got["now"]) for key, got in measured.items()}
    baseline = {key: _median_run(got["base"]) for key, got in measured.items() if got["base"]}
    floors = {key: (statistics.median(got["socket"]), statistics.median(got["sdk"]))
              for key, got in measured.items()}
    if args.save:
        Path(args.save).write_text(json.dumps(measured, indent=1), encoding="utf-8")

    sys.path.insert(0, str(HERE))
    from bench_sandbox import machine

    print(f"# {machine()}; ideal run {args.seconds:g} s (N = concurrency x seconds / "
          f"latency rows), median of {args.repeats}; server: {args.server}")
    print(f"{'latency':>7} {'conc':>4} {'ideal/s':>8} | {'socket':>7} {'sdk':>7} | "
          f"{'base req/s':>10} {'overhead':>9} {'cpu/req':>8} | {'req/s':>7} {'overhead':>9} "
          f"{'cpu/req':>8} {'loop':>8} | {'speed-up':>8}")
    for key, result in current.items():
        latency, concurrency = key.split("/")
        rate, ideal_rate, overhead, cpu = _row(key, result)
        ideal = math.ceil(result["requests"] / int(concurrency)) * int(latency) / 1000
        socket_wall, sdk_wall = floors[key]
        line = (f"{latency + ' ms':>7} {concurrency:>4} {ideal_rate:>8.1f} | "
                f"{(socket_wall - ideal) / ideal * 100:>6.1f}% "
                f"{(sdk_wall - ideal) / ideal * 100:>6.1f}% | ")
        if baseline and key in baseline:
            old_rate, _, old_overhead, old_cpu = _row(key, baseline[key])
            line += f"{old_rate:>10.1f} {old_overhead:>8.1f}% {old_cpu:>5.2f} ms | "
            speedup = f"{baseline[key]['wall_s'] / result['wall_s']:>7.2f}x"
        else:
            line += f"{'':>10} {'':>9} {'':>8} | "
            speedup = ""
        line += (f"{rate:>7.1f} {overhead:>8.1f}% {cpu:>5.2f} ms "
                 f"{result.get('loop_cpu_ms_per_req', float('nan')):>5.2f} ms | {speedup:>8}")
        print(line)
    print("socket/sdk: the overhead of the same requests from bare sockets, and through "
          "LLMClient.complete alone (no cache, schema, stage or journal); cpu/req: process "
          "CPU per request (all threads); loop: the event loop thread's share")
    return 0


if __name__ == "__main__":
    sys.exit(main())
