"""Practice settings, feature toggles and "Preview as client", over HTTP."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from app.refusals import NotAllowed
from blueprints.audit.models import AuditEvent
from blueprints.auth.service import find_user_by_email
from blueprints.people.models import Client
from blueprints.settings import service
from tenants.database import db
from tenants.features import practice_settings
from tenants.registry import get_practice


class _FormReader(HTMLParser):
    """What a browser would submit from the form with `form_id`, as it is rendered."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.select: str | None = None
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        if not self.inside:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            if attrs.get("type") == "checkbox":
                if "checked" in attrs:
                    self.values[name] = attrs.get("value", "on")
            else:
                self.values[name] = attrs.get("value") or ""
        elif tag == "select" and name:
            self.select = name
        elif tag == "option" and self.select and "selected" in attrs:
            self.values[self.select] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


def form_values(html: str, form_id: str = "settings-form") -> dict[str, str]:
    reader = _FormReader(form_id)
    reader.feed(html)
    return reader.values


def save_settings(visitor, **changes):
    """Submit the settings form as shown, with `changes` (True/False tick or untick a box)."""
    page = visitor.get("/settings")
    assert page.status_code == 200, page.status_code
    data = form_values(page.get_data(as_text=True))
    for name, value in changes.items():
        if value is True:
            data[name] = "y"
        elif value is False:
            data.pop(name, None)
        else:
            data[name] = str(value)
    return visitor.post("/settings", data)


def registry_record(app, practice):
    with app.app_context():
        return get_practice(practice.id)


def open_portal(in_practice, practice, **toggles):
    with in_practice(practice):
        settings = practice_settings()
        settings.portal_enabled = True
        for name, value in toggles.items():
            setattr(settings, name, value)
        db.session.commit()


def stored_settings(in_practice, practice) -> dict:
    with in_practice(practice):
        settings = practice_settings()
        return {c.key: getattr(settings, c.key) for c in settings.__table__.columns}


def audit_events(in_practice, practice, action: str | None = None) -> list[AuditEvent]:
    with in_practice(practice):
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        events = db.session.scalars(query).all()
        db.session.expunge_all()
        return events


def nav_labels(visitor, path: str = "/") -> str:
    """The site menu's markup (its every group: the main row, "Practice" and the account's entries),
    without the "Log out" form's CSRF token, which changes from page to page."""
    html = visitor.get(path).get_data(as_text=True)
    start = html.index('id="site-menu"')
    return re.sub(
        r'name="csrf_token" value="[^"]*"', 'name="csrf_token"', html[start : html.index("</nav>", start)]
    )


# --- who may open the settings ----------------------------------------------------------------------


def test_owner_and_admin_open_settings_other_roles_are_refused(make_practice, make_staff, make_client, visit):
    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)
    page = owner.get("/settings")
    assert page.status_code == 200
    assert f'id="practice-address">{practice.host}' in page.get_data(as_text=True)

    admin = visit(practice)
    admin.login(make_staff(practice, "admin"))
    assert admin.get("/settings").status_code == 200
    for role in ("scheduler", "clinician", "intern"):
        staff = visit(practice)
        staff.login(make_staff(practice, role))
        assert staff.get("/settings").status_code == 403, role
        assert (
            staff.post("/settings", {"name": "Taken over"}, form_page="/account/security").status_code == 403
        )

    client = make_client(practice, email=f"client@{practice.slug}.example.com", login=True)
    person = visit(practice)
    person.login(client.email)
    assert person.get("/settings").status_code == 403

    anonymous = visit(practice).get("/settings")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")


def test_settings_and_preview_entries_appear_only_for_those_who_may_use_them(
    make_practice, make_staff, visit
):
    practice = make_practice()
    expected = {
        "owner": {"Settings", "Preview as client", "Audit log", "Security"},
        "admin": {"Settings", "Preview as client", "Security"},
        "scheduler": {"Preview as client", "Security"},
        "clinician": {"Security"},
        "intern": {"Security"},
    }
    for role, labels in expected.items():
        visitor = visit(practice)
        visitor.login(practice.owner_email if role == "owner" else make_staff(practice, role))
        nav = nav_labels(visitor)
        for label in {"Settings", "Preview as client", "Audit log", "Security"}:
            assert (f">{label}</a>" in nav) == (label in labels), (role, label)


# --- changing settings --------------------------------------------------------------------------------


def test_owner_changes_settings_and_the_audit_log_names_what_changed(app, make_practice, visit, in_practice):
    practice = make_practice(name="Old Name Therapy")
    owner = visit(practice)
    owner.login(practice.owner_email)
    response = save_settings(
        owner,
        name="New Name Therapy",
        time_zone="Europe/Berlin",
        contact_email="hello@newname.example.com",
        portal_enabled=True,
        self_scheduling_enabled=True,
        messaging_enabled=False,
        cancellation_window_hours=48,
        profile_link_days=30,
        age_of_majority=19,
        teen_age=13,
        ask_insurance=True,
    )
    assert response.status_code == 302 and response.headers["Location"] == "/settings"
    page = owner.get("/settings").get_data(as_text=True)
    assert "Settings saved." in page
    assert 'value="Europe/Berlin"' in page and 'value="48"' in page

    stored = stored_settings(in_practice, practice)
    assert stored["time_zone"] == "Europe/Berlin"
    assert stored["contact_email"] == "hello@newname.example.com"
    assert stored["portal_enabled"] and stored["self_scheduling_enabled"] and not stored["messaging_enabled"]
    assert (stored["cancellation_window_hours"], stored["profile_link_days"]) == (48, 30)
    assert (stored["age_of_majority"], stored["teen_age"]) == (19, 13)
    assert stored["ask_insurance"] is True
    # The name lives in the registry: every page (and every email) uses the new one.
    assert registry_record(app, practice).name == "New Name Therapy"
    assert "New Name Therapy" in owner.get("/").get_data(as_text=True)
    assert "New Name Therapy" in visit(practice).get("/login").get_data(as_text=True)

    [event] = audit_events(in_practice, practice, "settings changed")
    assert event.actor_kind == "staff" and event.actor_user_id == 1
    for name in ("name", "time_zone", "contact_email", "portal_enabled", "messaging_enabled", "teen_age"):
        assert name in event.detail
    assert "online_requests_enabled" not in event.detail  # unchanged
    for value in ("New Name Therapy", "Europe/Berlin", "hello@newname.example.com", "48"):
        assert value not in event.detail  # names only, never values


def test_saving_without_changes_records_nothing(make_practice, visit, in_practice):
    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)
    assert save_settings(owner).status_code == 302
    assert "Nothing was changed." in owner.get("/settings").get_data(as_text=True)
    assert audit_events(in_practice, practice, "settings changed") == []


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("name", "", "This field is required."),
        ("name", "x" * 201, "200 characters"),
        ("time_zone", "Mars/Olympus_Mons", "Choose a time zone"),
        ("time_zone", "../../etc/passwd", "Choose a time zone"),
        ("contact_email", "not-an-email", "Invalid email address."),
        ("cancellation_window_hours", "721", "from 0 to 720"),
        ("cancellation_window_hours", "-1", "from 0 to 720"),
        ("cancellation_window_hours", "soon", "Not a valid integer value."),
        ("profile_link_days", "0", "from 1 to 90"),
        ("profile_link_days", "91", "from 1 to 90"),
        ("age_of_majority", "15", "from 16 to 21"),
        ("age_of_majority", "22", "from 16 to 21"),
        ("teen_age", "9", "from 10 to 17"),
        ("teen_age", "18", "from 10 to 17"),
    ],
)
def test_bad_settings_are_refused_and_nothing_changes(
    app, make_practice, visit, in_practice, field, value, message
):
    practice = make_practice(name="Unchanged Practice")
    owner = visit(practice)
    owner.login(practice.owner_email)
    before = stored_settings(in_practice, practice)
    # Good changes in the same submission are not applied either.
    response = save_settings(owner, **{field: value}, portal_enabled=True)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page and "Nothing was saved." in page
    assert stored_settings(in_practice, practice) == before
    assert registry_record(app, practice).name == "Unchanged Practice"
    assert audit_events(in_practice, practice, "settings changed") == []


def test_teen_age_must_be_below_the_age_of_majority(make_practice, visit, in_practice):
    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)
    response = save_settings(owner, age_of_majority=16, teen_age=16)
    assert response.status_code == 400
    assert "The teen age must be below the age of majority." in response.get_data(as_text=True)
    assert stored_settings(in_practice, practice)["age_of_majority"] == 18
    assert save_settings(owner, age_of_majority=16, teen_age=15).status_code == 302
    assert stored_settings(in_practice, practice)["teen_age"] == 15


def test_the_portal_address_cannot_be_changed_from_settings(app, make_practice, visit, in_practice):
    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)
    assert save_settings(owner, slug="hijacked-address", name="Renamed").status_code == 302
    assert registry_record(app, practice).slug == practice.slug
    assert visit("hijacked-address.localhost").get("/login").status_code == 404


def test_only_the_owner_may_require_two_factor_for_staff(make_practice, make_staff, visit, in_practice):
    practice = make_practice()
    admin = visit(practice)
    admin.login(make_staff(practice, "admin"))
    assert "require_staff_mfa" not in admin.get("/settings").get_data(as_text=True)
    assert save_settings(admin, require_staff_mfa=True, portal_enabled=True).status_code == 302
    stored = stored_settings(in_practice, practice)
    assert stored["require_staff_mfa"] is False and stored["portal_enabled"] is True

    owner = visit(practice)
    owner.login(practice.owner_email)
    assert 'name="require_staff_mfa"' in owner.get("/settings").get_data(as_text=True)
    assert save_settings(owner, require_staff_mfa=True).status_code == 302
    assert stored_settings(in_practice, practice)["require_staff_mfa"] is True


def test_an_admin_save_leaves_the_owners_two_factor_rule_alone(make_practice, make_staff, in_practice):
    practice = make_practice()
    admin_email, scheduler_email = make_staff(practice, "admin"), make_staff(practice, "scheduler")
    with in_practice(practice):
        admin, scheduler = find_user_by_email(admin_email), find_user_by_email(scheduler_email)
        settings = practice_settings()
        settings.require_staff_mfa = True
        values = service.current_values(settings, practice.record.name)
        values.update(require_staff_mfa=False, ask_insurance=True)
        changed = service.apply_settings(settings, practice.id, practice.record.name, admin, values)
        assert changed == ["ask_insurance"] and settings.require_staff_mfa is True
        with pytest.raises(NotAllowed):
            service.apply_settings(settings, practice.id, practice.record.name, scheduler, values)
        db.session.rollback()


# --- feature toggles -----------------------------------------------------------------------------


def test_turning_the_portal_off_hides_it_at_once_and_its_data_comes_back(
    make_practice, make_client, visit, in_practice
):
    practice = make_practice()
    open_portal(in_practice, practice)
    client = make_client(practice, first="Robin", email=f"robin@{practice.slug}.example.com", login=True)
    person = visit(practice)
    person.login(client.email)
    assert person.get("/portal/choose").status_code == 302
    assert person.get("/portal/appointments").status_code == 200
    assert ">Appointments</a>" in nav_labels(person, "/portal")

    owner = visit(practice)
    owner.login(practice.owner_email)
    assert save_settings(owner, portal_enabled=False).status_code == 302
    # The client's next request, in the same session: gone.
    assert person.get("/portal/appointments").status_code == 404
    assert person.get("/portal").status_code == 404

    assert save_settings(owner, portal_enabled=True).status_code == 302
    assert person.get("/portal/appointments").status_code == 200
    home = person.get("/portal").get_data(as_text=True)
    assert f"Record of <strong>{client.name}" in home and ">Appointments</a>" in home
    with in_practice(practice):
        assert db.session.get(Client, client.id) is not None


def test_a_closed_portal_leaves_no_portal_entries_in_navigation(
    make_practice, make_client, visit, in_practice
):
    practice = make_practice()
    open_portal(in_practice, practice)
    client = make_client(practice, first="Robin", email=f"robin@{practice.slug}.example.com", login=True)
    person = visit(practice)
    person.login(client.email)
    person.get("/portal/choose")
    assert ">Appointments</a>" in nav_labels(person, "/portal")
    with in_practice(practice):
        practice_settings().portal_enabled = False
        db.session.commit()
    for path in ("/", "/portal"):
        nav = nav_labels(person, path)
        assert ">Appointments</a>" not in nav and ">Home</a>" not in nav, path


def test_the_documents_toggles_are_offered_and_saved(make_practice, visit, in_practice):
    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)
    page = owner.get("/settings").get_data(as_text=True)
    assert "Client uploads" in page and "Shared documents" in page
    assert stored_settings(in_practice, practice)["uploads_enabled"] is True
    assert save_settings(owner, uploads_enabled=False).status_code == 302
    assert stored_settings(in_practice, practice)["uploads_enabled"] is False
    assert stored_settings(in_practice, practice)["shared_documents_enabled"] is True
    refused = save_settings(owner, max_upload_mb=50, client_storage_mb=40)
    assert refused.status_code == 400 and "at least the limit per file" in refused.get_data(as_text=True)
    assert save_settings(owner, max_upload_mb=50, client_storage_mb=500).status_code == 302
    assert stored_settings(in_practice, practice)["max_upload_mb"] == 50


# Client-facing URLs of features that can be turned off one by one, as they exist in the tree.
# (/portal/documents needs both documents toggles off: tests/test_documents_access.py.)
FEATURE_URLS = [
    ("messaging_enabled", "/portal/messages"),
    ("profile_links_enabled", "/l/new-link"),
]


def _existing(app, path: str) -> bool:
    adapter = app.url_map.bind("localhost")
    try:
        adapter.match(path, method="GET")
    except Exception:
        return False
    return True


def test_each_feature_toggle_closes_its_urls_and_nav_and_reopens_them(
    app, make_practice, make_client, visit, in_practice
):
    features = [(column, path) for column, path in FEATURE_URLS if _existing(app, path)]
    if not features:
        pytest.skip("no per-feature client URLs exist in this tree yet")
    practice = make_practice()
    open_portal(in_practice, practice)
    client = make_client(practice, first="Kim", email=f"kim@{practice.slug}.example.com", login=True)
    person = visit(practice)
    person.login(client.email)
    person.get("/portal/choose")
    owner = visit(practice)
    owner.login(practice.owner_email)
    for column, path in features:
        before = person.get(path)
        assert before.status_code != 404, path
        nav_before = nav_labels(person, "/portal")
        assert save_settings(owner, **{column: False}).status_code == 302
        assert person.get(path).status_code == 404, path
        assert person.get("/portal/appointments").status_code == 200  # the rest of the portal stays
        nav_after = nav_labels(person, "/portal")
        assert len(nav_after) <= len(nav_before)
        assert save_settings(owner, **{column: True}).status_code == 302
        again = person.get(path)
        assert again.status_code == before.status_code, path
        assert nav_labels(person, "/portal") == nav_before


def test_turning_messaging_off_keeps_the_messages(app, make_practice, make_client, visit, in_practice):
    if not _existing(app, "/portal/messages"):
        pytest.skip("secure messaging has no portal page in this tree yet")
    from blueprints.messaging.models import Message

    practice = make_practice()
    open_portal(in_practice, practice)
    client = make_client(practice, first="Lee", email=f"lee@{practice.slug}.example.com", login=True)
    with in_practice(practice):
        message = Message(client_id=client.id, thread="client", author_kind="staff", author_name="Dr Staff")
        db.session.add(message)
        db.session.flush()
        message.seal_body("Please bring your notes")
        db.session.commit()
    person = visit(practice)
    person.login(client.email)
    person.get("/portal/choose")
    shown_before = "Please bring your notes" in person.get("/portal/messages").get_data(as_text=True)
    owner = visit(practice)
    owner.login(practice.owner_email)
    save_settings(owner, messaging_enabled=False)
    assert person.get("/portal/messages").status_code == 404
    with in_practice(practice):
        assert [m.body for m in db.session.scalars(select(Message))] == ["Please bring your notes"]
    save_settings(owner, messaging_enabled=True)
    page = person.get("/portal/messages")
    assert page.status_code == 200
    assert ("Please bring your notes" in page.get_data(as_text=True)) == shown_before


# --- preview as client -----------------------------------------------------------------------------


def test_preview_as_a_test_client_keeps_the_staff_member_logged_in(
    make_practice, make_client, visit, in_practice
):
    practice = make_practice()
    open_portal(in_practice, practice)
    make_client(practice, first="Real", last="Person")
    owner = visit(practice)
    owner.login(practice.owner_email)
    page = owner.get("/settings/preview").get_data(as_text=True)
    assert 'id="no-test-clients"' in page and "Create a test client" in page

    assert owner.post("/settings/preview/test-client", form_page="/settings/preview").status_code == 302
    assert owner.post("/settings/preview/test-client", form_page="/settings/preview").status_code == 302
    with in_practice(practice):
        [test_client] = db.session.scalars(select(Client).where(Client.is_test.is_(True))).all()
        assert test_client.display_name == "Test Client"
        test_id = test_client.id
    page = owner.get("/settings/preview").get_data(as_text=True)
    assert "Test Client" in page and "Real Person" not in page

    response = owner.post("/settings/preview", {"client_id": test_id})
    assert response.status_code == 302 and response.headers["Location"] == "/portal"
    home = owner.get("/portal").get_data(as_text=True)
    assert "Preview: you are seeing the portal as the test client <strong>Test Client" in home
    assert "Exit preview" in home and ">Appointments</a>" in home
    assert owner.get("/portal/appointments").status_code == 200

    response = owner.get("/settings/preview/end")
    assert response.status_code == 302 and response.headers["Location"] == "/settings"
    staff_home = owner.get("/").get_data(as_text=True)
    assert "Log out" in staff_home and ">Settings</a>" in staff_home
    assert owner.get("/settings").status_code == 200
    assert "Preview:" not in owner.get("/portal").get_data(as_text=True)
    events = audit_events(in_practice, practice, "preview as client started")
    assert [event.client_id for event in events] == [test_id]


def test_preview_gives_the_test_client_a_clinician_so_booking_can_be_previewed(
    make_practice, make_staff, make_client, visit, in_practice, open_for_booking
):
    from blueprints.people.models import ClientClinician
    from blueprints.scheduling.models import Service
    from blueprints.scheduling.operations.portal import clinician_choices

    practice = make_practice()
    clinician_email = make_staff(practice, "clinician", name="Cleo Clinician")
    service_id = open_for_booking(practice, clinician_email)  # the owner offers nothing

    def clinicians_of(client_id):
        with in_practice(practice):
            client = db.session.get(Client, client_id)
            assigned = db.session.scalars(
                select(ClientClinician.user_id).where(ClientClinician.client_id == client_id)
            ).all()
            bookable = clinician_choices(client, db.session.get(Service, service_id), practice_settings())
            return list(assigned), [user.name for user in bookable]

    owner = visit(practice)
    owner.login(practice.owner_email)
    assert owner.post("/settings/preview/test-client", form_page="/settings/preview").status_code == 302
    with in_practice(practice):
        [test_client] = db.session.scalars(select(Client).where(Client.is_test.is_(True))).all()
        cleo_id = find_user_by_email(clinician_email).id
    assert clinicians_of(test_client.id) == ([cleo_id], ["Cleo Clinician"])
    [created] = audit_events(in_practice, practice, "test client created")
    assert created.detail == "clinician: Cleo Clinician"

    # A test client made before (without a clinician) gets one when the preview starts; a
    # previewing owner who offers services is the clinician.
    older = make_client(practice, first="Older", last="Test", is_test=True)
    with in_practice(practice):
        from blueprints.scheduling.operations.catalog import add_service

        add_service("Therapy", 50, [find_user_by_email(practice.owner_email)])
        db.session.commit()
        owner_name = find_user_by_email(practice.owner_email).name
    assert owner.post("/settings/preview", {"client_id": older.id}).status_code == 302
    assert clinicians_of(older.id)[1] == [owner_name]
    events = audit_events(in_practice, practice, "preview as client started")
    assert events[-1].detail == f"clinician assigned: {owner_name}"
    # Starting again changes nothing: it has a clinician.
    owner.get("/settings/preview/end")
    assert owner.post("/settings/preview", {"client_id": older.id}).status_code == 302
    assert clinicians_of(older.id)[1] == [owner_name]
    assert audit_events(in_practice, practice, "preview as client started")[-1].detail is None


def test_schedulers_may_preview_clinicians_may_not(
    make_practice, make_staff, make_client, visit, in_practice
):
    practice = make_practice()
    open_portal(in_practice, practice)
    test_client = make_client(practice, first="Test", last="Client", is_test=True)
    scheduler = visit(practice)
    scheduler.login(make_staff(practice, "scheduler"))
    assert scheduler.post("/settings/preview", {"client_id": test_client.id}).status_code == 302
    assert "Preview:" in scheduler.get("/portal").get_data(as_text=True)
    response = scheduler.get("/settings/preview/end")
    assert response.headers["Location"] == "/settings/preview"  # schedulers have no settings page

    for role in ("clinician", "intern"):
        staff = visit(practice)
        staff.login(make_staff(practice, role))
        assert staff.get("/settings/preview").status_code == 403
        response = staff.post(
            "/settings/preview", {"client_id": test_client.id}, form_page="/account/security"
        )
        assert response.status_code == 403
        assert "Preview:" not in staff.get("/portal").get_data(as_text=True)


def test_preview_refuses_real_clients_and_unknown_ids(make_practice, make_client, visit, in_practice):
    practice = make_practice()
    open_portal(in_practice, practice)
    real = make_client(practice, first="Real", email=f"real@{practice.slug}.example.com")
    make_client(practice, first="Test", last="Client", is_test=True)
    owner = visit(practice)
    owner.login(practice.owner_email)
    assert (
        owner.post("/settings/preview", {"client_id": real.id}, form_page="/settings/preview").status_code
        == 404
    )
    assert (
        owner.post("/settings/preview", {"client_id": 999999}, form_page="/settings/preview").status_code
        == 404
    )
    response = owner.post("/settings/preview", {"client_id": "abc"}, form_page="/settings/preview")
    assert response.status_code == 400
    assert "Real" not in owner.get("/portal").get_data(as_text=True)


def test_preview_with_another_practices_client_id_is_404(make_practice, make_client, visit, in_practice):
    """Other practice: A's staff cannot preview B's test client, whatever its id."""
    a, b = make_practice(), make_practice()
    for practice in (a, b):
        open_portal(in_practice, practice)
    a_real = make_client(a, first="Alpha", last="Real")
    make_client(b, first="Beta", last="Filler")
    b_test = make_client(b, first="Beta", last="Tester", is_test=True)
    assert b_test.id != a_real.id
    owner = visit(a)
    owner.login(a.owner_email)
    response = owner.post("/settings/preview", {"client_id": b_test.id}, form_page="/settings/preview")
    assert response.status_code == 404
    page = owner.get("/settings/preview").get_data(as_text=True)
    assert "Beta" not in page
    assert "Beta Tester" not in owner.get("/portal").get_data(as_text=True)


def test_cancellation_policy_and_clinician_choice_are_settings(make_practice, visit, in_practice):
    practice = make_practice()
    owner = visit(practice)
    owner.login(practice.owner_email)
    page = owner.get("/settings").get_data(as_text=True)
    assert 'name="cancellation_policy"' in page and 'name="new_clients_choose_clinician"' in page
    fields = dict(re.findall(r'<input[^>]*name="([a-z_]+)"[^>]*value="([^"]*)"', page))
    fields = {
        k: v
        for k, v in fields.items()
        if k != "csrf_token" and not k.endswith("_enabled") and not k.startswith("ask_")
    }
    fields.update(
        portal_enabled="y",
        cancellation_policy="Late cancellations are charged in full.",
        new_clients_choose_clinician="y",
    )
    assert owner.post("/settings", fields).status_code == 302
    with in_practice(practice):
        settings = practice_settings()
        assert settings.cancellation_policy == "Late cancellations are charged in full."
        assert settings.new_clients_choose_clinician is True
