"""A content-addressed on-disk cache of chat-completion results.

The key of a request is the sha256 of the canonical JSON of ``[model,
messages, params]``, where *params* are all the request parameters that can
change the reply (temperature, max_tokens, top_p, seed, stop, tools,
response_format, extra_body, ...). The same request always maps to the same
entry, so a re-run resumes where a killed run stopped, and a finished run
replays without any endpoint.

Each entry is one small JSON file, ``<directory>/<key[:2]>/<key>.json``,
written to a temporary file in the same folder and moved into place with
``os.replace``: a process killed mid-write leaves at most a stray
``.tmp-*`` file, never a torn entry. An entry that cannot be read back
(truncated by hand, bad JSON, wrong key) is a miss, reported with
:func:`warnings.warn`, and is overwritten by the next :meth:`ResponseCache.put`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["CACHE_FORMAT", "ResponseCache"]

CACHE_FORMAT = 1
"""The entry file format version (stored in each entry as ``"format"``)."""

_KEY = re.compile(r"[0-9a-f]{64}")


class ResponseCache:
    """Chat-completion results on disk, one atomic file per request key.

    Args:
        directory: The cache folder; created (with parents) when missing.

    Attributes:
        directory: The cache folder.

    Example:
        >>> import tempfile
        >>> cache = ResponseCache(tempfile.mkdtemp())
        >>> key = cache.key_for("m", [{"role": "user", "content": "hi"}], {"temperature": 0})
        >>> cache.get(key) is None
        True
        >>> cache.put(key, {"text": "hello"})
        >>> cache.get(key)
        {'text': 'hello'}
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._folders: set[Path] = set()  # entry folders known to exist

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.directory)!r})"

    @staticmethod
    def key_for(model: str, messages: Sequence[Mapping[str, Any]],
                params: Mapping[str, Any]) -> str:
        """The cache key of a request.

        Parameters whose value is ``None`` are dropped first (they are not
        sent, so ``{"seed": None}`` and ``{}`` are the same request). Key
        order in dicts does not matter; lists and tuples are the same.

        Args:
            model: The model name.
            messages: The chat messages.
            params: Every other request parameter that can change the reply.

        Returns:
            64 lower-case hex digits.

        Raises:
            TypeError: A value is not JSON data.
            ValueError: A float is ``NaN`` or infinite.

        Example:
            >>> a = ResponseCache.key_for("m", [], {"temperature": 0.0, "seed": None})
            >>> a == ResponseCache.key_for("m", [], {"temperature": 0.0})
            True
            >>> a == ResponseCache.key_for("m", [], {"temperature": 0.7})
            False
        """
        kept = {name: value for name, value in params.items() if value is not None}
        canonical = json.dumps([model, list(messages), kept], sort_keys=True,
                               separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def path_for(self, key: str) -> Path:
        """The entry file of ``key`` (it need not exist).

        Raises:
            ValueError: ``key`` is not 64 lower-case hex digits.
        """
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ValueError(f"not a cache key (64 lower-case hex digits): {key!r}")
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The record stored under ``key``.

        Args:
            key: A key from :meth:`key_for`.

        Returns:
            The record as given to :meth:`put`, or ``None`` on a miss. An
            unreadable or corrupt entry is a miss too (with a warning).

        Raises:
            ValueError: ``key`` is not a cache key.
        """
        path = self.path_for(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            warnings.warn(f"ResponseCache: cannot read {path} ({exc}); treated as a miss",
                          RuntimeWarning, stacklevel=2)
            return None
        try:
            entry = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            problem = f"not valid JSON ({type(exc).__name__}: {str(exc)[:100]})"
        else:
            problem = _entry_problem(entry, key)
        if problem is not None:
            warnings.warn(f"ResponseCache: corrupt entry {path}: {problem}; treated as a miss",
                          RuntimeWarning, stacklevel=2)
            return None
        return entry["record"]

    def put(self, key: str, record: Mapping[str, Any]) -> None:
        """Store ``record`` under ``key``, atomically (replacing any old entry).

        Args:
            key: A key from :meth:`key_for`.
            record: JSON data (a mapping).

        Raises:
            ValueError: ``key`` is not a cache key, or the record holds ``NaN``.
            TypeError: The record is not JSON data.
            OSError: The entry could not be written (nothing is left behind).
        """
        path = self.path_for(key)
        payload = json.dumps({"format": CACHE_FORMAT, "key": key, "record": dict(record)},
                             ensure_ascii=False, allow_nan=False, indent=1, sort_keys=True)
        if path.parent not in self._folders:  # one mkdir per folder, not per entry
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(path.parent)
        try:
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
        except FileNotFoundError:  # the folder was removed behind our back
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def __contains__(self, key: object) -> bool:
        """Whether an entry file exists for ``key`` (it is not read)."""
        return isinstance(key, str) and bool(_KEY.fullmatch(key)) and self.path_for(key).is_file()


def _entry_problem(entry: Any, key: str) -> str | None:
    if not isinstance(entry, dict):
        return f"the entry is {type(entry).__name__}, not an object"
    if entry.get("format") != CACHE_FORMAT:
        return f"unknown format {entry.get('format')!r} (expected {CACHE_FORMAT})"
    if entry.get("key") != key:
        return f"it holds key {str(entry.get('key'))[:64]!r}"
    if not isinstance(entry.get("record"), dict):
        return "its record is not an object"
    return None
