"""Fixtures shared by every test package."""

from __future__ import annotations

import pytest

from astra_gym.sandbox import Sandbox


@pytest.fixture(scope="session")
def process_sandbox():
    """One process-isolated sandbox (one worker) shared by the session."""
    sandbox = Sandbox(isolation="process")
    yield sandbox
    sandbox.close()
