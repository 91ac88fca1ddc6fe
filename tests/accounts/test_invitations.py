"""Coach grants are invitations: the answer never tells whether the email has an account,
and only the account with that email, now or once it registers, can accept."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.conftest import PASSWORD, Athlete, register


def invite(client: TestClient, athlete: Athlete, email: str, access: str = "read") -> dict[str, object]:
    made = client.post("/v1/me/coaches", headers=athlete.headers, json={"coach_email": email, "access": access})
    assert made.status_code == 201, made.text
    body: dict[str, object] = made.json()
    return body


def test_inviting_answers_the_same_whether_or_not_the_email_has_an_account(client: TestClient) -> None:
    athlete, coach = register(client, "athlete"), register(client, "coach")
    unknown = f"ghost-{uuid.uuid4().hex[:8]}@example.com"
    known, ghost = invite(client, athlete, coach.email), invite(client, athlete, unknown)
    volatile = {"id", "coach_email", "created_at"}
    assert {k: v for k, v in known.items() if k not in volatile} == {
        k: v for k, v in ghost.items() if k not in volatile
    }
    assert known["status"] == "pending" and known["coach"] is None and known["accepted_at"] is None
    listed = client.get("/v1/me/coaches", headers=athlete.headers).json()["items"]
    assert [(g["coach_email"], g["status"], g["coach"]) for g in listed] == [
        (coach.email, "pending", None),
        (unknown, "pending", None),
    ]


def test_the_invited_coach_lists_accepts_or_declines(client: TestClient) -> None:
    athlete, other, coach = register(client, "athlete"), register(client, "other"), register(client, "coach")
    first = invite(client, athlete, coach.email, "write")
    second = invite(client, other, coach.email.upper())
    listed = client.get("/v1/me/invitations", headers=coach.headers).json()["items"]
    assert [(i["athlete"]["display_name"], i["access"]) for i in listed] == [("athlete", "write"), ("other", "read")]
    # Nobody else can see, accept or decline them.
    assert client.get("/v1/me/invitations", headers=other.headers).json()["items"] == []
    assert client.post(f"/v1/me/invitations/{first['id']}/accept", headers=other.headers).status_code == 404
    assert client.post(f"/v1/me/invitations/{first['id']}/decline", headers=athlete.headers).status_code == 404

    accepted = client.post(f"/v1/me/invitations/{first['id']}/accept", headers=coach.headers)
    assert accepted.status_code == 200 and accepted.json()["access"] == "write"
    assert client.post(f"/v1/me/invitations/{first['id']}/accept", headers=coach.headers).status_code == 404
    assert (
        client.patch(
            f"/v1/athletes/{athlete.id}/profile", headers=coach.headers, json={"weekly_distance_km": 30.0}
        ).status_code
        == 200
    )
    grant = client.get("/v1/me/coaches", headers=athlete.headers).json()["items"][0]
    assert grant["status"] == "active" and grant["coach"]["id"] == coach.id and grant["accepted_at"]

    assert client.post(f"/v1/me/invitations/{second['id']}/decline", headers=coach.headers).status_code == 204
    assert client.get("/v1/me/coaches", headers=other.headers).json()["items"] == []
    assert client.get(f"/v1/athletes/{other.id}", headers=coach.headers).status_code == 404
    assert client.get("/v1/me/invitations", headers=coach.headers).json()["items"] == []
    coached = client.get("/v1/me/athletes", headers=coach.headers).json()["items"]
    assert [c["athlete"]["id"] for c in coached] == [athlete.id]


def test_an_email_that_registers_later_can_accept(client: TestClient) -> None:
    athlete = register(client, "athlete")
    email = f"later-{uuid.uuid4().hex[:8]}@example.com"
    invitation = invite(client, athlete, email)
    assert client.post("/v1/auth/register", json={"email": email, "password": PASSWORD}).status_code == 202
    tokens = client.post("/v1/auth/token", data={"username": email, "password": PASSWORD}).json()
    coach = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert [i["id"] for i in client.get("/v1/me/invitations", headers=coach).json()["items"]] == [invitation["id"]]
    assert client.post(f"/v1/me/invitations/{invitation['id']}/accept", headers=coach).status_code == 200
    assert client.get(f"/v1/athletes/{athlete.id}/profile", headers=coach).status_code == 200


def test_withdrawn_invitations_cannot_be_accepted(client: TestClient) -> None:
    athlete, coach = register(client, "athlete"), register(client, "coach")
    invitation = invite(client, athlete, coach.email)
    assert client.delete(f"/v1/me/coaches/{invitation['id']}", headers=athlete.headers).status_code == 204
    assert client.post(f"/v1/me/invitations/{invitation['id']}/accept", headers=coach.headers).status_code == 404
    assert client.get(f"/v1/athletes/{athlete.id}", headers=coach.headers).status_code == 404


def test_invitation_routes_need_a_login_session(client: TestClient) -> None:
    athlete, coach = register(client, "athlete"), register(client, "coach")
    invitation = invite(client, athlete, coach.email)
    made = client.post(
        "/v1/me/tokens", headers=coach.headers, json={"name": "tool", "scopes": ["profile:read", "profile:write"]}
    )
    pat = {"Authorization": f"Bearer {made.json()['token']}"}
    routes = [
        ("GET", "/v1/me/invitations"),
        ("POST", f"/v1/me/invitations/{invitation['id']}/accept"),
        ("POST", f"/v1/me/invitations/{invitation['id']}/decline"),
    ]
    for method, path in routes:
        assert client.request(method, path).status_code == 401, path
        assert client.request(method, path, headers=pat).status_code == 403, path
    assert client.get("/v1/me/invitations", headers=coach.headers).json()["items"][0]["id"] == invitation["id"]
