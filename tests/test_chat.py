"""A token-pg checkpoint as a chat agent: the policy sees the conversation as the env it was
trained on formats it, reply b of a pair is sampled, the chosen reply continues; ``serve --checkpoint``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dialog_envs.agents.chat import CheckpointChat
from dialog_envs.agents.config import TokenPGConfig
from dialog_envs.agents.token_pg import TokenPGAgent
from dialog_envs.envs.simuser import SimUserEnv
from dialog_envs.errors import DialogEnvsError
from dialog_envs.simuser.conversation import UserReply

TINY = {"n_layer": 1, "n_embd": 32, "n_head": 2}
ENV_KWARGS = {"max_reply_tokens": 6, "max_length": 256}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny SimUser-v0 policy, saved (its replies are noise, but reproducible noise)."""
    folder = tmp_path_factory.mktemp("chat") / "checkpoint"
    config = TokenPGConfig(num_envs=1, model_config=TINY, progress=False, bf16="off", device="cpu", temperature=1.0)
    agent = TokenPGAgent("dialog_envs/SimUser-v0", config, ENV_KWARGS)
    agent.save(folder)
    agent.close()
    return folder


class RecordingChat(CheckpointChat):
    """Keeps every observation the policy is asked to act on."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.seen: list[dict[str, np.ndarray]] = []

    def act(self, observation: dict[str, np.ndarray], greedy: bool) -> int:
        self.seen.append({key: np.array(value) for key, value in observation.items()})
        return super().act(observation, greedy)


class ScriptedUser:
    """A user who says the given turns, in order."""

    def __init__(self, turns: list[str]) -> None:
        self.turns = turns

    def reset(self, rng: np.random.Generator) -> str:
        self.said = 1
        return self.turns[0]

    def respond(self, agent_text: str, *, last_turn: bool = False) -> UserReply:
        self.said += 1
        return UserReply(text=self.turns[self.said - 1], reward=0.0, finished=False, success=False)

    def metrics(self) -> dict[str, Any]:
        return {}


def test_the_policy_sees_what_the_training_env_shows(checkpoint: Path) -> None:
    chat = RecordingChat(checkpoint)
    conversation = chat.conversation()
    conversation.reset()
    first = conversation.reply("where is my order?")
    conversation.reply("the order number is 66876")
    # The same conversation in a plain SimUser-v0 with the checkpoint's tokenizer and settings: the
    # user's turns, then the policy's own tokens; its observations must be the ones the policy saw.
    env = SimUserEnv(**ENV_KWARGS, tokenizer=chat.agent.tokenizer,
                     user_factory=lambda schema: ScriptedUser(["where is my order?", "the order number is 66876", ""]))
    observation, _ = env.reset(seed=0)
    expected = [observation]
    for tokens in conversation.replies:
        for token in tokens:
            observation, *_ = env.step(token)
            expected.append(observation)
    assert len(chat.seen) == len(expected) - 1 == sum(map(len, conversation.replies))
    for seen, wanted in zip(chat.seen, expected):
        assert all(np.array_equal(seen[key], wanted[key]) for key in wanted)
    text = env.observation_text()
    assert text.startswith("user: where is my order?\ndb: order") and "\nuser: the order number is 66876\ndb: " in text
    assert f"agent: {first}" in text


def test_a_pair_is_a_greedy_and_a_sampled_reply_and_the_chosen_one_continues(checkpoint: Path) -> None:
    chat = CheckpointChat(checkpoint)
    greedy = chat.conversation()
    greedy.reset()
    expected_a = greedy.reply("hello")
    conversation = chat.conversation()
    conversation.reset()
    pairs = [conversation.reply_pair("hello") for _ in range(4)]  # an unchosen pair is asked again
    assert all(a == expected_a for a, _ in pairs)
    assert len({b for _, b in pairs}) > 1  # sampled at temperature 1: not always the same
    conversation.choose("b")
    kept_b = conversation.replies[-1]
    conversation.reply("and then?")
    assert conversation.replies[0] == kept_b and len(conversation.user.turns) == 2
    transcript = conversation.env.unwrapped.conversation.transcript
    assert [text for role, text, _ in transcript if role == "user"][:2] == ["hello", "and then?"]
    assert [text for role, text, _ in transcript if role == "agent"][0] == pairs[-1][1]
    with pytest.raises(DialogEnvsError, match="no pair of replies"):
        conversation.choose("a")


def test_a_dialogue_checkpoint_replies_to_the_chat_as_to_a_context_of_its_data(tmp_path: Path) -> None:
    dialogues = tmp_path / "dialogues.jsonl"
    dialogues.write_text("".join(json.dumps({"turns": [f"hi {i}", f"hello {i}", "bye"]}) + "\n" for i in range(4)))
    config = TokenPGConfig(num_envs=1, model_config=TINY, progress=False, bf16="off", device="cpu", temperature=1.0)
    agent = TokenPGAgent("dialog_envs/DialogueBLEU-v0", config, {"data_path": {"train": str(dialogues)}, "context_turns": 2})
    agent.save(tmp_path / "bleu")
    agent.close()
    chat = RecordingChat(tmp_path / "bleu")
    conversation = chat.conversation()
    conversation.reset()
    env = conversation.env.unwrapped
    # "hi 0" then "hello 0": the person's turns and the policy's reply are the context, as in the data
    first = conversation.reply("hi 0")
    from_data, _ = env.reset(options={"index": 0})  # the example whose context is ["hi 0"]
    assert list(env.example.context) == ["hi 0"]
    assert all(np.array_equal(chat.seen[0][key], from_data[key]) for key in from_data)
    seen = len(chat.seen)
    a, b = conversation.reply_pair("bye")
    conversation.choose("a")
    expected, _ = env.reset(options={"context": ["hi 0", first, "bye"]})
    assert all(np.array_equal(chat.seen[seen][key], expected[key]) for key in expected)
    assert conversation.replies == [first, a]
    with pytest.raises(DialogEnvsError, match="not a checkpoint folder"):
        CheckpointChat(tmp_path)


def test_serve_talks_with_a_checkpoint_in_both_modes(checkpoint: Path, tmp_path: Path) -> None:
    pytest.importorskip("fastapi", reason="serve needs fastapi")
    from fastapi.testclient import TestClient

    from dialog_envs.commands.serve import agent_factory
    from dialog_envs.feedback import read_feedback_log
    from dialog_envs.web.app import ChatServer, create_app

    log = tmp_path / "feedback.jsonl"
    for mode, route, body in (("rate", "/api/rate", {"rating": 2}), ("compare", "/api/prefer", {"preferred": "b"})):
        args = argparse.Namespace(agent=None, checkpoint=checkpoint, agent_b=None, data_path=None, mode=mode)
        new_agent, name = agent_factory(args)
        with TestClient(create_app(ChatServer(new_agent, log, mode=mode, agent_name=name))) as client:
            session = client.post("/api/sessions").json()["session"]
            reply = client.post("/api/message", json={"session": session, "text": "where is my order?"})
            assert reply.status_code == 200 and all(isinstance(text, str) for text in reply.json().values())
            assert client.post(route, json={"session": session, **body}).status_code == 200
    records = read_feedback_log(log)
    assert [r["event"] for r in records] == ["turn", "end", "preference", "end"]
    assert records[0]["agent"] == f"checkpoint:{checkpoint}" and records[2]["preferred"] == "b"
