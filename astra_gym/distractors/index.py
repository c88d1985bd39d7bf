"""The band index: per in-scope tool, which pool tools lie in which similarity band.

Embedding a pool and comparing every tool with every other is the costly part
of irrelevant-tool mixing, so it is done once per (pack, pool, embedder,
thresholds) and stored as JSON: ``astra-gym distractors build`` writes it, or
the env builds it on first use into the cache directory. An env then only
reads the index, and each ``reset`` samples from arrays (microseconds).

The file holds the pool's tool definitions (a distractor must run when
called), their domains, and for each distinct in-scope tool document
(keyed by its SHA-256) the pool indices of its high, medium and low bands
(:mod:`astra_gym.distractors.bands`). Domain exclusion depends on the task,
so :meth:`DistractorIndex.task_candidates` applies it per task, once, and
keeps the result.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from threading import Lock
from typing import Any

import numpy as np

from ..pack import Pack, Task, Tool
from ..runtime import ToolRuntime
from .bands import BANDS, Thresholds, band_members, normalize_row
from .embedders import Embedder, TfidfEmbedder, default_cache_dir
from .pool import PoolTool, collect_pool, tool_document

__all__ = ["INDEX_FORMAT", "DistractorIndex", "build_index", "document_key", "index_key",
           "index_path", "load_index", "load_or_build"]

#: The index file format (bump when its meaning changes: old files are then rebuilt).
INDEX_FORMAT = 2
#: The sub-directory of a cache root (or of a pack) that holds index files.
INDEX_DIR = "distractors"
_TASK_CACHE_SIZE = 4096
_CHUNK = 256  # in-scope rows compared with the pool per matrix product


def document_key(tool: Tool) -> str:
    """The key of a tool's definition in the index.

    Args:
        tool: A tool.

    Returns:
        A SHA-256 prefix of its OpenAI document (JSON key order ignored).
    """
    text = json.dumps(tool.openai(), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def index_key(pack: Pack, pool: Sequence[Pack], fingerprint: str,
              thresholds: Thresholds) -> str:
    """The cache key of an index: pack content, pool contents, embedder and thresholds.

    Args:
        pack: The pack whose tasks get distractors.
        pool: The pool's packs, in order.
        fingerprint: The embedder's fingerprint.
        thresholds: The band edges.

    Returns:
        A hex digest.
    """
    data = {"format": INDEX_FORMAT, "pack": pack.manifest["content_hash"],
            "pool": [item.manifest["content_hash"] for item in pool],
            "embedder": fingerprint, "thresholds": thresholds.to_dict()}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def index_path(directory: str | os.PathLike[str], pack: Pack, key: str) -> Path:
    """Where the index with ``key`` lives under a cache root or a pack directory.

    Args:
        directory: A cache root or a pack directory.
        pack: The pack the index is for.
        key: The index key.

    Returns:
        ``<directory>/distractors/<pack name>-<key prefix>.json``.
    """
    return Path(directory) / INDEX_DIR / f"{pack.name}-{key[:20]}.json"


class DistractorIndex:
    """A built band index for one pack and pool.

    Attributes:
        key: The cache key (:func:`index_key`).
        meta: Pack, pool, embedder, thresholds and build time.
        pool: The pool's tools with their domains.
        bands: Document key of an in-scope tool -> band -> pool indices.
    """

    def __init__(self, key: str, meta: dict[str, Any], pool: list[PoolTool],
                 bands: dict[str, dict[str, np.ndarray]]) -> None:
        self.key = key
        self.meta = meta
        self.pool = pool
        self.bands = bands
        self.names = [item.tool.name for item in pool]
        self.position = {name: i for i, name in enumerate(self.names)}
        self._runtimes: dict[int, ToolRuntime] = {}
        self._tasks: OrderedDict[str, tuple[np.ndarray, ...]] = OrderedDict()
        self._lock = Lock()

    # -- per task ---------------------------------------------------------------------
    def task_candidates(self, task: Task) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The task's candidates per band (high, medium, low): ASTRA's ``P_b(x)``.

        ``P_b`` is the union over the task's needed tools of their band-``b``
        pool tools, minus tools of the task's domain and tools whose name the
        task already lists. A candidate may be in more than one band (high for
        one in-scope tool, low for another).

        Args:
            task: A task of the indexed pack.

        Returns:
            Three sorted arrays of pool indices.

        Raises:
            KeyError: When a needed tool of the task is not in the index (the
                index was built for another pack).
        """
        cached = self._tasks.get(task.task_id)
        if cached is not None:
            return cached  # type: ignore[return-value]
        listed = {tool.name for tool in task.all_tools}
        excluded = [i for i, item in enumerate(self.pool)
                    if task.domain in item.domains or item.tool.name in listed]
        result = []
        for band in BANDS:
            parts = []
            for tool in task.tools:
                key = document_key(tool)
                if key not in self.bands:
                    raise KeyError(f"tool {tool.name!r} of task {task.task_id!r} is not in the "
                                   f"distractor index {self.key[:12]} (built for pack "
                                   f"{self.meta.get('pack', {}).get('name')!r}); rebuild it")
                parts.append(self.bands[key][band])
            members = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
            result.append(np.setdiff1d(members, excluded, assume_unique=True)
                          if excluded else members)
        candidates = (result[0], result[1], result[2])
        with self._lock:
            self._tasks[task.task_id] = candidates
            while len(self._tasks) > _TASK_CACHE_SIZE:
                self._tasks.popitem(last=False)
        return candidates

    def runtime(self, index: int) -> ToolRuntime:
        """The runtime (validator, signature) of a pool tool, built once.

        Args:
            index: The tool's position in :attr:`pool`.

        Returns:
            Its :class:`~astra_gym.runtime.ToolRuntime`.
        """
        runtime = self._runtimes.get(index)
        if runtime is None:
            runtime = self._runtimes.setdefault(index, ToolRuntime(self.pool[index].tool))
        return runtime

    # -- files ------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The index as JSON data (what :meth:`save` writes)."""
        return {"format_version": INDEX_FORMAT, "key": self.key, **self.meta,
                "tools": [{**item.tool.to_dict(), "domains": sorted(item.domains)}
                          for item in self.pool],
                "bands": {key: {band: values.tolist() for band, values in bands.items()}
                          for key, bands in self.bands.items()}}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the index atomically (readers never see half a file).

        Args:
            path: The file.

        Returns:
            The path written.
        """
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")),
                       encoding="utf-8")
        os.replace(tmp, target)
        return target

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DistractorIndex:
        """Rebuild an index from :meth:`to_json` data.

        Args:
            data: The JSON data.

        Returns:
            The index.

        Raises:
            ValueError: For another format version.
        """
        if data.get("format_version") != INDEX_FORMAT:
            raise ValueError(f"distractor index format {data.get('format_version')!r} is not "
                             f"{INDEX_FORMAT}; rebuild it with `astra-gym distractors build`")
        pool = [PoolTool(Tool.from_dict(item), frozenset(item["domains"]))
                for item in data["tools"]]
        bands = {key: {band: np.asarray(values, dtype=np.int64)
                       for band, values in entry.items()}
                 for key, entry in data["bands"].items()}
        meta = {name: data[name] for name in ("pack", "pool", "embedder", "thresholds",
                                              "build_seconds") if name in data}
        return cls(data["key"], meta, pool, bands)


def build_index(pack: Pack, pool: Sequence[Pack], embedder: Embedder | None = None,
                thresholds: Thresholds | None = None) -> DistractorIndex:
    """Embed the pool and the pack's tools, and band every in-scope tool's neighbours.

    Args:
        pack: The pack whose tasks get distractors.
        pool: The packs the distractors come from (the pack itself, usually among them).
        embedder: Default :class:`~astra_gym.distractors.embedders.TfidfEmbedder`.
        thresholds: Default: the paper's (0.85, 0.4).

    Returns:
        The index.
    """
    start = time.perf_counter()
    embedder = embedder or TfidfEmbedder()
    thresholds = thresholds or Thresholds()
    candidates = collect_pool(pool)
    in_scope: dict[str, Tool] = {}
    for task in pack:
        for tool in task.tools:
            in_scope.setdefault(document_key(tool), tool)
    documents = [tool_document(item.tool) for item in candidates]
    scope_keys = list(in_scope)
    scope_docs = [tool_document(in_scope[key]) for key in scope_keys]
    # Embed pool and in-scope documents together (TF-IDF fits one vocabulary), each once.
    unique = list(dict.fromkeys(documents + scope_docs))
    row_of = {doc: i for i, doc in enumerate(unique)}
    vectors = np.asarray(embedder.embed(unique), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.divide(vectors, norms, out=vectors, where=norms > 0)
    pool_vectors = vectors[[row_of[doc] for doc in documents]] if documents else vectors[:0]
    names = np.array([item.tool.name for item in candidates], dtype=object)
    bands: dict[str, dict[str, np.ndarray]] = {}
    for start_row in range(0, len(scope_keys), _CHUNK):
        keys = scope_keys[start_row:start_row + _CHUNK]
        rows = vectors[[row_of[doc] for doc in scope_docs[start_row:start_row + _CHUNK]]]
        similarity = (rows @ pool_vectors.T).astype(np.float64)
        for offset, key in enumerate(keys):
            normalized = normalize_row(similarity[offset], names == in_scope[key].name)
            bands[key] = band_members(normalized, thresholds)
    meta = {"pack": {"name": pack.name, "content_hash": pack.manifest["content_hash"]},
            "pool": [{"name": item.name, "content_hash": item.manifest["content_hash"]}
                     for item in pool],
            "embedder": embedder.fingerprint, "thresholds": thresholds.to_dict(),
            "build_seconds": round(time.perf_counter() - start, 4)}
    return DistractorIndex(index_key(pack, pool, embedder.fingerprint, thresholds), meta,
                           candidates, bands)


def load_index(path: str | os.PathLike[str]) -> DistractorIndex:
    """Read an index file.

    Args:
        path: The file (:meth:`DistractorIndex.save`).

    Returns:
        The index.

    Raises:
        FileNotFoundError: When there is no such file.
        ValueError: When it is not an index of this format.
    """
    return DistractorIndex.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


_loaded: OrderedDict[str, DistractorIndex] = OrderedDict()
_loaded_lock = Lock()


def _remember(index: DistractorIndex) -> DistractorIndex:
    with _loaded_lock:
        _loaded[index.key] = index
        _loaded.move_to_end(index.key)
        while len(_loaded) > 16:
            _loaded.popitem(last=False)
    return index


def load_or_build(pack: Pack, pool: Sequence[Pack], embedder: Embedder,
                  thresholds: Thresholds, *, cache_dir: str | os.PathLike[str] | None = None,
                  path: str | os.PathLike[str] | None = None,
                  build: bool = True) -> DistractorIndex:
    """The index for a pack and pool: from this process, a file, or built (and saved).

    Looks, in order: indices loaded by this process; ``path`` when given;
    ``<pack>/distractors/`` (an index shipped with the pack); the cache
    directory. When none matches and ``build`` is true, builds it and saves it
    into the cache directory (best effort: an unwritable cache is skipped).

    Args:
        pack: The pack whose tasks get distractors.
        pool: The pool's packs.
        embedder: The embedder (its fingerprint is part of the key).
        thresholds: The band edges.
        cache_dir: The cache root (default :func:`default_cache_dir`).
        path: An index file to use.
        build: Build a missing index (else raise).

    Returns:
        The index, shared by every env of the process.

    Raises:
        FileNotFoundError: When no index matches and ``build`` is false.
        ValueError: When ``path`` holds an index for another pack, pool,
            embedder or thresholds.
    """
    key = index_key(pack, pool, embedder.fingerprint, thresholds)
    with _loaded_lock:
        found = _loaded.get(key)
    if found is not None:
        return found
    if path is not None:
        index = load_index(path)
        if index.key != key:
            raise ValueError(f"the distractor index {path} was built for another pack, pool, "
                             "embedder or thresholds than these; rebuild it with `astra-gym "
                             "distractors build`")
        return _remember(index)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    for candidate in (index_path(pack.path, pack, key), index_path(root, pack, key)):
        if candidate.is_file():
            try:
                index = load_index(candidate)
            except (OSError, ValueError, KeyError):
                continue  # a stale or damaged file: rebuild below
            if index.key == key:
                return _remember(index)
    if not build:
        raise FileNotFoundError(f"no distractor index for pack {pack.name!r} with this pool, "
                                f"embedder and thresholds in {root}; build it with "
                                f"`astra-gym distractors build {pack.path}`")
    index = build_index(pack, pool, embedder, thresholds)
    with contextlib.suppress(OSError):  # a read-only cache: the index still serves us
        index.save(index_path(root, pack, key))
    return _remember(index)
