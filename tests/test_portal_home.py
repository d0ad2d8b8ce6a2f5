"""The portal home says what's next: the open record's next appointment with what may be done with
it (by the same rules as the appointments page), "Add to calendar" for that one appointment, unread
messages from the practice, things to do; a guardian sees a card for each other minor."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from icalendar import Calendar

from app.timefmt import local_span
from blueprints.auth.service import find_user_by_email
from blueprints.people.models import Client
from blueprints.scheduling.models import Appointment, Service
from blueprints.scheduling.operations.appointments import book, cancel
from blueprints.scheduling.operations.requests import request_change
from tenants.database import db
from tenants.features import practice_settings

ANY_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
ZONE = "Europe/Berlin"


def section(html: str, element_id: str) -> str:
    """The HTML of the element with `element_id`, up to the closing tag of the same name."""
    start = html.index(f'id="{element_id}"')
    tag = html.rfind("<", 0, start)
    name = re.match(r"<(\w+)", html[tag:]).group(1)
    depth, position = 0, tag
    for match in re.finditer(rf"<(/?){name}\b", html[tag:]):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            position = tag + match.end()
            break
    return html[tag : html.index(">", position) + 1]


def days_ahead(days: int, hour: int = 10) -> datetime:
    return datetime.combine(date.today() + timedelta(days=days), time(hour), tzinfo=UTC)


def book_for(in_practice, practice, client_id: int, clinician_email: str, starts_at: datetime) -> int:
    with in_practice(practice):
        client = db.session.get(Client, client_id)
        service = db.session.scalars(db.select(Service)).first()
        appointment = book(client, find_user_by_email(clinician_email), service, starts_at, notify=False)
        db.session.commit()
        return appointment.id


def set_settings(in_practice, practice, **values):
    with in_practice(practice):
        settings = practice_settings()
        for name, value in values.items():
            setattr(settings, name, value)
        db.session.commit()


def logged_in(visit, practice, email: str, record: int | None = None):
    visitor = visit(practice)
    assert visitor.login(email).status_code == 302
    visitor.get("/portal/choose")
    if record is not None:
        assert visitor.post(f"/portal/open/{record}", form_page="/portal/choose").status_code == 302
    return visitor


@pytest.fixture
def office(make_practice, make_staff, make_client, open_for_booking):
    practice = make_practice(name="Linden Therapy")
    clinician = make_staff(practice, "clinician", name="Dr Ana Linden")
    client = make_client(
        practice,
        first="Robin",
        email=f"robin@{practice.slug}.example.com",
        login=True,
        clinicians=(clinician,),
    )
    open_for_booking(
        practice,
        clinician,
        service_name="Talk therapy",
        min_notice_hours=0,
        time_zone=ZONE,
        cancellation_window_hours=24,
    )
    return practice, clinician, client


def test_home_shows_the_next_appointment_with_its_zone_and_actions(office, visit, in_practice):
    practice, clinician, client = office
    later = book_for(in_practice, practice, client.id, clinician, days_ahead(9))
    first = book_for(in_practice, practice, client.id, clinician, days_ahead(3))
    robin = logged_in(visit, practice, client.email)

    home = robin.get("/portal").get_data(as_text=True)
    card = section(home, "next-appointment")
    assert "Talk therapy with Dr Ana Linden" in card
    starts = days_ahead(3)
    assert local_span(starts, starts + timedelta(minutes=50), ZONE, "long") in card  # "… CET" or "… CEST"
    assert re.search(r"\d\d:\d\d–\d\d:\d\d CES?T", card)
    assert f'href="/portal/appointments/{first}/reschedule">Reschedule</a>' in card
    assert f'href="/portal/appointments/{first}/cancel">Cancel</a>' in card
    assert f'href="/portal/appointments/{first}/calendar.ics"' in card and "Add to calendar" in card
    assert f"/portal/appointments/{later}/" not in card  # only the next one
    assert 'id="next-appointment-why"' not in card
    # The buttons lead to pages that work.
    assert robin.get(f"/portal/appointments/{first}/reschedule").status_code == 200
    assert robin.get(f"/portal/appointments/{first}/cancel").status_code == 200


def test_actions_that_would_be_refused_are_not_offered_and_say_why(office, visit, in_practice):
    practice, clinician, client = office
    soon = book_for(in_practice, practice, client.id, clinician, datetime.now(UTC) + timedelta(hours=3))
    robin = logged_in(visit, practice, client.email)

    card = section(robin.get("/portal").get_data(as_text=True), "next-appointment")
    assert "/reschedule" not in card and "/cancel" not in card
    why = section(card, "next-appointment-why")
    assert "can be moved online up to 24 hours before they start" in why
    assert "can be cancelled online up to 24 hours before they start" in why
    assert f"/portal/appointments/{soon}/calendar.ics" in card  # still one can add it to a calendar
    # What the home leaves out is what the pages refuse.
    assert robin.get(f"/portal/appointments/{soon}/reschedule").status_code == 409

    # A practice that lets nobody move or cancel online: no buttons, and no reasons either.
    set_settings(
        in_practice,
        practice,
        self_rescheduling_enabled=False,
        online_requests_enabled=False,
        client_cancellation_enabled=False,
        self_scheduling_enabled=False,
    )
    card = section(robin.get("/portal").get_data(as_text=True), "next-appointment")
    assert "/reschedule" not in card and "/cancel" not in card and "next-appointment-why" not in card


def test_in_request_mode_the_buttons_ask_and_a_pending_request_is_shown(office, visit, in_practice):
    practice, clinician, client = office
    set_settings(
        in_practice,
        practice,
        self_scheduling_enabled=False,
        self_rescheduling_enabled=False,
        online_requests_enabled=True,
    )
    appointment_id = book_for(in_practice, practice, client.id, clinician, days_ahead(4))
    robin = logged_in(visit, practice, client.email)
    card = section(robin.get("/portal").get_data(as_text=True), "next-appointment")
    assert ">Ask for another time</a>" in card and ">Ask to cancel</a>" in card

    with in_practice(practice):
        request_change(db.session.get(Appointment, appointment_id), "cancellation", requested_by=None)
        db.session.commit()
    card = section(robin.get("/portal").get_data(as_text=True), "next-appointment")
    assert "Your request to cancel this appointment is waiting for the practice" in card
    assert "Ask for another time" not in card and "Ask to cancel" not in card


def test_no_appointment_offers_booking_or_says_whom_to_contact(office, visit, in_practice):
    practice, _, client = office
    robin = logged_in(visit, practice, client.email)
    card = section(robin.get("/portal").get_data(as_text=True), "next-appointment")
    assert "No upcoming appointments." in card and 'href="/portal/book"' in card
    set_settings(in_practice, practice, self_scheduling_enabled=False, online_requests_enabled=False)
    card = section(robin.get("/portal").get_data(as_text=True), "next-appointment")
    assert "To make one, contact the practice." in card and "/portal/book" not in card


def test_add_to_calendar_is_that_one_appointment_and_only_ones_own(office, make_client, visit, in_practice):
    practice, clinician, client = office
    own = book_for(in_practice, practice, client.id, clinician, days_ahead(5))
    other_client = make_client(practice, first="Sasha", clinicians=(clinician,))
    others = book_for(in_practice, practice, other_client.id, clinician, days_ahead(6))
    robin = logged_in(visit, practice, client.email)

    response = robin.get(f"/portal/appointments/{own}/calendar.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert response.headers["Content-Disposition"] == f'attachment; filename="appointment-{own}.ics"'
    calendar = Calendar.from_ical(response.get_data())
    [event] = calendar.walk("VEVENT")
    with in_practice(practice):
        appointment = db.session.get(Appointment, own)
        uid, sequence = appointment.ics_uid, appointment.ics_sequence
    assert str(event["UID"]) == uid and int(event["SEQUENCE"]) == sequence  # the invites' event
    assert str(event["SUMMARY"]) == "Talk therapy with Dr Ana Linden"
    assert event.decoded("DTSTART") == days_ahead(5)
    assert event["DTSTART"].params["TZID"] == ZONE and calendar.walk("VTIMEZONE")

    # Another client's appointment, a cancelled one, and one that does not exist: not found.
    assert robin.get(f"/portal/appointments/{others}/calendar.ics").status_code == 404
    assert robin.get("/portal/appointments/999999/calendar.ics").status_code == 404
    with in_practice(practice):
        cancel(db.session.get(Appointment, own), notify=False)
        db.session.commit()
    assert robin.get(f"/portal/appointments/{own}/calendar.ics").status_code == 404
    # Nobody logged in: to the login page.
    assert visit(practice).get(f"/portal/appointments/{others}/calendar.ics").status_code == 302


def test_a_guardian_sees_each_minors_next_appointment_and_switches(
    make_practice, make_staff, make_client, grant_portal, open_for_booking, visit, in_practice
):
    practice = make_practice(name="Birch Family Care")
    clinician = make_staff(practice, "clinician", name="Dr Bo Birch")
    open_for_booking(practice, clinician, service_name="Play therapy", min_notice_hours=0)
    ten = date.today().replace(year=date.today().year - 10, day=1)
    mia = make_client(practice, first="Mia", last="Lane", date_of_birth=ten, clinicians=(clinician,))
    teo = make_client(practice, first="Teo", last="Lane", date_of_birth=ten, clinicians=(clinician,))
    parent = f"pat@{practice.slug}.example.com"
    for child in (mia, teo):
        grant_portal(practice, child, parent, "guardian")
    book_for(in_practice, practice, mia.id, clinician, days_ahead(2, 9))
    teos = book_for(in_practice, practice, teo.id, clinician, days_ahead(8, 15))

    guardian = logged_in(visit, practice, parent, record=mia.id)
    home = guardian.get("/portal").get_data(as_text=True)
    assert "Play therapy with Dr Bo Birch" in section(home, "next-appointment")
    assert local_span(days_ahead(2, 9), days_ahead(2, 9) + timedelta(minutes=50), "UTC", "long") in home
    switch = section(home, "switch-records")
    assert "Teo Lane" in switch and "Mia Lane" not in switch
    assert "Next appointment: " + days_ahead(8, 15).strftime("%a %d %b %Y, 15:00 UTC") in switch
    assert f'action="/portal/open/{teo.id}"' in switch

    token = ANY_CSRF.search(home).group(1)
    opened = guardian.post(f"/portal/open/{teo.id}", {"csrf_token": token}, form_page=False)
    assert opened.status_code == 302 and opened.headers["Location"] == "/portal"
    home = guardian.get("/portal").get_data(as_text=True)
    assert "You are acting for <strong>Teo Lane</strong>" in home
    assert f"/portal/appointments/{teos}/calendar.ics" in section(home, "next-appointment")
    switch = section(home, "switch-records")
    assert "Mia Lane" in switch and "Teo Lane" not in switch
    assert "Next appointment: " + days_ahead(2, 9).strftime("%a %d %b %Y, 09:00 UTC") in switch

    # A minor whose grant leaves out appointments: a card to switch to, without appointments.
    sam = make_client(practice, first="Sam", last="Lane", date_of_birth=ten, clinicians=(clinician,))
    grant_portal(practice, sam, parent, "guardian", can_appointments=False)
    book_for(in_practice, practice, sam.id, clinician, days_ahead(3, 11))
    home = guardian.get("/portal").get_data(as_text=True)
    switch = section(home, "switch-records")
    sams_card = switch[switch.index("Sam Lane") :]
    assert "11:00" not in sams_card and "No upcoming appointments" not in sams_card


def test_unread_messages_appear_and_clear(office, make_staff, visit, in_practice):
    practice, clinician, client = office
    robin = logged_in(visit, practice, client.email)
    messages = section(robin.get("/portal").get_data(as_text=True), "home-messages")
    assert "No new messages." in messages and 'href="/portal/messages"' in messages

    staff = visit(practice)
    assert staff.login(clinician).status_code == 302

    def staff_writes(body: str):
        token = ANY_CSRF.search(staff.get("/").get_data(as_text=True)).group(1)
        reply = {"thread": "client", "body": body, "csrf_token": token}
        assert staff.post(f"/clients/{client.id}/messages", reply, form_page=False).status_code == 302

    staff_writes("See you on Tuesday")
    staff_writes("Bring your forms")
    messages = section(robin.get("/portal").get_data(as_text=True), "home-messages")
    assert "<strong>2</strong> new messages from the practice." in messages

    # The client's own message is not "unread" for them.
    token = ANY_CSRF.search(robin.get("/portal").get_data(as_text=True)).group(1)
    assert (
        robin.post("/portal/messages", {"body": "Thanks!", "csrf_token": token}, form_page=False).status_code
        == 302
    )
    # Posting redirected to the messages page, which was then read: all clear.
    assert robin.get("/portal/messages").status_code == 200
    assert "No new messages." in section(robin.get("/portal").get_data(as_text=True), "home-messages")

    staff_writes("One more thing")
    messages = section(robin.get("/portal").get_data(as_text=True), "home-messages")
    assert "<strong>1</strong> new message from the practice." in messages
    robin.get("/portal/messages")
    assert "No new messages." in section(robin.get("/portal").get_data(as_text=True), "home-messages")

    # With messaging off the home says nothing about messages.
    set_settings(in_practice, practice, messaging_enabled=False)
    assert 'id="home-messages"' not in robin.get("/portal").get_data(as_text=True)


def test_a_guardian_sees_unread_messages_on_the_other_minors_card(
    make_practice, make_staff, make_client, grant_portal, visit, in_practice
):
    practice = make_practice()
    set_settings(in_practice, practice, portal_enabled=True)
    clinician = make_staff(practice, "clinician")
    eight = date.today().replace(year=date.today().year - 8, day=1)
    ada = make_client(practice, first="Ada", last="Moss", date_of_birth=eight, clinicians=(clinician,))
    ben = make_client(practice, first="Ben", last="Moss", date_of_birth=eight, clinicians=(clinician,))
    parent = f"kim@{practice.slug}.example.com"
    for child in (ada, ben):
        grant_portal(practice, child, parent, "guardian")
    staff = visit(practice)
    assert staff.login(clinician).status_code == 302
    token = ANY_CSRF.search(staff.get("/").get_data(as_text=True)).group(1)
    reply = {"thread": "guardian", "body": "About Ben", "csrf_token": token}
    assert staff.post(f"/clients/{ben.id}/messages", reply, form_page=False).status_code == 302

    guardian = logged_in(visit, practice, parent, record=ada.id)
    home = guardian.get("/portal").get_data(as_text=True)
    assert "No new messages." in section(home, "home-messages")
    assert "1 new message from the practice." in section(home, "switch-records")


def test_things_to_do_is_an_empty_state_until_a_feature_registers_some(office, visit, in_practice):
    from blueprints.portal.home import Todo, register_todo_source

    practice, _, client = office
    robin = logged_in(visit, practice, client.email)
    todos = section(robin.get("/portal").get_data(as_text=True), "home-todos")
    assert "Nothing to do right now." in todos

    def source(viewer):
        return (
            [Todo("Fill in the intake form", "/portal/appointments")] if viewer.client.id == client.id else []
        )

    register_todo_source(source)
    todos = section(robin.get("/portal").get_data(as_text=True), "home-todos")
    assert '<a href="/portal/appointments">Fill in the intake form</a>' in todos
    assert "Nothing to do right now." not in todos


def test_a_preview_shows_the_test_clients_home(make_practice, make_client, visit, in_practice):
    practice = make_practice()
    set_settings(in_practice, practice, portal_enabled=True)
    test_client = make_client(practice, first="Test", last="Client", is_test=True)
    owner = visit(practice)
    assert owner.login(practice.owner_email).status_code == 302
    started = owner.post("/settings/preview", {"client_id": test_client.id})
    assert started.status_code == 302
    home = owner.get("/portal").get_data(as_text=True)
    assert 'id="next-appointment"' in home and 'id="home-todos"' in home
    assert 'id="switch-records"' not in home
