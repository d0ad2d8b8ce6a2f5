"""Every page, in a real browser, on a phone and on a desktop: the demo practice (`portico demo`'s data
and a request and a message more) visited as the apex visitor, a visitor of the practice, its owner,
a client, a guardian and a profile link.

On each page, at 390x844 and 1280x800 (and 360 wide for overflow alone): nothing scrolls sideways,
axe-core (bundled by the `axe-playwright-python` package, injected with no network) finds no
violation of any impact, no element id is used twice, and every button and link of the menu and of
the page's forms is at least 44 px high (at phone width). A screenshot of each page at each width goes
to `test-results/every_page/`.

The list of pages is checked against the application's URL map: a GET rule that is in none of the
tables below fails `test_every_get_page_is_swept_or_excused`. Add a new page to PAGES (with who
visits it and its path; `{ids}` come from the demo, see `DemoIds`) or to NOT_SWEPT with the reason.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from blueprints.demo.seed import CLIENT, DEMO_SLUG, GUARDIAN, STAFF, create_demo
from tests.browser.conftest import REPO_ROOT, RESULTS_DIR

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
NARROW = {"width": 360, "height": 740}
TOUCH_MIN = 44
OWNER = STAFF[0]


@dataclass(frozen=True)
class Visit:
    who: str  # "apex", "visitor" (of the practice, not logged in), "owner", "client", "guardian", "link"
    path: str  # "{name}" parts are filled from DemoIds
    status: int = 200
    lands_on: str | None = None  # the path the browser ends on, when the page redirects there


# Every GET page, by endpoint: who looks at it, and where.
PAGES: dict[str, list[Visit]] = {
    # The apex (signup host) and the practice's public pages.
    "home.index": [Visit("apex", "/"), Visit("visitor", "/"), Visit("owner", "/")],
    "signup.signup": [Visit("apex", "/signup")],
    "signup.find_practice": [Visit("apex", "/find?address=no-such-practice-here", status=400)],
    "auth.login": [Visit("visitor", "/login")],
    "auth.forgot_password": [Visit("visitor", "/forgot-password")],
    "auth.reset_password": [Visit("visitor", "/reset-password/not-a-real-token", status=410)],
    "people.activate": [Visit("visitor", "/activate/not-a-real-token", status=410)],
    "profile_links.new_link": [Visit("visitor", "/l/new-link")],
    "profile_links.open_link": [Visit("visitor", "{profile_link}")],
    "profile_links.step_up": [Visit("link", "/verify?next=/portal/messages")],
    "auth.logout": [Visit("owner", "/logout")],
    # Staff (the owner sees every staff page).
    "auth.account_security": [Visit("owner", "/account/security")],
    "audit.events": [Visit("owner", "/audit")],
    "notifications.outbox": [Visit("owner", "/outbox")],
    "people.clients": [Visit("owner", "/clients")],
    "people.new_client": [Visit("owner", "/clients/new")],
    "people.client": [Visit("owner", "/clients/{adult}"), Visit("owner", "/clients/{minor}")],
    "people.edit_client": [Visit("owner", "/clients/{adult}/edit")],
    "people.add_guardian": [Visit("owner", "/clients/{minor}/guardians/new")],
    "people.edit_guardian": [Visit("owner", "/clients/{minor}/guardians/{guardian_access}")],
    "people.staff": [Visit("owner", "/staff")],
    "people.invite_staff": [Visit("owner", "/staff/invite")],
    "people.staff_member": [Visit("owner", "/staff/{clinician}")],
    "messaging.staff_messages": [Visit("owner", "/clients/{adult}/messages")],
    "scheduling.calendar": [Visit("owner", "/calendar")],
    "scheduling.new_appointment": [Visit("owner", "/calendar/new")],
    "scheduling.appointment": [Visit("owner", "/calendar/appointments/{appointment}")],
    "scheduling.series": [Visit("owner", "/calendar/series/{series}")],
    "scheduling.feed": [Visit("owner", "/calendar/feed")],
    "scheduling.requests": [Visit("owner", "/requests")],
    "scheduling.request_detail": [Visit("owner", "/requests/{request}")],
    "scheduling.services": [Visit("owner", "/services")],
    "scheduling.new_service": [Visit("owner", "/services/new")],
    "scheduling.edit_service": [Visit("owner", "/services/{service}")],
    "scheduling.availability": [Visit("owner", "/availability")],
    "scheduling.clinician_availability": [Visit("owner", "/availability/clinicians/{clinician}")],
    "settings.edit": [Visit("owner", "/settings")],
    "settings.preview": [Visit("owner", "/settings/preview")],
    "branding.edit": [Visit("owner", "/settings/branding")],
    "sso.settings": [Visit("owner", "/settings/sign-in")],
    "staff_notifications.index": [Visit("owner", "/notifications")],
    "staff_notifications.preferences": [Visit("owner", "/account/notifications")],
    "staff_notifications.unsubscribe_page": [
        Visit("visitor", "/u/{unsubscribe_token}"),
        Visit("visitor", "/u/1.forged", status=404),
    ],
    "documents.library": [Visit("owner", "/documents/library")],
    "documents.staff_documents": [Visit("owner", "/clients/{adult}/documents")],
    "onboarding.forms": [Visit("owner", "/forms")],
    "onboarding.new_form": [Visit("owner", "/forms/new")],
    "onboarding.edit_form": [Visit("owner", "/forms/{own_form}/edit")],
    "onboarding.preview": [Visit("owner", "/forms/{phq9}"), Visit("owner", "/forms/{own_form}")],
    "onboarding.forms_settings": [Visit("owner", "/settings/forms")],
    "onboarding.client_signature": [Visit("owner", "/clients/{adult}/forms/signatures/{signature}")],
    "onboarding.disclosure_page": [Visit("client", "/portal/forms/disclosure")],
    "automations.messages": [Visit("owner", "/settings/messages")],
    "rooms.video_settings_page": [Visit("owner", "/settings/video")],
    "rooms.account_room": [Visit("owner", "/account/room")],
    "waitlist.staff_waitlist": [Visit("owner", "/waitlist")],
    "automations.sms_account": [Visit("owner", "/settings/messages/sms")],
    "automations.portal_texts": [Visit("client", "/portal/texts")],
    "billing.index": [Visit("owner", "/billing"), Visit("owner", "/billing?status=all")],
    "billing.client_billing": [Visit("owner", "/clients/{adult}/billing")],
    "billing.payments_settings_page": [Visit("owner", "/settings/payments")],
    "onboarding.client_forms": [
        Visit("owner", "/clients/{adult}/forms"),
        Visit("owner", "/clients/{teen}/forms"),
    ],
    "onboarding.client_response": [
        Visit("owner", "/clients/{adult}/forms/responses/{adult_phq9}"),
        Visit("owner", "/clients/{teen}/forms/responses/{flagged_phq9}"),
    ],
    # The client portal.
    "portal.home": [Visit("client", "/portal"), Visit("guardian", "/portal")],
    "portal.choose": [Visit("guardian", "/portal/choose")],
    "scheduling.portal_appointments": [Visit("client", "/portal/appointments")],
    "scheduling.book_start": [Visit("client", "/portal/book")],
    "scheduling.reschedule": [Visit("client", "/portal/appointments/{appointment}/reschedule")],
    "scheduling.cancel": [Visit("client", "/portal/appointments/{appointment}/cancel")],
    "scheduling.client_feed": [Visit("client", "/portal/calendar-feed")],
    "messaging.portal_messages": [Visit("client", "/portal/messages")],
    "documents.portal_documents": [
        Visit("client", "/portal/documents"),
        Visit("guardian", "/portal/documents"),
    ],
    "onboarding.portal_forms": [Visit("client", "/portal/forms"), Visit("guardian", "/portal/forms")],
    "waitlist.portal_waitlist": [Visit("client", "/portal/waitlist"), Visit("guardian", "/portal/waitlist")],
    "waitlist.offer": [Visit("visitor", "/portal/offers/{offer_token}")],
    "onboarding.portal_form": [
        Visit("client", "/portal/forms/{own_form}"),  # still to do: the questions, answered as you go
        Visit("client", "/portal/forms/{phq9}"),  # completed: the answers, read only
    ],
}

# Pages that are no rule of their own: the error page, on the apex and to a practice's staff.
ERROR_PAGES: dict[str, list[Visit]] = {
    "(page not found)": [
        Visit("apex", "/no-such-page", status=404),
        Visit("owner", "/no-such-page", status=404),
    ],
}

# GET rules that are not pages (or not pages anyone can reach in this sweep), and why.
NOT_SWEPT: dict[str, str] = {
    "static": "files",
    "bootstrap.static": "Bootstrap's own files",
    "healthz": "a health check for the load balancer, not a page",
    "branding.logo": "the practice's logo image",
    "branding.theme": "the practice's stylesheet",
    "signup.check_address": "JSON for the signup form's address check",
    "scheduling.calendar_feed": "an iCalendar feed",
    "scheduling.appointment_ics": "an iCalendar file",
    "scheduling.book_times": "a fragment of the booking page (the day's times), loaded into it",
    "scheduling.reschedule_times": "a fragment of the reschedule page, loaded into it",
    "auth.handoff": "redirects a new owner from the apex signup to their practice",
    "auth.login_verify": "needs a login halfway through two-factor (tests/browser/test_access_journey.py)",
    "sso.start": "redirects to the practice's identity provider (tests/browser/test_sso_journey.py)",
    "sso.callback": "the identity provider's return (tests/browser/test_sso_journey.py)",
    "settings.end_preview": "ends a preview and redirects",
    "documents.library_download": "a file of the library (tests/browser/test_documents_journey.py)",
    "documents.staff_download": "a client's file, for staff (tests/browser/test_documents_journey.py)",
    "documents.portal_download": "a file, for the client (tests/browser/test_documents_journey.py)",
    "onboarding.export": "a form's FHIR Questionnaire as JSON",
    "rooms.portal_join": "redirects to the session's video room (tests/browser/test_rooms_journey.py)",
    "rooms.staff_join": "redirects the clinician to the session's video room (tests/test_rooms.py)",
    "onboarding.disclosure_pdf": "the e-records disclosure, a PDF (tests/browser/test_signature_journey.py)",
    "onboarding.portal_signed_pdf": "a signed form's PDF (tests/browser/test_signature_journey.py)",
    "billing.portal_billing": "needs a Stripe account: checked in tests/browser/test_billing_journey.py",
    "billing.receipt": "a receipt's PDF (tests/test_billing_portal.py)",
}

LOGINS = {"owner": OWNER, "client": CLIENT, "guardian": GUARDIAN}


@dataclass
class DemoIds:
    profile_link: str  # a link's path: its page asks to continue (which the "link" visitor does)
    session_link: str  # another link, for the "link" visitor's session
    adult: int
    minor: int
    guardian_access: int
    clinician: int
    appointment: int
    request: int
    service: int
    teen: int
    own_form: int  # the practice's intake questionnaire (the adult has not filled it in)
    phq9: int
    adult_phq9: int  # the demo's completed PHQ-9 of the adult
    flagged_phq9: int  # the teen's PHQ-9, item 9 answered above "Not at all"
    signature: int  # the adult's signed consent
    unsubscribe_token: str  # the clinician's one-click unsubscribe token (its page has a button)
    offer_token: str  # an open waitlist offer of a held time to the adult (its page asks to confirm)
    week_of: str  # a day of the week with the adult's appointment (and a few more: the calendar's picture)
    series: int  # a recurring series of the adult's (two weekly dates)

    def path(self, visit: Visit) -> str:
        return visit.path.format(**self.__dict__)


@dataclass
class Sweep:
    problems: list[str] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)


def get_rules(app) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in rule.methods}


def test_every_get_page_is_swept_or_excused(app):
    missing = sorted(get_rules(app) - set(PAGES) - set(NOT_SWEPT))
    assert not missing, (
        "GET rules in no table of tests/browser/test_every_page.py: add each to PAGES (who visits it and "
        f"where) or to NOT_SWEPT (why not): {missing}"
    )
    gone = sorted((set(PAGES) | set(NOT_SWEPT)) - get_rules(app))
    assert not gone, f"listed but no longer in the URL map: {gone}"


@pytest.fixture(scope="module")
def demo(live_server) -> DemoIds:
    """The demo practice on the live server, with a pending request and a message more."""
    from blueprints.auth.service import find_user_by_email
    from blueprints.messaging.service import staff_reply
    from blueprints.people.models import Client, PortalAccess
    from blueprints.profile_links.service import profile_link_url
    from blueprints.scheduling.models import Appointment, Service
    from blueprints.scheduling.operations.availability import available_slots
    from blueprints.scheduling.operations.requests import request_new
    from blueprints.staff_notifications.email import unsubscribe_token
    from tenants.database import db, practice_scope
    from tenants.registry import lookup_address

    with live_server.app.app_context():
        lines = create_demo()
    live_server.track(DEMO_SLUG)
    link = next(line.split()[-1] for line in lines if line.startswith("profile link"))
    with live_server.app.app_context():
        with practice_scope(lookup_address(DEMO_SLUG)):
            clinician = find_user_by_email(STAFF[2].email)
            owner = find_user_by_email(OWNER.email)
            adult = db.session.scalars(select(Client).where(Client.first_name == "Avery")).one()
            minor = db.session.scalars(select(Client).where(Client.first_name == "Milo")).one()
            therapy = db.session.scalars(select(Service).where(Service.bookable_online.is_(True))).first()
            appointment = db.session.scalars(
                select(Appointment).where(Appointment.client_id == adult.id).order_by(Appointment.starts_at)
            ).first()
            teen = db.session.scalars(select(Client).where(Client.first_name == "Tessa")).one()
            fill_the_week(appointment, (adult, teen, minor), clinician, therapy)
            series = book_a_series(adult, clinician, therapy)
            slot = available_slots(clinician.id, therapy)[-1]
            request = request_new(adult, clinician, therapy, slot, requested_by=None)
            welcome = "Welcome to the portal: write to us here any time."
            staff_reply(owner, adult, "client", welcome, date.today())
            forms = fill_in_forms_and_upload(adult, teen)
            access = db.session.scalars(
                select(PortalAccess).where(
                    PortalAccess.client_id == minor.id, PortalAccess.relationship_kind == "guardian"
                )
            ).first()
            ids = DemoIds(
                profile_link=link.split(f":{live_server.port}", 1)[1],
                session_link=profile_link_url(adult).split(f":{live_server.port}", 1)[1],
                adult=adult.id,
                minor=minor.id,
                guardian_access=access.id,
                clinician=clinician.id,
                appointment=appointment.id,
                request=request.id,
                service=therapy.id,
                teen=teen.id,
                **forms,
                unsubscribe_token=unsubscribe_token(clinician.id),
                offer_token=offer_to(adult, clinician, therapy),
                week_of=appointment.starts_at.date().isoformat(),
                series=series,
            )
            db.session.commit()
    return ids


def offer_to(adult, clinician, service) -> str:
    """Hold the last free time and offer it to the adult's waitlist entry; returns the link's token."""
    from datetime import UTC, datetime, timedelta

    from blueprints.scheduling.operations.availability import available_slots
    from blueprints.scheduling.operations.holds import hold_time
    from blueprints.waitlist.operations.entries import client_entries
    from blueprints.waitlist.operations.offers import make_offer

    held = hold_time(adult, clinician, service, available_slots(clinician.id, service)[-2])
    return make_offer(client_entries(adult.id)[0], held, datetime.now(UTC) + timedelta(hours=2))


def fill_the_week(appointment, clients, clinician, service) -> None:
    """A few more appointments in the week of `appointment`, one a day, so the calendar has a week to show."""
    from blueprints.scheduling.operations.appointments import book
    from blueprints.scheduling.operations.availability import available_slots

    year, week, _ = appointment.starts_at.isocalendar()
    days = {appointment.starts_at.date()}
    for slot in available_slots(clinician.id, service):
        in_week = slot.isocalendar()[:2] == (year, week)
        if in_week and slot.date() not in days and slot.hour in (9, 10, 11, 13, 14, 15):
            days.add(slot.date())
            book(clients[len(days) % len(clients)], clinician, service, slot, notify=False)


def book_a_series(client, clinician, service) -> int:
    """Two weekly dates of a series, at the latest free time that is free a week earlier too."""
    from blueprints.scheduling.models import AppointmentSeries
    from blueprints.scheduling.operations.appointments import book
    from blueprints.scheduling.operations.availability import available_slots
    from tenants.database import db
    from tenants.features import practice_zone

    free = available_slots(clinician.id, service)
    start = next(slot for slot in reversed(free) if slot - timedelta(weeks=1) in set(free))
    series = AppointmentSeries(
        client_id=client.id,
        clinician_user_id=clinician.id,
        service_id=service.id,
        interval_weeks=1,
        occurrence_count=2,
        local_time=start.astimezone(practice_zone()).time(),
    )
    db.session.add(series)
    db.session.flush()
    for when in (start - timedelta(weeks=1), start):
        book(client, clinician, service, when, notify=False, series_id=series.id)
    return series.id


def fill_in_forms_and_upload(adult, teen) -> dict[str, int]:
    """Through the portal's own operations: the adult uploads a file (staff get a notification), the
    teen completes a PHQ-9 answering item 9 "Several days" (a flag). Returns the forms' ids."""
    from blueprints.auth.service import find_user_by_email
    from blueprints.demo.seed import TEEN
    from blueprints.documents.operations.uploads import Incoming, upload_from_portal
    from blueprints.onboarding.models import Form, FormResponse
    from blueprints.onboarding.operations import disclosure, responses, signatures
    from blueprints.onboarding.operations.instruments import PHQ9, SAFETY_ITEM
    from blueprints.portal.service import SELF
    from blueprints.portal.viewer import Viewer
    from tenants.database import db
    from tests.fixtures_documents import pdf_bytes

    def viewer(client, login):
        user = find_user_by_email(login.email)
        return Viewer("client", client, SELF, user_id=user.id, name=user.name)

    upload_from_portal(
        viewer(adult, CLIENT), Incoming("insurance-card.pdf", pdf_bytes()), "My new insurance card"
    )
    phq9 = db.session.scalars(select(Form).where(Form.instrument == PHQ9.key)).one()
    loinc = "http://loinc.org|"
    answers = {
        code: [loinc + ("LA6569-3" if code == SAFETY_ITEM else "LA6568-5")] for code in PHQ9.item_codes
    }
    answers[PHQ9.difficulty[0]] = [loinc + "LA6573-5"]
    flagged = responses.submit(viewer(teen, TEEN), phq9.id, answers).response
    adult_phq9 = db.session.scalars(
        select(FormResponse).where(FormResponse.client_id == adult.id, FormResponse.form_id == phq9.id)
    ).one()
    own_form = db.session.scalars(select(Form).where(Form.title == "Intake questionnaire")).one()
    # The adult signs the demo consent: the disclosure opened and agreed to, a typed name, "I agree".
    consent = db.session.scalars(select(Form).where(Form.title.like("Consent%"))).one()
    signer = viewer(adult, CLIENT)
    disclosure.open_disclosure(signer)
    disclosure.accept(signer, True)
    signed, _ = signatures.sign(
        signer, consent.id, {"preferred-contact": ["Email"]}, signatures.names_on_file(signer)[0], True
    )
    return {
        "own_form": own_form.id,
        "phq9": phq9.id,
        "adult_phq9": adult_phq9.id,
        "flagged_phq9": flagged.id,
        "signature": signed.id,
    }


def demo_url(live_server, visit: Visit, path: str) -> str:
    if visit.who == "apex":
        return f"{live_server.base_url}{path}"
    return live_server.practice_url(DEMO_SLUG, path)


def logged_in_page(browser, live_server, who: str, demo: DemoIds):
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(10_000)
    context.add_init_script(path=str(axe_script()))
    page = context.new_page()
    if who in LOGINS:
        login = LOGINS[who]
        page.goto(live_server.practice_url(DEMO_SLUG, "/login"))
        page.get_by_label("Email").fill(login.email)
        page.get_by_label("Password").fill(login.password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state("load")
        assert "/login" not in page.url, f"{who} could not log in"
        if page.url.endswith("/portal/choose"):  # a guardian: open the first minor's portal
            page.locator("#choose-records button").first.click()
            page.wait_for_url("**/portal")
    elif who == "link":
        page.goto(live_server.practice_url(DEMO_SLUG, demo.session_link))
        page.locator("#continue-form").get_by_role("button").click()
        page.wait_for_url("**/portal/**")
    return context, page


def axe_script() -> Path:
    import axe_playwright_python

    return Path(axe_playwright_python.__file__).with_name("axe.min.js")


PAGE_FACTS = """() => {
  const seen = new Set(), duplicates = new Set();
  for (const element of document.querySelectorAll("[id]")) {
    if (seen.has(element.id)) duplicates.add(element.id);
    seen.add(element.id);
  }
  return {
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    duplicates: [...duplicates],
  };
}"""

# Buttons and links of the menu (opened, with its group) and of forms, and every .btn: each at least
# 44 px each way. Links inside a sentence are not targets of their own (WCAG 2.5.8's inline exception).
SMALL_TARGETS = """(least) => {
  const menu = document.getElementById("site-menu");
  const wasShown = menu && menu.classList.contains("show");
  const groups = [...document.querySelectorAll("details.nav-dropdown")];
  const wasOpen = groups.map((group) => group.open);
  if (menu) menu.classList.add("show");
  groups.forEach((group) => { group.open = true; });
  const selector = [
    ".site-header a", ".site-header button", ".site-header summary",
    "form button", "form [type=submit]", "form select",
    "form input:not([type=hidden]):not([type=checkbox]):not([type=radio])", "form textarea", ".btn",
  ].join(",");
  const small = [];
  for (const element of document.querySelectorAll(selector)) {
    if (element.closest(".skip-link") || element.classList.contains("skip-link")) continue;
    const box = element.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // not shown
    if (box.height < least || box.width < least) {
      const name = (element.innerText || element.value || element.name || "").trim().slice(0, 40);
      const size = `${Math.round(box.width)}x${Math.round(box.height)}`;
      small.push(`${element.tagName.toLowerCase()} "${name}" ${size}`);
    }
  }
  if (menu && !wasShown) menu.classList.remove("show");
  groups.forEach((group, index) => { group.open = wasOpen[index]; });
  return small;
}"""


def axe_violations(page) -> list[str]:
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    found = []
    for violation in results["violations"]:
        targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:4])
        found.append(f"axe {violation['impact']} {violation['id']}: {violation['help']} [{targets}]")
    return found


def check_page(page, label: str, folder: Path) -> list[str]:
    problems = []
    for name, size in (("390", PHONE), ("1280", DESKTOP), ("360", NARROW)):
        page.set_viewport_size(size)
        facts = page.evaluate(PAGE_FACTS)
        if facts["overflow"] > 0:
            problems.append(f"{label} at {name} px scrolls sideways by {facts['overflow']} px")
        if name == "360":
            continue
        problems += [f"{label} at {name} px: {v}" for v in axe_violations(page)]
        if name == "390":
            if facts["duplicates"]:
                problems.append(f"{label}: duplicate ids {facts['duplicates']}")
            small = page.evaluate(SMALL_TARGETS, TOUCH_MIN)
            problems += [f"{label} at 390 px: small target {target}" for target in small]
        page.screenshot(path=str(folder / f"{label}-{name}.png"), full_page=True)
    return problems


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")


SCREENSHOTS = RESULTS_DIR / "every_page"


def sweep(browser, live_server, demo: DemoIds, who_list: tuple[str, ...], part=lambda _: True) -> Sweep:
    """Visit the PAGES of `who_list` (whose endpoint is in `part`) and check each."""
    folder = SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    result = Sweep()
    for who in who_list:
        context, page = logged_in_page(browser, live_server, who, demo)
        try:
            for endpoint, visits in (PAGES | ERROR_PAGES).items():
                for visit in visits:
                    if visit.who != who or not part(endpoint):
                        continue
                    path = demo.path(visit)
                    label = f"{who}-{slug(endpoint)}-{slug(visit.path)[:40]}"
                    page.set_viewport_size(PHONE)
                    response = page.goto(demo_url(live_server, visit, path))
                    page.wait_for_load_state("load")
                    result.visited.append(f"{who} {visit.path}")
                    if response is None or response.status != visit.status:
                        status = response.status if response else "none"
                        result.problems.append(f"{label}: status {status}, expected {visit.status}")
                    landed = page.url.split(f":{live_server.port}", 1)[1]
                    expected = visit.lands_on or path
                    if landed.split("?")[0] != expected.split("?")[0]:
                        result.problems.append(f"{label}: ended on {landed}, expected {expected}")
                    result.problems += check_page(page, label, folder)
        finally:
            context.close()
    return result


def report(result: Sweep) -> str:
    return f"{len(result.problems)} problems on {len(result.visited)} pages:\n" + "\n".join(result.problems)


def test_public_pages(browser, live_server, demo):
    result = sweep(browser, live_server, demo, ("apex", "visitor", "link"))
    assert not result.problems, report(result)


# The staff pages in two halves, so that two test processes can share them.
STAFF_PARTS = {
    "scheduling": lambda endpoint: endpoint.startswith("scheduling."),
    "billing": lambda endpoint: endpoint.startswith("billing."),
    "people-settings-and-the-rest": lambda endpoint: not endpoint.startswith(("scheduling.", "billing.")),
}


@pytest.mark.parametrize("part", STAFF_PARTS)
def test_staff_pages(browser, live_server, demo, part):
    result = sweep(browser, live_server, demo, ("owner",), STAFF_PARTS[part])
    assert not result.problems, report(result)


def test_portal_pages(browser, live_server, demo):
    result = sweep(browser, live_server, demo, ("client", "guardian"))
    assert not result.problems, report(result)


def test_readme_screenshots(browser, live_server, demo):
    """The README's two pictures: the portal home on a phone, the staff calendar on a desktop. Kept in
    test-results/; copied to docs/screenshots/ when PORTICO_README_SCREENSHOTS=1."""
    folder = RESULTS_DIR / "readme"
    folder.mkdir(parents=True, exist_ok=True)
    shots = []
    for who, path, size, name in (
        ("client", "/portal", PHONE, "portal-home-phone.png"),
        ("owner", f"/calendar?date={demo.week_of}", DESKTOP, "staff-calendar-desktop.png"),
    ):
        context, page = logged_in_page(browser, live_server, who, demo)
        try:
            page.set_viewport_size(size)
            page.goto(live_server.practice_url(DEMO_SLUG, path))
            page.wait_for_load_state("load")
            page.screenshot(path=str(folder / name), full_page=(size is PHONE))
            shots.append(folder / name)
        finally:
            context.close()
    if os.environ.get("PORTICO_README_SCREENSHOTS") == "1":
        target = REPO_ROOT / "docs" / "screenshots"
        target.mkdir(parents=True, exist_ok=True)
        for shot in shots:
            shutil.copy(shot, target / shot.name)
    assert all(shot.stat().st_size > 10_000 for shot in shots)
