# ruff: noqa: F811 (`clinic` is a fixture imported from the staff scheduling tests)
"""Every date a person can enter is bounded, and the no-double-booking key refuses what it cannot
represent (issue 8).

The key folds clinician id and epoch seconds into one int8range (clinician id * 10^11 + seconds), so a
block before 1970 or after 5138-11-16 would land in a neighbouring clinician's range and block them.
Forms keep appointments to a few years either side of today and birth dates to 1900..today; a CHECK on
`appointments` keeps every block inside the key's window whatever the application does."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from blueprints.auth.service import find_user_by_email
from blueprints.notifications.models import OutboxEmail
from blueprints.people.models import Client
from blueprints.scheduling.models import Appointment, AvailabilityException
from tenants.database import db
from tenants.features import practice_today
from tests.test_scheduling_staff import (  # noqa: F401 (clinic is a fixture)
    MONDAY,
    appointment_form,
    at,
    book,
    clinic,
    count,
    logged_in,
    request_new,
)
from tests.test_scheduling_staff import text as page_text

OUT_OF_RANGE = ("0001-01-01", "9999-12-31")
# The key's window: seconds 0 to 10^11 since the epoch (10^11 s after 1970 is 5138-11-16 09:46:40 UTC).
KEY_START = datetime(1970, 1, 1, tzinfo=UTC)
KEY_END = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=10**11)


def years_from(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def window(in_practice, practice) -> tuple[date, date]:
    """Appointments: five years either side of the practice's today."""
    with in_practice(practice):
        today = practice_today()
    return years_from(today, -5), years_from(today, 5)


def state(in_practice, practice, appointment_id):
    with in_practice(practice):
        row = db.session.get(Appointment, appointment_id)
        return row.starts_at, row.version


# --- Staff appointment forms ---------------------------------------------------------------------


def test_the_staff_appointment_form_refuses_dates_outside_the_window(clinic, visit, in_practice):
    practice, ids = clinic
    first, last = window(in_practice, practice)
    emails_before = count(in_practice, practice, OutboxEmail)
    owner = logged_in(visit, practice, practice.owner_email)
    for on_date in (
        *OUT_OF_RANGE,
        (first - timedelta(days=1)).isoformat(),
        (last + timedelta(days=1)).isoformat(),
    ):
        refused = owner.post(
            "/calendar/new", appointment_form(ids, on_date=on_date), form_page="/calendar/new"
        )
        assert refused.status_code == 400, on_date
        body = page_text(refused)
        assert f"Choose a date from {first.isoformat()} to {last.isoformat()}." in body, on_date
        assert 'name="client_id"' in body  # the form again, to correct
    assert count(in_practice, practice, Appointment) == 0
    assert count(in_practice, practice, OutboxEmail) == emails_before

    # A normal appointment still books, and so does one on the window's last day.
    for on_date in (MONDAY, last):
        booked = owner.post(
            "/calendar/new", appointment_form(ids, on_date=on_date.isoformat()), form_page="/calendar/new"
        )
        assert booked.status_code == 302, on_date
    assert count(in_practice, practice, Appointment) == 2


def test_the_move_form_refuses_dates_outside_the_window(clinic, visit, in_practice):
    practice, ids = clinic
    appointment_id = book(in_practice, practice, ids["bo"], ids["alma"], ids["therapy"], at(9))
    before = state(in_practice, practice, appointment_id)
    first, last = window(in_practice, practice)
    owner = logged_in(visit, practice, practice.owner_email)
    page = f"/calendar/appointments/{appointment_id}"
    for on_date in OUT_OF_RANGE:
        refused = owner.post(
            page + "/move",
            {"version": str(before[1]), "on_date": on_date, "at_time": "10:00", "duration_minutes": ""},
            form_page=page,
        )
        assert refused.status_code == 400, on_date
        body = page_text(refused)
        assert f"Choose a date from {first.isoformat()} to {last.isoformat()}." in body
        assert 'name="on_date"' in body
        assert state(in_practice, practice, appointment_id) == before
    moved = owner.post(
        page + "/move",
        {
            "version": str(before[1]),
            "on_date": MONDAY.isoformat(),
            "at_time": "11:00",
            "duration_minutes": "",
        },
        form_page=page,
    )
    assert moved.status_code == 302
    assert state(in_practice, practice, appointment_id)[0] == at(11)


# --- Query-string dates --------------------------------------------------------------------------


def test_calendar_dates_outside_the_window_are_a_400_with_a_message(clinic, visit, in_practice):
    practice, ids = clinic
    first, last = window(in_practice, practice)
    owner = logged_in(visit, practice, practice.owner_email)
    for raw in (*OUT_OF_RANGE, (last + timedelta(days=1)).isoformat()):
        for view in ("week", "day"):
            response = owner.get(f"/calendar?view={view}&date={raw}")
            assert response.status_code == 400, (raw, view)
            assert f"Choose a date from {first.isoformat()} to {last.isoformat()}." in page_text(response)
    assert owner.get(f"/calendar?date={MONDAY.isoformat()}").status_code == 200
    # The booking form's prefilled day: an out-of-range one is ignored (the form opens on today).
    for raw in OUT_OF_RANGE:
        prefilled = owner.get(f"/calendar/new?date={raw}")
        assert prefilled.status_code == 200
        with in_practice(practice):
            assert f'value="{practice_today().isoformat()}"' in page_text(prefilled)
    # At the window's edge the calendar offers no link beyond it.
    edge = page_text(owner.get(f"/calendar?view=day&date={last.isoformat()}"))
    assert f"date={(last + timedelta(days=1)).isoformat()}" not in edge and "Next day" not in edge


def test_request_filters_outside_the_window_are_refused_with_a_message(clinic, visit, in_practice):
    practice, ids = clinic
    request_new(in_practice, practice, ids["bo"], ids["alma"], ids["therapy"], at(9))
    first, last = window(in_practice, practice)
    owner = logged_in(visit, practice, practice.owner_email)
    for query in ("date_from=0001-01-01", "date_to=9999-12-31", "date_from=0001-01-01&date_to=9999-12-31"):
        response = owner.get(f"/requests?status=all&{query}")
        assert response.status_code == 400, query
        assert f"Choose a date from {first.isoformat()} to {last.isoformat()}." in page_text(response)
    assert owner.get(f"/requests?status=all&date_from={first.isoformat()}").status_code == 200


def test_a_portal_time_outside_the_window_is_a_400(
    make_practice, make_staff, make_client, open_for_booking, visit, in_practice
):
    practice = make_practice()
    clinician_email = make_staff(practice, "clinician")
    client = make_client(
        practice,
        first="Robin",
        email=f"robin@{practice.slug}.example.com",
        login=True,
        clinicians=(clinician_email,),
    )
    service_id = open_for_booking(practice, clinician_email, min_notice_hours=0, booking_horizon_days=21)
    visitor = visit(practice)
    assert visitor.login(client.email).status_code == 302
    visitor.get("/portal/choose")
    with in_practice(practice):
        clinician_id = str(find_user_by_email(clinician_email).id)
    for starts_at in ("0001-01-01T00:30:00+05:00", "9999-12-31T23:30:00-05:00"):
        data = {"service_id": service_id, "clinician_id": clinician_id, "starts_at": starts_at}
        response = visitor.post("/portal/book", data, form_page="/portal/appointments")
        assert response.status_code == 400, starts_at
        assert "Please pick a time from the list." in page_text(response)


# --- Availability exceptions ---------------------------------------------------------------------


def test_an_exception_in_year_3000_is_refused(clinic, visit, in_practice):
    practice, ids = clinic
    first, last = window(in_practice, practice)
    owner = logged_in(visit, practice, practice.owner_email)
    for on_date in ("3000-01-01", "9999-12-31", (last + timedelta(days=1)).isoformat()):
        refused = owner.post("/availability/exceptions", {"on_date": on_date, "kind": "day_off"})
        assert refused.status_code == 400, on_date
        assert f"Choose a date no later than {last.isoformat()}." in page_text(refused)
    past = owner.post("/availability/exceptions", {"on_date": "0001-01-01", "kind": "day_off"})
    assert past.status_code == 400 and "Choose today or a later date." in page_text(past)
    assert count(in_practice, practice, AvailabilityException) == 0
    kept = owner.post("/availability/exceptions", {"on_date": last.isoformat(), "kind": "day_off"})
    assert kept.status_code == 302
    assert count(in_practice, practice, AvailabilityException) == 1


# --- Birth dates ---------------------------------------------------------------------------------


def test_birth_dates_in_the_future_or_before_1900_are_refused(make_practice, make_client, visit, in_practice):
    practice = make_practice()
    owner = logged_in(visit, practice, practice.owner_email)
    with in_practice(practice):
        today = practice_today()
    for born in ((today + timedelta(days=1)).isoformat(), "1899-12-31", "0001-01-01", "9999-12-31"):
        refused = owner.post(
            "/clients/new", {"first_name": "Robin", "last_name": "Born", "date_of_birth": born}
        )
        assert refused.status_code == 400, born
        assert "Enter a date of birth in the past (1900 or later)." in page_text(refused)
    with in_practice(practice):
        assert db.session.scalar(select(func.count()).select_from(Client)) == 0

    existing = make_client(practice, first="Kept", last="Same", date_of_birth=date(1990, 4, 2))
    refused = owner.post(
        f"/clients/{existing.id}/edit",
        {"first_name": "Kept", "last_name": "Same", "date_of_birth": "1899-12-31"},
    )
    assert refused.status_code == 400
    with in_practice(practice):
        assert db.session.get(Client, existing.id).date_of_birth == date(1990, 4, 2)
    for born in ("1900-01-01", today.isoformat()):
        assert (
            owner.post(
                "/clients/new", {"first_name": "Ok", "last_name": born, "date_of_birth": born}
            ).status_code
            == 302
        )


def test_the_client_operation_refuses_an_impossible_birth_date_too(make_practice, make_staff, in_practice):
    """Not only the form: the operation every caller uses (views, commands, imports) says no."""
    from app.refusals import Problems
    from blueprints.auth.service import find_user_by_email
    from blueprints.people.operations.clients import add_client

    practice = make_practice()
    with in_practice(practice):
        owner = find_user_by_email(practice.owner_email)
        with pytest.raises(Problems) as refused:
            add_client(owner, {"first_name": "A", "last_name": "B", "date_of_birth": date(1850, 1, 1)})
        assert "1900 or later" in refused.value.problems["date_of_birth"]
        db.session.rollback()


# --- The key's own guard: a CHECK on appointments -------------------------------------------------


def _raw_appointment(ids, block_start: datetime, block_end: datetime) -> Appointment:
    return Appointment(
        client_id=ids["bo"],
        clinician_user_id=ids["alma"],
        service_id=ids["therapy"],
        starts_at=block_start,
        ends_at=block_end,
        block_starts_at=block_start,
        block_ends_at=block_end,
        ics_uid=f"raw-{block_start.isoformat()}@test",
    )


@pytest.mark.parametrize(
    "block_start",
    [
        datetime(1960, 6, 1, 10, tzinfo=UTC),
        datetime(6000, 6, 1, 10, tzinfo=UTC),
        KEY_START - timedelta(seconds=1),  # one second before the key's first second
        KEY_END - timedelta(minutes=30),  # ends 20 minutes past its last one
    ],
)
def test_the_database_refuses_an_appointment_its_key_cannot_represent(clinic, in_practice, block_start):
    """Through the application's role inside the practice: whatever the code, the row is refused."""
    practice, ids = clinic
    with in_practice(practice):
        db.session.add(_raw_appointment(ids, block_start, block_start + timedelta(minutes=50)))
        with pytest.raises(IntegrityError) as refused:
            db.session.flush()
        assert refused.value.orig.sqlstate == "23514"  # check_violation
        assert "ck_appointments_block_within_key_window" in str(refused.value.orig)
        db.session.rollback()
    assert count(in_practice, practice, Appointment) == 0


def test_the_database_refuses_moving_an_appointment_outside_the_key_and_keeps_the_edges(clinic, in_practice):
    practice, ids = clinic
    appointment_id = book(in_practice, practice, ids["bo"], ids["alma"], ids["therapy"], at(9))
    with in_practice(practice):
        with pytest.raises(IntegrityError):
            db.session.execute(
                text(
                    "UPDATE appointments SET starts_at = '1960-01-01 10:00+00', "
                    "ends_at = '1960-01-01 11:00+00', block_starts_at = '1960-01-01 10:00+00', "
                    "block_ends_at = '1960-01-01 11:00+00' WHERE id = :id"
                ),
                {"id": appointment_id},
            )
        db.session.rollback()
        # The exact edges of the window are representable and accepted.
        first = _raw_appointment(ids, KEY_START, KEY_START + timedelta(minutes=50))
        last = _raw_appointment(ids, KEY_END - timedelta(minutes=50), KEY_END)
        db.session.add_all([first, last])
        db.session.flush()
        db.session.rollback()
    assert state(in_practice, practice, appointment_id)[0] == at(9)


def test_the_migration_names_rows_outside_the_window_and_upgrades_once_they_are_fixed(
    clinic, in_practice, admin_engine, app
):
    """A practice upgraded from t0008 with an appointment outside the key's window: the upgrade stops
    with a message naming the row (nothing changes); once the row is fixed it goes through."""
    from alembic import command

    from tenants.database import enter_practice_sql, owner_engine
    from tenants.migrate import alembic_config, upgrade_tenants

    practice, ids = clinic
    appointment_id = book(in_practice, practice, ids["bo"], ids["alma"], ids["therapy"], at(9))
    schema = practice.record.schema_name
    constraint = "ck_appointments_block_within_key_window"
    with app.app_context(), owner_engine().begin() as conn:
        conn.exec_driver_sql(enter_practice_sql(schema))
        config = alembic_config()
        config.attributes.update(connection=conn, branch="tenant", schema=schema)
        command.downgrade(config, "t0008")  # drops the CHECK
        conn.exec_driver_sql(
            f"UPDATE appointments SET block_starts_at = '1969-12-31 23:00+00' WHERE id = {appointment_id}"
        )
    with admin_engine.begin() as conn:
        conn.exec_driver_sql(
            f"UPDATE public.practices SET schema_revision = 't0008' WHERE id = {practice.id}"
        )
    with app.app_context():
        results = {r.practice_id: r for r in upgrade_tenants(owner_engine(), jobs=1)}
    error = results[practice.id].error
    assert error and f"appointment {appointment_id}" in error and "1970-01-01" in error, error
    with admin_engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT version_num FROM {schema}.alembic_version").scalar() == "t0008"

    with admin_engine.begin() as conn:
        conn.exec_driver_sql(
            f"UPDATE {schema}.appointments SET block_starts_at = starts_at WHERE id = {appointment_id}"
        )
    with app.app_context():
        results = {r.practice_id: r for r in upgrade_tenants(owner_engine(), jobs=1)}
    assert results[practice.id].error is None
    with admin_engine.connect() as conn:
        validated = conn.execute(
            text(
                "SELECT con.convalidated FROM pg_constraint con "
                "JOIN pg_namespace ns ON ns.oid = con.connamespace "
                "WHERE ns.nspname = :schema AND con.conname = :name"
            ),
            {"schema": schema, "name": constraint},
        ).scalar()
    assert validated is True


def test_a_normal_appointment_between_the_edges_still_books(clinic, in_practice):
    practice, ids = clinic
    appointment_id = book(in_practice, practice, ids["bo"], ids["alma"], ids["therapy"], at(9))
    with in_practice(practice):
        row = db.session.get(Appointment, appointment_id)
        assert row.status == "booked" and row.starts_at == at(9)
        assert datetime.combine(MONDAY, time(0), tzinfo=UTC) > KEY_START
