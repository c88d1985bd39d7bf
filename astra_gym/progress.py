"""A minimal progress bar for long CLI work (compile, validate, synth).

astra-gym's runtime dependencies stay light, so this is a dozen lines rather
than tqdm. It draws only on a terminal; in logs and CI it stays silent and
the command prints its summary at the end instead.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Counts finished items and redraws one status line at most 10 times a second.

    Args:
        total: Number of items.
        label: What is being counted (``"compile"``).
        stream: Where to draw (stderr by default).
        enabled: Force on or off; by default on only when ``stream`` is a TTY.
    """

    def __init__(self, total: int, label: str, stream: TextIO | None = None,
                 enabled: bool | None = None) -> None:
        self.total = total
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.done = 0
        self._start = time.perf_counter()
        self._drawn = 0.0

    def update(self, count: int = 1) -> None:
        """Record ``count`` more finished items."""
        self.done += count
        now = time.perf_counter()
        if self.enabled and (now - self._drawn >= 0.1 or self.done >= self.total):
            self._drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        width = 30
        filled = width * self.done // max(self.total, 1)
        rate = self.done / max(now - self._start, 1e-9)
        self.stream.write(f"\r{self.label}: [{'#' * filled}{'.' * (width - filled)}] "
                          f"{self.done}/{self.total} {rate:.1f}/s")
        self.stream.flush()

    def close(self) -> None:
        """End the line (call once, when done)."""
        if self.enabled:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
