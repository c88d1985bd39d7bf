"""Astra tasks in SkyRL: dataset rows, and the gold trajectory through ``skyrl_gym``.

SkyRL makes one env per dataset row with ``skyrl_gym.make(row["env_class"], extras=row)``,
calls ``init(prompt)``, then ``step(model_text)`` until ``done``. Importing
``astra_gym.integrations.skyrl`` registers ``env_class: "astra"``. Here the model is
the oracle, writing hermes ``<tool_call>`` text as a model would.

Run: ``pip install "astra-gym[skyrl]"`` then ``python examples/skyrl_env.py``.
For training, write the rows to parquet (``pandas.DataFrame(rows).to_parquet(...)``)
and point SkyRL's ``data.train_data`` at it.
"""

from __future__ import annotations

import skyrl_gym

from astra_gym.agents import OracleAgent
from astra_gym.integrations.skyrl import skyrl_rows
from astra_gym.pack import demo_pack_path

rows = skyrl_rows("astra/demo-v0", task_ids=["demo-weather-001", "demo-travel-009"])
print(f"{len(rows)} rows; env_class={rows[0]['env_class']!r}, "
      f"extra_info={rows[0]['extra_info']}")

for row in rows:
    env = skyrl_gym.make(row["env_class"], extras=row)
    agent = OracleAgent(demo_pack_path(), action_format="hermes")
    observation, info = env.init(row["prompt"])
    agent.reset(observation, info)
    while True:
        out = env.step(agent.act(observation, info))
        if out["done"]:
            break
        observation = out["observations"]  # one user message of <tool_response> blocks
    print(row["extra_info"]["task_id"], env.get_metrics())
    env.close()
