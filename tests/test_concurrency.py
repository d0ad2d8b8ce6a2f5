"""Two people at once get one result and a clear 409, never a 500.

Two staff members moving one appointment at the same moment: one wins, the other gets a 409 with
nothing changed (never a 500). Reproduced deterministically: a second transaction holds the row and
bumps its version while the HTTP request waits on the row lock."""

from __future__ import annotations

import re
import threading
import time as clock

import psycopg

from app.embedded_db import libpq_url
from blueprints.scheduling.models import Appointment
from tenants.database import db
from tests.test_scheduling_staff import MONDAY, at, book, clinic, logged_in, text  # noqa: F401


def test_concurrent_moves_of_one_appointment_give_one_result_and_a_409(
    clinic,  # noqa: F811 (the fixture imported above)
    visit,
    in_practice,
    database_urls,
):
    practice, ids = clinic
    appointment_id = book(in_practice, practice, ids["bo"], ids["alma"], ids["therapy"], at(9))
    owner = logged_in(visit, practice, practice.owner_email)
    page = f"/calendar/appointments/{appointment_id}"
    seen_version = re.search(r'name="version" type="hidden" value="(\d+)"', text(owner.get(page))).group(1)
    token = owner.csrf_token(page)
    schema = practice.record.schema_name
    results = {}
    with psycopg.connect(libpq_url(database_urls.admin)) as other:
        # The other staff member's move, still in flight: it holds the row and has bumped the version.
        other.execute(
            f"UPDATE {schema}.appointments SET version = version + 1, "
            "starts_at = starts_at + interval '1 hour', ends_at = ends_at + interval '1 hour' WHERE id = %s",
            (appointment_id,),
        )

        def ours():
            results["move"] = owner.post(
                page + "/move",
                {
                    "version": seen_version,
                    "on_date": MONDAY.isoformat(),
                    "at_time": "15:00",
                    "csrf_token": token,
                },
            )

        worker = threading.Thread(target=ours)
        worker.start()
        clock.sleep(1.0)  # our request is now waiting on the row lock
        other.commit()
        worker.join(30)
    assert results["move"].status_code == 409
    with in_practice(practice):
        appointment = db.session.get(Appointment, appointment_id)
        assert appointment.starts_at == at(10)
