"""Every ```python block in the README and docs runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
EXAMPLES = [(doc, i, code) for doc in DOCS if doc.exists()
            for i, code in enumerate(BLOCK.findall(doc.read_text(encoding="utf-8")))]


def test_there_are_examples():
    assert any(doc.name == "README.md" for doc, _, _ in EXAMPLES)


@pytest.mark.parametrize(("doc", "index", "code"), EXAMPLES,
                         ids=[f"{d.name}-{i}" for d, i, _ in EXAMPLES])
def test_doc_example_runs(doc, index, code, capsys):
    exec(compile(code, f"{doc.name}[{index}]", "exec"), {"__name__": "__doc_example__"})


def test_readme_rl_loop_makes_a_valid_call_and_solves_its_task():
    readme = ROOT / "README.md"
    code = next(code for doc, _, code in EXAMPLES
                if doc == readme and "env.step(action)" in code)
    namespace: dict = {"__name__": "__doc_example__"}
    exec(compile(code, "README.md[rl-loop]", "exec"), namespace)
    components = namespace["info"]["reward_components"]
    assert components["calls"] >= 1 and components["f1"] == 1.0  # the call solved its sub-task
    assert namespace["terminated"] and namespace["info"]["success"]
