"""Feed links: a token in the query string opens one chart or one plan's calendar, without
an Authorization header, and nothing else; revoked or expired links are refused; the token
never reaches a log line."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.accounts.models import utcnow
from app.feeds.models import Feed
from tests import web
from tests.conftest import Athlete, register
from tests.servers import account_on, start_server


def make_feed(client: TestClient, who: Athlete, **body: object) -> dict[str, str]:
    made = client.post("/v1/me/feeds", headers=who.headers, json=body)
    assert made.status_code == 201, made.text
    return dict(made.json())


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_a_feed_link_opens_its_one_resource_without_authorization(client: TestClient) -> None:
    athlete = register(client, "feeds")
    load = make_feed(client, athlete, resource="load.svg")
    assert load["url"].startswith("http://testserver/v1/feeds/load.svg?token=rs_feed_")
    chart = client.get(path_of(load["url"]))
    assert chart.status_code == 200
    assert chart.headers["content-type"].startswith("image/svg+xml")
    assert chart.headers["referrer-policy"] == "no-referrer"
    token = load["url"].split("token=")[1]
    # The token grants that one resource: not another chart, not the API.
    assert client.get(f"/v1/feeds/progress.svg?token={token}").status_code == 404
    assert client.get(f"/v1/feeds/plan.ics?token={token}").status_code == 404
    assert client.get("/v1/athletes/me/load", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.get(f"/v1/athletes/{athlete.id}/load?token={token}").status_code == 401
    assert client.get("/v1/feeds/load.svg?token=rs_feed_madeup").status_code == 404
    assert client.get("/v1/feeds/load.svg").status_code == 422

    plan = client.post(
        "/v1/athletes/me/plans", headers=athlete.headers, json={"kind": "achilles", "start_date": "2026-11-23"}
    ).json()
    ics = make_feed(client, athlete, resource="plan.ics", plan_id=plan["id"])
    calendar = client.get(path_of(ics["url"]))
    assert calendar.status_code == 200
    assert calendar.headers["content-type"].startswith("text/calendar")
    assert b"BEGIN:VEVENT" in calendar.content
    listed = client.get("/v1/me/feeds", headers=athlete.headers).json()["items"]
    assert {f["resource"] for f in listed} == {"load.svg", "plan.ics"}
    assert all("url" not in f for f in listed)


def test_a_plan_link_needs_one_of_the_athletes_plans_and_the_scope(client: TestClient) -> None:
    athlete, other = register(client, "owner"), register(client, "other")
    plan = client.post(
        "/v1/athletes/me/plans", headers=athlete.headers, json={"kind": "achilles", "start_date": "2026-11-23"}
    ).json()
    refused = client.post("/v1/me/feeds", headers=other.headers, json={"resource": "plan.ics", "plan_id": plan["id"]})
    assert refused.status_code == 422
    made = client.post(
        "/v1/me/tokens", headers=athlete.headers, json={"name": "charts", "scopes": ["training:read"]}
    ).json()
    pat = {"Authorization": f"Bearer {made['token']}"}
    no_scope = client.post("/v1/me/feeds", headers=pat, json={"resource": "plan.ics", "plan_id": plan["id"]})
    assert no_scope.status_code == 403
    assert "plans:read" in no_scope.json()["detail"]
    assert client.post("/v1/me/feeds", headers=pat, json={"resource": "progress.svg"}).status_code == 201
    other_athlete = client.post(
        "/v1/me/feeds", headers=other.headers, json={"resource": "load.svg", "athlete_id": athlete.id}
    )
    assert other_athlete.status_code == 404


def test_revoked_and_expired_links_are_refused(client: TestClient, db_session: Session) -> None:
    athlete = register(client, "revoke")
    first, second = (make_feed(client, athlete, resource="progress.svg") for _ in range(2))
    assert client.get(path_of(first["url"])).status_code == 200
    assert client.delete(f"/v1/me/feeds/{first['id']}", headers=register(client, "x").headers).status_code == 404
    assert client.delete(f"/v1/me/feeds/{first['id']}", headers=athlete.headers).status_code == 204
    assert client.get(path_of(first["url"])).status_code == 404
    stored = db_session.exec(select(Feed).where(Feed.id == uuid.UUID(second["id"]))).one()
    stored.expires_at = utcnow() - timedelta(seconds=1)
    db_session.flush()
    assert client.get(path_of(second["url"])).status_code == 404


def test_a_coachs_link_stops_with_the_grant(client: TestClient) -> None:
    athlete, coach = register(client, "athlete"), register(client, "coach")
    made = client.post("/v1/me/coaches", headers=athlete.headers, json={"coach_email": coach.email, "access": "read"})
    invitation = client.get("/v1/me/invitations", headers=coach.headers).json()["items"][0]
    client.post(f"/v1/me/invitations/{invitation['id']}/accept", headers=coach.headers)
    link = make_feed(client, coach, resource="load.svg", athlete_id=athlete.id)
    assert client.get(path_of(link["url"])).status_code == 200
    assert client.delete(f"/v1/me/coaches/{made.json()['id']}", headers=athlete.headers).status_code == 204
    assert client.get(path_of(link["url"])).status_code == 404


def test_the_token_never_reaches_the_logs(database_url: str, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with start_server(database_url, log_path=log, env={"RUNSTRONG_REQUEST_TIMEOUT_S": "300"}) as server:
        athlete = account_on(database_url, "logged")
        made = web.post(f"{server.url}/v1/me/feeds", headers=athlete.headers, json={"resource": "load.svg"})
        assert made.status_code == 201, made.text
        url = server.url + path_of(made.json()["url"])
        token = url.split("token=")[1]
        assert web.get(url, timeout=60).status_code == 200
        assert web.get(url + "&threshold=oops", timeout=60).status_code == 422
        assert web.get(url.replace("load.svg", "progress.svg"), timeout=60).status_code == 404
        assert web.get(f"{server.url}/v1/nowhere?token={token}", timeout=60).status_code == 404
    lines = server.log_lines()
    assert any("/v1/feeds/load.svg" in line for line in lines)  # the requests were logged...
    assert not [line for line in lines if token in line or token[8:20] in line]  # ...without the token
