"""Python call syntax as a whole turn: ``f(a=1)``, one call a line, or a BFCL list."""

from __future__ import annotations

import pytest

from astra_gym.parsers import parse_python_calls

TOOLS = {"get_weather", "search", "math.sqrt"}


def summary(calls):
    return [(call.name, call.args, call.arguments, call.error) for call in calls]


@pytest.mark.parametrize("text, expected", [
    ("get_weather(city='Paris')", [("get_weather", (), {"city": "Paris"}, None)]),
    ("  get_weather('Paris', days=3)\n", [("get_weather", ("Paris",), {"days": 3}, None)]),
    ("get_weather(city='Paris')\nsearch(q='x')",
     [("get_weather", (), {"city": "Paris"}, None), ("search", (), {"q": "x"}, None)]),
    ("get_weather(city='Paris'); search(q='x')",
     [("get_weather", (), {"city": "Paris"}, None), ("search", (), {"q": "x"}, None)]),
    ("[get_weather(city='Paris'), search(q='x')]",
     [("get_weather", (), {"city": "Paris"}, None), ("search", (), {"q": "x"}, None)]),
    ("get_weather(\n    city='Paris',\n    days=[1, (2, 3)],\n)",
     [("get_weather", (), {"city": "Paris", "days": [1, [2, 3]]}, None)]),
    ("print(search(q=None))", [("search", (), {"q": None}, None)]),
    ("math.sqrt(x=2.0)", [("math.sqrt", (), {"x": 2.0}, None)]),
    ("search(q='日本')  # a comment", [("search", (), {"q": "日本"}, None)]),
    ("```python\nsearch(q='x')\n```", [("search", (), {"q": "x"}, None)]),
    ("```\n[search(q='x'), search(q='y')]\n```",
     [("search", (), {"q": "x"}, None), ("search", (), {"q": "y"}, None)]),
    ("```tool_code\nsearch(q='x')\n```", [("search", (), {"q": "x"}, None)]),
])
def test_parses(text, expected):
    assert summary(parse_python_calls(text, TOOLS)) == expected


@pytest.mark.parametrize("text, error", [
    ("search(q=query)", "argument 'q' is not a literal ('query')"),
    ("search(__import__('os').system('ls'))", "positional argument 1 is not a literal"),
    ("search(*qs)", "*args unpacking is not allowed"),
    ("search(**kw)", "**kwargs unpacking is not allowed"),
    ("search(q={1, 2})", "argument 'q' is a set literal"),
    ("search(q=1e999)", "argument 'q' is inf, which JSON cannot represent"),
    # starts like a call of a known tool, but is not Python
    ("search(q='x'", "not valid Python: '(' was never closed"),
    ("search(q='x') and then I will answer", "not valid Python: invalid syntax"),
    ("search(" + "[" * 300 + "]" * 300 + ")", "not valid Python: too many nested parentheses"),
    ("search(q='" + "x" * 100_000 + "')", "the call is too long"),
])
def test_errors(text, error):
    (call,) = parse_python_calls(text, TOOLS)
    assert call.name == "search"
    assert call.arguments == {} and call.args == ()
    assert call.error is not None and call.error.startswith(error), call.error


def test_a_bad_call_among_good_ones():
    calls = parse_python_calls("[search(q='x'), search(q=y)]", TOOLS)
    assert [(call.name, call.error is None) for call in calls] == [
        ("search", True), ("search", False)]


@pytest.mark.parametrize("text", [
    "",
    "Paris",
    "42",
    "The answer is f(x) = 2x.",
    "f(x)",  # not a known tool: prose, not a call
    "print('hello')",
    "print(x)",
    "os.system('ls')",
    "get_weather",
    "x = get_weather(city='Paris')",
    "get_weather(city='Paris') + 1",
    "get_weather(city='Paris')[0]",
    "search(q='x')\nunknown()",
    "[search(q='x'), 3]",
    "[]",
    "(search)(q='x')",
    "search()()",
    "def search(q):\n    return q",
    "# just a comment",
    "I called search(q='x') already.",
    "Here:\n```python\nsearch(q='x')\n```",
    "```json\nsearch(q='x')\n```",
    "unknown(" + "x" * 100_000 + ")",
])
def test_not_calls(text):
    assert parse_python_calls(text, TOOLS) is None


def test_without_tool_names_any_plain_call_counts():
    assert summary(parse_python_calls("f(x)")) == [
        ("f", (), {}, "positional argument 1 is not a literal ('x'); only literal values "
                      "(strings, numbers, booleans, None, lists, dicts) are allowed")]
    assert [call.name for call in parse_python_calls("a.b.c(1)")] == ["a.b.c"]
    assert parse_python_calls("The answer is 4.") is None
    assert parse_python_calls("f(x") is None  # not a call unless it names a known tool


def test_raw_is_each_call_text():
    first, second = parse_python_calls("[search(q='x'),\n search(q='é')]", TOOLS)
    assert (first.raw, second.raw) == ("search(q='x')", "search(q='é')")


def test_windows_line_ends():
    calls = parse_python_calls("search(q='x')\r\nsearch(q='y')\rsearch(q='z')", TOOLS)
    assert [call.arguments["q"] for call in calls] == ["x", "y", "z"]


def test_many_calls_stay_fast():
    calls = parse_python_calls("\n".join(["search(q='é')"] * 5000), TOOLS)
    assert len(calls) == 5000 and all(call.error is None for call in calls)


def test_long_text_is_only_an_error_call_for_a_known_tool():
    long_args = "'" + "x" * 100_000 + "'"
    assert parse_python_calls(f"f(q={long_args})") is None
    (call,) = parse_python_calls(f"search(q={long_args})", TOOLS)
    assert call.error.startswith("the call is too long")


@pytest.mark.parametrize("text", [
    "Paris.",
    "The answer is f(x) = 2x + 1.",
    "# Summary\n\nget_weather says 18 °C (sunny).",
    "unknown_tool(city='Paris')",  # starts like a call, but not of a known tool
    "(get_weather)(city='Paris')",
    "42",
])
def test_prose_is_turned_down_before_any_ast_parse(text, monkeypatch):
    # issue 12: a final answer must cost a regex match, not an ast.parse
    import ast

    parsed = []
    real_parse = ast.parse

    def recording_parse(source, *args, **kwargs):
        parsed.append(source)
        return real_parse(source, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", recording_parse)
    results = [parse_python_calls(text, TOOLS)]
    if not text.startswith("unknown_tool"):  # without tool names any call counts
        results.append(parse_python_calls(text))
    monkeypatch.undo()
    assert results == [None] * len(results)
    assert parsed == []


def test_calls_still_reach_ast_parse():
    assert parse_python_calls("(search(q='x'), search(q='y'))", TOOLS)[1].arguments == {"q": "y"}
    assert parse_python_calls("print(search(q='x'))", TOOLS)[0].name == "search"
    assert parse_python_calls("é_tool(q=1)", {"é_tool"})[0].name == "é_tool"
