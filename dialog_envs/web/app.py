"""The FastAPI application of ``dialog-envs serve``: chat sessions with an agent, rated in a browser.

Every browser tab opens its own session (``POST /api/sessions``), with its own agent object and
conversation. The person types a user turn (``POST /api/message``); the agent answers, and

* in ``"rate"`` mode the person rates the reply 1-5 (``POST /api/rate``): a ``"turn"`` record;
* in ``"compare"`` mode the agent gives two candidate replies and the person picks the better one
  (``POST /api/prefer``): a ``"preference"`` record; the chosen reply continues the conversation.

``POST /api/end`` (the page's End button) ends a session with an ``"end"`` record (reason
``"user_quit"``); a session also ends after ``max_turns`` rated turns (``"turn_limit"``), and the
sessions still open when the server stops end with reason ``"interrupted"``.

Records go to one :class:`~dialog_envs.feedback.FeedbackLog`, one record per append, under a
lock, so concurrent sessions never interleave their lines. A request that is not well formed is
answered with HTTP 4xx and ``{"error": "<field>: <what was expected>", "field": "<field>"}``, and
writes nothing: a missing or mistyped field (422), a body that is not a JSON object (400), a body
over :data:`MAX_BODY_BYTES` (413), an unknown or ended session (404), a request out of turn, such as
a rating with no reply to rate (409). A failing agent is a 500 with the same shape.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from dialog_envs.errors import DialogEnvsError
from dialog_envs.feedback import FeedbackLog, feedback_record, new_session_id

Mode = Literal["rate", "compare"]
MAX_TEXT_CHARS = 2000
"""The longest user turn accepted, in characters."""
MAX_BODY_BYTES = 64 * 1024
"""The largest request body accepted, in bytes."""
STATIC = Path(__file__).with_name("static")


@runtime_checkable
class ChatAgent(Protocol):
    """An agent of ``rate`` mode (as for ``dialog-envs rate``): one reply per user turn."""

    def reset(self) -> None:
        """Start a new conversation."""

    def reply(self, user_text: str) -> str:
        """The agent's reply to the user's turn (the conversation so far is the agent's to keep)."""


@runtime_checkable
class PairAgent(Protocol):
    """An agent of ``compare`` mode: two candidate replies to a user turn, one of which is kept."""

    def reset(self) -> None:
        """Start a new conversation."""

    def reply_pair(self, user_text: str) -> tuple[str, str]:
        """Two candidate replies to the user's turn; the conversation waits for :meth:`choose`."""

    def choose(self, preferred: Literal["a", "b"]) -> None:
        """Continue the conversation with reply ``preferred`` of the last :meth:`reply_pair`."""


class TwoAgents:
    """Two :class:`ChatAgent` objects as one :class:`PairAgent`: reply a from the first, b from the second.

    Each agent hears every user turn and keeps its own replies in its own history (an agent of
    the ``reset``/``reply`` protocol cannot be told another agent's reply), so :meth:`choose`
    changes nothing for them; the page shows the chosen reply as the conversation's.
    """

    def __init__(self, a: ChatAgent, b: ChatAgent) -> None:
        self.a, self.b = a, b

    def reset(self) -> None:
        self.a.reset()
        self.b.reset()

    def reply_pair(self, user_text: str) -> tuple[str, str]:
        return self.a.reply(user_text), self.b.reply(user_text)

    def choose(self, preferred: Literal["a", "b"]) -> None:
        pass


# -- requests -----------------------------------------------------------------------------------

SessionId = Annotated[StrictStr, Field(min_length=1, max_length=64, description="the id POST /api/sessions returned")]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SessionRequest(_Request):
    session: SessionId


class MessageRequest(SessionRequest):
    text: Annotated[StrictStr, Field(min_length=1, max_length=MAX_TEXT_CHARS, pattern=r"\S", description="the user's turn")]


class RateRequest(SessionRequest):
    rating: Annotated[StrictInt, Field(ge=1, le=5, description="1 (bad) to 5 (great)")]


class PreferRequest(SessionRequest):
    preferred: Literal["a", "b"]


class RequestError(Exception):
    """A request the server refuses: HTTP ``status``, the ``field`` at fault and what was expected."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


def _error_response(status: int, field: str, message: str) -> JSONResponse:
    return JSONResponse({"error": f"{field}: {message}", "field": field}, status_code=status)


# -- sessions -----------------------------------------------------------------------------------


@dataclass
class Session:
    """One browser conversation: its agent, what awaits a rating or choice, and the rated turns."""

    id: str
    agent: Any
    turn: int = 0
    """Rated (or chosen) agent turns so far."""
    user_text: str = ""
    """The user turn the pending reply answers."""
    pending: tuple[str, ...] | None = None
    """The reply awaiting its rating, or the two awaiting a choice; None: waiting for a user turn."""
    ended: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class ChatServer:
    """The sessions and the feedback log behind the HTTP routes (usable without HTTP, for tests).

    Args:
        new_agent: builds the agent of a new session (a :class:`ChatAgent` in ``"rate"`` mode, a
            :class:`PairAgent` in ``"compare"`` mode); called once here to check it.
        log_path: the feedback log to append to; opened now, so a file that is not a feedback
            log is refused before the server starts.
        mode: ``"rate"`` or ``"compare"``.
        agent_name: the ``agent`` field of every record.
        max_turns: rated turns after which a session ends (reason ``"turn_limit"``).
    """

    def __init__(self, new_agent: Callable[[], Any], log_path: str | PathLike[str], *, mode: Mode = "rate",
                 agent_name: str = "agent", max_turns: int = 20) -> None:
        if mode not in ("rate", "compare"):
            raise DialogEnvsError(f"mode {mode!r}: expected 'rate' or 'compare'")
        if max_turns < 1:
            raise DialogEnvsError(f"max_turns must be at least 1, got {max_turns}")
        expected = PairAgent if mode == "compare" else ChatAgent
        probe = new_agent()
        if not isinstance(probe, expected):
            methods = "reset(), reply_pair(text) and choose('a'|'b')" if mode == "compare" else "reset() and reply(text)"
            raise DialogEnvsError(f"agent {agent_name!r} cannot serve {mode} mode: it needs {methods}")
        self.new_agent, self.mode, self.agent_name, self.max_turns = new_agent, mode, agent_name, max_turns
        self.log = FeedbackLog(log_path)
        self._log_lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._sessions_lock = threading.Lock()

    # the log

    def _write(self, session: Session, event: str, **fields: Any) -> None:
        record = feedback_record(event, session=session.id, agent=self.agent_name, **fields)
        with self._log_lock:
            self.log.append(record)

    # the session's life

    def open_session(self) -> dict[str, Any]:
        agent = self.new_agent()
        agent.reset()
        session = Session(new_session_id(), agent)
        with self._sessions_lock:
            self._sessions[session.id] = session
        return {"session": session.id, "mode": self.mode, "agent": self.agent_name,
                "max_turns": self.max_turns, "max_text_chars": MAX_TEXT_CHARS}

    def _session(self, session_id: str) -> Session:
        with self._sessions_lock:
            session = self._sessions.get(session_id)
        if session is None:
            raise RequestError(404, "session", f"no open session {session_id!r}; start one with POST /api/sessions")
        return session

    def _end(self, session: Session, reason: str) -> None:
        """Write the session's end record and forget it (the caller holds its lock)."""
        session.ended = True
        self._write(session, "end", turn=session.turn, reason=reason)
        with self._sessions_lock:
            self._sessions.pop(session.id, None)

    def _locked(self, session_id: str) -> Session:
        """The open session, its lock acquired (the caller releases it)."""
        session = self._session(session_id)
        session.lock.acquire()
        if session.ended:  # ended while this request waited for the lock
            session.lock.release()
            raise RequestError(404, "session", f"session {session_id!r} has ended")
        return session

    def message(self, session_id: str, text: str) -> dict[str, Any]:
        session = self._locked(session_id)
        try:
            if session.pending is not None:
                field, what = ("rating", "rating") if self.mode == "rate" else ("preferred", "choice")
                raise RequestError(409, field, f"the last reply awaits its {what} first")
            try:
                replies = (session.agent.reply(text),) if self.mode == "rate" else tuple(session.agent.reply_pair(text))
            except Exception as error:  # the agent is the user's code: report, write nothing
                raise RequestError(500, "agent", f"the agent failed to reply ({type(error).__name__}: {error})") from None
            session.user_text, session.pending = text, replies
            if self.mode == "rate":
                return {"reply": replies[0]}
            return {"reply_a": replies[0], "reply_b": replies[1]}
        finally:
            session.lock.release()

    def _pending(self, session: Session, field: str) -> tuple[str, ...]:
        """The reply (or pair) awaiting judgement; a 409 on ``field`` when there is none."""
        if session.pending is None:
            raise RequestError(409, field, "there is no reply to judge yet; send a message first")
        return session.pending

    def _after_turn(self, session: Session) -> bool:
        """Count the turn; end the session at the turn limit. Whether it ended."""
        session.turn += 1
        session.pending = None
        if session.turn >= self.max_turns:
            self._end(session, "turn_limit")
            return True
        return False

    def rate(self, session_id: str, rating: int) -> dict[str, Any]:
        if self.mode != "rate":
            raise RequestError(409, "rating", "this server compares replies; choose one with POST /api/prefer")
        session = self._locked(session_id)
        try:
            (reply,) = self._pending(session, "rating")
            self._write(session, "turn", turn=session.turn + 1, user_text=session.user_text, agent_text=reply,
                        rating=rating, reward=float(rating))
            ended = self._after_turn(session)
            return {"turn": session.turn, "ended": ended}
        finally:
            session.lock.release()

    def prefer(self, session_id: str, preferred: Literal["a", "b"]) -> dict[str, Any]:
        if self.mode != "compare":
            raise RequestError(409, "preferred", "this server rates replies; rate one with POST /api/rate")
        session = self._locked(session_id)
        try:
            reply_a, reply_b = self._pending(session, "preferred")
            try:
                session.agent.choose(preferred)
            except Exception as error:
                raise RequestError(500, "agent", f"the agent failed to keep reply {preferred} ({type(error).__name__}: {error})") from None
            self._write(session, "preference", turn=session.turn + 1, user_text=session.user_text,
                        reply_a=reply_a, reply_b=reply_b, preferred=preferred)
            ended = self._after_turn(session)
            return {"turn": session.turn, "reply": reply_a if preferred == "a" else reply_b, "ended": ended}
        finally:
            session.lock.release()

    def end(self, session_id: str) -> dict[str, Any]:
        session = self._locked(session_id)
        try:
            self._end(session, "user_quit")
            return {"turn": session.turn, "ended": True}
        finally:
            session.lock.release()

    def close(self) -> None:
        """End every open session (reason ``"interrupted"``) and close the log."""
        with self._sessions_lock:
            open_sessions = list(self._sessions.values())
        for session in open_sessions:
            with session.lock:
                if not session.ended:
                    self._end(session, "interrupted")
        self.log.close()


# -- the application ----------------------------------------------------------------------------


def create_app(server: ChatServer) -> FastAPI:
    """The HTTP routes and the page around ``server``; the server is closed when the app shuts down."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        server.close()

    app = FastAPI(title="dialog-envs serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.server = server

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Callable[[Request], Any]) -> Any:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return _error_response(413, "body", f"expected at most {MAX_BODY_BYTES} bytes")
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0]
        location = [str(part) for part in first.get("loc", ()) if part != "body"]
        if first.get("type") == "json_invalid" or not location:
            return _error_response(400, "body", "expected a JSON object")
        name = location[0]
        message = first.get("msg", "invalid")
        if first.get("type") == "extra_forbidden":
            message = "unknown field"
        elif first.get("type") == "string_pattern_mismatch":
            message = "expected some text, not only spaces"
        return _error_response(422, name, message)

    @app.exception_handler(RequestError)
    async def refused(_: Request, error: RequestError) -> JSONResponse:
        return _error_response(error.status, error.field, error.message)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # Plain ``def`` routes run in FastAPI's thread pool: an agent's reply never blocks other sessions.
    @app.post("/api/sessions")
    def open_session() -> dict[str, Any]:
        return server.open_session()

    @app.post("/api/message")
    def message(body: MessageRequest) -> dict[str, Any]:
        return server.message(body.session, body.text)

    @app.post("/api/rate")
    def rate(body: RateRequest) -> dict[str, Any]:
        return server.rate(body.session, body.rating)

    @app.post("/api/prefer")
    def prefer(body: PreferRequest) -> dict[str, Any]:
        return server.prefer(body.session, body.preferred)

    @app.post("/api/end")
    def end(body: SessionRequest) -> dict[str, Any]:
        return server.end(body.session)

    return app
