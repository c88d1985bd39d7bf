"""synth.sft.graph.build_graph and synth.sft.walks: weights, bounds, acyclicity, seeds, bias."""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from synth.sft.graph import build_graph
from synth.sft.walks import chain_rows, sample_walk, sample_walks

ROOT = Path(__file__).resolve().parents[2]

# a -> b (9), a -> c (1); b -> d, c -> d; d -> a closes a cycle
GRAPH = {"nodes": ["a", "b", "c", "d"], "edges": [
    {"source": "a", "target": "b", "weight": 9}, {"source": "a", "target": "c", "weight": 1},
    {"source": "b", "target": "d", "weight": 1}, {"source": "c", "target": "d", "weight": 1},
    {"source": "d", "target": "a", "weight": 1}]}


def test_build_graph_counts_pairs_and_keeps_only_yes_chains():
    graph = build_graph([
        [{"verdict": "yes", "chain": ["a", "b", "c"], "task": "t"},
         {"verdict": "no", "chain": ["c", "a"]}, {"verdict": "not sure", "chain": ["b", "a"]}],
        [{"verdict": "Yes", "chain": ["a", "b"]}]], ["a", "b", "c"])
    assert graph["edges"] == [{"source": "a", "target": "b", "weight": 2},
                              {"source": "b", "target": "c", "weight": 1}]
    assert graph["nodes"] == ["a", "b", "c"] and graph["samples"] == 2
    assert [c["chain"] for c in graph["chains"]] == [["a", "b", "c"], ["a", "b"]]
    assert "left out 1 chain(s) with verdict 'no', 1 chain(s) with verdict 'not sure'" \
        in graph["notes"][0]


def test_unknown_names_never_make_or_bridge_an_edge():
    graph = build_graph([[{"verdict": "yes", "chain": ["a", "ghost", "b", "c", "c"]}]],
                        ["a", "b", "c"])
    assert [(e["source"], e["target"]) for e in graph["edges"]] == [("b", "c")]
    assert any("unknown tool(s) ['ghost']" in note for note in graph["notes"])
    assert any("self-loop c -> c dropped" in note for note in graph["notes"])


def test_walks_respect_bounds_acyclicity_cap_and_are_distinct():
    for min_length, max_length in [(2, 2), (2, 4), (3, 4), (1, 3)]:
        walks = sample_walks(GRAPH, seed=1, key="k", min_length=min_length,
                             max_length=max_length, max_walks=50)
        chains = [w["chain"] for w in walks]
        assert chains and len(chains) == len({tuple(c) for c in chains})
        for chain in chains:
            assert min_length <= len(chain) <= max_length
            assert len(set(chain)) == len(chain)  # acyclic
            for source, target in itertools.pairwise(chain):
                assert any(e["source"] == source and e["target"] == target
                           for e in GRAPH["edges"])
    assert len(sample_walks(GRAPH, seed=1, key="k", max_walks=2)) == 2
    cyclic = sample_walks(GRAPH, seed=1, key="k", min_length=5, max_length=6, max_walks=50,
                          acyclic=False)
    assert cyclic and all(len(set(w["chain"])) < len(w["chain"]) for w in cyclic)
    assert sample_walks(GRAPH, seed=1, key="k", min_length=5, max_length=6) == []  # acyclic
    with pytest.raises(ValueError):
        sample_walks(GRAPH, seed=1, key="k", min_length=3, max_length=2)


def test_same_seed_same_chains_other_seed_other_chains():
    first = sample_walks(GRAPH, seed=7, key="srv", max_walks=5)
    assert first == sample_walks(GRAPH, seed=7, key="srv", max_walks=5)
    assert first != sample_walks(GRAPH, seed=8, key="srv", max_walks=5)
    assert first != sample_walks(GRAPH, seed=7, key="srv-2", max_walks=5)


def test_chains_are_identical_in_another_process_and_hash_seed():
    row = {"server_id": "srv-1", "server": {"name": "s"}, "tools": [], "call_info": None,
           "source": {}, "graph": GRAPH, "provenance": []}
    here = json.dumps(chain_rows(row, seed=3, max_walks=6))
    code = ("import json, sys; from synth.sft.walks import chain_rows; "
            "row = json.loads(sys.argv[1]); print(json.dumps(chain_rows(row, seed=3, "
            "max_walks=6)))")
    for hash_seed in ("0", "12345"):
        out = subprocess.run([sys.executable, "-c", code, json.dumps(row)], cwd=ROOT,
                             capture_output=True, text=True, check=True,
                             env={"PYTHONHASHSEED": hash_seed, "PATH": "/usr/bin:/bin"})
        assert out.stdout.strip() == here


def test_edge_weight_bias_is_visible_over_many_seeded_walks():
    adjacency = {"a": [("b", 9), ("c", 1)]}
    firsts = Counter(sample_walk(adjacency, random.Random(f"bias:{i}"), "a", 2)[1]
                     for i in range(4000))
    share = firsts["b"] / 4000
    assert 0.87 < share < 0.93, share  # 0.9 expected; 4000 draws: sd 0.005
    # through sample_walks too: the heavy edge's chains dominate the first walks drawn
    heavy = sum(sample_walks(GRAPH, seed=i, key="k", min_length=2, max_length=2,
                             max_walks=1)[0]["chain"] == ["a", "b"] for i in range(2000))
    light = sum(sample_walks(GRAPH, seed=i, key="k", min_length=2, max_length=2,
                             max_walks=1)[0]["chain"] == ["a", "c"] for i in range(2000))
    assert heavy > 6 * light > 0


def test_uniform_weights_give_no_bias():
    adjacency = {"a": [("b", 1), ("c", 1)]}
    firsts = Counter(sample_walk(adjacency, random.Random(f"u:{i}"), "a", 2)[1]
                     for i in range(4000))
    assert 0.46 < firsts["b"] / 4000 < 0.54


def test_chain_rows_carry_provenance():
    row = {"server_id": "srv-1", "server": {"name": "s"}, "tools": [], "call_info": {"x": 1},
           "source": {"kind": "json"}, "graph": GRAPH, "provenance": [{"stage": "graph"}]}
    rows = chain_rows(row, seed=3, max_walks=3)
    assert [r["walk"]["index"] for r in rows] == [0, 1, 2]
    first = rows[0]
    assert first["chain_id"].startswith("chn-") and first["length"] == len(first["chain"])
    assert first["walk"]["seed"] == 3 and first["walk"]["acyclic"] is True
    assert first["server_id"] == "srv-1" and first["call_info"] == {"x": 1}
    assert first["provenance"] == [{"stage": "graph"}]
