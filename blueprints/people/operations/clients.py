"""Client records: the fields a practice asks for, time zones, adding and editing, search, viewing
(audited), archive, test clients, and which staff are assigned to a client.

Seeing a client at all is `access.client_for_staff`; the role checks here come on top.
"""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from sqlalchemy import func, or_, select

from app.dates import birth_date_problem
from app.refusals import NotAllowed, Problems
from app.roles import CARE_TEAM, MANAGES_PRACTICE, OFFERS_SERVICES, SEES_ALL_CLIENTS
from blueprints.auth.models import User
from blueprints.auth.service import AccountError
from blueprints.people.models import Client, ClientClinician
from blueprints.people.operations.access import assign_clinician, audit, create_client, visible_clients
from tenants.database import db

# The client record's fields, by the section of the form that asks for them. The name is always
# asked; the other sections only when the practice's settings say so.
CLIENT_SECTIONS = {
    "name": ("first_name", "last_name", "preferred_name"),
    "demographics": ("date_of_birth",),
    "contact": ("email", "phone", "address", "time_zone"),
    "emergency_contact": ("emergency_contact_name", "emergency_contact_phone"),
    "insurance": ("insurance_provider", "insurance_member_id"),
}
SECTION_SETTINGS = {
    "demographics": "ask_demographics",
    "contact": "ask_contact",
    "emergency_contact": "ask_emergency_contact",
    "insurance": "ask_insurance",
}
LIST_LIMIT = 200


def asked_sections(settings) -> tuple[str, ...]:
    return ("name",) + tuple(s for s, column in SECTION_SETTINGS.items() if getattr(settings, column))


def asked_fields(settings) -> tuple[str, ...]:
    return tuple(name for section in asked_sections(settings) for name in CLIENT_SECTIONS[section])


@cache
def _valid_time_zones() -> frozenset[str]:
    return frozenset(available_timezones() - {"localtime", "Factory"})


@cache
def time_zone_names() -> tuple[str, ...]:
    """The zones to suggest: current region/city names and UTC (older aliases stay accepted)."""
    legacy = ("Etc/", "SystemV/", "US/", "Canada/", "Brazil/", "Mexico/", "Chile/")
    names = [name for name in _valid_time_zones() if "/" in name and not name.startswith(legacy)]
    return ("UTC", *sorted(names))


def time_zone_problem(name: str | None) -> str | None:
    if name and name not in _valid_time_zones():
        return "Choose a time zone from the list, for example Europe/London or America/New_York."
    return None


def _clean(fields: dict) -> dict:
    allowed = {name for names in CLIENT_SECTIONS.values() for name in names} | {"discreet_messages"}
    cleaned = {}
    for name, value in fields.items():
        if name not in allowed:
            raise ValueError(name)
        if isinstance(value, str):
            value = value.strip() or None
        cleaned[name] = value
    if not cleaned.get("first_name", "x") or not cleaned.get("last_name", "x"):
        raise Problems({"first_name": "Enter the client's first and last name."})
    problem = time_zone_problem(cleaned.get("time_zone"))
    if problem:
        raise Problems({"time_zone": problem})
    born = cleaned.get("date_of_birth")
    if born is not None and birth_date_problem(born):
        raise Problems({"date_of_birth": birth_date_problem(born)})
    return cleaned


def add_client(actor: User, fields: dict) -> Client:
    """A new client record; a clinician or intern who adds one is assigned to it (or could not see it)."""
    fields = _clean(fields)
    client = create_client(fields.pop("first_name"), fields.pop("last_name"), **fields)
    if actor.role not in SEES_ALL_CLIENTS:
        assign_clinician(client, actor)
    audit(actor, "created client record", client)
    return client


def update_client(actor: User, client: Client, fields: dict) -> None:
    """Change only the fields given (a section the practice does not ask for keeps its data)."""
    for name, value in _clean(fields).items():
        setattr(client, name, value)
    db.session.flush()
    audit(actor, "edited client record", client)


def search_clients(staff: User, text: str = "", status: str = "active") -> list[Client]:
    """The clients `staff` may see with this status, whose name or email contains `text`."""
    query = visible_clients(staff).where(Client.status == status)
    text = (text or "").strip()
    if text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = query.where(
            or_(
                *(
                    column.ilike(pattern, escape="\\")
                    for column in (
                        Client.first_name,
                        Client.last_name,
                        Client.preferred_name,
                        Client.email,
                        func.concat(Client.first_name, " ", Client.last_name),
                        func.concat(Client.preferred_name, " ", Client.last_name),
                    )
                )
            )
        )
    query = query.order_by(func.lower(Client.last_name), func.lower(Client.first_name), Client.id)
    return list(db.session.scalars(query.limit(LIST_LIMIT)))


def record_viewed(actor: User, client: Client) -> None:
    audit(actor, "viewed client record", client)


def set_archived(actor: User, client: Client, archived: bool) -> None:
    if actor.role not in CARE_TEAM:
        raise NotAllowed()
    status = "archived" if archived else "active"
    if client.status == status:
        return
    client.status = status
    db.session.flush()
    audit(actor, "archived client" if archived else "unarchived client", client)


def set_test_client(actor: User, client: Client, is_test: bool) -> None:
    if actor.role not in MANAGES_PRACTICE:
        raise NotAllowed()
    if client.is_test != is_test:
        client.is_test = is_test
        db.session.flush()
        audit(actor, "marked test client" if is_test else "unmarked test client", client)


def assignable_staff(client: Client) -> list[User]:
    assigned = {user.id for user in client.clinicians}
    candidates = db.session.scalars(
        select(User)
        .where(User.kind == "staff", User.is_active_account.is_(True), User.role.in_(OFFERS_SERVICES))
        .order_by(User.name, User.id)
    )
    return [user for user in candidates if user.id not in assigned]


def assign(actor: User, client: Client, user_id: int | None) -> User:
    if actor.role not in SEES_ALL_CLIENTS:
        raise NotAllowed()
    clinician = db.session.get(User, user_id) if user_id else None
    if clinician is None or clinician not in assignable_staff(client):
        raise AccountError("Choose an active clinician, intern, admin or owner who is not assigned yet.")
    assign_clinician(client, clinician)
    db.session.expire(client, ["clinicians"])
    audit(actor, "assigned clinician", client, detail=clinician.name)
    return clinician


def unassign(actor: User, client: Client, user_id: int) -> bool:
    if actor.role not in SEES_ALL_CLIENTS:
        raise NotAllowed()
    link = db.session.get(ClientClinician, (client.id, user_id))
    if link is None:
        return False
    clinician = db.session.get(User, user_id)
    db.session.delete(link)
    db.session.flush()
    db.session.expire(client, ["clinicians"])
    audit(actor, "unassigned clinician", client, detail=clinician.name if clinician else None)
    return True
