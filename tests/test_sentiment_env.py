"""Sentiment-v0: Gymnasium's checker in every mode, fuzzing, seeding, rewards, text interface."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import dialog_envs  # noqa: F401  (registers the ids)
from dialog_envs.data.generated_sentiment import generate_sentiment_corpus
from dialog_envs.envs.sentiment import SentimentEnv
from dialog_envs.errors import DataFormatError, DialogEnvsError
from tests.conftest import shared_data

ENV_ID = "dialog_envs/Sentiment-v0"


@pytest.fixture
def labelled_file(tmp_path: Path) -> Path:
    lines = [f"{e.text}@{e.label}" for e in generate_sentiment_corpus("validation")]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


MODES = {
    "default": {},
    "explain": {"explain": True, "max_rationale_tokens": 5},
    "cost matrix": {"reward": [[1, 0, -2], [0, 1, 0], [-2, 0, 1]]},
    "short": {"max_length": 8},
}


@pytest.mark.parametrize("kwargs", MODES.values(), ids=MODES.keys())
def test_check_env_every_mode(kwargs):
    env = gym.make(ENV_ID, render_mode="ansi", **kwargs)
    check_env(env.unwrapped, skip_render_check=False)
    env.close()


def test_check_env_on_a_file(labelled_file):
    check_env(SentimentEnv(labelled_file, "test", render_mode="ansi"))


@pytest.mark.parametrize("kwargs", [MODES["default"], MODES["explain"]], ids=["default", "explain"])
def test_random_action_fuzzing(kwargs):
    """10,000 episodes of random actions (in explain mode, half of them labels): every observation
    lies in the space, rewards are 0/1 and episodes end as documented."""
    env = SentimentEnv(**kwargs)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    n, offset = env.action_space.n, env.vocab_size if env.explain else 0
    for _ in range(10_000):
        observation, info = env.reset()
        assert env.observation_space.contains(observation)
        steps, terminated = 0, False
        while not terminated:
            if env.explain and rng.random() < 0.7:
                action = int(rng.integers(offset))
            else:
                action = int(rng.integers(offset, n))
            observation, reward, terminated, truncated, info = env.step(action)
            steps += 1
            assert env.observation_space.contains(observation)
            assert not truncated and reward in (0.0, 1.0)
        assert steps <= (env.max_rationale_tokens + 1 if env.explain else 1)
        assert info["correct"] == (reward == 1.0) == (info["label"] == info["predicted_label"])


def test_same_seed_same_trajectory():
    def trajectory(seed: int) -> list:
        env = gym.make(ENV_ID, explain=True, max_rationale_tokens=3)
        env.action_space.seed(seed)
        out = []
        observation, _ = env.reset(seed=seed)
        for _ in range(30):
            action = env.action_space.sample()
            observation, reward, terminated, _, info = env.step(action)
            out.append((action, reward, observation["input_ids"].tolist(), observation["rationale_ids"].tolist()))
            if terminated:
                observation, _ = env.reset()
        return out

    assert trajectory(3) == trajectory(3)
    assert trajectory(3) != trajectory(4)


def test_observation_layout_and_rewards():
    env = SentimentEnv(max_length=64)
    observation, info = env.reset(seed=1)
    ids, mask = observation["input_ids"], observation["attention_mask"]
    length = int(mask.sum())
    assert mask[:length].all() and not mask[length:].any()  # right-padded
    assert (ids[length:] == env.pad_id).all()
    assert ids[0] == env.tokenizer.cls_token_id and ids[length - 1] == env.tokenizer.sep_token_id
    text = env.examples[info["index"]].text
    assert length == len(text.split()) + 2  # word tokenizer: one id per word, plus [CLS] and [SEP]
    truth = env.labels.index(env.examples[info["index"]].label)
    _, reward, terminated, truncated, info = env.step(truth)
    assert (reward, terminated, truncated, info["correct"], info["predicted_index"]) == (1.0, True, False, True, truth)
    env.reset(options={"index": info["index"]})
    _, reward, _, _, info = env.step((truth + 1) % 3)
    assert reward == 0.0 and not info["correct"] and info["label_index"] == truth


def test_reward_matrix_rows_are_truth_columns_predictions():
    matrix = np.arange(9, dtype=float).reshape(3, 3)
    env = SentimentEnv(reward=matrix)
    for index in range(20):
        _, info = env.reset(options={"index": index})
        truth = env.labels.index(env.examples[index].label)
        for predicted in range(3):
            env.reset(options={"index": index})
            assert env.step(predicted)[1] == matrix[truth, predicted]


def test_truncation_to_max_length():
    env = SentimentEnv(max_length=6)
    lengths = []
    for index in range(50):
        observation, _ = env.reset(options={"index": index})
        lengths.append(int(observation["attention_mask"].sum()))
        assert observation["input_ids"][lengths[-1] - 1] == env.tokenizer.sep_token_id
    assert lengths == [6] * 50  # every generated text has more than four words
    assert len(env.examples[0].text.split()) > 4


def test_explain_mode_rationale_is_left_padded_and_append_only():
    env = SentimentEnv(explain=True, max_rationale_tokens=4)
    observation, _ = env.reset(seed=0)
    text_ids = observation["input_ids"].copy()
    assert not observation["rationale_mask"].any()
    actions = env.text_to_actions("profit rose")
    assert len(actions) == 2 and all(a < env.vocab_size for a in actions)
    history = []
    for action in actions:
        observation, reward, terminated, _, _ = env.step(action)
        history.append(action)
        assert reward == 0.0 and not terminated
        assert observation["rationale_ids"][-len(history):].tolist() == history  # newest last
        assert observation["rationale_mask"].tolist() == [0] * (4 - len(history)) + [1] * len(history)
        assert (observation["input_ids"] == text_ids).all()
    assert "rationale: profit rose" in env.observation_text()
    label_action = env.text_to_actions("Negative")
    assert label_action == [env.vocab_size + 0]
    _, _, terminated, _, info = env.step(label_action[0])
    assert terminated and info["predicted_label"] == "negative" and info["rationale"] == "profit rose"


def test_explain_mode_overflow_ends_without_a_label():
    env = SentimentEnv(explain=True, max_rationale_tokens=2, reward=[[1, 0, -2], [0, 1, 0], [-2, 0, 1]])
    env.reset(seed=0)
    token = env.tokenizer.convert_tokens_to_ids("profit")
    assert env.step(token)[2] is False and env.step(token)[2] is False
    _, reward, terminated, _, info = env.step(token)
    assert terminated and reward == -2.0
    assert info["predicted_label"] == "" and info["predicted_index"] == -1 and info["correct"] is False
    assert "predicted: (none)" in env.observation_text()


def test_text_to_actions_and_observation_text():
    env = SentimentEnv(render_mode="ansi")
    assert env.text_to_actions("positive") == [2] and env.text_to_actions(" NEUTRAL ") == [1]
    assert env.text_to_actions("0") == [0]
    for bad in ("", "great", "3", "very positive"):
        with pytest.raises(ValueError, match="negative"):
            env.text_to_actions(bad)
    assert "no episode" in env.observation_text()
    _, info = env.reset(seed=5)
    shown = env.render()
    assert shown == env.observation_text() and "labels: 0=negative, 1=neutral, 2=positive" in shown
    first_word = env.examples[info["index"]].text.split()[0]
    assert shown.startswith(f"text: {first_word}") and "[CLS]" not in shown and "[PAD]" not in shown
    env.step(env.text_to_actions(env.examples[info["index"]].label)[0])
    assert env.render().endswith("| correct")
    explain = SentimentEnv(explain=True, max_rationale_tokens=2)
    explain.reset(seed=0)
    assert explain.text_to_actions("3") == explain.tokenizer("3", add_special_tokens=False)["input_ids"]
    with pytest.raises(ValueError, match="only 2 fit"):
        explain.text_to_actions("profit rose sharply positive")


def test_labels_from_data_files_folders_and_override(tmp_path, labelled_file):
    env = SentimentEnv(labelled_file, "train")
    assert env.labels == ("negative", "neutral", "positive")
    parts = [SentimentEnv(labelled_file, split).examples for split in ("train", "validation", "test")]
    assert sum(map(len, parts)) == 300
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "train.jsonl").write_text('{"text": "up", "label": "good"}\n{"text": "down", "label": "bad"}\n')
    (folder / "test.jsonl").write_text('{"text": "flat", "label": "meh"}\n')
    test_env = SentimentEnv(folder, "test")
    assert test_env.labels == ("bad", "good", "meh") and test_env.action_space.n == 3  # union of splits
    reordered = SentimentEnv(folder, "train", labels=["good", "bad", "meh"])
    _, info = reordered.reset(options={"index": 0})
    assert reordered.step(0)[4]["correct"]  # action 0 is "good" now
    with pytest.raises(DialogEnvsError, match="not in labels"):
        SentimentEnv(folder, "train", labels=["good", "meh"])


def test_bad_arguments():
    with pytest.raises(DialogEnvsError, match="3 x 3"):
        SentimentEnv(reward=[[1, 0], [0, 1]])
    with pytest.raises(DialogEnvsError, match="3 x 3"):
        SentimentEnv(reward=[[1, 0, float("nan")], [0, 1, 0], [0, 0, 1]])
    with pytest.raises(DialogEnvsError, match="unknown split"):
        SentimentEnv(split="dev")
    with pytest.raises(DialogEnvsError, match="render_mode"):
        SentimentEnv(render_mode="human")
    with pytest.raises(DialogEnvsError, match="two distinct"):
        SentimentEnv(labels=["positive", "positive"])
    env = SentimentEnv()
    with pytest.raises(DialogEnvsError, match="call reset"):
        env.step(0)
    env.reset(seed=0)
    for bad in (3, -1, 1.0, True, np.array([1])):
        with pytest.raises(DialogEnvsError, match="invalid"):
            env.step(bad)
    assert env.step(np.int64(1))[2]
    with pytest.raises(DialogEnvsError, match="call reset"):
        env.step(1)
    with pytest.raises(DialogEnvsError, match="index"):
        env.reset(options={"index": len(env.examples)})


def test_bad_data_file_raises_data_format_error(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("fine@positive\nbroken line\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"bad.txt:2"):
        SentimentEnv(path)


def test_phrasebank_env():
    path = shared_data("financial_phrasebank") / "Sentences_AllAgree.txt"
    train, test = SentimentEnv(path, "train"), SentimentEnv(path, "test", render_mode="ansi")
    assert train.labels == test.labels == ("negative", "neutral", "positive")
    assert len(train.examples) + len(test.examples) + len(SentimentEnv(path, "validation").examples) == 2264
    assert test.vocab_size == train.vocab_size  # the test env's tokenizer is trained on train
    check_env(test)


@pytest.mark.parametrize("kwargs", [MODES["default"], MODES["explain"]], ids=["default", "explain"])
def test_stable_baselines3_env_checker(kwargs):
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    sb3_checker.check_env(SentimentEnv(**kwargs), warn=False)
