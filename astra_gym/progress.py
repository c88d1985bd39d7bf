"""Progress reporting for the long CLI jobs (run, validate, compile, synth), over tqdm.

On a terminal a tqdm bar redraws in place with the count, rate and ETA. Off a
terminal (CI logs, ``nohup``, a pipe) redrawing would fill the log with
carriage returns, so the same information is written as *sparse, whole lines*:
nothing for a job shorter than ``interval`` seconds, then one line at most
every ``interval`` seconds and a last line when the job ends. Commands that
print machine-readable output (``--json``) or ``--quiet`` turn it off.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from tqdm import tqdm

__all__ = ["LINE_INTERVAL", "Progress"]

LINE_INTERVAL = 15.0
"""Seconds between two progress lines off a terminal (and before the first one)."""

_LINE_FORMAT = "{desc}: {n_fmt}/{total_fmt} ({percentage:.0f}%) [{elapsed}<{remaining}, " \
               "{rate_fmt}]"


class _Bar(tqdm):  # type: ignore[misc,type-arg]
    """tqdm without its monitor thread.

    The monitor is a background thread; the compiler forks worker processes
    while a bar is open, and forking a process that runs threads can deadlock.
    """

    monitor_interval = 0


class _LineWriter:
    """A file for tqdm that turns each redraw into one plain line (no ``\\r``, no padding)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lines = 0

    def write(self, text: str) -> None:
        line = text.replace("\r", "").rstrip()
        if line:
            self.stream.write(line + "\n")
            self.lines += 1

    def flush(self) -> None:
        self.stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:  # a closed stream
        return False


class Progress:
    """Counts finished items and shows them with a rate and an ETA.

    Args:
        total: Number of items.
        label: What is being counted (``"compile demo"``).
        stream: Where to write (stderr by default).
        enabled: ``False`` shows nothing. Otherwise (``None`` or ``True``) a
            bar on a terminal, sparse lines elsewhere.
        interval: Seconds between lines off a terminal (default
            :data:`LINE_INTERVAL`); a job shorter than this prints nothing.

    Attributes:
        done: Items counted so far.
        mode: ``"bar"``, ``"lines"`` or ``"off"``.
    """

    def __init__(self, total: int, label: str, stream: TextIO | None = None,
                 enabled: bool | None = None, interval: float | None = None) -> None:
        self.total = total
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled is not False
        self.done = 0
        self._writer: _LineWriter | None = None
        self.mode = "off" if not self.enabled else (
            "bar" if _is_terminal(self.stream) else "lines")
        self._bar = self._make_bar(LINE_INTERVAL if interval is None else float(interval))

    def _make_bar(self, interval: float) -> Any:
        if self.mode == "off":
            return None
        if self.mode == "bar":
            return _Bar(total=self.total, desc=self.label, file=self.stream, mininterval=0.1,
                        dynamic_ncols=True, leave=True)
        self._writer = _LineWriter(self.stream)
        # leave=False: close() adds the last line itself, only when a line was shown
        # and it is not the last count already.
        return _Bar(total=self.total, desc=self.label, file=self._writer,
                    mininterval=interval, maxinterval=max(interval, 1.0), delay=interval,
                    miniters=1, bar_format=_LINE_FORMAT, ascii=True, leave=False)

    def update(self, count: int = 1) -> None:
        """Record ``count`` more finished items."""
        self.done += count
        if self._bar is not None and count:
            self._bar.update(count)

    def close(self) -> None:
        """Show the final count (when anything was shown) and end the line; safe twice."""
        bar, self._bar = self._bar, None
        if bar is None:
            return
        writer = self._writer
        if writer is not None and writer.lines and bar.last_print_n != bar.n:
            bar.refresh()
        bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
