"""The OAuth2 authorization server, built on authlib (RFC 6749 grants, RFC 7636 PKCE,
RFC 7009 revocation): authlib parses and validates the protocol (client authentication,
redirect URI and PKCE checks, error bodies); this module stores codes and issues tokens
through accounts.sessions, so an app's tokens are logins like any other (revocable,
rotated, with the refresh grace window).

authlib ships no FastAPI integration: :class:`StarletteOAuth2Request` wraps a request the
way its Flask and Django integrations do (method, URL, headers, and the query and form
values as the payload)."""

from __future__ import annotations

import hmac
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from authlib.oauth2 import AuthorizationServer, OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Payload, OAuth2Request, grants
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from sqlalchemy import update
from sqlmodel import Session, col, select

from app.accounts import security, sessions
from app.accounts.models import AuthorizationCode, LoginSession, OAuthApp, RefreshToken, utcnow
from app.core.config import Settings
from app.core.errors import TooManyRequests, Unauthorized

FIRST_PARTY = "runstrong"  # the first-party app's client_id (public; the password grant)
SECRET_METHODS = ["client_secret_basic", "client_secret_post"]
AUTH_METHODS = [*SECRET_METHODS, "none"]
Headers = list[tuple[str, str]]


# ---------------------------------------------------------------- requests


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, values: list[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in values:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class StarletteOAuth2Request(OAuth2Request):  # type: ignore[misc]
    """An authlib request from a Starlette one's parts: the query (authorize) or the form
    (token, revoke, the consent form) as the payload. Raises InsecureTransportError for a
    plain-http URL that is not a loopback address."""

    def __init__(
        self, method: str, url: str, headers: dict[str, str], query: list[tuple[str, str]], form: list[tuple[str, str]]
    ) -> None:
        super().__init__(method=method, uri=url, headers=headers)
        self._args = dict(query)
        self._form = dict(form)
        self.payload = _Payload(form if method == "POST" else query)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


# ---------------------------------------------------------------- clients


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    """An app as authlib sees it; ``app_id`` is None for the first-party app."""

    app_id: uuid.UUID | None
    client_id: str
    name: str
    client_type: str
    redirect_uris: list[str] = field(default_factory=list)
    logo_url: str | None = None
    secret_hash: str | None = None

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # the redirect_uri parameter is required

    def get_allowed_scope(self, scope: str | None) -> str | None:
        if not scope:
            return None  # invalid_scope: an app names what it asks for
        return " ".join(sorted(set(scope_to_list(scope)) & security.ALL_SCOPES)) or None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.secret_hash is None:
            return False
        return hmac.compare_digest(security.token_digest(client_secret), self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none" if self.client_type == "public" else method in SECRET_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and self.app_id is not None

    def check_grant_type(self, grant_type: str) -> bool:
        if self.app_id is None:
            return grant_type in ("password", "refresh_token")
        return grant_type in ("authorization_code", "refresh_token")


FIRST_PARTY_CLIENT = Client(app_id=None, client_id=FIRST_PARTY, name="runstrong", client_type="public")


def load_client(session: Session, client_id: str | None) -> Client | None:
    if client_id == FIRST_PARTY:
        return FIRST_PARTY_CLIENT
    try:
        app = session.get(OAuthApp, uuid.UUID(str(client_id)))
    except ValueError:
        return None
    if app is None:
        return None
    return Client(
        app_id=app.id,
        client_id=str(app.id),
        name=app.name,
        client_type=app.client_type,
        redirect_uris=list(app.redirect_uris),
        logo_url=app.logo_url,
        secret_hash=app.secret_hash,
    )


# ---------------------------------------------------------------- errors


class SlowDown(OAuth2Error):  # type: ignore[misc]
    """Too many password attempts (429, with Retry-After); RFC 8628's registered code."""

    error = "slow_down"
    status_code = 429

    def __init__(self, description: str, retry_after: str) -> None:
        super().__init__(description=description)
        self.retry_after = retry_after

    def get_headers(self) -> Headers:
        return [*super().get_headers(), ("Retry-After", self.retry_after)]


def _token_body(pair: Any) -> dict[str, Any]:
    body: dict[str, Any] = pair.model_dump(exclude_none=True)
    return body


# ---------------------------------------------------------------- grants


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE on every authorization request, with S256 only (``plain`` is refused)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        state = data.get("state")
        if not data.get("code_challenge"):
            raise InvalidRequestError(
                "PKCE is required: send code_challenge and code_challenge_method=S256.",
                redirect_uri=redirect_uri,
                state=state,
            )
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError(
                "code_challenge_method must be S256 (plain is refused).", redirect_uri=redirect_uri, state=state
            )
        try:
            super().validate_code_challenge(grant, redirect_uri)
        except OAuth2Error as error:
            error.redirect_uri, error.state = redirect_uri, state
            raise


@dataclass
class CodeRecord:
    row: AuthorizationCode

    @property
    def code_challenge(self) -> str:
        return self.row.code_challenge

    @property
    def code_challenge_method(self) -> str:
        return self.row.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return " ".join(self.row.scopes)


class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    server: Server

    def save_authorization_code(self, code: str, request: Any) -> None:
        now = utcnow()
        data = request.payload.data
        self.server.db.add(
            AuthorizationCode(
                code_hash=security.token_digest(code),
                client_id=request.client.app_id,
                user_id=request.user,
                redirect_uri=request.payload.redirect_uri,
                scopes=scope_to_list(request.scope),
                code_challenge=data["code_challenge"],
                code_challenge_method=data["code_challenge_method"],
                created_at=now,
                expires_at=now + timedelta(seconds=self.server.settings.authorization_code_ttl_s),
            )
        )
        self.server.db.commit()

    def query_authorization_code(self, code: str, client: Client) -> CodeRecord | None:
        """The live code, or None (invalid_grant). A code presented again revokes the
        login its first exchange opened (RFC 6749 section 4.1.2)."""
        db = self.server.db
        row = db.exec(
            select(AuthorizationCode).where(AuthorizationCode.code_hash == security.token_digest(code))
        ).first()
        if row is None or row.client_id != client.app_id:
            return None
        if row.used_at is not None:
            if row.session_id is not None:
                sessions.revoke_login(db, row.session_id)
            return None
        if row.expires_at <= utcnow():
            return None
        return CodeRecord(row)

    def delete_authorization_code(self, authorization_code: CodeRecord) -> None:
        pass  # used up in create_token_response, in the same transaction as the login it opens

    def authenticate_user(self, authorization_code: CodeRecord) -> uuid.UUID:
        return authorization_code.row.user_id

    def create_token_response(self) -> tuple[int, dict[str, Any], Headers]:
        db, settings = self.server.db, self.server.settings
        code: AuthorizationCode = self.request.authorization_code.row
        now, login_id = utcnow(), uuid.uuid4()
        claimed = db.execute(
            update(AuthorizationCode)
            .where(col(AuthorizationCode.id) == code.id, col(AuthorizationCode.used_at).is_(None))
            .values(used_at=now, session_id=login_id)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            db.rollback()
            raise InvalidGrantError("The code was already used.")
        pair = sessions.open_app_session(db, settings, code.user_id, code.client_id, code.scopes, now, login_id)
        return 200, _token_body(pair), self.TOKEN_RESPONSE_HEADER


@dataclass
class RefreshRecord:
    client_id: uuid.UUID | None
    scopes: list[str] | None

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.app_id

    def get_scope(self) -> str:
        return " ".join(sorted(security.ALL_SCOPES if self.scopes is None else self.scopes))


class RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    """Rotation with family revocation and the grace window live in accounts.sessions."""

    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    server: Server

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshRecord | None:
        db = self.server.db
        family = db.exec(
            select(RefreshToken.family_id).where(RefreshToken.token_hash == security.token_digest(refresh_token))
        ).first()
        login = db.get(LoginSession, family) if family is not None else None
        return RefreshRecord(login.client_id, login.scopes) if login is not None else None

    def create_token_response(self) -> tuple[int, dict[str, Any], Headers]:
        client: Client = self.request.client
        try:
            pair = sessions.refresh(
                self.server.db, self.server.settings, self.request.form["refresh_token"], client.app_id
            )
        except Unauthorized as error:
            raise InvalidGrantError(error.detail) from None
        return 200, _token_body(pair), self.TOKEN_RESPONSE_HEADER


class PasswordGrant(grants.ResourceOwnerPasswordCredentialsGrant):  # type: ignore[misc]
    """The first-party app's login (client_id=runstrong), with the login rate limits and
    device tokens of /v1/auth/token."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]
    server: Server

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("Only the first-party app (client_id=runstrong) logs in with a password.")
        if not self.request.form.get("username") or not self.request.form.get("password"):
            raise InvalidRequestError("Send username (the account email) and password.")
        self.request.client = client

    def create_token_response(self) -> tuple[int, dict[str, Any], Headers]:
        form = self.request.form
        try:
            pair = sessions.login(
                self.server.db,
                self.server.settings,
                form["username"][:320],
                form["password"][:128],
                self.server.client_address,
                form.get("device_token"),
            )
        except Unauthorized:
            raise InvalidGrantError("The email or password is wrong.") from None
        except TooManyRequests as error:
            raise SlowDown(error.detail, error.headers.get("Retry-After", "60")) from None
        return 200, _token_body(pair), self.TOKEN_RESPONSE_HEADER


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009: an app (or the first-party app) revokes one of its refresh or access
    tokens; either ends the login it belongs to. Unknown tokens answer 200 too."""

    CLIENT_AUTH_METHODS = AUTH_METHODS
    server: Server

    def query_token(self, token_string: str, token_type_hint: str | None) -> RefreshRecord | None:
        db = self.server.db
        family = db.exec(
            select(RefreshToken.family_id).where(RefreshToken.token_hash == security.token_digest(token_string))
        ).first()
        if family is None:
            claims = security.decode_access_token(self.server.settings, token_string)
            family = claims.session_id if claims else None
        login = db.get(LoginSession, family) if family is not None else None
        if login is None:
            return None
        self.login_id = login.id
        return RefreshRecord(login.client_id, login.scopes)

    def revoke_token(self, token: RefreshRecord, request: Any) -> None:
        sessions.revoke_login(self.server.db, self.login_id)


# ---------------------------------------------------------------- server


class Server(AuthorizationServer):  # type: ignore[misc]
    """One per request, bound to its database session."""

    def __init__(self, db: Session, settings: Settings, client_address: str = "unknown") -> None:
        super().__init__(scopes_supported=sorted(security.ALL_SCOPES))
        self.db = db
        self.settings = settings
        self.client_address = client_address
        self.register_grant(CodeGrant, [S256CodeChallenge(required=True)])
        self.register_grant(RefreshGrant)
        self.register_grant(PasswordGrant)
        self.register_endpoint(Revocation)

    def query_client(self, client_id: str) -> Client | None:
        return load_client(self.db, client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        pass  # the grants store their tokens through accounts.sessions

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    def create_oauth2_request(self, request: Any) -> Any:
        return request  # built by the routes (StarletteOAuth2Request)

    def handle_response(self, status: int, body: Any, headers: Headers) -> tuple[int, Any, Headers]:
        return status, body, headers
