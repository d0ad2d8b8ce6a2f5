"""In a real browser on a phone (390x844): a client fills half of a PHQ-9, the answers autosave to
the server as they go, the crisis resources appear the moment item 9 is above zero, the client
leaves and comes back to find every answer; a question shows when its condition is met."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from blueprints.auth.service import find_user_by_email
from blueprints.onboarding.models import FormResponse
from blueprints.onboarding.operations import library, record
from blueprints.onboarding.operations.instruments import PHQ9
from tenants.database import db
from tenants.features import practice_settings
from tests.browser.conftest import assert_no_sideways_scroll, open_menu
from tests.conftest import OWNER_PASSWORD

PHONE = {"width": 390, "height": 844}
CRISIS = "Call the Harbor crisis line on 555-0100, day or night."
INTAKE = {
    "resourceType": "Questionnaire",
    "status": "active",
    "title": "Intake",
    "item": [
        {"linkId": "before", "type": "boolean", "text": "Have you had therapy before?", "required": True},
        {
            "linkId": "where",
            "type": "string",
            "text": "Where did you have it?",
            "enableWhen": [{"question": "before", "operator": "=", "answerBoolean": True}],
        },
    ],
}


@pytest.fixture
def onboarding(make_practice, make_client, in_practice):
    practice = make_practice(name=f"Harbor Forms {uuid.uuid4().hex[:4]}")
    client = make_client(practice, first="Robin", email=f"robin@{practice.slug}.example.com", login=True)
    with in_practice(practice):
        practice_settings().portal_enabled = True
        owner = find_user_by_email(practice.owner_email)
        record.set_crisis_resources(owner, CRISIS)
        phq9 = library.ensure_builtins()[PHQ9.key]
        intake = library.import_form(owner, INTAKE)
        record.set_onboarding_set(owner, [phq9.id, intake.id])
        ids = (phq9.id, intake.id)
        db.session.commit()
    return practice, client, ids


def log_in(page, live_server, practice, email):
    page.goto(live_server.practice_url(practice.slug, "/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    open_menu(page)  # on a phone, "Log out" is in the menu
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def question(page, number: int):
    return page.locator("fieldset").filter(has=page.locator("legend", has_text=f"{number}."))


def test_a_client_fills_half_a_phq9_leaves_and_finds_the_answers(
    page, live_server, onboarding, in_practice, console_errors, output_dir
):
    practice, client, (phq9, _) = onboarding
    page.set_viewport_size(PHONE)
    log_in(page, live_server, practice, client.email)
    page.goto(live_server.practice_url(practice.slug, "/portal"))
    page.get_by_role("link", name="Complete PHQ-9 (depression)").click()
    expect(page.get_by_role("heading", name="PHQ-9 (depression)")).to_be_visible()
    crisis = page.locator("#crisis-resources")
    expect(crisis).to_be_hidden()
    chosen = {1: "Several days", 2: "More than half the days", 3: "Not at all", 4: "Nearly every day"}
    for number, label in chosen.items():
        question(page, number).get_by_label(label, exact=True).check()
    expect(page.locator("#autosave-status")).to_contain_text("Answers saved")
    question(page, 9).get_by_label("Several days", exact=True).check()
    expect(crisis).to_be_visible()
    expect(crisis).to_contain_text(CRISIS)
    expect(crisis).to_contain_text("not monitored in real time")
    expect(crisis).to_be_in_viewport()  # right below item 9, not at the top of a long page
    assert_no_sideways_scroll(page)
    page.screenshot(path=str(output_dir / "phq9-half-phone.png"), full_page=True)
    page.wait_for_timeout(1500)  # the last autosave (item 9) lands

    with in_practice(practice):
        draft = db.session.scalars(select(FormResponse)).one()
        assert draft.status == "in-progress" and draft.score is None

    # Away and back (a new page load: nothing comes from the browser's storage).
    page.goto(live_server.practice_url(practice.slug, "/portal"))
    expect(page.locator("#todo-list")).to_contain_text("Started: your answers are saved")
    assert page.evaluate("window.localStorage.length + window.sessionStorage.length") == 0
    page.get_by_role("link", name="Complete PHQ-9 (depression)").click()
    for number, label in chosen.items():
        expect(question(page, number).get_by_label(label, exact=True)).to_be_checked()
    expect(question(page, 9).get_by_label("Several days", exact=True)).to_be_checked()
    expect(question(page, 5).get_by_label("Not at all", exact=True)).not_to_be_checked()
    expect(crisis).to_be_visible()
    page.screenshot(path=str(output_dir / "phq9-back-phone.png"), full_page=True)
    assert console_errors == []


def test_a_question_shows_when_its_condition_is_met(page, live_server, onboarding, console_errors):
    practice, client, (_, intake) = onboarding
    page.set_viewport_size(PHONE)
    log_in(page, live_server, practice, client.email)
    page.goto(live_server.practice_url(practice.slug, f"/portal/forms/{intake}"))
    where = page.get_by_label("Where did you have it?")
    expect(where).to_be_hidden()
    page.get_by_label("Yes").check()
    expect(where).to_be_visible()
    where.fill("Boston")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#form-submitted")).to_contain_text("Intake was submitted")
    assert_no_sideways_scroll(page)
    assert console_errors == []
