"""Rules of the staff notification list: who is told, what the list and the bell show, reading.

`notify_staff(kind, client, link_endpoint, link_args)` is the one way a feature tells staff of
something about a client: every active staff member who may see the client (people's rule: owners,
admins and schedulers see everyone, clinicians and interns their assigned clients) gets a row, in
the caller's transaction. A row holds no clinical text (no file name, no message): its wording comes
from the kind a feature registered (`register_kind`), and the list and the bell count only rows
about clients the reader may still see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update

from app.refusals import NotFound
from app.roles import MANAGES_PRACTICE, SEES_ALL_CLIENTS, STAFF_ROLES
from blueprints.auth.models import User
from blueprints.notifications.service import email_undelivered
from blueprints.people.models import Client, ClientClinician
from blueprints.people.operations.access import visible_clients
from blueprints.staff_notifications.email import ALERT_KIND, DIGEST_KIND, email_at_once
from blueprints.staff_notifications.models import StaffNotification
from tenants.database import db

LIST_SIZE = 100


@dataclass(frozen=True)
class Kind:
    text: str  # in the list: "New upload"
    email_text: str  # in an email: "A client uploaded a file for you to review."
    urgent: bool = False  # emailed at once whatever the staff member's preference (item-9 flags)


_kinds: dict[str, Kind] = {}


def register_kind(kind: str, text: str, email_text: str | None = None, *, urgent: bool = False) -> None:
    """What a notification of `kind` says, for example "New upload", and what its email says
    (never clinical text, never a client's name, a form, file or message name)."""
    _kinds[kind] = Kind(text, email_text or "Something about a client needs your attention.", urgent)


def kind_text(kind: str) -> str:
    return _kinds[kind].text if kind in _kinds else "Something new"


def recipients(
    client: Client, exclude_user_id: int | None = None, roles: tuple[str, ...] | None = None
) -> list[User]:
    """Active staff who may see `client` (and hold one of `roles`, when given), in a stable order."""
    assigned = select(ClientClinician.user_id).where(ClientClinician.client_id == client.id)
    query = (
        select(User)
        .where(
            User.kind == "staff",
            User.role.in_(STAFF_ROLES),
            User.is_active_account.is_(True),
            or_(User.role.in_(SEES_ALL_CLIENTS), User.id.in_(assigned)),
        )
        .order_by(User.id)
    )
    if exclude_user_id is not None:
        query = query.where(User.id != exclude_user_id)
    if roles is not None:
        query = query.where(User.role.in_(roles))
    return list(db.session.scalars(query))


def notify_staff(
    kind: str,
    client: Client,
    link_endpoint: str,
    link_args: dict | None = None,
    *,
    exclude_user_id: int | None = None,
    roles: tuple[str, ...] | None = None,
) -> int:
    """Tell every staff member who may see `client` (but `exclude_user_id`, the one who did it;
    only those holding one of `roles`, when given) of `kind`, with a link to
    `link_endpoint(**link_args)`. Returns how many were told."""
    return _tell(recipients(client, exclude_user_id, roles), kind, client.id, link_endpoint, link_args)


def notify_managers(kind: str, link_endpoint: str, link_args: dict | None = None) -> int:
    """Tell the practice's active owners and admins of `kind`, about no client (an undelivered email)."""
    managers = db.session.scalars(
        select(User)
        .where(User.kind == "staff", User.role.in_(MANAGES_PRACTICE), User.is_active_account.is_(True))
        .order_by(User.id)
    ).all()
    return _tell(list(managers), kind, None, link_endpoint, link_args)


def _tell(users: list[User], kind: str, client_id: int | None, link_endpoint: str, link_args) -> int:
    """A row for each of `users`, and an email to those who want one at once, in the caller's
    transaction."""
    for user in users:
        db.session.add(
            StaffNotification(
                user_id=user.id,
                kind=kind,
                client_id=client_id,
                link_endpoint=link_endpoint,
                link_args=dict(link_args or {}),
            )
        )
    described = _kinds.get(kind) or Kind("Something new", "Something needs your attention.")
    email_at_once(users, described.email_text, described.urgent)
    db.session.flush()
    return len(users)


def _visible_to(staff: User):
    """Rows of `staff` about a client they may still see (or about no client)."""
    seen = visible_clients(staff).with_only_columns(Client.id)
    return (StaffNotification.user_id == staff.id) & or_(
        StaffNotification.client_id.is_(None), StaffNotification.client_id.in_(seen)
    )


def unread_count(staff: User) -> int:
    """The bell's number: one query."""
    return db.session.scalar(
        select(func.count(StaffNotification.id)).where(
            _visible_to(staff), StaffNotification.read_at.is_(None)
        )
    )


@dataclass(frozen=True)
class Shown:
    id: int
    text: str
    client_name: str | None
    created_at: datetime
    unread: bool


def notifications_for(staff: User) -> list[Shown]:
    """The newest LIST_SIZE notifications of `staff`, with what they say."""
    rows = db.session.execute(
        select(StaffNotification, Client)
        .outerjoin(Client, Client.id == StaffNotification.client_id)
        .where(_visible_to(staff))
        .order_by(StaffNotification.created_at.desc(), StaffNotification.id.desc())
        .limit(LIST_SIZE)
    ).all()
    return [
        Shown(
            row.id,
            kind_text(row.kind),
            client.display_name if client else None,
            row.created_at,
            row.read_at is None,
        )
        for row, client in rows
    ]


def open_notification(staff: User, notification_id: int) -> StaffNotification:
    """Mark one of `staff`'s notifications read and give it back (its link is where to go next).
    Anyone else's, or one about a client `staff` may no longer see: NotFound."""
    notification = db.session.scalars(
        select(StaffNotification).where(StaffNotification.id == notification_id, _visible_to(staff))
    ).first()
    if notification is None:
        raise NotFound()
    if notification.read_at is None:
        notification.read_at = func.now()
        db.session.flush()
    return notification


def mark_all_read(staff: User) -> int:
    result = db.session.execute(
        update(StaffNotification)
        .where(StaffNotification.user_id == staff.id, StaffNotification.read_at.is_(None))
        .values(read_at=func.now())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


UNDELIVERED_EMAIL = "email_undelivered"
register_kind(UNDELIVERED_EMAIL, "Undelivered email", "An email from the practice could not be delivered.")


@email_undelivered.connect
def _on_undelivered(email) -> None:
    # A staff email that could not be delivered tells no one: that would be a loop of emails.
    if email.kind not in (ALERT_KIND, DIGEST_KIND):
        notify_managers(UNDELIVERED_EMAIL, "notifications.outbox")
