"""Make, list, revoke and resolve feed links."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from app.accounts import security
from app.accounts.models import CoachGrant, utcnow
from app.accounts.service import Principal, resolve_athlete
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.pagination import PageParams, page_rows
from app.feeds import schemas as s
from app.feeds.models import Feed
from app.plans.models import Plan

PREFIX = "rs_feed_"
SCOPE = {"load.svg": "training:read", "progress.svg": "training:read", "plan.ics": "plans:read"}
TOUCH_INTERVAL = timedelta(minutes=1)


def _public(feed: Feed) -> s.FeedPublic:
    return s.FeedPublic.model_validate(feed, from_attributes=True)


def create(session: Session, principal: Principal, data: s.FeedCreate, base_url: str) -> s.FeedCreated:
    """A link to ``data.resource``; the caller needs the resource's read scope and access to the athlete."""
    scope = SCOPE[data.resource]
    if scope not in principal.scopes:
        raise Forbidden(f"This credential lacks the scope '{scope}'.", missing_scopes=[scope])
    access = resolve_athlete(session, principal, data.athlete_id, scope)
    if data.resource == "plan.ics":
        plan = session.get(Plan, data.plan_id) if data.plan_id else None
        if plan is None or plan.athlete_id != access.athlete_id:
            raise InvalidInput("Name one of the athlete's plans for a plan.ics link.", name="plan_id", location="body")
    elif data.plan_id is not None:
        raise InvalidInput("Only a plan.ics link names a plan.", name="plan_id", location="body")
    token = security.new_secret(PREFIX)
    feed = Feed(
        owner_id=principal.user_id,
        athlete_id=access.athlete_id,
        resource=data.resource,
        plan_id=data.plan_id,
        token_hash=security.token_digest(token),
        prefix=token[: len(PREFIX) + 4],
        expires_at=utcnow() + timedelta(days=data.expires_in_days),
    )
    session.add(feed)
    session.flush()  # the caller commits (with its Idempotency-Key's record)
    return s.FeedCreated(**_public(feed).model_dump(), url=f"{base_url}/v1/feeds/{data.resource}?token={token}")


def reissue(session: Session, principal: Principal, feed_id: uuid.UUID, base_url: str) -> s.FeedCreated:
    """A new token for a link whose creation is being retried: the token is never stored, so
    the retry cannot be shown the first one; the first one stops working."""
    feed = session.get(Feed, feed_id)
    if feed is None or feed.owner_id != principal.user_id:
        raise Conflict("The link made with this Idempotency-Key has been revoked; make one with a new key.")
    token = security.new_secret(PREFIX)
    feed.token_hash, feed.prefix = security.token_digest(token), token[: len(PREFIX) + 4]
    session.flush()
    created = s.FeedCreated(**_public(feed).model_dump(), url=f"{base_url}/v1/feeds/{feed.resource}?token={token}")
    session.commit()
    return created


def list_feeds(session: Session, principal: Principal, params: PageParams) -> tuple[list[s.FeedPublic], int]:
    stmt = select(Feed).where(col(Feed.owner_id) == principal.user_id)
    rows, total = page_rows(session, stmt, params, col(Feed.created_at), col(Feed.id))
    return [_public(r) for r in rows], total


def revoke(session: Session, principal: Principal, feed_id: uuid.UUID) -> None:
    feed = session.get(Feed, feed_id)
    if feed is None or feed.owner_id != principal.user_id:
        raise NotFound(f"No feed link '{feed_id}'.")
    session.delete(feed)
    session.commit()


def resolve(session: Session, token: str | None, resource: str) -> Feed:
    """The feed ``token`` opens, if it is live, for ``resource``, and its maker still has access
    to the athlete; otherwise 404, saying nothing of which it was."""
    gone = NotFound("This feed link is unknown, revoked or expired.")
    if not token or not token.startswith(PREFIX):
        raise gone
    now = utcnow()
    feed = session.exec(select(Feed).where(Feed.token_hash == security.token_digest(token))).first()
    if feed is None or feed.expires_at <= now or feed.resource != resource:
        raise gone
    if feed.owner_id != feed.athlete_id:
        grant = session.exec(
            select(CoachGrant.id).where(
                CoachGrant.athlete_id == feed.athlete_id,
                CoachGrant.coach_id == feed.owner_id,
                CoachGrant.status == "active",
            )
        ).first()
        if grant is None:
            raise gone
    if feed.last_used_at is None or now - feed.last_used_at >= TOUCH_INTERVAL:
        feed.last_used_at = now
        try:
            session.commit()
        except OperationalError:  # best effort: a busy database must not fail the read
            session.rollback()
    return feed
