"""Stage ``walks``: length-bounded random walks over a server's graph, biased by edge weight.

The paper samples walks on the weighted transition graph; the release instead
enumerates every DFS path (research/astra.md §C.3). Here, per server:

* a walk starts at a tool with outgoing edges, drawn with probability
  proportional to its total outgoing weight;
* its target length is drawn uniformly from ``min_length..max_length``;
* each step follows an outgoing edge drawn with probability proportional to
  its weight, among the edges to tools not yet on the walk (``acyclic``, the
  default; with ``acyclic=False`` only self-loops are excluded, and the graph
  has none);
* a walk that reaches a dead end before its target is kept when it has at
  least ``min_length`` tools;
* duplicates are dropped, and sampling stops at ``max_walks`` walks or after
  ``max_walks * ATTEMPTS_PER_WALK`` attempts.

The generator is ``random.Random(f"{seed}:{server_id}")`` (string seeds are
hashed with SHA-512, independent of ``PYTHONHASHSEED``), so the same seed gives
the same walks, byte for byte, in any process.

No LLM is involved: the stage recomputes from the graph view on every run.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from .common import SERVER_KEYS, make_id

__all__ = ["ATTEMPTS_PER_WALK", "chain_rows", "sample_walk", "sample_walks"]

ATTEMPTS_PER_WALK = 20
"""Attempts allowed per wanted walk before a server's sampling gives up."""


def _adjacency(graph: Mapping[str, Any]) -> dict[str, list[tuple[str, int]]]:
    out: dict[str, list[tuple[str, int]]] = {}
    for edge in graph.get("edges") or []:
        if edge["source"] != edge["target"] and edge["weight"] > 0:
            out.setdefault(edge["source"], []).append((edge["target"], int(edge["weight"])))
    return out


def sample_walk(adjacency: Mapping[str, list[tuple[str, int]]], rng: random.Random,
                start: str, length: int, *, acyclic: bool = True) -> list[str]:
    """One weight-biased walk of at most ``length`` tools from ``start``.

    Args:
        adjacency: ``{tool: [(next_tool, weight), ...]}``.
        rng: The random generator.
        start: The first tool.
        length: The most tools on the walk.
        acyclic: Never revisit a tool.

    Returns:
        The walk (it ends early at a dead end).

    Example:
        >>> sample_walk({"a": [("b", 1)], "b": [("a", 1)]}, random.Random(0), "a", 4)
        ['a', 'b']
        >>> sample_walk({"a": [("b", 1)], "b": [("a", 1)]}, random.Random(0), "a", 4,
        ...             acyclic=False)
        ['a', 'b', 'a', 'b']
    """
    walk = [start]
    while len(walk) < length:
        options = [(target, weight) for target, weight in adjacency.get(walk[-1], [])
                   if not (acyclic and target in walk)]
        if not options:
            break
        walk.append(rng.choices([target for target, _ in options],
                                weights=[weight for _, weight in options])[0])
    return walk


def sample_walks(graph: Mapping[str, Any], *, seed: int, key: str, min_length: int = 2,
                 max_length: int = 5, max_walks: int = 20,
                 acyclic: bool = True) -> list[dict[str, Any]]:
    """Distinct weight-biased walks of a graph (see the module docstring).

    Args:
        graph: ``{"nodes", "edges": [{"source", "target", "weight"}]}``.
        seed: The run's seed.
        key: What makes this graph's generator its own (the server id).
        min_length: The fewest tools on a walk (at least 1).
        max_length: The most tools on a walk.
        max_walks: The most walks returned.
        acyclic: Never revisit a tool on a walk.

    Returns:
        ``[{"chain": [...], "attempt": n}]`` in the order found.

    Raises:
        ValueError: Bad bounds.

    Example:
        >>> graph = {"nodes": ["a", "b", "c"], "edges": [
        ...     {"source": "a", "target": "b", "weight": 3},
        ...     {"source": "b", "target": "c", "weight": 1}]}
        >>> walks = sample_walks(graph, seed=0, key="s", min_length=2, max_length=3)
        >>> sorted(w["chain"] for w in walks)
        [['a', 'b'], ['a', 'b', 'c'], ['b', 'c']]
    """
    if not 1 <= min_length <= max_length:
        raise ValueError(f"need 1 <= min_length <= max_length, got {min_length}..{max_length}")
    if max_walks < 1:
        raise ValueError(f"max_walks must be at least 1, not {max_walks}")
    adjacency = _adjacency(graph)
    starts = [node for node in graph.get("nodes") or [] if node in adjacency]
    starts += sorted(set(adjacency) - set(starts))
    if not starts:
        return []
    start_weights = [sum(weight for _, weight in adjacency[node]) for node in starts]
    rng = random.Random(f"{seed}:{key}")
    walks: list[dict[str, Any]] = []
    seen: set[tuple[str, ...]] = set()
    for attempt in range(max_walks * ATTEMPTS_PER_WALK):
        if len(walks) >= max_walks:
            break
        length = rng.randint(min_length, max_length)
        start = rng.choices(starts, weights=start_weights)[0]
        walk = sample_walk(adjacency, rng, start, length, acyclic=acyclic)
        if len(walk) >= min_length and tuple(walk) not in seen:
            seen.add(tuple(walk))
            walks.append({"chain": walk, "attempt": attempt})
    return walks


def chain_rows(graph_row: Mapping[str, Any], *, seed: int, min_length: int = 2,
               max_length: int = 5, max_walks: int = 20,
               acyclic: bool = True) -> list[dict[str, Any]]:
    """The chain rows of one server's graph row.

    Args:
        graph_row: A row of ``02_graph.ok.jsonl``.
        seed: The run's seed.
        min_length: The fewest tools on a walk.
        max_length: The most tools on a walk.
        max_walks: The most walks per server.
        acyclic: Never revisit a tool on a walk.

    Returns:
        ``{"chain_id", "chain", "length", "walk": {"seed", "index", "attempt",
        "min_length", "max_length", "acyclic"}, "server_id", "server", "tools",
        "call_info", "source", "extra", "provenance"}`` per walk.
    """
    server_id = graph_row["server_id"]
    rows = []
    for index, walk in enumerate(sample_walks(graph_row["graph"], seed=seed, key=server_id,
                                              min_length=min_length, max_length=max_length,
                                              max_walks=max_walks, acyclic=acyclic)):
        chain = walk["chain"]
        rows.append({"chain_id": make_id("chn", server_id, chain), "chain": chain,
                     "length": len(chain),
                     "walk": {"seed": seed, "index": index, "attempt": walk["attempt"],
                              "min_length": min_length, "max_length": max_length,
                              "acyclic": acyclic},
                     **{key: graph_row.get(key) for key in SERVER_KEYS},
                     "provenance": list(graph_row.get("provenance") or [])})
    return rows
