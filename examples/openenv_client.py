"""Astra tasks over OpenEnv: ``astra-gym serve`` on one machine, the client on another.

Here both run on this machine: the script starts ``astra-gym serve astra/demo-v0`` on a
free port, then plays two demo tasks with the oracle through
``astra_gym.integrations.openenv.AstraEnvClient`` (OpenEnv's WebSocket session client),
once with OpenAI ``tool_calls`` and once with hermes text the env parses.

Run: ``pip install "astra-gym[openenv]"`` then ``python examples/openenv_client.py``.
On a cluster: ``astra-gym serve astra/demo-v0 --host 0.0.0.0 --port 8100`` on the env
node, and ``AstraEnvClient(base_url="http://envnode:8100")`` in the trainer.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from urllib.request import urlopen

from astra_gym.agents import OracleAgent
from astra_gym.integrations.openenv import AstraAction, AstraEnvClient
from astra_gym.pack import demo_pack_path

with socket.socket() as sock:
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
url = f"http://127.0.0.1:{port}"
server = subprocess.Popen([sys.executable, "-m", "astra_gym.cli", "serve", "astra/demo-v0",
                           "--port", str(port)], stderr=subprocess.DEVNULL)
try:
    for _ in range(300):  # wait for /health
        try:
            with urlopen(f"{url}/health", timeout=1):
                break
        except OSError:
            time.sleep(0.1)

    for task_id, action_format in (("demo-weather-001", "openai"), ("demo-travel-009", "hermes")):
        agent = OracleAgent(demo_pack_path(), action_format=action_format)
        with AstraEnvClient(base_url=url).sync() as client:
            result = client.reset(seed=0, task_id=task_id)
            observation = result.observation
            info = {"task_id": task_id, "tools": observation.tools}
            agent.reset(observation.messages, info)
            total = 0.0
            while not result.done:
                turn = agent.act(observation.messages, info)
                action = (AstraAction(content=turn) if isinstance(turn, str) else
                          AstraAction(content=turn["content"], tool_calls=turn["tool_calls"]))
                result = client.step(action)
                observation = result.observation
                total += result.reward
        print(f"{task_id} ({action_format}): return {total:.2f}, "
              f"success {observation.info['success']}")
finally:
    server.terminate()
    server.wait(timeout=10)
