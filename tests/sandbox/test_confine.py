"""OS-level confinement of the sandbox worker, tested in real child interpreters.

Each test starts a fresh interpreter with :func:`worker_environment` in an
empty directory, confines it with some layers, and reads back a JSON report of
live probes (what it can still do) and of a worker-like workload run after
confinement (lazy imports, codecs, hashing, pickling over a pipe, the CPU
limit re-arm). Every layer is also tested alone, so a rule lost from one layer
is not hidden by another; a control run with every layer off shows that each
probe does detect the action when nothing stops it.
"""

from __future__ import annotations

import ctypes.util
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from astra_gym.sandbox.confine import (
    SECCOMP_ALLOWED,
    SECCOMP_ALLOWED_IF,
    SECCOMP_DENIED,
    SECCOMP_ERRNO,
    LayerStatus,
    format_report,
    landlock_abi,
    worker_environment,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="OS-level confinement is Linux-only")

# The child: a pipe pair made before confinement (as the worker's), then confine, report,
# and a workload whose imports all happen after confinement.
CHILD = r'''
import ctypes, json, os, sys, traceback
from multiprocessing.connection import Connection
from astra_gym.sandbox.confine import ConfinementOptions, confine_current_process, probe_report

options = json.loads(sys.argv[1])
twice = options.pop("twice", False)
if options.pop("thread_before", False):  # e.g. a BLAS pool started by an import
    import threading
    threading.Thread(target=threading.Event().wait, daemon=True).start()
if "readable_paths" in options:
    options["readable_paths"] = tuple(options["readable_paths"])
read_fd, write_fd = os.pipe()
reader, writer = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
libc = ctypes.CDLL(None, use_errno=True)
LAZY = ("_strptime", "encodings.gbk", "_codecs_cn", "_codecs_jp", "_multibytecodec", "cmath",
        "csv", "_csv", "colorsys")
not_yet_imported = [name for name in LAZY if name not in sys.modules]


def workload():
    import calendar, collections, copy, datetime, decimal, fractions, functools, hashlib
    import itertools, math, random, re, resource, statistics, string, textwrap, time, typing
    import uuid
    import cmath, colorsys, csv  # whatever the sandbox package pre-imports, these it does not
    from RestrictedPython import compile_restricted, safe_builtins

    out = {}
    source = ("import math, json\n"
              "def tool(xs):\n"
              "    return json.dumps([round(math.sqrt(x), 3) for x in xs])\n")
    glb = {"__builtins__": dict(safe_builtins, __import__=__import__),
           "_getiter_": iter, "_getattr_": getattr, "__name__": "tool"}
    exec(compile_restricted(source, "<tool>", "exec"), glb)
    out["restricted"] = glb["tool"]([1, 2, 9])
    out["strptime"] = str(datetime.datetime.strptime("2024-02-29 13:45", "%Y-%m-%d %H:%M"))
    out["hashes"] = {
        name: hashlib.new(name, b"astra").hexdigest(*((8,) if name.startswith("shake") else ()))
        for name in sorted(hashlib.algorithms_guaranteed)}
    samples = {"utf-8": "h\u00e9 \u4f60\u597d", "utf-16": "h\u00e9 \u4f60\u597d",
               "utf-32": "h\u00e9 \u4f60\u597d", "latin-1": "h\u00e9", "cp1252": "h\u00e9 \u20ac",
               "gbk": "\u4f60\u597d", "gb18030": "\u4f60\u597d \u00e9", "big5": "\u4f60\u597d",
               "shift_jis": "\u3053\u3093\u306b\u3061\u306f", "euc_jp": "\u65e5\u672c",
               "euc_kr": "\uc548\ub155"}
    out["codecs"] = {enc: text.encode(enc).decode(enc) == text for enc, text in samples.items()}
    value = {"when": datetime.datetime(2024, 1, 2, 3, 4), "d": decimal.Decimal("1.10"),
             "f": fractions.Fraction(1, 3), "c": collections.Counter("aab"), "t": (1, "x")}
    out["poll_empty"] = reader.poll(0.01)
    writer.send(value)
    out["pickled"] = reader.poll(1.0) and reader.recv() == value
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(usage.ru_utime + usage.ru_stime) + 30
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    out["cpu_soft"] = resource.getrlimit(resource.RLIMIT_CPU)[0] == soft
    out["lazy_modules"] = [cmath.sqrt(-1) == 1j, colorsys.rgb_to_hsv(1, 0, 0)[2] == 1,
                           next(csv.reader(["a,b"])) == ["a", "b"]]
    rng = random.Random(7)
    out["misc"] = [
        statistics.mean([1, 2, 4]) == 7 / 3, math.isclose(math.pi, 3.14159, rel_tol=1e-5),
        len(str(uuid.UUID(int=rng.getrandbits(128), version=4))) == 36,
        len(str(uuid.uuid4())) == 36, textwrap.shorten("a b c d e f", 5) == "[...]",
        calendar.isleap(2024), re.fullmatch(r"\d+", "123") is not None,
        copy.deepcopy([[1]]) == [[1]], string.ascii_lowercase[:3] == "abc",
        list(itertools.islice(itertools.count(), 3)) == [0, 1, 2],
        functools.reduce(int.__add__, [1, 2, 3]) == 6, typing.get_origin(list[int]) is list,
        time.strftime("%Y", time.gmtime(0)) == "1970", time.monotonic() > 0,
    ]
    return out


def refusals():
    import threading
    out = {}
    out["unknown_syscall"] = libc.syscall(1000) == -1 and os.strerror(ctypes.get_errno())
    try:
        os.getpriority(os.PRIO_PROCESS, 0)
        out["unlisted_syscall"] = "allowed"
    except OSError as exc:
        out["unlisted_syscall"] = os.strerror(exc.errno)
    try:
        threading.Thread(target=lambda: None).start()
        out["thread"] = "started"
    except RuntimeError as exc:
        out["thread"] = f"RuntimeError: {exc}"
    return out


layers = confine_current_process(ConfinementOptions(**options))
result = {"layers": {name: [s.state, s.detail] for name, s in layers.items()},
          "report": probe_report(layers)}
if twice:
    again = confine_current_process(ConfinementOptions(**options))
    result["again"] = {name: [s.state, s.detail] for name, s in again.items()}
try:
    result["workload"] = workload()
except BaseException:
    result["workload"] = {"error": traceback.format_exc()}
result["refusals"] = refusals()
result["lazily_imported"] = {
    name: "C" if getattr(sys.modules[name], "__file__", "").endswith(".so") else "Python"
    for name in not_yet_imported if name in sys.modules}
print(json.dumps(result))
'''

ALL_OFF = {"rlimits": False, "no_new_privs": False, "drop_capabilities": False,
           "landlock": False, "seccomp": False, "network_namespace": False}
LANDLOCK_ABI = landlock_abi()


def _strict_reason() -> str | None:
    """Why this machine need not have seccomp, rlimits and the network namespace active."""
    if os.geteuid() != 0:
        return "not root: whether namespaces may be created depends on the machine"
    if ctypes.util.find_library("seccomp") is None:
        return "libseccomp is not installed"
    return None


STRICT_SKIP = _strict_reason()
strict = pytest.mark.skipif(STRICT_SKIP is not None, reason=STRICT_SKIP or "")


def run_child(directory: Path, **options: Any) -> dict[str, Any]:
    """Run CHILD confined with ``options`` in an empty ``directory``; its JSON result."""
    directory.mkdir()
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(options)], cwd=directory,
                          env=worker_environment(), capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert list(directory.iterdir()) == [], "a probe left a file behind"
    return json.loads(proc.stdout)


def assert_workload_ok(result: dict[str, Any]) -> None:
    work = result["workload"]
    assert "error" not in work, work.get("error")
    assert work["restricted"] == "[1.0, 1.414, 3.0]"
    assert work["strptime"] == "2024-02-29 13:45:00"
    assert work["hashes"]["sha256"] == hashlib.sha256(b"astra").hexdigest()
    assert {"blake2b", "blake2s", "sha3_256", "shake_128"} <= set(work["hashes"])
    assert all(work["codecs"].values()), work["codecs"]
    assert work["poll_empty"] is False and work["pickled"] is True
    assert work["cpu_soft"] is True
    assert all(work["misc"]), work["misc"]
    assert set(result["report"]["checks"].values()) == {"works"}, result["report"]["checks"]
    assert all(work["lazy_modules"]), work["lazy_modules"]
    # Pure-Python and C-extension modules were first imported after confinement:
    assert set(result["lazily_imported"].values()) == {"C", "Python"}, result["lazily_imported"]


def blocked(errname: str) -> str:
    return f"blocked ({errname})"


@pytest.fixture(scope="module")
def confined(tmp_path_factory) -> dict[str, Any]:
    """One fully confined child, shared: the parent holds a secret it must not see."""
    os.environ["ASTRA_TEST_SECRET"] = "sk-do-not-leak"
    try:
        return run_child(tmp_path_factory.mktemp("full") / "cwd", twice=True,
                         address_space_bytes=4 << 30)
    finally:
        del os.environ["ASTRA_TEST_SECRET"]


# -- the parent side ----------------------------------------------------------------------------

def test_worker_environment_holds_only_what_the_worker_needs(monkeypatch):
    monkeypatch.setenv("ASTRA_TEST_SECRET", "sk-do-not-leak")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-do-not-leak")
    monkeypatch.setenv("PYTHONPATH", "/opt/extra")
    env = worker_environment({"ASTRA_EXTRA": "1"})
    libraries = {"ASTRA_GYM_LIBC", "ASTRA_GYM_LIBSECCOMP"} & set(env)  # paths, not secrets
    assert set(env) - libraries == {"PYTHONHASHSEED", "TZ", "LC_ALL", "ASTRA_GYM_SANDBOX_WORKER",
                                    "PYTHONPATH", "ASTRA_EXTRA"}
    assert all(Path(env[name]).name.startswith("lib") for name in libraries)
    assert (env["PYTHONHASHSEED"], env["TZ"], env["ASTRA_GYM_SANDBOX_WORKER"]) == ("0", "UTC", "1")
    package_root, extra = env["PYTHONPATH"].split(os.pathsep)
    assert (Path(package_root) / "astra_gym" / "sandbox" / "confine.py").is_file()
    assert extra == "/opt/extra"
    assert "sk-do-not-leak" not in json.dumps(env)


def test_seccomp_tables_are_consistent():
    allowed = {name for names, _ in SECCOMP_ALLOWED.values() for name in names}
    conditional = {name for name, _, _ in SECCOMP_ALLOWED_IF}
    denied = {name for names, _ in SECCOMP_DENIED.values() for name in names}
    assert not allowed & denied and not conditional & denied
    assert not allowed & conditional  # a filtered call must not also be allowed outright
    assert set(SECCOMP_ERRNO) <= denied
    for group, (names, reason) in {**SECCOMP_ALLOWED, **SECCOMP_DENIED}.items():
        assert names and len(reason) > 10, group
    assert not {"socket", "clone", "execve", "kill", "ptrace", "unshare", "io_uring_setup",
                "bpf", "openat2", "setrlimit", "prlimit64", "openat"} & allowed


def test_layer_status_reads_as_a_word_and_a_reason():
    assert str(LayerStatus("active")) == "active"
    assert str(LayerStatus("active", "ABI 7")) == "active (ABI 7)"
    assert str(LayerStatus("unavailable", "no libseccomp")) == "unavailable: no libseccomp"
    assert LayerStatus("active").active and not LayerStatus("failed", "x").active


# -- all layers together ------------------------------------------------------------------------

@strict
def test_every_layer_this_machine_has_is_active(confined):
    layers = confined["layers"]
    for name in ("network_namespace", "rlimits", "no_new_privs", "capabilities", "seccomp"):
        assert layers[name][0] == "active", (name, layers[name])
    if LANDLOCK_ABI:
        assert layers["landlock"][0] == "active", layers["landlock"]
    else:
        assert layers["landlock"][0] == "unavailable", layers["landlock"]
    status = confined["report"]["proc_status"]
    assert (status["Seccomp"], status["Seccomp_filters"], status["NoNewPrivs"]) == ("2", "1", "1")
    assert int(status["CapEff"], 16) == 0


@strict
def test_confined_worker_cannot_do_harm(confined):
    probes = confined["report"]["probes"]
    for name in ("socket_inet", "socket_unix", "connect_loopback", "create_file_cwd",
                 "create_file_tmp", "grow_file", "make_directory", "fork", "exec",
                 "signal_parent", "raise_rlimit_as", "raise_rlimit_nofile"):
        assert probes[name] == blocked("EPERM"), (name, probes[name])  # seccomp answers first
    assert probes["exhaust_descriptors"] == blocked("EMFILE")
    # Landlock's read rule, or (as root) the dropped capabilities, keep the parent's secrets.
    assert probes["read_parent_environ"] == blocked("EACCES")
    assert confined["refusals"]["thread"].startswith("RuntimeError")


@strict
def test_confined_worker_still_runs_tool_code(confined):
    assert_workload_ok(confined)


def test_confined_worker_sees_no_parent_variable_and_an_empty_directory(confined):
    report = confined["report"]
    assert report["environment_keys"] == sorted(worker_environment())
    assert "ASTRA_TEST_SECRET" not in report["environment_keys"]
    assert report["cwd_entries"] == []


def test_confining_again_reports_refusals_instead_of_raising(confined):
    again = confined["again"]
    assert list(again) == list(confined["layers"])
    if confined["layers"]["seccomp"][0] == "active":
        assert not any(state == "active" for state, _ in again.values()), again


def test_report_has_a_line_per_layer_probe_and_check(confined):
    text = format_report(confined["report"])
    lines = text.splitlines()
    for section in ("layers", "probes", "checks"):
        for name, result in confined["report"][section].items():
            assert any(line.split()[:1] == [name] and result in line for line in lines), name
    assert f"Working directory: {confined['report']['cwd']} (empty)" in text
    assert "Environment variables: ASTRA_GYM_" in text and "LC_ALL" in text


# -- each layer alone -----------------------------------------------------------------------------

def test_probes_detect_each_action_when_nothing_blocks_it(tmp_path):
    result = run_child(tmp_path / "cwd", **ALL_OFF)
    probes = result["report"]["probes"]
    for name in ("socket_inet", "socket_unix", "connect_loopback", "create_file_cwd",
                 "create_file_tmp", "grow_file", "make_directory", "fork", "exec",
                 "signal_parent", "read_parent_environ", "exhaust_descriptors"):
        assert probes[name].startswith("ALLOWED"), (name, probes[name])
    assert set(result["layers"]) == {"network_namespace", "rlimits", "no_new_privs",
                                     "capabilities", "landlock", "seccomp"}
    assert {state for state, _ in result["layers"].values()} == {"off"}


@strict
def test_seccomp_alone_blocks_sockets_processes_writes_and_signals(tmp_path):
    result = run_child(tmp_path / "cwd", **{**ALL_OFF, "seccomp": True})
    assert result["layers"]["seccomp"][0] == "active"
    probes = result["report"]["probes"]
    for name in ("socket_inet", "socket_unix", "connect_loopback", "create_file_cwd",
                 "create_file_tmp", "grow_file", "make_directory", "fork", "exec",
                 "signal_parent", "raise_rlimit_nofile"):
        assert probes[name] == blocked("EPERM"), (name, probes[name])
    assert probes["exhaust_descriptors"].startswith("ALLOWED")  # no rlimit: seccomp alone
    assert_workload_ok(result)


@strict
def test_unlisted_and_unknown_syscalls_fail_with_eperm_not_death(tmp_path):
    result = run_child(tmp_path / "cwd", **{**ALL_OFF, "seccomp": True})
    refusals = result["refusals"]  # run_child checked that the child exited normally
    assert refusals["unknown_syscall"] == os.strerror(1)
    assert refusals["unlisted_syscall"] == os.strerror(1)
    assert refusals["thread"].startswith("RuntimeError")  # clone3 ENOSYS, then clone EPERM


def test_rlimits_alone_stop_file_growth_and_descriptor_floods(tmp_path):
    result = run_child(tmp_path / "cwd", **{**ALL_OFF, "rlimits": True})
    assert result["layers"]["rlimits"][0] == "active"
    probes = result["report"]["probes"]
    assert probes["grow_file"] == blocked("EFBIG")  # and SIGXFSZ did not kill the child
    assert probes["exhaust_descriptors"] == blocked("EMFILE")
    assert probes["create_file_cwd"].startswith("ALLOWED")  # rlimits alone: creation is not growth
    if os.geteuid() == 0:
        assert "not enforced for root" in result["layers"]["rlimits"][1]
    assert_workload_ok(result)


@pytest.mark.skipif(LANDLOCK_ABI == 0, reason="the kernel has no Landlock")
def test_landlock_alone_blocks_writes_exec_and_the_parents_proc_files(tmp_path):
    result = run_child(tmp_path / "cwd", **{**ALL_OFF, "landlock": True, "no_new_privs": True})
    assert result["layers"]["landlock"][0] == "active"
    probes = result["report"]["probes"]
    for name in ("create_file_cwd", "create_file_tmp", "grow_file", "make_directory", "exec",
                 "read_parent_environ"):
        assert probes[name] == blocked("EACCES"), (name, probes[name])
    if LANDLOCK_ABI >= 4:
        assert probes["connect_loopback"] == blocked("EACCES")
    if LANDLOCK_ABI >= 6:
        assert probes["signal_parent"] == blocked("EPERM")
    assert probes["socket_inet"].startswith("ALLOWED")  # Landlock alone: sockets are seccomp's
    assert_workload_ok(result)


@pytest.mark.skipif(LANDLOCK_ABI == 0, reason="the kernel has no Landlock")
def test_landlock_readable_paths_narrow_reads(tmp_path):
    result = run_child(tmp_path / "cwd", **{**ALL_OFF, "landlock": True,
                                            "readable_paths": ["/proc/self"]})
    assert result["layers"]["landlock"][0] == "active"
    assert result["report"]["checks"]["lazy_import"].startswith("BROKEN")  # stdlib unreadable
    assert result["report"]["cwd_entries"].startswith("unreadable")


@strict
def test_network_namespace_alone_cuts_the_loopback(tmp_path):
    result = run_child(tmp_path / "cwd", **{**ALL_OFF, "network_namespace": True})
    assert result["layers"]["network_namespace"][0] == "active"
    probes = result["report"]["probes"]
    assert probes["connect_loopback"] == blocked("ENETUNREACH")
    assert probes["socket_inet"].startswith("ALLOWED")


@strict
def test_dropped_capabilities_alone_keep_a_root_parents_environment(tmp_path):
    result = run_child(tmp_path / "cwd", **{**ALL_OFF, "drop_capabilities": True})
    assert result["layers"]["capabilities"][0] == "active"
    assert int(result["report"]["proc_status"]["CapEff"], 16) == 0
    # Reading another process's environ needs every capability that process has.
    assert result["report"]["probes"]["read_parent_environ"] == blocked("EACCES")


@strict
def test_threads_started_before_confinement_are_reported(tmp_path):
    result = run_child(tmp_path / "cwd", thread_before=True)
    layers = result["layers"]
    assert layers["seccomp"][0] == "active"  # loaded on every thread (TSYNC)
    assert layers["rlimits"][0] == "active"  # per process
    for name in ("network_namespace", "no_new_privs", "capabilities", "landlock"):
        if layers[name][0] != "unavailable":
            assert layers[name][0] == "failed" and "threads" in layers[name][1], layers[name]
    assert result["report"]["proc_status"]["Threads"] == "2"
    assert result["report"]["probes"]["socket_inet"] == blocked("EPERM")


def test_the_doctor_report_tells_an_unreadable_directory_from_a_non_empty_one():
    from astra_gym.sandbox.confine import format_report

    def cwd_line(entries: Any) -> str:
        text = format_report({"cwd": "/tmp/w", "cwd_entries": entries})
        return next(line for line in text.splitlines() if line.startswith("Working directory"))

    assert cwd_line([]).endswith("(empty)")
    unreadable = cwd_line("unreadable: Permission denied (EACCES)")
    assert "unreadable: Permission denied" in unreadable and "NOT EMPTY" not in unreadable
    assert "NOT EMPTY: ['secret.txt']" in cwd_line(["secret.txt"])
