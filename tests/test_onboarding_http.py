"""Onboarding forms over HTTP: the staff forms list, import and export; a client filling a form in
the portal (autosave, coming back, submit, locked); the "Online forms" toggle; a guardian completing
for a minor; the PHQ-9 item 9 flag from the crisis resources to the clinician's acknowledgement;
assessments due before appointments; ids of another client's forms."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from blueprints.audit.models import AuditEvent
from blueprints.onboarding.models import FormFlag, FormResponse
from blueprints.onboarding.operations.instruments import GAD7, PHQ9
from blueprints.onboarding.operations.validation import validate_questionnaire
from tenants.database import db
from tenants.features import practice_settings

ANY_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
NOT_AT_ALL, SEVERAL_DAYS, NEARLY_EVERY_DAY = (
    f"http://loinc.org|{c}" for c in ("LA6568-5", "LA6569-3", "LA6571-9")
)
NOT_DIFFICULT = "http://loinc.org|LA6572-7"
INTAKE = {
    "resourceType": "Questionnaire",
    "status": "active",
    "title": "Intake",
    "item": [
        {"linkId": "reason", "type": "text", "text": "What brings you here?", "required": True},
        {"linkId": "before", "type": "boolean", "text": "Have you had therapy before?", "required": True},
        {
            "linkId": "where",
            "type": "string",
            "text": "Where?",
            "required": True,
            "enableWhen": [{"question": "before", "operator": "=", "answerBoolean": True}],
        },
    ],
}


def csrf(visitor, page: str) -> str:
    return ANY_CSRF.search(visitor.get(page).get_data(as_text=True)).group(1)


def post(visitor, path: str, data: dict, page: str = "/"):
    return visitor.post(path, {**data, "csrf_token": csrf(visitor, page)}, form_page=False)


def years_ago(years: int) -> date:
    today = date.today()
    return today.replace(year=today.year - years) - timedelta(days=30)


def settings(in_practice, practice, **values):
    with in_practice(practice):
        row = practice_settings()
        for name, value in values.items():
            setattr(row, name, value)
        db.session.commit()


def logged_in(visit, practice, email):
    visitor = visit(practice)
    assert visitor.login(email).status_code == 302
    return visitor


def form_ids(owner) -> dict[str, int]:
    html = owner.get("/forms").get_data(as_text=True)
    return {title: int(i) for i, title in re.findall(r'href="/forms/(\d+)">([^<]+)</a>', html)}


def import_intake(owner, data=INTAKE):
    return post(owner, "/forms/import", {"text": json.dumps(data)}, "/forms")


def phq9_answers(item9: str = NOT_AT_ALL, others: str = NOT_AT_ALL) -> dict:
    answers = {code: others for code in PHQ9.item_codes}
    return answers | {"44260-8": item9, "69722-7": NOT_DIFFICULT}


@pytest.fixture
def setup(make_practice, make_staff, make_client, visit, in_practice):
    """A practice with the portal on, a clinician, and an adult client with a login of their own."""
    practice = make_practice()
    settings(in_practice, practice, portal_enabled=True, time_zone="America/New_York")
    clinician = make_staff(practice, "clinician")
    client = make_client(
        practice,
        first="Robin",
        email=f"robin@{practice.slug}.example.com",
        login=True,
        clinicians=(clinician,),
    )
    owner = logged_in(visit, practice, practice.owner_email)
    return practice, clinician, client, owner


def client_visitor(visit, practice, client):
    visitor = logged_in(visit, practice, client.email)
    visitor.get("/portal/choose")
    return visitor


# ------------------------------------------------------------------ staff: the forms library


def test_forms_list_import_and_export(setup, visit, make_staff, in_practice):
    practice, clinician, client, owner = setup
    forms = form_ids(owner)
    assert {PHQ9.title, GAD7.title} <= set(forms)
    for instrument in (PHQ9, GAD7):
        exported = owner.get(f"/forms/{forms[instrument.title]}/questionnaire.json")
        assert exported.status_code == 200
        assert exported.headers["Content-Type"].startswith("application/fhir+json")
        data = exported.get_json(force=True)
        validate_questionnaire(data)  # the export passes the same check as an import
        assert data["code"][0]["code"] == instrument.panel[0]
        assert [i["code"][0]["code"] for i in data["item"] if i["type"] == "choice"][
            :-1
        ] == instrument.item_codes

    photos = {"linkId": "photo", "type": "attachment", "text": "ID", "repeats": True}
    bad = {**INTAKE, "item": [*INTAKE["item"], photos]}
    refused = import_intake(owner, bad)
    assert refused.status_code == 400
    assert "item &#39;photo&#39;: an attachment takes one file" in refused.get_data(as_text=True)
    assert "Intake" not in form_ids(owner)
    assert post(owner, "/forms/import", {"text": "{not json"}, "/forms").status_code == 400

    assert import_intake(owner).status_code == 302
    intake = form_ids(owner)["Intake"]
    exported = owner.get(f"/forms/{intake}/questionnaire.json").get_json(force=True)
    assert exported["item"] == INTAKE["item"] and exported["version"] == "1"
    assert "What brings you here?" in owner.get(f"/forms/{intake}").get_data(as_text=True)

    scheduler = logged_in(visit, practice, make_staff(practice, "scheduler"))
    assert import_intake(scheduler).status_code == 403
    with in_practice(practice):
        assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "form imported")).one()


# ------------------------------------------------------------------ the client fills a form in


def put_in_onboarding(owner, *form_ids_in_order, crisis: str = ""):
    data = {"crisis_resources": crisis}
    for place, form_id in enumerate(form_ids_in_order, start=1):
        data |= {f"include-{form_id}": "1", f"position-{form_id}": str(place)}
    return post(owner, "/settings/forms", data, "/settings/forms")


def test_a_client_saves_half_a_form_comes_back_and_submits_it_once(setup, visit, in_practice):
    practice, clinician, client, owner = setup
    assert import_intake(owner).status_code == 302
    intake = form_ids(owner)["Intake"]
    assert put_in_onboarding(owner, intake).status_code == 302

    person = client_visitor(visit, practice, client)
    home = person.get("/portal").get_data(as_text=True)
    assert f'href="/portal/forms/{intake}"' in home and "Complete Intake" in home
    page = f"/portal/forms/{intake}"
    token = csrf(person, page)
    saved = person.post(
        f"{page}/draft", {"csrf_token": token, "reason": "Sleep", "before": "true"}, form_page=False
    )
    assert saved.status_code == 200 and saved.is_json
    assert saved.json["csrf_token"] and saved.json["problems"] == {}

    # Signed out and back: the answers are on the server, not in the browser.
    again = client_visitor(visit, practice, client)
    html = again.get(page).get_data(as_text=True)
    assert ">Sleep</textarea>" in html and 'value="true" checked' in html
    listing = again.get("/portal/forms").get_data(as_text=True)
    assert "Started: your answers are saved" in listing and "Getting started: 0 of 1 form done" in listing

    partial = post(again, page, {"reason": "Sleep", "before": "true", "action": "submit"}, page)
    assert partial.status_code == 400 and "Answer this question." in partial.get_data(as_text=True)
    done = post(
        again, page, {"reason": "Sleep", "before": "true", "where": "Boston", "action": "submit"}, page
    )
    assert done.status_code == 200 and "Intake was submitted" in done.get_data(as_text=True)

    locked = post(again, page, {"reason": "Changed", "before": "false", "action": "submit"}, "/portal")
    assert locked.status_code == 409
    autosave = post(again, f"{page}/draft", {"reason": "Changed"}, "/portal")
    assert autosave.status_code == 409
    with in_practice(practice):
        response = db.session.scalars(select(FormResponse)).one()
        assert response.status == "completed" and response.answered_by_kind == "client"
    staff_view = owner.get(f"/clients/{client.id}/forms/responses/{response.id}").get_data(as_text=True)
    assert "Sleep" in staff_view and "Boston" in staff_view and "Changed" not in staff_view
    assert "Locked" not in staff_view and f"Forms of {client.name.split()[0]}" in staff_view
    assert "Nothing to do." in owner.get(f"/clients/{client.id}/forms").get_data(as_text=True)
    assert "Getting started: 1 of 1 form done" in again.get("/portal/forms").get_data(as_text=True)


def test_online_forms_off_hides_the_portal_forms_and_keeps_responses_for_staff(setup, visit, in_practice):
    practice, clinician, client, owner = setup
    import_intake(owner)
    intake = form_ids(owner)["Intake"]
    post(owner, f"/clients/{client.id}/forms/share", {"form_id": intake}, f"/clients/{client.id}/forms")
    person = client_visitor(visit, practice, client)
    page = f"/portal/forms/{intake}"
    post(person, page, {"reason": "Work", "before": "false", "action": "submit"}, page)
    assert 'href="/portal/forms"' in person.get("/portal").get_data(as_text=True)

    settings(in_practice, practice, forms_enabled=False)
    assert person.get("/portal/forms").status_code == 404
    assert person.get(page).status_code == 404
    assert 'href="/portal/forms"' not in person.get("/portal").get_data(as_text=True)
    assert "Work" in owner.get(
        f"/clients/{client.id}/forms/responses/{_only_response(in_practice, practice)}"
    ).get_data(as_text=True)


def _only_response(in_practice, practice) -> int:
    with in_practice(practice):
        return db.session.scalars(select(FormResponse.id)).one()


def test_a_guardian_completes_a_form_for_a_minor_where_the_grant_allows(
    setup, visit, make_client, grant_portal, in_practice
):
    practice, clinician, client, owner = setup
    import_intake(owner)
    intake = form_ids(owner)["Intake"]
    child = make_client(practice, first="Kit", date_of_birth=years_ago(9), clinicians=(clinician,))
    other = make_client(practice, first="Lee", date_of_birth=years_ago(10))
    parent = f"parent@{practice.slug}.example.com"
    grant_portal(practice, child, parent)
    grant_portal(practice, other, parent, can_forms=False)
    post(owner, f"/clients/{child.id}/forms/share", {"form_id": intake}, f"/clients/{child.id}/forms")
    post(owner, f"/clients/{other.id}/forms/share", {"form_id": intake}, f"/clients/{other.id}/forms")

    guardian = logged_in(visit, practice, parent)
    assert guardian.post(f"/portal/open/{child.id}", form_page="/portal/choose").status_code == 302
    page = f"/portal/forms/{intake}"
    done = post(guardian, page, {"reason": "School worries", "before": "false", "action": "submit"}, page)
    assert done.status_code == 200
    with in_practice(practice):
        response = db.session.scalars(select(FormResponse)).one()
        assert (response.client_id, response.answered_by_kind) == (child.id, "guardian")
        assert response.answered_by_name.startswith("Person parent")
    assert "(guardian)" in owner.get(f"/clients/{child.id}/forms").get_data(as_text=True)

    assert guardian.post(f"/portal/open/{other.id}", form_page="/portal/choose").status_code == 302
    assert guardian.get("/portal/forms").status_code == 403
    assert 'href="/portal/forms"' not in guardian.get("/portal").get_data(as_text=True)


# ------------------------------------------------------------------ PHQ-9 item 9


def test_phq9_item_9_shows_crisis_resources_and_flags_the_record_until_acknowledged(
    setup, visit, in_practice
):
    practice, clinician, client, owner = setup
    phq9 = form_ids(owner)[PHQ9.title]
    share = f"/clients/{client.id}/forms/share"
    refused = post(owner, share, {"form_id": phq9}, f"/clients/{client.id}/forms")
    assert refused.status_code == 409 and "crisis resources" in refused.get_data(as_text=True)
    settings_page = owner.get("/settings/forms").get_data(as_text=True)
    assert "988" in settings_page  # offered for a practice in the United States
    assert put_in_onboarding(owner, phq9).status_code == 400  # not without crisis resources
    assert put_in_onboarding(owner, phq9, crisis="Call Harbor Crisis 555-0100").status_code == 302

    person = client_visitor(visit, practice, client)
    page = f"/portal/forms/{phq9}"
    form_html = person.get(page).get_data(as_text=True)
    assert "Call Harbor Crisis 555-0100" in form_html and 'id="crisis-resources" hidden' in form_html
    done = post(person, page, {**phq9_answers(item9=SEVERAL_DAYS), "action": "submit"}, page)
    html = done.get_data(as_text=True)
    assert done.status_code == 200
    assert "Call Harbor Crisis 555-0100" in html and "not monitored in real time" in html

    with in_practice(practice):
        response = db.session.scalars(select(FormResponse)).one()
        assert (response.score, response.severity) == (1, "Minimal")
        flag = db.session.scalars(select(FormFlag)).one()
        details = " ".join(e.detail or "" for e in db.session.scalars(select(AuditEvent)))
        assert "LA6569" not in details and "Minimal" not in details
    staff = logged_in(visit, practice, clinician)
    assert "A form needs your attention" in staff.get(f"/clients/{client.id}").get_data(as_text=True)
    home = staff.get("/").get_data(as_text=True)
    assert "Forms needing your attention" in home and f"/clients/{client.id}/forms" in home
    forms_page = staff.get(f"/clients/{client.id}/forms").get_data(as_text=True)
    assert f'id="flag-{flag.id}"' in forms_page and "1 · Minimal" in forms_page and "<svg" in forms_page

    acknowledge = f"/clients/{client.id}/forms/flags/{flag.id}/acknowledge"
    assert post(staff, acknowledge, {"note": ""}, f"/clients/{client.id}/forms").status_code == 400
    assert post(staff, acknowledge, {"note": "Called; safety plan reviewed"}, "/").status_code == 302
    assert post(staff, acknowledge, {"note": "again"}, "/").status_code == 409
    forms_page = staff.get(f"/clients/{client.id}/forms").get_data(as_text=True)
    assert f'id="flag-{flag.id}"' not in forms_page and "Called; safety plan reviewed" in forms_page
    assert "A form needs your attention" not in staff.get(f"/clients/{client.id}").get_data(as_text=True)
    assert "Forms needing your attention" not in staff.get("/").get_data(as_text=True)
    with in_practice(practice):
        flag = db.session.get(FormFlag, flag.id)
        assert flag.acknowledged_by_name and flag.acknowledged_at is not None
        actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert "form flagged for attention" in actions and "form flag acknowledged" in actions


def phq9_in_onboarding(setup, visit):
    """The PHQ-9 in onboarding (with crisis resources); the client logged in: (form id, visitor, page)."""
    practice, clinician, client, owner = setup
    phq9 = form_ids(owner)[PHQ9.title]
    put_in_onboarding(owner, phq9, crisis="Call 988")
    return phq9, client_visitor(visit, practice, client), f"/portal/forms/{phq9}"


def test_a_phq9_without_item_9_raises_no_flag_and_a_partial_one_is_not_scored(setup, visit, in_practice):
    practice, clinician, client, owner = setup
    phq9, person, page = phq9_in_onboarding(setup, visit)
    partial = {k: v for k, v in phq9_answers(others=NEARLY_EVERY_DAY).items() if k != "44253-3"}
    assert post(person, page, {**partial, "action": "submit"}, page).status_code == 400
    done = post(person, page, {**phq9_answers(others=NEARLY_EVERY_DAY), "action": "submit"}, page)
    assert "not monitored" not in done.get_data(as_text=True)
    with in_practice(practice):
        response = db.session.scalars(select(FormResponse)).one()
        assert (response.score, response.severity) == (24, "Severe")
        assert db.session.scalars(select(FormFlag)).all() == []


# ------------------------------------------------------------------ assessments before appointments


def test_an_assessment_is_due_before_every_other_appointment(setup, open_for_booking, in_practice, visit):
    from blueprints.auth.service import find_user_by_email
    from blueprints.people.models import Client
    from blueprints.scheduling.models import Service
    from blueprints.scheduling.operations.appointments import book

    practice, clinician, client, owner = setup
    service_id = open_for_booking(practice, clinician)
    gad7 = form_ids(owner)[GAD7.title]
    page = f"/clients/{client.id}/forms"
    assert (
        post(owner, f"{page}/schedule", {"form_id": gad7, "cadence": "every_other"}, page).status_code == 302
    )
    person = client_visitor(visit, practice, client)
    assert f"/portal/forms/{gad7}" not in person.get("/portal/forms").get_data(as_text=True)  # no appointment

    with in_practice(practice):
        who, what = db.session.get(Client, client.id), db.session.get(Service, service_id)
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
        for days in (0, 7):
            book(
                who, find_user_by_email(clinician), what, start + timedelta(days=days, hours=1), notify=False
            )
        db.session.commit()
    assert f"/portal/forms/{gad7}" in person.get("/portal/forms").get_data(as_text=True)  # 1st: due
    answers = {code: NOT_AT_ALL for code in GAD7.item_codes} | {"69726-8": NOT_DIFFICULT}
    form_page = f"/portal/forms/{gad7}"
    assert post(person, form_page, {**answers, "action": "submit"}, form_page).status_code == 200
    assert f'/portal/forms/{gad7}"' not in person.get("/portal").get_data(as_text=True)


# ------------------------------------------------------------------ isolation within the practice


def test_another_clients_response_and_an_unshared_form_are_not_found(setup, visit, make_client, in_practice):
    practice, clinician, client, owner = setup
    import_intake(owner)
    intake = form_ids(owner)["Intake"]
    other = make_client(practice, first="Sam", email=f"sam@{practice.slug}.example.com", login=True)
    post(owner, f"/clients/{other.id}/forms/share", {"form_id": intake}, f"/clients/{other.id}/forms")
    sam = client_visitor(visit, practice, other)
    page = f"/portal/forms/{intake}"
    post(sam, page, {"reason": "x", "before": "false", "action": "submit"}, page)
    response_id = _only_response(in_practice, practice)

    robin = client_visitor(visit, practice, client)
    assert robin.get(page).status_code == 404  # never given to Robin
    assert post(robin, f"{page}/draft", {"reason": "y"}, "/portal").status_code == 404
    assert owner.get(f"/clients/{client.id}/forms/responses/{response_id}").status_code == 404
    assert owner.get(f"/clients/{other.id}/forms/responses/{response_id}").status_code == 200


# ------------------------------------------------------------------ the form builder


def builder_post(owner, path: str, title: str, rows: list[dict], action: str):
    data = {"title": title, "count": str(len(rows)), "action": action}
    for index, row in enumerate(rows):
        data |= {f"item-{index}-{key}": value for key, value in row.items()}
    return post(owner, path, data, path)


def test_staff_build_a_form_in_the_browser_and_save_new_versions(setup, visit, in_practice, make_staff):
    practice, clinician, client, owner = setup
    rows = [
        {"link": "q1", "type": "boolean", "text": "Do you take medication?", "required": "1"},
        {"link": "q2", "type": "string", "text": "Which?", "when-question": "q1", "when-answer": "yes"},
        {
            "link": "q3",
            "type": "choice",
            "text": "Best time to call",
            "options": "Morning\nEvening",
            "control": "drop-down",
        },
    ]
    added = builder_post(owner, "/forms/new", "Health history", rows, "add")
    assert added.status_code == 200 and 'name="item-3-link" value="q4"' in added.get_data(as_text=True)
    moved = builder_post(owner, "/forms/new", "Health history", rows, "up-2").get_data(as_text=True)
    assert moved.index("Best time to call") < moved.index("Which?")
    preview = builder_post(owner, "/forms/new", "Health history", rows, "preview").get_data(as_text=True)
    assert 'id="builder-preview"' in preview and "<select" in preview.split('id="builder-preview"')[1]

    bad = [*rows, {"link": "q4", "type": "choice", "text": "Pick", "options": ""}]
    refused = builder_post(owner, "/forms/new", "Health history", bad, "save")
    assert refused.status_code == 400 and "Question 4: list the answers" in refused.get_data(as_text=True)
    saved = builder_post(owner, "/forms/new", "Health history", rows, "save")
    assert saved.status_code == 302
    form_id = form_ids(owner)["Health history"]
    exported = owner.get(f"/forms/{form_id}/questionnaire.json").get_json(force=True)
    assert exported["item"][1]["enableWhen"] == [{"question": "q1", "operator": "=", "answerBoolean": True}]

    edit = f"/forms/{form_id}/edit"
    assert "Do you take medication?" in owner.get(edit).get_data(as_text=True)
    changed = [{**rows[0], "text": "Do you take any medication?"}, *rows[1:]]
    assert builder_post(owner, edit, "Health history", changed, "save").status_code == 302
    exported = owner.get(f"/forms/{form_id}/questionnaire.json").get_json(force=True)
    assert exported["version"] == "2" and exported["item"][0]["text"] == "Do you take any medication?"

    assert owner.get(f"/forms/{form_ids(owner)[PHQ9.title]}/edit").status_code == 409
    scheduler = logged_in(visit, practice, make_staff(practice, "scheduler"))
    assert scheduler.get("/forms/new").status_code == 403


# ------------------------------------------------------------------ client information fills the record


def test_client_information_starts_from_the_record_and_writes_back_to_it(setup, visit, in_practice):
    from blueprints.people.models import Client

    practice, clinician, client, owner = setup
    settings(in_practice, practice, ask_emergency_contact=True)
    info = form_ids(owner)["Client information"]
    assert put_in_onboarding(owner, info).status_code == 302
    with in_practice(practice):
        db.session.get(Client, client.id).phone = "555-0101"
        db.session.commit()

    person = client_visitor(visit, practice, client)
    page = f"/portal/forms/{info}"
    html = person.get(page).get_data(as_text=True)
    assert 'value="555-0101"' in html and "Emergency contact&#39;s name" in html
    future = post(
        person, page, {"date_of_birth": "2999-01-01", "phone": "555-0101", "action": "submit"}, page
    )
    assert future.status_code == 400
    answers = {"phone": "555-0199", "emergency_contact_name": "Jo", "email": client.email, "action": "submit"}
    assert post(person, page, answers, page).status_code == 200
    with in_practice(practice):
        record = db.session.get(Client, client.id)
        assert (record.phone, record.emergency_contact_name) == ("555-0199", "Jo")
    changes = owner.get(f"/clients/{client.id}/forms").get_data(as_text=True)
    assert "Record changes from forms" in changes and "phone, emergency contact name" in changes


def test_every_onboarding_page_has_unique_element_ids(setup, visit, in_practice):
    from collections import Counter

    practice, clinician, client, owner = setup
    phq9, person, page = phq9_in_onboarding(setup, visit)
    post(person, page, {**phq9_answers(item9=SEVERAL_DAYS), "action": "submit"}, page)
    response_id = _only_response(in_practice, practice)
    staff_pages = [
        "/forms",
        f"/forms/{phq9}",
        "/forms/new",
        "/settings/forms",
        f"/clients/{client.id}",
        f"/clients/{client.id}/forms",
        f"/clients/{client.id}/forms/responses/{response_id}",
    ]
    for visitor, pages in ((owner, staff_pages), (person, ["/portal", "/portal/forms", page])):
        for path in pages:
            answer = visitor.get(path)
            assert answer.status_code == 200, path
            ids = re.findall(r'\bid="([^"]+)"', answer.get_data(as_text=True))
            assert [i for i, n in Counter(ids).items() if n > 1] == [], path


def test_assessment_due_before_every_or_every_other_appointment(setup, open_for_booking, in_practice):
    from blueprints.auth.service import find_user_by_email
    from blueprints.onboarding.models import AssessmentSchedule
    from blueprints.onboarding.operations import library
    from blueprints.onboarding.operations.todos import assessment_due
    from blueprints.people.models import Client
    from blueprints.scheduling.models import Service
    from blueprints.scheduling.operations.appointments import book

    practice, clinician, client, owner = setup
    service_id = open_for_booking(practice, clinician)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with in_practice(practice):
        gad7 = library.ensure_builtins()[GAD7.key]
        who, what = db.session.get(Client, client.id), db.session.get(Service, service_id)
        for days in (-7, 3):  # one appointment behind, one ahead
            book(who, find_user_by_email(clinician), what, now + timedelta(days=days, hours=2), notify=False)
        every = AssessmentSchedule(
            client_id=client.id, form_id=gad7.id, cadence="every", set_at=now - timedelta(days=30)
        )
        other = AssessmentSchedule(
            client_id=client.id, form_id=gad7.id, cadence="every_other", set_at=every.set_at
        )
        last_week = now - timedelta(days=7)
        assert assessment_due(every, None, now) is True
        assert (
            assessment_due(every, last_week - timedelta(days=1), now) is True
        )  # before the last appointment
        assert assessment_due(every, last_week + timedelta(days=1), now) is False  # done since it
        assert assessment_due(other, None, now) is False  # the next is the 2nd since the schedule: skipped
        other.set_at = now - timedelta(days=1)
        assert assessment_due(other, None, now) is True  # counted from a later start, it is the 1st
        db.session.rollback()


def test_a_profile_link_session_steps_up_before_forms(setup, visit, in_practice):
    from blueprints.people.models import Client
    from blueprints.profile_links.service import create_link

    practice, clinician, client, owner = setup
    import_intake(owner)
    intake = form_ids(owner)["Intake"]
    post(owner, f"/clients/{client.id}/forms/share", {"form_id": intake}, f"/clients/{client.id}/forms")
    with in_practice(practice):
        path = f"/l/{create_link(db.session.get(Client, client.id))}"
        db.session.commit()
    linked = visit(practice)
    assert linked.get(path).status_code == 200
    assert linked.post(path, form_page=path).status_code == 302
    home = linked.get("/portal").get_data(as_text=True)
    assert f"/portal/forms/{intake}" not in home  # no to-dos shown before the step-up
    answer = linked.get(f"/portal/forms/{intake}")
    assert answer.status_code == 302 and "/verify" in answer.headers["Location"]


def test_a_guardian_cannot_change_a_teens_birth_date_from_the_information_form(
    make_practice, make_client, grant_portal, visit, in_practice
):
    """A guardian making a teen younger would read the teen's private messages: the date of birth
    (and the email) are only proposed, audited and shown to staff with the proposed value."""
    from blueprints.messaging.models import Message
    from blueprints.people.models import Client

    practice = make_practice()
    settings(in_practice, practice, portal_enabled=True, ask_demographics=True, ask_contact=True)
    teen = make_client(practice, first="Tess", last="Teen", date_of_birth=years_ago(15),
                       email=f"tess@{practice.slug}.example.com", login=True)
    parent = f"parent@{practice.slug}.example.com"
    grant_portal(practice, teen, parent)  # forms on; the teen's messages hidden from the guardian
    owner = logged_in(visit, practice, practice.owner_email)
    info = form_ids(owner)["Client information"]
    assert put_in_onboarding(owner, info).status_code == 302
    minor = logged_in(visit, practice, teen.email)
    minor.get("/portal/choose")
    sent = post(minor, "/portal/messages", {"body": "PRIVATE-TEEN-NOTE"}, "/portal/messages")
    assert sent.status_code in (200, 302)
    with in_practice(practice):
        assert db.session.scalars(select(Message)).first() is not None

    guardian = logged_in(visit, practice, parent)
    guardian.get("/portal/choose")
    page = f"/portal/forms/{info}"
    younger = years_ago(9).isoformat()
    answers = {"date_of_birth": younger, "email": f"new@{practice.slug}.example.com", "phone": "555-0142",
               "action": "submit"}
    assert post(guardian, page, answers, page).status_code == 200
    with in_practice(practice):
        record = db.session.get(Client, teen.id)
        assert (record.date_of_birth, record.email, record.phone) == (years_ago(15), teen.email, "555-0142")
        asked = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "profile change asked from a form")
        ).one()
        assert younger not in asked.detail and "date_of_birth, email" in asked.detail
    assert "PRIVATE-TEEN-NOTE" not in guardian.get("/portal/messages").get_data(as_text=True)
    shown = owner.get(f"/clients/{teen.id}/forms").get_data(as_text=True)
    assert "asked to change, not applied" in shown and younger in shown and f"new@{practice.slug}" in shown


def test_the_builder_refuses_a_row_count_that_is_not_a_small_number(setup, visit, in_practice):
    practice, clinician, client, owner = setup
    for count in ("x", "-1", "10000000", "١"):
        refused = post(owner, "/forms/new", {"title": "T", "count": count, "action": "add"}, "/forms/new")
        assert refused.status_code == 400, count
        assert "bad number of questions" in refused.get_data(as_text=True)
