"""astra-gym: Gymnasium environments for tool-using LLM agents.

Tasks synthesized after ASTRA (arXiv 2601.21558) become episodes whose
``step()`` runs the agent's tool calls in a deterministic sandbox
(:mod:`astra_gym.sandbox`) and pays rule-verified process rewards
(:mod:`astra_gym.rewards`).

Importing the package registers ``astra/demo-v0`` and an env id for every
pack installed in the ``astra_gym.packs`` entry-point group:

    >>> import gymnasium as gym
    >>> import astra_gym
    >>> "astra/demo-v0" in gym.registry
    True
"""

import os as _os

__version__ = "0.1.0"

__all__ = ["__version__", "make_vec", "register_pack"]

# The sandbox worker process imports this package only for the sandbox; it
# sets this variable so its start-up skips gymnasium and pack discovery.
if not _os.environ.get("ASTRA_GYM_SANDBOX_WORKER"):
    from .registration import register_installed_packs, register_pack
    from .vector import make_vec

    register_installed_packs()
