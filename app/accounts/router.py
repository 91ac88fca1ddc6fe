"""Routes: /v1/auth (register, login, refresh, logout), /v1/me (account, password, tokens,
coaches, invitations, athletes) and /v1/athletes/{athlete_id} (the athlete and their profile)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Header, Request, Response, status
from sqlmodel import Session

from app.accounts import grants, profile, sessions, tokens
from app.accounts import schemas as s
from app.accounts.deps import athlete_access, principal_with, recent_login_principal, session_principal
from app.accounts.service import AthleteAccess, Principal
from app.core import idempotency
from app.core.db import get_session, get_write_session, read
from app.core.errors import problem_responses
from app.core.pagination import Page, Paging, paginate

WriteSession = Annotated[Session, Depends(get_write_session)]
ReadSession = Annotated[Session, Depends(get_session)]
AUTH_ERRORS: dict[int | str, dict[str, Any]] = problem_responses(401, 403, 422)

auth = APIRouter(prefix="/v1/auth", tags=["auth"])
me = APIRouter(prefix="/v1/me", tags=["account"], responses=AUTH_ERRORS)
athletes = APIRouter(
    prefix="/v1/athletes/{athlete_id}", tags=["athletes"], responses=problem_responses(401, 403, 404, 422)
)


# ---------------------------------------------------------------- auth


@auth.post(
    "/register",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(422),
    summary="Create an account",
)
def register(
    request: Request,
    session: WriteSession,
    body: s.RegisterRequest,
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=255,
            description="Accepted, as on every creating POST; registration needs none: the email "
            "decides, so a retry never creates a second account and gets the same answer.",
        ),
    ] = None,
) -> s.RegistrationAccepted:
    """Create an account (athlete and, once invited, coach), then log in at /v1/auth/token.
    The answer is the same, in the same time, whether or not the email already had an
    account, so it tells no one who has one. Passwords are stored as argon2id hashes.
    Safe to retry: an email makes one account at most."""
    return sessions.register(session, request.app.state.settings, body)


class LoginForm:
    """The OAuth2 password grant's form fields (RFC 6749 section 4.3)."""

    def __init__(
        self,
        username: Annotated[str, Form(max_length=320, description="The account email.")],
        password: Annotated[str, Form(max_length=128, description="The account password.")],
        grant_type: Annotated[
            str | None, Form(pattern="^password$", description="`password` if sent (OAuth2 password grant).")
        ] = None,
        scope: Annotated[str, Form(max_length=500, description="Ignored: a login gets every scope.")] = "",
        client_id: Annotated[
            str | None, Form(max_length=200, description="Ignored; accepted for OAuth2 clients.")
        ] = None,
        client_secret: Annotated[
            str | None, Form(max_length=200, description="Ignored; accepted for OAuth2 clients.")
        ] = None,
        device_token: Annotated[
            str | None,
            Form(
                max_length=1000,
                description="The `device_token` from an earlier login to this account: failed guesses by "
                "others do not lock this client out.",
            ),
        ] = None,
    ) -> None:
        self.username = username
        self.password = password
        self.device_token = device_token


@auth.post("/token", responses=problem_responses(401, 422, 429), summary="Log in (OAuth2 password flow)")
def login(request: Request, session: WriteSession, form: Annotated[LoginForm, Depends()]) -> s.TokenPair:
    """Exchange email (`username`) and password for a 15-minute access token, a refresh token
    and a device token. Attempts are limited per client address, and per account unless the
    client sends its `device_token` from an earlier login (then per device): 429 with `Retry-After`."""
    client = request.client.host if request.client else "unknown"
    return sessions.login(session, request.app.state.settings, form.username, form.password, client, form.device_token)


@auth.post("/refresh", responses=problem_responses(401, 422), summary="Rotate a refresh token")
def refresh(request: Request, session: WriteSession, body: s.RefreshRequest) -> s.TokenPair:
    """A new pair for a refresh token, which is then used up. Presenting a used token again
    revokes the login: every refresh and access token descended from it."""
    return sessions.refresh(session, request.app.state.settings, body.refresh_token)


@auth.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(422), summary="Log out")
def logout(session: WriteSession, body: s.RefreshRequest) -> Response:
    """End the login: the refresh token, every token rotated from it, and their access tokens."""
    sessions.logout(session, body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- me


@me.get("", summary="Get my account")
async def get_me(
    session: ReadSession, principal: Annotated[Principal, Depends(principal_with("profile:read"))]
) -> s.UserPublic:
    """The caller's account: email, display name, units and time zone."""

    def mine() -> s.UserPublic:
        return s.UserPublic.model_validate(profile.get_user(session, principal.user_id))

    return await read(session, mine)


@me.patch("", summary="Change my account")
def update_me(
    session: WriteSession,
    principal: Annotated[Principal, Depends(principal_with("profile:write"))],
    body: s.UserUpdate,
) -> s.UserPublic:
    """Change the display name, preferred units (kg or lb) or time zone."""
    return s.UserPublic.model_validate(profile.update_user(session, principal.user_id, body))


@me.delete("", status_code=status.HTTP_204_NO_CONTENT, summary="Erase my account")
def delete_me(session: WriteSession, principal: Annotated[Principal, Depends(recent_login_principal)]) -> Response:
    """Erase the account and every record it owns, in one transaction. Needs a recent login."""
    profile.delete_user(session, principal.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@me.post(
    "/password",
    responses=problem_responses(401, 403, 422, 429),
    summary="Change my password",
)
def change_password(
    request: Request,
    session: WriteSession,
    principal: Annotated[Principal, Depends(session_principal)],
    body: s.PasswordChange,
) -> s.TokenPair:
    """Ends every login of the account (their refresh and access tokens) and answers with a
    new pair for this client. Personal access tokens stay: revoke them under /v1/me/tokens."""
    return sessions.change_password(session, request.app.state.settings, principal.user_id, body)


@me.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=s.TokenCreated,
    responses=problem_responses(400, 401, 403, 409, 422),
    summary="Create a token",
)
def create_token(
    request: Request,
    session: WriteSession,
    principal: Annotated[Principal, Depends(recent_login_principal)],
    body: s.TokenCreate,
    key: idempotency.KeyHeader = None,
) -> Response:
    """A personal access token for a coaching tool, limited to its scopes. The secret is shown
    once. Needs a recent login. A retry with the same `Idempotency-Key` answers with the same
    token and a new secret (the first one was never stored, and stops working)."""

    def work() -> tuple[int, s.TokenCreated, dict[str, str]]:
        return 201, tokens.create_token(session, principal.user_id, body), {}

    def replayed(stored: dict[str, Any]) -> dict[str, Any]:
        token = tokens.reissue_secret(session, principal.user_id, uuid.UUID(stored["id"]))
        return token.model_dump(mode="json")

    return idempotency.respond_once(
        request,
        session,
        principal.user_id,
        key,
        "me/tokens",
        body,
        work,
        never_kept="token",
        replayed=replayed,
    )


@me.get("/tokens", summary="List my tokens")
async def list_tokens(
    request: Request,
    response: Response,
    session: ReadSession,
    principal: Annotated[Principal, Depends(session_principal)],
    page: Paging,
) -> Page[s.TokenPublic]:
    """Oldest first. Secrets are never shown again; revoke a token you no longer need."""
    items, total = await read(session, tokens.list_tokens, session, principal.user_id, page)
    return paginate(request, response, page, items, total)


@me.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404),
    summary="Revoke a token",
)
def delete_token(
    session: WriteSession, principal: Annotated[Principal, Depends(session_principal)], token_id: uuid.UUID
) -> Response:
    """Revokes a personal access token at once; its next request gets 401."""
    tokens.delete_token(session, principal.user_id, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@me.post(
    "/coaches",
    status_code=status.HTTP_201_CREATED,
    response_model=s.GrantPublic,
    responses=problem_responses(400, 409),
    summary="Invite a coach",
)
def create_grant(
    request: Request,
    session: WriteSession,
    principal: Annotated[Principal, Depends(recent_login_principal)],
    body: s.GrantCreate,
    key: idempotency.KeyHeader = None,
) -> Response:
    """Invite a coach by email to read, or read and change, your data. The grant is `pending`
    until the account with that email accepts it (also if it registers later); the answer is
    the same whether or not the email has an account. Needs a recent login. A retry with the
    same `Idempotency-Key` answers with the invitation made the first time (without it, a
    second invitation to the same email is a 409)."""

    def work() -> tuple[int, s.GrantPublic, dict[str, str]]:
        return 201, grants.create_grant(session, principal.user_id, body), {}

    return idempotency.respond_once(request, session, principal.user_id, key, "me/coaches", body, work)


@me.get("/coaches", summary="List my coaches")
async def list_grants(
    request: Request,
    response: Response,
    session: ReadSession,
    principal: Annotated[Principal, Depends(session_principal)],
    page: Paging,
) -> Page[s.GrantPublic]:
    """Oldest grant first, pending invitations included."""
    items, total = await read(session, grants.list_grants, session, principal.user_id, page)
    return paginate(request, response, page, items, total)


@me.delete(
    "/coaches/{grant_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404),
    summary="Revoke a coach's access or invitation",
)
def revoke_grant(
    session: WriteSession, principal: Annotated[Principal, Depends(session_principal)], grant_id: uuid.UUID
) -> Response:
    """Takes effect on the coach's very next request."""
    grants.revoke_grant(session, principal.user_id, grant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@me.get("/athletes", summary="List the athletes I coach")
def list_athletes(
    request: Request,
    response: Response,
    session: ReadSession,
    principal: Annotated[Principal, Depends(principal_with("profile:read"))],
    page: Paging,
) -> Page[s.CoachedAthlete]:
    """By display name; only grants you accepted."""
    items, total = grants.list_coached(session, principal.user_id, page)
    return paginate(request, response, page, items, total)


@me.get("/invitations", summary="List invitations to coach")
def list_invitations(
    request: Request,
    response: Response,
    session: ReadSession,
    principal: Annotated[Principal, Depends(session_principal)],
    page: Paging,
) -> Page[s.InvitationPublic]:
    """Pending invitations to your account's email, oldest first."""
    items, total = grants.list_invitations(session, principal.user_id, page)
    return paginate(request, response, page, items, total)


@me.post(
    "/invitations/{invitation_id}/accept",
    responses=problem_responses(404),
    summary="Accept an invitation to coach",
)
def accept_invitation(
    session: WriteSession, principal: Annotated[Principal, Depends(session_principal)], invitation_id: uuid.UUID
) -> s.CoachedAthlete:
    """You get the access the athlete chose, at once; the athlete can revoke it at any time."""
    return grants.accept_invitation(session, principal.user_id, invitation_id)


@me.post(
    "/invitations/{invitation_id}/decline",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404),
    summary="Decline an invitation to coach",
)
def decline_invitation(
    session: WriteSession, principal: Annotated[Principal, Depends(session_principal)], invitation_id: uuid.UUID
) -> Response:
    """The invitation is deleted; the athlete sees it gone from their list."""
    grants.decline_invitation(session, principal.user_id, invitation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- athletes


@athletes.get("", summary="Get an athlete")
def get_athlete(
    session: ReadSession, access: Annotated[AthleteAccess, Depends(athlete_access("profile:read", reads_next=True))]
) -> s.AthletePublic:
    """The display name, units and time zone of an athlete the caller may see (themselves, or as coach)."""
    return profile.get_athlete(session, access)


@athletes.get("/profile", summary="Get an athlete's profile")
def get_profile(
    session: ReadSession, access: Annotated[AthleteAccess, Depends(athlete_access("profile:read", reads_next=True))]
) -> s.ProfilePublic:
    """What the plan engine reads: experience, running, goal race, equipment, injuries and Achilles pain."""
    return profile.get_profile(session, access.athlete_id)


@athletes.patch("/profile", summary="Change an athlete's profile")
def update_profile(
    session: WriteSession,
    access: Annotated[AthleteAccess, Depends(athlete_access("profile:write"))],
    body: s.ProfileUpdate,
) -> s.ProfilePublic:
    """Fields left out stay as they are; `null` clears one. Equipment and injuries are catalogue slugs."""
    return profile.update_profile(session, access.athlete_id, body)
