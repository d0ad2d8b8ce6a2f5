"""A client pays an invoice in the browser: the portal's Billing page (checked like every page:
axe, no sideways scroll, 44 px targets), Pay, the redirect to Checkout (the local fake of Stripe),
paying there, the signed webhook it sends, and back to the portal with the invoice paid."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.billing_support import (  # noqa: F401 (fixtures)
    billing_practice_fixture,
    book,
    connect_stripe,
    fake_stripe_fixture,
    invoices_of,
    mark,
)
from tests.browser.conftest import assert_no_sideways_scroll
from tests.browser.test_every_page import axe_script, check_page
from tests.conftest import OWNER_PASSWORD


def test_a_client_pays_an_invoice_through_checkout(
    browser, live_server, billing_practice, fake_stripe, in_practice, output_dir
):
    setting = billing_practice()
    assert mark(setting, book(in_practice, setting)).status_code == 302
    connect_stripe(setting)
    live_server.app.config["STRIPE_API_BASE"] = fake_stripe.base
    slug = setting.practice.slug
    fake_stripe.deliver_to = (f"http://127.0.0.1:{live_server.port}", f"{slug}.localhost:{live_server.port}")
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(15_000)
    context.add_init_script(path=str(axe_script()))
    page = context.new_page()
    try:
        page.goto(live_server.practice_url(slug, "/login"))
        page.get_by_label("Email").fill(setting.client.email)
        page.get_by_label("Password").fill(OWNER_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state("load")
        page.goto(live_server.practice_url(slug, "/portal/billing"))
        expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
        assert check_page(page, "portal-billing", output_dir) == []
        outstanding = page.locator("#outstanding-invoices")
        expect(outstanding).to_contain_text("$150.00")

        page.get_by_role("button", name="Pay invoice 1").click()
        page.wait_for_url(f"{fake_stripe.base}/pay/**")
        expect(page.get_by_role("heading", name="Fake Checkout")).to_be_visible()
        page.get_by_role("button", name="Pay now").click()

        page.wait_for_url(live_server.practice_url(slug, "/portal/billing") + "**")
        expect(page.get_by_text("Thank you: your payment is being confirmed")).to_be_visible()
        expect(page.locator("#nothing-owed")).to_be_visible()
        history = page.locator("#invoice-history")
        expect(history).to_contain_text("Paid")
        expect(history.get_by_role("link", name="Receipt (PDF) for invoice 1")).to_be_visible()
        assert_no_sideways_scroll(page)
        [invoice] = invoices_of(in_practice, setting.practice)
        assert (invoice["status"], invoice["payments"]) == ("paid", [("card", 15000, 0)])
    finally:
        live_server.app.config.pop("STRIPE_API_BASE", None)
        context.close()
