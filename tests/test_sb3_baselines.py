"""SB3 baselines: every algorithm learns on every registered env; the features extractor; masks."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import dialog_envs
from dialog_envs.agents.features import TokenFeaturesExtractor
from dialog_envs.agents.sb3_baselines import ALGORITHMS, SB3Agent, a2c, dqn, maskable_ppo, ppo
from dialog_envs.errors import DialogEnvsError

TINY = {
    "ppo": {"n_steps": 64, "batch_size": 32, "n_epochs": 1},
    "maskable-ppo": {"n_steps": 64, "batch_size": 32, "n_epochs": 1},
    "a2c": {"n_steps": 8},
    "dqn": {"learning_starts": 32, "train_freq": 8, "buffer_size": 500},
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny networks: one thread is much faster than several on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("env_id", dialog_envs.env_ids())
@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_every_algorithm_learns_on_every_env(algorithm: str, env_id: str) -> None:
    agent = SB3Agent(env_id, algorithm=algorithm, seed=0, **TINY[algorithm])
    curve = agent.learn(128)
    assert agent.env_steps >= 128
    assert agent.model.num_timesteps == agent.env_steps
    assert all(0 < point["env_steps"] <= 128 and point["episodes"] >= 1 for point in curve)
    obs = {key: np.concatenate([value] * 3) for key, value in agent.vec_env.reset().items()}
    actions = agent.act(obs)
    assert actions.shape == (3,) and all(agent.action_space.contains(int(a)) for a in actions)
    agent.close()


def test_ppo_beats_random_on_ner() -> None:
    """A behaviour check: 1000 steps are enough for PPO to learn that most words are O."""
    agent = ppo("dialog_envs/NER-v0", seed=0, n_steps=128)
    before = agent.evaluate("test", episodes=16)
    agent.learn(1024)
    after = agent.evaluate("test", episodes=16)
    assert after["token_accuracy"] > before["token_accuracy"] + 0.2
    assert after["token_accuracy"] > 0.5


def test_one_function_per_algorithm() -> None:
    for function, name in ((ppo, "ppo"), (a2c, "a2c"), (dqn, "dqn"), (maskable_ppo, "maskable-ppo")):
        agent = function("dialog_envs/Sentiment-v0", seed=1)
        assert agent.algorithm == name and type(agent.model).__name__ == ALGORITHMS[name][1]
        assert agent.settings()["seed"] == 1


def test_defaults_per_env_and_overrides() -> None:
    agent = ppo("dialog_envs/NER-v0")
    assert agent.model.gamma == 0.9 and agent.model.n_steps == 128
    agent = ppo("dialog_envs/NER-v0", gamma=0.5, n_steps=32, batch_size=32)
    assert agent.model.gamma == 0.5 and agent.model.n_steps == 32
    with pytest.raises(DialogEnvsError, match="bad configuration"):
        ppo("dialog_envs/NER-v0", not_a_setting=1)
    with pytest.raises(DialogEnvsError, match="unknown SB3 algorithm"):
        SB3Agent("dialog_envs/NER-v0", algorithm="sac")


def _batch(env: gym.Env, n: int = 4) -> dict[str, torch.Tensor]:
    rows = []
    for seed in range(n):
        obs, _ = env.reset(seed=seed)
        for _ in range(seed):  # different steps of the episode, where it has several
            step_obs, _, terminated, truncated, _ = env.step(0)
            if terminated or truncated:
                break
            obs = step_obs
        rows.append(obs)
    return {key: torch.as_tensor(np.stack([row[key] for row in rows])) for key in rows[0]}


@pytest.mark.parametrize("encoder", ["mean", "transformer"])
@pytest.mark.parametrize(
    "env_id, kwargs",
    [(env_id, {}) for env_id in dialog_envs.env_ids()] + [("dialog_envs/Sentiment-v0", {"explain": True})],
)
def test_extractor_reads_float_observations_as_ids(env_id: str, kwargs: dict, encoder: str) -> None:
    env = gym.make(env_id, **kwargs)
    extractor = TokenFeaturesExtractor(env.observation_space, encoder=encoder).eval()
    batch = _batch(env)
    as_long = extractor(batch)
    as_float = extractor({key: value.float() for key, value in batch.items()})  # what SB3 passes
    assert as_long.shape == (4, extractor.features_dim)
    assert torch.isfinite(as_long).all()
    torch.testing.assert_close(as_long, as_float)
    if kwargs.get("explain"):
        assert extractor.id_fields == ["input_ids", "rationale_ids"]  # the empty rationale is no NaN


def test_extractor_uses_ner_pointer_and_previous_tag() -> None:
    env = gym.make("dialog_envs/NER-v0")
    extractor = TokenFeaturesExtractor(env.observation_space).eval()
    assert extractor.pointers == {"token_index": "input_ids"}
    assert extractor.previous == {"previous_tags": "word_index"}
    obs, _ = env.reset(seed=0)
    batch = {key: torch.as_tensor(value[None]) for key, value in obs.items()}
    moved = dict(batch, token_index=batch["token_index"] + 1, word_index=batch["word_index"] + 1)
    assert not torch.allclose(extractor(batch), extractor(moved))  # the word to tag matters


def test_extractor_rejects_spaces_without_tokens() -> None:
    space = gym.spaces.Dict({"x": gym.spaces.Box(0, 3, shape=(2,), dtype=np.int64)})
    with pytest.raises(DialogEnvsError, match="no token field"):
        TokenFeaturesExtractor(space)
    with pytest.raises(DialogEnvsError, match="encoder"):
        TokenFeaturesExtractor(gym.make("dialog_envs/Sentiment-v0").observation_space, encoder="lstm")


def test_maskable_ppo_respects_ner_masks() -> None:
    agent = maskable_ppo("dialog_envs/NER-v0", seed=0, n_steps=64, batch_size=32, n_epochs=1)
    agent.learn(64)
    env = gym.make("dialog_envs/NER-v0")
    tags = env.unwrapped.tags
    for seed in range(5):
        obs, info = env.reset(seed=seed)
        done = False
        while not done:
            mask = info["action_mask"].astype(bool)
            forbidden = np.flatnonzero(~mask)
            # sampled, not greedy: every action with probability > 0 could come up
            action = agent.act({k: v[None] for k, v in obs.items()}, mask[None], deterministic=False)[0]
            assert mask[action], (tags[action], [tags[i] for i in forbidden])
            obs, _, done, _, info = env.step(action)


def test_maskable_ppo_without_env_masks_allows_everything() -> None:
    agent = maskable_ppo("dialog_envs/Sentiment-v0", seed=0, n_steps=64, batch_size=32, n_epochs=1)
    masks = agent.vec_env.env_method("action_masks")
    assert all(mask.all() and mask.shape == (3,) for mask in masks)
    agent.learn(64)


def test_save_and_load_round_trip(tmp_path) -> None:
    agent = ppo("dialog_envs/Sentiment-v0", seed=0, n_steps=64, batch_size=32)
    agent.learn(64)
    agent.save(tmp_path / "ppo")
    obs = {key: np.concatenate([value] * 2) for key, value in agent.vec_env.reset().items()}
    other = ppo("dialog_envs/Sentiment-v0", seed=5, n_steps=64, batch_size=32)
    other.load(tmp_path / "ppo")
    assert other.env_steps == agent.env_steps
    for key, value in agent.model.policy.state_dict().items():
        torch.testing.assert_close(other.model.policy.state_dict()[key], value)
    np.testing.assert_array_equal(other.act(obs), agent.act(obs))
    with pytest.raises(DialogEnvsError):
        other.load(tmp_path / "missing")


class _Marker:
    """Unpickling this creates ``path``: the proof that a file ran code."""

    def __init__(self, path) -> None:
        self.path = path

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.path),))


def _craft(folder, **entries) -> None:
    """Rewrite ``folder/model.zip`` with ``entries`` replaced by cloudpickled objects."""
    import base64
    import json
    import pickle
    import zipfile

    path = folder / "model.zip"
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    data = json.loads(members["data"])
    for key, value in entries.items():
        data[key] = {":type:": "<class 'object'>", ":serialized:": base64.b64encode(pickle.dumps(value)).decode()}
    members["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def test_load_never_unpickles_a_crafted_model_zip(tmp_path) -> None:
    agent = ppo("dialog_envs/Sentiment-v0", seed=0, n_steps=64, batch_size=32)
    agent.save(tmp_path / "ppo")
    marker = tmp_path / "ran"
    _craft(tmp_path / "ppo", policy_class=_Marker(marker), observation_space=_Marker(marker))
    agent.load(tmp_path / "ppo")  # the agent's own objects stand in for the pickled entries
    assert not marker.exists()
    _craft(tmp_path / "ppo", payload=_Marker(marker))
    with pytest.raises(DialogEnvsError, match="'payload' is a pickled object"):
        agent.load(tmp_path / "ppo")
    assert not marker.exists()
    try:
        agent.load(tmp_path / "ppo", allow_pickle=True)  # the caller's explicit trust
    except Exception:
        pass  # the planted objects are no valid SB3 entries; what matters is that they ran
    assert marker.exists()


def test_load_of_a_file_that_is_not_a_model_is_one_error(tmp_path) -> None:
    agent = ppo("dialog_envs/Sentiment-v0", seed=0, n_steps=64, batch_size=32)
    agent.save(tmp_path / "ppo")
    (tmp_path / "ppo" / "model.zip").write_bytes(b"not a zip")
    with pytest.raises(DialogEnvsError, match="model.zip: not an SB3 model archive"):
        agent.load(tmp_path / "ppo")
