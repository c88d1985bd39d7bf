"""The strategies of astra_gym.testing: valid and invalid arguments, turns in every format."""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import gymnasium as gym
import jsonschema
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

import astra_gym
from astra_gym.parsers import parse_action
from astra_gym.testing import (
    action_texts,
    arguments,
    final_answers,
    invalid_arguments,
    malformed_tool_calls,
    tool_call,
)

TASKS = Path(astra_gym.__file__).parent / "packs" / "demo" / "tasks.jsonl"
SETTINGS = settings(max_examples=200, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
#: find() without shrinking: the first example found is enough (and fast)
FIND = settings(max_examples=3_000, database=None, phases=[Phase.generate])


def _demo_tools() -> list[dict[str, Any]]:
    tools = {}
    for line in TASKS.read_text(encoding="utf-8").splitlines():
        task = json.loads(line)
        for tool in task["tools"] + task.get("distractor_tools", []):
            tools[json.dumps(tool["parameters"], sort_keys=True)] = tool
    return list(tools.values())


DEMO_TOOLS = _demo_tools()
DEMO_SCHEMAS = [tool["parameters"] for tool in DEMO_TOOLS]
HAND_WRITTEN = [
    # nested objects, arrays of closed objects, bounds, patterns, type lists, const
    {"type": "object", "additionalProperties": False, "required": ["guests", "stay"],
     "properties": {
         "hotel_id": {"type": "string", "pattern": "^HTL-[0-9]{4}$"},
         "guests": {"type": "array", "minItems": 1, "maxItems": 4, "uniqueItems": True,
                    "items": {"type": "object", "additionalProperties": False,
                              "required": ["name", "age"],
                              "properties": {"name": {"type": "string", "minLength": 1,
                                                      "maxLength": 40},
                                             "age": {"type": "integer", "minimum": 0,
                                                     "maximum": 120}}}},
         "stay": {"type": "object", "required": ["check_in", "nights"],
                  "properties": {"check_in": {"type": "string", "format": "date"},
                                 "nights": {"type": "integer", "exclusiveMinimum": 0,
                                            "maximum": 30}}},
         "budget": {"type": ["number", "null"], "minimum": 0, "exclusiveMaximum": 10000},
         "room": {"enum": ["single", "double", "suite"]},
         "api_version": {"const": 2},
     }},
    # a type list at the top of a property, open extras with a schema, string bounds
    {"type": "object", "required": ["query"],
     "properties": {"query": {"type": "string", "minLength": 2, "maxLength": 8},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 50},
                    "tags": {"type": "array", "items": {"type": "string",
                                                        "pattern": "[a-z]"}},
                    "flag": {"type": ["boolean", "string", "null"]}},
     "additionalProperties": {"type": "number", "minimum": 0}},
    # keywords outside the generator's subset: anyOf, $ref/$defs, minProperties, not
    {"type": "object", "minProperties": 1,
     "properties": {"city": {"anyOf": [{"type": "string", "minLength": 1},
                                       {"type": "integer", "minimum": 1}]},
                    "point": {"$ref": "#/$defs/point"},
                    "unit": {"type": "string", "not": {"const": "kelvin"}}},
     "$defs": {"point": {"type": "object", "required": ["lat", "lon"],
                         "properties": {"lat": {"type": "number", "minimum": -90,
                                                "maximum": 90},
                                        "lon": {"type": "number", "minimum": -180,
                                                "maximum": 180}}}}},
    # no arguments at all
    {"type": "object", "properties": {}, "additionalProperties": False},
]
SCHEMAS = DEMO_SCHEMAS + HAND_WRITTEN


@cache
def _validator(key: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(key))


def is_valid(schema: dict[str, Any], value: Any) -> bool:
    return _validator(json.dumps(schema, sort_keys=True)).is_valid(value)


def with_schema(strategy):
    return st.sampled_from(SCHEMAS).flatmap(
        lambda schema: st.tuples(st.just(schema), strategy(schema)))


def test_the_demo_pack_schemas_are_all_used():
    assert len(DEMO_SCHEMAS) > 100
    assert all(schema.get("type") == "object" for schema in DEMO_SCHEMAS)


@SETTINGS
@given(with_schema(arguments))
def test_arguments_satisfy_the_schema(pair):
    schema, value = pair
    assert is_valid(schema, value), (schema, value)
    assert isinstance(value, dict)
    assert set(schema.get("required", [])) <= set(value)
    json.dumps(value, allow_nan=False)  # plain JSON data


@SETTINGS
@given(with_schema(invalid_arguments))
def test_invalid_arguments_never_satisfy_the_schema(pair):
    schema, value = pair
    assert not is_valid(schema, value), (schema, value)
    json.dumps(value, allow_nan=False)


@SETTINGS
@given(st.sampled_from(SCHEMAS), st.sampled_from([True, False, None]), st.data())
def test_tool_call_pairs_the_name_with_arguments(schema, valid, data):
    name, value = data.draw(tool_call("tool", schema, valid=valid))
    assert name == "tool"
    if valid is not None:
        assert is_valid(schema, value) is valid
    json.dumps(value, allow_nan=False)


def test_arguments_mix_optional_properties_and_realistic_strings():
    schema = HAND_WRITTEN[0]
    find_settings = FIND
    found = find(arguments(schema), lambda value: {"hotel_id", "budget", "room"} <= set(value),
                 settings=find_settings)
    assert is_valid(schema, found)
    find(arguments(schema), lambda value: len(value) == 2, settings=find_settings)
    city = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    find(arguments(city), lambda value: value["city"] in ("北京", "上海", "Paris", "Tokyo"),
         settings=find_settings)
    find(arguments(city), lambda value: value["city"].count("-") == 2,  # a date
         settings=find_settings)


@pytest.mark.parametrize("kind", ["missing", "wrong_type", "unknown", "enum", "bound",
                                  "not_object", "nested"])
def test_invalid_arguments_cover_every_kind_of_violation(kind):
    schema = HAND_WRITTEN[0]
    properties = schema["properties"]
    checks = {
        "missing": lambda v: isinstance(v, dict) and "guests" not in v,
        "wrong_type": lambda v: isinstance(v, dict) and isinstance(v.get("hotel_id"), int),
        "unknown": lambda v: isinstance(v, dict) and not set(v) <= set(properties),
        "enum": lambda v: isinstance(v, dict) and isinstance(v.get("room"), str)
        and v["room"] not in properties["room"]["enum"],
        "bound": lambda v: isinstance(v, dict) and isinstance(v.get("budget"), int | float)
        and v["budget"] < 0,
        "not_object": lambda v: not isinstance(v, dict),
        "nested": lambda v: isinstance(v, dict) and isinstance(v.get("stay"), dict)
        and not is_valid(properties["stay"], v["stay"]),
    }
    found = find(invalid_arguments(schema), checks[kind],
                 settings=FIND)
    assert not is_valid(schema, found)


def test_schema_errors_are_reported():
    with pytest.raises(jsonschema.SchemaError):
        arguments({"type": "float"})
    with pytest.raises(ValueError, match="accepts every value"):
        invalid_arguments({})


# -- turns -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_tools():
    env = gym.make("astra/demo-v0")
    _, info = env.reset(seed=0, options={"task_id": "demo-ecommerce-011"})
    env.close()
    return info["tools"]


def _parse(action, tools):
    return parse_action(action, tool_names=[tool["function"]["name"] for tool in tools])


def test_action_texts_parse_in_every_format(demo_tools):
    formats: Counter[str] = Counter()
    errors = Counter()

    # derandomize: these tests assert proportions of generated examples
    @settings(max_examples=300, deadline=None, database=None, derandomize=True)
    @given(action_texts(demo_tools))
    def run(action):
        turn = _parse(action, demo_tools)
        formats[turn.format] += 1
        errors[bool(turn.errors)] += 1
        if isinstance(action, dict) and action.get("tool_calls"):
            assert turn.format == "openai" and len(turn.calls) == len(action["tool_calls"])
            ids = [call["id"] for call in action["tool_calls"]]
            assert len(set(ids)) == len(ids)
        elif isinstance(action, str) and "<tool_call>" in action:
            assert turn.format == "hermes" and turn.calls
        if turn.format != "none":
            assert 1 <= len(turn.calls) <= 3

    run()
    assert set(formats) == {"openai", "hermes", "json", "python", "none"}, formats
    assert errors[False] > errors[True] > 0, errors  # mostly well-formed calls, some not


def test_action_texts_call_known_and_unknown_tools_with_valid_and_invalid_arguments(
        demo_tools):
    names = {tool["function"]["name"] for tool in demo_tools}
    schemas = {tool["function"]["name"]: tool["function"]["parameters"] for tool in demo_tools}
    seen = Counter()

    # derandomize: these tests assert proportions of generated examples
    @settings(max_examples=200, deadline=None, database=None, derandomize=True)
    @given(action_texts(demo_tools))
    def run(action):
        for call in _parse(action, demo_tools).calls:
            if call.error is not None:
                seen["error"] += 1
            elif call.name not in names:
                seen["unknown tool"] += 1
            elif not call.args:
                seen[is_valid(schemas[call.name], call.arguments)] += 1

    run()
    assert seen[True] > seen[False] > 0 and seen["unknown tool"] > 0, seen


def test_action_texts_without_tools_still_work():
    turn = find(action_texts([]), lambda action: bool(parse_action(action).calls),
                settings=FIND)
    assert all(call.name not in ("", None) or call.error for call in parse_action(turn).calls)


@SETTINGS
@given(st.data())
def test_final_answers_are_final(demo_tools, data):
    action = data.draw(final_answers(demo_tools))
    turn = _parse(action, demo_tools)
    assert turn.is_final and turn.format == "none"


@SETTINGS
@given(st.data())
def test_malformed_tool_calls_never_crash_the_parser(demo_tools, data):
    action = data.draw(malformed_tool_calls(demo_tools))
    turn = _parse(action, demo_tools)
    if isinstance(action, dict) and (action.get("tool_calls") is not None
                                     or action.get("function_call") is not None):
        assert turn.calls and turn.errors, action  # reported, never taken for an answer
    elif isinstance(action, str) and action.startswith("<tool_call>"):
        assert turn.calls, action
    if isinstance(action, dict):
        entries = action.get("tool_calls")
        ids = [entry["id"] for entry in entries if isinstance(entry, dict) and "id" in entry] \
            if isinstance(entries, list) else []
        assert len(set(ids)) == len(ids)


def test_malformed_tool_calls_are_mostly_errors(demo_tools):
    errors = Counter()

    # derandomize: these tests assert proportions of generated examples
    @settings(max_examples=200, deadline=None, database=None, derandomize=True)
    @given(malformed_tool_calls(demo_tools))
    def run(action):
        errors[bool(_parse(action, demo_tools).errors)] += 1

    run()
    assert errors[True] > errors[False], errors


def test_invalid_arguments_reach_the_env_as_the_right_error(demo_tools):
    env = gym.make("astra/demo-v0")
    tool = next(t for t in demo_tools if t["function"]["name"] == "calculate_shipping_cost")
    schema = tool["function"]["parameters"]
    kinds = Counter()

    # derandomize: these tests assert proportions of generated examples
    @settings(max_examples=60, deadline=None, database=None, derandomize=True)
    @given(tool_call("calculate_shipping_cost", schema, valid=None))
    def run(call):
        name, value = call
        env.reset(seed=0, options={"task_id": "demo-ecommerce-011"})
        message = {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_a", "type": "function",
             "function": {"name": name, "arguments": json.dumps(value)}}]}
        observation, *_, info = env.step(message)
        kind = info["calls"][0]["error_kind"]
        kinds[kind] += 1
        if is_valid(schema, value):
            assert kind not in ("parse_error", "unknown_tool", "invalid_arguments"), observation
        elif isinstance(value, dict):
            assert kind == "invalid_arguments", observation
        else:  # "arguments" must be a JSON object: the env calls that a parse error
            assert kind == "parse_error", observation

    try:
        run()
    finally:
        env.close()
    assert kinds["invalid_arguments"] > 0 and sum(kinds.values()) > kinds["invalid_arguments"]
