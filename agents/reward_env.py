"""A learned reward model as any env's reward: Gymnasium wrappers for single and vector envs.

:class:`RewardModelReward` (a ``gymnasium.Wrapper``) and :class:`RewardModelVectorReward` (a
``gymnasium.vector.VectorWrapper``, which scores every env whose turn ended on a step in one
forward pass) replace the reward of **each step that ends an agent turn** by

    r = score(user_text, agent_text) - s_base

and the reward of every other step by 0, so the reward model is the whole reward. ``s_base``
defaults to the checkpoint's (the mean score of the replies of the log it was trained on), so a
typical reply gets about 0, a better one more, a worse one less. The env's own reward stays in
``info["env_reward"]`` (for evaluation and logging).

A step ends an agent turn when its info says ``end_of_turn`` or the episode ends. What is scored,
per env of the package (:data:`TURN_TEXTS`; any other env needs a ``turn_texts`` function):

| env | user_text | agent_text |
|---|---|---|
| SimUser-v0 | the user's utterance the agent answers (``info["user_text"]`` of the reset, then of the previous turn's end) | ``info["agent_text"]`` (what the user read) |
| DialogueBLEU-v0 | the last turn of the context (``examples[index].context[-1]``, the turn being replied to) | ``info["response"]`` |
| Sentiment-v0 | the text (``examples[index].text``) | the predicted label, after the rationale in explain mode |
| NER-v0 | the sentence (``info["words"]`` joined by spaces) | the predicted tags joined by spaces |

The token-level envs take one token per step, so most steps get 0 and the last step of each reply
gets the model's reward; NER-v0 and Sentiment-v0 get it once, on their last step.

Vector envs must reset finished sub-envs on the next step (``AutoresetMode.NEXT_STEP``, the
package's native vector envs and Gymnasium's default); that step's reward stays 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from dialog_envs.agents.reward_model import RewardModel
from dialog_envs.agents.rollout import row_info
from dialog_envs.errors import DialogEnvsError

TurnTexts = Callable[[Any, dict[str, Any], dict[str, Any]], tuple[str, str]]
"""``(env, opening_info, closing_info) -> (user_text, agent_text)``: the texts of an agent turn,
from the info that opened it (of the reset, or of the step that ended the previous turn) and the
info of the step that ended it; ``env`` is the unwrapped single env (for data such as ``examples``)."""


def _simuser_texts(env: Any, opening: dict[str, Any], closing: dict[str, Any]) -> tuple[str, str]:
    return opening["user_text"], closing["agent_text"]


def _dialogue_texts(env: Any, opening: dict[str, Any], closing: dict[str, Any]) -> tuple[str, str]:
    return env.examples[int(opening["index"])].context[-1], closing["response"]


def _sentiment_texts(env: Any, opening: dict[str, Any], closing: dict[str, Any]) -> tuple[str, str]:
    reply = " ".join(part for part in (closing.get("rationale", ""), closing["predicted_label"]) if part)
    return env.examples[int(opening["index"])].text, reply


def _ner_texts(env: Any, opening: dict[str, Any], closing: dict[str, Any]) -> tuple[str, str]:
    return " ".join(closing["words"]), " ".join(closing["predicted_tags"])


TURN_TEXTS: dict[str, TurnTexts] = {
    "dialog_envs.envs.simuser.SimUserEnv": _simuser_texts,
    "dialog_envs.envs.dialogue_bleu.DialogueBLEUEnv": _dialogue_texts,
    "dialog_envs.envs.sentiment.SentimentEnv": _sentiment_texts,
    "dialog_envs.envs.ner.NEREnv": _ner_texts,
}
"""What is scored for each env class of the package (module docstring), by the class's dotted
name (so that this module imports no env; a subclass of one of them is read the same way)."""


def turn_texts_of(env: Any, turn_texts: TurnTexts | None) -> TurnTexts:
    """``turn_texts`` when given, else the package's function for ``env``'s class."""
    if turn_texts is not None:
        return turn_texts
    for env_class in type(env).__mro__:
        function = TURN_TEXTS.get(f"{env_class.__module__}.{env_class.__qualname__}")
        if function is not None:
            return function
    known = ", ".join(name.rsplit(".", 1)[1] for name in TURN_TEXTS)
    raise DialogEnvsError(
        f"the reward model wrapper knows the texts of {known}; for {type(env).__name__} pass "
        "turn_texts=(env, opening_info, closing_info) -> (user_text, agent_text)"
    )


def _texts(turn_texts: TurnTexts, env: Any, opening: dict[str, Any], closing: dict[str, Any]) -> tuple[str, str]:
    try:
        return turn_texts(env, opening, closing)
    except KeyError as error:
        raise DialogEnvsError(f"the info of an agent turn has no {error}; cannot give the reward model its texts") from None


class RewardModelReward(gym.Wrapper):
    """A single env whose turn-ending steps are rewarded by a reward model (module docstring).

    Args:
        env: any env of the package (or another, with ``turn_texts``).
        model: the :class:`~dialog_envs.agents.reward_model.RewardModel`.
        s_base: subtracted from every score; None takes the model's (the mean score on its training log).
        turn_texts: how to read an agent turn's texts from infos; None: :data:`TURN_TEXTS`.
    """

    def __init__(self, env: gym.Env, model: RewardModel, s_base: float | None = None, turn_texts: TurnTexts | None = None) -> None:
        super().__init__(env)
        self.model = model
        self.s_base = model.s_base if s_base is None else float(s_base)
        self.turn_texts = turn_texts_of(env.unwrapped, turn_texts)
        self._opening: dict[str, Any] = {}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._opening = info
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, env_reward, terminated, truncated, info = self.env.step(action)
        reward = 0.0
        if info.get("end_of_turn") or terminated or truncated:
            user_text, agent_text = _texts(self.turn_texts, self.env.unwrapped, self._opening, info)
            reward = float(self.model.score([user_text], [agent_text])[0]) - self.s_base
            self._opening = info
        return obs, reward, terminated, truncated, {**info, "env_reward": float(env_reward)}


class RewardModelVectorReward(gym.vector.VectorWrapper):
    """A vector env whose turn-ending steps are rewarded by a reward model, every env whose turn
    ended on a step scored in one batched forward pass (module docstring). Arguments as
    :class:`RewardModelReward`; ``call``, ``get_attr`` and the sub-envs' shared attributes
    (``envs.tokenizer``) pass through to the wrapped vector env."""

    def __init__(
        self, env: gym.vector.VectorEnv, model: RewardModel, s_base: float | None = None, turn_texts: TurnTexts | None = None
    ) -> None:
        super().__init__(env)
        mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        if mode != AutoresetMode.NEXT_STEP:
            raise DialogEnvsError(f"the reward model wrapper needs a vector env with AutoresetMode.NEXT_STEP, not {mode}")
        self.model = model
        self.s_base = model.s_base if s_base is None else float(s_base)
        self.source = _single_env(env)
        self.turn_texts = turn_texts_of(self.source, turn_texts)
        self._opening: list[dict[str, Any]] = [{} for _ in range(env.num_envs)]
        self._autoreset = np.zeros(env.num_envs, dtype=bool)

    def reset(self, *, seed: Any = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        obs, infos = self.env.reset(seed=seed, options=options)
        rows = np.ones(self.num_envs, dtype=bool) if not options or "reset_mask" not in options else np.asarray(options["reset_mask"])
        for row in np.flatnonzero(rows):
            self._opening[row] = row_info(infos, int(row))
        self._autoreset[rows] = False
        return obs, infos

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        obs, env_rewards, terminated, truncated, infos = self.env.step(actions)
        restarted = self._autoreset  # these rows were reset by this step (their action was ignored)
        end_of_turn = np.asarray(infos.get("end_of_turn", np.zeros(self.num_envs)), dtype=bool)
        end_of_turn &= np.asarray(infos.get("_end_of_turn", np.ones(self.num_envs)), dtype=bool)
        rows = np.flatnonzero((end_of_turn | terminated | truncated) & ~restarted)
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        if len(rows):
            closing = [row_info(infos, int(row)) for row in rows]
            texts = [_texts(self.turn_texts, self.source, self._opening[row], info) for row, info in zip(rows, closing)]
            scores = self.model.score([user for user, _ in texts], [agent for _, agent in texts])
            rewards[rows] = scores - self.s_base
            for row, info in zip(rows, closing):
                self._opening[row] = info
        for row in np.flatnonzero(restarted):
            self._opening[row] = row_info(infos, int(row))
        self._autoreset = np.asarray(terminated | truncated, dtype=bool)
        infos = {**infos, "env_reward": np.asarray(env_rewards, dtype=np.float64), "_env_reward": np.ones(self.num_envs, dtype=bool)}
        return obs, rewards, terminated, truncated, infos

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        return self.env.call(name, *args, **kwargs)

    def get_attr(self, name: str) -> tuple[Any, ...]:
        return self.env.get_attr(name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)


def _single_env(envs: gym.vector.VectorEnv) -> Any:
    """The unwrapped single env whose data the sub-envs share: a native vector env's template, or
    the first sub-env of a ``SyncVectorEnv``."""
    target = envs.unwrapped
    if isinstance(target, gym.vector.SyncVectorEnv):
        return target.envs[0].unwrapped
    return getattr(target, "template", target)
