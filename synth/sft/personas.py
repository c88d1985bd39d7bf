"""Personas for the ``persona`` augmentation axis: a small built-in set, or a user JSONL.

A persona has the fields of the release's persona dataset (research/astra.md
§C.6): ``age``, ``occupation``, ``education_level``, ``professional_persona``,
``skills_and_expertise_list``, ``hobbies_and_interests_list``. A user file
(``--personas FILE``) holds one such JSON object per line; a line needs at
least ``occupation`` or ``professional_persona``. The two list fields may be
JSON lists or strings holding one (``"['a', 'b']"``, as that dataset stores
them). In a prompt, a persona shows its age, occupation and education, the
first 200 characters of its professional background and the first 5 skills
and hobbies, as the release did.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["BUILTIN_PERSONAS", "PersonaError", "load_personas", "render_persona"]

BUILTIN_PERSONAS: tuple[dict[str, Any], ...] = (
    {"age": 34, "occupation": "nurse", "education_level": "bachelor's degree",
     "professional_persona": "An emergency-room nurse who plans everything around shifts and "
                             "values quick, reliable answers.",
     "skills_and_expertise_list": ["triage", "scheduling", "patient communication"],
     "hobbies_and_interests_list": ["running", "podcasts"]},
    {"age": 58, "occupation": "small business owner", "education_level": "high school",
     "professional_persona": "Runs a family hardware store; careful with money and wary of "
                             "jargon.",
     "skills_and_expertise_list": ["bookkeeping", "inventory", "customer service"],
     "hobbies_and_interests_list": ["fishing", "woodworking"]},
    {"age": 23, "occupation": "graduate student", "education_level": "master's student",
     "professional_persona": "A data-science student juggling coursework and a part-time "
                             "research job.",
     "skills_and_expertise_list": ["Python", "statistics", "writing"],
     "hobbies_and_interests_list": ["gaming", "bouldering"]},
    {"age": 41, "occupation": "software engineer", "education_level": "bachelor's degree",
     "professional_persona": "A backend engineer at a mid-size company who automates whatever "
                             "she does twice.",
     "skills_and_expertise_list": ["distributed systems", "Git", "code review"],
     "hobbies_and_interests_list": ["cycling", "board games"]},
    {"age": 67, "occupation": "retired teacher", "education_level": "bachelor's degree",
     "professional_persona": "A retired history teacher who travels often and likes things "
                             "explained plainly.",
     "skills_and_expertise_list": ["research", "public speaking"],
     "hobbies_and_interests_list": ["travel", "gardening", "genealogy"]},
    {"age": 29, "occupation": "marketing coordinator", "education_level": "bachelor's degree",
     "professional_persona": "Coordinates product launches across time zones and lives by "
                             "deadlines.",
     "skills_and_expertise_list": ["campaign planning", "analytics", "copywriting"],
     "hobbies_and_interests_list": ["photography", "yoga"]},
    {"age": 46, "occupation": "logistics manager", "education_level": "MBA",
     "professional_persona": "Manages a regional warehouse network; thinks in costs, "
                             "capacities and service levels.",
     "skills_and_expertise_list": ["supply chain", "forecasting", "negotiation"],
     "hobbies_and_interests_list": ["sailing", "chess"]},
    {"age": 37, "occupation": "freelance designer", "education_level": "art school diploma",
     "professional_persona": "A freelance graphic designer with several clients and an "
                             "irregular schedule.",
     "skills_and_expertise_list": ["branding", "illustration", "client management"],
     "hobbies_and_interests_list": ["cooking", "film"]},
)
"""The personas used when no ``--personas`` file is given."""

_FIELDS = ("age", "occupation", "education_level", "professional_persona",
           "skills_and_expertise_list", "hobbies_and_interests_list")


class PersonaError(ValueError):
    """A personas file cannot be used."""


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value]
    if isinstance(value, str) and value.strip():
        text = value.strip()
        for parse in (json.loads, ast.literal_eval):
            try:
                parsed = parse(text)
            except (ValueError, SyntaxError):
                continue
            if isinstance(parsed, list | tuple):
                return [str(item) for item in parsed]
        return [text]
    return []


def load_personas(path: str | Path) -> list[dict[str, Any]]:
    """Personas from a JSONL file, normalised (list fields as lists).

    Args:
        path: The file.

    Returns:
        The personas, in file order (only the persona fields are kept).

    Raises:
        PersonaError: Unreadable file, a line that is not a JSON object, one
            without ``occupation`` or ``professional_persona``, or no persona.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise PersonaError(f"cannot read {path}: {exc}") from exc
    personas = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PersonaError(f"{path}:{number}: invalid JSON: {exc}") from exc
        if not isinstance(row, Mapping) or not (row.get("occupation")
                                                or row.get("professional_persona")):
            raise PersonaError(f"{path}:{number}: a persona needs occupation or "
                               "professional_persona")
        persona = {field: row.get(field) for field in _FIELDS}
        for field in ("skills_and_expertise_list", "hobbies_and_interests_list"):
            persona[field] = _as_list(persona[field])
        personas.append(persona)
    if not personas:
        raise PersonaError(f"{path} holds no persona")
    return personas


def render_persona(persona: Mapping[str, Any]) -> str:
    """A persona as prompt lines (the fields the release showed, clipped the same way).

    Args:
        persona: A persona.

    Returns:
        The lines.

    Example:
        >>> print(render_persona(BUILTIN_PERSONAS[0]).splitlines()[0])
        Age: 34
    """
    lines = []
    for label, field in (("Age", "age"), ("Occupation", "occupation"),
                         ("Education", "education_level")):
        if persona.get(field) not in (None, ""):
            lines.append(f"{label}: {persona[field]}")
    if persona.get("professional_persona"):
        lines.append(f"Professional background: {str(persona['professional_persona'])[:200]}")
    for label, field in (("Skills", "skills_and_expertise_list"),
                         ("Hobbies", "hobbies_and_interests_list")):
        items = _as_list(persona.get(field))[:5]
        if items:
            lines.append(f"{label}: {', '.join(items)}")
    return "\n".join(lines)
