"""Asking for a password reset does the same work whether or not the address has an account (issue 8,
"Tokens and timing").

Before: for an existing address the request issued a token, wrote the outbox row and queued its email
before answering (10-28 ms slower than for a missing address). Now both requests queue one job and
nothing else; the job decides, and sends only when the account exists. (`python -m bench
reset_timing` prints the two timings.)
"""

from __future__ import annotations

import re

from sqlalchemy import func, select, text

from blueprints.auth.models import OneTimeToken
from blueprints.auth.service import PASSWORD_RESET_TASK
from blueprints.notifications.models import OutboxEmail
from tenants.database import db

CSRF_VALUE = re.compile(r'(name="csrf_token"[^>]*?value=")[^"]*')
RESET_PATH = re.compile(r"/reset-password/[A-Za-z0-9_-]+")


def queued_jobs(app, practice, task: str) -> list[dict]:
    """The arguments of the jobs `task` waiting for `practice` (see tests/test_mail_delivery.py)."""
    with app.app_context(), db.engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT args FROM public.procrastinate_jobs WHERE task_name = :task"
                    " AND status = 'todo' AND (args->>'practice_id')::bigint = :practice ORDER BY id"
                ),
                {"task": task, "practice": practice.id},
            ).scalars()
        )


def rows(in_practice, practice, model) -> int:
    with in_practice(practice):
        return db.session.scalar(select(func.count()).select_from(model))


def page(response, address: str) -> tuple:
    body = CSRF_VALUE.sub(r"\1", response.get_data(as_text=True)).replace(address, "<address>")
    return response.status_code, body, response.headers.get("Location")


def test_a_reset_request_does_the_same_work_for_any_address(
    app, make_practice, visit, in_practice, mailbox, run_jobs
):
    practice = make_practice(name="Timing Practice")
    missing = f"nobody@{practice.slug}.example.com"
    run_jobs()  # whatever setting up the practice queued
    known = visit(practice).post("/forgot-password", {"email": practice.owner_email})
    after_known = queued_jobs(app, practice, PASSWORD_RESET_TASK)
    unknown = visit(practice).post("/forgot-password", {"email": missing})
    after_unknown = queued_jobs(app, practice, PASSWORD_RESET_TASK)

    # One job each, and nothing else done before the answer: no token, no outbox row, no email job.
    assert len(after_known) == 1 and len(after_unknown) == 2
    assert rows(in_practice, practice, OneTimeToken) == 0
    assert rows(in_practice, practice, OutboxEmail) == 0
    assert queued_jobs(app, practice, "notifications.send_email") == []
    # The job tables are outside the practice's schema: the address travels sealed.
    for args in after_unknown:
        assert practice.owner_email not in str(args) and missing not in str(args)

    # The same page, the same status.
    assert page(known, practice.owner_email) == page(unknown, missing)
    assert known.status_code == 200
    assert "If an account here uses that address" in known.get_data(as_text=True)

    run_jobs()
    assert mailbox.to(missing) == []
    [message] = mailbox.to(practice.owner_email)
    assert message["Subject"] == "Reset your Timing Practice password"
    assert rows(in_practice, practice, OneTimeToken) == 1  # the missing address issued nothing
    assert rows(in_practice, practice, OutboxEmail) == 1

    path = RESET_PATH.search(mailbox.body(message)).group(0)
    visitor = visit(practice)
    assert visitor.get(path).status_code == 200
    done = visitor.post(path, {"password": "a-fresh-password-1", "confirm": "a-fresh-password-1"})
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert visit(practice).login(practice.owner_email, "a-fresh-password-1").status_code == 302


def test_an_address_in_another_case_or_a_deactivated_account(
    app, make_practice, make_staff, visit, in_practice, mailbox, run_jobs
):
    """The job looks the address up as the login does (any case); a deactivated account gets nothing."""
    from blueprints.auth.service import find_user_by_email

    practice = make_practice()
    gone = make_staff(practice)
    with in_practice(practice):
        find_user_by_email(gone).is_active_account = False
        db.session.commit()
    for address in (practice.owner_email.upper(), gone):
        assert visit(practice).post("/forgot-password", {"email": address}).status_code == 200
    assert len(queued_jobs(app, practice, PASSWORD_RESET_TASK)) == 2
    run_jobs()
    assert len(mailbox.to(practice.owner_email)) == 1
    assert mailbox.to(gone) == []
