"""The isolation sweep: every URL rule that names an object, asked at practice A with practice B's ids.

DESIGN.md ("Isolation"): for every tenant-scoped URL, a user of practice A gets 404 (not 403, not
data) for ids of practice B. The cases are derived from the application's URL map, so a new route is
swept without anyone remembering to add it: a rule whose argument has no entry in `ARGUMENTS` fails
until one is added. B's ids are made higher than anything A holds, so they name nothing at A: a 404
here is isolation, not a lucky miss; and every GET is also asked at B, where it must work, so a 404
is not a typo in the sweep either.

Token pages (`/l/<token>`, `/activate/<token>`, `/reset-password/<token>`, `/feeds/<token>.ics`)
get B's real tokens and must answer exactly as they do for a token nobody issued.
Nothing of B (a marker in its names and a message, its address) may appear in any response or email.
"""

from __future__ import annotations

import itertools
import re
import secrets
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from app import create_app
from app.config import Settings
from blueprints.auth.models import User
from blueprints.billing.models import Invoice, Payment, SavedCard
from blueprints.documents.models import Document, LibraryItem
from blueprints.notifications.models import OutboxEmail
from blueprints.onboarding.models import Form, FormFlag, FormResponse, FormSignature
from blueprints.people.models import Client, PortalAccess
from blueprints.profile_links.models import ProfileLink
from blueprints.scheduling.models import (
    Appointment,
    AppointmentRequest,
    AppointmentSeries,
    AvailabilityException,
    AvailabilityRule,
    Service,
)
from blueprints.staff_notifications.email import unsubscribe_token
from blueprints.staff_notifications.models import StaffNotification
from blueprints.waitlist.models import WaitlistEntry
from tenants.database import db
from tenants.features import FEATURES, practice_settings
from tests.conftest import ClientFixture, PracticeFixture, Visitor
from tests.fixtures_documents import pdf_bytes

# Identity sequences of B start here: A (a handful of rows per table) never reaches it.
B_IDS_FROM = 50_000

# Rules that take arguments but name no practice object: files shipped with the application.
# (Rules without arguments name nothing and are not swept; apex-only rules would be listed here.)
SKIPPED = {
    "static": "the application's own static files, the same for every practice",
    "bootstrap.static": "Bootstrap-Flask's static files, the same for every practice",
}


def _placeholders(rule) -> set[str]:
    """The arguments written in the rule's path (not the ones only given as defaults)."""
    return set(rule.arguments) - set(rule.defaults or {})


def _own_or_practice(kind: str):
    """A clinician's own row under /clinicians/<user_id>/, else the practice-wide one."""
    return lambda rule: f"clinician_{kind}" if "user_id" in _placeholders(rule) else f"practice_{kind}"


# Which of B's objects (keys of World.b_objects) a token rule is given, by endpoint.
TOKENS = {
    "people.activate": ("activation_token",),
    "auth.reset_password": ("reset_token",),
    "profile_links.open_link": ("profile_link_token",),
    "profile_links.use_link": ("profile_link_token",),
    "scheduling.calendar_feed": ("staff_feed_token", "client_feed_token"),
    "staff_notifications.unsubscribe_page": ("unsubscribe_token",),
    "staff_notifications.unsubscribe_post": ("unsubscribe_token",),
    "waitlist.offer": ("waitlist_offer_token",),
}

# URL argument -> which of B's objects it names (a function of the rule: one name, several kinds).
ARGUMENTS = {
    "client_id": lambda rule: "client",
    "user_id": lambda rule: "clinician",
    "appointment_id": lambda rule: "appointment",
    "series_id": lambda rule: "series",
    "request_id": lambda rule: "request",
    "service_id": lambda rule: "service",
    "rule_id": _own_or_practice("hours"),
    "exception_id": _own_or_practice("exception"),
    "access_id": lambda rule: "guardian_access" if "/guardians/" in rule.rule else "self_access",
    "link_id": lambda rule: "profile_link",
    "email_id": lambda rule: "outbox_email",
    "form_id": lambda rule: "form",
    "response_id": lambda rule: "response",
    "flag_id": lambda rule: "flag",
    "signature_id": lambda rule: "signature",
    "token": lambda rule: TOKENS.get(rule.endpoint),
    "document_id": lambda rule: "document",
    "item_id": lambda rule: "library_item",
    "notification_id": lambda rule: "staff_notification",
    "entry_id": lambda rule: "waitlist_entry",
    "invoice_id": lambda rule: "invoice",
    "payment_id": lambda rule: "payment",
    "card_id": lambda rule: "saved_card",
}

# B's objects named by id, and the table each id must be absent from at A.
ID_MODELS = {
    "client": Client,
    "clinician": User,
    "appointment": Appointment,
    "series": AppointmentSeries,
    "request": AppointmentRequest,
    "service": Service,
    "practice_hours": AvailabilityRule,
    "clinician_hours": AvailabilityRule,
    "practice_exception": AvailabilityException,
    "clinician_exception": AvailabilityException,
    "self_access": PortalAccess,
    "guardian_access": PortalAccess,
    "profile_link": ProfileLink,
    "outbox_email": OutboxEmail,
    "document": Document,
    "library_item": LibraryItem,
    "staff_notification": StaffNotification,
    "form": Form,
    "response": FormResponse,
    "flag": FormFlag,
    "signature": FormSignature,
    "waitlist_entry": WaitlistEntry,
    "invoice": Invoice,
    "payment": Payment,
    "saved_card": SavedCard,
}

# Who asks, at A. "owner-preview" is A's owner previewing the portal as A's test client.
PORTAL_ROLES = ("owner-preview", "client")
TOKEN_ROLES = ("owner", "anonymous")
# Who asks the same GET at B, to show that the URL names something real there.
AT_HOME = {"owner": "owner", "owner-preview": "client", "client": "client", "anonymous": "anonymous"}

# GETs that answer B's own people with a redirect (to the room), not a page; and who asks them at B
# when that is not the role asking at A (only the appointment's clinician joins from the calendar).
REDIRECTS_AT_HOME = {"rooms.portal_join", "rooms.staff_join"}
AT_HOME_BY_ENDPOINT = {"rooms.staff_join": "clinician"}

# (role, endpoint, method) -> reason: a leak found by the sweep and not fixed yet (strict xfail).
KNOWN_LEAKS: dict[tuple[str, str, str], str] = {}


@dataclass(frozen=True)
class Case:
    role: str
    rule: str
    endpoint: str
    method: str
    objects: tuple[tuple[str, str], ...]  # (argument, key of B's object)
    missing: str | None = None

    @property
    def token(self) -> str | None:
        return dict(self.objects).get("token")

    def path(self, values: dict) -> str:
        named = {argument: values[key] for argument, key in self.objects}
        return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", lambda m: str(named[m.group(1)]), self.rule)

    def __str__(self) -> str:
        extra = f" ({self.token})" if self.token and len(TOKENS.get(self.endpoint, ())) > 1 else ""
        return f"{self.role} {self.method} {self.rule}{extra}"


def _url_map():
    """The URL map of an application built only to be read (it never connects to a database)."""
    settings = Settings(
        database_url="postgresql://sweep@127.0.0.1:1/unused",
        secret_key="isolation-sweep",
        base_domain="localhost",
        data_dir=Path(tempfile.gettempdir()) / "portico-isolation-sweep",
    )
    return create_app(settings).url_map


def _roles(rule) -> tuple[str, ...]:
    if rule.rule.startswith("/portal/"):
        return PORTAL_ROLES
    if "token" in _placeholders(rule):
        return TOKEN_ROLES
    return ("owner",)


def _cases(url_map) -> list[Case]:
    cases = []
    for rule in sorted(url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        arguments = sorted(_placeholders(rule))
        if not arguments or rule.endpoint in SKIPPED:
            continue
        choices, missing = [], None
        for argument in arguments:
            factory = ARGUMENTS.get(argument)
            keys = factory(rule) if factory else None
            if not keys:
                missing = f"add a factory for {argument} (rule {rule.rule}, endpoint {rule.endpoint})"
                keys = ("?",)
            choices.append([(argument, key) for key in ((keys,) if isinstance(keys, str) else keys)])
        for objects, role, method in itertools.product(
            itertools.product(*choices), _roles(rule), sorted(rule.methods - {"HEAD", "OPTIONS"})
        ):
            cases.append(Case(role, rule.rule, rule.endpoint, method, tuple(objects), missing))
    return cases


def _signature(url_map) -> set[tuple]:
    return {(r.rule, r.endpoint, frozenset(r.methods)) for r in url_map.iter_rules()}


COLLECTED_MAP = _url_map()
CASES = _cases(COLLECTED_MAP)


def _param(case: Case):
    reason = KNOWN_LEAKS.get((case.role, case.endpoint, case.method))
    marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    return pytest.param(case, id=str(case), marks=marks)


# ---------------------------------------------------------------------------------------------
# The two practices
# ---------------------------------------------------------------------------------------------


@dataclass
class World:
    a: PracticeFixture
    b: PracticeFixture
    b_objects: dict[str, int | str]
    at_a: dict[str, Visitor]  # role -> a visitor of A's host
    at_b: dict[str, Visitor]  # role -> a visitor of B's host
    csrf: dict[str, str]  # role -> a CSRF token from a page of A
    marks_of_b: tuple[str, ...]


def _turn_everything_on(in_practice, practice: PracticeFixture) -> None:
    """Every feature toggle on (a disabled feature's 404 would hide a leak), no booking limits."""
    with in_practice(practice):
        settings = practice_settings()
        for column in {column for columns in FEATURES.values() for column in columns}:
            setattr(settings, column, True)
        settings.min_notice_hours = 0
        _connect_payments()
        db.session.commit()


def _connect_payments() -> None:
    """A Stripe account as the settings page leaves it (sealed key and signing secret), so the
    portal's billing pages are open; nothing here calls Stripe (their ids are found first)."""
    from blueprints.billing.models import BillingSettings
    from blueprints.billing.operations.invoices import billing_settings
    from tenants.encryption import seal_text

    billing = billing_settings()
    for column, value in (("stripe_key_sealed", "rk_test_sweep"), ("webhook_secret_sealed", "whsec_sweep")):
        setattr(
            billing, column, seal_text(value, table=BillingSettings.__tablename__, row_id=1, column=column)
        )


def _push_ids_past(in_practice, practice: PracticeFixture, start: int) -> None:
    """Every identity sequence of the practice's schema continues after `start`."""
    with in_practice(practice):
        db.session.execute(
            text(
                "SELECT setval(pg_get_serial_sequence(format('%I.%I', table_schema, table_name),"
                " column_name), :start) FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND is_identity = 'YES'"
            ),
            {"start": start},
        )
        db.session.commit()


def _objects_of_b(
    in_practice, b: PracticeFixture, marker: str, clinician_email: str, client: ClientFixture, service_id: int
) -> dict:
    """Everything else a URL can name, in B: availability, an appointment, a request, grants, tokens."""
    from blueprints.auth.service import ACTIVATE, PASSWORD_RESET, find_user_by_email, issue_token
    from blueprints.documents.operations.library import add_to_library
    from blueprints.documents.operations.uploads import Incoming, upload_from_portal
    from blueprints.messaging.service import send_from_portal
    from blueprints.notifications.service import queue_email
    from blueprints.portal.service import SELF
    from blueprints.portal.viewer import Viewer
    from blueprints.profile_links.service import create_link
    from blueprints.rooms.operations.video import video_settings
    from blueprints.scheduling.operations.appointments import book
    from blueprints.scheduling.operations.feeds import create_feed
    from blueprints.scheduling.operations.requests import request_new

    with in_practice(b):
        clinician = find_user_by_email(clinician_email)
        own_login = find_user_by_email(client.email)
        teen = db.session.get(Client, client.id)
        therapy = db.session.get(Service, service_id)
        therapy.delivery = "online"  # with B's own Jitsi server: its client's room, joined from the portal
        video = video_settings()
        video.service, video.jitsi_base_url = "jitsi", f"https://meet.{b.slug}.example.org"
        soon = datetime.combine(date.today() + timedelta(days=30), time(10), tzinfo=UTC)
        rows = {
            "clinician_hours": AvailabilityRule(
                clinician_user_id=clinician.id, weekday=0, start_time=time(9), end_time=time(12)
            ),
            "practice_exception": AvailabilityException(on_date=soon.date(), kind="off"),
            "clinician_exception": AvailabilityException(
                clinician_user_id=clinician.id, on_date=soon.date(), kind="off"
            ),
        }
        db.session.add_all(rows.values())
        appointment = book(teen, clinician, therapy, soon, notify=False)
        series = AppointmentSeries(
            client_id=teen.id,
            clinician_user_id=clinician.id,
            service_id=therapy.id,
            interval_weeks=1,
            occurrence_count=2,
            local_time=time(10),
        )
        db.session.add(series)
        db.session.flush()
        appointment.series_id = series.id
        request = request_new(teen, clinician, therapy, soon + timedelta(hours=3), requested_by=None)
        teen_viewer = Viewer("client", teen, SELF, user_id=own_login.id, name=teen.display_name)
        send_from_portal(teen_viewer, f"{marker} private message")
        link_token = create_link(teen)
        outbox_email = queue_email(f"{marker}@example.com", f"{marker} subject", f"{marker} body")
        document = upload_from_portal(
            teen_viewer, Incoming(f"{marker}.pdf", pdf_bytes(marker)), f"{marker} note"
        )
        item = add_to_library(clinician, Incoming(f"{marker} policy.pdf", pdf_bytes(marker)))
        owner = find_user_by_email(b.owner_email)
        grants = {
            access.relationship_kind: access.id
            for access in db.session.scalars(select(PortalAccess).where(PortalAccess.client_id == teen.id))
        }
        form, response, flag = _forms_of_b(teen, teen_viewer, marker)
        entry, offer_token = _waitlist_of_b(teen, clinician, therapy, soon + timedelta(hours=5))
        invoice, payment, card = _billing_of_b(teen, owner)
        signature = _signature_of_b(teen_viewer, marker)
        objects = {key: row.id for key, row in rows.items()} | {
            "signature": signature,
            "invoice": invoice,
            "payment": payment,
            "saved_card": card,
            "form": form,
            "response": response,
            "flag": flag,
            "client": teen.id,
            "clinician": clinician.id,
            "appointment": appointment.id,
            "series": series.id,
            "request": request.id,
            "service": therapy.id,
            "practice_hours": db.session.scalar(
                select(func.min(AvailabilityRule.id)).where(AvailabilityRule.clinician_user_id.is_(None))
            ),
            "self_access": grants["self"],
            "guardian_access": grants["guardian"],
            "outbox_email": outbox_email.id,
            "document": document.id,
            "library_item": item.id,
            "staff_notification": db.session.scalar(
                select(StaffNotification.id).where(StaffNotification.user_id == owner.id)
            ),
            "profile_link": db.session.scalar(select(ProfileLink.id).where(ProfileLink.client_id == teen.id)),
            "profile_link_token": link_token,
            "activation_token": issue_token(clinician, ACTIVATE),
            "reset_token": issue_token(own_login, PASSWORD_RESET),
            "staff_feed_token": create_feed(clinician),
            "client_feed_token": create_feed(own_login),
            "unsubscribe_token": unsubscribe_token(clinician.id),
            "waitlist_entry": entry,
            "waitlist_offer_token": offer_token,
        }
        db.session.commit()
    return objects


def _billing_of_b(teen, owner) -> tuple[int, int, int]:
    """An invoice of the teen's with a cash payment, and a saved card: (invoice, payment, card ids)."""
    from blueprints.billing.models import SavedCard
    from blueprints.billing.operations.invoices import issue_invoice
    from blueprints.billing.operations.payments import record_manual_payment

    invoice = issue_invoice(teen, [("service", "Therapy", 10000, None)])
    payment = record_manual_payment(owner, invoice, "cash", "10")
    card = SavedCard(client_id=teen.id, status="active", consent_text="consent", brand="visa", last4="4242")
    db.session.add(card)
    db.session.flush()
    return invoice.id, payment.id, card.id


def _forms_of_b(teen, teen_viewer, marker: str) -> tuple[int, int, int]:
    """A form of B's own shared with the teen (a to-do), and a completed PHQ-9 whose item 9 raised
    a flag: (form id, response id, flag id)."""
    from blueprints.auth.models import User
    from blueprints.onboarding.operations import library, record, responses
    from blueprints.onboarding.operations.instruments import PHQ9

    owner = db.session.scalars(select(User).where(User.role == "owner")).first()
    practice_settings().crisis_resources = f"{marker} crisis line"
    questionnaire = {
        "resourceType": "Questionnaire",
        "status": "active",
        "title": f"{marker} intake",
        "item": [{"linkId": "why", "type": "text", "text": f"{marker} question"}],
    }
    form = library.import_form(owner, questionnaire)
    record.share_form(owner, teen, form.id)
    phq9 = library.ensure_builtins()[PHQ9.key]
    record.share_form(owner, teen, phq9.id)
    answers = {code: ["http://loinc.org|LA6568-5"] for code in PHQ9.item_codes}
    answers |= {"44260-8": ["http://loinc.org|LA6569-3"], "69722-7": ["http://loinc.org|LA6572-7"]}
    submitted = responses.submit(teen_viewer, phq9.id, answers)
    flag = db.session.scalars(select(FormFlag).where(FormFlag.response_id == submitted.response.id)).one()
    return form.id, submitted.response.id, flag.id


def _waitlist_of_b(teen, clinician, service, starts_at) -> tuple[int, str]:
    """The teen's waitlist entry, and an open offer of a held time to it (its link's token)."""
    from blueprints.scheduling.operations.holds import hold_time
    from blueprints.waitlist.operations.entries import join
    from blueprints.waitlist.operations.offers import make_offer
    from tenants.features import practice_today

    today = practice_today()
    entry = join(
        {"actor_kind": "system", "actor_user_id": None, "actor_name": "sweep"},
        teen,
        service,
        None,
        weekdays=range(7),
        parts=["morning", "afternoon", "evening"],
        from_date=today,
        until_date=today + timedelta(days=60),
        by_staff=True,
    )
    held = hold_time(teen, clinician, service, starts_at)
    token = make_offer(entry, held, datetime.now(UTC) + timedelta(days=1))
    return entry.id, token


def _signature_of_b(teen_viewer, marker: str) -> int:
    """The id of a consent signature of B's: the teen signed it after agreeing to electronic records."""
    from blueprints.auth.models import User
    from blueprints.onboarding.operations import disclosure, library, record, signatures
    from blueprints.onboarding.operations.validation import SIGNATURE_REQUIRED

    owner = db.session.scalars(select(User).where(User.role == "owner")).first()
    consent = library.import_form(
        owner,
        {
            "resourceType": "Questionnaire",
            "status": "active",
            "title": f"{marker} consent",
            "extension": [{"url": SIGNATURE_REQUIRED, "valueBoolean": True}],
            "item": [{"linkId": "terms", "type": "display", "text": f"{marker} terms"}],
        },
    )
    record.share_form(owner, teen_viewer.client, consent.id)
    disclosure.open_disclosure(teen_viewer)
    disclosure.accept(teen_viewer, True)
    name = f"{teen_viewer.client.first_name} {teen_viewer.client.last_name}"
    signature, _ = signatures.sign(teen_viewer, consent.id, {}, name, True)
    return signature.id


def _build(make_practice, make_staff, make_client, grant_portal, open_for_booking, visit, in_practice):
    marker = f"Zyx{secrets.token_hex(8)}"
    a = make_practice(name="Sweep Alpha")
    b = make_practice(name=f"{marker} Beta")
    _push_ids_past(in_practice, b, B_IDS_FROM)

    # B: one of everything, all on one teen with a login of their own and a guardian.
    clinician = make_staff(b, "clinician", name=f"{marker} Clinician")
    service_id = open_for_booking(b, clinician, service_name=f"{marker} Therapy")
    fifteen = date.today().replace(year=date.today().year - 15, day=1)
    teen = make_client(
        b,
        first=marker,
        last="Teen",
        date_of_birth=fifteen,
        email=f"teen@{b.slug}.example.com",
        login=True,
        clinicians=(clinician,),
    )
    grant_portal(b, teen, f"guardian@{b.slug}.example.com", "guardian")
    b_objects = _objects_of_b(in_practice, b, marker, clinician, teen, service_id)

    # A: an owner, a client with a portal login, and a test client for the owner's preview.
    a_client = make_client(a, first="Ada", email=f"ada@{a.slug}.example.com", login=True)
    a_test_client = make_client(a, first="Test", last="Client", is_test=True)
    for practice in (a, b):
        _turn_everything_on(in_practice, practice)

    with in_practice(a):
        for key, model in ID_MODELS.items():
            assert db.session.get(model, b_objects[key]) is None, f"B's {key} id {b_objects[key]} exists in A"

    def logged_in(practice, email, then: str | None = None):
        visitor = visit(practice)
        assert visitor.login(email).status_code == 302
        if then:
            assert visitor.get(then).status_code in (200, 302)
        return visitor

    at_a = {
        "owner": logged_in(a, a.owner_email),
        "owner-preview": logged_in(a, a.owner_email),
        "client": logged_in(a, a_client.email, then="/portal/choose"),
        "anonymous": visit(a),
    }
    started = at_a["owner-preview"].post(
        "/settings/preview", {"client_id": a_test_client.id}, form_page="/settings/preview"
    )
    assert started.status_code == 302 and started.headers["Location"].endswith("/portal")
    at_b = {
        "owner": logged_in(b, b.owner_email),
        "client": logged_in(b, teen.email, then="/portal/choose"),
        "anonymous": visit(b),
        "clinician": logged_in(b, clinician),
    }
    pages = {"owner": "/", "owner-preview": "/portal", "client": "/portal", "anonymous": "/login"}
    csrf = {role: at_a[role].csrf_token(page) for role, page in pages.items()}
    return World(a, b, b_objects, at_a, at_b, csrf, marks_of_b=(marker, b.slug))


_built: dict = {}


@pytest.fixture
def world(
    app,
    make_practice,
    make_staff,
    make_client,
    grant_portal,
    open_for_booking,
    visit,
    in_practice,
    mailbox,
    run_jobs,
):
    """One pair of practices for the whole module (per test process). The practice fixtures are
    function-scoped factories over the session's application, so the pair is built once and kept."""
    if app not in _built:
        _built[app] = _build(
            make_practice, make_staff, make_client, grant_portal, open_for_booking, visit, in_practice
        )
        run_jobs()  # whatever B's setup queued is not the sweep's doing
        mailbox.clear()
    return _built[app]


# ---------------------------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------------------------


CSRF_VALUE = re.compile(r'(name="csrf_token"[^>]*?value=")[^"]*')


def _ask(visitor, method: str, path: str, csrf: str):
    if method == "GET":
        return visitor.get(path)
    return visitor.client.open(path, method=method, base_url=visitor.base_url, data={"csrf_token": csrf})


def _page(response, token: str) -> tuple:
    """What a token page says, with the token itself and the per-request CSRF value left out."""
    body = CSRF_VALUE.sub(r"\1", response.get_data(as_text=True)).replace(token, "<token>")
    return response.status_code, body, response.headers.get("Location", "").replace(token, "<token>")


def _unknown_like(token: str) -> str:
    """A token of the same shape that nobody issued."""
    return secrets.token_urlsafe(len(token))[: len(token)]


def _email_text(message) -> str:
    parts = [str(value) for value in message.values()]
    for part in message.walk():
        if not part.is_multipart():
            content = part.get_content()
            parts.append(content.decode("utf-8", "replace") if isinstance(content, bytes) else content)
    return "\n".join(parts)


def _jobs_queued(app, *practices: PracticeFixture) -> bool:
    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM public.procrastinate_jobs WHERE status = 'todo'"
                " AND (args->>'practice_id')::bigint = ANY(:ids))"
            ),
            {"ids": [practice.id for practice in practices]},
        ).scalar()


def _shows_b(world: World, response) -> list[str]:
    seen = response.get_data(as_text=True) + "\n" + str(response.headers)
    return [mark for mark in world.marks_of_b if mark in seen]


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_practice_b_ids_are_not_found_at_practice_a(case, world, app, mailbox, run_jobs):
    if case.missing:
        pytest.fail(case.missing)
    path = case.path(world.b_objects)
    visitor, csrf = world.at_a[case.role], world.csrf[case.role]
    response = _ask(visitor, case.method, path, csrf)

    if case.token is None:
        assert response.status_code == 404, f"{case}: {response.status_code}, not 404"
    else:
        token = world.b_objects[case.token]
        unknown = _ask(visitor, case.method, path.replace(token, _unknown_like(token)), csrf)
        assert _page(response, token) == _page(unknown, token), f"{case}: B's token is not just unknown here"
        assert response.status_code in (404, 410), f"{case}: {response.status_code}"
    assert not _shows_b(world, response), f"{case}: the response shows {_shows_b(world, response)}"

    if _jobs_queued(app, world.a, world.b):  # every email goes through the queue
        run_jobs()
    for message in mailbox.messages:
        sent = _email_text(message)
        assert not [mark for mark in world.marks_of_b if mark in sent], (
            f"{case}: email {message['Subject']!r}"
        )

    if case.method == "GET":  # the same address names something real at B
        at_home = world.at_b[AT_HOME_BY_ENDPOINT.get(case.endpoint, AT_HOME[case.role])].get(path)
        expected = 302 if case.endpoint in REDIRECTS_AT_HOME else 200
        assert at_home.status_code == expected, (
            f"{case}: {at_home.status_code} at B: the sweep names nothing there"
        )


def test_the_sweep_is_derived_from_the_running_applications_url_map(app):
    """The cases were collected from an application built for reading; it has the same rules."""
    assert _signature(app.url_map) == _signature(COLLECTED_MAP)
    swept = {case.rule for case in CASES}
    for rule in app.url_map.iter_rules():
        if _placeholders(rule):
            assert rule.rule in swept or rule.endpoint in SKIPPED, rule.rule
