"""OAuth2 apps: a developer registers, lists, rotates the secret of and deletes their own
apps; an athlete lists the apps they connected and revokes them. Secrets are stored only
as SHA-256 hashes (they are random, 256 bits) and shown once."""

from __future__ import annotations

import uuid

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.accounts import security, sessions
from app.accounts.models import LoginSession, OAuthApp, utcnow
from app.core.errors import NotFound
from app.core.pagination import PageParams, page_rows
from app.oauth import schemas as s
from app.webhooks.service import drop_app_subscriptions

SECRET_PREFIX = "rs_cs_"  # noqa: S105


def _public(app: OAuthApp) -> s.AppPublic:
    return s.AppPublic.model_validate({**app.model_dump(), "client_id": app.id})


def create_app(session: Session, owner_id: uuid.UUID, data: s.AppCreate) -> s.AppCreated:
    secret = security.new_secret(SECRET_PREFIX) if data.client_type == "confidential" else None
    app = OAuthApp(
        owner_id=owner_id,
        name=data.name,
        redirect_uris=list(dict.fromkeys(data.redirect_uris)),
        logo_url=data.logo_url,
        client_type=data.client_type,
        secret_hash=security.token_digest(secret) if secret else None,
    )
    session.add(app)
    session.flush()  # the caller commits (with its Idempotency-Key's record)
    session.refresh(app)
    return s.AppCreated.model_validate({**_public(app).model_dump(), "client_secret": secret})


def _own(session: Session, owner_id: uuid.UUID, client_id: uuid.UUID) -> OAuthApp:
    app = session.get(OAuthApp, client_id)
    if app is None or app.owner_id != owner_id:
        raise NotFound(f"No app '{client_id}'.")
    return app


def list_apps(session: Session, owner_id: uuid.UUID, params: PageParams) -> tuple[list[s.AppPublic], int]:
    stmt = select(OAuthApp).where(OAuthApp.owner_id == owner_id)
    rows, total = page_rows(session, stmt, params, col(OAuthApp.created_at), col(OAuthApp.id))
    return [_public(r) for r in rows], total


def get_app(session: Session, owner_id: uuid.UUID, client_id: uuid.UUID) -> s.AppPublic:
    return _public(_own(session, owner_id, client_id))


def rotate_secret(session: Session, owner_id: uuid.UUID, client_id: uuid.UUID) -> s.AppSecret:
    """A new secret for a confidential app; the old one stops working at once. Tokens
    already issued stay valid (revoke them by deleting the app)."""
    app = _own(session, owner_id, client_id)
    if app.client_type != "confidential":
        raise NotFound(f"App '{client_id}' is public: it has no client secret.")
    secret = security.new_secret(SECRET_PREFIX)
    app.secret_hash = security.token_digest(secret)
    app.secret_rotated_at = utcnow()
    session.commit()
    return s.AppSecret(client_id=client_id, client_secret=secret)


def delete_app(session: Session, owner_id: uuid.UUID, client_id: uuid.UUID) -> None:
    """Delete the app with its codes, every athlete's login of it (their tokens end) and its
    webhook subscriptions."""
    app = _own(session, owner_id, client_id)
    drop_app_subscriptions(session, client_id)
    session.delete(app)
    session.commit()


def list_connected(session: Session, user_id: uuid.UUID, params: PageParams) -> tuple[list[s.ConnectedApp], int]:
    """The apps the athlete allowed that still hold a live login, oldest connection first."""
    live = (
        select(
            col(LoginSession.client_id).label("client_id"),
            func.min(LoginSession.created_at).label("connected_at"),
            func.max(LoginSession.created_at).label("last_authorized_at"),
        )
        .where(
            LoginSession.user_id == user_id,
            col(LoginSession.client_id).is_not(None),
            col(LoginSession.revoked_at).is_(None),
        )
        .group_by(col(LoginSession.client_id))
        .subquery()
    )
    stmt = select(OAuthApp, live.c.connected_at, live.c.last_authorized_at).join(live, live.c.client_id == OAuthApp.id)
    rows, total = page_rows(session, stmt, params, live.c.connected_at, col(OAuthApp.id))
    items = []
    for app, connected_at, last_at in rows:
        scopes: set[str] = set()
        for granted in session.exec(
            select(LoginSession.scopes).where(
                LoginSession.user_id == user_id,
                LoginSession.client_id == app.id,
                col(LoginSession.revoked_at).is_(None),
            )
        ):
            scopes.update(granted or ())
        items.append(
            s.ConnectedApp(
                client_id=app.id,
                name=app.name,
                logo_url=app.logo_url,
                scopes=sorted(scopes & security.ALL_SCOPES),
                connected_at=connected_at,
                last_authorized_at=last_at,
            )
        )
    return items, total


def revoke_connected(session: Session, user_id: uuid.UUID, client_id: uuid.UUID) -> None:
    """End the app's access at once: its refresh tokens and access tokens stop working, and
    its webhook subscriptions for this athlete are deleted."""
    drop_app_subscriptions(session, client_id, user_id)
    if not sessions.revoke_app(session, user_id, client_id):
        raise NotFound(f"No connected app '{client_id}'.")
