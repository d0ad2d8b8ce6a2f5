"""Helpers of the documents tests: a small valid PDF, uploads over HTTP, a family with a teen."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from blueprints.audit.models import AuditEvent
from tenants.database import db
from tenants.features import practice_settings
from tests.fixtures_documents import pdf_bytes  # noqa: F401 (the tests take it from here)

ANY_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
DOWNLOAD = re.compile(r'href="(/(?:portal/)?documents/([0-9]+)/download)"')


def any_csrf(visitor, page: str) -> str:
    return ANY_CSRF.search(visitor.get(page).get_data(as_text=True)).group(1)


def upload(visitor, data: bytes, filename: str, note: str | None = None, path: str = "/portal/documents"):
    """POST a file like the page's form does (multipart, field `file`, optional `note`)."""
    form = {"file": (io.BytesIO(data), filename), "csrf_token": any_csrf(visitor, path)}
    if note is not None:
        form["note"] = note
    return visitor.post(path, form, form_page=False, content_type="multipart/form-data")


def staff_post(visitor, path: str, data: dict | None = None, page: str = "/"):
    return visitor.post(path, {**(data or {}), "csrf_token": any_csrf(visitor, page)}, form_page=False)


def set_settings(in_practice, practice, **values):
    with in_practice(practice):
        row = practice_settings()
        for name, value in values.items():
            setattr(row, name, value)
        db.session.commit()


def audit_actions(in_practice, practice) -> list[tuple[str, str | None, str | None]]:
    with in_practice(practice):
        return [
            (e.action, e.actor_name, e.detail)
            for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]


def years_ago(years: int) -> date:
    today = date.today()
    return today.replace(year=today.year - years) - timedelta(days=30)


def open_record(visitor, client_id: int):
    response = visitor.post(f"/portal/open/{client_id}", form_page="/portal/choose")
    assert response.status_code == 302, response.status_code


@dataclass
class Setting:
    practice: object
    clinician: str
    client: object


@pytest.fixture(name="documents_practice")
def documents_practice_fixture(make_practice, make_staff, make_client, in_practice):
    """A practice with its portal open, a clinician, and their client Casey with a login."""

    def make(**settings) -> Setting:
        practice = make_practice(name="Documents Practice")
        set_settings(in_practice, practice, portal_enabled=True, **settings)
        clinician = make_staff(practice, "clinician", name="Dr Docs")
        client = make_client(
            practice,
            first="Casey",
            email=f"casey@{practice.slug}.example.com",
            login=True,
            clinicians=(clinician,),
        )
        return Setting(practice, clinician, client)

    return make


def client_visitor(visit, setting: Setting):
    visitor = visit(setting.practice)
    assert visitor.login(setting.client.email).status_code == 302
    visitor.get("/portal/choose")
    return visitor


def staff_visitor(visit, practice, email: str):
    visitor = visit(practice)
    assert visitor.login(email).status_code == 302
    return visitor
