"""In a real browser: staff give a guardian access to two minors, the guardian activates, logs in and
switches between them; a client follows a profile link from an email to their appointments page."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tenants.database import db
from tenants.features import practice_settings
from tests.conftest import OWNER_PASSWORD, sent_by

ACTIVATION_LINK = re.compile(r"http://([^/\s]+)(/activate/[A-Za-z0-9_-]+)")
PROFILE_LINK = re.compile(r"http://([^/\s]+)(/l/[A-Za-z0-9_-]+)")
GUARDIAN_PASSWORD = "guardian-password-4521"
TIMEOUT = 10_000  # ms, for expect() on pages that follow a form post


def born_years_ago(years: int) -> date:
    """A date of birth about `years` years back (by days, so 29 February cannot trip it)."""
    return date.today() - timedelta(days=round(365.25 * years) + 30)


def open_portal(in_practice, practice) -> None:
    with in_practice(practice):
        practice_settings().portal_enabled = True
        db.session.commit()


def mail_to(mailbox, practice, address: str) -> list:
    """The emails this practice sent to `address` (other tests' jobs may deliver in the same run)."""
    return [m for m in mailbox.to(address) if sent_by(m, practice)]


def link_in(mailbox, message, pattern: re.Pattern, live_server, practice) -> str:
    """The link of `pattern` in the email's body, checked to point at the practice's live host."""
    body = mailbox.body(message)
    match = pattern.search(body)
    assert match, f"no link in the email:\n{body}"
    host, path = match.groups()
    assert host == f"{practice.slug}.localhost:{live_server.port}", host
    return live_server.practice_url(practice.slug, path)


def log_in(page, live_server, practice, email: str, password: str) -> None:
    page.goto(live_server.practice_url(practice.slug, "/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


@pytest.fixture
def staff_page(browser):
    """A browser context of its own for the practice's staff (the `page` fixture is the client's)."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT)
    try:
        yield context.new_page()
    finally:
        context.close()


def add_guardian(page, live_server, practice, minor, name: str, email: str) -> None:
    """On the minor's record: "Add a guardian", with the form's default permissions."""
    page.goto(live_server.practice_url(practice.slug, "/clients"))
    page.get_by_role("link", name=minor.name, exact=True).click()
    expect(page.locator("#client-name")).to_contain_text(minor.name)
    expect(page.locator("#client-name")).to_contain_text("Minor")
    page.get_by_role("link", name="Add a guardian").click()
    expect(page.get_by_role("heading", name=f"Add a guardian for {minor.name}")).to_be_visible()
    page.get_by_label("Guardian's name").fill(name)
    page.get_by_label("Guardian's email").fill(email)
    # The defaults: appointments, forms, documents and messages on; billing off until ticked.
    for offered in ("See and manage appointments", "Complete forms", "See shared documents and upload"):
        expect(page.get_by_label(offered)).to_be_checked()
    expect(page.get_by_label("Message the practice on the minor's behalf")).to_be_checked()
    expect(page.get_by_label("See and pay the minor's invoices")).not_to_be_checked()
    page.get_by_label("Message the practice on the minor's behalf").uncheck()
    page.get_by_label("Message the practice on the minor's behalf").check()
    page.get_by_role("button", name="Add the guardian and send the invitation").click()

    page.wait_for_url(live_server.practice_url(practice.slug, f"/clients/{minor.id}"))
    expect(page.get_by_text(f"{name} can now act for {minor.name}. An email is on its way.")).to_be_visible(
        timeout=TIMEOUT
    )
    guardians = page.locator("#guardians")
    expect(guardians).to_contain_text(f"{name} ({email})")
    expect(guardians).to_contain_text("Invited")


def test_guardian_of_two_minors_activates_logs_in_and_switches(
    page,
    staff_page,
    live_server,
    make_practice,
    make_client,
    in_practice,
    mailbox,
    run_jobs,
    console_errors,
    output_dir,
):
    practice = make_practice(name=f"Willow Family Therapy {uuid.uuid4().hex[:4]}")
    open_portal(in_practice, practice)
    mia = make_client(practice, first="Mia", last="Lane", date_of_birth=born_years_ago(8))
    teo = make_client(practice, first="Teo", last="Lane", date_of_birth=born_years_ago(14))
    guardian_name = "Pat Lane"
    guardian_email = f"pat-{uuid.uuid4().hex[:8]}@{practice.slug}.example.com"

    # Staff: the same guardian for both minors.
    log_in(staff_page, live_server, practice, practice.owner_email, OWNER_PASSWORD)
    expect(staff_page.get_by_role("button", name="Log out")).to_be_visible()
    add_guardian(staff_page, live_server, practice, mia, guardian_name, guardian_email)
    add_guardian(staff_page, live_server, practice, teo, guardian_name, guardian_email)
    staff_page.screenshot(path=str(output_dir / "staff-second-minor-guardians.png"), full_page=True)

    run_jobs()
    invitations = mail_to(mailbox, practice, guardian_email)
    # Not activated yet when the second minor was added, so both emails carry an activation link.
    assert [m["Subject"] for m in invitations] == [
        f"You are invited to the {practice.record.name} portal"
    ] * 2, [m["Subject"] for m in invitations]
    assert "guardian of Mia Lane" in mailbox.body(invitations[0])
    assert "guardian of Teo Lane" in mailbox.body(invitations[1])
    activation_url = link_in(mailbox, invitations[-1], ACTIVATION_LINK, live_server, practice)

    # The guardian, in a browser context of their own: activate, and land logged in on the chooser.
    page.goto(activation_url)
    expect(page.get_by_role("heading", name=f"Welcome to {practice.record.name}")).to_be_visible()
    expect(page.get_by_text(guardian_email)).to_be_visible()
    page.get_by_label("Choose a password").fill(GUARDIAN_PASSWORD)
    page.get_by_label("Repeat the password").fill(GUARDIAN_PASSWORD)
    page.get_by_role("button", name="Activate my account").click()
    page.wait_for_url(live_server.practice_url(practice.slug, "/portal/choose"))
    expect(page.get_by_text("Your password is set and you are logged in.")).to_be_visible()
    expect(page.get_by_role("heading", name="Whose portal would you like to open?")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.locator(".navbar-text")).to_have_text(guardian_name)
    page.screenshot(path=str(output_dir / "guardian-activated.png"), full_page=True)

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(live_server.practice_url(practice.slug, "/login"))
    expect(page.get_by_text("You are logged out.")).to_be_visible()

    # Log in again with the new password: the chooser lists both minors, as guardian.
    log_in(page, live_server, practice, guardian_email, GUARDIAN_PASSWORD)
    page.wait_for_url(live_server.practice_url(practice.slug, "/portal/choose"))
    records = page.locator("#choose-records")
    expect(records.get_by_role("button")).to_have_text(["Mia Lane", "Teo Lane"], timeout=TIMEOUT)
    expect(records).to_contain_text("as guardian")
    page.screenshot(path=str(output_dir / "guardian-chooser.png"), full_page=True)

    records.get_by_role("button", name="Mia Lane").click()
    page.wait_for_url(live_server.practice_url(practice.slug, "/portal"))
    banner = page.locator("#record-banner")
    expect(banner).to_have_text(re.compile(r"You are acting for\s+Mia Lane\."), timeout=TIMEOUT)
    switch = page.locator("#switch-records")
    expect(switch.get_by_role("button")).to_have_text(["Teo Lane"])
    expect(page.locator("#main-nav").get_by_role("link", name="Appointments")).to_be_visible()
    page.screenshot(path=str(output_dir / "guardian-portal-mia.png"), full_page=True)

    switch.get_by_role("button", name="Teo Lane").click()
    page.wait_for_url(live_server.practice_url(practice.slug, "/portal"))
    expect(banner).to_have_text(re.compile(r"You are acting for\s+Teo Lane\."), timeout=TIMEOUT)
    expect(switch.get_by_role("button")).to_have_text(["Mia Lane"])
    page.screenshot(path=str(output_dir / "guardian-portal-teo.png"), full_page=True)

    assert console_errors == [], "console errors on the guardian's pages:\n" + "\n".join(console_errors)


def test_client_follows_a_profile_link_to_their_appointments(
    page,
    staff_page,
    live_server,
    make_practice,
    make_client,
    in_practice,
    mailbox,
    run_jobs,
    console_errors,
    output_dir,
):
    practice = make_practice(name=f"Harbour Counselling {uuid.uuid4().hex[:4]}")
    open_portal(in_practice, practice)  # profile links are on by default
    email = f"noa-{uuid.uuid4().hex[:8]}@{practice.slug}.example.com"
    client = make_client(practice, first="Noa", last="Berg", email=email)

    # Staff: "Email a profile link" on the client's record.
    log_in(staff_page, live_server, practice, practice.owner_email, OWNER_PASSWORD)
    expect(staff_page.get_by_role("button", name="Log out")).to_be_visible()
    staff_page.goto(live_server.practice_url(practice.slug, f"/clients/{client.id}"))
    panel = staff_page.locator("#profile-links-panel")
    expect(panel.locator("#no-live-profile-links")).to_be_visible()
    panel.get_by_role("button", name="Email a profile link").click()
    staff_page.wait_for_url(live_server.practice_url(practice.slug, f"/clients/{client.id}"))
    expect(staff_page.get_by_text(f"A profile link was emailed to {email}.")).to_be_visible(timeout=TIMEOUT)
    expect(panel.locator("#live-profile-links li")).to_have_count(1)
    staff_page.screenshot(path=str(output_dir / "staff-profile-link-sent.png"), full_page=True)

    run_jobs()
    [message] = mail_to(mailbox, practice, email)
    assert message["Subject"] == f"Your link to the {practice.record.name} portal"
    link = link_in(mailbox, message, PROFILE_LINK, live_server, practice)

    # The client, not logged in, in a browser context of their own.
    continue_label = f"Continue to {practice.record.name} portal"
    page.goto(link)
    expect(page.get_by_role("heading", name=continue_label)).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    page.screenshot(path=str(output_dir / "client-confirm.png"), full_page=True)
    page.get_by_role("button", name=continue_label).click()

    page.wait_for_url(live_server.practice_url(practice.slug, "/portal/appointments"))
    assert "/l/" not in page.url and link.rsplit("/", 1)[1] not in page.url
    expect(page.get_by_role("heading", name="Appointments", exact=True)).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#record-banner")).to_contain_text("Noa Berg")
    expect(page.locator("#no-upcoming")).to_be_visible()
    page.screenshot(path=str(output_dir / "client-appointments.png"), full_page=True)
    assert console_errors == [], "console errors on the client's pages:\n" + "\n".join(console_errors)

    # The link worked once: opened again, it is the neutral "email me a new link" page.
    page.goto(link)
    expect(page.locator("#link-unavailable")).to_have_text("This link cannot be used")
    expect(page.locator("#new-link-form").get_by_role("button", name="Email me a new link")).to_be_visible()
    page.screenshot(path=str(output_dir / "client-link-used.png"), full_page=True)
    # The only console error now is the browser's note of the page's 404 status.
    assert all("404" in error for error in console_errors), "\n".join(console_errors)
