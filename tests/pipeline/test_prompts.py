"""synth.prompts: the packaged, versioned prompt templates."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from synth.prompts import PROMPT_NAMES, Prompt, PromptError, load_prompt, parse_prompt

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", PROMPT_NAMES)
def test_every_template_loads_versioned_and_renders(name):
    prompt = load_prompt(name)
    assert isinstance(prompt, Prompt) and prompt.name == name
    assert prompt.version == {"generate": "2"}.get(name, "1")  # bumped on every change
    assert prompt.fields, name
    text = prompt.render(**{field: f"<{field}-value>" for field in prompt.fields})
    assert all(f"<{field}-value>" in text for field in prompt.fields)
    assert "prompt-version" not in text and "JSON" in text


def test_render_is_single_pass_and_leaves_json_braces_alone():
    prompt = parse_prompt("t", '<!-- prompt-version: 7 -->\nQ: {q}\n{"a": 1} {not a field}\n')
    assert prompt.version == "7" and prompt.fields == {"q"}
    assert prompt.render(q="{q} {x} }{") == 'Q: {q} {x} }{\n{"a": 1} {not a field}\n'
    assert prompt.render(q=3).startswith("Q: 3\n")


def test_missing_and_unexpected_fields_are_errors():
    prompt = load_prompt("verify_dependency")
    with pytest.raises(PromptError, match=r"missing fields \['query'\]"):
        prompt.render(references="r")
    with pytest.raises(PromptError, match=r"unexpected fields \['extra'\]"):
        prompt.render(references="r", query="q", extra=1)


def test_malformed_and_unknown_templates():
    with pytest.raises(PromptError, match="prompt-version"):
        parse_prompt("t", "no version line\n{q}")
    with pytest.raises(PromptError, match="no prompt template"):
        load_prompt("nonexistent")
    with pytest.raises(PromptError, match="not a prompt name"):
        load_prompt("../pyproject")


def test_templates_are_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["tool"]["setuptools"]["package-data"]["synth"] == ["prompts/*.md"]
    shipped = {path.stem for path in (ROOT / "synth" / "prompts").glob("*.md")}
    assert shipped == set(PROMPT_NAMES)
