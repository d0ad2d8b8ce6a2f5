"""In a real browser, at phone width (390x844) and on a desktop: a client sees "Join session" on an
online appointment that starts in a few minutes (and not on one tomorrow), and following it lands in
their own room on the practice's Jitsi server (answered here by a stand-in); the clinician sees it on
the appointment, and copies their permanent link from "My room"."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from blueprints.auth.service import find_user_by_email
from blueprints.people.models import Client
from blueprints.rooms.operations import rooms
from blueprints.rooms.operations.video import video_settings
from blueprints.scheduling.operations.appointments import book
from blueprints.scheduling.operations.catalog import add_service
from tenants.database import db
from tenants.features import practice_settings
from tests.browser.conftest import assert_no_sideways_scroll
from tests.browser.test_every_page import axe_script, check_page
from tests.browser.test_small_things_journey import log_in

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
JITSI = "https://meet.example.org"


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_join_session_at_phone_width_and_on_a_desktop(
    size, page, live_server, make_practice, make_staff, make_client, in_practice, console_errors, output_dir
):
    practice = make_practice(name=f"Online Therapy {uuid.uuid4().hex[:4]}")
    alma = make_staff(practice, "clinician", name="Alma Able")
    robin = make_client(
        practice, first="Robin", email=f"robin@{practice.slug}.example.com", login=True, clinicians=(alma,)
    )
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with in_practice(practice):
        practice_settings().portal_enabled = True
        settings = video_settings()
        settings.service, settings.jitsi_base_url = "jitsi", JITSI
        clinician = find_user_by_email(alma)
        service = add_service("Online therapy", 50, [clinician], delivery="online")
        client = db.session.get(Client, robin.id)
        starting = book(client, clinician, service, now + timedelta(minutes=5), notify=False).id
        tomorrow = book(client, clinician, service, now + timedelta(days=1), notify=False).id
        link = rooms.client_room_link(robin.id)
        db.session.commit()
    page.set_viewport_size(size)
    page.context.add_init_script(path=str(axe_script()))
    problems: list[str] = []

    def checked(label: str) -> None:
        """Once (at phone width): every size's overflow, axe, duplicate ids and small targets."""
        if size == PHONE:
            problems.extend(check_page(page, label, output_dir))
            page.set_viewport_size(size)

    reached = []

    def stand_in(route):
        reached.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<title>Room</title><main>Room</main>")

    page.route(f"{JITSI}/**", stand_in)

    log_in(page, live_server, practice, robin.email)
    page.goto(live_server.practice_url(practice.slug, "/portal/appointments"))
    join = page.locator(f"#join-session-{starting}")
    expect(join).to_be_visible()
    expect(join).to_contain_text("Join session")
    expect(page.locator(f"#join-session-{tomorrow}")).to_have_count(0)
    assert join.bounding_box()["height"] >= 30
    assert_no_sideways_scroll(page)
    page.screenshot(path=str(output_dir / f"portal-join-{size['width']}.png"), full_page=True)
    checked("portal-appointments")
    join.click()
    page.wait_for_url(link)
    assert reached == [link] and "robin" not in link.lower()

    # The clinician: Join on the appointment, and their own permanent link to copy.
    page.context.clear_cookies()
    log_in(page, live_server, practice, alma)
    page.goto(live_server.practice_url(practice.slug, f"/calendar/appointments/{starting}"))
    expect(page.locator(f"#join-session-{starting}")).to_be_visible()
    assert_no_sideways_scroll(page)
    page.screenshot(path=str(output_dir / f"staff-join-{size['width']}.png"), full_page=True)
    checked("staff-appointment")
    page.goto(live_server.practice_url(practice.slug, "/account/room"))
    field = page.get_by_label("Your room link")
    expect(field).to_have_value(re.compile(rf"^{re.escape(JITSI)}/[a-z0-9_-]{{32}}$"))
    assert_no_sideways_scroll(page)
    page.screenshot(path=str(output_dir / f"my-room-{size['width']}.png"), full_page=True)
    checked("my-room")

    # The owner: the client's room on their record, with "New room link".
    page.context.clear_cookies()
    log_in(page, live_server, practice, practice.owner_email)
    page.goto(live_server.practice_url(practice.slug, f"/clients/{robin.id}"))
    expect(page.locator("#client-room-link")).to_have_value(link)
    expect(page.get_by_role("button", name="New room link")).to_be_visible()
    assert_no_sideways_scroll(page)
    checked("client-record-room")
    page.get_by_role("button", name="New room link").click()
    expect(page.locator("#client-room-link")).not_to_have_value(link)
    assert problems == [], "\n".join(problems)
    assert console_errors == [], "\n".join(console_errors)
