"""Routes: /v1/auth (login, refresh, logout), /v1/me (account, tokens, coaches, athletes)
and /v1/athletes/{athlete_id} (the athlete and their profile)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response, status
from sqlmodel import Session

from app.accounts import schemas as s
from app.accounts import service
from app.accounts.deps import athlete_access, principal_with, session_principal
from app.accounts.service import AthleteAccess, Principal
from app.core.db import get_session, get_write_session
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
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409, 422),
    summary="Create an account",
)
def register(request: Request, session: WriteSession, body: s.RegisterRequest) -> s.UserPublic:
    """Create an account (athlete and, once granted access, coach). Passwords are stored as argon2id hashes."""
    return s.UserPublic.model_validate(service.register(session, request.app.state.settings, body))


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
    ) -> None:
        self.username = username
        self.password = password


@auth.post("/token", responses=problem_responses(401, 422, 429), summary="Log in (OAuth2 password flow)")
def login(request: Request, session: WriteSession, form: Annotated[LoginForm, Depends()]) -> s.TokenPair:
    """Exchange email (`username`) and password for a 15-minute access token and a refresh token.
    Attempts are limited per account and per client address (429 with `Retry-After`)."""
    client = request.client.host if request.client else "unknown"
    return service.login(session, request.app.state.settings, form.username, form.password, client)


@auth.post("/refresh", responses=problem_responses(401, 422), summary="Rotate a refresh token")
def refresh(request: Request, session: WriteSession, body: s.RefreshRequest) -> s.TokenPair:
    """A new pair for a refresh token, which is then used up. Presenting a used token again
    revokes every token descended from the same login."""
    return service.refresh(session, request.app.state.settings, body.refresh_token)


@auth.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(422), summary="Log out")
def logout(session: WriteSession, body: s.RefreshRequest) -> Response:
    """Revoke the refresh token and every token rotated from the same login."""
    service.logout(session, body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- me


@me.get("", summary="Get my account")
def get_me(
    session: ReadSession, principal: Annotated[Principal, Depends(principal_with("profile:read"))]
) -> s.UserPublic:
    return s.UserPublic.model_validate(service.get_user(session, principal.user_id))


@me.patch("", summary="Change my account")
def update_me(
    session: WriteSession,
    principal: Annotated[Principal, Depends(principal_with("profile:write"))],
    body: s.UserUpdate,
) -> s.UserPublic:
    """Change the display name, preferred units (kg or lb) or time zone."""
    return s.UserPublic.model_validate(service.update_user(session, principal.user_id, body))


@me.delete("", status_code=status.HTTP_204_NO_CONTENT, summary="Erase my account")
def delete_me(session: WriteSession, principal: Annotated[Principal, Depends(session_principal)]) -> Response:
    """Erase the account and every record it owns, in one transaction. Needs a login session."""
    service.delete_user(session, principal.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@me.post(
    "/tokens", status_code=status.HTTP_201_CREATED, responses=problem_responses(401, 403, 422), summary="Create a token"
)
def create_token(
    session: WriteSession, principal: Annotated[Principal, Depends(session_principal)], body: s.TokenCreate
) -> s.TokenCreated:
    """A personal access token for a coaching tool, limited to its scopes. The secret is shown once."""
    return service.create_token(session, principal.user_id, body)


@me.get("/tokens", summary="List my tokens")
def list_tokens(
    request: Request,
    response: Response,
    session: ReadSession,
    principal: Annotated[Principal, Depends(session_principal)],
    page: Paging,
) -> Page[s.TokenPublic]:
    """Oldest first. Secrets are never shown again; revoke a token you no longer need."""
    items, total = service.list_tokens(session, principal.user_id, page)
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
    service.delete_token(session, principal.user_id, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@me.post(
    "/coaches",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404, 409),
    summary="Grant a coach access",
)
def create_grant(
    session: WriteSession, principal: Annotated[Principal, Depends(session_principal)], body: s.GrantCreate
) -> s.GrantPublic:
    """Let a coach (by account email) read, or read and change, your data."""
    return service.create_grant(session, principal.user_id, body)


@me.get("/coaches", summary="List my coaches")
def list_grants(
    request: Request,
    response: Response,
    session: ReadSession,
    principal: Annotated[Principal, Depends(session_principal)],
    page: Paging,
) -> Page[s.GrantPublic]:
    """Oldest grant first."""
    items, total = service.list_grants(session, principal.user_id, page)
    return paginate(request, response, page, items, total)


@me.delete(
    "/coaches/{grant_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404),
    summary="Revoke a coach's access",
)
def revoke_grant(
    session: WriteSession, principal: Annotated[Principal, Depends(session_principal)], grant_id: uuid.UUID
) -> Response:
    """Takes effect on the coach's very next request."""
    service.revoke_grant(session, principal.user_id, grant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@me.get("/athletes", summary="List the athletes I coach")
def list_athletes(
    request: Request,
    response: Response,
    session: ReadSession,
    principal: Annotated[Principal, Depends(principal_with("profile:read"))],
    page: Paging,
) -> Page[s.CoachedAthlete]:
    """By display name."""
    items, total = service.list_coached(session, principal.user_id, page)
    return paginate(request, response, page, items, total)


# ---------------------------------------------------------------- athletes


@athletes.get("", summary="Get an athlete")
def get_athlete(
    session: ReadSession, access: Annotated[AthleteAccess, Depends(athlete_access("profile:read"))]
) -> s.AthletePublic:
    return service.get_athlete(session, access)


@athletes.get("/profile", summary="Get an athlete's profile")
def get_profile(
    session: ReadSession, access: Annotated[AthleteAccess, Depends(athlete_access("profile:read"))]
) -> s.ProfilePublic:
    """What the plan engine reads: experience, running, goal race, equipment, injuries and Achilles pain."""
    return service.get_profile(session, access.athlete_id)


@athletes.patch("/profile", summary="Change an athlete's profile")
def update_profile(
    session: WriteSession,
    access: Annotated[AthleteAccess, Depends(athlete_access("profile:write"))],
    body: s.ProfileUpdate,
) -> s.ProfilePublic:
    """Fields left out stay as they are; `null` clears one. Equipment and injuries are catalogue slugs."""
    return service.update_profile(session, access.athlete_id, body)
