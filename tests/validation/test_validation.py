"""The validation checks: the demo pack passes all; each broken pack fails exactly one."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest
from broken_packs import BROKEN, LeakyEnv, write_broken_pack

from astra_gym.cli import main
from astra_gym.validation import CHECKS, CheckOptions, validate

FAST = CheckOptions(max_examples=10)


def failing(report):
    assert not [r for r in report.results if r.status == "errored"], [
        (r.check, r.message) for r in report.results if r.status == "errored"]
    return {r.check for r in report.results if r.status == "failed"}


def test_the_sound_pack_passes_every_check(tmp_path):
    report = validate(write_broken_pack(tmp_path / "sound", None), options=FAST)
    assert failing(report) == set() and report.ok
    assert {r.check for r in report.results} == set(CHECKS)


@pytest.mark.parametrize("defect", list(BROKEN))
def test_each_broken_pack_fails_exactly_its_check(tmp_path, defect):
    report = validate(write_broken_pack(tmp_path / defect, defect), options=FAST)
    assert failing(report) == {defect}, [(r.check, r.message) for r in report.results
                                         if r.status != "passed"]
    message = next(r.message for r in report.results if r.check == defect)
    expected = {"gold": "unsolved: 2 (answer '5.5 °C'", "leakage": "'18.5 °C' appears in the tool",
                "determinism": "different episode seeds", "fuzz": "KeyError",
                "schema_agreement": "schema property 'units' is not a parameter"}[defect]
    assert expected in message, message


def test_state_leaking_across_resets_fails_isolation_only(tmp_path):
    pack = write_broken_pack(tmp_path / "leaky", None)
    gym.register(id="astra-test/leaky-v0", entry_point=LeakyEnv, kwargs={"pack": str(pack)})
    try:
        report = validate("astra-test/leaky-v0", options=FAST)
    finally:
        del gym.registry["astra-test/leaky-v0"]
    assert failing(report) == {"isolation"}
    message = next(r.message for r in report.results if r.check == "isolation")
    assert "leaked into the next one" in message


@pytest.mark.slow
def test_demo_pack_passes_every_check():
    report = validate("astra/demo-v0", jobs=2)
    assert failing(report) == set()
    assert len(report.results) == len(CHECKS) * 66


def test_cli_json_lines_exit_codes_and_manifest(tmp_path, capsys):
    sound = write_broken_pack(tmp_path / "sound", None)
    assert main(["validate", str(sound), "--checks", "gold,leakage", "noop", "--json",
                 "--jobs", "1", "--write-manifest"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["task_id"], line["check"], line["status"]) for line in lines[:-1]] == [
        ("temps", "gold", "passed"), ("temps", "leakage", "passed"), ("temps", "noop", "passed")]
    assert lines[-1]["ok"] is True and lines[-1]["summary"]["gold"]["passed"] == 1
    manifest = json.loads((sound / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["validation"]["checks"]["leakage"] == {"passed": 1, "failed": 0,
                                                          "errored": 0}

    broken = write_broken_pack(tmp_path / "gold", "gold")
    assert main(["validate", str(broken), "--checks", "gold", "--jobs", "1"]) == 1
    out = capsys.readouterr().out
    assert "FAILED gold temps:" in out and "gold                   0      1" in out
    assert main(["validate", "astra/nope-v0"]) == 2
    assert main(["validate", str(broken), "--checks", "bogus"]) == 2
    assert "unknown check" in capsys.readouterr().err
