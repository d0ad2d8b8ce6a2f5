"""Services (appointment types) and who offers them: owners and admins keep the catalog; owners,
admins, clinicians and interns may offer services and be booked."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.money import AmountError, format_amount, input_value, parse_amount
from app.refusals import NotAllowed, Problems
from app.roles import MANAGES_PRACTICE, OFFERS_SERVICES
from blueprints.auth.models import User
from blueprints.scheduling.models import DELIVERIES, Service, ServiceClinician
from blueprints.scheduling.operations.common import audit, number_problem
from tenants.database import db
from tenants.features import practice_settings

MIN_DURATION, MAX_DURATION = 5, 600
MAX_PRICE_MINOR = 100_000_000  # in the currency's smallest unit (the column is a 32-bit integer)


def offering_staff() -> list[User]:
    """Active staff who can offer services and be booked."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.kind == "staff", User.is_active_account.is_(True), User.role.in_(OFFERS_SERVICES))
            .order_by(User.name, User.id)
        )
    )


def bookable_clinician(user_id: int | None) -> User | None:
    user = db.session.get(User, user_id) if user_id else None
    if user is None or not user.is_staff or user.role not in OFFERS_SERVICES or not user.is_active_account:
        return None
    return user


def clinician_for(service: Service, preferred=()) -> User | None:
    """Who to preselect for `service`: the first of the `preferred` user ids who offers it, else the
    first (by name) active clinician who does, else None."""
    eligible = {user.id: user for user in offering_staff()}
    offering = [user for user in service.clinicians if user.id in eligible]
    for user_id in preferred:
        for user in offering:
            if user.id == user_id:
                return user
    return offering[0] if offering else None


def list_services(active_only: bool = False) -> list[Service]:
    query = select(Service).options(selectinload(Service.clinicians)).order_by(func.lower(Service.name))
    if active_only:
        query = query.where(Service.is_active.is_(True))
    return list(db.session.scalars(query))


def services_offered_by(clinician_id: int) -> list[Service]:
    return list(
        db.session.scalars(
            select(Service)
            .join(ServiceClinician, ServiceClinician.service_id == Service.id)
            .where(ServiceClinician.user_id == clinician_id, Service.is_active.is_(True))
            .order_by(func.lower(Service.name))
        )
    )


def offers(clinician_id: int, service: Service) -> bool:
    return db.session.get(ServiceClinician, (service.id, clinician_id)) is not None


def duration_problem(minutes: int | None) -> str | None:
    """What is wrong with a length in minutes (None: the service's own length), or None."""
    if minutes is not None and number_problem(minutes, MIN_DURATION, MAX_DURATION):
        return f"Enter the length in minutes, from {MIN_DURATION} to {MAX_DURATION}."
    return None


def currency() -> str:
    """The practice's currency (prices are in its smallest unit)."""
    return practice_settings().currency


def parse_price(text: str | None) -> int | None:
    """What was typed in the price field -> the price in the practice's currency's smallest unit;
    blank is None (no price). Refuses (Problems on "price") what is not a price in that currency."""
    try:
        amount = parse_amount(text, currency(), noun="price")
    except AmountError as error:
        raise Problems({"price": str(error)}) from None
    if amount is not None and amount > MAX_PRICE_MINOR:
        raise Problems({"price": "That price is too high."})
    return amount


def format_price(amount: int | None) -> str:
    """A price for reading ("$150.00", "¥15,000"); None is "no price"."""
    return format_amount(amount, currency())


def price_input(service: Service) -> str:
    """A service's price as the price field holds it ("150.00"; blank for no price)."""
    return input_value(service.price_minor, currency())


def set_price(service: Service, amount: int | None) -> None:
    service.price_minor = amount
    service.price_cents = amount or 0  # the previous release's column, until it is dropped


def service_problems(existing: Service | None, values: dict) -> dict[str, str]:
    """Field -> what is wrong with a service's values (see `save_service`); empty when acceptable."""
    problems: dict[str, str] = {}
    name = (values.get("name") or "").strip()
    if not name:
        problems["name"] = "Give the service a name."
    elif len(name) > 200:
        problems["name"] = "Use at most 200 characters."
    else:
        clash = db.session.scalars(
            select(Service.id).where(
                func.lower(Service.name) == name.lower(), Service.id != (existing.id if existing else -1)
            )
        ).first()
        if clash is not None:
            problems["name"] = "Another service already has that name."
    if number_problem(values.get("duration_minutes"), MIN_DURATION, MAX_DURATION):
        problems["duration_minutes"] = f"Enter the length in minutes, from {MIN_DURATION} to {MAX_DURATION}."
    code = (values.get("service_code") or "").strip()
    if len(code) > 20:
        problems["service_code"] = "Use at most 20 characters."
    try:
        parse_price(values.get("price"))
    except Problems as error:
        problems.update(error.problems)
    if values.get("delivery", "in_person") not in DELIVERIES:
        problems["delivery"] = "Choose in person, online, or either."
    eligible = {user.id for user in offering_staff()}
    if any(user_id not in eligible for user_id in values.get("clinician_ids") or []):
        problems["clinician_ids"] = "Choose active clinicians, interns, admins or owners."
    return problems


def save_service(actor: User, existing: Service | None, values: dict) -> Service:
    """Create (existing=None) or change a service. `values`: name, duration_minutes, service_code,
    price (text), bookable_online, series_bookable, delivery (`DELIVERIES`), is_active, clinician_ids."""
    if actor.role not in MANAGES_PRACTICE:
        raise NotAllowed("Only the owner or an admin can change services.")
    problems = service_problems(existing, values)
    if problems:
        raise Problems(problems)
    eligible = {user.id: user for user in offering_staff()}
    item = existing or Service()
    item.name = values["name"].strip()
    item.duration_minutes = values["duration_minutes"]
    item.service_code = (values.get("service_code") or "").strip() or None
    set_price(item, parse_price(values.get("price")))
    item.bookable_online = bool(values.get("bookable_online"))
    item.series_bookable = bool(values.get("series_bookable"))
    item.delivery = values.get("delivery", "in_person")
    item.is_active = bool(values.get("is_active"))
    item.clinicians = [eligible[user_id] for user_id in dict.fromkeys(values.get("clinician_ids") or [])]
    if existing is None:
        db.session.add(item)
    db.session.flush()
    audit(actor, "changed service" if existing else "created service", detail=item.name)
    return item


def add_service(
    name: str,
    duration_minutes: int,
    clinicians: list[User],
    *,
    service_code: str | None = None,
    price_minor: int | None = None,
    bookable_online: bool = True,
    delivery: str = "in_person",
) -> Service:
    """Seeding (the demo, test fixtures, benchmarks): the service called `name`, created if there is
    none yet, offered by `clinicians`. No audit line: nobody in the practice did this."""
    item = db.session.scalars(select(Service).where(func.lower(Service.name) == name.lower())).first()
    if item is None:
        item = Service(name=name, duration_minutes=duration_minutes, service_code=service_code)
        item.bookable_online = bookable_online
        item.delivery = delivery
        set_price(item, price_minor)
        db.session.add(item)
        db.session.flush()
    for clinician in clinicians:
        if not offers(clinician.id, item):
            db.session.add(ServiceClinician(service_id=item.id, user_id=clinician.id))
    db.session.flush()
    return item
