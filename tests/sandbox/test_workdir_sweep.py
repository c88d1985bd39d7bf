"""A parent killed with SIGKILL leaves its workers' empty directories; the next one sweeps.

Before this, every killed training run or test process left ``/tmp/astra-sandbox-*``
directories behind for good (a CI run left 16).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap

import pytest

from astra_gym.sandbox import worker


@pytest.fixture
def temp_root(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setitem(worker._swept, "pid", 0)  # this process has not swept yet
    return tmp_path


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_only_directories_of_dead_parents_are_removed(temp_root):
    dead = _dead_pid()
    orphan = temp_root / f"astra-sandbox-{dead}-abc123"
    live = temp_root / f"astra-sandbox-{os.getppid()}-def456"
    mine = temp_root / f"astra-sandbox-{os.getpid()}-ghi789"
    older_format = temp_root / "astra-sandbox-x1y2z3"
    odd = temp_root / "astra-sandbox-²-odd"  # a digit, but not an ASCII pid
    other = temp_root / f"something-{dead}-else"
    for path in (orphan, live, mine, older_format, odd, other):
        path.mkdir()
    orphan.chmod(0o500)  # as a worker's directory is
    worker._sweep_orphaned_workdirs()
    assert not orphan.exists()
    assert all(path.exists() for path in (live, mine, older_format, odd, other))


def test_the_sweep_runs_once_per_process(temp_root):
    worker._sweep_orphaned_workdirs()
    orphan = temp_root / f"astra-sandbox-{_dead_pid()}-later"
    orphan.mkdir()
    worker._sweep_orphaned_workdirs()
    assert orphan.exists()  # a second sweep in the same process does not list /tmp again


def test_a_symlink_named_like_a_workdir_is_not_followed(temp_root):
    target = temp_root / "precious"
    target.mkdir()
    (target / "keep.txt").write_text("data")
    link = temp_root / f"astra-sandbox-{_dead_pid()}-link"
    link.symlink_to(target)
    worker._sweep_orphaned_workdirs()
    assert (target / "keep.txt").read_text() == "data"


def test_a_killed_parent_s_workdir_is_swept_by_the_next_worker(temp_root):
    script = textwrap.dedent("""
        import os, sys, time
        from astra_gym.sandbox import Sandbox
        sandbox = Sandbox(isolation="process")
        session = sandbox.session(seed=0)
        assert session.call("def f():\\n    return 1\\n", "f").ok
        print("ready", flush=True)
        time.sleep(60)
    """)
    env = {**os.environ, "TMPDIR": str(temp_root)}
    child = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        left = [p for p in temp_root.iterdir() if p.name.startswith(f"astra-sandbox-{child.pid}-")]
        assert left, "the parent's worker made no directory"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        assert all(path.exists() for path in left)  # SIGKILL: nobody cleaned up
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
    process = worker.WorkerProcess(memory_mb=256)
    try:
        assert not any(path.exists() for path in left)
    finally:
        process.close()
    assert not [p for p in temp_root.iterdir() if p.name.startswith("astra-sandbox-")]
