"""pytest run from the repository root, as a new user runs it (the ``pytest`` script).

The ``pytest`` console script does not put the current directory on ``sys.path``
(``python -m pytest`` does), which ``python -P -m pytest`` reproduces. pytest puts
``tests/`` there instead, so no folder directly under ``tests/`` may carry the name of a
project package: a ``tests/synth/`` (no ``__init__.py``) shadowed the real ``synth`` as a
namespace package, because an editable install resolves ``synth`` after ``sys.path``.
The synthesis tests live in ``tests/pipeline/`` for that reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def repo_pytest(*argv: str) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-P", "-m", "pytest", "-p", "no:cacheprovider",
                           *argv], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=environ)


def test_no_test_folder_is_named_like_a_project_package():
    packages = {"astra_gym", "synth"}
    assert not packages & {path.name for path in (ROOT / "tests").iterdir() if path.is_dir()}


def test_synth_is_the_real_package_not_the_tests_folder():
    import synth

    assert synth.__file__ is not None and Path(synth.__file__) == ROOT / "synth" / "__init__.py"


def test_pytest_from_the_repository_root_imports_the_real_synth():
    result = repo_pytest("-q", f"{Path(__file__).relative_to(ROOT)}::"
                               "test_synth_is_the_real_package_not_the_tests_folder")
    assert result.returncode == 0, result.stdout[-2000:]


def test_astra_pack_from_the_repository_root_runs_only_the_pack_checks():
    listed = repo_pytest("--astra-pack", "generated_envs/demo", "--astra-checks", "gold",
                         "--collect-only", "-q")
    items = [line for line in listed.stdout.splitlines() if "::" in line]
    assert items and all(line.startswith("::astra[astra/demo-v0]") for line in items), \
        [line for line in items if not line.startswith("::astra[")][:5]  # no repository tests
    result = repo_pytest("--astra-pack", "generated_envs/demo", "--astra-checks", "gold",
                         "-k", "demo-weather-001", "-v")
    assert result.returncode == 0, result.stdout[-2000:]
    ran = [line for line in result.stdout.splitlines() if "PASSED" in line or "FAILED" in line]
    assert len(ran) == 1 and "astra[astra/demo-v0][demo-weather-001][gold]" in ran[0]


def test_astra_pack_with_test_paths_runs_those_too():
    listed = repo_pytest("--astra-pack", "generated_envs/demo", "--astra-checks", "gold",
                         "tests/test_progress.py", "--collect-only", "-q")
    items = [line for line in listed.stdout.splitlines() if "::" in line]
    assert any(line.startswith("tests/test_progress.py::") for line in items)
    assert any(line.startswith("::astra[astra/demo-v0]") for line in items)
