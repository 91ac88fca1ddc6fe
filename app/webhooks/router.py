"""Webhook routes under /v1/webhooks: the caller's subscriptions, their secrets and delivery logs."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, Security, status
from sqlmodel import Session

from app.accounts.deps import current_principal
from app.accounts.service import Principal
from app.core import idempotency
from app.core.db import get_session, get_write_session, read
from app.core.errors import problem_responses
from app.core.headers import sends
from app.core.pagination import Page, Paging, paginate
from app.webhooks import schemas as s
from app.webhooks import service

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses=problem_responses(401, 403, 404, 422))
ReadSession = Annotated[Session, Depends(get_session)]
WriteSession = Annotated[Session, Depends(get_write_session)]
Caller = Annotated[Principal, Security(current_principal)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=s.SubscriptionCreated,
    responses={**problem_responses(409), **sends(201, "Location")},
    summary="Subscribe a URL to events",
)
def create_webhook(
    request: Request,
    session: WriteSession,
    principal: Caller,
    body: s.SubscriptionCreate,
    key: idempotency.KeyHeader = None,
) -> Response:
    """Events of your own records and of athletes who granted you access are POSTed to `url`,
    signed per Standard Webhooks with the `secret` shown once here. Each event type needs its
    kind's read scope (`training:read` for workouts, runs, check-ins and tests; `plans:read`
    for plans) on the credential that subscribes; the subscription keeps that credential's
    read scopes, and only events they allow are sent. An OAuth2 app subscribes with its access
    token: its subscription hears only the consenting athlete's own events and is deleted when
    the athlete disconnects the app. The payloads are under `webhooks` in the OpenAPI document.
    A retry with the same `Idempotency-Key` answers with the subscription made the first
    time, and its secret."""

    def work() -> tuple[int, s.SubscriptionCreated, dict[str, str]]:
        created = service.create(session, request.app.state.settings, principal, body)
        return 201, created, {"Location": f"/v1/webhooks/{created.id}"}

    def replayed(stored: dict[str, Any]) -> dict[str, Any]:
        return service.created_again(session, principal, uuid.UUID(stored["id"])).model_dump(mode="json")

    return idempotency.respond_once(
        request,
        session,
        principal.user_id,
        key,
        "webhooks",
        body,
        work,
        never_kept="secret",
        replayed=replayed,
    )


@router.get("", summary="List my webhook subscriptions")
async def list_webhooks(
    request: Request, response: Response, session: ReadSession, principal: Caller, page: Paging
) -> Page[s.SubscriptionPublic]:
    """Oldest first. Secrets are not shown again: rotate one you lost."""
    items, total = await read(session, service.list_subscriptions, session, principal, page)
    return paginate(request, response, page, items, total)


@router.get("/{subscription_id}", summary="Get a webhook subscription")
async def get_webhook(session: ReadSession, principal: Caller, subscription_id: uuid.UUID) -> s.SubscriptionPublic:
    """One of your subscriptions (an app's token sees only the app's), without its secret."""
    return await read(session, service.get, session, principal, subscription_id)


@router.patch("/{subscription_id}", summary="Change a webhook subscription")
def update_webhook(
    request: Request, session: WriteSession, principal: Caller, subscription_id: uuid.UUID, body: s.SubscriptionUpdate
) -> s.SubscriptionPublic:
    """Change the URL, the events, the description, or pause it (`active: false`)."""
    return service.update(session, request.app.state.settings, principal, subscription_id, body)


@router.delete("/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a webhook subscription")
def delete_webhook(session: WriteSession, principal: Caller, subscription_id: uuid.UUID) -> Response:
    """Its pending deliveries and its log go with it."""
    service.delete(session, principal, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{subscription_id}/secret", summary="Rotate a webhook's signing secret")
def rotate_webhook_secret(
    session: WriteSession, principal: Caller, subscription_id: uuid.UUID
) -> s.SubscriptionCreated:
    """A new secret, shown once, signs every delivery from now on (retries included)."""
    return service.rotate_secret(session, principal, subscription_id)


@router.get("/{subscription_id}/deliveries", summary="A webhook's delivery log")
async def list_webhook_deliveries(
    request: Request,
    response: Response,
    session: ReadSession,
    principal: Caller,
    subscription_id: uuid.UUID,
    page: Paging,
) -> Page[s.DeliveryPublic]:
    """Newest first: each event sent, its status, the last response code, attempts and the next attempt."""
    items, total = await read(session, service.list_deliveries, session, principal, subscription_id, page)
    return paginate(request, response, page, items, total)


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a delivery again",
)
def redeliver_webhook(
    session: WriteSession, principal: Caller, subscription_id: uuid.UUID, delivery_id: uuid.UUID
) -> s.DeliveryPublic:
    """Queued for the next free dispatcher, with the same `webhook-id`."""
    return service.redeliver(session, principal, subscription_id, delivery_id)
