"""The synthesis stages' prompt templates (``synth/prompts/*.md``), versioned.

Each template is a Markdown file whose first line is a version marker,
``<!-- prompt-version: N -->``, followed by the prompt text with
``{placeholder}`` fields. Rendering substitutes exactly the ``{identifier}``
fields, in one pass: other braces (the JSON examples in the prompts) are left
alone, and braces inside substituted values are never expanded again, so any
text is safe to substitute. A missing or unexpected field is an error, not a
silently half-filled prompt.

The version travels into each record's provenance, so a changed prompt is
visible in the data (bump it whenever the wording changes).

Example:
    >>> prompt = load_prompt("verify_dependency")
    >>> prompt.name, prompt.version
    ('verify_dependency', '1')
    >>> sorted(prompt.fields)
    ['query', 'references']
    >>> text = prompt.render(references="{x}", query="Q?")
    >>> "{x}" in text and "Q?" in text and "prompt-version" not in text
    True
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = ["PROMPT_NAMES", "Prompt", "PromptError", "load_prompt", "parse_prompt"]

PROMPT_NAMES = ("generate", "generate_taxonomy", "necessity", "verify_dependency",
                "verify_atomicity", "verify_sequential", "verify_completeness", "tool_document",
                "tool_scaling", "tool_call", "tool_code", "merge_cluster",
                "merge_code", "merge_calls",
                # the SFT-trajectory pipeline (synth.sft)
                "sft_graph", "sft_verify_chain", "sft_chain_to_query", "sft_query_to_chain",
                "sft_task_chain", "sft_task_server", "sft_augment_diverse",
                "sft_augment_complicate", "sft_augment_persona", "sft_score",
                # SFT part 2: rollouts, the tool emulator and the seven judges
                "sft_rollout_system", "sft_rollout_text", "sft_emulate_tool",
                "sft_judge_qu", "sft_judge_qp", "sft_judge_tcu", "sft_judge_tcp",
                "sft_judge_tcs", "sft_judge_tc", "sft_judge_fa")
"""The templates shipped in ``synth/prompts/``."""

_VERSION = re.compile(r"^\s*<!--\s*prompt-version:\s*([A-Za-z0-9._-]+)\s*-->\s*$")
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class PromptError(ValueError):
    """A template is malformed, unknown, or rendered with the wrong fields."""


@dataclass(frozen=True)
class Prompt:
    """A loaded prompt template.

    Attributes:
        name: The template name (file stem).
        version: The version from its first line.
        template: The text after the version line.
        fields: The ``{placeholder}`` names it uses.
    """

    name: str
    version: str
    template: str
    fields: frozenset[str]

    def render(self, **fields: Any) -> str:
        """Fill the placeholders.

        Args:
            **fields: One value per placeholder; non-strings are ``str()``-ed.

        Returns:
            The prompt text.

        Raises:
            PromptError: A placeholder has no value, or a value has no placeholder.
        """
        missing = sorted(self.fields - set(fields))
        extra = sorted(set(fields) - self.fields)
        if missing or extra:
            raise PromptError(f"prompt {self.name!r}: missing fields {missing}, unexpected "
                              f"fields {extra}")
        return _FIELD.sub(lambda match: str(fields[match.group(1)]), self.template)


def parse_prompt(name: str, text: str) -> Prompt:
    """Build a :class:`Prompt` from a template's text.

    Args:
        name: The template name.
        text: The file content, version line first.

    Returns:
        The prompt.

    Raises:
        PromptError: The first line is not a version marker.
    """
    first, _, rest = text.partition("\n")
    match = _VERSION.match(first)
    if match is None:
        raise PromptError(f"prompt {name!r}: the first line must be "
                          f"'<!-- prompt-version: N -->', not {first[:60]!r}")
    template = rest.strip("\n") + "\n"
    return Prompt(name, match.group(1), template, frozenset(_FIELD.findall(template)))


@functools.cache
def load_prompt(name: str) -> Prompt:
    """Load one of the packaged templates (``synth/prompts/<name>.md``).

    Args:
        name: The template name, e.g. ``"generate"``.

    Returns:
        The prompt (cached: loaded once per process).

    Raises:
        PromptError: No such template, or it is malformed.
    """
    if not re.fullmatch(r"[a-z_]+", name):
        raise PromptError(f"not a prompt name: {name!r}")
    resource = resources.files("synth").joinpath("prompts", f"{name}.md")
    if not resource.is_file():
        raise PromptError(f"no prompt template {name!r} (known: {', '.join(PROMPT_NAMES)})")
    return parse_prompt(name, resource.read_text(encoding="utf-8"))
