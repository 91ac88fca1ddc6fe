"""The consent page in headless Chromium, as an athlete meets it: a live server, a real
browser filling the form and clicking Allow, and the app's redirect URI (a small HTTP
server here) receiving the code, which the app then exchanges.

Chromium comes from Debian's packages (`apt-get install chromium`); CI sets
RUNSTRONG_REQUIRE_CHROMIUM=1, so there a missing browser fails instead of skipping.
The browser is driven over the DevTools protocol (a WebSocket, with `websockets`)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from websockets.sync.client import ClientConnection, connect

from tests import web
from tests.browser import chromium
from tests.conftest import PASSWORD
from tests.servers import Server, free_port


class Callback(BaseHTTPRequestHandler):
    received: list[str] = []

    def do_GET(self) -> None:
        Callback.received.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<p>Connected.</p>")

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def callback() -> Iterator[str]:
    """The app's redirect URI: a server on a loopback port recording what reaches it."""
    Callback.received = []
    server = HTTPServer(("127.0.0.1", free_port()), Callback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/callback"
    finally:
        server.shutdown()
        server.server_close()


class Browser:
    """One headless Chromium page, driven by DevTools commands."""

    def __init__(self, tmp: Path) -> None:
        profile = tmp / "profile"
        self.process = subprocess.Popen(
            [
                *chromium(profile, "the consent page check"),
                "--remote-debugging-port=0",
                "--window-size=412,900",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 90
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise AssertionError("Chromium did not start")
            time.sleep(0.1)
        port = port_file.read_text().split("\n")[0]
        pages = [t for t in web.get(f"http://127.0.0.1:{port}/json/list").json() if t["type"] == "page"]
        self.socket: ClientConnection = connect(pages[0]["webSocketDebuggerUrl"], max_size=None)
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        self.send("Page.enable")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == ident:
                assert "error" not in message, message
                result: dict[str, Any] = message["result"]
                return result
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {event}"
            self.events.append(json.loads(self.socket.recv(timeout=remaining)))
        self.events.clear()

    def open(self, url: str) -> None:
        self.events.clear()
        self.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def js(self, expression: str) -> Any:
        return self.send("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def close(self) -> None:
        if hasattr(self, "socket"):
            self.socket.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    opened = Browser(tmp_path)
    try:
        yield opened
    finally:
        opened.close()


def test_an_athlete_allows_an_app_in_the_browser(shared_server: Server, callback: str, browser: Browser) -> None:
    base = shared_server.url
    http = web.client(base_url=base, timeout=60)
    emails = {}
    tokens = {}
    for name in ("developer", "athlete"):
        emails[name] = f"{name}-{secrets.token_hex(4)}@example.com"
        assert http.post("/v1/auth/register", json={"email": emails[name], "password": PASSWORD}).status_code == 202
        login = http.post("/v1/auth/token", data={"username": emails[name], "password": PASSWORD})
        tokens[name] = login.json()["access_token"]
    app = http.post(
        "/v1/me/apps",
        headers={"Authorization": f"Bearer {tokens['developer']}"},
        json={"name": "Browser Coach", "redirect_uris": [callback], "client_type": "public"},
    ).json()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": callback,
        "scope": "training:read plans:read",
        "state": "s-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }

    browser.open(f"{base}/oauth/authorize?{urlencode(params)}")
    assert browser.js("document.querySelector('#app-name').textContent") == "Browser Coach"
    shown = browser.js("[...document.querySelectorAll('#scopes strong')].map(e => e.textContent)")
    assert shown == ["plans:read", "training:read"]
    assert browser.js("document.querySelector('#allow').getBoundingClientRect().width") > 40, "Allow is not shown"
    browser.events.clear()
    browser.js(
        f"document.querySelector('#email').value = {json.dumps(emails['athlete'])};"
        f"document.querySelector('#password').value = {json.dumps(PASSWORD)};"
        "document.querySelector('#allow').click();"
    )
    browser.wait_for("Page.loadEventFired")
    landed = browser.js("location.href")
    assert landed.startswith(callback + "?"), landed
    assert Callback.received and Callback.received[0].startswith("/callback?")
    answer = {k: v[0] for k, v in parse_qs(urlsplit(landed).query).items()}
    assert answer["state"] == "s-123" and "code" in answer

    token = http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": callback,
            "client_id": app["client_id"],
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "plans:read training:read"
