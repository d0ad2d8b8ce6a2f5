"""Session rooms: the room link in online invites (in step with regeneration, the bare link in
discreet mode), the address in in-person ones, the portal's audited Join (its own record's room
only, a minor's shared with the guardians who may see appointments), the Join button's window in the
client's zone across daylight-saving changes, Jitsi tokens for one room that expire, the settings and
account pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import jwt
import pytest
from sqlalchemy import select

from blueprints.audit.models import AuditEvent
from blueprints.auth.service import find_user_by_email
from blueprints.people.models import Client
from blueprints.rooms.models import ClientRoom, VideoSettings
from blueprints.rooms.operations import rooms
from blueprints.rooms.operations.video import video_settings
from blueprints.scheduling.models import Appointment, Service
from blueprints.scheduling.operations import appointments
from tenants.database import db
from tests.test_scheduling_recipients import invites_of

NEW_YORK = ZoneInfo("America/New_York")
BASE = "https://meet.example.org"
SECRET = "a-shared-secret-of-the-jitsi-server"


def set_video(in_practice, practice, **values):
    with in_practice(practice):
        settings = video_settings()
        for name, value in values.items():
            setattr(settings, name, value)
        db.session.commit()


@pytest.fixture
def online(make_practice, make_staff, make_client, open_for_booking, in_practice):
    """A practice on Jitsi with an online service, clinician Alma and client Robin (a login)."""
    practice = make_practice()
    alma = make_staff(practice, "clinician", name="Alma Clinician")
    service_id = open_for_booking(practice, alma, min_notice_hours=0)
    robin = make_client(
        practice, first="Robin", email=f"robin@{practice.slug}.example.com", login=True, clinicians=(alma,)
    )
    with in_practice(practice):
        db.session.get(Service, service_id).delivery = "online"
        settings = video_settings()
        settings.service, settings.jitsi_base_url = "jitsi", BASE
        settings.practice_address = "1 Harbour Street, Porttown"
        db.session.commit()
    return SimpleNamespace(practice=practice, alma=alma, service_id=service_id, robin=robin)


def book(in_practice, practice, client_id, service_id, starts_at) -> int:
    with in_practice(practice):
        service = db.session.get(Service, service_id)
        appointment = appointments.book(
            db.session.get(Client, client_id), service.clinicians[0], service, starts_at
        )
        db.session.commit()
        return appointment.id


def move(in_practice, practice, appointment_id, starts_at):
    with in_practice(practice):
        appointments.move(db.session.get(Appointment, appointment_id), starts_at)
        db.session.commit()


def room_link(in_practice, practice, client_id) -> str:
    with in_practice(practice):
        return rooms.client_room_link(client_id, create=False)


def logged_in(visit, practice, email):
    visitor = visit(practice)
    assert visitor.login(email).status_code == 302
    visitor.get("/portal/choose")
    return visitor


def soon(hours: int = 48) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)


def test_the_room_link_is_in_every_invite_and_regeneration_replaces_it(
    online, in_practice, visit, mailbox, run_jobs
):
    first = book(in_practice, online.practice, online.robin.id, online.service_id, soon())
    run_jobs()
    link = room_link(in_practice, online.practice, online.robin.id)
    room = link.rsplit("/", 1)[1]
    assert link.startswith(BASE + "/") and len(room) >= 32 and "robin" not in link.lower()
    assert str(online.robin.id) != room
    for address in (online.alma, online.robin.email):
        [(_, event, _, _)] = invites_of(mailbox, address)
        assert str(event["location"]) == link and str(event["url"]) == link
        assert link in str(event["description"]) and "Harbour" not in str(event["description"])
    # Staff give Robin a new room from the record; the next invite (an update) carries it, not the old.
    owner = visit(online.practice)
    owner.login(online.practice.owner_email)
    page = owner.get(f"/clients/{online.robin.id}").get_data(as_text=True)
    assert link in page and 'id="regenerate-room"' in page
    response = owner.post(f"/clients/{online.robin.id}/room", {}, form_page=f"/clients/{online.robin.id}")
    assert response.status_code == 302
    new_link = room_link(in_practice, online.practice, online.robin.id)
    assert new_link != link and new_link.startswith(BASE + "/")
    mailbox.clear()
    move(in_practice, online.practice, first, soon(72))
    run_jobs()
    for address in (online.alma, online.robin.email):
        [(_, event, raw, _)] = invites_of(mailbox, address)
        assert str(event["location"]) == new_link and room not in raw
    with in_practice(online.practice):
        generation = db.session.get(ClientRoom, online.robin.id).generation
        logged = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "regenerated room link")
        ).all()
    assert generation == 2 and [event.client_id for event in logged] == [online.robin.id]
    # The portal's Join goes to the new room at once.
    robin = logged_in(visit, online.practice, online.robin.email)
    assert robin.get(f"/portal/appointments/{first}/join").headers["Location"] == new_link


def test_in_person_invites_carry_the_address_not_a_link(online, in_practice, mailbox, run_jobs):
    with in_practice(online.practice):
        db.session.get(Service, online.service_id).delivery = "in_person"
        db.session.commit()
    book(in_practice, online.practice, online.robin.id, online.service_id, soon())
    run_jobs()
    for address in (online.alma, online.robin.email):
        [(_, event, raw, _)] = invites_of(mailbox, address)
        assert str(event["location"]) == "1 Harbour Street, Porttown"
        assert "url" not in event and BASE not in raw
    assert room_link(in_practice, online.practice, online.robin.id) is None  # no room made for it


def test_either_carries_the_link_and_the_address(online, in_practice, mailbox, run_jobs):
    with in_practice(online.practice):
        db.session.get(Service, online.service_id).delivery = "either"
        db.session.commit()
    book(in_practice, online.practice, online.robin.id, online.service_id, soon())
    run_jobs()
    [(_, event, _, _)] = invites_of(mailbox, online.robin.email)
    assert str(event["location"]).startswith(BASE) and "Harbour Street" in str(event["description"])


def test_discreet_mode_says_nothing_but_the_link(online, in_practice, mailbox, run_jobs):
    from blueprints.notifications.automated import message_settings

    with in_practice(online.practice):
        message_settings().discreet_mode = True
        db.session.commit()
    book(in_practice, online.practice, online.robin.id, online.service_id, soon())
    run_jobs()
    link = room_link(in_practice, online.practice, online.robin.id)
    [(_, event, _, _)] = invites_of(mailbox, online.alma)
    assert str(event["description"]) == link
    [message] = mailbox.to(online.robin.email)
    assert not any(part.get_content_type() == "text/calendar" for part in message.iter_attachments())
    body = mailbox.body(message)
    assert body.rstrip().endswith(link) and "video" not in body.lower()


def test_portal_join_is_audited_and_only_for_its_own_record(
    online, in_practice, visit, make_client, grant_portal, make_practice, make_staff, open_for_booking
):
    practice = online.practice
    mine = book(in_practice, practice, online.robin.id, online.service_id, soon())
    other = make_client(practice, first="Sam", email=f"sam@{practice.slug}.example.com", login=True)
    theirs = book(in_practice, practice, other.id, online.service_id, soon(50))
    robin = logged_in(visit, practice, online.robin.email)
    response = robin.get(f"/portal/appointments/{mine}/join")
    assert response.status_code == 302
    link = room_link(in_practice, practice, online.robin.id)
    assert response.headers["Location"] == link
    refused = robin.get(f"/portal/appointments/{theirs}/join")
    sams = room_link(in_practice, practice, other.id)
    # Sam's room shows nowhere on Robin's side, nor on Robin's record; Robin's not on Sam's.
    for page in ("/portal", "/portal/appointments"):
        assert sams.rsplit("/", 1)[1] not in robin.get(page).get_data(as_text=True)
    owner = visit(practice)
    owner.login(practice.owner_email)
    robins_record = owner.get(f"/clients/{online.robin.id}").get_data(as_text=True)
    sams_record = owner.get(f"/clients/{other.id}").get_data(as_text=True)
    assert link in robins_record and sams not in robins_record
    assert sams in sams_record and link not in sams_record
    assert (
        refused.status_code == 404
        and sams != link
        and sams.rsplit("/", 1)[1] not in refused.get_data(as_text=True)
    )
    with in_practice(practice):
        [event] = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "joined session room")
        ).all()
        robin_id = find_user_by_email(online.robin.email).id
    assert (event.actor_user_id, event.client_id, event.detail) == (
        robin_id,
        online.robin.id,
        f"appointment {mine}",
    )
    assert event.occurred_at is not None
    # Another practice's appointment id is not found either.
    elsewhere = make_practice()
    bea = make_staff(elsewhere, "clinician")
    their_service = open_for_booking(elsewhere, bea, min_notice_hours=0)
    stranger = make_client(elsewhere, first="Ola")
    foreign = book(in_practice, elsewhere, stranger.id, their_service, soon())
    if foreign != mine:
        assert robin.get(f"/portal/appointments/{foreign}/join").status_code == 404
    # A cancelled appointment has no room to join.
    with in_practice(practice):
        appointments.cancel(db.session.get(Appointment, mine), notify=False)
        db.session.commit()
    assert robin.get(f"/portal/appointments/{mine}/join").status_code == 404


def test_a_minors_room_is_shared_with_guardians_who_see_appointments(
    online, in_practice, visit, make_client, grant_portal
):
    practice = online.practice
    kid = make_client(practice, first="Kit", date_of_birth=datetime(datetime.now().year - 9, 1, 1).date())
    parent, aunt = f"parent@{practice.slug}.example.com", f"aunt@{practice.slug}.example.com"
    grant_portal(practice, kid, parent, "guardian")
    grant_portal(practice, kid, aunt, "guardian", can_appointments=False)
    appointment = book(in_practice, practice, kid.id, online.service_id, soon())
    guardian = logged_in(visit, practice, parent)
    assert guardian.get(f"/portal/appointments/{appointment}/join").headers["Location"] == room_link(
        in_practice, practice, kid.id
    )
    assert logged_in(visit, practice, aunt).get(f"/portal/appointments/{appointment}/join").status_code in (
        403,
        404,
    )


def test_the_join_button_shows_from_15_minutes_before_until_the_end(online, in_practice, visit):
    practice = online.practice
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    starting = book(in_practice, practice, online.robin.id, online.service_id, now + timedelta(minutes=10))
    later = book(in_practice, practice, online.robin.id, online.service_id, now + timedelta(minutes=120))
    robin = logged_in(visit, practice, online.robin.email)
    page = robin.get("/portal/appointments").get_data(as_text=True)
    assert f'id="join-session-{starting}"' in page and f'id="join-session-{later}"' not in page
    assert f"/portal/appointments/{starting}/join" in page
    # The clinician sees it on the appointment; the owner (not the clinician) does not.
    alma = visit(practice)
    alma.login(online.alma)
    assert f'id="join-session-{starting}"' in alma.get(f"/calendar/appointments/{starting}").get_data(
        as_text=True
    )
    response = alma.get(f"/calendar/appointments/{starting}/join")
    assert response.status_code == 302 and response.headers["Location"].startswith(BASE)
    owner = visit(practice)
    owner.login(practice.owner_email)
    assert "join-session" not in owner.get(f"/calendar/appointments/{starting}").get_data(as_text=True)
    assert owner.get(f"/calendar/appointments/{starting}/join").status_code == 404
    # The room itself works at any time for the right person: the join URL outside the window too.
    assert robin.get(f"/portal/appointments/{later}/join").status_code == 302


def _at(local: str, zone=NEW_YORK, fold: int = 0) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=zone, fold=fold)


@pytest.mark.parametrize(
    "starts, minutes, now, shown",
    [
        # Spring forward (2026-03-08, 02:00 EST -> 03:00 EDT): a 03:00 EDT session opens at 01:45 EST.
        ("2026-03-08T03:00", 50, "2026-03-08T01:44", False),
        ("2026-03-08T03:00", 50, "2026-03-08T01:45", True),
        ("2026-03-08T03:00", 50, "2026-03-08T03:49", True),
        ("2026-03-08T03:00", 50, "2026-03-08T03:50", False),
        # Fall back (2026-11-01, 02:00 EDT -> 01:00 EST): 01:30 happens twice.
        ("2026-11-01T01:30", 30, "2026-11-01T01:20", True),  # the first 01:20 (EDT)
        ("2026-11-01T01:30", 30, ("2026-11-01T01:20", 1), False),  # the second (EST): after the end
        ("2026-11-01T01:30", 30, ("2026-11-01T01:14", 0), False),
    ],
)
def test_the_join_window_in_the_clients_zone_across_daylight_saving(starts, minutes, now, shown):
    start = _at(starts).astimezone(UTC)
    moment = _at(now[0], fold=now[1]) if isinstance(now, tuple) else _at(now)
    appointment = SimpleNamespace(starts_at=start, ends_at=start + timedelta(minutes=minutes))
    assert rooms.join_open(appointment, moment.astimezone(UTC)) is shown


def test_with_token_authentication_join_hands_a_short_lived_token_for_that_room_only(
    online, in_practice, visit, make_client
):
    practice = online.practice
    owner = visit(practice)
    owner.login(practice.owner_email)
    form = {
        "service": "jitsi",
        "jitsi_base_url": BASE + "/",
        "jitsi_app_id": "portico",
        "jitsi_secret": SECRET,
        "practice_address": "",
    }
    assert owner.post("/settings/video", form, form_page="/settings/video").status_code == 302
    with in_practice(practice):
        sealed = db.session.get(VideoSettings, 1).jitsi_secret_sealed
    assert SECRET.encode() not in sealed
    mine = book(in_practice, practice, online.robin.id, online.service_id, soon())
    robin = logged_in(visit, practice, online.robin.email)
    target = robin.get(f"/portal/appointments/{mine}/join").headers["Location"]
    link = room_link(in_practice, practice, online.robin.id)
    assert target.startswith(link + "?jwt=")
    token = target.split("?jwt=", 1)[1]
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="jitsi", issuer="portico")
    assert claims["room"] == link.rsplit("/", 1)[1] and claims["sub"] == "meet.example.org"
    assert 0 < claims["exp"] - datetime.now(UTC).timestamp() <= 300
    assert "Robin" not in str(claims) and "robin" not in target
    # Another client's token names another room; a token made ten minutes ago has expired.
    other = make_client(practice, first="Sam")
    book(in_practice, practice, other.id, online.service_id, soon(50))
    with in_practice(practice):
        settings = video_settings()
        theirs = jwt.decode(
            rooms.room_token(settings, rooms.client_room_name(other.id), datetime.now(UTC)),
            SECRET,
            algorithms=["HS256"],
            audience="jitsi",
        )
        old = rooms.room_token(settings, claims["room"], datetime.now(UTC) - timedelta(minutes=10))
    assert theirs["room"] != claims["room"]
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(old, SECRET, algorithms=["HS256"], audience="jitsi")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            token, "another secret, as long as the real one is", algorithms=["HS256"], audience="jitsi"
        )


def test_the_settings_page_refuses_what_would_not_work(online, visit, in_practice):
    owner = visit(online.practice)
    owner.login(online.practice.owner_email)
    page = owner.get("/settings/video").get_data(as_text=True)
    assert re.search(r'<input[^>]*checked[^>]*value="jitsi"|<input[^>]*value="jitsi"[^>]*checked', page)
    assert BASE in page
    bad = {
        "service": "jitsi",
        "jitsi_base_url": "http://meet.example.org",
        "jitsi_app_id": "",
        "jitsi_secret": "",
    }
    response = owner.post("/settings/video", bad, form_page="/settings/video")
    assert response.status_code == 400 and "https://" in response.get_data(as_text=True)
    no_secret = {**bad, "jitsi_base_url": BASE, "jitsi_app_id": "portico"}
    response = owner.post("/settings/video", no_secret, form_page="/settings/video")
    assert response.status_code == 400 and "app secret" in response.get_data(as_text=True)
    unknown = {**bad, "service": "skype"}
    assert owner.post("/settings/video", unknown, form_page="/settings/video").status_code == 400
    clinician = visit(online.practice)
    clinician.login(online.alma)
    assert clinician.get("/settings/video").status_code in (403, 404)


def test_account_room_jitsi_link_is_permanent(online, visit):
    alma = visit(online.practice)
    alma.login(online.alma)
    first = re.search(r'id="my-room-link" value="([^"]+)"', alma.get("/account/room").get_data(as_text=True))
    again = re.search(r'id="my-room-link" value="([^"]+)"', alma.get("/account/room").get_data(as_text=True))
    assert first and again and first.group(1) == again.group(1) and first.group(1).startswith(BASE + "/")
    assert "Alma" not in first.group(1)


def test_a_link_per_clinician_is_pasted_validated_and_used(online, in_practice, visit, mailbox, run_jobs):
    set_video(in_practice, online.practice, service="per_clinician")
    alma = visit(online.practice)
    alma.login(online.alma)
    assert "own-link-form" in alma.get("/account/room").get_data(as_text=True)
    for bad in ("http://zoom.us/j/123", "javascript:alert(1)", "https://", "https://zoom.us/j/1 2"):
        response = alma.post("/account/room", {"link": bad}, form_page="/account/room")
        assert response.status_code == 400, bad
    mine = "https://zoom.us/j/5551234567?pwd=abc"
    assert alma.post("/account/room", {"link": mine}, form_page="/account/room").status_code == 302
    assert mine.replace("&", "&amp;") in alma.get("/account/room").get_data(as_text=True)
    appointment = book(in_practice, online.practice, online.robin.id, online.service_id, soon())
    run_jobs()
    [(_, event, _, _)] = invites_of(mailbox, online.robin.email)
    assert str(event["location"]) == mine
    robin = logged_in(visit, online.practice, online.robin.email)
    assert robin.get(f"/portal/appointments/{appointment}/join").headers["Location"] == mine
    # No regeneration in this mode: the record shows no room panel and the button's URL is 404.
    owner = visit(online.practice)
    owner.login(online.practice.owner_email)
    assert "room-panel" not in owner.get(f"/clients/{online.robin.id}").get_data(as_text=True)
    response = owner.post(f"/clients/{online.robin.id}/room", {}, form_page=f"/clients/{online.robin.id}")
    assert response.status_code == 404


def test_the_services_page_marks_where_a_service_takes_place(online, visit, in_practice):
    owner = visit(online.practice)
    owner.login(online.practice.owner_email)
    page = owner.get(f"/services/{online.service_id}").get_data(as_text=True)
    assert 'name="delivery"' in page
    form = {
        "name": "Therapy",
        "duration_minutes": "50",
        "service_code": "",
        "price": "",
        "bookable_online": "y",
        "delivery": "either",
        "is_active": "y",
    }
    assert owner.post(f"/services/{online.service_id}", form, form_page="/services/new").status_code == 302
    with in_practice(online.practice):
        assert db.session.get(Service, online.service_id).delivery == "either"
    form["delivery"] = "underwater"
    assert owner.post(f"/services/{online.service_id}", form, form_page="/services/new").status_code == 400


def test_only_staff_who_see_the_client_regenerate_and_a_preview_does_not_join(
    online, in_practice, visit, make_staff, make_client
):
    practice = online.practice
    stranger = make_staff(practice, "clinician", name="Not Robin's Clinician")
    appointment = book(in_practice, practice, online.robin.id, online.service_id, soon())
    link = room_link(in_practice, practice, online.robin.id)
    other = visit(practice)
    other.login(stranger)
    response = other.post(f"/clients/{online.robin.id}/room", {}, form_page="/account/room")
    assert response.status_code == 404 and room_link(in_practice, practice, online.robin.id) == link
    assert other.get(f"/calendar/appointments/{appointment}/join").status_code == 404
    # The owner previewing the portal as a test client sees no Join and cannot use one.
    tester = make_client(practice, first="Test", last="Client", is_test=True)
    test_appointment = book(
        in_practice, practice, tester.id, online.service_id, datetime.now(UTC) + timedelta(minutes=5)
    )
    owner = visit(practice)
    owner.login(practice.owner_email)
    owner.post("/settings/preview", {"client_id": tester.id}, form_page="/settings/preview")
    assert "join-session" not in owner.get("/portal/appointments").get_data(as_text=True)
    assert owner.get(f"/portal/appointments/{test_appointment}/join").status_code == 403
