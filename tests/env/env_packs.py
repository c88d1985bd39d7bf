"""Small hand-built packs for env tests (written with write_pack, no compile step)."""

from __future__ import annotations

from astra_gym.pack import GoldCall, SubTask, Task, TaskSource, Tool, write_pack

COUNTER_SOURCE = '''STATE = {"count": 0}
def bump(step: int = 1) -> dict:
    """Mutates its own mock data: state must not leak across episodes."""
    STATE["count"] += step
    return {"count": STATE["count"]}
'''
QUOTE_SOURCE = '''def quote(ticker: str, currency: str = "USD") -> dict:
    prices = {"ACME": 1234.5, "GLOBEX": 88.25}
    if ticker.upper() not in prices:
        raise ValueError(f"unknown ticker {ticker}")
    return {"ticker": ticker.upper(), "close": f"{prices[ticker.upper()]:,.2f} {currency}"}
'''
QUOTE_SCHEMA = {"type": "object", "properties": {
    "ticker": {"type": "string", "description": "Ticker"},
    "currency": {"type": "string", "enum": ["USD", "EUR"]}}, "required": ["ticker"]}
VALUE_SOURCE = '''def position_value(price: float, shares: int) -> dict:
    return {"value": round(price * shares, 2)}
'''
VALUE_SCHEMA = {"type": "object", "properties": {"price": {"type": "number"},
                                                 "shares": {"type": "integer"}},
                "required": ["price", "shares"]}
QUOTE = Tool("quote", "Latest close of a stock.", QUOTE_SCHEMA, QUOTE_SOURCE, "quote")
VALUE = Tool("position_value", "Value of a position.", VALUE_SCHEMA, VALUE_SOURCE,
             "position_value")
COUNTER = Tool("bump", "Increase a counter.", {"type": "object", "properties": {
    "step": {"type": "integer"}}}, COUNTER_SOURCE, "bump")


def stock_task() -> Task:
    """Two parallel quotes (one merged tool), then a dependent computation."""
    return Task(
        task_id="stocks", source=TaskSource("unit.jsonl", 1, "stocks"), domain="finance",
        language="en", prompt=({"role": "user", "content": "Value 10 ACME shares; GLOBEX too?"},),
        final_answer="12,345 USD",
        subtasks=(
            SubTask("1", "ACME close?", "1,234.50 USD", (), 1, True, "quote",
                    GoldCall("quote", {"ticker": "ACME"})),
            SubTask("2", "GLOBEX close?", "88.25 USD", (), 1, True, "quote",
                    GoldCall("quote", {"ticker": "GLOBEX"})),
            SubTask("3", "10 ACME shares?", "12345", ("1",), 2, True, "position_value",
                    GoldCall("position_value", {"price": 1234.5, "shares": 10})),
            SubTask("4", "Summary", "12,345 USD", ("3",), 3, False, None, None)),
        tools=(QUOTE, VALUE), scenario_type="Multi-Hop")


def counter_task() -> Task:
    return Task(
        task_id="counter", source=TaskSource("unit.jsonl", 2, "counter"), domain="test",
        language="en", prompt=({"role": "user", "content": "Bump twice."},), final_answer=None,
        subtasks=(SubTask("1", "bump", "count-never", (), 1, True, "bump",
                          GoldCall("bump", {})),), tools=(COUNTER,))


def answer_only_task() -> Task:
    """Like a released RL row: no gold calls, a distractor tool."""
    return Task(
        task_id="rl", source=TaskSource("unit.jsonl", 3, None), domain="finance", language="en",
        prompt=({"role": "user", "content": "What does GLOBEX trade at?"},), final_answer=None,
        subtasks=(SubTask("quote#1", None, "88.25 USD", (), 1, True, "quote", None),),
        tools=(QUOTE,), distractor_tools=(VALUE,))


def write_unit_pack(directory, name: str = "unit", version: int = 0) -> str:
    write_pack(directory, name, version, [stock_task(), counter_task(), answer_only_task()],
               validation={"rows": 3, "compiled": 3, "rejected": 0})
    return str(directory)
