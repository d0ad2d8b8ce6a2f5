"""Staff of the practice: the list, roles, deactivation and reactivation, and the rule that a
practice always keeps one active owner. Only owners and admins manage staff; only an owner makes
or changes an owner. (Inviting staff is in `invites`.)"""

from __future__ import annotations

from sqlalchemy import select

from app.refusals import NotAllowed
from app.roles import MANAGES_PRACTICE, STAFF_ROLES
from blueprints.auth.models import User
from blueprints.auth.service import AccountError, end_all_sessions
from blueprints.people.operations.access import audit
from tenants.database import db

ROLE_LABELS = {
    "owner": "Owner",
    "admin": "Admin",
    "scheduler": "Scheduler",
    "clinician": "Clinician",
    "intern": "Intern",
}


def list_staff() -> list[User]:
    return list(db.session.scalars(select(User).where(User.kind == "staff").order_by(User.name, User.id)))


def staff_member(user_id: int) -> User | None:
    user = db.session.get(User, user_id)
    return user if user is not None and user.is_staff else None


def roles_for(actor: User) -> tuple[str, ...]:
    """The roles `actor` may give: owners any, admins any but owner."""
    return STAFF_ROLES if actor.role == "owner" else tuple(r for r in STAFF_ROLES if r != "owner")


def check_may_manage(actor: User, target: User | None = None, new_role: str | None = None) -> None:
    """Refuse unless `actor` may manage staff (and `target`, and give `new_role`)."""
    if actor.role not in MANAGES_PRACTICE:
        raise NotAllowed("Only the owner or an admin can manage staff.")
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


def change_role(actor: User, target: User, role: str) -> None:
    check_may_manage(actor, target, new_role=role)
    if role == target.role:
        return
    if target.role == "owner" and target.is_active_account and _other_active_owners(target) == 0:
        raise AccountError(f"{target.name} is the practice's last owner. Make someone else an owner first.")
    old = target.role
    target.role = role
    db.session.flush()
    audit(actor, "changed staff role", detail=f"{target.email}: {old} -> {role}")


def deactivate_staff(actor: User, target: User) -> None:
    check_may_manage(actor, target)
    if not target.is_active_account:
        return
    if target.role == "owner" and _other_active_owners(target) == 0:
        raise AccountError(f"{target.name} is the practice's last owner and cannot be deactivated.")
    if target.id == actor.id:
        raise AccountError("You cannot deactivate your own account. Ask another owner or admin.")
    target.is_active_account = False
    db.session.flush()
    end_all_sessions(target)  # every session of theirs ends with this request
    audit(actor, "deactivated staff", detail=target.email)


def reactivate_staff(actor: User, target: User) -> None:
    check_may_manage(actor, target)
    if target.is_active_account:
        return
    target.is_active_account = True
    db.session.flush()
    audit(actor, "reactivated staff", detail=target.email)
