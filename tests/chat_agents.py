"""Tiny chat agents (``reset()`` / ``reply(user_text)``) for the tests of ``dialog-envs serve``."""

from __future__ import annotations

import time


class EchoAgent:
    """Replies with what it heard and how many turns it has had (so a reply shows its history)."""

    prefix = "echo"

    def reset(self) -> None:
        self.turns = 0

    def reply(self, user_text: str) -> str:
        self.turns += 1
        return f"{self.prefix} {self.turns}: {user_text}"


class ShoutAgent(EchoAgent):
    prefix = "SHOUT"


class SlowAgent(EchoAgent):
    """Sleeps while replying, so that concurrent sessions overlap."""

    def reply(self, user_text: str) -> str:
        time.sleep(0.01)
        return super().reply(user_text)


class BrokenAgent(EchoAgent):
    def reply(self, user_text: str) -> str:
        raise RuntimeError("the model fell over")
