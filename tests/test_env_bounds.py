"""Sizes are bounded and checked at construction, NER never cuts a sentence, bad arguments and
actions are one DialogEnvsError naming them."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import dialog_envs
from dialog_envs.data.conll import read_conll
from dialog_envs.envs.batched import MAX_SIZE
from dialog_envs.envs.ner import NEREnv
from dialog_envs.errors import DialogEnvsError

SIZE_ARGUMENTS = [
    ("dialog_envs/NER-v0", "max_length"),
    ("dialog_envs/Sentiment-v0", "max_length"),
    ("dialog_envs/Sentiment-v0", "max_rationale_tokens"),
    ("dialog_envs/SimUser-v0", "max_length"),
    ("dialog_envs/DialogueBLEU-v0", "max_new_tokens"),
    ("dialog_envs/DialogueBLEU-v0", "max_context_tokens"),
]


@pytest.mark.parametrize(("env_id", "name"), SIZE_ARGUMENTS)
@pytest.mark.parametrize("value", [-1, 0, MAX_SIZE + 1, 10**9])
def test_sizes_out_of_bounds_are_refused_at_construction(env_id: str, name: str, value: int) -> None:
    with pytest.raises(DialogEnvsError, match=f"{name} is {value}; expected an integer from 1 to {MAX_SIZE}"):
        gym.make(env_id, **{name: value})


def test_ner_refuses_a_sentence_longer_than_max_length_in_tokens(tmp_path: Path) -> None:
    path = tmp_path / "train.txt"
    path.write_text("".join(f"w{i} {'B-PER' if i == 6 else 'O'}\n" for i in range(7)))
    # 7 words are 9 tokens with [CLS] and [SEP]: max_length=8 would cut the last word, an entity
    with pytest.raises(DialogEnvsError, match="9 tokens long with this tokenizer, more than max_length=8.*max_length >= 9"):
        NEREnv(data_path=path, max_length=8)
    env = NEREnv(data_path=path, max_length=9)
    obs, _ = env.reset(seed=0)
    assert obs["attention_mask"].sum() == 9
    for word in range(7):
        assert obs["token_index"][0] < 8  # every word's token is inside the sentence, before [SEP]
        obs, *_ = env.step(0)


def test_unknown_scheme_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "train.txt"
    path.write_text("EU B-ORG\n")
    with pytest.raises(DialogEnvsError, match="scheme is 'bogus'; expected one of auto, IOB1, IOB2, BIOES"):
        read_conll(path, scheme="bogus")  # type: ignore[arg-type]
    with pytest.raises(DialogEnvsError, match="unknown scheme 'bogus'"):
        NEREnv(scheme="bogus")  # type: ignore[arg-type]


@pytest.mark.parametrize("env_id", dialog_envs.env_ids())
def test_huge_actions_are_one_error(env_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=0)
    with pytest.raises(DialogEnvsError, match=f"action {2**70} is invalid"):
        env.step(2**70)
    vector = gym.make_vec(env_id, num_envs=2)
    vector.reset(seed=0)
    with pytest.raises(DialogEnvsError, match="is invalid"):
        vector.step(np.array([2**70, 0], dtype=object))
    with pytest.raises(DialogEnvsError, match="options 'x' are not a dict"):
        env.reset(options="x")


def test_sentiment_action_error_says_it_once() -> None:
    env = gym.make("dialog_envs/Sentiment-v0")
    env.reset(seed=0)
    for action in ("x", 1.5, np.float32(2.5), 7):
        with pytest.raises(DialogEnvsError) as caught:
            env.step(action)
        message = str(caught.value)
        assert message.count("invalid") == 1 and message.count("expected") == 1 and "np." not in message
