"""The waitlist: freed times held and offered to the first entries, confirmed by exactly one.

Real PostgreSQL, real SMTP (aiosmtpd), the real worker: the offer links are read from the emails."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from blueprints.auth.service import find_user_by_email
from blueprints.people.models import Client
from blueprints.scheduling.models import Appointment, Service
from blueprints.scheduling.operations.appointments import SlotTaken, book, cancel_appointment
from blueprints.scheduling.operations.availability import available_slots
from blueprints.waitlist.models import WaitlistEntry, WaitlistOffer
from blueprints.waitlist.operations import entries, offers
from tenants.database import db
from tenants.features import practice_settings, practice_today

LINK = re.compile(r"https?://[^/\s]+(/portal/offers/[A-Za-z0-9_-]+)")
SYSTEM = {"actor_kind": "system", "actor_user_id": None, "actor_name": "test"}


def soon(days: int = 3, hour: int = 10) -> datetime:
    day = (datetime.now(UTC) + timedelta(days=days)).date()
    return datetime.combine(day, time(hour), tzinfo=UTC)


@pytest.fixture
def waitlist(make_practice, make_staff, make_client, open_for_booking, in_practice):
    """A practice with the waitlist on, a clinician, a service, and a client booked at `soon()`."""

    def build(waiting: int = 4, offer_count: int = 3, moving: bool = False, **settings):
        practice = make_practice()
        clinician_email = make_staff(practice, "clinician", name="Dr Quinn")
        service_id = open_for_booking(
            practice,
            clinician_email,
            service_name="Couples therapy",
            min_notice_hours=0,
            booking_horizon_days=30,
            waitlist_enabled=True,
            waitlist_offer_count=offer_count,
            **settings,
        )
        booked = make_client(
            practice,
            first="Bo",
            email=f"bo@{practice.slug}.example.com",
            login=True,
            clinicians=(clinician_email,),
        )
        people = [
            make_client(
                practice,
                first=f"W{n}",
                email=f"w{n}@{practice.slug}.example.com",
                login=True,
                clinicians=(clinician_email,),
            )
            for n in range(waiting)
        ]
        with in_practice(practice):
            clinician = find_user_by_email(clinician_email)
            service = db.session.get(Service, service_id)
            appointment = book(db.session.get(Client, booked.id), clinician, service, soon(), notify=False)
            for n, person in enumerate(people):
                later = None
                if moving:
                    later = book(
                        db.session.get(Client, person.id), clinician, service, soon(6, 9 + n), notify=False
                    )
                join(person.id, service_id, move_appointment_id=later.id if later else None)
            db.session.commit()
            ids = {"clinician": clinician.id, "service": service_id, "appointment": appointment.id}
        return practice, ids, people, booked

    return build


def join(client_id: int, service_id: int, **extra) -> WaitlistEntry:
    today = practice_today()
    values = dict(
        weekdays=range(7), parts=["morning"], from_date=today, until_date=today + timedelta(days=20)
    )
    return entries.join(
        SYSTEM,
        db.session.get(Client, client_id),
        db.session.get(Service, service_id),
        None,
        **(values | extra),
    )


def free_the_time(in_practice, practice, ids):
    with in_practice(practice):
        owner = find_user_by_email(practice.owner_email)
        appointment = db.session.get(Appointment, ids["appointment"])
        cancel_appointment(owner, appointment, version=appointment.version)
        db.session.commit()


def offer_links(mailbox, run_jobs, practice) -> dict[str, str]:
    """Address -> the offer link's path, from the practice's offer emails delivered so far."""
    run_jobs()
    links = {}
    for message in mailbox.messages:
        if message["Subject"] == "A time has opened up" and practice.slug in message["To"]:
            links[message["To"].split("<")[-1].rstrip(">")] = LINK.search(mailbox.body(message)).group(1)
    return links


def test_a_freed_time_is_held_and_offered_to_the_first_three(waitlist, in_practice, mailbox, run_jobs):
    practice, ids, people, booked = waitlist(waiting=4)
    free_the_time(in_practice, practice, ids)
    links = offer_links(mailbox, run_jobs, practice)
    assert sorted(links) == sorted(p.email for p in people[:3])  # first come, three at once
    with in_practice(practice):
        held = db.session.scalars(select(Appointment).where(Appointment.status == "held")).one()
        assert held.starts_at == soon()
        assert db.session.scalar(select(func.count()).select_from(WaitlistOffer)) == 3
        # Nobody else can have the held time: not in the free slots, refused by the database.
        service = db.session.get(Service, ids["service"])
        assert soon() not in available_slots(ids["clinician"], service)
        with pytest.raises(SlotTaken):
            book(db.session.get(Client, booked.id), held.clinician, service, soon(), notify=False)
        db.session.rollback()
    for message in mailbox.messages:
        if message["Subject"] == "A time has opened up":
            body = mailbox.body(message)
            assert "Couples therapy" not in body  # the practice does not show services in messages
            assert "Dr Quinn" in body


def test_a_held_time_cannot_be_booked_in_the_portal(waitlist, in_practice, visit, mailbox, run_jobs):
    practice, ids, people, booked = waitlist(waiting=1)
    free_the_time(in_practice, practice, ids)
    visitor = visit(practice)
    visitor.login(booked.email)
    visitor.get("/portal/choose")
    starts = soon().strftime("%Y-%m-%dT%H:%M:%SZ")
    page = f"/portal/book?service={ids['service']}&clinician={ids['clinician']}"
    response = visitor.post(
        "/portal/book",
        {"service_id": ids["service"], "clinician_id": ids["clinician"], "starts_at": starts},
        form_page=page,
    )
    assert response.status_code == 409
    with in_practice(practice):
        statuses = db.session.scalars(select(Appointment.status).where(Appointment.starts_at == soon()))
        assert sorted(statuses) == ["cancelled", "held"]
    # Staff see why the time is not free, and not whom it was offered to.
    staff = visit(practice)
    staff.login(practice.owner_email)
    week = staff.get(f"/calendar?view=week&date={soon().date().isoformat()}").get_data(as_text=True)
    assert "(Held)" in week and "Held for a waitlist offer" in week
    assert people[0].name not in week and people[0].email not in week


def test_twenty_confirm_one_time_at_once_and_exactly_one_wins(
    waitlist, in_practice, visit, mailbox, run_jobs
):
    practice, ids, people, _ = waitlist(waiting=20, offer_count=20)
    free_the_time(in_practice, practice, ids)
    links = offer_links(mailbox, run_jobs, practice)
    assert len(links) == 20
    visitors = []
    for n, path in enumerate(links.values()):
        visitor = visit(practice)
        address = f"10.0.{n}.1"
        token = CSRF.search(
            visitor.get(path, environ_base={"REMOTE_ADDR": address}).get_data(as_text=True)
        ).group(1)
        visitors.append((visitor, path, address, token))
    start, results = threading.Barrier(len(visitors)), []

    def confirm(visitor, path, address, token):
        start.wait()
        response = visitor.client.post(
            path,
            base_url=visitor.base_url,
            data={"csrf_token": token, "answer": "confirm"},
            environ_base={"REMOTE_ADDR": address},
        )
        results.append((response.status_code, response.get_data(as_text=True)))

    threads = [threading.Thread(target=confirm, args=args) for args in visitors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [409] * 19
    assert all("Just taken" in body for status, body in results if status == 409)
    with in_practice(practice):
        rows = db.session.scalars(select(Appointment).where(Appointment.starts_at == soon())).all()
        assert sorted(row.status for row in rows) == ["booked", "cancelled"]
        winner = next(row for row in rows if row.status == "booked")
        assert winner.client_id in {p.id for p in people}
        states = db.session.scalars(select(WaitlistOffer.status)).all()
        assert sorted(states) == ["accepted"] + ["taken"] * 19


CSRF = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')


def test_a_hold_nobody_confirms_lapses_and_the_next_are_offered(
    waitlist, in_practice, visit, mailbox, run_jobs
):
    practice, ids, people, _ = waitlist(waiting=4, offer_count=3)
    free_the_time(in_practice, practice, ids)
    first_links = offer_links(mailbox, run_jobs, practice)
    mailbox.clear()
    with in_practice(practice):
        later = datetime.now(UTC) + timedelta(minutes=16)  # the hold was for 15 minutes
        assert offers.next_due(datetime.now(UTC)) is not None
        offers.run_due(later)
        offers.run_due(later)  # idempotent: nothing more happens
        db.session.commit()
        held = db.session.scalars(select(Appointment).where(Appointment.status == "held")).all()
        assert len(held) == 1 and held[0].starts_at == soon()
        by_status = dict(
            db.session.execute(
                select(WaitlistOffer.status, func.count()).group_by(WaitlistOffer.status)
            ).all()
        )
        assert by_status == {"lapsed": 3, "open": 1}
    assert sorted(offer_links(mailbox, run_jobs, practice)) == [people[3].email]
    # A lapsed offer's link says it ended (410); it cannot take the new hold.
    visitor = visit(practice)
    assert visitor.get(first_links[people[0].email]).status_code == 410
    response = visitor.post(first_links[people[0].email], {"answer": "confirm"}, form_page="/login")
    assert response.status_code == 410


def test_declining_passes_the_time_on_and_the_link_is_then_stale(
    waitlist, in_practice, visit, mailbox, run_jobs
):
    practice, ids, people, _ = waitlist(waiting=2, offer_count=1)
    free_the_time(in_practice, practice, ids)
    link = offer_links(mailbox, run_jobs, practice)[people[0].email]
    mailbox.clear()
    visitor = visit(practice)
    page = visitor.get(link)
    assert page.status_code == 200 and "Confirm this time" in page.get_data(as_text=True)
    assert visitor.post(link, {"answer": "decline"}).status_code == 200
    assert visitor.get(link).status_code == 410
    assert sorted(offer_links(mailbox, run_jobs, practice)) == [people[1].email]


def test_forged_and_other_practice_tokens_are_not_found(waitlist, in_practice, visit, mailbox, run_jobs):
    practice, ids, people, _ = waitlist(waiting=1)
    other, other_ids, _, _ = waitlist(waiting=1)
    free_the_time(in_practice, practice, ids)
    link = offer_links(mailbox, run_jobs, practice)[people[0].email]
    assert visit(practice).get("/portal/offers/" + "A" * 43).status_code == 404
    assert visit(other).get(link).status_code == 404
    assert visit(other).post(link, {"answer": "confirm"}, form_page="/login").status_code == 404
    assert visit(practice).get(link).status_code == 200


def test_moving_an_appointment_earlier_cancels_the_later_one(waitlist, in_practice, visit, mailbox, run_jobs):
    practice, ids, people, _ = waitlist(waiting=1, moving=True)
    with in_practice(practice):
        later_id = db.session.scalars(select(WaitlistEntry.move_appointment_id)).one()
    free_the_time(in_practice, practice, ids)
    links = offer_links(mailbox, run_jobs, practice)
    assert list(links) == [people[0].email]
    assert visit(practice).post(links[people[0].email], {"answer": "confirm"}).status_code == 200
    with in_practice(practice):
        assert db.session.get(Appointment, later_id).status == "cancelled"
        mine = db.session.scalars(
            select(Appointment).where(Appointment.starts_at == soon(), Appointment.status == "booked")
        ).one()
        assert mine.client_id == people[0].id


def test_clients_join_and_leave_in_the_portal_and_staff_see_the_list(waitlist, in_practice, visit):
    practice, ids, people, booked = waitlist(waiting=0)
    client = visit(practice)
    client.login(booked.email)
    client.get("/portal/choose")
    assert client.get("/portal/waitlist").status_code == 200
    today = datetime.now(UTC).date()  # the practice's zone is UTC
    response = client.post(
        "/portal/waitlist",
        {
            "service_id": ids["service"],
            "clinician_id": "0",
            "weekdays": ["0", "2"],
            "parts": ["morning", "evening"],
            "from_date": today.isoformat(),
            "until_date": (today + timedelta(days=14)).isoformat(),
            "move_appointment_id": "",
        },
    )
    assert response.status_code == 302
    page = client.get("/portal/waitlist").get_data(as_text=True)
    assert "Mon, Wed" in page and "morning, evening" in page
    bad = client.post("/portal/waitlist", {"service_id": ids["service"], "clinician_id": "0"})
    assert bad.status_code == 400 and "Choose at least one day." in bad.get_data(as_text=True)
    owner = visit(practice)
    owner.login(practice.owner_email)
    listing = owner.get(f"/waitlist?clinician={ids['clinician']}")
    assert listing.status_code == 200 and booked.name in listing.get_data(as_text=True)
    with in_practice(practice):
        entry_id = db.session.scalars(select(WaitlistEntry.id)).one()
    assert (
        owner.post(f"/waitlist/{entry_id}/order", {"priority": "1"}, form_page="/waitlist").status_code == 302
    )
    assert client.post(f"/portal/waitlist/{entry_id}/leave", form_page="/portal/waitlist").status_code == 302
    with in_practice(practice):
        entry = db.session.get(WaitlistEntry, entry_id)
        assert (entry.status, entry.priority) == ("left", 1)


def test_staff_priority_goes_first(waitlist, in_practice, mailbox, run_jobs):
    practice, ids, people, _ = waitlist(waiting=3, offer_count=1)
    with in_practice(practice):
        last = db.session.scalars(select(WaitlistEntry).where(WaitlistEntry.client_id == people[2].id)).one()
        entries.set_priority(find_user_by_email(practice.owner_email), last, 1)
        db.session.commit()
    free_the_time(in_practice, practice, ids)
    assert list(offer_links(mailbox, run_jobs, practice)) == [people[2].email]


def test_switched_off_the_pages_are_gone_and_the_data_stays(waitlist, in_practice, visit, mailbox, run_jobs):
    practice, ids, people, booked = waitlist(waiting=1)
    free_the_time(in_practice, practice, ids)
    link = offer_links(mailbox, run_jobs, practice)[people[0].email]
    with in_practice(practice):
        practice_settings().waitlist_enabled = False
        db.session.commit()
    owner = visit(practice)
    owner.login(practice.owner_email)
    assert owner.get("/waitlist").status_code == 404
    assert 'href="/waitlist"' not in owner.get("/calendar").get_data(as_text=True)
    client = visit(practice)
    client.login(booked.email)
    client.get("/portal/choose")
    assert client.get("/portal/waitlist").status_code == 404
    assert visit(practice).get(link).status_code == 404
    with in_practice(practice):
        assert db.session.scalar(select(func.count()).select_from(WaitlistEntry)) == 1


def test_the_practices_periodic_work_lapses_holds_and_is_due_when_they_end(
    waitlist, in_practice, mailbox, run_jobs
):
    """Through automations' periodic run (fanned out from `public.practice_due`): the due time is the
    hold's end, and the run at that time lapses it and offers the time to the next entry."""
    from blueprints.automations.reminders import next_due, run_periodic

    practice, ids, people, _ = waitlist(waiting=2, offer_count=1)
    free_the_time(in_practice, practice, ids)
    with in_practice(practice):
        ends = db.session.scalar(select(func.min(WaitlistOffer.expires_at)))
        assert next_due(datetime.now(UTC)) <= ends
        run_periodic(ends + timedelta(seconds=1))
    with in_practice(practice):
        offered = db.session.scalars(
            select(WaitlistEntry.client_id)
            .join(WaitlistOffer, WaitlistOffer.entry_id == WaitlistEntry.id)
            .where(WaitlistOffer.status == "open")
        ).all()
        assert offered == [people[1].id]


def test_new_availability_is_offered_too(waitlist, in_practice, mailbox, run_jobs):
    practice, ids, people, _ = waitlist(waiting=1)
    with in_practice(practice):
        entry = db.session.scalars(select(WaitlistEntry)).one()
        entry.parts = 4  # evenings only
        db.session.commit()
    with in_practice(practice):
        from blueprints.scheduling.operations.availability import add_weekly_hours

        owner = find_user_by_email(practice.owner_email)
        assert db.session.scalar(select(func.count()).select_from(WaitlistOffer)) == 0
        add_weekly_hours(owner, None, range(7), time(20), time(22))
        db.session.commit()
        offer = db.session.scalars(select(WaitlistOffer)).one()  # added hours announce a freed time
        assert offer.starts_at.hour >= 17
