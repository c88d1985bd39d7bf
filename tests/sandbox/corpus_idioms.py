"""Realistic tool functions written the way an LLM writes them (ASTRA-style mock-data tools).

Each case is run in plain Python and in the sandbox; outputs must be identical.
"""
from __future__ import annotations

from dataclasses import dataclass, field  # noqa: F401


@dataclass(frozen=True)
class IdiomCase:
    name: str  # short unique slug
    source: str  # the complete tool source (one public function, helpers allowed)
    func: str  # name of the function to call
    calls: tuple[dict, ...]  # keyword-argument dicts; each is one call
    idioms: tuple[str, ...] = ()  # tags, e.g. ("dict_lookup", "augassign_subscript")


IDIOM_CASES: tuple[IdiomCase, ...] = (
    IdiomCase(
        name="weather_current",
        source=r'''
from typing import Any, Dict

WEATHER_DATA = {
    "beijing": {"temp_c": 12.5, "humidity": 40, "condition": "Sunny"},
    "shanghai": {"temp_c": 18.0, "humidity": 72, "condition": "Cloudy"},
    "london": {"temp_c": 9.3, "humidity": 81, "condition": "Rain"},
    "new york": {"temp_c": 15.7, "humidity": 55, "condition": "Partly Cloudy"},
}


def get_current_weather(city: str, unit: str = "celsius") -> Dict[str, Any]:
    """Return the current weather for a city from mock data."""
    if not isinstance(city, str) or not city.strip():
        return {"error": "city must be a non-empty string"}
    key = city.strip().lower()
    if key not in WEATHER_DATA:
        return {"error": f"no weather data for '{city}'"}
    unit = unit.lower()
    if unit not in ("celsius", "fahrenheit"):
        return {"error": "unit must be 'celsius' or 'fahrenheit'"}
    data = WEATHER_DATA[key]
    temp = data["temp_c"]
    if unit == "fahrenheit":
        temp = temp * 9 / 5 + 32
    return {
        "city": key.title(),
        "temperature": round(temp, 1),
        "unit": unit,
        "humidity": data["humidity"],
        "condition": data["condition"],
        "summary": f"{data['condition']}, {temp:.1f} deg {unit[0].upper()}",
    }
''',
        func="get_current_weather",
        calls=(
            {"city": "Beijing"},
            {"city": "London", "unit": "Fahrenheit"},
            {"city": "Paris"},
            {"city": "   ", "unit": "kelvin"},
        ),
        idioms=("dict_lookup", "nested_dict", "isinstance", "str_methods", "fstring",
                "fstring_format_spec", "round", "in_check", "typing", "return_dict"),
    ),
    IdiomCase(
        name="flight_search",
        source=r'''
from datetime import datetime

FLIGHTS = [
    {"id": "CA1501", "from": "PEK", "to": "SHA", "price": 1280.0, "seats": 12,
     "depart": "2024-05-01 08:00", "arrive": "2024-05-01 10:15"},
    {"id": "MU5102", "from": "PEK", "to": "SHA", "price": 980.0, "seats": 3,
     "depart": "2024-05-01 09:30", "arrive": "2024-05-01 11:40"},
    {"id": "HO1252", "from": "PEK", "to": "SHA", "price": 860.0, "seats": 0,
     "depart": "2024-05-01 13:05", "arrive": "2024-05-01 15:30"},
    {"id": "CZ3907", "from": "PEK", "to": "SHA", "price": 1120.0, "seats": 7,
     "depart": "2024-05-01 18:45", "arrive": "2024-05-01 20:50"},
    {"id": "CA1831", "from": "PEK", "to": "SHA", "price": 1350.0, "seats": 20,
     "depart": "2024-05-02 07:50", "arrive": "2024-05-02 10:00"},
]


def search_flights(origin, destination, date, max_price=None, sort_by="price"):
    """Search mock flights for a route on a given day."""
    try:
        day = datetime.strptime(date, "%Y-%m-%d").date()
    except (TypeError, ValueError):
        return {"error": "date must be in YYYY-MM-DD format"}
    if sort_by not in ("price", "duration", "depart"):
        return {"error": f"unsupported sort key: {sort_by}"}
    origin, destination = origin.upper(), destination.upper()
    results = []
    for f in FLIGHTS:
        dep = datetime.strptime(f["depart"], "%Y-%m-%d %H:%M")
        arr = datetime.strptime(f["arrive"], "%Y-%m-%d %H:%M")
        if f["from"] != origin or f["to"] != destination or dep.date() != day:
            continue
        if max_price is not None and f["price"] > max_price:
            continue
        if f["seats"] <= 0:
            continue
        minutes = int((arr - dep).total_seconds() // 60)
        hours, mins = divmod(minutes, 60)
        results.append({
            "flight": f["id"],
            "depart": dep.strftime("%H:%M"),
            "duration": f"{hours}h{mins:02d}m",
            "duration_min": minutes,
            "price": f["price"],
        })
    key_funcs = {
        "price": lambda r: r["price"],
        "duration": lambda r: r["duration_min"],
        "depart": lambda r: r["depart"],
    }
    results = sorted(results, key=key_funcs[sort_by])
    return {"count": len(results), "flights": results}
''',
        func="search_flights",
        calls=(
            {"origin": "pek", "destination": "sha", "date": "2024-05-01"},
            {"origin": "PEK", "destination": "SHA", "date": "2024-05-01", "max_price": 1200,
             "sort_by": "duration"},
            {"origin": "PEK", "destination": "SHA", "date": "05/01/2024"},
            {"origin": "PEK", "destination": "SHA", "date": "2024-05-01", "sort_by": "rating"},
        ),
        idioms=("datetime", "strptime_strftime", "try_except", "tuple_unpack", "divmod",
                "break_continue", "sorted_key_lambda", "fstring_format_spec", "dict_lookup",
                "str_methods", "return_dict"),
    ),
    IdiomCase(
        name="hotel_booking",
        source=r'''
import uuid
from datetime import date, timedelta

HOTELS = {
    "H001": {"name": "Grand Plaza", "city": "Paris", "rate": 189.0, "rooms": 3},
    "H002": {"name": "Seaside Inn", "city": "Nice", "rate": 129.5, "rooms": 0},
    "H003": {"name": "Alpine Lodge", "city": "Chamonix", "rate": 245.0, "rooms": 5},
}


def book_hotel(hotel_id, check_in, nights, guests=1):
    """Create a (mock) hotel booking with a deterministic confirmation id."""
    hotel = HOTELS.get(hotel_id)
    if hotel is None:
        return {"status": "error", "message": f"Unknown hotel id: {hotel_id}"}
    if not isinstance(nights, int) or nights < 1 or nights > 30:
        return {"status": "error", "message": "nights must be an integer between 1 and 30"}
    if hotel["rooms"] == 0:
        return {"status": "error", "message": f"{hotel['name']} is fully booked"}
    try:
        year, month, day = (int(p) for p in check_in.split("-"))
        start = date(year, month, day)
    except (ValueError, AttributeError):
        return {"status": "error", "message": "check_in must be a valid YYYY-MM-DD date"}
    end = start + timedelta(days=nights)
    subtotal = hotel["rate"] * nights
    tax = round(subtotal * 0.1, 2)
    weekend_nights = sum(1 for i in range(nights) if (start + timedelta(days=i)).weekday() >= 4)
    booking_id = uuid.uuid5(uuid.NAMESPACE_DNS, f"{hotel_id}-{start.isoformat()}-{nights}-{guests}")
    return {
        "status": "confirmed",
        "booking_id": str(booking_id),
        "hotel": hotel["name"],
        "check_in": start.isoformat(),
        "check_out": end.isoformat(),
        "nights": nights,
        "weekend_nights": weekend_nights,
        "total": round(subtotal + tax, 2),
    }
''',
        func="book_hotel",
        calls=(
            {"hotel_id": "H001", "check_in": "2024-03-15", "nights": 3, "guests": 2},
            {"hotel_id": "H002", "check_in": "2024-03-15", "nights": 1},
            {"hotel_id": "H003", "check_in": "2024-02-30", "nights": 2},
            {"hotel_id": "H999", "check_in": "2024-03-15", "nights": 2},
        ),
        idioms=("uuid5", "datetime", "timedelta", "genexpr", "tuple_unpack", "dict_get",
                "sum", "round", "try_except", "isinstance", "return_dict", "fstring"),
    ),
    IdiomCase(
        name="order_status",
        source=r'''
import json

ORDERS = {
    "ORD-1001": {
        "customer": "alice",
        "status": "out_for_delivery",
        "items": [
            {"sku": "KB-01", "qty": 1, "price": 49.99},
            {"sku": "MS-02", "qty": 2, "price": 19.5},
        ],
        "tracking": "1Z999AA10123456784",
    },
    "ORD-1002": {
        "customer": "bob",
        "status": "processing",
        "items": [{"sku": "MN-27", "qty": 1, "price": 229.0}],
        "tracking": None,
    },
    "ORD-1003": {"customer": "carol", "status": "cancelled", "items": [], "tracking": None},
}
STATUS_MESSAGES = {
    "processing": "Your order is being prepared.",
    "out_for_delivery": "Your package is on its way today.",
    "delivered": "Your package was delivered.",
}


def get_order_status(order_id, as_json=False):
    """Look up an order and summarise its status."""
    if not isinstance(order_id, str):
        return {"error": "order_id must be a string"}
    order_id = order_id.strip().upper()
    if not order_id.startswith("ORD-"):
        result = {"error": "order_id must start with 'ORD-'"}
    elif order_id not in ORDERS:
        result = {"error": f"order {order_id} not found"}
    else:
        order = ORDERS[order_id]
        total = sum(item["qty"] * item["price"] for item in order["items"])
        result = {
            "order_id": order_id,
            "customer": order["customer"].capitalize(),
            "status": order["status"].replace("_", " "),
            "message": STATUS_MESSAGES.get(order["status"], "Please contact support."),
            "item_count": sum(item["qty"] for item in order["items"]),
            "total": round(total, 2),
            "tracking": order["tracking"] or "not available",
        }
    return json.dumps(result, sort_keys=True) if as_json else result
''',
        func="get_order_status",
        calls=(
            {"order_id": "ord-1001"},
            {"order_id": "ORD-1003", "as_json": True},
            {"order_id": "1001"},
            {"order_id": "ORD-9999", "as_json": True},
        ),
        idioms=("json", "dict_lookup", "nested_dict", "dict_get", "genexpr", "sum",
                "str_methods", "isinstance", "return_str", "return_dict", "round"),
    ),
    IdiomCase(
        name="currency_convert_decimal",
        source=r'''
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

RATES_TO_USD = {
    "USD": Decimal("1"),
    "EUR": Decimal("1.0852"),
    "GBP": Decimal("1.2671"),
    "JPY": Decimal("0.006689"),
    "CNY": Decimal("0.1383"),
}
CENT = Decimal("0.01")


def convert_currency(amount, from_currency: str, to_currency: str) -> dict:
    """Convert an amount between currencies using fixed mock exchange rates."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return {"error": "amount must be a number"}
    if value < 0:
        return {"error": "amount cannot be negative"}
    src, dst = from_currency.strip().upper(), to_currency.strip().upper()
    missing = [c for c in (src, dst) if c not in RATES_TO_USD]
    if missing:
        return {"error": "unsupported currency: " + ", ".join(missing)}
    rate = RATES_TO_USD[src] / RATES_TO_USD[dst]
    converted = (value * rate).quantize(CENT, rounding=ROUND_HALF_UP)
    return {
        "amount": str(value.quantize(CENT, rounding=ROUND_HALF_UP)),
        "from": src,
        "to": dst,
        "rate": str(rate.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)),
        "converted": str(converted),
        "display": f"{value:,.2f} {src} = {converted:,.2f} {dst}",
    }
''',
        func="convert_currency",
        calls=(
            {"amount": 100, "from_currency": "usd", "to_currency": "EUR"},
            {"amount": "2500.5", "from_currency": "CNY", "to_currency": "JPY"},
            {"amount": "abc", "from_currency": "USD", "to_currency": "EUR"},
            {"amount": 10, "from_currency": "USD", "to_currency": "XYZ"},
        ),
        idioms=("decimal", "dict_lookup", "try_except", "list_comp", "str_join",
                "str_methods", "fstring_format_spec", "tuple_unpack", "return_dict", "typing"),
    ),
    IdiomCase(
        name="mortgage_payment",
        source=r'''
import math


def mortgage_payment(principal, annual_rate, years, down_payment=0.0):
    """Compute a fixed-rate mortgage payment and the first months of amortization."""
    for name, value in (("principal", principal), ("annual_rate", annual_rate), ("years", years)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return {"error": f"{name} must be a number"}
    if principal <= 0 or years <= 0:
        return {"error": "principal and years must be positive"}
    if annual_rate < 0:
        return {"error": "annual_rate cannot be negative"}
    loan = principal - down_payment
    n = int(years * 12)
    r = annual_rate / 100 / 12
    if r == 0:
        monthly = loan / n
    else:
        monthly = loan * r * math.pow(1 + r, n) / (math.pow(1 + r, n) - 1)
    total_paid = monthly * n
    schedule = []
    balance = loan
    month = 0
    while month < 3:
        interest = balance * r
        principal_part = monthly - interest
        balance -= principal_part
        month += 1
        schedule.append({
            "month": month,
            "interest": round(interest, 2),
            "principal": round(principal_part, 2),
            "balance": round(balance, 2),
        })
    return {
        "loan_amount": loan,
        "monthly_payment": round(monthly, 2),
        "total_paid": round(total_paid, 2),
        "total_interest": round(total_paid - loan, 2),
        "payoff_years": math.ceil(n / 12),
        "first_months": schedule,
        "summary": "Monthly payment: %.2f over %d months" % (monthly, n),
    }
''',
        func="mortgage_payment",
        calls=(
            {"principal": 300000, "annual_rate": 6.5, "years": 30, "down_payment": 60000},
            {"principal": 200000, "annual_rate": 0, "years": 15},
            {"principal": "abc", "annual_rate": 5, "years": 30},
            {"principal": 100000, "annual_rate": -1, "years": 10},
        ),
        idioms=("math", "while_counter", "augassign_name", "percent_format", "isinstance",
                "round", "tuple_unpack", "items_loop", "fstring", "return_dict"),
    ),
    IdiomCase(
        name="bmi_calculator_class",
        source=r'''
class BMICalculator:
    CATEGORIES = [
        (18.5, "Underweight"), (25.0, "Normal"), (30.0, "Overweight"), (float("inf"), "Obese"),
    ]
    HEALTHY = (18.5, 24.9)

    @staticmethod
    def compute(weight_kg, height_m):
        return weight_kg / (height_m ** 2)

    @classmethod
    def categorize(cls, bmi):
        for limit, label in cls.CATEGORIES:
            if bmi < limit:
                return label
        return "Unknown"

    @classmethod
    def healthy_range(cls, height_m):
        low, high = cls.HEALTHY
        return round(low * height_m ** 2, 1), round(high * height_m ** 2, 1)


def calculate_bmi(weight, height, unit="metric"):
    """Calculate BMI; height in metres or centimetres (metric) or inches (imperial)."""
    if unit not in ("metric", "imperial"):
        return {"error": "unit must be 'metric' or 'imperial'"}
    try:
        weight = float(weight)
        height = float(height)
    except (TypeError, ValueError):
        return {"error": "weight and height must be numbers"}
    if weight <= 0 or height <= 0:
        return {"error": "weight and height must be positive"}
    if unit == "imperial":
        weight *= 0.45359237
        height *= 0.0254
    elif height > 3:
        height /= 100
    bmi = BMICalculator.compute(weight, height)
    low, high = BMICalculator.healthy_range(height)
    return {
        "bmi": round(bmi, 1),
        "category": BMICalculator.categorize(bmi),
        "healthy_weight_kg": [low, high],
        "height_m": round(height, 3),
    }
''',
        func="calculate_bmi",
        calls=(
            {"weight": 70, "height": 175},
            {"weight": 160, "height": 68, "unit": "imperial"},
            {"weight": "heavy", "height": 1.8},
            {"weight": 70, "height": 1.75, "unit": "stone"},
        ),
        idioms=("class_static", "class_methods", "tuple_unpack", "augassign_name",
                "try_except", "round", "in_check", "return_dict"),
    ),
    IdiomCase(
        name="cn_house_price_per_sqm",
        source=r'''
import statistics

LISTINGS = [
    {"小区": "阳光花园", "城市": "北京", "区域": "朝阳", "面积": 89.5, "总价": 5200000},
    {"小区": "翠湖天地", "城市": "上海", "区域": "黄浦", "面积": 120.0, "总价": 15600000},
    {"小区": "望京新城", "城市": "北京", "区域": "朝阳", "面积": 65.0, "总价": 4100000},
    {"小区": "中关村小区", "城市": "北京", "区域": "海淀", "面积": 102.3, "总价": 9800000},
    {"小区": "陆家嘴花园", "城市": "上海", "区域": "浦东", "面积": 88.0, "总价": 9350000},
    {"小区": "回龙观家园", "城市": "北京", "区域": "昌平", "面积": 135.0, "总价": 4850000},
]


def price_per_square_meter(city: str, min_area: float = 0) -> dict:
    """计算指定城市房源的每平方米单价统计。"""
    if not city:
        return {"错误": "城市不能为空"}
    if min_area < 0:
        return {"错误": "最小面积不能为负数"}
    rows = [r for r in LISTINGS if r["城市"] == city and r["面积"] >= min_area]
    if not rows:
        return {"错误": f"没有找到{city}的房源"}
    unit_prices = [round(r["总价"] / r["面积"]) for r in rows]
    ranked = sorted(zip(unit_prices, [r["小区"] for r in rows]), reverse=True)
    return {
        "城市": city,
        "房源数量": len(rows),
        "平均单价": f"{statistics.mean(unit_prices):,.0f} 元/平方米",
        "中位数单价": round(statistics.median(unit_prices)),
        "最高": f"{ranked[0][1]}（{ranked[0][0]:,} 元/平方米）",
        "最低": f"{ranked[-1][1]}（{ranked[-1][0]:,} 元/平方米）",
        "排名": [name for _, name in ranked],
    }
''',
        func="price_per_square_meter",
        calls=(
            {"city": "北京"},
            {"city": "上海", "min_area": 100},
            {"city": "广州"},
            {"city": ""},
        ),
        idioms=("chinese", "statistics", "list_comp", "zip", "sorted_reverse",
                "fstring_format_spec", "underscore_var", "round", "slicing", "typing",
                "return_dict"),
    ),
    IdiomCase(
        name="stock_quotes_table",
        source=r'''
from typing import Any, Dict, List, Optional

QUOTES = {
    "AAPL": {"name": "Apple Inc.", "price": 189.84, "prev_close": 187.15, "volume": 53214800},
    "MSFT": {"name": "Microsoft Corp.", "price": 415.5, "prev_close": 420.72, "volume": 21873400},
    "TSLA": {"name": "Tesla Inc.", "price": 175.22, "prev_close": 171.05, "volume": 98450120},
    "NVDA": {"name": "NVIDIA Corp.", "price": 903.56, "prev_close": 903.56, "volume": 41220300},
}


def lookup_quote(symbol: str) -> Optional[Dict[str, Any]]:
    return QUOTES.get(symbol)


def get_stock_quotes(symbols: List[str], show_table: bool = True) -> Dict[str, Any]:
    """Return mock quotes for the requested ticker symbols and print a small table."""
    if not isinstance(symbols, list) or not symbols:
        return {"error": "symbols must be a non-empty list"}
    found = []
    unknown = []
    for raw in symbols:
        symbol = str(raw).strip().upper()
        quote = lookup_quote(symbol)
        if quote is None:
            unknown.append(symbol)
            continue
        change = quote["price"] - quote["prev_close"]
        pct = change / quote["prev_close"] * 100
        direction = "up" if change > 0 else ("down" if change < 0 else "flat")
        found.append({
            "symbol": symbol,
            "name": quote["name"],
            "price": quote["price"],
            "change": round(change, 2),
            "change_pct": round(pct, 2),
            "abs_change": round(abs(change), 2),
            "direction": direction,
            "volume": quote["volume"],
        })
    if show_table:
        print(f"{'SYMBOL':<8}{'PRICE':>10}{'CHANGE':>10}{'VOLUME':>14}")
        for q in found:
            print(f"{q['symbol']:<8}{q['price']:>10.2f}{q['change']:>+10.2f}{q['volume']:>14,}")
    return {"quotes": found, "unknown": unknown, "count": len(found)}
''',
        func="get_stock_quotes",
        calls=(
            {"symbols": ["aapl", "MSFT", "nvda"]},
            {"symbols": ["TSLA", "GOOG"], "show_table": False},
            {"symbols": []},
        ),
        idioms=("typing", "dict_get", "nested_dict", "abs", "round", "print",
                "fstring_format_spec", "break_continue", "isinstance", "return_dict"),
    ),
    IdiomCase(
        name="unit_conversion",
        source=r'''
CONVERSIONS = {
    "length": {"m": 1.0, "km": 1000.0, "cm": 0.01, "mm": 0.001,
               "mi": 1609.344, "ft": 0.3048, "in": 0.0254},
    "mass": {"kg": 1.0, "g": 0.001, "lb": 0.45359237, "oz": 0.028349523125},
    "volume": {"l": 1.0, "ml": 0.001, "gal": 3.785411784, "cup": 0.2365882365},
}


def convert_units(value, from_unit, to_unit, precision=4):
    """Convert a value between two units of the same dimension."""

    def find_category(unit):
        for category, table in CONVERSIONS.items():
            if unit in table:
                return category
        return None

    try:
        value = float(value)
    except (TypeError, ValueError):
        return {"error": f"value must be numeric, got {value!r}"}
    src, dst = from_unit.lower(), to_unit.lower()
    cat_src, cat_dst = find_category(src), find_category(dst)
    if cat_src is None or cat_dst is None:
        bad = [u for u, c in ((src, cat_src), (dst, cat_dst)) if c is None]
        return {"error": "unknown unit(s): " + ", ".join(bad)}
    if cat_src != cat_dst:
        return {"error": "cannot convert {} ({}) to {} ({})".format(src, cat_src, dst, cat_dst)}
    table = CONVERSIONS[cat_src]
    result = value * table[src] / table[dst]
    return {
        "category": cat_src,
        "input": f"{value:g} {src}",
        "result": round(result, precision),
        "text": "{:g} {} = {:.{p}f} {}".format(value, src, result, dst, p=precision),
    }
''',
        func="convert_units",
        calls=(
            {"value": 5, "from_unit": "km", "to_unit": "mi"},
            {"value": "12", "from_unit": "OZ", "to_unit": "g", "precision": 2},
            {"value": 3, "from_unit": "kg", "to_unit": "m"},
            {"value": "ten", "from_unit": "m", "to_unit": "ft"},
        ),
        idioms=("nested_dict", "nested_function", "items_loop", "try_except", "str_format",
                "fstring_format_spec", "tuple_unpack", "list_comp", "round", "return_dict"),
    ),
    IdiomCase(
        name="cn_income_tax",
        source=r'''
TAX_BRACKETS = [
    (36000, 0.03, 0),
    (144000, 0.10, 2520),
    (300000, 0.20, 16920),
    (420000, 0.25, 31920),
    (660000, 0.30, 52920),
    (960000, 0.35, 85920),
    (None, 0.45, 181920),
]
BASIC_DEDUCTION = 60000
SPECIAL_DEDUCTIONS = {
    "子女教育": 24000, "住房贷款利息": 12000, "住房租金": 18000,
    "赡养老人": 36000, "继续教育": 4800,
}


def calculate_income_tax(annual_income, social_insurance=0, deductions=None):
    """计算中国个人所得税（综合所得年度汇算，简化版）。"""
    if isinstance(annual_income, bool) or not isinstance(annual_income, (int, float)):
        return {"错误": "年收入必须是数字"}
    if annual_income < 0:
        return {"错误": "年收入必须是非负数字"}
    deductions = deductions or []
    unknown = [d for d in deductions if d not in SPECIAL_DEDUCTIONS]
    if unknown:
        return {"错误": "未知的专项附加扣除：" + "、".join(unknown)}
    special = sum(SPECIAL_DEDUCTIONS[d] for d in deductions)
    taxable = max(0, annual_income - BASIC_DEDUCTION - social_insurance - special)
    rate, quick = 0.0, 0
    for limit, r, q in TAX_BRACKETS:
        if limit is None or taxable <= limit:
            rate, quick = r, q
            break
    tax = round(taxable * rate - quick, 2)
    return {
        "应纳税所得额": taxable,
        "适用税率": f"{rate:.0%}",
        "速算扣除数": quick,
        "应纳税额": tax,
        "月均税负": round(tax / 12, 2),
        "税后收入": f"{annual_income - social_insurance - tax:,.2f} 元",
    }
''',
        func="calculate_income_tax",
        calls=(
            {"annual_income": 240000, "social_insurance": 24000,
             "deductions": ["子女教育", "赡养老人"]},
            {"annual_income": 80000},
            {"annual_income": -1},
            {"annual_income": 200000, "deductions": ["买车"]},
        ),
        idioms=("chinese", "dict_lookup", "tuple_unpack", "break_continue", "genexpr", "sum",
                "min_max", "list_comp", "str_join", "fstring_format_spec", "isinstance",
                "round", "return_dict"),
    ),
    IdiomCase(
        name="business_days",
        source=r'''
import calendar
from datetime import date, datetime, timedelta

HOLIDAYS = {
    date(2024, 1, 1), date(2024, 5, 1), date(2024, 5, 27),
    date(2024, 7, 4), date(2024, 12, 25), date(2024, 12, 26),
}


def add_business_days(start_date: str, business_days: int) -> dict:
    """Add N business days (skipping weekends and holidays) to a date."""
    try:
        start = datetime.strptime(start_date, "%Y-%m-%d").date()
    except ValueError:
        return {"error": f"invalid date '{start_date}', expected YYYY-MM-DD"}
    if isinstance(business_days, bool) or not isinstance(business_days, int) or business_days < 0:
        return {"error": "business_days must be a non-negative integer"}
    if business_days > 365:
        return {"error": "business_days must be at most 365"}
    current = start
    added = 0
    skipped = []
    while added < business_days:
        current += timedelta(days=1)
        if current.weekday() >= 5:
            continue
        if current in HOLIDAYS:
            skipped.append(current.strftime("%m/%d"))
            continue
        added += 1
    days_in_month = calendar.monthrange(current.year, current.month)[1]
    return {
        "start": start.isoformat(),
        "result": current.strftime("%Y-%m-%d"),
        "weekday": current.isoweekday(),
        "calendar_days": (current - start).days,
        "holidays_skipped": skipped,
        "days_left_in_month": days_in_month - current.day,
        "leap_year": calendar.isleap(current.year),
    }
''',
        func="add_business_days",
        calls=(
            {"start_date": "2024-12-20", "business_days": 5},
            {"start_date": "2024-05-24", "business_days": 3},
            {"start_date": "2024/05/24", "business_days": 3},
            {"start_date": "2024-01-01", "business_days": -2},
        ),
        idioms=("datetime", "timedelta", "strptime_strftime", "while_counter", "break_continue",
                "calendar", "augassign_name", "in_check", "typing", "return_dict"),
    ),
    IdiomCase(
        name="shipping_cost",
        source=r'''
import math

ZONES = {
    "domestic": {"base": 5.0, "per_kg": 1.2, "days": (2, 4)},
    "asia": {"base": 12.0, "per_kg": 3.5, "days": (5, 8)},
    "europe": {"base": 18.0, "per_kg": 4.8, "days": (7, 12)},
}
EXPRESS_MULTIPLIER = 1.75


def build_quote(zone, chargeable_kg, cost, days):
    low, high = days
    return {
        "zone": zone,
        "chargeable_weight_kg": chargeable_kg,
        "cost": round(cost, 2),
        "delivery": "{}-{} business days".format(low, high),
        "label": "{zone} shipping: ${cost:.2f}".format(zone=zone.title(), cost=cost),
    }


def calculate_shipping(weight_kg, length_cm, width_cm, height_cm, zone="domestic", express=False):
    """Quote shipping using the greater of actual and volumetric weight (rounded up to 0.5 kg)."""
    dims = [weight_kg, length_cm, width_cm, height_cm]
    if not all(isinstance(d, (int, float)) and d > 0 for d in dims):
        return {"error": "weight and dimensions must be positive numbers"}
    rates = ZONES.get(zone.lower())
    if rates is None:
        return {"error": "unknown zone '%s'; choose from %s" % (zone, ", ".join(sorted(ZONES)))}
    volumetric = length_cm * width_cm * height_cm / 5000
    chargeable = math.ceil(max(weight_kg, volumetric) * 2) / 2
    cost = rates["base"] + rates["per_kg"] * chargeable
    days = rates["days"]
    if express:
        cost *= EXPRESS_MULTIPLIER
        days = (max(1, days[0] - 1), math.floor(days[1] / 2))
    params = {"zone": zone.lower(), "chargeable_kg": chargeable, "cost": cost, "days": days}
    return build_quote(**params)
''',
        func="calculate_shipping",
        calls=(
            {"weight_kg": 2.3, "length_cm": 30, "width_cm": 20, "height_cm": 15},
            {"weight_kg": 1.0, "length_cm": 50, "width_cm": 40, "height_cm": 30, "zone": "Europe",
             "express": True},
            {"weight_kg": 0, "length_cm": 10, "width_cm": 10, "height_cm": 10},
            {"weight_kg": 1, "length_cm": 10, "width_cm": 10, "height_cm": 10, "zone": "mars"},
        ),
        idioms=("math", "min_max", "all_any", "isinstance", "genexpr", "star_kwargs",
                "str_format", "percent_format", "dict_get", "nested_dict", "tuple_unpack",
                "augassign_name", "str_join", "return_dict"),
    ),
    IdiomCase(
        name="inventory_summary",
        source=r'''
from collections import defaultdict

INVENTORY = [
    {"sku": "KB-101", "warehouse": "east", "category": "electronics", "qty": 42, "unit_cost": 18.5},
    {"sku": "MS-220", "warehouse": "east", "category": "electronics", "qty": 3, "unit_cost": 9.99},
    {"sku": "DS-900", "warehouse": "west", "category": "furniture", "qty": 7, "unit_cost": 129.0},
    {"sku": "CH-450", "warehouse": "west", "category": "furniture", "qty": 0, "unit_cost": 89.0},
    {"sku": "LP-310", "warehouse": "central", "category": "electronics", "qty": 12,
     "unit_cost": 45.25},
    {"sku": "NB-050", "warehouse": "central", "category": "stationery", "qty": 250,
     "unit_cost": 1.2},
    {"sku": "PN-010", "warehouse": "east", "category": "stationery", "qty": 4, "unit_cost": 0.8},
]
VALID_GROUPS = ("warehouse", "category")


def summarize_inventory(group_by="warehouse", low_stock_threshold=5):
    """Aggregate stock quantity and value per warehouse or category."""
    if group_by not in VALID_GROUPS:
        return {"error": f"group_by must be one of {', '.join(VALID_GROUPS)}"}
    if low_stock_threshold < 0:
        return {"error": "low_stock_threshold must be >= 0"}
    totals = defaultdict(int)
    values = defaultdict(float)
    stats = {}
    low_stock = []
    for item in INVENTORY:
        key = item[group_by]
        totals[key] += item["qty"]
        values[key] += item["qty"] * item["unit_cost"]
        stats.setdefault(key, {"count": 0, "out_of_stock": 0})
        stats[key]["count"] += 1
        if item["qty"] == 0:
            stats[key]["out_of_stock"] += 1
        if item["qty"] <= low_stock_threshold:
            low_stock.append(item["sku"])
    groups = {
        key: {"units": totals[key], "value": round(values[key], 2), **stats[key]}
        for key in sorted(totals)
    }
    top_key, top = max(groups.items(), key=lambda kv: kv[1]["value"])
    return {
        "group_by": group_by,
        "groups": groups,
        "total_value": round(sum(values.values()), 2),
        "top_group": top_key,
        "top_value": top["value"],
        "low_stock": sorted(low_stock),
    }
''',
        func="summarize_inventory",
        calls=(
            {},
            {"group_by": "category", "low_stock_threshold": 10},
            {"group_by": "supplier"},
            {"low_stock_threshold": -1},
        ),
        idioms=("collections_defaultdict", "augassign_subscript", "augassign_nested_subscript",
                "setdefault", "dict_comp", "sorted_key_lambda", "min_max", "sum",
                "tuple_unpack", "fstring", "str_join", "return_dict"),
    ),
    IdiomCase(
        name="text_statistics",
        source=r'''
import re
import string
import textwrap
from collections import Counter

STOPWORDS = {"the", "a", "an", "and", "or", "of", "to", "in", "is", "it", "for", "on", "with"}
WORD_RE = re.compile(r"[a-z']+")


def text_statistics(text, top_n=3):
    """Compute basic statistics for a block of English text."""
    if not isinstance(text, str):
        return {"error": "text must be a string"}
    if not text.strip():
        return {"error": "text is empty"}
    if not 1 <= top_n <= 10:
        return {"error": "top_n must be between 1 and 10"}
    words = WORD_RE.findall(text.lower())
    sentences = [s.strip() for s in re.split(r"[.!?]+", text) if s.strip()]
    counts = Counter(w for w in words if w not in STOPWORDS)
    punctuation = sum(1 for ch in text if ch in string.punctuation)
    avg_len = sum(len(w) for w in words) / len(words) if words else 0.0
    return {
        "characters": len(text),
        "words": len(words),
        "unique_words": len(set(words)),
        "sentences": len(sentences),
        "avg_word_length": round(avg_len, 2),
        "punctuation": punctuation,
        "top_words": counts.most_common(top_n),
        "preview": textwrap.shorten(text, width=40, placeholder=" ..."),
    }
''',
        func="text_statistics",
        calls=(
            {"text": "The quick brown fox jumps over the lazy dog. The dog sleeps! "
                     "Does the fox care? The fox does not care about the dog."},
            {"text": "Data beats opinions. Opinions beat guesses; data, data, data!", "top_n": 5},
            {"text": "   "},
            {"text": 12345},
        ),
        idioms=("re", "re_compile", "collections_counter", "string_constants", "textwrap",
                "genexpr", "list_comp", "sum", "isinstance", "round", "str_methods",
                "return_dict"),
    ),
    IdiomCase(
        name="city_distance_haversine",
        source=r'''
import math

CITY_COORDS = {
    "beijing": (39.9042, 116.4074),
    "shanghai": (31.2304, 121.4737),
    "tokyo": (35.6762, 139.6503),
    "paris": (48.8566, 2.3522),
    "new york": (40.7128, -74.0060),
}
EARTH_RADIUS_KM = 6371.0
KM_PER_MILE = 1.609344


def city_distance(city_a: str, city_b: str, unit: str = "km") -> dict:
    """Great-circle distance between two known cities."""

    def haversine(p1, p2):
        lat1, lon1 = map(math.radians, p1)
        lat2, lon2 = map(math.radians, p2)
        dlat, dlon = lat2 - lat1, lon2 - lon1
        a = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
        return 2 * EARTH_RADIUS_KM * math.atan2(math.sqrt(a), math.sqrt(1 - a))

    a_key, b_key = city_a.strip().lower(), city_b.strip().lower()
    unknown = [c for c in (a_key, b_key) if c not in CITY_COORDS]
    if unknown:
        return {"error": "unknown city: " + ", ".join(unknown)}
    if unit not in ("km", "mi"):
        return {"error": "unit must be 'km' or 'mi'"}
    km = haversine(CITY_COORDS[a_key], CITY_COORDS[b_key])
    distance = km if unit == "km" else km / KM_PER_MILE
    flight_hours = km / 800 + 0.5
    hours, minutes = divmod(round(flight_hours * 60), 60)
    return {
        "from": a_key.title(),
        "to": b_key.title(),
        "distance": round(distance, 1),
        "unit": unit,
        "est_flight_time": f"{hours}h {minutes:02d}m",
    }
''',
        func="city_distance",
        calls=(
            {"city_a": "Beijing", "city_b": "Shanghai"},
            {"city_a": "Paris", "city_b": "New York", "unit": "mi"},
            {"city_a": "Beijing", "city_b": "Atlantis"},
            {"city_a": "Tokyo", "city_b": "Paris", "unit": "leagues"},
        ),
        idioms=("math", "haversine", "map", "nested_function", "tuple_unpack", "divmod",
                "round", "list_comp", "fstring_format_spec", "typing", "return_dict"),
    ),
    IdiomCase(
        name="closest_warehouses",
        source=r'''
import math
from itertools import combinations

WAREHOUSES = {
    "WH-A": (0.0, 0.0),
    "WH-B": (3.0, 4.0),
    "WH-C": (-2.5, 1.5),
    "WH-D": (6.0, -1.0),
    "WH-E": (1.0, 7.5),
}


def closest_warehouses(max_distance=None, top_k=3):
    """Find the closest pairs of warehouses on a planar grid (units: km)."""
    if max_distance is not None and max_distance <= 0:
        return {"error": "max_distance must be positive"}
    if not isinstance(top_k, int) or top_k < 1:
        return {"error": "top_k must be a positive integer"}
    pairs = []
    for (name_a, pa), (name_b, pb) in combinations(sorted(WAREHOUSES.items()), 2):
        dist = math.sqrt((pa[0] - pb[0]) ** 2 + (pa[1] - pb[1]) ** 2)
        if max_distance is not None and dist > max_distance:
            continue
        pairs.append({"pair": f"{name_a}<->{name_b}", "distance_km": round(dist, 3)})
    pairs.sort(key=lambda p: (p["distance_km"], p["pair"]))
    return {
        "pairs": pairs[:top_k],
        "considered": math.comb(len(WAREHOUSES), 2),
        "within_limit": len(pairs),
    }
''',
        func="closest_warehouses",
        calls=(
            {},
            {"max_distance": 5, "top_k": 2},
            {"max_distance": -1},
            {"top_k": 0},
        ),
        idioms=("itertools_combinations", "math", "tuple_unpack", "sorted_key_lambda",
                "break_continue", "slicing", "round", "isinstance", "return_dict"),
    ),
    IdiomCase(
        name="monthly_sales_groupby",
        source=r'''
from itertools import accumulate, groupby

SALES = [
    ("2024-01-05", "north", 1200.0),
    ("2024-01-19", "south", 850.5),
    ("2024-02-02", "north", 990.0),
    ("2024-02-14", "north", 2300.0),
    ("2024-02-27", "south", 410.25),
    ("2024-03-08", "south", 1775.0),
    ("2024-03-30", "north", 640.0),
    ("2024-04-11", "south", 1320.75),
]


def monthly_sales_report(region=None):
    """Group sales by month and compute running totals."""
    regions = sorted(set(r for _, r, _ in SALES))
    if region is not None and region not in regions:
        return {"error": f"unknown region '{region}'", "valid_regions": regions}
    rows = [row for row in SALES if region is None or row[1] == region]
    rows = sorted(rows, key=lambda row: row[0])
    months = []
    totals = []
    for month, group in groupby(rows, key=lambda row: row[0][:7]):
        months.append(month)
        totals.append(round(sum(amount for _, _, amount in group), 2))
    running = [round(x, 2) for x in accumulate(totals)]
    best_month, best_total = max(zip(months, totals), key=lambda mt: mt[1])
    return {
        "region": region or "all",
        "months": [
            {"month": m, "total": t, "running_total": r}
            for m, t, r in zip(months, totals, running)
        ],
        "best_month": best_month,
        "best_total": best_total,
        "grand_total": running[-1] if running else 0.0,
    }
''',
        func="monthly_sales_report",
        calls=(
            {},
            {"region": "south"},
            {"region": "east"},
        ),
        idioms=("itertools_groupby", "itertools_accumulate", "sorted_key_lambda", "zip",
                "min_max", "slicing", "underscore_var", "genexpr", "list_comp", "sum",
                "tuple_unpack", "return_dict"),
    ),
    IdiomCase(
        name="merge_carts",
        source=r'''
from collections import OrderedDict
from itertools import chain, islice

CATALOG = {
    "SKU-1": {"name": "USB-C Cable", "price": 9.99},
    "SKU-2": {"name": "Wireless Mouse", "price": 24.5},
    "SKU-3": {"name": "Laptop Stand", "price": 39.0},
    "SKU-4": {"name": "Webcam", "price": 59.95},
    "SKU-5": {"name": "Desk Lamp", "price": 32.0},
}


def merge_carts(guest_cart, user_cart, preview_limit=3):
    """Merge a guest cart into the user's cart, summing quantities of repeated SKUs."""
    if not isinstance(guest_cart, list) or not isinstance(user_cart, list):
        return {"error": "carts must be lists of [sku, qty] pairs"}
    merged = OrderedDict()
    for sku, qty in chain(user_cart, guest_cart):
        if sku not in CATALOG:
            return {"error": f"unknown sku {sku}"}
        if qty <= 0:
            continue
        if sku in merged:
            merged[sku] += qty
            merged.move_to_end(sku)
        else:
            merged[sku] = qty
    lines = [
        {"sku": sku, "name": CATALOG[sku]["name"], "qty": qty,
         "line_total": round(CATALOG[sku]["price"] * qty, 2)}
        for sku, qty in merged.items()
    ]
    preview = [line["name"] for line in islice(lines, preview_limit)]
    return {
        "items": lines,
        "preview": preview,
        "more": max(0, len(lines) - preview_limit),
        "subtotal": round(sum(line["line_total"] for line in lines), 2),
    }
''',
        func="merge_carts",
        calls=(
            {"guest_cart": [["SKU-1", 2], ["SKU-4", 1]],
             "user_cart": [["SKU-2", 1], ["SKU-1", 1], ["SKU-5", 3]]},
            {"guest_cart": [["SKU-3", 0]], "user_cart": [["SKU-3", 1], ["SKU-2", 2]],
             "preview_limit": 1},
            {"guest_cart": [["SKU-9", 1]], "user_cart": []},
            {"guest_cart": "SKU-1", "user_cart": []},
        ),
        idioms=("collections_ordereddict", "itertools_chain", "itertools_islice",
                "augassign_subscript", "tuple_unpack", "list_comp", "in_check",
                "break_continue", "min_max", "sum", "isinstance", "return_dict"),
    ),
    IdiomCase(
        name="promo_discounts",
        source=r'''
from functools import lru_cache, reduce

PROMOTIONS = {
    "SPRING10": {"percent": 10, "stackable": True},
    "VIP5": {"percent": 5, "stackable": True},
    "FLASH20": {"percent": 20, "stackable": False},
    "NEWUSER15": {"percent": 15, "stackable": True},
}
MAX_CODES = 3


@lru_cache(maxsize=32)
def promo_factor(code):
    return 1 - PROMOTIONS[code]["percent"] / 100


def apply_discounts(price, codes):
    """Apply promo codes multiplicatively; non-stackable codes must be used alone."""
    try:
        price = float(price)
    except (TypeError, ValueError):
        return {"error": "price must be a number"}
    codes = [c.strip().upper() for c in codes]
    invalid = [c for c in codes if c not in PROMOTIONS]
    if invalid:
        return {"error": "invalid promo code(s): " + ", ".join(invalid)}
    if len(codes) > MAX_CODES:
        return {"error": f"at most {MAX_CODES} codes can be combined"}
    if len(codes) > 1 and any(not PROMOTIONS[c]["stackable"] for c in codes):
        return {"error": "a non-stackable code cannot be combined with others"}
    unique = list(dict.fromkeys(codes))
    factor = reduce(lambda acc, code: acc * promo_factor(code), unique, 1.0)
    final = round(price * factor, 2)
    return {
        "original": price,
        "codes": unique,
        "final": final,
        "saved": round(price - final, 2),
        "effective_discount": f"{1 - factor:.1%}",
    }
''',
        func="apply_discounts",
        calls=(
            {"price": 100, "codes": ["spring10", "vip5"]},
            {"price": "59.99", "codes": ["FLASH20"]},
            {"price": 80, "codes": ["FLASH20", "VIP5"]},
            {"price": "free", "codes": ["VIP5"]},
        ),
        idioms=("functools_reduce", "lru_cache", "try_except", "list_comp", "all_any",
                "genexpr", "nested_dict", "fstring_format_spec", "round", "str_join",
                "return_dict"),
    ),
    IdiomCase(
        name="grade_report",
        source=r'''
import statistics

SCORES = {
    "math": {"Alice": 92, "Bob": 78, "Chen": 85, "Diana": 64, "Evan": 85},
    "physics": {"Alice": 88, "Bob": 91, "Chen": 73, "Diana": 70, "Evan": 59},
}
GRADE_BANDS = [(90, "A"), (80, "B"), (70, "C"), (60, "D"), (0, "F")]


def letter_grade(score):
    for threshold, letter in GRADE_BANDS:
        if score >= threshold:
            return letter
    return "F"


def grade_report(subject, passing=60):
    """Summarise class results for one subject."""
    scores = SCORES.get(subject.lower())
    if scores is None:
        return {"error": "unknown subject", "available": sorted(SCORES)}
    values = list(scores.values())
    ranking = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    report = []
    for rank, (name, score) in enumerate(ranking, start=1):
        report.append("{:>2}. {:<6} {:>3} {}".format(rank, name, score, letter_grade(score)))
    return {
        "subject": subject.lower(),
        "mean": round(statistics.mean(values), 2),
        "median": statistics.median(values),
        "stdev": round(statistics.stdev(values), 3),
        "passed": sum(1 for v in values if v >= passing),
        "all_passed": all(v >= passing for v in values),
        "distribution": {
            letter: sum(1 for v in values if letter_grade(v) == letter) for _, letter in GRADE_BANDS
        },
        "report": report,
    }
''',
        func="grade_report",
        calls=(
            {"subject": "Math"},
            {"subject": "physics", "passing": 75},
            {"subject": "history"},
        ),
        idioms=("statistics", "enumerate", "sorted_key_lambda", "dict_comp", "underscore_var",
                "str_format", "all_any", "genexpr", "sum", "dict_get", "tuple_unpack",
                "items_loop", "return_dict"),
    ),
    IdiomCase(
        name="recipe_scaling_fraction",
        source=r'''
from fractions import Fraction

RECIPES = {
    "pancakes": {
        "servings": 4,
        "ingredients": {"flour (cups)": "3/2", "milk (cups)": "5/4", "eggs": "2",
                        "sugar (tbsp)": "2", "butter (tbsp)": "3"},
    },
    "vinaigrette": {
        "servings": 6,
        "ingredients": {"olive oil (cups)": "3/4", "vinegar (cups)": "1/4", "mustard (tsp)": "1"},
    },
}


def format_quantity(q):
    whole, rem = divmod(q.numerator, q.denominator)
    if rem == 0:
        return str(whole)
    frac = f"{rem}/{q.denominator}"
    return f"{whole} {frac}" if whole else frac


def scale_recipe(recipe: str, servings: int) -> dict:
    """Scale a recipe's ingredient quantities to a new number of servings."""
    data = RECIPES.get(recipe.lower())
    if data is None:
        return {"error": f"recipe '{recipe}' not found"}
    if not isinstance(servings, int) or servings <= 0:
        return {"error": "servings must be a positive integer"}
    factor = Fraction(servings, data["servings"])
    scaled = {
        name: format_quantity(Fraction(qty) * factor)
        for name, qty in data["ingredients"].items()
    }
    return {"recipe": recipe.lower(), "servings": servings, "factor": str(factor),
            "ingredients": scaled}
''',
        func="scale_recipe",
        calls=(
            {"recipe": "Pancakes", "servings": 6},
            {"recipe": "vinaigrette", "servings": 4},
            {"recipe": "pancakes", "servings": 0},
            {"recipe": "lasagna", "servings": 2},
        ),
        idioms=("fraction", "divmod", "dict_comp", "nested_dict", "dict_get", "tuple_unpack",
                "isinstance", "typing", "return_dict"),
    ),
    IdiomCase(
        name="register_user_hash",
        source=r'''
import hashlib
import re

EMAIL_RE = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")
USERNAME_RE = re.compile(r"^[a-z][a-z0-9_]{2,15}$")
PLANS = ("free", "pro", "team")
TAKEN_USERNAMES = {"admin", "root", "support"}


def register_user(username, email, plan="free"):
    """Validate sign-up data and return a deterministic user record."""
    username = username.strip().lower()
    email = email.strip().lower()
    errors = []
    if not USERNAME_RE.match(username):
        errors.append("username must be 3-16 chars: lowercase letters, digits, underscore")
    elif username in TAKEN_USERNAMES:
        errors.append(f"username '{username}' is taken")
    if not EMAIL_RE.match(email):
        errors.append("email address is invalid")
    if plan not in PLANS:
        errors.append("plan must be one of: " + ", ".join(PLANS))
    if errors:
        return {"ok": False, "errors": errors}
    user_id = "usr-" + hashlib.md5(email.encode("utf-8")).hexdigest()[:12]
    api_key = hashlib.sha256(f"{username}:{email}:{plan}".encode("utf-8")).hexdigest()
    domain = email.split("@")[1]
    return {
        "ok": True,
        "user_id": user_id,
        "username": username,
        "email_domain": domain,
        "plan": plan,
        "api_key_prefix": api_key[:16],
    }
''',
        func="register_user",
        calls=(
            {"username": "Jane_Doe", "email": "Jane.Doe@Example.com", "plan": "pro"},
            {"username": "admin", "email": "bad-email", "plan": "gold"},
            {"username": "x", "email": "a@b.co"},
        ),
        idioms=("hashlib", "re", "re_compile", "str_methods", "slicing", "in_check",
                "str_join", "fstring", "return_dict", "return_bool"),
    ),
    IdiomCase(
        name="month_calendar_text",
        source=r'''
import calendar
from datetime import date

MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]


def month_summary(year, month):
    """Render a small text calendar for a month plus a one-line summary."""
    try:
        year, month = int(year), int(month)
    except (TypeError, ValueError):
        return "Error: year and month must be integers"
    if not 1 <= month <= 12:
        return "Error: month must be between 1 and 12"
    if not 1900 <= year <= 2100:
        return "Error: year out of supported range"
    first_weekday, num_days = calendar.monthrange(year, month)
    weekend_days = sum(1 for d in range(1, num_days + 1) if date(year, month, d).weekday() >= 5)
    cells = ["   "] * first_weekday + [f"{d:>3}" for d in range(1, num_days + 1)]
    rows = ["".join(cells[i:i + 7]) for i in range(0, len(cells), 7)]
    header = f"{MONTHS[month - 1]} {year}".center(21)
    leap = "yes" if calendar.isleap(year) else "no"
    footer = "Days: {}, weekend days: {}, leap year: {}".format(num_days, weekend_days, leap)
    return "\n".join([header, " Mo Tu We Th Fr Sa Su"] + rows + [footer])
''',
        func="month_summary",
        calls=(
            {"year": 2024, "month": 2},
            {"year": "2023", "month": "9"},
            {"year": 2024, "month": 13},
            {"year": "abc", "month": 1},
        ),
        idioms=("calendar", "datetime", "try_except", "tuple_unpack", "list_comp", "genexpr",
                "list_concat", "slicing", "str_join", "str_format", "fstring_format_spec",
                "return_str"),
    ),
    IdiomCase(
        name="settings_merge_deepcopy",
        source=r'''
import copy
import json

DEFAULT_SETTINGS = {
    "theme": "light",
    "language": "en",
    "notifications": {
        "email": True,
        "sms": False,
        "push": {"enabled": True, "quiet_hours": [22, 7]},
    },
}


def update_user_settings(overrides):
    """Merge user overrides into the default settings without mutating the defaults."""
    if not isinstance(overrides, dict):
        return {"error": "overrides must be a dict"}

    def merge(base, updates, path):
        for key, value in updates.items():
            full = f"{path}.{key}" if path else key
            if key not in base:
                raise KeyError(full)
            if isinstance(base[key], dict):
                if not isinstance(value, dict):
                    raise TypeError(full)
                merge(base[key], value, full)
            else:
                base[key] = value

    settings = copy.deepcopy(DEFAULT_SETTINGS)
    try:
        merge(settings, overrides, "")
    except KeyError as exc:
        return {"error": f"unknown setting: {exc.args[0]}"}
    except TypeError as exc:
        return {"error": f"setting {exc.args[0]} must be an object"}
    changed = json.dumps(settings, sort_keys=True) != json.dumps(DEFAULT_SETTINGS, sort_keys=True)
    return {
        "settings": settings,
        "changed": changed,
        "defaults_intact": DEFAULT_SETTINGS["notifications"]["push"]["quiet_hours"] == [22, 7],
    }
''',
        func="update_user_settings",
        calls=(
            {"overrides": {"theme": "dark", "notifications": {"push": {"quiet_hours": [23, 6]}}}},
            {"overrides": {"notifications": {"fax": True}}},
            {"overrides": {"notifications": "off"}},
            {"overrides": "dark"},
        ),
        idioms=("deepcopy", "json", "nested_dict", "nested_function", "try_except",
                "items_loop", "isinstance", "in_check", "return_dict", "return_bool"),
    ),
    IdiomCase(
        name="employee_directory_namedtuple",
        source=r'''
from collections import namedtuple

Employee = namedtuple("Employee", ["emp_id", "name", "dept", "salary", "start_year"])

EMPLOYEES = [
    Employee(101, "Alice Wong", "engineering", 128000, 2017),
    Employee(102, "Brian Lee", "marketing", 86000, 2020),
    Employee(103, "Carla Diaz", "engineering", 142000, 2015),
    Employee(104, "Dev Patel", "sales", 91000, 2019),
    Employee(105, "Erin Cole", "engineering", 99000, 2022),
    Employee(106, "Farid Khan", "sales", 78000, 2021),
]


def find_employees(dept=None, min_salary=0, sort_desc=True, as_of_year=2024):
    """Filter the employee directory by department and minimum salary."""
    depts = sorted({e.dept for e in EMPLOYEES})
    if dept is not None and dept not in depts:
        return {"error": f"unknown department '{dept}'", "departments": depts}
    if min_salary < 0:
        return {"error": "min_salary must be >= 0"}
    matches = filter(
        lambda e: (dept is None or e.dept == dept) and e.salary >= min_salary, EMPLOYEES
    )
    ordered = sorted(matches, key=lambda e: e.salary, reverse=sort_desc)
    return {
        "count": len(ordered),
        "employees": [
            {"id": e.emp_id, "name": e.name, "salary": f"${e.salary:,}",
             "tenure_years": as_of_year - e.start_year}
            for e in ordered
        ],
        "payroll": sum(e.salary for e in ordered),
    }
''',
        func="find_employees",
        calls=(
            {"dept": "engineering", "min_salary": 100000},
            {"sort_desc": False},
            {"dept": "legal"},
        ),
        idioms=("namedtuple", "filter", "set_comp", "sorted_key_lambda", "sorted_reverse",
                "list_comp", "fstring_format_spec", "genexpr", "sum", "return_dict"),
    ),
    IdiomCase(
        name="recent_activity_deque",
        source=r'''
from collections import deque

ACTIVITY_LOG = [
    {"user": "u1", "action": "login", "at": "2024-06-01T08:00"},
    {"user": "u2", "action": "login", "at": "2024-06-01T08:05"},
    {"user": "u1", "action": "view_product", "at": "2024-06-01T08:07"},
    {"user": "u1", "action": "add_to_cart", "at": "2024-06-01T08:09"},
    {"user": "u2", "action": "logout", "at": "2024-06-01T08:15"},
    {"user": "u1", "action": "checkout", "at": "2024-06-01T08:20"},
    {"user": "u1", "action": "logout", "at": "2024-06-01T08:21"},
]


def recent_activity(user_id, limit=3):
    """Return the most recent actions of a user, newest first."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10:
        return {"error": "limit must be an integer between 1 and 10"}
    window = deque(maxlen=limit)
    total = 0
    for event in ACTIVITY_LOG:
        if event["user"] != user_id:
            continue
        window.append(f"{event['at'][11:]} {event['action'].replace('_', ' ')}")
        total += 1
    if total == 0:
        return {"error": f"no activity for user {user_id}"}
    return {"user": user_id, "total_events": total, "recent": list(reversed(window))}
''',
        func="recent_activity",
        calls=(
            {"user_id": "u1"},
            {"user_id": "u2", "limit": 5},
            {"user_id": "u9"},
            {"user_id": "u1", "limit": 0},
        ),
        idioms=("deque", "break_continue", "augassign_name", "slicing", "str_methods",
                "isinstance", "fstring", "return_dict"),
    ),
    IdiomCase(
        name="round_robin_jobs",
        source=r'''
from collections import deque

JOBS = {"render": 3, "encode": 5, "upload": 2, "thumbnail": 1}


def simulate_round_robin(job_names, quantum=2, max_ticks=50):
    """Simulate round-robin scheduling of mock jobs and report completion order."""
    unknown = [j for j in job_names if j not in JOBS]
    if unknown:
        return {"error": "unknown jobs: " + ", ".join(unknown)}
    if quantum < 1:
        return {"error": "quantum must be >= 1"}
    queue = deque((name, JOBS[name]) for name in job_names)
    finished = []
    tick = 0
    while queue and tick < max_ticks:
        name, remaining = queue.popleft()
        for _ in range(min(quantum, remaining)):
            tick += 1
            remaining -= 1
        if remaining > 0:
            queue.append((name, remaining))
        else:
            finished.append({"job": name, "finished_at": tick})
    return {"completed": finished, "ticks": tick, "pending": [n for n, _ in queue]}
''',
        func="simulate_round_robin",
        calls=(
            {"job_names": ["render", "encode", "upload"]},
            {"job_names": ["encode", "thumbnail"], "quantum": 1},
            {"job_names": ["render", "compile"]},
        ),
        idioms=("deque", "while_counter", "underscore_var", "augassign_name", "tuple_unpack",
                "list_comp", "genexpr", "min_max", "str_join", "return_dict"),
    ),
    IdiomCase(
        name="cn_ticket_triage",
        source=r'''
from collections import Counter

CATEGORY_KEYWORDS = {
    "售后": ["退款", "退货", "换货", "质量问题"],
    "财务": ["发票", "扣款", "账单"],
    "技术支持": ["无法登录", "崩溃", "闪退", "验证码"],
    "物流": ["物流", "快递", "没收到", "配送"],
}
URGENT_WORDS = ("紧急", "马上", "立刻", "投诉")


def triage_ticket(content: str, customer_level: str = "普通") -> dict:
    """根据工单内容自动分类并给出优先级。"""
    if not isinstance(content, str) or not content.strip():
        return {"状态": "失败", "原因": "工单内容不能为空"}
    if customer_level not in ("普通", "VIP"):
        return {"状态": "失败", "原因": f"未知的客户等级：{customer_level}"}
    hits = Counter()
    for category, keywords in CATEGORY_KEYWORDS.items():
        for kw in keywords:
            if kw in content:
                hits[category] += content.count(kw)
    urgent = any(word in content for word in URGENT_WORDS)
    priority = 1 + (2 if urgent else 0) + (1 if customer_level == "VIP" else 0)
    category = hits.most_common(1)[0][0] if hits else "其他"
    text = content.strip()
    return {
        "状态": "成功",
        "分类": category,
        "命中": dict(hits),
        "紧急": urgent,
        "优先级": "P" + str(5 - priority),
        "摘要": text[:12] + ("…" if len(text) > 12 else ""),
    }
''',
        func="triage_ticket",
        calls=(
            {"content": "我的订单一直没收到，快递显示配送中，请马上处理！"},
            {"content": "申请退款后还没有收到发票和退款", "customer_level": "VIP"},
            {"content": "   "},
            {"content": "登录不了", "customer_level": "黄金"},
        ),
        idioms=("chinese", "collections_counter", "augassign_subscript", "items_loop",
                "all_any", "genexpr", "in_check", "slicing", "str_methods", "typing",
                "return_dict"),
    ),
    IdiomCase(
        name="password_strength",
        source=r'''
import string

COMMON_PASSWORDS = {"password", "123456", "qwerty", "letmein", "admin123"}
LABELS = ["very weak", "very weak", "weak", "fair", "good", "strong", "very strong"]


def check_password_strength(password):
    """Score a password against common strength rules."""
    if not isinstance(password, str):
        return {"error": "password must be a string"}
    if password.lower() in COMMON_PASSWORDS:
        return {"score": 0, "strength": "very weak", "is_strong": False,
                "failed": ["common password"]}
    checks = {
        "length >= 8": len(password) >= 8,
        "uppercase": any(c in string.ascii_uppercase for c in password),
        "lowercase": any(c in string.ascii_lowercase for c in password),
        "digit": any(c in string.digits for c in password),
        "symbol": any(c in string.punctuation for c in password),
        "no spaces": all(not c.isspace() for c in password),
    }
    score = sum(map(int, checks.values()))
    return {
        "score": score,
        "strength": LABELS[score],
        "is_strong": score >= 5,
        "failed": [name for name, ok in checks.items() if not ok],
        "masked": password[:2] + "*" * max(0, len(password) - 2),
    }
''',
        func="check_password_strength",
        calls=(
            {"password": "Tr0ub4dor&3"},
            {"password": "Password"},
            {"password": "short"},
            {"password": 12345678},
        ),
        idioms=("string_constants", "all_any", "map", "sum", "genexpr", "list_comp",
                "str_mul", "slicing", "isinstance", "min_max", "return_dict", "return_bool"),
    ),
    IdiomCase(
        name="portfolio_summary",
        source=r'''
HOLDINGS = [("AAPL", 10, 150.0), ("MSFT", 5, 280.0), ("TSLA", 8, 240.0), ("VOO", 12, 380.0)]
PRICES = {"AAPL": 189.84, "MSFT": 415.5, "TSLA": 175.22, "VOO": 470.1}


def position(symbol, shares, cost_basis):
    price = PRICES[symbol]
    value = shares * price
    gain = value - shares * cost_basis
    return {
        "symbol": symbol,
        "value": round(value, 2),
        "gain": round(gain, 2),
        "gain_pct": round(gain / (shares * cost_basis) * 100, 2),
    }


def portfolio_summary(holdings=None, top_n=2):
    """Value a stock portfolio against mock prices."""
    holdings = HOLDINGS if holdings is None else holdings
    if any(len(h) != 3 or h[1] <= 0 for h in holdings):
        return {"error": "each holding must be (symbol, shares > 0, cost_basis)"}
    missing = [h[0] for h in holdings if h[0] not in PRICES]
    if missing:
        return {"error": "no price for: " + ", ".join(missing)}
    rows = [position(*h) for h in holdings]
    total_value = sum(r["value"] for r in rows)
    weights = {r["symbol"]: round(r["value"] / total_value * 100, 1) for r in rows}
    symbols, gains = zip(*[(r["symbol"], r["gain"]) for r in rows])
    winners = sorted(rows, key=lambda r: r["gain_pct"], reverse=True)[:top_n]
    return {
        "total_value": round(total_value, 2),
        "total_gain": round(sum(gains), 2),
        "weights": weights,
        "symbols": list(symbols),
        "top_performers": [w["symbol"] for w in winners],
        "biggest_loser": min(rows, key=lambda r: r["gain"])["symbol"],
    }
''',
        func="portfolio_summary",
        calls=(
            {},
            {"holdings": [["AAPL", 3, 120.0], ["VOO", 1, 400.0]], "top_n": 1},
            {"holdings": [["GME", 1, 20.0]]},
            {"holdings": [["AAPL", 0, 1.0]]},
        ),
        idioms=("star_args", "zip", "dict_comp", "list_comp", "sorted_key_lambda",
                "sorted_reverse", "min_max", "sum", "all_any", "genexpr", "slicing",
                "tuple_unpack", "round", "return_dict"),
    ),
    IdiomCase(
        name="receipt_printer",
        source=r'''
TAX_RATE = 0.0825
MENU = {"latte": 4.75, "espresso": 3.1, "croissant": 3.95, "bagel": 2.5, "orange juice": 5.25}


def print_receipt(items, tip_percent=15, store="Blue Door Cafe"):
    """Format (and print) a receipt for a list of [item, quantity] pairs."""
    if not items:
        return "Error: no items on the order"
    for name, qty in items:
        if name not in MENU:
            return "Error: '{}' is not on the menu".format(name)
        if qty < 1:
            return "Error: quantity for {} must be at least 1".format(name)
    width = 32
    lines = [store.center(width), "=" * width]
    subtotal = 0.0
    for name, qty in items:
        line_total = MENU[name] * qty
        subtotal += line_total
        lines.append(f"{qty:>2} x {name.title():<16}{line_total:>10.2f}")
    tax = subtotal * TAX_RATE
    tip = subtotal * tip_percent / 100
    lines.append("-" * width)
    totals = (("Subtotal", subtotal), ("Tax", tax), ("Tip (%d%%)" % tip_percent, tip),
              ("TOTAL", subtotal + tax + tip))
    for label, amount in totals:
        lines.append(f"{label:<20}{amount:>12.2f}")
    receipt = "\n".join(lines)
    print(receipt)
    return receipt
''',
        func="print_receipt",
        calls=(
            {"items": [["latte", 2], ["croissant", 1]]},
            {"items": [["espresso", 1]], "tip_percent": 20, "store": "Corner Kiosk"},
            {"items": [["mocha", 1]]},
            {"items": []},
        ),
        idioms=("print", "str_mul", "fstring_format_spec", "str_format", "percent_format",
                "str_join", "str_methods", "tuple_unpack", "augassign_name", "dict_lookup",
                "return_str"),
    ),
    IdiomCase(
        name="phone_normalize",
        source=r'''
import re

COUNTRY_CODES = {"US": "1", "CN": "86", "GB": "44"}
NATIONAL_LENGTHS = {"US": 10, "CN": 11, "GB": 10}


def normalize_phone(raw, country="US"):
    """Normalize a phone number to E.164 format; returns the number or an error string."""
    if not isinstance(raw, str):
        return "error: phone number must be a string"
    if country not in COUNTRY_CODES:
        return "error: unsupported country " + repr(country)
    digits = re.sub(r"\D", "", raw)
    code = COUNTRY_CODES[country]
    if raw.strip().startswith("+"):
        if not digits.startswith(code):
            return "error: country code does not match " + country
        digits = digits[len(code):]
    elif country == "US" and len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if country == "GB":
        digits = digits.lstrip("0")
    expected = NATIONAL_LENGTHS[country]
    if len(digits) != expected:
        return "error: expected %d digits for %s, got %d" % (expected, country, len(digits))
    if not re.match(r"^[1-9]", digits):
        return "error: national number cannot start with 0"
    return f"+{code}{digits}"
''',
        func="normalize_phone",
        calls=(
            {"raw": "(415) 555-2671"},
            {"raw": "+86 138 0013 8000", "country": "CN"},
            {"raw": "555-1234"},
            {"raw": "+44 20 7946 0958", "country": "FR"},
        ),
        idioms=("re", "str_methods", "slicing", "percent_format", "dict_lookup", "in_check",
                "isinstance", "return_str"),
    ),
    IdiomCase(
        name="palindrome_check",
        source=r'''
import re


def is_palindrome(text, ignore_case=True):
    """Return True if text reads the same backwards, ignoring punctuation and spaces."""
    if not isinstance(text, str):
        return "error: text must be a string"
    cleaned = re.sub(r"[^0-9A-Za-z\u4e00-\u9fff]", "", text)
    if ignore_case:
        cleaned = cleaned.lower()
    if len(cleaned) < 2:
        return "error: need at least 2 letters or digits"
    return cleaned == cleaned[::-1]
''',
        func="is_palindrome",
        calls=(
            {"text": "A man, a plan, a canal: Panama"},
            {"text": "上海自来水来自海上"},
            {"text": "Hello, World", "ignore_case": False},
            {"text": "!"},
        ),
        idioms=("re", "reverse_slice", "str_methods", "isinstance", "chinese", "return_bool",
                "return_str"),
    ),
    IdiomCase(
        name="cn_restaurant_recommend",
        source=r'''
import textwrap

RESTAURANTS = [
    {"名称": "老北京炸酱面馆", "菜系": "京菜", "人均": 45, "评分": 4.3,
     "简介": "传统老北京风味，手擀面条劲道，炸酱香浓，是胡同里的老字号。"},
    {"名称": "蜀香园", "菜系": "川菜", "人均": 88, "评分": 4.6,
     "简介": "正宗川味，麻辣鲜香，招牌水煮鱼和回锅肉深受食客喜爱。"},
    {"名称": "粤海茶餐厅", "菜系": "粤菜", "人均": 120, "评分": 4.5,
     "简介": "港式早茶与烧腊，虾饺皇和叉烧包每天现做。"},
    {"名称": "川味小馆", "菜系": "川菜", "人均": 55, "评分": 4.1,
     "简介": "家常川菜，价格实惠，适合朋友小聚。"},
    {"名称": "江南小筑", "菜系": "浙菜", "人均": 150, "评分": 4.8,
     "简介": "环境雅致，西湖醋鱼和东坡肉是必点菜品。"},
]


def recommend_restaurants(cuisine=None, budget=100, limit=2):
    """按菜系和人均预算推荐餐厅，按评分从高到低排序。"""
    cuisines = sorted({r["菜系"] for r in RESTAURANTS})
    if cuisine is not None and cuisine not in cuisines:
        return f"错误：不支持的菜系“{cuisine}”，可选：{'、'.join(cuisines)}"
    if budget <= 0:
        return "错误：预算必须大于0"
    picks = [
        r for r in RESTAURANTS
        if (cuisine is None or r["菜系"] == cuisine) and r["人均"] <= budget
    ]
    if not picks:
        return f"抱歉，人均{budget}元以内没有找到合适的餐厅"
    picks.sort(key=lambda r: r["评分"], reverse=True)
    blocks = []
    for i, r in enumerate(picks[:limit], 1):
        header = f"{i}. {r['名称']}（{r['菜系']}）评分 {r['评分']:.1f} · 人均 ¥{r['人均']}"
        body = textwrap.fill(r["简介"], width=16, initial_indent="   ", subsequent_indent="   ")
        blocks.append(header + "\n" + body)
    return "\n".join(blocks)
''',
        func="recommend_restaurants",
        calls=(
            {"cuisine": "川菜", "budget": 100},
            {"budget": 200, "limit": 3},
            {"cuisine": "法餐"},
            {"cuisine": "粤菜", "budget": 50},
        ),
        idioms=("chinese", "textwrap", "set_comp", "sorted_key_lambda", "sorted_reverse",
                "enumerate", "list_comp", "slicing", "fstring_format_spec", "str_join",
                "return_str"),
    ),
    IdiomCase(
        name="event_countdown",
        source=r'''
from datetime import datetime, timedelta

EVENTS = {
    "product launch": "2024-09-10 09:00",
    "team offsite": "2024-07-22 13:30",
    "year end": "2024-12-31 23:59",
}
REFERENCE_NOW = "2024-06-15 08:00"


def countdown(event, now=REFERENCE_NOW):
    """Time remaining until a scheduled company event (relative to a fixed 'now')."""
    key = event.lower().strip()
    if key not in EVENTS:
        return {"error": f"unknown event: {event}", "known": sorted(EVENTS)}
    try:
        current = datetime.strptime(now, "%Y-%m-%d %H:%M")
    except ValueError:
        return {"error": "now must be formatted as YYYY-MM-DD HH:MM"}
    target = datetime.strptime(EVENTS[key], "%Y-%m-%d %H:%M")
    delta = target - current
    if delta < timedelta(0):
        return {"event": key, "status": "past", "ago_days": abs(delta.days)}
    weeks, days = divmod(delta.days, 7)
    hours, rem = divmod(delta.seconds, 3600)
    minutes = rem // 60
    reminder = target - timedelta(days=3)
    return {
        "event": key,
        "status": "upcoming",
        "countdown": f"{weeks}w {days}d {hours}h {minutes}m",
        "total_hours": int(delta.total_seconds() // 3600),
        "reminder_at": reminder.strftime("%Y-%m-%d %H:%M"),
        "target_weekday": target.isoweekday(),
    }
''',
        func="countdown",
        calls=(
            {"event": "Product Launch"},
            {"event": "team offsite", "now": "2024-08-01 10:00"},
            {"event": "holiday party"},
            {"event": "year end", "now": "tomorrow"},
        ),
        idioms=("datetime", "timedelta", "strptime_strftime", "divmod", "abs", "try_except",
                "tuple_unpack", "str_methods", "dict_lookup", "return_dict"),
    ),
    IdiomCase(
        name="loan_eligibility_bool",
        source=r'''
from typing import Optional

CREDIT_TIERS = {"excellent": 0.45, "good": 0.40, "fair": 0.36, "poor": 0.0}
MIN_INCOME = 24000


def is_loan_eligible(annual_income, monthly_debt, requested_monthly_payment,
                     credit_tier: str = "good", employment_years: Optional[float] = None):
    """Return True/False for eligibility, or an error string for bad input."""
    fields = (("annual_income", annual_income), ("monthly_debt", monthly_debt),
              ("requested_monthly_payment", requested_monthly_payment))
    for label, value in fields:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            return f"error: {label} must be a non-negative number"
    max_dti = CREDIT_TIERS.get(credit_tier.lower())
    if max_dti is None:
        return "error: credit_tier must be one of " + "/".join(CREDIT_TIERS)
    if annual_income < MIN_INCOME or max_dti == 0:
        return False
    if employment_years is not None and employment_years < 1:
        return False
    dti = (monthly_debt + requested_monthly_payment) / (annual_income / 12)
    print("DTI = %.3f (limit %.2f)" % (dti, max_dti))
    return dti <= max_dti
''',
        func="is_loan_eligible",
        calls=(
            {"annual_income": 90000, "monthly_debt": 800, "requested_monthly_payment": 1500},
            {"annual_income": 40000, "monthly_debt": 900, "requested_monthly_payment": 800,
             "credit_tier": "fair", "employment_years": 0.5},
            {"annual_income": 60000, "monthly_debt": -5, "requested_monthly_payment": 100},
            {"annual_income": 60000, "monthly_debt": 200, "requested_monthly_payment": 300,
             "credit_tier": "platinum"},
        ),
        idioms=("typing", "return_bool", "return_str", "print", "percent_format", "dict_get",
                "isinstance", "tuple_unpack", "str_join"),
    ),
    IdiomCase(
        name="product_lookup_none",
        source=r'''
import re

PRODUCTS = {
    "ELEC-0001": {"name": "Noise-Cancelling Headphones", "price": 199.0, "stock": 14,
                  "tags": ["audio", "wireless"]},
    "ELEC-0002": {"name": "4K Monitor", "price": 349.99, "stock": 0, "tags": []},
    "HOME-0101": {"name": "Espresso Machine", "price": 499.5, "stock": 3,
                  "tags": ["kitchen", "coffee"]},
}
SKU_PATTERN = re.compile(r"^(ELEC|HOME|TOYS)-(\d{4})$")


def find_product(sku):
    """Return the product dict, None if not found, or an error string for a malformed SKU."""
    sku = str(sku).strip().upper()
    m = SKU_PATTERN.match(sku)
    if m is None:
        return "error: SKU must look like ELEC-0001"
    department, number = m.groups()
    product = PRODUCTS.get(sku)
    if product is None:
        return None
    return {
        "sku": sku,
        "department": department,
        "number": int(number),
        "name": product["name"],
        "price": "%.2f" % product["price"],
        "in_stock": product["stock"] > 0,
        "tags": ", ".join(product["tags"]) or "-",
    }
''',
        func="find_product",
        calls=(
            {"sku": "elec-0001"},
            {"sku": "TOYS-0042"},
            {"sku": "banana"},
            {"sku": "ELEC-0002"},
        ),
        idioms=("re", "re_compile", "return_none", "return_str", "return_dict", "dict_get",
                "tuple_unpack", "percent_format", "str_methods", "str_join"),
    ),
    IdiomCase(
        name="cn_electricity_bill",
        source=r'''
from decimal import ROUND_HALF_UP, Decimal

# 阶梯电价（元/千瓦时）：(档位, 上限, 单价)
TIERS = [
    ("第一档", 240, Decimal("0.4883")),
    ("第二档", 400, Decimal("0.5383")),
    ("第三档", None, Decimal("0.7883")),
]
FEN = Decimal("0.01")


def electricity_bill(usage_kwh, user_type="居民"):
    """按阶梯电价计算月度电费。"""
    if user_type != "居民":
        return {"错误": f"暂不支持用户类型：{user_type}"}
    try:
        usage = Decimal(str(usage_kwh))
    except ArithmeticError:
        return {"错误": "用电量必须是数字"}
    if usage < 0:
        return {"错误": "用电量不能为负数"}
    remaining = usage
    lower = Decimal("0")
    total = Decimal("0")
    details = []
    for name, upper, price in TIERS:
        if remaining <= 0:
            break
        span = remaining if upper is None else min(remaining, Decimal(upper) - lower)
        cost = (span * price).quantize(FEN, rounding=ROUND_HALF_UP)
        details.append({"档位": name, "电量": str(span), "单价": str(price), "金额": str(cost)})
        total += cost
        remaining -= span
        if upper is not None:
            lower = Decimal(upper)
    return {
        "用电量": f"{usage} 千瓦时",
        "明细": details,
        "合计": f"¥{total.quantize(FEN, rounding=ROUND_HALF_UP)}",
    }
''',
        func="electricity_bill",
        calls=(
            {"usage_kwh": 180},
            {"usage_kwh": "452.5"},
            {"usage_kwh": "很多"},
            {"usage_kwh": 100, "user_type": "商业"},
        ),
        idioms=("chinese", "decimal", "try_except", "break_continue", "tuple_unpack",
                "augassign_name", "min_max", "fstring", "return_dict"),
    ),
    IdiomCase(
        name="parse_order_payload_json",
        source=r'''
import json

REQUIRED_FIELDS = ("order_id", "items", "shipping")
SHIPPING_FEES = {"standard": 4.99, "express": 14.99, "pickup": 0.0}


def parse_order_payload(payload: str) -> dict:
    """Parse a JSON order payload and compute its totals."""
    try:
        data = json.loads(payload)
    except (TypeError, ValueError):
        return {"ok": False, "error": "payload is not valid JSON"}
    if not isinstance(data, dict):
        return {"ok": False, "error": "payload must be a JSON object"}
    missing = [f for f in REQUIRED_FIELDS if f not in data]
    if missing:
        return {"ok": False, "error": "missing fields: " + ", ".join(missing)}
    try:
        fee = SHIPPING_FEES[data["shipping"]]
        subtotal = sum(float(i["price"]) * int(i["qty"]) for i in data["items"])
    except KeyError as exc:
        return {"ok": False, "error": f"missing key {exc}"}
    except (TypeError, ValueError):
        return {"ok": False, "error": "items must have numeric price and qty"}
    result = {
        "ok": True,
        "order_id": data["order_id"],
        "items": sum(int(i["qty"]) for i in data["items"]),
        "subtotal": round(subtotal, 2),
        "shipping_fee": fee,
        "total": round(subtotal + fee, 2),
    }
    compact = {k: result[k] for k in ("order_id", "total")}
    result["json"] = json.dumps(compact, separators=(",", ":"))
    return result
''',
        func="parse_order_payload",
        calls=(
            {"payload": '{"order_id": "A-17", "shipping": "express", '
                        '"items": [{"price": "12.50", "qty": 2}, {"price": 3.25, "qty": "4"}]}'},
            {"payload": "{not json"},
            {"payload": '{"order_id": "A-18", "items": [], "shipping": "drone"}'},
            {"payload": "[1, 2, 3]"},
        ),
        idioms=("json", "try_except", "isinstance", "list_comp", "genexpr", "sum",
                "dict_comp", "dict_lookup", "str_join", "round", "return_dict"),
    ),
    IdiomCase(
        name="split_bill_divmod",
        source=r'''
def split_bill(total, people, tip_percent=18, round_up=False):
    """Split a bill evenly in cents; leftover cents go to the first payers."""
    if isinstance(people, list):
        names = people
    elif isinstance(people, int) and not isinstance(people, bool) and people > 0:
        names = ["Guest %d" % (i + 1) for i in range(people)]
    else:
        return {"error": "people must be a positive int or a list of names"}
    if not names:
        return {"error": "at least one person is required"}
    try:
        total_cents = int(round(float(total) * 100))
    except (TypeError, ValueError):
        return {"error": "total must be numeric"}
    tip_cents = int(round(total_cents * tip_percent / 100))
    grand = total_cents + tip_cents
    share, remainder = divmod(grand, len(names))
    shares = [share + 1] * remainder + [share] * (len(names) - remainder)
    if round_up:
        shares = [-(-s // 100) * 100 for s in shares]
    breakdown = {name: "%d.%02d" % divmod(cents, 100) for name, cents in zip(names, shares)}
    return {
        "total_with_tip": "%.2f" % (grand / 100),
        "per_person": breakdown,
        "collected": sum(shares) / 100,
    }
''',
        func="split_bill",
        calls=(
            {"total": 100, "people": 3},
            {"total": 87.5, "people": ["Ana", "Ben"], "tip_percent": 20, "round_up": True},
            {"total": 50, "people": 0},
            {"total": "lots", "people": 2},
        ),
        idioms=("divmod", "list_concat", "percent_format", "dict_comp", "list_comp", "zip",
                "try_except", "isinstance", "round", "sum", "tuple_unpack", "return_dict",
                "return_float"),
    ),
    IdiomCase(
        name="league_table",
        source=r'''
from collections import Counter

MATCHES = [
    ("red", "blue", 3, 1), ("green", "red", 2, 2), ("blue", "green", 0, 1),
    ("red", "green", 1, 0), ("blue", "red", 2, 2), ("green", "blue", 4, 2),
]
POINTS = {"win": 3, "draw": 1, "loss": 0}


def league_table(top=None):
    """Build a league table from mock match results."""
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        return "error: top must be a positive integer"
    table = {}
    goals = Counter()
    for home, away, hg, ag in MATCHES:
        for team in (home, away):
            table.setdefault(team, {"played": 0, "points": 0, "gd": 0})
            table[team]["played"] += 1
        goals[home] += hg
        goals[away] += ag
        table[home]["gd"] += hg - ag
        table[away]["gd"] += ag - hg
        if hg > ag:
            table[home]["points"] += POINTS["win"]
        elif hg < ag:
            table[away]["points"] += POINTS["win"]
        else:
            table[home]["points"] += POINTS["draw"]
            table[away]["points"] += POINTS["draw"]
    ranking = sorted(table.items(), key=lambda kv: (-kv[1]["points"], -kv[1]["gd"], kv[0]))
    rows = ["{:<4}{:<8}{:>3}{:>5}{:>5}{:>4}".format("#", "Team", "P", "GD", "GF", "Pts")]
    for pos, (team, s) in enumerate(ranking[:top] if top else ranking, start=1):
        rows.append("{:<4}{:<8}{:>3}{:>+5}{:>5}{:>4}".format(
            pos, team.capitalize(), s["played"], s["gd"], goals[team], s["points"]))
    return "\n".join(rows)
''',
        func="league_table",
        calls=(
            {},
            {"top": 2},
            {"top": 0},
            {"top": "3"},
        ),
        idioms=("augassign_subscript", "augassign_nested_subscript", "setdefault",
                "collections_counter", "sorted_key_lambda", "enumerate", "str_format",
                "tuple_unpack", "slicing", "str_join", "isinstance", "return_str"),
    ),
    IdiomCase(
        name="temperature_convert_float",
        source=r'''
SCALES = {"c": "celsius", "f": "fahrenheit", "k": "kelvin"}


def convert_temperature(value, from_scale, to_scale):
    """Convert between Celsius, Fahrenheit and Kelvin. Returns a float or an error string."""
    src = SCALES.get(str(from_scale).strip().lower()[:1])
    dst = SCALES.get(str(to_scale).strip().lower()[:1])
    if src is None or dst is None:
        return "Error: scales must be Celsius, Fahrenheit or Kelvin"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "Error: value must be numeric"
    to_celsius = {
        "celsius": lambda v: v,
        "fahrenheit": lambda v: (v - 32) * 5 / 9,
        "kelvin": lambda v: v - 273.15,
    }
    from_celsius = {
        "celsius": lambda c: c,
        "fahrenheit": lambda c: c * 9 / 5 + 32,
        "kelvin": lambda c: c + 273.15,
    }
    celsius = to_celsius[src](value)
    if celsius < -273.15:
        return "Error: temperature below absolute zero"
    return round(from_celsius[dst](celsius), 2)
''',
        func="convert_temperature",
        calls=(
            {"value": 100, "from_scale": "C", "to_scale": "F"},
            {"value": "300", "from_scale": "kelvin", "to_scale": "celsius"},
            {"value": -500, "from_scale": "c", "to_scale": "k"},
            {"value": 1, "from_scale": "rankine", "to_scale": "c"},
        ),
        idioms=("dict_get", "dict_lookup", "try_except", "slicing", "str_methods", "round",
                "return_float", "return_str"),
    ),
    IdiomCase(
        name="count_weekdays_int",
        source=r'''
from datetime import date, timedelta

DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def count_weekdays(start: str, end: str, weekday: str = "all"):
    """Count working days (or one specific weekday) between two dates, inclusive."""
    try:
        d0 = date(*map(int, start.split("-")))
        d1 = date(*map(int, end.split("-")))
    except (TypeError, ValueError):
        return "invalid date: use YYYY-MM-DD"
    if d1 < d0:
        d0, d1 = d1, d0
    key = weekday[:3].lower()
    if weekday == "all":
        wanted = {0, 1, 2, 3, 4}
    elif key in DAY_NAMES:
        wanted = {DAY_NAMES.index(key)}
    else:
        return f"invalid weekday: {weekday}"
    count = 0
    day = d0
    while day <= d1:
        if day.weekday() in wanted:
            count += 1
        day += timedelta(days=1)
    return count
''',
        func="count_weekdays",
        calls=(
            {"start": "2024-03-01", "end": "2024-03-31"},
            {"start": "2024-12-31", "end": "2024-12-01", "weekday": "Friday"},
            {"start": "2024-02-30", "end": "2024-03-01"},
            {"start": "2024-01-01", "end": "2024-01-31", "weekday": "funday"},
        ),
        idioms=("datetime", "timedelta", "star_args", "map", "try_except", "tuple_unpack",
                "while_counter", "augassign_name", "slicing", "in_check", "return_int",
                "return_str"),
    ),
    IdiomCase(
        name="vat_calculator_class",
        source=r'''
class VatCalculator:
    RATES = {
        "DE": {"standard": 19, "reduced": 7},
        "FR": {"standard": 20, "reduced": 5.5},
        "GB": {"standard": 20, "reduced": 5},
        "JP": {"standard": 10, "reduced": 8},
    }

    def rate_for(self, country, category):
        return self.RATES[country][category]

    def net_to_gross(self, net, country, category):
        return net * (1 + self.rate_for(country, category) / 100)

    @classmethod
    def countries(cls):
        return sorted(cls.RATES)


def calculate_vat(amount, country, category="standard", amount_is_gross=False):
    """Compute VAT for an amount in a supported country."""
    calc = VatCalculator()
    country = country.upper()
    if country not in calc.countries():
        return {"error": f"unsupported country {country}", "supported": calc.countries()}
    try:
        rate = calc.rate_for(country, category)
    except KeyError:
        return {"error": f"unknown VAT category '{category}'"}
    if amount_is_gross:
        net, gross = amount / (1 + rate / 100), amount
    else:
        net, gross = amount, calc.net_to_gross(amount, country, category)
    return {
        "country": country,
        "rate": f"{rate}%",
        "net": round(net, 2),
        "vat": round(gross - net, 2),
        "gross": round(gross, 2),
    }
''',
        func="calculate_vat",
        calls=(
            {"amount": 100, "country": "de"},
            {"amount": 59.9, "country": "FR", "category": "reduced", "amount_is_gross": True},
            {"amount": 10, "country": "US"},
            {"amount": 10, "country": "JP", "category": "luxury"},
        ),
        idioms=("class_methods", "class_static", "nested_dict", "try_except", "tuple_unpack",
                "round", "fstring", "return_dict"),
    ),
    IdiomCase(
        name="expense_report_defaultdict",
        source=r'''
from collections import defaultdict
from datetime import datetime

EXPENSES = [
    {"date": "2024-04-02", "category": "groceries", "amount": 82.4},
    {"date": "2024-04-05", "category": "transport", "amount": 15.0},
    {"date": "2024-04-09", "category": "dining", "amount": 46.75},
    {"date": "2024-04-15", "category": "groceries", "amount": 63.1},
    {"date": "2024-04-20", "category": "utilities", "amount": 120.0},
    {"date": "2024-04-27", "category": "dining", "amount": 88.2},
    {"date": "2024-05-03", "category": "groceries", "amount": 71.9},
]
BUDGETS = {"groceries": 150.0, "transport": 60.0, "dining": 100.0, "utilities": 150.0}


def expense_report(month: str) -> dict:
    """Summarise spending per category for one month against the budget."""
    try:
        period = datetime.strptime(month, "%Y-%m")
    except ValueError:
        return {"error": "month must be formatted as YYYY-MM"}
    totals = defaultdict(float)
    remaining = dict(BUDGETS)
    by_week = defaultdict(list)
    count = 0
    for e in EXPENSES:
        day = datetime.strptime(e["date"], "%Y-%m-%d")
        if (day.year, day.month) != (period.year, period.month):
            continue
        totals[e["category"]] += e["amount"]
        remaining[e["category"]] -= e["amount"]
        by_week["week %02d" % day.isocalendar()[1]].append(e["amount"])
        count += 1
    if count == 0:
        return {"error": f"no expenses recorded for {month}"}
    return {
        "month": period.strftime("%Y-%m"),
        "transactions": count,
        "totals": {
            k: round(v, 2)
            for k, v in sorted(totals.items(), key=lambda kv: kv[1], reverse=True)
        },
        "remaining_budget": {k: round(v, 2) for k, v in remaining.items()},
        "over_budget": sorted(k for k, v in remaining.items() if v < 0),
        "weekly_spend": {k: round(sum(v), 2) for k, v in sorted(by_week.items())},
    }
''',
        func="expense_report",
        calls=(
            {"month": "2024-04"},
            {"month": "2024-05"},
            {"month": "2024-06"},
            {"month": "April"},
        ),
        idioms=("collections_defaultdict", "augassign_subscript", "strptime_strftime",
                "datetime", "try_except", "dict_comp", "sorted_key_lambda", "sorted_reverse",
                "genexpr", "percent_format", "break_continue", "augassign_name",
                "items_loop", "return_dict"),
    ),
    IdiomCase(
        name="top_books_list",
        source=r'''
BOOKS = [
    {"title": "The Pragmatic Programmer", "year": 1999, "genre": "tech", "rating": 4.6},
    {"title": "Clean Code", "year": 2008, "genre": "tech", "rating": 4.4},
    {"title": "Dune", "year": 1965, "genre": "scifi", "rating": 4.7},
    {"title": "Neuromancer", "year": 1984, "genre": "scifi", "rating": 4.1},
    {"title": "The Martian", "year": 2011, "genre": "scifi", "rating": 4.6},
    {"title": "Designing Data-Intensive Applications", "year": 2017, "genre": "tech",
     "rating": 4.8},
]


def top_books(genre, limit=3, min_year=None):
    """Return the highest-rated book titles for a genre as a list of strings."""
    genres = sorted({b["genre"] for b in BOOKS})
    if genre not in genres:
        return "error: genre must be one of " + ", ".join(genres)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        return "error: limit must be a positive integer"
    pool = [b for b in BOOKS if b["genre"] == genre and (min_year is None or b["year"] >= min_year)]
    pool.sort(key=lambda b: (-b["rating"], b["title"]))
    result = []
    for b in pool[:limit]:
        title = b["title"] if len(b["title"]) <= 24 else b["title"][:21] + "..."
        result.append("{title} ({year}) {stars} {rating}".format(
            title=title, year=b["year"], stars="*" * round(b["rating"]), rating=b["rating"]))
    return result
''',
        func="top_books",
        calls=(
            {"genre": "tech"},
            {"genre": "scifi", "limit": 2, "min_year": 1980},
            {"genre": "romance"},
            {"genre": "tech", "limit": 0},
        ),
        idioms=("return_list", "return_str", "set_comp", "list_comp", "sorted_key_lambda",
                "str_format", "str_mul", "slicing", "isinstance", "in_check", "str_join"),
    ),
)
