"""render_calls: what each format writes, and what it refuses to write."""

from __future__ import annotations

import json

import pytest

from astra_gym.parsers import CALL_FORMATS, ParsedCall, parse_action, render_calls
from astra_gym.parsers.markup import MARKERS

READER = {"mistral_v3": "mistral", "deepseek_v3": "deepseek", "deepseek_v32": "deepseek"}
#: Formats that carry the arguments as one JSON text (markers in strings are escaped).
JSON_FORMATS = ("hermes", "json", "llama3", "mistral", "mistral_v3", "deepseek", "deepseek_v3",
                "kimi_k2", "granite", "harmony")


def read(text, call_format):
    return parse_action(text, READER.get(call_format, call_format), ["f", "get_weather"])


@pytest.mark.parametrize("call_format", [*JSON_FORMATS, "python"])
@pytest.mark.parametrize("marker", [*MARKERS, "<|python_tag|>", "<｜tool▁sep｜>", "[ARGS]",
                                    "<|call|>", "```", "</think>\n<tool_call>"])
def test_markers_inside_json_strings_are_escaped_and_read_back(call_format, marker):
    calls = [("f", {"q": f"a{marker}b", "n": [{"k": marker}]})]
    text = render_calls(calls, call_format)
    for action_format in (READER.get(call_format, call_format), "auto"):
        turn = parse_action(text, action_format, ["f"])
        assert [(call.name, call.arguments) for call in turn.calls] == calls, text
    if marker != "```":  # written escaped: never raw markup in the turn
        assert f"a{marker}b" not in text


@pytest.mark.parametrize("call_format", CALL_FORMATS)
def test_every_format_writes_what_it_documents(call_format):
    text = render_calls([("get_weather", {"city": "Paris"})], call_format)
    expected = {
        "hermes": '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n'
                  "</tool_call>",
        "json": '{"name": "get_weather", "arguments": {"city": "Paris"}}',
        "python": "get_weather(city='Paris')",
        "llama3": '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}',
        "mistral": '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}',
        "mistral_v3": '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}]',
        "deepseek": "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>"
                    '{"city": "Paris"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>',
        "deepseek_v3": "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>"
                       'get_weather\n```json\n{"city": "Paris"}\n```<｜tool▁call▁end｜>'
                       "<｜tool▁calls▁end｜>",
        "deepseek_v32": '<｜DSML｜function_calls>\n<｜DSML｜invoke name="get_weather">\n'
                        '<｜DSML｜parameter name="city" string="true">Paris'
                        "</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜function_calls>",
        "glm45": "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>"
                 "\n</tool_call>",
        "qwen3_coder": "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n"
                       "</parameter>\n</function>\n</tool_call>",
        "kimi_k2": "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0"
                   '<|tool_call_argument_begin|>{"city": "Paris"}<|tool_call_end|>'
                   "<|tool_calls_section_end|>",
        "granite": '<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris"}}]',
        "harmony": "<|channel|>commentary to=functions.get_weather <|constrain|>json"
                   '<|message|>{"city": "Paris"}<|call|>',
    }[call_format]
    assert text == expected


def test_calls_in_every_accepted_shape():
    shapes = [("get_weather", {"city": "Paris"}),
              ("get_weather", '{"city": "Paris"}'),
              {"name": "get_weather", "arguments": {"city": "Paris"}},
              {"id": "call_1", "type": "function",
               "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
              ParsedCall("get_weather", {"city": "Paris"})]
    texts = {render_calls([shape], "hermes") for shape in shapes}
    assert len(texts) == 1


def test_kimi_keeps_its_own_ids_and_numbers_the_others():
    text = render_calls([{"id": "functions.f:7", "function": {"name": "f", "arguments": "{}"}},
                         {"id": "call_x", "function": {"name": "f", "arguments": "{}"}}],
                        "kimi_k2")
    assert [call.call_id for call in read(text, "kimi_k2").calls] == ["functions.f:7",
                                                                      "functions.f:1"]


def test_arguments_that_are_not_an_object_are_written_for_the_env_to_report():
    text = render_calls([("f", "not json")], "hermes")
    (call,) = read(text, "hermes").calls
    assert call.error is not None
    with pytest.raises(ValueError, match="arguments are not a JSON object"):
        render_calls([("f", "[1, 2]")], "glm45")


@pytest.mark.parametrize("name", ["get weather", 'f"', "f<x>", "", "a;b", "a\nb"])
def test_a_name_no_parser_can_read_is_refused(name):
    with pytest.raises(ValueError, match=r"a call needs|cannot write a call"):
        render_calls([(name, {})], "hermes")


@pytest.mark.parametrize("call_format", ["glm45", "qwen3_coder", "deepseek_v32"])
@pytest.mark.parametrize("key", [" a", "a ", "a>b", "<a", 'a"b', "a\nb", "a=b", ""])
def test_bare_formats_refuse_keys_with_markup(call_format, key):
    with pytest.raises(ValueError, match="cannot write argument"):
        render_calls([("f", {key: 1})], call_format)


@pytest.mark.parametrize("call, fragment", [
    (("f", {"class": 1}), "argument 'class' is not an identifier"),
    (("get-weather", {}), "the name is not an identifier"),
])
def test_python_refuses_what_python_cannot_write(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        render_calls([call], "python")


def test_content_rules():
    assert render_calls([], "hermes", content="Paris.") == "Paris."
    assert render_calls([], "harmony", content="Paris.") == \
        "<|channel|>final<|message|>Paris.<|return|>"
    with pytest.raises(ValueError, match="nothing but calls"):
        render_calls([("f", {})], "json", content="Hi")
    with pytest.raises(ValueError, match="unknown call_format 'xml'"):
        render_calls([("f", {})], "xml")
    with pytest.raises(ValueError, match="did not parse"):
        render_calls([ParsedCall(None, {}, error="bad")], "hermes")
    with pytest.raises(ValueError, match="not JSON data"):
        render_calls([("f", {"x": float("nan")})], "hermes")
    assert json.loads(render_calls([("f", {"x": (1, 2)})], "json"))["arguments"] == {"x": [1, 2]}
