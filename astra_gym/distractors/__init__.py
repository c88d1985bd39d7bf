"""Banded irrelevant-tool mixing (ASTRA §B.2, paper Eqs. 24–28).

Each episode's tool list gets tools the task does not need, drawn from three
bands of similarity to the tools it does need: high (look-alikes the agent
must tell apart), medium and low. The paper's ablation: no distractors is
the worst setting; random ones are better; banded ones are best.

- :mod:`.pool`: the pool (tools of one or more packs, one per name, with domains).
- :mod:`.embedders`: a numpy TF-IDF default and an OpenAI-compatible endpoint.
- :mod:`.bands`: min-max normalisation and the band edges.
- :mod:`.index`: the precomputed, cached band index (``astra-gym distractors build``).
- :mod:`.mixer`: what ``gym.make(id, distractors={...})`` uses at each reset.

Example:
    >>> import gymnasium as gym
    >>> import astra_gym
    >>> env = gym.make("astra/demo-v0", distractors={"k": 1}, sandbox={"isolation": "inprocess"})
    >>> _, info = env.reset(seed=1)
    >>> sorted(info["distractor_bands"])  # up to k per band
    ['high', 'low', 'medium']
    >>> set(info["distractor_tools"]) <= {t["function"]["name"] for t in info["tools"]}
    True
    >>> env.close()
"""

from .bands import BANDS, Thresholds, band_members, normalize_row
from .embedders import (
    Embedder,
    OpenAIEmbedder,
    TfidfEmbedder,
    default_cache_dir,
    embedder_from_options,
)
from .index import DistractorIndex, build_index, index_key, index_path, load_index, load_or_build
from .mixer import DISTRACTOR_OPTIONS, DistractorMixer
from .pool import PoolTool, collect_pool, pool_packs, resolve_pack, tool_document

__all__ = [
    "BANDS",
    "DISTRACTOR_OPTIONS",
    "DistractorIndex",
    "DistractorMixer",
    "Embedder",
    "OpenAIEmbedder",
    "PoolTool",
    "TfidfEmbedder",
    "Thresholds",
    "band_members",
    "build_index",
    "collect_pool",
    "default_cache_dir",
    "embedder_from_options",
    "index_key",
    "index_path",
    "load_index",
    "load_or_build",
    "normalize_row",
    "pool_packs",
    "resolve_pack",
    "tool_document",
]
