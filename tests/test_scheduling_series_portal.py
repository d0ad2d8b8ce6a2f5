# ruff: noqa: F401, F811  (booking: the fixture imported below, named by the tests)
"""Clients book a recurring series in the portal only where the practice allows it (self-scheduling,
series on, the service marked), every date checked as a single booking would be (the horizon too)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from blueprints.scheduling.models import Appointment, AppointmentSeries, Service
from blueprints.scheduling.operations import portal as portal_rules
from tenants.database import db
from tenants.features import practice_settings
from tests.test_scheduling_portal import (
    SLOT,
    booking,
    confirmation,
    logged_in_client,
    offered_times,
)


def _series_rows(in_practice, practice):
    with in_practice(practice):
        return db.session.scalars(
            select(Appointment).where(Appointment.series_id.is_not(None)).order_by(Appointment.starts_at)
        ).all()


def _allow(in_practice, practice, service_id, *, setting=True, service=True):
    with in_practice(practice):
        practice_settings().client_series_enabled = setting
        db.session.get(Service, service_id).series_bookable = service
        db.session.commit()


def _confirm(visitor, service_id):
    path = f"/portal/book?service={service_id}"
    moment = offered_times(visitor, path, enough=lambda found: len(found) >= 1)[0]
    page = confirmation(visitor, path, moment).get_data(as_text=True)
    clinician_id = re.search(r'name="clinician_id" value="(\d+)"', page).group(1)
    [slot] = SLOT.findall(page)
    data = {"service_id": service_id, "clinician_id": clinician_id, "starts_at": slot}
    return page, data, f"{path}&time={moment}"


def test_a_client_books_a_series_only_where_allowed(booking, visit, in_practice):
    practice, client, service_id = booking
    visitor = logged_in_client(visit, practice, client)
    series = {"repeat": "1", "repeat_count": "2"}
    for setting, service in ((False, False), (True, False), (False, True)):
        _allow(in_practice, practice, service_id, setting=setting, service=service)
        page, data, form_page = _confirm(visitor, service_id)
        assert 'id="booking-series"' not in page
        assert visitor.post("/portal/book", data | series, form_page=form_page).status_code == 404
    # Allowed, but the practice approves bookings (request mode): no series either.
    _allow(in_practice, practice, service_id)
    with in_practice(practice):
        practice_settings().self_scheduling_enabled = False
        db.session.commit()
    page, data, form_page = _confirm(visitor, service_id)
    assert 'id="booking-series"' not in page
    assert visitor.post("/portal/book", data | series, form_page=form_page).status_code == 404
    assert _series_rows(in_practice, practice) == []

    with in_practice(practice):
        practice_settings().self_scheduling_enabled = True
        db.session.commit()
    page, data, form_page = _confirm(visitor, service_id)
    assert 'id="booking-series"' in page and "Every 2 weeks" in page
    booked = visitor.post("/portal/book", data | series, form_page=form_page)
    assert booked.status_code == 302 and booked.headers["Location"] == "/portal/appointments"
    rows = _series_rows(in_practice, practice)
    assert len(rows) == 2 and rows[1].starts_at - rows[0].starts_at == timedelta(weeks=1)
    with in_practice(practice):
        made = db.session.scalars(select(AppointmentSeries)).one()
        assert made.created_by_client and made.created_by_user_id is None
        # Each date keeps the single-appointment rules: the first (within the 24-hour cancellation
        # window, as the picker's first time always is here) may not be cancelled or moved online, the
        # second (a week later) may.
        first, second = (db.session.get(Appointment, row.id) for row in rows)
        assert portal_rules.client_cancel_refusal(first) is not None
        assert portal_rules.client_reschedule_refusal(first) is not None
        assert portal_rules.client_cancel_refusal(second) is None
        assert portal_rules.client_reschedule_refusal(second) is None
    listing = visitor.get("/portal/appointments").get_data(as_text=True)
    assert listing.count("Therapy with") == 2


def test_dates_beyond_the_horizon_are_shown_and_the_free_ones_booked(booking, visit, in_practice):
    practice, client, service_id = booking  # the horizon is 21 days
    _allow(in_practice, practice, service_id)
    visitor = logged_in_client(visit, practice, client)
    _, data, form_page = _confirm(visitor, service_id)
    series = {"repeat": "1", "repeat_count": "5"}
    checked = visitor.post("/portal/book", data | series, form_page=form_page)
    page = checked.get_data(as_text=True)
    assert checked.status_code == 409 and "2 of 5 dates are not available" in page
    assert re.findall(r'data-index="(\d+)" class="series-conflict"', page) == ["4", "5"]
    assert "too soon or too far ahead" in page
    assert _series_rows(in_practice, practice) == []
    booked = visitor.post(
        "/portal/book", data | series | {"skip": "4,5", "action": "book"}, form_page=form_page
    )
    assert booked.status_code == 302
    assert len(_series_rows(in_practice, practice)) == 3


def test_a_client_books_a_series_until_a_date(booking, visit, in_practice):
    """The portal's "Or until (last date)": weekly until two weeks after the first date is 3 dates."""
    practice, client, service_id = booking
    _allow(in_practice, practice, service_id)
    visitor = logged_in_client(visit, practice, client)
    page, data, form_page = _confirm(visitor, service_id)
    assert 'name="repeat_until"' in page
    first = re.search(r"\d{4}-\d{2}-\d{2}", data["starts_at"]).group(0)
    from datetime import date

    until = (date.fromisoformat(first) + timedelta(weeks=2)).isoformat()
    booked = visitor.post("/portal/book", data | {"repeat": "1", "repeat_until": until}, form_page=form_page)
    assert booked.status_code == 302
    rows = _series_rows(in_practice, practice)
    assert len(rows) == 3 and rows[2].starts_at - rows[0].starts_at == timedelta(weeks=2)
