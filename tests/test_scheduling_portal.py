"""Clients book, reschedule and cancel in the portal, under the practice's toggles."""

from __future__ import annotations

import html
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from blueprints.audit.models import AuditEvent
from blueprints.people.models import Client
from blueprints.scheduling.models import (
    Appointment,
    AppointmentRequest,
    Service,
)
from blueprints.scheduling.operations import appointments
from blueprints.scheduling.operations import portal as portal_rules
from blueprints.scheduling.operations import requests as appointment_requests
from tenants.database import db
from tenants.features import practice_settings

SLOT = re.compile(r'name="starts_at" value="([^"]+)"')
# The picker's links: a free time (its confirmation step), a day with free times, the next month.
TIME_LINK = re.compile(r'href="([^"]*[?;]time=([0-9T:-]+Z))"')
DAY_LINK = re.compile(r'<a class="booking-day[^"]*" href="([^"]+)"')
NEXT_MONTH = re.compile(r'href="([^"]+)" rel="next"')


@pytest.fixture
def booking(make_practice, make_staff, make_client, open_for_booking):
    practice = make_practice()
    clinician_email = make_staff(practice, "clinician")
    client = make_client(
        practice,
        first="Robin",
        email=f"robin@{practice.slug}.example.com",
        login=True,
        clinicians=(clinician_email,),
    )
    service_id = open_for_booking(
        practice,
        clinician_email,
        min_notice_hours=0,
        booking_horizon_days=21,
        contact_email=f"desk@{practice.slug}.example.com",
        cancellation_policy="Late cancellations are charged.",
    )
    return practice, client, service_id


def logged_in_client(visit, practice, client):
    visitor = visit(practice)
    assert visitor.login(client.email).status_code == 302
    visitor.get("/portal/choose")
    return visitor


def offered_times(visitor, path, enough=lambda found: len(found) >= 8, months=3):
    """The free times the picker at `path` offers (ISO instants), walking its days (and months) as a
    client without JavaScript would, until `enough(found)`."""
    found: list[str] = []

    def collect(page: str) -> None:
        found.extend(moment for _, moment in TIME_LINK.findall(page) if moment not in found)

    page = visitor.get(path).get_data(as_text=True)
    for _ in range(months):
        collect(page)
        for day in DAY_LINK.findall(page):
            if enough(found):
                return found
            collect(visitor.get(html.unescape(day)).get_data(as_text=True))
        following = NEXT_MONTH.search(page)
        if enough(found) or following is None:
            return found
        page = visitor.get(html.unescape(following.group(1))).get_data(as_text=True)
    return found


def confirmation(visitor, path, moment):
    """The confirmation step of `moment` on the picker at `path` (a time link's target)."""
    joiner = "&" if "?" in path else "?"
    return visitor.get(f"{path}{joiner}time={moment}")


def test_client_books_a_free_slot(booking, visit, in_practice, mailbox, run_jobs):
    practice, client, service_id = booking
    visitor = logged_in_client(visit, practice, client)
    page = visitor.get(f"/portal/book?service={service_id}").get_data(as_text=True)
    assert "Times are shown in UTC" in page
    # A time outside the 24-hour cancellation window, so that it may be rescheduled once booked.
    later = lambda moment: datetime.fromisoformat(moment) > next_hour(26)  # noqa: E731
    moment = next(
        moment
        for moment in offered_times(
            visitor, f"/portal/book?service={service_id}", enough=lambda found: any(map(later, found))
        )
        if later(moment)
    )
    confirm = confirmation(visitor, f"/portal/book?service={service_id}", moment).get_data(as_text=True)
    [slot] = SLOT.findall(confirm)
    response = visitor.post(
        "/portal/book",
        {"service_id": service_id, "clinician_id": "", "starts_at": slot},
        form_page=f"/portal/book?service={service_id}&time={moment}",
    )
    assert response.status_code == 400  # no clinician chosen: refused, nothing booked
    clinician_id = re.search(r'name="clinician_id" value="(\d+)"', confirm).group(1)
    data = {"service_id": service_id, "clinician_id": clinician_id, "starts_at": slot}
    form_page = f"/portal/book?service={service_id}&time={moment}"
    response = visitor.post("/portal/book", data, form_page=form_page)
    assert response.status_code == 302 and response.headers["Location"] == "/portal/appointments"
    listing = visitor.get("/portal/appointments").get_data(as_text=True)
    assert "Therapy with" in listing and "Reschedule" in listing
    # The same slot again: no longer offered, refused with a clear 409.
    again = visitor.post("/portal/book", data, form_page=f"/portal/book?service={service_id}")
    assert again.status_code == 409 and "no longer available" in again.get_data(as_text=True)
    assert moment not in offered_times(visitor, f"/portal/book?service={service_id}")
    run_jobs()
    invites = [m for m in mailbox.to(client.email) if m["Subject"].startswith("Appointment booked")]
    assert len(invites) == 1


def test_a_time_not_offered_is_refused(booking, visit):
    practice, client, service_id = booking
    visitor = logged_in_client(visit, practice, client)
    moment = offered_times(visitor, f"/portal/book?service={service_id}")[0]
    page = confirmation(visitor, f"/portal/book?service={service_id}", moment).get_data(as_text=True)
    clinician_id = re.search(r'name="clinician_id" value="(\d+)"', page).group(1)
    for starts_at, status in (
        ("2031-01-01T03:07:00+00:00", 409),
        ("not-a-time", 400),
        ("2031-01-01T10:00", 400),
    ):
        data = {"service_id": service_id, "clinician_id": clinician_id, "starts_at": starts_at}
        assert visitor.post("/portal/book", data, form_page="/portal/appointments").status_code == status


def test_request_mode_creates_a_pending_request(booking, visit, in_practice):
    practice, client, service_id = booking
    with in_practice(practice):
        practice_settings().self_scheduling_enabled = False
        db.session.commit()
    visitor = logged_in_client(visit, practice, client)
    page = visitor.get(f"/portal/book?service={service_id}").get_data(as_text=True)
    assert "Request an appointment" in page
    moment = offered_times(visitor, f"/portal/book?service={service_id}")[0]
    page = confirmation(visitor, f"/portal/book?service={service_id}", moment).get_data(as_text=True)
    assert ">Request</button>" in page and ">Book</button>" not in page
    clinician_id = re.search(r'name="clinician_id" value="(\d+)"', page).group(1)
    slot = SLOT.findall(page)[0]
    data = {"service_id": service_id, "clinician_id": clinician_id, "starts_at": slot}
    assert visitor.post("/portal/book", data, form_page="/portal/appointments").status_code == 302
    assert "Waiting for the practice" in visitor.get("/portal/appointments").get_data(as_text=True)
    with in_practice(practice):
        [request] = db.session.scalars(select(AppointmentRequest)).all()
        assert request.kind == "new" and request.status == "pending" and request.new_client
        assert db.session.scalars(select(Appointment)).all() == []


def test_booking_off_means_404(booking, visit, in_practice):
    practice, client, service_id = booking
    with in_practice(practice):
        settings = practice_settings()
        settings.self_scheduling_enabled = False
        settings.online_requests_enabled = False
        db.session.commit()
    visitor = logged_in_client(visit, practice, client)
    assert visitor.get(f"/portal/book?service={service_id}").status_code == 404
    assert "Book an appointment" not in visitor.get("/portal/appointments").get_data(as_text=True)


def book_directly(in_practice, practice, client, service_id, starts_at, **kwargs):
    with in_practice(practice):
        therapy = db.session.get(Service, service_id)
        clinician = therapy.clinicians[0]
        appointment = appointments.book(
            db.session.get(Client, client.id), clinician, therapy, starts_at, **kwargs
        )
        db.session.commit()
        return appointment.id


def next_hour(hours_ahead: int) -> datetime:
    moment = datetime.now(UTC) + timedelta(hours=hours_ahead)
    return moment.replace(minute=0, second=0, microsecond=0)


def test_reschedule_and_its_refusals(booking, visit, in_practice):
    practice, client, service_id = booking
    appointment_id = book_directly(in_practice, practice, client, service_id, next_hour(72))
    resized_id = book_directly(in_practice, practice, client, service_id, next_hour(100), duration_minutes=90)
    visitor = logged_in_client(visit, practice, client)
    refused = visitor.get(f"/portal/appointments/{resized_id}/reschedule")
    assert refused.status_code == 409 and "length was set by the practice" in refused.get_data(as_text=True)
    new_time = offered_times(visitor, f"/portal/appointments/{appointment_id}/reschedule")[5]
    response = visitor.post(f"/portal/appointments/{appointment_id}/reschedule", {"starts_at": new_time})
    assert response.status_code == 302
    with in_practice(practice):
        moved = db.session.get(Appointment, appointment_id)
        assert moved.starts_at == datetime.fromisoformat(new_time) and moved.ics_sequence == 1


def test_cancel_outside_and_inside_the_window(booking, visit, in_practice):
    practice, client, service_id = booking
    later = book_directly(in_practice, practice, client, service_id, next_hour(48))
    soon = book_directly(in_practice, practice, client, service_id, next_hour(5))
    visitor = logged_in_client(visit, practice, client)
    listing = visitor.get("/portal/appointments").get_data(as_text=True)
    assert listing.count('/cancel">Cancel') == 1 and f'/appointments/{later}/cancel"' in listing
    assert "Inside the 24-hour window: contact the practice" in listing
    inside = visitor.get(f"/portal/appointments/{soon}/cancel").get_data(as_text=True)
    assert "up to 24 hours" in inside and f"desk@{practice.slug}.example.com" in inside
    assert "Late cancellations are charged." in inside and "Cancel appointment</button>" not in inside
    assert (
        visitor.post(f"/portal/appointments/{soon}/cancel", {}).status_code == 200
    )  # still the refusal page
    outside = visitor.get(f"/portal/appointments/{later}/cancel").get_data(as_text=True)
    assert "Keep session" in outside and "Cancel appointment</button>" in outside
    assert visitor.post(f"/portal/appointments/{later}/cancel", {}).status_code == 302
    with in_practice(practice):
        assert db.session.get(Appointment, later).status == "cancelled"
        assert db.session.get(Appointment, soon).status == "booked"


def test_another_clients_appointment_is_404(booking, visit, in_practice, make_client, make_practice):
    practice, client, service_id = booking
    other = make_client(practice, first="Other", email=f"other@{practice.slug}.example.com", login=True)
    theirs = book_directly(in_practice, practice, other, service_id, next_hour(60))
    visitor = logged_in_client(visit, practice, client)
    assert visitor.get(f"/portal/appointments/{theirs}/cancel").status_code == 404
    assert visitor.get(f"/portal/appointments/{theirs}/reschedule").status_code == 404
    assert (
        visitor.post(
            f"/portal/appointments/{theirs}/cancel", {}, form_page="/portal/appointments"
        ).status_code
        == 404
    )
    # Another practice's ids are not found either (other practice isolation).
    elsewhere = make_practice()
    with in_practice(elsewhere):
        practice_settings().portal_enabled = True
        db.session.commit()
    assert visit(elsewhere).get(f"/portal/appointments/{theirs}/cancel").status_code in (302, 404)


def test_guardian_feed_covers_the_minors_they_manage_and_nobody_else(
    booking, visit, in_practice, make_client, grant_portal
):
    from datetime import date

    practice, client, service_id = booking
    child = make_client(practice, first="Kid", date_of_birth=date(date.today().year - 8, 1, 1))
    teen = make_client(practice, first="Teen", date_of_birth=date(date.today().year - 15, 1, 1))
    guardian_email = f"parent@{practice.slug}.example.com"
    grant_portal(practice, child, guardian_email, "guardian")
    grant_portal(practice, teen, guardian_email, "guardian", can_appointments=False)
    book_directly(in_practice, practice, child, service_id, next_hour(50))
    book_directly(in_practice, practice, teen, service_id, next_hour(70))
    book_directly(in_practice, practice, client, service_id, next_hour(90))

    guardian = visit(practice)
    guardian.login(guardian_email)
    guardian.post(f"/portal/open/{child.id}", form_page="/portal/choose")
    page = guardian.post("/portal/calendar-feed", {"action": "create"}).get_data(as_text=True)
    feed_path = re.search(r"http://[^/]+(/feeds/[^<]+\.ics)", page).group(1)
    feed = visit(practice).get(feed_path)
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    body = feed.get_data(as_text=True)
    assert "Kid: Therapy with" in body
    assert (
        "Teen:" not in body and "Robin" not in body
    )  # no grant for the teen's appointments; no other client
    guardian.post("/portal/calendar-feed", {"action": "revoke"})
    assert visit(practice).get(feed_path).status_code == 404


def test_group_appointment_only_its_primary_contact_moves_it(booking, visit, in_practice, make_client):
    practice, client, service_id = booking
    partner = make_client(practice, first="Partner", email=f"partner@{practice.slug}.example.com", login=True)
    primary_id = book_directly(in_practice, practice, client, service_id, next_hour(80))
    owner = visit(practice)
    owner.login(practice.owner_email)
    page = f"/calendar/appointments/{primary_id}"
    assert owner.post(f"{page}/group", {"client_id": partner.id}, form_page=page).status_code == 302
    assert owner.post(f"{page}/group", {"client_id": partner.id}, form_page=page).status_code == 409
    assert owner.post(f"{page}/group", {"client_id": 99999999}, form_page=page).status_code == 404
    with in_practice(practice):
        [member] = db.session.scalars(select(Appointment).where(Appointment.client_id == partner.id)).all()
        member_id = member.id
        assert member.group_id == primary_id and not member.is_group_primary
        # One audit line, for the add that happened (the refused one was rolled back with its line).
        [line] = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "added a client to a group")
        ).all()
        assert line.client_id == partner.id and line.detail == f"appointment {primary_id}"
    # The group still holds its time once: nobody else can take it.
    with pytest.raises(appointments.SlotTaken):
        book_directly(in_practice, practice, client, service_id, next_hour(80))

    partner_visitor = logged_in_client(visit, practice, partner)
    refused = partner_visitor.get(f"/portal/appointments/{member_id}/reschedule")
    assert refused.status_code == 409 and "primary contact" in refused.get_data(as_text=True)

    primary_visitor = logged_in_client(visit, practice, client)
    assert "contact the practice to cancel it for everyone" in primary_visitor.get(
        f"/portal/appointments/{primary_id}/cancel"
    ).get_data(as_text=True)
    slots = offered_times(
        primary_visitor,
        f"/portal/appointments/{primary_id}/reschedule",
        enough=lambda found: any(datetime.fromisoformat(slot) > next_hour(30) for slot in found),
    )
    new_time = next(
        slot for slot in slots if datetime.fromisoformat(slot) > next_hour(30)
    )  # outside the window
    assert (
        primary_visitor.post(
            f"/portal/appointments/{primary_id}/reschedule", {"starts_at": new_time}
        ).status_code
        == 302
    )
    with in_practice(practice):
        for appointment_id in (primary_id, member_id):
            moved = db.session.get(Appointment, appointment_id)
            assert moved.starts_at == datetime.fromisoformat(new_time) and moved.ics_sequence == 1
    # The member may still leave the group on their own.
    assert (
        partner_visitor.post(
            f"/portal/appointments/{member_id}/cancel", {}, form_page="/portal/appointments"
        ).status_code
        == 302
    )


def test_staff_moves_and_cancels_a_group_as_one(booking, visit, in_practice, make_client):
    practice, client, service_id = booking
    partner = make_client(practice, first="Partner", email=f"partner@{practice.slug}.example.com", login=True)
    primary_id = book_directly(in_practice, practice, client, service_id, next_hour(80))
    with in_practice(practice):
        primary = db.session.get(Appointment, primary_id)
        member_id = appointments.add_to_group(primary, db.session.get(Client, partner.id), notify=False).id
        db.session.commit()
    with in_practice(practice):
        with pytest.raises(appointments.SchedulingError, match="primary appointment"):
            appointments.move(db.session.get(Appointment, member_id), next_hour(120))
        db.session.rollback()
    with in_practice(practice):
        appointments.move(db.session.get(Appointment, primary_id), next_hour(120), notify=False)
        db.session.commit()
        assert db.session.get(Appointment, member_id).starts_at == next_hour(120)
    with in_practice(practice):
        appointments.cancel(db.session.get(Appointment, primary_id), notify=False)
        db.session.commit()
        assert db.session.get(Appointment, member_id).status == "cancelled"


def test_past_appointments_and_the_window_cannot_be_rescheduled(booking, visit, in_practice):
    practice, client, service_id = booking
    soon = book_directly(in_practice, practice, client, service_id, next_hour(3))
    visitor = logged_in_client(visit, practice, client)
    refused = visitor.get(f"/portal/appointments/{soon}/reschedule")
    assert refused.status_code == 409 and "moved online up to 24 hours" in refused.get_data(as_text=True)
    with in_practice(practice):
        appointment = db.session.get(Appointment, soon)
        assert "already started" in portal_rules.reschedule_refusal(appointment, now=appointment.starts_at)


def test_one_pending_request_per_appointment(app, booking, in_practice):
    practice, client, service_id = booking
    appointment_id = book_directly(in_practice, practice, client, service_id, next_hour(90))
    from tenants.database import practice_scope

    outcomes = []
    barrier = threading.Barrier(4)

    def ask(app):
        with app.app_context(), practice_scope(practice.record):
            barrier.wait()
            try:
                appointment_requests.request_change(
                    db.session.get(Appointment, appointment_id), "cancellation", requested_by=None
                )
                db.session.commit()
                outcomes.append("sent")
            except appointments.SchedulingError:
                db.session.rollback()
                outcomes.append("refused")

    threads = [threading.Thread(target=ask, args=(app,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "refused", "refused", "sent"]
