"""SimUser data formats: MultiWOZ schema, databases and goals; bad files raise DataFormatError."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dialog_envs.simuser.reference_agent import ReferenceAgent, run_episode
from dialog_envs.envs.simuser import SimUserEnv, load_domain
from dialog_envs.errors import DataFormatError
from dialog_envs.simuser.conversation import Conversation, SimulatedUser
from dialog_envs.simuser.domain import write_bundled_schema
from dialog_envs.simuser.goals import read_multiwoz_goals
from dialog_envs.simuser.schema import load_schema
from tests.conftest import shared_data


def test_multiwoz_schema_databases_and_goals_load() -> None:
    folder = shared_data("multiwoz21")
    schema = load_schema(folder)
    assert {"hotel", "restaurant", "attraction", "train", "taxi", "hospital", "police", "bus"} <= set(schema.domains)
    assert len(schema.domains["hotel"].entities) == 33 and len(schema.domains["train"].entities) == 2828
    assert schema.domains["hotel"].slots["pricerange"].values == ("expensive", "cheap", "moderate")
    assert schema.domains["hotel"].slots_where("booking") == ["bookday", "bookpeople", "bookstay"]
    assert schema.domains["train"].entities[0]["leaveat"] == "05:00"  # "leaveAt" column, normalised
    assert len(schema.domains["taxi"].entities) == 60  # 6 colours x 10 car types
    goals = read_multiwoz_goals(folder / "val.json", schema)
    assert len(goals) == 999
    first = goals[0]
    assert first.source == "val.json:PMUL1635"
    assert [d.domain for d in first.domains] == ["hotel", "train"]
    assert first.domains[0].booking == {"bookpeople": "3", "bookday": "monday", "bookstay": "4"}
    assert first.domains[1].requests == ("duration", "leaveat", "price")


def test_env_runs_on_multiwoz_with_data_path() -> None:
    folder = shared_data("multiwoz21")
    env = SimUserEnv(data_path=folder, split="validation", max_reply_tokens=64)
    assert env.goal_pool is not None and len(env.goal_pool) == 999
    agent = ReferenceAgent(env.schema)
    successes = 0
    for seed in range(10):
        obs, info = env.reset(seed=seed)
        agent.reset()
        user_text, done = info["user_text"], False
        while not done:
            for action in env.text_to_actions(agent.reply(user_text)):
                obs, reward, terminated, truncated, info = env.step(action)
            user_text, done = info["user_text"], terminated or truncated
        assert env.observation_space.contains(obs)
        assert info["goal"]["source"].startswith("val.json:")
        successes += info["success"]
    assert successes >= 8
    env.action_space.seed(0)
    env.reset(seed=0)
    done = False
    while not done:
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        done = terminated or truncated
    assert not info["success"]


def test_reference_agent_on_multiwoz_goals() -> None:
    schema, goals = load_domain(shared_data("multiwoz21"), "validation")
    conversation = Conversation(SimulatedUser(schema, goals), max_turns=10)
    agent = ReferenceAgent(schema)
    results = [run_episode(conversation, agent, np.random.default_rng(i)) for i in range(60)]
    assert np.mean([r["success"] for r in results]) >= 0.9


def test_one_goal_file_is_split_into_disjoint_train_validation_and_test_goals() -> None:
    folder = shared_data("multiwoz21")
    pools = {split: load_domain(folder, split, goal_file_split="validation")[1] for split in ("train", "validation", "test")}
    sources = {split: {goal.source for goal in pool} for split, pool in pools.items()}
    assert sum(len(s) for s in sources.values()) == 999  # every validation-file goal, once
    assert not sources["train"] & sources["test"] and not sources["train"] & sources["validation"]
    assert 700 < len(sources["train"]) < 900 and 50 < len(sources["test"]) < 150
    env = SimUserEnv(data_path=folder, split="test", goal_file_split="validation")
    assert {goal.source for goal in env.goal_pool} == sources["test"]
    # the default tokenizer depends on the domain only: every split's env shares it
    assert env.tokenizer is SimUserEnv(data_path=folder, split="train", goal_file_split="validation").tokenizer


# -- bad files ---------------------------------------------------------------------------------


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """A valid MultiWOZ-style folder (the bundled domain written out) to break in each test."""
    return write_bundled_schema(tmp_path / "shop")


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda d: d[0].pop("service_name"), "[0].service_name", "missing key"),
        (lambda d: d[1].update(slots="area"), "[1].slots", "expected a list of slots"),
        (lambda d: d[2]["slots"][0].update(name=7), "[2].slots[0].name", "expected a string"),
        (lambda d: d[2]["slots"][1].update(possible_values="north"), "[2].slots[1].possible_values", "expected a list"),
        (lambda d: d[0]["intents"][0].update(required_slots=["order-colour"]), "[0].intents", "colour"),
        (lambda d: d[0]["intents"][0].update(is_transactional="yes"), "[0].intents[0].is_transactional", "true or false"),
        (lambda d: d.clear() or d.append("order"), "[0]", "expected a service object"),
    ],
)
def test_bad_schema_files_name_file_and_field(folder: Path, change, field: str, message: str) -> None:
    edit_json(folder / "schema.json", change)
    with pytest.raises(DataFormatError, match=message) as caught:
        load_schema(folder)
    assert caught.value.path.endswith("schema.json") and caught.value.field == field
    assert "schema.json" in str(caught.value) and field in str(caught.value)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda d: d.__setitem__(0, ["not", "an", "object"]), "[0]", "expected an entity object"),
        (lambda d: d[3].update(area=["north"]), "[3].area", "expected a string or number"),
        (lambda d: d[3].update(phone={"home": "0123"}), "[3].phone", "expected a string or number"),
    ],
)
def test_bad_database_files_name_file_and_field(folder: Path, change, field: str, message: str) -> None:
    edit_json(folder / "db" / "store_db.json", change)
    with pytest.raises(DataFormatError, match=message) as caught:
        load_schema(folder)
    assert caught.value.path.endswith("store_db.json") and caught.value.field == field


def test_database_that_is_not_a_list(folder: Path) -> None:
    (folder / "db" / "store_db.json").write_text('{"name": "x"}')
    with pytest.raises(DataFormatError, match="expected a list of entity objects"):
        load_schema(folder)
    (folder / "db" / "store_db.json").write_text('[{"name": "x"},\n{"name": ]')
    with pytest.raises(DataFormatError, match="not valid JSON") as caught:
        load_schema(folder)
    assert caught.value.line == 2


def write_goals(folder: Path, goals: dict) -> Path:
    path = folder / "val.json"
    lines = ["{"] + [f"{json.dumps(k)}: {json.dumps({'goal': g, 'log': []})}," for k, g in goals.items()]
    lines[-1] = lines[-1].rstrip(",")
    path.write_text("\n".join(lines + ["}"]) + "\n")
    return path


GOOD_GOAL = {"store": {"info": {"area": "north"}, "reqt": ["phone"], "fail_info": {}}, "message": ["..."]}


@pytest.mark.parametrize(
    ("goal", "field", "message"),
    [
        ({"store": {"info": {"colour": "red"}}}, "B1.goal.store.info.colour", "unknown slot 'colour'"),
        ({"store": {"info": {"area": "north"}, "reqt": ["smell"]}}, "B1.goal.store.reqt.smell", "unknown slot 'smell'"),
        ({"order": {"info": {"orderid": "1"}, "book": {"colour": "red"}}}, "B1.goal.order.book.bookcolour", "unknown slot"),
        ({"spaceship": {"info": {"x": "y"}}}, "B1.goal.spaceship", "unknown domain"),
        ({"store": {"info": {"area": 3}}}, "B1.goal.store.info.area", "expected a string value"),
        ({"store": {"info": {"area": "north"}, "reqt": "phone"}}, "B1.goal.store.reqt", "expected a list of slot names"),
        ({"store": "north"}, "B1.goal.store", "expected an object"),
    ],
)
def test_bad_goals_name_file_line_and_field(folder: Path, goal: dict, field: str, message: str) -> None:
    path = write_goals(folder, {"A0": GOOD_GOAL, "B1": goal})
    schema = load_schema(folder)
    with pytest.raises(DataFormatError, match=message) as caught:
        read_multiwoz_goals(path, schema)
    assert caught.value.path.endswith("val.json") and caught.value.field == field and caught.value.line == 3


def test_goal_file_in_a_folder_switches_the_env_to_corpus_goals(folder: Path) -> None:
    write_goals(folder, {"A0": GOOD_GOAL})
    env = SimUserEnv(data_path=folder, split="validation", max_turns=3)
    _, info = env.reset(seed=0)
    assert "store" in info["user_text"].lower() and "north" in info["user_text"].lower()
    sampled = SimUserEnv(data_path=folder, goals="sample")
    assert sampled.goal_pool is None


def test_data_path_as_a_mapping_of_split_to_goal_file(folder: Path) -> None:
    goal_file = write_goals(folder, {"A0": GOOD_GOAL})
    env = SimUserEnv(data_path={"validation": str(goal_file)}, split="validation", max_turns=3)
    assert env.goal_pool == SimUserEnv(data_path=folder, split="validation", max_turns=3).goal_pool
    assert len(env.goal_pool) == 1 and set(env.schema.domains) == set(load_schema(folder).domains)
