"""The step-up of a profile-link session: before messages, documents and forms open, the client
confirms it is them with their portal password or a six-digit code emailed to the address on file.

Step-up codes are stored only as an HMAC keyed with the installation's secret. Each operation here
writes its audit line (a code sent, a step-up that succeeded or failed): a wrong try is recorded
and counted, not rolled back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update

from app.refusals import Refusal
from blueprints.audit.service import record
from blueprints.auth.models import User
from blueprints.auth.service import authenticate
from blueprints.notifications.service import queue_email
from blueprints.people.models import Client
from blueprints.people.operations.access import live_grants
from blueprints.portal.viewer import Viewer
from blueprints.profile_links.models import StepUpCode
from blueprints.profile_links.sessions import mark_stepped_up
from tenants.context import current_practice
from tenants.database import db

CODE_MINUTES = 10
CODE_MAX_TRIES = 5
CODES_PER_HOUR = 5  # per client, on top of the per-address rate limit of the view


class StepUpError(Refusal):
    """A step-up attempt was refused (400); the message is fit to show."""


@dataclass(frozen=True)
class CodeCheck:
    ok: bool
    message: str = ""


def _now() -> datetime:
    return datetime.now(UTC)


def _password_logins(client: Client) -> list[User]:
    """The client's own ("self") active logins that have a password."""
    return [user for _, user in live_grants(client, "self") if user.password_hash is not None]


def _viewer_logins(viewer: Viewer) -> list[User]:
    """Whose password steps the session up: a guardian's own link, the guardian's login only."""
    if viewer.via_link:
        user = db.session.get(User, viewer.user_id)
        return [user] if user is not None and user.password_hash is not None else []
    return _password_logins(viewer.client)


def code_address(viewer: Viewer) -> str:
    """Where the session's step-up code goes: the guardian's own address, else the record's."""
    if viewer.via_link:
        user = db.session.get(User, viewer.user_id)
        return (user.email or "").strip() if user is not None else ""
    return (viewer.client.email or "").strip()


def can_use_password(viewer: Viewer) -> bool:
    return bool(_viewer_logins(viewer))


def can_email_code(client: Client) -> bool:
    return bool((client.email or "").strip())


def viewer_can_email_code(viewer: Viewer) -> bool:
    return bool(code_address(viewer))


def check_password(viewer: Viewer, password: str) -> bool:
    """True when `password` is the portal password of one of the session's own logins."""
    for login in _viewer_logins(viewer):
        user = authenticate(login.email, password or "")
        if user is not None and user.id == login.id:
            return True
    return False


def _code_hash(client_id: int, code: str, guardian_id: int | None = None) -> str:
    """A guardian's code is bound to them too: another guardian of the minor cannot use it."""
    key = current_app.config["SECRET_KEY"].encode()
    guardian = f":guardian:{guardian_id}" if guardian_id is not None else ""
    message = f"step-up:{current_practice().id}:{client_id}:{code}{guardian}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def send_code(viewer: Viewer) -> None:
    """Email a fresh six-digit code to the address on file of the viewer's record (earlier codes stop
    working)."""
    client = viewer.client
    address = code_address(viewer)
    if not address:
        raise StepUpError("There is no email address on file for this record. Please contact the practice.")
    recent = db.session.scalar(
        select(func.count(StepUpCode.id)).where(
            StepUpCode.client_id == client.id, StepUpCode.created_at > _now() - timedelta(hours=1)
        )
    )
    if recent >= CODES_PER_HOUR:
        raise StepUpError("We have sent several codes already. Please wait a while and try again.")
    # One live code at a time: anything sent before is dead from now on.
    db.session.execute(
        update(StepUpCode)
        .where(StepUpCode.client_id == client.id, StepUpCode.used_at.is_(None))
        .values(attempts=CODE_MAX_TRIES)
        .execution_options(synchronize_session=False)
    )
    code = f"{secrets.randbelow(1_000_000):06d}"
    db.session.add(
        StepUpCode(
            client_id=client.id,
            code_hash=_code_hash(client.id, code, _guardian_id(viewer)),
            expires_at=_now() + timedelta(minutes=CODE_MINUTES),
        )
    )
    db.session.flush()
    practice = current_practice()
    queue_email(
        address,
        f"Your {practice.name} verification code",
        f"Your verification code is {code}\n\n"
        f"Enter it on the {practice.name} portal within {CODE_MINUTES} minutes to open your messages. "
        "If you did not ask for it, you can ignore this email.\n",
    )
    record("sent a step-up code", client_id=client.id, **viewer.audit_actor)


def _guardian_id(viewer: Viewer) -> int | None:
    return viewer.user_id if viewer.via_link else None


def check_code(client: Client, code: str, guardian_id: int | None = None) -> CodeCheck:
    """Try `code` against the client's latest code: single use, CODE_MINUTES, CODE_MAX_TRIES tries.

    The row is locked while it is checked, so racing tries are counted one by one and a code is used
    up at most once. A wrong try counts (commit it even though the step-up fails).
    """
    latest = db.session.scalars(
        select(StepUpCode)
        .where(StepUpCode.client_id == client.id)
        .order_by(StepUpCode.id.desc())
        .limit(1)
        .with_for_update()
    ).first()
    if latest is None:
        return CodeCheck(False, "That code is not valid. Ask for a new code.")
    if latest.used_at is not None:
        return CodeCheck(False, "That code was already used. Ask for a new code.")
    if latest.attempts >= CODE_MAX_TRIES:
        return CodeCheck(False, "Too many wrong tries: that code no longer works. Ask for a new code.")
    if latest.expires_at <= _now():
        return CodeCheck(False, "That code has expired. Ask for a new code.")
    latest.attempts += 1
    if not hmac.compare_digest(latest.code_hash, _code_hash(client.id, (code or "").strip(), guardian_id)):
        left = CODE_MAX_TRIES - latest.attempts
        if left <= 0:
            return CodeCheck(False, "That code is not right, and it no longer works. Ask for a new code.")
        return CodeCheck(False, f"That code is not right. {left} {'try' if left == 1 else 'tries'} left.")
    latest.used_at = func.now()
    db.session.flush()
    return CodeCheck(True)


def with_password(viewer: Viewer, password: str) -> bool:
    """Step up with the client's portal password; False (recorded) when it is not right."""
    ok = check_password(viewer, password)
    _outcome(viewer, "password", ok)
    return ok


def with_code(viewer: Viewer, code: str) -> CodeCheck:
    """Step up with the emailed code; a wrong try is recorded and counts against the code."""
    result = check_code(viewer.client, code, _guardian_id(viewer))
    _outcome(viewer, "emailed code", result.ok)
    return result


def _outcome(viewer: Viewer, method: str, ok: bool) -> None:
    if ok:
        mark_stepped_up()
    action = "stepped up" if ok else "failed to step up"
    record(action, client_id=viewer.client.id, detail=method, **viewer.audit_actor)
