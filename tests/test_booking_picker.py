"""The booking picker without JavaScript (service, clinician, a month of days with free times, the
day's times in the client's zone, a confirmation step), rescheduling through it, and the
appointments page: only the actions that will be allowed are offered, with the reason in place of
the others; requests show their appointment and a declined one stays visible."""

from __future__ import annotations

import html
import re
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.timefmt import local_time
from blueprints.auth.models import User
from blueprints.auth.service import find_user_by_email
from blueprints.people.models import Client
from blueprints.scheduling.models import Appointment, AppointmentRequest, AvailabilityException, Service
from blueprints.scheduling.operations import appointments
from blueprints.scheduling.operations.availability import available_slots
from blueprints.scheduling.operations.catalog import add_service
from blueprints.scheduling.operations.picker import Picker, next_month
from tenants.database import db
from tenants.features import practice_settings
from tests.test_scheduling_portal import TIME_LINK, logged_in_client, next_hour

NEW_YORK = ZoneInfo("America/New_York")
ID = re.compile(r'\sid="([^"]+)"')
DAY_LABEL = re.compile(r'aria-label="(\w+ \d+ \w+), (\d+) times? free"')


@pytest.fixture
def clinic(make_practice, make_staff, make_client, open_for_booking, in_practice):
    """A practice in London with two clinicians offering Therapy (and one of them Couples), a client
    in New York who sees both, 24 hours' cancellation window, a contact address and a policy."""
    practice = make_practice()
    ada = make_staff(practice, "clinician", name="Dr. Ada")
    bea = make_staff(practice, "clinician", name="Dr. Bea")
    client = make_client(
        practice,
        first="Robin",
        email=f"robin@{practice.slug}.example.com",
        login=True,
        clinicians=(ada, bea),
        time_zone="America/New_York",
    )
    therapy_id = open_for_booking(
        practice,
        ada,
        time_zone="Europe/London",
        min_notice_hours=0,
        booking_horizon_days=45,
        contact_email=f"desk@{practice.slug}.example.com",
        cancellation_policy="Late cancellations are charged in full.",
    )
    with in_practice(practice):
        add_service("Therapy", 50, [find_user_by_email(bea)])
        add_service("Couples", 80, [find_user_by_email(ada)])
        ids = {"ada": find_user_by_email(ada).id, "bea": find_user_by_email(bea).id}
        db.session.commit()
    return practice, client, therapy_id, ids


def ids_of(page: str) -> list[str]:
    return ID.findall(page)


def assert_no_duplicate_ids(page: str) -> None:
    duplicates = [name for name, count in Counter(ids_of(page)).items() if count > 1]
    assert duplicates == []


def free_on(in_practice, practice, clinician_id, service_id, day: date, zone=NEW_YORK, ignore_id=None):
    with in_practice(practice):
        service = db.session.get(Service, service_id)
        return [
            slot
            for slot in available_slots(clinician_id, service, ignore_id=ignore_id)
            if slot.astimezone(zone).date() == day
        ]


def test_booking_without_javascript_walks_every_step(clinic, visit, in_practice):
    practice, client, therapy_id, ids = clinic
    visitor = logged_in_client(visit, practice, client)

    # 1. The service: one link each.
    start = visitor.get("/portal/book").get_data(as_text=True)
    assert 'aria-current="step">Service' in start
    assert f'href="/portal/book?service={therapy_id}"' in start and "Couples" in start
    assert "booking-calendar" not in start

    # 2. The clinician, where the client may choose: one link each.
    choose = visitor.get(f"/portal/book?service={therapy_id}").get_data(as_text=True)
    assert "Dr. Ada" in choose and "Dr. Bea" in choose
    assert f"clinician={ids['bea']}" in choose and "booking-calendar" not in choose

    # 3. The month: a real table with a caption; days with free times are links named with their count.
    base = f"/portal/book?service={therapy_id}&clinician={ids['bea']}"
    today = datetime.now(NEW_YORK).date()
    off = today + timedelta(days=3)
    with in_practice(practice):
        db.session.add(AvailabilityException(clinician_user_id=None, on_date=off, kind="off"))
        db.session.commit()
    month = visitor.get(f"{base}&month={off:%Y-%m}")
    page = month.get_data(as_text=True)
    assert month.status_code == 200
    assert f"<caption>{off:%B %Y}" in page and '<th scope="col"><abbr title="Monday">Mon</abbr></th>' in page
    labels = dict(DAY_LABEL.findall(page))
    tomorrow = off - timedelta(days=2)
    if tomorrow.month == off.month:
        expected = len(free_on(in_practice, practice, ids["bea"], therapy_id, tomorrow))
        assert labels[f"{tomorrow:%A} {tomorrow.day} {tomorrow:%B}"] == str(expected)
    # The day off is plain text, not a link.
    assert f"{off:%A} {off.day} {off:%B}" not in labels
    assert f"day={off.isoformat()}" not in page and f'<span class="booking-day">{off.day}</span>' in page
    assert_no_duplicate_ids(page)
    assert "<select" not in page and not re.search(r'<input(?![^>]*type="hidden")', page)

    # Months: nothing before this one; none after the horizon's last (a later one shows the last).
    first = visitor.get(base).get_data(as_text=True)
    assert 'rel="prev"' not in first and 'rel="next"' in first
    last_month = (datetime.now(UTC) + timedelta(days=45)).astimezone(NEW_YORK).date()
    far = visitor.get(f"{base}&month=2099-01").get_data(as_text=True)
    assert f"<caption>{last_month:%B %Y}" in far and 'rel="next"' not in far and 'rel="prev"' in far

    # 4. The day's times, in the client's zone, the zone named.
    day = today + timedelta(days=2)
    slots = free_on(in_practice, practice, ids["bea"], therapy_id, day)
    page = visitor.get(f"{base}&day={day.isoformat()}").get_data(as_text=True)
    assert "Times are shown in America/New_York" in page
    assert [moment for _, moment in TIME_LINK.findall(page)] == [
        slot.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ") for slot in slots
    ]
    assert f">{local_time(slots[0], NEW_YORK, 'time')}</a>" in page  # "03:00 EST", for 08:00 in London
    assert 'aria-current="true"' in page and 'aria-current="step">Time' in page

    # 5. The confirmation: what will be booked, "Book" and "Back"; nothing booked yet.
    chosen = slots[1]
    confirm = visitor.get(f"{base}&time={chosen.astimezone(UTC):%Y-%m-%dT%H:%MZ}")
    page = html.unescape(confirm.get_data(as_text=True))
    assert confirm.status_code == 200 and 'aria-current="step">Confirm' in page
    ends = chosen + timedelta(minutes=50)
    for fact in (
        "Therapy",
        "Dr. Bea",
        f"{local_time(chosen, NEW_YORK, 'long')[:-4]}–{local_time(ends, NEW_YORK, 'time')}",
        "(America/New_York)",
        "50 minutes",
        "You can cancel online up to 24 hours before it starts.",
        "Late cancellations are charged in full.",
        ">Book</button>",
        f'href="{base}&day={day.isoformat()}">Back</a>',
    ):
        assert fact in page, fact
    assert_no_duplicate_ids(page)
    with in_practice(practice):
        assert db.session.scalars(select(Appointment)).all() == []

    # Book: the one POST, with its CSRF token.
    starts_at = re.search(r'name="starts_at" value="([^"]+)"', page).group(1)
    data = {"service_id": therapy_id, "clinician_id": ids["bea"], "starts_at": starts_at}
    answer = visitor.post(
        "/portal/book", data, form_page=f"{base}&time={chosen.astimezone(UTC):%Y-%m-%dT%H:%MZ}"
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/portal/appointments"
    with in_practice(practice):
        [booked] = db.session.scalars(select(Appointment)).all()
        assert booked.starts_at == chosen and booked.clinician_user_id == ids["bea"]


def test_the_days_times_alone_and_parameters_that_cannot_be_read(clinic, visit, in_practice):
    practice, client, therapy_id, ids = clinic
    visitor = logged_in_client(visit, practice, client)
    base = f"service={therapy_id}&clinician={ids['ada']}"
    day = datetime.now(NEW_YORK).date() + timedelta(days=2)
    partial = visitor.get(f"/portal/book/times?{base}&day={day.isoformat()}")
    text = partial.get_data(as_text=True)
    assert partial.status_code == 200 and "<html" not in text and "booking-times" in text
    assert len(TIME_LINK.findall(text)) == len(free_on(in_practice, practice, ids["ada"], therapy_id, day))

    for query, status, message in (
        ("month=2026-13", 400, "That date could not be read"),
        ("day=tomorrow", 400, "That date could not be read"),
        ("time=soon", 400, "That time could not be read"),
        ("time=2031-01-01T10:00", 400, "That time could not be read"),  # no zone
        ("time=9999-12-31T23:00Z", 400, "That time could not be read"),
    ):
        answer = visitor.get(f"/portal/book?{base}&{query}")
        assert answer.status_code == status and message in answer.get_data(as_text=True), query
    # A time that is not free: back to its day, told so, nothing to book.
    taken = datetime.combine(day, time(10, 7), tzinfo=NEW_YORK).astimezone(UTC)
    answer = visitor.get(f"/portal/book?{base}&time={taken:%Y-%m-%dT%H:%MZ}")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 409 and "That time is no longer available" in text
    assert ">Book</button>" not in text and "booking-times" in text
    # A service that is not offered online, or a clinician the client may not choose, picks nothing.
    with in_practice(practice):
        hidden = add_service("Assessment", 90, [db.session.get(User, ids["ada"])], bookable_online=False)
        db.session.commit()
        hidden_id = hidden.id
    assert visitor.get(f"/portal/book?service={hidden_id}").status_code == 404
    assert visitor.get(f"/portal/book/times?service={hidden_id}&day={day}").status_code == 404
    assert "booking-calendar" not in visitor.get(
        f"/portal/book?service={therapy_id}&clinician=999999"
    ).get_data(as_text=True)


def test_month_markers_are_exactly_the_slot_engines_free_times(clinic, in_practice, make_client):
    """Computed a month (or a day) at a time, in a zone 5.5 hours from the practice's, the picker
    finds the same free times as the engine over the whole horizon."""
    practice, client, therapy_id, ids = clinic
    other = make_client(practice, first="Other")
    with in_practice(practice):
        settings = practice_settings()
        settings.buffer_after_minutes, settings.min_notice_hours = 10, 5
        therapy = db.session.get(Service, therapy_id)
        ada = db.session.get(User, ids["ada"])
        for hours in (30, 55, 79, 150, 400):
            appointments.book(db.session.get(Client, other.id), ada, therapy, next_hour(hours), notify=False)
        db.session.flush()
        now = datetime.now(UTC)
        expected = available_slots(ids["ada"], therapy, now=now)
        picker = Picker.of(ids["ada"], 50, "Asia/Kolkata", now=now)
        found, month = [], picker.first_month
        while month <= picker.last_month:
            days = picker.days_of(month)
            for day, count in days.items():
                times = picker.times_on(day)
                assert len(times) == count and all(t.astimezone(picker.zone).date() == day for t in times)
            found += picker._month_times(month)
            month = next_month(month)
        assert found == expected
        fresh = Picker.of(ids["ada"], 50, "Asia/Kolkata", now=now)  # a day alone, without its month
        day = expected[len(expected) // 2].astimezone(fresh.zone).date()
        assert fresh.times_on(day) == [t for t in expected if t.astimezone(fresh.zone).date() == day]
        assert fresh.is_free(expected[0]) and not fresh.is_free(expected[0] + timedelta(minutes=7))
        db.session.rollback()


def test_reschedule_shows_the_current_time_beside_the_new_one(clinic, visit, in_practice):
    practice, client, therapy_id, ids = clinic
    with in_practice(practice):
        therapy = db.session.get(Service, therapy_id)
        ada = db.session.get(User, ids["ada"])
        current = available_slots(ids["ada"], therapy)[0] + timedelta(days=3)
        appointment = appointments.book(
            db.session.get(Client, client.id), ada, therapy, current, notify=False
        )
        db.session.commit()
        appointment_id = appointment.id
    visitor = logged_in_client(visit, practice, client)
    path = f"/portal/appointments/{appointment_id}/reschedule"
    day = current.astimezone(NEW_YORK).date()
    page = visitor.get(f"{path}?day={day.isoformat()}").get_data(as_text=True)
    assert f"Your appointment now: <strong>{local_time(current, NEW_YORK, 'long')}</strong>" in page
    assert "your current time" in page and current.strftime("%Y-%m-%dT%H:%MZ") not in page
    assert_no_duplicate_ids(page)
    new = next(
        slot
        for slot in free_on(in_practice, practice, ids["ada"], therapy_id, day, ignore_id=appointment_id)
        if slot != current
    )
    confirm = html.unescape(visitor.get(f"{path}?time={new:%Y-%m-%dT%H:%MZ}").get_data(as_text=True))
    for fact in (
        "Current time",
        local_time(current, NEW_YORK, "long")[:-4],
        "New time",
        local_time(new, NEW_YORK, "long")[:-4],
        "50 minutes",
        ">Reschedule</button>",
        f'href="{path}?day={day.isoformat()}">Back</a>',
    ):
        assert fact in confirm, fact
    starts_at = re.search(r'name="starts_at" value="([^"]+)"', confirm).group(1)
    assert (
        visitor.post(
            path, {"starts_at": starts_at}, form_page=f"{path}?time={new:%Y-%m-%dT%H:%MZ}"
        ).status_code
        == 302
    )
    with in_practice(practice):
        assert db.session.get(Appointment, appointment_id).starts_at == new
    # In request mode the step says "Request".
    with in_practice(practice):
        practice_settings().self_rescheduling_enabled = False
        db.session.commit()
    again = new + timedelta(hours=1)
    confirm = visitor.get(f"{path}?time={again:%Y-%m-%dT%H:%MZ}").get_data(as_text=True)
    assert ">Request</button>" in confirm and "until then your current time holds" in confirm


def _listing_item(listing: str, appointment_id: int) -> str:
    match = re.search(rf'data-appointment-id="{appointment_id}">(.*?)</li>', listing, re.S)
    assert match, appointment_id
    return match.group(1)


def test_refused_actions_are_not_offered_and_say_why(clinic, visit, in_practice, make_client):
    practice, client, therapy_id, ids = clinic
    partner = make_client(practice, first="Partner", email=f"partner@{practice.slug}.example.com", login=True)
    with in_practice(practice):
        me = db.session.get(Client, client.id)
        therapy = db.session.get(Service, therapy_id)
        ada = db.session.get(User, ids["ada"])
        offline = add_service("Assessment", 50, [ada], bookable_online=False)
        soon = appointments.book(me, ada, therapy, next_hour(5), notify=False).id
        assessment = appointments.book(me, ada, offline, next_hour(50), notify=False).id
        group = appointments.book(me, ada, therapy, next_hour(80), notify=False)
        member = appointments.add_to_group(group, db.session.get(Client, partner.id), notify=False).id
        plain = appointments.book(me, ada, therapy, next_hour(120), notify=False).id
        group = group.id
        db.session.commit()
    visitor = logged_in_client(visit, practice, client)
    listing = visitor.get("/portal/appointments").get_data(as_text=True)
    assert_no_duplicate_ids(listing)
    contact = f"desk@{practice.slug}.example.com"

    item = _listing_item(listing, soon)
    assert "/reschedule" not in item and "/cancel" not in item
    assert item.count("Inside the 24-hour window: contact the practice") == 1 and contact in item
    assert "Late cancellations are charged in full." in item

    item = _listing_item(listing, assessment)
    assert "/reschedule" not in item and f"/appointments/{assessment}/cancel" in item
    assert "Not bookable online: contact the practice to move it" in item

    item = _listing_item(listing, group)  # the group's primary contact moves it, may not cancel it
    assert f"/appointments/{group}/reschedule" in item and "/cancel" not in item
    assert "Group appointment you lead: contact the practice to cancel it for everyone" in item

    item = _listing_item(listing, plain)
    assert f"/appointments/{plain}/reschedule" in item and f"/appointments/{plain}/cancel" in item
    assert "appointment-reason" not in item

    partner_listing = html.unescape(
        logged_in_client(visit, practice, partner).get("/portal/appointments").get_data(as_text=True)
    )
    item = _listing_item(partner_listing, member)
    assert "/reschedule" not in item and f"/appointments/{member}/cancel" in item
    assert "Group appointment: only the group's primary contact can move it" in item

    # The change checks the same rule: refused, nothing moved.
    later = next_hour(74).isoformat()
    refused = visitor.post(
        f"/portal/appointments/{assessment}/reschedule",
        {"starts_at": later},
        form_page="/portal/appointments",
    )
    assert refused.status_code == 409 and "cannot be booked online" in refused.get_data(as_text=True)
    with in_practice(practice):
        assert db.session.get(Appointment, assessment).starts_at == next_hour(50)


def test_a_cancellation_request_names_its_appointment_and_a_decline_stays_visible(clinic, visit, in_practice):
    practice, client, therapy_id, ids = clinic
    with in_practice(practice):
        settings = practice_settings()
        settings.self_scheduling_enabled = settings.self_rescheduling_enabled = False  # requests only
        therapy = db.session.get(Service, therapy_id)
        ada = db.session.get(User, ids["ada"])
        starts = next_hour(72)
        appointment_id = appointments.book(
            db.session.get(Client, client.id), ada, therapy, starts, notify=False
        ).id
        db.session.commit()
    visitor = logged_in_client(visit, practice, client)
    assert visitor.post(f"/portal/appointments/{appointment_id}/cancel", {}).status_code == 302

    listing = visitor.get("/portal/appointments").get_data(as_text=True)
    shown = local_time(starts, NEW_YORK)
    requests = listing[listing.index('id="client-requests"') :]
    assert "Waiting for the practice" in requests and f"Cancel your appointment of {shown}" in requests
    item = _listing_item(listing, appointment_id)  # one request at a time: nothing else offered
    assert "/cancel" not in item and "/reschedule" not in item
    assert "Your request about this appointment is waiting for the practice" in item
    again = visitor.post(
        f"/portal/appointments/{appointment_id}/cancel", {}, form_page="/portal/appointments"
    )
    text = again.get_data(as_text=True)  # the cancel page again, with the reason and no button
    assert "already waiting for the practice" in text and "Request cancellation</button>" not in text
    with in_practice(practice):
        [request] = db.session.scalars(select(AppointmentRequest)).all()
        request_id = request.id

    staff = visit(practice)
    staff.login(practice.owner_email)
    in_london = local_time(starts, "Europe/London")
    table = staff.get("/requests").get_data(as_text=True)
    row = re.search(rf'data-request-id="{request_id}">(.*?)</tr>', table, re.S).group(1)
    assert "Cancellation" in row and "Cancel the appointment" in row and in_london in row
    detail = staff.get(f"/requests/{request_id}").get_data(as_text=True)
    assert "Appointment to cancel" in detail and local_time(starts, "Europe/London", "long")[:-4] in detail
    message = "We need 48 hours' notice to cancel this one."
    answer = staff.post(
        f"/requests/{request_id}/decline",
        {"notify": "y", "message": message},
        form_page=f"/requests/{request_id}",
    )
    assert answer.status_code == 302

    listing = html.unescape(visitor.get("/portal/appointments").get_data(as_text=True))
    requests = listing[listing.index('id="client-requests"') :]
    assert "Declined" in requests and f"Cancel your appointment of {shown}" in requests
    assert f"Message from the practice: {message}" in " ".join(requests.split()).replace("</span>", "")
    item = _listing_item(listing, appointment_id)  # still booked, and may be asked about again
    assert f"/appointments/{appointment_id}/cancel" in item


def test_a_preview_walks_the_picker_but_books_nothing(clinic, visit, in_practice, make_client):
    practice, client, therapy_id, ids = clinic
    with in_practice(practice):
        ada_email = db.session.get(User, ids["ada"]).email
    tester = make_client(practice, first="Test", is_test=True, clinicians=(ada_email,))
    owner = visit(practice)
    owner.login(practice.owner_email)
    assert owner.post("/settings/preview", {"client_id": tester.id}).status_code == 302
    base = f"/portal/book?service={therapy_id}"
    moment = TIME_LINK.search(owner.get(base).get_data(as_text=True)).group(2)
    page = owner.get(f"{base}&time={moment}").get_data(as_text=True)
    assert "Preview: nothing can be booked from here." in page and ">Book</button>" not in page
    starts_at = re.search(r'name="starts_at" value="([^"]+)"', page).group(1)
    data = {"service_id": therapy_id, "clinician_id": ids["ada"], "starts_at": starts_at}
    assert owner.post("/portal/book", data, form_page=f"{base}&time={moment}").status_code == 403
    with in_practice(practice):
        assert db.session.scalars(select(Appointment)).all() == []
