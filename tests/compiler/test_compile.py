"""End to end: files in, pack + report out, through the API and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from compiler_rows import rl_row, step4_row, step5_row, write_jsonl

from astra_gym.cli import main
from astra_gym.pack import Pack, PackFormatError
from synth.compiler import InputError, compile_files


def mixed_rows():
    bad = step4_row("row-bad")
    bad["decomposition_trace"][0]["sub_answer"] = "not in any result"
    return [step4_row("row-a"), step5_row("row-m"), rl_row(), bad, step4_row("row-a")]


@pytest.fixture
def mixed_input(tmp_path):
    return write_jsonl(tmp_path / "mixed.jsonl", mixed_rows())


def test_compile_mixed_shapes_writes_pack_report_and_packaging(tmp_path, mixed_input):
    out = tmp_path / "pack"
    result = compile_files([mixed_input], "mixed", out, progress=False)
    assert (result.compiled, result.rejected) == (3, 2)
    for name in ("tasks.jsonl", "manifest.json", "report.json", "pyproject.toml", "__init__.py"):
        assert (out / name).is_file(), name

    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    entries = report["entries"]
    assert [e["source"] for e in entries] == [f"mixed.jsonl:{n}" for n in range(1, 6)]
    assert [e["status"] for e in entries] == ["compiled", "compiled", "compiled", "rejected",
                                              "rejected"]
    assert [e["uuid"] for e in entries] == ["row-a", "row-m", None, "row-bad", "row-a"]
    assert entries[0]["task_id"] == "row-a" and entries[3]["task_id"] == "row-bad"
    assert [e["shape"] for e in entries] == ["step4", "step5", "rl", "step4", "step4"]
    assert "does not contain the gold answer" in entries[3]["reasons"][0]
    assert entries[4]["reasons"] == ["task_id 'row-a' was already compiled from mixed.jsonl:1"]
    assert report["rejection_reasons"] == {"answer": 1, "duplicate": 1}

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["task_count"] == 3 and manifest["name"] == "mixed"
    assert manifest["domains"] == {"finance": 2, "general": 1}
    assert manifest["hop_histogram"] == {"1": 2, "3": 1}
    assert manifest["validation"]["rows"] == 5 and manifest["validation"]["rejected"] == 2
    assert manifest["validation"]["gold_calls_replayed"] == 4
    assert manifest["sources"] == ["mixed.jsonl"]


def test_compile_warns_about_answer_only_tasks(tmp_path, mixed_input, capsys):
    result = compile_files([mixed_input], "mixed", tmp_path / "pack", progress=False)
    rl_task = next(o.task_id for o in result.outcomes if o.shape == "rl")
    assert result.answer_only == [rl_task]
    (warning,) = result.warnings
    assert "answer-only sub-tasks" in warning and "`gold` as not applicable" in warning
    report = json.loads((tmp_path / "pack" / "report.json").read_text(encoding="utf-8"))
    assert report["warnings"] == [warning] and report["answer_only_tasks"] == [rl_task]
    assert f"warning: {warning}" in result.summary()
    assert main(["compile", mixed_input, "--name", "mixed", "--out", str(tmp_path / "o"),
                 "--jobs", "1"]) == 0
    assert "answer-only sub-tasks" in capsys.readouterr().out
    only_step4 = write_jsonl(tmp_path / "step4.jsonl", [step4_row("row-a")])
    assert compile_files([only_step4], "s4", tmp_path / "s4", progress=False).warnings == []


def test_pack_round_trip(tmp_path, mixed_input, process_sandbox):
    from synth.compiler import SourceRow, compile_row

    out = tmp_path / "pack"
    compile_files([mixed_input], "mixed", out, progress=False)
    pack = Pack(out)
    assert pack.task_ids[0] == "row-a" and len(pack) == 3
    expected = compile_row(SourceRow("mixed.jsonl", 1, step4_row("row-a")), process_sandbox).task
    assert pack.task("row-a") == expected
    assert [t.task_id for t in pack] == list(pack.task_ids)


def test_json_document_input_is_accepted(tmp_path):
    path = tmp_path / "step5.json"
    path.write_text(json.dumps([step5_row("one"), step5_row("two")], indent=4), encoding="utf-8")
    single = tmp_path / "single.json"
    single.write_text(json.dumps(step4_row("three"), indent=4), encoding="utf-8")
    result = compile_files([path, single], "docs", tmp_path / "out", progress=False)
    assert [o.source for o in result.outcomes] == ["step5.json:1", "step5.json:2", "single.json:1"]
    assert result.compiled == 3


def test_output_is_byte_identical_across_runs_and_job_counts(tmp_path, mixed_input):
    outputs = []
    for run, jobs in enumerate([1, 1, 2]):
        out = tmp_path / f"out{run}"
        compile_files([mixed_input], "mixed", out, jobs=jobs, progress=False)
        outputs.append(((out / "tasks.jsonl").read_bytes(), (out / "manifest.json").read_bytes(),
                        (out / "report.json").read_bytes()))
    assert outputs[0] == outputs[1] == outputs[2]


def test_task_file_change_after_compile_is_detected(tmp_path, mixed_input):
    out = tmp_path / "pack"
    compile_files([mixed_input], "mixed", out, progress=False)
    tasks = out / "tasks.jsonl"
    tasks.write_text(tasks.read_text(encoding="utf-8").replace("ACME", "ACNE"), encoding="utf-8")
    with pytest.raises(PackFormatError, match="content_hash"):
        _ = Pack(out).task_ids


def test_cli_compile_exit_codes_and_summary(tmp_path, mixed_input, capsys):
    out = tmp_path / "cli"
    assert main(["compile", mixed_input, "--name", "mixed", "--out", str(out), "--jobs", "1",
                 "--version", "2"]) == 0
    printed = capsys.readouterr().out
    assert "compiled 3 of 5 rows into pack 'mixed' v2" in printed
    assert "answer: 1" in printed and "duplicate: 1" in printed
    assert Pack(out).version == 2

    assert main(["compile", str(tmp_path / "missing.jsonl"), "--name", "x", "--out",
                 str(out)]) == 2
    assert "input file not found" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    assert main(["compile", str(empty), "--name", "x", "--out", str(out)]) == 2
    assert "no rows" in capsys.readouterr().err
    assert main(["compile", mixed_input, "--name", "Bad Name", "--out", str(out)]) == 2
    assert "invalid pack name" in capsys.readouterr().err


def test_garbage_lines_are_rejected_rows_not_a_failed_run(tmp_path):
    path = tmp_path / "messy.jsonl"
    path.write_text(json.dumps(step4_row()) + "\n{truncated\n\n" + json.dumps([1]) + "\n",
                    encoding="utf-8")
    result = compile_files([path], "messy", tmp_path / "out", progress=False)
    assert [(o.source, o.status) for o in result.outcomes] == [
        ("messy.jsonl:1", "compiled"), ("messy.jsonl:2", "rejected"),
        ("messy.jsonl:4", "rejected")]
    assert "not valid JSON" in result.outcomes[1].reasons[0].message


def test_non_utf8_input_is_unusable(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes('{"main_question": "café"}\n'.encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        compile_files([path], "x", tmp_path / "out", progress=False)


def test_recompiling_keeps_unrelated_files_in_the_output(tmp_path, mixed_input):
    out = tmp_path / "pack"
    (out / "source").mkdir(parents=True)
    (out / "source" / "keep.jsonl").write_text("{}\n", encoding="utf-8")
    compile_files([mixed_input], "mixed", out, progress=False)
    assert (out / "source" / "keep.jsonl").read_text(encoding="utf-8") == "{}\n"


@pytest.mark.slow
def test_compiled_pack_pip_installs_and_registers_its_entry_point(tmp_path, mixed_input):
    out = tmp_path / "pack"
    compile_files([mixed_input], "mixed-pack", out, version=3, progress=False)
    target = tmp_path / "site"
    # Offline: build with the setuptools of this environment (a dev dependency).
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target), str(out)],
                   check=True, capture_output=True, text=True)
    assert (target / "astra_pack_mixed_pack" / "tasks.jsonl").is_file()
    # From the installed copy alone: discovery at `import astra_gym`, then gym.make and a
    # whole oracle episode through the registered id.
    probe = ("import json\n"
             "import gymnasium as gym\n"
             "import astra_gym\n"
             "from astra_gym.agents import OracleAgent\n"
             "from astra_gym.pack import Pack, installed_packs\n"
             "from astra_gym.runner import run_episode\n"
             "packs = installed_packs()\n"
             "pack = Pack(packs['mixed-pack'])\n"
             "env = gym.make('astra/mixed-pack-v3')\n"
             "result = run_episode(env, OracleAgent(env.unwrapped.pack), seed=0, "
             "task_id='row-m')\n"
             "print(json.dumps([str(packs['mixed-pack']), pack.name, pack.version, len(pack),"
             " pack.task('row-m').tools[0].name, str(env.unwrapped.pack.path), result.reward,"
             " result.success]))\n"
             "env.close()\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), *sys.path])}
    shutil.rmtree(out)  # the installed copy must stand on its own
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, check=True, cwd=tmp_path)
    path, name, version, count, tool, made, reward, success = json.loads(done.stdout)
    assert Path(path) == target / "astra_pack_mixed_pack" == Path(made)
    assert (name, version, count, tool) == ("mixed-pack", 3, 3, "get_stock_price")
    assert reward == 1.0 and success is True


def test_cli_compile_exits_1_with_the_main_reasons_when_nothing_compiles(tmp_path):
    path = tmp_path / "bad.jsonl"
    broken = step4_row("row-broken")
    broken["decomposition_trace"] = "not a trace"
    path.write_text("{truncated\n" + json.dumps([1]) + "\n" + json.dumps(broken) + "\n",
                    encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "astra_gym.cli", "compile", str(path),
                             "--name", "bad", "--out", str(tmp_path / "out"), "--jobs", "1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "no row compiled (3 rejected)" in result.stderr
    reasons = [line for line in result.stderr.splitlines() if line.startswith("  ")]
    assert reasons and all(" x" in line and "e.g." in line for line in reasons)
    assert "bad.jsonl:1" in result.stderr  # an example names the row to look at


def test_cli_compile_prints_the_main_reasons_when_some_rows_are_rejected(tmp_path, mixed_input,
                                                                         capsys):
    assert main(["compile", mixed_input, "--name", "mixed", "--out", str(tmp_path / "o"),
                 "--jobs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "main rejection reasons:" in printed and "duplicate x1: e.g." in printed


@pytest.mark.parametrize("question, language", [
    ("ACMEの株10株はいくらですか？", "ja"),
    ("ACME 주식 10주는 얼마인가요?", "ko"),
    ("我的 10 股 ACME 值多少钱？", "zh"),
])
def test_compiled_language_tells_japanese_and_korean_from_chinese(tmp_path, question, language):
    row = step4_row()
    row["main_question"] = question
    row["_metadata"] = {"domain": "finance"}  # no language given: detected from the question
    path = write_jsonl(tmp_path / "rows.jsonl", [row])
    result = compile_files([path], "lang", tmp_path / "pack", progress=False)
    assert result.compiled == 1, [o.reasons for o in result.outcomes]
    pack = Pack(tmp_path / "pack")
    assert pack.task(pack.task_ids[0]).language == language
