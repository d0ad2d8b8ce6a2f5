"""The staff side of scheduling over HTTP: services, availability, the calendar (create, move, cancel),
appointment requests (approve with changes, decline with or without notice), private calendar feeds,
roles, and isolation from other practices."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import func, select, update

from blueprints.audit.models import AuditEvent
from blueprints.auth.models import User
from blueprints.auth.service import find_user_by_email
from blueprints.notifications.models import OutboxEmail
from blueprints.people.models import Client
from blueprints.scheduling.models import (
    Appointment,
    AppointmentRequest,
    AvailabilityRule,
    Service,
    ServiceClinician,
)
from blueprints.scheduling.operations import appointments, availability
from blueprints.scheduling.operations import requests as appointment_requests
from tenants.database import db
from tenants.features import practice_settings

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = date(2031, 6, 2)  # far ahead: notice and horizon allow it
FEED_URL = re.compile(r"http://[^/\s<]+(/feeds/[A-Za-z0-9_-]+\.ics)")


def at(hour: int, minute: int = 0, day: date = MONDAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


def logged_in(visit, practice, email):
    visitor = visit(practice)
    assert visitor.login(email).status_code == 302
    return visitor


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def clinic(make_practice, make_staff, make_client, in_practice):
    """A practice in Berlin with clinicians Alma and Ben, Bo (Alma's client) and Cleo (Ben's),
    Therapy (50 min, offered by both) and Long therapy (80 min), open Monday to Friday 9-17."""
    practice = make_practice()
    alma = make_staff(practice, "clinician", name="Alma Clinician")
    ben = make_staff(practice, "clinician", name="Ben Clinician")
    bo = make_client(
        practice, first="Bo", last="Bright", email=f"bo@{practice.slug}.example.com", clinicians=(alma,)
    )
    cleo = make_client(
        practice, first="Cleo", last="Calm", email=f"cleo@{practice.slug}.example.com", clinicians=(ben,)
    )
    with in_practice(practice):
        settings = practice_settings()
        settings.time_zone = "Europe/Berlin"
        settings.min_notice_hours = 0
        settings.booking_horizon_days = 3650
        ids = {"alma": find_user_by_email(alma).id, "ben": find_user_by_email(ben).id}
        therapy = Service(name="Therapy", duration_minutes=50, service_code="90834", bookable_online=True)
        longer = Service(name="Long therapy", duration_minutes=80, service_code="90837", bookable_online=True)
        db.session.add_all([therapy, longer])
        db.session.flush()
        for item in (therapy, longer):
            for person in ("alma", "ben"):
                db.session.add(ServiceClinician(service_id=item.id, user_id=ids[person]))
        for weekday in range(5):
            db.session.add(AvailabilityRule(weekday=weekday, start_time=time(9), end_time=time(17)))
        db.session.commit()
        ids.update(therapy=therapy.id, longer=longer.id, bo=bo.id, cleo=cleo.id)
    practice.people.update(alma=alma, ben=ben, bo=bo.email, cleo=cleo.email)
    return practice, ids


def book(
    in_practice, practice, client_id, clinician_id, service_id, starts_at, notify=False, **kwargs
) -> int:
    with in_practice(practice):
        appointment = appointments.book(
            db.session.get(Client, client_id),
            db.session.get(User, clinician_id),
            db.session.get(Service, service_id),
            starts_at,
            notify=notify,
            **kwargs,
        )
        db.session.commit()
        return appointment.id


def request_new(in_practice, practice, client_id, clinician_id, service_id, starts_at) -> int:
    with in_practice(practice):
        item = appointment_requests.request_new(
            db.session.get(Client, client_id),
            db.session.get(User, clinician_id),
            db.session.get(Service, service_id),
            starts_at,
            requested_by=None,
        )
        db.session.commit()
        return item.id


def invites_of(mailbox, address):
    calendars = []
    for message in mailbox.to(address):
        for part in message.iter_attachments():
            if part.get_content_type() == "text/calendar":
                calendars.append(Calendar.from_ical(part.get_content()))
    return calendars


def count(in_practice, practice, model) -> int:
    with in_practice(practice):
        return db.session.scalar(select(func.count()).select_from(model))


# ---------------------------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------------------------


def test_owner_lists_creates_and_edits_services(clinic, visit, in_practice):
    practice, ids = clinic
    owner = logged_in(visit, practice, practice.owner_email)
    listing = text(owner.get("/services"))
    assert "Therapy" in listing and "Long therapy" in listing

    bad = owner.post(
        "/services/new",
        {"name": "", "duration_minutes": "3", "price": "abc", "clinician_ids": [str(ids["alma"])]},
    )
    assert bad.status_code == 400
    page = text(bad)
    assert "Give the service a name." in page
    assert "Enter a price like 120 or 120.50." in page
    too_short = owner.post("/services/new", {"name": "Quick", "duration_minutes": "3"})
    assert too_short.status_code == 400 and "from 5 to 600" in text(too_short)
    clash = owner.post("/services/new", {"name": "therapy", "duration_minutes": "50"})
    assert clash.status_code == 400 and "Another service already has that name." in text(clash)
    assert count(in_practice, practice, Service) == 2

    created = owner.post(
        "/services/new",
        {
            "name": "Intake",
            "duration_minutes": "90",
            "service_code": "90791",
            "price": "150.5",
            "bookable_online": "y",
            "is_active": "y",
            "clinician_ids": [str(ids["alma"])],
        },
    )
    assert created.status_code == 302 and created.headers["Location"] == "/services"
    with in_practice(practice):
        intake = db.session.scalars(select(Service).where(Service.name == "Intake")).one()
        assert (intake.duration_minutes, intake.service_code, intake.price_cents) == (90, "90791", 15050)
        assert intake.bookable_online and intake.is_active
        assert [u.id for u in intake.clinicians] == [ids["alma"]]
        intake_id = intake.id
    assert "150.50" in text(owner.get("/services"))

    edited = owner.post(
        f"/services/{intake_id}",
        {
            "name": "Intake session",
            "duration_minutes": "60",
            "service_code": "",
            "price": "99",
            "clinician_ids": [str(ids["alma"]), str(ids["ben"])],
        },
    )
    assert edited.status_code == 302
    with in_practice(practice):
        intake = db.session.get(Service, intake_id)
        assert (intake.name, intake.duration_minutes, intake.service_code, intake.price_cents) == (
            "Intake session",
            60,
            None,
            9900,
        )
        assert not intake.bookable_online and not intake.is_active
        assert sorted(u.id for u in intake.clinicians) == sorted([ids["alma"], ids["ben"]])
    not_staff = owner.post(
        f"/services/{intake_id}",
        {"name": "Intake session", "duration_minutes": "60", "clinician_ids": ["999999"]},
    )
    assert not_staff.status_code == 400 and "Choose active clinicians" in text(not_staff)
    assert owner.get("/services/999999").status_code == 404


def checked_clinicians(page: str) -> set[int]:
    box = r'name="clinician_ids" value="(\d+)" id="clinician-\d+" checked'
    return {int(value) for value in re.findall(box, page)}


def test_a_new_service_is_offered_by_every_clinician_unless_unticked(clinic, visit, in_practice, make_staff):
    practice, ids = clinic
    intern = make_staff(practice, "intern", name="Ines Intern")
    make_staff(practice, "scheduler")  # does not offer services: no box
    owner = logged_in(visit, practice, practice.owner_email)
    with in_practice(practice):
        everyone = {find_user_by_email(email).id for email in (practice.owner_email, intern)}
    everyone |= {ids["alma"], ids["ben"]}
    form = text(owner.get("/services/new"))
    assert checked_clinicians(form) == everyone
    assert len(re.findall(r'name="clinician_ids"', form)) == len(everyone)

    # Unticking works (nobody ticked is nobody), and editing shows who offers it, not everyone.
    added = owner.post("/services/new", {"name": "Group", "duration_minutes": "90", "is_active": "y"})
    assert added.status_code == 302
    with in_practice(practice):
        group = db.session.scalars(select(Service).where(Service.name == "Group")).one()
        assert group.clinicians == []
        group_id = group.id
    assert checked_clinicians(text(owner.get(f"/services/{group_id}"))) == set()
    assert checked_clinicians(text(owner.get(f"/services/{ids['therapy']}"))) == {ids["alma"], ids["ben"]}
    # A refused form comes back with the boxes as they were sent.
    unnamed = {"name": "", "duration_minutes": "90", "clinician_ids": [ids["ben"]]}
    refused = owner.post("/services/new", unnamed)
    assert refused.status_code == 400 and checked_clinicians(text(refused)) == {ids["ben"]}


def selected(page: str, select_id: str) -> str | None:
    start = page.index(f'id="{select_id}"')
    chunk = page[start : page.index("</select>", start)]
    found = re.search(r'<option selected value="([^"]*)"', chunk)
    return found.group(1) if found else None


def test_new_appointment_preselects_a_clinician_who_offers_the_service(clinic, visit, in_practice):
    practice, ids = clinic
    with in_practice(practice):
        bens_only = Service(name="Couples", duration_minutes=60, bookable_online=False)
        db.session.add(bens_only)
        db.session.flush()
        db.session.add(ServiceClinician(service_id=bens_only.id, user_id=ids["ben"]))
        db.session.commit()
        couples = bens_only.id
    alma = logged_in(visit, practice, practice.people["alma"])
    # No service asked for: Alma and a service she offers.
    page = text(alma.get("/calendar/new"))
    assert selected(page, "clinician_id") == str(ids["alma"])
    assert selected(page, "service_id") in (str(ids["therapy"]), str(ids["longer"]))
    # A service only Ben offers: Ben, not Alma herself.
    page = text(alma.get(f"/calendar/new?service={couples}"))
    assert (selected(page, "service_id"), selected(page, "clinician_id")) == (str(couples), str(ids["ben"]))
    # A service both offer: the clinician asked for stays.
    page = text(alma.get(f"/calendar/new?service={ids['therapy']}&clinician={ids['ben']}"))
    assert selected(page, "clinician_id") == str(ids["ben"])
    # The owner offers nothing here: someone who offers the service is chosen, not the owner.
    owner = logged_in(visit, practice, practice.owner_email)
    page = text(owner.get(f"/calendar/new?service={couples}"))
    assert selected(page, "clinician_id") == str(ids["ben"])
    # The page's script gets who offers what.
    assert f'"{couples}": [{ids["ben"]}]' in page and "js/appointment-form.js" in page

    # Shown again after a refusal: Alma does not offer Couples, so Ben is preselected.
    refused = alma.post(
        "/calendar/new",
        appointment_form(ids, service_id=str(couples), clinician_id=str(ids["alma"])),
        form_page="/calendar/new",
    )
    assert refused.status_code == 400 and "Alma Clinician does not offer Couples." in text(refused)
    assert selected(text(refused), "clinician_id") == str(ids["ben"])
    incomplete = alma.post(
        "/calendar/new",
        appointment_form(ids, service_id=str(couples), clinician_id=str(ids["alma"]), at_time=""),
        form_page="/calendar/new",
    )
    assert incomplete.status_code == 400 and selected(text(incomplete), "clinician_id") == str(ids["ben"])
    assert count(in_practice, practice, Appointment) == 0


def test_clinicians_and_interns_may_not_edit_services(clinic, visit, make_staff):
    practice, ids = clinic
    alma = logged_in(visit, practice, practice.people["alma"])
    assert alma.get("/services").status_code == 403
    assert alma.get(f"/services/{ids['therapy']}").status_code == 403
    csrf = alma.csrf_token("/calendar/feed")
    refused = alma.post(
        "/services/new", {"name": "Mine", "duration_minutes": "30", "csrf_token": csrf}, form_page=False
    )
    assert refused.status_code == 403
    assert ">Services<" not in text(alma.get("/calendar"))
    intern = logged_in(visit, practice, make_staff(practice, "intern"))
    assert intern.get("/services").status_code == 403
    csrf = intern.csrf_token("/calendar/feed")
    refused = intern.post(
        f"/services/{ids['therapy']}",
        {"name": "Renamed", "duration_minutes": "30", "csrf_token": csrf},
        form_page=False,
    )
    assert refused.status_code == 403


# ---------------------------------------------------------------------------------------------
# Availability
# ---------------------------------------------------------------------------------------------


def slot_times(in_practice, practice, clinician_id, service_id, day: date) -> list[time]:
    with in_practice(practice):
        therapy = db.session.get(Service, service_id)
        slots = availability.available_slots(clinician_id, therapy, now=at(0, day=day - timedelta(days=2)))
    return [s.astimezone(BERLIN).time() for s in slots if s.astimezone(BERLIN).date() == day]


def test_weekly_hours_and_exceptions_change_the_slots(clinic, visit, in_practice):
    practice, ids = clinic
    saturday, tuesday = MONDAY + timedelta(days=5), MONDAY + timedelta(days=1)
    assert slot_times(in_practice, practice, ids["alma"], ids["therapy"], saturday) == []
    owner = logged_in(visit, practice, practice.owner_email)
    assert "Monday" in text(owner.get("/availability"))

    added = owner.post("/availability/hours", {"weekday": "5", "start": "10:00", "end": "12:00"})
    assert added.status_code == 302
    saturday_slots = slot_times(in_practice, practice, ids["alma"], ids["therapy"], saturday)
    assert saturday_slots[0] == time(10) and saturday_slots[-1] == time(11, 0)

    backwards = owner.post("/availability/hours", {"weekday": "6", "start": "12:00", "end": "10:00"})
    assert backwards.status_code == 400 and "The end must be after the start" in text(backwards)
    overlapping = owner.post("/availability/hours", {"weekday": "5", "start": "11:00", "end": "13:00"})
    assert overlapping.status_code == 400 and "That overlaps 10:00–12:00 on Saturday" in text(overlapping)
    midnight = owner.post("/availability/hours", {"weekday": "6", "start": "20:00", "end": "00:00"})
    assert midnight.status_code == 302
    assert slot_times(in_practice, practice, ids["alma"], ids["therapy"], saturday + timedelta(days=1))[
        -1
    ] == time(23, 0)

    day_off = owner.post("/availability/exceptions", {"on_date": tuesday.isoformat(), "kind": "day_off"})
    assert day_off.status_code == 302
    assert slot_times(in_practice, practice, ids["alma"], ids["therapy"], tuesday) == []
    hours_off = owner.post(
        "/availability/exceptions",
        {"on_date": MONDAY.isoformat(), "kind": "hours_off", "start": "09:00", "end": "13:00"},
    )
    assert hours_off.status_code == 302
    assert slot_times(in_practice, practice, ids["alma"], ids["therapy"], MONDAY)[0] == time(13)
    no_times = owner.post("/availability/exceptions", {"on_date": MONDAY.isoformat(), "kind": "extra"})
    assert no_times.status_code == 400 and "Enter a start and an end time." in text(no_times)
    past = owner.post("/availability/exceptions", {"on_date": "2001-01-01", "kind": "day_off"})
    assert past.status_code == 400 and "Choose today or a later date." in text(past)

    defaults = owner.post(
        "/availability/defaults",
        {
            "buffer_before_minutes": "0",
            "buffer_after_minutes": "10",
            "min_notice_hours": "0",
            "horizon_days": "-1",
        },
    )
    assert defaults.status_code == 400 and "Enter a whole number from 1 to 730." in text(defaults)

    # Alma keeps her own hours: Wednesdays 14-16 only; Ben still has the practice's.
    alma = logged_in(visit, practice, practice.people["alma"])
    assert alma.get("/availability").headers["Location"] == f"/availability/clinicians/{ids['alma']}"
    own = alma.post(
        f"/availability/clinicians/{ids['alma']}/settings",
        {"uses_own_hours": "y", "buffer_after_minutes": ""},
    )
    assert own.status_code == 302
    with in_practice(practice):
        for rule in db.session.scalars(
            select(AvailabilityRule).where(AvailabilityRule.clinician_user_id == ids["alma"])
        ):
            db.session.delete(rule)  # started as a copy of the practice's hours
        db.session.commit()
    wednesday = MONDAY + timedelta(days=2)
    assert (
        alma.post(
            f"/availability/clinicians/{ids['alma']}/hours",
            {"weekday": "2", "start": "14:00", "end": "16:00"},
        ).status_code
        == 302
    )
    assert slot_times(in_practice, practice, ids["alma"], ids["therapy"], MONDAY + timedelta(days=3)) == []
    assert slot_times(in_practice, practice, ids["alma"], ids["therapy"], wednesday)[0] == time(14)
    assert slot_times(in_practice, practice, ids["ben"], ids["therapy"], MONDAY + timedelta(days=3))[
        0
    ] == time(9)

    # A clinician keeps to their own page.
    assert alma.get("/availability/clinicians/" + str(ids["ben"])).status_code == 404
    csrf = alma.csrf_token(f"/availability/clinicians/{ids['alma']}")
    refused = alma.post(
        "/availability/hours",
        {"weekday": "0", "start": "07:00", "end": "08:00", "csrf_token": csrf},
        form_page=False,
    )
    assert refused.status_code == 403


def weekly(in_practice, practice, clinician_id=None) -> dict[int, list[tuple[time, time]]]:
    with in_practice(practice):
        hours = availability.weekly_hours(clinician_id)
        return {day: [(r.start_time, r.end_time) for r in ranges] for day, ranges in hours.items() if ranges}


def test_weekly_hours_for_several_days_in_one_submit(make_practice, make_staff, visit, in_practice):
    practice = make_practice()
    owner = logged_in(visit, practice, practice.owner_email)
    page = text(owner.get("/availability"))
    for day, name in enumerate(availability.WEEKDAYS):
        assert f'<label class="form-check-label" for="weekday-{day}">{name}<' in page
    # The weekly-hours times and the date-exception times no longer share ids.
    assert page.count('id="start"') == 1 and page.count('id="end"') == 1
    assert 'for="hours-start"' in page and 'id="hours-end"' in page

    monday_to_friday = {"weekday": ["0", "1", "2", "3", "4"], "start": "09:00", "end": "17:00"}
    assert owner.post("/availability/hours", monday_to_friday).status_code == 302
    assert weekly(in_practice, practice) == {day: [(time(9), time(17))] for day in range(5)}
    with in_practice(practice):
        [event] = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "changed availability")
        ).all()
        assert "Monday, Tuesday, Wednesday, Thursday, Friday 09:00-17:00" in event.detail

    # An overlap on any of the days refuses the whole submit, and says on which day.
    clash = owner.post("/availability/hours", {"weekday": ["5", "6", "2"], "start": "16:00", "end": "18:00"})
    assert clash.status_code == 400
    assert "That overlaps 09:00–17:00 on Wednesday." in text(clash) and "nothing was added" in text(clash)
    assert 'id="weekday-5" checked' in text(clash)  # the form comes back as it was sent
    assert weekly(in_practice, practice) == {day: [(time(9), time(17))] for day in range(5)}
    weekend = {"weekday": ["5", "6"], "start": "10:00", "end": "12:00"}
    assert owner.post("/availability/hours", weekend).status_code == 302
    assert set(weekly(in_practice, practice)) == set(range(7))

    no_day = owner.post("/availability/hours", {"start": "10:00", "end": "12:00"})
    assert no_day.status_code == 400 and "Choose at least one day." in text(no_day)
    bad_day = owner.post("/availability/hours", {"weekday": ["1", "7"], "start": "18:00", "end": "19:00"})
    assert bad_day.status_code == 400 and "Choose at least one day of the week." in text(bad_day)
    not_a_day = owner.post("/availability/hours", {"weekday": ["x"], "start": "18:00", "end": "19:00"})
    assert not_a_day.status_code == 400
    assert weekly(in_practice, practice)[1] == [(time(9), time(17))]

    # A clinician's own hours, the same way.
    clinician = make_staff(practice, "clinician")
    with in_practice(practice):
        clinician_id = find_user_by_email(clinician).id
    own = logged_in(visit, practice, clinician)
    added = own.post(
        f"/availability/clinicians/{clinician_id}/hours",
        {"weekday": ["0", "2"], "start": "08:00", "end": "12:00"},
    )
    assert added.status_code == 302
    assert weekly(in_practice, practice, clinician_id) == {day: [(time(8), time(12))] for day in (0, 2)}


# ---------------------------------------------------------------------------------------------
# The calendar
# ---------------------------------------------------------------------------------------------


def test_calendar_shows_appointments_and_requested_entries(clinic, visit, in_practice):
    practice, ids = clinic
    book(in_practice, practice, ids["bo"], ids["alma"], ids["therapy"], at(10))
    request_new(
        in_practice, practice, ids["cleo"], ids["ben"], ids["therapy"], at(11, day=MONDAY + timedelta(days=1))
    )
    owner = logged_in(visit, practice, practice.owner_email)
    week = text(owner.get(f"/calendar?date={MONDAY.isoformat()}"))
    assert "Bo Bright" in week and "10:00–10:50" in week and "Therapy" in week
    assert "(Requested)" in week and "sched-requested" in week and "Cleo Calm" in week
    assert "css/scheduling.css" in week and "/requests" in week

    day = text(owner.get(f"/calendar?view=day&date={(MONDAY + timedelta(days=1)).isoformat()}"))
    assert "Cleo Calm" in day and "(Requested)" in day and "Bo Bright" not in day
    only_alma = text(owner.get(f"/calendar?date={MONDAY.isoformat()}&clinician={ids['alma']}"))
    assert "Bo Bright" in only_alma and "Cleo Calm" not in only_alma
    assert owner.get("/calendar?date=not-a-date").status_code == 400
    assert owner.get("/calendar?clinician=999999").status_code == 404

    # Clinicians see their own and their clients' appointments, and requests for themselves.
    alma = text(
        logged_in(visit, practice, practice.people["alma"]).get(f"/calendar?date={MONDAY.isoformat()}")
    )
    assert "Bo Bright" in alma and "Cleo Calm" not in alma
    ben = text(logged_in(visit, practice, practice.people["ben"]).get(f"/calendar?date={MONDAY.isoformat()}"))
    assert "Bo Bright" not in ben and "Cleo Calm" in ben and "(Requested)" in ben


def appointment_form(ids, **overrides):
    form = {
        "client_id": str(ids["bo"]),
        "clinician_id": str(ids["alma"]),
        "service_id": str(ids["therapy"]),
        "on_date": MONDAY.isoformat(),
        "at_time": "10:00",
        "duration_minutes": "",
        "alert": "",
    }
    form.update(overrides)
    return form


def test_staff_create_move_and_cancel_send_invites(clinic, visit, in_practice, mailbox, run_jobs):
    practice, ids = clinic
    owner = logged_in(visit, practice, practice.owner_email)
    assert "Bo Bright" in text(owner.get("/calendar/new"))
    bad = owner.post(
        "/calendar/new", appointment_form(ids, at_time="", duration_minutes="2"), form_page="/calendar/new"
    )
    assert bad.status_code == 400 and "Enter the time." in text(bad)
    too_short = owner.post(
        "/calendar/new", appointment_form(ids, duration_minutes="2"), form_page="/calendar/new"
    )
    assert too_short.status_code == 400 and "from 5 to 600" in text(too_short)

    created = owner.post(
        "/calendar/new",
        appointment_form(ids, duration_minutes="80", alert="Bring the forms"),
        form_page="/calendar/new",
    )
    assert created.status_code == 302
    appointment_id = int(created.headers["Location"].rsplit("/", 1)[1])
    page = text(owner.get(created.headers["Location"]))
    assert "Bo Bright" in page and "Set by hand" in page and "Bring the forms" in page
    run_jobs()  # each change goes out before the next (inside the hold they would collapse)
    with in_practice(practice):
        appointment = db.session.get(Appointment, appointment_id)
        assert appointment.starts_at == at(10) and appointment.ends_at == at(11, 20)
        assert appointment.duration_overridden and appointment.clinician_user_id == ids["alma"]
        version = appointment.version

    moved = owner.post(
        f"/calendar/appointments/{appointment_id}/move",
        {"version": str(version), "on_date": MONDAY.isoformat(), "at_time": "14:00", "duration_minutes": ""},
        form_page=f"/calendar/appointments/{appointment_id}",
    )
    assert moved.status_code == 302
    with in_practice(practice):
        appointment = db.session.get(Appointment, appointment_id)
        assert appointment.starts_at == at(14) and appointment.ends_at == at(15, 20)
        version = appointment.version
    run_jobs()

    cancelled = owner.post(
        f"/calendar/appointments/{appointment_id}/cancel",
        {"version": str(version)},
        form_page=f"/calendar/appointments/{appointment_id}",
    )
    assert cancelled.status_code == 302
    assert "This appointment was cancelled." in text(owner.get(f"/calendar/appointments/{appointment_id}"))
    assert "Bo Bright" not in text(owner.get(f"/calendar?date={MONDAY.isoformat()}"))

    run_jobs()
    for address in (practice.people["bo"], practice.people["alma"]):
        calendars = invites_of(mailbox, address)
        assert [str(c["method"]) for c in calendars] == ["REQUEST", "REQUEST", "CANCEL"]
        events = [next(iter(c.walk("VEVENT"))) for c in calendars]
        assert len({str(e["uid"]) for e in events}) == 1
        assert [int(e["sequence"]) for e in events] == [0, 1, 2]
        assert events[1].decoded("dtstart") == at(14)


def test_a_stale_move_is_refused_with_409(clinic, visit, in_practice):
    practice, ids = clinic
    appointment_id = book(in_practice, practice, ids["bo"], ids["alma"], ids["therapy"], at(9))
    owner = logged_in(visit, practice, practice.owner_email)
    scheduler = logged_in(visit, practice, practice.owner_email)
    page = f"/calendar/appointments/{appointment_id}"
    seen_version = re.search(r'name="version" type="hidden" value="(\d+)"', text(owner.get(page))).group(1)
    first = owner.post(
        page + "/move",
        {"version": seen_version, "on_date": MONDAY.isoformat(), "at_time": "12:00"},
        form_page=page,
    )
    assert first.status_code == 302
    second = scheduler.post(
        page + "/move",
        {"version": seen_version, "on_date": MONDAY.isoformat(), "at_time": "15:00"},
        form_page=page,
    )
    assert second.status_code == 409
    assert "Someone else changed this appointment first" in text(second)
    stale_cancel = scheduler.post(page + "/cancel", {"version": seen_version}, form_page=page)
    assert stale_cancel.status_code == 409
    with in_practice(practice):
        appointment = db.session.get(Appointment, appointment_id)
        assert appointment.starts_at == at(12) and appointment.status == "booked"


def test_an_overlapping_booking_is_refused_with_409_and_nothing_is_created(clinic, visit, in_practice):
    practice, ids = clinic
    book(in_practice, practice, ids["cleo"], ids["alma"], ids["therapy"], at(10))
    emails_before = count(in_practice, practice, OutboxEmail)
    owner = logged_in(visit, practice, practice.owner_email)
    refused = owner.post("/calendar/new", appointment_form(ids, at_time="10:30"), form_page="/calendar/new")
    assert refused.status_code == 409
    assert "already has an appointment at that time" in text(refused) and "Nothing was booked" in text(
        refused
    )
    assert count(in_practice, practice, Appointment) == 1
    assert count(in_practice, practice, OutboxEmail) == emails_before

    other_id = book(in_practice, practice, ids["bo"], ids["alma"], ids["therapy"], at(13))
    page = f"/calendar/appointments/{other_id}"
    with in_practice(practice):
        version = db.session.get(Appointment, other_id).version
    clash = owner.post(
        page + "/move",
        {"version": str(version), "on_date": MONDAY.isoformat(), "at_time": "10:15"},
        form_page=page,
    )
    assert clash.status_code == 409 and "already taken" in text(clash)
    with in_practice(practice):
        assert db.session.get(Appointment, other_id).starts_at == at(13)


def test_a_time_the_clocks_skip_is_refused(clinic, visit):
    practice, ids = clinic
    owner = logged_in(visit, practice, practice.owner_email)
    gap = owner.post(
        "/calendar/new",
        appointment_form(ids, on_date="2031-03-30", at_time="02:30"),
        form_page="/calendar/new",
    )
    assert gap.status_code == 400 and "does not exist on that day" in text(gap)


# ---------------------------------------------------------------------------------------------
# Appointment requests
# ---------------------------------------------------------------------------------------------


def test_requests_list_default_filter_and_filters(clinic, visit, in_practice, mailbox):
    practice, ids = clinic
    fresh = request_new(in_practice, practice, ids["bo"], ids["alma"], ids["therapy"], at(9))
    for_ben = request_new(in_practice, practice, ids["cleo"], ids["ben"], ids["therapy"], at(9))
    old = request_new(in_practice, practice, ids["cleo"], ids["ben"], ids["longer"], at(15))
    past_due = request_new(
        in_practice, practice, ids["bo"], ids["alma"], ids["therapy"], datetime.now(UTC) - timedelta(hours=2)
    )
    appointment_id = book(
        in_practice, practice, ids["bo"], ids["alma"], ids["therapy"], at(11, day=MONDAY + timedelta(days=7))
    )
    with in_practice(practice):
        db.session.execute(
            update(AppointmentRequest)
            .where(AppointmentRequest.id == old)
            .values(requested_at=datetime.now(UTC) - timedelta(days=400))
        )
        moved = appointment_requests.request_change(
            db.session.get(Appointment, appointment_id), "reschedule", starts_at=at(16), requested_by=None
        )
        reschedule = moved.id
        db.session.commit()

    owner = logged_in(visit, practice, practice.owner_email)
    # The to-do count: every pending request whose time is still ahead (the old one too).
    assert "Requests (4)" in text(owner.get("/calendar"))
    listing = owner.get("/requests")
    assert listing.status_code == 200
    shown = set(map(int, re.findall(r'data-request-id="(\d+)"', text(listing))))
    assert shown == {fresh, for_ben, reschedule}  # pending and of the past year
    with in_practice(practice):
        assert db.session.get(AppointmentRequest, past_due).status == "expired"
    page = text(listing)
    assert "Reschedule" in page and "New client" in page
    assert "Mon 09 Jun 2031, 11:00 CEST" in page  # the original time, in the practice's zone

    def ids_for(query: str) -> set[int]:
        response = owner.get("/requests?" + query)
        assert response.status_code == 200, query
        return set(map(int, re.findall(r'data-request-id="(\d+)"', text(response))))

    assert ids_for("status=all&kind=all&date_from=&date_to=") == {fresh, for_ben, old, past_due, reschedule}
    assert ids_for("status=expired&kind=all&date_from=&date_to=") == {past_due}
    assert ids_for("status=pending&kind=reschedule") == {reschedule}
    assert ids_for(f"status=pending&clinician={ids['ben']}&date_from=&date_to=") == {for_ben, old}
    old_day = (datetime.now(UTC) - timedelta(days=400)).date()
    since, until = old_day - timedelta(days=1), old_day + timedelta(days=1)
    assert ids_for(f"status=all&date_from={since.isoformat()}&date_to={until.isoformat()}") == {old}
    backwards = owner.get("/requests?date_from=2031-01-02&date_to=2031-01-01")
    assert backwards.status_code == 400 and "must not be before its start" in text(backwards)
    assert owner.get("/requests?status=nonsense").status_code == 400
    assert owner.get("/requests?clinician=999999").status_code == 404

    # A clinician sees only the requests for themselves.
    alma = logged_in(visit, practice, practice.people["alma"])
    shown = set(map(int, re.findall(r'data-request-id="(\d+)"', text(alma.get("/requests")))))
    assert shown == {fresh, reschedule}
    assert "Requests (2)" in text(alma.get("/calendar"))
    assert alma.get(f"/requests/{for_ben}").status_code == 404


def test_approve_with_changes_emails_the_client_what_changed(clinic, visit, in_practice, mailbox, run_jobs):
    practice, ids = clinic
    request_id = request_new(in_practice, practice, ids["bo"], ids["alma"], ids["therapy"], at(9))
    owner = logged_in(visit, practice, practice.owner_email)
    page = f"/requests/{request_id}"
    assert "Approve" in text(owner.get(page))
    too_long = owner.post(page + "/approve", {"service_id": str(ids["longer"]), "duration_minutes": "900"})
    assert too_long.status_code == 400 and "from 5 to 600" in text(too_long)
    approved = owner.post(
        page + "/approve",
        {
            "service_id": str(ids["longer"]),
            "service_code": "X123",
            "duration_minutes": "90",
            "alert": "Interpreter",
        },
    )
    assert approved.status_code == 302
    with in_practice(practice):
        item = db.session.get(AppointmentRequest, request_id)
        assert item.status == "approved"
        appointment = db.session.scalars(select(Appointment).where(Appointment.client_id == ids["bo"])).one()
        assert appointment.service_id == ids["longer"] and appointment.service_code == "X123"
        assert appointment.ends_at - appointment.starts_at == timedelta(minutes=90)
        assert appointment.alert == "Interpreter" and appointment.duration_overridden
    again = owner.post(page + "/approve", {"service_id": str(ids["therapy"])})
    assert again.status_code == 409 and "already handled" in text(again)

    run_jobs()
    approved_mail = [
        m for m in mailbox.to(practice.people["bo"]) if m["Subject"].endswith("request was approved")
    ]
    assert len(approved_mail) == 1
    body = mailbox.body(approved_mail[0])
    assert "service: Therapy -> Long therapy" in body and "length: 90 minutes" in body
    assert "service code: X123" in body
    assert invites_of(mailbox, practice.people["bo"])  # and the calendar invite of the booking


def test_approving_into_a_taken_time_is_a_409_and_keeps_the_request(clinic, visit, in_practice):
    practice, ids = clinic
    request_id = request_new(in_practice, practice, ids["bo"], ids["alma"], ids["therapy"], at(9))
    book(in_practice, practice, ids["cleo"], ids["alma"], ids["therapy"], at(9, 30))
    owner = logged_in(visit, practice, practice.owner_email)
    refused = owner.post(
        f"/requests/{request_id}/approve",
        {"service_id": str(ids["therapy"])},
        form_page=f"/requests/{request_id}",
    )
    assert refused.status_code == 409 and "still pending" in text(refused)
    with in_practice(practice):
        assert db.session.get(AppointmentRequest, request_id).status == "pending"
        assert db.session.scalar(select(func.count()).select_from(Appointment)) == 1


def test_decline_emails_the_client_only_when_asked(clinic, visit, in_practice, mailbox, run_jobs):
    practice, ids = clinic
    quiet = request_new(in_practice, practice, ids["bo"], ids["alma"], ids["therapy"], at(9))
    told = request_new(in_practice, practice, ids["bo"], ids["alma"], ids["therapy"], at(13))
    owner = logged_in(visit, practice, practice.owner_email)
    assert owner.post(f"/requests/{quiet}/decline", {"message": "not sent"}).status_code == 302
    no_message = owner.post(f"/requests/{told}/decline", {"notify": "y", "message": " "})
    assert no_message.status_code == 400 and "Write the message the client will get" in text(no_message)
    with in_practice(practice):
        assert db.session.get(AppointmentRequest, told).status == "pending"
    assert (
        owner.post(f"/requests/{told}/decline", {"notify": "y", "message": "Please call us."}).status_code
        == 302
    )
    with in_practice(practice):
        assert db.session.get(AppointmentRequest, quiet).status == "declined"
        assert db.session.get(AppointmentRequest, quiet).decline_message is None
        assert db.session.get(AppointmentRequest, told).status == "declined"
    run_jobs()
    declined = [m for m in mailbox.to(practice.people["bo"]) if "declined" in m["Subject"]]
    assert len(declined) == 1 and "Please call us." in mailbox.body(declined[0])


# ---------------------------------------------------------------------------------------------
# Calendar feeds
# ---------------------------------------------------------------------------------------------


def make_feed(visitor) -> str:
    response = visitor.post("/calendar/feed", {}, form_page="/calendar/feed")
    assert response.status_code == 200
    return FEED_URL.search(text(response)).group(1)


def test_a_clinicians_feed_holds_only_their_appointments_and_can_be_revoked(clinic, visit, in_practice):
    practice, ids = clinic
    own = book(in_practice, practice, ids["bo"], ids["alma"], ids["therapy"], at(10))
    book(in_practice, practice, ids["cleo"], ids["ben"], ids["therapy"], at(10))
    with in_practice(practice):
        uid = db.session.get(Appointment, own).ics_uid
        appointments.move(db.session.get(Appointment, own), at(11), notify=False)
        db.session.commit()
    alma = logged_in(visit, practice, practice.people["alma"])
    path = make_feed(alma)
    anonymous = visit(practice)
    feed = anonymous.get(path)
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    calendar = Calendar.from_ical(feed.get_data())
    events = list(calendar.walk("VEVENT"))
    assert [str(e["uid"]) for e in events] == [uid]
    assert int(events[0]["sequence"]) == 1 and str(events[0]["summary"]) == "Therapy with Bo"
    assert events[0].decoded("dtstart") == at(11)
    assert "Cleo" not in feed.get_data(as_text=True)

    assert anonymous.get("/feeds/not-a-real-token.ics").status_code == 404
    newer = make_feed(alma)  # a new address retires the old one
    assert anonymous.get(path).status_code == 404
    assert anonymous.get(newer).status_code == 200
    assert alma.post("/calendar/feed/revoke", {}, form_page="/calendar/feed").status_code == 302
    assert anonymous.get(newer).status_code == 404
    assert "You have no calendar feed." in text(alma.get("/calendar/feed"))


# ---------------------------------------------------------------------------------------------
# Roles and isolation
# ---------------------------------------------------------------------------------------------


def test_a_clinician_cannot_reach_another_clinicians_unassigned_clients_appointment(
    clinic, visit, in_practice
):
    practice, ids = clinic
    bens = book(in_practice, practice, ids["cleo"], ids["ben"], ids["therapy"], at(10))
    alma = logged_in(visit, practice, practice.people["alma"])
    page = f"/calendar/appointments/{bens}"
    assert alma.get(page).status_code == 404
    csrf = alma.csrf_token("/calendar/feed")
    for action, data in (
        ("/move", {"version": "1", "on_date": MONDAY.isoformat(), "at_time": "15:00"}),
        ("/cancel", {"version": "1"}),
    ):
        assert alma.post(page + action, data | {"csrf_token": csrf}, form_page=False).status_code == 404
    booking_for_cleo = alma.post(
        "/calendar/new",
        appointment_form(ids, client_id=str(ids["cleo"]), at_time="15:00"),
        form_page="/calendar/new",
    )
    assert booking_for_cleo.status_code == 404
    assert "Cleo Calm" not in text(alma.get(f"/calendar?date={MONDAY.isoformat()}"))
    with in_practice(practice):
        appointment = db.session.get(Appointment, bens)
        assert appointment.status == "booked" and appointment.starts_at == at(10)
        assert db.session.scalar(select(func.count()).select_from(Appointment)) == 1
    # Ben himself may open it.
    assert logged_in(visit, practice, practice.people["ben"]).get(page).status_code == 200


def test_other_practice_ids_answer_404_and_their_data_never_shows(
    clinic, make_practice, make_staff, make_client, visit, in_practice
):
    """Isolation: staff of practice A asking for practice B's appointment, request and service ids get
    404, and nothing of B shows in A's calendar or feed."""
    a, a_ids = clinic
    b = make_practice()
    b_clinician = make_staff(b, "clinician", name="Zora Elsewhere")
    zed = make_client(
        b, first="Zed", last="Zebra", email=f"zed@{b.slug}.example.com", clinicians=(b_clinician,)
    )
    with in_practice(b):
        settings = practice_settings()
        settings.time_zone = "Europe/Berlin"
        clinician = find_user_by_email(b_clinician)
        items = [Service(name=f"B service {n}", duration_minutes=30) for n in range(4)]
        db.session.add_all(items)
        db.session.flush()
        for item in items:
            db.session.add(ServiceClinician(service_id=item.id, user_id=clinician.id))
        client = db.session.get(Client, zed.id)
        booked = [appointments.book(client, clinician, items[0], at(9 + n), notify=False) for n in range(4)]
        b_request = appointment_requests.request_new(client, clinician, items[0], at(16), requested_by=None)
        db.session.commit()
        b_appointment, b_service, b_request_id = booked[-1].id, items[-1].id, b_request.id
        b_uid = booked[-1].ics_uid
    mine = book(in_practice, a, a_ids["bo"], a_ids["alma"], a_ids["therapy"], at(13))
    with in_practice(a):
        assert db.session.get(Appointment, b_appointment) is None
        assert db.session.get(Service, b_service) is None
        assert db.session.get(AppointmentRequest, b_request_id) is None

    owner = logged_in(visit, a, a.owner_email)
    assert owner.get(f"/calendar/appointments/{b_appointment}").status_code == 404
    assert owner.get(f"/services/{b_service}").status_code == 404
    assert owner.get(f"/requests/{b_request_id}").status_code == 404
    page = f"/calendar/appointments/{mine}"
    for path, data in (
        (
            f"/calendar/appointments/{b_appointment}/move",
            {"version": "1", "on_date": MONDAY.isoformat(), "at_time": "8:00"},
        ),
        (f"/calendar/appointments/{b_appointment}/cancel", {"version": "1"}),
        (f"/requests/{b_request_id}/approve", {}),
        (f"/requests/{b_request_id}/decline", {}),
        (f"/services/{b_service}", {"name": "Taken over", "duration_minutes": "30"}),
    ):
        assert owner.post(path, data, form_page=page).status_code == 404, path
    other_service = owner.post(
        "/calendar/new",
        appointment_form(a_ids, service_id=str(b_service), at_time="16:00"),
        form_page="/calendar/new",
    )
    assert other_service.status_code == 404

    week = text(owner.get(f"/calendar?date={MONDAY.isoformat()}"))
    assert "Bo Bright" in week and "Zed" not in week and "Zora" not in week and "B service" not in week
    requests = text(owner.get("/requests?status=all&date_from=&date_to="))
    assert "Zed" not in requests
    path = make_feed(logged_in(visit, a, a.people["alma"]))
    assert b_uid not in visit(a).get(path).get_data(as_text=True)
    assert visit(b).get(path).status_code == 404  # A's feed token means nothing at B
    with in_practice(b):
        assert db.session.get(Appointment, b_appointment).status == "booked"
        assert db.session.get(AppointmentRequest, b_request_id).status == "pending"
