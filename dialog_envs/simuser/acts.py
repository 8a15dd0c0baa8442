"""User dialogue acts: what the agenda policy decides to say, before it is put into words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ActKind = Literal[
    "open",        # name the domain and what the user wants ("hi, i have a question about my order")
    "inform",      # state a constraint or booking detail
    "dontcare",    # no preference on a slot the agent asked about
    "request",     # ask for a slot's value
    "book",        # ask for the domain's transaction
    "negate",      # correct the agent: "no, the area should be north"
    "nudge",       # nothing new to say: ask the agent to go on
    "thank_bye",   # goal reached: thank and leave (success)
    "give_up",     # patience exhausted or the agent left: leave (failure)
]


@dataclass(frozen=True)
class UserAct:
    """One user act: a kind with its domain, slot and value where they apply."""

    kind: ActKind
    domain: str | None = None
    slot: str | None = None
    value: str | None = None
    first: bool = False
    """For ``open``: the conversation's first domain (the user greets)."""
    again: bool = False
    """For ``request``: asked before and not answered yet."""
