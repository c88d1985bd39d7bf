"""JSON Schema validation of pack files, with validators built once per process.

Every load validates: a pack is data from disk that may have been edited by
hand or written by an older release, and a bad line should fail with the
line's task id and the exact field, not as a KeyError deep inside ``step()``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

__all__ = ["FORMAT_VERSION", "PackFormatError", "load_schema", "validate_manifest",
           "validate_task"]

#: Version of the pack layout and record schemas written by this release.
FORMAT_VERSION = 1


class PackFormatError(ValueError):
    """A pack file does not match its schema (the message says where and why)."""


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The JSON Schema ``astra_gym/schemas/<name>.schema.json`` as a dict.

    Args:
        name: ``task`` or ``manifest``.

    Returns:
        The parsed schema (shared; do not mutate).
    """
    text = resources.files("astra_gym").joinpath("schemas", f"{name}.schema.json").read_text(
        encoding="utf-8")
    return json.loads(text)


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load_schema(name))


def _describe(error: jsonschema.ValidationError) -> str:
    where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
    return f"{where}: {error.message}"


def _validate(name: str, data: Any, context: str) -> None:
    errors = sorted(_validator(name).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        shown = "; ".join(_describe(error) for error in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise PackFormatError(f"{context} does not match the {name} schema: {shown}{more}")


def validate_task(data: Any, context: str = "task") -> None:
    """Check one ``tasks.jsonl`` record against ``task.schema.json``.

    Args:
        data: The parsed JSON line.
        context: Where it came from, for the error message
            (``"tasks.jsonl line 3"``).

    Raises:
        PackFormatError: Naming the first few offending fields.
    """
    _validate("task", data, context)


def validate_manifest(data: Any, context: str = "manifest.json") -> None:
    """Check a manifest against ``manifest.schema.json``.

    Args:
        data: The parsed manifest.
        context: Where it came from, for the error message.

    Raises:
        PackFormatError: Naming the first few offending fields, or the
            format version when the pack was written by a newer release.
    """
    if isinstance(data, dict) and isinstance(data.get("format_version"), int) \
            and data["format_version"] != FORMAT_VERSION:
        raise PackFormatError(
            f"{context} has format_version {data['format_version']}; this astra-gym reads "
            f"format_version {FORMAT_VERSION}. Upgrade astra-gym or recompile the pack.")
    _validate("manifest", data, context)
