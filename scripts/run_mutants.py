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

With ``--apply-to CHECKOUT`` the trampolines are left out: each mutant's diff (``mutmut
show``) is applied to the plain source in a copy of the repository, the selection runs
there (worker processes included, since they import the mutated file too), and the file
is restored. Importing the ``mutants/`` tree of a big module compiles every mutant's copy
of its function (about 40 s for the sandbox guards' 3,022); a plain file imports in
milliseconds, so this is the fast way for such modules.

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


def mutant_diff(name: str, mutants: Path) -> tuple[str, list[str], list[str]]:
    """The file a mutant changes and its one hunk as (before, after) lines, from ``mutmut show``."""
    shown = subprocess.run(["mutmut", "show", name], cwd=mutants.resolve().parent,
                           capture_output=True, text=True, check=True).stdout.splitlines()
    target = next(line[4:].strip() for line in shown if line.startswith("+++ "))
    body = [line for line in shown if not line.startswith(("#", "---", "+++", "@@"))]
    before = [line[1:] for line in body if line[:1] in (" ", "-")]
    after = [line[1:] for line in body if line[:1] in (" ", "+")]
    return target, before, after


def apply_hunk(source: list[str], before: list[str], after: list[str]) -> list[str]:
    """``source`` with the one place that reads ``before`` replaced by ``after``.

    mutmut shows a function's lines as they stand in the file, but a hunk of a method
    may come with its class's indentation stripped; both are tried, and anything but
    exactly one match is an error (a wrong place would measure a different mutant).
    """
    hits = []
    for indent in ("", "    ", "        "):
        shifted = [indent + line if line else line for line in before]
        hits += [(i, indent) for i in range(len(source) - len(shifted) + 1)
                 if source[i:i + len(shifted)] == shifted]
    if len(hits) != 1:
        raise ValueError(f"the mutant's hunk matches the source {len(hits)} times, not once")
    i, indent = hits[0]
    return source[:i] + [indent + line if line else line for line in after] + \
        source[i + len(before):]


def run_applied(name: str, mutants: Path, checkout: Path, tests: list[str], extra: list[str],
                timeout: float, memory_gib: float) -> tuple[str, float, str]:
    """One mutant applied to the plain source in ``checkout``, the file restored after."""
    target, before, after = mutant_diff(name, mutants)
    path = checkout / target
    original = path.read_text(encoding="utf-8")
    try:
        changed = apply_hunk(original.splitlines(), before, after)
    except ValueError as error:
        return "not-applied", 0.0, str(error)
    path.write_text("\n".join(changed) + "\n", encoding="utf-8")
    try:
        return run_mutant(name, checkout, tests, extra, timeout, memory_gib, trampoline=False)
    finally:
        path.write_text(original, encoding="utf-8")


def run_mutant(name: str, mutants: Path, tests: list[str], extra: list[str], timeout: float,
               memory_gib: float, trampoline: bool = True) -> tuple[str, float, str]:
    """One mutant against the selection: (verdict, seconds, first failing test)."""
    # A plain mutated file must never leave a .pyc behind: a mutant of the same size
    # written within the same second as the restored file would pass its staleness check.
    env = (dict(os.environ, MUTANT_UNDER_TEST=name) if trampoline
           else dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(mutants.resolve())))
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
    parser.add_argument("--apply-to", type=Path,
                        help="a copy of the repository: apply each mutant's diff to its plain "
                             "source there instead of using mutmut's trampolines")
    args = parser.parse_args()
    names = sorted(set(args.names.read_text(encoding="utf-8").split()))
    if args.sample is not None:
        names = sorted(random.Random(args.seed).sample(names, args.sample))
    extra = [item for test_id in args.deselect for item in ("--deselect", test_id)]
    for name in names:
        if args.apply_to is not None:
            verdict, seconds, failing = run_applied(name, args.mutants, args.apply_to,
                                                    args.tests, extra, args.timeout,
                                                    args.memory_gib)
        else:
            verdict, seconds, failing = run_mutant(name, args.mutants, args.tests, extra,
                                                   args.timeout, args.memory_gib)
        line = f"{name} {verdict} {seconds:.0f}s {failing}".rstrip()
        print(line, flush=True)
        if args.out is not None:
            with args.out.open("a", encoding="utf-8") as out:
                out.write(line + "\n")


if __name__ == "__main__":
    main()
