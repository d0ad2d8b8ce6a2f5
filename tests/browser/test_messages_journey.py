"""In a real browser at phone width: the automated messages settings page (previews, a refused merge
tag shown beside its field) and the client's text message opt-in page, under the CSP, with no
sideways scrolling and no duplicate ids."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from tests.browser.conftest import open_menu
from tests.browser.test_small_things_journey import log_in

# The page's own content (the staff navigation bar belongs to the layout, restyled elsewhere).
NO_SIDEWAYS_SCROLL = (
    "[...document.querySelectorAll('main *')]"
    ".every(e => e.getBoundingClientRect().right <= window.innerWidth)"
)
DUPLICATE_IDS = (
    "(() => { const ids = [...document.querySelectorAll('[id]')].map(e => e.id);"
    " return ids.filter((id, i) => ids.indexOf(id) !== i); })()"
)


def test_messages_settings_and_text_opt_in_at_phone_width(
    page, live_server, make_practice, make_client, in_practice, console_errors, output_dir
):
    practice = make_practice(name=f"Harbour Counselling {uuid.uuid4().hex[:4]}")
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, practice, practice.owner_email)
    page.goto(live_server.practice_url(practice.slug, "/settings/messages"))
    expect(page.get_by_role("heading", name="Automated messages")).to_be_visible()
    page.locator("#template-reminder summary").click()
    expect(page.locator("#preview-reminder")).to_contain_text("Hello Avery,")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    assert page.evaluate(DUPLICATE_IDS) == []
    page.get_by_label("Appointment reminder: message").fill("Hi {{first_name}}, {{diagnosis}}")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#body_reminder-errors")).to_contain_text("Unknown merge tag {{diagnosis}}")
    expect(page.locator("#body_reminder")).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=str(output_dir / "settings-messages-refused.png"), full_page=True)
    assert page.evaluate(NO_SIDEWAYS_SCROLL)

    email = f"robin-{uuid.uuid4().hex[:6]}@example.net"
    make_client(practice, "Robin", email=email, login=True)
    with in_practice(practice):
        from tenants.database import db
        from tenants.features import practice_settings

        practice_settings().portal_enabled = True
        db.session.commit()
    open_menu(page)
    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server, practice, email)
    page.goto(live_server.practice_url(practice.slug, "/portal/texts"))
    expect(page.get_by_role("heading", name="Text messages")).to_be_visible()
    expect(page.locator("#texts-not-offered")).to_be_visible()  # no SMS account yet
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    assert console_errors == [] or all("400" in error for error in console_errors), "\n".join(console_errors)
