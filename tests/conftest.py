"""Fixtures and settings shared by every test package."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from astra_gym.sandbox import Sandbox

# --doctest-modules (pyproject addopts) would also import this file as a test module,
# by the plain name "conftest"; a package sorted before it with its own conftest.py
# (tests/bfcl) is already in sys.modules under that name, and pytest stops with an
# "import file mismatch". This file has no doctests: leave it to the conftest loader.
collect_ignore = ["conftest.py"]

# CI runs hypothesis derandomized (ASTRA_HYPOTHESIS_PROFILE=ci in .ci/run): a red CI
# must mean a regression, not an unlucky draw. Locally the default profile keeps
# exploring new examples on every run.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile(os.environ.get("ASTRA_HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def process_sandbox():
    """One process-isolated sandbox with a private one-worker pool, shared by the session."""
    sandbox = Sandbox(isolation="process", pool=1)
    yield sandbox
    sandbox.close()
