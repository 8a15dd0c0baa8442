"""Native vector envs (``vector_entry_point``) against N single envs in ``SyncVectorEnv``.

For every registered id with a vector entry point: the same seeds and the same actions (random,
mixed with expert actions so that episodes end in every way) must give exactly the same
observations, rewards, terminations, truncations, infos and expert actions, step after step,
across many autoresets.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import dialog_envs
from dialog_envs.errors import DialogEnvsError
from dialog_envs.registration import ENV_SPECS

VECTOR_IDS = [spec.id for spec in ENV_SPECS if spec.vector_entry_point is not None]
CASES = {
    "dialog_envs/NER-v0": [{"reward": "token"}, {"reward": "dense_f1"}, {"reward": "sparse_f1", "mask_invalid_transitions": False}],
    "dialog_envs/DialogueBLEU-v0": [{"reward": "bleu"}, {"reward": {"log_bleu": 1.0, "chrf": 0.5}, "s_base": 1.0, "max_new_tokens": 6}],
    "dialog_envs/Sentiment-v0": [{}, {"explain": True, "max_rationale_tokens": 3, "reward": [[1, 0, -2], [0, 1, 0], [-2, 0, 1]]}],
    "dialog_envs/SimUser-v0": [{"max_reply_tokens": 4, "max_turns": 3}, {"max_reply_tokens": 6, "max_length": 48, "database_view": False}],
}


def test_every_env_has_a_vector_entry_point() -> None:
    assert set(CASES) <= set(VECTOR_IDS) <= set(dialog_envs.env_ids())
    for env_id in VECTOR_IDS:
        envs = gym.make_vec(env_id, num_envs=2)  # the default mode picks the vector entry point
        assert not isinstance(envs, gym.vector.SyncVectorEnv)
        assert envs.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
        envs.close()


def assert_same(native: Any, sync: Any, where: str) -> None:
    if isinstance(sync, dict):
        assert isinstance(native, dict) and set(native) == set(sync), f"{where}: keys {sorted(native)} != {sorted(sync)}"
        for key in sync:
            assert_same(native[key], sync[key], f"{where}[{key!r}]")
    elif isinstance(sync, np.ndarray):
        assert isinstance(native, np.ndarray), where
        assert native.dtype == sync.dtype and native.shape == sync.shape, f"{where}: {native.dtype}{native.shape} != {sync.dtype}{sync.shape}"
        if sync.dtype == object:
            assert all(type(a) is type(b) and (a == b if not isinstance(a, np.ndarray) else np.array_equal(a, b)) for a, b in zip(native, sync)), where
        else:
            np.testing.assert_array_equal(native, sync, err_msg=where)
    else:
        assert type(native) is type(sync) and native == sync, f"{where}: {native!r} != {sync!r}"


@pytest.mark.parametrize(
    "env_id, kwargs", [(env_id, kwargs) for env_id in VECTOR_IDS for kwargs in CASES[env_id]], ids=str
)
def test_native_equals_sync(env_id: str, kwargs: dict[str, Any]) -> None:
    num_envs = 4
    native = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)
    sync = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", **kwargs)
    rng = np.random.default_rng(0)
    episodes_ended = 0
    sizes = native.single_action_space.n
    for round_number, seed in enumerate(([11, 12, 13, 14], 100, None)):
        if seed is None:  # reseed both the same way, then reset without a seed (generators carry on)
            native.reset(seed=7)
            sync.reset(seed=7)
        obs_n, info_n = native.reset(seed=seed)
        obs_s, info_s = sync.reset(seed=seed)
        assert_same(obs_n, obs_s, f"reset {round_number} obs")
        assert_same(info_n, info_s, f"reset {round_number} info")
        for step in range(120):
            expert_n, expert_s = native.call("expert_action"), sync.call("expert_action")
            assert expert_n == expert_s, f"step {step}: expert {expert_n} != {expert_s}"
            actions = np.where(rng.random(num_envs) < 0.6, np.asarray(expert_s), rng.integers(sizes, size=num_envs))
            results_n, results_s = native.step(actions), sync.step(actions)
            obs_s = results_s[0]
            for name, a, b in zip(("obs", "reward", "terminated", "truncated", "info"), results_n, results_s):
                assert_same(a, b, f"round {round_number} step {step} {name}")
            episodes_ended += int((results_s[2] | results_s[3]).sum())
    assert episodes_ended >= 6 * num_envs  # many autoresets were compared
    native.close()
    sync.close()


@pytest.mark.parametrize("env_id", VECTOR_IDS)
def test_shared_attributes_and_errors(env_id: str) -> None:
    envs = gym.make_vec(env_id, num_envs=3)
    single = gym.make(env_id).unwrapped
    assert len(envs.tokenizer) == len(single.tokenizer)
    assert envs.get_attr("tokenizer")[0] is envs.tokenizer
    assert len(envs.call("get_wrapper_attr", "tokenizer")) == 3
    with pytest.raises(DialogEnvsError, match="reset"):
        envs.step(np.zeros(3, dtype=np.int64))
    envs.reset(seed=0)
    with pytest.raises(DialogEnvsError, match="differs per episode"):
        envs.call("observation_text")
    with pytest.raises(DialogEnvsError, match="expected"):
        envs.step(np.full(3, envs.single_action_space.n, dtype=np.int64))
    with pytest.raises(DialogEnvsError, match="expected"):
        envs.step(np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match="num_envs"):
        envs.reset(seed=[1, 2])
    envs.close()


def test_ner_index_from_seed_walks_the_split() -> None:
    envs = gym.make_vec("dialog_envs/NER-v0", num_envs=3)
    single = gym.make("dialog_envs/NER-v0").unwrapped
    obs, _ = envs.reset(seed=[5, 6, 7], options={"index": "seed"})
    for row, index in enumerate((5, 6, 7)):
        first, _ = single.reset(options={"index": index})
        np.testing.assert_array_equal(obs["input_ids"][row], first["input_ids"])
    with pytest.raises(DialogEnvsError, match="'seed'"):
        envs.reset(options={"index": "first"})


def test_reset_mask_resets_only_those_envs() -> None:
    envs = gym.make_vec("dialog_envs/DialogueBLEU-v0", num_envs=3)
    obs, _ = envs.reset(seed=0)
    obs, *_ = envs.step(np.array([5, 5, 5]))
    again, info = envs.reset(seed=[None, 3, None], options={"reset_mask": np.array([False, True, False])})
    np.testing.assert_array_equal(again["input_ids"][[0, 2]], obs["input_ids"][[0, 2]])
    single = gym.make("dialog_envs/DialogueBLEU-v0")
    first, single_info = single.reset(seed=3)
    np.testing.assert_array_equal(again["input_ids"][1], first["input_ids"])
    assert info["_index"].tolist() == [False, True, False]
    assert info["index"][1] == single_info["index"]
