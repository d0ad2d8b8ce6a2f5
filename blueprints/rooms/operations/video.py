"""The practice's video service (`/settings/video`): none, a self-hosted Jitsi Meet server (its
address, and optionally its token authentication: app id in clear, secret sealed), or a link per
clinician; and the practice's address that in-person invites carry. Owners and admins change it."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import g
from sqlalchemy import inspect
from sqlalchemy.dialects.postgresql import insert

from app.refusals import NotAllowed, Problems
from app.roles import MANAGES_PRACTICE
from blueprints.audit.service import record
from blueprints.auth.models import User
from blueprints.rooms.models import SERVICES, VideoSettings
from tenants.context import current_practice
from tenants.database import db
from tenants.encryption import seal_text, unseal_text

MAX_SECRET = 200
MIN_SECRET = 32  # bytes: HS256's key should be at least its digest's size


def video_settings() -> VideoSettings:
    """The practice's row (created on first use), cached per request and practice."""
    cached = g.get("_portico_video_settings")
    practice = current_practice()
    # A rollback (a refusal) expires the cached row, and undoes it if this transaction made it:
    # read it again then, rather than touch a row that may no longer exist.
    if cached is not None and cached[0] == practice.id:
        if cached[1] in db.session and not inspect(cached[1]).expired:
            return cached[1]
    row = db.session.get(VideoSettings, 1)
    if row is None:  # two first uses at once make one row
        db.session.execute(insert(VideoSettings).values(id=1, service="none").on_conflict_do_nothing())
        row = db.session.get(VideoSettings, 1)
    g._portico_video_settings = (practice.id, row)
    return row


def https_link_problem(link: str, max_length: int) -> str | None:
    """What is wrong with `link` as a room address (https, a host, nothing else odd), or None."""
    if len(link) > max_length:
        return f"Use at most {max_length} characters."
    if any(character.isspace() for character in link):
        return "A link has no spaces."
    if not link.isprintable():  # control characters, or invisible ones (U+202E) that disguise an address
        return "A link has no control or invisible characters."
    try:
        parts = urlsplit(link)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        return "Enter a link starting with https://."
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        return "Enter a link starting with https://."
    return None


def jitsi_secret(settings: VideoSettings) -> str | None:
    if settings.jitsi_secret_sealed is None:
        return None
    return unseal_text(
        settings.jitsi_secret_sealed,
        table=VideoSettings.__tablename__,
        row_id=1,
        column="jitsi_secret_sealed",
    )


def uses_tokens(settings: VideoSettings) -> bool:
    return (
        settings.service == "jitsi"
        and bool(settings.jitsi_app_id)
        and settings.jitsi_secret_sealed is not None
    )


def jitsi_domain(settings: VideoSettings) -> str:
    return urlsplit(settings.jitsi_base_url or "").hostname or ""


def current_values(settings: VideoSettings) -> dict:
    return {
        "service": settings.service,
        "jitsi_base_url": settings.jitsi_base_url or "",
        "jitsi_app_id": settings.jitsi_app_id or "",
        "practice_address": settings.practice_address or "",
    }


def save(actor: User, values: dict) -> VideoSettings:
    """Change the video service. `values`: service, jitsi_base_url, jitsi_app_id, jitsi_secret (blank
    keeps the stored one; no app id turns token authentication off and forgets the secret),
    practice_address."""
    if actor.role not in MANAGES_PRACTICE:
        raise NotAllowed("Only the owner or an admin can change the video service.")
    settings = video_settings()
    service = values.get("service") or ""
    base_url = (values.get("jitsi_base_url") or "").strip().rstrip("/")
    app_id = (values.get("jitsi_app_id") or "").strip()
    secret = (values.get("jitsi_secret") or "").strip()
    address = " ".join((values.get("practice_address") or "").split())
    problems: dict[str, str] = {}
    if service not in SERVICES:
        problems["service"] = "Choose a video service."
    if service == "jitsi":
        if not base_url:
            problems["jitsi_base_url"] = (
                "Enter your Jitsi server's address, for example https://meet.example.org."
            )
        elif problem := https_link_problem(base_url, 300):
            problems["jitsi_base_url"] = problem
        elif urlsplit(base_url).query or urlsplit(base_url).fragment:
            problems["jitsi_base_url"] = "Enter the server's address only, without ? or #."
    if len(app_id) > 100:
        problems["jitsi_app_id"] = "Use at most 100 characters."
    if len(secret) > MAX_SECRET:
        problems["jitsi_secret"] = f"Use at most {MAX_SECRET} characters."
    elif secret and len(secret.encode()) < MIN_SECRET:  # a short HS256 key is guessed offline
        problems["jitsi_secret"] = f"Use at least {MIN_SECRET} characters (a long random secret)."
    elif service == "jitsi" and app_id and not secret and settings.jitsi_secret_sealed is None:
        problems["jitsi_secret"] = "Enter the app secret your Jitsi server shares with Portico."
    if len(address) > 500:
        problems["practice_address"] = "Use at most 500 characters."
    if problems:
        raise Problems(problems)
    settings.service = service
    if service == "jitsi":
        settings.jitsi_base_url = base_url
        settings.jitsi_app_id = app_id or None
        if not app_id:
            settings.jitsi_secret_sealed = None
        elif secret:
            settings.jitsi_secret_sealed = seal_text(
                secret, table=VideoSettings.__tablename__, row_id=1, column="jitsi_secret_sealed"
            )
    settings.practice_address = address or None
    db.session.flush()
    detail = SERVICES[service] + (" with token authentication" if uses_tokens(settings) else "")
    record(
        "changed video service",
        actor_kind="staff",
        actor_user_id=actor.id,
        actor_name=actor.name,
        detail=detail,
    )
    return settings
