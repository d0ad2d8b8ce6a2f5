"""Email delivery that survives outages and crashes, keeps no secrets, and looks right.

Each test drives the real worker (`run_jobs`, or `portico worker` in a subprocess) against real SMTP
servers (aiosmtpd), a closed port, or a port that accepts and never answers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, text

from app import jobs
from app.config import Settings
from app.embedded_db import libpq_url
from blueprints.audit.models import AuditEvent
from blueprints.notifications.models import OutboxEmail
from blueprints.notifications.service import MAIL_TRIES, SEND_EMAIL_TASK, queue_email
from tenants.database import db
from tenants.encryption import unseal_text
from tenants.features import practice_settings
from tests.conftest import Mailbox, free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def mail_settings(app):
    """The app's settings, for a test to point SMTP elsewhere or shorten the waits; restored after."""
    settings: Settings = app.config["PORTICO"]
    saved = (settings.smtp_url, settings.mail_retry_base_seconds)
    yield settings
    settings.smtp_url, settings.mail_retry_base_seconds = saved


def unique_address(label: str) -> str:
    """Jobs other tests left queued may be delivered in the same run: each test mails its own address."""
    return f"{label}-{uuid.uuid4().hex[:8]}@example.com"


def queue_one(in_practice, practice, to: str, body="Hello.", **kwargs) -> int:
    with in_practice(practice):
        email = queue_email(to, kwargs.pop("subject", "Your appointment"), body, **kwargs)
        db.session.commit()
        return email.id


def outbox_row(in_practice, practice, email_id) -> OutboxEmail:
    with in_practice(practice):
        email = db.session.get(OutboxEmail, email_id)
        db.session.expunge(email)
        return email


def job_of(app, practice, email_id):
    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT id, status, attempts, worker_id, EXTRACT(EPOCH FROM scheduled_at - now()) AS wait "
                "FROM public.procrastinate_jobs WHERE task_name = 'notifications.send_email' "
                "AND (args->>'practice_id')::bigint = :practice AND (args->>'email_id')::bigint = :email "
                "ORDER BY id DESC LIMIT 1"
            ),
            {"practice": practice.id, "email": email_id},
        ).first()


# --- outages ------------------------------------------------------------------------------------------


def test_an_email_queued_while_smtp_is_down_arrives_when_it_is_back(
    app, make_practice, in_practice, run_jobs, mail_settings
):
    run_jobs()  # whatever earlier tests left queued goes to the usual server
    port = free_port()
    box = Mailbox()
    server = Controller(box, hostname="127.0.0.1", port=port)  # not started yet: SMTP is down
    mail_settings.smtp_url = f"smtp://127.0.0.1:{port}"
    mail_settings.mail_retry_base_seconds = 1.0
    practice = make_practice()
    to = unique_address("outage")
    email_id = queue_one(in_practice, practice, to=to, body="See you on Tuesday.")

    run_jobs()
    job = job_of(app, practice, email_id)
    assert job.status == "todo" and job.attempts == 1  # not failed for good: a retry is scheduled
    assert 0 < job.wait <= 1.0  # after a wait (base 1 s, jitter between half and all of it)
    row = outbox_row(in_practice, practice, email_id)
    assert row.attempts == 1 and row.sent_at is None and row.failed_at is None
    assert "ConnectionRefusedError" in row.last_error

    server.start()
    try:
        time.sleep(max(0.0, float(job.wait)) + 0.1)
        run_jobs()
    finally:
        server.stop()
    [message] = box.to(to)
    assert Mailbox.body(message).strip() == "See you on Tuesday."
    row = outbox_row(in_practice, practice, email_id)
    assert row.sent_at is not None and row.attempts == 2 and row.last_error is None


def test_backoff_is_exponential_with_jitter_and_spans_more_than_an_hour():
    strategy = jobs.Backoff(base_seconds=Settings().mail_retry_base_seconds, tries=MAIL_TRIES)
    base = strategy.base_seconds
    for attempts in range(MAIL_TRIES - 1):
        waits = [strategy.wait_seconds(attempts) for _ in range(50)]
        ceiling = base * 2**attempts
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        assert len(set(waits)) > 1  # jitter
    shortest_total = sum(base * 2**attempts / 2 for attempts in range(MAIL_TRIES - 1))
    assert shortest_total >= 3600
    failure = ConnectionRefusedError()
    assert strategy.get_retry_decision(exception=failure, job=SimpleNamespace(attempts=MAIL_TRIES - 2))
    assert (
        strategy.get_retry_decision(exception=failure, job=SimpleNamespace(attempts=MAIL_TRIES - 1)) is None
    )


def test_after_the_last_try_staff_see_the_email_as_undelivered_and_retry_it(
    app, make_practice, make_staff, in_practice, run_jobs, mail_settings, mailbox, visit
):
    run_jobs()  # whatever earlier tests left queued goes to the usual server
    working_smtp = mail_settings.smtp_url
    mail_settings.smtp_url = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there
    mail_settings.mail_retry_base_seconds = 0.0005
    practice = make_practice()
    lost = unique_address("lost")
    email_id = queue_one(in_practice, practice, to=lost, subject="Your new password link")
    deadline = time.monotonic() + 30
    while outbox_row(in_practice, practice, email_id).failed_at is None:
        assert time.monotonic() < deadline, "the email was never given up on"
        run_jobs()
        time.sleep(0.02)
    row = outbox_row(in_practice, practice, email_id)
    assert row.attempts == MAIL_TRIES and row.sent_at is None
    assert job_of(app, practice, email_id).status == "failed"

    owner = visit(practice)
    owner.login(practice.owner_email)
    page = owner.get("/outbox")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert lost in html and "Your new password link" in html and "Undelivered" in html
    assert f'<td data-label="Tries">{MAIL_TRIES}</td>' in html and "ConnectionRefusedError" in html
    assert f'action="/outbox/{email_id}/retry"' in html
    assert ">Outbox</a>" in owner.get("/").get_data(as_text=True)
    for role, status in (("admin", 200), ("scheduler", 403), ("clinician", 403)):
        staff = visit(practice)
        staff.login(make_staff(practice, role))
        assert staff.get("/outbox").status_code == status, role

    mail_settings.smtp_url = working_smtp
    response = owner.post(f"/outbox/{email_id}/retry", form_page="/outbox")
    assert response.status_code == 302 and response.headers["Location"] == "/outbox"
    run_jobs()
    [message] = mailbox.to(lost)
    assert message["Subject"] == "Your new password link"
    assert outbox_row(in_practice, practice, email_id).sent_at is not None
    assert "Every email has been delivered" in owner.get("/outbox").get_data(as_text=True)
    assert owner.post(f"/outbox/{email_id}/retry", form_page="/outbox").status_code == 409
    with in_practice(practice):
        [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "email retried")).all()
        assert event.detail == f"email #{email_id} to {lost}"


# --- crashes and duplicates ------------------------------------------------------------------------


class FirstAnswerLost(Mailbox):
    """Keeps every message, but answers the first DATA of each message with an error, as when the
    connection drops after the server took it: the sender cannot know whether it went through."""

    async def handle_DATA(self, server, session, envelope):
        await super().handle_DATA(server, session, envelope)
        message_id = self.messages[-1]["Message-ID"]
        seen = sum(1 for message in self.messages if message["Message-ID"] == message_id)
        return "451 4.4.2 connection dropped" if seen == 1 else "250 OK"


def test_a_retry_after_an_unknown_outcome_resends_with_the_same_message_id(
    make_practice, in_practice, run_jobs, mail_settings
):
    run_jobs()  # whatever earlier tests left queued goes to the usual server
    box = FirstAnswerLost()
    server = Controller(box, hostname="127.0.0.1", port=free_port())
    server.start()
    mail_settings.smtp_url = f"smtp://127.0.0.1:{server.port}"
    mail_settings.mail_retry_base_seconds = 0.001
    practice = make_practice()
    to = unique_address("unknown-outcome")
    email_id = queue_one(in_practice, practice, to=to)
    try:
        run_jobs()
        time.sleep(0.05)
        run_jobs()
    finally:
        server.stop()
    first, second = box.to(to)
    row = outbox_row(in_practice, practice, email_id)
    assert first["Message-ID"] == second["Message-ID"] == row.message_id
    assert row.attempts == 2 and row.sent_at is not None


def test_a_worker_killed_mid_send_leaves_no_lock_and_its_job_is_recovered(
    app, database_urls, make_practice, in_practice, run_jobs, mailbox, tmp_path
):
    run_jobs()  # whatever earlier tests left queued, so that the worker below takes our email
    silent = socket.socket()  # accepts connections (backlog) and never says a word
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    practice = make_practice()
    to = unique_address("killed")
    email_id = queue_one(in_practice, practice, to=to, body="Your code is 123456.")
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "PORTICO_OWNER_DATABASE_URL": app.config["PORTICO"].owner_database_url,
        "SMTP_URL": f"smtp://127.0.0.1:{silent.getsockname()[1]}",
        "PORTICO_DATA_DIR": str(tmp_path),
        "PORTICO_BASE_DOMAIN": "localhost",
    }
    worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while outbox_row(in_practice, practice, email_id).attempts == 0:  # the try is committed first
            assert worker.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        job = job_of(app, practice, email_id)
        assert job.status == "doing"
        schema = f"tenant_{practice.id}"
        with psycopg.connect(libpq_url(database_urls.admin)) as conn:
            # While the worker waits on SMTP, the outbox row is not locked.
            conn.execute(
                f"SELECT id FROM {schema}.outbox_emails WHERE id = %s FOR UPDATE NOWAIT", (email_id,)
            )
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        silent.close()
    assert job_of(app, practice, email_id).status == "doing"  # the dead worker's job, stuck

    with app.app_context(), db.engine.begin() as conn:  # time passes: the dead worker's heartbeat ages
        conn.execute(
            text(
                "UPDATE public.procrastinate_workers SET last_heartbeat = now() - interval '1 hour' "
                "WHERE id = :id"
            ),
            {"id": job.worker_id},
        )
    run_jobs()  # a worker starting (and its periodic task, each minute) retries stalled jobs
    [message] = mailbox.to(to)
    assert Mailbox.body(message).strip() == "Your code is 123456."
    row = outbox_row(in_practice, practice, email_id)
    assert message["Message-ID"] == row.message_id and row.attempts == 2 and row.sent_at is not None


def test_stalled_jobs_are_looked_for_every_minute(app):
    queue = jobs.build_queue(app)
    [periodic] = [
        p for p in queue.periodic_registry.periodic_tasks.values() if p.task.name == jobs.RECOVER_STALLED_TASK
    ]
    assert periodic.cron == "* * * * *"


# --- secrets and headers ---------------------------------------------------------------------------


def test_the_outbox_keeps_no_secret_in_clear_and_drops_it_once_sent(
    app, admin_engine, make_practice, in_practice, run_jobs, mailbox, tmp_path
):
    from click.testing import CliRunner

    from app.cli import main
    from tests.fixtures_documents import open_export

    practice = make_practice()
    secret = "https://p.localhost/reset-password/SECRET-TOKEN-123"
    invite = "BEGIN:VCALENDAR\r\nSUMMARY:SECRET-INVITE\r\nEND:VCALENDAR\r\n"
    to = unique_address("secret")
    email_id = queue_one(
        in_practice,
        practice,
        to=to,
        body=f"Reset: {secret}",
        attachment=("invite.ics", "text/calendar; method=REQUEST", invite),
    )
    schema = f"tenant_{practice.id}"
    with admin_engine.connect() as conn:
        row = conn.execute(
            text(f"SELECT * FROM {schema}.outbox_emails WHERE id = :id"), {"id": email_id}
        ).first()
    assert row.body_text is None and row.attachment_text is None
    assert b"SECRET" not in bytes(row.body_sealed) and b"SECRET" not in bytes(row.attachment_sealed)
    export = tmp_path / "export.tar.age"
    (tmp_path / "passphrase").write_text("the export passphrase\n")
    env = {
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "PORTICO_OWNER_DATABASE_URL": app.config["PORTICO"].owner_database_url,
        "PORTICO_DATA_DIR": str(tmp_path),
    }
    command = ["practices", "export", practice.slug, "-o", str(export)]
    result = CliRunner().invoke(main, [*command, "--passphrase-file", str(tmp_path / "passphrase")], env=env)
    assert result.exit_code == 0, result.output
    with open_export(export, "the export passphrase") as archive:
        dump = archive.extractfile("database.sql").read().decode()
    assert "SECRET" not in dump and "Your appointment" in dump

    run_jobs()
    [message] = mailbox.to(to)
    assert secret in Mailbox.body(message)
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "invite.ics" and "SECRET-INVITE" in attachment.get_content()
    with admin_engine.connect() as conn:
        row = conn.execute(
            text(f"SELECT * FROM {schema}.outbox_emails WHERE id = :id"), {"id": email_id}
        ).first()
    assert row.body_sealed is None and row.attachment_sealed is None and row.body_text is None
    assert row.sent_at is not None and row.subject == "Your appointment" and row.to_address == to
    assert row.message_id == message["Message-ID"] and row.attachment_filename == "invite.ics"


def test_headers_date_reply_to_and_no_internal_practice_id(make_practice, in_practice, run_jobs, mailbox):
    practice = make_practice(name="Header Practice")
    with in_practice(practice):
        practice_settings().contact_email = "front-desk@header.example.com"
        db.session.commit()
    first = unique_address("first")
    email_id = queue_one(in_practice, practice, to=first)
    run_jobs()
    [message] = mailbox.to(first)
    row = outbox_row(in_practice, practice, email_id)
    assert parsedate_to_datetime(message["Date"]) == row.created_at.replace(microsecond=0)
    assert message["Message-ID"] == row.message_id and message["Message-ID"].endswith("@localhost>")
    assert str(practice.id) not in message["Message-ID"]
    assert message["X-Portico-Practice"] is None
    assert message["Reply-To"] == "Header Practice <front-desk@header.example.com>"

    with in_practice(practice):
        practice_settings().contact_email = None
        db.session.commit()
    second = unique_address("second")
    queue_one(in_practice, practice, to=second)
    run_jobs()
    [message] = mailbox.to(second)
    assert message["Reply-To"] is None and message["Date"]


# --- rows queued before bodies were sealed (migration t0007) ----------------------------------------


def test_rows_from_before_t0007_lose_sent_bodies_and_are_sealed_by_their_next_try(
    app, make_practice, in_practice, run_jobs, mailbox, mail_settings
):
    from alembic import command

    from tenants.database import enter_practice_sql, owner_engine
    from tenants.migrate import alembic_config, upgrade_schema

    practice = make_practice()
    later = unique_address("later")
    schema = f"tenant_{practice.id}"
    with app.app_context(), owner_engine().begin() as conn:
        conn.exec_driver_sql(enter_practice_sql(schema))
        config = alembic_config()
        config.attributes.update(connection=conn, branch="tenant", schema=schema)
        command.downgrade(config, "t0006")
        conn.execute(
            text(
                "INSERT INTO outbox_emails (to_address, subject, body_text, sent_at, attachment_filename, "
                "attachment_content_type, attachment_text) VALUES "
                "('old@example.com', 'Sent long ago', 'old link SECRET-1', now(), NULL, NULL, NULL), "
                "(:later, 'Not sent yet', 'pending link SECRET-2', NULL, 'invite.ics', "
                "'text/calendar; method=REQUEST', 'BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n')"
            ),
            {"later": later},
        )
    with app.app_context(), owner_engine().begin() as conn:
        upgrade_schema(conn, practice.id, schema)
        conn.exec_driver_sql(enter_practice_sql(schema))  # upgrade_schema ends outside the practice
        rows = conn.execute(text(f"SELECT * FROM {schema}.outbox_emails ORDER BY id")).all()
    assert rows[0].body_text is None  # sent: the plain body is gone
    assert rows[1].body_text == "pending link SECRET-2" and rows[1].body_sealed is None
    pending = rows[1].id

    with in_practice(practice):  # the job queue kept its job; here a fresh one stands for it
        jobs.defer(SEND_EMAIL_TASK, email_id=pending)
        db.session.commit()
    working_smtp = mail_settings.smtp_url
    mail_settings.smtp_url = f"smtp://127.0.0.1:{free_port()}"  # the pending row's try fails
    mail_settings.mail_retry_base_seconds = 0.001
    run_jobs()  # one failed try: the plain text is sealed
    with in_practice(practice):
        email = db.session.get(OutboxEmail, pending)
        assert email.body_text is None and email.attachment_text is None and email.message_id
        assert unseal_text(
            email.body_sealed, table="outbox_emails", row_id=pending, column="body_sealed"
        ) == ("pending link SECRET-2")
    mail_settings.smtp_url = working_smtp
    time.sleep(0.05)
    run_jobs()
    [message] = mailbox.to(later)
    assert Mailbox.body(message).strip() == "pending link SECRET-2"
    assert [a.get_filename() for a in message.iter_attachments()] == ["invite.ics"]
    assert outbox_row(in_practice, practice, pending).body_sealed is None


def test_a_connection_lost_mid_batch_keeps_what_was_sent_as_sent(tmp_path):
    """A batch over one SMTP connection that the server closes halfway: the messages it accepted
    count as sent (handing them back would send them twice), the rest come back as failed."""
    from email.message import EmailMessage

    from app.mail import deliver_batch

    class ClosesAfterOne:
        def __init__(self):
            self.accepted = []

        async def handle_DATA(self, server, session, envelope):
            if self.accepted:
                return "421 closing the connection"
            self.accepted.append(envelope.content)
            return "250 OK"

    handler = ClosesAfterOne()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        messages = []
        for number in range(3):
            message = EmailMessage()
            message["From"], message["To"] = "a@example.com", "b@example.com"
            message["Subject"] = f"#{number}"
            message.set_content("hello")
            messages.append(message)
        results = deliver_batch(messages, f"smtp://127.0.0.1:{port}", tmp_path)
    finally:
        controller.stop()
    assert len(handler.accepted) == 1 and isinstance(results[0], str)
    assert all(isinstance(result, Exception) for result in results[1:])
