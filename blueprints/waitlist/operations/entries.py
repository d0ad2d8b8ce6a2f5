"""Waitlist entries: a client (or a guardian with the appointments grant) joins in the portal, staff
add a client they may see; either may take an entry off; staff set the order offers go out in.

An entry says which service, with which clinician (or any the client may book with), on which days
and parts of the day, between which dates, and optionally which booked appointment to move earlier.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from app.refusals import NotFound, Problems
from blueprints.auth.models import User
from blueprints.people.models import Client
from blueprints.people.operations.access import client_for_staff, visible_clients
from blueprints.scheduling.models import Service
from blueprints.scheduling.operations.common import audit, number_problem
from blueprints.scheduling.operations.portal import bookable_services, clinician_choices
from blueprints.scheduling.operations.visibility import client_appointment
from blueprints.waitlist.models import PARTS, WaitlistEntry
from blueprints.waitlist.operations.matching import order_key
from blueprints.waitlist.operations.offers import now_utc, withdraw_offers
from tenants.database import db
from tenants.features import practice_settings, practice_today

MAX_WAITING = 5  # entries one client may have waiting at once
MAX_DAYS_AHEAD = 365
MAX_PRIORITY = 9999


def weekday_bits(days) -> int:
    return sum(1 << day for day in set(days or ()) if isinstance(day, int) and 0 <= day <= 6)


def part_bits(parts) -> int:
    return sum(PARTS[name][0] for name in set(parts or ()) if name in PARTS)


def services_for(client: Client, by_staff: bool) -> list[Service]:
    """What the client may wait for: services bookable online (staff: every active service)."""
    if by_staff:
        return list(
            db.session.scalars(select(Service).where(Service.is_active.is_(True)).order_by(Service.name))
        )
    return bookable_services()


def join(
    actor: User | dict,
    client: Client,
    service: Service | None,
    clinician: User | None,
    *,
    weekdays,
    parts,
    from_date: date | None,
    until_date: date | None,
    move_appointment_id: int | None = None,
    by_staff: bool = False,
) -> WaitlistEntry:
    """Put `client` on the waitlist (refused field by field when something does not fit)."""
    problems: dict[str, str] = {}
    today = practice_today()
    if service is None or service not in services_for(client, by_staff):
        problems["service_id"] = "Choose a service from the list."
    elif clinician is not None:
        if not any(c.id == clinician.id for c in clinician_choices(client, service, practice_settings())):
            if not by_staff or clinician not in service.clinicians:
                problems["clinician_id"] = "Choose a clinician from the list."
    elif not by_staff and not clinician_choices(client, service, practice_settings()):
        problems["service_id"] = (
            "There is no clinician you can book this service with. Please contact the practice."
        )
    days, part_mask = weekday_bits(weekdays), part_bits(parts)
    if not days:
        problems["weekdays"] = "Choose at least one day."
    if not part_mask:
        problems["parts"] = "Choose at least one part of the day."
    if from_date is None or from_date < today:
        problems["from_date"] = "Enter a date from today on."
    if until_date is None or (from_date and until_date < from_date):
        problems["until_date"] = "Enter a date on or after the first date."
    elif until_date > today + timedelta(days=MAX_DAYS_AHEAD):
        problems["until_date"] = f"Enter a date within {MAX_DAYS_AHEAD} days."
    moving = None
    if move_appointment_id:
        moving = client_appointment(client.id, move_appointment_id)
        if moving is None or moving.starts_at <= now_utc() or moving.group_id is not None:
            problems["move_appointment_id"] = "Choose one of your upcoming appointments."
    waiting = db.session.scalars(
        select(WaitlistEntry.id).where(
            WaitlistEntry.client_id == client.id, WaitlistEntry.status == "waiting"
        )
    ).all()
    if len(waiting) >= MAX_WAITING:
        problems[""] = f"You can wait for at most {MAX_WAITING} things at once. Leave one first."
    if problems:
        raise Problems(problems)
    entry = WaitlistEntry(
        client_id=client.id,
        service_id=service.id,
        clinician_user_id=clinician.id if clinician else None,
        weekdays=days,
        parts=part_mask,
        from_date=from_date,
        until_date=until_date,
        move_appointment_id=moving.id if moving else None,
        added_by_user_id=actor.id if isinstance(actor, User) else None,
    )
    db.session.add(entry)
    db.session.flush()
    audit(actor, "joined the waitlist", client.id, detail=f"entry {entry.id}")
    return entry


def client_entries(client_id: int) -> list[WaitlistEntry]:
    """The client's waiting entries, oldest first."""
    return list(
        db.session.scalars(
            select(WaitlistEntry)
            .where(WaitlistEntry.client_id == client_id, WaitlistEntry.status == "waiting")
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
        )
    )


def find_client_entry(client_id: int, entry_id: int) -> WaitlistEntry | None:
    """The client's own waiting entry, or None (another record's id is simply not found)."""
    entry = db.session.get(WaitlistEntry, entry_id)
    if entry is None or entry.client_id != client_id or entry.status != "waiting":
        return None
    return entry


def staff_entry(staff: User, entry_id: int) -> WaitlistEntry:
    entry = db.session.get(WaitlistEntry, entry_id)
    if entry is None or entry.status != "waiting" or client_for_staff(staff, entry.client_id) is None:
        raise NotFound("That waitlist entry was not found.")
    return entry


def leave(actor: User | dict, entry: WaitlistEntry, now: datetime | None = None) -> None:
    """Take the entry off the waitlist; its open offers are declined and their holds passed on."""
    entry.status = "left"
    db.session.flush()
    withdraw_offers(entry, now or now_utc())
    audit(actor, "left the waitlist", entry.client_id, detail=f"entry {entry.id}")


def staff_entries(staff: User, clinician_id: int | None = None) -> list[WaitlistEntry]:
    """Waiting entries of the clients `staff` may see (for one clinician: theirs and "any"), in the
    order offers go out."""
    clients = visible_clients(staff).with_only_columns(Client.id)
    query = select(WaitlistEntry).where(
        WaitlistEntry.status == "waiting", WaitlistEntry.client_id.in_(clients)
    )
    if clinician_id is not None:
        query = query.where(
            (WaitlistEntry.clinician_user_id == clinician_id) | WaitlistEntry.clinician_user_id.is_(None)
        )
    return sorted(db.session.scalars(query), key=order_key)


def set_priority(actor: User, entry: WaitlistEntry, priority: int | None) -> None:
    """Staff's order: lower first; None puts the entry back in first-come order."""
    if priority is not None and number_problem(priority, 1, MAX_PRIORITY):
        raise Problems({"priority": number_problem(priority, 1, MAX_PRIORITY)})
    entry.priority = priority
    db.session.flush()
    audit(
        actor,
        "changed waitlist order",
        entry.client_id,
        detail=f"entry {entry.id}: {priority or 'first come'}",
    )
