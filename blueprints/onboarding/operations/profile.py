"""The built-in "Client information" form: the client-record fields the practice asks for (its
settings: demographics, contact, emergency contact, insurance), shown to the client filled with
what the record holds, and written back to the record when the form is completed. What changed is
in the audit log (field names, never values) and on the client's forms page.

The date of birth and the email are never written from the portal: the age decides what a guardian
sees (a guardian making a teen younger would read the teen's messages; a minor turning adult would
cut guardians off) and the email is the login. A different answer for them is a proposal: audited
("asked to change, not applied") and listed with its value on the forms page for staff, who apply it
by editing the record.

The items' linkIds are the record's own field names, so the mapping cannot drift.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from sqlalchemy import select

from app.dates import birth_date_problem
from app.refusals import Problems
from blueprints.audit.models import AuditEvent
from blueprints.audit.service import record
from blueprints.people.models import Client
from blueprints.people.operations.clients import asked_sections
from tenants.database import db

KEY = "client-info"
TITLE = "Client information"
ACTION = "profile updated from a form"
ASKED = "profile change asked from a form"
# Fields only staff change: see the module docstring.
PROPOSED_ONLY = ("date_of_birth", "email")
# Record field -> (question, FHIR type, maxLength), by the practice's sections.
FIELDS = {
    "name": {"preferred_name": ("Name you would like us to use", "string", 100)},
    "demographics": {"date_of_birth": ("Date of birth", "date", None)},
    "contact": {
        "email": ("Email", "string", 254),
        "phone": ("Phone", "string", 40),
        "address": ("Home address", "text", 1000),
    },
    "emergency_contact": {
        "emergency_contact_name": ("Emergency contact's name", "string", 200),
        "emergency_contact_phone": ("Emergency contact's phone", "string", 40),
    },
    "insurance": {
        "insurance_provider": ("Insurance provider", "string", 200),
        "insurance_member_id": ("Insurance member ID", "string", 100),
    },
}


def _fields(settings) -> dict[str, tuple]:
    return {name: spec for section in asked_sections(settings) for name, spec in FIELDS[section].items()}


def questionnaire(settings) -> dict:
    items = []
    for name, (text, kind, limit) in _fields(settings).items():
        item = {"linkId": name, "text": text, "type": kind}
        if limit and kind == "string":
            item["maxLength"] = limit
        items.append(item)
    return {
        "resourceType": "Questionnaire",
        "status": "active",
        "title": TITLE,
        "description": "The details the practice keeps on your record; change anything that is out of date.",
        "item": items,
    }


def current_answers(client: Client, settings) -> dict[str, list[str]]:
    """The record's values as answers, so the client starts from what the practice has."""
    answers = {}
    for name in _fields(settings):
        value = getattr(client, name)
        if value:
            answers[name] = [value.isoformat() if isinstance(value, date) else str(value)]
    return answers


def _values(answers: dict[str, list[str]], settings) -> dict:
    values = {}
    for name, (_, kind, _) in _fields(settings).items():
        text = (answers.get(name) or [""])[0].strip()
        values[name] = date.fromisoformat(text) if (kind == "date" and text) else (text or None)
    return values


def problems(answers: dict[str, list[str]], settings) -> dict[str, str]:
    """What the record would refuse (answers already have the right types)."""
    found = {}
    for name, value in _values(answers, settings).items():
        if isinstance(value, date) and birth_date_problem(value):
            found[name] = birth_date_problem(value)
    return found


def apply(viewer, client: Client, answers: dict[str, list[str]], settings, response_id: int) -> list[str]:
    """Write the completed answers to the record, except the staff-only fields (proposed, audited);
    return the names of the fields that changed."""
    found = problems(answers, settings)
    if found:
        raise Problems(found)
    changed, asked = [], []
    for name, value in _values(answers, settings).items():
        if getattr(client, name) == value:
            continue
        if name in PROPOSED_ONLY:
            asked.append(name)
            continue
        setattr(client, name, value)
        changed.append(name)
    if changed:
        record(ACTION, client_id=client.id, detail="changed: " + ", ".join(changed), **viewer.audit_actor)
    if asked:
        # Names only in the log; the value stays in the (sealed) response, shown to staff.
        record(
            ASKED,
            client_id=client.id,
            detail=f"response {response_id}: asked to change, not applied: " + ", ".join(asked),
            **viewer.audit_actor,
        )
    return changed


class Change(NamedTuple):
    occurred_at: object
    actor_name: str | None
    text: str


def _proposal_text(client_id: int, event: AuditEvent) -> str:
    from blueprints.onboarding.models import FormResponse
    from blueprints.onboarding.operations.responses import answers_of

    head, _, names = event.detail.partition(": asked to change, not applied: ")
    response = db.session.get(FormResponse, int(head.removeprefix("response ")))
    answers = answers_of(response) if response is not None and response.client_id == client_id else {}
    asked = []
    for name in names.split(", "):
        value = (answers.get(name) or [""])[0]
        asked.append(f"{name.replace('_', ' ')} to {value!s}" if value else name.replace("_", " "))
    return "asked to change, not applied: " + "; ".join(asked)


def changes_for(client_id: int) -> list[Change]:
    """When a form changed the record or asked to, which fields, and the proposed values of the
    staff-only fields (newest first)."""
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.client_id == client_id, AuditEvent.action.in_((ACTION, ASKED)))
        .order_by(AuditEvent.id.desc())
    )
    return [
        Change(
            event.occurred_at,
            event.actor_name,
            _proposal_text(client_id, event)
            if event.action == ASKED
            else (event.detail or "").removeprefix("changed: ").replace("_", " "),
        )
        for event in events
    ]
