"""Reading and writing pack directories (``manifest.json`` + ``tasks.jsonl``).

Opening a pack reads and validates the manifest and indexes ``tasks.jsonl``
by byte offset: a task's line is parsed, validated and turned into a
:class:`~astra_gym.pack.model.Task` only when that task is asked for, and
nothing is compiled at all (tools compile on first call in the sandbox). So
listing a 100k-task pack costs one pass over the file, not 100k compiles.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import weakref
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from . import index_cache
from .model import Task
from .schemas import FORMAT_VERSION, PackFormatError, validate_manifest, validate_task

__all__ = ["MANIFEST_FILE", "PACK_NAME_PATTERN", "TASKS_FILE", "Pack", "build_manifest",
           "content_hash", "dump_task_line", "write_pack"]

MANIFEST_FILE = "manifest.json"
TASKS_FILE = "tasks.jsonl"
#: Pack names: lower-case, usable in env ids (``astra/<name>-v0``) and package names.
PACK_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_TASK_ID_PREFIX = '{"task_id":'
_TASK_ID_PREFIX_BYTES = _TASK_ID_PREFIX.encode()
_ID_BYTES = 512  # a line's head decoded to read its id (longer ids: the whole line)
_INDEX_CHUNK = 1 << 24
_LINE_READ = 1 << 14  # bytes read per try for one task's line (a demo task is ~7 KB)
_DECODER = json.JSONDecoder()
#: Parsed tasks a Pack keeps (least recently used ones are dropped).
TASK_CACHE_SIZE = 4096


def dump_task_line(task: Task) -> str:
    """Serialise a task as one canonical ``tasks.jsonl`` line (no newline).

    ``task_id`` comes first so an index can read ids without parsing whole
    lines; everything else has sorted keys and compact separators, so the
    same task always gives the same bytes.

    Args:
        task: The task.

    Returns:
        The JSON text of the line.
    """
    data = task.to_dict()
    task_id = data.pop("task_id")
    rest = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return f"{_TASK_ID_PREFIX}{json.dumps(task_id, ensure_ascii=False)},{rest[1:]}"


def content_hash(data: bytes) -> str:
    """The manifest's ``content_hash`` of a ``tasks.jsonl`` payload."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def build_manifest(name: str, version: int, tasks: Iterable[Task], tasks_bytes: bytes, *,
                   validation: Mapping[str, Any], sources: Iterable[str] = (),
                   compiler: Mapping[str, Any] | None = None,
                   description: str | None = None) -> dict[str, Any]:
    """Summarise tasks into a manifest dict (see ``manifest.schema.json``).

    Args:
        name: Pack name (``PACK_NAME_PATTERN``).
        version: Major version; the env id is ``astra/<name>-v<version>``.
        tasks: The pack's tasks.
        tasks_bytes: The exact ``tasks.jsonl`` payload, for the content hash.
        validation: Counts from the compile (rows, compiled, rejected, …).
        sources: Input file names.
        compiler: What produced the pack (versions), for provenance.
        description: One-line human description.

    Returns:
        The manifest, already validated.
    """
    tasks = list(tasks)
    domains = Counter(task.domain for task in tasks)
    languages = Counter(task.language for task in tasks)
    hops = Counter(str(task.hops) for task in tasks)
    tool_names = {(task.task_id, tool.name) for task in tasks for tool in task.all_tools}
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION, "name": name, "version": version,
        "task_count": len(tasks), "tool_count": len(tool_names),
        "domains": dict(sorted(domains.items())), "languages": dict(sorted(languages.items())),
        "hop_histogram": dict(sorted(hops.items(), key=lambda item: int(item[0]))),
        "content_hash": content_hash(tasks_bytes), "sources": list(sources),
        "validation": dict(validation),
    }
    if description:
        manifest["description"] = description
    if compiler:
        manifest["compiler"] = dict(compiler)
    validate_manifest(manifest)
    return manifest


def _atomic_write(path: Path, data: bytes) -> None:
    # A killed compile must never leave a half-written pack behind.
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_pack(directory: str | os.PathLike[str], name: str, version: int,
               tasks: Iterable[Task], *, validation: Mapping[str, Any],
               sources: Iterable[str] = (), compiler: Mapping[str, Any] | None = None,
               description: str | None = None, prevalidated: bool = False,
               validation_waivers: Iterable[Mapping[str, str]] = ()) -> dict[str, Any]:
    """Write ``tasks.jsonl`` and ``manifest.json`` into ``directory``.

    Every task is checked against ``task.schema.json`` here, once, and the
    manifest records it (``schema_checked`` = the content hash): loading a task
    then skips the check, which costs about 0.5 ms a task, as long as the file
    still has that hash.

    Args:
        directory: Created if missing; existing pack files are replaced.
        name: Pack name.
        version: Major version.
        tasks: Tasks in pack order.
        validation: Counts from the compile.
        sources: Input file names.
        compiler: Provenance of the compiler.
        description: One-line human description.
        prevalidated: The caller has checked every task against the schema
            already (e.g. tasks read from a validated pack): skip the check.
        validation_waivers: Known validation failures the pack keeps on purpose,
            ``{"task_id", "check", "reason"}`` each (``astra-gym validate`` reports
            them as warnings that give the reason); written only when given.

    Returns:
        The manifest that was written.

    Raises:
        ValueError: When the name is not a valid pack name or task ids repeat.
        PackFormatError: When a task does not match the task schema.
    """
    if not PACK_NAME_PATTERN.match(name):
        raise ValueError(f"invalid pack name {name!r}: use lower-case letters, digits, '_' "
                         "or '-', starting with a letter (it becomes the env id astra/<name>-v0)")
    tasks = list(tasks)
    seen: set[str] = set()
    for task in tasks:
        if task.task_id in seen:
            raise ValueError(f"duplicate task_id {task.task_id!r}")
        seen.add(task.task_id)
        if not prevalidated:
            validate_task(task.to_dict(), f"task {task.task_id!r}")
    payload = "".join(dump_task_line(task) + "\n" for task in tasks).encode("utf-8")
    manifest = build_manifest(name, version, tasks, payload, validation=validation,
                              sources=sources, compiler=compiler, description=description)
    manifest["schema_checked"] = manifest["content_hash"]
    waivers = [dict(waiver) for waiver in validation_waivers]
    unknown = sorted({w.get("task_id") for w in waivers} - seen, key=str)
    if unknown:
        raise ValueError(f"validation waivers name tasks the pack does not have: {unknown}")
    if waivers:
        manifest["validation_waivers"] = waivers
    validate_manifest(manifest, "the manifest being written")
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    _atomic_write(root / TASKS_FILE, payload)
    _atomic_write(root / MANIFEST_FILE, (json.dumps(manifest, ensure_ascii=False, indent=2)
                                         + "\n").encode("utf-8"))
    key = index_cache.file_key(root / TASKS_FILE, manifest) if index_cache.enabled() else None
    if key is not None:  # a big pack: its first open need not read it all again
        offsets, start = {}, 0
        for task in tasks:  # one line per task, each ending in the only raw newline
            offsets[task.task_id] = start
            start = payload.index(b"\n", start) + 1
        index_cache.store(key, offsets)
    return manifest


class Pack:
    """A pack directory, opened lazily.

    The first access to the task list reads ``tasks.jsonl`` once to index it
    and checks it against the manifest's content hash, so a pack edited after
    compilation fails loudly instead of training on data nobody validated. A
    big file's index is then cached on disk and reused while the file is
    unchanged (:mod:`~astra_gym.pack.index_cache`).

    Example:
        >>> from astra_gym.pack import Pack, demo_pack_path
        >>> pack = Pack(demo_pack_path())
        >>> pack.name, len(pack) == pack.manifest["task_count"]
        ('demo', True)
        >>> pack.task(pack.task_ids[0]).task_id == pack.task_ids[0]
        True

    Args:
        path: The directory holding ``manifest.json`` and ``tasks.jsonl``.
        index_cache: Use the on-disk index of an unchanged big file;
            ``False``: always read and hash the file (``astra-gym validate``).

    Raises:
        FileNotFoundError: When either file is missing.
        PackFormatError: When the manifest does not match its schema or the
            task file's line count disagrees with it.
    """

    def __init__(self, path: str | os.PathLike[str], *, index_cache: bool = True) -> None:
        self.path = Path(path)
        self._use_index_cache = index_cache
        manifest_path = self.path / MANIFEST_FILE
        if not manifest_path.is_file():
            raise FileNotFoundError(f"{self.path} is not a pack: {MANIFEST_FILE} is missing")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise PackFormatError(f"{manifest_path} is not valid JSON: {exc}") from None
        validate_manifest(manifest, str(manifest_path))
        self.manifest: dict[str, Any] = manifest
        self._offsets: dict[str, int] | None = None
        self._ids: tuple[str, ...] | None = None
        # write_pack checked every task against the schema when it wrote these bytes, and
        # the index verifies the bytes against content_hash: no need to check again.
        self._schema_checked = manifest.get("schema_checked") == manifest["content_hash"]
        # Parsed tasks, least recently used first; bounded so a huge pack does not keep
        # every task it ever served (envs keep their own runtimes of the tasks they play).
        self._cache: OrderedDict[str, Task] = OrderedDict()
        self._fd: int | None = None  # tasks.jsonl, opened on the first task read

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_fd"] = None  # a descriptor means nothing in another process
        return state

    def _read_line(self, offset: int) -> bytes:
        """The line of ``tasks.jsonl`` that starts at ``offset``, without its newline.

        ``os.pread`` on one descriptor kept open: no ``open()`` per task (about
        100 µs of a cold reset), no shared file position (safe across threads),
        and the bytes of the file that was indexed even if the path is replaced.
        """
        if self._fd is None:
            fd = os.open(self.tasks_path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            weakref.finalize(self, os.close, fd)
            self._fd = fd
        data = os.pread(self._fd, _LINE_READ, offset)
        end = data.find(b"\n")
        while end == -1:  # a long line (or the last one, without a newline)
            more = os.pread(self._fd, max(len(data), _LINE_READ), offset + len(data))
            if not more:
                return data
            data += more
            end = data.find(b"\n")
        return data[:end]

    # -- metadata --------------------------------------------------------------
    @property
    def name(self) -> str:
        """The pack name from the manifest."""
        return self.manifest["name"]

    @property
    def version(self) -> int:
        """The pack's major version (the ``-vN`` of its env id)."""
        return self.manifest["version"]

    @property
    def tasks_path(self) -> Path:
        return self.path / TASKS_FILE

    def __repr__(self) -> str:
        return f"Pack({self.name!r}, version={self.version}, tasks={len(self)}, path={self.path})"

    # -- index -----------------------------------------------------------------
    def _index(self) -> dict[str, int]:
        if self._offsets is None:
            key = (index_cache.file_key(self.tasks_path, self.manifest)
                   if self._use_index_cache and index_cache.enabled() else None)
            cached = index_cache.load(key) if key is not None else None
            if cached is not None:  # these very bytes were hashed and indexed before
                self._offsets = cached
                return cached
            self._offsets = self._read_index()
            if key is not None and index_cache.file_key(self.tasks_path, self.manifest) == key:
                index_cache.store(key, self._offsets)  # unchanged while it was read
        return self._offsets

    def _read_index(self) -> dict[str, int]:
        """Read all of ``tasks.jsonl``: each line's offset, checked against the manifest."""
        offsets: dict[str, int] = {}
        digest = hashlib.sha256()
        number = 0
        with open(self.tasks_path, "rb") as handle:
            # Big chunks: one hash update per chunk, and only the start of each line
            # (its task id) is decoded; a 100k-task pack is hundreds of megabytes.
            base, tail = 0, b""
            while chunk := handle.read(_INDEX_CHUNK):
                digest.update(chunk)
                data = tail + chunk
                start = 0
                while (end := data.find(b"\n", start)) != -1:
                    number += 1
                    self._index_line(offsets, data, start, end, base + start, number)
                    start = end + 1
                base += start
                tail = data[start:]
            if tail:
                number += 1
                self._index_line(offsets, tail, 0, len(tail), base, number)
        actual = "sha256:" + digest.hexdigest()
        if actual != self.manifest["content_hash"]:
            raise PackFormatError(
                f"{self.tasks_path} does not match the manifest's content_hash "
                f"({actual} != {self.manifest['content_hash']}): the file was changed "
                "after the pack was compiled; recompile it")
        if len(offsets) != self.manifest["task_count"]:
            raise PackFormatError(
                f"{self.tasks_path} has {len(offsets)} tasks but the manifest says "
                f"{self.manifest['task_count']}")
        return offsets

    def _index_line(self, offsets: dict[str, int], data: bytes, start: int, end: int,
                    offset: int, number: int) -> None:
        """Record the task id of the line ``data[start:end]`` (at ``offset`` in the file)."""
        head = data[start:min(end, start + _ID_BYTES)]
        if not head.strip() and not data[start:end].strip():
            return
        if not head.startswith(_TASK_ID_PREFIX_BYTES):
            raise PackFormatError(
                f"{self.tasks_path} line {number} does not start with "
                f"{_TASK_ID_PREFIX!r}; was it written by write_pack()?")
        try:
            task_id, _ = _DECODER.raw_decode(head.decode("utf-8"), len(_TASK_ID_PREFIX))
        except (UnicodeDecodeError, ValueError):  # an id longer than the head: decode it all
            task_id, _ = _DECODER.raw_decode(data[start:end].decode("utf-8"),
                                             len(_TASK_ID_PREFIX))
        if task_id in offsets:
            raise PackFormatError(
                f"{self.tasks_path} line {number}: duplicate task_id {task_id!r}")
        offsets[task_id] = offset

    @property
    def task_ids(self) -> tuple[str, ...]:
        """All task ids in file order (reads the index, parses no task)."""
        if self._ids is None:
            self._ids = tuple(self._index())
        return self._ids

    def __len__(self) -> int:
        return self.manifest["task_count"]

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._index()

    # -- tasks -----------------------------------------------------------------
    def task(self, task_id: str) -> Task:
        """Load, validate and cache one task.

        Args:
            task_id: A task id of this pack.

        Returns:
            The task.

        Raises:
            KeyError: When the pack has no such task (the message lists a few ids).
            PackFormatError: When its line does not match the task schema.
        """
        cached = self._cache.get(task_id)
        if cached is not None:
            with contextlib.suppress(KeyError):  # another thread may have just dropped it
                self._cache.move_to_end(task_id)
            return cached
        offsets = self._index()
        if task_id not in offsets:
            sample = ", ".join(list(offsets)[:5])
            raise KeyError(f"pack {self.name!r} has no task {task_id!r} (ids look like: {sample})")
        data = json.loads(self._read_line(offsets[task_id]))
        if not self._schema_checked:
            validate_task(data, f"{self.tasks_path} task {task_id!r}")
        task = Task.from_dict(data)
        self._cache[task_id] = task
        while len(self._cache) > TASK_CACHE_SIZE:
            with contextlib.suppress(KeyError):  # emptied by another thread meanwhile
                self._cache.popitem(last=False)
        return task

    def __iter__(self) -> Iterator[Task]:
        """Iterate over all tasks in file order (each validated)."""
        for task_id in self._index():
            yield self.task(task_id)

    def verify(self) -> None:
        """Re-read ``tasks.jsonl`` against the manifest's hash and validate every task.

        Unlike opening, this never trusts the on-disk index cache
        (:mod:`~astra_gym.pack.index_cache`): it hashes the bytes again.

        Raises:
            PackFormatError: When the bytes do not match the manifest or a line
                does not validate.
        """
        self._offsets = self._read_index()
        self._ids = None
        for task_id in self._offsets:
            self.task(task_id)
