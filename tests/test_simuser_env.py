"""SimUser-v0 at the token level: spaces, determinism, append-only history, rewards, limits."""

from __future__ import annotations

import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import dialog_envs  # noqa: F401
from dialog_envs.simuser.reference_agent import ReferenceAgent
from dialog_envs.envs.simuser import SimUserEnv
from dialog_envs.errors import DialogEnvsError
from dialog_envs.simuser.conversation import UserReply
from dialog_envs.simuser.domain import bundled_schema
from dialog_envs.simuser.goals import goal_content_key, sample_goal_in_split, split_of
from dialog_envs.simuser.schema import Domain
from dialog_envs.simuser.understanding import Lexicon
from dialog_envs.wrappers import TextView

ID = "dialog_envs/SimUser-v0"


def play_reference(env: SimUserEnv, seed: int) -> tuple[list[float], dict, list[np.ndarray]]:
    """Play one episode with the reference agent; returns the per-step rewards, last info, observations."""
    agent = ReferenceAgent(env.schema)
    obs, info = env.reset(seed=seed)
    observations = [obs]
    rewards = []
    user_text = info["user_text"]
    done = False
    while not done:
        for action in env.text_to_actions(agent.reply(user_text)):
            obs, reward, terminated, truncated, info = env.step(action)
            observations.append(obs)
            rewards.append(reward)
        user_text = info["user_text"]
        done = terminated or truncated
    return rewards, info, observations


def test_check_env_passes() -> None:
    check_env(gym.make(ID).unwrapped)
    check_env(gym.make(ID, render_mode="ansi").unwrapped, skip_render_check=False)


def test_same_seed_same_conversation() -> None:
    first, second = gym.make(ID).unwrapped, gym.make(ID).unwrapped
    rewards_a, info_a, obs_a = play_reference(first, seed=11)
    rewards_b, info_b, obs_b = play_reference(second, seed=11)
    assert rewards_a == rewards_b
    assert first.observation_text() == second.observation_text()
    assert info_a["goal"] == info_b["goal"]
    assert all((a["input_ids"] == b["input_ids"]).all() for a, b in zip(obs_a, obs_b))
    goals = {str(play_reference(first, seed=s)[1]["goal"]) for s in range(6)}
    assert len(goals) > 1  # other seeds, other goals


def test_sampled_goals_of_the_splits_never_coincide() -> None:
    """Same seeds, other split: other goals, each in its own part of the goal space."""
    seen: dict[str, set[str]] = {}
    for split in ("train", "validation", "test"):
        env = SimUserEnv(split=split)
        goals = set()
        for seed in range(40):
            env.reset(seed=seed)
            goal = env.conversation.user.policy.goal
            assert split_of(goal_content_key(goal)) == split
            goals.add(goal_content_key(goal))
        seen[split] = goals
    assert not seen["train"] & seen["validation"] and not seen["validation"] & seen["test"] and not seen["train"] & seen["test"]
    with pytest.raises(DialogEnvsError, match="too small to split"):
        sample_goal_in_split(bundled_schema(), np.random.default_rng(0), "test", max_draws=1)


def test_reference_agent_succeeds_through_the_token_env() -> None:
    env = gym.make(ID).unwrapped
    for seed in range(5):
        rewards, info, _ = play_reference(env, seed)
        assert info["success"] and info["ended_by"] == "success"
        for key in ("turns", "inform_precision", "inform_recall", "inform_f1", "satisfaction", "goal"):
            assert key in info
        assert info["inform_f1"] == 1.0
        assert sum(rewards) > 0


def test_history_is_left_padded_and_append_only() -> None:
    env = gym.make(ID).unwrapped
    rewards, info, observations = play_reference(env, seed=3)
    pad = env.pad_token_id
    for before, after in zip(observations, observations[1:]):
        grown = int(after["attention_mask"].sum() - before["attention_mask"].sum())
        assert grown >= 1
        # everything that was there moved left by the number of new tokens, unchanged
        assert (after["input_ids"][:-grown] == before["input_ids"][grown:]).all()
        length = int(after["attention_mask"].sum())
        assert (after["attention_mask"][-length:] == 1).all() and (after["attention_mask"][:-length] == 0).all()
        assert (after["input_ids"][:-length] == pad).all()
    text = env.tokenizer.decode(observations[-1]["input_ids"][observations[-1]["attention_mask"] == 1])
    assert text.startswith("user:") and "\nagent:" in text and "\nuser:" in text


def test_rewards_only_at_the_end_of_agent_turns() -> None:
    env = gym.make(ID).unwrapped
    env.reset(seed=5)
    ends = 0
    for action in env.text_to_actions("Hello, which order number do you have?") * 2:
        obs, reward, terminated, truncated, info = env.step(action)
        if info["end_of_turn"]:
            ends += 1
            assert info["agent_text"] == "Hello, which order number do you have?"
            assert reward != 0.0
            assert reward == pytest.approx(info["satisfaction"] - env.reward.s_base) or terminated or truncated
        else:
            assert reward == 0.0
        if terminated or truncated:
            break
    assert ends >= 1


def test_turn_ends_at_the_token_limit_and_episode_at_the_turn_limit() -> None:
    env = SimUserEnv(max_reply_tokens=3, max_turns=2, patience=5)
    env.reset(seed=0)
    non_eos = next(i for i in range(env.vocab_size) if i not in (env.eos_token_id, env.pad_token_id))
    infos = []
    done = False
    steps = 0
    while not done:
        _, reward, terminated, truncated, info = env.step(non_eos)
        steps += 1
        infos.append(info)
        done = terminated or truncated
    assert steps == 6 and truncated and not terminated
    assert [i["end_of_turn"] for i in infos] == [False, False, True] * 2
    assert infos[-1]["ended_by"] == "turn_limit" and infos[-1]["success"] is False
    assert reward <= -env.reward.failure_penalty


def test_long_history_is_truncated_and_says_so() -> None:
    env = SimUserEnv(max_length=12, max_reply_tokens=8)
    obs, info = env.reset(seed=1)
    assert obs["history_truncated"][0] == 1 and info["dropped_tokens"] > 0
    assert env.observation_space.contains(obs)
    wide = SimUserEnv(max_length=2048)
    obs, info = wide.reset(seed=1)
    assert obs["history_truncated"][0] == 0 and info["dropped_tokens"] == 0


def test_text_helpers_and_text_view() -> None:
    env = gym.make(ID, render_mode="ansi")
    view = TextView(env)
    text, _ = view.reset(seed=2)
    assert text.startswith("user: ") and text.endswith("agent:")
    text, reward, terminated, truncated, info = view.step("Could you tell me the order number?")
    assert info["end_of_turn"] and "agent: Could you tell me the order number?" in text
    assert "[r=" in env.render()
    with pytest.raises(ValueError, match="max_reply_tokens"):
        env.unwrapped.text_to_actions("word " * 200)
    actions = env.unwrapped.text_to_actions("hello there")
    assert actions[-1] == env.unwrapped.eos_token_id


def test_convlab_reward() -> None:
    env = SimUserEnv(reward="convlab", patience=2, max_turns=5)
    env.reset(seed=0)
    rewards = []
    done = False
    while not done:
        for action in env.text_to_actions("blah"):
            _, reward, terminated, truncated, info = env.step(action)
        rewards.append(reward)
        done = terminated or truncated
    assert rewards[:-1] == [-1.0] * (len(rewards) - 1)
    assert rewards[-1] == -41.0 and info["ended_by"] == "patience"


def test_random_actions_keep_observations_in_space_for_10000_episodes() -> None:
    env = SimUserEnv(max_reply_tokens=2, max_turns=2, max_length=48)
    env.action_space.seed(0)
    truncated_seen = 0
    for episode in range(10_000):
        obs, _ = env.reset(seed=episode)
        assert env.observation_space.contains(obs)
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            assert env.observation_space.contains(obs)
            assert np.isfinite(reward)
            done = terminated or truncated
        truncated_seen += int(obs["history_truncated"][0])
    assert truncated_seen > 0  # the small window was exercised


def test_bad_arguments_are_reported() -> None:
    with pytest.raises(DialogEnvsError, match="reward"):
        SimUserEnv(reward="bleu")
    with pytest.raises(DialogEnvsError, match="max_turns"):
        SimUserEnv(max_turns=0)
    with pytest.raises(DialogEnvsError, match="goals"):
        SimUserEnv(goals="corpus")
    env = SimUserEnv()
    with pytest.raises(DialogEnvsError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(DialogEnvsError, match="token id"):
        env.step(env.vocab_size)


class ParrotUser:
    """A user simulator of one's own: rewards replies that repeat its last words, ends after 2 turns."""

    def reset(self, rng: np.random.Generator) -> str:
        self.turns = 0
        return "say banana"

    def respond(self, agent_text: str, *, last_turn: bool = False) -> UserReply:
        self.turns += 1
        return UserReply("say banana", float("banana" in agent_text), self.turns >= 2, self.turns >= 2)

    def metrics(self) -> dict:
        return {"success": True}


def test_one_can_plug_in_another_user() -> None:
    env = SimUserEnv(user_factory=lambda schema: ParrotUser())
    env.reset(seed=0)
    rewards = []
    for reply in ("banana", "apple"):
        for action in env.text_to_actions(reply):
            _, reward, terminated, _, info = env.step(action)
        rewards.append(reward)
    assert rewards == [1.0, 0.0] and terminated and info["success"]


def test_database_view_shows_the_facts_the_user_asks_for() -> None:
    env = gym.make("dialog_envs/SimUser-v0").unwrapped
    env.reset(seed=0)
    done = False
    while not done:
        _, _, terminated, truncated, info = env.step(env.expert_action())
        done = terminated or truncated
    text = env.observation_text()
    database_lines = [line for line in text.splitlines() if line.startswith("db: ")]
    user_lines = [line for line in text.splitlines() if line.startswith("user: ")]
    assert len(database_lines) == len(user_lines)
    # every fact the reference agent told the user stands in a db line before it was said
    for line in text.splitlines():
        if line.startswith("agent: The ") and " is " in line:
            value = line.split(" is ", 1)[1].split(".")[0]
            assert any(value in db for db in database_lines), line
    hidden = gym.make("dialog_envs/SimUser-v0", database_view=False).unwrapped
    hidden.reset(seed=0)
    assert "db: " not in hidden.observation_text()


def test_placeholders_are_filled_from_the_database_entity() -> None:
    env = gym.make(ID, placeholders=True).unwrapped
    obs, info = env.reset(seed=0)
    written_turns, read_turns = [], []
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(env.expert_action())
        if info["end_of_turn"]:
            read_turns.append(info["agent_text"])
        done = terminated or truncated
    assert info["success"]
    written = env.tokenizer.decode(obs["input_ids"][obs["attention_mask"] == 1], skip_special_tokens=True)
    written_turns = [line[len("agent: "):] for line in written.splitlines() if line.startswith("agent: ")]
    assert any("[" in turn for turn in written_turns)  # the expert writes placeholders ...
    assert not any("[" in turn for turn in read_turns)  # ... and the user reads values
    assert len(written_turns) == len(read_turns)
    # the reply as read is the reply as written with each placeholder replaced by a db value
    for turn_written, turn_read in zip(written_turns, read_turns):
        pattern = re.sub(r"\\\[[^\]]+\\\]", "(.+)", re.escape(turn_written))
        assert re.fullmatch(pattern, turn_read), (turn_written, turn_read)


def play_expert(env: SimUserEnv, seed: int) -> list[list[int]]:
    """Play one episode with the env's expert actions; returns every observation's tokens."""
    obs, _ = env.reset(seed=seed)
    seen = [obs["input_ids"][obs["attention_mask"] == 1].tolist()]
    done = False
    while not done:
        obs, _, terminated, truncated, _ = env.step(env.expert_action())
        seen.append(obs["input_ids"][obs["attention_mask"] == 1].tolist())
        done = terminated or truncated
    return seen


def test_expert_and_tracker_start_afresh_each_episode_and_keep_their_lexicons(monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[str] = []
    build = Lexicon.build.__func__

    def counting_build(cls: type[Lexicon], domain: Domain) -> Lexicon:
        builds.append(domain.name)
        return build(cls, domain)

    monkeypatch.setattr(Lexicon, "build", classmethod(counting_build))
    env = gym.make(ID, placeholders=True).unwrapped
    first = play_expert(env, 0)
    after_seed_1 = play_expert(env, 1)
    builds_so_far = len(builds)
    assert play_expert(env, 0) == first  # nothing of the earlier episodes leaks into a new one
    assert len(builds) == builds_so_far  # and the lexicons of its domains were not built again
    assert after_seed_1 == play_expert(gym.make(ID, placeholders=True).unwrapped, 1)


def test_placeholders_fill_known_slots_and_keep_unknown_ones() -> None:
    agent = ReferenceAgent(SimUserEnv().schema, placeholders=True)
    assert agent.lexicalise("The [carrier] is here.") == "The [carrier] is here."  # nothing read yet
    agent.observe("Hello, i'm calling about an order i placed. The order number is 70353.")
    text = agent.lexicalise("The [carrier] ships it; [no such slot]; ref [reference number].")
    carrier = agent.database_view().split("carrier ")[1].split(",")[0]
    assert text.startswith(f"The {carrier} ships it; [no such slot]; ref ref")


def test_placeholders_need_the_database_view() -> None:
    with pytest.raises(DialogEnvsError, match="database_view"):
        SimUserEnv(placeholders=True, database_view=False)
