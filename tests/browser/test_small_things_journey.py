"""In a real browser, the smaller things of issue 10: "Find my practice" on the apex page,
127.0.0.1 in development, Monday-to-Friday hours in one submit, and "New appointment" choosing a
clinician who offers the service as the service changes (the page's own script, under the CSP)."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from blueprints.auth.service import find_user_by_email
from blueprints.scheduling.operations.catalog import add_service
from tenants.database import db
from tests.browser.conftest import open_menu
from tests.conftest import OWNER_PASSWORD


def log_in(page, live_server, practice, email):
    page.goto(live_server.practice_url(practice.slug, "/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    open_menu(page)  # on a phone "Log out" is in the folded menu
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_find_my_practice_from_the_apex_page(page, live_server, make_practice, console_errors, output_dir):
    practice = make_practice(name=f"Findable Therapy {uuid.uuid4().hex[:4]}")
    # Where a developer types: the loopback address comes back to the apex.
    page.goto(f"http://127.0.0.1:{live_server.port}/")
    assert page.url == f"{live_server.base_url}/"
    finder = page.locator("#find-practice")
    expect(page.get_by_role("heading", name="Find my practice / Log in")).to_be_visible()

    finder.get_by_label("Your practice's portal address").fill("no-such-practice-here")
    finder.get_by_role("button", name="Go to the login page").click()
    expect(finder).to_contain_text("We could not find a practice portal at that address.")
    expect(finder.get_by_label("Your practice's portal address")).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=str(output_dir / "apex-find-unknown.png"), full_page=True)

    finder.get_by_label("Your practice's portal address").fill(practice.slug.upper())
    finder.get_by_role("button", name="Go to the login page").click()
    page.wait_for_url(live_server.practice_url(practice.slug, "/login"))
    expect(page.get_by_label("Email")).to_be_visible()
    page.screenshot(path=str(output_dir / "apex-find-login.png"), full_page=True)
    # The only console error: the browser's note of the 400 answer to the unknown address.
    assert all("400" in error for error in console_errors), "\n".join(console_errors)


def test_weekdays_at_once_and_the_clinician_follows_the_service(
    page, live_server, make_practice, make_staff, in_practice, console_errors, output_dir
):
    practice = make_practice(name=f"Small Things Clinic {uuid.uuid4().hex[:4]}")
    alma = make_staff(practice, "clinician", name="Alma Able")
    ben = make_staff(practice, "clinician", name="Ben Baker")
    with in_practice(practice):
        alma_user, ben_user = find_user_by_email(alma), find_user_by_email(ben)
        add_service("Individual", 50, [alma_user])
        couples = add_service("Couples", 80, [ben_user]).id
        alma_id, ben_id = alma_user.id, ben_user.id
        db.session.commit()
    log_in(page, live_server, practice, practice.owner_email)

    # Monday to Friday, 9 to 17, in one submit.
    page.goto(live_server.practice_url(practice.slug, "/availability"))
    form = page.locator("#add-hours")
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"):
        form.get_by_label(day).check()
    form.get_by_label("From").fill("09:00")
    form.get_by_label("Until").fill("17:00")
    form.get_by_role("button", name="Add hours").click()
    expect(page.get_by_text("The hours were added.")).to_be_visible()
    rows = page.locator("#weekly-hours tr")
    for day in range(5):
        expect(rows.nth(day)).to_contain_text(re.compile(r"09:00.*17:00"))
    expect(rows.nth(5)).to_contain_text("Closed")
    page.screenshot(path=str(output_dir / "weekly-hours-mon-fri.png"), full_page=True)

    # New appointment: choosing Couples (Ben's only) moves the clinician to Ben, and back.
    page.goto(live_server.practice_url(practice.slug, f"/calendar/new?clinician={alma_id}"))
    service, clinician = page.get_by_label("Service"), page.get_by_label("Clinician")
    expect(clinician).to_have_value(str(alma_id))
    service.select_option(str(couples))
    expect(clinician).to_have_value(str(ben_id))
    service.select_option(label="Individual (50 min)")
    expect(clinician).to_have_value(str(alma_id))
    page.screenshot(path=str(output_dir / "new-appointment-clinician.png"), full_page=True)
    assert console_errors == [], "\n".join(console_errors)
