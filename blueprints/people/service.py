"""Rules about people: staff (invites, roles, deactivation), clients (records, assignments),
portal accounts and access grants (self, family, guardian), and account activation.

Plain functions over models; they flush but never commit (the view commits, so a refused change
leaves nothing behind). Every refusal is an `AccountError` whose message is fit to show.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from zoneinfo import available_timezones

from sqlalchemy import func, or_, select, update

from blueprints.audit.service import record
from blueprints.auth.models import STAFF_ROLES, OneTimeToken, User
from blueprints.auth.service import (
    ACTIVATE,
    TOKEN_LIFETIMES,
    AccountError,
    consume_with_new_password,
    create_user,
    end_all_sessions,
    find_user_by_email,
    hash_password,
    issue_token,
    peek_token,
)
from blueprints.notifications.service import queue_email
from blueprints.people.models import (
    GUARDIAN_PERMISSIONS,
    MINOR_MESSAGES_CHOICES,
    Client,
    ClientClinician,
    PortalAccess,
)
from tenants.addresses import practice_url
from tenants.context import current_practice
from tenants.database import db
from tenants.features import practice_settings, practice_today

# ---------------------------------------------------------------------------------------------
# Building blocks (used by other blueprints and by the test fixtures: keep their signatures).
# ---------------------------------------------------------------------------------------------


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


def grant_access(user: User, client: Client, relationship: str = "self", **permissions) -> PortalAccess:
    """Give `user` access to `client`'s portal (again, if it had been revoked)."""
    if relationship not in ("self", "guardian"):
        raise ValueError(relationship)
    access = _access_row(user, client)
    if access is None:
        access = PortalAccess(user_id=user.id, client_id=client.id, relationship_kind=relationship)
        db.session.add(access)
    access.relationship_kind = relationship
    access.revoked_at = None
    for name, value in permissions.items():
        setattr(access, name, value)
    db.session.flush()
    return access


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


SEES_ALL_CLIENTS = ("owner", "admin", "scheduler")


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


# ---------------------------------------------------------------------------------------------
# Who may do what (roles). Seeing a client at all is `client_for_staff`; these come on top.
# ---------------------------------------------------------------------------------------------

MANAGE_STAFF = ("owner", "admin")
MAY_ASSIGN = ("owner", "admin", "scheduler")
MAY_ARCHIVE = ("owner", "admin", "scheduler", "clinician")
MAY_GRANT_ACCESS = ("owner", "admin", "scheduler", "clinician")
MAY_MARK_TEST = ("owner", "admin")
ASSIGNABLE_ROLES = ("owner", "admin", "clinician", "intern")
ROLE_LABELS = {
    "owner": "Owner",
    "admin": "Admin",
    "scheduler": "Scheduler",
    "clinician": "Clinician",
    "intern": "Intern",
}


def _actor(user: User) -> dict:
    return {"actor_kind": "staff", "actor_user_id": user.id, "actor_name": user.name}


def _audit(actor: User, action: str, client: Client | None = None, detail: str | None = None) -> None:
    record(action, **_actor(actor), client_id=client.id if client is not None else None, detail=detail)


# ---------------------------------------------------------------------------------------------
# Activation: one-time links that let an invited person choose their password.
# ---------------------------------------------------------------------------------------------

ACTIVATION_DAYS = TOKEN_LIFETIMES[ACTIVATE].days


def activation_link(user: User) -> str:
    raw = issue_token(user, ACTIVATE)
    return practice_url(current_practice().slug, f"/activate/{raw}")


def _retire_activation_links(user: User) -> None:
    db.session.execute(
        update(OneTimeToken)
        .where(
            OneTimeToken.user_id == user.id,
            OneTimeToken.purpose == ACTIVATE,
            OneTimeToken.used_at.is_(None),
        )
        .values(used_at=func.now())
    )


def activation_user(raw_token: str) -> User | None:
    """Who a live activation link belongs to (without using it up), or None."""
    return peek_token(raw_token, ACTIVATE)


def activate_account(raw_token: str, password: str) -> User:
    """Set the first password of an invited account; the link (and any other one) is then dead."""
    user = consume_with_new_password(
        raw_token, ACTIVATE, password, "This activation link has expired or was already used."
    )
    _retire_activation_links(user)
    user.password_hash = hash_password(password)
    user.activated_at = func.now()
    record(
        "activated account",
        actor_kind="staff" if user.is_staff else "client",
        actor_user_id=user.id,
        actor_name=user.name,
    )
    db.session.flush()
    return user


# ---------------------------------------------------------------------------------------------
# Staff
# ---------------------------------------------------------------------------------------------


def list_staff() -> list[User]:
    return list(db.session.scalars(select(User).where(User.kind == "staff").order_by(User.name, User.id)))


def staff_member(user_id: int) -> User | None:
    user = db.session.get(User, user_id)
    return user if user is not None and user.is_staff else None


def roles_for(actor: User) -> tuple[str, ...]:
    """The roles `actor` may give: owners any, admins any but owner."""
    return STAFF_ROLES if actor.role == "owner" else tuple(r for r in STAFF_ROLES if r != "owner")


def _check_may_manage(actor: User, target: User | None = None, new_role: str | None = None) -> None:
    if actor.role not in MANAGE_STAFF:
        raise PermissionError("Only the owner or an admin can manage staff.")
    if new_role is not None and new_role not in STAFF_ROLES:
        raise AccountError("Choose one of the roles: " + ", ".join(ROLE_LABELS[r] for r in STAFF_ROLES) + ".")
    if actor.role != "owner" and (new_role == "owner" or (target is not None and target.role == "owner")):
        raise AccountError("Only an owner can make someone an owner or change an owner's account.")


def _other_active_owners(target: User) -> int:
    # Locks the owners' rows: two owners demoting each other at once cannot both succeed.
    owners = db.session.scalars(
        select(User.id)
        .where(User.kind == "staff", User.role == "owner", User.is_active_account.is_(True))
        .with_for_update()
    ).all()
    return len([owner for owner in owners if owner != target.id])


def _staff_email(user: User) -> tuple[str, str]:
    practice = current_practice()
    link = activation_link(user)
    subject = f"You are invited to {practice.name} on Portico"
    body = (
        f"Hello {user.name},\n\n"
        f"You have been invited to join {practice.name} as {ROLE_LABELS.get(user.role, user.role)}.\n"
        f"To choose your password and activate your account, open this link within "
        f"{ACTIVATION_DAYS} days:\n\n{link}\n\n"
        "If you did not expect this invitation, you can ignore this email.\n"
    )
    return subject, body


def invite_staff(actor: User, email: str, name: str, role: str) -> User:
    _check_may_manage(actor, new_role=role)
    if not (name or "").strip():
        raise AccountError("Enter the person's name.")
    user = create_user(email, name, None, role, kind="staff")
    queue_email(user.email, *_staff_email(user))
    _audit(actor, "invited staff", detail=f"{user.email} as {role}")
    return user


def resend_staff_invite(actor: User, target: User) -> None:
    _check_may_manage(actor, target)
    if target.password_hash is not None:
        raise AccountError(f"{target.name} has already activated their account.")
    if not target.is_active_account:
        raise AccountError(f"{target.name}'s account is deactivated. Reactivate it first.")
    _retire_activation_links(target)  # the earlier link counts as lost
    queue_email(target.email, *_staff_email(target))
    _audit(actor, "resent staff invite", detail=target.email)


def change_role(actor: User, target: User, role: str) -> None:
    _check_may_manage(actor, target, new_role=role)
    if role == target.role:
        return
    if target.role == "owner" and target.is_active_account and _other_active_owners(target) == 0:
        raise AccountError(f"{target.name} is the practice's last owner. Make someone else an owner first.")
    old = target.role
    target.role = role
    db.session.flush()
    _audit(actor, "changed staff role", detail=f"{target.email}: {old} -> {role}")


def deactivate_staff(actor: User, target: User) -> None:
    _check_may_manage(actor, target)
    if not target.is_active_account:
        return
    if target.role == "owner" and _other_active_owners(target) == 0:
        raise AccountError(f"{target.name} is the practice's last owner and cannot be deactivated.")
    if target.id == actor.id:
        raise AccountError("You cannot deactivate your own account. Ask another owner or admin.")
    target.is_active_account = False
    db.session.flush()
    end_all_sessions(target)  # every session of theirs ends with this request
    _audit(actor, "deactivated staff", detail=target.email)


def reactivate_staff(actor: User, target: User) -> None:
    _check_may_manage(actor, target)
    if target.is_active_account:
        return
    target.is_active_account = True
    db.session.flush()
    _audit(actor, "reactivated staff", detail=target.email)


# ---------------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------------

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
    allowed = {name for names in CLIENT_SECTIONS.values() for name in names}
    cleaned = {}
    for name, value in fields.items():
        if name not in allowed:
            raise ValueError(name)
        if isinstance(value, str):
            value = value.strip() or None
        cleaned[name] = value
    if not cleaned.get("first_name", "x") or not cleaned.get("last_name", "x"):
        raise AccountError("Enter the client's first and last name.")
    problem = time_zone_problem(cleaned.get("time_zone"))
    if problem:
        raise AccountError(problem)
    return cleaned


def add_client(actor: User, fields: dict) -> Client:
    """A new client record; a clinician or intern who adds one is assigned to it (or could not see it)."""
    fields = _clean(fields)
    client = create_client(fields.pop("first_name"), fields.pop("last_name"), **fields)
    if actor.role not in SEES_ALL_CLIENTS:
        assign_clinician(client, actor)
    _audit(actor, "created client record", client)
    return client


def update_client(actor: User, client: Client, fields: dict) -> None:
    """Change only the fields given (a section the practice does not ask for keeps its data)."""
    for name, value in _clean(fields).items():
        setattr(client, name, value)
    db.session.flush()
    _audit(actor, "edited client record", client)


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
    _audit(actor, "viewed client record", client)


def set_archived(actor: User, client: Client, archived: bool) -> None:
    if actor.role not in MAY_ARCHIVE:
        raise PermissionError("archive")
    status = "archived" if archived else "active"
    if client.status == status:
        return
    client.status = status
    db.session.flush()
    _audit(actor, "archived client" if archived else "unarchived client", client)


def set_test_client(actor: User, client: Client, is_test: bool) -> None:
    if actor.role not in MAY_MARK_TEST:
        raise PermissionError("test client")
    if client.is_test != is_test:
        client.is_test = is_test
        db.session.flush()
        _audit(actor, "marked test client" if is_test else "unmarked test client", client)


def assignable_staff(client: Client) -> list[User]:
    assigned = {user.id for user in client.clinicians}
    candidates = db.session.scalars(
        select(User)
        .where(User.kind == "staff", User.is_active_account.is_(True), User.role.in_(ASSIGNABLE_ROLES))
        .order_by(User.name, User.id)
    )
    return [user for user in candidates if user.id not in assigned]


def assign(actor: User, client: Client, user_id: int | None) -> User:
    if actor.role not in MAY_ASSIGN:
        raise PermissionError("assign")
    clinician = db.session.get(User, user_id) if user_id else None
    if clinician is None or clinician not in assignable_staff(client):
        raise AccountError("Choose an active clinician, intern, admin or owner who is not assigned yet.")
    assign_clinician(client, clinician)
    db.session.expire(client, ["clinicians"])
    _audit(actor, "assigned clinician", client, detail=clinician.name)
    return clinician


def unassign(actor: User, client: Client, user_id: int) -> bool:
    if actor.role not in MAY_ASSIGN:
        raise PermissionError("unassign")
    link = db.session.get(ClientClinician, (client.id, user_id))
    if link is None:
        return False
    clinician = db.session.get(User, user_id)
    db.session.delete(link)
    db.session.flush()
    db.session.expire(client, ["clinicians"])
    _audit(actor, "unassigned clinician", client, detail=clinician.name if clinician else None)
    return True


# ---------------------------------------------------------------------------------------------
# Portal access: the client's own login (families share one), guardians of minors.
# ---------------------------------------------------------------------------------------------


def is_minor(client: Client) -> bool:
    age = age_on(client.date_of_birth, practice_today())
    return age is not None and age < practice_settings().age_of_majority


def _access_row(user: User, client: Client) -> PortalAccess | None:
    return db.session.scalars(
        select(PortalAccess).where(PortalAccess.user_id == user.id, PortalAccess.client_id == client.id)
    ).first()


def grants_for_client(client: Client, relationship: str | None = None) -> list[PortalAccess]:
    query = (
        select(PortalAccess)
        .join(User, User.id == PortalAccess.user_id)
        .where(PortalAccess.client_id == client.id)
        .order_by(PortalAccess.revoked_at.is_not(None), User.name, PortalAccess.id)
    )
    if relationship:
        query = query.where(PortalAccess.relationship_kind == relationship)
    return list(db.session.scalars(query))


def access_for_client(client: Client, access_id: int, relationship: str) -> PortalAccess | None:
    """The grant `access_id` on this client's record (of that kind), else None (callers 404)."""
    access = db.session.get(PortalAccess, access_id)
    if access is None or access.client_id != client.id or access.relationship_kind != relationship:
        return None
    return access


def _portal_login(email: str | None, name: str) -> User:
    email = (email or "").strip()
    if not email:
        raise AccountError("An email address is needed to invite someone to the portal.")
    user = portal_account(email, name)
    if not user.is_active_account:
        raise AccountError("The portal login for that email address is disabled.")
    return user


def _send_portal_email(user: User, subject: str, invite_text: str, added_text: str) -> None:
    practice = current_practice()
    if user.password_hash is None:
        body = (
            f"Hello {user.name},\n\n{invite_text}\n\n"
            f"To choose your password and open the portal, follow this link within {ACTIVATION_DAYS} "
            f"days:\n\n{activation_link(user)}\n\n"
            "If you did not expect this email, you can ignore it.\n"
        )
    else:
        body = (
            f"Hello {user.name},\n\n{added_text}\n\n"
            f"Log in with your email address and password as usual:\n\n"
            f"{practice_url(practice.slug, '/login')}\n"
        )
    queue_email(user.email, subject, body)


def invite_client(actor: User, client: Client) -> User:
    """Give the client (adult, family member or minor) a login of their own, and email them."""
    if actor.role not in MAY_GRANT_ACCESS:
        raise PermissionError("invite")
    if client.status != "active":
        raise AccountError("This record is archived. Unarchive it before inviting the client.")
    if not client.email:
        raise AccountError(f"Add an email address to {client.display_name}'s record first.")
    user = _portal_login(client.email, f"{client.first_name} {client.last_name}")
    existing = _access_row(user, client)
    if existing is not None and existing.relationship_kind == "guardian":
        raise AccountError(
            f"{client.email} is a guardian's login for this record. "
            "A client's own login needs an email address of their own."
        )
    grant_access(user, client, "self")
    practice = current_practice()
    if user.password_hash is None:
        subject = f"Your {practice.name} client portal"
    else:
        subject = f"A record was added to your {practice.name} portal"
    _send_portal_email(
        user,
        subject,
        invite_text=f"{practice.name} invites you to its secure client portal.",
        added_text=(
            f"{practice.name} added the record of {client.display_name} to your portal account. "
            "After you log in, choose whose portal to open."
        ),
    )
    _audit(actor, "granted portal access", client, detail=f"own login {user.email}")
    _audit(actor, "sent portal invite", client, detail=user.email)
    return user


def _guardian_permissions(permissions: dict) -> dict:
    values = {f"can_{name}": bool(permissions.get(f"can_{name}")) for name in GUARDIAN_PERMISSIONS}
    minor_messages = permissions.get("minor_messages") or "default"
    if minor_messages not in MINOR_MESSAGES_CHOICES:
        raise AccountError("Choose whether the guardian may see the minor's own messages.")
    values["minor_messages"] = minor_messages
    return values


GUARDIAN_PERMISSION_LABELS = {
    "appointments": "appointments",
    "forms": "forms",
    "documents": "documents",
    "messages": "messages on the minor's behalf",
    "billing": "billing",
}


def guardian_allows(access: PortalAccess) -> list[str]:
    return [label for name, label in GUARDIAN_PERMISSION_LABELS.items() if getattr(access, f"can_{name}")]


def _describe(values: dict) -> str:
    allowed = [name for name in GUARDIAN_PERMISSIONS if values[f"can_{name}"]]
    return f"may: {', '.join(allowed) or 'nothing'}; minor's own messages: {values['minor_messages']}"


def add_guardian(actor: User, minor: Client, name: str, email: str, permissions: dict) -> PortalAccess:
    """Let a guardian (new or existing login) act for `minor`, within `permissions`, and email them."""
    if actor.role not in MAY_GRANT_ACCESS:
        raise PermissionError("guardian")
    if minor.status != "active":
        raise AccountError("This record is archived. Unarchive it before adding a guardian.")
    if minor.date_of_birth is None:
        raise AccountError(
            f"{minor.display_name} has no date of birth on file. Guardians can be added for minors only."
        )
    if not is_minor(minor):
        raise AccountError(
            f"{minor.display_name} is not a minor (age of majority: {practice_settings().age_of_majority}), "
            "so a guardian cannot be added."
        )
    if not (name or "").strip():
        raise AccountError("Enter the guardian's name.")
    values = _guardian_permissions(permissions)
    user = _portal_login(email, name)
    existing = _access_row(user, minor)
    if existing is not None and existing.relationship_kind == "self":
        raise AccountError(f"{user.email} is {minor.display_name}'s own login and cannot be a guardian too.")
    if existing is not None and existing.revoked_at is None:
        raise AccountError(f"{user.name} is already a guardian of {minor.display_name}.")
    access = grant_access(user, minor, "guardian", **values)
    practice = current_practice()
    if user.password_hash is None:
        subject = f"You are invited to the {practice.name} portal"
    else:
        subject = f"A minor was added to your {practice.name} portal"
    _send_portal_email(
        user,
        subject,
        invite_text=(
            f"{practice.name} invites you to its secure client portal as a guardian of {minor.display_name}."
        ),
        added_text=(
            f"{practice.name} added {minor.display_name} to your portal account: you can now act for them "
            "as their guardian. After you log in, choose whose portal to open."
        ),
    )
    _audit(actor, "granted guardian access", minor, detail=f"{user.email}; {_describe(values)}")
    _audit(actor, "sent portal invite", minor, detail=user.email)
    return access


def update_guardian(actor: User, access: PortalAccess, permissions: dict) -> None:
    if actor.role not in MAY_GRANT_ACCESS:
        raise PermissionError("guardian")
    values = _guardian_permissions(permissions)
    for name, value in values.items():
        setattr(access, name, value)
    db.session.flush()
    _audit(
        actor,
        "changed guardian access",
        access.client,
        detail=f"{access.user.email}; {_describe(values)}",
    )


def revoke(actor: User, access: PortalAccess) -> None:
    """End a grant at once (the portal re-checks grants on every request)."""
    if actor.role not in MAY_GRANT_ACCESS:
        raise PermissionError("revoke")
    if access.revoked_at is not None:
        return
    revoke_access(access)
    kind = "guardian access" if access.relationship_kind == "guardian" else "portal access"
    _audit(actor, f"revoked {kind}", access.client, detail=access.user.email)


def own_login_state(client: Client, grants: list[PortalAccess]) -> str | None:
    """The state of the live 'self' grant of the login that uses the client's email, if any."""
    for access in grants:
        same_email = (access.user.email or "").lower() == (client.email or "").strip().lower()
        if access.relationship_kind == "self" and access.revoked_at is None and same_email:
            return access_state(access)
    return None


def access_state(access: PortalAccess) -> str:
    """How a grant looks on the client's record: revoked, ended (came of age), invited or active."""
    if access.revoked_at is not None:
        return "revoked"
    if access.relationship_kind == "guardian" and not is_minor(access.client):
        return "ended"
    if access.user.password_hash is None:
        return "invited"
    return "active"
