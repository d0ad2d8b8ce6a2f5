"""Service prices in the practice's currency: "no price" is not 0.00, the currency setting, and
zero- and three-decimal currencies on the services pages."""

from __future__ import annotations

from sqlalchemy import select

from blueprints.auth.service import find_user_by_email
from blueprints.scheduling.models import Service
from tenants.database import db
from tenants.features import practice_settings
from tests.test_settings import form_values, save_settings


def logged_in_owner(visit, practice):
    owner = visit(practice)
    assert owner.login(practice.owner_email).status_code == 302
    return owner


def stored_service(in_practice, practice, name: str) -> Service:
    with in_practice(practice):
        item = db.session.scalars(select(Service).where(Service.name == name)).one()
        db.session.expunge(item)
        return item


def add(owner, name: str, price: str, **extra):
    return owner.post("/services/new", {"name": name, "duration_minutes": "50", "price": price, **extra})


def test_a_service_without_a_price_says_no_price(make_practice, visit, in_practice):
    practice = make_practice()
    owner = logged_in_owner(visit, practice)
    assert add(owner, "Consultation", "").status_code == 302
    item = stored_service(in_practice, practice, "Consultation")
    assert (item.price_minor, item.price_cents) == (None, 0)
    listing = owner.get("/services").get_data(as_text=True)
    assert "no price" in listing and "0.00" not in listing and "Price (USD)" in listing

    assert add(owner, "Free intro call", "0").status_code == 302  # a price of zero is a price
    assert stored_service(in_practice, practice, "Free intro call").price_minor == 0
    assert "$0.00" in owner.get("/services").get_data(as_text=True)

    # Editing shows the price as it was typed, and clearing it takes the price away again.
    priced = add(owner, "Therapy", "1,234.56")
    assert priced.status_code == 302
    therapy = stored_service(in_practice, practice, "Therapy")
    assert (therapy.price_minor, therapy.price_cents) == (123456, 123456)
    assert "$1,234.56" in owner.get("/services").get_data(as_text=True)
    page = owner.get(f"/services/{therapy.id}").get_data(as_text=True)
    assert 'name="price" type="text" value="1234.56"' in page and "Price (USD)" in page
    blank = {"name": "Therapy", "duration_minutes": "50", "price": ""}
    cleared = owner.post(f"/services/{therapy.id}", blank)
    assert cleared.status_code == 302
    therapy = stored_service(in_practice, practice, "Therapy")
    assert (therapy.price_minor, therapy.price_cents) == (None, 0)


def test_usd_prices_refuse_what_they_would_have_to_guess(make_practice, visit, in_practice):
    practice = make_practice()
    owner = logged_in_owner(visit, practice)
    refused = add(owner, "Therapy", "1.234")
    assert refused.status_code == 400
    assert "Amounts in USD have at most 2 decimal places, so 1.234 cannot be read." in refused.get_data(
        as_text=True
    )
    with in_practice(practice):
        assert db.session.scalars(select(Service)).all() == []
    assert add(owner, "Therapy", "1.5").status_code == 302
    assert stored_service(in_practice, practice, "Therapy").price_minor == 150


def test_the_currency_is_a_setting_chosen_from_a_list(make_practice, visit, in_practice):
    practice = make_practice()
    owner = logged_in_owner(visit, practice)
    page = owner.get("/settings").get_data(as_text=True)
    assert form_values(page)["currency"] == "USD"
    assert '<option value="JPY">JPY: Japanese Yen</option>' in page
    assert '<option value="KWD">KWD: Kuwaiti Dinar</option>' in page

    refused = save_settings(owner, currency="XYZ")
    assert refused.status_code == 400 and "Choose a currency from the list." in refused.get_data(as_text=True)
    assert save_settings(owner, currency="usd").status_code == 400
    with in_practice(practice):
        assert practice_settings().currency == "USD"

    assert save_settings(owner, currency="JPY").status_code == 302
    with in_practice(practice):
        assert practice_settings().currency == "JPY"
    assert form_values(owner.get("/settings").get_data(as_text=True))["currency"] == "JPY"


def test_zero_decimal_currency(make_practice, visit, in_practice):
    practice = make_practice()
    owner = logged_in_owner(visit, practice)
    assert save_settings(owner, currency="JPY").status_code == 302
    form = owner.get("/services/new").get_data(as_text=True)
    assert "Price (JPY)" in form and "For example 1200." in form

    refused = add(owner, "Therapy", "1.5")
    assert refused.status_code == 400
    assert "Amounts in JPY have no decimal places: enter a whole number" in refused.get_data(as_text=True)
    assert add(owner, "Therapy", "15,000").status_code == 302
    item = stored_service(in_practice, practice, "Therapy")
    assert item.price_minor == 15000
    assert "¥15,000" in owner.get("/services").get_data(as_text=True)
    assert 'value="15000"' in owner.get(f"/services/{item.id}").get_data(as_text=True)


def test_three_decimal_currency(make_practice, visit, in_practice):
    practice = make_practice()
    owner = logged_in_owner(visit, practice)
    assert save_settings(owner, currency="KWD").status_code == 302
    assert add(owner, "Therapy", "1.5").status_code == 302
    item = stored_service(in_practice, practice, "Therapy")
    assert item.price_minor == 1500
    listing = owner.get("/services").get_data(as_text=True).replace("\xa0", " ")
    assert "KWD1.500" in listing or "KWD 1.500" in listing
    assert 'value="1.500"' in owner.get(f"/services/{item.id}").get_data(as_text=True)
    refused = add(owner, "Long therapy", "1.2345")
    assert refused.status_code == 400 and "at most 3 decimal places" in refused.get_data(as_text=True)


def test_seeded_prices_are_in_the_smallest_unit(make_practice, make_staff, in_practice):
    from blueprints.scheduling.operations.catalog import add_service, format_price

    practice = make_practice()
    clinician = make_staff(practice)
    with in_practice(practice):
        item = add_service("Therapy", 50, [find_user_by_email(clinician)], price_minor=15000)
        plain = add_service("Check-in", 15, [])
        assert (item.price_minor, item.price_cents) == (15000, 15000)
        assert (plain.price_minor, plain.price_cents) == (None, 0)
        assert (format_price(item.price_minor), format_price(plain.price_minor)) == ("$150.00", "no price")
        db.session.rollback()
