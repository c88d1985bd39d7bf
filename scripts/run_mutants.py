"""Run mutmut's mutants by name against a whole test selection, one pytest run each.

``mutmut run`` runs, per mutant, only the tests its stats say reach the mutated
function. That map is wrong for code built once per process and cached (the
sandbox's guards, stand-in types and safe builtins): only the first test that built
them is recorded, so most mutants look like survivors. This script activates each
named mutant (``MUTANT_UNDER_TEST``) in the ``mutants/`` tree that ``mutmut run``
generated and runs the whole selection with ``-x``: exit 0 is a survivor, 1 a kill.

Usage (after ``mutmut run`` has generated ``mutants/``; names from ``mutmut results
--all true``)::

    python scripts/run_mutants.py --mutants mutants --names sample.txt \\
        --tests tests/sandbox/test_guards_edges.py tests/sandbox/test_abuse.py

Prints one line per mutant (name, verdict, seconds, first failing test) and appends it
to ``--out`` when given.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path


def _limit_memory(gib: float) -> None:
    limit = int(gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run_mutant(name: str, mutants: Path, tests: list[str], extra: list[str], timeout: float,
               memory_gib: float) -> tuple[str, float, str]:
    """One mutant against the selection: (verdict, seconds, first failing test)."""
    env = dict(os.environ, MUTANT_UNDER_TEST=name)
    env.setdefault("ASTRA_HYPOTHESIS_PROFILE", "ci")
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               "--no-header", *extra, *tests]
    start = time.monotonic()
    try:
        done = subprocess.run(command, cwd=mutants, env=env, capture_output=True, text=True,
                              timeout=timeout, preexec_fn=lambda: _limit_memory(memory_gib))
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - start, ""
    failing = next((line for line in done.stdout.splitlines()
                    if line.startswith(("FAILED", "ERROR"))), "")
    verdict = {0: "survived", 1: "killed"}.get(done.returncode, f"exit {done.returncode}")
    return verdict, time.monotonic() - start, failing[:160]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"),
                        help="the mutants/ tree of a mutmut run")
    parser.add_argument("--names", type=Path, required=True,
                        help="a file of mutant names, one per line")
    parser.add_argument("--sample", type=int, help="run a random sample of this many names")
    parser.add_argument("--seed", type=int, default=19, help="seed of the sample")
    parser.add_argument("--tests", nargs="+", required=True, help="the test selection")
    parser.add_argument("--deselect", action="append", default=[],
                        help="a test id to leave out (repeatable)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant")
    parser.add_argument("--memory-gib", type=float, default=6.0,
                        help="address-space limit per test run (endless loops that build "
                             "lists end in MemoryError)")
    parser.add_argument("--out", type=Path, help="append each result line to this file")
    args = parser.parse_args()
    names = sorted(set(args.names.read_text(encoding="utf-8").split()))
    if args.sample is not None:
        names = sorted(random.Random(args.seed).sample(names, args.sample))
    extra = [item for test_id in args.deselect for item in ("--deselect", test_id)]
    for name in names:
        verdict, seconds, failing = run_mutant(name, args.mutants, args.tests, extra,
                                               args.timeout, args.memory_gib)
        line = f"{name} {verdict} {seconds:.0f}s {failing}".rstrip()
        print(line, flush=True)
        if args.out is not None:
            with args.out.open("a", encoding="utf-8") as out:
                out.write(line + "\n")


if __name__ == "__main__":
    main()
