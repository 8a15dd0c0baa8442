"""A reward model as an env's reward: the vector wrapper scores exactly what single envs score,
changes only the steps that end an agent turn, and the token-level agent trains on it."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import dialog_envs  # noqa: F401  (registers the env ids)
from dialog_envs.agents.callbacks import Callback
from dialog_envs.agents.config import TokenPGConfig
from dialog_envs.agents.reward_env import RewardModelReward, RewardModelVectorReward
from dialog_envs.agents.reward_model import RewardModel
from dialog_envs.agents.reward_model_training import build_reward_model, read_feedback_data
from dialog_envs.agents.token_pg import TokenPGAgent
from dialog_envs.errors import DialogEnvsError
from tests.feedback_logs import tiny_config, write_log

ENVS = {
    "dialog_envs/DialogueBLEU-v0": {},
    "dialog_envs/SimUser-v0": {"max_turns": 3, "max_reply_tokens": 5},
    "dialog_envs/NER-v0": {},
    "dialog_envs/Sentiment-v0": {},
}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny reward model (its scores differ from reply to reply, which is all these tests need)."""
    folder = tmp_path_factory.mktemp("reward_env")
    data = read_feedback_data(write_log(folder / "log.jsonl", sessions=3))
    model = build_reward_model(tiny_config(), data.texts())
    model.s_base = 0.25
    model.save(folder / "checkpoint")
    return folder / "checkpoint"


@pytest.mark.parametrize("env_id", list(ENVS))
def test_vector_wrapper_rewards_equal_single_envs_and_change_only_turn_ends(env_id: str, checkpoint: Path) -> None:
    model = RewardModel.load(checkpoint)
    count, seeds = 3, [11, 12, 13]
    wrapped = RewardModelVectorReward(gym.make_vec(env_id, num_envs=count, **ENVS[env_id]), model)
    plain = gym.make_vec(env_id, num_envs=count, **ENVS[env_id])
    singles = [RewardModelReward(gym.make(env_id, **ENVS[env_id]), model) for _ in range(count)]
    wrapped.reset(seed=seeds)
    plain.reset(seed=seeds)
    for env, seed in zip(singles, seeds):
        env.reset(seed=seed)
    rng = np.random.default_rng(0)
    active = np.ones(count, dtype=bool)
    turn_ends = 0
    for _ in range(200):
        actions = rng.integers(0, wrapped.single_action_space.n, count)
        _, rewards, terminated, truncated, infos = wrapped.step(actions)
        _, env_rewards, *_ , plain_infos = plain.step(actions)
        ended = np.asarray(plain_infos.get("end_of_turn", np.zeros(count)), dtype=bool) | terminated | truncated
        np.testing.assert_array_equal(infos["env_reward"], env_rewards)
        assert (rewards[~ended] == 0).all()
        for row in np.flatnonzero(active):
            _, reward, *_ = singles[row].step(actions[row])
            assert reward == pytest.approx(rewards[row], abs=1e-5)
        turn_ends += int((ended & active).sum())
        active &= ~(terminated | truncated)
        if not active.any():
            break
    assert not active.any() and turn_ends >= count


def test_the_rewards_are_scores_of_the_turns_texts_minus_s_base(checkpoint: Path) -> None:
    model = RewardModel.load(checkpoint)
    env = RewardModelReward(gym.make("dialog_envs/SimUser-v0", max_turns=2), model, s_base=1.5)
    _, info = env.reset(seed=0)
    user_text = info["user_text"]
    for action in env.unwrapped.text_to_actions("hello, which order is it?"):
        _, reward, *_ , info = env.step(action)
    assert info["end_of_turn"]
    expected = model.score([user_text], [info["agent_text"]])[0] - 1.5
    assert reward == pytest.approx(expected)


def test_an_env_without_known_texts_needs_a_turn_texts_function(checkpoint: Path) -> None:
    import tests.toy_envs  # noqa: F401  (registers tests/ChattyUser-v0)

    model = RewardModel.load(checkpoint)
    with pytest.raises(DialogEnvsError, match="pass turn_texts="):
        RewardModelVectorReward(gym.make_vec("tests/ChattyUser-v0", num_envs=2), model)


class _ScoresPerRollout(Callback):
    """What the reward model scored for each rollout: (user texts, replies, scores)."""

    def __init__(self, model: RewardModel, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[list[str], list[str], np.ndarray]] = []
        self.rollouts: list[tuple[list, object]] = []
        score = model.score

        def spy(users: list[str], replies: list[str], **kwargs) -> np.ndarray:
            scores = score(users, replies, **kwargs)
            self.calls.append((list(users), list(replies), scores))
            return scores

        monkeypatch.setattr(model, "score", spy)

    def on_rollout(self, agent: TokenPGAgent, rollout) -> None:
        self.rollouts.append((self.calls, rollout))
        self.calls = []


def test_token_pg_trains_on_a_reward_model(checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = TokenPGConfig(
        num_envs=4, updates=3, eval_every=0, reward_model=str(checkpoint), model_config={"n_layer": 1, "n_embd": 32, "n_head": 2},
        progress=False, bf16="off", device="cpu",
    )
    agent = TokenPGAgent("dialog_envs/DialogueBLEU-v0", config)
    before = [p.detach().clone() for p in agent.policy.parameters()]
    spy = _ScoresPerRollout(agent.envs.model, monkeypatch)
    agent.learn(callbacks=[spy])
    assert len(spy.rollouts) == 3
    contexts = {example.context[-1] for example in agent.envs.source.examples}
    for calls, rollout in spy.rollouts:
        users = [user for call in calls for user in call[0]]
        replies = [reply for call in calls for reply in call[1]]
        scores = np.concatenate([call[2] for call in calls])
        assert set(users) <= contexts  # the turn replied to
        assert sorted(replies) == sorted(info["response"] for info in rollout.final_info)
        np.testing.assert_allclose(np.sort(rollout.returns.cpu().numpy()), np.sort(scores - agent.envs.s_base), atol=1e-5)
        assert all("env_reward" in info for info in rollout.final_info)
    assert any(not torch.equal(a, b) for a, b in zip(before, agent.policy.parameters()))
    agent.close()
