"""Round trip: every format reads back the calls it writes (render → parse gives the same calls).

The strings are awkward on purpose: quotes, backslashes, line breaks, unicode, and
every family's markers inside values. A format whose template cannot write a value
(a bare-text value holding its own closing tag) must refuse it with ``ValueError``;
everything else must come back unchanged, under the forced format and under ``auto``.
"""

from __future__ import annotations

import keyword

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from astra_gym.parsers import CALL_FORMATS, TEXT_FORMATS, parse_action, render_calls
from astra_gym.parsers.markup import MARKERS

SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

#: The format that reads each rendered variant.
READER = {"mistral_v3": "mistral", "deepseek_v3": "deepseek", "deepseek_v32": "deepseek"}
#: Formats that write every argument bare (so a value may be unwritable).
BARE_VALUES = {"glm45", "qwen3_coder", "deepseek_v32"}

AWKWARD = st.sampled_from([
    '"', "'", "\\", "\\n", "\n", "\r\n", "\t", " ", "{", "}", "[", "]", "<", ">", "=", ";", ",",
    "é", "日本語", "🙂", "\u2028", "\x00", "null", "true", "42", "-1.5e3", "[1, 2]", '{"a": 1}',
    "f(x)", "get_weather(city='Paris')", "```", "```json\n", "</s>", "<|eot_id|>",
    "<arg_value>", "</arg_value>", "<arg_key>", "<parameter=x>", "</parameter>", "</function>",
    "<function=f>", "[ARGS]", "<｜tool▁sep｜>", "<｜tool▁call▁end｜>", "<|call|>", "<|message|>",
    "<|tool_call_end|>", "to=functions.x", "<｜DSML｜parameter", *MARKERS,
])
STRINGS = st.one_of(st.text(max_size=12),
                    st.lists(st.one_of(AWKWARD, st.text(max_size=3)), max_size=6).map("".join))
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                   st.floats(allow_nan=False, allow_infinity=False), STRINGS)
VALUES = st.recursive(LEAVES, lambda children: st.one_of(
    st.lists(children, max_size=3), st.dictionaries(STRINGS, children, max_size=3)),
    max_leaves=8)
KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True).filter(
    lambda key: not keyword.iskeyword(key))
NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}(\.[A-Za-z_][A-Za-z0-9_]{0,8})?",
                      fullmatch=True).filter(
    lambda name: not any(keyword.iskeyword(part) for part in name.split(".")))
CALLS = st.lists(st.tuples(NAMES, st.dictionaries(KEYS, VALUES, max_size=4)),
                 min_size=1, max_size=3)


def json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def schemas_for(calls):
    """Each tool's schema, typed by the values it is called with (as a pack's schema would be)."""
    schemas: dict = {}
    for name, arguments in calls:
        properties = schemas.setdefault(name, {"type": "object", "properties": {}})["properties"]
        for key, value in arguments.items():
            properties.setdefault(key, {"type": json_type(value)})
    return schemas


def consistent(calls):
    """A key keeps one type across the calls of a tool (a schema has one type per key)."""
    seen: dict = {}
    for name, arguments in calls:
        for key, value in arguments.items():
            if seen.setdefault((name, key), json_type(value)) != json_type(value):
                return False
    return True


def read_back(text, call_format, calls):
    names = {name for name, _ in calls}
    schemas = schemas_for(calls)
    turns = [parse_action(text, READER.get(call_format, call_format), names,
                          tool_schemas=schemas),
             parse_action(text, "auto", names, tool_schemas=schemas)]
    for turn in turns:
        assert not turn.errors, (text, turn.errors)
        assert [(call.name, call.arguments) for call in turn.calls] == calls, text
    return turns


def test_every_parsed_format_is_written():
    assert set(TEXT_FORMATS) <= set(CALL_FORMATS)


@pytest.mark.parametrize("call_format", CALL_FORMATS)
@SETTINGS
@given(calls=CALLS)
def test_round_trip(call_format, calls):
    assume(consistent(calls))
    try:
        text = render_calls(calls, call_format)
    except ValueError as exc:
        # Only a format that writes values bare (or Python) may refuse, and it says why.
        assert call_format in BARE_VALUES | {"python"}, exc
        assert "cannot write" in str(exc)
        return
    read_back(text, call_format, calls)


@pytest.mark.parametrize("call_format", sorted(set(CALL_FORMATS) - {"json", "python"}))
@SETTINGS
@given(calls=CALLS, content=st.sampled_from(["Let me check.", "Sure — 日本語 too.",
                                            "Two lines.\nThe second."]))
def test_round_trip_with_content(call_format, calls, content):
    assume(consistent(calls))
    try:
        text = render_calls(calls, call_format, content=content)
    except ValueError:
        return
    for turn in read_back(text, call_format, calls):
        assert turn.content == content


@pytest.mark.parametrize("call_format", sorted(BARE_VALUES))
@pytest.mark.parametrize("value", ["</arg_value>", "</parameter>", "<parameter=x>",
                                   "</function>", "<｜DSML｜x", "</tool_call>", "<think>",
                                   "[/THINK]"])
def test_bare_formats_refuse_only_what_they_cannot_write(call_format, value):
    closers = {"glm45": ("</arg_value>", "</tool_call>"),
               "qwen3_coder": ("</parameter>", "<parameter=x>", "</function>", "</tool_call>"),
               "deepseek_v32": ("<｜DSML｜x",)}[call_format]
    calls = [("f", {"q": f"a {value} b"})]
    if value in closers or value in ("<think>", "[/THINK]"):
        with pytest.raises(ValueError, match="cannot write argument 'q'"):
            render_calls(calls, call_format)
    else:
        read_back(render_calls(calls, call_format), call_format, calls)
    # inside a non-string value the same text is escaped JSON, never refused
    nested = [("f", {"q": {"k": [value]}})]
    read_back(render_calls(nested, call_format), call_format, nested)
