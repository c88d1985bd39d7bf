"""Where ``find_hermes_blocks`` ends a rescued block, what it hands on, what it searches.

(Issue 19, mutmut: the real survivors of ``find_hermes_blocks``.)

A block whose JSON quotes ``</tool_call>`` spans its real closing tag; a block the scan
decoded carries its values; and the closing tag is looked for once per block at most,
which keeps a turn of many opening tags linear.
"""

from __future__ import annotations

from astra_gym.parsers.hermes import TOOL_CALL_CLOSE, find_hermes_blocks

_BODY = '{"name": "f", "arguments": {"q": "</tool_call>"}}'


def test_a_rescued_block_ends_after_its_real_closing_tag():
    """The span of a block whose JSON quotes the closing tag includes the real closing tag."""
    text = f"<tool_call>{_BODY}</tool_call> after"
    (block,) = find_hermes_blocks(text)
    assert (block.start, block.end, block.body) == (0, len(text) - len(" after"), _BODY)
    spaced = f"<tool_call>{_BODY}  \n</tool_call>!"
    (block,) = find_hermes_blocks(spaced)
    assert (block.end, block.body) == (len(spaced) - 1, _BODY + "  \n")  # the space kept


def test_a_rescued_block_followed_by_the_next_block_ends_where_that_one_starts():
    """With no closing tag after the JSON value, the block ends at the next ``<tool_call>``."""
    text = f'<tool_call>{_BODY} <tool_call>{{"name": "g"}}</tool_call>'
    first, second = find_hermes_blocks(text)
    assert (first.start, first.end, first.body) == (0, text.index("<tool_call>", 1), _BODY + " ")
    assert (second.start, second.end, second.body) == (first.end, len(text), '{"name": "g"}')


def test_the_scan_hands_on_the_json_values_it_decoded():
    """A valid block with text after it carries its decoded values (not decoded twice)."""
    blocks = find_hermes_blocks('<tool_call>{"name": "f", "arguments": {"a": 1}}</tool_call>\n'
                                '<tool_call>{"name": "g"} {"name": "h"}</tool_call> done')
    assert [block.values for block in blocks] == [[{"name": "f", "arguments": {"a": 1}}],
                                                  [{"name": "g"}, {"name": "h"}]]


class _CountingText(str):
    """A text that counts the searches for the closing tag made on it."""

    closing_searches = 0

    def find(self, sub, *args):
        if sub == TOOL_CALL_CLOSE:
            self.closing_searches += 1
        return super().find(sub, *args)


def test_the_closing_tag_is_searched_once_per_block_at_most():
    """A found (or missing) closing tag is remembered: no search per block to the text's end."""
    unclosed = _CountingText("<tool_call>x" * 50)
    assert len(find_hermes_blocks(unclosed)) == 50
    assert unclosed.closing_searches == 1
    one_close = _CountingText("<tool_call>x" * 50 + TOOL_CALL_CLOSE)
    blocks = find_hermes_blocks(one_close)
    assert len(blocks) == 50 and blocks[-1].end == len(one_close)
    assert one_close.closing_searches == 1
    closed = _CountingText("<tool_call>x</tool_call>" * 50)
    assert [block.body for block in find_hermes_blocks(closed)] == ["x"] * 50
    assert closed.closing_searches == 50
