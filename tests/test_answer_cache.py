"""normalize_cached is normalize_text, whatever the length and however often it is asked."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from astra_gym.answers import normalize_cached, normalize_text

PIECES = st.sampled_from(["1,234.50", " USD ", "\t", "Ⅻ", "ﬁ", "0.500", "ß", "x", "9,999,999"])


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES | st.text(max_size=20), max_size=40), st.integers(0, 700))
def test_cached_normalisation_equals_the_rule(pieces, pad):
    for text in ("".join(pieces), "".join(pieces) + "a" * pad * 20):  # short, and up to 14k
        assert normalize_cached(text) == normalize_text(text)
        assert normalize_cached(text) == normalize_text(text)  # the cached answer too
