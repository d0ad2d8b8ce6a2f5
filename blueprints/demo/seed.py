"""`portico demo`: a ready-to-try practice, with one printed line per login.

Running it again keeps everything and resets the printed passwords, so the lines always work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta

from sqlalchemy import func, select

from app.money import input_value
from blueprints.auth.service import change_password, create_user, find_user_by_email
from blueprints.billing.operations.invoices import client_invoices, issue_invoice
from blueprints.billing.operations.payments import record_manual_payment
from blueprints.demo.forms import populate_forms
from blueprints.documents.models import SERVABLE, LibraryItem
from blueprints.documents.operations.library import add_to_library, share_item
from blueprints.documents.operations.uploads import Incoming
from blueprints.people.models import Client
from blueprints.people.operations.access import assign_clinician, create_client, grant_access, portal_account
from blueprints.profile_links.service import profile_link_url
from blueprints.scheduling.operations.appointments import book
from blueprints.scheduling.operations.availability import available_slots, set_weekly_hours, weekly_hours
from blueprints.scheduling.operations.catalog import add_service
from blueprints.scheduling.operations.visibility import upcoming_for_client
from blueprints.signup.service import sign_up
from blueprints.waitlist.operations.entries import client_entries
from blueprints.waitlist.operations.entries import join as join_waitlist
from tenants.addresses import practice_url
from tenants.context import PracticeRecord
from tenants.database import db, practice_scope
from tenants.features import practice_settings, practice_today
from tenants.registry import lookup_address

DEMO_SLUG = "demo"
DEMO_NAME = "Harbor Family Therapy"
DOMAIN = "harbor.example.com"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    name: str

    @property
    def email(self) -> str:
        return f"{self.role}@{DOMAIN}"

    @property
    def password(self) -> str:
        return f"demo-{self.role}-pass"


STAFF = [
    DemoLogin(role, name)
    for role, name in (
        ("owner", "Olivia Owner"),
        ("scheduler", "Sam Scheduler"),
        ("clinician", "Dr. Casey Clinician"),
        ("intern", "Ira Intern"),
    )
]
CLIENT = DemoLogin("client", "Avery Adams")
GUARDIAN = DemoLogin("guardian", "Gale Morgan")
TEEN = DemoLogin("teen", "Tessa Morgan")


def _years_ago(years: int, month: int, day: int) -> date:
    return date(date.today().year - years, month, day)


def _client(first: str, last: str, **fields) -> Client:
    existing = db.session.scalars(
        select(Client).where(Client.first_name == first, Client.last_name == last)
    ).first()
    return existing or create_client(first, last, **fields)


def _login(login: DemoLogin, staff: bool):
    user = find_user_by_email(login.email)
    if user is None:
        if staff:
            user = create_user(login.email, login.name, login.password, role=login.role)
        else:
            user = portal_account(login.email, login.name)
    change_password(user, login.password)
    if user.activated_at is None:
        user.activated_at = func.now()
    return user


def _populate() -> str:
    """Everyone and everything of the demo practice; returns the adult client's profile link."""
    settings = practice_settings()
    settings.portal_enabled = True
    staff = {login.role: _login(login, staff=True) for login in STAFF}
    clinician = staff["clinician"]

    adult = _client("Avery", "Adams", email=CLIENT.email, date_of_birth=_years_ago(34, 3, 14))
    child = _client("Milo", "Morgan", date_of_birth=_years_ago(9, 6, 1))
    teen = _client("Tessa", "Morgan", email=TEEN.email, date_of_birth=_years_ago(15, 2, 20))
    for client in (adult, child, teen):
        assign_clinician(client, clinician)
    assign_clinician(child, staff["intern"])

    adult_login = _login(CLIENT, staff=False)
    grant_access(adult_login, adult, "self")
    guardian = _login(GUARDIAN, staff=False)
    grant_access(guardian, child, "guardian")
    grant_access(guardian, teen, "guardian")  # the teen's own messages stay private by default
    grant_access(_login(TEEN, staff=False), teen, "self")

    _schedule(settings, clinician, adult, child)
    _share_policies(staff["owner"])
    _bill(staff["owner"], adult)
    populate_forms(staff["owner"], adult, adult_login)

    return profile_link_url(adult)


POLICY_NAME = "Practice policies.pdf"
POLICY_LINES = (
    "Harbor Family Therapy: practice policies",
    "Appointments: please cancel at least 24 hours ahead.",
    "Messages are read on working days; they are not for emergencies.",
    "Your records are kept confidential and encrypted.",
)


def _policy_pdf() -> bytes:
    """A one-page PDF of POLICY_LINES (made here, so the demo needs no file of its own)."""
    import io

    import pikepdf

    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    text = " ".join(f"({line}) Tj 0 -22 Td" for line in POLICY_LINES)
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, 612, 792],
        Contents=pikepdf.Stream(pdf, f"BT /F1 13 Tf 72 720 Td {text} ET".encode()),
        Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
    )
    pdf.pages.append(pikepdf.Page(page))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _share_policies(owner) -> None:
    """The library holds the practice's policies, shared with every client (once)."""
    settings = practice_settings()
    settings.uploads_enabled = settings.shared_documents_enabled = True
    if db.session.scalars(select(LibraryItem).where(LibraryItem.name == POLICY_NAME)).first():
        return
    item = add_to_library(owner, Incoming(POLICY_NAME, _policy_pdf()))
    if item.scan_status in SERVABLE:  # a scanner that is away: it is shared once it passed
        share_item(owner, item, [], everyone=True)


def _bill(owner, adult: Client) -> None:
    """One invoice of the adult's, part paid in cash (online payment needs the practice's own Stripe)."""
    if client_invoices(adult):
        return
    invoice = issue_invoice(adult, [("service", "Individual therapy", 15000, None)])
    record_manual_payment(owner, invoice, "cash", input_value(5000, invoice.currency))


def _schedule(settings, clinician, adult: Client, child: Client) -> None:
    """Two services, weekday hours, self-scheduling on, and one upcoming appointment each for the
    adult client and the younger minor."""
    settings.self_scheduling_enabled = True
    settings.self_rescheduling_enabled = True
    settings.min_notice_hours = 12
    settings.contact_email = settings.contact_email or f"front-desk@{DOMAIN}"
    settings.cancellation_policy = settings.cancellation_policy or (
        "Please cancel at least 24 hours ahead; late cancellations may be charged."
    )
    therapy = add_service(
        "Individual therapy", 50, [clinician], service_code="90834", price_minor=15000, bookable_online=True
    )
    add_service(
        "Intake assessment", 90, [clinician], service_code="90791", price_minor=22000, bookable_online=False
    )
    if not any(weekly_hours(None).values()):
        set_weekly_hours(None, range(5), time(9), time(17))
    settings.waitlist_enabled = True
    if not client_entries(adult.id):  # the adult would like an earlier weekday morning
        today = practice_today()
        join_waitlist(
            {"actor_kind": "system", "actor_user_id": None, "actor_name": "Demo"},
            adult,
            therapy,
            None,
            weekdays=range(5),
            parts=["morning"],
            from_date=today,
            until_date=today + timedelta(days=60),
            by_staff=True,
        )
    for client in (adult, child):
        if not upcoming_for_client(client.id):
            slots = available_slots(clinician.id, therapy)
            if slots:
                book(
                    client,
                    clinician,
                    therapy,
                    slots[len(slots) // 4 if client is adult else len(slots) // 3],
                    notify=False,
                )


def create_demo() -> list[str]:
    """Create (or refresh) the demo practice; returns the lines to print."""
    practice = lookup_address(DEMO_SLUG)
    if not isinstance(practice, PracticeRecord):
        owner = STAFF[0]
        practice, _ = sign_up(DEMO_NAME, owner.name, owner.email, owner.password, DEMO_SLUG, hand_off=False)
    with practice_scope(practice):
        link = _populate()
        db.session.commit()
    url = practice_url(DEMO_SLUG, "")
    logins = [*STAFF, CLIENT, GUARDIAN, TEEN]
    lines = [f"{login.role}  {url}  {login.email}  {login.password}" for login in logins]
    lines.append(f"profile link  {link}")
    return lines
