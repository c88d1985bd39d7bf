"""Failing-direction edges of the Python call parser (issue 19, mutation testing).

Each test pins one rule of :mod:`astra_gym.parsers.python_call` that good input alone does
not exercise: what the error message says, and that it stays short.
"""

from __future__ import annotations

import pytest

from astra_gym.parsers.python_call import CallSyntaxError, parse_python_call


def error_of(text: str) -> str:
    with pytest.raises(CallSyntaxError) as caught:
        parse_python_call(text)
    return str(caught.value)


def test_an_empty_or_blank_call_says_it_is_empty():
    assert error_of("") == "the call is empty"
    assert error_of("   \n") == "the call is empty"


def test_text_python_cannot_even_read_gives_the_reason():
    # A NUL byte makes ast.parse raise ValueError (not SyntaxError) on Python 3.11.
    message = error_of("f('\x00')")
    assert message.startswith("not valid Python: ")
    assert "null bytes" in message


@pytest.mark.parametrize("text, where", [
    ('f(a=[b"x"])', "argument 'a'"),              # inside a list
    ('f([[1, b"x"]])', "positional argument 1"),  # two lists deep
    ('f(a={"k": 1e999})', "argument 'a'"),         # a dict value
    ('f(1, {"k": [b"x"]})', "positional argument 2"),
])
def test_a_bad_value_nested_in_a_list_or_dict_names_its_argument(text, where):
    message = error_of(text)
    assert message.startswith(where + " is "), message


@pytest.mark.parametrize("text, prefix", [
    ("x" * 100, "not a function call: "),
    ("a.b" * 40 + "()", "the called object must be a plain name, not "),
    ("f(" + "y" * 100 + ")", "positional argument 1 is not a literal ("),
])
def test_an_error_quotes_at_most_60_characters_of_the_call(text, prefix):
    message = error_of(text)
    assert message.startswith(prefix), message
    quoted = message[len(prefix):].split("'")[1]
    assert len(quoted) == 60, (len(quoted), message)


def test_an_expression_too_deep_for_the_parser_is_a_call_syntax_error_with_the_reason():
    # ast.parse raises RecursionError here (not SyntaxError): still a plain CallSyntaxError
    message = error_of("f(1" + "+1" * 200_000 + ")")
    assert message.startswith("not valid Python: ") and "recursion" in message
