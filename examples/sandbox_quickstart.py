"""Run LLM-written tool code in the astra-gym sandbox.

    python examples/sandbox_quickstart.py

Shows a realistic mock-data tool, per-episode determinism (seeded RNG, frozen
clock, tool state that lives for one episode), and hostile code ending as clean
error results in both isolation modes.
"""

from __future__ import annotations

import datetime as dt

from astra_gym.sandbox import Limits, Sandbox

BOOKING_TOOL = '''
import random
from datetime import datetime, timedelta

ROOMS = {"standard": 420.0, "deluxe": 680.0, "suite": 1250.0}
BOOKINGS = {}

def book_room(room_type: str, nights: int, guest: str) -> dict:
    """Book a hotel room; returns a confirmation or an error."""
    if room_type not in ROOMS:
        return {"error": f"unknown room type {room_type!r}", "available": sorted(ROOMS)}
    if not isinstance(nights, int) or not 1 <= nights <= 30:
        return {"error": "nights must be an integer between 1 and 30"}
    BOOKINGS.setdefault(guest, []).append(room_type)   # state lives for the episode
    check_in = datetime.now() + timedelta(days=1)
    return {
        "confirmation": f"BK{random.randint(100000, 999999)}",
        "total": round(ROOMS[room_type] * nights, 2),
        "check_in": check_in.strftime("%Y-%m-%d"),
        "bookings_for_guest": len(BOOKINGS[guest]),
    }
'''


def main() -> None:
    sandbox = Sandbox()
    clock = dt.datetime(2026, 3, 1, 12, 0)

    print("Episode A (seed 1):")
    episode = sandbox.session(seed=1, clock=clock)
    for nights in (2, 3):
        print("  ", episode.call(BOOKING_TOOL, "book_room",
                                 {"room_type": "deluxe", "nights": nights, "guest": "li"}).text)
    print("  ", episode.call(BOOKING_TOOL, "book_room",
                             {"room_type": "penthouse", "nights": 1, "guest": "li"}).text)

    print("Episode B (seed 1 again): same confirmation numbers, fresh booking state")
    replay = sandbox.session(seed=1, clock=clock)
    print("  ", replay.call(BOOKING_TOOL, "book_room",
                            {"room_type": "deluxe", "nights": 2, "guest": "li"}).text)

    hostile = {
        "endless loop": "def tool():\n    while True:\n        pass\n",
        "allocation bomb": "def tool():\n    return '%1000000000d' % 1\n",
        "escape attempt": "def tool():\n    return (lambda: 0).__globals__\n",
        "regex backtracking": "import re\ndef tool():\n    return re.match('(a+)+$', 'a'*40+'b')\n",
    }
    with Sandbox(isolation="process", limits=Limits(timeout=0.5)) as isolated:
        for label, source in hostile.items():
            for name, box in (("inprocess", sandbox), ("process", isolated)):
                if label == "regex backtracking" and name == "inprocess":
                    continue  # C-level work: only process isolation stops it (docs/sandbox.md)
                result = box.run(source, "tool")
                print(f"{label:<20} {name:<10} -> [{result.error_kind}] {result.error[:70]}")


if __name__ == "__main__":
    main()
