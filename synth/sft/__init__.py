"""SFT trajectories: tool sources to tasks (part 1), then rollouts, judgements and export (part 2).

ASTRA's SFT half (research/astra.md §C), on the env-synthesis machinery (the
cached, fail-closed :class:`synth.llm.LLMClient`, resumable journals and views,
offline replay, ``--retry-failed``, local and Ray executors):

* :mod:`~synth.sft.sources`, :mod:`~synth.sft.mcp_harvest`: tool sources
  (ASTRA ``mcp_servers.jsonl`` rows, ``{server, tools}`` JSON rows, live MCP
  servers) as raw servers;
* :mod:`~synth.sft.normalize`: OpenAI function schemas, the filters with
  reason codes, duplicates, the report;
* :mod:`~synth.sft.graph`: the LLM-proposed weighted tool graph per server;
* :mod:`~synth.sft.walks`: seeded, length-bounded, weight-biased random walks;
* :mod:`~synth.sft.verify`: majority vote and back-translation as filters;
* :mod:`~synth.sft.tasks`, :mod:`~synth.sft.checks`: chain-conditioned and
  server-only tasks, with their rules checked;
* :mod:`~synth.sft.augment`, :mod:`~synth.sft.personas`: diverse,
  complicate and persona variations;
* :mod:`~synth.sft.score`: 1–5 scores and the thresholds;
* :mod:`~synth.sft.rollout`, :mod:`~synth.sft.backends`,
  :mod:`~synth.sft.emulator`, :mod:`~synth.sft.inject`: part 2, an agent
  rolled out against real MCP tools, emulated tools or astra env packs, with
  seeded failure injection;
* :mod:`~synth.sft.judges`: the seven fail-closed LLM judges;
* :mod:`~synth.sft.export`: SFT data (``messages``, ``tools``, ``metadata``)
  with grammar validation, dedupe, a split and a card;
* :mod:`~synth.sft.runner`, :mod:`~synth.sft.executors`,
  :mod:`~synth.sft.trajectory_executors`,
  :mod:`~synth.sft.stats`, :mod:`~synth.sft.cli`: the run, its files, and
  ``astra-gym sft``.

docs/sft.md documents part 1 and every output format; docs/sft_rollouts.md
documents part 2.
"""

__all__ = ["FILES", "LLM_STAGES", "SFT_STAGES"]

SFT_STAGES: tuple[str, ...] = ("harvest", "graph", "walks", "verify", "tasks", "augment",
                               "score", "rollout", "judge")
"""Every SFT stage, in pipeline order."""

LLM_STAGES: tuple[str, ...] = ("graph", "verify", "tasks", "augment", "score", "rollout",
                                "judge")
"""The stages that call the model."""

FILES = {name: f"{index:02d}_{name}" for index, name in enumerate(SFT_STAGES, start=1)}
"""The file stem of each stage (``01_harvest``...)."""
