"""synth.sft.sources and synth.sft.normalize: rows to OpenAI schemas, every filter with its code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from synth.sft.normalize import normalize_servers, normalize_tool, vague_reason
from synth.sft.sources import SourceError, raw_server_from_row, read_tool_files


def tool(name: str, description: str = "Does a useful thing well", **parameters: Any
         ) -> dict[str, Any]:
    schema = parameters or {"type": "object", "properties": {"x": {"type": "string"}},
                            "required": ["x"]}
    return {"type": "function", "function": {"name": name, "description": description,
                                             "parameters": schema}}


def json_row(name: str, tools: list[Any], **server: Any) -> dict[str, Any]:
    return {"server": {"name": name, "description": "A test service for things.", **server},
            "tools": tools}


def astra_row(name: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
    return {"base_info": {"group_info": {"server_title": name.title(), "server_name": name,
                                         "server_description": "天气预报服务", "domain": "weather"},
                          "tool_list": tools},
            "call_info": {"mock_tool": True}, "features": {"stars": 3}}


def raws(*rows: Any) -> list[dict[str, Any]]:
    return [raw_server_from_row(row, {"path": "f.jsonl", "line": i})
            for i, row in enumerate(rows, start=1)]


def test_astra_and_json_rows_become_the_same_server_rows():
    bare = [{"name": f"t{i}", "description": "Look up a thing by id", "parameters": {
        "type": "object", "properties": {"id": {"type": "string"}}}} for i in range(3)]
    kept, report = normalize_servers(raws(astra_row("weather", bare),
                                          json_row("other", [tool(f"u{i}") for i in range(3)])))
    assert [row["server"]["name"] for row in kept] == ["weather", "other"]
    astra = kept[0]
    assert astra["server"] == {"name": "weather", "title": "Weather",
                               "description": "天气预报服务", "domain": "weather",
                               "version": None, "language": "zh"}
    assert astra["tools"][0] == {"type": "function", "function": {
        "name": "t0", "description": "Look up a thing by id",
        "parameters": {"type": "object", "properties": {"id": {"type": "string"}}}}}
    assert astra["call_info"] == {"mock_tool": True} and astra["extra"] == {
        "features": {"stars": 3}}
    assert astra["source"] == {"kind": "astra", "path": "f.jsonl", "line": 1}
    assert kept[1]["source"]["kind"] == "json" and kept[1]["server"]["language"] == "en"
    assert astra["server_id"].startswith("srv-") and astra["server_id"] != kept[1]["server_id"]
    assert report["servers"] == {"in": 2, "kept": 2, "dropped": 0}
    assert report["tools"] == {"in": 6, "kept": 6, "dropped": 0}


@pytest.mark.parametrize(("bad", "code"), [
    (tool("bad name!"), "invalid_name"),
    (tool("x" * 65), "invalid_name"),
    ({"type": "function", "function": {"name": "f", "parameters": {}}}, "missing_description"),
    (tool("f", "   "), "missing_description"),
    (tool("f", "TODO"), "vague_description"),
    (tool("get_weather", "get weather"), "vague_description"),
    (tool("f", "Search"), "vague_description"),
    (tool("f", "查询"), "vague_description"),
    (tool("f", type="object", properties={"x": {"type": "no-such-type"}}), "invalid_schema"),
    (tool("f", type="object", properties={"x": {}}, required=["y"]), "invalid_schema"),
    (tool("f", type="array", items={}), "not_object_schema"),
    (tool("f", type="object", properties=["x"]), "invalid_schema"),
    (tool("f", type=["object", "null"], properties={}), "not_object_schema"),
    (tool("f", anyOf=[{"type": "object"}, {"type": "string"}]), "not_object_schema"),
    ({"name": "f", "description": "Does a useful thing well", "parameters": "x"},
     "not_object_schema"),
])
def test_each_tool_filter_drops_with_its_code(bad, code):
    normal, problem = normalize_tool(bad)
    assert normal is None and problem[0] == code, problem
    others = [tool(f"ok{i}") for i in range(3)]
    kept, report = normalize_servers(raws(json_row("s", [bad, *others])))
    entry = report["entries"][0]
    assert [d["code"] for d in entry["dropped_tools"]] == [code]
    assert report["reasons"] == {code: 1} and len(kept[0]["tools"]) == 3


def test_usable_descriptions_and_schemas_pass_normalized():
    assert vague_reason("Switches branches", "git_checkout") is None
    assert vague_reason("查询城市天气预报", "f") is None
    for schema, expected in [
            (None, {"type": "object", "properties": {}}),
            ({"type": "object"}, {"type": "object", "properties": {}}),
            ({"properties": {"a": {"type": "integer"}}},
             {"properties": {"a": {"type": "integer"}}, "type": "object"})]:
        function = {"name": "f", "description": "  Does a useful thing well\n"}
        if schema is not None:
            function["inputSchema"] = schema
        normal, problem = normalize_tool(function)
        assert problem is None
        assert normal["function"] == {"name": "f", "description": "Does a useful thing well",
                                      "parameters": expected}


def test_server_filters_duplicates_and_notes():
    three = [tool(f"t{i}") for i in range(3)]
    kept, report = normalize_servers(raws(
        json_row("small", three[:2]),                             # too few tools
        json_row("big", [*three, tool("t0", "Another description here")]),  # duplicate tool
        json_row("big", three),                                   # the same server again
        {"neither": 1},                                           # unknown shape
        json_row("", three)))                                     # no name
    assert [row["server"]["name"] for row in kept] == ["big"]
    codes = [entry["reason_codes"] for entry in report["entries"]]
    assert codes == [["too_few_tools"], [], ["duplicate_server"], ["invalid_row"],
                     ["invalid_row"]]
    dup_tool = report["entries"][1]["dropped_tools"][0]
    assert dup_tool["code"] == "duplicate_tool" and "a different definition" in dup_tool["reason"]
    assert report["entries"][2]["notes"] == ["duplicate of f.jsonl:2, removed"]
    assert "neither" in report["entries"][3]["reasons"][0]
    assert report["reasons"] == {"duplicate_server": 1, "duplicate_tool": 1, "invalid_row": 2,
                                 "too_few_tools": 1}
    assert report["servers"] == {"in": 5, "kept": 1, "dropped": 4}


def test_min_tools_is_a_setting():
    kept, _ = normalize_servers(raws(json_row("s", [tool("a"), tool("b")])), min_tools=2)
    assert len(kept) == 1


def test_read_tool_files(tmp_path: Path):
    path = tmp_path / "tools.jsonl"
    path.write_text(json.dumps(json_row("s", [tool("a")])) + "\n\n"
                    + json.dumps(astra_row("w", [])) + "\n", encoding="utf-8")
    rows = read_tool_files([path])
    assert [(r["source"]["kind"], r["source"]["line"]) for r in rows] == [("json", 1),
                                                                          ("astra", 3)]
    path.write_text('{"server": \n', encoding="utf-8")
    with pytest.raises(SourceError, match=r"tools.jsonl:1: invalid JSON"):
        read_tool_files([path])
    with pytest.raises(SourceError, match="cannot read"):
        read_tool_files([tmp_path / "missing.jsonl"])
