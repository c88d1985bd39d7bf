"""A pack's task index, kept on disk so a big pack opens without reading all of it.

Indexing ``tasks.jsonl`` reads every byte (to hash it against the manifest's
``content_hash`` and to find each line's offset): about 2-3 s for a 100k-task
pack of 722 MB. The result depends only on the file's bytes, so once a file
has been indexed and verified, its index is written to the user cache
(:func:`~astra_gym.cachedir.default_cache_dir` ``/pack-index``) and a later open
of the same, unchanged file loads it instead (tens of milliseconds).

"Unchanged" is judged by what the file system says: the absolute path,
size, modification time (nanoseconds), inode and device, plus the manifest's
``content_hash`` and task count, all of which must equal what was recorded
when the bytes were hashed. Any ordinary write to the file changes its
modification time, so an edited pack is re-read, re-hashed and refused as
before. What this does not catch is a change made on purpose to keep the size
and the timestamp; a pack is code its installer trusts (docs/sandbox.md, the
threat model), and ``Pack.verify()``, ``Pack(path, index_cache=False)`` and
``astra-gym validate`` always re-read the bytes.

Only files of at least :data:`MIN_BYTES` are cached (a small pack indexes
faster than a cache file loads). The cache is an optimisation only: any
failure to read or write it falls back to indexing the file, and
``ASTRA_GYM_PACK_INDEX_CACHE=0`` switches it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from array import array
from pathlib import Path
from typing import Any

from ..cachedir import default_cache_dir

__all__ = ["MIN_BYTES", "enabled", "file_key", "load", "store"]

#: Task files smaller than this are indexed directly (8 MiB: about a thousand tasks).
MIN_BYTES = 8 << 20
_FORMAT = 1
_OFF_VALUES = {"0", "false", "no", "off"}


def enabled() -> bool:
    """Whether the on-disk index cache is used (``ASTRA_GYM_PACK_INDEX_CACHE``)."""
    return os.environ.get("ASTRA_GYM_PACK_INDEX_CACHE", "1").strip().lower() not in _OFF_VALUES


def file_key(tasks_path: Path, manifest: dict[str, Any]) -> dict[str, Any] | None:
    """What must be equal for a cached index to describe ``tasks_path``.

    Args:
        tasks_path: The pack's ``tasks.jsonl``.
        manifest: Its manifest.

    Returns:
        The key, or ``None`` when the file is too small to be worth caching or
        cannot be stat-ed.
    """
    try:
        stat = os.stat(tasks_path)
    except OSError:
        return None
    if stat.st_size < MIN_BYTES:
        return None
    return {"format": _FORMAT, "path": str(Path(tasks_path).resolve()),
            "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino,
            "device": stat.st_dev, "content_hash": manifest["content_hash"],
            "task_count": manifest["task_count"]}


def _entry(key: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]
    return default_cache_dir() / "pack-index" / f"{digest}.idx"


def load(key: dict[str, Any]) -> dict[str, int] | None:
    """The cached index for ``key``: task id -> byte offset, in file order.

    Returns:
        ``None`` when there is none, or it is unreadable or describes another file.
    """
    try:
        data = _entry(key).read_bytes()
        header_end = data.index(b"\n")
        header = json.loads(data[:header_end])
        if header.get("key") != key:
            return None
        count = int(header["count"])
        start = header_end + 1
        offsets = array("q")
        offsets.frombytes(data[start:start + 8 * count])
        if sys.byteorder != header.get("byteorder"):
            offsets.byteswap()
        ids = data[start + 8 * count:].decode("utf-8").split("\n") if count else []
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None
    if len(ids) != count or len(offsets) != count or count != key["task_count"]:
        return None
    return dict(zip(ids, offsets, strict=True))


def store(key: dict[str, Any], offsets: dict[str, int]) -> None:
    """Write the index of a file just hashed and found equal to its manifest.

    Task ids hold no newline (the index reads them from JSON lines, where a
    newline is escaped), so ids are stored one per line. Failures are ignored:
    the next open indexes the file again.
    """
    if any("\n" in task_id for task_id in offsets):
        return
    path = _entry(key)
    header = json.dumps({"key": key, "count": len(offsets), "byteorder": sys.byteorder})
    payload = (header.encode() + b"\n" + array("q", offsets.values()).tobytes()
               + "\n".join(offsets).encode("utf-8"))
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(payload)
        os.replace(temporary, path)
    with contextlib.suppress(OSError):
        temporary.unlink(missing_ok=True)
