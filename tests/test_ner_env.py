"""NER-v0: rewards, masks, info, tokenizers, data paths and bad arguments."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import dialog_envs  # noqa: F401
from dialog_envs.envs.ner import WORD_SHAPES, NEREnv, transition_mask, word_shape
from dialog_envs.errors import DialogEnvsError
from dialog_envs.metrics.ner import sentence_entity_f1
from dialog_envs.tokenization import train_tokenizer
from tests.conftest import shared_data


def play_episode(env: NEREnv, policy) -> tuple[list[float], dict]:
    """Step through one episode choosing ``policy(env)``; returns the rewards and the last info."""
    rewards, done, info = [], False, {}
    while not done:
        _, reward, done, _, info = env.step(policy(env))
        rewards.append(reward)
    return rewards, info


def gold_action(env: NEREnv) -> int:
    return env.tags.index(env.sentence.tags[len(env._predicted)])


@pytest.mark.parametrize("reward", ["token", "dense_f1", "sparse_f1"])
def test_check_env_in_every_reward_mode(reward: str) -> None:
    check_env(gym.make("dialog_envs/NER-v0", reward=reward, render_mode="ansi").unwrapped, skip_render_check=False)


def test_gold_tags_earn_full_rewards() -> None:
    for reward, total in [("token", None), ("dense_f1", 1.0), ("sparse_f1", 1.0)]:
        env = NEREnv(reward=reward)
        for seed in range(20):
            env.reset(seed=seed)
            rewards, info = play_episode(env, gold_action)
            expected = len(env.sentence.words) if total is None else total
            assert sum(rewards) == pytest.approx(expected)
            assert info["entity_f1"] == 1.0 and info["token_accuracy"] == 1.0
            assert info["predicted_tags"] == info["gold_tags"] == list(env.sentence.tags)


def test_dense_f1_rewards_add_up_to_the_sentence_f1() -> None:
    env = NEREnv(reward="dense_f1")
    rng = np.random.default_rng(0)
    for seed in range(50):
        env.reset(seed=seed)
        rewards, info = play_episode(env, lambda e: int(rng.integers(len(e.tags))))
        assert sum(rewards) == pytest.approx(info["entity_f1"])
        assert info["entity_f1"] == sentence_entity_f1(info["gold_tags"], info["predicted_tags"])


def test_sparse_f1_pays_only_at_the_end() -> None:
    env = NEREnv(reward="sparse_f1")
    env.reset(seed=3)
    rewards, info = play_episode(env, lambda e: 0)
    assert all(r == 0 for r in rewards[:-1]) and rewards[-1] == info["entity_f1"]


def test_observation_tracks_word_and_previous_tags() -> None:
    env = NEREnv()
    obs, _ = env.reset(seed=1)
    n_tags = len(env.tags)
    assert obs["word_index"][0] == 0 and (obs["previous_tags"] == n_tags).all()
    length = int(obs["attention_mask"].sum())
    assert length == len(env.sentence.words) + 2  # word-level tokenizer plus [CLS] and [SEP]
    assert (obs["input_ids"][length:] == 0).all()
    assert obs["token_index"][0] == 1
    obs, *_ = env.step(2)
    assert obs["word_index"][0] == 1 and obs["token_index"][0] == 2
    assert obs["previous_tags"][0] == 2 and (obs["previous_tags"][1:] == n_tags).all()


def test_word_shape_observes_each_tokens_capitalisation(tmp_path: Path) -> None:
    data = tmp_path / "tiny.txt"
    data.write_text("EU NNP B-ORG\nrejects VBZ O\nGerman JJ B-MISC\ncall NN O\nin IN O\n1996 CD O\n. . O\n")
    env = NEREnv(data_path={"train": data, "validation": data, "test": data})
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    shapes = [WORD_SHAPES[i] for i in obs["word_shape"][:9]]
    assert shapes == ["none", "UPPER", "lower", "Capitalised", "lower", "lower", "number", "other", "none"]
    assert (obs["word_shape"][9:] == 0).all()
    assert [WORD_SHAPES[word_shape(w)] for w in ("McDonald", "A", "U.S.", "3-D")] == ["Capitalised", "Capitalised", "UPPER", "Capitalised"]


def test_action_mask_forbids_inside_tags_that_continue_nothing() -> None:
    tags = ("O", "B-LOC", "I-LOC", "B-PER", "I-PER")
    mask = transition_mask(tags)
    start = mask[len(tags)]
    assert start.tolist() == [1, 1, 0, 1, 0]
    assert mask[tags.index("B-LOC")].tolist() == [1, 1, 1, 1, 0]
    assert mask[tags.index("I-PER")].tolist() == [1, 1, 0, 1, 1]
    env = NEREnv()
    _, info = env.reset(seed=0)
    assert info["action_mask"].dtype == np.int8
    assert env.action_masks().dtype == bool
    assert not env.action_masks()[env.tags.index("I-PER")]
    env.step(env.tags.index("B-PER"))
    assert env.action_masks()[env.tags.index("I-PER")]
    unmasked = NEREnv(mask_invalid_transitions=False)
    unmasked.reset(seed=0)
    assert unmasked.action_masks().all()


def test_reset_index_walks_the_split_in_order() -> None:
    env = NEREnv(split="test")
    env.reset(options={"index": 5})
    assert env.sentence == env.corpus.sentences[5]
    with pytest.raises(DialogEnvsError, match="out of range"):
        env.reset(options={"index": len(env.corpus.sentences)})


def test_any_hugging_face_tokenizer_by_path(tmp_path: Path) -> None:
    """A subword tokenizer: words map to their first sub-token."""
    texts = ["Shares of Tidewater fell", "Yusuf Berg resigned"] * 5
    tokenizer = train_tokenizer(texts, kind="bpe", vocab_size=300, wrap_with_cls_sep=True)
    tokenizer.save_pretrained(tmp_path)
    env = NEREnv(tokenizer=str(tmp_path), split="validation")
    obs, _ = env.reset(seed=0)
    assert len(env.tokenizer) == len(tokenizer)
    words = env.sentence.words
    firsts = env.corpus.first_token[env._index]
    assert len(firsts) == len(words) and (np.diff(firsts) > 0).all()
    assert env.observation_space.contains(obs)


def test_reads_conll2003_with_train_vocabulary() -> None:
    folder = shared_data("conll2003")
    test_env = gym.make("dialog_envs/NER-v0", data_path=folder, split="test").unwrapped
    train_env = gym.make("dialog_envs/NER-v0", data_path=folder, split="train").unwrapped
    assert len(test_env.corpus.sentences) == 3453
    assert test_env.tokenizer is train_env.tokenizer
    assert test_env.tags == train_env.tags and len(test_env.tags) == 9
    obs, _ = test_env.reset(seed=0)
    assert test_env.observation_space.contains(obs)


def test_bad_arguments_are_clear() -> None:
    with pytest.raises(DialogEnvsError, match="unknown reward 'f1'; expected one of token"):
        NEREnv(reward="f1")
    with pytest.raises(DialogEnvsError, match="unknown split"):
        NEREnv(split="dev")
    with pytest.raises(DialogEnvsError, match="does not exist"):
        NEREnv(data_path="/no/such/folder")
    with pytest.raises(DialogEnvsError, match="more than max_length"):
        NEREnv(max_length=8)


def test_text_for_people() -> None:
    env = NEREnv(render_mode="ansi")
    env.reset(seed=0)
    assert env.text_to_actions("b-per") == [env.tags.index("B-PER")]
    assert env.text_to_actions("0") == [0]
    with pytest.raises(ValueError, match="is not a tag"):
        env.text_to_actions("PERSON")
    assert env.observation_text().startswith(f"[{env.sentence.words[0]}]")
    env.step(0)
    assert env.observation_text().startswith(f"{env.sentence.words[0]}/O [")
    assert "<- tag this word" in env.render()


def test_ten_thousand_random_episodes_stay_in_space() -> None:
    env = NEREnv(reward="dense_f1")
    space = env.observation_space
    rng = np.random.default_rng(0)
    for episode in range(10_000):
        obs, _ = env.reset(seed=episode)
        assert space.contains(obs)
        done = False
        while not done:
            obs, _, done, _, _ = env.step(int(rng.integers(len(env.tags))))
            assert space.contains(obs)
