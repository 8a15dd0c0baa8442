"""dialog_envs/DialogueBLEU-v0: spaces, rewards, episode ends, data options, speed properties."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import sacrebleu
from gymnasium.utils.env_checker import check_env
from transformers import PreTrainedTokenizerFast

import dialog_envs  # noqa: F401  (registers the ids)
from dialog_envs.envs.dialogue_bleu import DialogueBLEUEnv
from dialog_envs.errors import DialogEnvsError
from dialog_envs.wrappers import TextView

ENV_ID = "dialog_envs/DialogueBLEU-v0"
REWARDS = ["bleu", "log_bleu", "chrf", {"bleu": 0.7, "chrf": 0.3}]
DAILYDIALOG = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "dailydialog"


@pytest.mark.parametrize("render_mode", [None, "ansi"])
@pytest.mark.parametrize("reward", REWARDS, ids=str)
def test_check_env_every_reward_and_render_mode(reward, render_mode):
    env = gym.make(ENV_ID, reward=reward, render_mode=render_mode)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker's warnings fail the test
        check_env(env.unwrapped)
    env.close()


def test_spaces_and_defaults():
    env = gym.make(ENV_ID).unwrapped
    assert env.vocab_size == len(env.tokenizer) == 2000
    assert env.action_space == gym.spaces.Discrete(2000)
    assert set(env.observation_space.spaces) == {"input_ids", "attention_mask"}
    for box in env.observation_space.spaces.values():
        assert box.shape == (96 + 32,) and box.dtype == np.int64
    assert env.eos_token_id == env.tokenizer.eos_token_id
    # Every generated reference fits the reply budget (so a perfect reply is always possible).
    assert max(len(env.tokenizer.encode(e.reference)) for e in env.examples) < env.max_new_tokens


@pytest.mark.parametrize("reward", REWARDS, ids=str)
def test_typing_the_reference_scores_100(reward):
    env = gym.make(ENV_ID, reward=reward, s_base=1.5).unwrapped
    env.reset(seed=3)
    for index in np.random.default_rng(0).integers(len(env.examples), size=30):
        env.reset(options={"index": int(index)})
        actions = env.text_to_actions(env.example.reference)
        assert actions[-1] == env.eos_token_id
        for step, action in enumerate(actions):
            obs, reward_value, terminated, truncated, info = env.step(action)
            assert terminated == (step == len(actions) - 1) and not truncated
        assert info["response"] == info["reference"] == env.example.reference
        assert info["bleu"] == pytest.approx(100) and info["chrf"] == pytest.approx(100)
        assert info["log_bleu"] == pytest.approx(math.log(100))
        assert info["ended_by"] == "eos" and info["reply_tokens"] == len(actions) - 1
        expected = {"bleu": 100.0, "chrf": 100.0, "log_bleu": math.log(100)}
        score = expected[reward] if isinstance(reward, str) else 0.7 * 100 + 0.3 * 100
        assert info["score"] == pytest.approx(score)
        assert reward_value == pytest.approx(score - 1.5)


def test_empty_reply_gives_zero_bleu_and_the_log_bleu_floor():
    for reward, expected in (("bleu", 0.0), ("chrf", 0.0), ("log_bleu", math.log(0.1))):
        env = gym.make(ENV_ID, reward=reward).unwrapped
        env.reset(seed=0)
        _, reward_value, terminated, truncated, info = env.step(env.eos_token_id)
        assert terminated and not truncated
        assert info["response"] == "" and info["reply_tokens"] == 0
        assert info["bleu"] == 0.0 and info["chrf"] == 0.0 and info["log_bleu"] == pytest.approx(-2.302585093)
        assert reward_value == expected
    env = gym.make(ENV_ID, reward="log_bleu", bleu_floor=1.0, s_base=-2.0).unwrapped
    env.reset(seed=0)
    assert env.step(env.eos_token_id)[1] == 0.0 + 2.0


def test_reward_equals_sacrebleu_of_the_decoded_reply():
    env = gym.make(ENV_ID, reward={"bleu": 0.25, "chrf": 0.5, "log_bleu": 0.25}, s_base=3.0).unwrapped
    rng = np.random.default_rng(1)
    env.reset(seed=1)
    for _ in range(50):
        env.reset()
        # Half the reference, then a few random words: partial matches.
        words = env.example.reference.split()
        text = " ".join(words[: len(words) // 2] + list(rng.choice(["order", "store", "the", "refund"], size=2)))
        for action in env.text_to_actions(text):
            _, reward_value, terminated, _, info = env.step(action)
        bleu = sacrebleu.sentence_bleu(info["response"], [info["reference"]]).score
        chrf = sacrebleu.sentence_chrf(info["response"], [info["reference"]]).score
        assert info["response"] == text
        assert (info["bleu"], info["chrf"]) == (bleu, chrf)
        expected = 0.25 * bleu + 0.5 * chrf + 0.25 * math.log(max(bleu, 0.1)) - 3.0
        assert reward_value == pytest.approx(expected, rel=1e-12)


def test_observation_is_left_padded_and_append_only():
    env = gym.make(ENV_ID, max_new_tokens=6).unwrapped
    obs, info = env.reset(seed=5)
    n = info["context_tokens"]
    assert not info["context_truncated"]
    ids, mask = obs["input_ids"], obs["attention_mask"]
    assert mask.tolist() == [0] * (len(mask) - n) + [1] * n
    assert (ids[mask == 0] == env.tokenizer.pad_token_id).all()
    assert ids[-1] == env.tokenizer.bos_token_id
    context = env.tokenizer.decode(ids[-n:].tolist())
    assert context == "[SEP]".join(env.example.context) + "[BOS]"
    rewards = []
    for action in [11, 500, 7, 1999, 12, 13]:
        new, reward_value, terminated, truncated, info = env.step(action)
        rewards.append(reward_value)
        assert (new["input_ids"][:-1] == obs["input_ids"][1:]).all() and new["input_ids"][-1] == action
        assert (new["attention_mask"][:-1] == obs["attention_mask"][1:]).all() and new["attention_mask"][-1] == 1
        obs = new
    # No EOS: the reply ends at max_new_tokens, as a terminal state (reward paid, nothing follows).
    assert terminated and not truncated and info["ended_by"] == "max_new_tokens" and info["reply_tokens"] == 6
    assert rewards[:-1] == [0.0] * 5
    with pytest.raises(DialogEnvsError, match="reset"):
        env.step(11)


def test_long_context_keeps_the_most_recent_tokens():
    env = gym.make(ENV_ID, max_context_tokens=8, max_new_tokens=4, render_mode="ansi").unwrapped
    obs, info = env.reset(seed=0)
    assert info["context_truncated"] and info["context_tokens"] == 8
    full = env.data.context_ids[info["index"]]
    assert len(full) > 8
    assert obs["input_ids"][-8:].tolist() == full[-8:].tolist()  # the newest tokens, BOS last
    assert obs["attention_mask"].tolist() == [0] * 4 + [1] * 8
    # The text view shows the visible part; a turn whose start is cut off begins with "…".
    partial = 0
    for seed in range(20):
        env.reset(seed=seed)
        lines = env.observation_text().splitlines()
        assert lines[-1] == "you> "
        visible = [line.split(": ", 1)[1] for line in lines[:-1]]
        partial += visible[0].startswith("…")
        assert not any(text.startswith("…") for text in visible[1:])
        for text, turn in zip(visible, env.example.context[-len(visible):]):
            assert text.lstrip("…") and turn.endswith(text.lstrip("…"))
            assert text.startswith("…") or text == turn
    assert partial > 5
    obs, info = env.reset(seed=0)
    for action in [20, 21, 22, 23]:
        obs, *_ = env.step(action)
    assert obs["attention_mask"].all()
    assert obs["input_ids"].tolist() == full[-8:].tolist() + [20, 21, 22, 23]


def test_text_helpers_and_render():
    env = gym.make(ENV_ID, render_mode="ansi").unwrapped
    env.reset(seed=2)
    context = env.example.context
    lines = env.observation_text().splitlines()
    assert lines[:-1] == [f"{'them' if (len(context) - i) % 2 else 'you'}: {turn}" for i, turn in enumerate(context)]
    assert lines[-1] == "you> "
    for action in env.text_to_actions("Thank you.")[:-1]:
        env.step(action)
    assert env.observation_text().endswith("you> Thank you.")
    assert "reference" not in env.render()
    env.step(env.eos_token_id)
    rendered = env.render()
    assert f"reference: {env.example.reference}" in rendered and "bleu=" in rendered and "chrf=" in rendered
    assert env.text_to_actions("") == [env.eos_token_id]
    with pytest.raises(ValueError, match="max_new_tokens=32"):
        env.text_to_actions("word " * 40)


@pytest.mark.parametrize("vector", [False, True])
def test_a_given_context_is_observed_as_the_same_context_of_the_data(vector):
    """``options={"context": turns}`` gives the observation of the data example with those turns
    (truncation and all); the reply ends and is scored (against no reference) as any other."""
    env = gym.make(ENV_ID, max_context_tokens=24, max_new_tokens=6, context_turns=2, render_mode="ansi").unwrapped
    batch = gym.make_vec(ENV_ID, num_envs=2, max_context_tokens=24, max_new_tokens=6, context_turns=2) if vector else None
    truncated = full = 0
    for index in range(0, 60, 7):
        example = env.examples[index]
        from_data, data_info = env.reset(options={"index": index})
        # a full context (context_turns of them) drops an older turn, as the data's do
        longer = ["an older turn that context_turns drops", *example.context] if len(example.context) == 2 else list(example.context)
        if batch is None:
            given, info = env.reset(options={"context": longer})
        else:
            observations, infos = batch.reset(options={"context": longer})
            given = {key: value[1] for key, value in observations.items()}
            info = {"context_truncated": infos["context_truncated"][1]}
        assert all(np.array_equal(given[key], from_data[key]) for key in from_data)
        assert info["context_truncated"] == data_info["context_truncated"] and "index" not in info
        truncated += info["context_truncated"]
        full += len(example.context) == 2
    assert truncated and full  # the window cut some of them, context_turns others
    env.reset(options={"context": ["hello", "hi, how can I help?"]})
    assert env.example is None and env.observation_text().splitlines() == ["you: hello", "them: hi, how can I help?", "you> "]
    assert env.expert_action() == env.eos_token_id  # no reference to imitate
    for action in env.text_to_actions("fine"):
        _, reward, terminated, _, info = env.step(action)
    assert terminated and info["response"] == "fine" and info["reference"] == "" and reward == 0.0
    for bad in ([], "hello", [1, 2]):
        with pytest.raises(DialogEnvsError, match="expected a non-empty list of turns"):
            env.reset(options={"context": bad})
    with pytest.raises(DialogEnvsError, match="exclude each other"):
        env.reset(options={"context": ["hi"], "index": 0})


def test_text_view_takes_a_whole_reply():
    env = TextView(gym.make(ENV_ID, reward="chrf"))
    text, _ = env.reset(seed=4)
    assert env.observation_space.contains(text) and text.endswith("you> ")
    reference = env.unwrapped.example.reference
    text, reward_value, terminated, truncated, info = env.step(reference)
    assert terminated and not truncated and reward_value == pytest.approx(100)
    assert text.endswith(f"you> {reference}") and info["response"] == reference


def test_seeding_same_seed_same_example():
    env = gym.make(ENV_ID).unwrapped
    first = [env.reset(seed=s)[1]["index"] for s in range(20)]
    again = [env.reset(seed=s)[1]["index"] for s in range(20)]
    assert first == again and len(set(first)) > 15


def test_bad_arguments():
    with pytest.raises(DialogEnvsError, match="unknown reward metric"):
        DialogueBLEUEnv(reward="rouge")
    with pytest.raises(DialogEnvsError, match="unknown split"):
        DialogueBLEUEnv(split="dev")
    with pytest.raises(DialogEnvsError, match="render_mode"):
        DialogueBLEUEnv(render_mode="human")
    with pytest.raises(DialogEnvsError, match="max_new_tokens"):
        DialogueBLEUEnv(max_new_tokens=0)
    with pytest.raises(DialogEnvsError, match="does not exist"):
        DialogueBLEUEnv(data_path="/nonexistent/dialogues")
    env = DialogueBLEUEnv()
    with pytest.raises(DialogEnvsError, match="reset"):
        env.step(0)
    with pytest.raises(DialogEnvsError, match="out of range"):
        env.reset(options={"index": len(env.examples)})
    env.reset(seed=0)
    with pytest.raises(DialogEnvsError, match="not a token id"):
        env.step(env.vocab_size)


def test_jsonl_folder_and_shared_encoding(tmp_path):
    rng = np.random.default_rng(0)
    words = ["hello", "order", "late", "refund", "thanks", "store", "open", "closed", "today"]
    for split, n in (("train", 40), ("test", 5)):
        with open(tmp_path / f"{split}.jsonl", "w") as handle:
            for i in range(n):
                turns = [" ".join(rng.choice(words, size=4)) for _ in range(3)]
                handle.write(json.dumps({"turns": turns, "id": f"{split}{i}"}) + "\n")
    env = DialogueBLEUEnv(data_path=tmp_path, split="test", tokenizer_vocab_size=300)
    assert len(env.examples) == 10 and env.examples[0].metadata["id"] == "test0"
    assert env.vocab_size <= 300
    twin = DialogueBLEUEnv(data_path=tmp_path, split="test", tokenizer_vocab_size=300)
    assert twin.tokenizer is env.tokenizer and twin.data is env.data  # encoded once, shared
    other = DialogueBLEUEnv(data_path=tmp_path, split="test", tokenizer_vocab_size=300, context_turns=1)
    assert other.data is not env.data and all(len(e.context) == 1 for e in other.examples)
    # A single file holds every split and is cut by the split rule; to read one file as one split,
    # map the split to it.
    one_file = DialogueBLEUEnv(data_path={"train": tmp_path / "test.jsonl"}, tokenizer_vocab_size=300)
    assert [e.reference for e in one_file.examples] == [e.reference for e in env.examples]


def test_step_does_not_tokenize():
    env = DialogueBLEUEnv()
    env.reset(seed=0)
    actions = env.text_to_actions(env.example.reference)

    class DecodeOnly:
        """Forwards decode() and the special-token ids; anything that encodes fails the test."""

        def __init__(self, inner):
            self.inner = inner

        def decode(self, *args, **kwargs):
            return self.inner.decode(*args, **kwargs)

    env.tokenizer = DecodeOnly(env.tokenizer)
    for _ in range(3):
        env.reset()
        for action in actions:
            env.step(action)
    env.reset(options={"index": 0})


def test_tokenizer_without_sep_or_bos_uses_newline_and_eos(tmp_path):
    base = DialogueBLEUEnv().tokenizer
    bare = PreTrainedTokenizerFast(tokenizer_object=base.backend_tokenizer, eos_token="[EOS]", pad_token="[PAD]")
    assert bare.sep_token_id is None and bare.bos_token_id is None
    env = DialogueBLEUEnv(tokenizer=bare)
    obs, info = env.reset(seed=0)
    n = info["context_tokens"]
    assert obs["input_ids"][-1] == bare.eos_token_id
    assert bare.decode(obs["input_ids"][-n:-1].tolist()) == "\n".join(env.example.context)
    assert env.observation_text().splitlines()[:-1][-1].endswith(env.example.context[-1])
    for action in env.text_to_actions(env.example.reference):
        *_, info = env.step(action)
    assert info["bleu"] == pytest.approx(100)


@pytest.mark.skipif(not DAILYDIALOG.is_dir(), reason="../shared/data/dailydialog is absent")
def test_dailydialog_validation_file():
    path = DAILYDIALOG / "validation" / "dialogues_validation.txt"
    env = DialogueBLEUEnv(data_path={"train": path}, max_new_tokens=64, render_mode="ansi")
    assert len(env.examples) == 8069 - 1000
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert env.example.metadata["act"] in (1, 2, 3, 4)
    for action in env.text_to_actions(env.example.reference):
        *_, info = env.step(action)
    assert info["bleu"] == pytest.approx(100) and info["chrf"] == pytest.approx(100)


def run_random_episodes(episodes: int, seed: int) -> tuple[list, int]:
    env = DialogueBLEUEnv(max_new_tokens=3, max_context_tokens=24, reward={"bleu": 0.5, "chrf": 0.3, "log_bleu": 0.2})
    space = env.observation_space
    rng = np.random.default_rng(seed)
    trajectory: list = []
    steps = 0
    obs, _ = env.reset(seed=seed)
    for _ in range(episodes):
        obs, info = env.reset()
        assert space.contains(obs)
        trajectory.append(info["index"])
        done = False
        while not done:
            action = env.eos_token_id if rng.random() < 0.2 else int(rng.integers(env.vocab_size))
            obs, reward_value, terminated, truncated, info = env.step(action)
            assert space.contains(obs)
            steps += 1
            done = terminated or truncated
        trajectory.append((obs["input_ids"].tobytes(), reward_value, info["ended_by"]))
    return trajectory, steps


def test_ten_thousand_random_episodes_stay_in_the_space_and_repeat_with_the_seed():
    first, steps = run_random_episodes(10_000, seed=7)
    assert steps > 20_000
    ends = {item[2] for item in first if isinstance(item, tuple)}
    assert ends == {"eos", "max_new_tokens"}
    second, _ = run_random_episodes(10_000, seed=7)
    assert first == second
    other, _ = run_random_episodes(200, seed=8)
    assert other != first[: len(other)]
