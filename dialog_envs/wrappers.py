"""Wrappers shared by every environment of the package.

:class:`TextView` turns any of the package's token-level environments into one whose observations
are text and whose action is a whole reply (or, for taggers, a tag name), for agents that work on
strings: API models, rule-based agents, people. It relies on two methods every env of the package
has: ``observation_text()`` and ``text_to_actions(text)``.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import Any

import gymnasium as gym
from gymnasium import spaces


@lru_cache(maxsize=1)
def text_charset() -> frozenset[str]:
    """Every printable Unicode character plus newline and tab: what real text is made of.

    Built on first use (it takes a quarter of a second), not at import.
    """
    printable = (chr(code) for code in range(sys.maxunicode + 1) if not 0xD800 <= code <= 0xDFFF)
    return frozenset(char for char in printable if char.isprintable()) | {"\n", "\t"}


class TextView(gym.Wrapper[str, str, Any, Any]):
    """A token-level env seen as text.

    - Observation: ``env.unwrapped.observation_text()``, its last ``max_length`` characters when
      longer (``spaces.Text`` over :func:`text_charset`).
    - Action: a string, turned into token actions by ``env.unwrapped.text_to_actions``; they are
      stepped one by one until they run out, the episode ends, or the env reports the end of the
      agent's turn with ``info["end_of_turn"]``. The reward is the sum of the token rewards; the
      info is that of the last token step.

    Example:
        >>> import gymnasium as gym
        >>> import dialog_envs
        >>> from dialog_envs.wrappers import TextView
        >>> env = TextView(gym.make("dialog_envs/NER-v0"))
        >>> text, info = env.reset(seed=0)
        >>> text, reward, terminated, truncated, info = env.step("O")
    """

    def __init__(self, env: gym.Env[Any, Any], max_length: int = 8192) -> None:
        super().__init__(env)
        for method in ("observation_text", "text_to_actions"):
            if not callable(getattr(env.unwrapped, method, None)):
                raise TypeError(f"TextView needs an env with a {method}() method; {env.unwrapped!r} has none")
        self.max_length = max_length
        self.observation_space = spaces.Text(max_length, min_length=0, charset=text_charset())
        self.action_space = spaces.Text(max_length, min_length=0, charset=text_charset())

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        _, info = self.env.reset(seed=seed, options=options)
        return self._text(), info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        actions = self.env.unwrapped.text_to_actions(action)
        total = 0.0
        terminated = truncated = False
        info: dict[str, Any] = {}
        for token_action in actions:
            _, reward, terminated, truncated, info = self.env.step(token_action)
            total += float(reward)
            if terminated or truncated or info.get("end_of_turn", False):
                break
        return self._text(), total, terminated, truncated, info

    def _text(self) -> str:
        return self.env.unwrapped.observation_text()[-self.max_length :]
