"""Email goes through the job queue, in the same transaction as the change that causes it."""

from __future__ import annotations

from sqlalchemy import text

from app.config import Settings
from blueprints.notifications.models import OutboxEmail
from blueprints.notifications.service import queue_email
from tenants.database import db


def queued_jobs(app, practice_id):
    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT task_name, args FROM public.procrastinate_jobs "
                "WHERE (args->>'practice_id')::bigint = :id ORDER BY id"
            ),
            {"id": practice_id},
        ).all()


def test_committed_email_reaches_the_smtp_server(app, make_practice, in_practice, mailbox, run_jobs):
    practice = make_practice(name="Mail Practice")
    with in_practice(practice):
        email = queue_email("client@example.com", "Your appointment", "See you on Tuesday.")
        db.session.commit()
        email_id = email.id
    [job] = queued_jobs(app, practice.id)
    assert job.task_name == "notifications.send_email"
    assert job.args == {"practice_id": practice.id, "email_id": email_id}  # ids only, no content

    run_jobs()
    [message] = mailbox.to("client@example.com")
    assert message["Subject"] == "Your appointment"
    assert message["X-Portico-Practice"] is None  # the internal practice id is not for recipients
    assert "Mail Practice" in message["From"]
    assert mailbox.body(message).strip() == "See you on Tuesday."
    with in_practice(practice):
        assert db.session.get(OutboxEmail, email_id).sent_at is not None


def test_rolled_back_change_sends_nothing(app, make_practice, in_practice, mailbox, run_jobs):
    practice = make_practice()
    with in_practice(practice):
        queue_email("ghost@example.com", "Never sent", "This change is rolled back.")
        db.session.rollback()
    assert queued_jobs(app, practice.id) == []
    run_jobs()
    assert mailbox.to("ghost@example.com") == []


def test_jobs_run_inside_their_own_practice(app, make_practice, in_practice, mailbox, run_jobs):
    a, b = make_practice(name="Sender A"), make_practice(name="Sender B")
    # Same outbox id (1) in both practices: each job must read its own practice's row.
    for practice, to in ((a, "a-client@example.com"), (b, "b-client@example.com")):
        with in_practice(practice):
            queue_email(to, f"From {practice.record.name}", f"Body for {to}")
            db.session.commit()
    run_jobs()
    [to_a] = mailbox.to("a-client@example.com")
    [to_b] = mailbox.to("b-client@example.com")
    assert to_a["Subject"] == "From Sender A" and "Sender B" not in to_a.as_string()
    assert to_b["Subject"] == "From Sender B" and "Sender A" not in to_b.as_string()


def test_without_smtp_url_mail_is_written_to_the_data_directory(app, make_practice, tmp_path, run_jobs):
    settings: Settings = app.config["PORTICO"]
    practice = make_practice()
    original = (settings.smtp_url, settings.data_dir)
    settings.smtp_url, settings.data_dir = None, tmp_path
    try:
        with app.app_context():
            from tenants.database import practice_scope

            with practice_scope(practice.record):
                queue_email("file@example.com", "Written to disk", "Hello file.")
                db.session.commit()
        run_jobs()
    finally:
        settings.smtp_url, settings.data_dir = original
    [written] = list((tmp_path / "mail").glob("*.eml"))
    assert "Written to disk" in written.read_text()
