"""``astra-gym serve``: an env or pack as an OpenEnv server (HTTP + WebSocket sessions)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_serve_command"]


def add_serve_command(commands: Any) -> argparse.ArgumentParser:
    """Add the ``serve`` subcommand to ``astra-gym``'s subparsers."""
    parser = commands.add_parser(
        "serve", help="serve an env or pack over OpenEnv (HTTP and WebSocket sessions)",
        description="Serve an astra env as an OpenEnv environment, so trainers and clients "
                    "on other machines can play its tasks (OpenEnv's EnvClient, or "
                    "astra_gym.integrations.openenv.AstraEnvClient). Each WebSocket session "
                    "gets its own env. Needs openenv-core (pip install \"astra-gym[openenv]\"). "
                    "Exits 2 for an unusable target or options.")
    parser.add_argument("target", metavar="ENV_ID|PACK_DIR")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 for every "
                             "interface: the tools run in the sandbox, but anyone who can reach "
                             "the port can play)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--max-sessions", type=int, default=64,
                        help="concurrent WebSocket sessions (default 64)")
    parser.add_argument("--env-kwargs", default="{}", metavar="JSON",
                        help="gym.make keyword arguments of every session's env")
    parser.set_defaults(handler=run_serve_command)
    return parser


def run_serve_command(args: argparse.Namespace) -> int:
    """The handler of ``astra-gym serve``."""
    try:
        env_kwargs = json.loads(args.env_kwargs)
        if not isinstance(env_kwargs, dict):
            raise ValueError("--env-kwargs must be a JSON object")
        from .openenv import make_app

        app = make_app(args.target, env_kwargs=env_kwargs, max_sessions=args.max_sessions)
    except (ValueError, TypeError, KeyError, ImportError) as exc:
        print(f"astra-gym serve: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    import uvicorn

    print(f"astra-gym serve: {args.target} on http://{args.host}:{args.port} (OpenEnv: "
          "/ws sessions, /reset, /step, /state, /schema, /health)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
