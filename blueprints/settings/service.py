"""Rules of practice settings: who may change what, which values are acceptable, what changed.

Values arrive as plain Python values (the view has already turned form text into ints and bools).
Everything is checked before anything is applied, so a refused change leaves every setting as it was.
Changing settings, starting a preview and creating the test client write their own audit lines.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import available_timezones

from sqlalchemy import select

from app.money import is_currency
from app.refusals import NotAllowed, NotFound, Problems
from app.roles import MANAGES_PRACTICE, OWNER_ONLY
from blueprints.audit.service import record
from blueprints.auth.models import User
from blueprints.people.models import Client, ClientClinician
from blueprints.people.operations.access import assign_clinician, create_client
from blueprints.portal.viewer import PREVIEW_ROLES, begin_preview  # PREVIEW_ROLES: the portal's rule
from blueprints.scheduling.models import Service, ServiceClinician
from blueprints.scheduling.operations.catalog import offering_staff
from tenants.database import db
from tenants.features import PracticeSettings
from tenants.registry import set_practice_name

SETTINGS_ROLES = MANAGES_PRACTICE
MFA_RULE_ROLES = OWNER_ONLY

# Column -> label, in the order the page shows them. Only features that exist have a toggle here.
TOGGLES = {
    "portal_enabled": "Client portal",
    "online_requests_enabled": "Online appointment requests",
    "self_scheduling_enabled": "Self-scheduling (book without approval)",
    "self_rescheduling_enabled": "Self-rescheduling",
    "client_cancellation_enabled": "Clients may cancel appointments",
    "messaging_enabled": "Secure messaging",
    "uploads_enabled": "Client uploads",
    "shared_documents_enabled": "Shared documents",
    "profile_links_enabled": "Profile links (passwordless)",
    "guardian_access_enabled": "Guardian access",
    "forms_enabled": "Online forms",
    "waitlist_enabled": "Waitlist (freed times offered to waiting clients)",
    "new_clients_choose_clinician": "New clients may choose any clinician who offers a service",
    "client_series_enabled": "Clients may book recurring series (of the services marked for it)",
}
ASKED_INFORMATION = {
    "ask_demographics": "Demographics",
    "ask_contact": "Contact details",
    "ask_emergency_contact": "Emergency contact",
    "ask_insurance": "Insurance",
}
NUMBERS = {
    "cancellation_window_hours": (0, 720),
    "profile_link_days": (1, 90),
    "age_of_majority": (16, 21),
    "teen_age": (10, 17),
    "max_upload_mb": (1, 100),
    "client_storage_mb": (1, 10_000),
    "waitlist_offer_count": (1, 20),
    "waitlist_hold_minutes": (5, 1440),
}
TEXTS = ("time_zone", "currency", "contact_email", "cancellation_policy")
MAX_NAME_LENGTH = 200
TEST_CLIENT_NAME = ("Test", "Client")


@lru_cache(maxsize=1)
def time_zones() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def time_zone_problem(name: str | None) -> str | None:
    if not name or name not in time_zones():
        return "Choose a time zone from the list, for example Europe/London or America/New_York."
    return None


def editable_fields(role: str) -> tuple[str, ...]:
    """The settings `role` may change (the staff two-factor rule is the owner's alone)."""
    fields = ("name", *TEXTS, *TOGGLES, *ASKED_INFORMATION, *NUMBERS)
    if role in MFA_RULE_ROLES:
        fields += ("require_staff_mfa",)
    return fields


def settings_problems(values: dict) -> dict[str, str]:
    """Field -> what is wrong with it; empty when every value is acceptable."""
    problems: dict[str, str] = {}
    name = (values.get("name") or "").strip()
    if not name:
        problems["name"] = "Give the practice a name."
    elif len(name) > MAX_NAME_LENGTH:
        problems["name"] = f"Use at most {MAX_NAME_LENGTH} characters."
    problem = time_zone_problem(values.get("time_zone"))
    if problem:
        problems["time_zone"] = problem
    if not is_currency(values.get("currency")):
        problems["currency"] = "Choose a currency from the list."
    for field, (low, high) in NUMBERS.items():
        number = values.get(field)
        if not isinstance(number, int) or isinstance(number, bool) or not low <= number <= high:
            problems[field] = f"Enter a whole number from {low} to {high}."
    per_file, per_client = values.get("max_upload_mb"), values.get("client_storage_mb")
    if "max_upload_mb" not in problems and "client_storage_mb" not in problems and per_client < per_file:
        problems["client_storage_mb"] = "The limit per client must be at least the limit per file."
    majority, teen = values.get("age_of_majority"), values.get("teen_age")
    if "age_of_majority" not in problems and "teen_age" not in problems and teen >= majority:
        problems["teen_age"] = "The teen age must be below the age of majority."
    return problems


def current_values(settings: PracticeSettings, practice_name: str) -> dict:
    values = {column: getattr(settings, column) for column in (*TEXTS, *TOGGLES, *ASKED_INFORMATION)}
    values.update({column: getattr(settings, column) for column in (*NUMBERS, "require_staff_mfa")})
    values["name"] = practice_name
    return values


def apply_settings(
    settings: PracticeSettings, practice_id: int, practice_name: str, actor: User, values: dict
) -> list[str]:
    """Apply `values` as far as `actor`'s role may, all or nothing; return the names that changed."""
    if actor.role not in SETTINGS_ROLES:
        raise NotAllowed("Only the owner or an admin can change the practice's settings.")
    problems = settings_problems(values)
    if problems:
        raise Problems(problems)
    changed = []
    for field in editable_fields(actor.role):
        if field == "name":
            continue
        value = values.get(field)
        if field in ("contact_email", "cancellation_policy"):
            value = (value or "").strip() or None
        elif field in TOGGLES or field in ASKED_INFORMATION or field == "require_staff_mfa":
            value = bool(value)
        if getattr(settings, field) != value:
            setattr(settings, field, value)
            changed.append(field)
    new_name = values["name"].strip()
    if new_name != practice_name:
        changed.insert(0, "name")
        # The registry lives outside the practice's schema and commits on its own connection.
        set_practice_name(practice_id, new_name)
    if changed:
        record("settings changed", detail="changed: " + ", ".join(changed), **actor.audit_actor)
    return changed


def list_test_clients() -> list[Client]:
    """The practice's test clients (staff "Preview as client" opens the portal as one of them)."""
    return list(
        db.session.scalars(
            select(Client).where(Client.is_test.is_(True)).order_by(Client.first_name, Client.id)
        )
    )


def _may_preview(actor: User) -> None:
    if actor.role not in PREVIEW_ROLES:
        raise NotAllowed("Only the owner, an admin or a scheduler can preview the portal.")


def preview_clinician(actor: User) -> User | None:
    """Who a test client sees as their clinician, so that booking can be previewed: `actor` when they
    offer an active service, else the first clinician who does (clinicians before other roles),
    else, with no service offered yet, `actor` or the first who could offer services."""
    staff = offering_staff()
    offering_ids = set(
        db.session.scalars(
            select(ServiceClinician.user_id)
            .join(Service, Service.id == ServiceClinician.service_id)
            .where(Service.is_active.is_(True))
        )
    )
    offering = sorted((u for u in staff if u.id in offering_ids), key=lambda u: u.role != "clinician")
    for group in (offering, staff):
        if actor in group:
            return actor
        if group:
            return group[0]
    return None


def _give_a_clinician(actor: User, client: Client) -> User | None:
    """Assign the test client a clinician (see `preview_clinician`) unless it has one; returns who."""
    if db.session.scalars(select(ClientClinician).where(ClientClinician.client_id == client.id)).first():
        return None
    clinician = preview_clinician(actor)
    if clinician is not None:
        assign_clinician(client, clinician)
    return clinician


def ensure_test_client(actor: User) -> Client:
    """The first test client, created (and recorded) when there is none, with a clinician."""
    _may_preview(actor)
    existing = list_test_clients()
    if existing:
        _give_a_clinician(actor, existing[0])
        return existing[0]
    first, last = TEST_CLIENT_NAME
    client = create_client(first, last, is_test=True)
    clinician = _give_a_clinician(actor, client)
    detail = f"clinician: {clinician.name}" if clinician else None
    record("test client created", client_id=client.id, detail=detail, **actor.audit_actor)
    return client


def preview_client(client_id: int) -> Client | None:
    """The test client `client_id` of this practice, or None (a real client is never previewed)."""
    client = db.session.get(Client, client_id)
    if client is None or not client.is_test or client.status != "active":
        return None
    return client


def start_preview(actor: User, client_id: int) -> Client:
    """`actor`'s session now shows the portal of test client `client_id` (NotFound for any other id:
    a real client, another practice's, or nothing at all)."""
    _may_preview(actor)
    client = preview_client(client_id)
    if client is None:
        raise NotFound()
    clinician = _give_a_clinician(actor, client)  # a test client made before clinicians came along
    begin_preview(client)
    detail = f"clinician assigned: {clinician.name}" if clinician else None
    record("preview as client started", client_id=client.id, detail=detail, **actor.audit_actor)
    return client
