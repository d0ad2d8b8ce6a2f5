"""The practice's choices for automated messages (`/settings/messages`): which events send, the
templates (checked: only whitelisted merge tags), reminders, and discreet mode."""

from __future__ import annotations

from app.refusals import Problems
from blueprints.audit.service import record
from blueprints.automations import sms
from blueprints.notifications.automated import (
    EVENTS,
    KINDS,
    MAX_OFFSET_MINUTES,
    event_on,
    message_settings,
    template_for,
)
from blueprints.notifications.merge import subject_problem, template_problem
from blueprints.notifications.models import MessageSettings
from blueprints.staff_notifications import digest
from tenants.features import practice_settings

FLAGS = ("show_clinician", "show_service", "discreet_mode")
HOURS = [(str(hour), f"{hour:02d}:00") for hour in range(24)]
CHANNELS = {"email": "Email", "sms": "Text message to clients who opted in (email for the others)"}


def current_values(settings: MessageSettings) -> dict:
    values = {f"event_{key}": event_on(settings, key) for key in EVENTS}
    for kind in KINDS:
        values[f"subject_{kind}"], values[f"body_{kind}"] = template_for(settings, kind)
    values.update({flag: getattr(settings, flag) for flag in FLAGS})
    values["discreet_sender"] = settings.discreet_sender
    values["reminder_hours"] = ", ".join(
        f"{int(minutes) / 60:g}" for minutes in settings.reminder_offsets.split(",") if minutes
    )
    values["followup_days"] = settings.followup_days
    values["reminder_channel"] = settings.reminder_channel
    values["digest_hour"] = str(practice_settings().digest_hour)
    values.update({f"sms_{kind}": bool((settings.sms_kinds or {}).get(kind)) for kind in text_kinds()})
    return values


def text_kinds() -> list[str]:
    """The kinds a practice may send as texts (reminders have their own channel setting)."""
    return [kind for kind in KINDS if kind != "reminder"]


def _offsets(text: str, problems: dict) -> str:
    minutes = []
    for part in (text or "").replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = round(float(part) * 60)
        except ValueError:
            problems["reminder_hours"] = f"“{part}” is not a number of hours. Write them like 24, 2."
            return ""
        if not 0 < value <= MAX_OFFSET_MINUTES:
            problems["reminder_hours"] = (
                "Each reminder is between a few minutes and 14 days (336 hours) before."
            )
            return ""
        minutes.append(value)
    if len(minutes) > 4:
        problems["reminder_hours"] = "Use at most four reminders."
    return ",".join(str(value) for value in sorted(set(minutes), reverse=True))


def save(actor, form: dict) -> MessageSettings:
    """Apply the posted settings, or refuse them all with the problems named per field."""
    settings = message_settings()
    problems: dict[str, str] = {}
    templates = {}
    for kind, definition in KINDS.items():
        subject = (form.get(f"subject_{kind}") or "").strip()
        body = (form.get(f"body_{kind}") or "").replace("\r\n", "\n").strip()
        refused_subject = subject_problem(subject)
        if refused_subject:
            problems[f"subject_{kind}"] = refused_subject
        if template_problem(body, "message"):
            problems[f"body_{kind}"] = template_problem(body, "message")
        own = {}
        if subject and subject != definition.subject:
            own["subject"] = subject
        if body and body != definition.body.strip():
            own["body"] = body
        if own:
            templates[kind] = own
    offsets = _offsets(form.get("reminder_hours", ""), problems)
    sender = " ".join((form.get("discreet_sender") or "").split())
    if not sender or len(sender) > 60:
        problems["discreet_sender"] = "Give a neutral sender name of at most 60 characters."
    try:
        followup_days = int(form.get("followup_days") or 0)
        if not 1 <= followup_days <= 365:
            raise ValueError
    except ValueError:
        problems["followup_days"] = "Write a number of days between 1 and 365."
        followup_days = settings.followup_days
    hour = (form.get("digest_hour") or str(practice_settings().digest_hour)).strip()  # absent: kept
    if not hour.isdigit() or not 0 <= int(hour) <= 23:
        problems["digest_hour"] = "Choose the hour of the staff's daily digest."
    channel = form.get("reminder_channel") or "email"
    if channel not in CHANNELS:
        problems["reminder_channel"] = "Choose email or text message."
    if problems:
        raise Problems(problems)
    settings.reminder_channel = channel
    if sms.provider() is not None:  # the switches are shown only once texts can go
        settings.sms_kinds = {
            kind: form.get(f"sms_{kind}") in ("y", "on", "1", "true") for kind in text_kinds()
        }
    settings.events = {key: form.get(f"event_{key}") in ("y", "on", "1", "true") for key in EVENTS}
    settings.templates = templates
    for flag in FLAGS:
        setattr(settings, flag, form.get(flag) in ("y", "on", "1", "true"))
    settings.discreet_sender, settings.reminder_offsets = sender, offsets
    settings.followup_days = followup_days
    if practice_settings().digest_hour != int(hour):
        practice_settings().digest_hour = int(hour)
        digest.schedule()  # the practice's next run comes forward to the new hour when it is sooner
    record("changed automated messages", detail=None, **actor.audit_actor)
    return settings
