"""Routes: the OAuth2 endpoints (/oauth/authorize, /oauth/token, /oauth/revoke and the
RFC 8414 metadata), developers' apps (/v1/me/apps) and an athlete's connected apps
(/v1/me/connected-apps). The token and revocation endpoints answer RFC 6749 error bodies;
everything else answers RFC 9457 problems (the consent page answers HTML)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from authlib.oauth2 import OAuth2Error
from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.accounts import security, sessions
from app.accounts.deps import recent_login_principal, session_principal
from app.accounts.service import Principal
from app.core import idempotency
from app.core.config import Settings
from app.core.db import get_session, get_write_session
from app.core.errors import TooManyRequests, Unauthorized, problem_responses
from app.core.headers import sends
from app.core.pagination import Page, Paging, paginate
from app.oauth import apps, consent
from app.oauth import schemas as s
from app.oauth.server import AUTH_METHODS, FIRST_PARTY, Client, Server, StarletteOAuth2Request, load_client

WriteSession = Annotated[Session, Depends(get_write_session)]
ReadSession = Annotated[Session, Depends(get_session)]
Headers = list[tuple[str, str]]

router = APIRouter(tags=["oauth"])
me = APIRouter(prefix="/v1/me", tags=["apps"], responses=problem_responses(401, 403, 422))

OAUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": s.OAuthError, "description": "RFC 6749 error (`invalid_grant`, `invalid_request`, ...)."},
    401: {"model": s.OAuthError, "description": "`invalid_client`: the client failed to authenticate."},
    429: {"model": s.OAuthError, "description": "`slow_down`: too many password attempts; see `Retry-After`."},
}
HTML = {"text/html": {"schema": {"type": "string"}}}


def _form_body(fields: dict[str, str], required: list[str]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {name: {"type": "string", "description": text} for name, text in fields.items()},
                        "required": required,
                    }
                }
            },
        }
    }


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _oauth_request(request: Request, values: list[tuple[str, str]] | None = None) -> StarletteOAuth2Request:
    """authlib's view of the request (raises InsecureTransportError on plain http that is
    not a loopback address)."""
    query = list(request.query_params.multi_items())
    return StarletteOAuth2Request(request.method, str(request.url), request.headers, query, values or [])  # type: ignore[arg-type]


def _json(result: tuple[int, Any, Headers]) -> Response:
    code, body, headers = result
    return JSONResponse(body, status_code=code, headers=dict(headers))


async def _form_values(request: Request) -> list[tuple[str, str]]:
    form = await request.form()
    return [(key, value) for key, value in form.multi_items() if isinstance(value, str)]


# ---------------------------------------------------------------- the consent page


def _html(body: str, code: int = 200, redirect_uri: str | None = None) -> HTMLResponse:
    return HTMLResponse(
        body,
        status_code=code,
        headers={"Content-Security-Policy": consent.content_security_policy(redirect_uri), "Cache-Control": "no-store"},
    )


def _redirect(headers: Headers) -> Response:
    return Response(status_code=status.HTTP_302_FOUND, headers={**dict(headers), "Cache-Control": "no-store"})


def _authorize_error(session: Session, data: dict[str, str], error: OAuth2Error) -> Response:
    """Back to the app with the error when its client_id and redirect URI are valid
    (RFC 6749 section 4.1.2.1); otherwise a page for the athlete, never a redirect."""
    client = load_client(session, data.get("client_id"))
    uri = data.get("redirect_uri")
    if error.error != "insecure_transport" and client is not None and uri and client.check_redirect_uri(uri):
        error.redirect_uri, error.state = uri, data.get("state")
        return _redirect(error()[2])
    return _html(consent.render_error(error.description or error.error), status.HTTP_400_BAD_REQUEST)


def _page(
    settings: Settings, request: Request, grant: Any, params: dict[str, str], code: int = 200, **kw: Any
) -> HTMLResponse:
    nonce = request.cookies.get(consent.COOKIE) or consent.new_nonce()
    client: Client = grant.request.client
    scopes = str(grant.request.scope or "").split()
    page = consent.render(client, scopes, params, consent.csrf_token(settings, nonce, params), **kw)
    response = _html(page, code, params.get("redirect_uri"))
    response.set_cookie(
        consent.COOKIE,
        nonce,
        max_age=consent.COOKIE_MAX_AGE_S,
        path="/oauth/authorize",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


@router.get(
    "/oauth/authorize",
    response_class=HTMLResponse,
    summary="Ask the athlete to allow an app (consent page)",
    responses={
        200: {"content": HTML, "description": "The consent page."},
        302: {"description": "Back to the app's redirect URI with `error` (and `state`)."},
        400: {"content": HTML, "description": "Unknown app or unregistered redirect URI: a page, no redirect."},
        **problem_responses(422),
    },
)
def authorize(
    request: Request,
    session: ReadSession,
    response_type: Annotated[str | None, Query(description="`code`.")] = None,
    client_id: Annotated[str | None, Query(description="The app's client_id.")] = None,
    redirect_uri: Annotated[str | None, Query(description="A registered redirect URI, exactly.")] = None,
    scope: Annotated[str | None, Query(description="Space-separated scopes the app asks for.")] = None,
    state: Annotated[str | None, Query(description="Returned unchanged with the code.")] = None,
    code_challenge: Annotated[str | None, Query(description="PKCE: BASE64URL(SHA256(code_verifier)).")] = None,
    code_challenge_method: Annotated[str | None, Query(description="`S256` (`plain` is refused).")] = None,
) -> Response:
    """The authorization-code flow's first step (RFC 6749 section 4.1, PKCE S256 required):
    send the athlete's browser here. The page names the app and the scopes it asks for; the
    athlete signs in with their runstrong password and allows or denies. Allowing redirects
    to `redirect_uri` with a `code` (single-use, valid 60 seconds) and `state`; denying
    redirects with `error=access_denied`."""
    data = dict(request.query_params)
    try:
        grant = Server(session, request.app.state.settings).get_consent_grant(_oauth_request(request))
    except OAuth2Error as error:
        return _authorize_error(session, data, error)
    params = {name: data[name] for name in consent.PARAMS if name in data}
    return _page(request.app.state.settings, request, grant, params)


CONSENT_FIELDS = {
    **dict.fromkeys(consent.PARAMS, "As on the page's authorization request."),
    "csrf_token": "The page's form token (bound to its cookie and to the request's parameters).",
    "decision": "`allow` or `deny`.",
    "email": "The athlete's email (to allow).",
    "password": "The athlete's password (to allow).",
}


@router.post(
    "/oauth/authorize",
    response_class=HTMLResponse,
    summary="The consent page's answer",
    responses={
        200: {"content": HTML, "description": "Never: the answer redirects or shows the page again."},
        302: {"description": "Back to the app: `code` and `state`, or `error=access_denied`."},
        400: {"content": HTML, "description": "Unknown app or unregistered redirect URI."},
        401: {"content": HTML, "description": "The page again: the email or password is wrong."},
        403: {"content": HTML, "description": "The form was not sent from its page (no or another cookie)."},
        429: {"content": HTML, "description": "The page again: too many attempts."},
    },
    openapi_extra=_form_body(CONSENT_FIELDS, ["csrf_token", "decision"]),
)
async def decide(request: Request, session: WriteSession) -> Response:
    """The consent page's own form posts here (a browser form, not an API for apps)."""
    values = await _form_values(request)
    return await run_in_threadpool(_decide, request, session, values)


def _decide(request: Request, session: Session, values: list[tuple[str, str]]) -> Response:
    settings: Settings = request.app.state.settings
    fields = dict(values)
    server = Server(session, settings, _address(request))
    try:
        oauth_request = _oauth_request(request, values)
        grant = server.get_consent_grant(oauth_request)
    except OAuth2Error as error:
        return _authorize_error(session, fields, error)
    params = {name: fields[name] for name in consent.PARAMS if name in fields}
    if not consent.csrf_ok(settings, request.cookies.get(consent.COOKIE), fields.get("csrf_token"), params):
        return _html(
            consent.render_error(
                "This form expired or was not sent from its page. Go back to the app and start again."
            ),
            status.HTTP_403_FORBIDDEN,
        )
    if fields.get("decision") != "allow":
        return _redirect(server.create_authorization_response(oauth_request, grant_user=None, grant=grant)[2])
    email = fields.get("email", "")[:320]
    try:
        user_id = sessions.check_password(session, settings, email, fields.get("password", "")[:128], _address(request))
    except Unauthorized:
        return _page(settings, request, grant, params, 401, email=email, error="The email or password is wrong.")
    except TooManyRequests as error:
        return _page(settings, request, grant, params, 429, email=email, error=error.detail)
    code, _, headers = server.create_authorization_response(oauth_request, grant_user=user_id, grant=grant)
    if code != status.HTTP_302_FOUND:
        return _html(consent.render_error("The app's request is no longer valid."), status.HTTP_400_BAD_REQUEST)
    return _redirect(headers)


# ---------------------------------------------------------------- token, revocation, metadata

TOKEN_FIELDS = {
    "grant_type": "`authorization_code`, `refresh_token`, or `password` (the first-party app only).",
    "code": "authorization_code: the code from the redirect.",
    "redirect_uri": "authorization_code: the redirect URI the code was sent to.",
    "code_verifier": "authorization_code: the PKCE verifier (43 to 128 characters).",
    "refresh_token": "refresh_token: the refresh token from the last pair.",
    "username": "password: the account email.",
    "password": "password: the account password.",
    "device_token": "password: the device token from an earlier login.",
    "scope": "Ignored (a code carries its consented scopes; a refresh keeps them).",
    "client_id": "The app's client_id (`runstrong` for the first-party app), unless sent by HTTP Basic.",
    "client_secret": "A confidential app's secret, unless sent by HTTP Basic.",
}


@router.post(
    "/oauth/token",
    summary="Exchange a code, a refresh token or a password for tokens (RFC 6749)",
    response_model=s.OAuthToken,
    responses=OAUTH_ERRORS,
    openapi_extra=_form_body(TOKEN_FIELDS, ["grant_type"]),
)
async def token(request: Request, session: WriteSession) -> Response:
    """The token endpoint, form-encoded, speaking RFC 6749 for every grant and answering its
    error bodies (`{"error": "invalid_grant", ...}`). Confidential apps authenticate with
    HTTP Basic (or `client_secret` in the form); public apps send `client_id` alone.
    A refresh token is used up by its refresh; sent again within 30 seconds (a retry) it
    answers the same new pair, later it revokes the login."""
    values = await _form_values(request)

    def respond() -> Response:
        server = Server(session, request.app.state.settings, _address(request))
        try:
            return _json(server.create_token_response(_oauth_request(request, values)))
        except OAuth2Error as error:
            return _json(error())

    return await run_in_threadpool(respond)


REVOKE_FIELDS = {
    "token": "The refresh or access token to revoke: the login it belongs to ends.",
    "token_type_hint": "`refresh_token` or `access_token` (optional).",
    "client_id": "The app's client_id, unless sent by HTTP Basic.",
    "client_secret": "A confidential app's secret, unless sent by HTTP Basic.",
}


@router.post(
    "/oauth/revoke",
    summary="Revoke a token (RFC 7009)",
    response_model=dict[str, Any],
    responses=OAUTH_ERRORS,
    openapi_extra=_form_body(REVOKE_FIELDS, ["token"]),
)
async def revoke(request: Request, session: WriteSession) -> Response:
    """An app ends its own access (for instance when the athlete disconnects inside the
    app): the token's login ends, its refresh and access tokens with it. Unknown or
    already revoked tokens answer 200 too."""
    values = await _form_values(request)

    def respond() -> Response:
        server = Server(session, request.app.state.settings, _address(request))
        try:
            return _json(server.create_endpoint_response("revocation", _oauth_request(request, values)))
        except OAuth2Error as error:
            return _json(error())

    return await run_in_threadpool(respond)


@router.get(
    "/.well-known/oauth-authorization-server",
    summary="Authorization server metadata (RFC 8414)",
)
def metadata(request: Request) -> s.ServerMetadata:
    """Where this server's OAuth2 endpoints are and what they support, in the shape RFC 8414
    defines, so OAuth2 client libraries configure themselves from the issuer URL."""
    base = str(request.base_url).rstrip("/")
    return s.ServerMetadata(
        issuer=base,
        authorization_endpoint=f"{base}/oauth/authorize",
        token_endpoint=f"{base}/oauth/token",
        revocation_endpoint=f"{base}/oauth/revoke",
        scopes_supported=sorted(security.SCOPES),
        response_types_supported=["code"],
        response_modes_supported=["query"],
        grant_types_supported=["authorization_code", "refresh_token", "password"],
        token_endpoint_auth_methods_supported=AUTH_METHODS,
        revocation_endpoint_auth_methods_supported=AUTH_METHODS,
        code_challenge_methods_supported=["S256"],
        service_documentation=f"{base}/docs",
    )


# ---------------------------------------------------------------- developers' apps


@me.post(
    "/apps",
    status_code=status.HTTP_201_CREATED,
    response_model=s.AppCreated,
    responses={**problem_responses(409), **sends(201, "Location")},
    summary="Register an OAuth2 app",
)
def create_app(
    request: Request,
    session: WriteSession,
    principal: Annotated[Principal, Depends(session_principal)],
    body: s.AppCreate,
    key: idempotency.KeyHeader = None,
) -> Response:
    """You own the app. A confidential app's `client_secret` is shown this once; public apps
    (mobile, browser) have none and use PKCE alone. The first-party app's client_id is
    `runstrong`. A retry with the same `Idempotency-Key` answers with the same app (and, for a
    confidential app, a new secret: the first one was never stored, and stops working)."""

    def work() -> tuple[int, s.AppCreated, dict[str, str]]:
        created = apps.create_app(session, principal.user_id, body)
        return 201, created, {"Location": f"/v1/me/apps/{created.client_id}"}

    def replayed(stored: dict[str, Any]) -> dict[str, Any]:
        if stored.get("client_type") != "confidential":
            return stored
        secret = apps.rotate_secret(session, principal.user_id, uuid.UUID(stored["client_id"]))
        return {**stored, "client_secret": secret.client_secret}

    return idempotency.respond_once(
        request,
        session,
        principal.user_id,
        key,
        "me/apps",
        body,
        work,
        never_kept="client_secret",
        replayed=replayed,
    )


@me.get("/apps", summary="List my OAuth2 apps")
def list_apps(
    request: Request,
    response: Response,
    session: ReadSession,
    principal: Annotated[Principal, Depends(session_principal)],
    page: Paging,
) -> Page[s.AppPublic]:
    """Oldest first; secrets are never shown again."""
    items, total = apps.list_apps(session, principal.user_id, page)
    return paginate(request, response, page, items, total)


@me.get("/apps/{client_id}", responses=problem_responses(404), summary="Get one of my OAuth2 apps")
def get_app(
    session: ReadSession, principal: Annotated[Principal, Depends(session_principal)], client_id: uuid.UUID
) -> s.AppPublic:
    """One of your apps, without its secret."""
    return apps.get_app(session, principal.user_id, client_id)


@me.post("/apps/{client_id}/secret", responses=problem_responses(404), summary="Rotate an app's client secret")
def rotate_secret(
    session: WriteSession, principal: Annotated[Principal, Depends(recent_login_principal)], client_id: uuid.UUID
) -> s.AppSecret:
    """A new secret, shown once; the old one stops working at once. Needs a recent login."""
    return apps.rotate_secret(session, principal.user_id, client_id)


@me.delete(
    "/apps/{client_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404),
    summary="Delete one of my OAuth2 apps",
)
def delete_app(
    session: WriteSession, principal: Annotated[Principal, Depends(session_principal)], client_id: uuid.UUID
) -> Response:
    """Every athlete's connection to the app ends with it: its tokens stop working."""
    apps.delete_app(session, principal.user_id, client_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- connected apps


@me.get("/connected-apps", summary="List the apps I allowed")
def list_connected(
    request: Request,
    response: Response,
    session: ReadSession,
    principal: Annotated[Principal, Depends(session_principal)],
    page: Paging,
) -> Page[s.ConnectedApp]:
    """Apps that hold a live login to your account, with the scopes you allowed."""
    items, total = apps.list_connected(session, principal.user_id, page)
    return paginate(request, response, page, items, total)


@me.delete(
    "/connected-apps/{client_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404),
    summary="Disconnect an app",
)
def revoke_connected(
    session: WriteSession, principal: Annotated[Principal, Depends(session_principal)], client_id: uuid.UUID
) -> Response:
    """The app's refresh and access tokens stop working at once; it must ask you again."""
    apps.revoke_connected(session, principal.user_id, client_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


__all__ = ["FIRST_PARTY", "me", "router"]
