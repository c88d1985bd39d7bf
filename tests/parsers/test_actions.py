"""parse_action: text and OpenAI message turns, format detection, never raising."""

from __future__ import annotations

import json
from collections import OrderedDict

import pytest

from astra_gym.parsers import ACTION_FORMATS, ParsedCall, ParsedTurn, parse_action

TOOLS = ("get_weather", "search")
HERMES = '<tool_call>{"name": "search", "arguments": {"q": "x"}}</tool_call>'
JSON_CALL = '{"name": "search", "arguments": {"q": "x"}}'
PY_CALL = "search(q='x')"


def names(turn):
    return [call.name for call in turn.calls]


def message(content=None, tool_calls=None, **extra):
    out = {"role": "assistant", "content": content, **extra}
    if tool_calls is not None:
        out["tool_calls"] = tool_calls
    return out


def tool_call(name, arguments, call_id="call_1"):
    return {"id": call_id, "type": "function",
            "function": {"name": name, "arguments": arguments}}


# --- the ParsedTurn record -------------------------------------------------

def test_turn_properties():
    good = ParsedCall("f", {"a": 1})
    bad = ParsedCall(None, {}, raw="{", error="invalid JSON")
    turn = ParsedTurn("hi", (good, bad), "hermes")
    assert turn.errors == ("invalid JSON",)
    assert not turn.is_final
    assert ParsedTurn("the answer", (), "none").is_final
    assert ParsedTurn("x", (bad,), "json").is_final is False  # a failed attempt is not final


def test_formats():
    assert ACTION_FORMATS == ("auto", "openai", "hermes", "json", "python", "llama3", "mistral",
                              "deepseek", "glm45", "qwen3_coder", "kimi_k2", "granite",
                              "harmony")


# --- text turns -----------------------------------------------------------

def test_final_answer():
    turn = parse_action("  The capital is Paris.\n", tool_names=TOOLS)
    assert turn == ParsedTurn("The capital is Paris.", (), "none")
    assert turn.is_final


def test_hermes_with_reasoning_and_prose():
    turn = parse_action("<think>I should search. <tool_call>not this</tool_call></think>\n"
                        f"Let me search.\n{HERMES}\n{HERMES}", tool_names=TOOLS)
    assert turn.format == "hermes"
    assert turn.content == "Let me search."
    assert names(turn) == ["search", "search"]
    assert turn.calls[0].arguments == {"q": "x"}


def test_qwen_style_reasoning_without_opening_tag():
    turn = parse_action(f"thinking about it\n</think>\n\n{HERMES}")
    assert (turn.format, turn.content, names(turn)) == ("hermes", "", ["search"])


def test_unclosed_reasoning_hides_the_calls():
    turn = parse_action(f"<think>maybe {HERMES}")
    assert turn == ParsedTurn("", (), "none")


def test_hermes_errors_are_reported():
    turn = parse_action('<tool_call>{"name": "search", "arguments": {"q": }}</tool_call>')
    assert turn.format == "hermes" and not turn.is_final
    assert turn.calls[0].name == "search"
    assert turn.errors[0].startswith("invalid JSON in <tool_call>: Expecting value")


@pytest.mark.parametrize("text", [JSON_CALL, f"```json\n{JSON_CALL}\n```", f"\n{JSON_CALL}\n",
                                  f"<think>hmm</think>{JSON_CALL}"])
def test_json_turn(text):
    turn = parse_action(text, tool_names=TOOLS)
    assert (turn.format, turn.content, names(turn)) == ("json", "", ["search"])


@pytest.mark.parametrize("text", [PY_CALL, f"```python\n{PY_CALL}\n```", f"[{PY_CALL}]",
                                  f"<think>hmm</think>\n{PY_CALL}"])
def test_python_turn(text):
    turn = parse_action(text, tool_names=TOOLS)
    assert (turn.format, turn.content, names(turn)) == ("python", "", ["search"])
    assert turn.calls[0].arguments == {"q": "x"}


def test_python_positional_arguments():
    (call,) = parse_action("get_weather('Paris', days=2)", tool_names=TOOLS).calls
    assert (call.name, call.args, call.arguments) == ("get_weather", ("Paris",), {"days": 2})


# --- auto detection precedence ----------------------------------------------

def test_hermes_wins_over_json_and_python():
    turn = parse_action(f"{HERMES}\n{PY_CALL}", tool_names=TOOLS)
    assert turn.format == "hermes"
    assert turn.content == PY_CALL  # the python line is prose here


def test_json_list_is_json_not_a_python_list():
    # also a valid Python list literal, but of dicts, not calls
    turn = parse_action('[{"name": "search", "arguments": {}}]', tool_names=TOOLS)
    assert turn.format == "json"


@pytest.mark.parametrize("text", [
    '{"answer": 42}',
    '{"name": "Ada Lovelace", "born": 1815}',
    '[{"name": "Ada"}]',
    "The answer is f(x) = 2x + 1.",
    "f(x)",
    "print('done')",
    "Result: search(q='x') returned nothing.",
    "```python\ndef f(x):\n    return x\n```",
    "<tool_call",
    "",
])
def test_final_answers_that_look_a_bit_like_calls(text):
    turn = parse_action(text, tool_names=TOOLS)
    assert turn.is_final and turn.format == "none"
    assert turn.content == text.strip()


def test_without_tool_names_python_calls_any_name():
    assert parse_action("f(a=1)").format == "python"
    assert parse_action("f(a=1)", tool_names=()).is_final


# --- a specific format --------------------------------------------------------

@pytest.mark.parametrize("action_format, text, expected_format, expected_names", [
    ("hermes", HERMES, "hermes", ["search"]),
    ("hermes", JSON_CALL, "none", []),
    ("hermes", PY_CALL, "none", []),
    ("json", JSON_CALL, "json", ["search"]),
    ("json", PY_CALL, "none", []),
    ("python", PY_CALL, "python", ["search"]),
    ("python", JSON_CALL, "none", []),
    ("openai", HERMES, "none", []),
    ("openai", JSON_CALL, "none", []),
    ("openai", PY_CALL, "none", []),
])
def test_specific_format_uses_only_its_parser(action_format, text, expected_format,
                                             expected_names):
    turn = parse_action(text, action_format, TOOLS)
    assert (turn.format, names(turn)) == (expected_format, expected_names)
    if not expected_names:
        assert turn.content == text


@pytest.mark.parametrize("action_format", ["json", "python", "llama3", "mistral"])
def test_specific_format_reports_a_hermes_tag_as_an_invalid_call(action_format):
    # another family's call markup is a call attempt in the wrong format, not a final answer
    turn = parse_action(HERMES, action_format, TOOLS)
    assert (turn.format, names(turn), turn.is_final) == ("hermes", [None], False)
    assert turn.errors[0].endswith(f"this env reads {action_format} calls "
                                   f"(action_format={action_format!r})")


def test_unknown_format():
    with pytest.raises(ValueError, match="unknown action_format 'xml'"):
        parse_action("hi", "xml")


@pytest.mark.parametrize("action", [None, 3, b"bytes", ["a list"], ("tuple",)])
def test_other_types_raise_type_error(action):
    with pytest.raises(TypeError, match=r"assistant's text \(str\) or an OpenAI assistant"):
        parse_action(action)


# --- OpenAI message dicts -----------------------------------------------------

def test_openai_string_arguments():
    turn = parse_action(message("Let me check.", [
        tool_call("search", '{"q": "x"}', "call_a"),
        tool_call("get_weather", '{"city": "Paris"}', "call_b")]))
    assert turn.format == "openai" and turn.content == "Let me check."
    assert [(call.name, call.arguments, call.call_id) for call in turn.calls] == [
        ("search", {"q": "x"}, "call_a"), ("get_weather", {"city": "Paris"}, "call_b")]


def test_openai_dict_and_empty_arguments():
    turn = parse_action(message(None, [tool_call("search", {"q": ["x"]}),
                                       tool_call("get_weather", ""),
                                       {"id": "c3", "type": "function",
                                        "function": {"name": "search"}}]))
    assert [(call.name, call.arguments) for call in turn.calls] == [
        ("search", {"q": ["x"]}), ("get_weather", {}), ("search", {})]
    assert turn.content == ""


@pytest.mark.parametrize("entry, name, error", [
    (tool_call("search", '{"q": '), "search", '"arguments" is not valid JSON: Expecting value'),
    (tool_call("search", "[1]"), "search", '"arguments" must be a JSON object, got array'),
    (tool_call("search", 5), "search", '"arguments" must be a JSON object, got number'),
    (tool_call("search", {1: "x"}), "search", '"arguments" has a non-string key 1'),
    (tool_call("search", {"q": object()}), "search", '"arguments" is not JSON data'),
    (tool_call(None, "{}"), None, 'the call has no "name"'),
    (tool_call(7, "{}"), None, '"name" must be a non-empty string, got number'),
    ({"id": "call_1", "type": "function"}, None, 'tool call 0 has no "function" object'),
    ({"id": "call_1", "function": "search"}, None,
     'tool call 0 has no "function" object (got string)'),
    ("search", None, "tool call 0 is not an object (got string)"),
    (None, None, "tool call 0 is not an object (got null)"),
])
def test_openai_malformed_entries(entry, name, error):
    turn = parse_action(message(None, [entry]))
    (call,) = turn.calls
    assert turn.format == "openai"
    assert call.name == name and call.arguments == {}
    assert call.error is not None and call.error.startswith(error), call.error
    if isinstance(entry, dict):
        assert call.call_id == "call_1"


def test_openai_good_and_bad_entries_keep_their_order_and_ids():
    turn = parse_action(message(None, [tool_call("search", "{oops", "a"),
                                       tool_call("search", "{}", "b")]))
    assert [(call.call_id, call.error is None) for call in turn.calls] == [
        ("a", False), ("b", True)]
    assert len(turn.errors) == 1


def test_openai_flat_entry_is_accepted():
    (call,) = parse_action(message(None, [{"id": "c", "name": "search",
                                           "arguments": '{"q": "x"}'}])).calls
    assert (call.name, call.arguments, call.call_id) == ("search", {"q": "x"}, "c")


def test_tool_calls_not_a_list():
    turn = parse_action(message(None, {"function": {"name": "search"}}))
    assert turn.errors == ('"tool_calls" must be a list, got object',)


def test_content_parts():
    turn = parse_action(message([{"type": "text", "text": "First."},
                                 {"type": "image_url", "image_url": {"url": "x"}},
                                 {"type": "text", "text": "Second."}, "Third.", 5],
                                [tool_call("search", "{}")]))
    assert turn.content == "First.\nSecond.\nThird."


def test_content_reasoning_is_removed():
    turn = parse_action(message("<think>plan</think>Checking.", [tool_call("search", "{}")]))
    assert turn.content == "Checking."


def test_legacy_function_call():
    turn = parse_action(message(None, function_call={"name": "search",
                                                     "arguments": '{"q": "x"}'}))
    assert (turn.format, names(turn), turn.calls[0].arguments) == (
        "openai", ["search"], {"q": "x"})
    assert turn.calls[0].call_id is None
    bad = parse_action(message(None, function_call="search"))
    assert bad.errors == ('"function_call" must be an object, got string',)


@pytest.mark.parametrize("tool_calls", [None, []])
def test_message_without_calls_is_parsed_as_text(tool_calls):
    msg = message(f"<think>x</think>{HERMES}", tool_calls)
    turn = parse_action(msg, tool_names=TOOLS)
    assert (turn.format, names(turn)) == ("hermes", ["search"])
    assert parse_action(message(PY_CALL, tool_calls), tool_names=TOOLS).format == "python"
    assert parse_action(message(JSON_CALL, tool_calls), "json").format == "json"
    final = parse_action(message("Paris.", tool_calls))
    assert final == ParsedTurn("Paris.", (), "none")


def test_openai_format_with_a_dict_only_counts_tool_calls():
    turn = parse_action(message(f"<think>x</think>{HERMES}"), "openai", TOOLS)
    assert turn.is_final and turn.content == HERMES
    turn = parse_action(message("", [tool_call("search", "{}")]), "openai")
    assert names(turn) == ["search"]


def test_tool_calls_count_under_any_format():
    turn = parse_action(message(HERMES, [tool_call("get_weather", "{}")]), "hermes")
    assert (turn.format, names(turn), turn.content) == ("openai", ["get_weather"], HERMES)


def test_any_mapping_is_a_message():
    msg = OrderedDict(content=None, tool_calls=[tool_call("search", "{}")])
    assert names(parse_action(msg)) == ["search"]
    assert parse_action(OrderedDict(role="assistant", content="Paris")).content == "Paris"
    assert parse_action({"content": None}) == ParsedTurn("", (), "none")  # explicit empty answer


@pytest.mark.parametrize(("action", "says"), [
    ({}, "no content"),
    ({"content": 5}, '"content" must be a string'),
    ({"content": {"text": "Paris"}}, '"content" must be a string'),
    ({"role": "user", "content": "Paris"}, "role 'assistant'"),
    ({"role": "tool", "content": "{}"}, "role 'assistant'"),
    ({"content": None, "tool_call": [tool_call("search", "{}")]}, "'tool_call'"),
    ({"name": "search", "arguments": {"q": "x"}}, "bare call"),
    ({"content": "", "calls": [{"name": "search"}]}, "'calls'"),
    ({"content": "Paris", "functions": []}, "'functions'"),
])
def test_malformed_messages_are_invalid_calls_not_final_answers(action, says):
    turn = parse_action(action)
    assert not turn.is_final
    assert len(turn.calls) == 1 and turn.calls[0].error is not None
    assert says in turn.calls[0].error


def test_known_reply_keys_are_accepted_without_calls():
    # What openai's ChatCompletionMessage.model_dump() gives, plus reasoning fields.
    reply = {"content": "Paris", "refusal": None, "role": "assistant", "annotations": [],
             "audio": None, "function_call": None, "tool_calls": None,
             "reasoning_content": "thinking", "reasoning": None, "name": "bot"}
    turn = parse_action(reply)
    assert turn.is_final and turn.content == "Paris"


def test_message_arguments_are_json_data_copies():
    arguments = {"q": ("x", "y")}
    (call,) = parse_action(message(None, [tool_call("search", arguments)])).calls
    assert call.arguments == {"q": ["x", "y"]}
    json.dumps(call.arguments)


# --- guards ---------------------------------------------------------------------

def test_huge_inputs_do_not_crash():
    huge_json = '{"name": "search", "arguments": {"q": "' + "x" * 200_000 + '"}}'
    turn = parse_action(huge_json)
    assert turn.errors[0].startswith("the call is too long (200")
    turn = parse_action(f"<tool_call>{huge_json}</tool_call>")
    assert turn.calls[0].name == "search" and "too long" in turn.errors[0]
    turn = parse_action(message(None, [tool_call("search", huge_json)]))
    assert turn.errors[0].startswith('"arguments" is too long')
    assert parse_action("word " * 100_000).is_final


def test_deep_nesting_does_not_crash():
    deep = "[" * 100_000 + "]" * 100_000
    assert parse_action(deep).is_final
    turn = parse_action(f'<tool_call>{{"name": "f", "arguments": {{"a": {deep[:20_000]}'
                        f'{deep[-20_000:]}}}}}</tool_call>')
    assert turn.errors == ("invalid JSON in <tool_call>: the JSON nests too deeply",)
    nested: list = []
    for _ in range(10_000):
        nested = [nested]
    turn = parse_action(message(None, [tool_call("f", {"a": nested})]))
    assert turn.errors[0].startswith('"arguments" is not JSON data')
    turn = parse_action("search(q=" + "-" * 50_000 + "1)", tool_names=TOOLS)
    assert turn.errors == ("not valid Python: the code nests too deeply",)


def test_circular_message():
    arguments: dict = {}
    arguments["self"] = arguments
    msg = message(None, [tool_call("f", arguments)])
    msg["content"] = [msg, {"type": "text", "text": "hi"}]
    turn = parse_action(msg)
    assert turn.content == "hi"
    assert turn.errors == ('"arguments" is not JSON data: Circular reference detected',)
