"""``dialog-envs serve``'s HTTP API: chat, ratings, preferences and ends reach the feedback log;
bad requests get one JSON error naming the field and never touch the log."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the web API tests need fastapi (pip install 'dialog-envs[web]' httpx)")
from fastapi.testclient import TestClient  # noqa: E402

from dialog_envs.cli import main  # noqa: E402
from dialog_envs.errors import DataFormatError, DialogEnvsError  # noqa: E402
from dialog_envs.feedback import read_feedback_log  # noqa: E402
from dialog_envs.web.app import MAX_BODY_BYTES, MAX_TEXT_CHARS, ChatServer, TwoAgents, create_app  # noqa: E402
from tests.chat_agents import BrokenAgent, EchoAgent, ShoutAgent, SlowAgent  # noqa: E402


def client_for(log: Path, agent: type = EchoAgent, **settings: Any) -> TestClient:
    if settings.get("mode") == "compare":
        server = ChatServer(lambda: TwoAgents(agent(), ShoutAgent()), log, agent_name="echo vs shout", **settings)
    else:
        server = ChatServer(agent, log, agent_name="echo", **settings)
    return TestClient(create_app(server))


def post(client: TestClient, path: str, **body: Any) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_rated_conversation_is_logged_turn_by_turn(tmp_path: Path) -> None:
    log = tmp_path / "feedback.jsonl"
    with client_for(log) as client:
        session = post(client, "/api/sessions")["session"]
        assert post(client, "/api/message", session=session, text="hello")["reply"] == "echo 1: hello"
        assert post(client, "/api/rate", session=session, rating=4) == {"turn": 1, "ended": False}
        assert post(client, "/api/message", session=session, text="where is my order?")["reply"] == "echo 2: where is my order?"
        post(client, "/api/rate", session=session, rating=2)
        assert post(client, "/api/end", session=session) == {"turn": 2, "ended": True}
    records = read_feedback_log(log)
    assert [r["event"] for r in records] == ["turn", "turn", "end"]
    assert [(r["turn"], r["user_text"], r["agent_text"], r["rating"], r["reward"]) for r in records[:2]] == [
        (1, "hello", "echo 1: hello", 4, 4.0), (2, "where is my order?", "echo 2: where is my order?", 2, 2.0)]
    assert records[2]["turn"] == 2 and records[2]["reason"] == "user_quit"
    assert {r["session"] for r in records} == {session} and {r["agent"] for r in records} == {"echo"}


def test_compare_mode_logs_the_preference_and_continues_with_the_chosen_reply(tmp_path: Path) -> None:
    log = tmp_path / "feedback.jsonl"
    with client_for(log, mode="compare") as client:
        session = post(client, "/api/sessions")["session"]
        pair = post(client, "/api/message", session=session, text="hi")
        assert pair == {"reply_a": "echo 1: hi", "reply_b": "SHOUT 1: hi"}
        assert post(client, "/api/prefer", session=session, preferred="b") == {"turn": 1, "reply": "SHOUT 1: hi", "ended": False}
        post(client, "/api/message", session=session, text="and now?")
        assert post(client, "/api/prefer", session=session, preferred="a")["reply"] == "echo 2: and now?"
        post(client, "/api/end", session=session)
    records = read_feedback_log(log)
    assert [r["event"] for r in records] == ["preference", "preference", "end"]
    first = records[0]
    assert (first["user_text"], first["reply_a"], first["reply_b"], first["preferred"]) == ("hi", "echo 1: hi", "SHOUT 1: hi", "b")
    assert records[1]["preferred"] == "a" and records[1]["turn"] == 2 and records[2]["turn"] == 2
    assert records[0]["agent"] == "echo vs shout"


def test_the_turn_limit_ends_the_session(tmp_path: Path) -> None:
    log = tmp_path / "feedback.jsonl"
    with client_for(log, max_turns=2) as client:
        session = post(client, "/api/sessions")["session"]
        for rating, ended in ((5, False), (3, True)):
            post(client, "/api/message", session=session, text="hi")
            assert post(client, "/api/rate", session=session, rating=rating)["ended"] is ended
        assert client.post("/api/message", json={"session": session, "text": "more"}).status_code == 404
    assert [(r["event"], r.get("reason")) for r in read_feedback_log(log)] == [("turn", None), ("turn", None), ("end", "turn_limit")]


def test_sessions_left_open_end_as_interrupted_when_the_server_stops(tmp_path: Path) -> None:
    log = tmp_path / "feedback.jsonl"
    with client_for(log) as client:
        session = post(client, "/api/sessions")["session"]
        post(client, "/api/message", session=session, text="hi")
        post(client, "/api/rate", session=session, rating=3)
    records = read_feedback_log(log)
    assert [r["event"] for r in records] == ["turn", "end"] and records[1]["reason"] == "interrupted"


BAD_REQUESTS = [
    # (route, body, expected status, field at fault); "SESSION" is replaced by a live session id
    ("/api/message", {"session": "SESSION"}, 422, "text"),
    ("/api/message", {"text": "hi"}, 422, "session"),
    ("/api/message", {"session": "SESSION", "text": ""}, 422, "text"),
    ("/api/message", {"session": "SESSION", "text": "   "}, 422, "text"),
    ("/api/message", {"session": "SESSION", "text": 7}, 422, "text"),
    ("/api/message", {"session": "SESSION", "text": "x" * (MAX_TEXT_CHARS + 1)}, 422, "text"),
    ("/api/message", {"session": "no-such-session", "text": "hi"}, 404, "session"),
    ("/api/message", {"session": "SESSION", "text": "hi", "extra": 1}, 422, "extra"),
    ("/api/rate", {"session": "SESSION", "rating": 0}, 422, "rating"),
    ("/api/rate", {"session": "SESSION", "rating": 9}, 422, "rating"),
    ("/api/rate", {"session": "SESSION", "rating": "x"}, 422, "rating"),
    ("/api/rate", {"session": "SESSION", "rating": "3"}, 422, "rating"),
    ("/api/rate", {"session": "SESSION", "rating": 3.5}, 422, "rating"),
    ("/api/rate", {"session": "SESSION", "rating": True}, 422, "rating"),
    ("/api/rate", {"session": "SESSION"}, 422, "rating"),
    ("/api/rate", {"session": "no-such-session", "rating": 3}, 404, "session"),
    ("/api/prefer", {"session": "SESSION", "preferred": "c"}, 422, "preferred"),
    ("/api/end", {"session": "no-such-session"}, 404, "session"),
    ("/api/end", {}, 422, "session"),
]


@pytest.mark.parametrize(("route", "body", "status", "field"), BAD_REQUESTS)
def test_a_bad_request_is_one_json_error_and_leaves_the_log_alone(
    tmp_path: Path, route: str, body: dict[str, Any], status: int, field: str
) -> None:
    log = tmp_path / "feedback.jsonl"
    with client_for(log) as client:
        session = post(client, "/api/sessions")["session"]
        post(client, "/api/message", session=session, text="first")
        post(client, "/api/rate", session=session, rating=5)
        before = log.read_bytes()
        response = client.post(route, json={key: session if value == "SESSION" else value for key, value in body.items()})
        assert response.status_code == status
        assert response.json()["field"] == field
        assert response.json()["error"].startswith(f"{field}: ")
        assert log.read_bytes() == before
        # the session still works after the refusal
        post(client, "/api/message", session=session, text="second")
        post(client, "/api/rate", session=session, rating=1)
    assert [r["rating"] for r in read_feedback_log(log) if r["event"] == "turn"] == [5, 1]


@pytest.mark.parametrize(("content", "status"), [(b"{not json", 400), (b"[1, 2]", 400), (b'"text"', 400),
                                                  (b"{" + b" " * MAX_BODY_BYTES + b"}", 413)])
def test_a_body_that_is_not_a_small_json_object_is_refused(tmp_path: Path, content: bytes, status: int) -> None:
    log = tmp_path / "feedback.jsonl"
    with client_for(log) as client:
        response = client.post("/api/rate", content=content, headers={"content-type": "application/json"})
        assert response.status_code == status and response.json()["field"] == "body"
    assert log.read_bytes() == b""


def test_requests_out_of_turn_are_refused(tmp_path: Path) -> None:
    log = tmp_path / "feedback.jsonl"
    with client_for(log) as client:
        session = post(client, "/api/sessions")["session"]
        rated_early = client.post("/api/rate", json={"session": session, "rating": 3})
        assert rated_early.status_code == 409 and rated_early.json()["field"] == "rating"
        post(client, "/api/message", session=session, text="hi")
        twice = client.post("/api/message", json={"session": session, "text": "again"})
        assert twice.status_code == 409 and twice.json()["field"] == "rating"
        wrong_mode = client.post("/api/prefer", json={"session": session, "preferred": "a"})
        assert wrong_mode.status_code == 409 and wrong_mode.json()["field"] == "preferred"
        post(client, "/api/end", session=session)
        assert client.post("/api/rate", json={"session": session, "rating": 3}).status_code == 404
    assert [r["event"] for r in read_feedback_log(log)] == ["end"]


def test_a_failing_agent_is_a_500_that_writes_nothing(tmp_path: Path) -> None:
    log = tmp_path / "feedback.jsonl"
    with client_for(log, agent=BrokenAgent) as client:
        session = post(client, "/api/sessions")["session"]
        response = client.post("/api/message", json={"session": session, "text": "hi"})
        assert response.status_code == 500 and response.json()["field"] == "agent"
        assert "the model fell over" in response.json()["error"]
        assert log.read_bytes() == b""


def test_concurrent_sessions_keep_their_own_conversations_and_whole_records(tmp_path: Path) -> None:
    log = tmp_path / "feedback.jsonl"
    sessions, turns = 8, 5
    errors: list[BaseException] = []
    with client_for(log, agent=SlowAgent) as client:
        ids = [post(client, "/api/sessions")["session"] for _ in range(sessions)]

        def talk(k: int, session: str) -> None:
            try:
                for turn in range(1, turns + 1):
                    reply = post(client, "/api/message", session=session, text=f"s{k} t{turn}")["reply"]
                    assert reply == f"echo {turn}: s{k} t{turn}"  # its own agent, its own history
                    post(client, "/api/rate", session=session, rating=1 + (k + turn) % 5)
                post(client, "/api/end", session=session)
            except BaseException as error:  # noqa: BLE001  (reported by the main thread)
                errors.append(error)

        threads = [threading.Thread(target=talk, args=(k, session)) for k, session in enumerate(ids)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    records = read_feedback_log(log)
    assert len(records) == sessions * (turns + 1) and len(log.read_bytes().splitlines()) == len(records)
    for k, session in enumerate(ids):
        own = [r for r in records if r["session"] == session]
        assert [r["turn"] for r in own] == [*range(1, turns + 1), turns]
        assert [r.get("rating") for r in own[:-1]] == [1 + (k + turn) % 5 for turn in range(1, turns + 1)]
        assert [r["user_text"] for r in own[:-1]] == [f"s{k} t{turn}" for turn in range(1, turns + 1)]


def test_the_page_and_its_script_are_served_from_the_package(tmp_path: Path) -> None:
    with client_for(tmp_path / "feedback.jsonl") as client:
        page = client.get("/")
        assert page.status_code == 200 and '<script src="/static/app.js">' in page.text
        assert "http" not in page.text.replace('name="viewport"', "")  # nothing fetched from elsewhere
        assert client.get("/static/app.js").status_code == 200 and client.get("/static/style.css").status_code == 200


def test_a_log_that_is_not_a_feedback_log_is_refused_at_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "notes.jsonl"
    other.write_text('{"a": 1}\n')
    with pytest.raises(DataFormatError):
        ChatServer(EchoAgent, other)
    assert main(["serve", "--log", str(other)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "is not a feedback log" in err
    assert other.read_text() == '{"a": 1}\n'


def test_compare_mode_needs_two_replies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(DialogEnvsError, match="cannot serve compare mode"):
        ChatServer(EchoAgent, tmp_path / "feedback.jsonl", mode="compare")
    assert main(["serve", "--mode", "compare", "--log", str(tmp_path / "f.jsonl")]) == 2
    assert "give --agent-b" in capsys.readouterr().err
    assert not (tmp_path / "f.jsonl").exists()


def test_serve_without_fastapi_says_what_to_install(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # makes `import uvicorn` fail
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'dialog-envs[web]'" in err
