"""The site menu in a real browser: folded into a "Menu" button on a phone (opens and closes, by mouse
and keyboard, and says so to screen readers), one row on a desktop with the practice's pages grouped
under "Practice" (a client's too, with no such group), and open without JavaScript."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tenants.database import db
from tenants.features import practice_settings
from tests.conftest import OWNER_PASSWORD

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def practice_with_client(make_practice, make_client, in_practice):
    practice = make_practice(name="Navigation Test Practice")
    client = make_client(practice, first="Nora", email=f"nora@{practice.slug}.example.com", login=True)
    with in_practice(practice):
        practice_settings().portal_enabled = True
        db.session.commit()
    return practice, client


def log_in(page, live_server, practice, email):
    page.goto(live_server.practice_url(practice.slug, "/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("load")


def test_the_menu_folds_up_on_a_phone_and_opens_and_closes(
    page, live_server, practice_with_client, output_dir
):
    practice, client = practice_with_client
    page.set_viewport_size(PHONE)
    log_in(page, live_server, practice, practice.owner_email)
    toggle = page.get_by_role("button", name="Menu")
    menu = page.locator("#site-menu")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_hidden()
    expect(page.get_by_role("button", name="Log out")).to_be_hidden()
    page.screenshot(path=str(output_dir / "menu-closed-390.png"))

    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(menu.get_by_role("link", name="Calendar")).to_be_visible()
    # The bell is an entry of the menu with its words (on a desktop it is the icon alone).
    bell = menu.get_by_role("link", name="Notifications")
    expect(bell).to_be_visible()
    assert bell.evaluate("(element) => parseFloat(getComputedStyle(element).fontSize)") > 10
    log_out = page.get_by_role("button", name="Log out")
    expect(log_out).to_be_visible()
    box = log_out.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box  # never off screen
    assert box["height"] >= 44
    # The practice's pages are a group that opens in place.
    page.get_by_text("Practice", exact=True).click()
    expect(menu.get_by_role("link", name="Settings")).to_be_visible()
    page.screenshot(path=str(output_dir / "menu-open-390.png"), full_page=True)

    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_hidden()

    # From the keyboard: Enter opens, Escape closes and gives the focus back to the button.
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Tab")
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_be_focused()

    # The menu leads somewhere.
    toggle.click()
    menu.get_by_role("link", name="Clients").click()
    page.wait_for_url("**/clients")
    expect(page.get_by_role("heading", level=1, name="Clients")).to_be_visible()


def test_a_client_menu_folds_up_on_a_phone_too(page, live_server, practice_with_client):
    practice, client = practice_with_client
    page.set_viewport_size(PHONE)
    log_in(page, live_server, practice, client.email)
    toggle = page.get_by_role("button", name="Menu")
    expect(toggle).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_hidden()
    toggle.click()
    expect(page.locator("#site-menu").get_by_role("link", name="Home")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_the_staff_menu_is_one_row_on_a_desktop(page, live_server, practice_with_client, output_dir):
    practice, _ = practice_with_client
    page.set_viewport_size(DESKTOP)
    log_in(page, live_server, practice, practice.owner_email)
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    # Everything in the header is on one line: as high as one entry, not two rows of them.
    header = page.locator(".site-nav").bounding_box()
    entry = page.locator("#main-nav .nav-link").first.bounding_box()
    assert header["height"] < 2 * entry["height"], (header, entry)
    tops = page.evaluate(
        """() => [...document.querySelectorAll('#main-nav > li, .account-nav > li, .navbar-brand')]
                .map((element) => Math.round(element.getBoundingClientRect().top))"""
    )
    assert max(tops) - min(tops) <= 8, tops
    log_out = page.get_by_role("button", name="Log out")
    expect(log_out).to_be_visible()
    assert log_out.bounding_box()["x"] + log_out.bounding_box()["width"] <= DESKTOP["width"]
    # The practice's name is shown whole, and the bell is in the row (its icon; its words for
    # screen readers), no menu to open.
    brand = page.locator(".brand-name")
    assert page.evaluate("(element) => element.scrollWidth <= element.clientWidth", brand.element_handle())
    bell = page.locator(".account-nav").get_by_role("link", name="Notifications")
    expect(bell).to_be_visible()
    assert bell.bounding_box()["width"] >= 44 and bell.bounding_box()["height"] >= 44

    # "Practice" drops down with the practice's pages, and closes on Escape or a click elsewhere.
    group = page.locator("#practice-menu")
    settings = group.get_by_role("link", name="Settings")
    expect(settings).to_be_hidden()
    group.locator("summary").click()
    expect(settings).to_be_visible()
    for name in ("Forms", "Documents", "Services", "Availability", "Staff", "Audit log"):
        expect(group.get_by_role("link", name=name)).to_be_visible()
    page.screenshot(path=str(output_dir / "practice-menu-1280.png"))
    page.keyboard.press("Escape")
    expect(settings).to_be_hidden()
    expect(group.locator("summary")).to_be_focused()
    group.locator("summary").click()
    page.locator("main").click(position={"x": 4, "y": 4})  # beside the open group, not under it
    expect(settings).to_be_hidden()
    # The account's own page sits at the end, beside "Log out".
    expect(page.locator(".account-nav").get_by_role("link", name="Security")).to_be_visible()
    # On a page of the group, the group shows where you are.
    group.locator("summary").click()
    settings.click()
    page.wait_for_url("**/settings")
    expect(page.locator("#practice-menu summary")).to_have_class("nav-link active")


def test_a_clients_menu_is_one_row_on_a_desktop_with_no_practice_group(
    page, live_server, practice_with_client
):
    practice, client = practice_with_client
    page.set_viewport_size(DESKTOP)
    log_in(page, live_server, practice, client.email)
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    for name in ("Home", "Appointments", "Forms", "Messages", "Documents"):
        expect(page.locator("#main-nav").get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(page.locator("#practice-menu")).to_have_count(0)  # running the practice is not a client's menu
    expect(page.locator(".account-nav").get_by_role("link", name="Calendar feed")).to_be_visible()
    brand = page.locator(".brand-name")  # the practice's name, whole
    assert page.evaluate("(element) => element.scrollWidth <= element.clientWidth", brand.element_handle())
    tops = page.evaluate(
        """() => [...document.querySelectorAll('#main-nav > li, .account-nav > li, .navbar-brand')]
                .map((element) => Math.round(element.getBoundingClientRect().top))"""
    )
    assert max(tops) - min(tops) <= 8, tops


def test_without_javascript_the_menu_is_simply_open(browser, live_server, practice_with_client):
    practice, _ = practice_with_client
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    try:
        page = context.new_page()
        log_in(page, live_server, practice, practice.owner_email)
        expect(page.get_by_role("button", name="Menu")).to_be_hidden()
        expect(page.locator("#main-nav").get_by_role("link", name="Calendar")).to_be_visible()
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
        box = page.get_by_role("button", name="Log out").bounding_box()
        assert box["x"] + box["width"] <= PHONE["width"], box
        page.locator("#practice-menu summary").click()  # a <details>: opens with no script at all
        expect(page.locator("#practice-menu").get_by_role("link", name="Settings")).to_be_visible()
    finally:
        context.close()
