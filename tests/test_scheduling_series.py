# ruff: noqa: F811  (clinic: the fixture imported below, named by the tests)
"""Recurring series from the staff appointment form: every date checked before anything is booked,
conflicts shown date by date (book the free ones, or give one another time), local time kept across a
daylight-saving change, cancel one or "this and all following" (CANCEL for exactly those events), a
concurrent booking of one of the times gives a 409 with nothing booked."""

from __future__ import annotations

import re
import threading
import time as clock
from datetime import UTC, date, datetime, time, timedelta

import psycopg
from sqlalchemy import select

from app.embedded_db import libpq_url
from blueprints.auth.models import User
from blueprints.people.models import Client
from blueprints.scheduling.models import Appointment, AppointmentSeries, Service
from blueprints.scheduling.operations import series as series_ops
from tenants.database import db
from tests.test_scheduling_staff import (  # noqa: F401  (clinic: the fixture)
    BERLIN,
    appointment_form,
    book,
    clinic,
    invites_of,
    logged_in,
    text,
)

# Mondays in the coming months (staff book series up to a year ahead).
JAN_4 = date(2027, 1, 4)
MAR_15 = date(2027, 3, 15)  # Berlin moves its clocks forward on Sunday 28 March 2027


def series_form(ids, first: date, count: int, **overrides):
    return appointment_form(
        ids, on_date=first.isoformat(), repeat="1", repeat_count=str(count), repeat_until="", **overrides
    )


def rows_of(in_practice, practice, series_id=None):
    with in_practice(practice):
        query = select(Appointment).where(Appointment.series_id.is_not(None)).order_by(Appointment.starts_at)
        if series_id is not None:
            query = query.where(Appointment.series_id == series_id)
        return [
            (row.id, row.starts_at, row.status, row.ics_uid, row.series_id)
            for row in db.session.scalars(query)
        ]


def test_a_series_across_a_daylight_saving_change_keeps_its_local_time(clinic, visit, in_practice):
    practice, ids = clinic
    owner = logged_in(visit, practice, practice.owner_email)
    booked = owner.post("/calendar/new", series_form(ids, MAR_15, 4), form_page="/calendar/new")
    assert booked.status_code == 302 and "/calendar/series/" in booked.headers["Location"]
    rows = rows_of(in_practice, practice)
    assert [starts.astimezone(BERLIN).time() for _, starts, *_ in rows] == [time(10)] * 4
    assert [starts.astimezone(UTC).hour for _, starts, *_ in rows] == [9, 9, 8, 8]  # CET, then CEST
    assert [starts.astimezone(BERLIN).date() for _, starts, *_ in rows] == [
        MAR_15 + timedelta(weeks=n) for n in range(4)
    ]
    assert len({uid for *_, uid, _ in rows}) == 4 and len({sid for *_, sid in rows}) == 1
    page = text(owner.get(booked.headers["Location"]))
    assert page.count('data-status="booked"') == 4 and "Every week at 10:00" in page


def test_occurrence_7_of_12_conflicts_is_shown_and_the_free_11_are_booked(clinic, visit, in_practice):
    practice, ids = clinic
    seventh = JAN_4 + timedelta(weeks=6)
    book(
        in_practice,
        practice,
        ids["cleo"],
        ids["alma"],
        ids["therapy"],
        datetime.combine(seventh, time(10, 30), tzinfo=BERLIN),
    )
    owner = logged_in(visit, practice, practice.owner_email)
    checked = owner.post("/calendar/new", series_form(ids, JAN_4, 12), form_page="/calendar/new")
    page = text(checked)
    assert checked.status_code == 409
    assert "1 of 12 dates cannot be booked" in page and "Book the 11 free dates" in page
    conflicts = re.findall(r'data-index="(\d+)" class="series-conflict"', page)
    assert conflicts == ["7"] and page.count('class="series-free"') == 11
    assert "Alma Clinician already has an appointment then" in page
    assert 'name="move-7-date"' in page and 'name="move-1-date"' not in page
    assert rows_of(in_practice, practice) == []  # nothing booked by the check

    form = series_form(ids, JAN_4, 12, skip="7", action="book")
    booked = owner.post("/calendar/new", form, form_page="/calendar/new")
    assert booked.status_code == 302
    rows = rows_of(in_practice, practice)
    days = [starts.astimezone(BERLIN).date() for _, starts, *_ in rows]
    assert len(rows) == 11 and seventh not in days


def test_a_conflicting_date_may_be_given_another_time(clinic, visit, in_practice):
    practice, ids = clinic
    seventh = JAN_4 + timedelta(weeks=6)
    book(
        in_practice,
        practice,
        ids["cleo"],
        ids["alma"],
        ids["therapy"],
        datetime.combine(seventh, time(10), tzinfo=BERLIN),
    )
    owner = logged_in(visit, practice, practice.owner_email)
    # A move that conflicts too is shown again; nothing is booked.
    taken = series_form(
        ids,
        JAN_4,
        12,
        skip="7",
        action="book",
        **{"move-7-date": seventh.isoformat(), "move-7-time": "10:30"},
    )
    assert owner.post("/calendar/new", taken, form_page="/calendar/new").status_code == 409
    assert rows_of(in_practice, practice) == []
    moved = series_form(
        ids,
        JAN_4,
        12,
        skip="7",
        action="book",
        **{"move-7-date": (seventh + timedelta(days=1)).isoformat(), "move-7-time": "14:00"},
    )
    assert owner.post("/calendar/new", moved, form_page="/calendar/new").status_code == 302
    rows = rows_of(in_practice, practice)
    assert len(rows) == 12
    assert rows[6][1] == datetime.combine(seventh + timedelta(days=1), time(14), tzinfo=BERLIN)


def test_series_values_are_checked(clinic, visit, in_practice):
    practice, ids = clinic
    owner = logged_in(visit, practice, practice.owner_email)
    for overrides, message in (
        ({"repeat_count": ""}, "Give either how many times or the last date."),
        ({"repeat_count": "80"}, "Enter how many times, from 2 to 53."),
        ({"repeat_count": "", "repeat_until": "2029-01-01"}, "A series can run up to a year ahead"),
        ({"on_date": "2020-01-06"}, "A series starts today or later."),
    ):
        response = owner.post(
            "/calendar/new", series_form(ids, JAN_4, 4) | overrides, form_page="/calendar/new"
        )
        assert response.status_code == 400 and message in text(response), overrides
    # A half-given move of a date that was shown as a conflict is refused, not guessed.
    half = series_form(ids, JAN_4, 4, skip="3", action="book", **{"move-3-date": "2027-01-19"})
    response = owner.post("/calendar/new", half, form_page="/calendar/new")
    assert response.status_code == 400 and "enter both another date and another time" in text(response)
    assert (
        owner.post(
            "/calendar/new", series_form(ids, JAN_4, 4, skip="x"), form_page="/calendar/new"
        ).status_code
        == 400
    )
    assert rows_of(in_practice, practice) == []


def _book_series(in_practice, practice, ids, first: date, count: int) -> int:
    with in_practice(practice):
        owner = db.session.scalars(select(User).where(User.email == practice.owner_email)).one()
        booked = series_ops.book_series(
            owner,
            db.session.get(Client, ids["bo"]),
            db.session.get(User, ids["alma"]),
            db.session.get(Service, ids["therapy"]),
            series_ops.Pattern(first, time(10), 1, count=count),
        )
        db.session.commit()
        return booked.id


def test_cancel_this_and_all_following_sends_cancel_for_exactly_those(
    clinic, visit, in_practice, mailbox, run_jobs
):
    practice, ids = clinic
    series_id = _book_series(in_practice, practice, ids, JAN_4, 6)
    run_jobs()
    for address in (practice.people["bo"], practice.people["alma"]):
        assert [str(c["method"]) for c in invites_of(mailbox, address)] == ["REQUEST"] * 6
    mailbox.clear()
    rows = rows_of(in_practice, practice, series_id)
    owner = logged_in(visit, practice, practice.owner_email)
    page = f"/calendar/series/{series_id}"
    one = owner.post(page + "/cancel", {"appointment_id": str(rows[1][0]), "scope": "one"}, form_page=page)
    assert one.status_code == 302
    following = owner.post(
        page + "/cancel", {"appointment_id": str(rows[3][0]), "scope": "following"}, form_page=page
    )
    assert following.status_code == 302
    statuses = [status for _, _, status, *_ in rows_of(in_practice, practice, series_id)]
    assert statuses == ["booked", "cancelled", "booked", "cancelled", "cancelled", "cancelled"]
    run_jobs()
    expected = sorted(rows[n][3] for n in (1, 3, 4, 5))
    for address in (practice.people["bo"], practice.people["alma"]):
        calendars = invites_of(mailbox, address)
        assert {str(c["method"]) for c in calendars} == {"CANCEL"}
        uids = sorted(str(event["uid"]) for c in calendars for event in c.walk("VEVENT"))
        assert uids == expected
    # Already cancelled: 409, nothing sent.
    again = owner.post(page + "/cancel", {"appointment_id": str(rows[1][0]), "scope": "one"}, form_page=page)
    assert again.status_code == 409
    # Another series' appointment, or nonsense: 404 / 400.
    assert (
        owner.post(page + "/cancel", {"appointment_id": "999999", "scope": "one"}, form_page=page).status_code
        == 404
    )
    assert (
        owner.post(page + "/cancel", {"appointment_id": "1", "scope": "all"}, form_page=page).status_code
        == 400
    )


def test_a_clinician_sees_only_series_of_their_own(clinic, visit, in_practice):
    practice, ids = clinic
    series_id = _book_series(in_practice, practice, ids, JAN_4, 2)
    assert (
        logged_in(visit, practice, practice.people["alma"]).get(f"/calendar/series/{series_id}").status_code
        == 200
    )
    assert (
        logged_in(visit, practice, practice.people["ben"]).get(f"/calendar/series/{series_id}").status_code
        == 404
    )


def test_two_staff_booking_overlapping_series_at_once_one_wins_the_other_409(
    clinic, visit, in_practice, database_urls
):
    """The other booking is in flight (inserted, not committed) while ours checks (all free, since it
    cannot see it) and inserts; ours waits on the exclusion constraint and, once the other commits,
    answers 409 with nothing of its series booked."""
    practice, ids = clinic
    owner = logged_in(visit, practice, practice.owner_email)
    token = owner.csrf_token("/calendar/new")
    schema = practice.record.schema_name
    third = datetime.combine(JAN_4 + timedelta(weeks=2), time(10), tzinfo=BERLIN)
    results = {}
    with psycopg.connect(libpq_url(database_urls.admin)) as other:
        for week in (2, 3):  # the other staff member's series takes our third and fourth dates
            starts = third + timedelta(weeks=week - 2)
            other.execute(
                f"INSERT INTO {schema}.appointments (client_id, clinician_user_id, service_id, starts_at,"
                " ends_at, block_starts_at, block_ends_at, ics_uid) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    ids["cleo"],
                    ids["alma"],
                    ids["therapy"],
                    starts,
                    starts + timedelta(minutes=50),
                    starts,
                    starts + timedelta(minutes=50),
                    f"other-{week}@example.com",
                ),
            )

        def ours():
            results["book"] = owner.post("/calendar/new", series_form(ids, JAN_4, 6, csrf_token=token))

        worker = threading.Thread(target=ours)
        worker.start()
        clock.sleep(1.5)  # ours has checked and now waits on the constraint
        other.commit()
        worker.join(30)
    response = results["book"]
    assert response.status_code == 409
    assert "was just booked at one of these times by someone else" in text(response)
    assert rows_of(in_practice, practice) == []
    with in_practice(practice):
        assert db.session.scalar(select(AppointmentSeries.id)) is None
        assert len(db.session.scalars(select(Appointment)).all()) == 2  # the other's two, only
