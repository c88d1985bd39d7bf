"""astra-gym: Gymnasium environments for tool-using LLM agents.

Tasks synthesized after ASTRA (arXiv 2601.21558) become episodes whose
``step()`` runs the agent's tool calls in a deterministic sandbox
(:mod:`astra_gym.sandbox`) and pays rule-verified process rewards.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
