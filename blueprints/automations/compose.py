"""Turning an automated message kind into emails for a client's side.

`send_to_client_side` is the one place automated client emails are written: who gets them
(`client_recipients`: the client, or a minor's guardians whose grant covers appointments and the
minor's own login), the merge values for each reader (their zone, their link), the practice's
template or the fixed discreet one, and the calendar invite (never in discreet mode).

The profile link is issued here, when the message is sent (only its hash is stored). The client's
own link opens the client's record, so it goes only to the client's own address on an adult's
record. A minor's guardian gets their OWN link (issued for their grant): it opens the guardian's
session acting for the minor, within that grant, never the minor's. A minor's own login gets the
portal's login page.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.timefmt import local_time
from blueprints.automations import sms
from blueprints.notifications.automated import KINDS, message_settings, practice_name_for, template_for
from blueprints.notifications.merge import render
from blueprints.notifications.models import MessageSettings
from blueprints.notifications.service import queue_email
from blueprints.people.models import Client, PortalAccess
from blueprints.portal.service import is_minor
from blueprints.profile_links.service import guardian_link_allowed, links_allowed, profile_link_url
from blueprints.scheduling.invites import client_invite
from blueprints.scheduling.models import Appointment
from blueprints.scheduling.operations.recipients import Recipient, client_recipients
from blueprints.scheduling.places import place_of
from tenants.addresses import practice_url
from tenants.context import current_practice
from tenants.database import db
from tenants.features import is_enabled, practice_settings, practice_today, practice_zone

# The demo practice's adult client: what previews show (`portico demo` creates her).
PREVIEW_CLIENT = {"first_name": "Avery", "clinician": "Dr Sam Rivera", "service": "Individual therapy"}


def is_discreet(settings: MessageSettings, client: Client | None) -> bool:
    return settings.discreet_mode or bool(client is not None and client.discreet_messages)


def portal_link(client: Client, person: Recipient, flush: bool = True) -> str:
    """A fresh profile link for the client's own address on an adult's record, or a guardian's own
    link for a minor (it opens the guardian's session acting for the minor, within their grant);
    else the login page (a minor's own login, a link-less practice)."""
    if is_enabled("profile_links"):
        if person.kind == "guardian" and person.access_id is not None:
            access = db.session.get(PortalAccess, person.access_id)
            if access is not None and guardian_link_allowed(client, access):
                return profile_link_url(client, flush=flush, access_id=access.id)
        on_file = (client.email or "").strip().lower()
        own_address = person.kind == "client" and person.address.lower() == on_file
        if own_address and links_allowed(client):
            return profile_link_url(client, flush=flush)
    return practice_url(current_practice().slug, "/login")


def merge_values(
    settings: MessageSettings,
    discreet: bool,
    first_name: str,
    starts_at: datetime | None,
    zone: ZoneInfo,
    clinician: str,
    service: str,
    link: str,
) -> dict[str, str]:
    return {
        "first_name": first_name,
        "practice_name": practice_name_for(discreet, settings),
        "date_time": f"{local_time(starts_at, zone, 'long')} ({zone.key})" if starts_at else "",
        "clinician": clinician if settings.show_clinician and not discreet else "",
        "service": service if settings.show_service and not discreet else "",
        "profile_link": link,
    }


def words(settings: MessageSettings, kind: str, discreet: bool) -> tuple[str, str]:
    """(subject, body) templates of `kind`: the practice's own, or the fixed discreet ones."""
    if discreet:
        return KINDS[kind].discreet_subject, KINDS[kind].discreet_body
    return template_for(settings, kind)


def compose(
    kind: str,
    client: Client,
    appointment: Appointment | None,
    zone: ZoneInfo,
    link: str,
    note: str | None = None,
    settings: MessageSettings | None = None,
    starts_at: datetime | None = None,
) -> tuple[str, str, bool]:
    """(subject, body, discreet) of `kind` for one reader of `client`'s side, in their `zone`, with
    their `link`; `note`: the practice's own words to the client, left out in discreet mode."""
    settings = settings or message_settings()
    discreet = is_discreet(settings, client)
    subject_template, body_template = words(settings, kind, discreet)
    values = merge_values(
        settings,
        discreet,
        client.first_name,
        appointment.starts_at if appointment is not None else starts_at,
        zone,
        appointment.clinician.name if appointment is not None else "",
        appointment.service.name if appointment is not None else "",
        link,
    )
    body = render(body_template, values)
    if note and not discreet:
        body = f"{body.rstrip()}\n\nFrom the practice: {note}\n"
    return render(subject_template, values), body, discreet


def send_to_client_side(
    kind: str,
    client: Client,
    appointment: Appointment | None = None,
    *,
    invite: str | None = None,
    note: str | None = None,
    email_kind: str | None = None,
    starts_at: datetime | None = None,
    collect: list | None = None,
    grant: str = "appointments",
) -> list:
    """Queue `kind` to everyone on `client`'s side; `invite`: attach the appointment's calendar invite
    ("request" or "cancel"), unless discreet; `note`: see `compose`. Returns the queued outbox rows;
    with `collect`, nothing is queued: each email's `queue_email` arguments are appended to it (for
    `queue_email_batch`); `grant`: what a minor's guardian's grant must cover to be told."""
    settings = message_settings()
    stamp = datetime.now(UTC).replace(microsecond=0)
    queued = []
    if collect is None and kind != "reminder":  # reminders choose their channel themselves
        text = text_instead(settings, kind, client, appointment)
        if text is not None:  # the client's own copy went as a text (a minor's side is emailed)
            return [text]
    for person in client_recipients(client, grant):
        link = portal_link(client, person, flush=collect is None)
        subject, body, discreet = compose(
            kind, client, appointment, person.zone, link, note, settings, starts_at
        )
        attachment = None
        if invite and appointment is not None and not discreet:
            attachment = client_invite(appointment, person, cancelled=invite == "cancel", stamp=stamp)
        elif invite == "request" and appointment is not None and (place := place_of(appointment, True)):
            # Discreet: no invite; an online appointment's room link is the one thing added, bare.
            body = f"{body.rstrip()}\n\n{place.url}\n" if place.url else body
        email = dict(
            to_address=person.address,
            subject=subject,
            body_text=body,
            attachment=attachment,
            discreet=discreet,
            kind=email_kind,
        )
        if collect is not None:
            collect.append(email)
        else:
            queued.append(queue_email(**email))
    return queued


def text_instead(settings: MessageSettings, kind: str, client: Client, appointment: Appointment | None):
    """Text `kind` to an adult client who agreed to texts when the practice sends it by text; the
    queued SmsMessage, or None (then it goes by email)."""
    if not (settings.sms_kinds or {}).get(kind) or not sms.can_text(client):
        return None
    if is_minor(client, practice_settings(), practice_today()):
        return None
    return sms.queue_sms(client, text_message(kind, client, appointment))


def text_message(kind: str, client: Client, appointment: Appointment | None) -> str:
    """A text for the client's own phone: as discreet as a discreet email (a lock screen shows it),
    with the time in the client's zone and a fresh portal link."""
    zone = practice_zone(client.time_zone)
    when = f"{local_time(appointment.starts_at, zone, 'long')}" if appointment is not None else ""
    link = portal_link(client, Recipient((client.email or "").strip(), zone, "client"))
    return " ".join(part for part in (f"{KINDS[kind].discreet_subject}:", when, link) if part)


def preview(kind: str, subject: str | None = None, body: str | None = None) -> tuple[str, str]:
    """`kind` as the demo client (Avery) would read it, with the bound practice's settings (or the
    `subject` and `body` given, not saved yet)."""
    settings = message_settings()
    discreet = settings.discreet_mode
    saved_subject, saved_body = words(settings, kind, discreet)
    zone = practice_zone()
    starts_at = (datetime.now(UTC) + timedelta(days=2)).replace(hour=15, minute=0, second=0, microsecond=0)
    values = merge_values(
        settings,
        discreet,
        PREVIEW_CLIENT["first_name"],
        starts_at,
        zone,
        PREVIEW_CLIENT["clinician"],
        PREVIEW_CLIENT["service"],
        practice_url(current_practice().slug, "/l/<a fresh link is made for each message>"),
    )
    if discreet:
        subject = body = None  # the discreet words are fixed
    return render(subject or saved_subject, values), render(body or saved_body, values)
