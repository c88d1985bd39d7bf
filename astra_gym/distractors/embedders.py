"""Embedders for tool documents: a dependency-free TF-IDF default and an OpenAI-compatible endpoint.

An embedder is anything with a ``fingerprint`` (a string naming the model
and settings: it is part of the band index's cache key) and
``embed(documents) -> np.ndarray`` returning one row per document. Rows are
L2-normalised by the index builder, so cosine similarity is a dot product.

- :class:`TfidfEmbedder` (the default, offline, numpy only): TF-IDF over word
  n-grams (identifiers are split at ``_`` and camelCase) and character n-grams
  inside words, each block L2-normalised, blended with equal weight.
- :class:`OpenAIEmbedder`: any ``/v1/embeddings`` endpoint (a served
  Qwen3-Embedding as in the paper, vLLM, Ollama, OpenAI), through the official
  ``openai`` client, imported only when it is used. Every vector is cached on
  disk, content-addressed by model and document, so a rebuild sends nothing.

Example:
    >>> import numpy as np
    >>> vectors = TfidfEmbedder().embed(["get_weather forecast for a city",
    ...                                  "get_hourly_forecast of a city",
    ...                                  "stock quote for a ticker"])
    >>> sims = vectors @ vectors.T
    >>> bool(sims[0, 1] > sims[0, 2])
    True
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..cachedir import default_cache_dir

__all__ = ["Embedder", "OpenAIEmbedder", "TfidfEmbedder", "default_cache_dir",
           "embedder_from_options"]

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD = re.compile(r"[^\W_]+")


@runtime_checkable
class Embedder(Protocol):
    """What the band index needs from an embedding model."""

    #: Names the model and settings; part of the index's cache key.
    fingerprint: str

    def embed(self, documents: Sequence[str]) -> np.ndarray:
        """One vector per document.

        Args:
            documents: Tool documents (:func:`~astra_gym.distractors.pool.tool_document`).

        Returns:
            A ``(len(documents), dim)`` float array.
        """
        ...


class TfidfEmbedder:
    """TF-IDF over word and character n-grams, with numpy only (the default embedder).

    The vocabulary and IDF are fitted on the documents of each ``embed``
    call (the index embeds the whole pool at once). Term frequencies are
    sublinear (``1 + ln tf``) and ``idf = ln((1 + N) / (1 + df))``, so a term
    every document has (the JSON keys of a tool document) weighs nothing.
    Memory is ``documents x features x 4`` bytes; ``max_features`` keeps the
    terms found in most documents (a term in one document adds nothing to any
    similarity). For pools of tens of thousands of tools, use an embedding
    endpoint (:class:`OpenAIEmbedder`).

    Args:
        word_ngrams: Smallest and largest word n-gram.
        char_ngrams: Smallest and largest character n-gram (inside words,
            padded with a space at each end).
        max_features: Most terms kept per block (word, character).
        char_weight: Share of the character block in the blend (0..1).
    """

    def __init__(self, word_ngrams: tuple[int, int] = (1, 2),
                 char_ngrams: tuple[int, int] = (3, 5), max_features: int = 16384,
                 char_weight: float = 0.5) -> None:
        for name, (low, high) in (("word_ngrams", word_ngrams), ("char_ngrams", char_ngrams)):
            if not 1 <= low <= high:
                raise ValueError(f"{name} must be (low, high) with 1 <= low <= high")
        if max_features < 1 or not 0.0 <= char_weight <= 1.0:
            raise ValueError("max_features must be >= 1 and char_weight in [0, 1]")
        self.word_ngrams = tuple(word_ngrams)
        self.char_ngrams = tuple(char_ngrams)
        self.max_features = int(max_features)
        self.char_weight = float(char_weight)
        self.fingerprint = (f"tfidf-v1:w{word_ngrams[0]}-{word_ngrams[1]}:c{char_ngrams[0]}-"
                            f"{char_ngrams[1]}:max{max_features}:cw{char_weight:g}")

    @staticmethod
    def words(text: str) -> list[str]:
        """Lower-case words, identifiers split at ``_`` and camelCase.

        Args:
            text: Any text (a tool document).

        Returns:
            The words, in order.

        Example:
            >>> TfidfEmbedder.words('{"name": "getHourly_forecast"}')
            ['name', 'get', 'hourly', 'forecast']
        """
        return _WORD.findall(_CAMEL.sub(" ", text).lower())

    def _terms(self, text: str) -> tuple[Counter[str], Counter[str]]:
        words = self.words(text)
        word_terms: Counter[str] = Counter()
        low, high = self.word_ngrams
        for n in range(low, high + 1):
            for i in range(len(words) - n + 1):
                word_terms[" ".join(words[i:i + n])] += 1
        char_terms: Counter[str] = Counter()
        low, high = self.char_ngrams
        for word in words:
            padded = f" {word} "
            for n in range(low, high + 1):
                for i in range(len(padded) - n + 1):
                    char_terms[padded[i:i + n]] += 1
        return word_terms, char_terms

    def _block(self, counts: list[Counter[str]]) -> np.ndarray:
        n_docs = len(counts)
        df: Counter[str] = Counter()
        for doc in counts:
            df.update(doc.keys())
        # Terms in most documents first (ties by the term, for a stable vocabulary).
        vocabulary = sorted(df, key=lambda term: (-df[term], term))[:self.max_features]
        column = {term: i for i, term in enumerate(vocabulary)}
        idf = np.array([math.log((1 + n_docs) / (1 + df[term])) for term in vocabulary],
                       dtype=np.float64)
        matrix = np.zeros((n_docs, len(vocabulary)), dtype=np.float32)
        for row, doc in enumerate(counts):
            cols = [column[term] for term in doc if term in column]
            if not cols:
                continue
            tf = np.array([1.0 + math.log(doc[vocabulary[c]]) for c in cols])
            matrix[row, cols] = tf * idf[cols]
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        np.divide(matrix, norms, out=matrix, where=norms > 0)
        return matrix

    def embed(self, documents: Sequence[str]) -> np.ndarray:
        """TF-IDF vectors of the documents (unit rows, or zero rows for empty ones).

        Args:
            documents: The texts; fitted and transformed together.

        Returns:
            A ``(len(documents), features)`` float32 array.
        """
        if not documents:
            return np.zeros((0, 0), dtype=np.float32)
        terms = [self._terms(text) for text in documents]
        words = self._block([word for word, _ in terms])
        chars = self._block([char for _, char in terms])
        blended = np.hstack([words * np.float32(math.sqrt(1.0 - self.char_weight)),
                             chars * np.float32(math.sqrt(self.char_weight))])
        norms = np.linalg.norm(blended, axis=1, keepdims=True)
        np.divide(blended, norms, out=blended, where=norms > 0)
        return blended


class OpenAIEmbedder:
    """Vectors from an OpenAI-compatible ``/v1/embeddings`` endpoint, cached on disk.

    The ``openai`` package (``pip install "astra-gym[openai]"``) is imported
    on the first request, never at import time. Each vector is stored as
    ``<cache_dir>/embeddings/<model>/<sha256 of the document>.npy``; documents
    found there are not sent again.

    Args:
        model: The served model's name (e.g. ``Qwen/Qwen3-Embedding-8B``).
        base_url: The endpoint (default: ``OPENAI_BASE_URL``).
        api_key: The key (default: ``OPENAI_API_KEY``, else ``"EMPTY"`` for local servers).
        cache_dir: The cache root (default :func:`default_cache_dir`).
        batch_size: Documents per request.
        dimensions: Ask for this many dimensions (models that support it).
        timeout: Seconds per request.
        max_retries: The client's retries on connection errors, 429 and 5xx.
    """

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 cache_dir: str | os.PathLike[str] | None = None, batch_size: int = 64,
                 dimensions: int | None = None, timeout: float = 60.0,
                 max_retries: int = 2) -> None:
        if not model:
            raise ValueError("the embedding endpoint needs a model name")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.model = model
        self.base_url = base_url
        self.api_key = api_key
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.batch_size = int(batch_size)
        self.dimensions = dimensions
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.fingerprint = f"openai:{model}" + (f":d{dimensions}" if dimensions else "")
        self.requests = 0  # requests sent by this instance (the cache makes reruns free)
        self._client: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_client"] = None  # a live HTTP client does not travel
        return state

    def _path(self, document: str) -> Path:
        digest = hashlib.sha256(f"{self.fingerprint}\n{document}".encode()).hexdigest()
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", self.fingerprint)
        return self.cache_dir / "embeddings" / slug / digest[:2] / f"{digest}.npy"

    def _client_or_new(self) -> Any:
        if self._client is None:
            try:
                import openai
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise ImportError('the embedding endpoint needs the openai package: pip '
                                  'install "astra-gym[openai]"') from exc
            self._client = openai.OpenAI(
                base_url=self.base_url or os.environ.get("OPENAI_BASE_URL"),
                api_key=self.api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY",
                timeout=self.timeout, max_retries=self.max_retries)
        return self._client

    def _request(self, batch: list[str]) -> list[np.ndarray]:
        options: dict[str, Any] = {"model": self.model, "input": batch}
        if self.dimensions:
            options["dimensions"] = self.dimensions
        response = self._client_or_new().embeddings.create(**options)
        self.requests += 1
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(batch):
            raise RuntimeError(f"the embedding endpoint returned {len(data)} vectors for "
                               f"{len(batch)} inputs")
        return [np.asarray(item.embedding, dtype=np.float32) for item in data]

    def embed(self, documents: Sequence[str]) -> np.ndarray:
        """Vectors of the documents: from the cache, or from the endpoint (then cached).

        Args:
            documents: The texts.

        Returns:
            A ``(len(documents), dim)`` float32 array.

        Raises:
            RuntimeError: When the endpoint answers with the wrong number of
                vectors or vectors of different sizes.
        """
        vectors: dict[int, np.ndarray] = {}
        missing: list[int] = []
        for i, document in enumerate(documents):
            path = self._path(document)
            if path.is_file():
                vectors[i] = np.load(path, allow_pickle=False)
            else:
                missing.append(i)
        unique = list(dict.fromkeys(documents[i] for i in missing))
        fetched: dict[str, np.ndarray] = {}
        for start in range(0, len(unique), self.batch_size):
            batch = unique[start:start + self.batch_size]
            for document, vector in zip(batch, self._request(batch), strict=True):
                fetched[document] = vector
                path = self._path(document)
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                with open(tmp, "wb") as handle:
                    np.save(handle, vector, allow_pickle=False)
                os.replace(tmp, path)
        for i in missing:
            vectors[i] = fetched[documents[i]]
        if not documents:
            return np.zeros((0, 0), dtype=np.float32)
        sizes = {vector.shape for vector in vectors.values()}
        if len(sizes) != 1:
            raise RuntimeError(f"the embedding vectors differ in shape: {sorted(sizes)}")
        return np.stack([vectors[i] for i in range(len(documents))]).astype(np.float32)


def embedder_from_options(value: Embedder | str | Mapping[str, Any] | None,
                          cache_dir: str | os.PathLike[str] | None = None) -> Embedder:
    """An embedder from the ``embedder`` option of ``distractors=``.

    Args:
        value: ``None`` or ``"tfidf"`` (the default), a dict ``{"type": "tfidf",
            ...TfidfEmbedder args}`` or ``{"type": "openai", "model": ...,
            "base_url": ..., ...OpenAIEmbedder args}``, or an embedder object.
        cache_dir: The default cache root of an endpoint embedder.

    Returns:
        The embedder.

    Raises:
        ValueError: For an unknown type.
    """
    if value is None or value == "tfidf":
        return TfidfEmbedder()
    if isinstance(value, Mapping):
        options = dict(value)
        kind = options.pop("type", "tfidf")
        if kind == "tfidf":
            return TfidfEmbedder(**options)
        if kind == "openai":
            options.setdefault("cache_dir", cache_dir)
            return OpenAIEmbedder(**options)
        raise ValueError(f"unknown embedder type {kind!r}; use 'tfidf' or 'openai'")
    if isinstance(value, Embedder):
        return value
    raise ValueError(f"unknown embedder {value!r}; use 'tfidf', a dict with a 'type', or an "
                     "object with fingerprint and embed()")
