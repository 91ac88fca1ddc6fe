"""The dispatcher: after commit, it fans each outbox event out to the subscriptions whose
owner may see it, then delivers, signed per Standard Webhooks, retrying on a schedule.

Several dispatchers may run on PostgreSQL: events and deliveries are claimed with
``SELECT ... FOR UPDATE SKIP LOCKED``, so no two take the same row, and a delivery is held by
a lease (``worker_lease_s``, longer than a receiver's timeout) so that one claimed by a worker
that died is taken again once its lease runs out: nothing is lost, and a live worker's
delivery is never sent twice. On SQLite, write transactions are serialised (``BEGIN
IMMEDIATE``); one dispatcher is enough and more only queue behind each other.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine, delete, or_, update
from sqlmodel import Session, col, select
from standardwebhooks.webhooks import Webhook

from app.accounts.models import CoachGrant, LoginSession, utcnow
from app.core.config import Settings
from app.core.db import dialect_insert, write_session
from app.core.events import OutboxEvent
from app.core.ids import new_id
from app.webhooks.addresses import refusal
from app.webhooks.models import WebhookDelivery, WebhookSubscription
from app.webhooks.service import scope_for

log = logging.getLogger("runstrong.worker")
BATCH = 100
OUTBOX_RETENTION = timedelta(days=1)  # dispatched events are kept this long, then pruned
PLURALS = {"workout": "workouts", "run": "runs", "checkin": "checkins", "test": "tests", "plan": "plans"}
USER_AGENT = "runstrong-webhooks/1"


def payload_of(event: OutboxEvent) -> dict[str, object]:
    """The delivery body: thin (ids and a URL to read the record at with the subscriber's token)."""
    kind = event.type.split(".", 1)[0]
    url = f"/v1/athletes/{event.athlete_id}/{PLURALS[kind]}/{event.subject_id}"
    return {
        "type": event.type,
        "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": {"athlete_id": str(event.athlete_id), "id": str(event.subject_id), "url": url, **event.data},
    }


def _audience(session: Session, athletes: set[uuid.UUID]) -> dict[uuid.UUID, set[uuid.UUID]]:
    """For each athlete: the users who may see their records (themselves and active coaches)."""
    seen = {a: {a} for a in athletes}
    for athlete_id, coach_id in session.exec(
        select(CoachGrant.athlete_id, CoachGrant.coach_id).where(
            col(CoachGrant.athlete_id).in_(athletes), CoachGrant.status == "active"
        )
    ).all():
        if coach_id is not None:
            seen[athlete_id].add(coach_id)
    return seen


def _connected(session: Session, subs: list[WebhookSubscription]) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """Of the apps' subscriptions, the (athlete, app) pairs whose consent is still live."""
    apps = {sub.app_id for sub in subs if sub.app_id is not None}
    if not apps:
        return set()
    rows = session.exec(
        select(LoginSession.user_id, LoginSession.client_id).where(
            col(LoginSession.client_id).in_(apps),
            col(LoginSession.user_id).in_({sub.owner_id for sub in subs if sub.app_id is not None}),
            col(LoginSession.revoked_at).is_(None),
        )
    ).all()
    return {(user_id, client_id) for user_id, client_id in rows if client_id is not None}


def _allows(sub: WebhookSubscription, event: OutboxEvent, connected: set[tuple[uuid.UUID, uuid.UUID]]) -> bool:
    """A personal subscription gets what its owner may see; an app's only its connecting
    athlete's own events, while that athlete's consent to the app is live."""
    if event.type not in sub.event_types or scope_for(event.type) not in sub.scopes:
        return False
    return sub.app_id is None or (event.athlete_id == sub.owner_id and (sub.owner_id, sub.app_id) in connected)


def fan_out(session: Session) -> int:
    """Turn undispatched events into deliveries for every subscription that wants them and
    whose owner's grants (an app's: its athlete's consent) and scopes allow them; mark the
    events dispatched. Flushes."""
    events = list(
        session.exec(
            select(OutboxEvent)
            .where(col(OutboxEvent.dispatched_at).is_(None))
            .order_by(col(OutboxEvent.id))
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        ).all()
    )
    if not events:
        return 0
    audience = _audience(session, {e.athlete_id for e in events})
    owners = set().union(*audience.values())
    subs: dict[uuid.UUID, list[WebhookSubscription]] = defaultdict(list)
    for sub in session.exec(
        select(WebhookSubscription).where(col(WebhookSubscription.owner_id).in_(owners), WebhookSubscription.active)
    ).all():
        subs[sub.owner_id].append(sub)
    connected = _connected(session, [sub for owned in subs.values() for sub in owned])
    now = utcnow()
    rows = [
        {
            "id": new_id(),
            "subscription_id": sub.id,
            "event_id": event.id,
            "event_type": event.type,
            "payload": payload_of(event),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for event in events
        for owner in audience[event.athlete_id]
        for sub in subs.get(owner, ())
        if _allows(sub, event, connected)
    ]
    if rows:
        table = WebhookDelivery.__table__  # type: ignore[attr-defined]
        session.execute(dialect_insert(session)(table).values(rows).on_conflict_do_nothing())
    # Nothing reads the loaded events again: no need for the ORM to find and update them
    # in the session (its default walks every object loaded for each statement).
    unsynchronised = {"synchronize_session": False}
    session.execute(
        update(OutboxEvent).where(col(OutboxEvent.id).in_([e.id for e in events])).values(dispatched_at=now),
        execution_options=unsynchronised,
    )
    session.execute(
        delete(OutboxEvent).where(col(OutboxEvent.dispatched_at) < now - OUTBOX_RETENTION),
        execution_options=unsynchronised,
    )
    return len(events)


@dataclass(frozen=True)
class Claim:
    delivery_id: uuid.UUID
    lease_id: uuid.UUID
    url: str
    secret: str
    body: str
    attempts: int


def _due(now: datetime) -> list[object]:
    """Pending, due, not held by a live lease, of an active (not paused) subscription."""
    return [
        WebhookSubscription.active,
        WebhookDelivery.status == "pending",
        col(WebhookDelivery.next_attempt_at) <= now,
        or_(col(WebhookDelivery.leased_until).is_(None), col(WebhookDelivery.leased_until) < now),
    ]


def claim(session: Session, lease: timedelta) -> Claim | None:
    """Take the next due delivery for ``lease``; None when none is due. Flushes."""
    now = utcnow()
    found = session.exec(
        select(WebhookDelivery, WebhookSubscription)
        .join(WebhookSubscription, col(WebhookSubscription.id) == WebhookDelivery.subscription_id)
        .where(*_due(now))  # type: ignore[arg-type]
        .order_by(col(WebhookDelivery.next_attempt_at))
        .limit(1)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    ).first()
    if found is None:
        return None
    delivery, sub = found
    delivery.lease_id, delivery.leased_until = uuid.uuid4(), now + lease
    session.flush()
    body = json.dumps(delivery.payload, separators=(",", ":"))
    return Claim(delivery.id, delivery.lease_id, sub.url, sub.secret, body, delivery.attempts)


def signed_headers(secret: str, message_id: str, body: str, at: datetime) -> dict[str, str]:
    """Standard Webhooks' headers: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


class Dispatcher:
    """Fans out and delivers until stopped; one HTTP request at a time per dispatcher."""

    def __init__(self, engine: Engine, settings: Settings, client: httpx.Client | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.client = client or httpx.Client(timeout=settings.webhook_timeout_s, follow_redirects=False)
        self.lease = timedelta(seconds=settings.worker_lease_s)
        self.delays = settings.webhook_retry_delays_s

    def _has_work(self) -> bool:
        """A cheap read first, so an idle dispatcher never takes SQLite's write lock."""
        with Session(self.engine) as session:
            undispatched = session.exec(
                select(OutboxEvent.id).where(col(OutboxEvent.dispatched_at).is_(None)).limit(1)
            ).first()
            due = session.exec(
                select(WebhookDelivery.id)
                .join(WebhookSubscription, col(WebhookSubscription.id) == WebhookDelivery.subscription_id)
                .where(*_due(utcnow()))  # type: ignore[arg-type]
                .limit(1)
            ).first()
        return undispatched is not None or due is not None

    def run_once(self) -> int:
        """Fan out what is waiting, then make every due attempt; how many attempts were made."""
        if not self._has_work():
            return 0
        while True:
            with write_session(self.engine) as session:
                fanned = fan_out(session)
                session.commit()
            if fanned < BATCH:
                break
        attempts = 0
        while True:
            with write_session(self.engine) as session:
                taken = claim(session, self.lease)
                session.commit()
            if taken is None:
                return attempts
            self.deliver(taken)
            attempts += 1

    def deliver(self, taken: Claim) -> None:
        now = utcnow()
        code: int | None = None
        error: str | None = None
        reason = refusal(taken.url, allow_private=self.settings.private_webhook_urls)
        if reason:
            error = f"not sent: the URL {reason}"
        else:
            try:
                headers = signed_headers(taken.secret, str(taken.delivery_id), taken.body, now)
                response = self.client.post(taken.url, content=taken.body.encode(), headers=headers)
                code = response.status_code
                if not 200 <= code < 300:
                    error = f"the receiver answered {code}"
            except (httpx.HTTPError, httpx.InvalidURL, ValueError, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}"[:300]
        self._record(taken, now, code, error)

    def _record(self, taken: Claim, at: datetime, code: int | None, error: str | None) -> None:
        attempts = taken.attempts + 1
        values: dict[str, object] = {
            "attempts": attempts,
            "response_code": code,
            "last_error": error,
            "last_attempt_at": at,
            "leased_until": None,
            "lease_id": None,
        }
        if error is None:
            values |= {"status": "delivered", "delivered_at": utcnow(), "next_attempt_at": None}
        elif attempts > len(self.delays):
            values |= {"status": "failed", "next_attempt_at": None}
        else:
            values |= {"next_attempt_at": utcnow() + timedelta(seconds=self.delays[attempts - 1])}
        with write_session(self.engine) as session:
            session.execute(
                update(WebhookDelivery)
                .where(col(WebhookDelivery.id) == taken.delivery_id, col(WebhookDelivery.lease_id) == taken.lease_id)
                .values(**values)
            )
            session.commit()
        if error:
            log.info("webhook delivery %s failed (attempt %d): %s", taken.delivery_id, attempts, error)

    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set: work while there is work, else wait ``worker_poll_s``. A
        database that cannot serve is waited out, not fatal."""
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # keep going: the next round retries (leases make it safe)
                log.exception("the dispatcher's round failed; retrying")
                busy = 0
            if not busy:
                stop.wait(self.settings.worker_poll_s)

    def close(self) -> None:
        self.client.close()


def start_in_thread(engine: Engine, settings: Settings) -> tuple[threading.Thread, threading.Event, Dispatcher]:
    """The embedded dispatcher of ``runstrong serve``: a daemon thread beside the server."""
    stop = threading.Event()
    dispatcher = Dispatcher(engine, settings)
    thread = threading.Thread(target=dispatcher.run, args=(stop,), name="runstrong-dispatcher", daemon=True)
    thread.start()
    return thread, stop, dispatcher
