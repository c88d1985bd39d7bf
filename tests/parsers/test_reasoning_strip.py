"""Reasoning removal and the code-fence helper."""

from __future__ import annotations

import pytest

from astra_gym.parsers import strip_reasoning
from astra_gym.parsers.text import clip, single_fence


@pytest.mark.parametrize("text, expected", [
    ("Paris", "Paris"),
    ("<think>hmm</think>Paris", "Paris"),
    ("<think>\nline 1\nline 2\n</think>\n\nParis\n", "Paris"),
    ("<think>a</think>Par<think>b</think>is", "Paris"),
    ("<think>a</think>one <think>\nb\n</think>two", "one two"),
    # Qwen templates open <think> in the prompt: only the closing tag is generated
    ("the user wants a city\n</think>\n\nParis", "Paris"),
    ("x</think>y</think>Paris", "Paris"),
    ("<think>a</think>b</think>Paris", "Paris"),
    # an unclosed <think> hides everything after it
    ("Paris <think>or maybe Lyon", "Paris"),
    ("<think>never closed", ""),
    ("<think>a</think>Paris<think>b", "Paris"),
    ("<think>a<think>b</think>c</think>Paris", "Paris"),
    ("", ""),
    ("</think>", ""),
])
def test_strip_reasoning(text, expected):
    assert strip_reasoning(text) == expected


def test_strip_reasoning_is_linear_on_many_tags():
    assert strip_reasoning("<think>" * 200_000) == ""
    assert strip_reasoning("</think>" * 200_000 + "ok") == "ok"
    assert strip_reasoning("<think>x</think>" * 100_000 + "ok") == "ok"


@pytest.mark.parametrize("text, expected", [
    ('```json\n{"a": 1}\n```', ("json", '{"a": 1}\n')),
    ("```\nf()\n```", ("", "f()\n")),
    ("  ```Python\nf()\n```  ", ("python", "f()\n")),
    ("```f()```", ("", "f()")),
    ('```{"a": 1}\n```', ("", '{"a": 1}\n')),
    ("Here:\n```\nf()\n```", None),
    ("```\nf()\n```\n```\ng()\n```", None),
    ("```", None),
    ("plain", None),
])
def test_single_fence(text, expected):
    assert single_fence(text) == expected


def test_clip():
    assert clip("abc") == "abc"
    assert clip("x" * 500) == "x" * 197 + "..."
    assert len(clip("x" * 500)) == 200
