"""Trusted backends: only allowlisted classes, only public methods, JSON arguments, no eval."""

from __future__ import annotations

import pytest

pytest.importorskip("bfcl_eval", reason='needs: python -m pip install --no-deps '
                    '"bfcl-eval==2026.3.23" mpmath')

import json
import os

from astra_gym.bfcl.backend import (
    ERROR_PREFIX,
    BackendInstances,
    BackendUnavailable,
    UntrustedBackendError,
    is_json_data,
    load_class,
    render_result,
)
from astra_gym.env import AstraEnv
from astra_gym.pack import Backend, BackendClass, Pack, Task, write_pack

PREFIX = "bfcl_eval.eval_checker.multi_turn_eval.func_source_code"
FS = BackendClass("GorillaFileSystem", f"{PREFIX}.gorilla_file_system",
                  '{"root": {"alex": {"type": "directory", "contents": {}}}}')


@pytest.mark.parametrize(("module", "name"), [
    ("os", "PathLike"),                                  # outside the allowlist
    ("subprocess", "Popen"),
    (f"{PREFIX}_evil.x", "GorillaFileSystem"),            # the prefix without its dot
    (f"{PREFIX}..gorilla_file_system", "GorillaFileSystem"),  # not a module name
    (f"{PREFIX}.gorilla_file_system", "_Private"),        # private class name
    (f"{PREFIX}.gorilla_file_system", "__class__"),
    (f"{PREFIX}.trading_bot", "datetime"),                # a class imported from elsewhere
    (f"{PREFIX}.trading_bot", "deepcopy"),                # not a class
])
def test_only_classes_defined_in_allowlisted_modules_load(module, name):
    with pytest.raises(UntrustedBackendError):
        load_class(BackendClass(name, module, None))


def test_an_allowlisted_module_that_is_missing_names_the_install_command():
    with pytest.raises(BackendUnavailable, match="--no-deps"):
        load_class(BackendClass("Nope", f"{PREFIX}.no_such_module", None))


def test_a_pack_naming_an_untrusted_module_fails_at_reset_and_runs_nothing(tmp_path,
                                                                            bfcl_packs):
    task = Pack(bfcl_packs["base"]).task("multi_turn_base_0")
    evil = Backend(classes=(BackendClass("system", "os", None),))
    data = {**task.to_dict(), "backend": evil.to_dict()}
    write_pack(tmp_path / "evil", "evil", 0, [Task.from_dict(data)],
               validation={"rows": 1, "compiled": 1, "rejected": 0})
    env = AstraEnv(tmp_path / "evil")
    with pytest.raises(UntrustedBackendError, match="not trusted"):
        env.reset(seed=0)
    env.close()


def test_each_instance_set_starts_from_a_fresh_copy_of_the_config():
    backend = Backend(classes=(FS,))
    first = BackendInstances(backend)
    assert first.call("mkdir", {"dir_name": "new"}) == (True, "None")
    second = BackendInstances(backend)
    assert second.call("ls", {}) == (True, json.dumps({"current_directory_content": []}))


def test_config_key_order_is_kept():
    # BFCL's file system roots itself at the first key of "root": order is state.
    config = '{"root": {"zeta": {"type": "directory", "contents": {}}, "alpha": ' \
             '{"type": "directory", "contents": {}}}}'
    spec = BackendClass("GorillaFileSystem", FS.module, config)
    task_line = json.dumps(spec.to_dict(), sort_keys=True)  # as a pack line is written
    again = BackendClass.from_dict(json.loads(task_line))
    instances = BackendInstances(Backend(classes=(again,)))
    assert instances.instances["GorillaFileSystem"].root.name == "zeta"


@pytest.mark.parametrize("name", ["_load_scenario", "__init__", "__class__", "eval",
                                  "__import__", "no_such_method"])
def test_private_and_unknown_names_are_refused(name, monkeypatch):
    instances = BackendInstances(Backend(classes=(FS,)))
    ran = []
    monkeypatch.setattr(type(instances.instances["GorillaFileSystem"]), "_load_scenario",
                        lambda *a, **k: ran.append(a))
    ok, text = instances.call(name, {})
    assert not ok and text.startswith(ERROR_PREFIX) and not ran


def test_bfcl_deny_list_is_kept():
    instances = BackendInstances(Backend(classes=(FS,)))
    instances._owner["run"] = "GorillaFileSystem"  # as if a class had such a method
    assert instances.call("run", {}) == (False, f"{ERROR_PREFIX}Function call run is not "
                                                "allowed.")


def test_arguments_must_be_json_data():
    instances = BackendInstances(Backend(classes=(FS,)))
    assert not instances.call("mkdir", {"dir_name": object()})[0]
    assert not instances.call("mkdir", [("dir_name", "x")])[0]  # type: ignore[arg-type]
    assert is_json_data({"a": [1, 2.5, None, True, {"b": "c"}]})
    assert not is_json_data({1: "a"}) and not is_json_data((1, 2))
    deep: list = []
    for _ in range(80):
        deep = [deep]
    assert not is_json_data(deep)


def test_a_raising_method_gives_bfcls_error_text():
    instances = BackendInstances(Backend(classes=(FS,)))
    ok, text = instances.call("mkdir", {"wrong": 1})
    assert not ok and text.startswith(ERROR_PREFIX) and "unexpected keyword" in text


def test_results_render_as_bfcl_renders_them():
    assert render_result("text") == "text"
    assert render_result({"a": 1}) == '{"a": 1}'
    assert render_result({"a": object()}).startswith("{'a': <object")
    assert render_result(None) == "None" and render_result([1]) == "[1]"


SMUGGLED = [
    "__import__('os').system('touch {marker}')",
    "os.system('touch {marker}')",
    "exec(\"open('{marker}', 'w')\")",
    "GorillaFileSystem._load_scenario({{}})",
    "cd(folder=__import__('os').system('touch {marker}'))",
    "cd.__globals__['os'].system('touch {marker}')",
    "[cd(folder='..'), __import__('os').system('touch {marker}')]",
]


@pytest.mark.parametrize("text", SMUGGLED)
def test_code_smuggled_in_a_text_turn_is_never_run(bfcl_packs, tmp_path, monkeypatch, text):
    marker = tmp_path / "pwned"
    called = []
    monkeypatch.setattr(os, "system", lambda *a: called.append(a) or 0)
    env = AstraEnv(bfcl_packs["base"])
    env.reset(seed=0, options={"task_id": "multi_turn_base_0"})
    before = dict(vars(env._judge.agent.instances["GorillaFileSystem"]))
    _, _, _, _, info = env.step(text.format(marker=marker))
    ran = [record for record in info["calls"] if record["ok"]]
    assert not marker.exists() and not called
    assert all(record["name"] == "cd" for record in ran)  # only the plain, literal call
    if not ran:
        assert dict(vars(env._judge.agent.instances["GorillaFileSystem"])) == before
    env.close()


@pytest.mark.parametrize("name", ["__import__", "_load_scenario", "eval", "__class__"])
def test_structured_calls_to_non_tools_are_invalid(bfcl_packs, name):
    env = AstraEnv(bfcl_packs["base"])
    env.reset(seed=0, options={"task_id": "multi_turn_base_0"})
    _, _, _, _, info = env.step({"role": "assistant", "content": None, "tool_calls": [
        {"id": "x", "type": "function", "function": {"name": name, "arguments": "{}"}}]})
    assert info["calls"][0]["error_kind"] == "unknown_tool"
    assert info["reward_components"]["invalid_calls"] == 1
    env.close()


def test_code_in_an_argument_is_only_a_string(bfcl_packs, monkeypatch):
    called = []
    monkeypatch.setattr(os, "system", lambda *a: called.append(a) or 0)
    env = AstraEnv(bfcl_packs["base"])
    env.reset(seed=0, options={"task_id": "multi_turn_base_0"})
    payload = "__import__('os').system('id')"
    _, _, _, _, info = env.step({"role": "assistant", "content": None, "tool_calls": [
        {"id": "x", "type": "function",
         "function": {"name": "mkdir", "arguments": json.dumps({"dir_name": payload})}}]})
    assert info["calls"][0]["ok"] and not called
    root = env._judge.agent.instances["GorillaFileSystem"]
    assert payload in root._current_dir.contents  # a directory with a strange name
    env.close()


def test_mutable_defaults_never_carry_state_between_episodes():
    twitter = BackendClass("TwitterAPI", f"{PREFIX}.posting_api",
                           json.dumps({"username": "a", "password": "b", "authenticated": True,
                                       "tweets": {}, "comments": {}, "retweets": {},
                                       "following_list": [], "tweet_counter": 0}))
    first = BackendInstances(Backend(classes=(twitter,)))
    assert first.call("post_tweet", {"content": "hi"})[0]
    assert first.call("mention", {"tweet_id": 0, "mentioned_usernames": ["@x"]})[0]
    second = BackendInstances(Backend(classes=(twitter,)))
    ok, text = second.call("post_tweet", {"content": "hi"})
    assert ok and json.loads(text)["mentions"] == []


def test_backend_tasks_get_no_distractors(bfcl_packs, tmp_path):
    # A distractor is a sandbox tool; a backend task has no sandbox session to run it in.
    env = AstraEnv(bfcl_packs["base"], distractors={"k": 2, "embedder": "tfidf",
                                                    "cache_dir": str(tmp_path)})
    _, info = env.reset(seed=0, options={"task_id": "multi_turn_base_0"})
    task = env.pack.task("multi_turn_base_0")
    assert info["distractor_tools"] == []
    assert {tool["function"]["name"] for tool in info["tools"]} == {t.name for t in task.tools}
    env.close()
