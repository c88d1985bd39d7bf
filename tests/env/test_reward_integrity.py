"""Reward holes an RL policy would find, each closed by a rule (docs/env.md, "Rewards").

Every test here plays the exploit through the real env and fails on a version
of the env without the rule: error-shaped results, echoed arguments, hedged
final answers, tool order, malformed message dicts and pickling.
"""

from __future__ import annotations

import json
import pickle

import gymnasium as gym
import pytest

import astra_gym  # noqa: F401 - registers astra/demo-v0
from astra_gym.env import AstraEnv
from astra_gym.finals import HedgeRule
from astra_gym.pack import GoldCall, SubTask, Task, TaskSource, Tool, write_pack

HOTELS_SOURCE = '''HOTELS = {
    "lisbon": [{"hotel": "Casa Azul", "eur": 150}, {"hotel": "Hotel Luz", "eur": 120},
               {"hotel": "Bela Vista", "eur": 180}, {"hotel": "Sol Mar", "eur": 135}],
}
def find_hotels(city: str) -> dict:
    """Hotels of a city; the city is echoed back, as many generated tools do."""
    return {"city": city, "hotels": HOTELS.get(city.strip().lower(), [])}
'''
BOOK_SOURCE = '''BOOKINGS = {"count": 0}
def book_hotel(hotel: str, nights: int = 1) -> dict:
    """Echoes its arguments back, as many generated tools do."""
    BOOKINGS["count"] += 1
    return {"hotel": hotel, "nights": nights, "booking": BOOKINGS["count"],
            "reference": f"BK-{BOOKINGS['count']:04d}"}
'''
STATUS_SOURCE = '''def check_status(reference: str) -> dict:
    """Reports failures LLM-style: an error object or a false flag, never an exception."""
    if not reference:
        return {"error": "give a reference, e.g. BK-0001 (confirmed)"}
    if reference != "BK-0001":
        return {"success": False, "message": "unknown reference; BK-0001 is confirmed"}
    return {"success": True, "reference": reference, "state": "confirmed"}
'''
DISTRACTOR_SOURCES = {
    f"noise_{i}": f"def noise_{i}(x: str) -> dict:\n    return {{\"noise\": {i}}}\n"
    for i in range(4)}


def _tool(name: str, description: str, properties: dict, source: str) -> Tool:
    return Tool(name, description, {"type": "object", "properties": properties,
                                    "required": list(properties)[:1]}, source, name)


FIND = _tool("find_hotels", "Hotels of a city with prices.", {"city": {"type": "string"}},
             HOTELS_SOURCE)
BOOK = _tool("book_hotel", "Book a hotel.", {"hotel": {"type": "string"},
                                              "nights": {"type": "integer"}}, BOOK_SOURCE)
STATUS = _tool("check_status", "Status of a booking.", {"reference": {"type": "string"}},
               STATUS_SOURCE)
NOISE = tuple(_tool(name, "Unrelated.", {"x": {"type": "string"}}, source)
              for name, source in DISTRACTOR_SOURCES.items())


def hotel_task() -> Task:
    return Task(
        task_id="hotel", source=TaskSource("integrity.jsonl", 1, "hotel"), domain="travel",
        language="en", prompt=({"role": "user", "content": "Book me the cheapest hotel in "
                                "Lisbon for one night and give me its name."},),
        final_answer="Hotel Luz",
        subtasks=(
            SubTask("1", "Cheapest hotel in Lisbon?", "Hotel Luz", (), 1, True, "find_hotels",
                    GoldCall("find_hotels", {"city": "Lisbon"})),
            SubTask("2", "Booking reference?", "BK-0001", ("1",), 2, True, "book_hotel",
                    GoldCall("book_hotel", {"hotel": "Hotel Luz", "nights": 1}))),
        tools=(FIND, BOOK), distractor_tools=NOISE)


def status_task() -> Task:
    return Task(
        task_id="status", source=TaskSource("integrity.jsonl", 2, "status"), domain="travel",
        language="en", prompt=({"role": "user", "content": "Is BK-0001 confirmed?"},),
        final_answer="confirmed",
        subtasks=(SubTask("1", "State of BK-0001?", "confirmed", (), 1, True, "check_status",
                          GoldCall("check_status", {"reference": "BK-0001"})),),
        tools=(STATUS,))


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    directory = tmp_path_factory.mktemp("integrity")
    write_pack(directory, "integrity", 0, [hotel_task(), status_task()],
               validation={"rows": 2, "compiled": 2, "rejected": 0})
    return str(directory)


@pytest.fixture
def env(pack):
    env = AstraEnv(pack, sandbox={"isolation": "inprocess"})
    yield env
    env.close()


def call(name: str, **arguments) -> dict:
    return calls((name, arguments))


def calls(*pairs) -> dict:
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"c{i}", "type": "function",
         "function": {"name": name, "arguments": json.dumps(arguments)}}
        for i, (name, arguments) in enumerate(pairs)]}


def solved_after(env, *actions) -> list[str]:
    env.reset(seed=0, options={"task_id": "hotel"})
    info = {}
    for action in actions:
        info = env.step(action)[4]
    return info["reward_components"]["solved"]


# -- what "solved" means ----------------------------------------------------------------

def test_the_gold_calls_solve_their_subtasks(env):
    assert solved_after(env, call("find_hotels", city="Lisbon"),
                        call("book_hotel", hotel="Hotel Luz", nights=1)) == ["1", "2"]


@pytest.mark.parametrize("reference", ["", "BK-9"], ids=["error key", "success false"])
def test_an_error_shaped_result_solves_nothing_even_with_the_answer_in_it(env, reference):
    env.reset(seed=0, options={"task_id": "status"})
    _, reward, _, _, info = env.step(call("check_status", reference=reference))
    assert info["calls"][0]["ok"] is True  # the tool returned normally...
    assert "confirmed" in env.messages[-1]["content"]  # ...with the answer in it
    assert info["reward_components"]["solved"] == [] and reward == 0.0
    info = env.step(call("check_status", reference="BK-0001"))[4]
    assert info["reward_components"]["solved"] == ["1"]


def test_an_echo_of_the_calls_own_argument_solves_nothing(env):
    # Guess the answer, pass it as the city: the tool repeats it back, with no data.
    env.reset(seed=0, options={"task_id": "hotel"})
    _, reward, _, _, info = env.step(call("find_hotels", city="hotel luz"))
    assert "hotel luz" in env.messages[-1]["content"]
    assert info["reward_components"]["solved"] == [] and reward == 0.0


def test_the_echo_rule_applies_per_occurrence(env):
    # The same result may carry the answer both as an echo and as data: the data counts.
    assert solved_after(env, call("find_hotels", city="Lisbon")) == ["1"]


# -- hedged final answers ---------------------------------------------------------------------

def finish(env, answer: str) -> dict:
    env.reset(seed=0, options={"task_id": "hotel"})
    env.step(call("find_hotels", city="Lisbon"))
    env.step(call("book_hotel", hotel="Hotel Luz", nights=1))
    return env.step(answer)[4]


def test_a_committed_final_answer_is_a_success(env):
    info = finish(env, "Booked Hotel Luz (120 EUR a night, cheaper than Sol Mar), BK-0001.")
    assert info["success"] is True and info["hedged"] is False


@pytest.mark.parametrize("answer", [
    "It is one of Casa Azul, Hotel Luz, Bela Vista or Sol Mar.",
    "casa azul / HOTEL LUZ / bela vista / sol mar",
])
def test_listing_the_candidates_is_not_a_success(env, answer):
    info = finish(env, answer)
    assert info["success"] is False and info["hedged"] is True
    assert "competing candidates" in info["hedge_reason"]


def test_dumping_every_result_is_not_a_success(env):
    finish(env, "Hotel Luz")
    dump = "\n".join(m["content"] for m in env.messages if m["role"] == "tool")
    info = finish(env, dump)
    assert info["success"] is False and info["hedged"] is True


def test_the_hedge_rule_is_configurable_and_can_be_turned_off(pack):
    answer = "Casa Azul, Hotel Luz or Bela Vista"
    for rule, success in ((HedgeRule(max_candidates=3), True), (None, True),
                          (HedgeRule(max_candidates=2), False)):
        env = AstraEnv(pack, sandbox={"isolation": "inprocess"}, hedge_rule=rule)
        assert finish(env, answer)["success"] is success, rule
        env.close()
    with pytest.raises(TypeError, match="HedgeRule"):
        AstraEnv(pack, hedge_rule={"max_candidates": 2})


# -- tool order -------------------------------------------------------------------------------

def tool_names(env, seed: int) -> list[str]:
    return [t["function"]["name"] for t in
            env.reset(seed=seed, options={"task_id": "hotel"})[1]["tools"]]


def test_tool_order_is_drawn_per_episode_and_hides_the_distractors(env):
    orders = {tuple(tool_names(env, seed)) for seed in range(40)}
    assert len(orders) > 10
    needed = {"find_hotels", "book_hotel"}
    # Pack order puts the needed tools first; a shuffled list often does not.
    assert any(set(order[:2]) != needed for order in orders)
    assert any(order[-1] in needed for order in orders)
    assert tool_names(env, 7) == tool_names(env, 7)  # the seed decides


def test_the_prompt_tool_list_follows_the_episode_order(pack):
    env = AstraEnv(pack, sandbox={"isolation": "inprocess"}, tools_in_prompt=True)
    observation, info = env.reset(seed=3, options={"task_id": "hotel"})
    listed = json.loads(observation[0]["content"].split("(OpenAI format):\n", 1)[1])
    assert listed == info["tools"]
    env.close()


def test_shuffle_can_be_turned_off(pack):
    env = AstraEnv(pack, sandbox={"isolation": "inprocess"}, shuffle_tools=False)
    assert {tuple(tool_names(env, seed)) for seed in range(10)} == {
        ("find_hotels", "book_hotel", *(tool.name for tool in NOISE))}
    env.close()


# -- malformed message dicts ---------------------------------------------------------------

@pytest.mark.parametrize("action", [
    {"role": "assistant", "content": None, "tool_call": [{"function": {"name": "find_hotels"}}]},
    {"name": "find_hotels", "arguments": {"city": "Lisbon"}},
    {"role": "user", "content": "Hotel Luz"},
    {"content": 42},
    {},
])
def test_a_malformed_message_is_an_invalid_call_not_a_final_answer(env, action):
    env.reset(seed=0, options={"task_id": "hotel"})
    observation, _, terminated, truncated, info = env.step(action)
    assert not terminated and not truncated
    assert info["reward_components"]["invalid_calls"] == 1 and info["parse_errors"]
    assert observation[0]["content"].startswith("Error: could not parse the tool call")
    assert "final_answer" not in info


# -- pickling ------------------------------------------------------------------------------------

@pytest.mark.parametrize("isolation", ["inprocess", "process"])
def test_an_env_pickles_mid_episode_and_the_copy_continues_identically(pack, isolation):
    env = gym.make("astra/demo-v0")  # through gym.make: wrappers pickle too
    pickle.loads(pickle.dumps(env)).close()
    env.close()
    original = AstraEnv(pack, sandbox={"isolation": isolation})
    original.reset(seed=5, options={"task_id": "hotel"})
    original.step(call("find_hotels", city="Lisbon"))
    original.step(call("book_hotel", hotel="Casa Azul"))  # mutates the tool's mock data
    copy = pickle.loads(pickle.dumps(original))
    rest = [call("book_hotel", hotel="Hotel Luz", nights=1), "Hotel Luz"]
    for action in rest:
        a, b = original.step(action), copy.step(action)
        assert a[:4] == b[:4] and a[4]["reward_components"] == b[4]["reward_components"]
    # The copy's booking counter continued from the original's state (BK-0002, not BK-0001).
    assert copy.messages == original.messages and "BK-0002" in copy.messages[-2]["content"]
    assert copy.np_random.integers(1 << 30) == original.np_random.integers(1 << 30)
    original.close()
    copy.close()
