"""The pytest11 plugin: `pytest --astra-pack PACK_DIR`, one test per task x check."""

from __future__ import annotations

import pytest
from broken_packs import write_broken_pack

pytest_plugins = ["pytester"]


def run(pytester, *args):
    # The plugin is loaded through its installed pytest11 entry point.
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_one_test_per_task_and_check(pytester, tmp_path):
    pack = write_broken_pack(tmp_path / "sound", None)
    result = run(pytester, "--astra-pack", str(pack), "--astra-checks", "gold,leakage,noop",
                 "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*astra[[]astra/broken-none-v0[]][[]temps[]][[]gold[]] PASSED*",
                                 "*[[]temps[]][[]leakage[]] PASSED*"])


def test_a_broken_pack_fails_with_the_check_message(pytester, tmp_path):
    pack = write_broken_pack(tmp_path / "leaky-doc", "leaky_description")
    result = run(pytester, "--astra-pack", str(pack), "--astra-checks", "leakage,gold")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*leakage failed on task 'temps'*",
                                 "*'18.5 °C' appears in the tool*"])


def test_not_applicable_skips_and_warnings_pass_with_a_warning(pytester, tmp_path):
    from test_validation import answer_only_pack

    pack = answer_only_pack(tmp_path / "rl")
    result = run(pytester, "--astra-pack", str(pack), "--astra-checks", "gold,leakage", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*not applicable: sub-task(s) get_city_temp#1 have answers*"])
    warned = write_broken_pack(tmp_path / "warned", "seed_dependence")
    result = run(pytester, "--astra-pack", str(warned), "--astra-checks", "seed_dependence")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*AstraCheckWarning: seed_dependence on temps*"])


def test_keyword_selection_and_env_ids(pytester):
    result = run(pytester, "--astra-pack", "astra/demo-v0", "--astra-checks", "gold",
                 "-k", "demo-weather")
    result.assert_outcomes(passed=11)


def test_bad_options_are_usage_errors(pytester, tmp_path):
    result = run(pytester, "--astra-pack", str(tmp_path / "missing"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--astra-pack*"])
    pack = write_broken_pack(tmp_path / "sound", None)
    result = run(pytester, "--astra-pack", str(pack), "--astra-checks", "bogus")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_without_the_option_nothing_is_added(pytester):
    pytester.makepyfile("def test_x():\n    assert True\n")
    run(pytester).assert_outcomes(passed=1)
