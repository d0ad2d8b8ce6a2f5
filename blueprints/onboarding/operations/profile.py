"""The built-in "Client information" form: the client-record fields the practice asks for (its
settings: demographics, contact, emergency contact, insurance), shown to the client filled with
what the record holds, and written back to the record when the form is completed. What changed is
in the audit log (field names, never values) and on the client's forms page.

The items' linkIds are the record's own field names, so the mapping cannot drift.
"""

from __future__ import annotations

from datetime import date

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


def apply(viewer, client: Client, answers: dict[str, list[str]], settings) -> list[str]:
    """Write the completed answers to the record; return the names of the fields that changed."""
    found = problems(answers, settings)
    if found:
        raise Problems(found)
    changed = []
    for name, value in _values(answers, settings).items():
        if getattr(client, name) != value:
            setattr(client, name, value)
            changed.append(name)
    if changed:
        record(ACTION, client_id=client.id, detail="changed: " + ", ".join(changed), **viewer.audit_actor)
    return changed


def changes_for(client_id: int) -> list[AuditEvent]:
    """When a form changed the record, and which fields (newest first)."""
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.client_id == client_id, AuditEvent.action == ACTION)
            .order_by(AuditEvent.id.desc())
        )
    )
