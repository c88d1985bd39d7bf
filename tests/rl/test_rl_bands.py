"""Band index: exact bands and exclusions on a pool with known embeddings, sampling, caching."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from rl_packs import VECTORS, FixedEmbedder, T

from astra_gym.distractors import (
    DistractorMixer,
    Thresholds,
    band_members,
    build_index,
    index_path,
    load_index,
    load_or_build,
    normalize_row,
)
from astra_gym.distractors import index as index_module


def names(index, members) -> set[str]:
    return {index.names[i] for i in members}


def test_band_edges_are_the_papers_inclusive_medium():
    row = np.array([0.0, 0.39999, 0.4, 0.6, 0.85, 0.85001, 1.0])
    bands = band_members(row, Thresholds())
    assert bands["low"].tolist() == [0, 1]
    assert bands["medium"].tolist() == [2, 3, 4]      # 0.4 and 0.85 are medium
    assert bands["high"].tolist() == [5, 6]
    custom = band_members(row, Thresholds(high=0.5, low=0.1))
    assert custom["high"].tolist() == [3, 4, 5, 6] and custom["low"].tolist() == [0]


def test_min_max_over_the_other_tools_only():
    # The tool itself (excluded) would be the maximum; the others span [0.2, 0.6].
    row = normalize_row(np.array([1.0, 0.2, 0.4, 0.6]), np.array([True, False, False, False]))
    assert np.isnan(row[0]) and row[1:].tolist() == pytest.approx([0.0, 0.5, 1.0])
    flat = normalize_row(np.array([0.3, 0.3]), np.array([False, False]))
    assert flat.tolist() == [0.0, 0.0]


def test_thresholds_validate():
    with pytest.raises(ValueError, match="low <= high"):
        Thresholds(high=0.3, low=0.5)
    assert Thresholds.from_options({"high": 0.9}).to_dict() == {"high": 0.9, "low": 0.4}
    with pytest.raises(ValueError, match="unknown threshold"):
        Thresholds.from_options({"mid": 0.5})


def test_bands_and_exclusions_are_exactly_as_defined(packs):
    env_pack, pool_pack = packs
    index = build_index(env_pack, [env_pack, pool_pack], FixedEmbedder(VECTORS))
    # The pool: one tool per name (first definition wins), domains of every use.
    assert sorted(index.names) == ["c_hi", "c_lo", "c_mid", "c_min", "q", "r", "s1"]
    domains = {item.tool.name: set(item.domains) for item in index.pool}
    assert domains["c_hi"] == {"beta", "delta"} and domains["q"] == {"alpha", "delta"}
    assert index.pool[index.position["c_hi"]].tool.description == T["c_hi"].description
    # q's row over the others (not q itself, whose 1.0 would be the maximum): min -0.5
    # (c_min), max 0.8 (s1); S~ = (S + 0.5) / 1.3: s1 1.0, c_hi 0.962 (high; 0.833 if q's own
    # 1.0 counted); c_mid 0.846 (medium); r 0.385, c_lo 0.385, c_min 0 (low).
    from astra_gym.distractors.index import document_key

    q_bands = index.bands[document_key(T["q"])]
    assert names(index, q_bands["high"]) == {"s1", "c_hi"}
    assert names(index, q_bands["medium"]) == {"c_mid"}
    assert names(index, q_bands["low"]) == {"r", "c_lo", "c_min"}
    # r's row: max 1.0 (c_lo), min 0: c_lo high; s1 0.6 and c_hi 0.661 medium; the rest low.
    r_bands = index.bands[document_key(T["r"])]
    assert names(index, r_bands["high"]) == {"c_lo"}
    assert names(index, r_bands["medium"]) == {"s1", "c_hi"}
    assert names(index, r_bands["low"]) == {"q", "c_mid", "c_min"}
    # Task t1 (alpha; lists q and r): the union over q and r, minus alpha tools (s1) and
    # tools it lists (q, r). c_lo is high for r and low for q: in both bands.
    high, medium, low = index.task_candidates(env_pack.task("t1"))
    assert names(index, high) == {"c_hi", "c_lo"}
    assert names(index, medium) == {"c_mid", "c_hi"}
    assert names(index, low) == {"c_lo", "c_min", "c_mid"}
    # Task t2 (delta): c_hi is also a delta tool (its second definition), so it goes; s1 stays.
    high, medium, low = index.task_candidates(env_pack.task("t2"))
    assert names(index, high) == {"s1"}
    assert names(index, medium) == {"c_mid"}
    assert names(index, low) == {"r", "c_lo", "c_min"}


def test_sampling_takes_up_to_k_per_band_without_repeats(packs):
    env_pack, pool_pack = packs
    mixer = DistractorMixer(env_pack, k=1, pool=[env_pack, pool_pack],
                            embedder=FixedEmbedder(VECTORS))
    t1 = env_pack.task("t1")
    seen: dict[str, Counter[str]] = {band: Counter() for band in ("high", "medium", "low")}
    for seed in range(400):
        picked = mixer.sample(t1, np.random.default_rng(seed))
        drawn = [name for name, _ in picked]
        assert len(drawn) == len(set(drawn)) == 3
        assert [band for _, band in picked] == ["high", "medium", "low"]
        for name, band in picked:
            seen[band][name] += 1
    assert set(seen["high"]) == {"c_hi", "c_lo"}
    assert set(seen["medium"]) == {"c_mid", "c_hi"}              # c_hi only if not drawn high
    assert set(seen["low"]) == {"c_lo", "c_min", "c_mid"}
    assert 140 < seen["high"]["c_hi"] < 260                      # uniform within the band
    assert seen["medium"]["c_hi"] < seen["medium"]["c_mid"]
    per_band = DistractorMixer(env_pack, k={"high": 2, "low": 0}, pool=[env_pack, pool_pack],
                               embedder=FixedEmbedder(VECTORS))
    picked = per_band.sample(t1, np.random.default_rng(0))
    assert sorted(band for _, band in picked) == ["high", "high"]
    with pytest.raises(ValueError, match="non-negative"):
        DistractorMixer(env_pack, k=-1, embedder=FixedEmbedder(VECTORS))
    with pytest.raises(ValueError, match="unknown band"):
        DistractorMixer(env_pack, k={"top": 1}, embedder=FixedEmbedder(VECTORS))


def test_candidates_are_every_tool_an_episode_can_draw_and_only_those(packs):
    """What validation reads for "any episode": the members of each band that is drawn
    from, once each (c_hi is in two bands), and nothing from a band with k = 0."""
    env_pack, pool_pack = packs
    t1 = env_pack.task("t1")
    mixer = DistractorMixer(env_pack, k=1, pool=[env_pack, pool_pack],
                            embedder=FixedEmbedder(VECTORS))
    drawn = {name for seed in range(200)
             for name, _ in mixer.sample(t1, np.random.default_rng(seed))}
    candidates = mixer.candidates(t1)
    assert len(candidates) == len(set(candidates))
    assert set(candidates) == drawn == {"c_hi", "c_lo", "c_mid", "c_min"}
    no_low = DistractorMixer(env_pack, k={"high": 1, "medium": 1, "low": 0},
                             pool=[env_pack, pool_pack], embedder=FixedEmbedder(VECTORS))
    assert set(no_low.candidates(t1)) == {"c_hi", "c_lo", "c_mid"}  # c_min is low only


def test_index_is_saved_found_by_key_and_not_rebuilt(packs, tmp_path, monkeypatch):
    env_pack, pool_pack = packs
    embedder = FixedEmbedder(VECTORS)
    pool = [env_pack, pool_pack]
    index_module._loaded.clear()  # built by another test of this process
    first = load_or_build(env_pack, pool, embedder, Thresholds(), cache_dir=tmp_path)
    stored = index_path(tmp_path, env_pack, first.key)
    assert stored.is_file() and json.loads(stored.read_text())["key"] == first.key
    index_module._loaded.clear()  # a new process: only the file is left

    def no_build(*args, **kwargs):
        raise AssertionError("the index was rebuilt instead of read")

    monkeypatch.setattr(index_module, "build_index", no_build)
    again = load_or_build(env_pack, pool, embedder, Thresholds(), cache_dir=tmp_path)
    assert again.key == first.key
    assert {k: {b: v.tolist() for b, v in bands.items()} for k, bands in again.bands.items()} \
        == {k: {b: v.tolist() for b, v in bands.items()} for k, bands in first.bands.items()}
    # Other thresholds are another index: not found, and not built when build=False.
    index_module._loaded.clear()
    with pytest.raises(FileNotFoundError, match="distractors build"):
        load_or_build(env_pack, pool, embedder, Thresholds(high=0.9), cache_dir=tmp_path,
                      build=False)
    # An explicit index file must match the options.
    with pytest.raises(ValueError, match="another pack, pool"):
        load_or_build(env_pack, [env_pack], embedder, Thresholds(), path=stored)
    assert load_index(stored).key == first.key
