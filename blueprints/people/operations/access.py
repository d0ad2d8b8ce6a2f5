"""Building blocks shared by the people operations and used by other features (scheduling, portal,
messaging, profile links, settings, the demo and the test fixtures): keep their signatures.

Client records and their clinicians, who may see which client, portal logins and their grants,
minors; and `audit`, the staff audit line every people operation writes.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from app.refusals import NotAllowed
from app.roles import CARE_TEAM, SEES_ALL_CLIENTS
from blueprints.audit.service import record
from blueprints.auth.models import User
from blueprints.auth.service import AccountError, find_user_by_email
from blueprints.people.models import Client, ClientClinician, PortalAccess
from tenants.database import db
from tenants.features import practice_settings, practice_today


def audit(actor: User, action: str, client: Client | None = None, detail: str | None = None) -> None:
    """The audit line of a change `actor` (staff) made, in the change's own transaction."""
    record(
        action,
        actor_kind="staff",
        actor_user_id=actor.id,
        actor_name=actor.name,
        client_id=client.id if client is not None else None,
        detail=detail,
    )


def create_client(first_name: str, last_name: str, **fields) -> Client:
    client = Client(first_name=first_name.strip(), last_name=last_name.strip(), **fields)
    db.session.add(client)
    db.session.flush()
    return client


def assign_clinician(client: Client, clinician: User) -> None:
    if not clinician.is_staff:
        raise AccountError("Only staff can be assigned to a client.")
    if db.session.get(ClientClinician, (client.id, clinician.id)) is None:
        db.session.add(ClientClinician(client_id=client.id, user_id=clinician.id))
        db.session.flush()


def visible_clients(staff: User):
    """A query of the clients `staff` may see: everyone for owners, admins and schedulers;
    only assigned clients for clinicians and interns."""
    query = select(Client)
    if staff.role not in SEES_ALL_CLIENTS:
        query = query.join(ClientClinician, ClientClinician.client_id == Client.id).where(
            ClientClinician.user_id == staff.id
        )
    return query


def client_for_staff(staff: User, client_id: int) -> Client | None:
    """The client `client_id` if `staff` may see it, else None (callers answer 404 either way)."""
    return db.session.scalars(visible_clients(staff).where(Client.id == client_id)).first()


def check_may_grant(actor: User) -> None:
    """Refuse unless `actor` may give, change or end portal access (the care team)."""
    if actor.role not in CARE_TEAM:
        raise NotAllowed()


def portal_account(email: str, name: str) -> User:
    """The client-side login for `email`, created (without a password) when there is none yet."""
    user = find_user_by_email(email)
    if user is not None:
        if user.is_staff:
            raise AccountError("That email address belongs to a staff account of this practice.")
        return user
    user = User(email=email.strip(), name=name.strip(), role="client", kind="client")
    db.session.add(user)
    db.session.flush()
    return user


def access_row(user: User, client: Client) -> PortalAccess | None:
    """The grant (live or revoked) of `user` on `client`'s portal, if there ever was one."""
    return db.session.scalars(
        select(PortalAccess).where(PortalAccess.user_id == user.id, PortalAccess.client_id == client.id)
    ).first()


def grant_access(user: User, client: Client, relationship: str = "self", **permissions) -> PortalAccess:
    """Give `user` access to `client`'s portal (again, if it had been revoked)."""
    if relationship not in ("self", "guardian"):
        raise ValueError(relationship)
    access = access_row(user, client)
    if access is None:
        access = PortalAccess(user_id=user.id, client_id=client.id, relationship_kind=relationship)
        db.session.add(access)
    access.relationship_kind = relationship
    access.revoked_at = None
    for name, value in permissions.items():
        setattr(access, name, value)
    db.session.flush()
    return access


def live_grants(client: Client, relationship: str) -> list[tuple[PortalAccess, User]]:
    """The unrevoked `relationship` ("self" or "guardian") grants on `client` whose login is active,
    each with its login, in the order the logins were made."""
    rows = db.session.execute(
        select(PortalAccess, User)
        .join(User, User.id == PortalAccess.user_id)
        .where(
            PortalAccess.client_id == client.id,
            PortalAccess.relationship_kind == relationship,
            PortalAccess.revoked_at.is_(None),
            User.is_active_account.is_(True),
        )
        .order_by(User.id)
    )
    return [(access, user) for access, user in rows]


def revoke_access(access: PortalAccess) -> None:
    access.revoked_at = func.now()
    db.session.flush()


def age_on(date_of_birth: date | None, today: date) -> int | None:
    if date_of_birth is None:
        return None
    years = today.year - date_of_birth.year
    if (today.month, today.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years


def is_minor(client: Client) -> bool:
    age = age_on(client.date_of_birth, practice_today())
    return age is not None and age < practice_settings().age_of_majority


# The audit log shows who and which client an event is about by these (registered with audit in
# `blueprints/people/__init__.py`: audit sits below people and cannot import them).


def people_named(ids) -> list[tuple[int, str, str]]:
    """(id, name, kind) of the logins `ids` (anything `in_` takes), staff first, then by name."""
    rows = db.session.execute(
        select(User.id, User.name, User.kind).where(User.id.in_(ids)).order_by(User.kind.desc(), User.name)
    )
    return [(row.id, row.name, row.kind) for row in rows]


def client_names(ids: set[int]) -> dict[int, str]:
    """The display names of the clients `ids` (those that exist)."""
    clients = db.session.scalars(select(Client).where(Client.id.in_(ids)))
    return {client.id: client.display_name for client in clients}
