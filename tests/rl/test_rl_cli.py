"""`astra-gym distractors build` writes indices where `gym.make(distractors=...)` finds them."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import pytest
from rl_embedding_server import EmbeddingServer
from rl_packs import write_env_pack, write_pool_pack

from astra_gym.cli import main
from astra_gym.distractors import index as index_module
from astra_gym.distractors import index_path, load_index
from astra_gym.env import AstraEnv


def test_build_into_a_cache_dir_then_the_env_loads_it_without_building(tmp_path, capsys):
    assert main(["distractors", "build", "astra/demo-v0", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("demo: 113 pool tools, 114 in-scope tools, 66 tasks")
    assert '"cache_dir": "' + str(tmp_path) + '"' in out
    files = list((tmp_path / "distractors").glob("demo-*.json"))
    assert len(files) == 1
    index_module._loaded.clear()
    env = gym.make("astra/demo-v0", sandbox={"isolation": "inprocess"},
                   distractors={"k": 3, "cache_dir": str(tmp_path), "build": False})
    try:
        _, info = env.reset(seed=0)
        assert info["distractor_tools"]
        assert env.unwrapped._distractors.index.key == load_index(files[0]).key
    finally:
        env.close()


def test_out_file_and_json_output(tmp_path, capsys):
    target = tmp_path / "demo-index.json"
    assert main(["distractors", "build", "astra/demo-v0", "--out", str(target), "--json",
                 "--high", "0.8", "--low", "0.3"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["index"] == str(target) and target.is_file()
    assert record["distractors"] == {"k": 3, "thresholds": {"high": 0.8, "low": 0.3},
                                     "index": str(target)}
    assert set(record["mean_candidates_per_task"]) == {"high", "medium", "low"}
    index_module._loaded.clear()
    env = gym.make("astra/demo-v0", sandbox={"isolation": "inprocess"},
                   distractors={**record["distractors"], "build": False})
    env.reset(seed=0)
    env.close()
    with pytest.raises(ValueError, match="another pack, pool"):  # other thresholds
        gym.make("astra/demo-v0", distractors={"index": str(target)})


def test_beside_the_pack_with_a_pool(tmp_path, capsys):
    env_pack = write_env_pack(tmp_path / "env")
    pool_pack = write_pool_pack(tmp_path / "pool")
    assert main(["distractors", "build", env_pack, "--pool", env_pack, pool_pack,
                 "--beside-pack"]) == 0
    assert '"pool": [' in capsys.readouterr().out  # not the default pool: the hint names it
    stored = list((tmp_path / "env" / "distractors").glob("rlenv-*.json"))
    assert len(stored) == 1
    index_module._loaded.clear()
    env = AstraEnv(env_pack, sandbox={"isolation": "inprocess"},
                   distractors={"pool": [env_pack, pool_pack], "build": False})
    _, info = env.reset(seed=0, options={"task_id": "finance"})
    assert "forecast_digest" in info["distractor_tools"]
    env.close()


def test_embedding_endpoint_from_the_cli(tmp_path, packs, capsys):
    pytest.importorskip("openai")
    env_pack, pool_pack = packs
    server = EmbeddingServer()
    try:
        code = main(["distractors", "build", str(env_pack.path), "--pool", str(env_pack.path),
                     str(pool_pack.path), "--cache-dir", str(tmp_path), "--embedder", "openai",
                     "--model", "emb", "--base-url", server.base_url, "--api-key", "k",
                     "--json"])
    finally:
        server.close()
    assert code == 0 and server.requests
    record = json.loads(capsys.readouterr().out)
    assert record["distractors"]["embedder"] == {"type": "openai", "model": "emb",
                                                 "base_url": server.base_url}  # no key
    index = load_index(record["index"])
    assert index.meta["embedder"] == "openai:emb"
    assert index_path(tmp_path, env_pack, index.key) == Path(record["index"])


def test_unusable_input_exits_2(tmp_path, capsys):
    assert main(["distractors", "build", "astra/demo-v0", "astra/demo-v0", "--out",
                 str(tmp_path / "x.json")]) == 2
    assert "--out takes one PACK" in capsys.readouterr().err
    assert main(["distractors", "build", "astra/nope-v0"]) == 2
    assert "neither a pack directory nor an astra env id" in capsys.readouterr().err
    assert main(["distractors", "build", "astra/demo-v0", "--embedder", "openai"]) == 2
    assert "needs --model" in capsys.readouterr().err
