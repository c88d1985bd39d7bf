"""Recompile the embedded demo pack and its pip-installable twin from their source rows.

Run after anything that changes compiled output (the sandbox's ``POLICY_VERSION``,
the compiler, the manifest format)::

    python scripts/recompile_demo.py

``tests/test_demo_pack.py`` fails until the shipped copies equal a fresh compile.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from astra_gym.pack import demo_pack_path
from synth.compiler import compile_files

ROOT = Path(__file__).resolve().parent.parent
TWIN = ROOT / "generated_envs" / "demo"


def main() -> int:
    embedded = demo_pack_path()
    shipped = json.loads((embedded / "manifest.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        result = compile_files(sorted((TWIN / "source").glob("*.jsonl")), "demo", out, jobs=2,
                               progress=False, description=shipped.get("description"))
        if result.rejected:
            print(f"{result.rejected} rows rejected; shipped copies left unchanged",
                  file=sys.stderr)
            return 1
        for name in ("tasks.jsonl", "manifest.json"):
            shutil.copyfile(out / name, embedded / name)
            shutil.copyfile(out / name, TWIN / name)
        for name in ("pyproject.toml", "__init__.py", "report.json"):
            shutil.copyfile(out / name, TWIN / name)
    print(f"recompiled {embedded} and {TWIN}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
