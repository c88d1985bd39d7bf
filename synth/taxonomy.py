"""Taxonomy inputs for generate: a topic tree's leaves as input rows (astra.md A.1, ``tax``).

A taxonomy is a JSON object of nested objects whose **leaves** are objects with
a ``description`` and/or ``examples`` (a list of ``{"query"}``), e.g.
``/work/shared/astra-data/taxonomy/weather.json``. Each leaf example becomes
one input row for :func:`synth.stages.generate.generate` in mode ``"taxonomy"``:
the domain is ``base-path1-path2`` (the base, then the keys down to the leaf)
and the corpus is the JSON object ``{"description", "example_query"}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["is_leaf", "is_taxonomy", "taxonomy_leaves"]

_LEAF_KEYS = ("description", "examples")


def is_leaf(node: Any) -> bool:
    """Whether a taxonomy node is a leaf (an object with ``description`` or ``examples``).

    Args:
        node: A taxonomy node.

    Returns:
        True for a leaf.

    Example:
        >>> is_leaf({"description": "Query weather information", "examples": []})
        True
        >>> is_leaf({"weather": {"description": "d"}})
        False
    """
    return isinstance(node, Mapping) and any(
        key in node and not isinstance(node[key], Mapping) for key in _LEAF_KEYS)


def _walk(node: Mapping[str, Any], path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...],
                                                                           Mapping[str, Any]]]:
    for key, child in node.items():
        if not isinstance(child, Mapping):
            continue
        if is_leaf(child):
            yield (*path, str(key)), child
        else:
            yield from _walk(child, (*path, str(key)))


def _queries(leaf: Mapping[str, Any]) -> list[str]:
    queries = []
    for example in leaf.get("examples") or []:
        query = example.get("query") if isinstance(example, Mapping) else example
        if isinstance(query, str) and query.strip():
            queries.append(query.strip())
    return queries


def taxonomy_leaves(tree: Mapping[str, Any], base: str = "") -> list[dict[str, Any]]:
    """The input rows for generate from a taxonomy tree, one per leaf example.

    Args:
        tree: The taxonomy (nested objects down to leaves).
        base: The domain prefix (usually the taxonomy file's stem); omitted when empty.

    Returns:
        Rows ``{"domain": "base-path1-path2", "knowledge_corpus":
        json.dumps({"description", "example_query"}), "mode": "taxonomy"}`` in
        tree order; a leaf without examples gives one row with an empty
        ``example_query``. Empty when the tree has no leaf.

    Example:
        >>> rows = taxonomy_leaves({"weather": {"now": {"description": "Query weather",
        ...     "examples": [{"query": "Rain in Oslo?"}]}}}, "wx")
        >>> rows[0]["domain"], json.loads(rows[0]["knowledge_corpus"])["example_query"]
        ('wx-weather-now', 'Rain in Oslo?')
    """
    rows = []
    for path, leaf in _walk(tree, ()):
        domain = "-".join(part for part in (base, *path) if part)
        description = leaf.get("description")
        description = description.strip() if isinstance(description, str) else ""
        for query in _queries(leaf) or [""]:
            corpus = json.dumps({"description": description, "example_query": query},
                                ensure_ascii=False)
            rows.append({"domain": domain, "knowledge_corpus": corpus, "mode": "taxonomy"})
    return rows


def is_taxonomy(data: Any) -> bool:
    """Whether parsed JSON is a taxonomy tree (an object with at least one leaf below it).

    Args:
        data: Parsed JSON.

    Returns:
        True for a taxonomy; an input row such as ``{"domain", "knowledge_corpus"}``
        is not one.
    """
    return isinstance(data, Mapping) and not is_leaf(data) and next(
        _walk(data, ()), None) is not None
