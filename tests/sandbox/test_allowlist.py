"""The allowlist is the only source of what tool code can reach, and every entry was reviewed.

These tests enumerate every proxy a session can build and its builtins, so a
member added without an allowlist entry (and a reason) fails here, as does a
``wrapped`` entry that silently became the real stdlib object again.
"""

from __future__ import annotations

import builtins
import importlib
import random
from pathlib import Path

import pytest

from astra_gym.sandbox import Sandbox
from astra_gym.sandbox.allowlist import ALLOWLIST, REMOVED, SAFE, WRAPPED, entries, markdown_table
from astra_gym.sandbox.modules import ALLOWED_MODULES
from astra_gym.sandbox.session import InProcessSession

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sandbox.md"


@pytest.fixture(scope="module")
def session() -> InProcessSession:
    return InProcessSession(seed=3)


def _proxy_members(session: InProcessSession, module: str) -> dict[str, object]:
    proxy = session._modules.get(module)
    assert proxy is not None, module
    return dict(proxy._members)


def test_every_entry_has_a_verdict_and_a_reason():
    for entry in entries():
        assert entry.verdict in (SAFE, WRAPPED, REMOVED), entry
        assert len(entry.reason) >= 10, f"{entry.module}.{entry.name}: give a real reason"


def test_the_importable_modules_are_exactly_the_allowlisted_ones():
    assert set(ALLOWED_MODULES) == set(ALLOWLIST) - {"builtins"}


@pytest.mark.parametrize("module", sorted(set(ALLOWLIST) - {"builtins"}))
def test_proxy_exposes_exactly_the_listed_members(session, module):
    members = _proxy_members(session, module)
    listed = ALLOWLIST[module]
    unlisted = set(members) - set(listed)
    assert not unlisted, f"{module}: {sorted(unlisted)} are exposed without an allowlist entry"
    removed = {name for name, (verdict, _) in listed.items() if verdict == REMOVED}
    assert not removed & set(members), f"{module}: removed names are exposed"
    real = None if module == "copy" else importlib.import_module(module)
    for name, (verdict, _) in listed.items():
        if verdict == REMOVED:
            continue
        if name not in members:
            # Only members the running Python lacks may be missing (e.g. batched on 3.11).
            assert real is not None and not hasattr(real, name), f"{module}.{name} is missing"
            continue
        value = members[name]
        if module == "random" and verdict == SAFE:
            # the session's own generator, never the host module's functions
            assert value.__self__ is session._rng, name
            assert value.__name__ == getattr(random.Random, name).__name__, name
        elif verdict == SAFE:
            assert value is getattr(real, name), f"{module}.{name} is listed safe: the real object"
        elif real is not None and callable(getattr(real, name, None)):
            assert value is not getattr(real, name), (
                f"{module}.{name} is listed as wrapped but is the real stdlib object")


def test_builtins_are_exactly_the_listed_ones(session):
    table = session._base_globals["__builtins__"]
    listed = ALLOWLIST["builtins"]
    exposed = set(table) - {"__import__"}  # the session's own import hook
    assert exposed == {n for n, (v, _) in listed.items() if v != REMOVED}
    for name, (verdict, _) in listed.items():
        if verdict == SAFE:
            assert table[name] is getattr(builtins, name), name
        elif verdict == WRAPPED:
            assert table[name] is not getattr(builtins, name), name
    assert table["__import__"] is not builtins.__import__


@pytest.mark.parametrize(("module", "name"), [
    (entry.module, entry.name) for entry in entries()
    if entry.verdict == REMOVED and entry.module != "builtins"])
def test_removed_members_are_unreachable_from_tool_code(module, name):
    source = f"import {module}\ndef tool():\n    return {module}.{name}\n"
    result = Sandbox(isolation="inprocess").run(source, "tool")
    assert not result.ok
    assert "has no attribute" in result.error


def test_docs_carry_the_current_table():
    text = DOCS.read_text(encoding="utf-8")
    assert markdown_table() in text, (
        "docs/sandbox.md is out of date: paste the output of "
        "`astra-gym sandbox allowlist` into its allowlist section")
