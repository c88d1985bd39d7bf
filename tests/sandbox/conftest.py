"""Shared fixtures for the sandbox tests."""

from __future__ import annotations

import pytest

from astra_gym.sandbox import Sandbox


@pytest.fixture(params=["inprocess", "process"])
def any_sandbox(request, process_sandbox):
    """Each test using this runs once per isolation mode."""
    if request.param == "process":
        return process_sandbox
    return Sandbox(isolation="inprocess")
