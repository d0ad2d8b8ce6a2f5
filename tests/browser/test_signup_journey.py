"""The signup journey in a real browser, as a newcomer does it: apex signup form with the live
address check, hand-off to the new practice's own host, "Get started", log out, welcome page."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

PASSWORD = "correct-horse-battery"


def csp_violations(errors: list[str]) -> list[str]:
    return [e for e in errors if "Content Security Policy" in e or "Content-Security-Policy" in e]


def check_address(page, live_server, subdomain: str) -> dict:
    response = page.request.get(f"{live_server.base_url}/signup/check", params={"subdomain": subdomain})
    assert response.ok, response.status
    return response.json()


def test_newcomer_signs_up_opens_portal_and_logs_out(page, live_server, console_errors, output_dir):
    slug = f"journey-{uuid.uuid4().hex[:8]}"
    practice_name = f"Journey Therapy {slug[-4:]}"
    email = f"owner@{slug}.example.com"
    address = f"{slug}.localhost:{live_server.port}"

    page.goto(f"{live_server.base_url}/signup")
    expect(page.get_by_role("heading", name="Create your practice portal")).to_be_visible()
    # The address field shows the apex it hangs off, port included.
    expect(page.locator(".input-group-text")).to_have_text(f".localhost:{live_server.port}")

    page.get_by_label("Practice name").fill(practice_name)
    subdomain = page.get_by_label("Portal address")
    feedback = page.locator("#subdomain-feedback")

    # A reserved address is refused live, before anything is submitted.
    subdomain.press_sequentially("admin", delay=30)
    expect(feedback).to_have_text(re.compile("reserved"))
    expect(subdomain).to_have_class(re.compile(r"\bis-invalid\b"))

    # A good, unused one is confirmed with the full address.
    subdomain.fill("")
    subdomain.press_sequentially(slug, delay=20)
    expect(feedback).to_have_text(f"{address} is available.")
    expect(subdomain).to_have_class(re.compile(r"\bis-valid\b"))

    page.get_by_label("Your name").fill("Jo Newcomer")
    page.get_by_label("Your email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create my portal").click()

    # Landed on the practice's own host, logged in, with the hand-off token gone from the address.
    page.wait_for_url(f"http://{address}/")
    live_server.track(slug)
    assert "token" not in page.url
    expect(page.get_by_role("heading", level=1)).to_have_text(practice_name)
    expect(page.locator("#practice-address")).to_have_text(address)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_text("Jo Newcomer")).to_be_visible()

    screenshot = output_dir / "signup-home.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.exists() and screenshot.stat().st_size > 0

    # The address is now taken.
    assert check_address(page, live_server, slug)["available"] is False

    page.get_by_role("button", name="Get started").click()
    page.wait_for_url(f"http://{address}/")
    expect(page.locator("#portal-open")).to_have_text(f"Your client portal is open at {address}.")
    expect(page.get_by_text("Your client portal is open. Clients can now log in here.")).to_be_visible()
    expect(page.get_by_role("button", name="Get started")).to_have_count(0)

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"http://{address}/login")
    expect(page.get_by_text("You are logged out.")).to_be_visible()

    # A visitor now sees the open portal's welcome page, not the owner's home.
    page.goto(f"http://{address}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome to {practice_name}")
    expect(page.get_by_role("link", name="Log in").first).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    expect(page.locator("#practice-address")).to_have_count(0)

    assert console_errors == [], "console errors during the journey:\n" + "\n".join(console_errors)


def test_signup_errors_rerender_and_create_nothing(page, live_server, console_errors, output_dir):
    slug = f"errors-{uuid.uuid4().hex[:8]}"
    page.goto(f"{live_server.base_url}/signup")

    page.get_by_label("Practice name").fill("Error Prone Practice")
    page.get_by_label("Portal address").fill("Bad--Name")
    page.get_by_label("Your name").fill("Sam Mistake")
    page.get_by_label("Your email").fill(f"owner@{slug}.example.com")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create my portal").click()

    # Re-rendered on the apex with a message beside each bad field; what was typed is kept.
    page.wait_for_load_state()
    assert page.url == f"{live_server.base_url}/signup"
    expect(page.locator("#subdomain-feedback")).to_have_text(
        "The address cannot contain two hyphens in a row."
    )
    expect(page.get_by_label("Portal address")).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.get_by_text(re.compile(r"at least 10|between 10 and", re.IGNORECASE)).first).to_be_visible()
    expect(page.get_by_label("Password")).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.get_by_label("Password")).to_have_value("")  # a password is never echoed back
    expect(page.get_by_label("Practice name")).to_have_value("Error Prone Practice")
    page.screenshot(path=str(output_dir / "signup-errors.png"), full_page=True)

    # A good address, still a short password: refused again, and the address stays free.
    page.get_by_label("Portal address").fill(slug)
    expect(page.locator("#subdomain-feedback")).to_have_text(re.compile("is available"))
    page.get_by_label("Password").fill("tooshort")
    page.get_by_role("button", name="Create my portal").click()
    page.wait_for_load_state()
    assert page.url == f"{live_server.base_url}/signup"
    expect(page.get_by_label("Password")).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.get_by_label("Portal address")).to_have_value(slug)

    result = check_address(page, live_server, slug)
    assert result == {"available": True, "message": f"{slug}.localhost:{live_server.port} is available."}
    assert live_server.practice_id(slug) is None
    assert live_server.practice_id("bad--name") is None

    # Failed submissions are 400s (the browser may log those), but never a CSP violation.
    assert csp_violations(console_errors) == [], "\n".join(console_errors)
