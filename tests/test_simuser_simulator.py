"""The simulator's parts: reader, goals, policy and satisfaction, and the reference agent."""

from __future__ import annotations

import numpy as np
import pytest

from dialog_envs.simuser.reference_agent import ReferenceAgent, run_episode
from dialog_envs.simuser.conversation import Conversation, SimulatedUser
from dialog_envs.simuser.domain import bundled_schema, write_bundled_schema
from dialog_envs.simuser.goals import DomainGoal, Goal, sample_goal
from dialog_envs.simuser.satisfaction import SatisfactionConfig, TurnEvents, satisfaction, turn_reward
from dialog_envs.simuser.schema import load_schema
from dialog_envs.simuser.understanding import RuleReader, split_sentences

SCHEMA = bundled_schema()
READER = RuleReader(SCHEMA)
STORE = SCHEMA.domains["store"]
ORDER = SCHEMA.domains["order"]


def test_reader_finds_values_requests_and_cues() -> None:
    order = ORDER.entities[0]
    reading = READER(f"Hi. My order number is {order['orderid']}. What is the status and the tracking number?", "order")
    assert reading.informs == [("orderid", order["orderid"])]
    assert reading.requests == ["status", "tracking"]
    # weak values need their slot's name nearby: a weekday is a delivery day or a new day
    assert READER("The delivery day is friday.", "order").informs == [("deliveryday", "friday")]
    assert READER("The new delivery day should be friday.", "order").informs == [("bookday", "friday")]
    assert READER("friday", "order").informs == []
    # a choice offered in a question is a request, not a statement
    choice = READER("Which area would you like, north or south?", "store")
    assert choice.requests == ["area"] and choice.informs == []
    cues = READER("Sorry, there is no store like that. Your reference number is ref12345. Goodbye!", "store")
    assert cues.no_match and cues.reference == "ref12345" and cues.goodbye
    assert READER("I don't mind the area.", "store").dontcare == ["area"]
    assert split_sentences("It costs 2.95 pounds. Ok?") == [("it costs 2.95 pounds", False), ("ok", True)]


def test_sampled_goals_are_seeded_and_satisfiable() -> None:
    goals = [sample_goal(SCHEMA, np.random.default_rng(i)) for i in range(200)]
    again = [sample_goal(SCHEMA, np.random.default_rng(i)) for i in range(200)]
    assert goals == again
    assert len({str(g) for g in goals}) > 150
    for goal in goals:
        for part in goal.domains:
            domain = SCHEMA.domains[part.domain]
            assert domain.query(part.constraints), part
            assert part.requests or part.booking
            assert all(s in domain.slots for s in [*part.constraints, *part.requests, *part.booking])
    assert any(len(g.domains) == 2 for g in goals) and any(g.domains[0].booking for g in goals)


def store_conversation(constraints: dict[str, str], requests: tuple[str, ...], patience: int = 5) -> Conversation:
    goal = Goal((DomainGoal("store", constraints, requests),))
    from dialog_envs.simuser.policy import PolicyConfig

    return Conversation(SimulatedUser(SCHEMA, [goal], policy=PolicyConfig(patience=patience)), max_turns=10)


def test_user_rewards_right_answers_and_punishes_wrong_ones() -> None:
    store = STORE.entities[0]
    conversation = store_conversation({"name": store["name"]}, ("phone",))
    opening = conversation.reset(np.random.default_rng(0))
    assert store["name"] in opening.lower()
    other = next(e for e in STORE.entities if e["phone"] != store["phone"])
    wrong = conversation.step(f"The phone number is {other['phone']}.")
    assert wrong.info["events"]["wrong"] == 1 and wrong.reward < 0
    right = conversation.step(f"The phone number of {store['name']} is {store['phone']}.")
    assert right.terminated and right.info["success"]
    assert right.reward == pytest.approx(1.0 + 0.5 - 0.25 + 5.0)  # answered + offered - s_base + bonus
    assert right.info["inform_recall"] == 1.0 and right.info["inform_precision"] == 0.5  # one wrong answer


def test_user_answers_questions_and_runs_out_of_patience() -> None:
    store = STORE.entities[3]
    conversation = store_conversation({"area": store["area"], "parking": store["parking"]}, ("openhours",), patience=3)
    conversation.reset(np.random.default_rng(1))
    asked = conversation.step("Do you need parking?")
    assert asked.info["events"]["asked_needed"] == 1 or asked.info["events"]["asked_again"] == 1
    assert "parking" in asked.user_text.lower()
    steps = [conversation.step("I like turtles.")]
    while not steps[-1].terminated:
        steps.append(conversation.step("I like turtles."))
    assert 2 <= len(steps) <= 3  # three turns without progress, one of them maybe the question
    penalty = 5.0 if steps[1].terminated else 0.0
    assert steps[1].info["events"]["repeated"] and steps[1].reward == pytest.approx(-0.5 - 0.25 - penalty)
    assert not steps[-1].info["success"] and steps[-1].info["ended_by"] == "patience"


def test_agent_goodbye_before_the_goal_fails() -> None:
    conversation = store_conversation({"area": "north"}, ("phone",))
    conversation.reset(np.random.default_rng(2))
    step = conversation.step("Goodbye!")
    assert step.terminated and step.info["ended_by"] == "agent_goodbye" and not step.info["success"]


def test_satisfaction_formula() -> None:
    config = SatisfactionConfig()
    events = TurnEvents(answered=2, asked_needed=1, wrong=1, repeated=True)
    assert satisfaction(events, config) == pytest.approx(2 * 1.0 + 0.5 - 1.0 - 0.5)
    assert turn_reward(1.0, config, ended=False, success=False) == pytest.approx(0.75)
    assert turn_reward(1.0, config, ended=True, success=True) == pytest.approx(5.75)
    convlab = SatisfactionConfig(reward="convlab")
    assert turn_reward(3.0, convlab, ended=False, success=False) == -1.0
    assert turn_reward(3.0, convlab, ended=True, success=True) == 79.0


def test_reference_agent_reaches_95_percent_on_100_episodes() -> None:
    conversation = Conversation(SimulatedUser(SCHEMA), max_turns=10)
    agent = ReferenceAgent(SCHEMA)
    results = [run_episode(conversation, agent, np.random.default_rng(1000 + i)) for i in range(100)]
    assert np.mean([r["success"] for r in results]) >= 0.95


def test_bundled_schema_round_trips_through_the_sgd_format(tmp_path) -> None:
    loaded = load_schema(write_bundled_schema(tmp_path))
    assert set(loaded.domains) == set(SCHEMA.domains)
    for name, domain in SCHEMA.domains.items():
        copy = loaded.domains[name]
        assert copy.entities == domain.entities
        assert set(copy.slots) == set(domain.slots)
        assert copy.slots_where("informable") == domain.slots_where("informable")
        assert copy.slots_where("booking") == domain.slots_where("booking")
        assert copy.required_slots == domain.required_slots
    assert bundled_schema(0) is bundled_schema(0)
    assert bundled_schema(1).domains["order"].entities != SCHEMA.domains["order"].entities


def test_time_constraints_compare_as_times() -> None:
    from dialog_envs.simuser.schema import Domain, Slot

    domain = Domain("train", slots={"leaveat": Slot("leaveat", match="at_least"), "arriveby": Slot("arriveby", match="at_most")})
    assert domain.matches({"leaveat": "10:00"}, {"leaveat": "9:30"})
    assert not domain.matches({"leaveat": "09:00"}, {"leaveat": "9:30"})
    assert domain.matches({"arriveby": "08:59"}, {"arriveby": "9:00"})
    assert domain.matches({"leaveat": "10:00"}, {"leaveat": "dontcare"})


def test_reader_and_language_are_replaceable() -> None:
    from dialog_envs.simuser.understanding import Reading

    store = STORE.entities[0]
    goal = Goal((DomainGoal("store", {"name": store["name"]}, ("phone",)),))
    said: list[list[str]] = []

    def language(acts, rng) -> str:
        said.append([act.kind for act in acts])
        return " | ".join(act.kind for act in acts)

    def reader(text: str, domain: str | None) -> Reading:  # understands "PHONE!" as the right answer
        return Reading(domain=domain, informs=[("phone", store["phone"])] if text == "PHONE!" else [])

    conversation = Conversation(SimulatedUser(SCHEMA, [goal], reader=reader, language=language))
    assert conversation.reset(np.random.default_rng(0)).startswith("open")
    step = conversation.step("PHONE!")
    assert step.terminated and step.info["success"] and step.user_text == "thank_bye"
    assert said[-1] == ["thank_bye"]
