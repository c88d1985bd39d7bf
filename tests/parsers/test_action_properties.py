"""Properties: parse_action never raises on text or message dicts, whatever they hold."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from astra_gym.parsers import (
    ACTION_FORMATS,
    ParsedTurn,
    parse_action,
    parse_hermes,
    strip_reasoning,
)
from astra_gym.parsers.markup import MARKERS

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
FORMATS = st.sampled_from(ACTION_FORMATS)
TOOL_NAMES = st.one_of(st.none(), st.just(("f", "search")))

FRAGMENTS = st.sampled_from([
    "<tool_call>", "</tool_call>", "<think>", "</think>", "```", "```json\n", "```python\n",
    "{", "}", "[", "]", "(", ")", '"name"', '"arguments"', '"parameters"', '"function"',
    '"tool_calls"', ":", ",", '"f"', '"search"', "f(", "search(", "q=", "'x'", "1", "-",
    "null", "NaN", "\n", " ", "\\", '"', "print(", "a.b", "*", "**", "=", "\r\n", "é", "\x00",
    # every family's markup
    *MARKERS, "<|python_tag|>", "<|python_start|>", "<|python_end|>", "<|eom_id|>",
    "[TOOL_CALLS]", "[ARGS]", "[CALL_ID]", "</s>", "<｜tool▁calls▁begin｜>",
    "<｜tool▁call▁begin｜>", "<｜tool▁sep｜>", "<｜tool▁call▁end｜>", "<｜tool▁calls▁end｜>",
    "function",
    "<｜DSML｜function_calls>", '<｜DSML｜invoke name="f">',
    '<｜DSML｜parameter name="q" string="true">', "</｜DSML｜parameter>",
    "</｜DSML｜invoke>", "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>", "<function=f>",
    "<parameter=q>", "</parameter>", "</function>", "<|tool_calls_section_begin|>",
    "<|tool_call_begin|>", "functions.f:0", "<|tool_call_argument_begin|>", "<|tool_call_end|>",
    "<|tool_calls_section_end|>", "<|tool_call|>", "<|start|>assistant", "<|channel|>",
    "analysis", "commentary", "final", " to=functions.f", "<|constrain|>json", "<|message|>",
    "<|end|>", "<|call|>", "<|return|>", "[THINK]", "[/THINK]",
])
TEXTS = st.one_of(st.text(), st.lists(st.one_of(FRAGMENTS, st.text(max_size=5)),
                                      max_size=40).map("".join))

JSON_KEYS = st.sampled_from(["content", "tool_calls", "function", "arguments", "name", "id",
                             "type", "parameters", "function_call", "text", "role"])
JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(),
                        st.floats(allow_nan=False, allow_infinity=False), TEXTS)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(JSON_KEYS, st.text(max_size=5)), children, max_size=5)),
    max_leaves=30)
MESSAGES = st.dictionaries(JSON_KEYS, JSON_VALUES, max_size=6)
# messages that look like real assistant messages, with odd parts
CALL_ENTRIES = st.fixed_dictionaries(
    {"function": st.fixed_dictionaries(
        {"name": st.one_of(st.sampled_from(["f", "search"]), JSON_VALUES)},
        optional={"arguments": st.one_of(JSON_VALUES, JSON_VALUES.map(json.dumps), TEXTS)})},
    optional={"id": st.one_of(st.text(max_size=8), JSON_VALUES), "type": st.just("function")})
REALISTIC_MESSAGES = st.fixed_dictionaries(
    {"role": st.just("assistant"),
     "content": st.one_of(st.none(), TEXTS, st.lists(st.one_of(
         st.fixed_dictionaries({"type": st.just("text"), "text": TEXTS}), JSON_VALUES),
         max_size=3))},
    optional={"tool_calls": st.lists(st.one_of(CALL_ENTRIES, JSON_VALUES), max_size=3),
              "function_call": st.one_of(CALL_ENTRIES.map(lambda entry: entry["function"]),
                                         JSON_VALUES)})


def check(turn):
    assert isinstance(turn, ParsedTurn)
    assert isinstance(turn.content, str)
    assert turn.content == turn.content.strip()
    assert turn.format in (*ACTION_FORMATS[1:], "none")
    assert (turn.format == "none") == turn.is_final
    for call in turn.calls:
        assert call.error is None or isinstance(call.error, str)
        assert not (call.error or "").startswith("internal parser error"), call.error
        if call.error is None:
            assert isinstance(call.name, str) and call.name.strip()
            assert isinstance(call.arguments, dict)
            json.dumps(call.arguments, allow_nan=False)  # plain JSON data
        else:
            assert call.arguments == {} and call.args == ()
        assert call.name is None or isinstance(call.name, str)
        assert isinstance(call.raw, str) and len(call.raw) <= 200
        assert call.call_id is None or isinstance(call.call_id, str)
    assert len(turn.errors) == sum(call.error is not None for call in turn.calls)


@SETTINGS
@given(TEXTS, FORMATS, TOOL_NAMES)
def test_any_text(text, action_format, tool_names):
    check(parse_action(text, action_format, tool_names))


@SETTINGS
@given(MESSAGES, FORMATS, TOOL_NAMES)
def test_any_dict(msg, action_format, tool_names):
    check(parse_action(msg, action_format, tool_names))


@SETTINGS
@given(REALISTIC_MESSAGES, FORMATS)
def test_any_message(msg, action_format):
    turn = parse_action(msg, action_format)
    check(turn)
    if msg.get("tool_calls") or msg.get("function_call") is not None:
        assert turn.format == "openai"


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["f", "search", "get_weather"]),
                          st.dictionaries(st.text(min_size=1, max_size=5), JSON_VALUES,
                                          max_size=3)), min_size=1, max_size=4),
       st.lists(TEXTS, min_size=5, max_size=5))
def test_hermes_round_trip(calls, prose):
    text = "".join(f"{prose[index]}<tool_call>{json.dumps({'name': name, 'arguments': args})}"
                   "</tool_call>" for index, (name, args) in enumerate(calls))
    parsed = parse_hermes(text)
    if not any("<tool_call>" in part or "</tool_call>" in part for part in prose):
        assert [(call.name, call.arguments) for call in parsed] == calls


@SETTINGS
@given(TEXTS)
def test_strip_reasoning_leaves_no_complete_block(text):
    visible = strip_reasoning(text)
    assert visible == visible.strip()
    if not any(tag in text for tag in ("<think>", "</think>", "[THINK]", "[/THINK]")):
        assert visible == text.strip()
