"""With a password, every page asks for it: unauthenticated requests are refused."""

from __future__ import annotations

import http.client
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from _browser import Served, screenshot
from playwright.sync_api import expect

from workbench.ui._auth import PASSWORD_ENV

pytestmark = [pytest.mark.ui, pytest.mark.slow]
expect.set_options(timeout=30_000)  # a loaded CI machine renders slowly; waits end early
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def protected(ui_store: dict[str, Any]) -> Iterator[Served]:
    server = Served(ui_store["path"], env={PASSWORD_ENV: PASSWORD})
    try:
        server.wait_ready("/login")
        yield server
    finally:
        server.stop()


class Answer:
    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = response.headers
        self.body = response.read().decode(errors="replace")

    def getheader(self, name: str, default: str = "") -> str:
        return str(self.headers.get(name, default))


def request(
    served: Served, method: str, path: str, body: str | None = None, headers: Any = None
) -> Answer:
    """One request without following redirects, on a connection closed afterwards."""
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        return Answer(connection.getresponse())
    finally:
        connection.close()


@pytest.mark.parametrize("path", ["/", "/?page=runs", "/?page=models&model=churn-model"])
def test_unauthenticated_requests_are_sent_to_the_login_page(protected: Served, path: str) -> None:
    response = request(protected, "GET", path)
    assert response.status == 302
    assert response.getheader("Location").lstrip(".").startswith("/login?next=")
    assert "churn" not in response.body


def test_the_websocket_refuses_unauthenticated_sessions(protected: Served) -> None:
    response = request(
        protected,
        "GET",
        "/ws",
        headers={
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Origin": protected.url,
        },
    )
    assert response.status in (302, 401, 403)


def test_a_wrong_password_is_refused(protected: Served) -> None:
    form = urllib.parse.urlencode({"username": "me", "password": "not it"})
    response = request(
        protected,
        "POST",
        "/login",
        body=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 302 and "error=" in response.getheader("Location", "")
    assert "user=" not in response.getheader("Set-Cookie")


def test_logging_in_opens_the_dashboard(browser: Any, protected: Served) -> None:
    tab = browser.new_page(viewport={"width": 1400, "height": 900})
    outside: list[str] = []
    tab.on(
        "request",
        lambda r: (
            outside.append(r.url)
            if not r.url.startswith(("http://127.0.0.1", "blob:http://127.0.0.1", "data:"))
            else None
        ),
    )
    tab.goto(protected.url + "/?page=runs")
    expect(tab.locator("input[name=password]")).to_be_visible()
    screenshot(tab, "login")
    tab.fill("input[name=username]", "stakeholder")
    tab.fill("input[name=password]", PASSWORD)
    tab.click("button[type=submit]")
    expect(tab.locator(".tabulator-row").first).to_be_visible(timeout=30_000)
    assert not outside, outside[:5]
    tab.close()
