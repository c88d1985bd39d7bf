"""`astra-gym report`: a self-contained HTML page, rendered in headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from eval_support import (  # noqa: F401 - fixtures
    _no_openai_env,
    config,
    llm_server_fixture,
    oracle_script,
)

from astra_gym.cli import main
from astra_gym.eval import evaluate
from astra_gym.pack import demo_pack_path

RESULT_FIGURES = {"reward-distribution", "turn-distribution", "calls-per-episode",
                  "request-latency", "success-by-domain", "success-by-hops",
                  "success-by-language", "pass-at-k"}
PACK_FIGURES = {"domains", "hops", "tools-per-task", "tools-by-domain", "languages",
                "subtasks-per-task", "compile"}
TASKS = [f"demo-{d}-00{i}" for d in ("ecommerce", "finance", "health", "travel", "weather")
         for i in (1, 3, 6)]


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    """An eval results directory: 15 tasks x 3 rollouts, some failing."""
    from llm_server import ScriptedLLMServer

    out = tmp_path_factory.mktemp("results")
    wrong = frozenset({"demo-finance-003", "demo-travel-006"})
    with ScriptedLLMServer(oracle_script(wrong=wrong), model="m") as server:
        outcome = evaluate(config(server, task_ids=TASKS, rollouts=3, temperature=0.7,
                                  concurrency=8), out)
    assert outcome.complete
    return out


def figure_names(page: str) -> set[str]:
    return set(re.findall(r'<figure class="astra-figure" data-figure="([^"]+)"', page))


def assert_self_contained(page: str) -> None:
    assert "<link" not in page and "@import" not in page
    assert not re.search(r"<script[^>]*\bsrc\s*=", page)
    # Every src/href points inside the page (#id) or is inline data.
    for match in re.finditer(r'(?:src|href)\s*=\s*"([^"]*)"', page):
        assert match.group(1).startswith(("#", "data:")), match.group(0)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", page)


def test_results_report_has_every_figure_and_table(results_dir, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["report", str(results_dir), "--out", str(out)]) == 0
    assert "8 figures" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert figure_names(page) == RESULT_FIGURES
    assert page.count("<svg") == len(RESULT_FIGURES)
    assert_self_contained(page)
    summary = json.loads((results_dir / "summary.json").read_text())
    assert f"{summary['metrics']['success']['mean']:.3f}" in page
    assert "demo-finance-003" in page  # the hardest tasks table
    assert "Student t over per-task means" in page


def test_report_of_a_killed_run_summarizes_the_episodes(results_dir, tmp_path):
    copy = tmp_path / "killed"
    shutil.copytree(results_dir, copy)
    (copy / "summary.json").unlink()
    out = tmp_path / "report.html"
    assert main(["report", str(copy), "--out", str(out)]) == 0
    assert figure_names(out.read_text(encoding="utf-8")) == RESULT_FIGURES


def test_pack_report_from_a_directory_or_an_env_id(tmp_path):
    by_dir, by_id = tmp_path / "a.html", tmp_path / "b.html"
    assert main(["report", str(demo_pack_path()), "--out", str(by_dir)]) == 0
    assert main(["report", "astra/demo-v0", "--out", str(by_id)]) == 0
    page = by_dir.read_text(encoding="utf-8")
    assert figure_names(page) == PACK_FIGURES
    assert_self_contained(page)
    assert "ecommerce" in page and "66 tasks" in page and "validate" in page
    assert figure_names(by_id.read_text(encoding="utf-8")) == PACK_FIGURES


def test_pack_report_runs_validation_checks_on_request(tmp_path):
    out = tmp_path / "p.html"
    assert main(["report", "astra/demo-v0", "--out", str(out), "--validate", "--checks",
                 "gold", "noop", "--jobs", "1"]) == 0
    page = out.read_text(encoding="utf-8")
    assert figure_names(page) == PACK_FIGURES | {"validation-checks"}
    assert "<td>gold</td>" in page and "<td>noop</td>" in page


def test_unusable_targets_exit_2(tmp_path, capsys):
    assert main(["report", "astra/nope-v0", "--out", str(tmp_path / "x.html")]) == 2
    assert "nope" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty"), "--out", str(tmp_path / "x.html")]) == 2
    assert "neither an eval results directory" in capsys.readouterr().err


def test_without_matplotlib_the_message_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["report", "astra/demo-v0", "--out", str(tmp_path / "x.html")]) == 2
    assert 'pip install "astra-gym[report]"' in capsys.readouterr().err


def test_the_same_data_gives_the_same_page(results_dir, tmp_path):
    first, second = tmp_path / "1.html", tmp_path / "2.html"
    main(["report", str(results_dir), "--out", str(first)])
    main(["report", str(results_dir), "--out", str(second)])
    assert first.read_bytes() == second.read_bytes()


# -- rendered in a real browser -------------------------------------------------------

def find_chromium() -> str:
    """The headless browser; missing is a skip locally, a failure in CI (CI installs it)."""
    for name in (os.environ.get("ASTRA_CHROMIUM"), "chromium", "chromium-browser",
                 "google-chrome", "google-chrome-stable"):
        if name and shutil.which(name):
            return shutil.which(name)
    if os.environ.get("CI"):
        pytest.fail("no headless Chromium found; .ci/run installs the Debian chromium package")
    pytest.skip("no Chromium on this machine (apt-get install chromium)")


def chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([find_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", "--disable-dev-shm-usage", *args],
                          capture_output=True, text=True, timeout=120)


def screenshot(page: Path, png: Path, height: int) -> object:
    from PIL import Image

    done = chromium(f"--screenshot={png}", f"--window-size=1400,{height}", page.as_uri())
    assert png.exists(), done.stderr[-2000:]
    return Image.open(png).convert("RGB")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["results", "pack"])
def test_the_page_renders_in_headless_chromium(results_dir, tmp_path, kind):
    page = tmp_path / "report.html"
    target = str(results_dir) if kind == "results" else "astra/demo-v0"
    assert main(["report", target, "--out", str(page)]) == 0
    expected = RESULT_FIGURES if kind == "results" else PACK_FIGURES
    # The page's own script marks each figure the browser laid out with a real box.
    dom = chromium("--dump-dom", page.as_uri()).stdout
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert f'data-figures="{len(expected)}"' in body
    assert f'data-figures-rendered="{len(expected)}"' in body, body
    assert dom.count('data-rendered="true"') == len(expected)
    # The screenshot is not blank: many colours, and the bars' blue is painted.
    image = screenshot(page, tmp_path / "shot.png", 4000)
    small = image.resize((350, 1000))
    colours = small.getcolors(maxcolors=1 << 20)
    assert len(colours) > 50
    white = sum(count for count, rgb in colours if min(rgb) > 245)
    assert white < 0.9 * 350 * 1000
    pixels = np.asarray(image, dtype=np.int16)
    blue = int((np.abs(pixels - np.array([31, 119, 180])).max(axis=2) < 12).sum())
    assert blue > 20_000  # matplotlib's default blue fills the bars


@pytest.mark.slow
def test_a_blank_page_fails_the_checks(tmp_path):
    """The failing direction: an empty page has no figures and a white screenshot."""
    page = tmp_path / "blank.html"
    page.write_text("<!DOCTYPE html><html><body></body></html>")
    image = screenshot(page, tmp_path / "blank.png", 800)
    colours = image.resize((350, 200)).getcolors(maxcolors=1 << 20)
    assert len(colours) <= 2
