"""The CLI progress display: a tqdm bar with an ETA on a terminal, sparse lines elsewhere."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

from astra_gym.progress import Progress


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_with_count_rate_and_eta():
    stream = Terminal()
    with Progress(3, "compile demo", stream=stream) as bar:
        for _ in range(3):
            bar.update()
    text = stream.getvalue()
    assert bar.mode == "bar" and bar.done == 3
    assert "compile demo:" in text and "3/3" in text and "<" in text  # elapsed<remaining
    assert text.endswith("\n")


def test_off_a_terminal_lines_never_carriage_returns():
    stream = io.StringIO()  # isatty() is False: a log file, CI, a pipe
    with Progress(4, "validate astra/demo-v0", stream=stream, interval=0) as bar:
        for _ in range(4):
            bar.update()
    text = stream.getvalue()
    lines = text.splitlines()
    assert bar.mode == "lines" and "\r" not in text
    assert lines and all(line.startswith("validate astra/demo-v0: ") for line in lines)
    assert lines[-1].startswith("validate astra/demo-v0: 4/4 (100%) [")
    assert all("<" in line and "/s" in line for line in lines)  # ETA and rate on every line
    assert lines.count(lines[-1]) == 1  # the last count is not repeated at close


def test_off_a_terminal_a_short_job_prints_nothing():
    stream = io.StringIO()
    with Progress(2, "x", stream=stream) as bar:  # default interval: 15 s
        bar.update(2)
    assert stream.getvalue() == "" and bar.done == 2


def test_off_a_terminal_lines_are_sparse():
    stream = io.StringIO()
    with Progress(1000, "synth generate", stream=stream, interval=0.2) as bar:
        deadline = time.monotonic() + 0.7
        while time.monotonic() < deadline:
            bar.update()
            time.sleep(0.002)
    lines = stream.getvalue().splitlines()
    assert 2 <= len(lines) <= 6, lines  # a few lines for hundreds of updates


def test_disabled_shows_nothing():
    stream = Terminal()
    with Progress(2, "x", stream=stream, enabled=False) as bar:
        bar.update(2)
    assert stream.getvalue() == "" and bar.mode == "off" and bar.done == 2


def test_cli_job_off_a_terminal_writes_no_carriage_returns(tmp_path):
    # A real CLI job with stderr redirected to a file, as in CI.
    log = tmp_path / "stderr.log"
    code = ("import astra_gym.progress as p; p.LINE_INTERVAL = 0.0\n"
            "from astra_gym.cli import main\n"
            "raise SystemExit(main(['run', 'astra/demo-v0', '--agent', 'oracle', "
            "'--episodes', '5']))\n")
    with log.open("w") as handle:
        result = subprocess.run([sys.executable, "-c", code], stderr=handle,
                                stdout=subprocess.PIPE, text=True, timeout=300,
                                env={**os.environ, "COLUMNS": "80"})
    assert result.returncode == 0, log.read_text()
    text = log.read_text()
    assert "\r" not in text
    assert "oracle on astra/demo-v0: 5/5 (100%)" in text
