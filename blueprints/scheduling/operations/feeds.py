"""Private calendar feeds: a secret address per person (staff, or a client-side login) that a
calendar app subscribes to. The token is shown once and stored only as its hash; a new feed retires
the old one; revoking ends it. A staff feed holds the appointments they give; a client's, those of
every record they may manage appointments for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.tokens import new_token, token_hash
from blueprints.auth.models import User
from blueprints.portal.service import accessible_records
from blueprints.scheduling.invites import PRODID
from blueprints.scheduling.models import Appointment, CalendarFeed
from blueprints.scheduling.operations.common import audit
from tenants.context import current_practice
from tenants.database import db
from tenants.features import practice_zone


def active_feed(user: User) -> CalendarFeed | None:
    return db.session.scalars(
        select(CalendarFeed)
        .where(CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None))
        .order_by(CalendarFeed.created_at.desc())
    ).first()


def _revoke_feeds(user: User) -> int:
    feeds = db.session.scalars(
        select(CalendarFeed).where(CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None))
    ).all()
    for feed in feeds:
        feed.revoked_at = func.now()
    db.session.flush()
    return len(feeds)


def create_feed(user: User, actor: dict | None = None) -> str:
    """A new private feed for `user` (any earlier one stops working); returns the raw token, which
    is shown once and stored only as its hash. The audit line names `user` as staff, or `actor` (a
    portal viewer's `audit_actor`)."""
    _revoke_feeds(user)
    raw = new_token()
    db.session.add(CalendarFeed(user_id=user.id, token_hash=token_hash(raw)))
    db.session.flush()
    audit(actor or user, "created calendar feed")
    return raw


def revoke_feed(user: User, actor: dict | None = None) -> bool:
    if _revoke_feeds(user):
        audit(actor or user, "revoked calendar feed")
        return True
    return False


def feed_owner(raw_token: str) -> User | None:
    """The active person (staff, or client-side login) whose live feed this token opens, or None."""
    if not raw_token or len(raw_token) > 200:
        return None
    feed = db.session.scalars(
        select(CalendarFeed).where(
            CalendarFeed.token_hash == token_hash(raw_token), CalendarFeed.revoked_at.is_(None)
        )
    ).first()
    if feed is None:
        return None
    user = db.session.get(User, feed.user_id)
    if user is None or not user.is_active_account:
        return None
    return user


def feed_calendar(user: User, now: datetime | None = None) -> str:
    """`user`'s upcoming appointments as an iCalendar feed: the same UID and SEQUENCE as the invites,
    so a calendar holding both shows one event each."""
    now = now or datetime.now(UTC)
    zone = practice_zone()
    calendar_ = Calendar()
    calendar_.add("prodid", PRODID)
    calendar_.add("version", "2.0")
    calendar_.add("x-wr-calname", f"{current_practice().name}: {user.name}")
    calendar_.add("x-wr-timezone", zone.key)
    if user.is_staff:
        whose = Appointment.clinician_user_id == user.id
    else:
        # A client's feed: their own records and the minors they may manage appointments for.
        records = [client.id for _, client, rights in accessible_records(user) if rights.appointments]
        whose = Appointment.client_id.in_(records)
    appointments = db.session.scalars(
        select(Appointment)
        .where(whose, Appointment.status == "booked", Appointment.ends_at > now)
        .options(
            selectinload(Appointment.client),
            selectinload(Appointment.service),
            selectinload(Appointment.clinician),
        )
        .order_by(Appointment.starts_at)
    )
    stamp = now.replace(microsecond=0)
    for appointment in appointments:
        event = Event()
        event.add("uid", appointment.ics_uid)
        event.add("sequence", appointment.ics_sequence)
        event.add("dtstamp", stamp)
        event.add("dtstart", appointment.starts_at.astimezone(zone))
        event.add("dtend", appointment.ends_at.astimezone(zone))
        if user.is_staff:
            summary = f"{appointment.service.name} with {appointment.client.first_name}"
        else:
            with_whom = f"{appointment.service.name} with {appointment.clinician.name}"
            summary = f"{appointment.client.first_name}: {with_whom}"
        event.add("summary", summary)
        event.add("status", "CONFIRMED")
        calendar_.add_component(event)
    today = now.date()
    calendar_.add_missing_timezones(
        first_date=today - timedelta(days=1), last_date=today + timedelta(days=3 * 366)
    )
    return calendar_.to_ical().decode()
