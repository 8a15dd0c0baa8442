"""A person at a terminal as the simulated user's stand-in: they type the user's turns and rate each agent reply."""

from __future__ import annotations

from typing import Any, TextIO

import numpy as np

from dialog_envs.feedback import FeedbackLog, feedback_record, new_session_id
from dialog_envs.simuser.conversation import UserReply

QUIT_WORDS = {":q", ":quit", "quit", "exit"}


class HumanUser:
    """A person at a terminal as the user of a :class:`~dialog_envs.simuser.conversation.Conversation`.

    The person types utterances on ``stdin`` and rates each agent reply 1-5; each rating is the
    turn's reward and is appended to ``log`` with the exchange.
    """

    def __init__(self, stdin: TextIO, stdout: TextIO, log: FeedbackLog, *, agent_name: str,
                 session: str | None = None) -> None:
        self.stdin, self.stdout, self.log = stdin, stdout, log
        self.agent_name = agent_name
        self.session = session or new_session_id()
        self.turn = 0
        self.last_user_text = ""
        self.ratings: list[int] = []
        self.reason = "running"

    def _say(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)

    def _ask(self, prompt: str) -> str | None:
        print(prompt, end="", file=self.stdout, flush=True)
        line = self.stdin.readline()
        return None if not line else line.rstrip("\n")

    def _record(self, event: str, **fields: Any) -> None:
        self.log.append(feedback_record(event, session=self.session, agent=self.agent_name, **fields))

    def reset(self, rng: np.random.Generator) -> str:
        self.turn, self.ratings, self.reason = 0, [], "running"
        self._say("You are the user. Say what you want; rate every reply from 1 (bad) to 5 (great). "
                  "An empty line or :q ends the conversation.")
        text = self._ask("you> ")
        if text is None or text.strip() in QUIT_WORDS or not text.strip():
            self.reason = "end_of_input" if text is None else "user_quit"
            text = ""
        self.last_user_text = text
        return text

    def respond(self, agent_text: str, *, last_turn: bool = False) -> UserReply:
        self._say(f"agent: {agent_text}")
        rating = None
        while rating is None:
            answer = self._ask("rating 1-5> ")
            if answer is None:
                self.reason = "end_of_input"
                return UserReply(text="", reward=0.0, finished=True, success=False, info={"rated": False})
            if answer.strip() in {"1", "2", "3", "4", "5"}:
                rating = int(answer.strip())
            else:
                self._say("please type a whole number from 1 to 5")
        self.turn += 1
        self.ratings.append(rating)
        self._record("turn", turn=self.turn, user_text=self.last_user_text, agent_text=agent_text,
                     rating=rating, reward=float(rating))
        finished = False
        text = ""
        if last_turn:
            self.reason = "turn_limit"
        else:
            answer = self._ask("you> ")
            if answer is None or not answer.strip() or answer.strip() in QUIT_WORDS:
                self.reason = "end_of_input" if answer is None else "user_quit"
                finished = True
            else:
                text = answer
        self.last_user_text = text
        return UserReply(text=text, reward=float(rating), finished=finished, success=False,
                         info={"rated": True, "rating": rating})

    def metrics(self) -> dict[str, Any]:
        return {"success": False, "ratings": list(self.ratings),
                "mean_rating": float(np.mean(self.ratings)) if self.ratings else 0.0, "ended_by": self.reason}

    def finish(self) -> None:
        """Append the session's ``"end"`` record."""
        self._record("end", turn=self.turn, reason=self.reason)
