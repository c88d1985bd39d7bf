"""Builders of small ASTRA rows for compiler tests (each test edits a fresh copy)."""

from __future__ import annotations

import copy
import json
from typing import Any

STOCK_CODE = '''def get_stock_price(ticker: str, currency: str = "USD") -> dict:
    """Mock closing price of a stock."""
    if not isinstance(ticker, str) or not ticker.strip():
        return {"error": "ticker must be a non-empty string"}
    prices = {"ACME": 1234.5, "GLOBEX": 88.25, "INITECH": 17.0}
    price = prices.get(ticker.strip().upper())
    if price is None:
        raise ValueError(f"unknown ticker {ticker}")
    if currency == "EUR":
        price = round(price * 0.9, 2)
    return {"ticker": ticker.upper(), "close": f"{price:,.2f} {currency}"}
'''
STOCK_DOC = {
    "name": "get_stock_price",
    "description": "Get the latest closing price of a stock by ticker symbol.",
    "parameters": {"type": "object", "properties": {
        "ticker": {"type": "string", "description": "Ticker symbol"},
        "currency": {"type": "string", "enum": ["USD", "EUR"], "description": "Currency"}},
        "required": ["ticker"]},
}
SHARES_CODE = '''def portfolio_value(price: float, shares: int) -> dict:
    """Value of a position."""
    if shares < 0:
        return {"error": "shares must be >= 0"}
    return {"value": round(price * shares, 2)}
'''
SHARES_DOC = {
    "name": "portfolio_value",
    "description": "Compute the value of a stock position.",
    "parameters": {"type": "object", "properties": {
        "price": {"type": "number", "description": "Unit price"},
        "shares": {"type": "integer", "description": "Number of shares"}},
        "required": ["price", "shares"]},
}


def env(question: str, answer: str, call: str, *, doc: Any = None, code: str | None = None,
        merge: bool = False) -> dict[str, Any]:
    return {"question": question, "answer": answer, "merge_flag": merge,
            "env_synthesis_result": {"data": {
                "tool_document": copy.deepcopy(STOCK_DOC if doc is None else doc),
                "tool_call_statement": call, "code": STOCK_CODE if code is None else code,
                "tool_call_ans": None}, "extra_info": {}}}


def step4_row(uuid: str = "row-a") -> dict[str, Any]:
    """Two hops: a price lookup, then a computation that uses it; a tool-free leaf."""
    return {
        "uuid": uuid,
        "scenario_type": "Multi-Hop",
        "main_question": "What are my 10 ACME shares worth?",
        "final_answer": "12,345 USD",
        "decomposition_trace": [
            {"_uuid": 1, "hop_level": 1, "sub_question": "What is ACME's close?",
             "sub_answer": "1,234.50 USD", "dependency": None, "is_parallel": False,
             "tool_necessity": True, "reason": "market data"},
            {"_uuid": 2, "hop_level": 2, "sub_question": "Value of 10 shares at 1234.5?",
             "sub_answer": "12345", "dependency": [1], "is_parallel": False,
             "tool_necessity": True, "reason": "multiplication"},
            {"_uuid": 3, "hop_level": 3, "sub_question": "Summarise.", "sub_answer": "12,345 USD",
             "dependency": [2], "is_parallel": False, "tool_necessity": False, "reason": "text"},
        ],
        "tool_necessity_legitimacy": True,
        "verify_result": {"score": 1.0, "extra_info": {}},
        "_metadata": {"domain": "finance", "language": "en"},
        "env_result": {
            "1": env("What is ACME's close?", "1,234.50 USD", "get_stock_price(ticker='ACME')"),
            "2": env("Value of 10 shares at 1234.5?", "12345",
                     "portfolio_value(price=1234.5, shares=10)", doc=SHARES_DOC,
                     code=SHARES_CODE),
            "3": None,
        },
    }


def step5_row(uuid: str = "row-m") -> dict[str, Any]:
    """Two parallel lookups sharing one merged tool."""
    return {
        "uuid": uuid,
        "scenario_type": "Parallel Single-Hop",
        "main_question": "Which closes higher today, GLOBEX or INITECH?",
        "final_answer": "GLOBEX",
        "decomposition_trace": [
            {"_uuid": 1, "hop_level": 1, "sub_question": "GLOBEX close?",
             "sub_answer": "88.25 USD", "dependency": None, "is_parallel": True,
             "tool_necessity": True},
            {"_uuid": 2, "hop_level": 1, "sub_question": "INITECH close?",
             "sub_answer": "17.00 USD", "dependency": None, "is_parallel": True,
             "tool_necessity": True},
        ],
        "tool_necessity_legitimacy": True,
        "_metadata": {"domain": "finance", "language": "en"},
        "env_result": {
            "1": env("GLOBEX close?", "88.25 USD", "get_stock_price(ticker='GLOBEX')",
                     merge=True),
            "2": env("INITECH close?", "17.00 USD", "get_stock_price('INITECH')", merge=True),
        },
        "clusters": [{"intent_summary": "stock close", "_uuids": [1, 2], "reason": "same"}],
        "aggregated_env": [{
            "intent_summary": "stock close", "reason": "same", "main_uuid": 1, "_uuids": [1, 2],
            "status": "success", "merged_code": STOCK_CODE, "tool_names": ["get_stock_price"],
            "tool_document": copy.deepcopy(STOCK_DOC),
            "tool_call_statements": [
                {"_uuid": 1, "tool_call_statement": "get_stock_price(ticker='GLOBEX')"},
                {"_uuid": 2, "tool_call_statement": "get_stock_price(ticker='INITECH')"}],
            "verification": {"all_tests_passed": True, "test_results": []}}],
    }


def rl_row() -> dict[str, Any]:
    """The released RL shape: JSON strings, a distractor, answer-only sub-tasks."""
    tools = [{"type": "function", "function": STOCK_DOC},
             {"type": "function", "function": SHARES_DOC}]
    return {
        "prompt": [{"role": "user", "content": "How much is ACME trading at?"}],
        "tool_schema": json.dumps(tools),
        "tool_dict": json.dumps({"get_stock_price": STOCK_CODE,
                                 "portfolio_value": SHARES_CODE}),
        "sub_qa_dict": json.dumps({"get_stock_price": ["1,234.50 USD"]}),
    }


def write_jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows),
                    encoding="utf-8")
    return str(path)
