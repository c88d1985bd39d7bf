"""Adapters for RL trainers' env interfaces, one module per trainer, each an extra.

* :mod:`astra_gym.integrations.skyrl`: a SkyRL-gym text env (``env_class: "astra"``;
  ``pip install "astra-gym[skyrl]"``).
* :mod:`astra_gym.integrations.openenv`: an OpenEnv server and client (``astra-gym serve``;
  ``pip install "astra-gym[openenv]"``).

Nothing here is imported by ``import astra_gym``; each module imports its trainer's
package, and says how to install it when it is missing.
"""
