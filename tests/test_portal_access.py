"""The client portal's access rules: family logins, guardians, majority, revocation."""

from __future__ import annotations

from datetime import date, timedelta

from blueprints.people.models import Client, PortalAccess
from blueprints.portal.service import permissions_for
from tenants.features import PracticeSettings


def years_ago(years: int, days: int = 0) -> date:
    today = date.today()
    return today.replace(year=today.year - years) - timedelta(days=days)


def rules(**overrides):
    settings = PracticeSettings(age_of_majority=18, teen_age=12, guardian_access_enabled=True)
    for key, value in overrides.items():
        setattr(settings, key, value)
    return settings


def grant(**fields):
    defaults = dict(
        relationship_kind="guardian",
        can_appointments=True,
        can_forms=True,
        can_documents=True,
        can_messages=True,
        can_billing=False,
        minor_messages="default",
        revoked_at=None,
    )
    return PortalAccess(**{**defaults, **fields})


def test_guardian_of_a_child_sees_the_childs_messages_but_not_a_teens():
    child = Client(status="active", date_of_birth=years_ago(8))
    teen = Client(status="active", date_of_birth=years_ago(15))
    assert permissions_for(grant(), child, rules(), date.today()).own_messages is True
    assert permissions_for(grant(), teen, rules(), date.today()).own_messages is False
    assert permissions_for(grant(minor_messages="allow"), teen, rules(), date.today()).own_messages is True
    assert permissions_for(grant(minor_messages="deny"), child, rules(), date.today()).own_messages is False


def test_guardian_access_ends_on_the_day_of_majority():
    almost = Client(status="active", date_of_birth=years_ago(18, days=-1))
    adult = Client(status="active", date_of_birth=years_ago(18))
    assert permissions_for(grant(), almost, rules(), date.today()) is not None
    assert permissions_for(grant(), adult, rules(), date.today()) is None
    assert permissions_for(grant(relationship_kind="self"), adult, rules(), date.today()) is not None


def test_revoked_disabled_or_archived_means_nothing():
    child = Client(status="active", date_of_birth=years_ago(8))
    assert permissions_for(grant(revoked_at=date.today()), child, rules(), date.today()) is None
    assert permissions_for(grant(), child, rules(guardian_access_enabled=False), date.today()) is None
    archived = Client(status="archived", date_of_birth=years_ago(8))
    assert permissions_for(grant(), archived, rules(), date.today()) is None


def test_guardian_permissions_follow_the_grant():
    child = Client(status="active", date_of_birth=years_ago(8))
    permissions = permissions_for(grant(can_forms=False, can_messages=False), child, rules(), date.today())
    assert permissions.appointments and not permissions.forms and not permissions.guardian_messages


def test_family_sharing_one_email_picks_whose_portal(
    make_practice, make_client, grant_portal, visit, in_practice
):
    from tenants.database import db
    from tenants.features import practice_settings

    practice = make_practice()
    with in_practice(practice):
        practice_settings().portal_enabled = True
        db.session.commit()
    shared = f"family@{practice.slug}.example.com"
    alex = make_client(practice, first="Alex", email=shared)
    sam = make_client(practice, first="Sam", email=shared)
    stranger = make_client(practice, first="Stranger")
    grant_portal(practice, alex, shared, "self")
    grant_portal(practice, sam, shared, "self")

    family = visit(practice)
    response = family.login(shared)
    assert response.headers["Location"] == "/portal/choose"
    page = family.get("/portal/choose").get_data(as_text=True)
    assert alex.name in page and sam.name in page and stranger.name not in page
    assert family.post(f"/portal/open/{stranger.id}", form_page="/portal/choose").status_code == 404
    assert family.post(f"/portal/open/{sam.id}", form_page="/portal/choose").status_code == 302
    home = family.get("/portal").get_data(as_text=True)
    assert f"Record of <strong>{sam.name}" in home
    assert family.get("/portal/appointments").status_code == 200
