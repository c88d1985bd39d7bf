"""What the env uses: per episode, sample up to K tools per band and mix them into the list.

``gym.make(id, distractors={...})`` builds a :class:`DistractorMixer` once;
the band index is loaded (or built and cached) then. Each ``reset`` calls
:meth:`DistractorMixer.sample` with the env's ``np_random``: for the bands
high, medium and low in turn, up to ``k`` candidates not drawn yet, uniformly
without replacement. :meth:`DistractorMixer.mix` then puts them into the tool
list: appended before the env's per-episode shuffle, or, with
``shuffle_tools=False``, each inserted at a random position so the pack's own
order survives but a distractor's position says nothing.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..pack import Pack, Task
from ..runtime import ToolRuntime
from .bands import BANDS, Thresholds
from .embedders import Embedder, embedder_from_options
from .index import DistractorIndex, load_or_build
from .pool import pool_packs

__all__ = ["DISTRACTOR_OPTIONS", "DistractorMixer"]

#: Keys of the env's ``distractors=`` dict.
DISTRACTOR_OPTIONS = ("k", "pool", "embedder", "thresholds", "cache_dir", "index", "build")


def _per_band(k: int | Mapping[str, int]) -> dict[str, int]:
    if isinstance(k, Mapping):
        unknown = sorted(set(k) - set(BANDS))
        if unknown:
            raise ValueError(f"distractors: unknown band(s) {unknown} in k; use {list(BANDS)}")
        counts = {band: k.get(band, 0) for band in BANDS}
    else:
        counts = dict.fromkeys(BANDS, k)
    for band, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"distractors: k must be a non-negative integer (per band), got "
                             f"{value!r} for {band}")
    return counts


class DistractorMixer:
    """Banded irrelevant tools for the tasks of one pack (the env's ``distractors=``).

    Args:
        pack: The env's pack.
        k: Tools drawn per band, an int or ``{"high": 3, "medium": 3, "low": 3}``
            (default 3 each).
        pool: Packs the distractors come from: pack directories, registered
            astra env ids or :class:`Pack` objects (default: the env's pack).
        embedder: ``"tfidf"`` (default), ``{"type": "openai", "model": ...,
            "base_url": ...}`` or an :class:`~.embedders.Embedder`.
        thresholds: ``{"high": 0.85, "low": 0.4}`` (the paper's, the default).
        cache_dir: Where indices (and endpoint embeddings) are cached
            (default :func:`~.embedders.default_cache_dir`).
        index: A prebuilt index file (``astra-gym distractors build --out``).
        build: Build the index when no file matches (default); else fail.

    Raises:
        ValueError: For bad options or an index built for something else.
    """

    def __init__(self, pack: Pack, *, k: int | Mapping[str, int] = 3,
                 pool: Sequence[str | os.PathLike[str] | Pack] | None = None,
                 embedder: Embedder | str | Mapping[str, Any] | None = None,
                 thresholds: Thresholds | Mapping[str, float] | Sequence[float] | None = None,
                 cache_dir: str | os.PathLike[str] | None = None,
                 index: str | os.PathLike[str] | None = None, build: bool = True) -> None:
        if isinstance(pool, str | os.PathLike | Pack):
            pool = [pool]
        self.k = _per_band(k)
        self.pool_entries = [entry if isinstance(entry, Pack) else str(entry)
                             for entry in (pool or ())]
        self.embedder_option = embedder
        self.thresholds = Thresholds.from_options(thresholds)
        self.cache_dir = None if cache_dir is None else str(cache_dir)
        self.index_file = None if index is None else str(index)
        self.build = bool(build)
        self._pack_path = str(pack.path)
        self._index: DistractorIndex | None = None
        self._blobs: dict[int, bytes] = {}
        self._load(pack)

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | DistractorMixer | None,
                     pack: Pack) -> DistractorMixer | None:
        """The mixer for an env's ``distractors=`` argument.

        Args:
            options: ``None``, a mixer, or a dict of the constructor's keyword arguments.
            pack: The env's pack.

        Returns:
            The mixer, or None (no distractors).

        Raises:
            ValueError: For unknown keys.
            TypeError: When ``options`` is not a dict.
        """
        if options is None or isinstance(options, DistractorMixer):
            return options
        if not isinstance(options, Mapping):
            raise TypeError(f"distractors must be a dict such as {{'k': 3}}, not "
                            f"{type(options).__name__}")
        unknown = sorted(set(options) - set(DISTRACTOR_OPTIONS))
        if unknown:
            raise ValueError(f"unknown distractors option(s) {', '.join(unknown)}; use "
                             f"{', '.join(DISTRACTOR_OPTIONS)}")
        return cls(pack, **dict(options))

    def _load(self, pack: Pack | None = None) -> DistractorIndex:
        from ..env import open_pack

        pack = pack or open_pack(self._pack_path)
        embedder = embedder_from_options(self.embedder_option, self.cache_dir)
        self._index = load_or_build(pack, pool_packs(self.pool_entries, pack), embedder,
                                    self.thresholds, cache_dir=self.cache_dir,
                                    path=self.index_file, build=self.build)
        return self._index

    @property
    def index(self) -> DistractorIndex:
        """The band index (loaded again after unpickling)."""
        return self._index if self._index is not None else self._load()

    # -- per episode --------------------------------------------------------------------
    def sample(self, task: Task, rng: np.random.Generator) -> list[tuple[str, str]]:
        """Draw this episode's distractors.

        Args:
            task: The episode's task.
            rng: The env's ``np_random``.

        Returns:
            ``(tool name, band)`` pairs, band by band (high, medium, low).
        """
        index = self.index
        chosen: list[int] = []
        picked: list[tuple[str, str]] = []
        for band, members in zip(BANDS, index.task_candidates(task), strict=True):
            want = self.k[band]
            if want == 0 or len(members) == 0:
                continue
            # A uniform sample of members minus those already chosen (a candidate can be
            # in two bands): draw enough in random order, skip the chosen, keep `want`.
            size = min(len(members), want + len(chosen))
            order = members[rng.permutation(len(members))[:size]].tolist()
            taken = [i for i in order if i not in chosen][:want]
            chosen.extend(taken)
            picked.extend((index.names[i], band) for i in taken)
        return picked

    def candidates(self, task: Task) -> list[str]:
        """Every pool tool an episode of ``task`` can list: the members of each band drawn from.

        :meth:`sample` lists a few of them per episode; checks that must hold for every
        episode (no answer leaks into a tool the agent reads) look at all of them.

        Args:
            task: The task.

        Returns:
            Tool names, band by band (high, medium, low), each once.
        """
        index = self.index
        names: list[str] = []
        seen: set[int] = set()
        for band, members in zip(BANDS, index.task_candidates(task), strict=True):
            if self.k[band] == 0:
                continue
            for i in members.tolist():
                if i not in seen:
                    seen.add(i)
                    names.append(index.names[i])
        return names

    def tool(self, name: str) -> ToolRuntime | None:
        """The runtime of a pool tool.

        Args:
            name: The tool name.

        Returns:
            Its runtime, or None when the pool has no such tool.
        """
        index = self.index
        position = index.position.get(name)
        return None if position is None else index.runtime(position)

    def openai(self, name: str) -> dict[str, Any]:
        """A pool tool in OpenAI format.

        Args:
            name: The tool name.

        Returns:
            A fresh copy (the caller may change it).
        """
        position = self.index.position[name]
        blob = self._blobs.get(position)
        if blob is None:
            blob = pickle.dumps(self.index.pool[position].tool.openai(),
                                protocol=pickle.HIGHEST_PROTOCOL)
            self._blobs[position] = blob
        return pickle.loads(blob)  # our own bytes

    def mix(self, tools: list[dict[str, Any]], names: Sequence[str],
            rng: np.random.Generator, *, shuffled: bool) -> list[dict[str, Any]]:
        """The tool list with the distractors in it.

        Args:
            tools: The task's tools (OpenAI format, a fresh list).
            names: The distractors drawn by :meth:`sample`.
            rng: The env's ``np_random``.
            shuffled: The env shuffles the whole list next (then appending is
                enough); else each distractor goes to a uniformly random position.

        Returns:
            The new list.
        """
        extra = [self.openai(name) for name in names]
        if shuffled:
            return tools + extra
        mixed = list(tools)
        for tool in extra:
            mixed.insert(int(rng.integers(len(mixed) + 1)), tool)
        return mixed

    # -- pickling -------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_index"] = None  # reloaded from this process's cache or the index file
        state["_blobs"] = {}
        state["pool_entries"] = [str(entry.path) if isinstance(entry, Pack) else entry
                                 for entry in self.pool_entries]
        return state
