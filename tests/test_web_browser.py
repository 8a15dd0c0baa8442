"""``dialog-envs serve`` end to end in a real browser: headless Chromium, driven by Selenium, types
a message, sees the reply, rates it (or picks reply b) and the record is in the feedback log.

Skipped, with one reason, without Chromium, chromedriver, Selenium or uvicorn, unless
``DIALOG_ENVS_REQUIRE_BROWSER=1`` (CI sets it), which turns the skip into a failure. With
``DIALOG_ENVS_SCREENSHOT=docs/images/serve.png`` the rating test saves the page as that PNG (the
picture of docs/serve.md).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from dialog_envs.feedback import read_feedback_log
from tests.chat_agents import EchoAgent, ShoutAgent

pytestmark = pytest.mark.browser
CHROMIUM = ("chromium", "chromium-browser")
CHROMEDRIVER = ("chromedriver",)


def _find(names: tuple[str, ...]) -> str | None:
    return next((found for name in names if (found := shutil.which(name) or shutil.which(name, path="/usr/lib/chromium"))), None)


def _missing() -> str | None:
    """What the browser tests lack, or None."""
    missing = [name for name in ("selenium", "uvicorn", "fastapi") if importlib.util.find_spec(name) is None]
    if _find(CHROMIUM) is None:
        missing.append("chromium")
    if _find(CHROMEDRIVER) is None:
        missing.append("chromedriver")
    if not missing:
        return None
    return f"browser tests need {', '.join(missing)} (apt-get install chromium chromium-driver; pip install selenium uvicorn fastapi)"


def _need_browser() -> None:
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("DIALOG_ENVS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"DIALOG_ENVS_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(log: Path, mode: str) -> Iterator[str]:
    """A real uvicorn server on a free port in a thread; yields its URL, stops it afterwards."""
    import uvicorn

    from dialog_envs.web.app import ChatServer, TwoAgents, create_app

    if mode == "compare":
        server = ChatServer(lambda: TwoAgents(EchoAgent(), ShoutAgent()), log, mode="compare", agent_name="echo vs shout")
    else:
        server = ChatServer(EchoAgent, log, agent_name="echo")
    port = _free_port()
    web = uvicorn.Server(uvicorn.Config(create_app(server), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not web.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        web.should_exit = True
        thread.join(timeout=20)


@pytest.fixture
def browser() -> Iterator[Any]:
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _find(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=900,700"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(_find(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver: Any, by: str, value: str) -> Any:
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 20).until(expected_conditions.element_to_be_clickable((by, value)))


def _wait_for_records(log: Path, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while True:
        records = read_feedback_log(log) if log.exists() else []
        if len(records) >= count or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


def _say(driver: Any, text: str) -> None:
    from selenium.webdriver.common.by import By

    _wait(driver, By.ID, "message").send_keys(text)
    _wait(driver, By.ID, "send").click()


def test_a_person_rates_a_reply_in_the_browser(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    log = tmp_path / "feedback.jsonl"
    with serve(log, "rate") as url:
        browser.get(url)
        _say(browser, "where is my parcel?")
        _wait(browser, By.ID, "rate-4")
        assert browser.find_elements(By.CSS_SELECTOR, ".turn.agent")[-1].text == "echo 1: where is my parcel?"
        browser.find_element(By.ID, "rate-4").click()
        (record,) = _wait_for_records(log, 1)
        assert (record["event"], record["user_text"], record["agent_text"], record["rating"]) == (
            "turn", "where is my parcel?", "echo 1: where is my parcel?", 4)
        _say(browser, "thanks, bye")
        _wait(browser, By.ID, "rate-5").click()
        _wait_for_records(log, 2)
        if os.environ.get("DIALOG_ENVS_SCREENSHOT"):
            _say(browser, "one more question")
            _wait(browser, By.ID, "rate-5")
            browser.save_screenshot(os.environ["DIALOG_ENVS_SCREENSHOT"])
            browser.find_element(By.ID, "rate-3").click()
            _wait_for_records(log, 3)
        rated = len(read_feedback_log(log))
        _wait(browser, By.ID, "end").click()
        _wait(browser, By.ID, "restart")
        records = _wait_for_records(log, rated + 1)
        assert len(records) == rated + 1
        assert records[-1]["event"] == "end" and records[-1]["reason"] == "user_quit"
        assert records[-1]["session"] == record["session"]


def test_a_person_prefers_reply_b_in_the_browser(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    log = tmp_path / "feedback.jsonl"
    with serve(log, "compare") as url:
        browser.get(url)
        _say(browser, "hello there")
        _wait(browser, By.ID, "choose-b")
        assert browser.find_element(By.ID, "reply-a").text == "echo 1: hello there"
        assert browser.find_element(By.ID, "reply-b").text == "SHOUT 1: hello there"
        browser.find_element(By.ID, "choose-b").click()
        (record,) = _wait_for_records(log, 1)
        assert (record["event"], record["user_text"], record["reply_a"], record["reply_b"], record["preferred"]) == (
            "preference", "hello there", "echo 1: hello there", "SHOUT 1: hello there", "b")
        _wait(browser, By.ID, "message")  # the composer is back
        assert browser.find_elements(By.CSS_SELECTOR, ".turn.agent")[-1].text == "SHOUT 1: hello there"


def test_without_a_browser_the_tests_skip_with_one_reason_unless_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    monkeypatch.delenv("DIALOG_ENVS_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="browser tests need chromium, chromedriver"):
        _need_browser()
    monkeypatch.setenv("DIALOG_ENVS_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="DIALOG_ENVS_REQUIRE_BROWSER=1 but browser tests need chromium"):
        _need_browser()
