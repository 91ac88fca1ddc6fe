"""Subscriptions (made, listed, changed, deleted by their owner; secret shown once and
rotatable) and their delivery logs."""

from __future__ import annotations

import base64
import secrets
import uuid
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlmodel import Session, col, select

from app.accounts.models import utcnow
from app.accounts.security import READ_SCOPES
from app.accounts.service import Principal
from app.core.config import Settings
from app.core.errors import Forbidden, InvalidInput, NotFound
from app.core.pagination import PageParams, page_rows
from app.webhooks import schemas as s
from app.webhooks.addresses import refusal
from app.webhooks.models import WebhookDelivery, WebhookSubscription

SCOPE_OF_KIND = {"workout": "training:read", "run": "training:read", "checkin": "training:read"}
SCOPE_OF_KIND |= {"test": "training:read", "plan": "plans:read"}


def scope_for(event_type: str) -> str:
    """The read scope a subscriber needs to receive ``event_type``."""
    return SCOPE_OF_KIND[event_type.split(".", 1)[0]]


def new_secret() -> str:
    """24 random bytes, base64 with Standard Webhooks' ``whsec_`` prefix."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _check_url(settings: Settings, url: str) -> None:
    reason = refusal(url, allow_private=settings.private_webhook_urls)
    if reason:
        raise InvalidInput(f"The URL {reason}.", name="url", location="body")


def _check_scopes(principal: Principal, event_types: list[str]) -> None:
    for event_type in event_types:
        scope = scope_for(event_type)
        if scope not in principal.scopes:
            raise Forbidden(
                f"This credential lacks the scope '{scope}' that '{event_type}' needs.", missing_scopes=[scope]
            )


def _public(sub: WebhookSubscription) -> s.SubscriptionPublic:
    return s.SubscriptionPublic.model_validate(sub, from_attributes=True)


def _app_of(principal: Principal) -> uuid.UUID | None:
    """The OAuth2 app a credential acts for (its subscriptions are that app's, for that athlete)."""
    return principal.client_id if principal.kind == "app" else None


def _owned(session: Session, principal: Principal, subscription_id: uuid.UUID) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, subscription_id)
    if sub is None or sub.owner_id != principal.user_id or sub.app_id != _app_of(principal):
        raise NotFound(f"No webhook subscription '{subscription_id}'.")
    return sub


def create(
    session: Session, settings: Settings, principal: Principal, data: s.SubscriptionCreate
) -> s.SubscriptionCreated:
    _check_url(settings, data.url)
    event_types: list[str] = sorted(set(data.event_types))
    _check_scopes(principal, event_types)
    sub = WebhookSubscription(
        owner_id=principal.user_id,
        app_id=_app_of(principal),
        token_id=principal.token_id,
        url=data.url,
        description=data.description,
        event_types=event_types,
        scopes=sorted(principal.scopes & READ_SCOPES),
        secret=new_secret(),
    )
    session.add(sub)
    session.flush()  # the caller commits (with its Idempotency-Key's record)
    return s.SubscriptionCreated(**_public(sub).model_dump(), secret=sub.secret)


def created_again(session: Session, principal: Principal, subscription_id: uuid.UUID) -> s.SubscriptionCreated:
    """The answer to a retried creation: the subscription as it is now, with its secret."""
    sub = _owned(session, principal, subscription_id)
    return s.SubscriptionCreated(**_public(sub).model_dump(), secret=sub.secret)


def list_subscriptions(
    session: Session, principal: Principal, params: PageParams
) -> tuple[list[s.SubscriptionPublic], int]:
    app_id = _app_of(principal)
    stmt = select(WebhookSubscription).where(
        col(WebhookSubscription.owner_id) == principal.user_id,
        col(WebhookSubscription.app_id).is_(None) if app_id is None else col(WebhookSubscription.app_id) == app_id,
    )
    rows, total = page_rows(session, stmt, params, col(WebhookSubscription.created_at), col(WebhookSubscription.id))
    return [_public(r) for r in rows], total


def get(session: Session, principal: Principal, subscription_id: uuid.UUID) -> s.SubscriptionPublic:
    return _public(_owned(session, principal, subscription_id))


def update(
    session: Session, settings: Settings, principal: Principal, subscription_id: uuid.UUID, data: s.SubscriptionUpdate
) -> s.SubscriptionPublic:
    sub = _owned(session, principal, subscription_id)
    fields: dict[str, Any] = data.model_dump(exclude_unset=True)
    for name in ("url", "event_types", "active"):
        if name in fields and fields[name] is None:
            raise InvalidInput(f"'{name}' cannot be null.", name=name, location="body")
    if "url" in fields:
        _check_url(settings, fields["url"])
    if "event_types" in fields:
        fields["event_types"] = sorted(set(fields["event_types"]))
        _check_scopes(principal, fields["event_types"])
    for name, value in fields.items():
        setattr(sub, name, value)
    sub.updated_at = utcnow()
    session.flush()
    public = _public(sub)
    session.commit()
    return public


def delete(session: Session, principal: Principal, subscription_id: uuid.UUID) -> None:
    session.delete(_owned(session, principal, subscription_id))
    session.commit()


def rotate_secret(session: Session, principal: Principal, subscription_id: uuid.UUID) -> s.SubscriptionCreated:
    """A new secret signs every delivery from now on, retries of earlier events included."""
    sub = _owned(session, principal, subscription_id)
    sub.secret, sub.updated_at = new_secret(), utcnow()
    session.flush()
    created = s.SubscriptionCreated(**_public(sub).model_dump(), secret=sub.secret)
    session.commit()
    return created


def drop_app_subscriptions(session: Session, client_id: uuid.UUID, user_id: uuid.UUID | None = None) -> None:
    """Delete an OAuth2 app's subscriptions (one athlete's, or every athlete's) with their
    queued deliveries: the app was disconnected or deleted. Flushes; the caller commits."""
    subs = select(WebhookSubscription.id).where(col(WebhookSubscription.app_id) == client_id)
    if user_id is not None:
        subs = subs.where(col(WebhookSubscription.owner_id) == user_id)
    session.execute(sql_delete(WebhookDelivery).where(col(WebhookDelivery.subscription_id).in_(subs)))
    session.execute(sql_delete(WebhookSubscription).where(col(WebhookSubscription.id).in_(subs)))


def _delivery_public(row: WebhookDelivery) -> s.DeliveryPublic:
    return s.DeliveryPublic.model_validate(row, from_attributes=True)


def list_deliveries(
    session: Session, principal: Principal, subscription_id: uuid.UUID, params: PageParams
) -> tuple[list[s.DeliveryPublic], int]:
    """Newest first."""
    sub = _owned(session, principal, subscription_id)
    stmt = select(WebhookDelivery).where(col(WebhookDelivery.subscription_id) == sub.id)
    rows, total = page_rows(
        session, stmt, params, col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id).desc()
    )
    return [_delivery_public(r) for r in rows], total


def redeliver(
    session: Session, principal: Principal, subscription_id: uuid.UUID, delivery_id: uuid.UUID
) -> s.DeliveryPublic:
    """Send it again as soon as a dispatcher is free. A failed delivery gets that one more
    attempt (failed again if it fails); a pending one is tried now instead of at its turn. The
    receiver sees the same ``webhook-id``, so one that deduplicates ignores a copy it has."""
    sub = _owned(session, principal, subscription_id)
    row = session.get(WebhookDelivery, delivery_id)
    if row is None or row.subscription_id != sub.id:
        raise NotFound(f"No delivery '{delivery_id}' of this subscription.")
    row.status, row.next_attempt_at, row.leased_until, row.lease_id = "pending", utcnow(), None, None
    session.flush()
    public = _delivery_public(row)
    session.commit()
    return public
