"""The user's satisfaction with each agent turn, and the rewards built from it.

The simulated user judges every agent reply ``y`` and counts what happened in it
(:class:`TurnEvents`). Its satisfaction is a weighted sum of those counts::

    s(y) =  w_answered * answered          (requested slots answered with the right value)
          + w_asked    * asked_needed      (constraints/booking details the user has, asked for)
          + w_offered  * offered           (a matching entity named, first time in a domain)
          + w_booked   * booked            (the wanted transaction made, with a reference)
          + w_no_match * no_match          (correctly said that nothing matches)
          - w_wrong    * wrong             (wrong values, a non-matching entity, a premature or
                                            unwanted booking, a false "nothing matches")
          - w_asked_again * asked_again    (asked for something the user already said)
          - w_repeat   * [y repeats an earlier reply of the agent]
          - w_long     * [y has more than max_words words]
          - w_empty    * [y is empty]

and the reward of the turn is ``r_t = s(y_t) - s_base``, plus ``success_bonus`` on the turn that
completes the goal or ``-failure_penalty`` on the turn that ends the conversation without success
(the user gives up, the agent leaves, or the turn limit is reached). ``s_base`` is what a turn
must earn to count as progress, so stalling costs ``s_base`` per turn.

The alternative ``reward="convlab"`` is the reward of ConvLab's evaluators: ``-1`` every turn,
``+80`` at the end on success and ``-40`` at the end on failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RewardKind = Literal["satisfaction", "convlab"]


@dataclass
class TurnEvents:
    """What the user noticed in one agent turn (counts)."""

    answered: int = 0
    asked_needed: int = 0
    offered: int = 0
    booked: int = 0
    no_match: int = 0
    wrong: int = 0
    asked_again: int = 0
    repeated: bool = False
    too_long: bool = False
    empty: bool = False

    @property
    def progress(self) -> bool:
        """Whether the turn moved the conversation on (else it costs patience)."""
        return bool(self.answered or self.asked_needed or self.offered or self.booked or self.no_match)


@dataclass(frozen=True)
class SatisfactionConfig:
    """Weights of ``s(y)`` and the end-of-conversation terms (see the module docstring)."""

    w_answered: float = 1.0
    w_asked: float = 0.5
    w_offered: float = 0.5
    w_booked: float = 1.0
    w_no_match: float = 1.0
    w_wrong: float = 1.0
    w_asked_again: float = 0.25
    w_repeat: float = 0.5
    w_long: float = 0.5
    w_empty: float = 1.0
    max_words: int = 60
    """Replies longer than this many words are penalised as over-long."""
    s_base: float = 0.25
    """Baseline satisfaction subtracted every turn."""
    success_bonus: float = 5.0
    failure_penalty: float = 5.0
    reward: RewardKind = "satisfaction"
    """``"satisfaction"`` (``s(y) - s_base`` per turn) or ``"convlab"`` (-1 per turn, +80/-40 at the end)."""


def satisfaction(events: TurnEvents, config: SatisfactionConfig) -> float:
    """``s(y)`` of one agent turn."""
    c = config
    return (
        c.w_answered * events.answered
        + c.w_asked * events.asked_needed
        + c.w_offered * events.offered
        + c.w_booked * events.booked
        + c.w_no_match * events.no_match
        - c.w_wrong * events.wrong
        - c.w_asked_again * events.asked_again
        - c.w_repeat * events.repeated
        - c.w_long * events.too_long
        - c.w_empty * events.empty
    )


def turn_reward(s: float, config: SatisfactionConfig, *, ended: bool, success: bool) -> float:
    """The reward of one agent turn with satisfaction ``s``; ``ended``: the conversation ended."""
    if config.reward == "convlab":
        return -1.0 + ((80.0 if success else -40.0) if ended else 0.0)
    reward = s - config.s_base
    if ended:
        reward += config.success_bonus if success else -config.failure_penalty
    return reward
