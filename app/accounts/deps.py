"""Authentication, and the authorisation every per-athlete route uses (one rule, decided
in ``service.resolve_athlete``): ``athlete_access`` on the event loop, ``writing_athlete``
in the thread pool for the training log's record writes."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Security
from fastapi.openapi.models import OAuthFlowAuthorizationCode
from fastapi.security import HTTPBearer, OAuth2PasswordBearer, SecurityScopes
from fastapi.security.base import SecurityBase
from fastapi.security.utils import get_authorization_scheme_param

from app.accounts import security, service
from app.accounts.service import AthleteAccess, Principal
from app.core.db import checked, read, read_on, read_session_of
from app.core.errors import Forbidden, Unauthorized

oauth2 = OAuth2PasswordBearer(
    tokenUrl="/v1/auth/token",
    scopes=security.SCOPES,
    scheme_name="OAuth2",
    description="Log in with email and password for a 15-minute JWT and a refresh token; or, for a "
    "registered app, the authorization-code flow with PKCE (S256) and the athlete's consent.",
    auto_error=False,
)
# Apps get the same kind of token through the authorization-code flow (app/oauth).
oauth2.model.flows.authorizationCode = OAuthFlowAuthorizationCode(  # type: ignore[attr-defined]
    authorizationUrl="/oauth/authorize", tokenUrl="/oauth/token", refreshUrl="/oauth/token", scopes=security.SCOPES
)
# The OAuth2 scheme's declaration; ``_Principal`` below is the scheme at work. A personal
# access token travels as the same Bearer credential, so it is read there too and
# ``service.authenticate`` tells the two apart. This scheme is only declared: the document
# lists it wherever OAuth2 is (``contract.also_accepted``), with the same scopes.
personal_token = HTTPBearer(
    scheme_name="PersonalAccessToken",
    description="A personal access token (`rs_pat_...`) made at /v1/me/tokens, limited to its scopes.",
    auto_error=False,
)


class _AsOAuth2(SecurityBase):
    """A dependency that is the OAuth2 scheme itself (``oauth2``'s model and name)."""

    def __init__(self) -> None:
        self.model = oauth2.model
        self.scheme_name = oauth2.scheme_name


class _Principal(_AsOAuth2):
    """Who is calling (JWT or personal token, both as Bearer) and whether the credential
    carries every scope the route needs (403 naming the missing one). It is the OAuth2
    scheme itself (``oauth2``'s model and name), so the document declares OAuth2 with the
    route's scopes wherever it is used, as when ``oauth2`` was a dependency of its own: one
    dependency fewer to solve on every authenticated request (about 5 % of a one-record
    read's instructions, bench/instructions.py). Only the credential's lookup runs in the
    thread pool: one hop, the rest is on the event loop."""

    def __init__(self, lookup: Callable[..., Awaitable[Principal]]) -> None:
        super().__init__()
        self.lookup = lookup

    async def __call__(
        self,
        request: Request,
        security_scopes: SecurityScopes,
    ) -> Principal:
        token = _bearer(request)
        session = read_session_of(request)  # the request's read session, the route's too
        principal = await self.lookup(session, service.authenticate, session, request.app.state.settings, token)
        return _scoped(request, principal, security_scopes.scopes)


def _bearer(request: Request) -> str:
    """The Bearer credential, read as the OAuth2 scheme reads it (401 without one)."""
    authorization = request.headers.get("Authorization")
    scheme, token = get_authorization_scheme_param(authorization)
    if not authorization or scheme.lower() != "bearer" or not token:
        raise Unauthorized("Send credentials as `Authorization: Bearer <token>`.", headers=service.BEARER)
    return token


def _scoped(request: Request, principal: Principal, scopes: list[str]) -> Principal:
    """``principal``, noted for the access line, if its credential carries every one of
    ``scopes`` (403 naming the missing ones otherwise)."""
    request.state.user_id = str(principal.user_id)  # for the access log line
    missing = [scope for scope in scopes if scope not in principal.scopes]
    if missing:
        raise Forbidden(
            f"This credential lacks the scope '{missing[0]}'.",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{" ".join(missing)}"'},
            missing_scopes=missing,
        )
    return principal


# The lookup and the end of its read transaction, before the handler's own work.
current_principal = _Principal(read)
# For routes that read next on the request's read session: its transaction stays open for
# that read (one connection for both; on SQLite one BEGIN and one snapshot, on PostgreSQL
# lone SELECTs with no BEGIN at all).
reading_principal = _Principal(read_on)


def principal_with(*scopes: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency for routes about the caller's own account."""

    async def dependency(
        principal: Annotated[Principal, Security(current_principal, scopes=list(scopes))],
    ) -> Principal:
        return principal

    return dependency


async def session_principal(principal: Annotated[Principal, Security(current_principal)]) -> Principal:
    """The caller, who must hold a login session (not a personal access token)."""
    service.require_session(principal)
    return principal


async def recent_login_principal(
    request: Request, principal: Annotated[Principal, Security(current_principal)]
) -> Principal:
    """The caller, whose login session checked the password within the last
    ``reauth_window_minutes`` (401 reauthentication-required otherwise)."""
    service.require_recent_login(principal, request.app.state.settings)
    return principal


AthleteId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="The athlete's id, or `me` for the caller.",
        examples=["me"],
    ),
]


def athlete_access(scope: str, *, reads_next: bool = False) -> Callable[..., Awaitable[AthleteAccess]]:
    """The authorisation dependency for /v1/athletes/{athlete_id}/...: the owner, or a
    coach whose grant covers ``scope``; anyone else gets 404 and learns nothing.
    ``reads_next``: the route's next step is a read on the request's read session (not a
    write, not a stream reading on sessions of its own), which then continues the check's
    transaction instead of beginning one."""

    lookup = read_on if reads_next else read
    caller = reading_principal if reads_next else current_principal

    async def dependency(
        request: Request,
        athlete_id: AthleteId,
        principal: Annotated[Principal, Security(caller, scopes=[scope])],
    ) -> AthleteAccess:
        own = service.own_athlete(principal, athlete_id)  # no database read for the caller's own data
        if own is not None:
            return own
        session = read_session_of(request)  # the one the credential was checked on
        return await lookup(session, service.resolve_athlete, session, principal, athlete_id, scope)

    return dependency


class _WritingPrincipal(_AsOAuth2):
    """``_Principal`` as a plain function, for routes whose next step is a write in the
    thread pool: FastAPI calls it in a thread-pool hop of its own, ``ShortcutRoute`` in
    the write's hop, before the endpoint (one hop a write fewer: on PostgreSQL the thread
    pool's wake-ups and the loop's wait for them; on SQLite, whose reads run on the loop,
    the check moves into the hop the write takes anyway). On PostgreSQL the check reads
    on the write's own session, before the write's first statement
    (:func:`app.core.db.checked`): one connection a write, not two."""

    def __call__(self, request: Request, security_scopes: SecurityScopes) -> Principal:
        token = _bearer(request)
        principal = checked(request, service.authenticate, request.app.state.settings, token)
        return _scoped(request, principal, security_scopes.scopes)


writing_principal = _WritingPrincipal()


def writing_athlete(scope: str) -> Any:
    """:func:`athlete_access` for routes whose next step is a write in the thread pool, as
    plain functions (see :class:`_WritingPrincipal`), for
    ``Annotated[AthleteAccess, writing_athlete("training:write")]``. The same rule and
    the same order: the credential first (401, 403), then the athlete's id (422, 404)."""

    def dependency(
        request: Request,
        athlete_id: AthleteId,
        principal: Annotated[Principal, Security(writing_principal, scopes=[scope])],
    ) -> AthleteAccess:
        # The caller's own data needs no database read; anyone else's reads on the session
        # the credential was checked on (made by then).
        own = service.own_athlete(principal, athlete_id)
        if own is not None:
            return own
        return checked(request, service.resolve_athlete, principal, athlete_id, scope)

    return Depends(dependency)
