"""The account (display name, units, time zone), its erasure, and the athlete profile
the plan engine reads. Services commit their own writes before returning."""

from __future__ import annotations

import uuid

from sqlalchemy import delete
from sqlmodel import Session, col, select

from app.accounts import schemas as s
from app.accounts.models import AthleteProfile, CoachGrant, User, utcnow
from app.accounts.service import AthleteAccess
from app.accounts.sessions import account_key
from app.catalogue import models as catalogue
from app.core import ratelimit
from app.core.errors import FieldProblem, InvalidInput, NotFound
from app.core.schemas import WEEKDAY_NAMES


def get_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such account.")
    return user


def update_user(session: Session, user_id: uuid.UUID, data: s.UserUpdate) -> User:
    user = get_user(session, user_id)
    for name, value in data.model_dump(exclude_unset=True).items():
        if value is None:
            raise InvalidInput(f"'{name}' cannot be null.", name=name, location="body")
        setattr(user, name, value)
    user.updated_at = utcnow()
    session.commit()
    session.refresh(user)
    return user


def delete_user(session: Session, user_id: uuid.UUID) -> None:
    """Erase the account and everything it owns, in one transaction: rows referencing the
    user go by ON DELETE CASCADE; rate-limit buckets named after the account or its id
    and invitations still waiting for its email are deleted here."""
    user = get_user(session, user_id)
    ratelimit.forget(session, account_key(user.email))
    ratelimit.forget_user(session, str(user.id))
    session.execute(
        delete(CoachGrant).where(col(CoachGrant.coach_email) == user.email, col(CoachGrant.status) == "pending")
    )
    session.delete(user)
    session.commit()


def get_athlete(session: Session, access: AthleteAccess) -> s.AthletePublic:
    user = get_user(session, access.athlete_id)
    return s.AthletePublic(
        id=user.id,
        display_name=user.display_name,
        units=user.units,
        timezone=user.timezone,
        access=access.access,
    )


def _profile_public(profile: AthleteProfile) -> s.ProfilePublic:
    return s.ProfilePublic.model_validate({**profile.model_dump(exclude={"user_id"}), "athlete_id": profile.user_id})


def get_profile(session: Session, athlete_id: uuid.UUID) -> s.ProfilePublic:
    profile = session.get(AthleteProfile, athlete_id)
    if profile is None:
        raise NotFound("No such athlete profile.")
    return _profile_public(profile)


def _unknown(
    session: Session, model: type[catalogue.Equipment] | type[catalogue.Injury], slugs: list[str]
) -> list[str]:
    known = set(session.exec(select(model.slug).where(col(model.slug).in_(slugs))).all())
    return sorted(set(slugs) - known)


def update_profile(session: Session, athlete_id: uuid.UUID, data: s.ProfileUpdate) -> s.ProfilePublic:
    profile = session.get(AthleteProfile, athlete_id)
    if profile is None:
        raise NotFound("No such athlete profile.")
    changes = data.model_dump(exclude_unset=True, mode="json")
    problems = []
    if "running_days" in changes:
        changes["running_days"] = sorted(set(changes["running_days"] or []), key=WEEKDAY_NAMES.index)
    for field, model in (("equipment", catalogue.Equipment), ("injury_history", catalogue.Injury)):
        if changes.get(field) is None and field in changes:
            changes[field] = []
        if unknown := _unknown(session, model, changes.get(field) or []):
            problems.append(
                FieldProblem(
                    name=field, location="body", detail=f"unknown slugs: {', '.join(unknown)}", type="unknown_slug"
                )
            )
    if problems:
        raise InvalidInput.of(problems)
    for name, value in data.model_dump(exclude_unset=True).items():
        setattr(profile, name, changes[name] if name in ("equipment", "injury_history", "running_days") else value)
    profile.updated_at = utcnow()
    session.commit()
    session.refresh(profile)
    return _profile_public(profile)
