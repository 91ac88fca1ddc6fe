"""Two refreshes with one refresh token at the same moment (a phone that retries, two
tabs) against a live server on a real database: both succeed with the same new pair and
the athlete stays logged in, at the OAuth2 token endpoint (the first-party app, through
authlib's client) and at the old /v1/auth/refresh alike."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from authlib.integrations.httpx_client import OAuth2Client

from tests import web
from tests.conftest import PASSWORD
from tests.servers import Server

ROUNDS = 4


def account(base: str) -> str:
    email = f"phone-{secrets.token_hex(4)}@example.com"
    assert web.post(f"{base}/v1/auth/register", json={"email": email, "password": PASSWORD}).status_code == 202
    return email


def twice_at_once(call: Callable[[], dict[str, Any]]) -> list[dict[str, Any]]:
    barrier = threading.Barrier(2)

    def run() -> dict[str, Any]:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(2) as pool:
        return [f.result(timeout=120) for f in [pool.submit(run), pool.submit(run)]]


def test_concurrent_refreshes_at_the_token_endpoint_give_one_pair(shared_server: Server) -> None:
    base = shared_server.url
    email = account(base)
    phone = OAuth2Client(client_id="runstrong", token_endpoint_auth_method="none", timeout=60)
    token = phone.fetch_token(f"{base}/oauth/token", username=email, password=PASSWORD)
    for _ in range(ROUNDS):
        current = token["refresh_token"]

        def refresh(current: str = current) -> dict[str, Any]:
            client = OAuth2Client(client_id="runstrong", token_endpoint_auth_method="none", timeout=60)
            result: dict[str, Any] = client.refresh_token(f"{base}/oauth/token", refresh_token=current)
            return result

        one, two = twice_at_once(refresh)
        assert (one["access_token"], one["refresh_token"]) == (two["access_token"], two["refresh_token"])
        assert one["refresh_token"] != current
        me = web.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {one['access_token']}"})
        assert me.status_code == 200, me.text
        token = one


def test_concurrent_refreshes_at_the_old_endpoint_keep_the_user_logged_in(shared_server: Server) -> None:
    base = shared_server.url
    email = account(base)
    pair = web.post(f"{base}/v1/auth/token", data={"username": email, "password": PASSWORD}).json()
    for _ in range(ROUNDS):
        current = pair["refresh_token"]

        def refresh(current: str = current) -> dict[str, Any]:
            answer = web.post(f"{base}/v1/auth/refresh", json={"refresh_token": current}, timeout=60)
            assert answer.status_code == 200, answer.text
            result: dict[str, Any] = answer.json()
            return result

        one, two = twice_at_once(refresh)
        assert (one["access_token"], one["refresh_token"]) == (two["access_token"], two["refresh_token"])
        assert web.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {one['access_token']}"}).is_success
        pair = one
