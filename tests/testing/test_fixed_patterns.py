"""The fixed-shape string strategies generate exactly their documented patterns.

They replaced ``st.from_regex`` (about twice the cost per draw, and ``fuzz`` draws
thousands): every value must still match the pattern, and every part of the pattern
(each length bound, each optional branch) must still be reachable.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from astra_gym.testing import strategies as ours

NAME_HINTS = dict(ours._NAME_HINTS)
PATTERNS = [
    ("id", ours._IDS, r"[A-Z]{2,4}-[0-9]{3,6}"),
    ("email", ours._FORMATS["email"], r"[a-z]{1,8}(\.[a-z]{1,6})?@example\.(com|org|cn)"),
    ("uri", ours._FORMATS["uri"], r"https://example\.com/[a-z0-9/]{0,12}"),
    ("no", NAME_HINTS["no"], r"[A-Z]{0,3}[0-9]{6,14}"),
    ("code", NAME_HINTS["code"], r"[A-Z0-9]{3,10}"),
    ("number", NAME_HINTS["number"], r"[A-Z0-9]{6,14}"),
]
QUIET = settings(max_examples=300, derandomize=True, database=None,
                 suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize(("name", "strategy", "pattern"), PATTERNS,
                         ids=[name for name, _, _ in PATTERNS])
def test_every_value_matches_the_pattern(name, strategy, pattern):
    compiled = re.compile(pattern)

    @QUIET
    @given(strategy)
    def matches(value):
        assert compiled.fullmatch(value), (name, value)

    matches()


def _reachable(strategy, condition):
    return find(strategy, condition, settings=settings(max_examples=2000, database=None,
                                                        derandomize=True))


@pytest.mark.parametrize(("strategy", "condition"), [
    (ours._IDS, lambda v: len(v) == 2 + 1 + 3),
    (ours._IDS, lambda v: len(v) == 4 + 1 + 6),
    (ours._FORMATS["email"], lambda v: "." in v.split("@")[0]),
    (ours._FORMATS["email"], lambda v: "." not in v.split("@")[0]),
    (ours._FORMATS["email"], lambda v: v.endswith(".cn")),
    (ours._FORMATS["uri"], lambda v: v == "https://example.com/"),
    (ours._FORMATS["uri"], lambda v: "/" in v[len("https://example.com/"):]),
    (NAME_HINTS["no"], lambda v: v[:1].isalpha() and len(v) == 3 + 14),
    (NAME_HINTS["code"], lambda v: len(v) == 10 and any(c.isdigit() for c in v)),
    (NAME_HINTS["number"], lambda v: len(v) == 6),
])
def test_each_part_of_the_pattern_is_reachable(strategy, condition):
    assert condition(_reachable(strategy, condition))


def test_openai_turn_call_ids_keep_their_shape():
    turns = ours._openai_turns(st.just(("get_city_temp", {"city": "Paris"})))

    @QUIET
    @given(turns)
    def shaped(turn):
        ids = [call["id"] for call in turn["tool_calls"]]
        assert len(set(ids)) == len(ids)
        assert all(re.fullmatch(r"call_[A-Za-z0-9]{8,24}", call_id) for call_id in ids)

    shaped()
