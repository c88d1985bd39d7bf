"""Time in-process session creation and calls (a script, not a test: no thresholds).

    python tests/sandbox/time_sessions.py

Prints the median of each measurement in microseconds, as JSON: creating a
session (what ``env.reset()`` pays every episode), creating one and making its
first call, and warm calls of a trivial and of a busier tool.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

from astra_gym.sandbox.session import InProcessSession

SIMPLE = "def f(x):\n    return {'double': x * 2}\n"
BUSY = '''
import re, json, collections
ROWS = [{"name": "item%d" % i, "qty": i % 7, "tags": ["a", "b"]} for i in range(50)]
def f(x):
    out = collections.Counter()
    for row in ROWS:
        name = row["name"].upper().strip()
        if re.match("ITEM[0-9]+", name) and row["qty"] > x:
            out[name[:5]] += row["qty"]
        parts = ", ".join(row["tags"]).split(",")
    return json.dumps(dict(out)) + " " + "{:>8}".format(len(parts))
'''


def median_us(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1e6, 1)


def main() -> None:
    InProcessSession().call(BUSY, "f", {"x": 1})  # imports, compile cache, guard tables
    warm = InProcessSession()
    warm.call(SIMPLE, "f", {"x": 1})
    warm.call(BUSY, "f", {"x": 1})
    print(json.dumps({
        "create_us": median_us(lambda: InProcessSession(seed=1), 2000),
        "create_and_first_call_us": median_us(
            lambda: InProcessSession(seed=1).call(SIMPLE, "f", {"x": 2}), 1000),
        "warm_simple_call_us": median_us(lambda: warm.call(SIMPLE, "f", {"x": 2}), 3000),
        "warm_busy_call_us": median_us(lambda: warm.call(BUSY, "f", {"x": 2}), 500),
    }))


if __name__ == "__main__":
    main()
