# ruff: noqa: F811  (clinic, online: the fixtures imported below, named by the tests)
"""Security review of session rooms and recurring series: bad series dates near the ends of the
calendar are form errors (never a 500), room links refuse control characters, and a group
appointment's room is not a room other clients' groups also meet in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from blueprints.people.models import Client
from blueprints.rooms.operations.video import https_link_problem
from blueprints.scheduling.models import Appointment
from blueprints.scheduling.operations import appointments
from tenants.database import db
from tests.test_rooms import book as book_online
from tests.test_rooms import logged_in as portal_login
from tests.test_rooms import online, soon  # noqa: F401
from tests.test_scheduling_series import JAN_4, rows_of, series_form
from tests.test_scheduling_staff import clinic, logged_in  # noqa: F401


@pytest.mark.parametrize(
    "overrides",
    [
        {"on_date": "9999-12-27", "repeat_count": "2"},
        {"on_date": "9999-12-20", "repeat_count": "", "repeat_until": "9999-12-31"},
    ],
)
def test_a_series_near_the_last_representable_date_is_a_form_error(clinic, visit, in_practice, overrides):
    practice, ids = clinic
    owner = logged_in(visit, practice, practice.owner_email)
    response = owner.post("/calendar/new", series_form(ids, JAN_4, 4) | overrides, form_page="/calendar/new")
    assert response.status_code == 400, response.status_code
    assert rows_of(in_practice, practice) == []


@pytest.mark.parametrize(
    "moved",
    [("0001-01-01", "00:30"), ("9999-12-31", "23:30"), ("0001-01-01", "23:59")],
)
def test_moving_a_series_date_to_the_ends_of_the_calendar_is_refused_not_a_500(
    clinic, visit, in_practice, moved
):
    practice, ids = clinic
    owner = logged_in(visit, practice, practice.owner_email)
    form = series_form(
        ids, JAN_4, 4, skip="2", action="book", **{"move-2-date": moved[0], "move-2-time": moved[1]}
    )
    response = owner.post("/calendar/new", form, form_page="/calendar/new")
    assert response.status_code in (400, 409), response.status_code
    assert rows_of(in_practice, practice) == []


@pytest.mark.parametrize(
    "link",
    [
        "https://meet.example.org/room\x01",
        "https://meet.example.org/\x7froom",
        "https://meet.example.org/room\u202e",  # right-to-left override: shows another address
        "https://meet.example.org/\u200broom",
    ],
)
def test_room_links_refuse_control_and_invisible_characters(link):
    assert https_link_problem(link, 500) is not None


def test_a_link_with_ordinary_characters_is_still_accepted():
    assert https_link_problem("https://meet.example.org/Zimmer-ä_1?pwd=x", 500) is None


def test_a_group_member_gets_no_room_that_another_clients_group_meets_in(
    online, in_practice, visit, make_client
):
    """Robin's group and Kim's group (same clinician, other clients) must not share a room, nor meet
    in the clinician's permanent one: Robin could join Kim's group session (or any session Alma
    holds in her permanent room) whenever he liked, with a fresh token when tokens are required."""
    practice = online.practice
    kim = make_client(practice, first="Kim", email=f"kim@{practice.slug}.example.com", login=True)
    sam = make_client(practice, first="Sam")
    lee = make_client(practice, first="Lee")
    robins = book_online(in_practice, practice, online.robin.id, online.service_id, soon(48))
    kims = book_online(in_practice, practice, kim.id, online.service_id, soon(96))
    with in_practice(practice):
        appointments.add_to_group(
            db.session.get(Appointment, robins), db.session.get(Client, sam.id), notify=False
        )
        appointments.add_to_group(
            db.session.get(Appointment, kims), db.session.get(Client, lee.id), notify=False
        )
        db.session.commit()
    # (Join hands a group's room out only during the member's own session: compare the rooms.)
    from blueprints.rooms.operations.rooms import clinician_room_name, room_of

    with in_practice(practice):
        robin_room = room_of(db.session.get(Appointment, robins))[1]
        kim_room = room_of(db.session.get(Appointment, kims))[1]
        permanent = clinician_room_name(db.session.get(Appointment, robins).clinician_user_id)
    assert robin_room != kim_room
    assert permanent not in robin_room and permanent not in kim_room


def test_a_short_jitsi_secret_is_refused(online, visit, in_practice):
    """Anyone who guesses the shared HS256 secret signs tokens for any room, as moderator."""
    owner = visit(online.practice)
    owner.login(online.practice.owner_email)
    weak = {
        "service": "jitsi",
        "jitsi_base_url": "https://meet.example.org",
        "jitsi_app_id": "portico",
        "jitsi_secret": "secret",
        "practice_address": "",
    }
    response = owner.post("/settings/video", weak, form_page="/settings/video")
    assert response.status_code == 400 and "at least 32" in response.get_data(as_text=True)
    with in_practice(online.practice):
        from blueprints.rooms.operations.video import uses_tokens, video_settings

        assert not uses_tokens(video_settings())
    strong = {**weak, "jitsi_secret": "x" * 40}
    assert owner.post("/settings/video", strong, form_page="/settings/video").status_code == 302


def test_cancelling_this_and_following_withdraws_their_pending_requests(clinic, visit, in_practice):
    """As cancelling one appointment does: no pending request is left on a cancelled occurrence."""
    from sqlalchemy import select

    from blueprints.scheduling.models import AppointmentRequest
    from blueprints.scheduling.operations.requests import request_change
    from tests.test_scheduling_series import _book_series

    practice, ids = clinic
    series_id = _book_series(in_practice, practice, ids, JAN_4, 4)
    rows = rows_of(in_practice, practice, series_id)
    with in_practice(practice):
        request_change(db.session.get(Appointment, rows[2][0]), "cancellation", requested_by=None)
        db.session.commit()
    owner = logged_in(visit, practice, practice.owner_email)
    page = f"/calendar/series/{series_id}"
    response = owner.post(
        page + "/cancel", {"appointment_id": str(rows[1][0]), "scope": "following"}, form_page=page
    )
    assert response.status_code == 302
    with in_practice(practice):
        [status] = db.session.scalars(
            select(AppointmentRequest.status).where(AppointmentRequest.appointment_id == rows[2][0])
        ).all()
    assert status == "withdrawn"


def test_a_group_member_gets_the_shared_room_only_while_their_session_is_on(
    online, in_practice, visit, make_client
):
    """A group's room (other clients' too) is handed to a member, with a fresh token,
    only from 15 minutes before their own session until its end, not days before or after."""
    practice = online.practice
    sam = make_client(practice, first="Sam")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    later = book_online(in_practice, practice, online.robin.id, online.service_id, soon(96))
    starting = book_online(
        in_practice, practice, online.robin.id, online.service_id, now + timedelta(minutes=10)
    )
    with in_practice(practice):
        for appointment_id in (later, starting):
            appointments.add_to_group(
                db.session.get(Appointment, appointment_id), db.session.get(Client, sam.id), notify=False
            )
        db.session.commit()
    robin = portal_login(visit, practice, online.robin.email)
    assert robin.get(f"/portal/appointments/{later}/join").status_code == 403
    assert robin.get(f"/portal/appointments/{starting}/join").status_code == 302
