"""Request and response shapes of OAuth2 apps, connected apps, the token endpoint and
the authorization server's metadata."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

from app.accounts.schemas import ScopeName, Strict
from app.core.schemas import NoNulStr

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def check_redirect_uri(value: str) -> str:
    """https with a host, or http on a loopback address (RFC 8252 native apps); no fragment,
    no user name: the authorization server redirects only to an exact registered match."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        raise ValueError("Not a URL.") from None
    if "#" in value or parts.username is not None or not parts.hostname:
        raise ValueError("A redirect URI is an absolute URL with a host, without a fragment or user name.")
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        return value
    raise ValueError("A redirect URI is https, or http on a loopback address (127.0.0.1, [::1], localhost).")


def check_logo_url(value: str) -> str:
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ValueError("Not a URL.") from None
    if parts.scheme != "https" or not parts.hostname or parts.username is not None:
        raise ValueError("The logo URL is an https URL.")
    return value


RedirectUri = Annotated[str, Field(min_length=8, max_length=2000), AfterValidator(check_redirect_uri)]
LogoUrl = Annotated[str, Field(min_length=9, max_length=2000), AfterValidator(check_logo_url)]


class AppCreate(Strict):
    name: NoNulStr = Field(
        min_length=1, max_length=100, description="Shown to athletes on the consent page.", examples=["CoachApp"]
    )
    redirect_uris: list[RedirectUri] = Field(
        min_length=1,
        max_length=10,
        description="Where athletes are sent back, matched exactly: https, or http on a loopback address.",
        examples=[["https://coachapp.example/oauth/callback"]],
    )
    logo_url: LogoUrl | None = Field(default=None, description="An https image shown on the consent page.")
    client_type: Literal["confidential", "public"] = Field(
        default="confidential",
        description="`confidential`: a server that keeps a client secret; `public`: a mobile or browser app "
        "without one (PKCE alone).",
    )


class AppPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    client_id: uuid.UUID = Field(description="The app's `client_id`.")
    name: str = Field(description="Shown to athletes on the consent page.")
    redirect_uris: list[str] = Field(description="Registered redirect URIs, matched exactly.")
    logo_url: str | None = Field(description="The app's logo.")
    client_type: Literal["confidential", "public"] = Field(description="Whether the app holds a client secret.")
    created_at: datetime = Field(description="When the app was registered.")
    secret_rotated_at: datetime | None = Field(description="When the client secret was last replaced.")


class AppCreated(AppPublic):
    client_secret: str | None = Field(
        description="The client secret of a confidential app, shown this once (stored only as a hash); "
        "null for public apps."
    )


class AppSecret(BaseModel):
    client_id: uuid.UUID = Field(description="The app's `client_id`.")
    client_secret: str = Field(description="The new client secret, shown this once; the old one stops working.")


class ConnectedApp(BaseModel):
    client_id: uuid.UUID = Field(description="The app's `client_id`.")
    name: str = Field(description="The app's name.")
    logo_url: str | None = Field(description="The app's logo.")
    scopes: list[ScopeName] = Field(description="What you allowed the app to do.")
    connected_at: datetime = Field(description="When you first allowed it (of its live logins).")
    last_authorized_at: datetime = Field(description="When you last allowed it.")


class OAuthToken(BaseModel):
    """RFC 6749 section 5.1."""

    access_token: str = Field(description="A JWT to send as `Authorization: Bearer ...`.")
    token_type: Literal["bearer"] = Field(description="Always `bearer`.")
    expires_in: StrictInt = Field(description="Seconds until the access token expires.", examples=[900])
    refresh_token: str = Field(description="Send with `grant_type=refresh_token` for a new pair; usable once.")
    refresh_expires_in: StrictInt = Field(description="Seconds until the refresh token expires.")
    scope: str = Field(description="Space-separated scopes the access token carries.")
    device_token: str | None = Field(
        default=None, description="Password grant only: send it as `device_token` when logging in again."
    )


class OAuthError(BaseModel):
    """RFC 6749 section 5.2: the token endpoint's errors (the rest of the API answers RFC 9457)."""

    error: str = Field(
        description="`invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`, "
        "`unsupported_grant_type`, `invalid_scope`, `insecure_transport` or `slow_down` (429).",
        examples=["invalid_grant"],
    )
    error_description: str | None = Field(default=None, description="What went wrong, for the developer.")
    error_uri: str | None = Field(default=None, description="A page about the error.")


class ServerMetadata(BaseModel):
    """RFC 8414."""

    issuer: str = Field(description="This server's URL.")
    authorization_endpoint: str = Field(description="Where apps send athletes for consent.")
    token_endpoint: str = Field(description="Where apps exchange codes and refresh tokens (RFC 6749).")
    revocation_endpoint: str = Field(description="Where apps revoke tokens (RFC 7009).")
    scopes_supported: list[str] = Field(description="The scopes an app may ask for.")
    response_types_supported: list[str] = Field(description="`code` only.")
    response_modes_supported: list[str] = Field(description="`query` only.")
    grant_types_supported: list[str] = Field(description="Grants the token endpoint speaks.")
    token_endpoint_auth_methods_supported: list[str] = Field(description="How apps authenticate at the token endpoint.")
    revocation_endpoint_auth_methods_supported: list[str] = Field(description="How apps authenticate to revoke.")
    code_challenge_methods_supported: list[str] = Field(description="PKCE methods: `S256` only.")
    service_documentation: str | None = Field(default=None, description="The API's documentation.")
