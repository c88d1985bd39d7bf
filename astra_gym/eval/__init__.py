"""``astra-gym eval``: a model behind an OpenAI-compatible endpoint, over every task of a pack.

Async and concurrent (one event loop, ``concurrency`` episodes in flight, env
steps in one dedicated thread), resumable (``RESULTS_DIR/episodes.jsonl`` gets
one line per episode as it ends; a rerun skips what is there), with a
``summary.json`` of means and confidence intervals, pass@k / pass^k / avg@k
over rollouts, and breakdowns by domain, hop count and language. See
``docs/eval.md``.

Example (not run here; it needs a server)::

    from astra_gym.eval import EvalConfig, evaluate

    config = EvalConfig("astra/demo-v0", "Qwen/Qwen3-8B",
                        base_url="http://localhost:8000/v1", concurrency=32, rollouts=4)
    outcome = evaluate(config, "results/qwen3-8b")
    print(outcome.summary["pass_at_k"])
"""

from .client import ChatClient, EndpointError, ModelReply
from .config import IDENTITY_FIELDS, MODES, EvalConfig, episode_seed
from .runner import EvalOutcome, evaluate, evaluate_async, plan_episodes, summarize_dir
from .stats import mean_ci, pass_at_k, pass_hat_k, summarize_episodes
from .store import ResultsError, ResultsStore, load_episodes

__all__ = [
    "IDENTITY_FIELDS",
    "MODES",
    "ChatClient",
    "EndpointError",
    "EvalConfig",
    "EvalOutcome",
    "ModelReply",
    "ResultsError",
    "ResultsStore",
    "episode_seed",
    "evaluate",
    "evaluate_async",
    "load_episodes",
    "mean_ci",
    "pass_at_k",
    "pass_hat_k",
    "plan_episodes",
    "summarize_dir",
    "summarize_episodes",
]
