"""``python -m astra_gym.validation.digest ENV_ID PACK SEED TASK_ID...``: episode digests.

The validation runner starts this in a separate interpreter with a different
``PYTHONHASHSEED`` and compares its digests with its own: a task whose
transcript depends on the process (hash order, memory addresses) fails
``determinism``. Prints one JSON object, task id → digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

import gymnasium as gym

#: The parent's env kwargs (JSON): an id registered there with options is registered
#: here with the same ones, so both processes digest the same env.
DIGEST_KWARGS_VARIABLE = "ASTRA_GYM_DIGEST_ENV_KWARGS"


def digest_tasks(env_id: str, pack: str, seed: int, task_ids: list[str]) -> dict[str, str]:
    """Hashes of :func:`~astra_gym.validation.checks.episode_digest` per task."""
    from ..registration import ENTRY_POINT, VECTOR_ENTRY_POINT, register_pack
    from .checks import episode_digest

    kwargs = json.loads(os.environ.get(DIGEST_KWARGS_VARIABLE) or "null")
    spec = gym.registry.get(env_id)
    if isinstance(kwargs, dict) and kwargs.get("pack") and (
            spec is None or spec.kwargs != kwargs):
        if spec is not None:
            del gym.registry[env_id]
        gym.register(id=env_id, entry_point=ENTRY_POINT, vector_entry_point=VECTOR_ENTRY_POINT,
                     kwargs=kwargs)
    if env_id not in gym.registry:
        # A custom env class registered only in the parent process: digest the pack's
        # standard env instead (each digest episode runs on a fresh env, so the two
        # agree whenever the custom class is deterministic for a fixed seed).
        env_id = register_pack(pack)
    out = {}
    for task_id in task_ids:
        def make(task_id: str = task_id) -> object:
            return gym.make(env_id, task_ids=[task_id]).unwrapped

        text = episode_digest(make, task_id, seed)  # type: ignore[arg-type]
        out[task_id] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return out


def main(argv: list[str]) -> int:
    env_id, pack, seed, *task_ids = argv
    print(json.dumps(digest_tasks(env_id, pack, int(seed), task_ids)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
