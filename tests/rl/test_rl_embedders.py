"""Embedders: the TF-IDF default separates topics; the endpoint one talks HTTP and caches."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from rl_embedding_server import EmbeddingServer
from rl_packs import VECTORS, FixedEmbedder

from astra_gym.distractors import (
    OpenAIEmbedder,
    TfidfEmbedder,
    Thresholds,
    build_index,
    collect_pool,
    embedder_from_options,
    tool_document,
)
from astra_gym.pack import Pack, demo_pack_path


def test_default_embedder_puts_weather_tools_nearer_each_other_than_finance():
    pool = collect_pool([Pack(demo_pack_path())])
    vectors = TfidfEmbedder().embed([tool_document(item.tool) for item in pool])
    similarity = vectors @ vectors.T
    weather = [i for i, item in enumerate(pool) if item.domains == {"weather"}]
    finance = [i for i, item in enumerate(pool) if item.domains == {"finance"}]
    assert len(weather) >= 10 and len(finance) >= 10

    def mean(i: int, group: list[int]) -> float:
        return float(np.mean([similarity[i, j] for j in group if j != i]))

    # Every weather tool is nearer (on average) to the other weather tools than to finance
    # tools, and the other way round.
    assert all(mean(i, weather) > mean(i, finance) for i in weather)
    assert all(mean(i, finance) > mean(i, weather) for i in finance)
    within = np.mean([mean(i, weather) for i in weather])
    across = np.mean([mean(i, finance) for i in weather])
    assert within > 2 * across


def test_tfidf_is_deterministic_and_unit_length():
    docs = ["get_weather for a city", "getStockQuote of a ticker", ""]
    first, second = TfidfEmbedder().embed(docs), TfidfEmbedder().embed(docs)
    assert np.array_equal(first, second)
    assert np.linalg.norm(first[0]) == pytest.approx(1.0) and not first[2].any()
    assert TfidfEmbedder.words("getStockQuote") == ["get", "stock", "quote"]
    with pytest.raises(ValueError):
        TfidfEmbedder(word_ngrams=(2, 1))


def test_embedder_options():
    assert isinstance(embedder_from_options(None), TfidfEmbedder)
    assert embedder_from_options({"type": "tfidf", "max_features": 10}).max_features == 10
    endpoint = embedder_from_options({"type": "openai", "model": "m"}, cache_dir="/tmp/x")
    assert isinstance(endpoint, OpenAIEmbedder) and str(endpoint.cache_dir) == "/tmp/x"
    with pytest.raises(ValueError, match="unknown embedder"):
        embedder_from_options({"type": "bert"})


@pytest.fixture
def embedding_server():
    server = EmbeddingServer()
    yield server
    server.close()


def test_endpoint_embedder_over_http_with_a_disk_cache(embedding_server, packs, tmp_path):
    pytest.importorskip("openai")
    env_pack, pool_pack = packs
    embedder = OpenAIEmbedder("Qwen/Qwen3-Embedding-8B", base_url=embedding_server.base_url,
                              api_key="test", cache_dir=tmp_path, batch_size=4, max_retries=0)
    index = build_index(env_pack, [env_pack, pool_pack], embedder)
    requests = embedding_server.requests
    assert requests and all(r["path"] == "/v1/embeddings" for r in requests)
    assert all(r["body"]["model"] == "Qwen/Qwen3-Embedding-8B" for r in requests)
    assert all(len(r["body"]["input"]) <= 4 for r in requests)
    sent = [text for r in requests for text in r["body"]["input"]]
    assert len(sent) == len(set(sent)) == len(VECTORS)   # each document once
    # The same bands as the same vectors given directly.
    direct = build_index(env_pack, [env_pack, pool_pack], FixedEmbedder(VECTORS))
    assert {k: {b: v.tolist() for b, v in bands.items()} for k, bands in index.bands.items()} \
        == {k: {b: v.tolist() for b, v in bands.items()} for k, bands in direct.bands.items()}
    # A rebuild reads every vector from the cache: nothing is sent.
    before = len(requests)
    again = OpenAIEmbedder("Qwen/Qwen3-Embedding-8B", base_url=embedding_server.base_url,
                           api_key="test", cache_dir=tmp_path)
    build_index(env_pack, [env_pack, pool_pack], again, Thresholds())
    assert len(requests) == before and again.requests == 0
    assert list((tmp_path / "embeddings").rglob("*.npy"))


def test_openai_is_imported_only_when_the_endpoint_is_used():
    code = ("import sys, gymnasium as gym, astra_gym, astra_gym.distractors, astra_gym.training\n"
            "env = gym.make('astra/demo-v0', distractors={'k': 1}, failures={'p': 0.5},\n"
            "               sandbox={'isolation': 'inprocess'})\n"
            "env.reset(seed=0)\n"
            "print('openai' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
