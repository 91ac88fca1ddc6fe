"""Coach grants as invitations. An athlete invites an email; the grant stays ``pending``
until the account with that email (now or once it registers) accepts it, and gives
access only then. Inviting answers the same whether or not the email has an account."""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.accounts import schemas as s
from app.accounts.models import CoachGrant, User, utcnow
from app.accounts.service import grant_scopes, normalise_email
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.pagination import PageParams, page_rows


def _person(user: User) -> s.PersonRef:
    return s.PersonRef(id=user.id, display_name=user.display_name)


def _access(grant: CoachGrant) -> Literal["read", "write"]:
    return "write" if grant.access == "write" else "read"


def _grant_public(grant: CoachGrant, coach: User | None) -> s.GrantPublic:
    return s.GrantPublic(
        id=grant.id,
        status="active" if grant.status == "active" else "pending",
        coach_email=grant.coach_email,
        coach=_person(coach) if coach is not None and grant.status == "active" else None,
        access=_access(grant),
        scopes=grant_scopes(grant.access),
        created_at=grant.created_at,
        accepted_at=grant.accepted_at,
    )


def _email_of(session: Session, user_id: uuid.UUID) -> str:
    email = session.exec(select(User.email).where(User.id == user_id)).first()
    if email is None:
        raise NotFound("No such account.")
    return email


def create_grant(session: Session, athlete_id: uuid.UUID, data: s.GrantCreate) -> s.GrantPublic:
    """Invite ``data.coach_email``; nothing here depends on whether it has an account."""
    email = normalise_email(data.coach_email)
    if email == _email_of(session, athlete_id):
        raise InvalidInput("You cannot be your own coach.", name="coach_email", location="body")
    exists = session.exec(
        select(CoachGrant.id).where(CoachGrant.athlete_id == athlete_id, CoachGrant.coach_email == email)
    ).first()
    if exists is not None:
        raise Conflict("This email already has a grant or invitation; revoke it to change its access.")
    grant = CoachGrant(athlete_id=athlete_id, coach_email=email, access=data.access, status="pending")
    session.add(grant)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent invitation to the same email won
        session.rollback()
        raise Conflict("This email already has a grant or invitation.") from exc
    session.refresh(grant)  # the caller commits, with the Idempotency-Key's stored answer
    return _grant_public(grant, None)


def list_grants(session: Session, athlete_id: uuid.UUID, params: PageParams) -> tuple[list[s.GrantPublic], int]:
    stmt = (
        select(CoachGrant, User)
        .join(User, col(User.id) == CoachGrant.coach_id, isouter=True)
        .where(CoachGrant.athlete_id == athlete_id)
    )
    rows, total = page_rows(session, stmt, params, col(CoachGrant.created_at), col(CoachGrant.id))
    return [_grant_public(grant, coach) for grant, coach in rows], total


def revoke_grant(session: Session, athlete_id: uuid.UUID, grant_id: uuid.UUID) -> None:
    """Withdraw an invitation or end a grant."""
    grant = session.get(CoachGrant, grant_id)
    if grant is None or grant.athlete_id != athlete_id:
        raise NotFound(f"No grant '{grant_id}'.")
    session.delete(grant)
    session.commit()


def list_coached(session: Session, coach_id: uuid.UUID, params: PageParams) -> tuple[list[s.CoachedAthlete], int]:
    stmt = (
        select(CoachGrant, User)
        .join(User, col(User.id) == CoachGrant.athlete_id)
        .where(CoachGrant.coach_id == coach_id, CoachGrant.status == "active")
    )
    rows, total = page_rows(session, stmt, params, col(User.display_name), col(User.id))
    return [_coached(grant, athlete) for grant, athlete in rows], total


def _coached(grant: CoachGrant, athlete: User) -> s.CoachedAthlete:
    return s.CoachedAthlete(
        athlete=_person(athlete),
        access=_access(grant),
        scopes=grant_scopes(grant.access),
        granted_at=grant.accepted_at or grant.created_at,
    )


# ---------------------------------------------------------------- the invited coach's side


def list_invitations(session: Session, user_id: uuid.UUID, params: PageParams) -> tuple[list[s.InvitationPublic], int]:
    """Pending invitations addressed to the caller's email, oldest first."""
    stmt = (
        select(CoachGrant, User)
        .join(User, col(User.id) == CoachGrant.athlete_id)
        .where(CoachGrant.coach_email == _email_of(session, user_id), CoachGrant.status == "pending")
    )
    rows, total = page_rows(session, stmt, params, col(CoachGrant.created_at), col(CoachGrant.id))
    return [
        s.InvitationPublic(
            id=grant.id,
            athlete=_person(athlete),
            access=_access(grant),
            scopes=grant_scopes(grant.access),
            invited_at=grant.created_at,
        )
        for grant, athlete in rows
    ], total


def _pending_for(session: Session, user_id: uuid.UUID, grant_id: uuid.UUID) -> CoachGrant:
    grant = session.get(CoachGrant, grant_id)
    if grant is None or grant.status != "pending" or grant.coach_email != _email_of(session, user_id):
        raise NotFound(f"No pending invitation '{grant_id}'.")
    return grant


def accept_invitation(session: Session, user_id: uuid.UUID, grant_id: uuid.UUID) -> s.CoachedAthlete:
    """The caller becomes the athlete's coach, with the access the athlete chose."""
    grant = _pending_for(session, user_id, grant_id)
    grant.status, grant.coach_id, grant.accepted_at = "active", user_id, utcnow()
    session.commit()
    athlete = session.get(User, grant.athlete_id)
    if athlete is None:  # erased meanwhile: the grant went with it
        raise NotFound(f"No pending invitation '{grant_id}'.")
    return _coached(grant, athlete)


def decline_invitation(session: Session, user_id: uuid.UUID, grant_id: uuid.UUID) -> None:
    session.delete(_pending_for(session, user_id, grant_id))
    session.commit()
