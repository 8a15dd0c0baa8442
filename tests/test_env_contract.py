"""What every env shares: ``reward=``, the default split, the reset options, and doc pages whose
tables of observation and info keys are exactly what the env returns."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import dialog_envs  # noqa: F401
from dialog_envs.envs.dialogue_bleu import DialogueBLEUEnv
from dialog_envs.envs.ner import NEREnv
from dialog_envs.envs.sentiment import SentimentEnv
from dialog_envs.envs.simuser import SimUserEnv, load_domain
from dialog_envs.errors import DialogEnvsError
from dialog_envs.metrics.text import TextReward
from dialog_envs.simuser.domain import write_bundled_schema
from dialog_envs.simuser.reference_agent import ReferenceAgent
from dialog_envs.simuser.satisfaction import SatisfactionConfig
from tests.test_simuser_data import GOOD_GOAL, write_goals

DOCS = Path(__file__).resolve().parents[1] / "docs" / "envs"
ENV_IDS = ["dialog_envs/NER-v0", "dialog_envs/DialogueBLEU-v0", "dialog_envs/Sentiment-v0", "dialog_envs/SimUser-v0"]
ENV_CLASSES = [NEREnv, DialogueBLEUEnv, SentimentEnv, SimUserEnv]


@pytest.fixture()
def goal_folder(tmp_path: Path) -> Path:
    """The bundled shop domain written out, with three corpus goals in ``val.json``."""
    folder = write_bundled_schema(tmp_path / "shop")
    north_phone, south_phone, north_address = GOOD_GOAL, {"store": {"info": {"area": "south"}, "reqt": ["phone"]}}, {
        "store": {"info": {"area": "north"}, "reqt": ["address"]}
    }
    write_goals(folder, {"A0": north_phone, "B1": south_phone, "C2": north_address})
    return folder


# -- reset options ---------------------------------------------------------------------------------


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_unknown_reset_options_are_rejected(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    assert "index" in env.reset_options  # every env picks examples by index; DialogueBLEU-v0 also takes a context
    accepted = ", ".join(map(repr, sorted(env.reset_options)))
    with pytest.raises(DialogEnvsError, match=rf"unknown reset option 'example_index'; expected one of {accepted}$"):
        env.reset(options={"example_index": 0})
    with pytest.raises(DialogEnvsError, match=r"reset options 'x' are not a dict"):
        env.reset(options="x")
    envs = gym.make_vec(env_id, num_envs=2)
    accepted = ", ".join(map(repr, sorted(env.reset_options | {"reset_mask"})))
    with pytest.raises(DialogEnvsError, match=rf"unknown reset option 'nope'; expected one of {accepted}$"):
        envs.reset(options={"nope": 1})
    envs.reset(seed=0)
    envs.reset(options={"reset_mask": np.array([True, False])})  # the vector env's own option stays allowed
    envs.close()


@pytest.mark.parametrize("env_class", [NEREnv, DialogueBLEUEnv, SentimentEnv])
def test_index_picks_that_example(env_class: type) -> None:
    env = env_class()
    examples = env.corpus.sentences if env_class is NEREnv else env.examples
    for index in (0, 3, len(examples) - 1):
        first, info = env.reset(seed=1, options={"index": index})
        assert info["index"] == index
        again, _ = env.reset(seed=2, options={"index": index})
        assert all((first[key] == again[key]).all() for key in first)  # the index, not the seed, chose it
    assert env.reset(seed=5, options={"index": "seed"})[1]["index"] == 5
    assert env_class is not NEREnv or env.sentence == examples[5]
    assert env_class is not DialogueBLEUEnv or env.example == examples[5]
    with pytest.raises(DialogEnvsError, match="out of range"):
        env.reset(options={"index": len(examples)})
    with pytest.raises(DialogEnvsError, match="'seed'"):
        env.reset(options={"index": "first"})


def test_simuser_index_picks_that_corpus_goal(goal_folder: Path) -> None:
    env = SimUserEnv(data_path=goal_folder, split="validation", max_turns=3)
    for index in (2, 0, 1):
        _, info = env.reset(seed=7, options={"index": index})
        assert info["index"] == index
        assert env.conversation.user.policy.goal.source == env.goal_pool[index].source
    assert env.reset(seed=1, options={"index": "seed"})[1]["index"] == 1
    for seed in range(5):  # without an index the goal is drawn as the simulated user draws from a pool
        assert env.reset(seed=seed)[1]["index"] == np.random.default_rng(seed).integers(len(env.goal_pool))
    with pytest.raises(DialogEnvsError, match="out of range"):
        env.reset(options={"index": 3})
    with pytest.raises(DialogEnvsError, match="corpus goal"):
        SimUserEnv().reset(options={"index": 0})  # sampled goals have no index


# -- reward= and split= ----------------------------------------------------------------------------


def test_every_env_takes_reward() -> None:
    assert NEREnv(reward="dense_f1").reward == "dense_f1"
    bleu = DialogueBLEUEnv(reward="chrf")
    assert isinstance(bleu.reward, TextReward)
    bleu.reset(seed=0)
    _, reward, terminated, _, info = bleu.step(bleu.eos_token_id)
    assert terminated and reward == info["chrf"]
    matrix = [[1, 0, -2], [0, 1, 0], [-2, 0, 1]]
    np.testing.assert_array_equal(SentimentEnv(reward=matrix).reward, matrix)
    np.testing.assert_array_equal(SentimentEnv(reward="accuracy").reward, np.eye(3))
    with pytest.raises(DialogEnvsError, match="unknown reward 'f1'"):
        SentimentEnv(reward="f1")
    assert SimUserEnv(reward="convlab").reward == SatisfactionConfig(reward="convlab")
    config = SatisfactionConfig(s_base=1.0, success_bonus=2.0)
    env = SimUserEnv(reward=config)
    assert env.reward is config
    env.reset(seed=0)
    for action in env.text_to_actions("Hello, how can I help?"):
        _, reward, *_, info = env.step(action)
    assert reward == pytest.approx(info["satisfaction"] - 1.0)
    with pytest.raises(TypeError):
        SimUserEnv(scoring=config)  # one argument for the reward, no second one overriding it


@pytest.mark.parametrize("env_class", ENV_CLASSES)
def test_default_split_is_train(env_class: type) -> None:
    assert inspect.signature(env_class).parameters["split"].default == "train"
    assert env_class().split == "train"


def test_simuser_load_domain_defaults_to_the_train_goal_file(goal_folder: Path) -> None:
    assert load_domain(goal_folder)[1] is None  # no train.json: sampled goals
    assert [goal.source for goal in load_domain(goal_folder, "validation")[1]] == ["val.json:A0", "val.json:B1", "val.json:C2"]


# -- the doc pages' tables -------------------------------------------------------------------------


def table_keys(text: str, heading: str) -> set[str]:
    """The names in the ``key`` column of the table in the section whose ``##`` heading contains
    ``heading`` (Markdown or a Gymnasium-style docstring; names in single or double backticks)."""
    lines = [line.strip() for line in text.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("## ") and heading.lower() in line.lower())
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[start:end] if line.startswith("|")]
    column = rows[0].index("key")
    return {name for row in rows[2:] for name in re.findall(r"`+([A-Za-z_]\w*)`+", row[column])}


def play(env: gym.Env, actions: Any, seed: int = 0) -> tuple[set[str], set[str]]:
    """Observation keys and info keys of one episode played with ``actions(env, info)`` (a list)."""
    obs, info = env.reset(seed=seed)
    observation_keys, info_keys = set(obs), set(info)
    done = False
    while not done:
        for action in actions(env, info):
            obs, _, terminated, truncated, info = env.step(action)
            observation_keys |= set(obs)
            info_keys |= set(info)
            done = terminated or truncated
            if done:
                break
    return observation_keys, info_keys


def reference_agent_actions(agent: ReferenceAgent) -> Any:
    return lambda env, info: env.text_to_actions(agent.reply(info["user_text"]))


def episodes(page: str, goal_folder: Path) -> list[tuple[set[str], set[str]]]:
    """Observation and info keys of episodes that together reach every documented case."""
    if page == "ner.md":
        return [play(NEREnv(), lambda env, info: [0])]
    if page == "dialogue_bleu.md":
        return [play(DialogueBLEUEnv(), lambda env, info: [env.eos_token_id])]
    if page == "sentiment.md":
        explain = SentimentEnv(explain=True, max_rationale_tokens=4)
        return [play(SentimentEnv(), lambda env, info: [0]), play(explain, lambda env, info: env.text_to_actions("up positive"))]
    sampled, corpus = SimUserEnv(max_turns=3), SimUserEnv(data_path=goal_folder, split="validation", max_turns=3)
    return [play(env, reference_agent_actions(ReferenceAgent(env.schema))) for env in (sampled, corpus)]


@pytest.mark.parametrize(
    ("page", "env_class"),
    [("ner.md", NEREnv), ("dialogue_bleu.md", DialogueBLEUEnv), ("sentiment.md", SentimentEnv), ("simuser.md", SimUserEnv)],
)
def test_doc_tables_list_exactly_the_keys_the_env_returns(page: str, env_class: type, goal_folder: Path) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    played = episodes(page, goal_folder)
    observation_keys = set().union(*(obs for obs, _ in played))
    info_keys = set().union(*(info for _, info in played))
    assert table_keys(text, "Observation") == observation_keys
    assert table_keys(inspect.getdoc(env_class), "Observation") == observation_keys
    assert table_keys(text, "info") == info_keys
