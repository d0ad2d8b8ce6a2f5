"""In a real browser: the owner sets up the practice's OpenID Connect provider (a real one on
127.0.0.1, oidc-provider-mock), and a clinician signs in through it, crossing from the provider's
page back to the practice with the sign-in still bound to their browser (SameSite=Lax cookie)."""

from __future__ import annotations

import uuid

import oidc_provider_mock
import pytest
import requests
from playwright.sync_api import expect

from tests.browser.test_access_journey import log_in
from tests.conftest import OWNER_PASSWORD
from tests.test_sso_oidc import serving

TIMEOUT = 10_000  # ms


@pytest.fixture(scope="module")
def provider_url():
    with serving(oidc_provider_mock.app(require_nonce=True)) as url:
        yield url


def test_clinician_signs_in_with_the_practices_provider(
    page, browser, live_server, make_practice, make_staff, provider_url, output_dir
):
    practice = make_practice(name=f"Harbor Therapy {uuid.uuid4().hex[:4]}")
    clinician = make_staff(practice, "clinician", name="Robin Vale")
    requests.put(
        f"{provider_url}/users/robin", json={"email": clinician, "email_verified": True}, timeout=5
    ).raise_for_status()

    owner_context = browser.new_context()
    owner_context.set_default_timeout(TIMEOUT)
    owner = owner_context.new_page()
    try:
        log_in(owner, live_server, practice, practice.owner_email, OWNER_PASSWORD)
        owner.locator("summary", has_text="Practice").click()  # the menu's group of practice pages
        owner.get_by_role("link", name="Settings").click()
        owner.get_by_role("link", name="Staff sign-in with Google Workspace").click()
        callback = live_server.practice_url(practice.slug, "/login/oidc/callback")
        expect(owner.locator("#redirect-uri")).to_have_value(callback)
        owner.get_by_label("Provider name").fill("Harbor Workspace")
        owner.get_by_label("Issuer URL").fill(provider_url)
        owner.get_by_label("Client ID").fill("portico")
        owner.get_by_label("Client secret").fill("a-client-secret")
        owner.get_by_role("button", name="Save").click()
        expect(owner.get_by_text("Sign-in settings saved.")).to_be_visible()
        expect(owner.get_by_label("Client secret")).to_have_value("")
        owner.screenshot(path=str(output_dir / "owner-sign-in-settings.png"), full_page=True)
    finally:
        owner_context.close()

    page.set_default_timeout(TIMEOUT)
    page.goto(live_server.practice_url(practice.slug, "/login"))
    page.screenshot(path=str(output_dir / "login-with-provider.png"), full_page=True)
    page.get_by_role("link", name="Sign in with Harbor Workspace").click()
    page.wait_for_url(f"{provider_url}/oauth2/authorize?*")
    page.get_by_placeholder("sub").fill("robin")
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(live_server.practice_url(practice.slug, "/"))
    expect(page.locator(".navbar-text")).to_have_text("Robin Vale")
    expect(page.locator("#practice-address")).to_be_visible()  # the staff home
    page.screenshot(path=str(output_dir / "clinician-signed-in.png"), full_page=True)
