"""The two tools every sandbox benchmark uses (ASTRA-style mock-data tools)."""

LOOKUP_TOOL = '''
PRICES = {"AAPL": 189.5, "MSFT": 411.2, "GOOG": 142.7, "AMZN": 178.3}
def get_price(symbol: str) -> dict:
    s = symbol.upper()
    return {"symbol": s, "price": PRICES.get(s)}
'''
LOOKUP_CALL = ("get_price", {"symbol": "msft"})

ITINERARY_TOOL = '''
FLIGHTS = [
    {"id": "CA981", "from": "PEK", "to": "JFK", "price": 5230.0, "stops": 0, "dep": "08:30"},
    {"id": "UA88", "from": "PEK", "to": "JFK", "price": 4810.5, "stops": 1, "dep": "13:05"},
    {"id": "AA186", "from": "PEK", "to": "JFK", "price": 6120.0, "stops": 0, "dep": "17:40"},
    {"id": "DL172", "from": "PEK", "to": "LAX", "price": 3990.0, "stops": 0, "dep": "10:15"},
    {"id": "MU587", "from": "PVG", "to": "JFK", "price": 4475.0, "stops": 1, "dep": "11:20"},
]
CURRENCY = {"CNY": 1.0, "USD": 0.138, "EUR": 0.127}

def search_flights(origin: str, destination: str, max_stops: int = 1,
                   currency: str = "CNY", sort_by: str = "price") -> dict:
    """Search mock flights between two airports."""
    origin = origin.strip().upper()
    destination = destination.strip().upper()
    if len(origin) != 3 or len(destination) != 3:
        return {"error": "airport codes must have 3 letters"}
    if currency not in CURRENCY:
        return {"error": f"unsupported currency: {currency}"}
    if sort_by not in ("price", "dep"):
        return {"error": "sort_by must be 'price' or 'dep'"}
    rate = CURRENCY[currency]
    matches = []
    for flight in FLIGHTS:
        if flight["from"] != origin or flight["to"] != destination:
            continue
        if flight["stops"] > max_stops:
            continue
        price = round(flight["price"] * rate, 2)
        matches.append({"flight": flight["id"], "departure": flight["dep"],
                        "stops": flight["stops"], "price": price,
                        "label": f"{flight['id']} {price:,.2f} {currency}"})
    if not matches:
        return {"error": f"no flights from {origin} to {destination}"}
    matches.sort(key=lambda m: m[sort_by])
    cheapest = min(m["price"] for m in matches)
    by_stops = {}
    for m in matches:
        by_stops[m["stops"]] = by_stops.get(m["stops"], 0) + 1
    return {"route": f"{origin}-{destination}", "count": len(matches),
            "cheapest": cheapest, "by_stops": by_stops, "flights": matches}
'''
ITINERARY_CALL = ("search_flights", {"origin": "pek", "destination": "jfk", "currency": "USD"})
