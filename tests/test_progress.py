"""The CLI progress bar: draws on a terminal, silent otherwise."""

from __future__ import annotations

import io

from astra_gym.progress import Progress


def test_draws_counts_and_ends_the_line():
    stream = io.StringIO()
    with Progress(3, "compile demo", stream=stream, enabled=True) as bar:
        for _ in range(3):
            bar.update()
    text = stream.getvalue()
    assert "compile demo: [" in text and "3/3" in text and text.endswith("\n")


def test_silent_when_not_a_terminal():
    stream = io.StringIO()  # isatty() is False
    with Progress(2, "x", stream=stream) as bar:
        bar.update(2)
    assert stream.getvalue() == "" and bar.done == 2
