"""SimUser-v0 on the Schema-Guided Dialogue format: schema, entities from service results, goals
from the user's acts, unseen services, bad files; and the real train/dev subsets when present."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dialog_envs.envs.batched import episode_metrics
from dialog_envs.envs.simuser import SimUserEnv, load_domain
from dialog_envs.errors import DataFormatError, DialogEnvsError
from dialog_envs.simuser.conversation import Conversation, SimulatedUser
from dialog_envs.simuser.goals import Goal
from dialog_envs.simuser.reference_agent import ReferenceAgent, run_episode
from dialog_envs.simuser.schema import Schema
from dialog_envs.simuser.sgd import is_sgd_path, load_sgd, sgd_value
from dialog_envs.simuser.understanding import RuleReader
from tests.conftest import shared_data
from tests.test_simuser_env import play_reference

RESTAURANTS = {
    "service_name": "Restaurants_9",
    "description": "Find restaurants and reserve a table",
    "slots": [
        {"name": "restaurant_name", "description": "Name of the restaurant", "is_categorical": False, "possible_values": []},
        {"name": "city", "description": "City where the restaurant is located", "is_categorical": False, "possible_values": []},
        {"name": "cuisine", "description": "Cuisine of the restaurant", "is_categorical": True,
         "possible_values": ["Italian", "Thai"]},
        {"name": "has_live_music", "description": "Whether the restaurant has live music", "is_categorical": True,
         "possible_values": ["True", "False"]},
        {"name": "phone_number", "description": "Phone number of the restaurant", "is_categorical": False, "possible_values": []},
        {"name": "time", "description": "Time of the reservation", "is_categorical": False, "possible_values": []},
        {"name": "party_size", "description": "Number of seats to reserve", "is_categorical": True,
         "possible_values": ["1", "2", "3", "4"]},
    ],
    "intents": [
        {"name": "FindRestaurants", "description": "Find a restaurant", "is_transactional": False,
         "required_slots": ["city", "cuisine"], "optional_slots": {"has_live_music": "dontcare"},
         "result_slots": ["restaurant_name", "city", "cuisine", "has_live_music", "phone_number"]},
        {"name": "ReserveRestaurant", "description": "Reserve a table", "is_transactional": True,
         "required_slots": ["restaurant_name", "time"], "optional_slots": {"party_size": "2"},
         "result_slots": ["restaurant_name", "time", "party_size", "phone_number"]},
    ],
}
WEATHER = {
    "service_name": "Weather_9",
    "description": "Weather reports",
    "slots": [
        {"name": "city", "description": "City of the weather report", "is_categorical": False, "possible_values": []},
        {"name": "temperature", "description": "Temperature in degrees", "is_categorical": False, "possible_values": []},
    ],
    "intents": [
        {"name": "GetWeather", "description": "Get the weather of a city", "is_transactional": False,
         "required_slots": ["city"], "optional_slots": {}, "result_slots": ["city", "temperature"]},
    ],
}
PIZZA = {"restaurant_name": "Pizza Roma", "city": "San Jose", "cuisine": "Italian", "has_live_music": "False",
         "phone_number": "408-555-0101"}
PASTA = {"restaurant_name": "Pasta Bar", "city": "San Jose", "cuisine": "Italian", "has_live_music": "True",
         "phone_number": "408-555-0102"}
BANGKOK = {"restaurant_name": "Bangkok House", "city": "Fremont", "cuisine": "Thai", "has_live_music": "False",
           "phone_number": "510-555-0103"}


def act(name: str, slot: str = "", *values: str, canonical: list[str] | None = None) -> dict[str, Any]:
    return {"act": name, "slot": slot, "values": list(values),
            "canonical_values": list(values) if canonical is None else canonical}


def user(service: str, *actions: dict[str, Any], intent: str = "NONE") -> dict[str, Any]:
    frame = {"service": service, "actions": list(actions), "slots": [],
             "state": {"active_intent": intent, "requested_slots": [], "slot_values": {}}}
    return {"speaker": "USER", "utterance": "...", "frames": [frame]}


def system(service: str, *actions: dict[str, Any], method: str | None = None,
           results: list[dict[str, str]] | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"service": service, "actions": list(actions), "slots": []}
    if method is not None:
        frame["service_call"] = {"method": method, "parameters": {}}
        frame["service_results"] = [dict(result) for result in results or []]
    return {"speaker": "SYSTEM", "utterance": "...", "frames": [frame]}


def train_dialogues() -> list[dict[str, Any]]:
    find_then_reserve = [
        user("Restaurants_9", act("INFORM_INTENT", "intent", "FindRestaurants"),
             act("INFORM", "city", "san jose", canonical=["San Jose"]), intent="FindRestaurants"),
        system("Restaurants_9", act("REQUEST", "cuisine")),
        user("Restaurants_9", act("INFORM", "cuisine", "italian", canonical=["Italian"]),
             act("INFORM", "has_live_music", "dontcare"), intent="FindRestaurants"),
        system("Restaurants_9", act("OFFER", "restaurant_name", "Pizza Roma"), method="FindRestaurants",
               results=[PIZZA, PASTA]),
        user("Restaurants_9", act("REQUEST", "phone_number"), intent="FindRestaurants"),
        system("Restaurants_9", act("INFORM", "phone_number", "408-555-0101")),
        user("Restaurants_9", act("INFORM_INTENT", "intent", "ReserveRestaurant"),
             act("INFORM", "time", "half past six", canonical=["18:30"]),
             act("INFORM", "party_size", "3"), intent="ReserveRestaurant"),
        system("Restaurants_9", act("NOTIFY_SUCCESS"), method="ReserveRestaurant",
               results=[{"restaurant_name": "Pizza Roma", "time": "18:30", "party_size": "3",
                         "phone_number": "408-555-0101"}]),
        user("Restaurants_9", act("THANK_YOU"), intent="ReserveRestaurant"),
    ]
    thai = [
        user("Restaurants_9", act("INFORM", "city", "Oakland"), act("INFORM", "cuisine", "Thai"),
             intent="FindRestaurants"),
        system("Restaurants_9", act("NOTIFY_FAILURE"), method="FindRestaurants", results=[]),
        user("Restaurants_9", act("INFORM", "city", "Fremont"), intent="FindRestaurants"),
        system("Restaurants_9", act("OFFER", "restaurant_name", "Bangkok House"), method="FindRestaurants",
               results=[BANGKOK, PIZZA]),
        user("Restaurants_9", act("REQUEST", "has_live_music"), intent="FindRestaurants"),
    ]
    return [{"dialogue_id": "1_00000", "services": ["Restaurants_9"], "turns": find_then_reserve},
            {"dialogue_id": "1_00001", "services": ["Restaurants_9"], "turns": thai}]


def dev_dialogues() -> list[dict[str, Any]]:
    two_services = [
        user("Restaurants_9", act("INFORM", "city", "Fremont"), act("INFORM", "cuisine", "Thai"),
             intent="FindRestaurants"),
        system("Restaurants_9", act("OFFER", "restaurant_name", "Bangkok House"), method="FindRestaurants",
               results=[BANGKOK]),
        user("Restaurants_9", act("REQUEST", "phone_number"), intent="FindRestaurants"),
        system("Restaurants_9", act("INFORM", "phone_number", "510-555-0103")),
        user("Weather_9", act("INFORM_INTENT", "intent", "GetWeather"), act("INFORM", "city", "Fremont"),
             intent="GetWeather"),
        system("Weather_9", act("OFFER", "temperature", "68"), method="GetWeather",
               results=[{"city": "Fremont", "temperature": "68"}]),
    ]
    weather = [
        user("Restaurants_9", act("THANK_YOU")),  # a service the user wants nothing from: no goal part
        system("Restaurants_9", act("GOODBYE")),
        user("Weather_9", act("INFORM", "city", "Washington D.C."), intent="GetWeather"),
        system("Weather_9", act("OFFER", "temperature", "55"), method="GetWeather",
               results=[{"city": "Washington D.C.", "temperature": "55"}]),
    ]
    return [{"dialogue_id": "2_00000", "services": ["Restaurants_9", "Weather_9"], "turns": two_services},
            {"dialogue_id": "2_00001", "services": ["Weather_9"], "turns": weather}]


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


@pytest.fixture()
def sgd_root(tmp_path: Path) -> Path:
    """An SGD root: train/ knows the restaurant service only; dev/ adds the weather service."""
    root = tmp_path / "sgd"
    write_json(root / "train" / "schema.json", [RESTAURANTS])
    write_json(root / "train" / "dialogues_001.json", train_dialogues())
    write_json(root / "dev" / "schema.json", [RESTAURANTS, WEATHER])
    write_json(root / "dev" / "dialogues_001.json", dev_dialogues())
    return root


def play_every_goal(schema: Schema, goals: list[Goal]) -> list[dict[str, Any]]:
    """The reference agent's last infos on every goal once (goal ``i`` with seed ``i``)."""
    reader = RuleReader(schema)
    agent = ReferenceAgent(schema, reader)
    return [run_episode(Conversation(SimulatedUser(schema, [goal], reader=reader), max_turns=10), agent,
                        np.random.default_rng(i)) for i, goal in enumerate(goals)]


# -- the fixture -----------------------------------------------------------------------------------


def test_schema_slots_phrases_and_entities(sgd_root: Path) -> None:
    data = load_sgd(sgd_root, "train")
    domain = data.schema.domain("restaurants_9")
    assert domain.keywords == ("restaurants 9",) and domain.entity_key == "restaurantname"
    assert domain.slots_where("booking") == ["time", "partysize"]  # only the transaction takes them
    assert domain.slots_where("informable") == ["restaurantname", "city", "cuisine", "haslivemusic"]
    assert domain.slots["city"].synonyms == ("city where the restaurant is located", "city")
    assert domain.slots["haslivemusic"].synonyms == ("has live music",)  # "whether ..." is no noun phrase
    names = [entity["restaurantname"] for entity in domain.entities]
    assert names == ["pizza roma", "pasta bar", "bangkok house", "pizza roma"]  # merged, duplicates dropped
    assert len(domain.entities[-1]) == 4  # the reservation's result: fewer slots, last
    assert domain.entities[0] == {"restaurantname": "pizza roma", "city": "san jose", "cuisine": "italian",
                                  "haslivemusic": "false", "phonenumber": "408-555-0101"}
    assert "18:30" in domain.slots["time"].values  # what users say becomes readable
    assert data.unseen_services == frozenset()


def test_goals_come_from_the_user_side(sgd_root: Path) -> None:
    goals = load_sgd(sgd_root, "train").goals
    assert [goal.source for goal in goals] == ["dialogues_001.json:1_00000", "dialogues_001.json:1_00001"]
    reserve = goals[0].domains[0]
    assert reserve.intents == ("FindRestaurants", "ReserveRestaurant")
    assert reserve.constraints == {"city": "san jose", "cuisine": "italian"}  # canonical values; dontcare dropped
    assert reserve.requests == ("phonenumber",)
    assert reserve.booking == {"time": "18:30", "partysize": "3"}
    thai = goals[1].domains[0]
    assert thai.constraints == {"city": "fremont", "cuisine": "thai"}  # the last value stated wins
    assert thai.requests == ("haslivemusic",) and thai.booking == {}
    assert goals[1].to_dict()["domains"][0]["intents"] == ["FindRestaurants"]


def test_validation_split_reads_dev_and_names_unseen_services(sgd_root: Path) -> None:
    data = load_sgd(sgd_root, "validation")
    assert set(data.schema.domains) == {"restaurants_9", "weather_9"}
    assert data.unseen_services == frozenset({"weather_9"})
    first, second = data.goals
    assert [part.domain for part in first.domains] == ["restaurants_9", "weather_9"]  # in order
    weather = first.domains[1]
    assert weather.constraints == {"city": "fremont"}
    assert weather.requests == ("temperature",)  # nameless entities: what the system offered
    assert [part.domain for part in second.domains] == ["weather_9"]
    assert second.domains[0].constraints == {"city": "washington dc"}  # no mark that ends a sentence
    assert sgd_value("2.5 Stars!") == "2.5 stars"
    assert load_sgd(sgd_root / "dev", "train").schema.domains.keys() == data.schema.domains.keys()  # a split's folder
    assert is_sgd_path(sgd_root) and is_sgd_path(sgd_root / "train") and not is_sgd_path(sgd_root.parent)


def test_reference_agent_reaches_every_fixture_goal(sgd_root: Path) -> None:
    for split in ("train", "validation"):
        schema, goals = load_domain(sgd_root, split)
        assert goals is not None
        results = play_every_goal(schema, goals)
        assert [r["success"] for r in results] == [True] * len(goals), split


def test_env_reports_unseen_services_apart(sgd_root: Path) -> None:
    env = SimUserEnv(data_path=sgd_root, split="validation", max_reply_tokens=64)
    assert env.unseen_services == frozenset({"weather_9"}) and len(env.goal_pool) == 2
    by_goal: dict[str, dict[str, Any]] = {}
    for seed in range(20):
        info = play_reference(env, seed)[1]
        by_goal.setdefault(info["goal"]["source"], info)
        if len(by_goal) == 2:
            break
    infos = [by_goal["dialogues_001.json:2_00000"], by_goal["dialogues_001.json:2_00001"]]
    assert [part["domain"] for part in infos[0]["goal"]["domains"]] == ["restaurants_9", "weather_9"]
    metrics = episode_metrics(env, infos)
    assert metrics["success_unseen_services"] == 1.0 and "success_seen_services" not in metrics
    failed = [{**infos[1], "success": False}, {"success": True, "goal": {"domains": [{"domain": "restaurants_9"}]}}]
    assert env.episode_metrics(failed)["success_unseen_services"] == 0.0
    assert env.episode_metrics(failed)["success_seen_services"] == 1.0
    assert "success_unseen_services" not in SimUserEnv(data_path=sgd_root, split="train").episode_metrics(infos)


def test_goal_file_split_and_missing_split(sgd_root: Path) -> None:
    pools = [load_domain(sgd_root, split, goal_file_split="train")[1] for split in ("train", "validation", "test")]
    assert sorted(goal.source for pool in pools for goal in pool) == [
        "dialogues_001.json:1_00000", "dialogues_001.json:1_00001"]
    with pytest.raises(DialogEnvsError, match=r"no 'test' split in SGD folder .*expected test/ with schema.json"):
        load_sgd(sgd_root, "test")


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d[0].pop("turns"), "[0].turns"),
        (lambda d: d[0]["turns"][0].update(speaker="BOT"), "[0].turns[0].speaker"),
        (lambda d: d[0]["turns"][0]["frames"][0].update(service="Trains_1"), "[0].turns[0].frames[0].service"),
        (lambda d: d[0]["turns"][0]["frames"][0]["actions"][1].update(values="san jose", canonical_values=[]),
         "[0].turns[0].frames[0].actions[1].values"),
        (lambda d: d[0]["turns"][3]["frames"][0]["service_results"][0].update(city=["San Jose"]),
         "[0].turns[3].frames[0].service_results[0].city"),
        (lambda d: d[1]["turns"][0]["frames"][0].update(state=[]), "[1].turns[0].frames[0].state"),
    ],
)
def test_bad_dialogue_files_name_file_and_field(sgd_root: Path, edit: Any, field: str) -> None:
    dialogues = train_dialogues()
    edit(dialogues)
    path = write_json(sgd_root / "train" / "dialogues_001.json", dialogues)
    with pytest.raises(DataFormatError) as caught:
        load_sgd(sgd_root, "train")
    message = str(caught.value)
    assert message.startswith(f"{path}: field {field!r}: ") and "expected" in message
    assert "\n" not in message and caught.value.field == field


def test_an_edited_file_is_read_again(sgd_root: Path) -> None:
    assert len(load_sgd(sgd_root, "train").goals) == 2
    path = sgd_root / "train" / "dialogues_001.json"
    write_json(path, train_dialogues()[:1])
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert len(load_sgd(sgd_root, "train").goals) == 1


def test_bad_json_and_bad_schema_are_one_line(sgd_root: Path) -> None:
    (sgd_root / "train" / "dialogues_001.json").write_text("[{", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"dialogues_001.json:1: not valid JSON"):
        load_sgd(sgd_root, "train")
    write_json(sgd_root / "dev" / "schema.json", [{"service_name": "Weather_9", "slots": []}])
    with pytest.raises(DataFormatError, match=r"schema.json: field '\[0\].intents': missing key"):
        load_sgd(sgd_root, "validation")


# -- the real train and dev subsets (../shared/data/sgd) --------------------------------------------


def test_real_dev_subset_reference_success_overall_and_unseen() -> None:
    data = load_sgd(shared_data("sgd"), "validation")
    assert len(data.goals) == 384
    assert {"alarm_1", "flights_3", "restaurants_2", "services_4"} <= data.unseen_services
    results = play_every_goal(data.schema, list(data.goals))
    success = np.array([r["success"] for r in results], dtype=float)
    unseen = np.array([any(p["domain"] in data.unseen_services for p in r["goal"]["domains"]) for r in results])
    assert success.mean() >= 0.95
    assert unseen.sum() > 100 and success[unseen].mean() >= 0.95


def test_real_train_subset_loads_with_every_service_seen() -> None:
    data = load_sgd(shared_data("sgd"), "train")
    assert data.unseen_services == frozenset() and len(data.goals) > 1500
    with_entities = [name for name, domain in data.schema.domains.items() if domain.entities]
    assert len(with_entities) == 24  # the subset's dialogues cover 24 of the 26 services
    results = play_every_goal(data.schema, list(data.goals[::10]))
    assert np.mean([r["success"] for r in results]) >= 0.95


def test_data_path_as_a_mapping_of_split_to_folder(sgd_root: Path) -> None:
    mapping = {"train": str(sgd_root / "train"), "dev": str(sgd_root / "dev")}
    by_mapping = SimUserEnv(data_path=mapping, split="validation", max_turns=3)
    by_root = SimUserEnv(data_path=sgd_root, split="validation", max_turns=3)
    assert by_mapping.goal_pool == by_root.goal_pool and by_mapping.unseen_services == frozenset({"weather_9"})
    train = SimUserEnv(data_path=mapping, split="train", max_turns=3)
    assert train.tokenizer.get_vocab() == by_mapping.tokenizer.get_vocab()  # built on the train entry for every split
    with pytest.raises(DialogEnvsError, match="data_path has no entry for split 'test'"):
        SimUserEnv(data_path=mapping, split="test")
