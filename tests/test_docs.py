"""Every ```python block in the README and docs runs as written, and prints what it says.

A comment ``# -> text`` in an example states a printed line: the example's output must
contain those lines, in order (``...`` stands for any text).
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
EXAMPLES = [(doc, i, code) for doc in DOCS if doc.exists()
            for i, code in enumerate(BLOCK.findall(doc.read_text(encoding="utf-8")))]


EXPECTED = re.compile(r"#\s*->\s*(.+?)\s*$", re.MULTILINE)


def expected_lines(code: str) -> list[str]:
    """The ``# -> text`` statements of an example, in order."""
    return [match.group(1) for match in EXPECTED.finditer(code)]


def test_there_are_examples():
    assert any(doc.name == "README.md" for doc, _, _ in EXAMPLES)
    assert sum(bool(expected_lines(code)) for _, _, code in EXAMPLES) >= 4


def check_printed(code: str, printed: list[str], where: str) -> None:
    """Every ``# -> text`` of ``code`` matches a printed line, in order."""
    position = 0
    for expected in expected_lines(code):
        pattern = fnmatch.translate(expected.replace("[", "[[]").replace("...", "*"))
        while position < len(printed) and not re.match(pattern, printed[position]):
            position += 1
        assert position < len(printed), f"{where} says it prints {expected!r}; it printed " \
                                        f"{printed}"
        position += 1


@pytest.mark.parametrize(("doc", "index", "code"), EXAMPLES,
                         ids=[f"{d.name}-{i}" for d, i, _ in EXAMPLES])
def test_doc_example_runs(doc, index, code, capsys):
    exec(compile(code, f"{doc.name}[{index}]", "exec"), {"__name__": "__doc_example__"})
    check_printed(code, capsys.readouterr().out.splitlines(), f"{doc.name}[{index}]")


def test_stated_output_is_checked():
    """The failing direction: a wrong or out-of-order statement fails."""
    code = "print(a)  # -> 2\nprint(b)  # -> x...z\n"
    check_printed(code, ["2", "xyz"], "ok")
    with pytest.raises(AssertionError, match="says it prints '2'"):
        check_printed(code, ["3", "xyz"], "wrong")
    with pytest.raises(AssertionError, match=r"says it prints 'x\.\.\.z'"):
        check_printed(code, ["xyz", "2"], "order")


def test_readme_rl_loop_makes_a_valid_call_and_solves_its_task():
    readme = ROOT / "README.md"
    code = next(code for doc, _, code in EXAMPLES
                if doc == readme and "env.step(action)" in code)
    namespace: dict = {"__name__": "__doc_example__"}
    exec(compile(code, "README.md[rl-loop]", "exec"), namespace)
    components = namespace["info"]["reward_components"]
    assert components["calls"] >= 1 and components["f1"] == 1.0  # the call solved its sub-task
    assert namespace["terminated"] and namespace["info"]["success"]
