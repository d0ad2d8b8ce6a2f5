"""Automated client messages: merge tags, the hold and collapse, the per-actor switches, discreet
mode, request decisions, the settings page and `portico notify preview`. Mail goes to the real test
SMTP server (aiosmtpd); each test asserts what a client would find in their inbox."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from app.cli import main
from blueprints.auth.service import find_user_by_email
from blueprints.notifications.automated import deliver_notice, message_settings
from blueprints.notifications.merge import render, subject_problem, template_problem
from blueprints.notifications.models import ClientNotice
from blueprints.people.models import Client
from blueprints.scheduling.models import Appointment, Service
from blueprints.scheduling.operations import appointments, portal
from tenants.database import db
from tests.conftest import Mailbox


def test_unknown_tags_and_template_code_are_refused_with_their_names():
    assert template_problem("Hello {{first_name}}, see {{profile_link}}") is None
    problem = template_problem("Hello {{ first_name }} {{diagnosis}} {{ client.notes }}")
    assert "{{diagnosis}}" in problem and "{{client.notes}}" in problem and "{{first_name}}" in problem
    assert "template code" in template_problem("{% for x in y %}{{first_name}}{% endfor %}")
    assert "unclosed" in template_problem("Hello {{first_name")


def test_subjects_refuse_the_link_service_and_clinician_tags_by_name():
    """Subjects are stored in clear in the outbox (bodies are sealed)."""
    assert subject_problem("Reminder from {{practice_name}} for {{first_name}} on {{date_time}}") is None
    for tag in ("profile_link", "service", "clinician"):
        problem = subject_problem(f"Your visit {{{{ {tag} }}}}")
        assert problem and f"{{{{{tag}}}}}" in problem and "subject" in problem
    assert "Unknown merge tag {{diagnosis}}" in subject_problem("{{diagnosis}}")


def test_rendering_is_plain_substitution_never_re_read():
    values = {
        "first_name": "{{profile_link}} {% evil %}",
        "profile_link": "https://x/l/secret",
        "service": "",
    }
    text = render("Hi {{first_name}}\nService: {{service}}\nLink: {{profile_link}}", values)
    assert text == "Hi {{profile_link}} {% evil %}\nLink: https://x/l/secret"  # empty line left out


@pytest.fixture
def booked_world(make_practice, make_staff, make_client, open_for_booking, in_practice):
    """A practice open for booking, a clinician, an adult client with an address and a portal login."""

    def make(name=None, service="Therapy", **settings_values):
        practice = make_practice(name)
        clinician_email = make_staff(practice, "clinician", name="Dr Alma Reyes")
        service_id = open_for_booking(practice, clinician_email, service_name=service, **settings_values)
        email = f"client-{uuid.uuid4().hex[:6]}@example.net"
        client = make_client(practice, "Robin", email=email, login=True, clinicians=(clinician_email,))
        return practice, {
            "clinician": clinician_email,
            "service": service_id,
            "client": client.id,
            "email": email,
        }

    return make


def _start(days=3, hour=10):
    return (datetime.now(UTC) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def _load(ids):
    return (
        db.session.get(Client, ids["client"]),
        find_user_by_email(ids["clinician"]),
        db.session.get(Service, ids["service"]),
    )


def _book(in_practice, practice, ids, starts_at, by="staff"):
    with in_practice(practice):
        appointment = appointments.book(*_load(ids), starts_at, by=by)
        db.session.commit()
        return appointment.id


def end_holds(in_practice, practice):
    """Time travel: every held notice's hold is over; deliver them as their jobs would."""
    with in_practice(practice):
        db.session.execute(
            update(ClientNotice)
            .where(ClientNotice.state == "held")
            .values(due_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        ids = db.session.scalars(select(ClientNotice.id).where(ClientNotice.state == "held")).all()
        db.session.commit()
        for notice_id in ids:
            deliver_notice(notice_id)


@pytest.fixture
def hold(app):
    settings = app.config["PORTICO"]
    settings.message_hold_seconds = 180
    yield
    settings.message_hold_seconds = 0


def test_booking_waits_out_the_hold_then_carries_a_one_tap_portal_link(
    booked_world, in_practice, mailbox: Mailbox, run_jobs, visit, hold
):
    practice, ids = booked_world()
    _book(in_practice, practice, ids, _start())
    run_jobs()
    assert mailbox.to(ids["email"]) == []  # held for three minutes
    assert len(mailbox.to(ids["clinician"])) == 1  # the clinician's calendar is not held
    end_holds(in_practice, practice)
    run_jobs()
    [message] = mailbox.to(ids["email"])
    assert message["Subject"].startswith("Appointment booked: ")
    body = Mailbox.body(message)
    assert "Hello Robin," in body and "Clinician: Dr Alma Reyes" in body and "Service:" not in body
    link = re.search(r"http://[^/\s]+(/l/[A-Za-z0-9_-]{43})", body).group(1)
    assert any(part.get_content_type() == "text/calendar" for part in message.iter_attachments())
    page = visit(practice).get(link)
    assert page.status_code == 200  # the profile link's confirmation page: one tap opens the portal


def test_an_immediate_undo_sends_nothing_and_changes_collapse_into_the_latest(
    booked_world, in_practice, mailbox: Mailbox, run_jobs, hold
):
    practice, ids = booked_world()
    undone = _book(in_practice, practice, ids, _start(days=3))
    with in_practice(practice):
        appointments.cancel(db.session.get(Appointment, undone))
        db.session.commit()
    moved = _book(in_practice, practice, ids, _start(days=4))
    with in_practice(practice):
        appointments.move(db.session.get(Appointment, moved), _start(days=4, hour=14))
        db.session.commit()
    end_holds(in_practice, practice)
    run_jobs()
    [message] = mailbox.to(ids["email"])  # nothing about the undone booking; one about the other
    assert message["Subject"].startswith("Appointment booked: ")
    assert "14:00" in message["Subject"]


def test_a_staff_reschedule_sends_no_client_message_when_switched_off(
    booked_world, in_practice, mailbox: Mailbox, run_jobs
):
    practice, ids = booked_world()
    appointment_id = _book(in_practice, practice, ids, _start())
    run_jobs()
    with in_practice(practice):
        message_settings().events = {"rescheduled_by_staff": False}
        db.session.commit()
    mailbox.clear()
    with in_practice(practice):
        appointments.move(db.session.get(Appointment, appointment_id), _start(hour=15))
        db.session.commit()
    run_jobs()
    assert mailbox.to(ids["email"]) == []
    assert len(mailbox.to(ids["clinician"])) == 1
    with in_practice(practice):  # the client moving it themselves is still confirmed
        client = db.session.get(Client, ids["client"])
        portal.client_reschedule(
            {"actor_kind": "client", "actor_name": "Robin"},
            client,
            db.session.get(Appointment, appointment_id),
            _start(hour=16),
        )
        db.session.commit()
    run_jobs()
    [message] = mailbox.to(ids["email"])
    assert message["Subject"].startswith("Appointment updated: ") and "16:00" in message["Subject"]


PRACTICE_WORDS = ("Serenity", "Therapy", "Counselling", "Trauma", "Reyes", "serenity-help")


def test_a_discreet_practice_sends_none_of_its_words(booked_world, in_practice, mailbox: Mailbox, run_jobs):
    practice, ids = booked_world("Serenity Therapy & Counselling", service="Trauma therapy")
    with in_practice(practice):
        settings = message_settings()
        settings.discreet_mode, settings.show_service = True, True
        from tenants.features import practice_settings

        practice_settings().contact_email = "desk@serenity-help.example.com"
        db.session.commit()
    appointment_id = _book(in_practice, practice, ids, _start())
    run_jobs()
    with in_practice(practice):
        appointments.cancel(db.session.get(Appointment, appointment_id))
        db.session.commit()
    run_jobs()
    messages = mailbox.to(ids["email"])
    assert len(messages) == 2
    for message in messages:
        raw = message.as_string()
        assert [word for word in PRACTICE_WORDS if word.lower() in raw.lower()] == []
        assert message["From"].addresses[0].display_name == "Appointments"
        assert "Reply-To" not in message
        assert [part.get_content_type() for part in message.iter_attachments()] == []
    assert messages[0]["Subject"] == "Appointment confirmed"


def test_one_client_can_be_discreet_in_an_ordinary_practice(
    booked_world, in_practice, mailbox: Mailbox, run_jobs
):
    practice, ids = booked_world("Harbour Therapy")
    with in_practice(practice):
        db.session.get(Client, ids["client"]).discreet_messages = True
        db.session.commit()
    _book(in_practice, practice, ids, _start())
    run_jobs()
    [message] = mailbox.to(ids["email"])
    assert "therapy" not in message.as_string().lower()
    assert "harbour" not in message.as_string().lower()


def test_settings_page_refuses_an_unknown_tag_and_saves_good_templates(
    booked_world, visit, in_practice, make_staff
):
    practice, ids = booked_world()
    owner = visit(practice)
    owner.login(practice.owner_email)
    page = owner.get("/settings/messages")
    assert page.status_code == 200
    assert "Avery" in page.get_data(as_text=True)  # previews show the demo client
    form = dict(
        re.findall(
            r'<input class="form-control" type="(?:text|number)" name="([^"]+)" id="[^"]+" value="([^"]*)"',
            page.get_data(as_text=True),
        )
    )
    form.update(
        {
            name: body
            for name, body in re.findall(
                r'<textarea class="form-control" name="([^"]+)"[^>]*>([^<]*)</textarea>',
                page.get_data(as_text=True),
            )
        }
    )
    refused = owner.post("/settings/messages", {**form, "body_reminder": "Hi {{first_name}} {{diagnosis}}"})
    assert refused.status_code == 400
    assert "Unknown merge tag {{diagnosis}}" in refused.get_data(as_text=True)
    leaky = owner.post("/settings/messages", {**form, "subject_reminder": "Your link {{profile_link}}"})
    assert leaky.status_code == 400 and "cannot use {{profile_link}}" in leaky.get_data(as_text=True)
    saved = owner.post(
        "/settings/messages",
        {
            **form,
            "subject_reminder": "See you soon, {{first_name}}",
            "reminder_hours": "48, 3",
            "event_reminder": "y",
        },
    )
    assert saved.status_code == 302
    with in_practice(practice):
        settings = message_settings()
        assert settings.templates["reminder"] == {"subject": "See you soon, {{first_name}}"}
        assert settings.reminder_offsets == "2880,180"
        assert settings.events["reminder"] is True and settings.events["booked_by_client"] is False
    clinician = visit(practice)
    clinician.login(ids["clinician"])
    assert clinician.get("/settings/messages").status_code == 403


def test_cli_preview_prints_the_demo_clients_message(app, booked_world, tmp_path):
    practice, _ = booked_world()
    env = {
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "PORTICO_OWNER_DATABASE_URL": app.config["PORTICO"].owner_database_url,
        "PORTICO_DATA_DIR": str(tmp_path),
        "PORTICO_BASE_DOMAIN": "localhost",
    }
    result = CliRunner().invoke(main, ["notify", "preview", "reminder", "--practice", practice.slug], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Subject: Reminder: ") and "Hello Avery," in result.output
    unknown = CliRunner().invoke(
        main, ["notify", "preview", "diagnosis", "--practice", practice.slug], env=env
    )
    assert unknown.exit_code != 0 and "Unknown event 'diagnosis'" in unknown.output
