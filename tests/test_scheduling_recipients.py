"""Who scheduling emails and invites reach, and in which zone: a minor's guardians whose grant covers
appointments (never one without that grant, nor a revoked one), the minor's own login, an adult's
record address; each copy in its reader's zone with one UID and SEQUENCE for all."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select

from app.timefmt import local_time
from blueprints.auth.service import find_user_by_email
from blueprints.people.models import Client
from blueprints.people.operations.access import access_row, revoke_access
from blueprints.scheduling.models import Appointment, AppointmentRequest, Service, ServiceClinician
from blueprints.scheduling.operations import appointments
from blueprints.scheduling.operations.availability import available_slots
from tenants.database import db
from tenants.features import practice_settings

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SLOT = re.compile(r'name="starts_at" value="([^"]+)"')


def years_ago(years: int) -> date:
    today = date.today()
    return date(today.year - years, 1, 1)


def day_ahead(days: int) -> date:
    return (datetime.now(BERLIN) + timedelta(days=days)).date()


def text(response) -> str:
    return response.get_data(as_text=True)


def invites_of(mailbox, address):
    """(method, VEVENT, calendar text, body) of every invite `address` received, in order."""
    found = []
    for message in mailbox.to(address):
        for part in message.iter_attachments():
            if part.get_content_type() == "text/calendar":
                raw = part.get_content()
                calendar = Calendar.from_ical(raw)
                event = next(iter(calendar.walk("VEVENT")))
                found.append((str(calendar["method"]), event, raw, mailbox.body(message)))
    return found


@pytest.fixture
def family(make_practice, make_staff, make_client, grant_portal, open_for_booking, in_practice):
    """A practice in Berlin (portal and self-scheduling on) with clinician Alma, and Kim, a minor in
    New York whose record address is her aunt's. Guardians: the parent (appointments granted), the
    aunt (no appointments grant) and a former guardian (revoked)."""
    practice = make_practice()
    alma = make_staff(practice, "clinician", name="Alma Clinician")
    service_id = open_for_booking(
        practice, alma, min_notice_hours=0, booking_horizon_days=21, time_zone="Europe/Berlin"
    )
    slug = practice.slug
    people = {
        "alma": alma,
        "parent": f"parent@{slug}.example.com",
        "aunt": f"aunt@{slug}.example.com",
        "former": f"former@{slug}.example.com",
    }
    kim = make_client(
        practice,
        first="Kim",
        date_of_birth=years_ago(9),
        email=people["aunt"],
        clinicians=(alma,),
        time_zone="America/New_York",
    )
    grant_portal(practice, kim, people["parent"], "guardian")
    grant_portal(practice, kim, people["aunt"], "guardian", can_appointments=False)
    grant_portal(practice, kim, people["former"], "guardian")
    with in_practice(practice):
        former = access_row(find_user_by_email(people["former"]), db.session.get(Client, kim.id))
        revoke_access(former)
        db.session.commit()
    return practice, kim, service_id, people


def book_for(in_practice, practice, client, service_id, starts_at) -> int:
    with in_practice(practice):
        therapy = db.session.get(Service, service_id)
        appointment = appointments.book(
            db.session.get(Client, client.id), therapy.clinicians[0], therapy, starts_at
        )
        db.session.commit()
        return appointment.id


def staff_page(visit, practice, email=None):
    owner = visit(practice)
    assert owner.login(email or practice.owner_email).status_code == 302
    return owner


def free_slot(in_practice, practice, service_id, index: int) -> tuple[str, str]:
    """(clinician id, start) of the `index`-th free time of the service's clinician, as the picker
    would post them."""
    with in_practice(practice):
        service = db.session.get(Service, service_id)
        clinician_id = db.session.scalar(
            select(ServiceClinician.user_id).where(ServiceClinician.service_id == service_id)
        )
        return str(clinician_id), available_slots(clinician_id, service)[index].isoformat()


def version_of(in_practice, practice, appointment_id) -> int:
    with in_practice(practice):
        return db.session.get(Appointment, appointment_id).version


def test_a_guardian_who_books_for_a_minor_receives_the_invite(family, visit, in_practice, mailbox, run_jobs):
    practice, kim, service_id, people = family
    guardian = visit(practice)
    assert guardian.login(people["parent"]).status_code == 302
    guardian.get("/portal/choose")  # one record: opened at once
    clinician_id, slot = free_slot(in_practice, practice, service_id, 2)
    data = {"service_id": service_id, "clinician_id": clinician_id, "starts_at": slot}
    response = guardian.post("/portal/book", data, form_page=f"/portal/book?service={service_id}")
    assert response.status_code == 302
    assert "A calendar invite is on its way." in text(guardian.get("/portal/appointments"))

    run_jobs()
    [(method, event, raw, body)] = invites_of(mailbox, people["parent"])
    assert method == "REQUEST" and int(event["sequence"]) == 0
    assert event.decoded("dtstart") == datetime.fromisoformat(slot)
    assert "Kim: Therapy with Alma Clinician" in raw and "Hello Kim," in body
    # The guardian reads it in the zone of the record they act for (Kim's: New York).
    assert event["dtstart"].params["TZID"] == "America/New_York" and "America/New_York" in body
    assert len(invites_of(mailbox, people["alma"])) == 1
    # Neither the guardian without the appointments grant (whose address is on the record) nor the
    # revoked one hears of it.
    assert mailbox.to(people["aunt"]) == [] and mailbox.to(people["former"]) == []


def test_staff_move_and_cancel_reach_the_guardian_with_the_grant(
    family, visit, in_practice, mailbox, run_jobs
):
    practice, kim, service_id, people = family
    day = day_ahead(5)
    appointment_id = book_for(
        in_practice, practice, kim, service_id, datetime.combine(day, time(10), tzinfo=BERLIN)
    )
    run_jobs()  # each change goes out before the next (inside the hold they would collapse)
    owner = staff_page(visit, practice)
    page = f"/calendar/appointments/{appointment_id}"
    moved = owner.post(
        page + "/move",
        {
            "version": str(version_of(in_practice, practice, appointment_id)),
            "on_date": day.isoformat(),
            "at_time": "15:00",
            "duration_minutes": "",
        },
        form_page=page,
    )
    assert moved.status_code == 302
    run_jobs()
    cancelled = owner.post(
        page + "/cancel", {"version": str(version_of(in_practice, practice, appointment_id))}, form_page=page
    )
    assert cancelled.status_code == 302

    run_jobs()
    with in_practice(practice):
        uid = db.session.get(Appointment, appointment_id).ics_uid
    for address in (people["parent"], people["alma"]):
        received = invites_of(mailbox, address)
        assert [method for method, *_ in received] == ["REQUEST", "REQUEST", "CANCEL"]
        assert [str(event["uid"]) for _, event, *_ in received] == [uid] * 3
        assert [int(event["sequence"]) for _, event, *_ in received] == [0, 1, 2]
        assert received[1][1].decoded("dtstart") == datetime.combine(day, time(15), tzinfo=BERLIN)
        assert str(received[2][1]["status"]) == "CANCELLED"
    assert mailbox.to(people["aunt"]) == [] and mailbox.to(people["former"]) == []


def test_a_teen_with_a_login_of_their_own_is_told_too(
    make_practice,
    make_staff,
    make_client,
    grant_portal,
    open_for_booking,
    in_practice,
    visit,
    mailbox,
    run_jobs,
):
    practice = make_practice()
    alma = make_staff(practice, "clinician", name="Alma Clinician")
    service_id = open_for_booking(practice, alma, min_notice_hours=0)
    teen = make_client(
        practice,
        first="Tess",
        date_of_birth=years_ago(15),
        email=f"tess@{practice.slug}.example.com",
        login=True,
        clinicians=(alma,),
    )
    parent = f"parent@{practice.slug}.example.com"
    grant_portal(practice, teen, parent, "guardian")
    owner = staff_page(visit, practice)
    with in_practice(practice):
        client_id, clinician_id = teen.id, find_user_by_email(alma).id
    form = {
        "client_id": str(client_id),
        "clinician_id": str(clinician_id),
        "service_id": str(service_id),
        "on_date": day_ahead(4).isoformat(),
        "at_time": "11:00",
        "duration_minutes": "",
        "alert": "",
    }
    assert owner.post("/calendar/new", form, form_page="/calendar/new").status_code == 302
    run_jobs()
    [(_, teen_event, teen_raw, _)] = invites_of(mailbox, teen.email)
    [(_, parent_event, parent_raw, _)] = invites_of(mailbox, parent)
    assert str(teen_event["uid"]) == str(parent_event["uid"])
    assert "Therapy with Alma Clinician" in teen_raw and "Tess: Therapy with" in parent_raw

    # With the portal closed the teen's own login is not used; the guardian is still told.
    mailbox.clear()
    with in_practice(practice):
        practice_settings().portal_enabled = False
        [appointment] = db.session.scalars(select(Appointment)).all()
        appointments.cancel(appointment)
        db.session.commit()
    run_jobs()
    assert mailbox.to(teen.email) == []
    [(method, _, _, _)] = invites_of(mailbox, parent)
    assert method == "CANCEL"


def test_a_guardian_cancelling_in_the_portal_gets_the_cancel_invite(
    family, visit, in_practice, mailbox, run_jobs
):
    practice, kim, service_id, people = family
    with in_practice(practice):
        practice_settings().client_cancellation_enabled = True
        db.session.commit()
    starts_at = datetime.combine(day_ahead(6), time(9), tzinfo=BERLIN)
    appointment_id = book_for(in_practice, practice, kim, service_id, starts_at)
    run_jobs()  # the booking went out before the cancellation (inside the hold it would not)
    guardian = visit(practice)
    guardian.login(people["parent"])
    guardian.get("/portal/choose")  # one record: opened at once
    page = f"/portal/appointments/{appointment_id}/cancel"
    assert guardian.post(page, form_page=page).status_code == 302
    run_jobs()
    received = invites_of(mailbox, people["parent"])
    assert [method for method, *_ in received] == ["REQUEST", "CANCEL"]
    assert mailbox.to(people["parent"])[1]["Subject"].startswith("Appointment cancelled")
    assert mailbox.to(people["aunt"]) == []


def test_a_request_decision_goes_to_the_guardian_with_the_grant(
    family, visit, in_practice, mailbox, run_jobs
):
    practice, kim, service_id, people = family
    with in_practice(practice):
        practice_settings().self_scheduling_enabled = False  # online requests instead
        db.session.commit()
    guardian = visit(practice)
    guardian.login(people["parent"])
    guardian.get("/portal/choose")  # one record: opened at once
    clinician_id, slot = free_slot(in_practice, practice, service_id, 1)
    data = {"service_id": service_id, "clinician_id": clinician_id, "starts_at": slot}
    assert guardian.post("/portal/book", data, form_page="/portal/appointments").status_code == 302
    with in_practice(practice):
        request_id = db.session.scalars(select(AppointmentRequest.id)).one()
    owner = staff_page(visit, practice)
    page = f"/requests/{request_id}"
    declined = owner.post(
        page + "/decline", {"notify": "y", "message": "Alma is away that week."}, form_page=page
    )
    assert declined.status_code == 302
    run_jobs()
    [message] = mailbox.to(people["parent"])
    body = mailbox.body(message)
    assert "Your request was declined." in body and "Alma is away that week." in body
    assert local_time(datetime.fromisoformat(slot), NEW_YORK, "long") in body
    assert mailbox.to(people["aunt"]) == [] and mailbox.to(people["former"]) == []


def test_each_copy_is_in_its_readers_zone(
    make_practice, make_staff, make_client, open_for_booking, in_practice, visit, mailbox, run_jobs
):
    practice = make_practice()
    alma = make_staff(practice, "clinician", name="Alma Clinician")
    service_id = open_for_booking(practice, alma, time_zone="Europe/Berlin")
    noor = make_client(
        practice,
        first="Noor",
        email=f"noor@{practice.slug}.example.com",
        clinicians=(alma,),
        time_zone="America/New_York",
    )
    with in_practice(practice):
        clinician_id = find_user_by_email(alma).id
    day = day_ahead(10)
    form = {
        "client_id": str(noor.id),
        "clinician_id": str(clinician_id),
        "service_id": str(service_id),
        "on_date": day.isoformat(),
        "at_time": "10:00",
        "duration_minutes": "",
        "alert": "",
    }
    owner = staff_page(visit, practice)
    assert owner.post("/calendar/new", form, form_page="/calendar/new").status_code == 302
    run_jobs()
    starts_at = datetime.combine(day, time(10), tzinfo=BERLIN)
    [(_, staff_event, staff_ics, staff_body)] = invites_of(mailbox, alma)
    [(_, client_event, client_ics, client_body)] = invites_of(mailbox, noor.email)

    in_berlin, in_new_york = local_time(starts_at, BERLIN, "long"), local_time(starts_at, NEW_YORK, "long")
    assert in_berlin in staff_body and "Europe/Berlin" in staff_body and in_new_york not in staff_body
    assert in_new_york in client_body and "America/New_York" in client_body and in_berlin not in client_body
    # The clinician's copy names the client; the client's names the clinician.
    assert str(staff_event["summary"]) == "Therapy with Noor"
    assert str(client_event["summary"]) == "Therapy with Alma Clinician"
    assert staff_event["dtstart"].params["TZID"] == "Europe/Berlin"
    assert client_event["dtstart"].params["TZID"] == "America/New_York"
    assert "TZID:Europe/Berlin" in staff_ics and "TZID:America/New_York" not in staff_ics
    assert "TZID:America/New_York" in client_ics and "TZID:Europe/Berlin" not in client_ics
    # One event for both: the same instant, UID and SEQUENCE. DTSTAMP is when each copy was made
    # (RFC 5545): the client's copy is composed after the message hold, so it may be a second later.
    assert staff_event.decoded("dtstart") == client_event.decoded("dtstart") == starts_at
    for field in ("uid", "sequence"):
        assert staff_event[field].to_ical() == client_event[field].to_ical()
    assert client_event.decoded("dtstamp") >= staff_event.decoded("dtstamp")
    assert staff_event.decoded("dtstart").astimezone(UTC) == starts_at.astimezone(UTC)


def test_the_invites_time_zone_reaches_an_appointment_years_ahead():
    from blueprints.scheduling.invites import invite

    starts_at = datetime(date.today().year + 5, 7, 1, 8, tzinfo=UTC)
    raw = invite(
        uid="u@example.com",
        sequence=0,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=50),
        time_zone="America/New_York",
        summary="Therapy with Alma",
        organizer_email="desk@example.com",
        attendee_emails=["noor@example.com"],
    )
    [zone] = Calendar.from_ical(raw).walk("VTIMEZONE")
    # The zone's transitions reach the event's own year (not only the next three years from today).
    assert str(zone["tzid"]) == "America/New_York"
    assert f"{starts_at.year}0" in zone.to_ical().decode()
