"""Reading compiler input: JSONL or JSON files of ASTRA rows.

ASTRA's stages write JSONL, except step 5, which writes one indented JSON
document. Both are accepted, detected per file: a file whose first
non-blank character opens a JSON document that parses as a whole is JSON (a
list of rows or one row); anything else is read line by line. A line that
is not valid JSON becomes a row-level rejection, not a failed run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["InputError", "SourceRow", "read_rows"]


class InputError(Exception):
    """The input cannot be used at all (missing file, not UTF-8, no rows)."""


@dataclass(frozen=True)
class SourceRow:
    """One input row and where it came from.

    Attributes:
        file: The input file's base name (recorded in tasks and the report,
            so packs do not depend on where they were compiled).
        line: 1-based line number (JSONL) or item number (JSON list).
        data: The parsed row, or None when the line was not valid JSON.
        error: Why the line could not be parsed, when ``data`` is None.
    """

    file: str
    line: int
    data: Any
    error: str | None = None

    @property
    def origin(self) -> str:
        return f"{self.file}:{self.line}"


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"input file not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"input is a directory, not a file: {path}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"input file is not UTF-8 text: {path} ({exc.reason} at byte "
                         f"{exc.start})") from None
    except OSError as exc:
        raise InputError(f"cannot read input file {path}: {exc.strerror}") from None


def _as_json_document(text: str) -> list[Any] | None:
    stripped = text.lstrip()
    if not stripped.startswith(("[", "{")):
        return None
    try:
        document = json.loads(stripped)
    except json.JSONDecodeError:
        return None  # e.g. JSONL: several documents, one per line
    return document if isinstance(document, list) else [document]


def _read_file(path: Path) -> list[SourceRow]:
    text = _read_text(path)
    name = path.name
    document = _as_json_document(text)
    if document is not None:
        return [SourceRow(name, index, row) for index, row in enumerate(document, 1)]
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(SourceRow(name, number, json.loads(line)))
        except json.JSONDecodeError as exc:
            rows.append(SourceRow(name, number, None, f"line is not valid JSON: {exc.msg} "
                                                      f"(column {exc.colno})"))
    return rows


def read_rows(paths: list[str | os.PathLike[str]]) -> list[SourceRow]:
    """Read every row of every input file, in order.

    Args:
        paths: Input files (JSONL or JSON).

    Returns:
        All rows, file by file, in file order.

    Raises:
        InputError: When a file cannot be read, or there are no rows at all.
    """
    if not paths:
        raise InputError("no input files given")
    rows: list[SourceRow] = []
    for path in paths:
        rows.extend(_read_file(Path(path)))
    if not rows:
        raise InputError("the input files contain no rows")
    return rows
