"""Every family's native tool-call format, on raw outputs written from its chat template.

Each raw output below is what the family's published chat template (and the matching
vLLM/SGLang tool parser's tests) say the model generates, special tokens kept. For
every family: single and parallel calls, calls after a reasoning block, nested and
non-ASCII arguments; truncated or malformed markup (an invalid call, never a final
answer); and prose that merely mentions a tool (a final answer). Every case is read
twice, with the family's format forced and under ``auto``.
"""

from __future__ import annotations

import json

import pytest

from astra_gym.parsers import ACTION_FORMATS, TEXT_FORMATS, detect_format, parse_action

TOOLS = ("get_weather", "get_time", "search")
SCHEMAS = {
    "get_weather": {"type": "object", "properties": {
        "city": {"type": "string"}, "days": {"type": "integer"},
        "units": {"type": "string", "enum": ["celsius", "fahrenheit"]}}},
    "get_time": {"type": "object", "properties": {"city": {"type": "string"}}},
    "search": {"type": "object", "properties": {
        "query": {"type": "string"}, "filters": {"type": "object"}, "limit": {"type": "integer"},
        "exact": {"type": "boolean"}, "code": {"type": "string"}}},
}
#: DeepSeek's markers (U+FF5C and U+2581).
B, C, S = "<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>", "<｜tool▁sep｜>"
CE, E, EOS = "<｜tool▁call▁end｜>", "<｜tool▁calls▁end｜>", "<｜end▁of▁sentence｜>"
PARIS = ("get_weather", {"city": "Paris"})
PARIS_TIME = ("get_time", {"city": "Paris"})
#: Nested and non-ASCII arguments (JSON formats write them as one object).
NESTED = {"query": '東京の天気 "today"', "filters": {"tags": ["métro", "雨"], "range": {"from": 1,
                                                                                     "to": 2.5}},
          "limit": 3}
NESTED_JSON = json.dumps(NESTED, ensure_ascii=False)
SEARCH = ("search", NESTED)

# ---- (format, id, raw output, expected calls, expected content) --------------------------
CALLS = [
    # Llama 3.1 / 3.2 / 3.3 / 4 (Meta's prompt-format docs; vLLM llama3_json, pythonic)
    ("llama3", "tag", '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}'
     "<|eom_id|>", [PARIS], ""),
    ("llama3", "tag-parallel", '<|python_tag|>{"name": "get_weather", "parameters": {"city": '
     '"Paris"}}; {"name": "get_time", "parameters": {"city": "Paris"}}<|eom_id|>',
     [PARIS, PARIS_TIME], ""),
    ("llama3", "bare-parallel", '{"name": "get_weather", "parameters": {"city": "Paris"}}; '
     '{"name": "get_time", "parameters": {"city": "Paris"}}', [PARIS, PARIS_TIME], ""),
    ("llama3", "plain-json-eot", '{"name": "get_weather", "parameters": {"city": "Paris"}}'
     "<|eot_id|>", [PARIS], ""),
    ("llama3", "after-reasoning", "<think>The user wants Paris.</think>\nLet me check."
     '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}',
     [PARIS], "Let me check."),
    ("llama3", "nested", f'<|python_tag|>{{"name": "search", "parameters": {NESTED_JSON}}}'
     "<|eom_id|>", [SEARCH], ""),
    ("llama3", "builtin-tool", '<|python_tag|>brave_search.call(query="weather in Menlo Park")'
     "<|eom_id|>", [("brave_search.call", {"query": "weather in Menlo Park"})], ""),
    ("llama3", "pythonic-3.2", '[get_weather(city="Paris"), get_time(city="Paris")]<|eot_id|>',
     [PARIS, PARIS_TIME], ""),
    ("llama3", "llama4-python-start", '<|python_start|>[get_weather(city="Paris")]'
     "<|python_end|>", [PARIS], ""),
    # Mistral (mistral-common tokenizers; vLLM mistral parser)
    ("mistral", "v3-list", '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": '
     '"Paris"}, "id": "a1B2c3D4e"}]</s>', [PARIS], ""),
    ("mistral", "v3-parallel", '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": '
     '"Paris"}}, {"name": "get_time", "arguments": {"city": "Paris"}}]', [PARIS, PARIS_TIME], ""),
    ("mistral", "v11", '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}</s>', [PARIS], ""),
    ("mistral", "v11-parallel", '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}'
     '[TOOL_CALLS]get_time[ARGS]{"city": "Paris"}</s>', [PARIS, PARIS_TIME], ""),
    ("mistral", "v13-call-id", '[TOOL_CALLS]get_weather[CALL_ID]a1B2c3D4e[ARGS]{"city": '
     '"Paris"}', [PARIS], ""),
    ("mistral", "content-first", 'Let me check.[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}',
     [PARIS], "Let me check."),
    ("mistral", "magistral-reasoning", "[THINK]The user asks about Paris.[/THINK]"
     '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}', [PARIS], ""),
    ("mistral", "nested", f"[TOOL_CALLS]search[ARGS]{NESTED_JSON}", [SEARCH], ""),
    # DeepSeek V3 / R1 (fenced JSON), V3.1 (bare JSON), V3.2 (DSML)
    ("deepseek", "v3", f"{B}{C}function{S}get_weather"
     f'\n```json\n{{"city": "Paris"}}\n```{CE}{E}{EOS}',
     [PARIS], ""),
    ("deepseek", "v3-parallel", f"{B}{C}function{S}"
     f'get_weather\n```json\n{{"city": "Paris"}}\n```{CE}\n{C}function'
     f'{S}get_time\n```json\n{{"city": "Paris"}}\n```{CE}{E}',
     [PARIS, PARIS_TIME], ""),
    ("deepseek", "r1-after-reasoning", "<think>\nI need the weather tool.\n</think>\n\n"
     f"{B}{C}function{S}get_weather\n```json\n"
     f'{{"city": "Paris"}}\n```{CE}{E}', [PARIS], ""),
    ("deepseek", "v3.1", f"Let me check.{B}{C}get_weather"
     f'{S}{{"city": "Paris"}}{CE}{E}', [PARIS],
     "Let me check."),
    ("deepseek", "v3.1-parallel", f"{B}{C}get_weather"
     f'{S}{{"city": "Paris"}}{CE}{C}get_time{S}'
     f'{{"city": "Paris"}}{CE}{E}{EOS}',
     [PARIS, PARIS_TIME], ""),
    ("deepseek", "v3.1-nested", f"{B}{C}search{S}"
     f"{NESTED_JSON}{CE}{E}", [SEARCH], ""),
    ("deepseek", "r1-distill-spelling", "<｜tool_calls_begin｜><｜tool_call_begin｜>function"
     '<｜tool_sep｜>get_weather\n```json\n{"city": "Paris"}\n```<｜tool_call_end｜>'
     "<｜tool_calls_end｜>", [PARIS], ""),
    ("deepseek", "v3.2-dsml", '<｜DSML｜function_calls>\n<｜DSML｜invoke name="get_weather">\n'
     '<｜DSML｜parameter name="city" string="true">Paris</｜DSML｜parameter>\n'
     '<｜DSML｜parameter name="days" string="false">3</｜DSML｜parameter>\n</｜DSML｜invoke>\n'
     '<｜DSML｜invoke name="get_time">\n<｜DSML｜parameter name="city" string="true">Paris'
     "</｜DSML｜parameter>\n</｜DSML｜invoke>\n</｜DSML｜function_calls><｜end▁of▁sentence｜>",
     [("get_weather", {"city": "Paris", "days": 3}), PARIS_TIME], ""),
    # GLM-4.5 / 4.6 (chat template: '\n<tool_call>' + name, '<arg_key>k</arg_key>\n<arg_value>v')
    ("glm45", "single", "<think>The user wants the weather.</think>\n<tool_call>get_weather\n"
     "<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n<arg_key>days</arg_key>\n"
     "<arg_value>3</arg_value>\n</tool_call>", [("get_weather", {"city": "Paris", "days": 3})],
     ""),
    ("glm45", "parallel", "\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris"
     "</arg_value>\n</tool_call>\n<tool_call>get_time\n<arg_key>city</arg_key>\n<arg_value>Paris"
     "</arg_value>\n</tool_call>", [PARIS, PARIS_TIME], ""),
    ("glm45", "glm47-compact", "Checking.<tool_call>get_weather<arg_key>city</arg_key>"
     "<arg_value>Paris</arg_value></tool_call>", [PARIS], "Checking."),
    ("glm45", "air-spaces", "<tool_call>get_weather <arg_key>city</arg_key> <arg_value>Paris"
     "</arg_value> </tool_call>", [PARIS], ""),
    ("glm45", "nested", "<tool_call>search\n<arg_key>query</arg_key>\n<arg_value>"
     f"{NESTED['query']}</arg_value>\n<arg_key>filters</arg_key>\n<arg_value>"
     f"{json.dumps(NESTED['filters'], ensure_ascii=False)}</arg_value>\n<arg_key>limit</arg_key>"
     "\n<arg_value>3</arg_value>\n</tool_call>", [SEARCH], ""),
    ("glm45", "no-arguments", "<tool_call>get_time\n</tool_call>", [("get_time", {})], ""),
    # Qwen3-Coder (chat template: <function=NAME> / <parameter=KEY>\nVALUE\n</parameter>)
    ("qwen3_coder", "single", "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n"
     "</parameter>\n<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>",
     [("get_weather", {"city": "Paris", "days": 3})], ""),
    ("qwen3_coder", "parallel", "I'll check both.\n<tool_call>\n<function=get_weather>\n"
     "<parameter=city>\nParis\n</parameter>\n</function>\n</tool_call>\n<tool_call>\n"
     "<function=get_time>\n<parameter=city>\nParis\n</parameter>\n</function>\n</tool_call>",
     [PARIS, PARIS_TIME], "I'll check both."),
    ("qwen3_coder", "after-reasoning", "<think>\nWeather first.\n</think>\n\n<tool_call>\n"
     "<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>\n</tool_call>",
     [PARIS], ""),
    ("qwen3_coder", "nested-multiline", "<tool_call>\n<function=search>\n<parameter=query>\n"
     f"{NESTED['query']}\n</parameter>\n<parameter=filters>\n"
     f"{json.dumps(NESTED['filters'], ensure_ascii=False)}\n</parameter>\n<parameter=limit>\n3\n"
     "</parameter>\n<parameter=code>\ndef f():\n    return 1\n</parameter>\n</function>\n"
     "</tool_call>", [("search", {**NESTED, "code": "def f():\n    return 1"})], ""),
    ("qwen3_coder", "old-template-bool", "<tool_call>\n<function=search>\n<parameter=query>\nx\n"
     "</parameter>\n<parameter=exact>\nTrue\n</parameter>\n</function>\n</tool_call>",
     [("search", {"query": "x", "exact": True})], ""),
    ("qwen3_coder", "no-wrapper", "<function=get_weather>\n<parameter=city>\nParis\n"
     "</parameter>\n</function>", [PARIS], ""),
    ("qwen3_coder", "missing-parameter-end", "<tool_call>\n<function=get_weather>\n"
     "<parameter=city>\nParis\n<parameter=days>\n3\n</function>\n</tool_call>",
     [("get_weather", {"city": "Paris", "days": 3})], ""),
    # Kimi K2 (chat template; vLLM kimi_k2 parser)
    ("kimi_k2", "single", "I'll check.<|tool_calls_section_begin|><|tool_call_begin|>"
     'functions.get_weather:0<|tool_call_argument_begin|>{"city": "Paris"}<|tool_call_end|>'
     "<|tool_calls_section_end|>", [PARIS], "I'll check."),
    ("kimi_k2", "parallel", "<|tool_calls_section_begin|><|tool_call_begin|>"
     'functions.get_weather:0<|tool_call_argument_begin|>{"city": "Paris"}<|tool_call_end|>'
     '<|tool_call_begin|>functions.get_time:1<|tool_call_argument_begin|>{"city": "Paris"}'
     "<|tool_call_end|><|tool_calls_section_end|>", [PARIS, PARIS_TIME], ""),
    ("kimi_k2", "after-reasoning", "<think>Weather.</think><|tool_calls_section_begin|>"
     '<|tool_call_begin|>functions.get_weather:0 <|tool_call_argument_begin|> {"city": "Paris"} '
     "<|tool_call_end|><|tool_calls_section_end|>", [PARIS], ""),
    ("kimi_k2", "nested", "<|tool_calls_section_begin|><|tool_call_begin|>functions.search:0"
     f"<|tool_call_argument_begin|>{NESTED_JSON}<|tool_call_end|><|tool_calls_section_end|>",
     [SEARCH], ""),
    ("kimi_k2", "singular-section", "<|tool_call_section_begin|><|tool_call_begin|>"
     'functions.get_weather:0<|tool_call_argument_begin|>{"city": "Paris"}<|tool_call_end|>'
     "<|tool_call_section_end|>", [PARIS], ""),
    # IBM Granite 3.x (chat template: <|tool_call|> + JSON list)
    ("granite", "single", '<|tool_call|>[{"name": "get_weather", "arguments": {"city": '
     '"Paris"}}]', [PARIS], ""),
    ("granite", "parallel", '<|tool_call|>[{"name": "get_weather", "arguments": {"city": '
     '"Paris"}}, {"name": "get_time", "arguments": {"city": "Paris"}}]<|end_of_text|>',
     [PARIS, PARIS_TIME], ""),
    ("granite", "after-reasoning", "<think>Weather.</think>Checking.<|tool_call|>"
     f'[{{"name": "search", "arguments": {NESTED_JSON}}}]', [SEARCH], "Checking."),
    # gpt-oss harmony (openai/harmony docs/format.md; vLLM openai parser)
    ("harmony", "single", "<|channel|>analysis<|message|>User wants the weather in Paris."
     "<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json"
     '<|message|>{"city": "Paris"}<|call|>', [PARIS], ""),
    ("harmony", "recipient-in-role", "<|channel|>analysis<|message|>Need it.<|end|><|start|>"
     'assistant to=functions.get_weather<|channel|>commentary json<|message|>{"city": "Paris"}'
     "<|call|>", [PARIS], ""),
    ("harmony", "parallel-with-preamble", "<|channel|>analysis<|message|>Two calls.<|end|>"
     "<|start|>assistant<|channel|>commentary<|message|>Checking both.<|end|><|start|>assistant"
     "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>"
     '{"city": "Paris"}<|call|><|start|>assistant<|channel|>commentary to=functions.get_time '
     '<|constrain|>json<|message|>{"city": "Paris"}<|call|>', [PARIS, PARIS_TIME],
     "Checking both."),
    ("harmony", "nested-no-call-token", "<|channel|>commentary to=functions.search "
     f"<|constrain|>json<|message|>{NESTED_JSON}", [SEARCH], ""),
    # hermes / JSON / Python, as before
    ("hermes", "qwen3", "<think>\nWeather.\n</think>\n\n<tool_call>\n"
     '{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n<tool_call>\n'
     '{"name": "get_time", "arguments": {"city": "Paris"}}\n</tool_call>', [PARIS, PARIS_TIME],
     ""),
    ("json", "list", '[{"name": "get_weather", "arguments": {"city": "Paris"}}, '
     f'{{"name": "search", "arguments": {NESTED_JSON}}}]', [PARIS, SEARCH], ""),
    ("python", "bfcl-list", "[get_weather(city='Paris'), get_time(city='Paris')]",
     [PARIS, PARIS_TIME], ""),
]

# ---- (format, id, raw output): markup that cannot be read is an invalid call -------------
BROKEN = [
    ("llama3", "truncated", '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Pa'),
    ("llama3", "prose-after-tag", "<|python_tag|>I will look up the weather now."),
    ("llama3", "empty-after-tag", "Checking.<|python_tag|><|eom_id|>"),
    ("llama3", "second-broken", '<|python_tag|>{"name": "get_weather", "parameters": {}}; '
     '{"name": "get_time", "parameters": '),
    ("mistral", "truncated-v11", '[TOOL_CALLS]get_weather[ARGS]{"city": "Pa'),
    ("mistral", "truncated-v3", '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": '),
    ("mistral", "name-only", "[TOOL_CALLS]get_weather"),
    ("mistral", "empty", "Let me check.[TOOL_CALLS]</s>"),
    ("mistral", "bad-name", '[TOOL_CALLS]get weather[ARGS]{"city": "Paris"}'),
    ("mistral", "array-arguments", '[TOOL_CALLS]get_weather[ARGS]["Paris"]'),
    ("deepseek", "truncated-v3", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>"
     'get_weather\n```json\n{"city": "Pa'),
    ("deepseek", "truncated-v3.1", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather"
     '<｜tool▁sep｜>{"city": "Pa'),
    ("deepseek", "no-sep", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather"
     '{"city": "Paris"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>'),
    ("deepseek", "empty-section", "Let me check.<｜tool▁calls▁begin｜><｜tool▁calls▁end｜>"),
    ("deepseek", "dsml-truncated", '<｜DSML｜function_calls>\n<｜DSML｜invoke name="get_weather">'
     '\n<｜DSML｜parameter name="city" string="true">Paris</｜DSML｜parameter>\n'),
    ("deepseek", "dsml-no-invoke", "<｜DSML｜function_calls>\nget_weather(city=Paris)\n"
     "</｜DSML｜function_calls>"),
    ("glm45", "truncated-value", "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Pa"),
    ("glm45", "truncated-after-pair", "<tool_call>get_weather\n<arg_key>city</arg_key>\n"
     "<arg_value>Paris</arg_value>\n"),
    ("glm45", "value-without-key", "<tool_call>get_weather\n<arg_value>Paris</arg_value>\n"
     "</tool_call>"),
    ("glm45", "twice", "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris"
     "</arg_value>\n<arg_key>city</arg_key>\n<arg_value>Oslo</arg_value>\n</tool_call>"),
    ("qwen3_coder", "truncated-value", "<tool_call>\n<function=get_weather>\n<parameter=city>\nPa"),
    ("qwen3_coder", "truncated-before-function-end", "<tool_call>\n<function=get_weather>\n"
     "<parameter=city>\nParis\n</parameter>\n"),
    ("qwen3_coder", "no-function", "<tool_call>\n<parameter=city>\nParis\n</parameter>\n"
     "</tool_call>"),
    ("qwen3_coder", "stray-text", "<tool_call>\n<function=get_weather>\ncity is Paris\n"
     "</function>\n</tool_call>"),
    ("qwen3_coder", "bare-truncated", "<function=get_weather>\n<parameter=city>\nParis"),
    ("kimi_k2", "truncated", "<|tool_calls_section_begin|><|tool_call_begin|>"
     'functions.get_weather:0<|tool_call_argument_begin|>{"city": "Pa'),
    ("kimi_k2", "no-argument-marker", "<|tool_calls_section_begin|><|tool_call_begin|>"
     "functions.get_weather:0<|tool_call_end|><|tool_calls_section_end|>"),
    ("kimi_k2", "empty-section", "<|tool_calls_section_begin|><|tool_calls_section_end|>"),
    ("granite", "truncated", '<|tool_call|>[{"name": "get_weather", "arguments": {"city": "P'),
    ("granite", "empty-list", "<|tool_call|>[]"),
    ("granite", "no-name", '<|tool_call|>[{"arguments": {"city": "Paris"}}]'),
    ("harmony", "truncated", "<|channel|>analysis<|message|>Need it.<|end|><|start|>assistant"
     '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Pa'),
    ("harmony", "no-message", "<|channel|>analysis<|message|>Need it.<|end|><|start|>assistant"
     "<|channel|>commentary to=functions.get_weather <|constrain|>json"),
    ("harmony", "not-json", "<|channel|>commentary to=functions.get_weather<|message|>Paris"
     "<|call|>"),
    ("hermes", "truncated", '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Pa'),
]

# ---- (format, id, raw output): prose that mentions a tool is a final answer ---------------
FINAL = [
    ("llama3", "mentions", "I called get_weather earlier: it is 18 °C in Paris; enjoy!<|eot_id|>"),
    ("llama3", "json-not-a-call", '{"name": "Paris", "population": 2102650}'),
    ("mistral", "mentions", "Using get_weather(city='Paris') gave 18 °C, so bring a jacket.</s>"),
    ("deepseek", "mentions", "<think>\nI already have it.\n</think>\n\nThe get_weather tool says "
     "18 °C in Paris.<｜end▁of▁sentence｜>"),
    ("deepseek", "fullwidth-prose", "Use the ｜ sign <｜not a tool marker｜> in tables."),
    ("glm45", "mentions", "<think>Done.</think>\nAccording to get_weather, Paris is at 18 °C."),
    ("qwen3_coder", "mentions", "Call it as <function=get_weather> with a city; Paris is 18 °C."),
    ("kimi_k2", "mentions", "functions.get_weather:0 returned 18 °C for Paris."),
    ("granite", "mentions", "The tool_call to get_weather returned 18 °C."),
    ("harmony", "final", "<|channel|>analysis<|message|>I know this; to=functions.get_weather "
     "is not needed.<|end|><|start|>assistant<|channel|>final<|message|>Paris: 18 °C.<|return|>"),
    ("python", "formula", "The answer is f(x) = 2x, so get_weather is not needed."),
]


def raw(family, case):
    """The raw output of one case of :data:`CALLS`."""
    return next(entry[2] for entry in CALLS if entry[:2] == (family, case))


def summary(turn):
    return [(call.name, call.arguments) for call in turn.calls]


def ids(cases):
    return [f"{case[0]}-{case[1]}" for case in cases]


def test_every_format_is_covered():
    for table in (CALLS, BROKEN, FINAL):
        assert {case[0] for case in table} >= set(TEXT_FORMATS) - {"hermes", "json", "python"}


@pytest.mark.parametrize("action_format", ["forced", "auto"])
@pytest.mark.parametrize("family, case, raw, expected, content", CALLS, ids=ids(CALLS))
def test_calls(family, case, raw, expected, content, action_format):
    turn = parse_action(raw, family if action_format == "forced" else "auto", TOOLS,
                        tool_schemas=SCHEMAS)
    assert not turn.errors, turn.errors
    assert summary(turn) == expected
    assert turn.content == content
    if action_format == "forced" or family not in ("json", "python"):
        assert turn.format == family


@pytest.mark.parametrize("action_format", ["forced", "auto"])
@pytest.mark.parametrize("family, case, raw", BROKEN, ids=ids(BROKEN))
def test_broken_markup_is_an_invalid_call(family, case, raw, action_format):
    turn = parse_action(raw, family if action_format == "forced" else "auto", TOOLS,
                        tool_schemas=SCHEMAS)
    assert not turn.is_final
    assert turn.errors and all(turn.errors)
    assert all(call.arguments == {} for call in turn.calls if call.error)
    assert turn.format == family
    assert not any(error.startswith("internal parser error") for error in turn.errors)


@pytest.mark.parametrize("action_format", ["forced", "auto"])
@pytest.mark.parametrize("family, case, raw", FINAL, ids=ids(FINAL))
def test_prose_mentioning_a_tool_is_a_final_answer(family, case, raw, action_format):
    turn = parse_action(raw, family if action_format == "forced" else "auto", TOOLS,
                        tool_schemas=SCHEMAS)
    assert turn.is_final, turn
    assert turn.format == "none"


def test_harmony_final_answer_is_the_final_channel():
    turn = parse_action(FINAL[9][2])
    assert turn.content == "Paris: 18 °C."  # the analysis channel is reasoning: dropped


def test_call_ids_are_kept_where_the_format_carries_them():
    mistral = parse_action(raw("mistral", "v3-list"))
    kimi = parse_action(raw("kimi_k2", "parallel"))
    assert mistral.calls[0].call_id == "a1B2c3D4e"
    assert [call.call_id for call in kimi.calls] == ["functions.get_weather:0",
                                                     "functions.get_time:1"]


@pytest.mark.parametrize("raw, expected", [
    ("Sure.[TOOL_CALLS]f[ARGS]{} and <tool_call>", "mistral"),
    ('<tool_call>{"name": "f"}</tool_call> then [TOOL_CALLS]', "tags"),
    ("<|python_tag|>{}", "llama3"),
    ("<|python_start|>[f()]<|python_end|>", "llama3"),
    ("<｜tool▁calls▁begin｜>", "deepseek"),
    ("<｜DSML｜function_calls>", "deepseek"),
    ("<|tool_calls_section_begin|>", "kimi_k2"),
    ("<|tool_call_begin|>functions.f:0", "kimi_k2"),
    ("<|tool_call|>[]", "granite"),
    ("<|channel|>final<|message|>x", "harmony"),
    ("<function=f>\n</function>", "qwen3_coder"),
    ("use <function=f> here", None),
    ("Paris <|eot_id|>", None),
    ("a | b < c", None),
])
def test_detection_by_the_earliest_marker(raw, expected):
    assert detect_format(raw) == expected


@pytest.mark.parametrize("forced, raw", [
    ("json", '<tool_call>{"name": "get_weather", "arguments": {}}</tool_call>'),
    ("python", '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}'),
    ("hermes", raw("llama3", "tag")),
    ("mistral", raw("deepseek", "v3.1")),
    ("glm45", raw("harmony", "single")),
    ("llama3", "<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>"),
])
def test_a_forced_format_reports_another_familys_markup(forced, raw):
    turn = parse_action(raw, forced, TOOLS)
    assert not turn.is_final
    (error,) = turn.errors
    assert f"this env reads {forced} calls" in error
    assert turn.format == detect_format(raw) or detect_format(raw) == "tags"


def test_openai_format_still_ignores_text_markup():
    assert parse_action(CALLS[0][2], "openai").is_final


@pytest.mark.parametrize("schema, text, expected", [
    ({"type": "string"}, "3", "3"),
    ({"type": "integer"}, "3", 3),
    ({"type": "number"}, "2.5", 2.5),
    ({"type": "boolean"}, "true", True),
    ({"type": "boolean"}, "False", False),  # Qwen3-Coder's old template prints str(value)
    ({"type": ["integer", "null"]}, "None", None),
    ({"type": "array"}, "[1, 2]", [1, 2]),
    ({"type": "object"}, '{"a": "é"}', {"a": "é"}),
    ({"enum": ["3", "4"]}, "3", "3"),
    ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, "3", 3),
    ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, "three", "three"),
    ({"type": "integer"}, "three", "three"),  # left as text: the schema check words the error
    ({"type": ["string", "array"]}, "{}", "{}"),  # an object is not allowed: kept as text
    ({"description": "no type"}, "[1]", [1]),
    (None, "42", 42),  # no schema: JSON is decoded, as the templates print non-strings as JSON
    (None, "Paris", "Paris"),
])
def test_bare_values_are_typed_by_the_schema(schema, text, expected):
    schemas = {"f": {"type": "object", "properties": {"v": schema} if schema else {}}}
    glm = f"<tool_call>f\n<arg_key>v</arg_key>\n<arg_value>{text}</arg_value>\n</tool_call>"
    qwen = f"<tool_call>\n<function=f>\n<parameter=v>\n{text}\n</parameter>\n</function>\n" \
           "</tool_call>"
    for raw in (glm, qwen):
        (call,) = parse_action(raw, tool_schemas=schemas).calls
        assert call.arguments == {"v": expected}
        assert type(call.arguments["v"]) is type(expected)


def test_string_values_keep_their_text_exactly():
    schemas = {"f": {"properties": {"v": {"type": "string"}}}}
    for text in (" padded ", "0012", "null", "true", "[1]", "line\nbreak"):
        glm = f"<tool_call>f<arg_key>v</arg_key><arg_value>{text}</arg_value></tool_call>"
        assert parse_action(glm, tool_schemas=schemas).calls[0].arguments == {"v": text}


def test_max_calls_applies_to_every_format():
    for family, case, raw, expected, _ in CALLS:
        if len(expected) < 2:
            continue
        turn = parse_action(raw, family, TOOLS, max_calls=1, tool_schemas=SCHEMAS)
        assert (len(turn.calls), turn.dropped) == (1, len(expected) - 1), (family, case)
        assert summary(turn) == expected[:1]


def test_all_formats_are_action_formats():
    assert ("auto", "openai", *TEXT_FORMATS) == ACTION_FORMATS


@pytest.mark.parametrize("closing", [f"{CE}{E}", CE])  # the section's end may be missing
def test_deepseek_prose_around_the_calls_is_the_content(closing):
    turn = parse_action(f'Checking.{B}{C}get_weather{S}{{"city": "Paris"}}{closing} Done.{EOS}')
    assert (turn.content, summary(turn)) == ("Checking. Done.", [PARIS])


def test_deepseek_v3_fence_may_hold_backticks_in_its_json():
    turn = parse_action(f"{B}{C}function{S}search\n```json\n" + '{"query": "```x```"}'
                        f"\n```{CE}{E}")
    assert summary(turn) == [("search", {"query": "```x```"})]


def test_mistral_calls_in_one_segment_are_capped_and_scanned_once():
    many = "[TOOL_CALLS]" + 'get_time[ARGS]{"city": "Paris"}, ' * 10_000
    turn = parse_action(many, max_calls=5)
    assert (len(turn.calls), turn.dropped) == (5, 9_995)
    # a long segment without [ARGS] must not be rescanned per call (quadratic: minutes)
    turn = parse_action("[TOOL_CALLS]" + "f{}" * 200_000)
    assert len(turn.calls) == 200_000 and not turn.errors
