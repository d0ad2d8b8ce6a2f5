"""Invitations: one-time activation links that let an invited person choose their password, staff
invites (and re-sending them), and portal invitations for clients and guardians, with their emails."""

from __future__ import annotations

from sqlalchemy import func, update

from app.refusals import Problems
from blueprints.audit.service import record
from blueprints.auth.models import OneTimeToken, User
from blueprints.auth.service import (
    ACTIVATE,
    TOKEN_LIFETIMES,
    AccountError,
    consume_with_new_password,
    create_user,
    hash_password,
    issue_token,
    peek_token,
)
from blueprints.notifications.service import queue_email
from blueprints.people.models import Client
from blueprints.people.operations.access import (
    access_row,
    audit,
    check_may_grant,
    grant_access,
    portal_account,
)
from blueprints.people.operations.staff import ROLE_LABELS, check_may_manage
from tenants.addresses import practice_url
from tenants.context import current_practice
from tenants.database import db

ACTIVATION_DAYS = TOKEN_LIFETIMES[ACTIVATE].days

# ---------------------------------------------------------------------------------------------
# Activation links
# ---------------------------------------------------------------------------------------------


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
    try:
        user = consume_with_new_password(
            raw_token, ACTIVATE, password, "This activation link has expired or was already used."
        )
    except AccountError as refusal:
        raise Problems({"password": refusal.message}) from refusal  # shown beside the password
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
# Staff invites
# ---------------------------------------------------------------------------------------------


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
    check_may_manage(actor, new_role=role)
    if not (name or "").strip():
        raise AccountError("Enter the person's name.")
    user = create_user(email, name, None, role, kind="staff")
    queue_email(user.email, *_staff_email(user))
    audit(actor, "invited staff", detail=f"{user.email} as {role}")
    return user


def resend_staff_invite(actor: User, target: User) -> None:
    check_may_manage(actor, target)
    if target.password_hash is not None:
        raise AccountError(f"{target.name} has already activated their account.")
    if not target.is_active_account:
        raise AccountError(f"{target.name}'s account is deactivated. Reactivate it first.")
    _retire_activation_links(target)  # the earlier link counts as lost
    queue_email(target.email, *_staff_email(target))
    audit(actor, "resent staff invite", detail=target.email)


# ---------------------------------------------------------------------------------------------
# Portal invitations (the client's own login here; guardians use the same two helpers)
# ---------------------------------------------------------------------------------------------


def portal_login(email: str | None, name: str) -> User:
    """The live client-side login for `email` to invite (created without a password if new)."""
    email = (email or "").strip()
    if not email:
        raise AccountError("An email address is needed to invite someone to the portal.")
    user = portal_account(email, name)
    if not user.is_active_account:
        raise AccountError("The portal login for that email address is disabled.")
    return user


def send_portal_email(
    actor: User, client: Client, user: User, invite: tuple[str, str], added: tuple[str, str]
) -> None:
    """Tell `user` about their access to `client`'s portal, and audit it as a sent invite. A login
    without a password yet gets `invite` (subject, text) with an activation link; one that has a
    password gets `added` (subject, text) and a note to log in as usual."""
    practice = current_practice()
    if user.password_hash is None:
        subject, text = invite
        body = (
            f"Hello {user.name},\n\n{text}\n\n"
            f"To choose your password and open the portal, follow this link within {ACTIVATION_DAYS} "
            f"days:\n\n{activation_link(user)}\n\n"
            "If you did not expect this email, you can ignore it.\n"
        )
    else:
        subject, text = added
        body = (
            f"Hello {user.name},\n\n{text}\n\n"
            f"Log in with your email address and password as usual:\n\n"
            f"{practice_url(practice.slug, '/login')}\n"
        )
    queue_email(user.email, subject, body)
    audit(actor, "sent portal invite", client, detail=user.email)


def invite_client(actor: User, client: Client) -> User:
    """Give the client (adult, family member or minor) a login of their own, and email them."""
    check_may_grant(actor)
    if client.status != "active":
        raise AccountError("This record is archived. Unarchive it before inviting the client.")
    if not client.email:
        raise AccountError(f"Add an email address to {client.display_name}'s record first.")
    user = portal_login(client.email, f"{client.first_name} {client.last_name}")
    existing = access_row(user, client)
    if existing is not None and existing.relationship_kind == "guardian":
        raise AccountError(
            f"{client.email} is a guardian's login for this record. "
            "A client's own login needs an email address of their own."
        )
    grant_access(user, client, "self")
    audit(actor, "granted portal access", client, detail=f"own login {user.email}")
    practice = current_practice().name
    send_portal_email(
        actor,
        client,
        user,
        invite=(f"Your {practice} client portal", f"{practice} invites you to its secure client portal."),
        added=(
            f"A record was added to your {practice} portal",
            f"{practice} added the record of {client.display_name} to your portal account. "
            "After you log in, choose whose portal to open.",
        ),
    )
    return user
