"""Staff notifications between practices: a notification of practice B is never listed, counted or
opened at practice A (its id is simply not found there), and B's client's name appears nowhere in A's
list."""

from __future__ import annotations

from sqlalchemy import select

from blueprints.people.models import Client
from blueprints.staff_notifications.models import StaffNotification
from blueprints.staff_notifications.service import notify_staff
from tenants.database import db


def test_another_practices_notification_is_not_found_and_not_shown(
    make_practice, make_client, visit, in_practice
):
    practice_a, practice_b = make_practice(), make_practice()
    make_client(practice_b, "Zebedee", "Farthingale")
    with in_practice(practice_b):
        client = db.session.scalars(select(Client).where(Client.first_name == "Zebedee")).one()
        assert notify_staff("new_upload", client, "staff_notifications.index") >= 1
        db.session.commit()
        b_notification = db.session.scalars(select(StaffNotification.id)).first()

    owner_a = visit(practice_a)
    owner_a.login(practice_a.owner_email)
    listed = owner_a.get("/notifications")
    assert listed.status_code == 200
    assert "Zebedee" not in listed.get_data(as_text=True)
    opened = owner_a.post(f"/notifications/{b_notification}/open", {}, form_page="/notifications")
    assert opened.status_code == 404
    with in_practice(practice_b):  # B's notification is untouched by A's attempt
        assert db.session.get(StaffNotification, b_notification).read_at is None
